"""Model summaries as data (rows and totals), and their plain-text forms: JSON and Markdown.

Keras' table is drawn from this data by nnctl.render (with rich), for `nnctl summary` and
Model.summary() alike; this module knows nothing of rich or terminals. table_width() is Keras'
rule for the table's width, kept here because it is arithmetic on the data.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from nnctl.model import Model, Node


@dataclass
class Row:
    name: str
    type: str
    output_shape: list            # with the batch axis: [None, 3]
    params: int
    trainable_params: int
    non_trainable_params: int
    connected_to: list[str]       # names of the layers/inputs it is called on
    trainable: str                # "Y", "N", or "-" for layers without weights
    macs: int = 0
    activation_bytes: int = 0     # output size of one sample, in bytes


@dataclass
class Summary:
    name: str
    type: str                     # "Sequential" | "Functional"
    rows: list[Row]
    chain: bool                   # Keras' "sequential-like": no "Connected to" column
    total_params: int
    trainable_params: int
    non_trainable_params: int
    total_bytes: float
    trainable_bytes: float
    non_trainable_bytes: float
    total_macs: int = 0
    error: str | None = field(default=None)   # a broken spec: rows before the broken layer


def summarize(model: Model, error: str | None = None) -> Summary:
    rows = [_row(model, node) for node in model.layers]
    trainable_bytes = non_trainable_bytes = 0.0
    for node in model.layers:
        size = np.dtype(node.dtype).itemsize
        for w in node.weights:
            nbytes = math.prod(w.shape) * size
            if w.trainable:
                trainable_bytes += nbytes
            else:
                non_trainable_bytes += nbytes
    trainable = sum(r.trainable_params for r in rows)
    non_trainable = sum(r.non_trainable_params for r in rows)
    return Summary(
        name=model.name, type="Functional" if model.functional else "Sequential", rows=rows,
        chain=is_chain(model), total_params=trainable + non_trainable,
        trainable_params=trainable, non_trainable_params=non_trainable,
        total_bytes=trainable_bytes + non_trainable_bytes, trainable_bytes=trainable_bytes,
        non_trainable_bytes=non_trainable_bytes, total_macs=sum(r.macs for r in rows),
        error=error)


def _row(model: Model, node: Node) -> Row:
    if node.layer is None:
        macs, connected = 0, []
    else:
        shapes = [model.nodes[i].shape for i in node.inbound]
        macs = node.layer.macs(shapes, node.shape)
        connected = list(node.inbound)
    itemsize = np.dtype(node.dtype).itemsize
    return Row(
        name=node.name, type=node.type_name, output_shape=[None, *node.shape],
        params=node.params, trainable_params=node.trainable_params,
        non_trainable_params=node.params - node.trainable_params, connected_to=connected,
        trainable="-" if not node.weights else ("Y" if node.layer.trainable else "N"),
        macs=macs, activation_bytes=math.prod(d or 1 for d in node.shape) * itemsize)


def is_chain(model: Model) -> bool:
    """Keras' test for dropping "Connected to": one node per depth, each with one input."""
    if not model.functional:
        return True
    depth = {}
    for name in reversed(model.order):
        d = depth.setdefault(name, 0)
        for ref in model.nodes[name].inbound:
            depth[ref] = max(depth.get(ref, 0), d + 1)
    per_depth: dict[int, list[str]] = {}
    for name, d in depth.items():
        per_depth.setdefault(d, []).append(name)
    return all(len(names) == 1 and len(model.nodes[names[0]].inbound) <= 1
               for names in per_depth.values())


def readable_bytes(n: float) -> str:
    """Keras' readable_memory_size: powers of 1024, two decimals."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PB"


# --- renderings ------------------------------------------------------------------------------

def to_json(summary: Summary, macs: bool = False, batch: int | None = None) -> str:
    layers = []
    for r in summary.rows:
        item = {"name": r.name, "type": r.type, "output_shape": r.output_shape,
                "params": r.params, "trainable_params": r.trainable_params,
                "non_trainable_params": r.non_trainable_params,
                "connected_to": r.connected_to}
        if macs:
            item["macs"] = r.macs
            item["activation_bytes"] = r.activation_bytes * (batch or 1)
        layers.append(item)
    data = {"name": summary.name, "type": summary.type, "layers": layers,
            "total_params": summary.total_params, "trainable_params": summary.trainable_params,
            "non_trainable_params": summary.non_trainable_params,
            "total_bytes": summary.total_bytes}
    if macs:
        data["total_macs"] = summary.total_macs
        data["batch"] = batch or 1
        data["activation_bytes"] = sum(r.activation_bytes for r in summary.rows) * (batch or 1)
    if summary.error:
        data["error"] = summary.error
    return json.dumps(data, indent=2) + "\n"


def to_markdown(summary: Summary, show_trainable=False, macs=False, batch=None) -> str:
    header = ["Layer (type)", "Output Shape", "Param #"]
    if not summary.chain:
        header.append("Connected to")
    if show_trainable:
        header.append("Trainable")
    if macs:
        header.append("MACs")
    lines = [f'**Model: "{summary.name}"**', "", "| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if h not in ("Param #", "MACs") else "---:"
                            for h in header) + "|"]
    for r in summary.rows:
        cells = [f"{r.name} ({r.type})", _shape(r.output_shape), f"{r.params:,}"]
        if not summary.chain:
            cells.append(", ".join(f"{c}[0][0]" for c in r.connected_to) or "-")
        if show_trainable:
            cells.append(r.trainable)
        if macs:
            cells.append(f"{r.macs:,}")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    lines += [f"- Total params: {summary.total_params:,} ({readable_bytes(summary.total_bytes)})",
              f"- Trainable params: {summary.trainable_params:,} "
              f"({readable_bytes(summary.trainable_bytes)})",
              f"- Non-trainable params: {summary.non_trainable_params:,} "
              f"({readable_bytes(summary.non_trainable_bytes)})"]
    if macs:
        lines += mac_lines(summary, batch, prefix="- ")
    return "\n".join(lines) + "\n"


def mac_lines(summary: Summary, batch, prefix=" ") -> list[str]:
    """The MAC totals: multiply-accumulates and activation memory for a batch of `batch`."""
    batch = batch or 1
    act = sum(r.activation_bytes for r in summary.rows) * batch
    return [f"{prefix}Total MACs: {summary.total_macs * batch:,} (batch of {batch})",
            f"{prefix}Activation memory: {readable_bytes(act)} (batch of {batch})"]


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def table_width(summary: Summary, columns: int, show_trainable: bool,
                macs: bool = False) -> int:
    """Keras: 88 columns (108 with "Connected to"), +12 with Trainable, at most columns - 4.

    `columns`: the width of the terminal (80 when there is none, as Keras' piped output).
    nnctl's MACs column adds 12 more, within the same limit.
    """
    width = 88 if summary.chain else 108
    width += 12 * show_trainable + 12 * macs
    return min(width, columns - 4)

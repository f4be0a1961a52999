"""Model summaries as data (rows and totals), and their plain-text forms: JSON and Markdown.

Keras' table is drawn from this data by nnctl.render (with rich), for `nnctl summary` and
Model.summary() alike; this module knows nothing of rich or terminals. table_width() is Keras'
rule for the table's width, kept here because it is arithmetic on the data.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from nnctl.masking import MaskOperation, mask_operations, order_with_operations
from nnctl.model import Model, Node, keras_depths


@dataclass
class Row:
    name: str
    type: str
    output_shape: list            # with the batch axis: [None, 3]; a list of them for a layer
                                  # of several outputs: [[None, 8], [None, 8]]
    params: int
    trainable_params: int
    non_trainable_params: int
    connected_to: list[str]       # names of the layers/inputs it is called on
    trainable: str                # "Y", "N", or "-" for layers without weights
    macs: int = 0
    activation_bytes: int = 0     # output size of one sample, in bytes
    connected_index: list[int] = field(default_factory=list)  # which output of each (0)
    # which call of each (0; a model used as a layer several times: Keras' node index)
    connected_node: list[int] = field(default_factory=list)
    unbuilt: bool = False         # a layer of a model not built yet: Keras' "0 (unbuilt)"

    def connections(self) -> list[str]:
        """Keras' "Connected to" entries: `layer1[0][0]`, `lstm[0][2]`, `encoder[1][0]`."""
        index = self.connected_index or [0] * len(self.connected_to)
        node = self.connected_node or [0] * len(self.connected_to)
        return [f"{name}[{n}][{k}]" for name, n, k in zip(self.connected_to, node, index)]


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
    # a compiled Keras model's optimizer variables (count, bytes), in the totals above too
    # (nnctl.kerasfile.optimizer)
    optimizer: tuple[int, float] | None = None


def summarize(model: Model, error: str | None = None, optimizer=None) -> Summary:
    """The summary of `model`; `optimizer`: the OptimizerState of the Keras file it was read
    from (its variables are counted as Keras counts them: ` Optimizer params`)."""
    # a shared layer's first call that leads to no output (it holds the weights) is not
    # one of the model's nodes for Keras: its inputs are not in "Connected to"
    used = (model.needed(model.outputs)
            if any(node.owner for node in model.nodes.values()) else None)
    ops = mask_operations(model)[0] if model.functional else []
    if ops:   # Keras lists its mask operations among the layers, in graph order
        by_name = {op.name: op for op in ops}
        reads = {consumer: op.name for op in ops for consumer in op.consumers}
        order = order_with_operations(model, ops)
        rows = [_op_row(model, by_name[name]) if name in by_name
                else _row(model, model.nodes[name], reads, used) for name in order]
    else:
        rows = [_row(model, node, used=used) for node in model.layers]
    trainable_bytes = non_trainable_bytes = 0.0
    for node in model.layers:
        for w in node.weights:
            nbytes = math.prod(w.shape) * np.dtype(w.dtype or node.dtype).itemsize
            if w.trainable:
                trainable_bytes += nbytes
            else:
                non_trainable_bytes += nbytes
    # the totals count the weights by their own flag, as Keras' model.trainable_weights,
    # not the rows: a Bidirectional made frozen around a trainable layer is a row of
    # non-trainable params whose weights count as trainable
    trainable = model.trainable_params
    non_trainable = sum(r.params for r in rows) - trainable
    state = None if optimizer is None else (optimizer.count(trainable),
                                            optimizer.nbytes(trainable_bytes))
    extra, extra_bytes = state or (0, 0.0)
    return Summary(
        name=model.name, type="Functional" if model.functional else "Sequential", rows=rows,
        chain=not ops and is_chain(model), total_params=trainable + non_trainable + extra,
        trainable_params=trainable, non_trainable_params=non_trainable,
        total_bytes=trainable_bytes + non_trainable_bytes + extra_bytes,
        trainable_bytes=trainable_bytes,
        non_trainable_bytes=non_trainable_bytes, total_macs=sum(r.macs for r in rows),
        error=error, optimizer=state)


def _row(model: Model, node: Node, masks: dict | None = None,
         used: set[str] | None = None) -> Row:
    """A layer's row; a shared layer's covers all its calls, as Keras': every call's inputs
    in "Connected to" (and the mask operation it is called with, `masks`: node -> its name),
    the last call's output shape, the MACs and outputs of all (those of the calls in `used`,
    the nodes leading to an output, when given)."""
    calls = model.calls(node)
    if used is not None and len(calls) > 1:
        calls = [call for call in calls if call.name in used] or calls
    macs, connected, connected_node, connected_index = 0, [], [], []
    for call in calls if node.layer is not None else []:
        macs += call.layer.macs(model.inbound_shapes(call), call.shape)
        for i, k in zip(call.inbound, call.inbound_index):
            connected.append(model.nodes[i].layer_name)
            connected_node.append(model.nodes[i].call_index)
            connected_index.append(k)
        if masks and call.name in masks:
            connected.append(masks[call.name])
            connected_node.append(0)
            connected_index.append(0)
    last = calls[-1]
    itemsize = np.dtype(node.dtype).itemsize
    batch = model.spec.batch_size   # None unless the Keras model has a fixed one
    output_shape = ([batch, *last.shape] if last.n_outputs == 1
                    else [[batch, *shape] for shape in last.shapes])
    return Row(
        name=node.name, type=node.type_name, output_shape=output_shape,
        params=node.params, trainable_params=node.trainable_params,
        non_trainable_params=node.params - node.trainable_params, connected_to=connected,
        trainable="-" if not node.weights else ("Y" if node.layer.trainable else "N"),
        macs=macs, activation_bytes=sum(math.prod(d or 1 for d in shape)
                                        for call in calls for shape in call.shapes) * itemsize,
        connected_index=connected_index,
        connected_node=connected_node if any(connected_node) else [])


def _op_row(model: Model, op: MaskOperation) -> Row:
    """The row of one of Keras' mask operations (NotEqual: a bool per value; Masking's Any
    of it: a bool per step)."""
    source = model.nodes.get(op.inbound)   # None: an Any reads a NotEqual
    return Row(name=op.name, type=op.kind, output_shape=[model.spec.batch_size, *op.shape],
               params=0,
               trainable_params=0, non_trainable_params=0,
               connected_to=[source.layer_name if source else op.inbound],
               trainable="-", activation_bytes=math.prod(d or 1 for d in op.shape),
               connected_index=[op.index] if op.index else [],
               connected_node=[source.call_index] if source and source.call_index else [])


def is_chain(model: Model) -> bool:
    """Keras' test for dropping "Connected to": one node per depth, each with one input."""
    if not model.functional:
        return True
    if any(node.owner for node in model.nodes.values()):
        return False     # a layer called twice (Keras looks for shared layers too)
    depth = keras_depths(model, model.order)
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

@dataclass
class BatchFigures:
    """MACs and activation memory for a batch: the one set of numbers every rendering shows."""
    batch: int
    macs: list[int]               # per row, for the whole batch
    activation_bytes: list[int]   # per row, for the whole batch
    total_macs: int
    total_activation_bytes: int


def batch_figures(summary: Summary, batch: int | None = None) -> BatchFigures:
    batch = batch or 1
    macs = [r.macs * batch for r in summary.rows]
    act = [r.activation_bytes * batch for r in summary.rows]
    return BatchFigures(batch, macs, act, sum(macs), sum(act))


def to_json(summary: Summary, macs: bool = False, batch: int | None = None,
            show_trainable: bool = False) -> str:
    figures = batch_figures(summary, batch)
    layers = []
    for i, r in enumerate(summary.rows):
        item = {"name": r.name, "type": r.type, "output_shape": r.output_shape,
                "params": r.params, "trainable_params": r.trainable_params,
                "non_trainable_params": r.non_trainable_params,
                "connected_to": r.connected_to, "connected_tensors": r.connections()}
        if show_trainable:     # the table's Trainable column: Y, N, or - (no weights)
            item["trainable"] = r.trainable
        if macs:
            item["macs"] = figures.macs[i]
            item["activation_bytes"] = figures.activation_bytes[i]
        layers.append(item)
    data = {"name": summary.name, "type": summary.type, "layers": layers}
    if not summary.error:  # a broken spec has rows, not totals
        data.update(total_params=summary.total_params, trainable_params=summary.trainable_params,
                    non_trainable_params=summary.non_trainable_params,
                    total_bytes=summary.total_bytes)
        if summary.optimizer:
            data["optimizer_params"] = summary.optimizer[0]
    if macs and not summary.error:
        data["total_macs"] = figures.total_macs
        data["batch"] = figures.batch
        data["activation_bytes"] = figures.total_activation_bytes
    if summary.error:
        data["error"] = summary.error
    return json.dumps(data, indent=2) + "\n"


# Markdown's inline syntax: a name with these shows as written, not as bold, a link or HTML
# (`_` only at a word's edge: inside a word, as in dense_1, it is plain text in CommonMark)
_MARKDOWN_SPECIAL = re.compile(r"[\\`*<>\[\]|~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def markdown_text(text: str) -> str:
    """`text` in a Markdown table cell or title, its special characters escaped."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), text)


def _markdown_tensor(reference: str) -> str:
    """`name[1][0]` with its name escaped (the indexes make no link: nothing defines one)."""
    name, indexes = re.fullmatch(r"(.*?)((?:\[\d+\])*)", reference, re.S).groups()
    return markdown_text(name) + indexes


def to_markdown(summary: Summary, show_trainable=False, macs=False, batch=None) -> str:
    header = ["Layer (type)", "Output Shape", "Param #"]
    if not summary.chain:
        header.append("Connected to")
    if show_trainable:
        header.append("Trainable")
    if macs:
        header.append("MACs")
    lines = [f'**Model: "{markdown_text(summary.name)}"**', "", "| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if h not in ("Param #", "MACs") else "---:"
                            for h in header) + "|"]
    figures = batch_figures(summary, batch)
    for r, row_macs in zip(summary.rows, figures.macs):
        cells = [f"{markdown_text(r.name)} ({r.type})", format_output_shape(r.output_shape),
                 f"{r.params:,}"]
        if not summary.chain:
            cells.append(", ".join(map(_markdown_tensor, r.connections())) or "-")
        if show_trainable:
            cells.append(r.trainable)
        if macs:
            cells.append(f"{row_macs:,}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if summary.error:  # a broken spec: the rows before the broken layer, and no totals
        return "\n".join(lines) + "\n"
    lines += [f"- Total params: {summary.total_params:,} ({readable_bytes(summary.total_bytes)})",
              f"- Trainable params: {summary.trainable_params:,} "
              f"({readable_bytes(summary.trainable_bytes)})",
              f"- Non-trainable params: {summary.non_trainable_params:,} "
              f"({readable_bytes(summary.non_trainable_bytes)})"]
    if summary.optimizer:
        lines.append(f"- Optimizer params: {summary.optimizer[0]:,} "
                     f"({readable_bytes(summary.optimizer[1])})")
    if macs:
        lines += mac_lines(summary, batch, prefix="- ")
    return "\n".join(lines) + "\n"


def mac_lines(summary: Summary, batch, prefix=" ") -> list[str]:
    """The MAC totals: multiply-accumulates and activation memory for a batch of `batch`."""
    f = batch_figures(summary, batch)
    return [f"{prefix}Total MACs: {f.total_macs:,} (batch of {f.batch})",
            f"{prefix}Activation memory: {readable_bytes(f.total_activation_bytes)} "
            f"(batch of {f.batch})"]


def format_output_shape(shape, number=str) -> str:
    """`(None, 3)`; several outputs as Keras writes them: `[(None, 8), (None, 8)]`; `?` for
    no shape (Keras: a subclassed model's unbuilt layer)."""
    if shape is None:
        return "?"
    if shape and isinstance(shape[0], list):
        return "[" + ", ".join(format_output_shape(s, number) for s in shape) + "]"
    return "(" + ", ".join(number(d) for d in shape) + ")"


def table_width(summary: Summary, columns: int, show_trainable: bool,
                macs: bool = False) -> int:
    """Keras: 88 columns (108 with "Connected to"), +12 with Trainable, at most columns - 4.

    `columns`: the width of the terminal (80 when there is none, as Keras' piped output).
    Without MACs this is Keras' table to the character (Keras too cuts "Trainable" to
    "Trai…" in 76 columns). nnctl's MACs column adds 12 (see min_widths).
    """
    width = 88 if summary.chain else 108
    width += 12 * show_trainable + 12 * macs
    return min(width, columns - 4)


def macs_layout(summary: Summary, show_trainable: bool, width: int,
                batch: int | None = None) -> tuple[list[str], list[int]]:
    """Columns (headers, content widths) of the table with nnctl's MACs column, which Keras
    does not print: the numbers and the Trainable header are never cut (each such column is
    as wide as its longest entry); the text columns share the rest of `width` in Keras'
    proportions, each at least 12 wide, the table growing past `width` if it must
    (docs/formats.md, "summary")."""
    header, keras_widths = column_layout(summary.chain, show_trainable, True, width)
    figures = batch_figures(summary, batch)
    fixed = {"Param #": max([len(f"{r.params:,}") for r in summary.rows] + [7]),
             "MACs": max([len(f"{m:,}") for m in figures.macs] + [4]),
             "Trainable": len("Trainable")}
    frame = 3 * len(header) + 1                  # borders and one space a side per column
    text = [h for h in header if h not in fixed]
    room = width - frame - sum(fixed[h] for h in header if h in fixed)
    share = sum(w for h, w in zip(header, keras_widths) if h in text)
    widths = {h: max(12, room * w // share) for h, w in zip(header, keras_widths) if h in text}
    widths[text[0]] += max(0, room - sum(widths.values()))  # what rounding left over
    return header, [fixed[h] if h in fixed else widths[h] for h in header]


def column_layout(chain: bool, show_trainable: bool, macs: bool, width: int,
                  positions: list | None = None) -> tuple[list[str], list[int]]:
    """Keras' columns (headers and widths) for a table `width` wide: each column ends at a
    fixed fraction of the width (`positions`, Keras' summary argument, default Keras'), the
    fractions scaled down as columns are added."""
    if chain:
        positions = positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
    else:
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if show_trainable:
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
    if macs:
        positions = [p * 0.88 for p in positions] + [1.0]
        header.append("MACs")
    widths, current = [], 0
    for pos in positions:
        widths.append(int(pos * width) - current)
        if widths[-1] < 4:
            raise ValueError("Insufficient console width to print summary.")
        current += widths[-1]
    return header, widths

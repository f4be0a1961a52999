"""ONNX Runtime as an engine for `nnctl forward`: the model exported in memory, run per batch.

    runner = OnnxRuntimeRunner(model, weights)     # outputs= for taps
    out_rows = runner(rows)                        # flat rows in, flat rows out

It takes and gives the same flat rows as nnctl.forward.NumpyRunner (one sample per row, the
inputs' columns one after the other; the outputs flattened and joined), so the two engines are
interchangeable batch by batch.
"""
from __future__ import annotations

import math
import re

import numpy as np

from nnctl.errors import DataError, NnctlError
from nnctl.onnx import require


class OnnxRuntimeRunner:
    """One ONNX Runtime session for the model; `runner(rows)` computes one batch."""

    name = "onnxruntime"

    def __init__(self, model, weights: dict[str, np.ndarray], outputs: list[str] | None = None):
        require(("onnxruntime",), "--engine onnxruntime")
        import onnxruntime as ort

        from nnctl.onnx.graph import build_graph
        from nnctl.onnx.proto import serialize

        self.model = model
        # the graph computes each tensor once; one named twice (`outputs: [d, d]`, as Keras
        # allows) is given twice, as NumpyRunner gives it
        self.outputs = list(outputs or model.outputs)
        unique = list(dict.fromkeys(self.outputs))
        computed = [(name, k) for _, name, k in model.output_tensors(unique)]
        self._picks = [computed.index((name, k))
                       for _, name, k in model.output_tensors(self.outputs)]
        model_bytes = serialize(build_graph(model, weights, outputs=unique))
        options = ort.SessionOptions()
        options.log_severity_level = 3    # errors only: no warnings on the user's stderr
        # Between batches ORT's threads would spin, waiting for work, on the cores that the
        # reading and writing threads of `nnctl forward` need (measured: 0.1 s of CPU saved
        # on 1,000,000 rows, and no slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(model_bytes, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types, one per status code
            raise _session_error(exc, model) from None
        self.dtype = np.dtype(model.dtype)
        self.inputs, start = [], 0
        for name in model.input_names:
            shape = tuple(model.nodes[name].shape)
            width = math.prod(shape)
            self.inputs.append((name, start, start + width, shape,
                                np.dtype(model.nodes[name].dtype)))
            start += width

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        n = len(rows)
        feeds = {}
        for name, start, stop, shape, dtype in self.inputs:
            part = rows if len(self.inputs) == 1 else rows[:, start:stop]
            # ORT reads a C-contiguous array in place; anything else it would copy anyway
            # (integer inputs come checked: nnctl.tabular.integers)
            feeds[name] = np.ascontiguousarray(part, dtype=dtype).reshape((n,) + shape)
        try:
            outs = self.session.run(None, feeds)
        except Exception as exc:
            raise DataError(f"onnxruntime: {_first_line(exc)}") from None
        flat = [outs[i].reshape(n, -1) for i in self._picks]
        return flat[0] if len(flat) == 1 else np.concatenate(flat, axis=1)

    def __repr__(self):
        return f"OnnxRuntimeRunner(model={self.model.name!r}, outputs={self.outputs})"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _session_error(exc: Exception, model) -> NnctlError:
    """ORT's refusal as one line; when it names a node, name the layer it belongs to."""
    text = _first_line(exc)
    found = re.search(r"implementation for (\w+)\(\d+\) node with name '([^']*)'", text)
    if found:
        op, node = found.groups()
        from nnctl.onnx.graph import tensor_name

        scopes = {tensor_name(model, n): n for n in model.nodes}   # each layer's ONNX nodes
        scope = next((s for s in sorted(scopes, key=len, reverse=True)
                      if node == s or node.startswith(s + "/")), None)
        if scope is not None:
            layer = model.nodes[scopes[scope]]
            return NnctlError(f"{layer.label}: onnxruntime has no {layer.dtype} "
                              f"kernel for {op}; use --engine numpy")
    return NnctlError(f"onnxruntime cannot load the model: {text}")

"""A built model as an ONNX model file: the graph of nnctl.onnx.graph through onnx.helper.

    proto = to_onnx(model, weights)          # an onnx.ModelProto, opset 17 by default
    write_onnx(proto, "model.onnx")          # atomically

The model carries the spec's name as its graph name and, in metadata_props, `name` and
`nnctl_version`; the outputs' shapes are declared as ONNX shape inference finds them.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nnctl.errors import ParameterError
from nnctl.onnx.graph import ACTIVATIONS, DEFAULT_OPSET, ELEMENT, MIN_OPSET, build_graph

__all__ = ["ACTIVATIONS", "DEFAULT_OPSET", "MIN_OPSET", "check_opset", "to_onnx", "write_onnx"]

def max_opset() -> int:
    return onnx.defs.onnx_opset_version()


def check_opset(opset: int) -> int:
    if not MIN_OPSET <= opset <= max_opset():
        raise ParameterError(f"--opset {opset}: nnctl exports opsets {MIN_OPSET} to "
                             f"{max_opset()} (the installed onnx {onnx.__version__} knows up "
                             f"to {max_opset()})")
    return opset


def to_onnx(model, weights: dict[str, np.ndarray], *, opset: int = DEFAULT_OPSET,
            outputs: list[str] | None = None) -> onnx.ModelProto:
    """The model with these weights as an ONNX model; `outputs` may name any layers."""
    check_opset(opset)
    proto = to_proto(build_graph(model, weights, opset=opset, outputs=outputs))
    _declare_output_shapes(proto)
    return proto


def to_proto(graph) -> onnx.ModelProto:
    """An nnctl.onnx.graph.Graph as an onnx.ModelProto (no output shapes)."""
    from nnctl import __version__

    nodes = [helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attrs)
             for n in graph.nodes]
    initializers = [numpy_helper.from_array(array, name) for name, array in graph.initializers]
    inputs = [helper.make_tensor_value_info(name, ELEMENT[dtype], dims)
              for name, dtype, dims in graph.inputs]
    outputs = [helper.make_tensor_value_info(name, ELEMENT[dtype], None)
               for name, dtype in graph.outputs]
    opsets = [helper.make_opsetid("", graph.opset)]
    proto = helper.make_model(
        helper.make_graph(nodes, graph.name, inputs, outputs, initializer=initializers),
        opset_imports=opsets, producer_name="nnctl", producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string=f"{graph.name}, exported by nnctl {__version__}")
    helper.set_model_props(proto, {"name": graph.name, "nnctl_version": __version__})
    return proto


def write_onnx(proto: onnx.ModelProto, path: str) -> None:
    """Write the model to `path` atomically ("-": stdout)."""
    import sys

    data = proto.SerializeToString()
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from nnctl.atomic import atomic_write

    with atomic_write(path) as f:
        f.write(data)


def _declare_output_shapes(proto) -> None:
    """Give each graph output the shape ONNX infers for it, the batch axis named `batch`."""
    # NOTE: ONNX's shape inference leaves every output without a shape when one of them is
    # a graph input (a spec may list an input among its outputs): infer without those.
    inputs = {v.name: v for v in proto.graph.input}
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    del probe.graph.output[:]
    probe.graph.output.extend(v for v in proto.graph.output if v.name not in inputs)
    inferred = onnx.shape_inference.infer_shapes(probe)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    known.update(inputs)
    for output in proto.graph.output:
        info = known.get(output.name)
        if info is None or not info.type.tensor_type.HasField("shape"):
            continue
        output.type.CopyFrom(info.type)
        dims = output.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            # the batch axis, whatever symbol inference gave it (Pad and Resize make `unk__N`)
            dims[0].dim_param = "batch"

"""The bytes of an ONNX model, written without the onnx package.

ONNX Runtime reads a serialized ModelProto; `import onnx` costs about 60 ms, which on a
0.5 s run of `nnctl forward --engine onnxruntime` is worth saving. The few messages nnctl's
graphs use are written here in protobuf's wire format (field numbers from onnx/onnx.proto).
tests/test_onnx_export.py checks that onnx parses these bytes into the very ModelProto that
nnctl.onnx.export builds with onnx.helper.
"""
from __future__ import annotations

import struct

import numpy as np

from nnctl.onnx.graph import ELEMENT, INT64, BOOL, Graph

# the IR version ONNX requires for an opset (onnx.helper.VERSION_TABLE)
_IR_VERSION = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}
_DTYPES = {**{dtype: code for dtype, code in ELEMENT.items()},
           np.dtype(np.bool_): BOOL}
_VARINT, _FIXED32, _BYTES = 0, 5, 2
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_FLOATS, _ATTR_INTS, _ATTR_STRINGS = 1, 2, 3, 6, 7, 8


def ir_version(opset: int) -> int:
    return _IR_VERSION[opset]


def serialize(graph: Graph) -> bytes:
    """The ModelProto of nnctl.onnx.export.to_proto(graph), as bytes."""
    from nnctl import __version__

    model = (_int(1, ir_version(graph.opset)) + _str(2, "nnctl") + _str(3, __version__)
             + _str(6, f"{graph.name}, exported by nnctl {__version__}")
             + _msg(7, _graph(graph))
             + _msg(8, _str(1, "") + _int(2, graph.opset)))
    for key, value in (("name", graph.name), ("nnctl_version", __version__)):
        model += _msg(14, _str(1, key) + _str(2, value))
    return model


def _graph(graph: Graph) -> bytes:
    parts = [_msg(1, _node(n)) for n in graph.nodes]
    parts.append(_str(2, graph.name))
    parts += [_msg(5, _tensor(name, array)) for name, array in graph.initializers]
    parts += [_msg(11, _value_info(name, dtype, dims)) for name, dtype, dims in graph.inputs]
    parts += [_msg(12, _value_info(name, dtype, None)) for name, dtype in graph.outputs]
    return b"".join(parts)


def _node(node) -> bytes:
    parts = [_str(1, name) for name in node.inputs] + [_str(2, name) for name in node.outputs]
    parts += [_str(3, node.name), _str(4, node.op_type)]
    for key in sorted(node.attrs):  # onnx.helper.make_node sorts them too
        parts.append(_msg(5, _attribute(key, node.attrs[key])))
    return b"".join(parts)


def _attribute(name: str, value) -> bytes:
    head = _str(1, name)
    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return head + _int(3, int(value)) + _int(20, _ATTR_INT)
    if isinstance(value, float):
        return head + _key(2, _FIXED32) + struct.pack("<f", value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, str):
        return head + _bytes(4, value.encode()) + _int(20, _ATTR_STRING)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return head + b"".join(_bytes(9, v.encode()) for v in value) + _int(20, _ATTR_STRINGS)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, float) for v in value):
        return head + b"".join(_key(7, _FIXED32) + struct.pack("<f", v) for v in value) + \
            _int(20, _ATTR_FLOATS)
    if isinstance(value, (list, tuple)):
        return head + b"".join(_int(8, int(v)) for v in value) + _int(20, _ATTR_INTS)
    raise TypeError(f"attribute {name}={value!r}: no ONNX form here")


def _tensor(name: str, array: np.ndarray) -> bytes:
    array = np.asarray(array)
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return (b"".join(_int(1, d) for d in array.shape) + _int(2, _DTYPES[array.dtype])
            + _str(8, name) + _bytes(9, data))


def _value_info(name: str, dtype, dims) -> bytes:
    tensor = _int(1, ELEMENT[np.dtype(dtype)])
    if dims is not None:
        shape = b"".join(_msg(1, _str(2, d) if isinstance(d, str) else
                              b"" if d is None else _int(1, d)) for d in dims)
        tensor += _msg(2, shape)
    return _str(1, name) + _msg(2, _msg(1, tensor))


# --- protobuf's wire format ------------------------------------------------------------------

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1   # negative int64s take ten bytes, as two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + _varint(value)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, _BYTES) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


_msg = _bytes

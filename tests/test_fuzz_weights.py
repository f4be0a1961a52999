"""Fuzzing weights and model files: .npz archives of the example networks, mutated as bytes
(truncated, flipped, extended) and as archives (entries dropped, renamed, reshaped, retyped,
pickled, duplicated, compressed and damaged, `__spec__` broken). Loading either gives weights
that fit the model and run, or a WeightsError/NnctlError; a pickle is never unpickled."""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np
from hypothesis import given, strategies as st

from fuzzing import CONFIGS, engine_case, fuzz_cases, fuzz_settings  # noqa: F401

MODELS = ["article_sequential.yaml", "two_input.yaml", "batchnorm_mlp.yaml", "residual_mlp.yaml"]


def _originals():
    from nnctl.model import load_model

    result = {}
    for name in MODELS:
        model = load_model(str(CONFIGS / name))
        result[name] = (model, model.init_weights(seed=0))
    return result


ORIGINALS = _originals()


class Tripwire:
    """Unpickling this object would fail the test: a pickle must never be loaded."""

    def __reduce__(self):
        return (_tripped, ())


UNPICKLED = []


def _tripped():
    UNPICKLED.append(True)
    return "unpickled!"


def npy_entry(array) -> bytes:
    sink = io.BytesIO()
    np.lib.format.write_array(sink, np.asanyarray(array), allow_pickle=True)
    return sink.getvalue()


def raw_npy(descr: str, shape: str, body: bytes = b"") -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body


ODD_ENTRIES = {
    "pickle": lambda: npy_entry(np.array([Tripwire(), 1], dtype=object)),
    "object-header": lambda: raw_npy("'|O'", "(2,)", b"\x80\x04N."),
    "strings": lambda: npy_entry(np.array(["a", "b"])),
    "bytes": lambda: npy_entry(np.array([b"a"])),
    "complex": lambda: npy_entry(np.ones((3, 2), np.complex64)),
    "structured": lambda: npy_entry(np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")])),
    "datetime": lambda: npy_entry(np.zeros(2, dtype="M8[s]")),
    "bool": lambda: npy_entry(np.ones((3, 2), bool)),
    "int": lambda: npy_entry(np.arange(6, dtype=np.int64).reshape(3, 2)),
    "float16": lambda: npy_entry(np.ones((3, 2), np.float16)),
    "big-endian": lambda: npy_entry(np.ones((3, 2), ">f8")),
    "nan-inf": lambda: npy_entry(np.array([[np.nan, np.inf], [-np.inf, 1], [0, 0]], np.float32)),
    "scalar": lambda: npy_entry(np.float32(1)),
    "empty": lambda: npy_entry(np.zeros((0,), np.float32)),
    "huge-shape": lambda: raw_npy("'<f4'", "(10**12, 10**6)"),
    "huge-header": lambda: b"\x93NUMPY\x02\x00" + (2 ** 31).to_bytes(4, "little"),
    "bad-header": lambda: raw_npy("'<f4'", "(3, 2) + __import__('os').getpid()"),
    "negative-shape": lambda: raw_npy("'<f4'", "(-3, 2)"),
    "short-body": lambda: raw_npy("'<f4'", "(3, 2)", b"\x00" * 5),
    "not-npy": lambda: b"just text",
    "nothing": lambda: b"",
}
SPEC_ENTRIES = {
    "int32": lambda spec: np.frombuffer(json.dumps(spec).encode(), np.uint8).astype(np.int32),
    "2-d": lambda spec: np.frombuffer(json.dumps(spec).encode(), np.uint8).reshape(1, -1),
    "not-json": lambda spec: np.frombuffer(b"{name: x", np.uint8),
    "not-utf8": lambda spec: np.frombuffer(b"\xff\xfe{}", np.uint8),
    "list": lambda spec: np.frombuffer(b"[1, 2]", np.uint8),
    "deep": lambda spec: np.frombuffer(b"[" * 5000 + b"]" * 5000, np.uint8),
    "nan": lambda spec: np.frombuffer(json.dumps({**spec, "seed": float("nan")}).encode(),
                                      np.uint8),
    "string": lambda spec: np.array("spec"),
}


@st.composite
def archive(draw):
    """(model name, npz bytes, whether it is a model file)."""
    name = draw(st.sampled_from(MODELS))
    model, weights = ORIGINALS[name]
    entries = {key: npy_entry(value) for key, value in weights.items()}
    model_file = draw(st.booleans())
    if model_file:
        from nnctl.weights import spec_bytes

        entries["__spec__"] = npy_entry(spec_bytes(model.spec.doc.value))
    for _ in range(draw(st.integers(0, 3))):
        keys = sorted(entries)
        op = draw(st.sampled_from(["drop", "rename", "reshape", "odd", "odd", "extra",
                                   "spec", "noext"]))
        if not keys and op != "extra":
            continue
        key = draw(st.sampled_from(keys)) if keys else None
        if op == "drop":
            del entries[key]
        elif op == "rename":
            new = draw(st.sampled_from([key.upper(), key.replace("/", "_"), key + "x",
                                        key.split("/")[0], "/" + key, "../" + key, "",
                                        key.replace("kernel", "bias")]))
            entries[new] = entries.pop(key)
        elif op == "reshape":
            shape = draw(st.lists(st.integers(0, 5), max_size=3))
            entries[key] = npy_entry(np.ones(shape, np.float32))
        elif op == "odd":
            entries[key] = ODD_ENTRIES[draw(st.sampled_from(sorted(ODD_ENTRIES)))]()
        elif op == "extra":
            entries[draw(st.sampled_from(["extra/kernel", "layer1/gamma", "__spec__x", "a"]))] \
                = npy_entry(np.ones(2, np.float32))
        elif op == "spec":
            broken = SPEC_ENTRIES[draw(st.sampled_from(sorted(SPEC_ENTRIES)))]
            entries["__spec__"] = npy_entry(broken(model.spec.doc.value))
            model_file = True
        else:
            entries[key.split("/")[0]] = entries.pop(key)  # a member name without .npy
    sink = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                   zipfile.ZIP_LZMA]))
    with zipfile.ZipFile(sink, "w", compression=method) as zf:
        for key, data in entries.items():
            member = key if key in {k.split("/")[0] for k in weights} else key + ".npy"
            zf.writestr(member, data)
        if draw(st.integers(0, 9)) == 0:
            zf.writestr("folder/", b"")
    data = sink.getvalue()
    for _ in range(draw(st.integers(0, 2))):  # byte-level damage to the archive
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["cut", "flip", "flip", "append"]))
        if how == "cut":
            data = data[:at]
        elif how == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        else:
            data = data + draw(st.binary(min_size=1, max_size=30))
    return name, data, model_file


def use_weights(model, path: str, model_file: bool):
    """What `forward --weights` / a model file argument do: load, check, run two rows."""
    from nnctl import forward as engine
    from nnctl.model import build_model
    from nnctl.spec import read_spec
    from nnctl.weights import load_model_file, load_weights

    if model_file:
        spec = read_spec(path)
        model = build_model(spec)
        _, loaded = load_model_file(path)
    else:
        loaded = load_weights(path)
    weights = model.check_weights(loaded, source=path)
    width = sum(engine.input_widths(model).values())
    rows = np.linspace(-2, 2, 2 * width, dtype=model.dtype).reshape(2, width)
    out = list(engine.run(model, weights, [rows]))
    assert out[0].shape[0] == 2
    return weights


@fuzz_settings(1500)
@given(case=archive())
def test_mutated_weight_archives(fuzz_cases, case):
    name, data, model_file = case
    fuzz_cases.add("weights")
    model, _ = ORIGINALS[name]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "weights.npz")
        with open(path, "wb") as f:
            f.write(data)
        engine_case(use_weights, model, path, model_file)
    assert not UNPICKLED, "a pickle in a weights file was loaded"


@fuzz_settings(300)
@given(data=st.binary(max_size=400), prefix=st.sampled_from(
    [b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"]))
def test_random_bytes_as_weights(fuzz_cases, data, prefix):
    fuzz_cases.add("weights")
    model, _ = ORIGINALS["article_sequential.yaml"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "weights.npz")
        with open(path, "wb") as f:
            f.write(prefix + data)
        engine_case(use_weights, model, path, False)
        engine_case(use_weights, model, path, True)

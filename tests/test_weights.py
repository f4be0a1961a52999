"""Weights and model files (nnctl.weights): .npz without pickles, atomic writes, clear errors."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from nnctl.errors import ResourceError, WeightsError
from nnctl.weights import (SPEC_KEY, check_weights, load_model_file, load_weights, save_model,
                           save_weights)

SPEC = {"name": "tiny", "input": [3],
        "layers": [{"type": "Dense", "units": 2, "activation": "relu", "name": "dénse"}]}


def tiny_weights():
    rng = np.random.default_rng(0)
    return {"dénse/kernel": rng.standard_normal((3, 2)).astype(np.float32),
            "dénse/bias": np.array([0.5, -0.25], np.float32)}


def test_model_file_round_trip(tmp_path):
    path = tmp_path / "model.npz"
    weights = tiny_weights()
    save_model(path, SPEC, weights)
    spec, loaded = load_model_file(path)
    assert spec == SPEC
    assert list(loaded) == list(weights)
    for key in weights:
        assert loaded[key].dtype == weights[key].dtype
        assert np.array_equal(loaded[key], weights[key])
    assert list(load_weights(path)) == list(weights)  # the spec entry is not a weight


def test_spec_entry_is_utf8_json_bytes_readable_by_plain_numpy(tmp_path):
    path = tmp_path / "model.npz"
    save_model(path, SPEC, tiny_weights())
    with np.load(path, allow_pickle=False) as archive:
        raw = archive[SPEC_KEY]
        assert raw.dtype == np.uint8 and raw.ndim == 1
        assert json.loads(raw.tobytes().decode("utf-8")) == SPEC
        assert archive["dénse/kernel"].shape == (3, 2)


def test_weights_written_by_numpy_savez_load(tmp_path):
    path = tmp_path / "w.npz"
    np.savez_compressed(path, **{"dense/kernel": np.ones((2, 3)), "dense/bias": np.zeros(3)})
    weights = load_weights(path)
    assert set(weights) == {"dense/kernel", "dense/bias"}
    assert weights["dense/kernel"].dtype == np.float64


def test_weights_only_file_is_not_a_model_file(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(path, tiny_weights())
    with pytest.raises(WeightsError, match=r"w.npz: not a model file: no '__spec__' entry"):
        load_model_file(path)


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b""), "not a valid .npz file"),
    (lambda p: p.write_text("layers: []\n"), "not a valid .npz file"),
    (lambda p: np.save(open(p, "wb"), np.ones(3)), "is a single .npy array"),
    (lambda p: np.savez(p, a=np.array([{"x": 1}], dtype=object)),
     "entry 'a' holds Python objects"),
    (lambda p: np.savez(p, **{"d/kernel": np.array(["a", "b"])}),
     "weight 'd/kernel' holds <U1 values, not numbers"),
])
def test_bad_files_are_weights_errors_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(WeightsError) as info:
        load_weights(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_truncated_and_corrupted_files(tmp_path):
    good = tmp_path / "good.npz"
    save_model(good, SPEC, tiny_weights())
    data = good.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        truncated = tmp_path / f"cut{cut}.npz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(WeightsError, match=f"cut{cut}.npz: not a valid .npz file"):
            load_model_file(truncated)
    flipped = bytearray(data)
    position = data.index(b"\x93NUMPY") + 130  # inside the first array's data
    flipped[position] ^= 0xFF
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(WeightsError, match=r"corrupt.npz: not a valid .npz file \(Bad CRC-32"):
        load_weights(corrupt)


def test_bad_spec_entry(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, **{SPEC_KEY: np.frombuffer(b"{not json", np.uint8)})
    with pytest.raises(WeightsError, match="'__spec__' is not valid UTF-8 JSON"):
        load_model_file(path)
    np.savez(path, **{SPEC_KEY: np.frombuffer(b"[1, 2]", np.uint8)})
    with pytest.raises(WeightsError, match="'__spec__' must hold a JSON object, got list"):
        load_model_file(path)
    np.savez(path, **{SPEC_KEY: np.zeros(3, np.float32)})
    with pytest.raises(WeightsError, match=r"must be UTF-8 JSON bytes \(a 1-D uint8 array\)"):
        load_model_file(path)


def test_missing_files(tmp_path):
    with pytest.raises(OSError, match=r"nope.npz: no such file"):  # nnctl's FileError
        load_weights(tmp_path / "nope.npz")
    with pytest.raises(WeightsError, match="is a directory"):
        load_weights(tmp_path)


def test_a_huge_declared_array_is_refused_before_reading(tmp_path):
    from numpy.lib import format as npformat
    import io

    header = io.BytesIO()
    npformat.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                             "shape": (10 ** 7, 10 ** 7)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dense/kernel.npy", header.getvalue())
    with pytest.raises(ResourceError, match="bomb.npz: entry 'dense/kernel'"):
        load_weights(path)


def test_saving_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save_model(path, SPEC, tiny_weights())
    before = path.read_bytes()

    def interrupted_savez(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt  # as if Ctrl-C arrived mid-write

    monkeypatch.setattr(np, "savez", interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        save_model(path, SPEC, {"other/kernel": np.ones((5, 5))})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="reserved"):
        save_weights(path, {SPEC_KEY: np.zeros(1)})


def test_save_into_a_missing_directory_names_the_file(tmp_path):
    target = tmp_path / "no" / "such" / "model.npz"
    with pytest.raises(FileNotFoundError) as info:
        save_model(target, SPEC, tiny_weights())
    assert info.value.filename == str(target)


# --- checking weights against a model -------------------------------------------------------

EXPECTED = {"dense/kernel": (3, 4), "dense/bias": (4,),
            "batch_normalization/gamma": (4,), "batch_normalization/beta": (4,)}


def weights_for(shapes):
    return {key: np.zeros(shape, np.float32) for key, shape in shapes.items()}


def test_matching_weights_pass():
    check_weights(EXPECTED, weights_for(EXPECTED))


def test_missing_weight_names_layer_weight_and_shape():
    given = weights_for(EXPECTED)
    del given["dense/bias"]
    with pytest.raises(WeightsError) as info:
        check_weights(EXPECTED, given, source="w.npz")
    assert str(info.value) == ("w.npz: layer 'dense': weight 'bias' is missing "
                               "(expected shape (4,))")


def test_missing_weight_points_at_a_renamed_one():
    given = weights_for(EXPECTED)
    given["dense_1/kernel"] = given.pop("dense/kernel")
    with pytest.raises(WeightsError) as info:
        check_weights(EXPECTED, given)
    assert str(info.value) == ("layer 'dense': weight 'kernel' is missing (expected shape "
                               "(3, 4)); the file has 'dense_1/kernel' instead")


def test_misshaped_weight_names_both_shapes():
    given = weights_for(EXPECTED)
    given["dense/kernel"] = np.zeros((4, 3))
    with pytest.raises(WeightsError) as info:
        check_weights(EXPECTED, given, source="w.npz")
    assert str(info.value) == ("w.npz: layer 'dense': weight 'kernel' has shape (4, 3), "
                               "expected (3, 4)")


def test_extra_weight_is_an_error():
    given = weights_for(EXPECTED)
    given["dense/kernal"] = np.zeros((3, 4))
    given["other/bias"] = np.zeros(2)
    with pytest.raises(WeightsError) as info:
        check_weights(EXPECTED, given)
    assert str(info.value) == ("layer 'dense': weight 'kernal' (shape (3, 4)) is not in the "
                               "model (did you mean 'dense/kernel'?) (and 1 more)")

"""Small files that declare or expand to far more: refused from what they declare, before the
work, with the peak memory of the real process measured (fuzzing.measured). The limits are
listed in docs/limits.md. Also: weights drawn to infinity at build are an error naming the layer.
"""
from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest

from conftest import CONFIGS, run_nnctl
from fuzzing import run_inprocess
from test_hostile_files import one_error_line, run_measured

SEQUENTIAL = CONFIGS / "article_sequential.yaml"   # input 3, output 2
PEAK_KB = 300_000   # the bound of the issue: 300 MB


def test_a_yaml_of_millions_of_values_is_refused_while_parsing(tmp_path):
    (tmp_path / "many.yaml").write_text("[" + ",".join(["1"] * 7_000_000) + "]\n")  # 14 MB
    result, peak = run_measured("validate", "many.yaml", cwd=tmp_path)
    one_error_line(result, "many.yaml:1:", "more than 100,000 values; refusing to read further")
    assert peak < PEAK_KB, peak


def test_a_yaml_of_many_small_mappings_is_refused_while_parsing(tmp_path):
    (tmp_path / "many.yaml").write_text("name: x\ninput: [3]\nlayers:\n"
                                        + "  - {type: Dense, units: 1}\n" * 60_000)
    one_error_line(run_nnctl("summary", "many.yaml", cwd=tmp_path), "more than 100,000 values")


def npz_bytes(arrays: dict, compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def declaring(data: bytes, member: str, size: int) -> bytes:
    """The archive with `member`'s uncompressed size in the zip directory set to `size`."""
    start = 0
    while True:   # find the central directory entry of `member`
        at = data.index(b"PK\x01\x02", start)
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + name_length] == member.encode():
            return data[:at + 24] + struct.pack("<I", size) + data[at + 28:]
        start = at + 4


def weights_of_the_spec() -> dict:
    return {"layer1/kernel": np.ones((3, 3), np.float32), "layer1/bias": np.ones(3, np.float32),
            "layer2/kernel": np.ones((3, 2), np.float32), "layer2/bias": np.ones(2, np.float32),
            "layer3/kernel": np.ones((2, 2), np.float32), "layer3/bias": np.ones(2, np.float32)}


def test_a_member_declaring_gigabytes_is_refused_before_inflating(tmp_path):
    arrays = dict(weights_of_the_spec(), extra=np.zeros(1_000_000, np.float32))
    data = npz_bytes(arrays, compressed=True)   # 4 MB of zeros deflate to 4 KB
    (tmp_path / "bomb.npz").write_bytes(declaring(data, "extra.npy", 4_000_000_000))
    result, peak = run_measured("forward", SEQUENTIAL, "--weights", "bomb.npz", cwd=tmp_path,
                                input=b"1,2,3\n")
    one_error_line(result, "bomb.npz: entry 'extra' declares 4.00 GB from", "a zip bomb")
    assert peak < PEAK_KB, peak


def test_a_member_whose_size_differs_from_its_header_is_refused(tmp_path):
    data = npz_bytes(weights_of_the_spec())
    (tmp_path / "lies.npz").write_bytes(declaring(data, "layer1/bias.npy", 150))
    one_error_line(run_nnctl("forward", SEQUENTIAL, "--weights", "lies.npz", input="1,2,3\n",
                             cwd=tmp_path), "entry 'layer1/bias': its header says", "declares 150")


def test_duplicate_members_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        for key, array in [*weights_of_the_spec().items(), ("layer1/bias", np.zeros(3))]:
            member = io.BytesIO()
            np.save(member, array)
            archive.writestr(f"{key}.npy", member.getvalue())
    (tmp_path / "twice.npz").write_bytes(buffer.getvalue())
    one_error_line(run_nnctl("forward", SEQUENTIAL, "--weights", "twice.npz", input="1,2,3\n",
                             cwd=tmp_path), "entry 'layer1/bias' appears twice")


def test_member_names_with_control_characters_are_refused(tmp_path):
    arrays = dict(weights_of_the_spec(), **{"\x1b[2J/kernel": np.zeros(1)})
    (tmp_path / "esc.npz").write_bytes(npz_bytes(arrays))
    line = one_error_line(run_nnctl("forward", SEQUENTIAL, "--weights", "esc.npz",
                                    input="1,2,3\n", cwd=tmp_path), "is not a weight name")
    assert "\x1b" not in line


def test_too_many_members_are_refused_from_the_directory(tmp_path, monkeypatch):
    from nnctl import weights

    (tmp_path / "w.npz").write_bytes(npz_bytes(weights_of_the_spec()))
    monkeypatch.setattr(weights, "MAX_NPZ_MEMBERS", 5)
    run = run_inprocess(["forward", SEQUENTIAL, "--weights", "w.npz"], b"1,2,3\n", cwd=tmp_path)
    assert run.code == 1 and "the archive has 6 members, more than the 5 nnctl reads" in run.err
    monkeypatch.setattr(weights, "MAX_NPZ_MEMBERS", 6)
    assert run_inprocess(["forward", SEQUENTIAL, "--weights", "w.npz"], b"1,2,3\n",
                         cwd=tmp_path).code == 0


def test_json_of_too_many_values_is_refused_before_it_is_parsed(tmp_path):
    """A 16 MB config of `"a",` parsed to 4 million strings (4.7 s, 320 MB) before its first
    value was looked at; a model file's spec likewise."""
    config = ('{"class_name": "Sequential", "config": {"layers": [' + "0," * 2_000_000
              + '0]}}').encode()
    (tmp_path / "big.json").write_bytes(config)
    with zipfile.ZipFile(tmp_path / "big.keras", "w") as archive:
        archive.writestr("metadata.json", '{"keras_version": "3.5.0"}')
        archive.writestr("config.json", config)
    np.savez(tmp_path / "big.npz",
             __spec__=np.frombuffer(b"[" + b"0," * 200_000 + b"0]", np.uint8))
    for name, what, most in (("big.json", "the config", "2,000,000"),
                             ("big.keras", "config.json", "2,000,000"),
                             ("big.npz", "'__spec__'", "100,000")):
        run = run_inprocess(["summary", name], cwd=tmp_path)
        assert run.err == (f"nnctl: error: {name}: {what} has more than {most} values (counted "
                           "from its commas and brackets); refusing to parse it\n"), run.err


def test_a_json_spec_of_too_many_values_is_refused_after_parsing():
    from nnctl.errors import SpecError
    from nnctl.yamlpos import check_document

    check_document({"a": [1, 2], "b": {"c": 3}}, "s", max_values=6)   # the root counts too
    with pytest.raises(SpecError, match="s: the spec has more than 5 values"):
        check_document({"a": [1, 2], "b": {"c": 3}}, "s", max_values=5)


@pytest.mark.parametrize("args", [["summary", "w.npz"], ["forward", SEQUENTIAL, "--weights", "w.npz"],
                                  ["forward", SEQUENTIAL, "w.npz"], ["summary", "w.keras"]],
                         ids=["model", "weights", "data", "keras"])
def test_too_many_members_are_refused_from_the_end_record_alone(tmp_path, monkeypatch, args):
    """zipfile parses every entry of the directory (1-2 s for 100,000, twice: once to tell a
    .keras archive from an .npz): the count the archive's end record declares comes first."""
    import zipfile

    from nnctl import kerasfile, weights
    from nnctl.kerasfile import archive as keras_archive

    with zipfile.ZipFile(tmp_path / "w.npz", "w") as archive:
        for k in range(7):
            archive.writestr(f"m{k}.npy", b"")
    (tmp_path / "w.keras").write_bytes((tmp_path / "w.npz").read_bytes())
    monkeypatch.setattr(weights, "MAX_NPZ_MEMBERS", 6)
    monkeypatch.setattr(kerasfile, "MAX_KERAS_MEMBERS", 6)
    monkeypatch.setattr(keras_archive, "MAX_KERAS_MEMBERS", 6)
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", None)   # parsing it would fail
    run = run_inprocess(args, b"1,2,3\n", cwd=tmp_path)
    assert run.code == 1 and run.err.startswith("nnctl: error: w.") and \
        "the archive has 7 members, more than the 6" in run.err, run.err


def test_npz_data_with_an_array_twice_or_many_arrays(tmp_path):
    with zipfile.ZipFile(tmp_path / "twice.npz", "w") as archive, \
            pytest.warns(UserWarning, match="Duplicate"):
        for array in (np.ones((1, 3)), np.zeros((1, 3))):   # np.load would take the last
            member = io.BytesIO()
            np.save(member, array)
            archive.writestr("input_layer.npy", member.getvalue())
    run = run_inprocess(["forward", SEQUENTIAL, "twice.npz"], cwd=tmp_path)
    assert run.err == "nnctl: error: twice.npz: array 'input_layer' appears twice in the archive\n"
    (tmp_path / "many.npz").write_bytes(npz_bytes({f"x{k}": np.zeros(1) for k in range(1000)}))
    run = run_inprocess(["forward", SEQUENTIAL, "many.npz"], cwd=tmp_path)
    assert run.err == ("nnctl: error: many.npz: no array for input 'input_layer' (the archive has "
                       "x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, ... (1,000 arrays))\n"), run.err


def test_npz_data_is_checked_against_its_zip_directory(tmp_path):
    """Input data in an .npz: a member inflating past 100 times its stored size is refused as
    a Parquet file's rows are (it was streamed), and one whose array header disagrees with the
    size the directory declares is refused before any row is read."""
    np.savez_compressed(tmp_path / "zeros.npz", input_layer=np.zeros((2_000_000, 3), np.float32))
    run = run_inprocess(["forward", SEQUENTIAL, "zeros.npz"], cwd=tmp_path)
    assert run.code == 1 and run.out == b"", run.err
    assert run.err.startswith("nnctl: error: zeros.npz: array 'input_layer' declares 24.00 MB "
                              "from ") and "a decompression bomb" in run.err, run.err
    (tmp_path / "lies.npz").write_bytes(
        declaring(npz_bytes({"input_layer": np.ones((2, 3), np.float32)}), "input_layer.npy", 200))
    run = run_inprocess(["forward", SEQUENTIAL, "lies.npz"], cwd=tmp_path)
    assert run.err == ("nnctl: error: lies.npz: array 'input_layer': its header says float32 of "
                       "shape (2, 3) (24 bytes), but the archive declares 200 bytes for it\n")


def test_npz_data_in_fortran_order_is_read_by_rows(tmp_path):
    """Its values were read again from the member's start ("the magic string is not correct")."""
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.savez(tmp_path / "f.npz", input_layer=np.asfortranarray(rows))
    np.savez(tmp_path / "c.npz", input_layer=rows)
    fortran = run_inprocess(["forward", SEQUENTIAL, "f.npz"], cwd=tmp_path)
    assert fortran.code == 0, fortran.err
    assert fortran.out == run_inprocess(["forward", SEQUENTIAL, "c.npz"], cwd=tmp_path).out
    assert fortran.out.count(b"\n") == 4


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_a_row_of_a_million_cells_is_refused_while_scanning_it(tmp_path, suffix):
    cells = ("\t" if suffix == ".tsv" else ",").join(["1"] * 1_000_000)
    (tmp_path / f"wide{suffix}").write_text((f"[{cells}]" if suffix == ".jsonl" else cells)
                                            + "\n")
    result, peak = run_measured("forward", SEQUENTIAL, f"wide{suffix}", cwd=tmp_path)
    one_error_line(result, f"wide{suffix}:1: expected 3 columns, got 1,000,000")
    assert peak < PEAK_KB, peak


def test_a_json_object_of_a_million_keys_is_refused_from_its_commas(tmp_path):
    """Its keys were parsed into a dict (400 MB for 1.5 million) before the width was checked."""
    wide = "{" + ", ".join(f'"c{k}": 1' for k in range(1_000_000)) + "}\n"
    (tmp_path / "wide.jsonl").write_text(wide)
    result, peak = run_measured("forward", SEQUENTIAL, "wide.jsonl", cwd=tmp_path)
    one_error_line(result, "wide.jsonl:1: expected 3 columns, got 1,000,000 keys")
    assert peak < PEAK_KB, peak
    run = run_inprocess(["forward", SEQUENTIAL, "--input-format", "jsonl"],   # after a good row
                        b'{"a": 1, "b": 2, "c": 3}\n' + wide.encode())
    assert run.code == 1 and run.out.count(b"\n") == 2, (run.out, run.err)
    assert run.err == "nnctl: error: <stdin>:2: expected 3 columns, got 1,000,000 keys\n"


@pytest.mark.parametrize("lines", [["[" * 5_000 + "1" + "]" * 5_000],
                                   ['{"a": ' * 5_000 + "1" + "}" * 5_000],
                                   ['{"a": 1, "b": 2, "c": 3}', '{"a": ' * 5_000 + "1" + "}" * 5_000]],
                         ids=["array", "object", "object-line-2"])
def test_a_json_line_nested_too_deeply_is_a_data_error(lines):
    """Python's json recursed once per level: an internal RecursionError."""
    run = run_inprocess(["forward", SEQUENTIAL, "--input-format", "jsonl"],
                        "\n".join(lines).encode() + b"\n")
    assert run.code == 1, run.err
    assert run.err.startswith(f"nnctl: error: <stdin>:{len(lines)}: ") and \
        "internal error" not in run.err, run.err


def test_a_wide_row_after_good_rows_is_refused_too(tmp_path):
    (tmp_path / "late.csv").write_text("1,2,3\n" + ",".join(["1"] * 1_000_000) + "\n")
    result, peak = run_measured("forward", SEQUENTIAL, "late.csv", cwd=tmp_path)
    one_error_line(result, "late.csv:2: expected 3 columns, got 1,000,000")
    assert result.out.count("\n") == 1 and peak < PEAK_KB, (result.out, peak)


def test_weights_drawn_to_infinity_are_an_error_naming_the_layer(tmp_path):
    (tmp_path / "inf.yaml").write_text(
        "name: m\ninput: [3]\nlayers:\n  - {type: Dense, units: 2, name: big, "
        "kernel_initializer: {type: random_normal, stddev: 1.0e+300}}\n")
    (tmp_path / "m.npz").write_bytes(b"previous")
    for args in (["build", "inf.yaml", "-o", "m.npz"], ["forward", "inf.yaml"]):
        result = run_nnctl(*args, input="1,2,3\n", cwd=tmp_path)
        line = one_error_line(result, "inf.yaml:4:", "layer 'big': weight 'kernel' drawn from "
                              "its initializer is not finite", "`kernel_initializer`")
        assert "RuntimeWarning" not in result.err, line
    assert (tmp_path / "m.npz").read_bytes() == b"previous"


def test_weights_too_large_to_draw_are_an_error_naming_the_layer(tmp_path):
    """40 TB of kernel: refused before allocating, at the layer's place in the spec."""
    (tmp_path / "huge.yaml").write_text(
        "name: m\ninput: [100000]\nlayers:\n  - {type: Dense, units: 100000000, name: big}\n")
    for args in (["build", "huge.yaml", "-o", "m.npz"], ["forward", "huge.yaml"],
                 ["inspect", "huge.yaml"], ["export", "huge.yaml", "-o", "m.onnx"]):
        result = run_nnctl(*args, input="1\n", cwd=tmp_path)
        one_error_line(result, "huge.yaml:4:", "layer 'big': weight 'kernel': a glorot_uniform "
                       "sample of shape (100000, 100000000) needs 40.00 TB")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.yaml"]


def test_a_parquet_file_that_unpacks_past_a_hundred_times_itself_is_refused(tmp_path):
    """20,000,000 rows of zeros in one row group take 0.2 MB: they were streamed (3 s,
    332 MB); they are refused from the metadata, as an .npz bomb is."""
    import polars as pl

    from nnctl.errors import DataError
    from nnctl.tabular import read_batches

    path = tmp_path / "zeros.parquet"
    pl.DataFrame({c: pl.zeros(2_000_000, dtype=pl.Float32, eager=True) for c in "abc"}) \
        .write_parquet(path, row_group_size=2_000_000)
    assert path.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"declares 2,000,000 rows of 3 columns \(48 MB as "
                                        r"numbers\) from .* stored, more than 100 times"):
        with read_batches(str(path)) as reader:
            next(iter(reader))
    ok = tmp_path / "random.parquet"  # numbers that do not compress: read as ever
    pl.DataFrame({c: np.random.default_rng(0).standard_normal(300_000) for c in "abc"}) \
        .write_parquet(ok)
    with read_batches(str(ok)) as reader:
        assert sum(len(batch.array) for batch in reader) == 300_000


def test_a_parquet_file_of_the_wrong_width_is_refused_from_its_schema_alone(tmp_path,
                                                                            monkeypatch):
    """Its metadata was read twice (schema, then the row count) before the width was
    compared: 75,000 columns in 19 MB took 2-3 s and 290 MB."""
    import polars as pl

    pl.DataFrame({f"c{k}": [1.0] for k in range(1_000)}).write_parquet(tmp_path / "wide.parquet")
    monkeypatch.setattr(pl, "scan_parquet", None)   # reading the metadata again would fail
    run = run_inprocess(["forward", SEQUENTIAL, "wide.parquet"], cwd=tmp_path)
    assert run.err == "nnctl: error: wide.parquet: expected 3 columns, got 1,000\n", run.err


def test_a_keras_weights_group_nested_too_deeply_is_refused(tmp_path):
    """Groups nested 3,000 deep below a layer's group in model.weights.h5 ended in 'damaged
    HDF5 file (maximum recursion depth exceeded)': refused past 32 levels, naming the group."""
    h5py = pytest.importorskip("h5py")
    from conftest import GOLDEN

    with zipfile.ZipFile(GOLDEN / "keras" / "seq_mlp.keras") as source:
        members = {name: source.read(name) for name in source.namelist()}
    (tmp_path / "w.h5").write_bytes(members["model.weights.h5"])
    with h5py.File(tmp_path / "w.h5", "a") as f:
        group = f["layers/dense"]
        for _ in range(40):
            group = group.create_group("g")
    members["model.weights.h5"] = (tmp_path / "w.h5").read_bytes()
    with zipfile.ZipFile(tmp_path / "deep.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    run = run_inprocess(["forward", "deep.keras"], b"1,2,3,4,5,6,7,8\n", cwd=tmp_path)
    assert run.code == 1 and run.err.startswith("nnctl: error: deep.keras: group "
                                                "'/layers/dense/g/g/"), run.err
    assert "is nested more than 32 levels deep below its layer" in run.err

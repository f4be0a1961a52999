"""What a new user's trial of `nnctl forward` found in the data layer (nnctl.tabular), through
the real command: quoted numbers in JSON Lines, errors that name the right line, hints for
values separated the wrong way, binary files and zips, .npy on a pipe."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import CONFIGS, run_nnctl
from nnctl.errors import DataError
from nnctl.tabular import open_writer, read_batches

# A model of 2 inputs and 1 output that adds them: outputs are easy to check.
SUM_SPEC = "input: [2]\nlayers:\n  - {type: Dense, units: 1, kernel_initializer: ones}\n"


@pytest.fixture(scope="module")
def article(tmp_path_factory):
    """The article's functional model (3 input columns, 2 outputs) as a model file."""
    path = tmp_path_factory.mktemp("model") / "m.npz"
    result = run_nnctl("build", CONFIGS / "article_functional.yaml", "-o", path)
    assert result.code == 0, result.err
    return path


@pytest.fixture
def adder(tmp_path):
    path = tmp_path / "sum.yaml"
    path.write_text(SUM_SPEC)
    return path


def error(message: str) -> str:
    return f"nnctl: error: {message}\n"


# --- 1, 2: JSON Lines: quoted numbers ---------------------------------------------------------

def test_a_json_lines_first_line_of_quoted_numbers_is_data_not_a_header(article, tmp_path):
    plain = run_nnctl("forward", article, input="[1,2,3]\n")
    assert plain.code == 0 and plain.err == "" and len(plain.out.splitlines()) == 1
    quoted = tmp_path / "q.jsonl"
    quoted.write_text('["1","2","3"]\n')
    result = run_nnctl("forward", article, quoted)
    assert (result.code, result.out, result.err) == (0, plain.out, "")
    # CSV reads the same line as data, as it always did
    assert run_nnctl("forward", article, input='"1","2","3"\n').out == plain.out
    # an array of names is still a header: the output gets one too
    named = run_nnctl("forward", article, input='["a","b","c"]\n[1,2,3]\n')
    assert (named.code, named.out) == (0, "layer3_0,layer3_1\n" + plain.out)


def test_a_json_lines_error_names_the_line_of_the_bad_value(article, tmp_path):
    path = tmp_path / "q2.jsonl"
    path.write_text('[1,2,3]\n[1,"2",3]\n[1,null,3]\n')
    result = run_nnctl("forward", article, path)
    assert result.code == 1
    assert result.err == error(f"{path}:3: column 2: 'null' is not a number")
    assert len(result.out.splitlines()) == 2  # the two good rows came out first


@pytest.mark.parametrize("cell", [
    '"2"', '" 2"', '"\t2"', '"+2"', '"nan"', '"-Infinity"', '"1e5"', "2", " 2", "\t2",
    '"2 "', ' "2"', '"2" ', '""', '"', '"x"', "null", "true", '"2,5"', '"\\u0032"', "'2'",
    '""2""', '"2', "2\"", "[2]",
])
def test_the_careful_json_lines_path_reads_whatever_the_fast_path_reads(tmp_path, cell):
    """A block the fast parser refuses is read line by line: that must not refuse a cell the
    fast parser read, or the error names a good line. Here the bad value is on line 2, so an
    error must name line 2 whenever the fast parser reads line 1 alone."""
    from nnctl.tabular.text import TextParser

    line = f"[1,{cell},3]\n".encode()
    fast = TextParser("jsonl", 3, np.dtype(np.float32)).fast(line, 1)
    path = tmp_path / "c.jsonl"
    path.write_bytes(line + b"[1,null,3]\n")
    rows = []
    with pytest.raises(DataError) as info:
        for batch in read_batches(str(path), header=False, n_columns=3):
            rows.extend(batch.array.tolist())
    if fast is not None:
        assert str(info.value) == f"{path}:2: column 2: 'null' is not a number"
        assert np.array_equal(np.array(rows, np.float32), fast, equal_nan=True)
    else:  # refused by both, or read (more leniently) by the careful path: line 1 or 2
        assert info.value.line in (1, 2)


def test_json_strings_with_spaces_around_them_are_read_as_numbers(article):
    """JSON allows spaces between values: `[1, "2", 3]` is the same as `[1,"2",3]`."""
    plain = run_nnctl("forward", article, input="[1,2,3]\n[4,5,6]\n")
    spaced = run_nnctl("forward", article, input='[1, "2", 3]\n[4, " 5 ", 6]\n')
    assert (spaced.code, spaced.out, spaced.err) == (0, plain.out, "")


# --- 3, 6: rows of the wrong width: say why -----------------------------------------------------

CR_ALONE = ("(lines here end with a carriage return alone, as old Mac files do; nnctl reads "
            "lines that end with \\n or \\r\\n: convert with tr '\\r' '\\n')")


@pytest.mark.parametrize("data,args,message", [
    ("1\t2\t3\n", [], "<stdin>:1: expected 3 columns, got 1 "
     "(the values look tab-separated: give --input-format tsv)"),
    ("1;2;3\n", [],
     "<stdin>:1: expected 3 columns, got 1 (CSV separates values with ',', not ';')"),
    ("1 2 3\n", [],
     "<stdin>:1: expected 3 columns, got 1 (CSV separates values with ',', not spaces)"),
    ("a\tb\tc\n1\t2\t3\n", [], "<stdin>:1: expected 3 columns, got 1 in the header "
     "(the names look tab-separated: give --input-format tsv)"),
    ("1,2,3\n", ["--input-format", "tsv"], "<stdin>:1: expected 3 columns, got 1 "
     "(the values look comma-separated: give --input-format csv)"),
    ("[1 2 3]\n", [],
     "<stdin>:1: expected 3 columns, got 1 (JSON Lines separates values with ',', not spaces)"),
    ("1,2,3,\n", [], "<stdin>:1: expected 3 columns, got 4 (a trailing ','?)"),
    ("[1,2,3,]\n", [], "<stdin>:1: expected 3 columns, got 4 (a trailing ','?)"),
    ("a,b,c,\n", [], "<stdin>:1: expected 3 columns, got 4 in the header (a trailing ','?)"),
    ("1,5;2,5;3,5\n", [],  # decimal commas
     "<stdin>:1: expected 3 columns, got 4 (CSV separates values with ',', not ';')"),
    ("a,b\n", [], "<stdin>:1: expected 3 columns, got 2 in the header"),  # no hint to give
    ("first name,last name\n", [], "<stdin>:1: expected 3 columns, got 2 in the header"),
    ("1,2\n", [], "<stdin>:1: expected 3 columns, got 2"),
    # lines ended by a CR alone (classic Mac OS): the whole file is one line; CRLF is read
    ("1,2,3\r4,5,6\r", [], "<stdin>:1: expected 3 columns, got 5 " + CR_ALONE),
    ("a,b,c\r1,2,3\r", [], "<stdin>:1: expected 3 columns, got 5 " + CR_ALONE),
    ("1\t2\t3\r4\t5\t6\r", ["--input-format", "tsv"],
     "<stdin>:1: expected 3 columns, got 5 " + CR_ALONE),
])
def test_a_line_of_the_wrong_width_says_what_it_looks_like(article, data, args, message):
    result = run_nnctl("forward", article, *args, input=data)
    assert (result.code, result.out, result.err) == (1, "", error(message))


def test_the_hint_comes_on_a_later_line_too_after_the_good_rows(article):
    good = run_nnctl("forward", article, input="1,2,3\n")
    result = run_nnctl("forward", article, input="1,2,3\n4,5,6,\n")
    assert (result.code, result.out) == (1, good.out)
    assert result.err == error("<stdin>:2: expected 3 columns, got 4 (a trailing ','?)")
    result = run_nnctl("forward", article, input="1,2,3\n4;5;6\n")
    assert (result.code, result.out) == (1, good.out)
    assert result.err == error(
        "<stdin>:2: expected 3 columns, got 1 (CSV separates values with ',', not ';')")


# --- 4: binary files and zips ------------------------------------------------------------------

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x03\x00>\x00\x01\x00\x00\x00\n" + bytes(range(256))


@pytest.mark.parametrize("data,what", [
    (ELF, "not text"),                                   # an executable: control characters
    (b"1,2,3\x00\n4,5,6\n", "not text"),
    (b"\x89PNG\r\n\x1a\n" + bytes(40), "not UTF-8 text"),  # no control character on line 1
    (b"caf\xe9,b,c\n1,2,3\n", "not UTF-8 text"),           # Latin-1 is not UTF-8 either
])
def test_a_binary_file_is_refused_not_taken_as_a_header(article, tmp_path, data, what):
    path = tmp_path / "ls.csv"
    path.write_bytes(data)
    result = run_nnctl("forward", article, path)
    assert (result.code, result.out) == (1, "")
    assert result.err == error(
        f"{path}:1: {what} (a binary file? give --input-format for .npy/Parquet)")


def test_text_with_tabs_crs_and_utf8_names_is_still_text(article):
    result = run_nnctl("forward", article, input="é,\tb ,c\r\n1,2,3\r\n".encode())
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == "layer3_0,layer3_1"


def test_an_npz_on_stdin_asks_for_its_path(article):
    result = run_nnctl("forward", article, input=article.read_bytes())
    assert (result.code, result.out) == (1, "")
    assert result.err == error("<stdin>: an .npz archive is read from a file, not stdin: "
                               "give its path")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_npz_input_that_is_a_device_is_refused_before_reading_it(device):
    """zipfile looks for an archive's end record by reading to the end: /dev/zero has none,
    and `forward MODEL /dev/zero --input-format npz` grew until the OOM killer came. Under a
    2 GiB address space here, so that a missing check fails with a MemoryError instead."""
    import os
    import resource

    from conftest import ROOT

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    r = subprocess.run([sys.executable, "-m", "nnctl", "forward", str(CONFIGS / "two_input.yaml"),
                        device, "--input-format", "npz"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=cap, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", error(
        f"{device}: is not a regular file (an .npz archive is read from a file)"))


def test_a_zip_file_without_the_npz_extension_is_named_as_such(article, tmp_path):
    path = tmp_path / "inputs.dat"
    path.write_bytes(article.read_bytes())
    with pytest.raises(DataError) as info:
        read_batches(str(path))
    assert str(info.value) == f"{path}: a zip archive, not a table (an .npz? give " \
                              "--input-format npz)"


# --- 5: .npy on stdout ---------------------------------------------------------------------------

def run_python(code: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin,
                          capture_output=True, timeout=120)


def test_npy_on_a_pipe_is_refused_past_the_spool_limit(adder):
    """The rows wait in a temporary file until the row count is known: up to
    MAX_STDOUT_NPY_SPOOL_BYTES, then one error line and nothing on stdout (endless input
    would fill the disk). Here the limit is the size of the rows (3 float32), then 1 byte less."""
    from nnctl.limits import human_bytes
    from nnctl.tabular import writers

    assert writers.MAX_STDOUT_NPY_SPOOL_BYTES == 10 ** 9

    def forward_with_limit(limit: int) -> subprocess.CompletedProcess:
        return run_python(f"""
            import nnctl.tabular.writers as writers
            writers.MAX_STDOUT_NPY_SPOOL_BYTES = {limit}
            from nnctl.cli.app import main
            main(["forward", {str(adder)!r}, "--output-format", "npy", "--batch-size", "1"])
        """, b"1,2\n3,4\n5,6\n")

    result = forward_with_limit(12)
    assert (result.returncode, result.stderr) == (0, b"")
    assert np.load(io.BytesIO(result.stdout)).tolist() == [[3], [7], [11]]
    result = forward_with_limit(11)
    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == error(
        "<stdout>: .npy on a pipe needs the row count first: the rows wait in a temporary file, "
        f"and these are over {human_bytes(11)}: write to a file (-o FILE.npy) or as CSV")


class FakeStdout:
    def __init__(self):
        self.buffer = io.BytesIO()

    def flush(self):
        pass


def test_npy_on_stdout_with_a_known_row_count_streams_without_a_spool(monkeypatch):
    stdout = FakeStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    rows = np.arange(10, dtype=np.float32).reshape(5, 2)
    with open_writer("-", "npy", n_rows=5) as out:
        out.write(rows[:3])
        assert out._spool is None
        written = stdout.buffer.getvalue()  # the header and the first rows are out already
        assert written.startswith(b"\x93NUMPY") and written.endswith(rows[:3].tobytes())
        out.write(rows[3:])
    assert np.array_equal(np.load(io.BytesIO(stdout.buffer.getvalue())), rows)
    monkeypatch.setattr(sys, "stdout", FakeStdout())
    with pytest.raises(ValueError, match="2 rows written, 5 announced"):
        with open_writer("-", "npy", n_rows=5) as out:
            out.write(rows[:2])


def test_npy_on_stdout_without_a_row_count_is_spooled_then_whole(monkeypatch):
    stdout = FakeStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    rows = np.arange(6, dtype=np.float64).reshape(3, 2)
    with open_writer("-", "npy") as out:
        out.write(rows)
        assert stdout.buffer.getvalue() == b""  # waits for the row count
    back = np.load(io.BytesIO(stdout.buffer.getvalue()))
    assert back.dtype == np.float64 and np.array_equal(back, rows)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npy"])
def test_a_stream_gives_out_the_rows_before_a_bad_line_in_every_format(adder, tmp_path, fmt):
    result = run_nnctl("forward", adder, "--output-format", fmt, "--batch-size", "1",
                       input="1,2\n3,4\nx,1\n5,6\n")
    assert result.code == 1
    assert result.err == error("<stdin>:3: column 1: 'x' is not a number")
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(result.out_bytes)
    rows = np.concatenate([b.array for b in read_batches(str(path))])
    assert rows.tolist() == [[3], [7]]


def test_a_closed_pipe_or_interrupt_drops_the_spooled_npy(monkeypatch):
    """Only bad input gives out the rows before it; Ctrl-C (or a closed pipe) leaves."""
    stdout = FakeStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    with pytest.raises(KeyboardInterrupt):
        with open_writer("-", "npy") as out:
            out.write(np.ones((2, 2), np.float32))
            raise KeyboardInterrupt
    assert stdout.buffer.getvalue() == b""

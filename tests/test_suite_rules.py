"""Rules the test suite keeps about itself."""
import pathlib
import re

TESTS = pathlib.Path(__file__).parent
TIMER = re.compile(r"perf_counter|monotonic\(|time\.time\(|elapsed")


def test_no_test_asserts_a_wall_clock_time():
    """Speed is measured in benchmarks/, not asserted in tests: a loaded machine fails them.
    Growth is checked by counts of work; hangs are guarded by timeouts, which assert nothing."""
    offenders = [f"{path.name}:{number}: {line.strip()}"
                 for path in sorted(TESTS.rglob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if "assert" in line and TIMER.search(line)]
    assert offenders == []


def test_the_code_cites_only_documents_in_the_repository():
    """Design notes outside the repository are not there for a reader of the code."""
    for path in sorted((TESTS.parent / "nnctl").rglob("*.py")):
        assert not re.search(r"DESIGN\.md|STYLE\.md|PERF-NOTES|\.\./shared", path.read_text()), path


def test_every_document_the_code_cites_exists():
    root = TESTS.parent
    cited = set()
    for path in sorted((root / "nnctl").rglob("*.py")):
        cited |= set(re.findall(r"\bdocs/[\w.-]+\.md", path.read_text()))
    assert cited and sorted(doc for doc in cited if not (root / doc).is_file()) == []

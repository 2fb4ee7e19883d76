"""Hostile pages for ``python -m generator import`` (issue 26, item 9): backtracking and size.

Each pattern the importer reads a page with gets the input that makes a backtracking matcher
super-linear: long runs of the characters that two neighbouring quantifiers both accept (spaces in
a heading, in a fence's info string, in a summary, a link or a side marker; tildes before a
backtick; blank lines in code), one opening repeated so that every start rescans the same run
('详见[' many times), and code blocks that are never closed. These payloads are larger than a page
may be: each pattern must be linear on its own, the size limits only back that up. Then whole
pages go through the CLI: the issue's two pages, pages at the limits, pages past them, and pages
whose text the importer would copy into a mapping far larger than a mapping file may be.

Every case runs in a child process under a CPU-time limit, a memory limit and a timeout, so a
regression fails in seconds instead of hanging the suite; the time measured is the child's CPU
time for the work alone (not its start), which other processes on the machine barely change.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator import importer

ROOT = Path(__file__).resolve().parents[1]
CPU_LIMIT_S = 20  # a child past this is killed: the case failed, whatever it was doing
MEMORY_LIMIT = 2 << 30

PAGE = """\
# Differences with torch.abs

## torch.abs

```text
torch.abs(input)
```

For more information, see [torch.abs](https://pytorch.org/docs/stable/generated/torch.abs.html).

## mindspore.ops.abs

```text
mindspore.ops.abs(input)
```

## Differences

PyTorch: Computes the absolute value.

MindSpore: The same.

| Categories | Subcategories | PyTorch | MindSpore | Difference |
| --- | --- | --- | --- | --- |
| Parameters | Parameter 1 | input | input | - |

### Code Example 1

```python
# PyTorch
import torch
print(torch.abs(torch.tensor([-1.0])))

# MindSpore
import mindspore
print(mindspore.ops.abs(mindspore.Tensor([-1.0])))
```
"""


def after(anchor: str, text: str) -> str:
    """The page with ``text`` inserted after the first line that is ``anchor``."""
    assert f"\n{anchor}\n" in PAGE
    return PAGE.replace(f"\n{anchor}\n", f"\n{anchor}\n{text}\n", 1)


def code_example(code: str) -> str:
    """The page with one more code example: ``code`` in a ```python block."""
    return PAGE + f"\n### Code Example 2\n\n```python\n{code}\n```\n"


# Payload generators: name -> (unit, what it attacks, size -> page text). Each builds its run of
# ``size`` characters or lines where the pattern under attack reads it. A few attack patterns that
# were linear already ('#' runs, parentheses, pipes, brackets): they keep a rewrite honest.
PAYLOADS = {
    "heading, spaces before the end": (
        "characters", "heading '(.*?)\\s*#*\\s*$' (cubic)",
        lambda n: PAGE + "\n## a" + " " * n + "b\n"),
    "heading, closing hashes and spaces": (
        "characters", "heading '#*' between '\\s*'",
        lambda n: PAGE + "\n## a " + "# " * (n // 2) + "b\n"),
    "API heading, spaces": (
        "characters", "API heading '\\s*(?:\\(.*\\))?\\s*$'",
        lambda n: after("## Differences", "\n## torch.abs" + " " * n + "x\n")),
    "API heading, parentheses": (
        "characters", "API heading '\\(.*\\)'",
        lambda n: after("## Differences", "\n## torch.abs(" + ") " * (n // 2) + "x\n")),
    "example heading, spaces": (
        "characters", "example heading '\\s*\\d*\\s*$'",
        lambda n: PAGE + "\n### Example" + " " * n + "x\n"),
    "fence, spaces in the info string": (
        "characters", "fence '\\s*([^`\\s]*)[^`]*$'",
        lambda n: PAGE + "\n```" + " " * n + "x`\n"),
    "fence, tildes then a backtick": (
        "characters", "fence '~{3,}' next to '[^`\\s]*[^`]*' (cubic)",
        lambda n: PAGE + "\n" + "~" * n + "`\n"),
    "fences never closed": (
        "lines", "code blocks that never close: each one read the rest of the page",
        lambda n: PAGE + "```python\n" * n),
    "table separator, spaces": (
        "characters", "table separator '^\\s*\\|?\\s*' and '\\s*\\|?\\s*$'",
        lambda n: PAGE + "\na | b\n" + " " * n + "- " + " " * n + "x\n"),
    "table row, pipes and dashes": (
        "characters", "table rows and separator cells",
        lambda n: PAGE + "\n" + "|-" * (n // 2) + "\n" + "|" + "-|" * (n // 2) + "\n"),
    "summary, spaces after the name": (
        "characters", "summary '(pytorch|...)\\s*(?:\\*\\*)?\\s*[:：]'",
        lambda n: after("## Differences", "\nPyTorch" + " " * n + "x\n")),
    "link, one opening many times": (
        "characters", "documentation link '\\[([^\\]]*)\\]' searched from every start",
        lambda n: after("## torch.abs", "\n" + "详见[" * (n // 3) + "\n")),
    "link, spaces in the address": (
        "characters", "documentation link '\\(\\s*<?([^)\\s>]*)>?\\s*\\)'",
        lambda n: after("## torch.abs", "\nFor more information, see [a](" + " " * n + "x\n")),
    "side marker, spaces": (
        "characters", "'# PyTorch' marker '\\s*[:：]?\\s*$'",
        lambda n: code_example("# PyTorch" + " " * n + "x\nprint(1)")),
    "marked halves, blank lines": (
        "lines", "print detection '^\\s*print' (MULTILINE) over blank lines, blank-line stripping",
        lambda n: code_example("# PyTorch" + "\n" * n + "import torch" + "\n" * n + "x = 1\n"
                               "# MindSpore\nimport mindspore\nprint(1)")),
    "unmarked block, blank lines": (
        "lines", "side detection '^\\s*(import\\s+torch|...)' (MULTILINE)",
        lambda n: code_example("x = 1\n" + "\n" * n + "y = 2")),
    "code, brackets and quotes": (
        "characters", "a print(...) over many lines: bracket counting",
        lambda n: code_example("# PyTorch\nprint(" + "(\"'[" * (n // 4))),
}
# A quadratic pattern takes minutes on these, a cubic one years; linear work takes a small part of the budget.
SIZES = {"characters": 100_000, "lines": 50_000}
BUDGET_S = 2.0  # CPU seconds for the work on one payload


def parse(text: str) -> None:
    """What import does with a page's text, without its size limits: blocks, reading, the mapping's data."""
    page = importer._Page(Path("hostile.md"), [])
    page.read(importer._blocks(text.splitlines(), page.warn))
    page.mapping_data()


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_bounded(arguments: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """A child Python process under the CPU, memory and time limits; a child over them fails the test."""
    try:
        done = subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=_limits)
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish in {timeout} s")
    if done.returncode < 0:  # killed: SIGXCPU or SIGKILL past the CPU limit, SIGSEGV out of memory
        pytest.fail(f"killed by signal {-done.returncode} (over {CPU_LIMIT_S} s of CPU or {MEMORY_LIMIT} bytes)")
    return done


CHILD = """
import sys, time
from tests.test_hostile_import import PAYLOADS, parse
text = PAYLOADS[sys.argv[1]][2](int(sys.argv[2]))
started = time.process_time()
parse(text)
print(time.process_time() - started)
"""


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_each_pattern_is_linear_on_its_payload(name):
    unit, attacked, _ = PAYLOADS[name]
    done = run_bounded(["-c", CHILD, name, str(SIZES[unit])])
    assert done.returncode == 0, done.stderr[-2000:]
    seconds = float(done.stdout.split()[-1])
    assert seconds < BUDGET_S, f"{attacked}: {seconds:.1f} s of CPU for {SIZES[unit]:,} {unit}"


# --------------------------------------------------------------------------- whole pages, through the CLI


def import_page(tmp_path: Path, text: str, name: str = "page.md") -> tuple[subprocess.CompletedProcess, float]:
    page = tmp_path / name
    page.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    done = run_bounded(["-m", "generator", "import", str(page), "--out", str(tmp_path / "out")])
    return done, time.perf_counter() - started


def written(tmp_path: Path) -> list[Path]:
    out = tmp_path / "out"
    return sorted(path for path in out.rglob("*") if path.is_file()) if out.exists() else []


def test_the_issues_heading_of_6_kb_imports_in_seconds(tmp_path):
    """Before: the heading pattern backtracked cubically on this line (hours)."""
    done, seconds = import_page(tmp_path, PAGE + "\n## Notes" + " " * 6_000 + "x\n\nText.\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert [path.name for path in written(tmp_path)] == ["abs.yaml"]


def test_the_issues_200_000_blank_lines_in_code_are_refused_at_the_line_limit(tmp_path):
    """Before: the blank lines were matched quadratically (hours). Now the page passes the line limit."""
    done, _ = import_page(tmp_path, code_example("# PyTorch\nimport torch" + "\n" * 200_000 + "print(1)"))
    assert done.returncode == 1
    assert f"page.md:{importer.MAX_PAGE_LINES + 1}: the page has 200,0" in done.stderr
    assert "not imported" in done.stderr and "Traceback" not in done.stderr
    assert written(tmp_path) == []


def at_most(limit: int, head: str, unit: str) -> str:
    """``head`` followed by as many copies of ``unit`` as fit in ``limit`` characters."""
    return head + unit * ((limit - len(head)) // len(unit))


@pytest.mark.parametrize("name, line", [
    ("heading", lambda: at_most(importer.MAX_LINE_CHARACTERS - 1, "## a", " ") + "b"),
    ("fence", lambda: at_most(importer.MAX_LINE_CHARACTERS - 1, "", "~") + "`"),
    ("summary", lambda: at_most(importer.MAX_LINE_CHARACTERS - 1, "PyTorch", " ") + "x"),
    ("link", lambda: at_most(importer.MAX_LINE_CHARACTERS, "", "详见[")),
    ("table separator", lambda: "a | b\n" + at_most(importer.MAX_LINE_CHARACTERS // 2, "", " ") + "- "
     + at_most(importer.MAX_LINE_CHARACTERS // 2 - 3, "", " ") + "x"),
])
def test_a_page_with_the_longest_hostile_line_allowed_imports_in_seconds(tmp_path, name, line):
    text = after("## Differences", "\n" + line() + "\n")
    assert max(map(len, text.splitlines())) <= importer.MAX_LINE_CHARACTERS
    done, seconds = import_page(tmp_path, text)
    assert done.returncode == 0, done.stderr[-2000:]
    assert seconds < 30, f"{seconds:.1f} s"


def test_a_page_of_unclosed_fences_up_to_the_line_limit_imports_in_seconds(tmp_path):
    """Before: each unclosed fence read the rest of the page again (quadratic in the lines)."""
    lines = importer.MAX_PAGE_LINES - PAGE.count("\n") - 1
    done, seconds = import_page(tmp_path, PAGE + "```python\n" * lines)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "code block opened here is not closed before line" in done.stderr
    assert seconds < 30, f"{seconds:.1f} s"


def _first_long_line(text: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1)
                if len(line) > importer.MAX_LINE_CHARACTERS)


@pytest.mark.parametrize("name, page, line, message", [
    ("bytes", lambda: PAGE + ("x" * 99 + "\n") * (importer.MAX_PAGE_BYTES // 100),
     lambda text: text[:importer.MAX_PAGE_BYTES].count("\n") + 1,
     lambda text: "the page is larger than 262,144 bytes (it passes that size on this line)"),
    ("lines", lambda: PAGE + "\n" * importer.MAX_PAGE_LINES, lambda text: importer.MAX_PAGE_LINES + 1,
     lambda text: f"the page has {len(text.splitlines()):,} lines, more than the 5,000"),
    ("line length", lambda: after("## Differences", "\n" + "y" * (importer.MAX_LINE_CHARACTERS + 1)),
     _first_long_line, lambda text: "this line has 10,001 characters, more than the 10,000"),
])
def test_a_page_past_a_size_limit_is_refused_at_the_line_where_it_passes_it(tmp_path, name, page, line, message):
    text = page()
    done, seconds = import_page(tmp_path, text)
    assert done.returncode == 1
    assert f"page.md:{line(text)}: {message(text)}" in done.stderr, done.stderr[-2000:]
    assert "not imported" in done.stderr and "Traceback" not in done.stderr
    assert written(tmp_path) == []


def test_the_size_limits_leave_room_above_the_real_pages():
    pages = ROOT / "tests" / "fixtures" / "pages"  # the malformed ones are no real pages
    corpus = sorted(pages.glob("*.md")) + sorted((pages / "variations").glob("*.md"))
    seeds = ROOT.parent / "shared" / "seeds"
    corpus += sorted(seeds.glob("*.txt")) if seeds.is_dir() else []
    texts = [path.read_text(encoding="utf-8") for path in corpus]
    assert max(len(text.encode()) for text in texts) * 20 < importer.MAX_PAGE_BYTES
    assert max(len(text.splitlines()) for text in texts) * 20 < importer.MAX_PAGE_LINES
    assert max(len(line) for text in texts for line in text.splitlines()) * 20 < importer.MAX_LINE_CHARACTERS


def test_imports_copied_into_many_halves_are_refused_before_the_copies_are_made(tmp_path):
    """Before: a 50 KB page wrote a 36 MB mapping (its 2,400 imports copied into 1,200 halves) in
    four minutes, then removed it since it was too large to load."""
    imports = "\n".join(f"import module_{number}" for number in range(2_400))
    halves = "\n".join(f"# {'PyTorch' if number % 2 == 0 else 'MindSpore'}\nprint({number})" for number in range(1_200))
    text = after("### Code Example 1", f"\n```python\n{imports}\n```\n\n```python\n{halves}\n```\n")
    done, seconds = import_page(tmp_path, text)
    assert done.returncode == 1
    assert "the mapping from this page would hold more than 1,048,576 bytes of text" in done.stderr, done.stderr[-2000:]
    assert written(tmp_path) == []
    assert seconds < 30, f"{seconds:.1f} s"


def test_a_signature_copied_into_many_pairs_is_refused_before_it_is_written(tmp_path):
    """One counterpart with a long signature, paired with hundreds of source APIs: every pair
    would write the signature again."""
    signature = "mindspore.ops.abs(\n" + "\n".join("    " + "x=None, " * 1_100 for _ in range(20)) + ")"
    sources = "".join(f"\n## torch.Tensor.abs_{number}\n\n```text\ntorch.Tensor.abs_{number}(input)\n```\n"
                      for number in range(600))
    text = PAGE.replace("mindspore.ops.abs(input)", signature).replace("\n## mindspore.ops.abs\n",
                                                                       sources + "\n## mindspore.ops.abs\n")
    assert len(text.encode()) <= importer.MAX_PAGE_BYTES and len(text.splitlines()) <= importer.MAX_PAGE_LINES
    done, seconds = import_page(tmp_path, text)
    assert done.returncode == 1
    assert "page.md:1: the mapping from this page would hold more than" in done.stderr, done.stderr[-2000:]
    assert written(tmp_path) == []
    assert seconds < 30, f"{seconds:.1f} s"


FIND_CHILD = """
import sys, time
from pathlib import Path
from generator.scaffold import find_mapping_of
started = time.process_time()
found = find_mapping_of("torch.abs", Path(sys.argv[1]))
print(found is not None, time.process_time() - started)
"""


def test_a_broken_mapping_with_many_blank_lines_is_found_in_linear_time(tmp_path):
    """import looks for the file that maps the page's API; a file that does not parse is matched
    on its text, where '^\\s*api:' rescanned a run of blank lines from each of them."""
    (tmp_path / "torch").mkdir()
    broken = "source:\n" + "\n" * 200_000 + "  kind: [\n  api: torch.abs\n"  # an unclosed '[': no YAML
    (tmp_path / "torch" / "abs.yaml").write_text(broken, encoding="utf-8")
    done = run_bounded(["-c", FIND_CHILD, str(tmp_path)])
    assert done.returncode == 0, done.stderr[-2000:]
    found, seconds = done.stdout.split()
    assert found == "True" and float(seconds) < BUDGET_S

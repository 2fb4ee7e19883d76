"""Hostile mappings and faults mid-build (issue 13, input and build half).

Each test plays an adversarial contributor or an unlucky CI: markup injected through every field
of a mapping, YAML built to exhaust the loader, values that crash later stages, a path that
blocks, builds killed at several moments and builds running at the same time. Work is bounded:
the loader's hostile files run under a memory limit and a timeout, Sphinx builds skip examples.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from generator import locks
from generator.pipeline import Options, generate
from generator.render import safe_url

from .conftest import L1LOSS_PAIR, ROOT, VALID_MAPPING, write_mapping
from .hostile import check, problems_of, without_root_override
from .site_build import build_site, sphinx_arguments

NO_RUN = Options(execute=False, cache_path=None, coverage_modules=())
PAUSE_EXTENSIONS = "extensions=myst_parser,sphinx_design,sphinx_copybutton,generator.sphinx_ext,tests.sphinx_pause"





# --- YAML built to exhaust the loader --------------------------------------------------------

def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bomb_is_refused_before_expansion_with_file_and_line(tmp_path: Path, levels: int):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(levels))
    completed = check(bomb)
    assert completed.returncode == 1
    assert re.search(rf"{re.escape(str(bomb))}:\d+:\d+: YAML error: expands to more than", completed.stderr)
    assert "Traceback" not in completed.stderr


def test_recursive_alias_is_refused(tmp_path: Path):
    path = write_mapping(tmp_path, "rec.yaml", "source: &a\n  api: [*a]\n")
    assert problems_of(path) == [f"{path}:2:9: YAML error: an alias refers to a node that contains it (a recursive alias)"]


def test_modest_aliases_still_work(tmp_path: Path):
    text = VALID_MAPPING.replace("    same_values: true\n", "    same_values: &yes true\n") + "  - source: print(3)\n    same_values: *yes\n    target: print(3)\n"
    assert problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text)) == []


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_nesting_500_deep_is_one_error_for_that_file_and_other_files_are_still_checked(tmp_path: Path, shape: str):
    deep = "[" * 500 + "]" * 500 if shape == "flow" else "".join(f"\n{'  ' * (level + 1)}k{level}:" for level in range(500)) + " v"
    write_mapping(tmp_path, "a/deep.yaml", f"source: {deep}\n")
    write_mapping(tmp_path, "b/torch.nn/L1Loss.yaml")
    write_mapping(tmp_path, "c/torch.nn/Other.yaml", VALID_MAPPING.replace("status: names-differ", "status: similar"))
    completed = check(tmp_path)
    assert completed.returncode == 1 and "Traceback" not in completed.stderr and "RecursionError" not in completed.stderr
    problems = completed.stderr.splitlines()[:-1]
    assert len(problems) == 2, completed.stderr
    assert re.match(rf"{re.escape(str(tmp_path / 'a' / 'deep.yaml'))}:\d+:\d+: YAML error: nested more than 20 levels deep", problems[0])
    assert ":11:1: status:" in problems[1]


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path):
    path = write_mapping(tmp_path, "big.yaml", VALID_MAPPING + "#" + "x" * (2 << 20) + "\n")
    assert problems_of(path) == [f"{path}:1:1: cannot read file: the file is larger than 1048576 bytes"]


# --- paths that are not files ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_path_is_refused_at_once(tmp_path: Path, kind: str):
    if kind == "fifo":
        path = tmp_path / "mapping.yaml"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    completed = check(path, write_mapping(tmp_path, "ok/torch.nn/L1Loss.yaml"), timeout=20)
    assert completed.returncode == 1
    assert f"{path}:1:1: cannot read file: not a regular file" in completed.stderr
    assert "1 problem found." in completed.stderr


@pytest.mark.parametrize("character", ["\x1b", "\n"])
def test_file_name_with_a_control_character_is_refused(tmp_path: Path, character: str):
    write_mapping(tmp_path, f"torch.nn/L1{character}Loss.yaml")
    (problem,) = problems_of(tmp_path)
    assert problem.endswith(f"cannot read file: the file name holds the control character U+{ord(character):04X}")


def test_fifo_inside_a_mappings_folder_is_reported_not_skipped(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml")
    os.mkfifo(tmp_path / "torch.nn" / "MSELoss.yaml")
    assert problems_of(tmp_path) == [f"{tmp_path / 'torch.nn' / 'MSELoss.yaml'}:1:1: cannot read file: not a regular file "
                                     "(a FIFO, a device or a socket cannot be a mapping)"]


def test_problem_lines_cannot_carry_terminal_control_sequences(tmp_path: Path):
    text = VALID_MAPPING.replace("status: names-differ", "status: names-differ\n\"\\e]0;owned\\a\\e[2J\": 1")
    (problem,) = problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    assert problem.endswith(":12:1: \\x1b]0;owned\\x07\\x1b[2J: unknown key (a typo?)"), problem
    assert all(character.isprintable() for character in problem)


# --- values that used to crash later stages --------------------------------------------------

@pytest.mark.parametrize("timeout", [".inf", "1e308", "2200000", ".nan", "-1"])
def test_unbounded_timeout_is_a_check_error(tmp_path: Path, timeout: str):
    text = VALID_MAPPING.replace("    same_values: true\n", f"    same_values: true\n    timeout: {timeout}\n")
    (problem,) = problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    assert ":18:5: examples[0].timeout: " in problem
    assert re.search(r"less than or equal to 3600|finite number|greater than 0", problem), problem


def test_api_name_too_long_for_a_file_name_is_a_check_error(tmp_path: Path):
    name = "L" + "o" * 248 + "ss"
    text = L1LOSS_PAIR.replace("api: torch.nn.L1Loss", f"api: torch.nn.{name}")
    (problem,) = problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    assert ":2:3: source.api: String should have at most 200 characters" in problem


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("    source: |\n      print(1 + 1)\n", '    source: "print(1 + 1)\\0"\n', ":18:5: examples[0].source"),
        ("summary: Mean absolute error.", 'summary: "Mean\\0 absolute error."', ":5:3: source.summary"),
        ("note: Same function.", 'note: "Same\\x1b[31m function."', ":14:"),
        ("signature: class mindspore.nn.L1Loss(reduction='mean')(logits, labels)",
         "signature: \"\\x07class mindspore.nn.L1Loss(reduction='mean')(logits, labels)\"", ":9:3: target.signature"),
    ],
)
def test_control_character_in_a_text_or_code_field_is_a_check_error(tmp_path: Path, old: str, new: str, where: str):
    assert old in VALID_MAPPING
    (problem,) = problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", VALID_MAPPING.replace(old, new)))
    assert where in problem and ": control character U+" in problem and "is not allowed" in problem, problem


def test_raw_control_character_is_reported_where_it_is(tmp_path: Path):
    path = tmp_path / "raw.yaml"
    path.write_text(VALID_MAPPING.replace("summary: The same loss.", "summary: The \x00same loss."))
    assert problems_of(path) == [f"{path}:10:16: YAML error: character U+0000 is not allowed in YAML"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "https://", "//e.example/x", "https://e.example/a b", "ftp://e.example/x"])
def test_url_must_be_http_or_https_with_a_host(tmp_path: Path, url: str):
    text = L1LOSS_PAIR.replace("  summary: Mean absolute error.", f"  summary: Mean absolute error.\n  url: {json.dumps(url)}")
    (problem,) = problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    assert ":6:3: source.url: " in problem and re.search(r"http:// or https://|spaces", problem), problem


def test_url_characters_that_end_a_link_or_an_attribute_are_percent_encoded():
    assert safe_url("https://e.example/a b>\"'<`()\\{}") == "https://e.example/a%20b%3E%22%27%3C%60%28%29%5C%7B%7D"
    assert safe_url("https://e.example/p?q=1&r=%20#frag") == "https://e.example/p?q=1&r=%20#frag"


# --- markup injection through every field, in the real built site ----------------------------

HOSTILE = "<script>alert(1)</script> | `x` {ref}`status-consistent` **bold** $x$ [l](http://e.example) <img src=x onerror=alert(2)>"
HOSTILE_URL = 'https://e.example/x"><script>alert(3)</script><img/src=x/onerror=alert(4)>(`{ref}`)'
HOSTILE_CODE = "print('```')\n# </pre><script>alert(5)</script>\n# :::{raw} html\n# ~~~\n"
# Prose fields keep a safe Markdown subset; what lies outside it must stay text.
HOSTILE_PROSE = (HOSTILE + "\n\n```{raw} html\n<script>alert(6)</script>\n```\n\n[j](javascript:alert(7)) "
                 "$\\href{javascript:alert(8)}{x}$\n\n:::{danger}\nboom\n:::\n\n<div onclick=alert(9)>d</div>\n\n"
                 "![i](http://e.example/i.png)\n\n# heading")
# What a reader sees of HOSTILE where the subset applies: code, bold, math and the link are markup.
HOSTILE_SHOWN = "<script>alert(1)</script> | x {ref}status-consistent bold \\(x\\) l <img src=x onerror=alert(2)>"


def hostile_mapping() -> str:
    side = {"kind": "class", "signature": f"class {HOSTILE} ```", "summary": HOSTILE, "url": HOSTILE_URL}
    data = {
        "source": {"api": "torch.nn.L1Loss", **side},
        "target": {"api": "mindspore.nn.L1Loss", **side},
        "status": "names-differ",
        "differences": [{"category": "Parameters", "source": HOSTILE, "target": HOSTILE, "note": HOSTILE}],
        "alternatives": [{"target": {"api": "mindspore.ops.l1_loss", **side, "kind": "function"}, "note": HOSTILE_PROSE}],
        "other_pairs": [{"source": {"api": "torch.nn.functional.l1_loss", **side, "kind": "function"},
                         "target": {"api": "mindspore.mint.nn.functional.l1_loss", **side, "kind": "function"},
                         "note": HOSTILE_PROSE}],
        "remarks": HOSTILE_PROSE,
        "sections": [{"title": HOSTILE, "text": f"{HOSTILE}\n\n{HOSTILE}", "items": [HOSTILE], "code": [HOSTILE_CODE]}],
        "guide": {"overview": HOSTILE, "when_to_use": [HOSTILE], "trade_offs": [HOSTILE], "algorithm": [HOSTILE]},
        "examples": [{"note": HOSTILE, "source": HOSTILE_CODE, "target": HOSTILE_CODE,
                      "expected_failures": [{"side": "target", "devices": ["cpu"], "error": HOSTILE, "reason": HOSTILE}]}],
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_hostile_text_in_every_field_cannot_inject_markup_into_the_built_site(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", hostile_mapping())
    status, _, html = build_site(tmp_path, "mapping_execute=0", mappings=mappings)
    assert status == 0
    page = BeautifulSoup((html / "docs" / "api" / "torch.nn" / "L1Loss.html").read_text(), "html.parser")
    assert not [script for script in page.find_all("script") if "alert" in script.get_text() or "e.example" in script.get("src", "")]
    assert not [tag for tag in page.find_all(True) if any(name.startswith("on") for name in tag.attrs)]
    article = page.select_one("article")
    assert article.find("script") is None and article.find("img") is None
    assert article.find("em") is None and article.select("strong")  # bold from the safe subset only
    assert not article.select("div.admonition, div.highlight-html, div[onclick], h1 ~ h1")
    links = [a["href"] for a in article.select("a[href]") if not a["href"].startswith("#")]
    outside = [href for href in links if not href.startswith("../")]
    assert set(outside) == {safe_url(HOSTILE_URL), "http://e.example"}
    assert outside.count(safe_url(HOSTILE_URL)) == 5  # main pair, alternative, other pair
    assert not [href for href in links if "javascript" in href.lower()]
    rows = [row.select("td") for row in article.select("table tr") if row.select("td")]
    assert rows and all(len(cells) == 5 for cells in rows)
    assert [cell.get_text() for cell in rows[0][2:4]] == [HOSTILE] * 2  # name cells stay plain text
    assert " ".join(rows[0][4].get_text().split()) == HOSTILE_SHOWN  # the note keeps the prose subset
    paragraphs = [" ".join(p.get_text().split()) for p in article.select("p")]
    assert paragraphs.count(HOSTILE_SHOWN) >= 3 + 4  # section text twice, guide overview, remarks, notes
    assert "[j](javascript:alert(7))" in " ".join(paragraphs)  # a link to another scheme is shown as text
    for literal in ("```{raw} html <script>alert(6)</script> ```", ":::{danger} boom :::", "# heading",
                    "<div onclick=alert(9)>d</div>", "![i](http://e.example/i.png)"):
        assert literal in paragraphs, literal
    assert article.select("span.math") or article.select("div.math")
    assert not [math for math in article.select(".math") if "href" in math.get_text()]
    items = [" ".join(li.get_text().split()) for li in article.select("li")]
    assert items.count(HOSTILE_SHOWN) == 4  # section items, when to use, trade-offs, algorithm
    headings = [h.get_text().rstrip("#¶") for h in article.select("h3")]
    assert HOSTILE in headings
    code = [pre.get_text() for pre in article.select("div.highlight-python pre")]
    # the section's code, shown as it is, then the example: a tab a side
    assert len(code) == 3 and all(block.count("</pre><script>alert(5)</script>") == 1 for block in code)
    signatures = [pre.get_text().strip() for pre in article.select("div.highlight-text pre")]
    assert signatures == [f"class {HOSTILE} ```"] * 5


# --- writing the pages fails ----------------------------------------------------------------

def run_generator(*args: str, preexec=None, user: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, preexec_fn=preexec, user=user)


def small_file_limit(limit: int):
    """preexec_fn: a child whose files cannot grow past ``limit`` bytes, as on a full disk."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return apply


def test_full_disk_while_writing_pages_is_a_clear_error_and_no_partial_pages(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml")
    write_mapping(mappings, "torch.nn/MSELoss.yaml", L1LOSS_PAIR.replace("L1Loss", "MSELoss").replace(
        "summary: The same loss.", "summary: " + "A long summary. " * 4000))
    output = tmp_path / "api"
    completed = run_generator("run", "--no-cache", "-q", "--mappings", str(mappings), "--output", str(output),
                              preexec=small_file_limit(40_000))
    assert completed.returncode == 1
    assert f"cannot write the pages into {output}: File too large" in completed.stderr
    assert "nothing in it was changed" in completed.stderr and "Traceback" not in completed.stderr
    assert not output.exists()  # the run made it, and took it back



def test_read_only_output_folder_is_a_clear_error_and_leaves_it_as_it_was(tmp_path: Path):
    mappings, output = tmp_path / "mappings", tmp_path / "api"
    write_mapping(mappings, "torch.nn/L1Loss.yaml")
    generate([mappings], output, NO_RUN)
    write_mapping(mappings, "torch.nn/L1Loss.yaml", VALID_MAPPING.replace("The same loss.", "Changed."))
    folders = [output, *(path for path in output.rglob("*") if path.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        before = {path: path.read_bytes() for path in output.rglob("*") if path.is_file()}
        completed = run_generator("run", "--no-cache", "-q", "--mappings", str(mappings), "--output", str(output),
                                  preexec=without_root_override)
        after = {path: path.read_bytes() for path in output.rglob("*") if path.is_file()}
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert completed.returncode == 1
    assert f"cannot write the pages into {output}: Permission denied" in completed.stderr
    assert "nothing in it was changed" in completed.stderr and "Traceback" not in completed.stderr
    assert after == before


def test_sphinx_reports_a_write_failure_as_a_generation_error_not_a_crash(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", L1LOSS_PAIR.replace("summary: The same loss.", "summary: " + "Long. " * 12000))
    completed = subprocess.run([sys.executable, "-m", "sphinx", *sphinx_arguments(tmp_path, "mapping_execute=0", mappings=mappings)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=small_file_limit(60_000))
    assert completed.returncode != 0
    assert "mapping generation failed: cannot write the pages into" in completed.stderr
    assert "File too large" in completed.stderr
    assert "open an issue" not in completed.stderr + completed.stdout and "Traceback" not in completed.stderr


# --- kills mid-build ------------------------------------------------------------------------

WRITE_AND_PAUSE = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from generator.pipeline import Options, generate
    from tests.sphinx_pause import pause_until
    real_replace, pause_at = os.replace, sys.argv[3]
    def replace(source, target):
        if str(target).endswith(pause_at):
            print("PAUSED", flush=True)
            pause_until(float(sys.argv[4]), os.environ.get("SPHINX_PAUSE_RELEASE"))
        real_replace(source, target)
    os.replace = replace
    generate([Path(sys.argv[1])], Path(sys.argv[2]), Options(execute=False, cache_path=None, coverage_modules=()))
""")


def start_paused_generation(mappings: Path, output: Path, pause_at: str, seconds: float = 60,
                            release: Path | None = None) -> subprocess.Popen:
    """``generate`` in a child that stops just before renaming its temporary file onto ``pause_at``,
    for ``seconds`` or until the file ``release`` exists."""
    environment = {**os.environ, "SPHINX_PAUSE_RELEASE": str(release or "")}
    child = subprocess.Popen([sys.executable, "-c", WRITE_AND_PAUSE, str(mappings), str(output), pause_at, str(seconds)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    assert child.stdout.readline().strip() == "PAUSED", child.stderr.read()
    return child


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    child.stderr.close()


def test_kill_while_writing_pages_leaves_no_temporary_file_after_the_next_build(tmp_path: Path):
    mappings, output = tmp_path / "mappings", tmp_path / "api"
    write_mapping(mappings, "torch.nn/L1Loss.yaml")
    kill(start_paused_generation(mappings, output, "L1Loss.md"))
    assert list(output.rglob(".L1Loss.md.*.tmp"))  # what the kill left
    generated = generate([mappings], output, NO_RUN)
    assert (output / "torch.nn" / "L1Loss.md") in generated.written
    assert [path.name for path in output.rglob("*") if path.name.endswith(".tmp")] == []


def test_concurrent_generation_into_one_folder_waits_and_leaves_a_consistent_folder(tmp_path: Path):
    big, small, output = tmp_path / "big", tmp_path / "small", tmp_path / "api"
    write_mapping(big, "torch.nn/L1Loss.yaml")
    write_mapping(big, "torch.nn/MSELoss.yaml", VALID_MAPPING.replace("L1Loss", "MSELoss"))
    write_mapping(small, "torch.nn/L1Loss.yaml")
    release = tmp_path / "release"
    first = start_paused_generation(big, output, "MSELoss.md", release=release)  # has written index.md by now
    second = subprocess.Popen([sys.executable, "-c", WRITE_AND_PAUSE, str(small), str(output), "never", "0"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting = wait_for_line(second.stderr, "Waiting for another build that is using the output folder")
    release.touch()  # the first finishes only once the second waits for it, however slowly the machine starts it
    errors = waiting + second.stderr.read()
    assert first.wait(timeout=60) == 0 and second.wait(timeout=60) == 0, errors
    for stream in (first.stdout, first.stderr, second.stdout, second.stderr):
        stream.close()
    pages = {path.relative_to(output).with_suffix("").as_posix() for path in output.rglob("*.md") if not path.name.startswith("_")}
    overview = (output / "index.md").read_text()
    linked = set(re.findall(r'href="([\w./]+)\.html"', overview)) | set(re.findall(r"^modules/[\w.]+$", overview, re.M))
    assert pages - {"index", "coverage", "translation"} == linked == {"torch.nn/L1Loss", "modules/torch.nn"}
    assert "Waiting for another build that is using the output folder" in errors


def wait_for_line(stream, wanted: str) -> str:
    """What ``stream`` gives up to and including the first line holding ``wanted`` (a test failure
    if the stream ends first)."""
    seen = ""
    for line in stream:
        seen += line
        if wanted in line:
            return seen
    raise AssertionError(f"never printed {wanted!r}: {seen}")


def hold_lock_in_child(guarded: Path, what: str, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; from generator import locks;"
                               "locks.acquire(Path(sys.argv[1]), sys.argv[2]); print('HELD', flush=True); time.sleep(float(sys.argv[3]))",
                               str(guarded), what, str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "HELD"
    return holder


def test_a_lock_held_by_another_process_times_out_with_a_clear_message(tmp_path: Path):
    guarded = tmp_path / "outputs.sqlite"
    holder = hold_lock_in_child(guarded, "output cache", 60)
    try:
        with pytest.raises(locks.LockTimeout, match="another build has been using the output cache"):
            locks.acquire(guarded, "output cache", wait=0.3)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    locks.release(locks.acquire(guarded, "output cache", wait=5))  # the kernel dropped the dead holder's lock


def test_generation_waits_for_a_build_that_uses_the_same_cache(tmp_path: Path, capfd):
    mappings, cache = tmp_path / "mappings", tmp_path / "outputs.sqlite"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", L1LOSS_PAIR)  # no examples: nothing to run, the lock all the same
    holder = hold_lock_in_child(cache, "output cache", 2)
    try:
        generate([mappings], tmp_path / "api", Options(cache_path=cache, progress=False, coverage_modules=()))
        assert holder.poll() == 0  # generation went on only once the holder was gone
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert f"Waiting for another build that is using the output cache {cache}" in capfd.readouterr().err


def start_paused_sphinx(workdir: Path, mappings: Path, moment: str, seconds: float = 60, after: str = "",
                        release: Path | None = None) -> subprocess.Popen:
    environment = {**os.environ, "SPHINX_PAUSE_AT": moment, "SPHINX_PAUSE_SECONDS": str(seconds), "SPHINX_PAUSE_AFTER": after,
                   "SPHINX_PAUSE_RELEASE": str(release or "")}
    child = subprocess.Popen(
        [sys.executable, "-m", "sphinx", *sphinx_arguments(workdir, "mapping_execute=0", PAUSE_EXTENSIONS, mappings=mappings)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    for line in child.stdout:
        if line.strip() == "PAUSED":
            return child
    raise AssertionError(f"the build never paused: {child.stderr.read()}")


def search_index(html: Path) -> dict:
    text = (html / "searchindex.js").read_text()
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def html_documents(html: Path) -> set[str]:
    return {page.relative_to(html).with_suffix("").as_posix() for page in html.rglob("*.html")
            if not page.relative_to(html).parts[0].startswith("_") and page.name not in ("search.html", "genindex.html")} - {"index"}


@pytest.mark.parametrize("moment", ["read", "write"])
def test_next_build_after_a_kill_mid_sphinx_is_complete_search_index_included(tmp_path: Path, moment: str):
    """A complete build, then a mapping is added and the next build is killed: in the reading
    phase, or in the writing phase right after it wrote the new page. The build after that
    must show and index every page, the new one included. Every build loads the pausing
    extension (idle unless told to pause): a change of extensions alone makes Sphinx rebuild all."""
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml")
    status, source, html = build_site(tmp_path, "mapping_execute=0", PAUSE_EXTENSIONS, mappings=mappings)
    assert status == 0
    write_mapping(mappings, "torch.nn/MSELoss.yaml", VALID_MAPPING.replace("L1Loss", "MSELoss").replace("The same loss.", "Zyzzyva loss."))
    kill(start_paused_sphinx(tmp_path, mappings, moment, after="docs/api/torch.nn/MSELoss" if moment == "write" else ""))
    if moment == "write":
        assert (html / "docs" / "api" / "torch.nn" / "MSELoss.html").is_file()  # written before the kill
    status, source, html = build_site(tmp_path, "mapping_execute=0", PAUSE_EXTENSIONS, mappings=mappings)
    assert status == 0
    expected = {page.relative_to(source).with_suffix("").as_posix() for page in source.rglob("*.md")
                if not page.name.startswith("_")}
    assert html_documents(html) == expected
    index = search_index(html)
    assert set(index["docnames"]) == expected
    assert index["docnames"][index["terms"]["zyzzyva"]] == "docs/api/torch.nn/MSELoss"


def test_two_sphinx_builds_into_one_folder_run_one_after_the_other(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml")
    release = tmp_path / "release"
    first = start_paused_sphinx(tmp_path, mappings, "write", release=release)
    second = subprocess.Popen([sys.executable, "-m", "sphinx", *sphinx_arguments(tmp_path, "mapping_execute=0", PAUSE_EXTENSIONS, mappings=mappings)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting = wait_for_line(second.stderr, "Waiting for another build that is using the Sphinx output folder")
    release.touch()  # the first finishes only once the second waits for it
    errors = waiting + second.stderr.read()
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert second.wait(timeout=120) == 0, errors
    for stream in (first.stdout, first.stderr, second.stdout, second.stderr):
        stream.close()
    assert set(search_index(tmp_path / "html")["docnames"]) == html_documents(tmp_path / "html")

"""Rendering: layout of a page, escaping of YAML text, outputs woven in after their statement."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from markdown_it import MarkdownIt

from generator.loader import load_mappings
from generator.render import Renderer, code_with_outputs, escape_cell, escape_text, fence

from .conftest import VALID_MAPPING, write_mapping


def result(outputs=(), status="ok", error_type=None, error_message=None, error_line=None):
    return SimpleNamespace(
        status=status,
        outputs=[SimpleNamespace(line=line, text=text) for line, text in outputs],
        error_type=error_type,
        error_message=error_message,
        error_line=error_line,
        framework_version="9.9.9",
        device_name="Test CPU",
        produced_on="2026-11-26",
        cached=False,
    )


def render(tmp_path: Path, text: str = VALID_MAPPING, runs=None) -> str:
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text)
    (loaded,) = load_mappings([tmp_path]).mappings
    page = Renderer().page(loaded, runs or {})
    assert page.startswith("---\n")  # front matter for the site (edit link, sidebar label, search)
    return page.split("\n---\n", 1)[1]


def html_of(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_escaped_text_renders_literally():
    hostile = "a | b `code` <script>alert(1)</script> *bold* [link](x) {role}`x` &amp; \\ # h"
    rendered = html_of(escape_text(hostile))
    assert "<script>" not in rendered and "<em>" not in rendered and "<a " not in rendered and "<code>" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "{role}`x`" in rendered.replace("&amp;", "&")


def test_cell_cannot_break_a_table():
    table = "| A | B |\n| --- | --- |\n| " + escape_cell("x | y\nz") + " | " + escape_cell(None) + " |\n"
    rendered = html_of(table)
    assert rendered.count("<td>") == 2
    assert "<td>x | y z</td>" in rendered
    assert "<td>-</td>" in rendered


def test_fence_is_longer_than_any_backtick_run():
    block = fence("print('```')\nx = '````'", "python")
    assert block.startswith("`````python\n") and block.endswith("\n`````")
    assert html_of(block).count("<pre>") == 1


def test_outputs_are_woven_in_after_their_statement():
    code = "import x\nvalue = compute(\n    1,\n)\nprint(value)\nprint('a\\nb')\n"
    woven = code_with_outputs(code, result([(5, "0.5"), (6, "a\nb")]))
    assert woven.splitlines() == [
        "import x", "value = compute(", "    1,", ")", "print(value)", "# 0.5", "print('a\\nb')", "# a", "# b",
    ]


def test_failure_is_shown_after_the_failing_statement():
    woven = code_with_outputs("a = 1\nloss(a)\nprint(a)", result([], "error", "RuntimeError", "The kernel X unregistered.", 2))
    assert woven.splitlines() == ["a = 1", "loss(a)", "# RuntimeError: The kernel X unregistered.", "print(a)"]


def test_page_layout_follows_the_seed_shape(tmp_path: Path):
    page = render(tmp_path)
    tokens = MarkdownIt("commonmark").parse(page)
    headings = [(tokens[i].tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == [
        ("h1", "Differences with torch\\.nn\\.L1Loss"),
        ("h2", "torch\\.nn\\.L1Loss"),
        ("h2", "mindspore\\.nn\\.L1Loss"),
        ("h2", "Differences"),
        ("h3", "Code Example"),
    ]
    assert "| Categories | Subcategories | PyTorch | MindSpore | Difference |" in page
    assert "| Parameters | Parameter 1 | `reduction` | `reduction` | \\- |" in page
    assert "| Inputs | Input 1 | `input` | `logits` | Same function\\. |" in page
    assert "For more information, see [torch\\.nn\\.L1Loss](<https://docs.pytorch.org/docs/" in page
    assert "/api_python/nn/mindspore.nn.L1Loss.html>)" in page
    assert "PyTorch: Mean absolute error\\." in page


def test_row_numbers_are_derived_per_category(tmp_path: Path):
    rows = "\n".join(
        f"  - {{category: {category}, source: p{index}}}"
        for index, category in enumerate(["Parameters", "Parameters", "Inputs", "Inputs", "Outputs"])
    )
    text = VALID_MAPPING.replace(
        "  - {category: Parameters, source: reduction, target: reduction}\n"
        "  - {category: Inputs, source: input, target: logits, note: Same function.}", rows)
    labels = [line.split("|")[1:3] for line in render(tmp_path, text).splitlines() if "| `p" in line]
    assert [[c.strip() for c in cells] for cells in labels] == [
        ["Parameters", "Parameter 1"], ["", "Parameter 2"], ["Inputs", "Input 1"], ["", "Input 2"], ["Outputs", "Output 1"],
    ]


def test_page_shows_outputs_verdict_and_provenance(tmp_path: Path):
    run = SimpleNamespace(
        source=result([(1, "2")]), target=result([(1, "2")]),
        comparison=SimpleNamespace(verdict="agree", detail=""),
    )
    page = render(tmp_path, runs={0: run})
    # One tab per framework; output lines are emphasized lines, which the copy button leaves out.
    assert "::::{tab-item} PyTorch\n:sync: torch\n\n```{code-block} python\n:class: mapping-code no-search\n:emphasize-lines: 2\n\nprint(1 + 1)\n# 2\n```" in page
    assert "::::{tab-item} MindSpore\n:sync: mindspore\n\n```{code-block} python\n:class: mapping-code no-search\n:emphasize-lines: 2\n\nprint(2)\n# 2\n```" in page
    assert "{bdg-success}`outputs agree`" in page
    assert "printed by MindSpore 9\\.9\\.9 and PyTorch 9\\.9\\.9 on CPU \\(Test CPU\\)\\, on 2026\\-11\\-26" in page


def test_failures_are_warnings_beside_their_code(tmp_path: Path):
    failing = SimpleNamespace(
        source=result([(1, "2")]), target=result([], "error", "RuntimeError", "The kernel L1Loss unregistered.", 1),
        comparison=SimpleNamespace(verdict="not compared", detail="target failed"),
    )
    page = render(tmp_path, runs={0: failing})
    assert ("# RuntimeError: The kernel L1Loss unregistered.\n```\n\n:::{warning}\nThis example does not run on CPU\\: "
            "MindSpore 9\\.9\\.9 has no CPU kernel for it\\. RuntimeError\\: The kernel L1Loss unregistered\\.") in page
    assert "{failure-badge}`CPU`" in page  # the page header says so too
    assert "Both compute the same value\\." in page and "> MindSpore failed on CPU here" in page
    declared = VALID_MAPPING + "    expected_failures:\n      - {side: target, devices: [cpu], error: unregistered, reason: No CPU kernel.}\n"
    page = render(tmp_path, declared, runs={0: failing})
    assert ":::{warning}\nThis example does not run on CPU\\: MindSpore 9\\.9\\.9" in page
    assert "No CPU kernel\\." in page


def test_a_declared_failure_explains_only_the_error_it_names(tmp_path: Path):
    start_error = SimpleNamespace(
        source=result([(1, "2")]),
        target=result([], "crash", "WorkerStartError", "ModuleNotFoundError: No module named 'mindspore'"),
        comparison=SimpleNamespace(verdict="not compared", detail="target failed"),
    )
    declared = VALID_MAPPING + "    expected_failures:\n      - {side: target, devices: [cpu], error: unregistered, reason: No CPU kernel.}\n"
    page = render(tmp_path, declared, runs={0: start_error})
    assert ":::{warning}\nThis example crashed the MindSpore process" in page
    assert "No CPU kernel" not in page


def test_compared_outputs_state_their_tolerance(tmp_path: Path):
    run = SimpleNamespace(source=result([(1, "2")]), target=result([(1, "2")]),
                          comparison=SimpleNamespace(verdict="agree", detail=""))
    page = render(tmp_path, runs={0: run})
    shown = page.replace("\\", "")  # Markdown escapes
    assert "compared number by number with rtol=1e-05 and atol=1e-06, each value no more precisely than both sides printed it" in shown


def test_a_difference_note_shows_code_in_code_font(tmp_path: Path):
    text = VALID_MAPPING.replace("note: Same function.", "note: \"Pass `reduction='sum'` | or *not*.\"")
    rows = [line for line in html_of(render(tmp_path, text)).splitlines() if "<td>" in line]
    assert "<td>Pass <code>reduction='sum'</code> | or <em>not</em>.</td>" in rows


def test_hostile_yaml_text_is_escaped_everywhere(tmp_path: Path):
    text = VALID_MAPPING.replace("summary: The same loss.", "summary: \"<img src=x onerror=alert(1)> | `x`\"")
    text = text.replace("note: Same function.", "note: \"</td><script>x</script>\"")
    page = render(tmp_path, text)
    assert "<img" not in page.replace("\\<img", "") and "<script>" not in page.replace("\\<script\\>", "")
    html = html_of(page)
    assert "<img" not in html and "<script>" not in html

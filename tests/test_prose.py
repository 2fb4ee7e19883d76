"""generator.prose: the safe Markdown subset of prose fields (kept), and everything else (escaped)."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from generator.prose import render_block, render_cell, render_inline


@pytest.mark.parametrize("text, shown", [
    ("Use `torch.cat` here.", "Use `torch.cat` here\\."),
    ("*one* and **two**", "*one* and **two**"),
    ("[docs](https://e.example/a_(b))", "[docs](<https://e.example/a_%28b%29>)"),
    ("$x^2$", "{math}`x^2`"),
    ("1. first\n2. second", "1. first\n2. second"),
    ("- a\n- b", "- a\n- b"),
    ("$$\n\\frac{a}{b}\n$$", "{math}`\\displaystyle \\frac{a}{b}`"),
    ("$$\na < b % a TeX comment\n\\land c\n$$", "{math}`\\displaystyle a < b \\land c`"),
    ("one\n\ntwo", "one\n\ntwo"),
    ("code ``a ` b``", "code ``a ` b``"),
])
def test_the_subset_is_kept(text: str, shown: str):
    assert render_block(text) == shown


@pytest.mark.parametrize("text, shown", [
    ("<script>alert(1)</script>", "\\<script\\>alert\\(1\\)\\<\\/script\\>"),
    ("[x](javascript:alert(1))", "\\[x\\]\\(javascript\\:alert\\(1\\)\\)"),
    ("{ref}`target`", "\\{ref\\}`target`"),
    ("# heading", "\\# heading"),
    ("> quote", "\\> quote"),
    ("![i](https://e.example/i.png)", "\\!\\[i\\]\\(https\\:\\/\\/e\\.example\\/i\\.png\\)"),
    ("$\\href{javascript:x}{y}$", "\\$\\\\href\\{javascript\\:x\\}\\{y\\}\\$"),
    ("```{raw} html\n<b>x</b>\n```", "\\`\\`\\`\\{raw\\} html\n\\<b\\>x\\<\\/b\\>\n\\`\\`\\`"),
    (":::{danger}\nx\n:::", "\\:\\:\\:\\{danger\\} x \\:\\:\\:"),
    ("| a | b |\n| - | - |", "\\| a \\| b \\| \\| \\- \\| \\- \\|"),
])
def test_everything_else_is_shown_as_text(text: str, shown: str):
    assert render_block(text) == shown


def test_inline_form_is_one_line():
    assert render_inline("- a `b`\n- c") == "- a `b` - c"
    assert "\n" not in render_inline("one\n\n1. two")


def test_lists_nest_and_keep_their_numbers():
    assert render_block("3. three\n4. four\n   - inner") == "3. three\n4. four\n\n   - inner"


def test_a_cell_keeps_code_and_a_pipe_inside_code_or_math_cannot_end_it():
    cell = render_cell("Use `a | b` or $x|y$, | not a column.\n\nNext paragraph.")
    table = MarkdownIt("commonmark").enable("table").render(f"| A | B |\n| --- | --- |\n| {cell} | end |\n")
    assert table.count("<td>") == 2 and "<td>end</td>" in table
    assert "<code>a | b</code>" in table and "{math}<code>x|y</code>" in table and ", | not a column." in table and "Next paragraph." in table

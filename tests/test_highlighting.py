"""generator.highlighting: no span for a token type that every style draws as plain text."""

from __future__ import annotations

from pygments import highlight
from pygments.lexers import PythonLexer
from pygments.style import Style
from pygments.styles import get_style_by_name
from pygments.token import Keyword, Name, Punctuation, Text, Whitespace

from generator.highlighting import drawn_as_text, quiet_formatter


class LoudNames(Style):
    styles = {Text: "#111111", Name: "bold #111111", Keyword: "#aa0000", Whitespace: "#999999"}


def test_a_type_is_plain_only_where_every_style_draws_it_as_text():
    native = get_style_by_name("native")
    assert drawn_as_text(Name, [native]) and drawn_as_text(Punctuation, [native])
    assert not drawn_as_text(Keyword, [native])
    assert not drawn_as_text(Name, [native, LoudNames])  # bold in one style is enough to keep the span
    assert drawn_as_text(Whitespace, [LoudNames])  # the colour of a space does not show


def test_the_formatter_leaves_out_only_plain_spans():
    site_styles = [get_style_by_name("a11y-light"), get_style_by_name("native")]  # Furo's light and dark
    html = highlight("import os\nx = os.sep\n", PythonLexer(), quiet_formatter(site_styles)())
    assert '<span class="kn">import</span>' in html and '<span class="o">=</span>' in html
    assert 'class="n"' not in html and 'class="p"' not in html and 'class="w"' not in html
    assert "x <span" in html
    loud = highlight("x = 1\n", PythonLexer(), quiet_formatter([LoudNames])())
    assert '<span class="n">x</span>' in loud

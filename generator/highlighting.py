"""Code highlighting without spans that change nothing on screen.

Pygments wraps every token in a ``<span class="...">``, also names, punctuation and whitespace,
which the site's code styles (light and dark) draw exactly as plain code text. Those spans are
about a sixth of a mapping page's HTML. The formatter below leaves them out: a token type gets a
span only where one of the two styles draws it differently from plain text, so the page looks the
same and weighs less.
"""

from __future__ import annotations

from pygments.formatters import HtmlFormatter
from pygments.style import Style
from pygments.token import STANDARD_TYPES, Text, Whitespace
from sphinx.application import Sphinx
from sphinx.highlighting import PygmentsBridge

def _drawn(style: type[Style], token_type) -> dict:
    return dict(style.style_for_token(token_type))


def drawn_as_text(token_type, styles: list[type[Style]]) -> bool:
    """Whether every style draws ``token_type`` as it draws plain text."""
    for style in styles:
        drawn, text = _drawn(style, token_type), _drawn(style, Text)
        if token_type in Whitespace:  # the colour of a space is never seen
            drawn.pop("color", None)
            text.pop("color", None)
        if drawn != text:
            return False
    return True


def quiet_formatter(styles: list[type[Style]]) -> type[HtmlFormatter]:
    """An ``HtmlFormatter`` that gives no span to token types drawn as plain text in all ``styles``."""
    plain = frozenset(token_type for token_type in STANDARD_TYPES
                      if token_type is not Text and drawn_as_text(token_type, styles))

    class QuietHtmlFormatter(HtmlFormatter):
        def _get_css_classes(self, ttype):
            return "" if ttype in plain else super()._get_css_classes(ttype)

    return QuietHtmlFormatter


def quiet_highlighting(app: Sphinx) -> None:
    """builder-inited: HTML code blocks use ``quiet_formatter`` for the light style and, where the
    theme has one (Furo's ``pygments_dark_style``), the dark style."""
    highlighter = getattr(app.builder, "highlighter", None)
    if highlighter is None or getattr(highlighter, "dest", None) != "html":
        return
    styles = [highlighter.formatter_args["style"]]
    dark = getattr(app.config, "pygments_dark_style", None)
    if dark:
        styles.append(PygmentsBridge("html", dark).formatter_args["style"])
    highlighter.formatter = quiet_formatter(styles)

"""The safe Markdown subset of prose fields: parse with markdown-it, keep what is allowed, escape the rest.

Allowed: paragraphs, bullet and numbered lists (nested), inline code, emphasis and strong emphasis,
links to http(s) addresses, inline math ``$...$`` and block math ``$$...$$``. Everything else a
YAML author writes -- raw HTML, headings, block quotes, tables, code fences, images, MyST roles
and directives, links with another scheme, math that uses TeX's HTML commands -- is shown as the
literal text it is (escaped), never interpreted.

The output is MyST Markdown built from the parse tree, and it is safe wherever a template puts it
(after a prefix such as "PyTorch: ", indented in a list, quoted with ``>``, joined onto one line in a
table cell), because no construct in it spans lines: a paragraph, a list item's text and a formula
are one line each, text outside the subset is escaped line by line, and the only input text that is not
escaped sits inside code spans -- code, and math as the ``{math}`` role (block math in a paragraph of
its own, in display style) -- which MyST shows literally whatever stands around them. So no part of
the input can start raw HTML, a directive or a role in the page. Sphinx writes math as escaped text
that MathJax typesets; math that uses the TeX commands through which MathJax can emit links,
attributes or styles, or load extensions, is shown as text.

Nesting: lists, emphasis and links inside one another count, and prose may nest them at most
``MAX_NESTING`` deep. ``validate`` (the schema's check of every prose field) refuses deeper prose,
so ``check`` reports it; ``render_*`` show it as escaped text. Neither this module nor Sphinx ever
recurses deeper than that.

``render_block`` gives block Markdown (paragraphs and lists separated by blank lines);
``render_inline`` gives one line (lists and paragraphs are joined), for list items;
``render_cell`` the same for a table cell, where no pipe inside a code span or math may end the cell.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

MAX_NESTING = 8  # lists, emphasis and links inside one another; a mapping needs three or four

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False}).use(dollarmath_plugin, double_inline=True)
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAK = re.compile(r"\r\n?|\n")  # markdown-it's, so token line numbers index these lines
# TeX commands through which MathJax can add links, classes, styles or attributes, or load extensions.
_UNSAFE_MATH = re.compile(r"\\(?:href|url|html|class|style|cssId|data|require|unicode|mmlToken|bbox|enclose)\b")
_TEX_COMMENT = re.compile(r"(?<!\\)%.*")
_URL_SAFE = ":/?#[]@!$&*+,;=%-._~"  # as render.safe_url: nothing that can end a link destination
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
# Every level the renderer nests opens with one of these in the source: a list marker (- + * 1. 1)),
# emphasis (* _), a link ([ or an autolink's <).
_NESTING_OPENER = re.compile(r"[-+*_\[<]|\d[.)]")


class _TooDeep(Exception):
    pass


def escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", text)


def validate(text: str) -> str:
    """``text`` if the subset can show it; ``ValueError`` for prose nested deeper than ``MAX_NESTING``."""
    if len(_NESTING_OPENER.findall(text)) <= MAX_NESTING:
        return text  # too few openers to nest that deep (most prose): no need to render it
    try:
        _render(text)
    except _TooDeep:
        raise ValueError(f"lists, emphasis and links are nested more than {MAX_NESTING} levels deep "
                         "(inside one another); write it flatter") from None
    return text


def render_block(text: str | None) -> str:
    """Safe MyST Markdown for prose: paragraphs and lists, blocks separated by blank lines."""
    if not text:
        return ""
    try:
        return _render(text)
    except _TooDeep:  # ``validate`` refuses it; shown as the text it is
        return _literal_lines(_LINE_BREAK.split(text))


def render_inline(text: str | None) -> str:
    """Safe MyST Markdown on one line (for a list item): inline markup kept,
    block structure flattened to spaces."""
    if not text:
        return ""
    return " ".join(render_block(text).split("\n")).strip()


def render_cell(text: str | None) -> str:
    """``render_inline`` for a table cell. Text pipes are escaped already; a pipe inside a code span
    or math is escaped too, because a table splits its row before reading the cells' inline markup
    (and shows ``\\|`` inside code as ``|``)."""
    return _UNESCAPED_PIPE.sub(r"\\|", render_inline(text))


def _render(text: str) -> str:
    tokens = _PARSER.parse(text)
    blocks, _ = _blocks(tokens, 0, len(tokens), _LINE_BREAK.split(text), 0)
    return "\n\n".join(block for block in blocks if block.strip())


def _blocks(tokens: list[Token], start: int, end: int, lines: list[str], depth: int) -> tuple[list[str], int]:
    blocks: list[str] = []
    index = start
    while index < end:
        token = tokens[index]
        if token.type == "paragraph_open":  # one line, whatever its tokens held (math, an image's text)
            blocks.append(_inline(tokens[index + 1].children or [], depth).replace("\n", " "))
            index += 3
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            closing = _closing(tokens, index)
            blocks.append(_list(tokens, index, closing, lines, depth + 1))
            index = closing + 1
        elif token.type == "math_block":
            blocks.append(_math(token.content, display=True) or escape("$$" + " ".join(token.content.split()) + "$$"))
            index += 1
        else:  # anything else is shown as the source text it came from
            closing = _closing(tokens, index) if token.nesting == 1 else index
            blocks.append(_literal(token, lines))
            index = closing + 1
    return blocks, index


def _closing(tokens: list[Token], index: int) -> int:
    depth = 0
    for position in range(index, len(tokens)):
        depth += tokens[position].nesting
        if depth == 0:
            return position
    return len(tokens) - 1


def _literal(token: Token, lines: list[str]) -> str:
    return _literal_lines(lines[token.map[0]:token.map[1]] if token.map else [token.content])


def _literal_lines(lines: list[str]) -> str:
    return "\n".join(escape(" ".join(line.split())) for line in lines if line.strip())


def _list(tokens: list[Token], start: int, end: int, lines: list[str], depth: int) -> str:
    if depth > MAX_NESTING:
        raise _TooDeep
    ordered = tokens[start].type == "ordered_list_open"
    number = int(tokens[start].attrGet("start") or 1) if ordered else 0
    items: list[str] = []
    index = start + 1
    while index < end:
        if tokens[index].type != "list_item_open":
            index += 1
            continue
        closing = _closing(tokens, index)
        parts, _ = _blocks(tokens, index + 1, closing, lines, depth)
        marker = f"{number}. " if ordered else "- "
        indent = " " * len(marker)
        body = "\n\n".join(part for part in parts if part.strip()) or escape("")
        shifted = "\n".join(indent + line if line.strip() else "" for line in body.split("\n"))
        items.append(marker + shifted[len(indent):])
        number += 1
        index = closing + 1
    return "\n".join(items)


def _math(content: str, display: bool) -> str | None:
    """Math as the ``{math}`` role on one line, or None where it must be shown as text: TeX that
    MathJax could turn into markup, or that would end the role (a backtick) or the math (``$``)."""
    tex = " ".join(_TEX_COMMENT.sub("", content).split())  # on one line, a comment would end the math
    if not tex or "`" in tex or "$" in tex or _UNSAFE_MATH.search(tex):
        return None
    return "{math}`" + ("\\displaystyle " if display else "") + tex + "`"


def _inline(children: list[Token], depth: int) -> str:
    out: list[str] = []
    index = 0
    while index < len(children):
        token = children[index]
        kind = token.type
        if kind == "text":
            out.append(escape(token.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append(" ")
        elif kind == "code_inline":
            out.append(_code_span(token.content))
        elif kind in ("em_open", "strong_open"):
            closing = _closing(children, index)
            mark = "*" if kind == "em_open" else "**"
            inner = _nested(children[index + 1:closing], depth)
            out.append(f"{mark}{inner}{mark}" if inner.strip() else escape(token.markup * 2))
            index = closing
        elif kind == "link_open":
            closing = _closing(children, index)
            out.append(_link(token, _nested(children[index + 1:closing], depth)))
            index = closing
        elif kind in ("math_inline", "math_inline_double"):
            shown = _math(token.content, display=kind == "math_inline_double")
            delimiter = "$$" if kind == "math_inline_double" else "$"
            out.append(shown or escape(f"{delimiter}{token.content}{delimiter}"))
        elif kind == "image":
            out.append(escape(f"![{token.content}]({token.attrGet('src') or ''})"))
        else:  # html_inline (with html off it is text already), anything a plugin adds
            out.append(escape(token.content or token.markup))
        index += 1
    return "".join(out)


def _nested(children: list[Token], depth: int) -> str:
    if depth + 1 > MAX_NESTING:
        raise _TooDeep
    return _inline(children, depth + 1)


def _code_span(content: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    ticks = "`" * (longest + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") or not content.strip() else content
    return f"{ticks}{padded}{ticks}"


def _link(token: Token, inner: str) -> str:
    href = token.attrGet("href") or ""
    parts = urlsplit(href)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return f"[{inner or escape(href)}](<{quote(href, safe=_URL_SAFE)}>)"
    return f"{escape('[')}{inner}{escape('](' + href + ')')}"

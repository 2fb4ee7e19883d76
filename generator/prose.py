"""The safe Markdown subset of prose fields: parse with markdown-it, keep what is allowed, escape the rest.

Allowed: paragraphs, bullet and numbered lists (nested), inline code, emphasis and strong emphasis,
links to http(s) addresses, inline math ``$...$`` and block math ``$$...$$``. Everything else a
YAML author writes -- raw HTML, headings, block quotes, tables, code fences, images, MyST roles
and directives, links with another scheme, math that uses TeX's HTML commands -- is shown as the
literal text it is (escaped), never interpreted. The output is MyST Markdown built from the parse
tree, so no text of the input reaches the page unescaped except the content of code spans (which
Markdown shows literally) and of math (which Sphinx escapes and MathJax typesets).

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

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False}).use(dollarmath_plugin, double_inline=True)
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# TeX commands through which MathJax can add links, classes, styles or load extensions.
_UNSAFE_MATH = re.compile(r"\\(?:href|url|html|class|style|cssId|data|require|unicode|mmlToken|bbox)\b")
_URL_SAFE = ":/?#[]@!$&*+,;=%-._~"  # as render.safe_url: nothing that can end a link destination
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", text)


def render_block(text: str | None) -> str:
    """Safe MyST Markdown for prose: paragraphs and lists, blocks separated by blank lines."""
    if not text:
        return ""
    lines = text.splitlines()
    tokens = _PARSER.parse(text)
    blocks, _ = _blocks(tokens, 0, len(tokens), lines)
    return "\n\n".join(block for block in blocks if block.strip())


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


def _blocks(tokens: list[Token], start: int, end: int, lines: list[str]) -> tuple[list[str], int]:
    blocks: list[str] = []
    index = start
    while index < end:
        token = tokens[index]
        if token.type == "paragraph_open":
            blocks.append(_inline(tokens[index + 1].children or []))
            index += 3
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            closing = _closing(tokens, index)
            blocks.append(_list(tokens, index, closing, lines))
            index = closing + 1
        elif token.type == "math_block":
            blocks.append(_math_block(token.content))
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
    if token.map:
        source = lines[token.map[0]:token.map[1]]
    else:
        source = [token.content]
    return "\n".join(escape(" ".join(line.split())) for line in source if line.strip()) or ""


def _list(tokens: list[Token], start: int, end: int, lines: list[str]) -> str:
    ordered = tokens[start].type == "ordered_list_open"
    number = int(tokens[start].attrGet("start") or 1) if ordered else 0
    items: list[str] = []
    index = start + 1
    while index < end:
        if tokens[index].type != "list_item_open":
            index += 1
            continue
        closing = _closing(tokens, index)
        parts, _ = _blocks(tokens, index + 1, closing, lines)
        marker = f"{number}. " if ordered else "- "
        indent = " " * len(marker)
        body = "\n\n".join(part for part in parts if part.strip()) or escape("")
        shifted = "\n".join(indent + line if line.strip() else "" for line in body.split("\n"))
        items.append(marker + shifted[len(indent):])
        number += 1
        index = closing + 1
    return "\n".join(items)


def _math_block(content: str) -> str:
    content = content.strip()
    if _UNSAFE_MATH.search(content) or "$$" in content:
        return escape("$$" + " ".join(content.split()) + "$$")
    return f"$$\n{content}\n$$"


def _inline(children: list[Token]) -> str:
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
            inner = _inline(children[index + 1:closing])
            out.append(f"{mark}{inner}{mark}" if inner.strip() else escape(token.markup * 2))
            index = closing
        elif kind == "link_open":
            closing = _closing(children, index)
            out.append(_link(token, _inline(children[index + 1:closing])))
            index = closing
        elif kind == "math_inline" or kind == "math_inline_double":
            out.append(_math_inline(token.content))
        elif kind == "image":
            out.append(escape(f"![{token.content}]({token.attrGet('src') or ''})"))
        else:  # html_inline (with html off it is text already), anything a plugin adds
            out.append(escape(token.content or token.markup))
        index += 1
    return "".join(out)


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


def _math_inline(content: str) -> str:
    if _UNSAFE_MATH.search(content) or "$" in content or not content.strip():
        return escape(f"${content}$")
    return f"${content}$"

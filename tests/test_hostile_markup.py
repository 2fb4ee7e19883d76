"""Hostile markup through prose and file names, and prose nested deep (issue 26, items 1, 2 and 7).

A contributor's YAML must never put a working script, an event handler or a ``javascript:`` URL
into the site: not through math or raw blocks in any prose field (in either language), nor through
the mapping's file name, which the "Edit this page" link carries. Prose nested without end must be
a ``check`` error at its field, and no build may meet a RecursionError. Sphinx builds here skip the
examples; ``check`` runs in a child under a memory limit and a timeout.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from generator.loader import load_mappings
from generator.prose import MAX_NESTING, render_block, render_cell, render_inline, validate
from generator.site import edit_link

from .conftest import L1LOSS_PAIR, ROOT, write_mapping
from .hostile import bounded
from .site_build import build_sites, sphinx_arguments

# --- item 1: math and raw blocks in every prose field, both languages -------------------------

# Each payload tries another way out of the safe subset: math whose text is HTML (as a block, after
# text, inside a list item, inline), math that holds a raw directive or a role, math that pairs with
# the delimiters of another field, raw blocks and roles as such, and TeX commands that emit HTML.
PAYLOADS = [
    "$$\n<script>alert(1)</script>\n$$",
    "Before the math\n$$\n<script>alert(2)</script>\n$$\nafter it.",
    "$$\n```{raw} html\n<script>alert(3)</script>\n```\n$$",
    "$$\n:::{raw} html\n<iframe src=javascript:alert(4)></iframe>\n:::\n$$",
    "- item\n\n  $$\n  <img src=x onerror=alert(5)>\n  $$",
    "Inline $<object data=javascript:alert(6)></object>$ and $$<embed src=javascript:alert(7)>$$ math.",
    "$x$ {raw}`<script>alert(8)</script>` $$",
    "```{raw} html\n<script>alert(9)</script>\n```\n\n{eval-rst}`x` $\\href{javascript:alert(10)}{x}$",
    "$$ a\n\n<a href=\"javascript:alert(11)\" onclick=alert(12)>x</a>",
    "$\\class{x}{y}$ [v](vbscript:alert(13)) [d](data:text/html,<script>alert(14)</script>) "
    "$$\\style{background:url(javascript:alert(15))}{x}$$",
]
PLAIN_PAYLOAD = "<script>alert(16)</script> $$\n<iframe src=javascript:alert(17)>\n$$"


def payload(index: int, chinese: bool = False):
    """Payload ``index`` (wrapping round), as ``{en, zh_CN}`` when ``chinese``: the Chinese page
    shows the Chinese text, the English page the English one."""
    english = PAYLOADS[index % len(PAYLOADS)]
    return {"en": english, "zh_CN": "中文 " + PAYLOADS[(index + 1) % len(PAYLOADS)]} if chinese else english


def hostile_prose_mapping() -> str:
    counter = iter(range(100))

    def next_payload(chinese: bool = False):
        return payload(next(counter), chinese)

    data = yaml.safe_load(L1LOSS_PAIR)
    data["source"]["summary"] = next_payload()
    data["target"]["summary"] = next_payload(chinese=True)
    data["differences"] = [{"category": "Parameters", "source": "a", "target": "b", "note": next_payload()},
                           {"category": "Inputs", "source": "c", "target": "d", "note": next_payload(chinese=True)}]
    data["alternatives"] = [{"target": {"api": "mindspore.ops.l1_loss", "kind": "function",
                                        "signature": "l1_loss(x)", "summary": next_payload()},
                             "note": next_payload(chinese=True)}]
    data["other_pairs"] = [{"source": {"api": "torch.nn.functional.l1_loss", "kind": "function",
                                       "signature": "l1_loss(x)", "summary": next_payload(chinese=True)},
                            "target": {"api": "mindspore.mint.nn.functional.l1_loss", "kind": "function",
                                       "signature": "l1_loss(x)"},
                            "note": next_payload()}]
    data["remarks"] = {"en": "\n\n".join(PAYLOADS), "zh_CN": "\n\n".join(reversed(PAYLOADS))}
    data["sections"] = [{"title": {"en": PLAIN_PAYLOAD, "zh_CN": PLAIN_PAYLOAD},
                         "text": next_payload(chinese=True), "items": [next_payload(), next_payload(chinese=True)]},
                        {"title": PLAIN_PAYLOAD, "text": next_payload()}]
    data["guide"] = {"overview": next_payload(chinese=True), "when_to_use": [next_payload()],
                     "trade_offs": [next_payload(chinese=True)], "algorithm": [next_payload()]}
    data["examples"] = [{"note": next_payload(chinese=True), "source": "print(1)\n", "target": "print(1)\n",
                         "expected_failures": [{"side": "target", "devices": ["gpu"], "error": "E",
                                                "reason": {"en": PLAIN_PAYLOAD, "zh_CN": PLAIN_PAYLOAD}}]},
                        {"note": next_payload(), "source": "print(2)\n", "target": "print(2)\n"}]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


SCRIPT_URL = re.compile(r"^\s*(javascript|vbscript|data)\s*:", re.IGNORECASE)


def injected(page: BeautifulSoup) -> list[str]:
    """Everything on ``page`` that runs script: script elements that are not the site's own
    (the payloads all call ``alert``), frames and plugins, event handler attributes, script URLs."""
    found = [f"<script>{script.get_text()}" for script in page.find_all("script")
             if "alert" in script.get_text() or "alert" in script.get("src", "")]
    found += [f"<{tag.name}>" for tag in page.find_all(["iframe", "object", "embed", "frame", "applet"])]
    for tag in page.find_all(True):
        for name, value in tag.attrs.items():
            values = value if isinstance(value, list) else [value]
            if name.lower().startswith("on"):
                found.append(f"<{tag.name} {name}=...>")
            if any(SCRIPT_URL.match(str(item)) for item in values):
                found.append(f"<{tag.name} {name}={values}>")
    return found


def test_math_and_raw_blocks_in_every_prose_field_stay_text_on_both_languages_pages(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", hostile_prose_mapping())
    assert load_mappings([mappings]).problems == []  # it passes check: the pages must be safe
    status, html = build_sites(tmp_path, "mapping_execute=0", f"mapping_paths={mappings}")
    assert status == 0
    for language in ("en", "zh_CN"):
        page = BeautifulSoup((html / language / "docs" / "api" / "torch.nn" / "L1Loss.html").read_text(), "html.parser")
        assert injected(page) == [], language
        article = page.select_one("article")
        math = [element.get_text() for element in article.select(".math")]
        # The payloads' math is typeset as the TeX it is (its HTML is text to MathJax), not lost
        assert any("<script>alert(1)</script>" in tex for tex in math), (language, math)
        assert not [tex for tex in math if re.search(r"\\(href|class|style)\b", tex)]
        text = " ".join(article.get_text().split())
        assert "{raw} html <script>alert(9)</script>" in text  # a raw block is shown as text
        assert "<script>alert(16)</script>" in text  # titles and reasons are plain text
        assert "中文" in text if language == "zh_CN" else "中文" not in text


# How MyST reads a page (raw HTML on), and the places a template puts prose: as it is, after a
# prefix ("PyTorch: "), quoted line by line (an example's note), indented under a list marker.
MYST_LIKE = MarkdownIt("commonmark", {"html": True}).use(dollarmath_plugin)
CONTEXTS = {
    "alone": lambda rendered: rendered,
    "after a prefix": lambda rendered: "PyTorch: " + rendered,
    "quoted": lambda rendered: "\n".join(f"> {line}" for line in rendered.split("\n")),
    "in a list item": lambda rendered: "- " + rendered.replace("\n", "\n  "),
}


def markup_tokens(markdown: str) -> list[str]:
    """Tokens that would put the input's own markup on the page: raw HTML, fences (directives),
    dollar math (math the renderer did not write as a role)."""
    pending, found = MYST_LIKE.parse(markdown), []
    while pending:
        token = pending.pop()
        pending.extend(token.children or [])
        if token.type.startswith(("html", "fence", "math")):
            found.append(f"{token.type}: {token.content!r}")
    return found


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("text", PAYLOADS + [PLAIN_PAYLOAD])
def test_rendered_prose_cannot_become_markup_wherever_a_template_puts_it(text: str, context: str):
    for rendered in (render_block(text), render_inline(text), render_cell(text)):
        assert markup_tokens(CONTEXTS[context](rendered)) == [], rendered


def test_a_unicode_line_separator_neither_shifts_nor_loses_text_shown_literally():
    """Text outside the subset is shown by its source lines, which are counted as markdown-it counts
    them (U+2028 is no line break to it)."""
    shown = render_block("- a\u2028b\n- c\n\n> quote one\n> quote two\n\n```\ncode\n```")
    assert shown.replace("\\", "").split("\n") == ["- a\u2028b", "- c", "", "> quote one", "> quote two", "",
                                                     "```", "code", "```"]


# --- item 2: a mapping's file name in the "Edit this page" link -------------------------------

HOSTILE_NAME = "x\" onmouseover=alert(1) '<>"  # before the fix, the link gained the handler


def sphinx_build(workdir: Path, mappings: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``sphinx-build`` of the site with ``mappings`` (examples not run) in a child, bounded."""
    return subprocess.run([sys.executable, "-m", "sphinx", *sphinx_arguments(workdir, "mapping_execute=0", mappings=mappings)],
                          cwd=cwd, capture_output=True, text=True, timeout=300, preexec_fn=bounded(4 << 30))



def test_edit_link_percent_encodes_what_could_end_the_attribute():
    link = edit_link("https://e.example/repo", "main", f"mappings/{HOSTILE_NAME}/L1Loss.yaml")
    assert link == "https://e.example/repo/edit/main/mappings/x%22%20onmouseover%3Dalert%281%29%20%27%3C%3E/L1Loss.yaml"


def test_hostile_folder_name_in_the_built_edit_link_adds_no_attribute(tmp_path: Path):
    """The link carries the YAML's path relative to the working folder: a mapping in a folder with
    a hostile name (the loader refuses such file names, not the folders above them)."""
    mappings = tmp_path / "mappings"
    write_mapping(mappings / HOSTILE_NAME, "L1Loss.yaml", L1LOSS_PAIR)
    completed = sphinx_build(tmp_path, mappings, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    page = BeautifulSoup((tmp_path / "html" / "docs" / "api" / "torch.nn" / "L1Loss.html").read_text(), "html.parser")
    assert injected(page) == []
    (edit,) = page.select("a[rel=edit]")
    assert set(edit.attrs) == {"class", "href", "rel", "title"}
    assert edit["href"].endswith("/edit/main/mappings/x%22%20onmouseover%3Dalert%281%29%20%27%3C%3E/L1Loss.yaml")


@pytest.mark.parametrize("name", [f"{HOSTILE_NAME}.yaml", 'L1"Loss.yaml', "L1 Loss.yaml", "L1<b>.yaml", "L1Loss&x.yaml"])
def test_mapping_file_name_outside_the_safe_set_is_a_located_error(tmp_path: Path, name: str):
    path = write_mapping(tmp_path, f"torch.nn/{name}", L1LOSS_PAIR)
    assert [str(problem) for problem in load_mappings([tmp_path]).problems] == [
        f"{path}:1:1: a mapping's file name may hold only letters, digits, '_', '.' and '-' (as the API name does)"]


# --- item 7: prose nested deep ------------------------------------------------------------------

def nested_list(levels: int) -> str:
    return "".join("  " * level + "- a\n" for level in range(levels))


TOO_DEEP = {
    "emphasis": "*" * 2000 + "x" + "*" * 2000,
    "underscores": "_" * 2000 + "x" + "_" * 2000,
    "strong and emphasis": "***" * 600 + "x" + "***" * 600,
    "nested lists": nested_list(200),
    "lists on one line": "- " * 300 + "x",
    "one list too many on one line": "- " * (MAX_NESTING + 1) + "x",
    "numbered lists": "1. " * 300 + "x",
    "emphasis between words": "*a " * 500 + "x" + " a*" * 500,
    "strong around emphasis": "**a _b " * 300 + "x" + " b_ a**" * 300,
    "emphasis around links": "*[a " * 300 + "x" + "](https://e.example) a*" * 300,
    "one level too many": nested_list(MAX_NESTING - 2) + "  " * (MAX_NESTING - 2) + "- **[b](https://e.example)**\n",
}
# Deep to the eye, yet nothing the renderer nests: shown as text (quotes, brackets, links that
# cannot nest), or just within the limit.
DEEP_BUT_FLAT = {
    "block quotes": ">" * 2000 + " x",
    "brackets": "[" * 5000 + "x" + "]" * 5000,
    "parentheses": "(" * 5000 + "x" + ")" * 5000,
    "links in links": "[a " * 1000 + "x" + "](https://e.example) b" * 1000,
    "emphasis beside links": "[*" * 500 + "x" + "*](https://e.example)" * 500,
    "images in images": "![a " * 300 + "x" + "](https://e.example)" * 300,
    "math braces": "$" + "{" * 3000 + "x" + "}" * 3000 + "$",
    "at the limit": nested_list(MAX_NESTING - 2) + "  " * (MAX_NESTING - 2) + "- *b*\n",  # lists and emphasis
}
DEPTH_MESSAGE = f"lists, emphasis and links are nested more than {MAX_NESTING} levels deep"


def mapping_with_remarks(remarks: str, api: str = "torch.nn.L1Loss") -> str:
    return L1LOSS_PAIR.replace("torch.nn.L1Loss", api) + yaml.safe_dump({"remarks": remarks}, width=1 << 20)


def test_check_reports_prose_nested_too_deep_at_its_field_and_accepts_deep_looking_flat_prose(tmp_path: Path):
    paths = {}
    for number, (name, text) in enumerate({**TOO_DEEP, **DEEP_BUT_FLAT}.items()):
        paths[name] = write_mapping(tmp_path, f"torch.nn/Deep{number}.yaml", mapping_with_remarks(text, f"torch.nn.Deep{number}"))
    completed = subprocess.run([sys.executable, "-m", "generator", "check", *map(str, paths.values())], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, preexec_fn=bounded())
    assert "Traceback" not in completed.stderr and "RecursionError" not in completed.stderr, completed.stderr[-2000:]
    problems = completed.stderr.splitlines()[:-1]
    assert problems == [f"{paths[name]}:12:1: remarks.en: {DEPTH_MESSAGE} (inside one another); write it flatter"
                        for name in TOO_DEEP], completed.stderr[-2000:]
    assert completed.returncode == 1


@pytest.mark.parametrize("name", TOO_DEEP)
def test_too_deep_prose_is_refused_by_validation_and_rendered_as_text_without_recursion(name: str):
    text = TOO_DEEP[name]
    with pytest.raises(ValueError, match=DEPTH_MESSAGE):
        validate(text)
    assert "\n" not in render_inline(text) and render_block(text).replace("\\", "").split() == text.split()


@pytest.mark.parametrize("name", DEEP_BUT_FLAT)
def test_deep_looking_flat_prose_renders(name: str):
    assert validate(DEEP_BUT_FLAT[name]) == DEEP_BUT_FLAT[name]
    assert render_block(DEEP_BUT_FLAT[name])


def test_a_build_with_prose_nested_too_deep_fails_with_the_field_not_a_recursion_error(tmp_path: Path):
    mappings = tmp_path / "mappings"
    path = write_mapping(mappings, "torch.nn/L1Loss.yaml", mapping_with_remarks(TOO_DEEP["emphasis"]))
    completed = sphinx_build(tmp_path, mappings)
    assert completed.returncode != 0
    assert f"{path}:12:1: remarks.en: {DEPTH_MESSAGE}" in completed.stderr, completed.stderr[-2000:]
    assert "RecursionError" not in completed.stderr + completed.stdout and "Traceback" not in completed.stderr


def test_deep_looking_flat_prose_builds(tmp_path: Path):
    mappings = tmp_path / "mappings"
    texts = list(DEEP_BUT_FLAT.values())
    data = {**yaml.safe_load(L1LOSS_PAIR), "remarks": "\n\n".join(texts[:3]),
            "sections": [{"title": "Deep", "text": text, "items": [text]} for text in texts[3:]]}
    write_mapping(mappings, "torch.nn/L1Loss.yaml", yaml.safe_dump(data, width=1 << 20))
    completed = sphinx_build(tmp_path, mappings)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "html" / "docs" / "api" / "torch.nn" / "L1Loss.html").is_file()

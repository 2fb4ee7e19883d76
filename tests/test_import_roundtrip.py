"""Import -> render keeps what a page says: every table row, paragraph, list item, link and code line.

Each fixture page (one per variation the importer must handle, English and Chinese, plus the
seeds) is imported, the mapping is rendered to its MyST page, and both are read back with the
same Markdown parser. What the generator rebuilds by design is left out of the comparison:
headings, the table's header and row labels ("Parameter 3"), the '# PyTorch' / '# MindSpore'
markers and the outputs typed as comments (outputs come from running), badges (an image that
links to the page's own source), the "PyTorch:" / "MindSpore：" prefixes of the summaries and
the words around the documentation links ("For more information, see", "更多内容详见").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from generator.importer import _category_of, import_pages
from generator.loader import load_file, placeholder_problems
from generator.portability import portability_problems
from generator.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
VARIATIONS = PAGES / "variations"
SEEDS = ROOT.parent / "shared" / "seeds"
PARSER = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True)
SUMMARY_PREFIX = re.compile(r"^\s*(?:\*\*)?(pytorch|torch|mindspore|tensorflow)(?:\*\*)?\s*[:：]\s*", re.IGNORECASE)
MORE_INFO = re.compile(r"^(?:for more information, see|更多内容详见)\s*(.*?)[.。]?$", re.IGNORECASE)

FIXTURES = sorted(path for path in VARIATIONS.glob("*.md") if path.name != "tensorflow_en.md") + sorted(PAGES.glob("*.md")) + sorted(
    path for path in (SEEDS.glob("*.txt") if SEEDS.is_dir() else []) if not path.name.startswith("002"))


def _plain(children) -> str:
    parts = []
    for token in children or []:
        if token.type in ("text", "code_inline", "math_inline", "math_inline_double"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif token.type == "image":
            parts.append("")
    return " ".join("".join(parts).split())


def content_of(markdown: str) -> dict[str, list]:
    """Paragraphs (list items included), table rows (their cells), links and code lines."""
    tokens = PARSER.parse(markdown)
    found: dict[str, list] = {"paragraphs": [], "rows": [], "links": [], "code": [], "math": []}
    in_heading = in_table = in_header = False
    row: list[str] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "table_open":
            in_table = True
        elif token.type == "table_close":
            in_table = False
        elif token.type == "thead_open":
            in_header = True
        elif token.type == "thead_close":
            in_header = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and not in_header:
            found["rows"].append(row)
        elif token.type == "inline":
            children = token.children or []
            for position, child in enumerate(children):
                badge = position + 1 < len(children) and children[position + 1].type == "image"
                if child.type == "link_open" and not badge:
                    found["links"].append(child.attrGet("href"))
            text = _plain(token.children)
            if in_table:
                row.append(text)
            elif not in_heading and "<img" not in token.content:
                found["paragraphs"].append(MORE_INFO.sub(r"\1", SUMMARY_PREFIX.sub("", text)))
        elif token.type == "fence":
            example = token.info.strip() in ("", "python", "py")
            for line in token.content.splitlines():
                if line.strip() and not (example and line.strip().startswith("#")):
                    found["code"].append(line.rstrip())
        elif token.type == "math_block":
            found["math"].append(" ".join(token.content.split()))
    return found


MATH_ROLE = re.compile(r"\{math\}`(\\displaystyle )?([^`]*)`")


def dollar_math(markdown: str) -> str:
    """A rendered page's math (the ``{math}`` role; display style where it was a block) as the dollar
    math of the pages it was imported from."""
    return MATH_ROLE.sub(lambda match: f"\n\n$$\n{match[2]}\n$$\n\n" if match[1] else f"${match[2]}$", markdown)


def rendered_text(markdown: str) -> tuple[str, set[str], set[str], str]:
    """(all visible text, link targets, code lines, math) of a rendered page."""
    content = content_of(dollar_math(markdown))
    text = " ".join(content["paragraphs"] + [cell for row in content["rows"] for cell in row])
    return " ".join(text.split()), set(content["links"]), set(content["code"]), " ".join(content["math"])


def import_and_render(page: Path, out: Path) -> tuple[list, str]:
    result = import_pages([page], out)
    assert result.written, [str(warning) for warning in result.warnings]
    rendered = []
    for path in dict.fromkeys(result.written):
        loaded, problems = load_file(path)
        assert problems == [] and not placeholder_problems(loaded) and not portability_problems(loaded)
        rendered.append(Renderer().page(loaded))
    return result.warnings, "\n\n".join(rendered)


@pytest.mark.parametrize("page", FIXTURES, ids=lambda path: path.name)
def test_round_trip_keeps_every_row_paragraph_list_link_and_code_line(page: Path, tmp_path: Path):
    _, markdown = import_and_render(page, tmp_path)
    original = content_of(page.read_text(encoding="utf-8"))
    text, links, code, math = rendered_text(markdown)
    missing_paragraphs = [paragraph for paragraph in original["paragraphs"] if paragraph and paragraph not in text]
    assert missing_paragraphs == []
    for cells in original["rows"]:
        kept = [cell for cell in cells if cell and cell not in ("-", "/") and _category_of(cell) == (None, None)]
        assert [cell for cell in kept if cell not in text] == [], cells
    assert [href for href in original["links"] if href not in links] == []
    assert [line for line in original["code"] if line not in code] == []
    assert [block for block in original["math"] if block not in math] == []


def test_the_roundtrip_comparison_can_fail(tmp_path: Path):
    """The comparison itself notices a lost paragraph, row, link and code line."""
    page = VARIATIONS / "lists_math_en.md"
    _, markdown = import_and_render(page, tmp_path)
    text, links, code, _ = rendered_text(markdown.replace("defaults are the integers", "")
                                         .replace("mindspore.ops.softplus.html", "x.html")
                                         .replace("print(mindspore.ops.softplus", "print(ops.softplus"))
    original = content_of(page.read_text(encoding="utf-8"))
    assert any(paragraph not in text for paragraph in original["paragraphs"])
    assert any(href not in links for href in original["links"])
    assert any(line not in code for line in original["code"])


def test_two_pages_for_one_source_api_merge_into_one_file(tmp_path: Path):
    result = import_pages([VARIATIONS / "second_target_mint_en.md", VARIATIONS / "second_target_ops_en.md"], tmp_path)
    assert result.written == [tmp_path / "torch" / "flatten.yaml"] * 2
    mapping = load_file(result.written[0])[0].mapping
    assert mapping.target.api == "mindspore.mint.flatten"
    assert [alternative.target.api for alternative in mapping.alternatives] == ["mindspore.ops.flatten"]
    assert mapping.target_recommended and len(mapping.examples) == 2
    assert "Default 0 in PyTorch, 1 in MindSpore" in mapping.alternatives[0].note
    assert any("merged into it" in warning.message for warning in result.warnings)


def test_mint_target_is_recommended_when_one_page_names_two(tmp_path: Path):
    page = tmp_path / "two.md"
    text = (VARIATIONS / "second_target_ops_en.md").read_text(encoding="utf-8")
    mint = (VARIATIONS / "second_target_mint_en.md").read_text(encoding="utf-8")
    block = mint[mint.index("## mindspore.mint.flatten"):mint.index("## Differences")]
    page.write_text(text.replace("## Differences", block + "## Differences", 1), encoding="utf-8")
    result = import_pages([page], tmp_path / "out")
    mapping = load_file(result.written[0])[0].mapping
    assert mapping.target.api == "mindspore.mint.flatten"
    assert [alternative.target.api for alternative in mapping.alternatives] == ["mindspore.ops.flatten"]


def test_several_pairs_on_one_page(tmp_path: Path):
    result = import_pages([VARIATIONS / "two_pairs_en.md"], tmp_path)
    mapping = load_file(result.written[0])[0].mapping
    assert mapping.api_pairs() == [("torch.all", "mindspore.ops.all", False),
                                   ("torch.Tensor.all", "mindspore.Tensor.all", False)]
    assert mapping.other_pairs[0].source.kind.value == "method"


def test_title_and_heading_disagree_the_heading_wins(tmp_path: Path):
    result = import_pages([VARIATIONS / "title_mismatch_unmarked_zh.md"], tmp_path)
    mapping = load_file(result.written[0])[0].mapping
    assert mapping.source.api == "torch.nn.functional.hardtanh"
    assert any("the title names torch.nn.functional.relu6" in warning.message for warning in result.warnings)
    # blocks without markers: attributed by their imports, or kept as code that is shown, not run
    (example,) = mapping.examples
    assert example.source.startswith("import torch") and example.target.startswith("import mindspore")
    assert mapping.sections[-1].code == ["x = [-2.0, 0.5, 2.0]\ny = [max(-1.0, min(1.0, v)) for v in x]\n"]


def test_chinese_characters_are_not_glued_onto_api_names(tmp_path: Path):
    result = import_pages([VARIATIONS / "title_mismatch_unmarked_zh.md", VARIATIONS / "free_prose_zh.md"], tmp_path)
    assert not [warning for warning in result.warnings if re.search(r"[a-z_]+[\u4e00-\u9fff]", warning.message)]
    apis = {load_file(path)[0].mapping.source.api for path in result.written}
    assert apis == {"torch.nn.functional.hardtanh", "torch.cumsum"}


def test_shared_imports_go_to_both_sides_and_free_prose_is_kept(tmp_path: Path):
    result = import_pages([VARIATIONS / "free_prose_zh.md"], tmp_path)
    mapping = load_file(result.written[0])[0].mapping
    (example,) = mapping.examples
    assert example.source.startswith("import numpy as np\nimport torch")
    assert example.target.startswith("import numpy as np\nimport mindspore")
    assert mapping.remarks.startswith("两个接口都沿给定维度计算累加和") and "- MindSpore不支持`out`参数。" in mapping.remarks
    assert mapping.source.summary is None  # the page has none: nothing is invented


def test_table_under_a_subsection_with_other_header_words(tmp_path: Path):
    result = import_pages([VARIATIONS / "subsection_table_zh.md"], tmp_path)
    mapping = load_file(result.written[0])[0].mapping
    assert [(row.source, row.target) for row in mapping.differences] == [
        ("input", "input_x"), ("dim", "axis"), ("descending", "descending"), ("stable", None)]
    assert mapping.status.value == "parameters-differ"


def test_torchvision_page_is_imported_on_the_pytorch_side(tmp_path: Path):
    result = import_pages([VARIATIONS / "torchvision_en.md"], tmp_path)
    assert result.written == [tmp_path / "torchvision.ops" / "box_iou.yaml"]
    assert load_file(result.written[0])[0].mapping.source.api == "torchvision.ops.box_iou"


def test_a_page_for_an_unconfigured_framework_pair_gets_one_clear_error(tmp_path: Path):
    result = import_pages([VARIATIONS / "tensorflow_en.md"], tmp_path)
    assert result.written == []
    (warning,) = result.warnings
    assert "TensorFlow -> MindSpore pair is not configured" in warning.message and warning.line == 1


def test_inline_markdown_reaches_the_page_as_markup(tmp_path: Path):
    _, markdown = import_and_render(VARIATIONS / "inline_markdown_en.md", tmp_path)
    assert "`input`" in markdown and "{math}`[\\min, \\max]`" in markdown and "*note*" in markdown
    assert "[NaN handling](<https://docs.pytorch.org/docs/stable/notes/numerical_accuracy.html>)" in markdown
    assert "**out**" in markdown

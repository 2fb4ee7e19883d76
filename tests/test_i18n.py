"""Two languages from one YAML: translatable text, the pages' words from message catalogs, the
English and Chinese sites side by side, and the importer's Chinese pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup

from generator.i18n import BABEL_CONFIG, LANGUAGES, TEMPLATE, LocalText, catalog_path, untranslated, using
from generator.importer import import_pages, page_language
from generator.loader import load_file
from generator.render import Renderer
from generator.verify import translation_notes

from .conftest import L1LOSS_PAIR, ROOT, write_mapping

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
SEEDS = ROOT.parent / "shared" / "seeds"

PARTLY_TRANSLATED = L1LOSS_PAIR.replace("  summary: Mean absolute error.\n", """\
  summary:
    en: Mean absolute error.
    zh_CN: 平均绝对误差。
""") + """\
differences:
  - {category: Parameters, source: reduction, target: reduction, note: {en: Same values., zh_CN: 取值相同。}}
  - {category: Inputs, source: input, target: logits, note: Same function.}
sections:
  - title: {en: Reduction, zh_CN: 归约}
    text: Only the names differ.
examples:
  - note: {zh_CN: 两边计算同一个值。}
    source: |
      print(1)
    target: |
      print(1)
"""


def _loaded(tmp_path: Path, text: str):
    loaded, problems = load_file(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    assert problems == [], [str(problem) for problem in problems]
    return loaded


# -- the YAML ---------------------------------------------------------------------------------

def test_a_plain_string_is_english_and_a_mapping_gives_each_language(tmp_path):
    mapping = _loaded(tmp_path, PARTLY_TRANSLATED).mapping
    summary = mapping.source.summary
    assert isinstance(summary, LocalText) and summary == "Mean absolute error."  # every other stage reads English
    assert summary.pick("zh_CN") == ("平均绝对误差。", None)
    assert mapping.target.summary.pick("zh_CN") == ("The same loss.", "en")  # falls back, says so
    assert mapping.examples[0].note == "两边计算同一个值。"  # Chinese only: its text stands in for English
    assert mapping.examples[0].note.pick("en") == ("两边计算同一个值。", "zh_CN")
    assert mapping.model_dump(mode="json")["differences"][0]["note"] == {"en": "Same values.", "zh_CN": "取值相同。"}
    assert untranslated(mapping, "zh_CN") == ["target.summary", "differences[1].note", "sections[0].text"]
    assert untranslated(mapping, "en") == ["examples[0].note"]


def test_problems_in_translated_text_point_at_their_line(tmp_path):
    text = L1LOSS_PAIR.replace("  summary: Mean absolute error.\n", """\
  summary:
    en: Mean absolute error.
    fr: Erreur absolue moyenne.
""") + """\
differences:
  - {category: Inputs, source: input, note: {zh_CN: ""}}
  - {category: Inputs, source: target, note: 3}
"""
    _, problems = load_file(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    shown = [str(problem).rsplit("/", 1)[-1] for problem in problems]
    assert shown == [
        "L1Loss.yaml:7:5: source.summary.fr: unknown key (a typo?)",
        "L1Loss.yaml:15:46: differences[0].note.zh_CN: String should have at least 1 character",
        "L1Loss.yaml:16:40: differences[1].note: must be text, or a mapping of languages (en, zh_CN) to text",
    ]


def test_the_json_schema_accepts_both_shapes_and_names_the_languages(tmp_path):
    import jsonschema
    import yaml

    from generator.schema import json_schema

    data = yaml.safe_load(PARTLY_TRANSLATED)
    jsonschema.validate(data, json_schema())
    data["source"]["summary"] = {"de": "x"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
    assert "translatable text (text, or `en`, `zh_CN` -> text)" in Renderer().field_reference()


# -- rendering ---------------------------------------------------------------------------------

def test_the_chinese_page_shows_chinese_text_and_marks_english_fallbacks(tmp_path):
    page = Renderer(language="zh_CN").page(_loaded(tmp_path, PARTLY_TRANSLATED))
    assert "# 与 torch\\.nn\\.L1Loss 的差异" in page
    assert "PyTorch：平均绝对误差。\n" in page  # translated: no marker
    assert "MindSpore：The same loss\\. {untranslated}`en`" in page
    assert "| 参数 | 参数 1 | `reduction` | `reduction` | 取值相同。 |" in page
    assert "| 输入 | 输入 1 | `input` | `logits` | Same function\\. {untranslated}`en` |" in page
    assert "### 归约\n" in page and "Only the names differ\\. {untranslated}`en`" in page
    assert "### 代码示例\n" in page and "> 两边计算同一个值。\n" in page
    assert "| 分类 | 子类 | PyTorch | MindSpore | 差异 |" in page


def test_the_english_page_is_as_before_and_marks_chinese_only_text(tmp_path):
    page = Renderer().page(_loaded(tmp_path, PARTLY_TRANSLATED))
    assert "# Differences with torch\\.nn\\.L1Loss" in page and "PyTorch: Mean absolute error\\.\n" in page
    assert "| Inputs | Input 1 | `input` | `logits` | Same function\\. |" in page
    assert "> 两边计算同一个值。 {untranslated}`zh_CN`" in page
    assert page.count("{untranslated}") == 1


def test_a_list_that_ends_a_text_gets_the_marker_on_a_line_of_its_own(tmp_path):
    text = PARTLY_TRANSLATED.replace("    text: Only the names differ.\n", "    text: |\n      Two cases:\n\n      - one\n      - two\n")
    page = Renderer(language="zh_CN").page(_loaded(tmp_path, text))
    assert "- one\n- two\n\n{untranslated}`en`\n" in page


def test_translation_status_lists_untranslated_fields_per_mapping(tmp_path):
    loaded = _loaded(tmp_path, PARTLY_TRANSLATED)
    page = Renderer(language="zh_CN").translation_status([loaded])
    assert "# 翻译状态" in page and "1 个映射中有 1 个含未翻译字段（共 3 个字段）" in page
    assert "[torch\\.nn\\.L1Loss](<torch.nn/L1Loss.md>)" in page
    assert "target\\.summary\\, differences\\[1\\]\\.note\\, sections\\[0\\]\\.text" in page
    english = Renderer().translation_status([loaded])
    assert "# Translation status" in english and "examples\\[0\\]\\.note" in english


def test_verify_reports_the_untranslated_count_as_a_warning(tmp_path):
    (note,) = translation_notes([_loaded(tmp_path, PARTLY_TRANSLATED)])
    assert note.startswith("warning: 3 translatable fields in 1 of 1 mappings have no zh_CN text")


def test_status_names_and_failure_messages_follow_the_language():
    from generator.render import failure_description
    from generator.schema import Status

    class Failed:
        status, error_type, error_message, error_line = "error", "RuntimeError", "The kernel X unregistered.", 1

    with using("zh_CN"):
        assert Status.names_differ.title == "一致，名称不同"
        assert Status.consistent.criterion.startswith("功能相同")
    assert Status.names_differ.title == "Consistent, names differ"
    Renderer(language="zh_CN").status_table()  # a renderer changes the language only while it renders
    assert Status.consistent.title == "Consistent"
    with using("zh_CN"):
        described = failure_description(Failed(), "cpu", "MindSpore", "2.10.0")
    assert described.startswith("该示例无法在 CPU 上运行：MindSpore 2.10.0 没有对应的 CPU 算子。")


# -- the message catalogs -----------------------------------------------------------------------

def _extracted() -> set[str]:
    with BABEL_CONFIG.open(encoding="utf-8") as stream:
        method_map, options_map = parse_mapping_cfg(stream)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\([a-z_]+\)s|\{[a-z_]+\}", text))


def test_the_catalog_template_is_current_with_the_sources():
    """`make messages` was run after the last change to the pages' words."""
    with TEMPLATE.open("rb") as stream:
        template = {message.id for message in read_po(stream) if message.id}
    extracted = _extracted()
    assert extracted - template == set(), "new words not in locale/messages.pot: run `make messages`"
    assert template - extracted == set(), "locale/messages.pot has words no source uses: run `make messages`"


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_each_catalog_is_complete(language):
    with TEMPLATE.open("rb") as stream:
        template = {message.id for message in read_po(stream) if message.id}
    with catalog_path(language).open("rb") as stream:
        catalog = read_po(stream, locale=language)
    messages = {message.id: message for message in catalog if message.id}
    assert set(messages) == template, "run `make messages` to bring the catalog up to date"
    fuzzy = sorted(message_id for message_id, message in messages.items() if message.fuzzy)
    empty = sorted(message_id for message_id, message in messages.items() if not message.string)
    assert fuzzy == [] and empty == [], f"{language}: fuzzy {fuzzy}, untranslated {empty}"
    wrong = [message_id for message_id, message in messages.items()
             if _placeholders(message_id) != _placeholders(message.string)]
    assert wrong == [], f"{language}: placeholders differ in {wrong}"


# -- the importer ------------------------------------------------------------------------------

def test_a_chinese_page_is_recognized():
    assert page_language((PAGES / "cosine_embedding_loss_zh.md").read_text(encoding="utf-8").splitlines()) == "zh_CN"
    assert page_language((PAGES / "SmoothL1Loss.md").read_text(encoding="utf-8").splitlines()) == "en"


def test_a_chinese_page_merges_into_the_mapping_of_its_pair(tmp_path):
    seeds = sorted(SEEDS.glob("000_*.txt")) if SEEDS.is_dir() else []
    if not seeds:
        pytest.skip(f"seed 000 not found in {SEEDS}")
    (english,) = import_pages([seeds[0]], tmp_path).written
    before = load_file(english)[0].mapping
    result = import_pages([PAGES / "cosine_embedding_loss_zh.md"], tmp_path)
    assert result.written == [english]
    assert any("merged into" in warning.message and "zh_CN text of 8 fields" in warning.message
               for warning in result.warnings), [str(warning) for warning in result.warnings]
    after = load_file(english)[0].mapping
    assert after.source.summary.texts == {"en": before.source.summary,
                                          "zh_CN": "余弦相似度损失函数，用于衡量两个张量之间的相似性。"}
    assert after.target.summary.pick("zh_CN")[0] == "实现与PyTorch相同的功能。"
    notes = {row.source: row.note for row in after.differences if row.note}
    assert notes["size_average"].texts == {"en": "Deprecated, function taken over by reduction",
                                           "zh_CN": "已弃用，功能由reduction接替"}
    assert notes["x1"].pick("zh_CN")[0] == "功能一致，参数名不同"
    assert after.examples[0].note.pick("zh_CN")[0] == "两API实现相同的功能，用法相同。"
    # the page adds text only: code, rows, examples and pairs are the file's own
    assert [example.source for example in after.examples] == [example.source for example in before.examples]
    assert len(after.differences) == len(before.differences) and after.api_pairs() == before.api_pairs()
    assert untranslated(after, "zh_CN") == []
    again = import_pages([PAGES / "cosine_embedding_loss_zh.md"], tmp_path)  # idempotent
    assert load_file(english)[0].mapping == after and again.written == [english]


def test_a_chinese_page_alone_creates_a_mapping_in_chinese(tmp_path):
    (written,) = import_pages([PAGES / "cosine_embedding_loss_zh.md"], tmp_path).written
    mapping = load_file(written)[0].mapping
    assert mapping.source.summary.texts == {"zh_CN": "余弦相似度损失函数，用于衡量两个张量之间的相似性。"}
    assert "zh_CN:" in written.read_text(encoding="utf-8")
    assert untranslated(mapping, "zh_CN") == [] and len(untranslated(mapping, "en")) == 8
    page = Renderer().page(load_file(written)[0])
    assert "PyTorch: 余弦相似度损失函数，用于衡量两个张量之间的相似性。 {untranslated}`zh_CN`" in page


# -- the built sites (one session build of both languages, shared with test_site and the browser) --

def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _texts(page: BeautifulSoup, selector: str) -> list[str]:
    return [" ".join(node.get_text(" ", strip=True).replace("¶", "").split()) for node in page.select(selector)]


@pytest.mark.frameworks
def test_the_chinese_crossentropy_page(sites: Path):
    english = soup(sites / "en" / "docs/api/torch.nn/CrossEntropyLoss.html")
    chinese = soup(sites / "zh_CN" / "docs/api/torch.nn/CrossEntropyLoss.html")
    assert chinese.html["lang"] == "zh-CN" and english.html["lang"] == "en"
    headings = _texts(chinese, "article h1, article h2, article h3")
    assert headings[0] == "与 torch.nn.CrossEntropyLoss 的差异"
    assert {"差异对比", "代码示例 1", "代码示例 2", "行为对比", "适用场景", "利弊权衡", "算法"} <= set(headings)
    text = " ".join(chinese.select_one("article").get_text(" ", strip=True).split())
    assert "PyTorch：计算未归一化的分数（logits）与目标之间的交叉熵损失。" in text
    table = chinese.select("article table")[0]
    assert _texts(table, "th") == ["分类", "子类", "PyTorch", "MindSpore", "差异"]
    assert "MindSpore 只接受 float16 或 float32 类型的张量。" in _texts(table, "td")
    assert "参数 6" in _texts(table, "td") and "输入 2" in _texts(table, "td")
    assert chinese.select(".untranslated") == []
    assert "输出的来源" in text and "本页的输出由" in text
    # the same real outputs on both sites: every code block is identical
    assert _texts(chinese, "article .highlight pre") == _texts(english, "article .highlight pre")
    assert any("# 1.1" in block or "#" in block for block in _texts(chinese, "article .highlight pre"))


@pytest.mark.frameworks
def test_every_page_links_the_same_page_in_the_other_language(sites: Path):
    pages = [path for path in (sites / "en").rglob("*.html")  # not the redirect at the top of each site
             if "_static" not in path.parts and path != sites / "en" / "index.html"]
    assert len(pages) > 20
    for language, other in (("en", "zh_CN"), ("zh_CN", "en")):
        for english_page in pages:
            page = sites / language / english_page.relative_to(sites / "en")
            switcher = soup(page).select_one("nav.language-switcher")
            assert switcher is not None, page
            (link,) = switcher.select("a.language-link")
            assert link["hreflang"] == other.replace("_", "-")
            target = (page.parent / link["href"]).resolve()
            assert target == (sites / other / english_page.relative_to(sites / "en")).resolve(), (page, link["href"])
            assert target.is_file()
            assert switcher.select_one("[aria-current=page]").get_text() == {"en": "English", "zh_CN": "中文"}[language]


@pytest.mark.frameworks
def test_the_root_page_links_both_languages_and_each_site_has_its_own_words(sites: Path):
    links = {a["hreflang"]: a["href"] for a in soup(sites / "index.html").select("a[hreflang]")}
    assert links == {"en": "en/docs/index.html", "zh-CN": "zh_CN/docs/index.html"}
    assert all((sites / href).is_file() for href in links.values())
    overview = soup(sites / "zh_CN" / "docs/api/index.html")
    assert _texts(overview, "article h1") == ["API 映射总览"]
    assert _texts(overview, "table.mapping-table th")[:3] == ["PyTorch API", "MindSpore API", "状态"]
    assert "功能差异" in _texts(overview, ".status-badge")
    statuses = " ".join(_texts(soup(sites / "zh_CN" / "docs/status-categories.html"), "article"))
    assert "一致，名称不同" in statuses and "功能相同，参数和输入相同" in statuses
    search = soup(sites / "zh_CN" / "search.html")  # Sphinx's and Furo's own words are Chinese
    assert "搜索" in search.get_text()
    translation = " ".join(_texts(soup(sites / "zh_CN" / "docs/api/translation.html"), "article"))
    assert "翻译状态" in translation


@pytest.mark.frameworks
def test_the_second_language_runs_no_example_or_probe(sites: Path):
    from generator.sphinx_ext import GENERATIONS

    built = {entry["language"]: entry for entry in GENERATIONS if Path(entry["outdir"]).parent == sites}
    if set(built) != {"en", "zh_CN"}:
        pytest.skip("the shared site was built in another test process")
    chinese = built["zh_CN"]
    assert chinese["snippets"] == built["en"]["snippets"] > 0
    assert chinese["cached"] == chinese["snippets"], "the Chinese build ran examples again"
    assert chinese["probed"] == built["en"]["probed"] > 0
    assert chinese["probes_cached"] == chinese["probed"], "the Chinese build ran probes again"


@pytest.mark.frameworks
def test_the_chinese_search_index_holds_chinese_words(sites: Path):
    def terms(language: str) -> dict:
        text = (sites / language / "searchindex.js").read_text(encoding="utf-8")
        return json.loads(text[text.index("(") + 1:text.rindex(")")])["terms"]

    chinese = terms("zh_CN")
    assert {"交叉熵", "归一化", "张量"} <= set(chinese)  # jieba, with the project's word list
    page = json.loads((lambda t: t[t.index("(") + 1:t.rindex(")")])(
        (sites / "zh_CN" / "searchindex.js").read_text(encoding="utf-8")))["docnames"].index(
        "docs/api/torch.nn/CrossEntropyLoss")
    assert chinese["交叉熵"] == page or page in chinese["交叉熵"]
    assert "交叉熵" not in terms("en")

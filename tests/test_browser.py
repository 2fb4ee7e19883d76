"""The built site in a real browser: Debian's headless Chromium driven by Playwright.

The site (one build per session, shared with test_site.py) is served on 127.0.0.1 by a server
these tests start. Chromium is the system's (``.ci/run`` installs it); Playwright never downloads one.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

import pytest

from generator.loader import load_mappings

from .conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.frameworks,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(site: Path):
    """The English site at the server's root."""
    yield from _serve(site)


@pytest.fixture(scope="module")
def root_server(sites: Path):
    """Both languages as published: /index.html, /en/..., /zh_CN/..."""
    yield from _serve(sites)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=ARGS,
            headless=True, permissions=["clipboard-read", "clipboard-write"], viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    page.close()


def search_results(page, server: str, query: str) -> list[str]:
    page.goto(f"{server}/search.html?q={query}")
    page.wait_for_function("(document.querySelector('#search-results .search-summary') || {}).textContent "
                           "&& !document.querySelector('#search-results .search-summary').textContent.includes('Preparing')",
                           timeout=20000)
    return page.eval_on_selector_all("article a[href]:not(.headerlink)", "links => links.map(a => a.href)")


@pytest.mark.parametrize(("query", "expected"), [
    ("CrossEntropy", "docs/api/torch.nn/CrossEntropyLoss.html"),
    ("nn.Linear", "docs/api/torch.nn/Linear.html"),
    ("mindspore.nn.Dense", "docs/api/torch.nn/Linear.html"),
    ("soft_margin_loss", "docs/api/torch.nn.functional/soft_margin_loss.html"),
])
def test_search_puts_the_mapping_page_first(page, server: str, query: str, expected: str):
    links = search_results(page, server, query)
    assert links and links[0].split("#")[0].endswith(expected), links[:5]
    assert not any("coverage.html" in link for link in links), "the coverage page must not match API queries"
    assert page.errors == []


def visible_rows(page) -> int:
    return page.eval_on_selector_all("table.mapping-table tbody tr", "rows => rows.filter(r => !r.hidden && r.offsetParent).length")


def test_overview_filter_narrows_rows_without_a_page_load(page, server: str):
    page.goto(f"{server}/docs/api/index.html")
    pairs = [pair for loaded in load_mappings([ROOT / "mappings"]).mappings for pair in loaded.mapping.api_pairs()]
    assert visible_rows(page) == len(pairs)  # a row per pair
    page.evaluate("window.__samePage = true")
    page.fill("#mapping-filter-input", "CrossEntropyLoss")
    matching = sum("crossentropyloss" in f"{source} {target}".lower() for source, target, _ in pairs)
    assert 0 < matching < len(pairs)
    page.wait_for_function(f"document.querySelectorAll('table.mapping-table tbody tr:not([hidden])').length === {matching}")
    shown = page.eval_on_selector_all("table.mapping-table tbody tr:not([hidden])", "rows => rows.map(r => r.textContent)")
    assert all("CrossEntropyLoss" in text for text in shown)
    page.fill("#mapping-filter-input", "fails")
    page.wait_for_function("[...document.querySelectorAll('table.mapping-table tbody tr:not([hidden])')]"
                           ".every(row => row.textContent.includes('fails on'))")
    shown = page.eval_on_selector_all("table.mapping-table tbody tr:not([hidden])", "rows => rows.map(r => r.textContent)")
    assert shown and all("fails on CPU" in text for text in shown)
    assert page.evaluate("window.__samePage") is True
    assert page.errors == []


def test_a_tab_copies_one_frameworks_code_without_outputs(page, server: str):
    (loaded,) = [item for item in load_mappings([ROOT / "mappings"]).mappings
                 if item.mapping.page_path == "torch.nn/CosineEmbeddingLoss"]
    page.goto(f"{server}/docs/api/torch.nn/CosineEmbeddingLoss.html")
    first_tab_set = page.locator("article .sd-tab-set").first
    first_tab_set.locator("label", has_text="MindSpore").click()
    panel = first_tab_set.locator(".sd-tab-content").nth(1)
    panel.locator(".highlight").hover()
    panel.locator("button.copybtn").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == loaded.mapping.examples[0].target.strip()
    assert "import torch" not in copied and not re.search(r"^#", copied, flags=re.M)
    assert page.errors == []


def test_no_console_errors_on_the_main_pages(page, server: str):
    for path in ("docs/index.html", "docs/api/index.html", "docs/api/modules/torch.nn.html",
                 "docs/api/torch.nn.functional/soft_margin_loss.html", "docs/api/coverage.html",
                 "docs/status-categories.html", "search.html?q=Linear"):
        page.goto(f"{server}/{path}")
        page.wait_for_load_state("networkidle")
    assert page.errors == []


def test_phone_width_stacks_the_differences_table(page, server: str):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/docs/api/torch.nn/CosineEmbeddingLoss.html")
    overflow = page.evaluate("""() => {
        const table = [...document.querySelectorAll('article table')].find(t => t.textContent.includes('Subcategories'));
        const box = table.getBoundingClientRect();
        const cells = [...table.querySelectorAll('td')].map(td => td.getBoundingClientRect().right);
        return {right: Math.max(box.right, ...cells), width: document.documentElement.clientWidth,
                scroll: table.scrollWidth - table.clientWidth};
    }""")
    assert overflow["right"] <= overflow["width"] and overflow["scroll"] <= 0, overflow
    page.goto(f"{server}/docs/api/index.html")
    first_link = page.locator("table.mapping-table tbody tr a").first.bounding_box()
    assert first_link["x"] + first_link["width"] <= 390  # the page link is on screen


def test_overview_tables_fit_their_column_at_1400px(page, server: str):
    page.goto(f"{server}/docs/api/index.html")
    widths = page.eval_on_selector_all(
        "table.mapping-table", "tables => tables.map(t => [t.getBoundingClientRect().right, "
        "t.closest('article').getBoundingClientRect().right])")
    assert widths and all(right <= column + 1 for right, column in widths), widths


@pytest.mark.parametrize("page_path", ["torch.nn/BatchNorm2d", "torch.nn/EmbeddingBag", "torch.nn.functional/interpolate"])
def test_differences_table_fits_its_column_at_1400px(page, server: str, page_path: str):
    page.goto(f"{server}/docs/api/{page_path}.html")  # long names in code, in name and note cells
    scroll = page.eval_on_selector("#differences .table-wrapper", "w => w.scrollWidth - w.clientWidth")
    assert scroll <= 1, scroll


CONTRAST = """(elements) => elements.map(element => {
    const rgb = value => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = ([r, g, b]) => {
        const linear = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const style = getComputedStyle(element);
    const [a, b] = [luminance(rgb(style.color)), luminance(rgb(style.backgroundColor))].sort((x, y) => y - x);
    return [element.className, style.backgroundColor, (a + 0.05) / (b + 0.05)];
})"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_badges_have_distinct_colours_and_enough_contrast(page, server: str, theme: str):
    seen: dict[str, set[str]] = {}
    for path in ("docs/api/index.html", "docs/status-categories.html"):
        page.goto(f"{server}/{path}")
        page.evaluate(f"document.body.dataset.theme = '{theme}'")
        for classes, background, ratio in page.eval_on_selector_all(".status-badge", CONTRAST):
            assert ratio >= 4.5, (path, classes, background, ratio)
            kind = [name for name in classes.split() if name.startswith("status-") and name != "status-badge"][0]
            seen.setdefault(kind, set()).add(background)
    assert {f"status-{value}" for value in ("consistent", "names-differ", "parameters-differ",
                                            "functional-difference", "no-counterpart")} <= set(seen)
    assert all(len(colours) == 1 for colours in seen.values()), seen  # the same badge everywhere
    assert len({next(iter(colours)) for colours in seen.values()}) == len(seen)  # one colour per status


def test_chinese_search_finds_a_page_by_a_chinese_word(page, root_server: str):
    """Sphinx's Chinese search splits the pages' text with jieba (and the project's word list), so
    a reader finds the cross-entropy page by its Chinese name."""
    for query in ("交叉熵", "归一化 交叉熵"):
        links = search_results(page, f"{root_server}/zh_CN", query)
        assert links and links[0].split("#")[0].endswith("zh_CN/docs/api/torch.nn/CrossEntropyLoss.html"), links[:5]
    assert "搜索完成" in page.inner_text("#search-results .search-summary")
    links = search_results(page, f"{root_server}/zh_CN", "CrossEntropy")  # API names work in Chinese too
    assert links[0].split("#")[0].endswith("zh_CN/docs/api/torch.nn/CrossEntropyLoss.html"), links[:5]
    assert page.errors == []


def test_the_language_switcher_leads_to_the_same_page_and_back(page, root_server: str):
    page.goto(f"{root_server}/index.html")
    page.click("a[hreflang=zh-CN]")
    assert page.url.endswith("/zh_CN/docs/index.html")
    page.goto(f"{root_server}/zh_CN/docs/api/torch.nn/CrossEntropyLoss.html")
    assert page.inner_text("article h1").startswith("与 torch.nn.CrossEntropyLoss 的差异")
    switcher = page.locator("nav.language-switcher a.language-link")
    assert switcher.is_visible() and switcher.inner_text() == "English"
    switcher.click()
    page.wait_for_load_state()
    assert page.url.endswith("/en/docs/api/torch.nn/CrossEntropyLoss.html")
    assert page.inner_text("article h1").startswith("Differences with torch.nn.CrossEntropyLoss")
    page.click("nav.language-switcher a.language-link")
    assert page.url.endswith("/zh_CN/docs/api/torch.nn/CrossEntropyLoss.html")
    assert page.errors == []

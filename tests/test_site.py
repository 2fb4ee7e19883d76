"""The real site: Sphinx builds every mapping page and the overview, and they agree."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urldefrag

import pytest
from bs4 import BeautifulSoup

from generator.coverage import DEFAULT_MODULES, coverage
from generator.loader import load_mappings

from .conftest import ROOT, SEEDS

pytestmark = pytest.mark.frameworks

SEED_PAGES = {
    "000": "torch.nn/CosineEmbeddingLoss",
    "001": "torch.nn.functional/soft_margin_loss",
    "003": "torch.nn/CrossEntropyLoss",
}


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def repository_mappings():
    return load_mappings([ROOT / "mappings"]).mappings


def internal_links(page: Path) -> list[Path]:
    links = []
    for anchor in soup(page).select("article a[href]"):
        href = urldefrag(anchor["href"]).url
        if href and not re.match(r"^[a-z]+:", href):
            links.append((page.parent / href).resolve())
    return links


def test_every_mapping_has_a_page_reachable_from_the_overview(site: Path):
    overview = site / "docs" / "api" / "index.html"
    linked = set(internal_links(overview))
    for loaded in repository_mappings():
        page = (site / "docs" / "api" / f"{loaded.mapping.page_path}.html").resolve()
        assert page.is_file(), page
        assert page in linked, f"{page} is not linked from the overview"


def test_every_internal_link_resolves(site: Path):
    for page in site.rglob("*.html"):
        if page.parent.name.startswith("_"):
            continue
        for target in internal_links(page):
            assert target.exists(), f"{page} links to missing {target}"


def test_overview_has_a_table_per_source_module(site: Path):
    overview = soup(site / "docs" / "api" / "index.html")
    headings = [h.get_text(strip=True).rstrip("¶#") for h in overview.select("article h2")]
    modules = sorted({loaded.mapping.source_module for loaded in repository_mappings()})
    assert headings == modules
    assert len(overview.select("article section section table")) == len(modules)  # one per module section


def test_site_has_home_status_and_contributing_pages(site: Path):
    for name in ("index", "status-categories", "contributing"):
        assert (site / "docs" / f"{name}.html").is_file()
    statuses = soup(site / "docs" / "status-categories.html").get_text()
    for title in ("Consistent", "Parameters differ", "Functional difference", "No counterpart"):
        assert title in statuses
    assert "examples[].expected_failures[].devices" in soup(site / "docs" / "contributing.html").get_text()
    assert 'url=docs/index.html' in (site / "index.html").read_text()


def seed_table(text: str) -> list[tuple[str, str]]:
    """(PyTorch name, MindSpore name) of each row of a seed page's differences table."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.match(r"(Parameter|Input|Output) \d+", cells[1]):
            rows.append((cells[2], cells[3]))
    return rows


def real_parameter_names(api: str) -> set[str]:
    """Parameter names of the installed API: constructor and call for a class, else the function's."""
    module_name, attribute = api.rsplit(".", 1)
    target = getattr(importlib.import_module(module_name), attribute)
    callables = [target]
    if inspect.isclass(target):
        callables.append(getattr(target, "forward", None) or getattr(target, "construct", None))
    return {name for item in callables if item for name in inspect.signature(item).parameters}


def seed_signatures(text: str) -> list[str]:
    return re.findall(r"```text\n(.*?)```", text, flags=re.S)


def seed_links(text: str) -> list[str]:
    return re.findall(r"For more information, see \[([\w.]+)\]", text)


@pytest.mark.parametrize("seed", sorted(SEED_PAGES))
def test_seed_page_carries_the_seed_table_signatures_and_links(site: Path, seed: str):
    matches = sorted(SEEDS.glob(f"{seed}_*.txt")) if SEEDS.is_dir() else []
    if not matches:
        pytest.skip(f"seed {seed} not found in {SEEDS}")
    text = matches[0].read_text(encoding="utf-8")
    page = soup(site / "docs" / "api" / f"{SEED_PAGES[seed]}.html")
    table_rows = [[cell.get_text(strip=True) for cell in row.select("td")] for row in page.select("article table tr")]
    torch_names = {row[2] for row in table_rows if len(row) == 5}
    mindspore_names = {row[3] for row in table_rows if len(row) == 5}
    source_api, target_api = seed_links(text)
    for torch_name, mindspore_name in seed_table(text):
        for name, shown, api in ((torch_name, torch_names, source_api), (mindspore_name, mindspore_names, target_api)):
            # A seed row may be outdated; then the installed framework must no longer have that name.
            assert name == "-" or name in shown or name not in real_parameter_names(api), (name, api)
    blocks = [" ".join(pre.get_text().split()) for pre in page.select("article div.highlight-text pre")]
    for signature in seed_signatures(text):
        name = re.search(r"(torch|mindspore)[\w.]+", signature).group(0)
        assert any(block.startswith(("class " + name, name)) for block in blocks), name
    link_texts = {a.get_text(strip=True): a["href"] for a in page.select("article a.reference.external")}
    for api in seed_links(text):
        assert api in link_texts and link_texts[api].startswith("https://"), api


def test_coverage_page_shows_each_module_and_its_missing_names(site: Path):
    page = soup(site / "docs" / "api" / "coverage.html")
    rows = {cells[0]: cells for cells in ([td.get_text(strip=True) for td in tr.select("td")] for tr in page.select("article table tr")) if cells}
    assert set(rows) == set(DEFAULT_MODULES)
    counted = {module.module: module for module in coverage(repository_mappings())}
    for name, module in counted.items():
        assert rows[name][1:3] == [str(len(module.public)), str(len(module.mapped))], name
    missing_text = page.get_text()
    for module in counted.values():
        for api in module.missing[:3]:  # the first names it lists as missing
            assert api.rsplit(".", 1)[-1] in missing_text, api


def run_alone(code: str) -> subprocess.CompletedProcess:
    """Run a snippet in a fresh interpreter, independent of the generator's executor."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tempfile.gettempdir())


def example_block(page: BeautifulSoup, number: int) -> str:
    """Example ``number``'s code, both frameworks' tabs in page order."""
    tabs = page.select("article div.sd-tab-set")[number - 1]
    return "\n".join(pre.get_text() for pre in tabs.select("div.highlight-python pre"))


@pytest.mark.parametrize("page_path", ["torch.nn/CosineEmbeddingLoss", "torch.nn/CrossEntropyLoss"])
def test_seed_pages_show_what_the_frameworks_print_after_the_print(site: Path, page_path: str):
    (loaded,) = [item for item in repository_mappings() if item.mapping.page_path == page_path]
    block = example_block(soup(site / "docs" / "api" / f"{page_path}.html"), 1)
    for code in (loaded.mapping.examples[0].source, loaded.mapping.examples[0].target):
        completed = run_alone(code)
        assert completed.returncode == 0, completed.stderr
        last_line = code.rstrip().splitlines()[-1]
        assert last_line.startswith("print(")
        printed = "\n".join(f"# {line}".rstrip() for line in completed.stdout.rstrip("\n").splitlines())
        assert f"{last_line}\n{printed}\n" in block + "\n"


def test_soft_margin_loss_page_shows_the_missing_cpu_kernel(site: Path):
    page = soup(site / "docs" / "api" / "torch.nn.functional" / "soft_margin_loss.html")
    (loaded,) = [item for item in repository_mappings() if item.mapping.page_path == "torch.nn.functional/soft_margin_loss"]
    completed = run_alone(loaded.mapping.examples[0].target)
    assert "The kernel SoftMarginLoss unregistered" in completed.stderr  # the fact the page must show
    block = example_block(page, 1)
    # where a plain run meets the asynchronous error: at the print, not at the call
    assert "output = loss(logits, labels)\nprint(output)\n# RuntimeError: The kernel SoftMarginLoss unregistered." in block
    tabs = page.select("article div.sd-tab-set")[0]
    mindspore_tab = tabs.select("div.sd-tab-content")[1]
    warning = mindspore_tab.select_one("div.admonition.warning")  # next to the failing statement
    assert warning is not None and mindspore_tab.select_one("div.highlight-python")
    note = " ".join(warning.get_text().split())
    assert ("This example does not run on CPU: MindSpore 2.10.0 has no CPU kernel for it. "
            "RuntimeError: The kernel SoftMarginLoss unregistered.") in note
    header = page.select_one("article h1").find_next("p")
    assert header.select_one(".status-badge.status-fails").get_text() == "fails on CPU"
    lead = " ".join(page.select_one("article blockquote").get_text().split())
    assert lead.startswith("MindSpore failed on CPU here, so this page cannot show what the two sides compute.")
    overview = soup(site / "docs" / "api" / "index.html")
    (row,) = [tr for tr in overview.select("table.mapping-table tr")
              if tr.select_one("td code") and tr.select_one("td code").get_text() == "torch.nn.functional.soft_margin_loss"]
    assert row.select_one(".status-fails") is not None


def test_pages_state_versions_device_and_date_of_their_outputs(site: Path):
    import datetime

    text = " ".join(soup(site / "docs" / "api" / "torch.nn" / "CosineEmbeddingLoss.html").get_text().split())
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert "The outputs on this page were printed by MindSpore 2.10.0 and PyTorch 2.13.0" in text
    assert "on CPU (" in text and f"on {today}." in text


def test_a_dtype_error_is_described_as_an_error_on_every_device():
    from types import SimpleNamespace

    from generator.render import failure_description

    kernel = SimpleNamespace(status="error", error_type="RuntimeError", error_message="The kernel Foo unregistered.")
    dtype = SimpleNamespace(status="error", error_type="TypeError", error_message="For 'Add', the dtype int64 is not supported.")
    assert "has no CPU kernel for it" in failure_description(kernel, "cpu", "MindSpore", "2.10.0")
    described = failure_description(dtype, "cpu", "MindSpore", "2.10.0")
    assert "expected on every device" in described and "does not run on CPU" not in described
    declared = failure_description(dtype, "cpu", "MindSpore", "2.10.0", ["cpu"])  # the mapping says: CPU only
    assert declared.startswith("This example does not run on CPU")


def test_sidebar_lists_modules_and_only_the_current_modules_pages(site: Path):
    page = soup(site / "docs" / "api" / "torch.nn" / "Linear.html")
    sidebar = page.select_one(".sidebar-tree")
    labels = [a.get_text() for a in sidebar.select("a")]
    modules = sorted({loaded.mapping.source_module for loaded in repository_mappings()})
    assert all(module in labels for module in modules)
    from generator.site import NAV_WINDOW

    nn_pages = {loaded.mapping.name for loaded in repository_mappings() if loaded.mapping.source_module == "torch.nn"}
    shown = [label for label in labels if label in nn_pages]  # torch.nn's pages, by short name
    assert "Linear" in shown and len(shown) == min(len(nn_pages), NAV_WINDOW)
    assert ("more …" in labels) == (len(nn_pages) > NAV_WINDOW)
    assert "soft_margin_loss" not in labels  # another module's page: not on this page
    current = sidebar.select("li.current > a")
    assert [a.get_text() for a in current] == ["API mapping overview", "torch.nn", "Linear"]


def test_a_long_module_shows_a_window_of_its_pages():
    from generator.site import NAV_WINDOW, _window

    children = [f"page{number}" for number in range(100)]
    shown, before, after = _window(children, "page50")
    assert len(shown) == NAV_WINDOW and "page50" in shown and before + len(shown) + after == 100
    assert _window(children[:10], "page3") == (children[:10], 0, 0)


def test_each_module_has_an_index_page_with_its_table(site: Path):
    for module in {loaded.mapping.source_module for loaded in repository_mappings()}:
        page = soup(site / "docs" / "api" / "modules" / f"{module}.html")
        names = {code.get_text() for code in page.select("table.mapping-table td:first-child code")}
        expected = {source for loaded in repository_mappings() for source, _, _ in loaded.mapping.api_pairs()
                    if source.rsplit(".", 1)[0] == module}  # every pair of a page reaches it
        assert names == expected


def test_overview_states_versions_and_links_api_names(site: Path):
    overview = soup(site / "docs" / "api" / "index.html")
    text = " ".join(overview.get_text().split())
    assert "Compared: PyTorch 2.13.0 and MindSpore 2.10.0" in text
    for row in overview.select("table.mapping-table tbody tr"):
        link = row.select_one("td:first-child a")
        assert link is not None and link.get_text().startswith("torch")
        assert len(row.select(".status-badge:not(.status-fails)")) == 1


def test_no_smart_quotes_and_names_in_code_font(site: Path):
    page = soup(site / "docs" / "api" / "torch.nn" / "Conv2d.html")
    text = page.select_one("article").get_text()
    assert "pad_mode='pad'" in text and "\u2019" not in text
    cells = [td for tr in page.select("article table tr") for td in tr.select("td")[2:4]]
    assert any(td.select_one("code") and td.get_text(strip=True) == "in_channels" for td in cells)


def test_difference_notes_show_their_code_spans_in_code_font(site: Path):
    page = soup(site / "docs" / "api" / "torch.nn" / "BatchNorm2d.html")
    notes = [tr.select("td")[4] for tr in page.select("article table tbody tr") if len(tr.select("td")) == 5]
    codes = {code.get_text() for note in notes for code in note.select("code")}
    assert "1 - momentum" in codes
    assert not any("`" in note.get_text() for note in notes)


def test_code_is_highlighted_without_spans_that_draw_plain_text(site: Path):
    page = soup(site / "docs" / "api" / "torch.nn" / "Linear.html")
    classes = {cls for span in page.select("article div.highlight pre span") for cls in span.get("class", [])}
    assert {"kn", "nn", "o"} <= classes  # keywords, module names and operators keep their colours
    assert not classes & {"n", "p", "w"}  # names, punctuation, spaces: drawn as plain text by both styles


def test_long_code_in_a_table_may_wrap_only_between_its_parts():
    from generator.site import wrap_points

    assert wrap_points("track_running_stats=False") == ["track_", "running_", "stats=", "False"]
    assert wrap_points("running_mean") == ["running_mean"]  # short enough for any column
    assert "".join(wrap_points("x = torch.nn.utils.rnn.pack_padded_sequence(x)")) == \
        "x = torch.nn.utils.rnn.pack_padded_sequence(x)"


def test_edit_link_points_to_the_yaml_and_no_source_is_offered(site: Path):
    page = soup(site / "docs" / "api" / "torch.nn" / "Linear.html")
    edit = page.select_one(".edit-this-page a")
    assert edit["href"].endswith("/edit/main/mappings/torch.nn/Linear.yaml")
    assert page.select_one(".view-this-page") is None
    assert not any(path.is_file() for path in (site / "_sources").rglob("*"))  # no generated MyST copied
    assert soup(site / "docs" / "api" / "index.html").select_one(".edit-this-page") is None


def test_coverage_counts_the_modules_own_public_api(site: Path):
    from generator.coverage import public_api

    api = public_api(("torch.nn.functional",))
    assert "Tensor" not in api["torch.nn.functional"]  # a re-export of torch.Tensor
    assert "conv2d" in api["torch.nn.functional"]  # compiled, exposed here
    assert "has_torch_function" not in api["torch.nn.functional"]  # compiled in torch._C: a re-export
    page = soup(site / "docs" / "api" / "coverage.html")
    assert page.select(".unmapped-names li code")  # unmapped names as a list


def test_doc_urls_follow_each_projects_versioned_pattern(monkeypatch):
    from generator import frameworks

    assert frameworks._mindspore_release("2.10.0") == "r2.10.0"  # published as r2.10.0 since 2.3
    assert frameworks._mindspore_release("2.2.14") == "r2.2"
    assert frameworks.FRAMEWORKS["mindspore"].doc_url("mindspore.nn.Dense", "class").endswith(
        f"/docs/en/{frameworks._mindspore_release(frameworks.FRAMEWORKS['mindspore'].version)}"
        "/api_python/nn/mindspore.nn.Dense.html")
    dense = frameworks.FRAMEWORKS["mindspore"].doc_url("mindspore.nn.Dense", "class", "zh_CN")
    assert "/docs/zh-CN/" in dense  # MindSpore publishes its docs in Chinese too
    assert frameworks.FRAMEWORKS["torch"].doc_url("torch.nn.Linear", "class", "zh_CN").startswith(
        "https://docs.pytorch.org/docs/")  # PyTorch in English only
    monkeypatch.setitem(frameworks.DOC_URL_PATTERNS, "torch", "https://example.org/{release}/{api}")
    assert frameworks.FRAMEWORKS["torch"].doc_url("torch.nn.Linear", "class").startswith("https://example.org/")

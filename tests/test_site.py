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

from generator.loader import load_mappings

from .conftest import ROOT, SEEDS
from .site_build import build_site

pytestmark = pytest.mark.frameworks

SEED_PAGES = {
    "000": "torch.nn/CosineEmbeddingLoss",
    "001": "torch.nn.functional/soft_margin_loss",
    "003": "torch.nn/CrossEntropyLoss",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    status, _, html = build_site(tmp_path_factory.mktemp("site"))
    assert status == 0, "sphinx-build failed"
    return html


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
    assert set(rows) == {"torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim"}
    mapped_nn = {loaded.mapping.name for loaded in repository_mappings() if loaded.mapping.source_module == "torch.nn"}
    assert rows["torch.nn"][2] == str(len(mapped_nn))
    missing_text = page.get_text()
    assert "AdaptiveAvgPool1d" in missing_text


def run_alone(code: str) -> subprocess.CompletedProcess:
    """Run a snippet in a fresh interpreter, independent of the generator's executor."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tempfile.gettempdir())


def example_block(page: BeautifulSoup, number: int) -> str:
    return page.select("article div.highlight-python pre")[number - 1].get_text()


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
    note = " ".join(page.select_one("article div.admonition").get_text().split())
    assert "This example does not run on CPU with MindSpore 2.10.0: RuntimeError: The kernel SoftMarginLoss unregistered." in note


def test_pages_state_versions_device_and_date_of_their_outputs(site: Path):
    import datetime

    text = " ".join(soup(site / "docs" / "api" / "torch.nn" / "CosineEmbeddingLoss.html").get_text().split())
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert "The outputs on this page were printed by MindSpore 2.10.0 and PyTorch 2.13.0" in text
    assert "on CPU (" in text and f"on {today}." in text

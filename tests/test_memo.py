"""The render memo: a rebuild reuses a page only while nothing it depends on changed.

The output cache is filled by hand with a result for every key of the mapping, so no worker runs:
each test changes one input and checks whether the page is rendered again.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from generator import memo as memo_module
from generator import render
from generator.cache import ResultCache
from generator.loader import load_mappings
from generator.memo import MEMO_NAME, RenderMemo, code_digest, render_context, result_keys
from generator.pipeline import Options, generate

from .conftest import SMALL_PROBES, VALID_MAPPING, write_mapping

PROBED_MAPPING = VALID_MAPPING + SMALL_PROBES


def result(text: str) -> dict:
    return {"status": "ok", "outputs": [{"line": 1, "text": text}], "stderr": "", "error_type": None,
            "error_message": None, "error_line": None, "duration": 0.0, "framework_version": "1.0",
            "device": "cpu", "device_name": "", "produced_on": "2026-01-01"}


def count_rendered_pages(monkeypatch) -> list[str]:
    """The source APIs of the pages rendered from now on (``Renderer.page`` counted), in order."""
    rendered: list[str] = []
    page = render.Renderer.page

    def counting(self, loaded, *args, **kwargs):
        rendered.append(loaded.mapping.source.api)
        return page(self, loaded, *args, **kwargs)

    monkeypatch.setattr(render.Renderer, "page", counting)
    return rendered

@pytest.fixture
def site(tmp_path: Path, monkeypatch):
    """(mapping folder, output folder, cache path, rendered pages list); every result cached."""
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", PROBED_MAPPING)
    write_mapping(mappings, "torch.nn/MSELoss.yaml", VALID_MAPPING.replace("L1Loss", "MSELoss"))
    cache = tmp_path / "outputs.sqlite"
    rendered = count_rendered_pages(monkeypatch)
    return mappings, tmp_path / "api", cache, rendered


def options(cache: Path, **changes) -> Options:
    return Options(cache_path=cache, progress=False, allow_missing=True, **changes)


def fill_cache(mappings: Path, cache: Path, text: str = "2") -> None:
    with ResultCache(cache) as store:
        for loaded in load_mappings([mappings]).mappings:
            store.put_many((key, result(text)) for key in result_keys(loaded, "cpu"))


def build(site, **changes) -> list[str]:
    mappings, output, cache, rendered = site
    rendered.clear()
    generate([mappings], output, options(cache, **changes))
    return sorted(rendered)


BOTH = ["torch.nn.L1Loss", "torch.nn.MSELoss"]


def test_a_no_op_rebuild_renders_no_mapping_page_and_touches_no_file(site):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    assert build(site) == BOTH
    pages = sorted(output.rglob("*.md"))
    before = {page: page.stat().st_mtime_ns for page in pages}
    assert build(site) == []
    assert {page: page.stat().st_mtime_ns for page in sorted(output.rglob("*.md"))} == before
    assert (output / MEMO_NAME).is_file()


def test_an_edited_yaml_renders_its_page_only(site):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    edited = mappings / "torch.nn" / "MSELoss.yaml"
    edited.write_text(edited.read_text().replace("The same loss.", "The same loss, edited."))
    fill_cache(mappings, cache)
    assert build(site) == ["torch.nn.MSELoss"]
    assert "edited" in (output / "torch.nn" / "MSELoss.md").read_text()


def test_a_changed_cached_output_renders_the_page_again(site):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    with sqlite3.connect(cache) as db:
        db.execute("UPDATE results SET result = replace(result, '\"text\": \"2\"', '\"text\": \"3\"')")
    assert build(site) == BOTH
    assert "# 3" in (output / "torch.nn" / "L1Loss.md").read_text()


def test_a_result_missing_from_the_cache_renders_the_page_again(site):
    """(checked on the memo: a generate would run the missing probe driver in a worker)"""
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    loaded = next(m for m in load_mappings([mappings]).mappings if m.mapping.source.api == "torch.nn.L1Loss")
    with ResultCache(cache) as store:
        store.delete([result_keys(loaded, "cpu")[-1]])  # the last probe driver's result
    memo = RenderMemo.for_options(output, options(cache))
    remembered = load_mappings([mappings], memo.load).mappings
    with ResultCache(cache) as store:
        memo.note_results(remembered, store, "cpu")
    assert memo.reusable(remembered) == {"torch.nn.MSELoss"}


def test_a_page_changed_on_disk_is_rendered_again(site):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    page = output / "torch.nn" / "L1Loss.md"
    text = page.read_text()
    page.write_text(text + "\nchanged by hand\n")
    assert build(site) == ["torch.nn.L1Loss"]
    assert page.read_text() == text


def test_a_changed_render_context_renders_every_page(site, monkeypatch):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    assert build(site, device="cpu") == []
    real = memo_module.installed_version
    monkeypatch.setattr(memo_module, "installed_version",
                        lambda name: "9.9" if name == "mindspore" else real(name))  # another framework version
    assert build(site) == BOTH
    monkeypatch.setattr(memo_module, "installed_version", real)
    assert build(site) == BOTH
    monkeypatch.setattr(memo_module, "code_digest", lambda: "other templates or generator code")
    assert build(site) == BOTH


def test_the_code_digest_covers_templates_and_generator_modules(tmp_path: Path, monkeypatch):
    for folder in ("generator", "templates"):
        (tmp_path / folder).mkdir()
    (tmp_path / "generator" / "render.py").write_text("x = 1\n")
    (tmp_path / "templates" / "mapping.md.j2").write_text("# {{ title }}\n")
    monkeypatch.setattr(memo_module, "ROOT", tmp_path)
    digests = []
    for change in (None, ("templates/mapping.md.j2", "## {{ title }}\n"), ("generator/render.py", "x = 2\n"),
                   ("templates/new.md.j2", "")):
        if change:
            (tmp_path / change[0]).write_text(change[1])
        digests.append(code_digest())
    assert len(set(digests)) == len(digests)


def test_the_render_context_covers_device_doc_urls_matrix_and_frameworks_run(tmp_path: Path, monkeypatch):
    base = Options(cache_path=tmp_path / "c.sqlite")
    context = render_context(base)
    assert render_context(Options(cache_path=tmp_path / "c.sqlite")) == context
    matrix = tmp_path / "matrix.json"
    matrix.write_text("{}")
    with_matrix = render_context(Options(matrix=matrix))
    matrix.write_text('{"devices": []}')
    assert render_context(Options(matrix=matrix)) != with_matrix
    assert render_context(Options(device="gpu")) != context
    assert render_context(Options(frameworks=("torch",))) != context
    from generator import frameworks
    monkeypatch.setitem(frameworks.DOC_URL_PATTERNS, "torch", "https://example.org/{api}")
    assert render_context(base) != context


def test_no_reuse_without_a_cache_when_forced_or_with_a_report(site, tmp_path: Path):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    assert build(site, force=False, report=tmp_path / "report.json") == BOTH
    assert not RenderMemo.for_options(output, options(cache, force=True)).enabled
    assert not RenderMemo.for_options(output, Options(cache_path=None)).enabled
    assert not RenderMemo.for_options(output, options(cache, reuse_pages=False)).reuse


def test_a_mapping_loaded_from_the_memo_equals_the_one_parsed(site):
    mappings, output, cache, _ = site
    fill_cache(mappings, cache)
    build(site)
    memo = RenderMemo.for_options(output, options(cache))
    remembered = load_mappings([mappings], memo.load).mappings
    parsed = load_mappings([mappings]).mappings
    assert [m.mapping for m in remembered] == [m.mapping for m in parsed]
    assert [m.positions for m in remembered] == [m.positions for m in parsed]
    (output / MEMO_NAME).write_bytes(b"not a pickle")  # a damaged memo reuses nothing
    assert build(site) == BOTH
    os.utime(mappings / "torch.nn" / "L1Loss.yaml")  # a touched file with the same bytes is unchanged
    assert build(site) == []

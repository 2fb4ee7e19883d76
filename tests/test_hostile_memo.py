"""Hostile render memos (issue 26, item 3): generated state is data, never code.

A memo left by an older build (a pickle), one smuggling objects, and one damaged in any way are each
put where a build reads its memo: nothing runs, the build succeeds and renders the pages again.
Every payload that could run would create ``MARKER``; each test runs under a deadline. As in
``test_memo``, the output cache holds a result for every example and probe, so no worker runs.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import signal
from pathlib import Path

import pytest

from generator import memo_store, render
from generator.loader import find_mapping_files, load_file
from generator.memo import MEMO_NAME, RenderMemo
from generator.pipeline import Options, generate

from .conftest import ROOT, SMALL_PROBES, VALID_MAPPING, write_mapping
from .test_memo import count_rendered_pages, fill_cache

BOTH = ["torch.nn.L1Loss", "torch.nn.MSELoss"]
DEADLINE = 60  # seconds; a test takes a few


class _RunsCode:
    """Unpickling this calls ``exec``: what a crafted memo pickle does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.fixture(autouse=True)
def deadline():
    """A test that blocks (reading a FIFO, say) fails instead of hanging."""
    def expire(*_):
        raise TimeoutError(f"the test took more than {DEADLINE} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, DEADLINE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def site(tmp_path: Path, monkeypatch):
    """(mappings, output folder, cache, rendered source APIs, marker); every result cached, built once."""
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", VALID_MAPPING + SMALL_PROBES)
    write_mapping(mappings, "torch.nn/MSELoss.yaml", VALID_MAPPING.replace("L1Loss", "MSELoss"))
    cache = tmp_path / "outputs.sqlite"
    fill_cache(mappings, cache)
    rendered = count_rendered_pages(monkeypatch)
    built = {"mappings": mappings, "output": tmp_path / "api", "cache": cache, "rendered": rendered,
             "marker": tmp_path / "MARKER"}
    build(built)
    return built


def build(site: dict, **changes) -> list[str]:
    """Generate into the site's output folder; the source APIs whose page was rendered."""
    site["rendered"].clear()
    options = Options(cache_path=site["cache"], progress=False, allow_missing=True, **changes)
    generate([site["mappings"]], site["output"], options)
    return sorted(site["rendered"])


def pages(site: dict) -> dict[str, str]:
    return {page.name: page.read_text() for page in sorted(site["output"].rglob("*.md"))}


def memo_parts(site: dict) -> tuple[dict, dict]:
    """(header, body) of the memo the last build wrote."""
    header, body = (site["output"] / MEMO_NAME).read_bytes().split(b"\n", 1)
    return json.loads(header), json.loads(body)


def forge(site: dict, body: bytes, header: dict | None = None) -> None:
    """Write a memo with ``body``, its digest recomputed as a forger would (or ``header`` as given)."""
    context = memo_parts(site)[0]["context"]
    blob = memo_store.file_bytes(context, body)
    if header is not None:
        blob = json.dumps(header).encode() + b"\n" + body
    (site["output"] / MEMO_NAME).write_bytes(blob)


def rejected(site: dict) -> str | None:
    options = Options(cache_path=site["cache"], progress=False, allow_missing=True)
    return RenderMemo.for_options(site["output"], options).rejected


# -- code in generated state

@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_a_pickle_left_at_the_old_memo_path_is_never_loaded(site, language: str):
    """The Chinese build's memo sits in its staging copy of docs/api: the same reader, another folder."""
    if language != "en":
        site["output"] = site["output"].parent / "src" / language / "docs" / "api"
        build(site, language=language)
    old = site["output"] / ".render-memo.pickle"
    (site["output"] / MEMO_NAME).unlink(missing_ok=True)  # an older build left only its pickle
    old.write_bytes(pickle.dumps({"version": 1, "context": None, "entries": _RunsCode(site["marker"])}))
    before = pages(site)
    assert build(site, language=language) == BOTH
    assert not site["marker"].exists(), "unpickling the old memo ran its code"
    assert not old.exists()  # removed, not left to be loaded by an older checkout
    assert pages(site) == before
    assert build(site, language=language) == []  # the new memo is written and reused


def test_a_memo_smuggling_objects_runs_nothing_and_is_not_trusted(site):
    """JSON that names callables or carries a pickle, with a correct digest: plain data, and the
    entries whose mapping it replaced are dropped, so both pages are rendered again."""
    before = pages(site)
    _, body = memo_parts(site)
    smuggled = base64.b64encode(pickle.dumps(_RunsCode(site["marker"]))).decode()
    for entry in body.values():
        entry["loaded"]["data"] = {"py/reduce": [{"py/function": "builtins.exec"}, ["open('MARKER','w')"]],
                                   "__class__": "generator.loader.LoadedMapping", "pickle": smuggled}
    forge(site, json.dumps(body).encode())
    assert build(site) == BOTH
    assert not site["marker"].exists()
    assert pages(site) == before


# -- damaged, old or mistyped memos are ignored

def _flip_a_body_byte(site: dict) -> None:
    path = site["output"] / MEMO_NAME
    blob = bytearray(path.read_bytes())
    spot = blob.index(b'"page":"') + 8
    blob[spot] = ord("X") if blob[spot] != ord("X") else ord("Y")
    path.write_bytes(bytes(blob))


def _truncate(site: dict) -> None:
    path = site["output"] / MEMO_NAME
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _header_only(site: dict) -> None:
    path = site["output"] / MEMO_NAME
    path.write_bytes(path.read_bytes().split(b"\n", 1)[0])


def _old_version(site: dict) -> None:
    header, body = memo_parts(site)
    text = json.dumps(body).encode()
    forge(site, text, {**json.loads(memo_store.file_bytes(header["context"], text).split(b"\n")[0]), "version": 1})


def _body_a_list(site: dict) -> None:
    forge(site, json.dumps(list(memo_parts(site)[1].values())).encode())


def _a_size_as_text(site: dict) -> None:
    _, body = memo_parts(site)
    for entry in body.values():
        entry["size"] = str(entry["size"])
    forge(site, json.dumps(body).encode())


def _positions_as_text(site: dict) -> None:
    _, body = memo_parts(site)
    for entry in body.values():
        entry["loaded"]["positions"] = [str(number) for number in entry["loaded"]["positions"]]
    forge(site, json.dumps(body).encode())


def _deeply_nested(site: dict) -> None:
    forge(site, b"[" * 200_000 + b"]" * 200_000)


def _not_utf8(site: dict) -> None:
    forge(site, b"\xff\xfe\x00garbage")


def _a_fifo(site: dict) -> None:
    (site["output"] / MEMO_NAME).unlink()
    os.mkfifo(site["output"] / MEMO_NAME)


def _too_large(site: dict, monkeypatch) -> None:
    monkeypatch.setattr(memo_store, "MAX_MEMO_BYTES", 1 << 20)
    with open(site["output"] / MEMO_NAME, "r+b") as stream:  # 1 GiB, sparse: only a bounded read is quick
        stream.truncate(1 << 30)


DAMAGES = {
    "a changed byte (bad digest)": (_flip_a_body_byte, "digest"),
    "truncated": (_truncate, "digest"),
    "only a header": (_header_only, "truncated"),
    "the older version": (_old_version, "version"),
    "a list instead of the entries": (_body_a_list, "not valid memo data"),
    "a size given as text": (_a_size_as_text, "not valid memo data"),
    "positions given as text": (_positions_as_text, "not valid memo data"),
    "nested 200,000 deep": (_deeply_nested, "not valid memo data"),
    "not UTF-8": (_not_utf8, "not valid memo data"),
    "a FIFO": (_a_fifo, "not a regular file"),
    "larger than the limit": (_too_large, "larger than"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_old_or_mistyped_memo_is_ignored_and_replaced(site, damage: str, monkeypatch):
    before = pages(site)
    spoil, reason = DAMAGES[damage]
    spoil(site, monkeypatch) if spoil is _too_large else spoil(site)
    assert reason in (rejected(site) or "")
    assert build(site) == BOTH
    assert pages(site) == before
    assert rejected(site) is None and build(site) == []  # a sound memo replaced it


def test_a_stored_mapping_of_the_wrong_types_is_parsed_from_its_file_again(site):
    """A forged entry that keeps its keys but changes a value's type is no valid mapping: its file is
    parsed again and its page rendered again; the other entry is still trusted."""
    before = pages(site)
    _, body = memo_parts(site)
    mse = next(where for where in body if where.endswith("MSELoss.yaml"))
    body[mse]["loaded"]["data"]["examples"][0]["timeout"] = "soon"
    forge(site, json.dumps(body).encode())
    assert build(site) == ["torch.nn.MSELoss"]
    assert pages(site) == before


def test_positions_that_do_not_fit_the_stored_mapping_are_not_trusted(site):
    _, body = memo_parts(site)
    mse = next(where for where in body if where.endswith("MSELoss.yaml"))
    body[mse]["loaded"]["positions"] = body[mse]["loaded"]["positions"][:-2]
    body[mse]["loaded"]["text_starts"] = [10**6, 1]
    forge(site, json.dumps(body).encode())
    assert build(site) == ["torch.nn.MSELoss"]


# -- the stored form is faithful

def test_every_repository_mapping_reloaded_from_the_memo_renders_the_identical_page():
    renderer = render.Renderer()
    for path in find_mapping_files([ROOT / "mappings"]):
        parsed, problems = load_file(path)
        assert not problems
        stored = memo_store.stored_mapping(parsed)
        assert stored is not None, f"{path} cannot be stored: it would be parsed on every build"
        through_json = memo_store.StoredMapping.model_validate(json.loads(json.dumps(stored.model_dump())))
        reloaded = memo_store.loaded_from(path, through_json)
        assert reloaded is not None, path
        assert reloaded.positions == parsed.positions and list(reloaded.positions) == list(parsed.positions)
        assert reloaded.text_starts == parsed.text_starts
        assert renderer.page(reloaded) == renderer.page(parsed), path


def test_data_that_json_would_change_is_not_stored(tmp_path: Path):
    """A value JSON gives back with another type would make another page: such a file is parsed again."""
    path = write_mapping(tmp_path, "torch.nn/L1Loss.yaml", VALID_MAPPING)
    loaded = load_file(path)[0]
    assert memo_store.stored_mapping(loaded) is not None
    loaded.data["examples"][0]["note"] = ("a", "tuple")
    assert memo_store.stored_mapping(loaded) is None

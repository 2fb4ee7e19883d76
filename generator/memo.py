"""The render memo: a rebuild reuses the page of a mapping whose inputs did not change.

A mapping page is a function of (1) the bytes of its YAML file, (2) the texts of its examples' and
probes' results in the output cache (by cache key), and (3) the render context: the generator's
code and templates, the versions of Python, of the frameworks and of the libraries that load and
render (pydantic, PyYAML, Jinja, markdown-it), the device, which frameworks run, the merged device
report, the doc URL patterns, and the working directory and repository root (pages show paths
relative to them). Anything new that a page comes to depend on must go into ``render_context``.

The memo (``.render-memo.json`` in the output folder, written under the folder's lock, removed
with it; its format in ``memo_store``) records per mapping file: the sha256 of its bytes, the
mapping as loaded (its YAML as plain data, so an unchanged file is not parsed again; it is validated
again when used), the page it gave, the keys of its results and a digest of their texts, and the
size and mtime of the page on disk. The memo is plain JSON with a version and a digest: reading it
runs no code, and a memo that is damaged, edited, of another version or another render context is
ignored (every page is rendered again). A build with the same render context

* loads a file whose bytes are those recorded from the memo (``load``);
* reuses a page (neither compares its probes nor renders it: ``reusable``) when its file's bytes and
  its results' texts are those recorded and the page on disk still has the recorded size and mtime.

Anything else (an edited YAML, a changed template or generator module, a result run again or
removed from the cache, another framework version, a page changed by hand) renders the page again;
``pipeline.write_pages`` then leaves a page whose text did not change untouched, so Sphinx does
not read it again. The memo is used only with the output cache on and not forced: without a cache
there is nothing to compare results with.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from pathlib import Path

from . import ROOT, memo_store
from .frameworks import DOC_URL_PATTERNS, FRAMEWORKS, installed_version
from .i18n import DEFAULT_LANGUAGE, catalog_path
from .loader import MAX_FILE_BYTES, LoadedMapping, Problem, load_file
from .memo_store import MEMO_NAME, MEMO_VERSION, Entry, MemoRejected

LIBRARIES = ("pydantic", "PyYAML", "Jinja2", "markdown-it-py", "mdit-py-plugins", "babel")


def code_digest() -> str:
    """sha256 of the generator's modules and the templates (names and bytes); computed on each call,
    as Jinja reads a template edited since the last build of a long-lived process."""
    digest = hashlib.sha256()
    for folder, pattern in ((ROOT / "generator", "*.py"), (ROOT / "templates", "*")):
        for path in sorted(folder.rglob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _catalog_digest(language: str) -> str | None:
    path = catalog_path(language)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def render_context(options) -> str:
    """Everything other than a mapping's file and results that its page depends on, as one digest."""
    matrix = Path(options.matrix) if options.matrix else None
    parts = {
        "memo": MEMO_VERSION,
        "code": code_digest(),
        "python": sys.version,
        "libraries": {name: installed_version(name) for name in LIBRARIES},
        "frameworks": {name: installed_version(name) for framework in FRAMEWORKS.values()
                       for name in (framework.distribution, *framework.namespaces)},
        "device": options.device,
        "run": list(options.frameworks) if options.frameworks is not None else None,
        "matrix": hashlib.sha256(matrix.read_bytes()).hexdigest() if matrix and matrix.is_file() else str(matrix),
        "doc_urls": dict(DOC_URL_PATTERNS),
        # the pages' language and its catalog of the pages' words (``i18n``): a page of another
        # language, or one rendered before the catalog changed, is never reused
        "language": getattr(options, "language", DEFAULT_LANGUAGE),
        "catalog": _catalog_digest(getattr(options, "language", DEFAULT_LANGUAGE)),
        "cwd": str(Path.cwd()),
        "root": str(ROOT),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def results_digest(keys: list[str], texts: dict[str, str]) -> str | None:
    """sha256 of the results' texts; None when one is not in the cache (a timeout is not cached, nor
    a side that does not run here): such a page is rendered every time, as its results may change."""
    digest = hashlib.sha256()
    for key in keys:
        text = texts.get(key)
        if text is None:
            return None
        digest.update(f"{key}\0{len(text)}\0".encode() + text.encode())
    return digest.hexdigest()


def result_keys(loaded: LoadedMapping, device: str) -> list[str]:
    """Cache keys of every example side and probe driver of one mapping (run here or not)."""
    from .execute import cache_key, snippets_of
    from .probes import probe_snippets

    keys = [cache_key(snippet, device) for _, snippet in snippets_of([loaded])]
    if loaded.mapping.probes is not None:
        keys += [cache_key(snippet, device) for _, snippet in probe_snippets(loaded.mapping)[1]]
    return keys


def _file_sha(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


class RenderMemo:
    def __init__(self, output: Path, context: str | None, reuse: bool = True):
        """``context`` None: a memo that reuses nothing and records nothing (and removes an old one);
        ``reuse`` False: one that reuses nothing but records this build."""
        self.output = Path(output)
        self.path = self.output / MEMO_NAME
        self.context = context
        self.reuse = reuse
        self.entries: dict[str, Entry] = {}
        self.shas: dict[str, str] = {}  # file -> sha256 of the bytes loaded in this build
        self.results: dict[str, str | None] = {}  # file -> results digest in this build
        self.keys: dict[str, list[str]] = {}  # file -> result keys
        self.remembered: set[str] = set()  # files loaded from the memo (their stored data validated)
        self.reused: set[str] = set()  # source APIs whose page is reused
        self.rejected: str | None = None  # why the memo on disk was ignored, if it was
        if context is not None:
            self.entries = self._read()

    @classmethod
    def for_options(cls, output: Path, options) -> RenderMemo:
        usable = options.execute and options.cache_path is not None and not options.force
        # an execution report lists every comparison: no page is reused when one is written
        return cls(output, render_context(options) if usable else None, options.reuse_pages and not options.report)

    @property
    def enabled(self) -> bool:
        return self.context is not None

    def _read(self) -> dict[str, Entry]:
        try:
            return memo_store.read(self.path, self.context)
        except MemoRejected as error:  # nothing is reused: every page is rendered again
            self.rejected = str(error)
            return {}

    # -- loading

    def load(self, path: Path) -> tuple[LoadedMapping | None, list[Problem]]:
        """``loader.load_file``, or the mapping as loaded before when the file's bytes are the same."""
        if not self.enabled:
            return load_file(path)
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return load_file(path)  # refused there, with its own message
            sha = _file_sha(path)
        except OSError:
            return load_file(path)
        self.shas[str(path)] = sha
        entry = self.entries.get(str(path)) if self.reuse else None
        if entry is not None and entry.sha == sha and entry.loaded is not None:
            loaded = memo_store.loaded_from(path, entry.loaded)
            if loaded is not None:
                self.remembered.add(str(path))
                return loaded, []
            del self.entries[str(path)]  # stored data that is no valid mapping: nothing else of it is trusted
        return load_file(path)

    # -- reuse

    def note_results(self, mappings: list[LoadedMapping], cache, device: str) -> None:
        """Digest the results of ``mappings`` as ``cache`` (a ``ResultCache``) holds them now."""
        if not self.enabled:
            return
        keys = {str(loaded.path): self._keys(loaded, device) for loaded in mappings}
        texts = cache.texts([key for group in keys.values() for key in group]) if cache is not None else {}
        self.results.update((path, results_digest(group, texts)) for path, group in keys.items())

    def _keys(self, loaded: LoadedMapping, device: str) -> list[str]:
        where = str(loaded.path)
        if where not in self.keys:
            entry = self.entries.get(where)
            known = entry is not None and entry.sha == self.shas.get(where) and entry.keys
            self.keys[where] = list(entry.keys) if known else result_keys(loaded, device)
        return self.keys[where]

    def reusable(self, mappings: list[LoadedMapping]) -> set[str]:
        """Source APIs whose page is reused (call after ``note_results``); remembered in ``self.reused``.

        A reused page's results are all in the cache, so running its examples changes none of them."""
        self.reused = set()
        if not self.enabled or not self.reuse:
            return self.reused
        digests = self.results
        for loaded in mappings:
            where = str(loaded.path)
            entry = self.entries.get(where)
            page = f"{loaded.mapping.page_path}.md"
            if (entry is None or entry.sha != self.shas.get(where) or entry.page != page
                    or entry.digest is None or entry.digest != digests.get(where)):
                continue
            try:
                info = os.stat(self.output / page)
            except OSError:
                continue
            if (info.st_size, info.st_mtime_ns) == (entry.size, entry.mtime_ns):
                self.reused.add(loaded.mapping.source.api)
        return self.reused

    def reused_pages(self, mappings: list[LoadedMapping]) -> set[str]:
        return {f"{loaded.mapping.page_path}.md" for loaded in mappings if loaded.mapping.source.api in self.reused}

    # -- recording

    def save(self, mappings: list[LoadedMapping]) -> None:
        """Record every mapping's page as it is now on disk (call after the pages are written)."""
        memo_store.remove_legacy(self.output)
        if not self.enabled:
            self.path.unlink(missing_ok=True)
            return
        digests = self.results
        current = {str(loaded.path) for loaded in mappings}
        if self.reuse and len(self.reused) == len(mappings) and set(self.entries) == current:
            return  # every page reused: the memo on disk says so already
        entries = {}
        for loaded in mappings:
            where = str(loaded.path)
            if where not in self.shas or where not in digests:
                continue
            page = f"{loaded.mapping.page_path}.md"
            old = self.entries.get(where)
            try:
                info = os.stat(self.output / page)
            except OSError:
                continue
            stored = old.loaded if where in self.remembered else memo_store.stored_mapping(loaded)
            entries[where] = Entry.model_construct(
                sha=self.shas[where], page=page, digest=digests[where], keys=list(self.keys.get(where, ())),
                size=info.st_size, mtime_ns=info.st_mtime_ns, loaded=stored)
        try:
            memo_store.write(self.path, self.context, entries)
        except (OSError, ValueError):  # the memo only saves time: a build that cannot write it still succeeds
            self.path.unlink(missing_ok=True)

"""The whole pipeline in one place: load -> execute -> render -> write pages.

Both the CLI and the Sphinx extension call ``generate``. Writing is all-or-nothing: pages are
rendered in memory first, then written beside their targets and renamed onto them only when all
were written (``update_files``); if anything fails (a mapping, a mistyped ``--matrix``, a full
disk, a read-only folder, a kill) the output folder is left as it was, and the failure is a
``GenerationError`` that says what happened.

The output folder is shared: the manifest in it (``manifest``) lists what the generator wrote, and
only those files are ever replaced or removed; a user's notes beside the pages stay, and a file in
the way of a page is an error, not overwritten.

One build at a time per output folder and per output cache: each is locked (``locks``) for the
whole generation, the folder before the cache; a second build waits. Temporary files that a
killed build left in the output folder are removed under that lock before anything else.

A rebuild leaves the page of a mapping whose file, results and render context did not change as
it is, without comparing its probes or rendering it (``memo``): a no-op rebuild renders only the
overview, module and coverage pages.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT, locks
from .coverage import DEFAULT_MODULES, CoverageError, coverage
from .loader import LoadedMapping, Problem, load_mappings
from .manifest import TEMPORARY_SUFFIX, ForeignFile, Manifest, is_temporary, readable_by_all, temporary_for
from .memo import MEMO_NAME, RenderMemo
from .memo_store import LEGACY_NAMES
from .render import Renderer, render_site
from .reports import ReportError, read_matrix

DEFAULT_MAPPINGS = ROOT / "mappings"
DEFAULT_OUTPUT = ROOT / "docs" / "api"
DEFAULT_CACHE = ROOT / ".cache" / "outputs.sqlite"


class GenerationError(Exception):
    """Generation failed; ``problems`` says where, one ``file:line:column: field: message`` each."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = problems or []
        details = "".join(f"\n  {problem}" for problem in self.problems)
        super().__init__(message + details)


@dataclass
class Options:
    device: str = "cpu"
    jobs: int | None = None
    force: bool = False
    cache_path: Path | None = DEFAULT_CACHE
    progress: bool = True
    execute: bool = True
    report: Path | None = None
    coverage_modules: tuple[str, ...] = DEFAULT_MODULES
    matrix: Path | None = None  # merged device reports (``merge-reports``) shown on the pages
    frameworks: tuple[str, ...] | None = None  # run only these frameworks' sides (None: all); see ``devices``
    allow_missing: bool = False  # publish pages whose sides say "not run here" (else ``generate`` refuses)
    reuse_pages: bool = True  # leave the pages whose inputs did not change as they are (``memo``)
    language: str = "en"  # the pages' language (``i18n.LANGUAGES``); outputs are the same in every language


@dataclass
class Generated:
    mappings: list[LoadedMapping]
    runs: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)  # source api -> probes.MappingProbes
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def summarize(runs: dict) -> dict[str, int]:
    """How many snippets ran, failed, came from the cache, and were not run here (``devices``)."""
    results = [result for run in runs.values() for result in (run.source, run.target) if result is not None]
    return {
        "snippets": len(results),
        "ok": sum(result.status == "ok" for result in results),
        "failed": sum(result.status != "ok" for result in results),
        "cached": sum(bool(result.cached) for result in results),
        "not_run": sum(len(getattr(run, "not_run", {})) for run in runs.values()),
    }


def load_or_fail(paths: list[Path], memo: RenderMemo | None = None) -> list[LoadedMapping]:
    result = load_mappings(paths, memo.load if memo is not None else None)
    if not result.ok:
        count = len(result.problems)
        raise GenerationError(f"{count} problem{'s' if count != 1 else ''} in the mappings:", result.problems)
    return result.mappings


def execute(mappings: list[LoadedMapping], options: Options, executor=None, uncompared=frozenset()) -> dict:
    if not options.execute:
        return {}
    from .execute import execute_mappings, write_report

    with _locked(options.cache_path if executor is None else None, "output cache"):  # else the caller holds it
        runs = execute_mappings(
            mappings,
            jobs=options.jobs,
            device=options.device,
            cache_path=options.cache_path,
            force=options.force,
            progress=options.progress,
            executor=executor,
            frameworks=options.frameworks,
            uncompared=uncompared,
        )
    if options.report:
        write_report(runs, mappings, options.report, options.device)
    return runs


def execute_all(mappings: list[LoadedMapping], options: Options, memo: RenderMemo | None = None) -> tuple[dict, dict]:
    """Examples and differential probes (``probes``) of ``mappings`` on one pool of warm workers.

    With a ``memo``: every example runs (or comes from the cache), but the mappings whose page is
    reused (``memo.reused``) have neither their examples' outputs compared nor their probes run; the
    memo notes the digests of every mapping's results."""
    if not options.execute:
        return {}, {}
    from .execute import Executor
    from .probes import run_probes

    with _locked(options.cache_path, "output cache"), \
            Executor(jobs=options.jobs, device=options.device, cache_path=options.cache_path, force=options.force,
                     progress=options.progress) as pool:
        if memo is not None and memo.enabled:
            memo.note_results(mappings, pool.cache, options.device)
            reused = memo.reusable(mappings)
            runs = execute(mappings, options, executor=pool, uncompared=reused)
            rendered = [loaded for loaded in mappings if loaded.mapping.source.api not in reused]
            probed = run_probes(rendered, pool, options.frameworks)
            memo.note_results(rendered, pool.cache, options.device)  # with the probes that ran just now
        else:
            runs = execute(mappings, options, executor=pool)
            probed = run_probes(mappings, pool, options.frameworks)
    return runs, probed


def generate(paths: list[Path] | None = None, output: Path = DEFAULT_OUTPUT, options: Options | None = None) -> Generated:
    """Load, execute and render every mapping under ``paths`` into ``output``; a failure at any
    step leaves ``output`` as it was (``write_pages``)."""
    options = options or Options()
    with _locked(output, "output folder"):
        remove_stale_temporaries(output)
        memo = RenderMemo.for_options(output, options)
        try:
            matrix = read_matrix(options.matrix)  # before running anything: a mistyped path fails at once
        except ReportError as error:
            raise GenerationError(str(error)) from None
        mappings = load_or_fail(paths or [DEFAULT_MAPPINGS], memo)
        refuse_missing_sides(mappings, options)
        runs, probed = execute_all(mappings, options, memo)
        try:
            covered = coverage(mappings, options.coverage_modules)
        except CoverageError as error:
            raise GenerationError(str(error)) from None
        pages = render_site(mappings, runs, options.device, covered, matrix,
                            probed, reuse=memo.reused, language=options.language)
        generated = Generated(mappings, runs, probes=probed)
        write_pages(pages, output, generated, keep=memo.reused_pages(mappings))
        memo.save(mappings)
    return generated


def refuse_missing_sides(mappings: list[LoadedMapping], options: Options) -> None:
    """Pages must not be published with a side that did not run, unless ``options.allow_missing``."""
    if not options.execute or options.allow_missing:
        return
    from .devices import missing_frameworks

    missing = missing_frameworks(mappings, options.frameworks)
    if missing:
        raise GenerationError(
            "refusing to write pages whose examples would lack a side: " + "; ".join(missing)
            + ". Run where every framework is installed, or pass --allow-missing to publish pages "
            "that say \"not run here\" for those sides.")


def preview(path: Path, output: Path = DEFAULT_OUTPUT, options: Options | None = None) -> tuple[Path, dict]:
    """Run one mapping's examples and write its page alone, leaving the other pages as they are."""
    options = options or Options()
    with _locked(output, "output folder"):
        remove_stale_temporaries(output)
        loaded = load_or_fail([path])[0]
        runs, probed = execute_all([loaded], options)
        relative = f"{loaded.mapping.page_path}.md"
        examples = {index: run for (_, index), run in runs.items()}
        text = Renderer(language=options.language).page(loaded, examples, options.device,
                                                        probes=probed.get(loaded.mapping.source.api))
        update_files(output, {relative: text}, Generated([loaded], runs, probes=probed))
    return output / relative, runs


def write_pages(pages: dict[str, str], output: Path, generated: Generated, keep: set[str] = frozenset()) -> None:
    """Bring the generated files in ``output`` to exactly ``pages`` and the pages in ``keep`` (paths
    relative to ``output``, reused as they are: ``memo``); untouched files keep their mtime so Sphinx
    skips them. Only files listed in the folder's manifest are replaced or removed (``manifest``)."""
    update_files(output, pages, generated, keep=keep, prune=True)


def update_files(output: Path, files: dict[str, str], generated: Generated, keep=frozenset(), prune=False) -> None:
    """Write ``files`` into ``output``, all or nothing; with ``prune``, remove the generated files
    that are neither in ``files`` nor in ``keep`` (stale pages).

    Every changed file is first written to a temporary file beside its target: a full disk or a
    read-only folder fails there, and the temporaries and the folders made for them are removed, so
    ``output`` is as it was. Then the manifest, listing old and new files, is saved, and the
    temporaries renamed onto their targets (renames take no space), and the stale files removed.
    A failure is a ``GenerationError`` that says what happened to ``output``."""
    created = not output.exists()
    manifest = Manifest.read(output)
    wanted = {*files, *keep}
    stale = [relative for relative in manifest.files if relative not in wanted] if prune else []
    folders_before = set(manifest.folders)
    staged: list[tuple[Path, Path]] = []
    try:
        staged = _stage(_changed_files(files, manifest, generated, keep), manifest)
        manifest.save()  # lists the new files before they are in place: a build killed next leaves none unlisted
    except ForeignFile as error:
        raise GenerationError(str(error)) from None
    except OSError as error:
        _discard(staged)
        _roll_back(manifest, folders_before, created)
        raise GenerationError(f"cannot write the pages into {output}: {describe(error)}; "
                              "nothing in it was changed") from None
    try:
        _commit(staged, stale, manifest, generated)
    except OSError as error:
        _discard(staged)
        outcome = ("some pages are new, the others as they were; build again" if generated.written or generated.removed
                   else "nothing in it was changed")
        raise GenerationError(f"cannot write the pages into {output}: {describe(error)}; {outcome}") from None


def _commit(staged: list[tuple[Path, Path]], stale, manifest: Manifest, generated: Generated) -> None:
    """Rename the staged files onto their targets, remove the stale ones and the folders left empty."""
    for temporary, target in staged:
        os.replace(temporary, target)
        generated.written.append(target)
    _remove_stale(stale, manifest, generated)
    manifest.remove_empty_folders()
    manifest.save()


def _changed_files(files: dict[str, str], manifest: Manifest, generated: Generated, keep) -> dict[str, bytes]:
    """The files whose text differs from what ``output`` holds; the others (and ``keep``) are noted
    unchanged and listed in the manifest. A file in the way that the generator did not write is refused."""
    adopt = _legacy_folder(manifest)
    changed: dict[str, bytes] = {}
    for relative in sorted(keep):
        _note_unchanged(manifest, relative, generated)
    for relative, text in files.items():
        data = text.encode("utf-8")
        target = manifest.folder / relative
        current = target.read_bytes() if target.is_file() else None
        if current == data:
            manifest.record(relative, data)
            generated.unchanged.append(target)
            continue
        if (target.exists() or target.is_symlink()) and not (manifest.lists(relative) or adopt):
            raise ForeignFile(target, manifest.path)
        changed[relative] = data
    return changed


def _note_unchanged(manifest: Manifest, relative: str, generated: Generated) -> None:
    target = manifest.folder / relative
    if not manifest.lists(relative) and target.is_file():
        manifest.record(relative, target.read_bytes())
    generated.unchanged.append(target)


def _legacy_folder(manifest: Manifest) -> bool:
    """A folder that a generator before the manifest wrote (its render memo is there, no manifest):
    its pages are replaced where new ones go, and nothing else in it is removed. Its memo has the
    name of today's or of an older format (a pickle, which is never opened)."""
    return not manifest.existed and any((manifest.folder / name).is_file() for name in (MEMO_NAME, *LEGACY_NAMES))


def _stage(changed: dict[str, bytes], manifest: Manifest) -> list[tuple[Path, Path]]:
    """Write each changed file to a temporary file beside its target; (temporary, target) pairs."""
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, data in changed.items():
            target = manifest.folder / relative
            manifest.make_folder(target.parent)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=temporary_for(target),
                                                 suffix=TEMPORARY_SUFFIX)
            staged.append((Path(temporary), target))
            with os.fdopen(handle, "wb") as stream:
                readable_by_all(stream.fileno())
                stream.write(data)
            manifest.record(relative, data)
    except OSError as error:
        _discard(staged)
        error.filename = error.filename or str(target)  # a failed write() names no file
        raise
    except BaseException:
        _discard(staged)
        raise
    return staged


def _discard(staged: list[tuple[Path, Path]]) -> None:
    for temporary, _ in staged:
        with suppress(OSError):
            temporary.unlink(missing_ok=True)


def _roll_back(manifest: Manifest, folders_before: set[str], created: bool) -> None:
    """Remove the folders made for a write that failed (and the output folder, if this write made it)."""
    manifest.folders -= folders_before
    with suppress(OSError):
        manifest.remove_empty_folders()
    if created:
        with suppress(OSError):
            manifest.folder.rmdir()


def _remove_stale(stale, manifest: Manifest, generated: Generated) -> None:
    """Remove the generated files ``stale``; one changed since the generator wrote it is no longer its own."""
    for relative in sorted(stale):
        target = manifest.folder / relative
        if manifest.unchanged(relative):
            target.unlink()
            generated.removed.append(target)
        manifest.forget(relative)


def describe(error: OSError) -> str:
    """An ``OSError`` in words, with the path and, for the usual faults, the plain cause."""
    path = error.filename2 or error.filename  # of a copy or a rename, the one written
    where = f": {path}" if path else ""
    cause = PLAIN_CAUSES.get(error.errno)
    return f"{error.strerror or error}{f' ({cause})' if cause else ''}{where}"


PLAIN_CAUSES = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
                errno.EFBIG: "disk full or file size limit", errno.EROFS: "read-only",
                errno.EACCES: "read-only folder or no permission", errno.EPERM: "not permitted"}


def remove_stale_temporaries(output: Path) -> None:
    """Remove the temporary files that a killed build left behind (``manifest.is_temporary``: the
    pages', the manifest's and the render memo's), called with the output folder locked, so no live
    build is writing them. Other files are left alone, whatever their name."""
    if output.is_dir():
        for leftover in output.rglob(".*.tmp"):
            if is_temporary(leftover):
                with suppress(OSError):  # a folder we cannot change fails, clearly, when the pages are written
                    leftover.unlink(missing_ok=True)


@contextmanager
def _locked(path: Path | None, what: str) -> Iterator[None]:
    """Hold the lock of ``path`` (None: nothing to lock); a timeout is a ``GenerationError``."""
    if path is None:
        yield
        return
    try:
        descriptor = locks.acquire(path, what)
    except locks.LockTimeout as error:
        raise GenerationError(str(error)) from None
    except OSError as error:
        raise GenerationError(f"cannot lock the {what} {path}: {describe(error)}") from None
    try:
        yield
    finally:
        locks.release(descriptor)

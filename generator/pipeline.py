"""The whole pipeline in one place: load -> execute -> render -> write pages.

Both the CLI and the Sphinx extension call ``generate``. Writing is all-or-nothing: pages are
rendered in memory first; if anything fails, writing the pages included (a full disk, a
read-only folder), the generated folder is removed, so no partial or stale page can be built
into the site, and the failure is a ``GenerationError`` that says what happened.

One build at a time per output folder and per output cache: each is locked (``locks``) for the
whole generation, the folder before the cache; a second build waits. Temporary files that a
killed build left in the output folder are removed under that lock before anything else.

A rebuild leaves the page of a mapping whose file, results and render context did not change as
it is, without comparing its probes or rendering it (``memo``): a no-op rebuild renders only the
overview, module and coverage pages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT, locks
from .coverage import DEFAULT_MODULES, CoverageError, coverage
from .loader import LoadedMapping, Problem, load_mappings
from .memo import RenderMemo
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
    """Load, execute and render every mapping under ``paths`` into ``output``."""
    options = options or Options()
    with _locked(output, "output folder"):
        remove_stale_temporaries(output)
        try:
            memo = RenderMemo.for_options(output, options)
            mappings = load_or_fail(paths or [DEFAULT_MAPPINGS], memo)
            refuse_missing_sides(mappings, options)
            runs, probed = execute_all(mappings, options, memo)
            matrix = read_matrix(options.matrix)
            pages = render_site(mappings, runs, options.device, coverage(mappings, options.coverage_modules), matrix,
                                probed, reuse=memo.reused, language=options.language)
        except (ReportError, CoverageError) as error:
            remove_generated(output)
            raise GenerationError(str(error)) from None
        except BaseException:
            remove_generated(output)
            raise
        generated = Generated(mappings, runs, probes=probed)
        try:
            write_pages(pages, output, generated, keep=memo.reused_pages(mappings))
            memo.save(mappings)
        except OSError as error:
            remove_generated(output)
            raise GenerationError(write_failure(output, error, generated)) from None
        except BaseException:
            remove_generated(output)
            raise
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
        page = output / f"{loaded.mapping.page_path}.md"
        examples = {index: run for (_, index), run in runs.items()}
        try:
            atomic_write(page, Renderer(language=options.language).page(loaded, examples, options.device,
                                               probes=probed.get(loaded.mapping.source.api)))
        except OSError as error:
            raise GenerationError(f"cannot write {page}: {_reason(error)}") from None
    return page, runs


def remove_generated(output: Path) -> None:
    shutil.rmtree(output, ignore_errors=True)


def write_failure(output: Path, error: OSError, generated: Generated) -> str:
    """What a failed write did to ``output``, for the one-line error the user sees."""
    if not output.exists():
        outcome = "the folder was removed, so no partly written pages reach the site"
    elif generated.written or generated.removed:
        outcome = "it could not be removed either and holds partly written pages: remove it before building"
    else:
        outcome = "nothing in it was changed"
    return f"cannot write the pages into {output}: {_reason(error)}; {outcome}"


def _reason(error: OSError) -> str:
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"


def remove_stale_temporaries(output: Path) -> None:
    """Remove ``.NAME.XXXX.tmp`` files of ``atomic_write`` that a killed build left behind
    (called with the output folder locked, so no live build is writing them)."""
    if output.is_dir():
        for leftover in output.rglob(".*.tmp"):
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
        raise GenerationError(f"cannot lock the {what} {path}: {_reason(error)}") from None
    try:
        yield
    finally:
        locks.release(descriptor)


def write_pages(pages: dict[str, str], output: Path, generated: Generated, keep: set[str] = frozenset()) -> None:
    """Bring ``output`` to exactly ``pages`` and the pages in ``keep`` (paths relative to ``output``,
    reused as they are: ``memo``); untouched files keep their mtime so Sphinx skips them."""
    output.mkdir(parents=True, exist_ok=True)
    generated.unchanged.extend(output / relative for relative in sorted(keep))
    for relative, text in pages.items():
        target = output / relative
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            generated.unchanged.append(target)
            continue
        atomic_write(target, text)
        generated.written.append(target)
    wanted = {output / relative for relative in (*pages, *keep)}
    for existing in sorted(output.rglob("*.md")):
        if existing not in wanted:
            existing.unlink()
            generated.removed.append(existing)
    for folder in sorted((p for p in output.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

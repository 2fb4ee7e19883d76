"""Sphinx extension: generate the mapping pages when the build starts.

Loaded from ``conf.py``, so a plain ``sphinx-build`` cannot skip generation. If generation
fails, the build fails and the generated sources and their HTML stay as the last build left them
(``pipeline.generate`` changes nothing on failure); the HTML of a removed mapping's page goes with it.
A file that cannot be written (a full disk, a read-only folder) ends the build with one error line
that names it, and exit status 2, not a crash report (``report_write_failures``).
One build at a time per output folder (a second waits), and a build that follows one that was
killed before it finished reads and writes every page again, search index included.

Configuration (``conf.py`` or ``-D name=value``):
  mapping_paths    folders or files with mapping YAML (relative to conf.py), default ["mappings"]
  mapping_output   folder for the generated pages, inside the source folder, default "docs/api"
  mapping_device   cpu | gpu | ascend, default "cpu"
  mapping_jobs     worker processes, default 0 = number of cores
  mapping_execute  run the examples (default True); False renders code without outputs
  mapping_force    ignore the output cache (default False)
  mapping_cache    sqlite cache file (relative to conf.py), default ".cache/outputs.sqlite"
  mapping_report   write a JSON execution report to this file, default "" = none
  mapping_coverage_modules  source modules listed on the Coverage page
  mapping_matrix   merged device reports (``merge-reports``) to show per example, default "" = none
  mapping_doc_urls  {framework key: doc URL pattern} replacing ``frameworks.DOC_URL_PATTERNS`` entries
  mapping_repository, mapping_repository_branch   where "Edit this page" links (see ``generator.site``)
"""

from __future__ import annotations

import html
from pathlib import Path

from sphinx.application import ENV_PICKLE_FILENAME, Sphinx
from sphinx.util import logging

from . import __version__, locks
from .coverage import DEFAULT_MODULES
from .frameworks import use_doc_url_patterns
from .i18n import normalize
from .pipeline import GenerationError, Options, describe, generate, summarize
from .site import setup_site

logger = logging.getLogger(__name__)


def _resolve(app: Sphinx, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else Path(app.confdir) / path


def _output(app: Sphinx) -> Path:
    return Path(app.srcdir) / app.config.mapping_output


def _docname(app: Sphinx, page: Path) -> str:
    return page.relative_to(app.srcdir).with_suffix("").as_posix()


def _remove_html(app: Sphinx, docnames: list[str]) -> None:
    suffix = getattr(app.builder, "out_suffix", ".html")
    for docname in docnames:
        (Path(app.outdir) / f"{docname}{suffix}").unlink(missing_ok=True)


def generate_pages(app: Sphinx) -> None:
    if app.statuscode:  # the build was stopped before it started (``lock_site``)
        return
    config = app.config
    output = _output(app)
    options = Options(
        device=config.mapping_device,
        jobs=config.mapping_jobs or None,
        force=bool(config.mapping_force),
        cache_path=_resolve(app, config.mapping_cache) if config.mapping_cache else None,
        progress=True,
        execute=bool(config.mapping_execute),
        report=_resolve(app, config.mapping_report) if config.mapping_report else None,
        coverage_modules=config.mapping_coverage_modules,  # checked by ``coverage.module_names``
        matrix=_resolve(app, config.mapping_matrix) if config.mapping_matrix else None,
        language=normalize(config.language),
    )
    use_doc_url_patterns(config.mapping_doc_urls)
    logger.info("[mappings] generating pages into %s", output)
    try:
        generated = generate([_resolve(app, path) for path in config.mapping_paths], output, options)
    except GenerationError as error:
        _fail_build(app, f"mapping generation failed: {error}")
        return
    _remove_html(app, [_docname(app, page) for page in generated.removed])
    counts = summarize(generated.runs)
    GENERATIONS.append({"language": options.language, "outdir": str(app.outdir), **counts,
                        "probed": len(generated.probes),
                        "probes_cached": sum(bool(result.cached) for result in generated.probes.values())})
    logger.info(
        "[mappings] %d mappings, %d snippets (%d executed, %d from cache, %d failed): "
        "%d pages written, %d unchanged, %d removed",
        len(generated.mappings), counts["snippets"], counts["snippets"] - counts["cached"], counts["cached"],
        counts["failed"], len(generated.written), len(generated.unchanged), len(generated.removed),
    )


# What each build in this process generated ({"language", "outdir", snippets, cached, ...}), for the
# tests that check that a second language runs no example again.
GENERATIONS: list[dict] = []


# One Sphinx build at a time per output folder, for the whole build: two builds writing one
# searchindex.js (or one environment pickle) break each other. Keyed by lock file, so that a
# build in the same process after one that failed before "build-finished" replaces its lock.
_SITE_LOCKS: dict[Path, int] = {}
INCOMPLETE_MARKER = "mapping-build-incomplete"


def lock_site(app: Sphinx, config) -> None:
    """Lock the output folder, and if the last build there never finished (it was killed),
    drop its saved environment so that this build reads and writes every page: Sphinx would
    otherwise write only the pages the killed build had not written yet, and keep the search
    index of the build before, which lacks what the killed build changed."""
    outdir = Path(app.outdir)
    stale = _SITE_LOCKS.pop(locks.lock_path(outdir), None)
    if stale is not None:
        locks.release(stale)
    try:
        _SITE_LOCKS[locks.lock_path(outdir)] = locks.acquire(outdir, "Sphinx output folder")
    except locks.LockTimeout as error:
        _fail_build(app, f"cannot lock {outdir}: {error}")
        return
    except OSError as error:
        _fail_build(app, f"cannot lock {outdir}: {describe(error)}")
        return
    marker = Path(app.doctreedir) / INCOMPLETE_MARKER
    try:
        if marker.exists():
            logger.info("[mappings] the last build into %s did not finish: rebuilding every page", outdir)
            (Path(app.doctreedir) / ENV_PICKLE_FILENAME).unlink(missing_ok=True)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError as error:
        _fail_build(app, f"cannot build the site into {outdir}: {describe(error)}")


def unlock_site(app: Sphinx, exception: Exception | None) -> None:
    if exception is None:
        (Path(app.doctreedir) / INCOMPLETE_MARKER).unlink(missing_ok=True)
    descriptor = _SITE_LOCKS.pop(locks.lock_path(Path(app.outdir)), None)
    if descriptor is not None:
        locks.release(descriptor)


def report_write_failures(app: Sphinx, config) -> None:
    """Make an ``OSError`` of the build (a full disk, a read-only folder) one error line and exit
    status 2. Sphinx has already handled it for the next build: it removed its saved environment,
    so that build reads every page again, and told "build-finished" (``unlock_site``)."""
    build = app.build

    def build_reporting_write_failures(*args, **kwargs):
        try:
            return build(*args, **kwargs)
        except OSError as error:
            logger.error("cannot build the site into %s: %s", app.outdir, describe(error))
            app.statuscode = 2

    app.build = build_reporting_write_failures


def _fail_build(app: Sphinx, message: str) -> None:
    """End the build with ``message`` and exit status 1, without building anything.

    Not by raising: Sphinx answers any exception with a traceback file and a request to report
    a Sphinx bug, while a problem in a mapping is the user's to fix."""
    logger.error(message)
    app.statuscode = 1
    app.build = lambda *args, **kwargs: None  # Sphinx calls app.build() right after builder-inited


def redirect_to_root_doc(app: Sphinx, exception: Exception | None) -> None:
    """With root_doc inside docs/, give the site an index.html at its top as well."""
    if exception is not None or app.builder.format != "html" or app.config.root_doc == "index":
        return
    target = html.escape(f"{app.config.root_doc}.html")
    page = Path(app.outdir) / "index.html"
    page.write_text(
        f'<!DOCTYPE html><meta charset="utf-8"><title>Redirect</title>'
        f'<meta http-equiv="refresh" content="0; url={target}"><a href="{target}">{target}</a>\n',
        encoding="utf-8",
    )


def setup(app: Sphinx) -> dict:
    app.add_config_value("mapping_paths", ["mappings"], "env", list)
    app.add_config_value("mapping_output", "docs/api", "env", str)
    app.add_config_value("mapping_device", "cpu", "env", str)
    app.add_config_value("mapping_jobs", 0, "", int)
    app.add_config_value("mapping_execute", True, "env", bool)
    app.add_config_value("mapping_force", False, "", bool)
    app.add_config_value("mapping_cache", ".cache/outputs.sqlite", "", str)
    app.add_config_value("mapping_report", "", "", str)
    app.add_config_value("mapping_matrix", "", "env", str)
    app.add_config_value("mapping_coverage_modules", list(DEFAULT_MODULES), "env", list)
    app.add_config_value("mapping_doc_urls", {}, "env", dict)
    app.connect("config-inited", lock_site)
    app.connect("config-inited", report_write_failures)
    app.connect("builder-inited", generate_pages)
    app.connect("build-finished", redirect_to_root_doc)
    app.connect("build-finished", unlock_site, priority=900)
    setup_site(app)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}

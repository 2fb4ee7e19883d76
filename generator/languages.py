"""Build the site in every language: ``<out>/en/...``, ``<out>/zh_CN/...`` and ``<out>/index.html``.

``python -m generator html`` (what ``make html`` runs). Each language is an ordinary Sphinx build
with ``-D language=<language>``, with its own environment (``<out>/.doctrees/<language>``), so a
no-op build stays a no-op in each. Sphinx builds into a work folder next to the site, which is
swapped in only when the build succeeded (``publish``): a full disk, a read-only folder or a failed
build leaves the published site as it was, and the next build recovers by itself. A fault outside
Sphinx is a ``SiteError``; one inside it is an error line of ``sphinx_ext``.

The generated pages of a language differ from the other's, so each language needs its own source
folder: English builds from the repository (``docs/api`` as before); every other language from
``<staging>/<language>`` (default ``<out>/.sources/<language>``), which holds a copy of the
hand-written ``docs/`` (kept in sync, modification times kept, so Sphinx re-reads only what changed;
only the copies are ever removed) and gets its own generated ``docs/api``. Every build uses the
repository's ``conf.py`` and the same output cache: examples and probes run once, in the first
build; the others take every output from the cache.
"""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path

from . import ROOT
from .i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES
from .manifest import ForeignFile, Manifest, write_atomically
from .pipeline import describe
from .publish import DOCTREES, prepare_work_folder, publish, site_lock, work_folder

GENERATED = "api"  # docs/api: the generated pages (``mapping_output``), never copied
SOURCES = ".sources"  # in the site's folder: the other languages' source folders (``source_folder``)
UNPUBLISHED = "unpublished"  # in a language's doctrees while its last build is not published


def sync_docs(source: Path, target: Path) -> Path:
    """Make ``target`` a copy of ``source`` (a ``docs`` folder) except its generated ``api`` folder.
    Unchanged files are left alone, copies keep their modification time. The copies are listed in
    ``target``'s manifest (``manifest``): only those are ever replaced or removed."""
    target.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.read(target)
    wanted: set[str] = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if relative.parts[0] == GENERATED or path.is_dir():
            continue
        wanted.add(relative.as_posix())
        _copy_listed(path, relative.as_posix(), manifest)
    for relative in sorted(set(manifest.files) - wanted):
        if manifest.unchanged(relative):
            (target / relative).unlink()
        manifest.forget(relative)
    manifest.remove_empty_folders()
    manifest.save()
    return target


def _copy_listed(path: Path, relative: str, manifest: Manifest) -> None:
    """Copy ``path`` to ``relative`` in the manifest's folder unless it holds those bytes already."""
    copy = manifest.folder / relative
    data = path.read_bytes()
    if copy.is_file() and not copy.is_symlink() and copy.read_bytes() == data:
        manifest.record(relative, data)
        return
    if (copy.exists() or copy.is_symlink()) and not manifest.lists(relative):
        raise ForeignFile(copy, manifest.path)
    manifest.make_folder(copy.parent)
    manifest.record(relative, data)
    manifest.save()  # listed before it is written: a build killed now leaves no file that nobody owns
    shutil.copy2(path, copy)


def source_folder(srcdir: Path, language: str, staging: Path) -> Path:
    """The Sphinx source folder of ``language``: ``srcdir`` for English, a synced copy otherwise."""
    if language == DEFAULT_LANGUAGE:
        return srcdir
    folder = staging / language
    sync_docs(srcdir / "docs", folder / "docs")
    return folder


def root_index(languages: list[str] | tuple[str, ...], root_doc: str = "docs/index") -> str:
    """The page at the top of the site: one link per language (the browser's language first)."""
    items = "\n".join(
        f'<li><a href="{language}/{html.escape(root_doc)}.html" hreflang="{language.replace("_", "-")}" '
        f'lang="{language.replace("_", "-")}">{html.escape(LANGUAGE_NAMES.get(language, language))}</a></li>'
        for language in languages)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>PyTorch and MindSpore API mappings</title>
<link rel="icon" href="{languages[0]}/_static/favicon.svg" type="image/svg+xml">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.6}}
li{{font-size:1.3rem;margin:.5rem 0}}</style></head>
<body><h1>PyTorch and MindSpore API mappings · PyTorch 与 MindSpore API 映射</h1>
<p>Choose a language · 选择语言</p>
<ul class="languages">
{items}
</ul></body></html>
"""


class SiteError(Exception):
    """Building or publishing a language's site failed outside Sphinx: one line that says what and where."""


def build(out: Path, *, srcdir: Path = ROOT, confdir: Path = ROOT, staging: Path | None = None,
          languages: list[str] | tuple[str, ...] = LANGUAGES, sphinx_options: list[str] = (),
          overrides: list[str] = (), timings: dict[str, float] | None = None) -> int:
    """Build ``languages`` (default: all) into ``out``; the exit status is the worst of the builds'.

    ``sphinx_options``: further sphinx-build options (``-W``, ``--keep-going``, ``-q``...);
    ``overrides``: ``name=value`` settings passed with ``-D``. ``timings`` gets each build's seconds.
    A language's site is replaced only by a build that succeeded (``build_language``); a file that
    cannot be written outside Sphinx is a ``SiteError``."""
    out = Path(out)
    staging = Path(staging) if staging is not None else out / SOURCES
    status = 0
    for language in languages:
        began = time.monotonic()
        status = max(status, build_language(language, out, Path(srcdir), Path(confdir), staging,
                                            sphinx_options, overrides))
        if timings is not None:
            timings[language] = time.monotonic() - began
    index = root_index(LANGUAGES).encode("utf-8")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "index.html").is_file() or (out / "index.html").read_bytes() != index:
            write_atomically(out / "index.html", index)
    except OSError as error:
        raise SiteError(f"cannot write {out / 'index.html'}: {describe(error)}") from None
    return status


def build_language(language: str, out: Path, srcdir: Path, confdir: Path, staging: Path,
                   sphinx_options=(), overrides=()) -> int:
    """Build one language's site into its work folder and publish it (``publish``) if Sphinx succeeded.

    Sphinx's environment and doctrees live in ``<out>/.doctrees/<language>``, outside both the site
    and the work folder, so they survive the swap; the work folder starts each build as a copy of
    the published site (``mirror``), so Sphinx writes only the pages that changed. A build that was
    not published may have saved an environment that knows of changes the published pages lack
    (another page's link to a new one): the build after it writes every page (``-a``)."""
    from sphinx.cmd.build import build_main

    site, work, doctrees = out / language, work_folder(out, language), out / DOCTREES / language
    unpublished = doctrees / UNPUBLISHED
    try:
        with site_lock(site):
            folder = source_folder(srcdir, language, staging)
            prepare_work_folder(site, work)
            doctrees.mkdir(parents=True, exist_ok=True)
            arguments = ["-b", "html", *sphinx_options, "-c", str(confdir), "-d", str(doctrees),
                         "-D", f"language={language}",
                         "-D", "mapping_languages=" + ",".join(LANGUAGES)]  # the site's languages, built now or not
            for override in overrides:
                arguments += ["-D", override]
            if unpublished.exists():
                arguments.append("-a")
            unpublished.touch()
            status = build_main([*arguments, str(folder), str(work)])
            if status == 0:
                publish(work, site)
                unpublished.unlink()
    except ForeignFile as error:
        raise SiteError(str(error)) from None
    except OSError as error:
        raise SiteError(f"cannot build the {language} site into {site}: {describe(error)}; "
                        f"the site there is as it was") from None
    return status

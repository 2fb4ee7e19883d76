"""Build the site in every language: ``<out>/en/...``, ``<out>/zh_CN/...`` and ``<out>/index.html``.

``python -m generator html`` (what ``make html`` runs). Each language is an ordinary Sphinx build
with ``-D language=<language>`` into ``<out>/<language>``, with its own environment, so a no-op
build stays a no-op in each. The generated pages of a language differ from the other's, so each
language needs its own source folder: English builds from the repository (``docs/api`` as before);
every other language from ``<staging>/<language>``, which holds a copy of the hand-written
``docs/`` (kept in sync, modification times kept, so Sphinx re-reads only what changed) and gets its
own generated ``docs/api``. Every build uses the repository's ``conf.py`` and the same output cache:
examples and probes run once, in the first build; the others take every output from the cache.
"""

from __future__ import annotations

import filecmp
import html
import shutil
import time
from pathlib import Path

from . import ROOT
from .i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES

GENERATED = "api"  # docs/api: the generated pages (``mapping_output``), never copied


def sync_docs(source: Path, target: Path) -> Path:
    """Make ``target`` a copy of ``source`` (a ``docs`` folder) except its generated ``api`` folder.
    Unchanged files are left alone, copies keep their modification time."""
    target.mkdir(parents=True, exist_ok=True)
    wanted: set[Path] = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if relative.parts[0] == GENERATED or path.is_dir():
            continue
        wanted.add(relative)
        copy = target / relative
        if copy.is_file() and filecmp.cmp(path, copy, shallow=False):
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    for path in sorted(target.rglob("*"), reverse=True):
        relative = path.relative_to(target)
        if relative.parts[0] == GENERATED:
            continue
        if path.is_file() and relative not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return target


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


def build(out: Path, *, srcdir: Path = ROOT, confdir: Path = ROOT, staging: Path | None = None,
          languages: list[str] | tuple[str, ...] = LANGUAGES, sphinx_options: list[str] = (),
          overrides: list[str] = (), timings: dict[str, float] | None = None) -> int:
    """Build ``languages`` (default: all) into ``out``; the exit status is the worst of the builds'.

    ``sphinx_options``: further sphinx-build options (``-W``, ``--keep-going``, ``-q``...);
    ``overrides``: ``name=value`` settings passed with ``-D``. ``timings`` gets each build's seconds."""
    from sphinx.cmd.build import build_main

    out = Path(out)
    staging = Path(staging) if staging is not None else out.parent / "src"
    status = 0
    for language in languages:
        folder = source_folder(Path(srcdir), language, staging)
        arguments = ["-b", "html", *sphinx_options, "-c", str(confdir), "-D", f"language={language}",
                     "-D", "mapping_languages=" + ",".join(LANGUAGES)]  # the site's languages, built now or not
        for override in overrides:
            arguments += ["-D", override]
        began = time.monotonic()
        status = max(status, build_main([*arguments, str(folder), str(out / language)]))
        if timings is not None:
            timings[language] = time.monotonic() - began
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(root_index(LANGUAGES), encoding="utf-8")
    return status

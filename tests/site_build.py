"""Build the real site with Sphinx into a temporary folder (shared by the site tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.cmd.build import build_main

from .conftest import ROOT


def build_site(workdir: Path, *overrides: str, mappings: Path | None = None,
               cache: Path | None = None) -> tuple[int, Path, Path]:
    """Copy the hand-written docs to ``workdir`` and build them with the repository's conf.py.

    Returns (exit status, source folder, html folder). Generated pages land in the copy, the
    output cache in ``workdir`` unless ``cache`` names one, so builds in parallel test workers do
    not meet.
    """
    return (build_main(sphinx_arguments(workdir, *overrides, mappings=mappings, cache=cache)),
            workdir / "src", workdir / "html")


def sphinx_arguments(workdir: Path, *overrides: str, mappings: Path | None = None,
                     cache: Path | None = None) -> list[str]:
    """The sphinx-build arguments of ``build_site`` (the docs copied to ``workdir`` first)."""
    source = workdir / "src"
    if not source.exists():
        shutil.copytree(ROOT / "docs", source / "docs", ignore=shutil.ignore_patterns("api"))
    options = [f"mapping_cache={cache or workdir / 'outputs.sqlite'}", "mapping_jobs=2", *overrides]
    if mappings is not None:
        options.append(f"mapping_paths={mappings}")
    args = ["-b", "html", "-W", "--keep-going", "-q", "-c", str(ROOT), str(source), str(workdir / "html")]
    for option in options:
        args += ["-D", option]
    return args

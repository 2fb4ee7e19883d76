"""Benchmark of the whole site build; run by hand, prints figures (not a test).

    .venv/bin/python benchmarks/bench_site.py N [--jobs 2] [--keep DIR] [--templates DIR] [--without-probes]

Makes N valid synthetic mappings in a temporary folder (copies of the repository's mappings under
other API names, in the same source modules; a comment naming the copy makes each example snippet
and each probe call distinct, so a cold build really runs what N such mappings run) and builds the
site with Sphinx, the repository's conf.py and hand-written pages, timing five builds, each in a
fresh process:

  cold         empty example cache, no earlier output (every example executed)
  warm cache   example cache full, output and generated pages removed (a full rebuild)
  no-op        nothing changed
  one edit     one mapping's YAML edited (its summary)
  one added    one more mapping

Each is split into load (YAML -> models), examples and probes (run on the workers), render (pages ->
MyST), Sphinx read and Sphinx write, and says how many snippets ran (examples' sides and probe
drivers, the cache's hits not counted). Then: HTML size of the mapping pages (median, max), of the
largest other page, and in total.
Targets at N = 1,000 (issue 8): cold <= 3 min, warm cache <= 2 min, no-op <= 5 s, one edit <= 10 s,
mapping page <= 60 KB independent of N, total HTML <= 60 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("load", "examples", "probes", "render", "read", "write")


# -- synthetic mappings ---------------------------------------------------------------------

class _BlockDumper(yaml.SafeDumper):
    pass


def _block_strings(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _block_strings)


def synthetic_copy(data: dict, number: int, probes: bool = True) -> dict:
    """The mapping under new API names (``<name>Copy<number>`` on every side of every pair on the
    page: main pair, alternatives, other pairs), snippets made distinct; ``probes=False``: without
    its differential probes (and the difference rows' references to them)."""
    copy = json.loads(json.dumps(data))
    if not probes:
        copy.pop("probes", None)
        for row in copy.get("differences", []):
            row.pop("probes", None)
    sides = [copy.get("source"), copy.get("target")]
    sides += [alternative.get("target") for alternative in copy.get("alternatives", [])]
    sides += [pair.get(side) for pair in copy.get("other_pairs", []) for side in ("source", "target")]
    for side in filter(None, sides):
        api = side["api"]
        renamed = f"{api}Copy{number}"
        side["signature"] = side["signature"].replace(api, renamed)
        side["api"] = renamed
        side.pop("url", None)
    def marked(code: str) -> str:
        return f"# synthetic copy {number}\n{code}"

    for example in copy.get("examples", []):
        for side in ("source", "target"):
            if example.get(side):
                example[side] = marked(example[side])
    probes = copy.get("probes")
    if probes:
        for side in ("source", "target"):
            probes[side] = marked(probes[side])
        for target in probes.get("targets", []):
            target["call"] = marked(target["call"])
    return copy


def write_mappings(folder: Path, count: int, start: int = 0, templates: Path = ROOT / "mappings",
                   probes: bool = True) -> list[Path]:
    """Copies number ``start`` to ``start + count - 1``, cycling through the mappings in ``templates``
    (the repository's, unless told)."""
    originals = sorted(templates.rglob("*.yaml"))
    data = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in originals]
    written = []
    for number in range(start, start + count):
        mapping = synthetic_copy(data[number % len(data)], number, probes)
        module, name = mapping["source"]["api"].rsplit(".", 1)
        path = folder / module / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.dump(mapping, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
        written.append(path)
    return written


# -- one build in a fresh process -----------------------------------------------------------

def one_build(workdir: Path, jobs: int, theme: str) -> dict:
    """Runs inside the child: Sphinx with timers on the generator's stages and Sphinx's events."""
    from sphinx.cmd.build import build_main

    import generator.execute as execute
    import generator.pipeline as pipeline
    import generator.probes as probes
    import generator.site as site

    spent = dict.fromkeys(PHASES, 0.0)
    spent["snippets"] = 0
    marks: dict[str, float] = {}

    def timed(phase, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - started
        return wrapper

    pipeline.load_or_fail = timed("load", pipeline.load_or_fail)
    pipeline.execute = timed("examples", pipeline.execute)
    probes.run_probes = timed("probes", probes.run_probes)
    run = execute.Executor.run

    def counted_run(self, *args, **kwargs):
        try:
            return run(self, *args, **kwargs)
        finally:
            spent["snippets"] += self.stats.executed

    execute.Executor.run = counted_run
    pipeline.render_site = timed("render", pipeline.render_site)

    original_setup = site.setup_site

    def mark(name):
        def handler(*args) -> None:  # returns nothing: env-updated reads a return value as docnames
            marks.setdefault(name, time.perf_counter())
        return handler

    def setup_with_marks(app):
        original_setup(app)
        app.connect("env-before-read-docs", mark("read"))
        app.connect("env-updated", mark("write"))
        app.connect("build-finished", mark("end"), priority=1000)

    site.setup_site = setup_with_marks
    import generator.sphinx_ext as sphinx_ext
    sphinx_ext.setup_site = setup_with_marks

    args = ["-b", "html", "-q", "-c", str(ROOT), str(workdir / "src"), str(workdir / "html"),
            "-D", f"mapping_paths={workdir / 'mappings'}", "-D", f"mapping_cache={workdir / 'outputs.sqlite'}",
            "-D", f"mapping_jobs={jobs}", "-D", f"html_theme={theme}"]
    status = build_main(args)
    if "read" in marks and "write" in marks:
        spent["read"] = marks["write"] - marks["read"]
    if "write" in marks and "end" in marks:
        spent["write"] = marks["end"] - marks["write"]
    return {"status": status, **spent}


def _machine_busy_cpu() -> float:
    """CPU seconds the whole machine has been busy since boot (/proc/stat: all but idle and iowait).
    The workers are killed, not waited for, so the build's own rusage would leave them out."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed_build(workdir: Path, jobs: int, theme: str) -> dict:
    started, cpu = time.perf_counter(), _machine_busy_cpu()
    completed = subprocess.run([sys.executable, __file__, "--one-build", str(workdir), "--jobs", str(jobs),
                                "--theme", theme], capture_output=True, text=True, cwd=ROOT)
    total = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"build failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    if figures["status"] != 0:
        sys.exit(f"sphinx-build failed:\n{completed.stderr[-3000:]}")
    return {"total": total, "cpu": _machine_busy_cpu() - cpu, **figures}


# -- sizes and report -----------------------------------------------------------------------

def html_sizes(html: Path) -> dict:
    api = html / "docs" / "api"
    mapping_pages = [page.stat().st_size for folder in api.iterdir() if folder.is_dir() and folder.name != "modules"
                     for page in folder.glob("*.html")]
    other = sorted((page.stat().st_size, page.relative_to(html).as_posix()) for page in html.rglob("*.html")
                   if page.parent.parent != api or page.parent.name == "modules")
    everything = sum(page.stat().st_size for page in html.rglob("*") if page.is_file())
    return {
        "pages": len(mapping_pages),
        "median": statistics.median(mapping_pages),
        "max": max(mapping_pages),
        "largest_other": other[-1],
        "overview": (api / "index.html").stat().st_size,
        "html_total": sum(page.stat().st_size for page in html.rglob("*.html")),
        "output_total": everything,
    }


def row(name: str, figures: dict) -> str:
    phases = "  ".join(f"{phase} {figures[phase]:6.1f}" for phase in PHASES)
    return (f"{name:<11} {figures['total']:7.1f} s  cpu {figures['cpu']:6.1f} s  ({phases})  "
            f"{figures['snippets']} snippets run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", type=int, nargs="?", default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temporary folder)")
    parser.add_argument("--theme", default="furo", help="html_theme to build with (compare: basic)")
    parser.add_argument("--templates", type=Path, default=ROOT / "mappings",
                        help="folder of mappings to copy (default: the repository's; an older checkout's "
                        "mappings/ compares with figures measured on it)")
    parser.add_argument("--without-probes", action="store_true",
                        help="copies without their differential probes (the workload of mappings that have none)")
    parser.add_argument("--one-build", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one_build:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(one_build(options.one_build, options.jobs, options.theme)))
        return
    workdir = options.keep or Path(tempfile.mkdtemp(prefix="bench-site-"))
    try:
        run(workdir, options.count, options.jobs, options.theme, options.templates, not options.without_probes)
    finally:
        if options.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: Path, count: int, jobs: int, theme: str, templates: Path, probes: bool = True) -> None:
    shutil.copytree(ROOT / "docs", workdir / "src" / "docs", ignore=shutil.ignore_patterns("api"))
    files = write_mappings(workdir / "mappings", count, templates=templates, probes=probes)
    originals = len(list(templates.rglob("*.yaml")))
    print(f"{count} synthetic mappings (copies of {originals} in {templates}{'' if probes else ', without probes'}) "
          f"in {workdir}; jobs={jobs}; theme={theme}; wall-clock seconds, "
          f"cpu = busy CPU seconds of the whole machine during the build (run it on an idle machine)", flush=True)
    results = {"cold": timed_build(workdir, jobs, theme)}
    print(row("cold", results["cold"]), flush=True)
    shutil.rmtree(workdir / "html")
    shutil.rmtree(workdir / "src" / "docs" / "api")
    results["warm cache"] = timed_build(workdir, jobs, theme)
    print(row("warm cache", results["warm cache"]), flush=True)
    results["no-op"] = timed_build(workdir, jobs, theme)
    print(row("no-op", results["no-op"]), flush=True)
    edited = files[len(files) // 2]
    data = yaml.safe_load(edited.read_text(encoding="utf-8"))
    data["source"]["summary"] = "Edited. " + data["source"]["summary"]
    edited.write_text(yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    results["one edit"] = timed_build(workdir, jobs, theme)
    print(row("one edit", results["one edit"]), flush=True)
    write_mappings(workdir / "mappings", 1, start=count, templates=templates, probes=probes)
    results["one added"] = timed_build(workdir, jobs, theme)
    print(row("one added", results["one added"]), flush=True)
    sizes = html_sizes(workdir / "html")
    search = {name: (workdir / "html" / name).stat().st_size / 1024 for name in ("searchindex.js", "_static/api-names.js")}
    print(f"mapping pages: {sizes['pages']}, HTML median {sizes['median'] / 1024:.1f} KB, "
          f"max {sizes['max'] / 1024:.1f} KB; overview {sizes['overview'] / 1024:.1f} KB; largest other page "
          f"{sizes['largest_other'][1]} {sizes['largest_other'][0] / 1024:.1f} KB; HTML total {sizes['html_total'] / 2**20:.1f} MB; "
          f"output folder {sizes['output_total'] / 2**20:.1f} MB; search indexes: Sphinx "
          f"{search['searchindex.js']:.0f} KB, API names {search['_static/api-names.js']:.0f} KB")


if __name__ == "__main__":
    main()

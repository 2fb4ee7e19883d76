"""Timing of the render memo over the repository's mappings; run by hand, prints figures (not a test).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_memo.py [--repeat 5]

Copies ``mappings/`` into a temporary folder and fills a temporary output cache with a made-up
result for every example side and probe driver (so nothing runs on a worker), then prints the
median over ``--repeat`` runs of the CPU time of this process (steadier than the wall clock on a
shared machine; nothing here runs in another process) of:

  save         writing the memo of every mapping (``RenderMemo.save`` with no earlier memo)
  read+load    reading that memo and loading every mapping through it (``RenderMemo`` + ``load``)
  parse        loading every mapping from its YAML instead (``loader.load_file``), for scale
  no-op        a whole ``pipeline.generate`` with nothing changed (memo on, every page reused)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from generator.cache import ResultCache
from generator.loader import find_mapping_files, load_file, load_mappings
from generator.memo import RenderMemo, result_keys
from generator.pipeline import Options, generate

ROOT = Path(__file__).resolve().parent.parent


def made_up_result() -> dict:
    return {"status": "ok", "outputs": [{"line": 1, "text": "1"}], "stderr": "", "error_type": None,
            "error_message": None, "error_line": None, "duration": 0.0, "framework_version": "1.0",
            "device": "cpu", "device_name": "", "produced_on": "2026-01-01"}


def fill_cache(mappings: Path, cache: Path) -> None:
    with ResultCache(cache) as store:
        for loaded in load_mappings([mappings]).mappings:
            store.put_many((key, made_up_result()) for key in result_keys(loaded, "cpu"))


def timed(function) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def memo_figures(files: list[Path], output: Path) -> tuple[float, float]:
    """(save, read+load) seconds of a memo of every file, its pages made up on disk."""
    (output / RenderMemo(output, "bench").path.name).unlink(missing_ok=True)
    memo = RenderMemo(output, "bench")
    mappings = [memo.load(path)[0] for path in files]
    for loaded in mappings:
        page = output / f"{loaded.mapping.page_path}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("page\n")
        memo.results[str(loaded.path)] = "digest"
    save = timed(lambda: memo.save(mappings))

    def read_and_load() -> None:
        again = RenderMemo(output, "bench")
        for path in files:
            again.load(path)

    return save, timed(read_and_load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        mappings = work / "mappings"
        shutil.copytree(ROOT / "mappings", mappings)
        files = find_mapping_files([mappings])
        figures: dict[str, list[float]] = {"save": [], "read+load": [], "parse": [], "no-op": []}
        for _ in range(arguments.repeat):
            save, read = memo_figures(files, work / "memo-only")
            figures["save"].append(save)
            figures["read+load"].append(read)
            figures["parse"].append(timed(lambda: [load_file(path) for path in files]))
        cache = work / "outputs.sqlite"
        fill_cache(mappings, cache)
        options = Options(cache_path=cache, progress=False, allow_missing=True)
        generate([mappings], work / "api", options)
        generate([mappings], work / "api", options)  # the memo now lists every page
        for _ in range(arguments.repeat):
            figures["no-op"].append(timed(lambda: generate([mappings], work / "api", options)))
        memo_file = RenderMemo(work / "api", "bench").path
        print(f"{len(files)} mappings; memo file {memo_file.name}, {memo_file.stat().st_size / 1e6:.2f} MB")
        for name, values in figures.items():
            print(f"  {name:<10} median {statistics.median(values) * 1000:7.1f} ms   "
                  f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})")


if __name__ == "__main__":
    main()

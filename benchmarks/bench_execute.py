"""Benchmark of the execution stage; run by hand, prints figures (not a test).

    .venv/bin/python benchmarks/bench_execute.py [N] [--samples 20] [--jobs J]

1. Per-snippet overhead: a warm worker (round trip minus the snippet's own run time; this
   includes the reset and the isolation check that replaces a worker whose state changed) against
   a fresh ``python -c`` that imports the framework, per framework, measured interleaved; and how
   many workers were replaced on the way (0 expected: plain snippets change nothing). Then the
   cost of one snippet that changes global state (its worker replaced before the next snippet).
2. N synthetic mappings (two tiny snippets each) written as mapping YAML to a temporary folder:
   a cold run (empty cache), a warm run (cache full, same process), a no-op run in a fresh
   process (start, load YAML, cache look-ups; target <= 2 s for N = 1000), and how many snippets
   run again after one mapping's YAML is edited (target: only that mapping's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.execute import Executor, Snippet, execute_mappings  # noqa: E402
from generator.loader import load_mappings  # noqa: E402

MAPPING = """\
source:
  api: torch.bench.Op{i}
  kind: function
  signature: torch.bench.Op{i}(x) -> Tensor
  summary: Synthetic mapping {i} for the benchmark.
target:
  api: mindspore.bench.Op{i}
  kind: function
  signature: mindspore.bench.Op{i}(x) -> Tensor
  summary: Synthetic mapping {i} for the benchmark.
status: consistent
examples:
  - same_values: true
    source: |
      x = {i} + 1
      print(x)
    target: |
      y = {i} + 1
      print(y)
"""

IMPORT = {"torch": "import torch", "mindspore": "import mindspore"}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def overhead(samples: int) -> None:
    print(f"== per-snippet overhead (median; one warm worker; {samples} fresh subprocesses per framework, interleaved)")
    with Executor(jobs=1, progress=False) as pool:
        for framework in ("torch", "mindspore"):
            pool.run([Snippet(framework, "print('warm-up')")])
            warm: list[float] = []
            fresh: list[float] = []
            replaced = 0
            for sample in range(samples):
                code = f"x = {sample} + 1\nprint(x)"
                began = time.perf_counter()
                done = subprocess.run([sys.executable, "-c", f"{IMPORT[framework]}\n{code}"], capture_output=True, text=True)
                fresh.append(time.perf_counter() - began)
                assert done.stdout.strip() == str(sample + 1), done.stderr[-500:]
                pool.run([Snippet(framework, f"{code}\n# warm {sample}.{k}") for k in range(10)])
                warm.extend(trip - own for trip, own in zip(pool.stats.round_trips, pool.stats.durations))
                replaced += pool.stats.workers_replaced
            warm_median, fresh_median = statistics.median(warm), statistics.median(fresh)
            print(f"{framework:>9}: warm pool {ms(warm_median)} ({len(warm)} snippets, {replaced} workers replaced), "
                  f"fresh `python -c` {ms(fresh_median)}, ratio {fresh_median / warm_median:,.0f}x")
            began = time.perf_counter()
            pool.run([Snippet(framework, "import builtins\nbuiltins.hostile = 1"), Snippet(framework, "print(1)")])
            print(f"{'':>9}  a snippet that changes global state, then one more: {ms(time.perf_counter() - began)} "
                  f"({pool.stats.workers_replaced} worker replaced)")


NOOP = """
import json, sys, time
began = time.perf_counter()
sys.path.insert(0, {root!r})
from generator.execute import Executor, execute_mappings
from generator.loader import load_mappings
imported = time.perf_counter()
result = load_mappings([__import__("pathlib").Path({folder!r})])
loaded = time.perf_counter()
with Executor(cache_path=__import__("pathlib").Path({cache!r}), progress=False) as pool:
    runs = execute_mappings(result.mappings, executor=pool)
    stats = pool.stats
done = time.perf_counter()
print(json.dumps({{"import": imported - began, "load": loaded - imported, "lookup": done - loaded,
                   "total_in_process": done - began, "executed": stats.executed, "cached": stats.cached,
                   "workers_started": stats.workers_started, "examples": len(runs)}}))
"""


def mappings_run(count: int, jobs: int) -> None:
    print(f"== {count} synthetic mappings ({2 * count} snippets), jobs={jobs}")
    with tempfile.TemporaryDirectory(prefix="bench-execute-") as tmp:
        folder = Path(tmp) / "mappings"
        folder.mkdir()
        for i in range(count):
            (folder / f"Op{i}.yaml").write_text(MAPPING.format(i=i))
        cache = Path(tmp) / "cache.sqlite"

        began = time.perf_counter()
        mappings = load_mappings([folder]).mappings
        load_time = time.perf_counter() - began
        assert len(mappings) == count

        with Executor(jobs=jobs, cache_path=cache, progress=False) as pool:
            began = time.perf_counter()
            runs = execute_mappings(mappings, executor=pool)
            cold = time.perf_counter() - began
            cold_stats = pool.stats
            assert all(run.comparison.verdict == "agree" for run in runs.values())

            began = time.perf_counter()
            execute_mappings(mappings, executor=pool)
            warm = time.perf_counter() - began
            warm_stats = pool.stats
        print(f"load YAML: {load_time:.2f} s")
        print(f"cold run (empty cache): {cold:.2f} s, {cold_stats.executed} snippets run, "
              f"{cold_stats.workers_started} workers started")
        print(f"warm run (cache full, same process): {warm:.3f} s, {warm_stats.executed} run, {warm_stats.cached} cached")

        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", NOOP.format(root=str(ROOT), folder=str(folder), cache=str(cache))],
                             capture_output=True, text=True, check=True)
        wall = time.perf_counter() - began
        noop = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"no-op run, fresh process: {wall:.2f} s wall (imports {noop['import']:.2f} s, load YAML {noop['load']:.2f} s, "
              f"cache look-ups + compare {noop['lookup']:.3f} s); {noop['executed']} run, {noop['cached']} cached, "
              f"{noop['workers_started']} workers started")

        edited = folder / f"Op{count // 2}.yaml"
        edited.write_text(edited.read_text().replace("print(x)", "print(x * 2)"))
        mappings = load_mappings([folder]).mappings
        with Executor(jobs=jobs, cache_path=cache, progress=False) as pool:
            began = time.perf_counter()
            execute_mappings(mappings, executor=pool)
            elapsed = time.perf_counter() - began
            stats = pool.stats
        print(f"after editing the source code of {edited.name}: {stats.executed} snippet(s) re-executed, "
              f"{stats.cached} cached, {elapsed:.2f} s (includes starting {stats.workers_started} worker)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", nargs="?", type=int, default=200, help="synthetic mappings (default 200, up to 1000)")
    parser.add_argument("--samples", type=int, default=20, help="fresh subprocesses per framework (default 20)")
    parser.add_argument("--jobs", type=int, default=None, help="workers (default: CPU count)")
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    jobs = args.jobs or os.cpu_count() or 1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if not args.skip_overhead:
        overhead(args.samples)
    mappings_run(args.count, jobs)


if __name__ == "__main__":
    main()

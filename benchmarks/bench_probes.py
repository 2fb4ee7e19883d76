"""Benchmark of the differential probes; run by hand, prints figures (not a test).

    .venv/bin/python benchmarks/bench_probes.py [MAPPINGS ...] [--jobs J]

For the mappings (default: the repository's), each in a fresh temporary cache:

1. examples only, cold (empty cache, workers started): what a build cost before probes;
2. examples and probes, cold, on one pool: the difference is the time probes add cold;
3. the same again on the filled cache in a new pool: the no-op rebuild (nothing may run);
4. per mapping: variants, targets, differences per target, and the seconds its probe snippets ran.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.execute import Executor, execute_mappings  # noqa: E402
from generator.loader import load_mappings  # noqa: E402
from generator.probes import run_probes  # noqa: E402


def timed(function):
    began = time.monotonic()
    value = function()
    return time.monotonic() - began, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "mappings"])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    mappings = load_mappings(args.paths).mappings
    with tempfile.TemporaryDirectory() as folder:
        examples_cache, full_cache = Path(folder) / "examples.sqlite", Path(folder) / "full.sqlite"
        with Executor(jobs=args.jobs, cache_path=examples_cache, progress=False) as pool:
            examples_only, _ = timed(lambda: execute_mappings(mappings, executor=pool))
        with Executor(jobs=args.jobs, cache_path=full_cache, progress=False) as pool:
            examples, _ = timed(lambda: execute_mappings(mappings, executor=pool))
            probes_cold, probed = timed(lambda: run_probes(mappings, pool))
            durations = pool.stats.durations
            probe_snippets = pool.stats.executed
        with Executor(jobs=args.jobs, cache_path=full_cache, progress=False) as pool:
            execute_mappings(mappings, executor=pool)
            noop, _ = timed(lambda: run_probes(mappings, pool))
            rerun = pool.stats.executed
    print(f"mappings: {len(mappings)} ({', '.join(str(path) for path in args.paths)}), jobs {args.jobs}")
    print(f"cold, examples only:               {examples_only:7.2f} s")
    print(f"cold, examples then probes:        {examples:7.2f} s + {probes_cold:.2f} s of probes "
          f"({probe_snippets} probe snippets; {sum(durations):.2f} s spent inside them)")
    print(f"no-op rebuild, probes:             {noop:7.3f} s ({rerun} snippets run again)")
    print()
    print(f"{'mapping':40} {'variants':>8}  differences per target")
    total_variants = total_differences = 0
    for api, result in probed.items():
        counts = ", ".join(f"{target.target.api} {len(target.differences)}"
                           + (f" (+{len(target.not_comparable)} not comparable here)" if target.not_comparable else "")
                           for target in result.targets)
        total_variants += len(result.variants) * len(result.targets)
        total_differences += sum(len(target.differences) for target in result.targets)
        print(f"{api:40} {len(result.variants):8}  {counts}")
    print(f"\nvariant runs (variants x targets): {total_variants}; differences: {total_differences}")
    print(f"probe cost per mapping, cold: {probes_cold / max(1, len(probed)):.2f} s on average")


if __name__ == "__main__":
    main()

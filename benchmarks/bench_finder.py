"""How far the counterpart finder gets on the source modules the content issue covers.

    .venv/bin/python benchmarks/bench_finder.py [--sample N] [--seed S] [MODULE...]

Prints, per module: public names (the coverage rule), names with at least one candidate, and the
seconds the queries took; then a seeded random sample of names with their top candidate, to be
checked by hand against the frameworks.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.coverage import public_api  # noqa: E402
from generator.finder import find, target_index  # noqa: E402

MODULES = ("torch.nn", "torch.nn.functional", "torch.optim", "torch.optim.lr_scheduler")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("modules", nargs="*", default=MODULES)
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    started = time.perf_counter()
    entries = target_index()
    print(f"target index: {len(entries)} objects, {sum(len(e.names) for e in entries)} names "
          f"({time.perf_counter() - started:.1f} s)")
    api = public_api(tuple(args.modules))
    tops: dict[str, object] = {}
    for module in args.modules:
        started = time.perf_counter()
        found = 0
        for name in api[module]:
            candidates = find(f"{module}.{name}", limit=1)
            tops[f"{module}.{name}"] = candidates[0] if candidates else None
            found += bool(candidates)
        print(f"{module}: {len(api[module])} public, {found} with a candidate "
              f"({time.perf_counter() - started:.1f} s)")
    total = len(tops)
    print(f"all: {total} public, {sum(top is not None for top in tops.values())} with a candidate")
    for floor in (1.0, 0.9, 0.7):
        print(f"  top score >= {floor}: {sum(top is not None and top.score >= floor for top in tops.values())}")
    print(f"\nsample of {args.sample} (seed {args.seed}): source -> top candidate (score)")
    for source in sorted(random.Random(args.seed).sample(sorted(tops), min(args.sample, total))):
        top = tops[source]
        print(f"  {source} -> {top.api} ({top.score})" if top else f"  {source} -> none")


if __name__ == "__main__":
    main()

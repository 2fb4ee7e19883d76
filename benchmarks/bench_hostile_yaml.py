"""Benchmark of the loader on hostile YAML; run by hand, prints figures (not a test).

    .venv/bin/python benchmarks/bench_hostile_yaml.py [--root DIR] [--limit-s 60] [--limit-mb 4096]

For each file, ``python -m generator check FILE`` runs in a fresh process (from ``--root``, a
checkout, default this one) under a wall-clock and an address-space limit; the script prints the
file's size, the wall time, the peak memory of the child and how ``check`` ended. Files: alias
bombs of 3 to 9 levels (each level an anchored list of nine aliases of the level below, 468
bytes at 9 levels), nesting 500 levels deep, and the repository's largest real mapping repeated
as a baseline.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, levels)]
    return "\n".join(lines) + "\n"


def cases(folder: Path) -> list[tuple[str, Path]]:
    files = []
    for levels in range(3, 10):
        files.append((f"alias bomb, {levels} levels", folder / f"bomb{levels}.yaml"))
        files[-1][1].write_text(alias_bomb(levels))
    files.append(("nesting 500 deep", folder / "deep.yaml"))
    files[-1][1].write_text("source: " + "[" * 500 + "]" * 500 + "\n")
    largest = max((ROOT / "mappings").rglob("*.yaml"), key=lambda path: path.stat().st_size)
    files.append((f"real mapping ({largest.name})", folder / "torch.nn" / largest.name))
    files[-1][1].parent.mkdir()
    files[-1][1].write_text(largest.read_text())
    return files


def measure(root: Path, path: Path, limit_s: float, limit_mb: int) -> tuple[float, float, str]:
    """(wall seconds, peak MiB of the child alone, how it ended)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))

    with tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "generator", "check", str(path)], cwd=root, preexec_fn=limit,
                                 stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        deadline = start + limit_s
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        lines = stderr.read().strip().splitlines() or ["(no output)"]
    if elapsed > limit_s:
        outcome = f"did not finish in {limit_s:.0f} s (killed)"
    else:
        shown = lines[-1] if any(line.startswith("Traceback") for line in lines) else lines[0]
        outcome = f"rc {child.returncode}: {shown}"
    return elapsed, usage.ru_maxrss / 1024, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose generator runs")
    parser.add_argument("--limit-s", type=float, default=60)
    parser.add_argument("--limit-mb", type=int, default=4096)
    args = parser.parse_args()
    print(f"generator from {args.root}; limits {args.limit_s:.0f} s, {args.limit_mb} MiB address space")
    with tempfile.TemporaryDirectory() as temporary:
        for name, path in cases(Path(temporary)):
            elapsed, peak_mb, outcome = measure(args.root, path, args.limit_s, args.limit_mb)
            print(f"{name:32} {path.stat().st_size:6d} B  {elapsed:7.2f} s  peak {peak_mb:7.0f} MiB  {outcome[:110]}")


if __name__ == "__main__":
    main()

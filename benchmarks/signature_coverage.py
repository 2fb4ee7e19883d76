"""Share of public callables whose signature the generator can read and check, per namespace.

    .venv/bin/python benchmarks/signature_coverage.py [torch] [mindspore] [--list]

Counts the public callables of each namespace in ``introspect.COVERAGE_NAMESPACES`` (as
``coverage.public_names`` lists them), reads each one's signature with ``introspect.signature_of``
and prints how many came from each source, the share per namespace and per framework, and the
time taken. pybind11 classes that Python cannot instantiate are left out of the count (and
counted separately). ``--list`` also prints the names that have no readable signature.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator.introspect import COVERAGE_NAMESPACES, SOURCES, framework_coverage  # noqa: E402


def main(argv: list[str]) -> int:
    show_names = "--list" in argv
    frameworks = [name for name in argv if not name.startswith("--")] or list(COVERAGE_NAMESPACES)
    for framework in frameworks:
        began = time.perf_counter()
        rows = framework_coverage(framework)
        seconds = time.perf_counter() - began
        print(f"{framework}:")
        for row in rows:
            sources = ", ".join(f"{source} {row.by_source[source]}" for source in SOURCES)
            print(f"  {row.namespace:32} {row.readable:5}/{row.total:<5} {row.percent:5.1f}%  ({sources}; "
                  f"{len(row.not_constructible)} not constructible, not counted)")
            if show_names:
                for api in row.unreadable:
                    print(f"      no signature: {api}")
        readable = sum(row.readable for row in rows)
        total = sum(row.total for row in rows)
        print(f"  {'all':32} {readable:5}/{total:<5} {100.0 * readable / total:5.1f}%  in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

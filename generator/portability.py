"""The device portability lint: example code must run unchanged on the CPU and on a CUDA GPU.

On a GPU run the PyTorch worker makes CUDA the default device, so factory functions
(``torch.ones``, ``torch.tensor``, layers' weights) give CUDA tensors. Printing must then not go
through a host-only conversion. The portable way to print, on both frameworks:

* print the tensor itself, or convert it explicitly: ``t.cpu().numpy()``, ``t.tolist()``,
  ``t.item()`` in PyTorch; ``t.asnumpy()`` in MindSpore (it copies from any device);
* make tensors from NumPy data with ``torch.tensor(x)``, which follows the default device, not
  ``torch.from_numpy(x)``, which always gives a CPU tensor;
* never name a device in the code (``.cuda()``, ``device="cpu"``): the run chooses it.

An example that must stay on the CPU sets ``cpu_only: true``; the lint skips it and runs on
other devices report it "not run here". ``python -m generator check`` reports each finding as
``file:line:column: examples[i].side: message``.
"""

from __future__ import annotations

import re

from .loader import LoadedMapping, Problem

#: (pattern, message) per framework; a pattern matches code that runs on the CPU only.
RULES: dict[str, list[tuple[re.Pattern, str]]] = {
    "torch": [
        (re.compile(r"(?<!\.cpu\(\))\.numpy\(\)"),
        "`.numpy()` fails on a GPU tensor; print the tensor, or write `.cpu().numpy()`"),
        (re.compile(r"\btorch\.from_numpy\("),
         "`torch.from_numpy` makes a CPU tensor even when the run's device is a GPU; use `torch.tensor(...)`"),
        (re.compile(r"\.cuda\(\)|\bdevice\s*=\s*['\"](?:cpu|cuda)"),
         "the code names a device; leave the choice to the run (or mark the example `cpu_only: true`)"),
    ],
}


def lint_code(framework: str, code: str) -> list[tuple[int, int, str]]:
    """(line, column, message), 1-based, for each construct of ``code`` that ties it to the CPU."""
    found = []
    for number, line in enumerate(code.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for pattern, message in RULES.get(framework, []):
            for match in pattern.finditer(line):
                found.append((number, match.start() + 1, message))
    return found


def portability_problems(loaded: LoadedMapping) -> list[Problem]:
    """Every non-portable construct in the examples (code and setup) of one mapping."""
    mapping = loaded.mapping
    file_lines = loaded.path.read_text(encoding="utf-8").splitlines()
    problems = []
    for index, example in enumerate(mapping.examples):
        if example.cpu_only:
            continue
        for side in ("source", "target"):
            framework = mapping.side_framework(side).key
            for field_path, code in ((("examples", index, side), example.code(side)),
                                     (("examples", index, "setup", side), getattr(example.setup, side))):
                if code is None:
                    continue
                code_lines = code.splitlines()
                for line, column, message in lint_code(framework, code):
                    file_line = loaded.line_in_text(field_path, line)
                    column += _indent(file_lines, file_line, code_lines[line - 1])
                    problems.append(Problem(loaded.path, file_line, column, _field_name(field_path),
                                            f"{message} (or set cpu_only: true)"))
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def _indent(file_lines: list[str], file_line: int, code_line: str) -> int:
    """How far a block scalar's line is indented in the file: columns count from the file's margin."""
    if 1 <= file_line <= len(file_lines):
        found = file_lines[file_line - 1].find(code_line)
        return max(found, 0)
    return 0


def _field_name(field_path: tuple) -> str:
    text = ""
    for part in field_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text

"""``python -m generator new --batch PAIRS``: scaffold many mappings at once.

A pairs file has one pair a line, ``SOURCE_API TARGET_API`` (``torch.nn.GELU mindspore.mint.nn.GELU``);
blank lines and ``#`` comments are skipped. With ``auto``, a line may give the source API alone and
the counterpart finder's top candidate (``finder.top_candidate``) becomes its target.

Contract: the whole file is read and checked first; a malformed line, or a source without a target
(and no candidate to pick), is reported as ``file:line: message`` and nothing is written. Then each
pair goes through ``scaffold.create_mapping``, which writes one complete file or nothing and never
overwrites: a pair whose file exists or whose source is already mapped is skipped with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .scaffold import ScaffoldError, create_mapping

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


class BatchError(Exception):
    """A pairs file that cannot be used; nothing was written."""


@dataclass(frozen=True)
class Pair:
    source: str
    target: str | None
    line: int


@dataclass
class BatchResult:
    written: list[tuple[Pair, Path]] = field(default_factory=list)
    skipped: list[tuple[Pair, str]] = field(default_factory=list)
    picked: list[tuple[Pair, str]] = field(default_factory=list)  # targets the finder chose


def read_pairs(path: Path) -> list[Pair]:
    """The pairs of a pairs file; ``BatchError`` naming file and line for a malformed one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BatchError(f"{path}: cannot read: {error}") from None
    pairs, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) > 2:
            problems.append(f"{path}:{number}: expected 'SOURCE_API [TARGET_API]', found {len(fields)} fields")
            continue
        bad = [name for name in fields if not _DOTTED.fullmatch(name)]
        if bad:
            problems.append(f"{path}:{number}: {bad[0]!r} is not a full dotted name such as torch.nn.L1Loss")
            continue
        pairs.append(Pair(fields[0], fields[1] if len(fields) == 2 else None, number))
    if problems:
        raise BatchError("\n".join(problems))
    return pairs


def scaffold_batch(path: Path, mappings_dir: Path, auto: bool = False) -> BatchResult:
    """Scaffold every pair of ``path`` into ``mappings_dir``; see the module contract."""
    from . import finder

    pairs = read_pairs(path)
    missing = [pair for pair in pairs if pair.target is None]
    if missing and not auto:
        raise BatchError("\n".join(f"{path}:{pair.line}: {pair.source} has no target API "
                                   "(write one, or pass --auto to take the finder's top candidate)"
                                   for pair in missing))
    result = BatchResult()
    resolved: list[Pair] = []
    for pair in pairs:
        if pair.target is not None:
            resolved.append(pair)
            continue
        try:
            best = finder.top_candidate(pair.source)
        except finder.introspect.ApiNotFound as error:
            result.skipped.append((pair, str(error)))
            continue
        if best is None:
            result.skipped.append((pair, f"the finder has no candidate with score >= {finder.MIN_SCORE}"))
            continue
        chosen = Pair(pair.source, best.api, pair.line)
        result.picked.append((chosen, f"score {best.score}"))
        resolved.append(chosen)
    for pair in resolved:
        try:
            result.written.append((pair, create_mapping(pair.source, pair.target, mappings_dir)))
        except ScaffoldError as error:
            result.skipped.append((pair, str(error)))
    return result

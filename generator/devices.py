"""What this machine offers the examples: which frameworks can run here, and which device model.

A framework "runs here" when its distribution is installed, it is among the frameworks asked for
(``--frameworks``), and ``GENERATOR_HIDE_FRAMEWORKS`` does not name it. That variable (a comma
list of framework keys) exists for tests: it makes an installed framework look absent, so the
"not run here" path is tested without uninstalling anything. A side that does not run here is
"not run here": skipped in every report, never a failure of the API, never an expected failure.

Results are keyed by device kind and model (``device_label``): ``cpu: AMD EPYC 7B13``,
``gpu: NVIDIA H100 80GB HBM3``, so two GPU models never overwrite each other in a matrix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .frameworks import FRAMEWORKS

HIDE_ENV = "GENERATOR_HIDE_FRAMEWORKS"


class FrameworkSelectionError(ValueError):
    pass


def parse_frameworks(text: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """``"torch,mindspore"`` -> ("torch", "mindspore"); None means all. Unknown keys are an error."""
    if text is None:
        return None
    items = [item.strip() for item in (text.split(",") if isinstance(text, str) else text) if item.strip()]
    unknown = [item for item in items if item not in FRAMEWORKS]
    if unknown or not items:
        raise FrameworkSelectionError(f"unknown framework {', '.join(unknown) or '(none given)'}: "
                                      f"expected a comma list of {', '.join(FRAMEWORKS)}")
    return tuple(dict.fromkeys(items))


def hidden_frameworks() -> set[str]:
    return {item.strip() for item in os.environ.get(HIDE_ENV, "").split(",") if item.strip()}


def why_not_here(framework: str, selected: Iterable[str] | None = None) -> str | None:
    """Why ``framework`` does not run here (a sentence), or None when it does."""
    if selected is not None and framework not in selected:
        return f"{FRAMEWORKS[framework].display} was not selected (--frameworks {','.join(selected)})"
    if framework in hidden_frameworks() or FRAMEWORKS[framework].version is None:
        return f"{FRAMEWORKS[framework].display} is not installed on this machine"
    return None


def runs_here(framework: str, selected: Iterable[str] | None = None) -> bool:
    return why_not_here(framework, selected) is None


def device_label(device: str, model: str | None) -> str:
    """The matrix key of one device: kind and model, ``gpu: NVIDIA H100 80GB HBM3``."""
    return f"{device}: {model}" if model else device


def split_label(label: str) -> tuple[str, str]:
    """(kind, model) of a ``device_label``; model is "" for a bare kind."""
    kind, _, model = label.partition(": ")
    return kind, model


def missing_frameworks(mappings, selected: Iterable[str] | None = None) -> list[str]:
    """Why each framework that some example of ``mappings`` needs does not run here (empty: all run)."""
    needed = []
    for loaded in mappings:
        mapping = loaded.mapping
        for example in mapping.examples:
            for side in ("source", "target"):
                api = getattr(mapping, side)
                if example.code(side) is not None and api is not None:
                    needed.append(api.api.split(".", 1)[0])
    reasons = [why_not_here(key, selected) for key in dict.fromkeys(needed) if key in FRAMEWORKS]
    return [reason for reason in reasons if reason is not None]

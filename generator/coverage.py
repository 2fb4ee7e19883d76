"""Which public APIs of the configured source modules have no mapping yet.

Public names: a module's ``__all__`` where it has one, otherwise its attributes without a
leading underscore; only callables that belong to the framework are counted (helpers imported
from ``typing`` and the like are not its API); submodules are not APIs.
"""

from __future__ import annotations

import importlib
import inspect
import types
from dataclasses import dataclass

from .loader import LoadedMapping

DEFAULT_MODULES = ("torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim")


@dataclass(frozen=True)
class ModuleCoverage:
    module: str
    public: tuple[str, ...]
    mapped: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        mapped = set(self.mapped)
        return tuple(name for name in self.public if name not in mapped)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.mapped) / len(self.public) if self.public else 100.0


def resolve_namespace(dotted: str) -> object:
    """Import ``torch.nn`` as a module, or ``torch.Tensor`` as an attribute of its module."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        parent, attribute = dotted.rsplit(".", 1)
        return getattr(importlib.import_module(parent), attribute)


def public_names(dotted: str) -> tuple[str, ...]:
    namespace = resolve_namespace(dotted)
    root = dotted.split(".", 1)[0]
    candidates = getattr(namespace, "__all__", None) if isinstance(namespace, types.ModuleType) else None
    names = candidates if candidates is not None else [name for name in dir(namespace) if not name.startswith("_")]
    return tuple(sorted({name for name in names if _is_api(getattr(namespace, name, None), root)}))


def _is_api(value: object, root: str) -> bool:
    if value is None or isinstance(value, types.ModuleType) or not callable(value):
        return False
    module = getattr(value, "__module__", None) or getattr(inspect.getmodule(value), "__name__", None)
    return module is None or module == root or module.startswith(f"{root}.")


def coverage(mappings: list[LoadedMapping], modules: tuple[str, ...] = DEFAULT_MODULES) -> list[ModuleCoverage]:
    mapped_by_module: dict[str, set[str]] = {}
    for loaded in mappings:
        mapped_by_module.setdefault(loaded.mapping.source_module, set()).add(loaded.mapping.name)
    report = []
    for module in modules:
        public = public_names(module)
        mapped = tuple(name for name in public if name in mapped_by_module.get(module, set()))
        report.append(ModuleCoverage(module, public, mapped))
    return report

"""Which public APIs of the configured source modules have no mapping yet.

The public API of a module M (the rule the Coverage page states):

1. its names: M's ``__all__`` where it has one, otherwise its attributes without a leading underscore;
2. of those, classes and functions only: submodules, constants and helpers imported from other
   libraries (``typing`` and the like) are not APIs;
3. defined by M: a class or a Python function counts only if it is defined in M or one of its
   submodules, so re-exports (``Tensor`` in ``torch.nn.functional``) and internals from private
   modules elsewhere (``torch._jit_internal``) are left out. A compiled function (``torch.conv2d``
   exposed as ``torch.nn.functional.conv2d``) has no module of its own and counts where it is exposed,
   unless its ``__module__`` names a private module elsewhere: that is a re-export
   (``torch.nn.functional.has_torch_function`` is ``torch._C.has_torch_function``). A private module is
   not elsewhere when it is the compiled half of the exposing module: its last name, without the
   leading underscore, is one of the exposing module's names (``torch._C._nn.gelu`` counts in
   ``torch.nn.functional``, ``torch._C._linalg`` would count in ``torch.linalg``).
4. For a class namespace such as ``torch.Tensor``: its public methods.

Finding these imports torch, so it runs in a subprocess, never in the Sphinx process, and the
result is cached in ``.cache/public-api.json``, keyed on the installed framework versions.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from . import ROOT
from .frameworks import FRAMEWORKS
from .loader import LoadedMapping

RULE_VERSION = 3  # bump when the rule above changes, so cached results are recomputed
CACHE = ROOT / ".cache" / "public-api.json"

DEFAULT_MODULES = ("torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim", "torch.optim.lr_scheduler")


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
    """The public API of one module or class namespace, by the rule in this module's docstring."""
    namespace = resolve_namespace(dotted)
    if not isinstance(namespace, types.ModuleType):
        names = [name for name in dir(namespace) if not name.startswith("_")]
        return tuple(sorted(name for name in names if callable(getattr(namespace, name, None))))
    candidates = getattr(namespace, "__all__", None)
    names = candidates if candidates is not None else [name for name in dir(namespace) if not name.startswith("_")]
    return tuple(sorted({name for name in names
                         if not name.startswith("_") and _is_api(getattr(namespace, name, None), dotted)}))


def _is_api(value: object, module_name: str) -> bool:
    if value is None or isinstance(value, types.ModuleType) or not callable(value):
        return False
    root = module_name.split(".", 1)[0]
    module = getattr(value, "__module__", None) or getattr(inspect.getmodule(value), "__name__", None)
    if module is None or not (module == root or module.startswith(f"{root}.")):
        return False  # not the framework's own (typing helpers, NumPy, ...)
    if isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)) and not inspect.isclass(value):
        return not _private_elsewhere(module, module_name)  # compiled: counts where it is exposed
    return module == module_name or module.startswith(f"{module_name}.")


def _private_elsewhere(module: str, exposed_in: str) -> bool:
    """``module`` is private (a name with a leading underscore), not inside ``exposed_in`` and not
    its compiled half (``torch._C._nn`` for ``torch.nn.functional``; ``torch._C`` is elsewhere)."""
    names = module.split(".")
    if not any(name.startswith("_") for name in names):
        return False
    if module == exposed_in or module.startswith(f"{exposed_in}."):
        return False
    return names[-1].lstrip("_") not in exposed_in.split(".")


def _versions_key(modules: tuple[str, ...]) -> str:
    versions = ",".join(f"{key}={framework.version}" for key, framework in sorted(FRAMEWORKS.items()))
    return f"rule={RULE_VERSION};{versions};modules={','.join(modules)}"


def public_api(modules: tuple[str, ...], cache: Path | None = CACHE) -> dict[str, tuple[str, ...]]:
    """Public names per module, computed in a subprocess (it imports the frameworks) and cached."""
    key = _versions_key(modules)
    if cache is not None and cache.is_file():
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
            if stored.get("key") == key:
                return {module: tuple(names) for module, names in stored["modules"].items()}
        except (OSError, ValueError, KeyError):
            pass
    completed = subprocess.run([sys.executable, "-m", "generator.coverage", *modules],
                               capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"finding the public API of {', '.join(modules)} failed:\n{completed.stderr[-2000:]}")
    found = json.loads(completed.stdout)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_name(f".{cache.name}.{id(found)}.tmp")
        temporary.write_text(json.dumps({"key": key, "modules": found}), encoding="utf-8")
        temporary.replace(cache)
    return {module: tuple(names) for module, names in found.items()}


def coverage(mappings: list[LoadedMapping], modules: tuple[str, ...] = DEFAULT_MODULES) -> list[ModuleCoverage]:
    mapped_by_module: dict[str, set[str]] = {}
    for loaded in mappings:
        for source, _, _ in loaded.mapping.api_pairs():  # every source API a page covers counts
            module, _, name = source.rpartition(".")
            mapped_by_module.setdefault(module, set()).add(name)
    report = []
    api = public_api(tuple(modules))
    for module in modules:
        public = api[module]
        mapped = tuple(name for name in public if name in mapped_by_module.get(module, set()))
        report.append(ModuleCoverage(module, public, mapped))
    return report


if __name__ == "__main__":  # python -m generator.coverage MODULE...: the public names as JSON
    json.dump({module: list(public_names(module)) for module in sys.argv[1:]}, sys.stdout)

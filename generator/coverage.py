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
result is cached in ``.cache/public-api.json``, keyed on the installed framework versions. That
file is never trusted blindly: one that is not what ``public_api`` writes (not UTF-8 JSON, a list
where an object belongs, names that are not text, a module missing) is ignored with a
``CacheWarning``, computed again and overwritten. Module names (``mapping_coverage_modules``,
``coverage --module``) must be dotted names of modules that import; anything else is a
``CoverageError`` that says which, never a traceback.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import ROOT
from .cache import CacheWarning
from .frameworks import FRAMEWORKS
from .loader import LoadedMapping
from .manifest import write_atomically

RULE_VERSION = 3  # bump when the rule above changes, so cached results are recomputed
CACHE = ROOT / ".cache" / "public-api.json"

DEFAULT_MODULES = ("torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim", "torch.optim.lr_scheduler")
MAX_CACHE_BYTES = 16 << 20  # the file holds some 25 KB
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_CANNOT_IMPORT = 3  # the exit status of ``python -m generator.coverage`` for a module that does not import


class CoverageError(RuntimeError):
    """The public API of the configured modules cannot be found; the message says why."""


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
        if "." not in dotted:
            raise
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


def module_names(value: object) -> tuple[str, ...]:
    """``value`` (a setting: a list of dotted module names) as a tuple, or ``CoverageError``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise CoverageError(f"the coverage modules must be a list of module names, not {type(value).__name__}")
    for name in value:
        if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
            raise CoverageError(f"the coverage modules must be module names such as torch.nn, not {name!r:.80}")
    return tuple(value)


def public_api(modules: tuple[str, ...], cache: Path | None = CACHE) -> dict[str, tuple[str, ...]]:
    """Public names per module, computed in a subprocess (it imports the frameworks) and cached."""
    modules = module_names(modules)
    key = _versions_key(modules)
    stored = _read_cache(cache, key, modules) if cache is not None and cache.is_file() else None
    if stored is not None:
        return stored
    found = compute_public_api(modules)
    if cache is not None:
        _write_cache(cache, {"key": key, "modules": found})
    return {module: tuple(names) for module, names in found.items()}


def _write_cache(cache: Path, stored: dict) -> None:
    """Save ``stored`` for the next build; one that cannot be saved (a read-only or full disk) is
    found again next time."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cache, json.dumps(stored).encode("utf-8"))
    except OSError as error:
        warnings.warn(f"coverage cache {cache} cannot be written ({error.strerror or error})", CacheWarning, stacklevel=3)


def compute_public_api(modules: tuple[str, ...]) -> dict[str, list[str]]:
    """``public_names`` of each module, found in a subprocess: it imports the frameworks."""
    completed = subprocess.run([sys.executable, "-m", "generator.coverage", *modules],
                               capture_output=True, text=True, cwd=ROOT)
    if completed.returncode == _CANNOT_IMPORT:
        raise CoverageError(completed.stderr.strip()[-2000:])
    if completed.returncode != 0:
        raise CoverageError(f"finding the public API of {', '.join(modules)} failed:\n{completed.stderr[-2000:]}")
    try:
        found = json.loads(completed.stdout)
    except ValueError:
        found = None
    if not _holds_names(found, modules):
        raise CoverageError(f"finding the public API of {', '.join(modules)} printed no list of names")
    return found


def _read_cache(cache: Path, key: str, modules: tuple[str, ...]) -> dict[str, tuple[str, ...]] | None:
    """The names ``cache`` holds for ``key``; None where it holds another key (other versions), and
    where it holds anything but what ``public_api`` writes (then with a warning)."""
    try:
        with open(cache, "rb") as stream:
            data = stream.read(MAX_CACHE_BYTES + 1)
        if len(data) > MAX_CACHE_BYTES:
            raise ValueError(f"larger than {MAX_CACHE_BYTES} bytes")
        stored = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        return _unusable(cache, str(error))
    if not isinstance(stored, dict) or not isinstance(stored.get("modules"), dict):
        return _unusable(cache, "not an object holding `key` and `modules`")
    if stored.get("key") != key:
        return None
    if not _holds_names(stored["modules"], modules):
        return _unusable(cache, "`modules` does not hold a list of names for each module")
    return {module: tuple(stored["modules"][module]) for module in modules}


def _holds_names(found: object, modules: tuple[str, ...]) -> bool:
    """``found`` maps each of ``modules`` to a list of names."""
    return isinstance(found, dict) and all(
        isinstance(found.get(module), list) and all(isinstance(name, str) for name in found[module])
        for module in modules)


def _unusable(cache: Path, why: str) -> None:
    warnings.warn(f"coverage cache {cache} is unusable ({why}); finding the public API again",
                  CacheWarning, stacklevel=2)
    return None


def coverage(mappings: list[LoadedMapping], modules: tuple[str, ...] = DEFAULT_MODULES) -> list[ModuleCoverage]:
    mapped_by_module: dict[str, set[str]] = {}
    for loaded in mappings:
        for source, _, _ in loaded.mapping.api_pairs():  # every source API a page covers counts
            module, _, name = source.rpartition(".")
            mapped_by_module.setdefault(module, set()).add(name)
    report = []
    modules = module_names(modules)
    api = public_api(modules)
    for module in modules:
        public = api[module]
        mapped = tuple(name for name in public if name in mapped_by_module.get(module, set()))
        report.append(ModuleCoverage(module, public, mapped))
    return report


def _main(modules: list[str]) -> int:
    """``python -m generator.coverage MODULE...``: the public names as JSON on stdout."""
    found = {}
    for module in modules:
        try:
            found[module] = list(public_names(module))
        except (ImportError, AttributeError) as error:
            print(f"coverage module {module} cannot be imported: {error}", file=sys.stderr)
            return _CANNOT_IMPORT
    json.dump(found, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

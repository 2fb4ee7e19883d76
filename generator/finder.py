"""``python -m generator find SOURCE_API``: ranked MindSpore candidates for a PyTorch API.

Contract:

- Candidates are the public callables of ``TARGET_NAMESPACES`` as the installed MindSpore has
  them: each namespace's ``__all__``, plus the names it exposes beyond it that are MindSpore's own
  classes or objects found already (``mindspore.mint.nn.__all__`` leaves out ``LayerNorm`` and
  ``Dropout``, ``mindspore.mint.nn.functional.__all__`` leaves out ``hardshrink``, all of which it
  exposes; the other functions it leaves out are its implementation's imports). Submodules are not
  candidates; a namespace the installed package lacks is skipped.
- Names that are the same object (``mindspore.nn.Linear is mindspore.mint.nn.Linear``) form one
  candidate: its ``api`` is its name in the namespace ``PREFERRED`` ranks first for the source's
  module, else the first listed; the rest are its ``aliases``.
- Each candidate gets a score in [0, 1] and the reasons behind it (``Candidate.why``):
  name similarity, case and underscores ignored (weight ``NAME_WEIGHT``); the overlap of parameter
  names, read with ``introspect.signature_of``, leaving out parameters the source documents as
  deprecated (weight ``PARAMS_WEIGHT``; between two classes, constructor parameters by name and call
  inputs by number, since MindSpore often names inputs ``x`` or ``logits`` where PyTorch says ``input``); the same kind, class or function (``KIND_WEIGHT``); a namespace that
  MindSpore offers PyTorch users for the source's module (``NAMESPACE_WEIGHT``, ``PREFERRED``).
- Only the ``SHORTLIST`` best names are scored on their signatures, so a query reads a few
  signatures, not thousands. Results with a score below ``MIN_SCORE`` are not candidates.

Nothing is hard-coded about which API maps to which: the ranking comes from the installed packages.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import types
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from . import introspect

#: Where candidates are looked for, most recommended to PyTorch users first.
TARGET_NAMESPACES = (
    "mindspore.mint.nn",
    "mindspore.mint.nn.functional",
    "mindspore.mint.optim",
    "mindspore.mint",
    "mindspore.mint.special",
    "mindspore.mint.linalg",
    "mindspore.experimental.optim",
    "mindspore.experimental.optim.lr_scheduler",
    "mindspore.nn",
    "mindspore.nn.probability",
    "mindspore.ops",
)

#: For a source module, the target namespaces that hold its natural counterparts.
PREFERRED = {
    "torch.nn": ("mindspore.mint.nn", "mindspore.nn"),
    "torch.nn.functional": ("mindspore.mint.nn.functional", "mindspore.mint", "mindspore.ops"),
    "torch.optim": ("mindspore.mint.optim", "mindspore.experimental.optim"),
    "torch.optim.lr_scheduler": ("mindspore.experimental.optim.lr_scheduler",),
    "torch": ("mindspore.mint", "mindspore.ops"),
    "torch.special": ("mindspore.mint.special", "mindspore.ops"),
    "torch.linalg": ("mindspore.mint.linalg", "mindspore.ops"),
}

NAME_WEIGHT, PARAMS_WEIGHT, KIND_WEIGHT, NAMESPACE_WEIGHT = 0.5, 0.25, 0.15, 0.1
#: Between two classes: the share of the parameter score that the constructor's names carry.
CONSTRUCTOR_SHARE = 0.75
SHORTLIST = 12
MIN_SCORE = 0.5


@dataclass
class Candidate:
    api: str
    kind: str
    score: float
    why: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Entry:
    """One target object and every public name it has in the target namespaces."""

    names: tuple[str, ...]
    kind: str

    @property
    def api(self) -> str:
        return self.names[0]


def normalized(name: str) -> str:
    """The part of a name that matching looks at: lower case, no underscores."""
    return name.replace("_", "").lower()


def name_similarity(left: str, right: str) -> float:
    a, b = normalized(left), normalized(right)
    return 1.0 if a == b else difflib.SequenceMatcher(None, a, b).ratio()


def _listed(namespace: types.ModuleType) -> list[str]:
    return [name for name in getattr(namespace, "__all__", ()) if isinstance(name, str) and not name.startswith("_")]


def _exposed(namespace: types.ModuleType) -> list[str]:
    listed = set(_listed(namespace))
    return [name for name in dir(namespace) if not name.startswith("_") and name not in listed]


def _own_class(value: object) -> bool:
    """A class that MindSpore itself defines (not a helper imported from elsewhere)."""
    module = getattr(value, "__module__", None) or ""
    return inspect.isclass(value) and module.split(".", 1)[0] == "mindspore"


def _candidate_value(namespace: types.ModuleType, name: str) -> object | None:
    try:
        value = getattr(namespace, name)
    except Exception:
        return None
    return None if isinstance(value, types.ModuleType) or not callable(value) else value


@lru_cache(maxsize=None)
def target_index(namespaces: tuple[str, ...] = TARGET_NAMESPACES) -> tuple[_Entry, ...]:
    """Every candidate object of the installed MindSpore, same objects grouped (see the contract).

    First every namespace's ``__all__``; then the names a namespace exposes beyond it: its own
    classes, and any object already found (``mindspore.mint.nn.functional.hardshrink`` is listed
    in ``mindspore.ops`` only), so an exposed name never brings in an implementation helper.
    """
    modules = []
    for dotted in namespaces:
        try:
            modules.append((dotted, importlib.import_module(dotted)))
        except Exception:
            continue  # a namespace this MindSpore version lacks
    names_of: dict[int, list[str]] = {}
    objects: dict[int, object] = {}

    def add(dotted: str, name: str, value: object) -> None:
        objects[id(value)] = value
        names = names_of.setdefault(id(value), [])
        if f"{dotted}.{name}" not in names:  # some ``__all__`` lists a name twice
            names.append(f"{dotted}.{name}")

    for dotted, module in modules:
        for name in _listed(module):
            value = _candidate_value(module, name)
            if value is not None:
                add(dotted, name, value)
    for dotted, module in modules:
        for name in _exposed(module):
            value = _candidate_value(module, name)
            if value is not None and (_own_class(value) or id(value) in objects):
                add(dotted, name, value)
    return tuple(_Entry(tuple(names), "class" if inspect.isclass(objects[key]) else "function")
                 for key, names in names_of.items())


@dataclass(frozen=True)
class _Params:
    """The parameter names of one API: a class's constructor and its call inputs apart."""

    names: frozenset[str]  # the constructor's, or a function's
    inputs: frozenset[str] | None = None  # a class's call inputs, when read

    @property
    def everything(self) -> set[str]:
        return set(self.names) | set(self.inputs or ())


def _params(api: str, kind: str, leave_out: set[str] = frozenset()) -> _Params | None:
    try:
        signature = introspect.signature_of(api, kind)
    except Exception:  # an API whose reading fails has no known parameters; it still ranks by name
        return None
    if signature is None:
        return None

    def names(params: list) -> frozenset[str]:
        return frozenset(param.name for param in params
                         if not param.is_variadic and param.name != "self" and param.name not in leave_out)

    if signature.kind == "class":
        return _Params(names(signature.parameters), names(signature.inputs) if signature.has_call else None)
    return _Params(names(signature.parameters))


def _overlap(source: _Params | None, target: _Params | None) -> tuple[float, str]:
    if source is None or target is None:
        return 0.0, "parameters: unreadable on one side"
    if source.inputs is not None and target.inputs is not None:
        score, why = _name_overlap(set(source.names), set(target.names))
        same_arity = len(source.inputs) == len(target.inputs)
        return (CONSTRUCTOR_SHARE * score + (1 - CONSTRUCTOR_SHARE) * same_arity,
                f"constructor {why}; call inputs: {len(source.inputs)} and {len(target.inputs)}")
    return _name_overlap(source.everything, target.everything)


def _name_overlap(source: set[str], target: set[str]) -> tuple[float, str]:
    if not source and not target:
        return 1.0, "parameters: none on either side"
    shared = sorted(source & target)
    listed = f" ({', '.join(shared)})" if shared else ""
    return len(shared) / len(source | target), f"parameters: {len(shared)} shared of {len(source | target)}{listed}"


def find(source_api: str, limit: int = 5, namespaces: tuple[str, ...] = TARGET_NAMESPACES) -> list[Candidate]:
    """The best ``limit`` candidates for ``source_api`` with score >= ``MIN_SCORE``, best first.

    Raises ``introspect.ApiNotFound`` when the source API does not exist.
    """
    source_obj = introspect.resolve(source_api)
    source_kind = "class" if inspect.isclass(source_obj) else "function"
    source_module, source_name = source_api.rsplit(".", 1)
    preferred = PREFERRED.get(source_module, ())
    shortlist = sorted(target_index(namespaces), key=lambda entry: (
        -max(name_similarity(source_name, name.rsplit(".", 1)[1]) for name in entry.names),
        entry.kind != source_kind, entry.api))[:SHORTLIST]
    source_params = _params(source_api, source_kind, introspect.deprecated_parameters(source_api))
    candidates = [_score(entry, source_name, source_kind, source_params, preferred) for entry in shortlist]
    rank = {namespace: index for index, namespace in enumerate(preferred)}
    candidates.sort(key=lambda candidate: (-candidate.score, rank.get(candidate.api.rsplit(".", 1)[0], len(rank)),
                                           candidate.api))
    return [candidate for candidate in candidates if candidate.score >= MIN_SCORE][:limit]


def _score(entry: _Entry, source_name: str, source_kind: str, source_params: _Params | None,
           preferred: tuple[str, ...]) -> Candidate:
    best_name = max(entry.names, key=lambda name: name_similarity(source_name, name.rsplit(".", 1)[1]))
    similarity = name_similarity(source_name, best_name.rsplit(".", 1)[1])
    params, params_why = _overlap(source_params, _params(entry.api, entry.kind))
    same_kind = entry.kind == source_kind
    in_preferred = sorted((name for name in entry.names if name.rsplit(".", 1)[0] in preferred),
                          key=lambda name: preferred.index(name.rsplit(".", 1)[0]))
    score = (NAME_WEIGHT * similarity + PARAMS_WEIGHT * params + KIND_WEIGHT * same_kind
             + NAMESPACE_WEIGHT * bool(in_preferred))
    why = ["name: same (case and underscores ignored)" if similarity == 1.0
           else f"name: {similarity:.2f} similar ({best_name.rsplit('.', 1)[1]})",
           params_why,
           f"kind: {'same' if same_kind else 'differs'} ({entry.kind})"]
    if in_preferred:
        why.append(f"namespace: {in_preferred[0].rsplit('.', 1)[0]} is where MindSpore puts such APIs")
    api = in_preferred[0] if in_preferred else entry.api
    aliases = [name for name in entry.names if name != api]
    return Candidate(api, entry.kind, round(score, 3), why, aliases)


def top_candidate(source_api: str) -> Candidate | None:
    found = find(source_api, limit=1)
    return found[0] if found else None

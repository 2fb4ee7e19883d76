"""Differential probes: call both APIs of a mapping on derived edge-case inputs and compare.

Contract
--------
* ``derive_variants(probes)`` turns a mapping's ``probes`` section into a fixed list of named
  variants (``random``, ``special:nan``, ``special:nan@last``, ``empty``, ``empty:w``, ``dtype:int8``,
  ``broadcast:x``, ``parameter:p=2``, ``rank:+1``, ``negative``, ...), each making one change
  against the ordinary (``random``) input.
  A variant holds its inputs' specs (``tensor_spec``: dtype, shape, domain, the seed of its
  numbers), never their values: the driver builds each input in the worker (``_probe_input``),
  from a generator seeded by the variant's and the input's names, so the same YAML always gives
  the same inputs, adding a variant never changes the others, and the build process holds no
  input values whatever the shapes (which ``schema`` bounds anyway).
* ``probe_snippets`` makes one ``execute.Snippet`` per side (source, target, each further target):
  a driver that builds every variant's inputs as that framework's tensors, runs the call template,
  waits for the framework (MindSpore runs ops asynchronously), and prints one JSON line per
  variant. They run through the same ``execute.Executor`` (warm contained workers, result cache)
  as examples, so a no-op rebuild runs nothing. A driver's cache key is its ``probe_identity``
  (the probe spec, the call template and a fingerprint of the code that derives inputs and
  drives the call), not its code.
* The result lines carry a nonce that the driver draws in the worker and announces before any
  probed code runs (``MARKER``): what the probed code prints cannot pass for a result.
  ``parse_side`` never raises: a variant without a readable outcome is lost, and its side gets a
  ``failure``; a lost variant is neither agreeing nor differing (``TargetProbes.lost``), and the
  page and ``verify`` say how many were lost.
* The driver runs each variant twice, building its inputs again from the same spec; where the two
  runs differ (``compare_outcomes``), the variant is nondeterministic on that side
  (``ProbeSide.nondeterministic``): never counted as agreeing nor as differing
  (``TargetProbes.nondeterministic``), and shown as such on the page.
* ``compare_outcomes`` compares two outcomes of one variant: raises on one side only, kind of
  result, dtype, shape, then values within the tolerance of the dtype (``TOLERANCES``).
* ``sameness_problems`` says why a status that claims the same behaviour is not earned: variant
  kinds left out that apply (``missing_kinds``), differing, nondeterministic or lost variants.
* ``run_probes`` returns ``{source api: MappingProbes}``; the page's "Behaviour compared" section
  (``behaviour_view``) and ``verify`` (``probe_findings``) read it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import html
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .results import Snippet, failure_text
from .worker import OUTPUT_LIMIT
from .frameworks import framework_of
from .schema import (MAX_PROBE_ELEMENTS, MAX_PROBE_RANK, PROBE_DTYPES, VARIANT_KINDS, Difference, Mapping, Probes,
                     Status)

if TYPE_CHECKING:
    from .execute import Executor

MARKER = "@@probe "
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
# (rtol, atol) per dtype; integers and bool compare exactly
TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
              "float64": (1e-9, 1e-12)}
SPECIAL_VALUES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "zero": 0.0, "-zero": -0.0,
                  "denormal": 1e-40, "huge": 1e30, "tiny": 1e-30}
VALUES_KEPT = 4096  # numbers of one output kept for comparison
SHOWN_VALUES = 6  # numbers of one output shown in a table cell
CHECKED_STATUSES = (Status.consistent, Status.names_differ)


# ---------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    name: str  # "special:nan"; what difference rows name in ``probes``
    kind: str  # one of schema.VARIANT_KINDS
    inputs: dict  # input name -> its spec (``tensor_spec``) or {"kind": "value", "value": v}
    about: str  # what is special about it, for the page


def tensor_spec(spec, name: str, variant: str, dtype: str | None = None, shape: list[int] | None = None) -> dict:
    """What the driver builds one tensor input from (``_probe_input``, in the worker): dtype, shape,
    domain and the seed of its numbers, from the input's name and the variant's. Never the numbers:
    the build process holds no input values, whatever the shape."""
    return {"kind": "tensor", "dtype": dtype or spec.dtype, "shape": list(spec.shape if shape is None else shape),
            "domain": spec.domain, "high": spec.high, "seed": zlib.crc32(f"{variant}/{name}".encode())}


def _base(probes: Probes, variant: str, **changes) -> dict:
    """Every input as in ordinary use; ``changes`` maps input name -> (dtype, shape) overrides."""
    inputs = {}
    for name, spec in probes.inputs.items():
        if spec.kind == "value":
            inputs[name] = {"kind": "value", "value": spec.value}
        else:
            dtype, shape = changes.get(name, (None, None))
            inputs[name] = tensor_spec(spec, name, variant, dtype, shape)
    return inputs


def _range_values(low: float | None, high: float | None) -> list[tuple[float, str]]:
    """Values at both documented ends, one step beyond each, and one inside the range."""
    span = (high - low) if low is not None and high is not None else 1.0
    step = max(span / 2, 1.0) if span else 1.0
    values = []
    if low is not None:
        values += [(low, "at the low end"), (low - step, "below the documented range")]
    if high is not None:
        values += [(high, "at the high end"), (high + step, "above the documented range")]
    if low is not None and high is not None:
        values.append(((low + high) / 2, "inside the documented range"))
    elif low is not None or high is not None:
        values.append((low + step if low is not None else high - step, "inside the documented range"))
    return values


def _number(value: float, like) -> float | int:
    return int(value) if isinstance(like, int) and not isinstance(like, bool) and float(value).is_integer() else value


SPECIAL_POSITIONS = ("middle", "last")  # besides the first row; one element each
POSITIONED_SPECIALS = ("nan", "inf", "-inf")  # the values tried at those positions
NEGATIVE_DTYPES = ("uint8", "bool")  # dtypes that hold no negative number
NEGATIVE_DOMAINS = ("real", "sign")  # domains that hold negative numbers


def derive_variants(probes: Probes) -> list[Variant]:
    """Every variant of ``probes``, in a fixed order, named uniquely (specs only, no values).

    Each variant makes one change against the ordinary (``random``) input, besides the seed of its
    numbers: one input's shape, or one attribute set to one value on the inputs it applies to (a
    dtype, a special value at one position, all-negative numbers, a parameter's value). ``empty``
    is the one change "batch size 0": the main (first) tensor input's leading dimension, and that
    of every tensor input that shares its leading size (the batch), set to 0; ``empty:<input>``
    empties one input alone."""
    tensors = {name: spec for name, spec in probes.inputs.items() if spec.kind == "tensor"}
    kinds = set(probes.variants)
    variants: list[Variant] = []
    for kind, derive in _DERIVERS:
        if kind in kinds:
            variants += derive(probes, tensors)
    return variants


def _random(probes: Probes, tensors: dict) -> list[Variant]:
    return [Variant("random", "random", _base(probes, "random"), "ordinary random values")]


def _special(probes: Probes, tensors: dict) -> list[Variant]:
    floats = [name for name, spec in tensors.items() if spec.special and spec.dtype in FLOAT_DTYPES]
    if not floats:
        return []
    variants = []
    for label, number in SPECIAL_VALUES.items():
        name = f"special:{label}"
        inputs = _base(probes, name)
        for input_name in floats:
            inputs[input_name]["first_row"] = number
        variants.append(Variant(name, "special", inputs, f"{number!r} in the first row of " + ", ".join(floats)))
    for position in SPECIAL_POSITIONS:
        for label in POSITIONED_SPECIALS:
            name = f"special:{label}@{position}"
            inputs = _base(probes, name)
            for input_name in floats:
                inputs[input_name]["special_at"] = [position, SPECIAL_VALUES[label]]
            variants.append(Variant(name, "special", inputs, f"{SPECIAL_VALUES[label]!r} at the {position} element "
                                    "of " + ", ".join(floats)))
    return variants


def _emptied(shape: list[int]) -> list[int]:
    return [0, *shape[1:]] if shape else [0]


def _empty(probes: Probes, tensors: dict) -> list[Variant]:
    if not tensors:
        return []
    main, spec = next(iter(tensors.items()))
    batch = spec.shape[0] if spec.shape else None
    sharing = {name: (None, _emptied(other.shape)) for name, other in tensors.items()
               if name == main or (batch is not None and other.shape and other.shape[0] == batch)}
    variants = [Variant("empty", "empty", _base(probes, "empty", **sharing),
                        "leading dimension 0 (an empty batch) of " + ", ".join(sharing))]
    for name, other in tensors.items():
        if set(sharing) == {name}:
            continue  # the same change as ``empty``
        variant = f"empty:{name}"
        variants.append(Variant(variant, "empty", _base(probes, variant, **{name: (None, _emptied(other.shape))}),
                                f"{name} alone with leading dimension 0"))
    return variants


def _scalar(probes: Probes, tensors: dict) -> list[Variant]:
    if not tensors:
        return []
    changes = {name: (None, []) for name in tensors}
    return [Variant("scalar", "scalar", _base(probes, "scalar", **changes), "0-d tensors")]


def _dtype(probes: Probes, tensors: dict) -> list[Variant]:
    varying = [name for name, spec in tensors.items() if spec.vary_dtype]
    variants = []
    for dtype in PROBE_DTYPES if varying else ():
        name = f"dtype:{dtype}"
        changes = {input_name: (dtype, None) for input_name in varying}
        variants.append(Variant(name, "dtype", _base(probes, name, **changes), f"{', '.join(varying)} as {dtype}"))
    return variants


def _broadcast(probes: Probes, tensors: dict) -> list[Variant]:
    variants = []
    for input_name, spec in tensors.items():
        if not spec.broadcast or not spec.shape:
            continue
        for suffix, shape, about in (("", [1, *spec.shape[1:]], "leading dimension 1"),
                                     (":rank", list(spec.shape[1:]), "leading dimension dropped")):
            name = f"broadcast:{input_name}{suffix}"
            inputs = _base(probes, name, **{input_name: (None, shape)})
            variants.append(Variant(name, "broadcast", inputs, f"{input_name} with {about}"))
    return variants


def _rank(probes: Probes, tensors: dict) -> list[Variant]:
    """The main input with one more leading dimension (of 2), where rank and size allow, and
    unbatched (leading dimension dropped) unless ``broadcast:<main>:rank`` already is that."""
    if not tensors:
        return []
    main, spec = next(iter(tensors.items()))
    shape = list(spec.shape or [])
    variants = []
    if len(shape) < MAX_PROBE_RANK and 2 * math.prod(shape) <= MAX_PROBE_ELEMENTS:
        variants.append(Variant("rank:+1", "rank", _base(probes, "rank:+1", **{main: (None, [2, *shape])}),
                                f"{main} with one more leading dimension"))
    if shape and not spec.broadcast:
        variants.append(Variant("rank:-1", "rank", _base(probes, "rank:-1", **{main: (None, shape[1:])}),
                                f"{main} unbatched (leading dimension dropped)"))
    return variants


def _negative(probes: Probes, tensors: dict) -> list[Variant]:
    """The main input with every number negative, where its domain and dtype hold negative numbers:
    a `positive` or `unit` input (a scale, a probability) is declared to take none, so negating it
    would leave the input's domain rather than vary a value within it."""
    if not tensors:
        return []
    main, spec = next(iter(tensors.items()))
    if spec.domain not in NEGATIVE_DOMAINS or spec.dtype in NEGATIVE_DTYPES:
        return []
    inputs = _base(probes, "negative")
    inputs[main]["negative"] = True
    return [Variant("negative", "negative", inputs, f"{main} all negative")]


def _parameter(probes: Probes, tensors: dict) -> list[Variant]:
    variants = []
    for input_name, spec in probes.inputs.items():
        if spec.kind != "value":
            continue
        tried = [(value, "documented choice or other type") for value in spec.values]
        if spec.range is not None:
            tried += [(_number(number, spec.value), about) for number, about in _range_values(*spec.range)]
        seen = {json.dumps(spec.value)}
        for value, about in tried:
            key = json.dumps(value)
            if key in seen:
                continue
            seen.add(key)
            name = f"parameter:{input_name}={_short(value)}"
            inputs = _base(probes, name)
            inputs[input_name] = {"kind": "value", "value": value}
            variants.append(Variant(name, "parameter", inputs, f"{input_name}={_short(value)}: {about}"))
    return variants


# The kinds in the order their variants are listed (older kinds first: pages keep their order).
_DERIVERS = (("random", _random), ("special", _special), ("empty", _empty), ("scalar", _scalar),
             ("dtype", _dtype), ("broadcast", _broadcast), ("parameter", _parameter), ("rank", _rank),
             ("negative", _negative))


def _short(value) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_short(item) for item in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


# ---------------------------------------------------------------- the driver run in a worker

_COMMON = r'''
import ast as _ast, json as _json, math as _math, os as _os
import numpy as np

def _probe_numbers(spec):
    """The numbers of one tensor input (a flat list), drawn from the generator seeded by its spec."""
    rng = np.random.default_rng(spec["seed"])
    size = _math.prod(spec["shape"])
    domain, dtype = spec["domain"], spec["dtype"]
    if domain == "index":
        numbers = rng.integers(0, spec["high"], size).tolist()
    elif domain == "sign":
        numbers = rng.choice([-1, 1], size).tolist()
    elif domain == "positive":
        numbers = rng.uniform(0.1, 2.0, size).tolist()
    elif domain == "unit":
        numbers = rng.uniform(0.0, 1.0, size).tolist()
    else:
        numbers = rng.normal(0.0, 1.0, size).tolist()
    if dtype == "bool":
        numbers = [bool(number > 0) if domain in ("real", "sign") else bool(round(number)) for number in numbers]
    elif dtype not in %(floats)r:
        low = 0 if dtype == "uint8" else -5
        numbers = [int(max(low, min(5, round(number * 3 if domain == "real" else number)))) for number in numbers]
    else:
        numbers = [round(number, 4) for number in numbers]
    if spec.get("negative"):
        numbers = [-(abs(number) or 1) for number in numbers]
    if "first_row" in spec:  # a special value
        row = _math.prod(spec["shape"][1:]) if len(spec["shape"]) > 1 else 1
        numbers[:row] = [spec["first_row"]] * min(row, len(numbers))
    if "special_at" in spec and numbers:  # a special value at one element: ["middle" or "last", value]
        position, value = spec["special_at"]
        numbers[len(numbers) // 2 if position == "middle" else len(numbers) - 1] = value
    return numbers

def _probe_array(spec):
    dtype = spec["dtype"]
    made = "float32" if dtype == "bfloat16" else dtype
    return np.array(_probe_numbers(spec), dtype=np.float64 if made in ("float16", "float32", "float64") else None
                    ).astype(made).reshape(spec["shape"])

def _probe_input(spec):
    """One input of a probe call, built from its spec (``probes.tensor_spec``, or a plain value)."""
    return _probe_tensor(spec) if spec["kind"] == "tensor" else _probe_plain(spec["value"])

def _probe_plain(value):
    return tuple(_probe_plain(item) for item in value) if isinstance(value, list) else value

def _probe_number(value):
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    value = float(value)
    return value if _math.isfinite(value) else str(value)

def _probe_encode(value):
    if isinstance(value, (tuple, list)):
        return {"items": [_probe_encode(item) for item in value]}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return {"python": type(value).__name__, "value": _probe_number(value)}
    array = _probe_numpy(value)
    if array is None:
        return {"object": type(value).__name__}
    dtype, array = array
    flat = array.reshape(-1)[:%(kept)d].tolist()
    return {"dtype": dtype, "shape": list(array.shape), "values": [_probe_number(item) for item in flat]}

def _probe_once(inputs, body_code, last_code, namespace):
    """One run of one variant: its inputs built afresh from their specs, the template run, the
    framework waited for; the outcome encoded, or the error it raised."""
    scope = dict(namespace)
    try:
        for key, spec in inputs.items():
            scope[key] = _probe_input(spec)
        exec(body_code, scope)
        outcome = _probe_encode(eval(last_code, scope))
        _probe_sync()
        return outcome
    except BaseException as error:
        try:  # an asynchronous framework keeps a failed op's error pending: drain it here
            _probe_sync()
        except BaseException:
            pass
        text = ""
        try:
            text = str(error)
        except Exception:
            pass
        first = next((line.strip() for line in text.splitlines() if any(c.isalnum() for c in line)), "")
        return {"error": type(error).__name__, "message": first[:300]}

def _probe_run(variants, template, namespace):
    tree = _ast.parse(template, "<probe>")
    last = tree.body.pop()
    body_code = compile(tree, "<probe>", "exec")
    last_code = compile(_ast.Expression(last.value), "<probe>", "eval")
    # The first marker line names this run's nonce, before any probed code runs; every result line
    # carries it, so what the probed code prints cannot pass for a result.
    marker = %(marker)r + _os.urandom(16).hex()
    print("\n" + marker, flush=True)  # at a line start, whatever was printed before
    for name, inputs in variants:
        # Twice, on the same inputs: a value that changes between the runs is nondeterministic.
        outcome = _probe_once(inputs, body_code, last_code, namespace)
        again = _probe_once(inputs, body_code, last_code, namespace)
        # "same" when the runs printed alike (most do): the output limit stays the one-run size
        same = _json.dumps(again, sort_keys=True) == _json.dumps(outcome, sort_keys=True)
        record = {"variant": name, **outcome, "again": "same" if same else again}
        print("\n" + marker + " " + _json.dumps(record), flush=True)  # at a line start
'''

_TORCH = r'''
import torch
from torch import nn
import torch.nn.functional as F

def _probe_tensor(spec):
    tensor = torch.from_numpy(_probe_array(spec).copy())
    return tensor.to(torch.bfloat16) if spec["dtype"] == "bfloat16" else tensor

def _probe_numpy(value):
    if isinstance(value, np.ndarray):
        return str(value.dtype), value
    if not isinstance(value, torch.Tensor):
        return None
    dtype = str(value.dtype).replace("torch.", "")
    value = value.detach().cpu()
    return dtype, (value.float() if value.dtype == torch.bfloat16 else value).numpy()

def _probe_sync():
    pass

_probe_namespace = {"torch": torch, "nn": nn, "F": F, "np": np}
'''

_MINDSPORE = r'''
import mindspore
import mindspore as ms
from mindspore import nn, ops, mint
try:
    from mindspore.graph.api import _pynative_executor as _probe_executor
except ImportError:
    from mindspore.common.api import _pynative_executor as _probe_executor

def _probe_tensor(spec):
    array = _probe_array(spec)
    if spec["dtype"] == "bfloat16":
        return mindspore.Tensor(array, dtype=mindspore.bfloat16)
    return mindspore.Tensor(array)

def _probe_numpy(value):
    if isinstance(value, np.ndarray):
        return str(value.dtype), value
    if not isinstance(value, mindspore.Tensor):
        return None
    dtype = str(value.dtype).lower()
    return dtype, (value.float() if dtype == "bfloat16" else value).asnumpy()

def _probe_sync():
    _probe_executor.sync()

_probe_namespace = {"mindspore": mindspore, "ms": ms, "nn": nn, "ops": ops, "mint": mint, "np": np}
'''

DRIVERS = {"torch": _TORCH, "mindspore": _MINDSPORE}


@cache
def driver_common() -> str:
    """The part of every driver that needs numpy alone: building inputs, encoding outcomes, the loop."""
    return _COMMON % {"kept": VALUES_KEPT, "marker": MARKER, "floats": FLOAT_DTYPES}


@cache
def driver_setup(framework: str) -> str:
    return driver_common() + DRIVERS[framework]


def driver_code(variants: list[Variant], template: str) -> str:
    payload = json.dumps([[variant.name, variant.inputs] for variant in variants])
    return (f"_probe_variants = _json.loads({payload!r})\n"
            f"_probe_run(_probe_variants, {template!r}, _probe_namespace)\n")


# ---------------------------------------------------------------- running


@dataclass
class ProbeSide:
    """One side's run: the API, and per variant name its outcome (``error``/``message`` or a result).
    A variant missing from ``outcomes`` was not run, or its outcome was lost (``failure`` says why)."""

    api: str
    outcomes: dict[str, dict]
    failure: str | None = None  # the side stopped part-way (crash, timeout, output limit) or lost outcomes
    # variant -> how its second run differed from its first (same inputs): nondeterministic here
    nondeterministic: dict[str, str] = field(default_factory=dict)


@dataclass
class TargetProbes:
    """Source against one target: which variants agree, and why the others differ. A variant without
    an outcome on either side is ``lost``: neither agreeing nor differing."""

    target: ProbeSide
    differences: dict[str, str]  # variant name -> what differs
    agreeing: int
    not_comparable: dict[str, str] = field(default_factory=dict)  # variant -> declared failure on this device
    lost: list[str] = field(default_factory=list)  # variants not run or lost on the source or this target
    # variant -> {API whose two runs differed: how}: neither agreeing nor a value difference
    nondeterministic: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class MappingProbes:
    variants: list[Variant]
    source: ProbeSide
    targets: list[TargetProbes]  # the mapping's own target first, then ``probes.targets``
    cached: bool = False

    @property
    def main(self) -> TargetProbes:
        return self.targets[0]


def _calls(mapping: Mapping) -> list[tuple[str, str, str]]:
    """(api, framework key, call template) of the source, the target (or the workaround of a mapping
    without counterpart, run with the other framework), then each further target."""
    probes = mapping.probes
    return [(mapping.source.api, mapping.side_framework("source").key, probes.source),
            (mapping.side_api("target"), mapping.side_framework("target").key, probes.target),
            *((extra.api, framework_of(extra.api).key, extra.call) for extra in probes.targets)]


_RUNNING = "# " + "-" * 64 + " running"


@cache
def derivation_fingerprint() -> str:
    """sha256 of what turns a probe spec into a driver's output, other than the spec: this file up to
    its "running" section (variant derivation, special values, the drivers) and ``PROBE_DTYPES``."""
    text = Path(__file__).read_text(encoding="utf-8")
    return hashlib.sha256((text[:text.index(_RUNNING)] + json.dumps(PROBE_DTYPES)).encode()).hexdigest()


def probe_identity(probes: Probes, template: str) -> str:
    """What decides one side's driver code (``Snippet.identity``): the spec its variants are derived
    from, the call template, and ``derivation_fingerprint``."""
    spec = {name: value.model_dump(mode="json") for name, value in probes.inputs.items()}
    return json.dumps([derivation_fingerprint(), spec, list(probes.variants), template], sort_keys=True)


def probe_snippets(mapping: Mapping) -> tuple[list[Variant], list[tuple[str, Snippet]]]:
    """The variants and one driver per side (its code holds the inputs' specs, never their values)."""
    variants = derive_variants(mapping.probes)
    snippets = []
    for api, framework, template in _calls(mapping):
        snippets.append((api, Snippet(framework, driver_code(variants, template), driver_setup(framework),
                                      float(mapping.probes.timeout), probe_identity(mapping.probes, template))))
    return variants, snippets


_NONCE = re.compile(r"[0-9a-f]{32}")
MAX_OUTCOME_DEPTH = 32  # nested sequences in one result: deeper is not an outcome the driver prints
_SCALAR = (bool, int, float, str, type(None))


def _result_lines(text: str):
    """The payloads of the driver's result lines: those that carry the nonce that the first marker
    line names (the driver prints it before any probed code runs). What probed code prints, marker
    or not, is never one of them."""
    lines = iter(text.split("\n"))
    announced = next((line[len(MARKER):] for line in lines if line.startswith(MARKER)), "")
    if not _NONCE.fullmatch(announced):
        return
    prefix = f"{MARKER}{announced} "
    for line in lines:
        if line.startswith(prefix):
            yield line[len(prefix):]


def _well_formed(outcome, depth: int = 0) -> bool:
    """An outcome as ``_probe_encode`` or the driver's error branch writes it (what comparing and
    showing it rely on)."""
    if not isinstance(outcome, dict) or depth > MAX_OUTCOME_DEPTH:
        return False
    if "error" in outcome:
        return isinstance(outcome["error"], str) and isinstance(outcome.get("message"), str)
    if "items" in outcome:
        return isinstance(outcome["items"], list) and all(_well_formed(item, depth + 1) for item in outcome["items"])
    if "object" in outcome:
        return isinstance(outcome["object"], str)
    if "python" in outcome:
        return isinstance(outcome["python"], str) and isinstance(outcome.get("value"), _SCALAR)
    shape, values = outcome.get("shape"), outcome.get("values")
    return (isinstance(outcome.get("dtype"), str) and isinstance(shape, list) and isinstance(values, list)
            and all(type(size) is int for size in shape) and all(isinstance(value, _SCALAR) for value in values))


def _read_record(payload: str, names: set[str]) -> tuple[str, dict, dict | None] | None:
    """(variant, outcome of its first run, outcome of its second run or None where it printed the
    same) of one result line, or None when it is not readable as one."""
    try:
        record = json.loads(payload)
    except (ValueError, RecursionError):  # the record that the output limit cut, among others
        return None
    if not isinstance(record, dict) or not isinstance(record.get("variant"), str) or record["variant"] not in names:
        return None
    again = record.get("again", "same")
    outcome = {key: value for key, value in record.items() if key not in ("variant", "again")}
    if not _well_formed(outcome) or not (again == "same" or _well_formed(again)):
        return None
    return record["variant"], outcome, None if again == "same" else again


def parse_side(api: str, result, variants: list[Variant]) -> ProbeSide:
    """One side's outcomes from its driver's output. A variant without a readable outcome is lost
    (not in ``outcomes``), and the side then has a ``failure`` saying why; nothing here raises."""
    names = {variant.name for variant in variants}
    outcomes: dict[str, dict] = {}
    nondeterministic: dict[str, str] = {}
    for payload in _result_lines(result.text):
        record = _read_record(payload, names)
        if record is None or record[0] in outcomes:
            continue
        name, outcome, again = record
        outcomes[name] = outcome
        why = None if again is None else compare_outcomes(outcome, again, "the second run", "the first run")
        if why is not None:
            nondeterministic[name] = why
    lost = len(variants) - len(outcomes)
    failure = None if result.ok else failure_text(result)
    if failure is None and any(output.truncated for output in result.outputs):
        failure = (f"what the variants returned passed the output limit of {OUTPUT_LIMIT // 1024} KiB after "
                   f"{len(outcomes)} of {len(variants)} variants; make the probe inputs smaller")
    if failure is None and lost:
        failure = f"no readable outcome for {lost} of {len(variants)} variants"
    return ProbeSide(api, outcomes, failure, nondeterministic)


def run_probes(mappings, executor: Executor, frameworks=None) -> dict[str, MappingProbes]:
    """Probe every mapping that has ``probes`` in one ``executor.run`` (shared warm workers, cached,
    looked up by ``probe_identity``)."""
    from .devices import why_not_here

    plans = []
    snippets: list[Snippet] = []
    for loaded in mappings:
        mapping = loaded.mapping
        if mapping.probes is None:
            continue
        variants, sides = probe_snippets(mapping)
        if any(why_not_here(snippet.framework, frameworks) for _, snippet in sides):
            continue
        plans.append((mapping, variants, sides, len(snippets)))
        snippets.extend(snippet for _, snippet in sides)
    results = executor.run(snippets) if snippets else []
    probed = {}
    for mapping, variants, sides, start in plans:
        parsed = [parse_side(api, results[start + offset], variants) for offset, (api, _) in enumerate(sides)]
        source, targets = parsed[0], parsed[1:]
        expected = {side: failure for side in ("source", "target")
                    if (failure := mapping.probes_failure(side, executor.device)) is not None}
        compared = [compare_sides(source, target, variants, expected if index == 0 else {})
                    for index, target in enumerate(targets)]
        cached = all(results[start + offset].cached for offset in range(len(sides)))
        probed[mapping.source.api] = MappingProbes(variants, source, compared, cached)
    return probed


# ---------------------------------------------------------------- comparing


def compare_sides(source: ProbeSide, target: ProbeSide, variants: list[Variant], expected: dict | None = None) -> TargetProbes:
    """``expected``: side -> ``schema.ExpectedFailure`` declared for this device; a variant whose side
    fails with its text is not comparable here."""
    differences, not_comparable, lost, nondeterministic = {}, {}, [], {}
    for variant in variants:
        if variant.name not in source.outcomes or variant.name not in target.outcomes:
            lost.append(variant.name)
            continue
        changing = {side.api: side.nondeterministic[variant.name] for side in (source, target)
                    if variant.name in side.nondeterministic}
        if changing:
            nondeterministic[variant.name] = changing
            continue
        outcomes = {"source": source.outcomes[variant.name], "target": target.outcomes[variant.name]}
        declared = [failure for side, failure in (expected or {}).items()
                    if "error" in outcomes[side] and failure.error in outcome_text(outcomes[side])]
        if declared:
            not_comparable[variant.name] = declared[0].error
            continue
        why = compare_outcomes(outcomes["source"], outcomes["target"])
        if why is not None:
            differences[variant.name] = why
    agreeing = len(variants) - len(differences) - len(not_comparable) - len(lost) - len(nondeterministic)
    return TargetProbes(target, differences, agreeing, not_comparable, lost, nondeterministic)


def outcome_text(outcome: dict) -> str:
    """An error outcome as ``failure_text`` shows failures: "ErrorType: message"."""
    return f"{outcome['error']}: {outcome['message']}" if outcome.get("message") else outcome["error"]


def compare_outcomes(source: dict, target: dict, source_name: str = "PyTorch", target_name: str = "MindSpore") -> str | None:
    """None when both sides behave the same, else what differs (one phrase)."""
    if "error" in source or "error" in target:
        if "error" in source and "error" in target:
            return None
        return f"raises on {target_name if 'error' in target else source_name} only"
    return _compare_values(source, target)


def _compare_values(source: dict, target: dict) -> str | None:
    if "items" in source or "items" in target:
        if "items" not in source or "items" not in target:
            return "one side returns a sequence, the other does not"
        if len(source["items"]) != len(target["items"]):
            return f"{len(source['items'])} results vs {len(target['items'])}"
        for index, (left, right) in enumerate(zip(source["items"], target["items"])):
            why = _compare_values(left, right)
            if why is not None:
                return f"result {index}: {why}"
        return None
    if "object" in source or "object" in target:
        return None if source.get("object") == target.get("object") else "different kinds of result"
    if "python" in source and "python" in target:
        return _compare_numbers([source["value"]], [target["value"]], "float64")
    if "python" in source or "python" in target:
        return "a Python value on one side, a tensor on the other"
    if source["dtype"] != target["dtype"]:
        return f"dtype {source['dtype']} vs {target['dtype']}"
    if source["shape"] != target["shape"]:
        return f"shape {tuple(source['shape'])} vs {tuple(target['shape'])}"
    return _compare_numbers(source["values"], target["values"], source["dtype"])


def _as_float(value) -> float | None:
    if isinstance(value, (bool, int, float)):
        try:
            return float(value)
        except OverflowError:  # a Python int beyond float's range: compared exactly
            return None
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def _compare_numbers(left: list, right: list, dtype: str) -> str | None:
    rtol, atol = TOLERANCES.get(dtype, (0.0, 0.0))
    worst = 0.0
    for a, b in zip(left, right):
        x, y = _as_float(a), _as_float(b)
        if x is None or y is None:
            if a != b:
                return f"values differ ({a!r} vs {b!r})"
            continue
        if math.isnan(x) or math.isnan(y):
            if math.isnan(x) != math.isnan(y):
                return f"values differ ({_shown_number(a)} vs {_shown_number(b)})"
            continue
        if math.isinf(x) or math.isinf(y):
            if x != y:
                return f"values differ ({_shown_number(a)} vs {_shown_number(b)})"
            continue
        if abs(x - y) > atol + rtol * abs(y):
            worst = max(worst, abs(x - y))
    if worst:
        return f"values differ (largest difference {worst:.3g}; {dtype} tolerance rtol={rtol:g}, atol={atol:g})"
    return None


def tolerance_sentence() -> str:
    parts = ", ".join(f"{dtype} {rtol:g}/{atol:g}" for dtype, (rtol, atol) in TOLERANCES.items())
    return f"Values agree within their dtype's tolerance (rtol/atol: {parts}), integers and bool exactly; NaN equals NaN."


# ---------------------------------------------------------------- showing


def _shown_number(value, digits: int = 6) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def describe_outcome(outcome: dict) -> str:
    """What one side printed or raised for one variant, short enough for a table cell."""
    if "error" in outcome:
        return f"raises {outcome['error']}: {outcome['message']}".rstrip(": ")
    if "items" in outcome:
        return "(" + "; ".join(describe_outcome(item) for item in outcome["items"]) + ")"
    if "object" in outcome:
        return f"a {outcome['object']} object"
    if "python" in outcome:
        return f"{outcome['python']} {_shown_number(outcome['value'])}"
    values = outcome["values"]
    digits = 12 if outcome["dtype"] == "float64" else 6  # enough to see float32 precision in float64
    shown = ", ".join(_shown_number(value, digits) for value in values[:SHOWN_VALUES])
    more = ", …" if len(values) > SHOWN_VALUES else ""
    return f"{outcome['dtype']} {tuple(outcome['shape'])} [{shown}{more}]"


SHOWN_GROUPS = 6  # rows of one target's table; further differing variants are named in one line
SHOWN_CHARACTERS = 100  # of one outcome or difference in a cell; the full text is its tooltip


@dataclass
class BehaviourRow:
    """One row of a target's table: a group of variants that differ in the same way (same kind of
    difference, same kind of outcome on each side), shown by its first variant."""

    variant: str
    about: str
    difference: str
    source: str
    target: str
    declared: bool
    others: list[str] = field(default_factory=list)  # the group's further variants
    source_full: str = ""  # the whole outcome where ``source`` is shortened, as an HTML attribute value
    target_full: str = ""
    difference_full: str = ""


@dataclass
class BehaviourTarget:
    api: str
    total: int
    agreeing: int
    rows: list[BehaviourRow] = field(default_factory=list)
    failure: str | None = None
    not_comparable: dict[str, int] = field(default_factory=dict)  # declared failure text -> variants
    differing: int = 0  # variants that differ (``rows`` groups them)
    more: list[str] = field(default_factory=list)  # differing variants beyond ``SHOWN_GROUPS`` rows
    lost: int = 0  # variants not run, or whose outcome was lost, on the source or this target
    same_as: str | None = None  # an earlier target whose differing variants and outcomes these are
    nondeterministic: list[NondeterministicRow] = field(default_factory=list)


@dataclass
class NondeterministicRow:
    """A variant whose two runs on the same inputs differed on one side or both: not compared."""

    variant: str
    about: str
    apis: str  # the sides where it happens, "torch.x" or "torch.x, mindspore.y"
    why: str


def _shortened(text: str) -> tuple[str, str]:
    """(what a cell shows, the whole text as an HTML attribute value, or "" when it is shown whole)."""
    text = " ".join(text.split())
    if len(text) <= SHOWN_CHARACTERS:
        return text, ""
    return text[:SHOWN_CHARACTERS - 1].rstrip() + "…", html.escape(text, quote=True).replace("|", "&#124;")


_NUMBERS = re.compile(r"-?\b\d[\w.+-]*|\bnan\b|-?\binf\b")


def _outcome_kind(outcome: dict) -> str:
    """What an outcome is, without values or shape: "raises TypeError", "float32", a sequence of those."""
    if "error" in outcome:
        return f"raises {outcome['error']}"
    if "items" in outcome:
        return "(" + "; ".join(_outcome_kind(item) for item in outcome["items"]) + ")"
    if "object" in outcome:
        return f"object {outcome['object']}"
    if "python" in outcome:
        return f"python {outcome['python']}"
    return str(outcome["dtype"])


def _group_key(why: str, source: dict, target: dict) -> tuple[str, ...]:
    """Variants differ in the same way when one side raises the same error, message alike but for its
    numbers (whatever the other side returns), or when the difference reads the same but for its
    numbers and the sides return the same kinds of result."""
    if ("error" in source) != ("error" in target):
        error = source if "error" in source else target
        return why, _outcome_kind(error), _NUMBERS.sub("#", str(error.get("message", "")))
    return _NUMBERS.sub("#", why), _outcome_kind(source), _outcome_kind(target)


def behaviour_view(mapping: Mapping, probed: MappingProbes | None) -> list[BehaviourTarget] | None:
    """What the page's "Behaviour compared" section shows, per target: differing variants in groups
    (at most ``SHOWN_GROUPS`` rows, the rest named in one line), long cells shortened, and a target
    that differs exactly as an earlier one does said to, without a table of its own. So the section
    stays small whatever the number of variants and targets."""
    if probed is None:
        return None
    about = {variant.name: variant.about for variant in probed.variants}
    declared = declared_variants(mapping.differences, probed.main.differences)
    views: list[BehaviourTarget] = []
    seen: dict[tuple, str] = {}  # what a target's table would show -> that target's API
    for target in probed.targets:
        groups: dict[tuple, list[str]] = {}
        for name, why in target.differences.items():
            key = (*_group_key(why, probed.source.outcomes[name], target.target.outcomes[name]),
                   target is probed.main and name in declared)
            groups.setdefault(key, []).append(name)
        rows = []
        for names in groups.values():
            first = names[0]
            source, source_full = _shortened(describe_outcome(probed.source.outcomes[first]))
            shown, target_full = _shortened(describe_outcome(target.target.outcomes[first]))
            difference, difference_full = _shortened(target.differences[first])
            rows.append(BehaviourRow(first, about[first], difference, source, shown,
                                     target is probed.main and first in declared, names[1:], source_full,
                                     target_full, difference_full))
        skipped: dict[str, int] = {}
        for error in target.not_comparable.values():
            skipped[error] = skipped.get(error, 0) + 1
        shown_rows, hidden = rows[:SHOWN_GROUPS], rows[SHOWN_GROUPS:]
        view = BehaviourTarget(target.target.api, len(probed.variants), target.agreeing, shown_rows,
                               target.target.failure, skipped, len(target.differences),
                               [name for row in hidden for name in (row.variant, *row.others)],
                               lost=len(target.lost), nondeterministic=_nondeterministic_rows(target, about))
        signature = tuple((name, why, json.dumps(target.target.outcomes[name], sort_keys=True))
                          for name, why in target.differences.items())
        if signature and signature in seen and target is not probed.main:
            view.rows, view.more, view.same_as = [], [], seen[signature]
        else:
            seen.setdefault(signature, target.target.api)
        views.append(view)
    return views


def _nondeterministic_rows(target: TargetProbes, about: dict[str, str]) -> list[NondeterministicRow]:
    return [NondeterministicRow(name, about[name], ", ".join(sides),
                                _shortened("; ".join(sides.values()))[0])
            for name, sides in target.nondeterministic.items()]


def probe_summary(probed: dict[str, MappingProbes]) -> str:
    """One line for the CLI: mappings probed, variant runs, differences, lost variants, targets that
    never agree."""
    runs = sum(len(result.variants) * len(result.targets) for result in probed.values())
    differing = sum(len(target.differences) for result in probed.values() for target in result.targets)
    lost = sum(len(target.lost) for result in probed.values() for target in result.targets)
    changing = sum(len(target.nondeterministic) for result in probed.values() for target in result.targets)
    cached = sum(result.cached for result in probed.values())
    silent = sorted(target.target.api for result in probed.values() for target in result.targets
                    if target.agreeing == 0 and target.differences)
    return (f"probes: {len(probed)} mappings ({cached} from cache), {runs} variant runs, {differing} differ"
            + (f", {lost} not run or lost" if lost else "")
            + (f", {changing} nondeterministic" if changing else "")
            + (f"; agree on no variant here: {', '.join(silent)}" if silent else ""))


# ---------------------------------------------------------------- claims


def declared_variants(differences: list[Difference], differing: dict[str, str]) -> set[str]:
    return {name for row in differences for pattern in row.probes for name in differing
            if fnmatch.fnmatchcase(name, pattern)}


def undeclared_differences(mapping: Mapping, probed: MappingProbes) -> dict[str, str]:
    """Differing variants of the main target that no difference row names (checked for statuses
    whose criterion says the two APIs behave the same)."""
    if mapping.status not in CHECKED_STATUSES:
        return {}
    differing = probed.main.differences
    declared = declared_variants(mapping.differences, differing)
    return {name: why for name, why in differing.items() if name not in declared}


def missing_kinds(probes: Probes) -> list[str]:
    """Variant kinds that ``probes.variants`` leaves out although they apply to its inputs: a kind
    applies when it derives at least one variant from them (no tensor input: no ``empty``; no float
    input open to special values: no ``special``; no parameter with further values or a range: no
    ``parameter``; and so on)."""
    every = derive_variants(probes.model_copy(update={"variants": list(VARIANT_KINDS)}))
    applicable = {variant.kind for variant in every}
    return [kind for kind in VARIANT_KINDS if kind in applicable and kind not in probes.variants]


def sameness_problems(mapping: Mapping, probed: MappingProbes) -> list[str]:
    """Why a status that says the two APIs behave the same (``CHECKED_STATUSES``) is not earned by
    the probes against the main target: variant kinds left out that apply, differing variants
    (declared or not), nondeterministic ones, lost ones. Empty when it is earned (or not claimed)."""
    if mapping.status not in CHECKED_STATUSES:
        return []
    main, problems = probed.main, []
    left_out = missing_kinds(mapping.probes)
    if left_out:
        problems.append("`probes.variants` leaves out kinds that apply to its inputs: " + ", ".join(left_out))
    if main.differences:
        undeclared = undeclared_differences(mapping, probed)
        listed = "; ".join(f"{name}{' (undeclared)' if name in undeclared else ''}: {why}"
                           for name, why in main.differences.items())
        problems.append(f"{len(main.differences)} variant(s) differ ({len(undeclared)} undeclared): {listed}")
    if main.nondeterministic:
        listed = "; ".join(f"{name} on {', '.join(sides)}" for name, sides in main.nondeterministic.items())
        problems.append(f"{len(main.nondeterministic)} variant(s) are nondeterministic: {listed}")
    if main.lost:
        problems.append(f"{len(main.lost)} variant(s) were not run or lost: {', '.join(main.lost)}")
    return problems


def broken_sides(probed: MappingProbes) -> list[tuple[str, str]]:
    """("source" or "target", why) for each of the source and the main target whose probes did not
    test everything: it stopped part-way or lost outcomes (crash, timeout, output over the limit; how
    many variants were lost is said), or it raised on every variant and no failure is declared for
    this device (a template that cannot run, most often)."""
    main = probed.main
    found = []
    for label, side in (("source", probed.source), ("target", main.target)):
        if side.failure:
            lost = sum(variant.name not in side.outcomes for variant in probed.variants)
            found.append((label, f"stopped part-way, {lost} of {len(probed.variants)} variants not run or lost: "
                                 f"{side.failure}"))
        elif not main.not_comparable and all("error" in outcome for outcome in side.outcomes.values()):
            first = next(iter(side.outcomes.values()), {"error": "no variant"})
            found.append((label, f"raised on every variant, e.g. {outcome_text(first)}"))
    return found


def stale_declarations(mapping: Mapping, probed: MappingProbes) -> list[tuple[int, str, str]]:
    """(difference row index, pattern, why) for each pattern that no longer shows a difference."""
    names = [variant.name for variant in probed.variants]
    stale = []
    for index, row in enumerate(mapping.differences):
        for pattern in row.probes:
            matching = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
            if not matching:
                stale.append((index, pattern, "names no probe variant"))
            elif not any(name in probed.main.differences or name in probed.main.nondeterministic
                         for name in matching):
                stale.append((index, pattern, "the two sides now agree on " + ", ".join(matching)))
    return stale

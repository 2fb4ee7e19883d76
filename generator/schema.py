"""The mapping format: the one truth about what a mapping YAML file may contain.

Validation (``loader``), the JSON Schema that editors use (``python -m generator schema``),
the field reference and the status table in the docs all derive from the models here.
"""

from __future__ import annotations

import ast
import enum
import json
import math
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      StringConstraints, WithJsonSchema, model_validator)

from . import prose
from .frameworks import FRAMEWORKS, Framework, framework_of
from .i18n import LANGUAGES, LocalText, N_, gettext

# Bounds that keep every later stage safe: a page's file name (the API's last part, plus the
# temporary-file affixes of the atomic write) stays well under the usual 255-byte file name limit,
# and a timeout stays within what the worker's clocks and ``select`` accept.
MAX_API_LENGTH = 200
MAX_URL_LENGTH = 2000
MAX_TIMEOUT = 3600

# Bounds of a probes section, so that its inputs and variants stay small whatever the YAML says:
# a tensor input's rank, each dimension and its number of elements (the 323 mappings reach rank 5,
# dimension 16 and 512 elements), the inputs of one probe (they reach 7) and the further values of
# one parameter (they reach 5). They bound the variants too: at most 21, plus 20 per input. An
# `index` input's values stay within int32.
MAX_PROBE_RANK = 8
MAX_PROBE_DIMENSION = 4096
MAX_PROBE_ELEMENTS = 4096
MAX_PROBE_INPUTS = 16
MAX_PROBE_VALUES = 16
MAX_PROBE_INDEX = 1 << 31

# Control characters that Sphinx's reader or the XML of the site cannot carry (tab, line feed and
# carriage return are text); DEL and the noncharacters U+FFFE/U+FFFF as well.
_FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def no_control_characters(value: str) -> str:
    found = _FORBIDDEN_CHARACTER.search(value)
    if found:
        line = value.count("\n", 0, found.start()) + 1
        where = f" (line {line} of the text)" if "\n" in value else ""
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed{where}")
    return value


def web_url(value: str) -> str:
    """An absolute http(s) URL with a host; characters that are unsafe in markup are encoded
    when the page is rendered (``render.safe_url``), others are refused here."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    if re.search(r"\s", value) or _FORBIDDEN_CHARACTER.search(value):
        raise ValueError("a URL must not contain spaces or control characters")
    return value


DottedName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$", max_length=MAX_API_LENGTH),
    Field(description="Full dotted name, e.g. `torch.nn.CrossEntropyLoss`."),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(no_control_characters)]
Code = Annotated[str, StringConstraints(min_length=1), AfterValidator(no_control_characters)]
Prose = Annotated[
    Text,
    AfterValidator(prose.validate),
    Field(json_schema_extra={"x-markdown": "safe subset"}),
]
"""Text in the safe Markdown subset (``generator.prose``): inline code, emphasis, http(s) links,
inline and block math, bullet and numbered lists, paragraphs. Anything else is shown escaped;
lists, emphasis and links nested deeper than ``prose.MAX_NESTING`` are refused."""
class LocalTexts(BaseModel):
    """A translatable text in several languages: `{en: ..., zh_CN: ...}` (at least one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    en: Text | None = None
    zh_CN: Text | None = None  # noqa: N815 - the language code as written in the YAML

    @model_validator(mode="after")
    def _one_language(self) -> LocalTexts:
        if not any(getattr(self, language) for language in LANGUAGES):
            raise ValueError("give the text in at least one language (" + ", ".join(LANGUAGES) + ")")
        return self


class LocalProseTexts(LocalTexts):
    """``LocalTexts`` in the safe Markdown subset: each language's text is checked as ``Prose``."""

    en: Prose | None = None
    zh_CN: Prose | None = None  # noqa: N815


def _texts_of(value):
    """A plain string is English: ``{en: value}``; anything else is validated as ``LocalTexts``."""
    if isinstance(value, LocalText):
        return value.texts
    if isinstance(value, str):
        return {"en": value}
    if not isinstance(value, dict):
        raise ValueError("must be text, or a mapping of languages (" + ", ".join(LANGUAGES) + ") to text")
    return value


def _local_text(value: LocalTexts) -> LocalText:
    return LocalText({language: getattr(value, language) for language in LANGUAGES if getattr(value, language)})


def _local_schema(markdown: bool) -> dict:
    text = {"type": "string", "minLength": 1, **({"x-markdown": "safe subset"} if markdown else {})}
    return {"anyOf": [text, {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "description": "The text per language; a plain string is English.",
        "properties": {language: {**text, "title": language} for language in LANGUAGES},
    }], "x-translatable": True}


def _translatable(texts: type[LocalTexts], markdown: bool):
    return Annotated[texts, BeforeValidator(_texts_of), AfterValidator(_local_text),
                     PlainSerializer(lambda value: value.raw), WithJsonSchema(_local_schema(markdown))]


Localized = _translatable(LocalTexts, markdown=False)
"""Translatable plain text: a string (English) or `{en: ..., zh_CN: ...}`; a ``LocalText`` once loaded."""
LocalProse = _translatable(LocalProseTexts, markdown=True)
"""Translatable text in the safe Markdown subset."""


Url = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_LENGTH),
    AfterValidator(web_url),
    Field(json_schema_extra={"pattern": r"^https?://\S+$"}),  # for editors; ``web_url`` is the rule
]

DEVICES = ("cpu", "gpu", "ascend")
Device = Literal["cpu", "gpu", "ascend"]
Side = Literal["source", "target"]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(str, enum.Enum):
    """How closely the target API matches the source API. A closed set: every page has one."""

    consistent = "consistent"
    names_differ = "names-differ"
    parameters_differ = "parameters-differ"
    functional_difference = "functional-difference"
    no_counterpart = "no-counterpart"

    @property
    def title(self) -> str:
        """The status's name in the language being rendered (``i18n.using``)."""
        return gettext(STATUS_INFO[self][0])

    @property
    def criterion(self) -> str:
        return gettext(STATUS_INFO[self][1])


STATUS_INFO: dict[Status, tuple[str, str]] = {
    Status.consistent: (
        N_("Consistent"),
        N_("Same function, same parameters and inputs with the same names and defaults. "
        "Parameters that the source framework has deprecated may be absent from the target."),
    ),
    Status.names_differ: (
        N_("Consistent, names differ"),
        N_("Same function and behaviour; only the names of some parameters or inputs differ "
        "(or the API itself is named differently)."),
    ),
    Status.parameters_differ: (
        N_("Parameters differ"),
        N_("Same function, but parameters differ beyond their names: a default value, an accepted "
        "type, or a parameter that exists on one side only."),
    ),
    Status.functional_difference: (
        N_("Functional difference"),
        N_("Given the same inputs, the two APIs can compute different results or behave "
        "differently (for example in training versus inference mode)."),
    ),
    Status.no_counterpart: (
        N_("No counterpart"),
        N_("The target framework has no API for this; the page explains how to get the same effect."),
    ),
}


class Kind(str, enum.Enum):
    """What sort of object the API is; decides how its signature is read."""

    class_ = "class"
    function = "function"
    method = "method"


class ApiSide(Strict):
    """One side of the pair: the API in one framework."""

    api: DottedName
    kind: Kind = Field(description="`class`, `function` or `method`.")
    signature: Text = Field(
        description="The signature as shown on the page, e.g. "
        "`class torch.nn.L1Loss(reduction='mean')(input, target) -> Tensor`."
    )
    summary: LocalProse | None = Field(default=None, description="What this API does, in one or two sentences (safe "
                                  "Markdown). A page without one says it in `remarks` or not at all.")
    url: Url | None = Field(
        default=None,
        description="Link to the framework's documentation of the API. Derived from the "
        "framework's URL pattern and the installed version when absent.",
    )

    @model_validator(mode="after")
    def _known_framework(self) -> ApiSide:
        if framework_of(self.api) is None:
            known = ", ".join(sorted(FRAMEWORKS))
            raise ValueError(f"`{self.api}` belongs to no known framework ({known})")
        return self


Category = Literal["Parameters", "Inputs", "Outputs", "Methods"]

ROW_LABEL: dict[str, str] = {"Parameters": "Parameter", "Inputs": "Input", "Outputs": "Output", "Methods": "Method"}
# The row labels and category names as the pages show them (translated by ``render``).
ROW_LABEL_TEXT: dict[str, str] = {"Parameters": N_("Parameter {number}"), "Inputs": N_("Input {number}"),
                                  "Outputs": N_("Output {number}"), "Methods": N_("Method {number}")}
CATEGORY_TEXT: dict[str, str] = {"Parameters": N_("Parameters"), "Inputs": N_("Inputs"), "Outputs": N_("Outputs"),
                                 "Methods": N_("Methods")}


class Difference(Strict):
    """One row of the differences table. Row numbers ("Parameter 3") are derived, never typed."""

    category: Category = Field(description="`Parameters`, `Inputs`, `Outputs` or `Methods` (a public method or "
                               "attribute of a class that a user calls, such as `state_dict`).")
    source: Text | None = Field(default=None, description="Name on the source side; absent if it has none.")
    target: Text | None = Field(default=None, description="Name on the target side; absent if it has none.")
    note: LocalProse | None = Field(default=None, description="The difference (safe Markdown, shown on one line); "
                                    "absent means none (`-`).")
    probes: list[Text] = Field(
        default_factory=list,
        description="Probe variants that show this difference (names as in the page's \"Behaviour compared\" "
        "table, `*` and `?` as wildcards, e.g. `special:nan` or `dtype:*`). `verify` checks that each still "
        "differs, and counts the variants they match as declared.",
    )

    @model_validator(mode="after")
    def _one_side_at_least(self) -> Difference:
        if self.source is None and self.target is None:
            raise ValueError("a difference row needs `source`, `target` or both")
        return self


class Tolerance(Strict):
    """How close numbers printed by both sides must be to count as the same (numpy.isclose)."""

    rtol: float = Field(default=1e-5, ge=0, allow_inf_nan=False)
    atol: float = Field(default=1e-6, ge=0, allow_inf_nan=False)


class ExpectedFailure(Strict):
    """A failure the mapping knows about: the page still shows it, CI stays green."""

    side: Side = Field(description="`source` or `target`.")
    devices: list[Device] = Field(min_length=1, description="Devices on which it fails.")
    error: Text = Field(
        description="Text that the failure contains (`ErrorType: message`, as the page shows it); the "
        "declaration explains only a failure with this text, never another failure on the same device."
    )
    reason: Localized | None = Field(default=None, description="Why it fails, shown on the page.")
    machine_dependent: bool = Field(
        default=False,
        description="The failure was seen on some machines of these devices and not on others (it depends on "
        "the CPU or a library build): a run that succeeds is accepted too, and the page shows what the "
        "build machine printed. The reason should say so.",
    )


class Setup(Strict):
    """Code run before the snippet, not shown on the page (e.g. a helper definition)."""

    source: Code | None = None
    target: Code | None = None


class Example(Strict):
    """A code example: a snippet per side. Outputs are never typed: they come from running."""

    note: LocalProse | None = Field(default=None, description="Shown as a quote above the code (safe Markdown).")
    source: Code | None = Field(default=None, description="Source framework code.")
    target: Code | None = Field(default=None, description="Target framework code.")
    same_values: bool = Field(
        default=False,
        description="Both sides are meant to print the same values; they are compared numerically.",
    )
    tolerance: Tolerance = Field(default_factory=Tolerance)
    timeout: float = Field(default=60, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False,
                           description=f"Seconds each snippet may run (at most {MAX_TIMEOUT}).")
    setup: Setup = Field(default_factory=Setup)
    expected_failures: list[ExpectedFailure] = Field(default_factory=list)
    cpu_only: bool = Field(
        default=False,
        description="The example must run on the CPU (it converts to NumPy on purpose, say): the device "
        "portability lint of `check` skips it, and runs on other devices report it as not run here.",
    )

    @model_validator(mode="after")
    def _has_code(self) -> Example:
        if self.source is None and self.target is None:
            raise ValueError("an example needs `source` code, `target` code or both")
        if self.same_values and (self.source is None or self.target is None):
            raise ValueError("`same_values` needs code on both sides")
        return self

    def code(self, side: Side) -> str | None:
        return self.source if side == "source" else self.target

    def expected_failure(self, side: Side, device: str) -> ExpectedFailure | None:
        for failure in self.expected_failures:
            if failure.side == side and device in failure.devices:
                return failure
        return None


class Section(Strict):
    """An extra section of prose, e.g. "Filling behaviour difference"."""

    title: Localized
    text: LocalProse | None = Field(default=None, description="Paragraphs, separated by blank lines (safe Markdown).")
    items: list[LocalProse] = Field(default_factory=list, description="Bullet points after the text (safe Markdown).")
    code: list[Code] = Field(default_factory=list, description="Code shown as it is, never run (e.g. a block "
                             "the importer could not attribute to a framework).")

    @model_validator(mode="after")
    def _not_empty(self) -> Section:
        if self.text is None and not self.items and not self.code:
            raise ValueError("a section needs `text`, `items` or `code`")
        return self


class Guide(Strict):
    """Optional guidance on the source API, each a list of bullet points."""

    overview: LocalProse | None = Field(default=None, description="What the API is for.")
    when_to_use: list[LocalProse] = Field(default_factory=list)
    trade_offs: list[LocalProse] = Field(default_factory=list)
    algorithm: list[LocalProse] = Field(default_factory=list)

    def sections(self) -> list[tuple[str, list[str]]]:
        named = [(N_("When to use"), self.when_to_use), (N_("Trade-offs"), self.trade_offs),
                 (N_("Algorithm"), self.algorithm)]
        return [(title, items) for title, items in named if items]


PROBE_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")
ProbeDtype = Literal["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
VARIANT_KINDS = ("random", "special", "empty", "scalar", "dtype", "broadcast", "parameter", "rank", "negative")
VariantKind = Literal["random", "special", "empty", "scalar", "dtype", "broadcast", "parameter", "rank", "negative"]
ScalarValue = bool | int | float | str | list[bool | int | float | str] | None


def small_tensor_shape(shape: list[int]) -> list[int]:
    elements = math.prod(shape)
    if elements > MAX_PROBE_ELEMENTS:
        raise ValueError(f"a probe tensor may hold at most {MAX_PROBE_ELEMENTS} elements; this shape holds "
                         f"{elements}")
    return shape


ProbeShape = Annotated[
    list[Annotated[int, Field(ge=0, le=MAX_PROBE_DIMENSION)]],
    Field(max_length=MAX_PROBE_RANK),
    AfterValidator(small_tensor_shape),
]


class ProbeInput(Strict):
    """One named input of the probe calls: a tensor (made on each side from the same numbers) or a
    plain Python value (a parameter)."""

    kind: Literal["tensor", "value"] = Field(description="`tensor` or `value` (a parameter passed as is).")
    shape: ProbeShape | None = Field(
        default=None, description=f"Tensor shape, e.g. `[3, 4]` (rank at most {MAX_PROBE_RANK}, each dimension at most "
        f"{MAX_PROBE_DIMENSION}, at most {MAX_PROBE_ELEMENTS} elements).")
    dtype: ProbeDtype = Field(default="float32", description="Tensor dtype of the ordinary variants.")
    domain: Literal["real", "positive", "unit", "sign", "index"] = Field(
        default="real",
        description="Values of a tensor: `real` (normal), `positive` (0.1 to 2), `unit` (0 to 1), `sign` "
        "(-1 or 1), `index` (integers 0 to `high` - 1).",
    )
    high: Annotated[int, Field(ge=1, le=MAX_PROBE_INDEX)] = Field(
        default=2, description="`index` domain: one more than the largest value.")
    vary_dtype: bool = Field(default=True, description="The `dtype` variants cast this tensor to every dtype.")
    special: bool = Field(default=True, description="The `special` variants put NaN, ±inf, ±0, denormals, very "
                          "large and very small values into this tensor (float tensors only).")
    broadcast: bool = Field(default=False, description="The `broadcast` variants give this tensor a shape that "
                            "broadcasts against the others (leading dimension 1, leading dimension dropped).")
    value: ScalarValue = Field(default=None, description="`value`: what the ordinary variants pass.")
    values: list[ScalarValue] = Field(default_factory=list, max_length=MAX_PROBE_VALUES,
                                      description="`value`: further values to try, one variant each (documented "
                                      f"choices, other accepted types; at most {MAX_PROBE_VALUES}).")
    range: tuple[float | None, float | None] | None = Field(
        default=None,
        description="`value`: the documented range `[low, high]` (`null` for open): variants at both ends and "
        "beyond them.",
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> ProbeInput:
        if self.kind == "tensor" and self.shape is None:
            raise ValueError("a `tensor` input needs `shape`")
        if self.kind == "value" and self.shape is not None:
            raise ValueError("a `value` input has no `shape`; did you mean `kind: tensor`?")
        return self


class ProbeTarget(Strict):
    """A further target API probed with the same inputs, e.g. `mindspore.mint.X` beside `mindspore.ops.X`."""

    api: DottedName
    call: Code = Field(description="Call template for this API (see `probes.target`).")


class Probes(Strict):
    """Differential probes: both APIs called on derived edge-case inputs, outputs compared per variant.

    A call template is Python code run with the inputs as variables (tensors of its own framework)
    and `torch`, `nn`, `F`, `np` (source) or `mindspore`, `ms`, `ops`, `nn`, `mint`, `np` (target) in
    scope; its last line is an expression whose value is the result (a tensor, a tuple of them, or a
    Python value).
    """

    inputs: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ProbeInput] = Field(
        min_length=1, max_length=MAX_PROBE_INPUTS,
        description=f"Named inputs of the call templates (at most {MAX_PROBE_INPUTS}).")
    source: Code = Field(description="Call template for the source API.")
    target: Code = Field(description="Call template for the target API (with status `no-counterpart`: the "
                         "page's workaround, written with the other framework).")
    targets: list[ProbeTarget] = Field(
        default_factory=list, description="Further target APIs probed with the same inputs (shown on the page; "
        "`verify` checks claims against `target` only).")
    variants: list[VariantKind] = Field(
        default_factory=lambda: list(VARIANT_KINDS),
        description="Which variant kinds to derive: " + ", ".join(f"`{kind}`" for kind in VARIANT_KINDS) + ".")
    timeout: float = Field(default=120, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False,
                           description=f"Seconds all variants of one side may run (at most {MAX_TIMEOUT}).")
    expected_failures: list[ExpectedFailure] = Field(
        default_factory=list,
        description="Failures of the source or the main target on some devices (a missing kernel, say): "
        "variants that fail with this text there are counted as not comparable on that device, not as "
        "differences.")

    @model_validator(mode="after")
    def _templates_end_in_expressions(self) -> Probes:
        for where, template in (("source", self.source), ("target", self.target),
                                *((f"targets[{i}].call", extra.call) for i, extra in enumerate(self.targets))):
            try:
                tree = ast.parse(template)
            except SyntaxError as error:
                raise ValueError(f"`{where}` is not valid Python: {error.msg} (line {error.lineno})") from None
            if not tree.body or not isinstance(tree.body[-1], ast.Expr):
                raise ValueError(f"`{where}` must end in an expression: its value is the probe's result")
        return self


def _different_frameworks(source: ApiSide, target: ApiSide | None) -> None:
    if target is not None and framework_of(source.api) == framework_of(target.api):
        raise ValueError("`source` and `target` must belong to different frameworks")


class Alternative(Strict):
    """Another counterpart of the page's source API, beside the recommended `target`
    (e.g. `mindspore.ops.X` where `mindspore.mint.X` is recommended)."""

    target: ApiSide
    recommended: bool = Field(default=False, description="This counterpart, not `target`, is the one to use "
                              "(e.g. the `mindspore.mint` API); at most one alternative is.")
    note: LocalProse | None = Field(default=None, description="When to prefer it, or how it differs (safe Markdown).")


class Pair(Strict):
    """A further API pair the page covers (e.g. `torch.Tensor.all` on the page of `torch.all`)."""

    source: ApiSide
    target: ApiSide | None = Field(default=None, description="Absent when it has no counterpart.")
    note: LocalProse | None = Field(default=None, description="How this pair differs from the page's main pair.")

    @model_validator(mode="after")
    def _consistent(self) -> Pair:
        _different_frameworks(self.source, self.target)
        return self


class Mapping(Strict):
    """One page: its main API pair (``source`` -> the recommended ``target``), other counterparts of
    the same source API (``alternatives``) and further pairs (``other_pairs``). The page's identity
    is ``key`` (from the main source API); the loader refuses two files mapping the same pair."""

    source: ApiSide = Field(description="The API users come from (e.g. PyTorch).")
    target: ApiSide | None = Field(
        default=None, description="Its counterpart (e.g. MindSpore); absent only with status `no-counterpart`."
    )
    alternatives: list[Alternative] = Field(
        default_factory=list, description="Other counterparts of `source`; `target` is the recommended one "
        "unless an alternative says `recommended: true`.")
    other_pairs: list[Pair] = Field(default_factory=list, description="Further API pairs shown on this page.")
    status: Status
    remarks: LocalProse | None = Field(
        default=None, description="Free prose under Differences after the two summaries: paragraphs, lists, "
        "math (safe Markdown).")
    differences: list[Difference] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list, description="Extra sections after the table.")
    guide: Guide | None = None
    examples: list[Example] = Field(default_factory=list)
    probes: Probes | None = Field(default=None, description="Differential probes (see `Probes`).")

    @model_validator(mode="after")
    def _consistent_pair(self) -> Mapping:
        if self.target is None:
            if self.status is not Status.no_counterpart:
                raise ValueError("`target` is required unless status is `no-counterpart`")
            if any(row.target for row in self.differences):
                raise ValueError("difference rows name a target parameter but there is no `target`")
        if self.alternatives and self.target is None:
            raise ValueError("`alternatives` need a recommended `target`")
        _different_frameworks(self.source, self.target)
        for alternative in self.alternatives:
            _different_frameworks(self.source, alternative.target)
        if sum(alternative.recommended for alternative in self.alternatives) > 1:
            raise ValueError("at most one of `alternatives` is `recommended`")
        seen: set[tuple[str, str | None]] = set()
        for pair in self.api_pairs():
            if pair[:2] in seen:
                raise ValueError(f"the page lists the pair {pair[0]} -> {pair[1] or '(no counterpart)'} twice")
            seen.add(pair[:2])
        return self

    def probes_failure(self, side: Side, device: str) -> ExpectedFailure | None:
        """The probes' declared failure of ``side`` on ``device``, if any."""
        if self.probes is None:
            return None
        return next((failure for failure in self.probes.expected_failures
                     if failure.side == side and device in failure.devices), None)

    def side_framework(self, side: Side) -> Framework:
        """The framework that runs ``side``'s code. On a page without counterpart the target side is
        the workaround, written with the other framework."""
        if side == "source":
            return framework_of(self.source.api)
        if self.target is not None:
            return framework_of(self.target.api)
        source = framework_of(self.source.api).key
        return next(framework for key, framework in FRAMEWORKS.items() if key != source)

    def side_api(self, side: Side) -> str:
        """The API name shown for ``side``'s code: the side's API, or "the workaround with X"."""
        api = self.source if side == "source" else self.target
        return api.api if api is not None else f"the workaround with {self.side_framework(side).display}"

    def api_pairs(self) -> list[tuple[str, str | None, bool]]:
        """(source API, target API or None, recommended) of every pair on the page, main pair first."""
        main = (self.source.api, self.target.api if self.target else None, self.target_recommended)
        pairs = [main] + [(self.source.api, alternative.target.api, alternative.recommended)
                          for alternative in self.alternatives]
        return pairs + [(pair.source.api, pair.target.api if pair.target else None, False) for pair in self.other_pairs]

    @property
    def target_recommended(self) -> bool:
        """`target` is marked recommended: there are alternatives and none of them is."""
        return bool(self.alternatives) and not any(alternative.recommended for alternative in self.alternatives)

    @property
    def key(self) -> str:
        """The page's identity: its path (runs, reports and links key on it, never on one pair)."""
        return self.page_path

    @property
    def source_module(self) -> str:
        return self.source.api.rsplit(".", 1)[0]

    @property
    def name(self) -> str:
        return self.source.api.rsplit(".", 1)[1]

    @property
    def page_path(self) -> str:
        """Where the page goes, relative to the generated pages' folder, without suffix."""
        return f"{self.source_module}/{self.name}"


def numbered_rows(differences: list[Difference]) -> list[tuple[str, str, Difference]]:
    """(category shown, "Parameter 3" label, row): category shown on the first row of its group."""
    counters: dict[str, int] = {}
    rows = []
    previous = None
    for row in differences:
        counters[row.category] = counters.get(row.category, 0) + 1
        shown = row.category if row.category != previous else ""
        rows.append((shown, f"{ROW_LABEL[row.category]} {counters[row.category]}", row))
        previous = row.category
    return rows


def json_schema() -> dict:
    """JSON Schema for editors (yaml-language-server and others)."""
    schema = Mapping.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "API mapping"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def field_reference() -> list[tuple[str, str, bool, str]]:
    """(path, type, required, description) of every field, read off the JSON Schema, for the docs."""
    schema = json_schema()
    definitions = schema.get("$defs", {})
    rows: list[tuple[str, str, bool, str]] = []

    def visit(node: dict, prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            reference, is_list = _referenced(prop)
            nested = definitions.get(reference, {})
            description = prop.get("description") or nested.get("description", "")
            rows.append((prefix + name, _type_text(prop, definitions), name in node.get("required", []),
                         " ".join(description.split())))
            if "properties" in nested:
                visit(nested, f"{prefix}{name}{'[]' if is_list else ''}.")
            named = _referenced(_named_values(prop))[0]  # a mapping of names to models
            if named and "properties" in definitions.get(named, {}):
                visit(definitions[named], f"{prefix}{name}.NAME.")

    visit(schema, "")
    return rows


def _referenced(prop: dict) -> tuple[str | None, bool]:
    """The $defs name a property points to (directly, through anyOf, or as list items)."""
    for candidate, is_list in ((prop, False), (prop.get("items", {}), True), *((p, False) for p in prop.get("anyOf", []))):
        if "$ref" in candidate:
            return candidate["$ref"].rsplit("/", 1)[-1], is_list
        if "items" in candidate and "$ref" in candidate["items"]:
            return candidate["items"]["$ref"].rsplit("/", 1)[-1], True
    return None, False


def _named_values(prop: dict) -> dict:
    """The schema of the values of an object keyed by names (``dict[str, Model]``), else {}."""
    values = prop.get("additionalProperties") or next(iter(prop.get("patternProperties", {}).values()), None)
    return values if isinstance(values, dict) else {}


def _type_text(prop: dict, definitions: dict) -> str:
    if prop.get("x-translatable"):
        return "translatable text (text, or " + ", ".join(f"`{language}`" for language in LANGUAGES) + " -> text)"
    if "anyOf" in prop:
        return " or ".join(_type_text(option, definitions) for option in prop["anyOf"])
    if "$ref" in prop:
        target = definitions[prop["$ref"].rsplit("/", 1)[-1]]
        return "one of " + ", ".join(f"`{value}`" for value in target["enum"]) if "enum" in target else "mapping"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{value}`" for value in prop["enum"])
    if prop.get("type") == "array":
        return f"list of {_type_text(prop.get('items', {}), definitions)}"
    if _named_values(prop):
        return f"mapping of names to {_type_text(_named_values(prop), definitions)}"
    if "const" in prop:
        return f"`{prop['const']}`"
    return {"null": "absent", "string": "text", "number": "number", "integer": "integer", "boolean": "true/false"}.get(prop.get("type", ""), "any")

"""Differential probes: variant derivation, comparison, claims checked by verify, real runs.

The first part needs no framework. The tests marked ``frameworks`` share one executor and one
cache, and run on the installed torch and MindSpore.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest

from generator import probes as probes_module
from generator.execute import Executor, SnippetResult, StatementOutput, cache_key
from generator.loader import load_mappings
from generator.pipeline import Options
from generator.probes import (MappingProbes, ProbeSide, SPECIAL_VALUES, TOLERANCES, broken_sides, compare_outcomes,
                              compare_sides, derive_variants, parse_side, probe_snippets, stale_declarations,
                              undeclared_differences,
                              run_probes)
from generator.schema import PROBE_DTYPES, Probes
from generator.verify import verify

from .conftest import L1LOSS_PAIR, SMALL_PROBES, write_mapping

PROBES = Probes.model_validate({
    "inputs": {
        "x": {"kind": "tensor", "shape": [3, 4], "broadcast": True},
        "y": {"kind": "tensor", "shape": [3, 4], "dtype": "int64", "domain": "index", "high": 3,
              "vary_dtype": False, "special": False},
        "p": {"kind": "value", "value": 0.5, "range": [0.0, 1.0], "values": ["mean"]},
    },
    "source": "x + y",
    "target": "x + y",
})


def by_name(variants):
    return {variant.name: variant for variant in variants}


@functools.cache
def _builder() -> dict:
    namespace: dict = {}
    exec(probes_module.driver_common(), namespace)  # noqa: S102 - the driver's own code, numpy only
    return namespace


def numbers(spec: dict) -> list:
    """The numbers that the driver builds from a tensor spec in the worker, built here."""
    return _builder()["_probe_numbers"](spec)


# ---------------------------------------------------------------- variants


def test_random_variant_is_ordinary_and_seeded():
    first, second = by_name(derive_variants(PROBES)), by_name(derive_variants(PROBES))
    assert first["random"].inputs == second["random"].inputs  # fixed seeds
    x = first["random"].inputs["x"]
    assert (x["dtype"], x["shape"], len(numbers(x))) == ("float32", [3, 4], 12)
    assert numbers(x) == numbers(second["random"].inputs["x"])
    assert set(numbers(first["random"].inputs["y"])) <= {0, 1, 2}
    assert numbers(first["random"].inputs["x"]) != numbers(first["dtype:float32"].inputs["x"])  # own seed each


def test_special_values_fill_the_first_row_of_float_inputs_only():
    variants = by_name(derive_variants(PROBES))
    for label, number in SPECIAL_VALUES.items():
        x = numbers(variants[f"special:{label}"].inputs["x"])
        first_row = x[:4]
        if math.isnan(number):
            assert all(math.isnan(value) for value in first_row)
        else:
            assert first_row == [number] * 4 and math.copysign(1, first_row[0]) == math.copysign(1, number)
        y = variants[f"special:{label}"].inputs["y"]
        assert y["dtype"] == "int64" and "first_row" not in y  # special: false
    assert {"special:denormal", "special:huge", "special:tiny", "special:-zero"} <= set(variants)


def test_empty_and_zero_dimensional_tensors():
    variants = by_name(derive_variants(PROBES))
    assert variants["empty"].inputs["x"]["shape"] == [0, 4] and numbers(variants["empty"].inputs["x"]) == []
    assert variants["scalar"].inputs["x"]["shape"] == [] and len(numbers(variants["scalar"].inputs["x"])) == 1


def test_every_dtype_with_values_of_its_kind():
    variants = by_name(derive_variants(PROBES))
    assert [name for name in variants if name.startswith("dtype:")] == [f"dtype:{d}" for d in PROBE_DTYPES]
    assert all(isinstance(v, bool) for v in numbers(variants["dtype:bool"].inputs["x"]))
    assert all(type(v) is int and v >= 0 for v in numbers(variants["dtype:uint8"].inputs["x"]))
    assert all(type(v) is float for v in numbers(variants["dtype:float16"].inputs["x"]))
    assert variants["dtype:int8"].inputs["y"]["dtype"] == "int64"  # vary_dtype: false


def test_broadcasting_shapes():
    variants = by_name(derive_variants(PROBES))
    assert variants["broadcast:x"].inputs["x"]["shape"] == [1, 4]
    assert variants["broadcast:x:rank"].inputs["x"]["shape"] == [4]
    assert variants["broadcast:x"].inputs["y"]["shape"] == [3, 4]
    assert "broadcast:y" not in variants


def test_parameters_at_and_beyond_their_range():
    names = [name for name in by_name(derive_variants(PROBES)) if name.startswith("parameter:")]
    assert names == ["parameter:p='mean'", "parameter:p=0.0", "parameter:p=-1.0", "parameter:p=1.0",
                     "parameter:p=2.0"]


def test_variant_kinds_can_be_chosen():
    only = PROBES.model_copy(update={"variants": ["random", "scalar"]})
    assert [variant.name for variant in derive_variants(only)] == ["random", "scalar"]


# ---------------------------------------------------------------- cache keys


def _side_keys(mapping) -> list[str]:
    return [cache_key(snippet, "cpu", "1.0") for _, snippet in probe_snippets(mapping)[1]]


def test_variants_hold_the_specs_of_their_inputs_never_values():
    for variant in derive_variants(PROBES):
        for spec in variant.inputs.values():
            assert spec["kind"] in ("tensor", "value") and "values" not in spec


def test_a_probe_driver_is_keyed_on_its_spec_and_the_derivation_code(tmp_path: Path, monkeypatch):
    mapping = claims_mapping(tmp_path, "consistent", "")
    keys = _side_keys(mapping)
    assert keys == _side_keys(mapping)
    assert len(set(keys)) == len(keys)
    probes = mapping.probes
    changed = [
        probes.model_copy(update={"inputs": {"input": probes.inputs["input"].model_copy(update={"shape": [3]})}}),
        probes.model_copy(update={"variants": ["random"]}),
        probes.model_copy(update={"source": "input * 1", "target": "input * 1"}),
        probes.model_copy(update={"timeout": 5.0}),
    ]
    for other in changed:
        assert set(_side_keys(mapping.model_copy(update={"probes": other}))).isdisjoint(keys), other
    assert [cache_key(s, "cpu", "2.0") for _, s in probe_snippets(mapping)[1]] != keys  # framework version
    monkeypatch.setattr(probes_module, "derivation_fingerprint", lambda: "other derivation code")
    assert set(_side_keys(mapping)).isdisjoint(keys)


def test_the_fingerprint_covers_derivation_and_drivers_but_not_comparison():
    source = Path(probes_module.__file__).read_text(encoding="utf-8")
    covered = source[:source.index(probes_module._RUNNING)]
    assert "def derive_variants" in covered and "_COMMON = " in covered and "SPECIAL_VALUES = " in covered
    assert "def compare_outcomes" not in covered


def test_a_rebuild_from_the_cache_runs_nothing(tmp_path: Path):
    mapping = claims_mapping(tmp_path, "consistent", "")
    runs: list[int] = []

    class Pool:  # stands in for Executor: a cache of results by key
        device, stored = "cpu", {}

        def run(self, snippets):
            results = []
            for index, snippet in enumerate(snippets):
                key = cache_key(snippet, "cpu")
                if key not in self.stored:
                    runs.append(index)
                    assert '"seed": ' in snippet.code and '"values"' not in snippet.code
                    self.stored[key] = SnippetResult("ok", [StatementOutput(1, "")], "", None, None, None, 0.0,
                                                     "1.0", "cpu", "")
                results.append(self.stored[key])
            return results

    loaded = [type("Loaded", (), {"mapping": mapping})()]
    pool = Pool()
    run_probes(loaded, pool)
    assert runs == [0, 1]
    runs.clear()
    again = run_probes(loaded, pool)[mapping.source.api]
    assert runs == [] and [v.name for v in again.variants] == ["random", "scalar"]


# ---------------------------------------------------------------- comparison


def tensor(dtype, values, shape=None):
    return {"dtype": dtype, "shape": shape if shape is not None else [len(values)], "values": values}


def test_raises_on_one_side_only():
    error = {"error": "TypeError", "message": "bad dtype"}
    assert compare_outcomes(tensor("float32", [1.0]), error) == "raises on MindSpore only"
    assert compare_outcomes(error, tensor("float32", [1.0])) == "raises on PyTorch only"
    assert compare_outcomes(error, {"error": "ValueError", "message": "other"}) is None


def test_dtype_and_shape_mismatch():
    assert compare_outcomes(tensor("float64", [1.0]), tensor("float32", [1.0])) == "dtype float64 vs float32"
    assert compare_outcomes(tensor("float32", [1.0, 2.0], [2]), tensor("float32", [1.0, 2.0], [1, 2])) == \
        "shape (2,) vs (1, 2)"
    assert "sequence" in compare_outcomes({"items": [tensor("float32", [1.0])]}, tensor("float32", [1.0]))


def test_tolerance_follows_the_dtype():
    nudged = 1.0 + 5e-4  # within float16's tolerance, far outside float32's and float64's
    assert compare_outcomes(tensor("float16", [1.0]), tensor("float16", [nudged])) is None
    assert compare_outcomes(tensor("bfloat16", [1.0]), tensor("bfloat16", [1.01])) is None
    assert "float32 tolerance" in compare_outcomes(tensor("float32", [1.0]), tensor("float32", [nudged]))
    assert compare_outcomes(tensor("float32", [1.0]), tensor("float32", [1.0 + 1e-7])) is None
    assert "float64" in compare_outcomes(tensor("float64", [1.0]), tensor("float64", [1.0 + 1e-8]))  # float32 precision
    assert compare_outcomes(tensor("int32", [3]), tensor("int32", [4])) is not None  # integers exactly
    assert TOLERANCES["float16"][0] > TOLERANCES["float32"][0] > TOLERANCES["float64"][0]


def test_special_numbers_compare_by_kind():
    assert compare_outcomes(tensor("float32", ["nan"]), tensor("float32", ["nan"])) is None
    assert compare_outcomes(tensor("float32", ["nan"]), tensor("float32", [0.0])) == "values differ (nan vs 0)"
    assert compare_outcomes(tensor("float32", ["inf"]), tensor("float32", ["-inf"])) is not None
    assert compare_outcomes({"python": "bool", "value": True}, {"python": "bool", "value": False}) is not None


# ---------------------------------------------------------------- claims


def probed(variants, source_outcomes, target_outcomes) -> MappingProbes:
    source = ProbeSide("torch.x", source_outcomes)
    target = ProbeSide("mindspore.x", target_outcomes)
    return MappingProbes(variants, source, [compare_sides(source, target, variants)])


def claims_mapping(tmp_path: Path, status: str, rows: str):
    text = L1LOSS_PAIR.replace("status: names-differ", f"status: {status}") + rows + SMALL_PROBES
    return load_mappings([write_mapping(tmp_path / "m", "torch.nn/L1Loss.yaml", text)]).mappings[0].mapping


def test_undeclared_difference_only_for_statuses_that_claim_the_same_behaviour(tmp_path: Path):
    same = tensor("float32", [1.0])
    for status, expected in (("consistent", ["scalar"]), ("names-differ", ["scalar"]), ("parameters-differ", []),
                             ("functional-difference", [])):
        mapping = claims_mapping(tmp_path, status, "")
        variants = derive_variants(mapping.probes)
        result = probed(variants, {"random": same, "scalar": same},
                        {"random": same, "scalar": {"error": "ValueError", "message": "0-d"}})
        assert list(undeclared_differences(mapping, result)) == expected, status


def test_a_side_that_raises_on_every_variant_or_stops_tested_nothing(tmp_path: Path):
    from types import SimpleNamespace

    variants = derive_variants(claims_mapping(tmp_path, "consistent", "").probes)
    same = tensor("float32", [1.0])
    error = {"error": "TypeError", "message": "bad template"}
    assert broken_sides(probed(variants, {"random": same, "scalar": same}, {"random": same, "scalar": error})) == []
    found = broken_sides(probed(variants, {"random": error, "scalar": error}, {"random": same, "scalar": same}))
    assert found == [("source", "raised on every variant, e.g. TypeError: bad template")]
    # the output limit cut the records: the side stopped part-way, and no traceback
    record = '@@probe 0123456789abcdef0123456789abcdef\n@@probe 0123456789abcdef0123456789abcdef {"variant": "random", "val'
    output = SimpleNamespace(text=record, truncated=True)
    cut = SimpleNamespace(ok=True, outputs=[output], text=record)
    side = parse_side("torch.x", cut, variants)
    assert "passed the output limit of 64 KiB after 0 of 2 variants" in side.failure
    assert side.outcomes == {}  # both variants lost, neither run nor agreeing


def test_a_declared_difference_is_not_reported_and_a_stale_one_is(tmp_path: Path):
    rows = "differences:\n  - {category: Inputs, source: input, target: logits, probes: [scal*]}\n" \
           "  - {category: Inputs, source: target, target: labels, probes: [random, dtype:*]}\n"
    mapping = claims_mapping(tmp_path, "names-differ", rows)
    variants = derive_variants(mapping.probes)
    same = tensor("float32", [1.0])
    result = probed(variants, {"random": same, "scalar": same}, {"random": same, "scalar": tensor("float32", [2.0])})
    assert undeclared_differences(mapping, result) == {}
    assert stale_declarations(mapping, result) == [
        (1, "random", "the two sides now agree on random"), (1, "dtype:*", "names no probe variant")]


def test_bad_probes_are_reported_with_file_line_and_field(tmp_path: Path):
    shapeless = L1LOSS_PAIR + "probes:\n  inputs:\n    input: {kind: tensor}\n  source: input\n  target: input\n"
    statement = L1LOSS_PAIR + "probes:\n  inputs:\n    input: {kind: tensor, shape: [2]}\n  source: y = input\n  target: input\n"
    (shape_problem,) = load_mappings([write_mapping(tmp_path / "a", "torch.nn/L1Loss.yaml", shapeless)]).problems
    assert (shape_problem.line, shape_problem.field) == (14, "probes.inputs.input")
    assert "needs `shape`" in shape_problem.message
    (template_problem,) = load_mappings([write_mapping(tmp_path / "b", "torch.nn/L1Loss.yaml", statement)]).problems
    assert template_problem.field == "probes" and template_problem.line == 12
    assert "`source` must end in an expression" in template_problem.message


# ---------------------------------------------------------------- on the real frameworks

RELU = """\
source:
  api: torch.nn.functional.relu
  kind: function
  signature: torch.nn.functional.relu(input, inplace=False) -> Tensor
  summary: Rectified linear unit.
target:
  api: mindspore.ops.relu
  kind: function
  signature: mindspore.ops.relu(input, inplace=False) -> Tensor
  summary: The same function.
status: consistent
differences:
  - {category: Parameters, source: input, target: input, probes: [random]}
  - {category: Parameters, source: inplace, target: inplace}
probes:
  inputs:
    input: {kind: tensor, shape: [2, 3]}
  source: torch.nn.functional.relu(input)
  target: mindspore.ops.relu(input)
  targets:
    - api: mindspore.mint.nn.functional.relu
      call: mindspore.mint.nn.functional.relu(input)
  variants: [random, special, dtype]
"""


@pytest.fixture(scope="module")
def relu_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("probes") / "mappings"
    write_mapping(folder, "torch.nn.functional/relu.yaml", RELU)
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("probe-cache") / "cache.sqlite"


@pytest.mark.frameworks
def test_real_probes_find_differences_and_rebuild_from_the_cache(relu_folder: Path, cache: Path):
    mappings = load_mappings([relu_folder]).mappings
    with Executor(jobs=2, cache_path=cache, progress=False) as pool:
        result = run_probes(mappings, pool)["torch.nn.functional.relu"]
        assert pool.stats.executed == 3  # source, target, further target: one snippet each
        again = run_probes(mappings, pool)["torch.nn.functional.relu"]
        assert pool.stats.executed == 0 and again.cached  # a no-op rebuild runs nothing
    main = result.main
    assert main.differences["special:nan"] == "values differ (nan vs 0)"
    assert main.differences["dtype:bool"] == "raises on PyTorch only"
    assert "Boolean" in result.source.outcomes["dtype:bool"]["message"]  # the error text is kept
    assert "random" not in main.differences
    assert [target.target.api for target in result.targets] == ["mindspore.ops.relu",
                                                                "mindspore.mint.nn.functional.relu"]
    assert again.main.differences == main.differences


@pytest.mark.frameworks
def test_verify_reports_undeclared_and_stale_probe_claims(relu_folder: Path, cache: Path):
    outcome = verify([relu_folder], Options(cache_path=cache, jobs=2, progress=False))
    findings = [finding for finding in outcome.findings if finding.check == "probes"]
    undeclared = next(f for f in findings if "undeclared" in f.message)
    assert undeclared.line == 11 and "special:nan" in undeclared.message and "dtype:bool" in undeclared.message
    stale = next(f for f in findings if "now agree" in f.message)
    assert stale.line == 13 and "`random`" in stale.message
    assert not outcome.ok


def test_page_lists_differing_variants_and_counts_agreeing_ones(tmp_path: Path):
    from generator.render import Renderer

    rows = "differences:\n  - {category: Inputs, source: input, target: logits, probes: [scalar]}\n"
    path = write_mapping(tmp_path / "m", "torch.nn/L1Loss.yaml", L1LOSS_PAIR + rows + """\
probes:
  inputs:
    input: {kind: tensor, shape: [2]}
  source: input
  target: input
  variants: [random, scalar, empty]
""")
    loaded = load_mappings([path]).mappings[0]
    variants = derive_variants(loaded.mapping.probes)
    same = tensor("float32", [1.0])
    result = probed(variants, {"random": same, "scalar": same, "empty": same},
                    {"random": same, "scalar": {"error": "ValueError", "message": "0-d | not allowed"}, "empty": same})
    page = Renderer().page(loaded, {}, probes=result)
    section = page[page.index("## Behaviour compared"):]
    assert "2 of 3 variants behave the same; 1 differ.\n\n| Variants |" in section
    assert ("| scalar (declared): 0\\-d tensors | raises on MindSpore only | float32 \\(1\\,\\) \\[1\\] | "
            "raises ValueError\\: 0\\-d \\| not allowed |") in section
    assert "random |" not in section
    assert "## Behaviour compared" not in Renderer().page(loaded, {})


# ---------------------------------------------------------------- a compact "Behaviour compared" section

MANY = Probes.model_validate({
    "inputs": {"x": {"kind": "tensor", "shape": [4, 8]}, "y": {"kind": "tensor", "shape": [4, 8]},
               "p": {"kind": "value", "value": 1, "range": [0, 4], "values": [2, 3, 5, 6, 7, 8, 9, 10]}},
    "source": "x + y", "target": "x + y",
})


def many_differences(variants):
    """Every variant differs: errors with long messages, values, dtypes, each in several kinds."""
    source, target = {}, {}
    for index, variant in enumerate(variants):
        source[variant.name] = tensor("float32", [0.123456789 * index] * 32, [4, 8])
        kind = index % 4
        if kind == 0:
            target[variant.name] = {"error": f"Error{index % 9}", "message": "a long message " * 20}
        elif kind == 1:
            target[variant.name] = tensor("float32", [9.87654321 * index] * 32, [4, 8])
        elif kind == 2:
            target[variant.name] = tensor("float64", [0.123456789 * index] * 32, [4, 8])
        else:
            target[variant.name] = tensor("float32", [0.1] * 16, [2, 8])
    return source, target


def test_differing_variants_are_grouped_capped_and_all_named():
    from generator.probes import SHOWN_GROUPS, behaviour_view

    variants = derive_variants(MANY)
    source_outcomes, target_outcomes = many_differences(variants)
    result = probed(variants, source_outcomes, target_outcomes)
    mapping = claims_mapping_model(MANY)
    (view,) = behaviour_view(mapping, result)
    assert view.differing == len(variants) > 30
    assert len(view.rows) == SHOWN_GROUPS
    named = [name for row in view.rows for name in (row.variant, *row.others)] + view.more
    assert sorted(named) == sorted(variant.name for variant in variants)  # every differing variant named once
    long = next(row for row in view.rows if row.target.startswith("raises"))
    assert long.target.endswith("…") and len(long.target) <= 100
    assert long.target_full.startswith("raises Error") and "a long message a long message" in long.target_full


def test_a_target_that_differs_as_an_earlier_one_gets_no_table_of_its_own():
    from generator.probes import TargetProbes, behaviour_view

    variants = derive_variants(MANY)
    source_outcomes, target_outcomes = many_differences(variants)
    result = probed(variants, source_outcomes, target_outcomes)
    source = result.source
    twin = ProbeSide("mindspore.mint.x", dict(target_outcomes))
    other = ProbeSide("mindspore.ops.x", dict(source_outcomes))
    result.targets += [compare_sides(source, twin, variants), compare_sides(source, other, variants)]
    first, second, third = behaviour_view(claims_mapping_model(MANY), result)
    assert first.rows and second.same_as == "mindspore.x" and not second.rows and not second.more
    assert third.differing == 0 and third.same_as is None


def test_the_behaviour_section_stays_small_whatever_the_number_of_variants_and_targets(tmp_path: Path):
    from generator.render import Renderer

    path = write_mapping(tmp_path / "m", "torch.nn/L1Loss.yaml", L1LOSS_PAIR + """probes:
  inputs:
    x: {kind: tensor, shape: [4, 8]}
    y: {kind: tensor, shape: [4, 8]}
    p: {kind: value, value: 1, range: [0, 4], values: [2, 3, 5, 6, 7, 8, 9, 10]}
  source: x + y
  target: x + y
  targets:
    - {api: mindspore.mint.add, call: x + y}
    - {api: mindspore.ops.add, call: x + y}
""")
    loaded = load_mappings([path]).mappings[0]
    variants = derive_variants(loaded.mapping.probes)
    source_outcomes, target_outcomes = many_differences(variants)
    result = probed(variants, source_outcomes, target_outcomes)
    shifted = {name: {"error": "Other", "message": "x " * 150} for name in target_outcomes}
    for outcomes in (shifted, {name: tensor("int64", [1] * 40, [5, 8]) for name in target_outcomes}):
        result.targets.append(compare_sides(result.source, ProbeSide("mindspore.other", outcomes), variants))
    page = Renderer().page(loaded, {}, probes=result)
    section = page[page.index("## Behaviour compared"):]
    assert len(variants) > 30 and len(section.encode()) < 12_000
    assert section.count("more differing variants:") == 1
    assert "<span class=\"probe-outcome\" title=\"raises Other: x x x" in section


def claims_mapping_model(probes: Probes):
    from generator.schema import Mapping

    return Mapping.model_validate({
        "source": {"api": "torch.nn.L1Loss", "kind": "class", "signature": "torch.nn.L1Loss()", "summary": "s"},
        "target": {"api": "mindspore.nn.L1Loss", "kind": "class", "signature": "mindspore.nn.L1Loss()",
                   "summary": "s"},
        "status": "names-differ", "probes": probes.model_dump()})

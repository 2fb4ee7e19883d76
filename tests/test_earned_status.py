"""Earned statuses (issue 19, items 1 to 3): a status that says two APIs behave the same
(`consistent`, `names-differ`) passes `verify` only when the probes cover every variant kind that
applies, the main target agrees on every variant, and, for classes, the target has the public
surface a user calls; every variant changes one thing against the ordinary input; a value that
changes from one run of a variant to the next is reported as nondeterministic, never compared.

Most tests build outcomes as the driver prints them, or run the driver's own loop with numpy
standing in for a framework; the tests marked `frameworks` run torch and MindSpore.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from generator import probes as probes_module
from generator.execute import Executor
from generator.introspect import USER_SURFACE, class_surface
from generator.loader import load_mappings
from generator.probes import (MappingProbes, ProbeSide, behaviour_view, compare_sides, derive_variants, driver_code,
                              missing_kinds, parse_side, run_probes, sameness_problems, stale_declarations)
from generator.render import Renderer
from generator.results import SnippetResult, StatementOutput
from generator.schema import VARIANT_KINDS, Probes
from generator.verify import probe_findings, status_findings

from .conftest import L1LOSS_PAIR, ROOT, write_mapping

ONE = {"dtype": "float32", "shape": [1], "values": [1.0]}
TWO = {"dtype": "float32", "shape": [1], "values": [2.0]}


def mapping_with(tmp_path: Path, status: str = "consistent", probes: str = "", rows: str = ""):
    probes = probes or ("probes:\n  inputs:\n    input: {kind: tensor, shape: [2, 3]}\n"
                        "  source: input\n  target: input\n")
    text = L1LOSS_PAIR.replace("status: names-differ", f"status: {status}") + rows + probes
    loaded = load_mappings([write_mapping(tmp_path / "m", "torch.nn/L1Loss.yaml", text)])
    assert not loaded.problems, loaded.problems
    return loaded.mappings[0]


def probed_with(variants, source: dict, target: dict, source_again: dict | None = None) -> MappingProbes:
    source_side = ProbeSide("torch.nn.L1Loss", source, nondeterministic=source_again or {})
    target_side = ProbeSide("mindspore.nn.L1Loss", target)
    return MappingProbes(variants, source_side, [compare_sides(source_side, target_side, variants)])


# ---------------------------------------------------------------- 1. a status is earned


def test_a_sameness_status_with_a_differing_variant_fails_even_when_declared(tmp_path: Path):
    rows = "differences:\n  - {category: Inputs, source: input, target: logits, probes: [scalar]}\n"
    loaded = mapping_with(tmp_path, "names-differ", rows=rows)
    variants = derive_variants(loaded.mapping.probes)
    outcomes = {variant.name: ONE for variant in variants}
    result = probed_with(variants, outcomes, {**outcomes, "scalar": TWO})
    (finding,) = [f for f in probe_findings(loaded, {"torch.nn.L1Loss": result}) if f.line == loaded.line_of("status")]
    assert "1 variant(s) differ (0 undeclared): scalar: values differ" in finding.message
    assert "docs/status-categories.md" in finding.message
    # the same outcomes under a status that claims a difference: nothing to earn
    other = mapping_with(tmp_path, "functional-difference", rows=rows)
    assert sameness_problems(other.mapping, result) == []
    # all agree: earned
    assert sameness_problems(loaded.mapping, probed_with(variants, outcomes, dict(outcomes))) == []


def test_a_sameness_status_needs_every_variant_kind_that_applies(tmp_path: Path):
    narrow = ("probes:\n  inputs:\n    input: {kind: tensor, shape: [2, 3]}\n    p: {kind: value, value: 1}\n"
              "  variants: [random, special, dtype]\n  source: input\n  target: input\n")
    loaded = mapping_with(tmp_path, probes=narrow)
    # `p` has no further values and no range: `parameter` cannot apply; `broadcast` is opted into per input
    assert missing_kinds(loaded.mapping.probes) == ["empty", "scalar", "rank", "negative"]
    variants = derive_variants(loaded.mapping.probes)
    outcomes = {variant.name: ONE for variant in variants}
    (problem,) = sameness_problems(loaded.mapping, probed_with(variants, outcomes, dict(outcomes)))
    assert problem == "`probes.variants` leaves out kinds that apply to its inputs: empty, scalar, rank, negative"
    whole = mapping_with(tmp_path, probes=narrow.replace("  variants: [random, special, dtype]\n", ""))
    assert missing_kinds(whole.mapping.probes) == []


def test_a_sameness_status_without_probes_fails_at_the_status_line(tmp_path: Path):
    loaded = mapping_with(tmp_path, probes="\n")
    findings = status_findings(loaded, frameworks=[])
    assert any("has no `probes`" in f.message and f.line == loaded.line_of("status") for f in findings), findings


def test_nondeterministic_and_lost_variants_do_not_earn_a_status(tmp_path: Path):
    loaded = mapping_with(tmp_path)
    variants = derive_variants(loaded.mapping.probes)
    outcomes = {variant.name: ONE for variant in variants}
    result = probed_with(variants, outcomes, {name: ONE for name in list(outcomes)[1:]},
                         source_again={"scalar": "values differ (2 vs 1)"})
    problems = sameness_problems(loaded.mapping, result)
    assert any("1 variant(s) are nondeterministic: scalar on torch.nn.L1Loss" in p for p in problems), problems
    assert any("1 variant(s) were not run or lost: random" in p for p in problems), problems


def test_a_sameness_status_that_this_device_cannot_compare_is_reported_as_not_proven(tmp_path: Path):
    from generator.schema import ExpectedFailure

    loaded = mapping_with(tmp_path)
    variants = derive_variants(loaded.mapping.probes)
    source = ProbeSide("torch.nn.L1Loss", {variant.name: ONE for variant in variants})
    target = ProbeSide("mindspore.nn.L1Loss", {variant.name: {"error": "RuntimeError", "message": "no CPU kernel"}
                                               for variant in variants})
    expected = {"target": ExpectedFailure(side="target", devices=["cpu"], error="no CPU kernel")}
    result = MappingProbes(variants, source, [compare_sides(source, target, variants, expected)])
    findings = probe_findings(loaded, {"torch.nn.L1Loss": result})
    (note,) = findings
    assert note.severity == "unchecked" and "is not proven on this device" in note.message
    assert f"{len(variants)} of {len(variants)} variants could not be compared" in note.message


class TorchLike:
    def state_dict(self): ...
    def load_state_dict(self, state): ...
    def step(self): ...
    def get_lr(self): ...  # its own method
    def forward(self): ...  # the framework calls it, not the user


class MindSporeLike:
    def step(self): ...
    def get_lr(self): ...


def test_the_class_surface_is_what_a_user_calls():
    assert class_surface(TorchLike) == ["state_dict", "load_state_dict", "step", "get_lr"]
    assert {"state_dict", "load_state_dict", "step", "get_last_lr", "zero_grad", "parameters", "train", "eval",
            "extra_repr"} <= set(USER_SURFACE)


def test_a_class_with_a_missing_method_fails(tmp_path: Path, monkeypatch):
    from generator import verify as verify_module

    loaded = mapping_with(tmp_path)  # torch.nn.L1Loss -> mindspore.nn.L1Loss, kind: class
    found = {"torch.nn.L1Loss": TorchLike, "mindspore.nn.L1Loss": MindSporeLike}
    monkeypatch.setattr(verify_module, "missing_surface", lambda source, target: [
        name for name in class_surface(found[source]) if not hasattr(found[target], name)])
    monkeypatch.setattr(verify_module, "why_not_here", lambda framework, selected: None)
    (finding,) = status_findings(loaded)
    assert finding.line == loaded.line_of("status") and finding.check == "status"
    assert "mindspore.nn.L1Loss lacks 2 public method(s)" in finding.message
    assert "state_dict, load_state_dict" in finding.message
    assert status_findings(mapping_with(tmp_path, "parameters-differ")) == []


@pytest.mark.frameworks
def test_the_real_scheduler_surface_misses_the_checkpoint_methods():
    from generator.introspect import missing_surface

    assert missing_surface("torch.optim.lr_scheduler.StepLR",
                           "mindspore.experimental.optim.lr_scheduler.StepLR") == ["state_dict", "load_state_dict"]


# ---------------------------------------------------------------- 2. one change per variant

RICH = Probes.model_validate({
    "inputs": {
        "x": {"kind": "tensor", "shape": [4, 3], "broadcast": True},
        "target": {"kind": "tensor", "shape": [4], "dtype": "int64", "domain": "index", "high": 3,
                   "vary_dtype": False, "special": False},
        "weight": {"kind": "tensor", "shape": [5, 3], "vary_dtype": False, "special": False},
        "y": {"kind": "tensor", "shape": [4, 3]},
        "p": {"kind": "value", "value": 0.5, "values": ["mean"], "range": [0.0, 2.0]},
    },
    "source": "x", "target": "x",
})


def shape_change(name: str, old: list[int], new: list[int]) -> tuple:
    """A shape change as what it does, so that the same change on several inputs reads the same:
    0-d, or a leading size set to another (the batch size, when inputs share it); otherwise a change
    of this input alone."""
    if new == []:
        return ("shape", "0-d")
    if len(new) == len(old) and new[1:] == old[1:]:
        return ("shape", f"leading {old[0]} -> {new[0]}")
    return ("shape", name, json.dumps(new))


def changes(variant, random) -> set[tuple]:
    """What a variant changes against ``random``, one tuple per distinct change, the seed aside:
    a shape change (``shape_change``) or one attribute set to one value, on however many inputs."""
    found = set()
    for name, spec in variant.inputs.items():
        ordinary = random.inputs[name]
        if spec.get("kind") == "value":
            if spec["value"] != ordinary["value"]:
                found.add(("value", name, json.dumps(spec["value"])))
            continue
        for key in sorted(set(spec) | set(ordinary)):
            if key == "seed" or spec.get(key) == ordinary.get(key):
                continue
            if key == "shape":
                found.add(shape_change(name, ordinary["shape"], spec["shape"]))
            else:
                found.add((key, json.dumps(spec.get(key))))
    return found


def one_change(variant, random) -> bool:
    return len(changes(variant, random)) <= 1  # dtype:float32 of a float32 input changes nothing but the seed


def test_no_generated_variant_changes_two_things_at_once():
    variants = derive_variants(RICH)
    random = variants[0]
    assert random.name == "random"
    for variant in variants[1:]:
        assert one_change(variant, random), (variant.name, changes(variant, random))
    names = {variant.name for variant in variants}
    assert {"rank:+1", "negative", "empty:target", "empty:weight", "empty:y", "special:nan@middle",
            "special:-inf@last", "parameter:p=1.0"} <= names, names  # 1.0 is inside [0, 2]
    assert "rank:-1" not in names  # x broadcasts: its unbatched form is broadcast:x:rank


def test_no_variant_of_a_repository_mapping_changes_two_things_at_once():
    mappings = load_mappings([ROOT / "mappings"]).mappings
    checked = 0
    for loaded in mappings:
        if loaded.mapping.probes is None:
            continue
        every = loaded.mapping.probes.model_copy(update={"variants": list(VARIANT_KINDS)})
        variants = derive_variants(every)
        for variant in variants[1:]:
            assert one_change(variant, variants[0]), (loaded.path, variant.name, changes(variant, variants[0]))
            checked += 1
    assert checked > 1000


def test_an_empty_batch_leaves_the_weights_alone():
    """linear_cross_entropy's probe emptied its weight too, and so built a model with no classes."""
    variants = {variant.name: variant for variant in derive_variants(RICH)}
    empty = variants["empty"].inputs
    assert [empty[name]["shape"] for name in ("x", "target", "weight", "y")] == [[0, 3], [0], [5, 3], [0, 3]]
    assert variants["empty:weight"].inputs["weight"]["shape"] == [0, 3]
    assert variants["empty:weight"].inputs["x"]["shape"] == [4, 3]


def test_new_variant_kinds_are_opt_out_and_leave_the_older_inputs_alone():
    older = RICH.model_copy(update={"variants": ["random", "special", "empty", "scalar", "dtype", "broadcast",
                                                 "parameter"]})
    names = [variant.name for variant in derive_variants(older)]
    assert not any(name.startswith(("rank", "negative")) for name in names)
    every = {variant.name: variant for variant in derive_variants(RICH)}
    for variant in derive_variants(older):  # the same specs (seeds included) whatever kinds are added
        assert every[variant.name].inputs == variant.inputs


def test_specials_at_the_middle_and_last_element_and_negative_numbers():
    namespace: dict = {}
    exec(probes_module.driver_common(), namespace)  # noqa: S102 - the driver's own code, numpy only
    variants = {variant.name: variant for variant in derive_variants(RICH)}
    middle = namespace["_probe_numbers"](variants["special:nan@middle"].inputs["x"])
    last = namespace["_probe_numbers"](variants["special:inf@last"].inputs["x"])
    assert [index for index, number in enumerate(middle) if number != number] == [6]
    assert last[-1] == float("inf") and float("inf") not in last[:-1]
    negative = namespace["_probe_numbers"](variants["negative"].inputs["x"])
    assert all(number < 0 for number in negative)
    # a probability or a scale is declared to take no negative number: negating it leaves its domain
    unit = Probes.model_validate({"inputs": {"p": {"kind": "tensor", "shape": [3], "domain": "unit"}},
                                  "source": "p", "target": "p"})
    assert "negative" not in {variant.name for variant in derive_variants(unit)}


# ---------------------------------------------------------------- 3. nondeterminism


def numpy_driver() -> dict:
    namespace: dict = {}
    exec(probes_module.driver_common(), namespace)  # noqa: S102 - the driver's own code, numpy only
    namespace.update(_probe_tensor=namespace["_probe_array"], _probe_sync=lambda: None, _probe_namespace={"np": np},
                     _probe_numpy=lambda value: (str(value.dtype), value) if isinstance(value, np.ndarray) else None)
    return namespace


def run_driver(variants, template: str) -> ProbeSide:
    namespace = numpy_driver()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(driver_code(variants, template), namespace)  # noqa: S102
    result = SnippetResult("ok", [StatementOutput(2, printed.getvalue())], "", None, None, None, 0.0, "1.0", "cpu", "")
    return parse_side("numpy", result, variants)


def test_the_driver_runs_each_variant_twice_and_reports_what_changed():
    variants = derive_variants(Probes.model_validate({"inputs": {"input": {"kind": "tensor", "shape": [3]}},
                                                      "source": "input", "target": "input",
                                                      "variants": ["random", "scalar"]}))
    steady = run_driver(variants, "np.asarray(input * 2)")
    assert steady.nondeterministic == {} and set(steady.outcomes) == {"random", "scalar"}
    unseeded = run_driver(variants, "np.asarray(input.sum() + np.random.default_rng().random())")
    assert set(unseeded.nondeterministic) == {"random", "scalar"}
    assert unseeded.nondeterministic["random"].startswith("values differ")


def test_a_nondeterministic_variant_is_neither_agreeing_nor_a_difference(tmp_path: Path):
    loaded = mapping_with(tmp_path, "functional-difference")
    variants = derive_variants(loaded.mapping.probes)
    outcomes = {variant.name: ONE for variant in variants}
    result = probed_with(variants, outcomes, dict(outcomes), source_again={"empty": "values differ (3 vs 1)"})
    assert "empty" not in result.main.differences and result.main.nondeterministic == {
        "empty": {"torch.nn.L1Loss": "values differ (3 vs 1)"}}
    assert result.main.agreeing == len(variants) - 1
    (view,) = behaviour_view(loaded.mapping, result)
    assert [(row.variant, row.apis) for row in view.nondeterministic] == [("empty", "torch.nn.L1Loss")]
    page = Renderer().page(loaded, {}, probes=result)
    assert "empty (leading dimension 0 \\(an empty batch\\) of input) is nondeterministic on torch\\.nn\\.L1Loss" in page
    assert "two runs on the same inputs gave different results" in page
    zh_page = Renderer(language="zh_CN").page(loaded, {}, probes=result)
    assert "不确定" in zh_page
    # a difference row naming it is not stale: the variant still shows something to declare
    rows = "differences:\n  - {category: Inputs, source: input, target: logits, probes: [empty]}\n"
    declared = mapping_with(tmp_path, "functional-difference", rows=rows)
    assert stale_declarations(declared.mapping, result) == []


UNINITIALISED = """\
probes:
  inputs:
    input: {kind: tensor, shape: [2, 3]}
  variants: [random, scalar]
  source: |
    garbage = torch.empty(100000)
    (input.sum(), float(np.random.rand()), garbage.sum())
  target: (input.sum(), 0.5, ops.zeros(1).sum())
"""


@pytest.mark.frameworks
def test_real_probes_report_an_unseeded_value_as_nondeterministic(tmp_path: Path):
    loaded = mapping_with(tmp_path, "consistent", probes=UNINITIALISED)
    with Executor(jobs=2, cache_path=None, progress=False) as pool:
        result = run_probes([loaded], pool)["torch.nn.L1Loss"]
    main = result.main
    assert set(main.nondeterministic) == {"random", "scalar"}, (main.nondeterministic, main.differences)
    assert main.differences == {} and main.agreeing == 0
    assert all("torch.nn.L1Loss" in sides for sides in main.nondeterministic.values())
    findings = probe_findings(loaded, {"torch.nn.L1Loss": result})
    assert any("2 variant(s) are nondeterministic" in f.message for f in findings), findings

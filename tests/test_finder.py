"""generator.finder: ranked MindSpore candidates for a PyTorch API, and `python -m generator find`."""

from __future__ import annotations

import json

import pytest

from generator import introspect
from generator.cli import main
from generator.finder import CONSTRUCTOR_SHARE, MIN_SCORE, _overlap, _Params, find, name_similarity, normalized, target_index


def test_names_compare_without_case_and_underscores():
    assert normalized("Soft_Margin_Loss") == "softmarginloss"
    assert name_similarity("SoftMarginLoss", "soft_margin_loss") == 1.0
    assert 0 < name_similarity("relu", "relu6") < 1.0


def test_parameter_overlap_is_shared_over_all_and_says_which():
    score, why = _overlap(_Params(frozenset({"input", "dim", "keepdim"})), _Params(frozenset({"input", "axis", "keepdims"})))
    assert score == pytest.approx(1 / 5)
    assert why == "parameters: 1 shared of 5 (input)"
    assert _overlap(None, _Params(frozenset({"x"})))[0] == 0.0


def test_two_classes_compare_constructors_by_name_and_inputs_by_number():
    torch_like = _Params(frozenset({"reduction"}), frozenset({"input", "target"}))
    score, why = _overlap(torch_like, _Params(frozenset({"reduction"}), frozenset({"logits", "labels"})))
    assert score == pytest.approx(1.0)
    assert why == "constructor parameters: 1 shared of 1 (reduction); call inputs: 2 and 2"
    score, _ = _overlap(torch_like, _Params(frozenset({"reduction"}), frozenset({"x"})))
    assert score == pytest.approx(CONSTRUCTOR_SHARE)


@pytest.mark.frameworks
def test_same_objects_are_one_candidate_named_once():
    entries = target_index()
    names = [name for entry in entries for name in entry.names]
    assert len(names) == len(set(names))
    for entry in entries[:200]:
        objects = {id(introspect.resolve(name)) for name in entry.names}
        assert len(objects) == 1, entry.names


@pytest.mark.frameworks
@pytest.mark.parametrize("source, expected, kind", [
    ("torch.nn.GELU", "mindspore.mint.nn.GELU", "class"),
    ("torch.nn.LayerNorm", "mindspore.mint.nn.LayerNorm", "class"),  # exposed, though not in mint.nn.__all__
    ("torch.nn.functional.relu", "mindspore.mint.nn.functional.relu", "function"),
    ("torch.optim.lr_scheduler.StepLR", "mindspore.experimental.optim.lr_scheduler.StepLR", "class"),
])
def test_top_candidate_is_the_same_named_api_of_the_preferred_namespace(source, expected, kind):
    candidates = find(source)
    assert candidates[0].api == expected and candidates[0].kind == kind
    assert "name: same (case and underscores ignored)" in candidates[0].why
    scores = [candidate.score for candidate in candidates]
    assert scores == sorted(scores, reverse=True) and min(scores) >= MIN_SCORE


@pytest.mark.frameworks
def test_aliases_of_the_top_candidate_are_the_same_object():
    (top,) = find("torch.nn.Linear", limit=1)
    assert top.api == "mindspore.mint.nn.Linear"
    assert "mindspore.nn.Linear" in top.aliases
    assert introspect.resolve("mindspore.nn.Linear") is introspect.resolve(top.api)


@pytest.mark.frameworks
def test_find_command_prints_ranked_candidates_and_json(capsys):
    assert main(["find", "torch.nn.GELU", "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("1. mindspore.mint.nn.GELU  1.000  class") and "\n2. " in text
    assert main(["find", "torch.nn.functional.relu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "torch.nn.functional.relu"
    assert data["candidates"][0]["api"] == "mindspore.mint.nn.functional.relu"
    assert "mindspore.ops.relu" in data["candidates"][0]["aliases"]


@pytest.mark.frameworks
def test_find_command_names_a_missing_source(capsys):
    assert main(["find", "torch.nn.GELUU"]) == 1
    assert "torch.nn.GELUU" in capsys.readouterr().err

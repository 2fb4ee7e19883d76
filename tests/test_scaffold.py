"""generator.scaffold: `new SOURCE TARGET` writes a valid, runnable mapping skeleton."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.introspect import ApiSignature, Param
from generator.loader import load_file
from generator.scaffold import (
    SCHEMA_LINE,
    ScaffoldError,
    _Side,
    create_mapping,
    difference_rows,
    dump_mapping,
    find_mapping_of,
    flow,
)

PAIRS = {
    "class": ("torch.nn.HuberLoss", "mindspore.nn.HuberLoss"),
    "function": ("torch.nn.functional.l1_loss", "mindspore.ops.l1_loss"),
    "builtin": ("torch.abs", "mindspore.ops.abs"),
    "wrapper": ("torch.nn.functional.gelu", "mindspore.mint.nn.functional.gelu"),
    "unreadable": ("torch.is_anomaly_enabled", "mindspore.ops.abs"),
}


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """One mappings folder with the three pairs scaffolded once (each tries its examples)."""
    folder = tmp_path_factory.mktemp("scaffold") / "mappings"
    return folder, {name: create_mapping(source, target, folder) for name, (source, target) in PAIRS.items()}


def _load(path: Path):
    loaded, problems = load_file(path)
    assert problems == [], [str(problem) for problem in problems]
    return loaded.mapping


def test_files_go_where_the_source_api_says(scaffolded):
    folder, paths = scaffolded
    assert paths["class"] == folder / "torch.nn" / "HuberLoss.yaml"
    assert paths["function"] == folder / "torch.nn.functional" / "l1_loss.yaml"
    for path in paths.values():
        assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE


def test_class_pair_loads_and_matches_rows(scaffolded):
    _, paths = scaffolded
    mapping = _load(paths["class"])
    assert (mapping.source.api, mapping.target.api) == PAIRS["class"]
    assert mapping.source.kind.value == mapping.target.kind.value == "class"
    assert mapping.source.signature == "class torch.nn.HuberLoss(reduction='mean', delta=1.0)(input, target)"
    assert mapping.target.signature == "class mindspore.nn.HuberLoss(reduction='mean', delta=1.0)(logits, labels)"
    rows = [(row.category, row.source, row.target, row.note) for row in mapping.differences]
    assert rows[:2] == [("Parameters", "reduction", "reduction", None), ("Parameters", "delta", "delta", None)]
    assert [(category, source, target) for category, source, target, _ in rows[2:]] == [
        ("Inputs", "input", "logits"), ("Inputs", "target", "labels")]
    assert all(note.startswith("TODO:") for *_, note in rows[2:])
    assert mapping.status.value == "names-differ"
    assert mapping.source.summary.startswith("TODO:") and mapping.target.summary.startswith("TODO:")


def test_function_pair_flags_one_sided_and_deprecated_parameters(scaffolded):
    _, paths = scaffolded
    mapping = _load(paths["function"])
    assert mapping.source.kind.value == "function"
    assert "\n    weight=None\n" in mapping.source.signature  # long: one parameter a line
    by_name = {row.source or row.target: row for row in mapping.differences}
    assert by_name["input"].target == "input" and by_name["input"].note is None
    assert by_name["weight"].target is None and by_name["weight"].note == "TODO: explain — only in PyTorch."
    assert "deprecated" in by_name["size_average"].note and by_name["size_average"].note.startswith("TODO:")
    assert mapping.status.value == "parameters-differ"  # weight exists in PyTorch only


def test_builtins_and_wrappers_get_signatures_and_rows(scaffolded):
    _, paths = scaffolded
    builtin = _load(paths["builtin"])
    assert builtin.source.signature == "torch.abs(input, *, out)"  # from PyTorch's docstring
    assert [(row.source, row.target) for row in builtin.differences] == [("input", "input"), ("out", None)]
    wrapper = _load(paths["wrapper"])  # MindSpore's gelu is `def gelu(*args, **kwargs)`
    assert wrapper.target.signature == "mindspore.mint.nn.functional.gelu(input, *, approximate='none')"
    assert ("approximate", "approximate") in [(row.source, row.target) for row in wrapper.differences]
    assert "was read from the signature its docstring documents" in paths["wrapper"].read_text(encoding="utf-8")


def test_unreadable_signature_still_gives_a_valid_file(scaffolded):
    _, paths = scaffolded
    text = paths["unreadable"].read_text(encoding="utf-8")
    mapping = _load(paths["unreadable"])
    assert mapping.source.signature == "torch.is_anomaly_enabled(...)"
    assert "# TODO: the signature of torch.is_anomaly_enabled cannot be read" in text
    assert all(row.source is None for row in mapping.differences)


def test_yaml_uses_block_scalars_for_code(scaffolded):
    _, paths = scaffolded
    text = paths["function"].read_text(encoding="utf-8")
    assert "  signature: |\n    torch.nn.functional.l1_loss(\n" in text
    assert "  source: |\n" in text and "  target: |\n" in text
    assert "- {category: Parameters, source: input, target: input}" in text


def test_example_snippets_run(scaffolded):
    _, paths = scaffolded
    env = dict(os.environ, GLOG_v="3")
    runs = []
    for name in ("class", "function"):
        example = _load(paths[name]).examples[0]
        assert "TODO" in example.note
        for code in (example.source, example.target):
            assert "print(" in code
            runs.append((code, subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True, env=env)))
    for code, process in runs:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{code}\n{stderr[-2000:]}"
        assert stdout.strip()
    huber = _load(paths["class"]).examples[0]
    assert "huber_loss(input, target)" in huber.source and "huber_loss(logits, labels)" in huber.target


def test_refuses_to_overwrite(scaffolded):
    folder, paths = scaffolded
    before = paths["class"].read_text(encoding="utf-8")
    with pytest.raises(ScaffoldError, match="already exists"):
        create_mapping(*PAIRS["class"], folder)
    assert paths["class"].read_text(encoding="utf-8") == before


def test_refuses_a_source_api_mapped_in_another_file(tmp_path):
    folder = tmp_path / "mappings"
    other = folder / "elsewhere" / "Huber.yaml"
    other.parent.mkdir(parents=True)
    other.write_text("source:\n  api: torch.nn.HuberLoss\n  kind: class\n", encoding="utf-8")
    with pytest.raises(ScaffoldError, match=r"already mapped in .*Huber\.yaml \(one page per source API\)"):
        create_mapping("torch.nn.HuberLoss", "mindspore.nn.HuberLoss", folder)
    assert not (folder / "torch.nn" / "HuberLoss.yaml").exists()
    assert find_mapping_of("torch.nn.HuberLoss", folder) == other
    assert find_mapping_of("torch.nn.L1Loss", folder) is None


def test_refuses_missing_apis_with_a_suggestion(tmp_path):
    with pytest.raises(ScaffoldError) as caught:
        create_mapping("torch.nn.HuberLoss", "mindspore.nn.HuberLos", tmp_path)
    assert str(caught.value) == ("mindspore.nn.HuberLos does not exist in mindspore 2.10.0; "
                                 "did you mean mindspore.nn.HuberLoss?")
    with pytest.raises(ScaffoldError, match="did you mean torch.nn.HuberLoss"):
        create_mapping("torch.nn.HubberLoss", "mindspore.nn.HuberLoss", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_refuses_pairs_that_are_not_two_frameworks(tmp_path):
    with pytest.raises(ScaffoldError, match="same framework"):
        create_mapping("torch.nn.L1Loss", "torch.nn.MSELoss", tmp_path)
    with pytest.raises(ScaffoldError, match="no known framework"):
        create_mapping("numpy.abs", "mindspore.ops.abs", tmp_path)
    with pytest.raises(ScaffoldError, match="not a full dotted name"):
        create_mapping("L1Loss", "mindspore.nn.L1Loss", tmp_path)


def _side(api: str, kind: str, params: list[Param], inputs: list[Param] | None = None) -> _Side:
    return _Side(api, kind, ApiSignature(api, kind, params, inputs or [], has_call=inputs is not None))


def test_status_guess():
    same = difference_rows(_side("torch.f", "function", [Param("x"), Param("k", "1")]),
                           _side("mindspore.ops.f", "function", [Param("x"), Param("k", "1.0")]))
    assert same == ([{"category": "Parameters", "source": "x", "target": "x"},
                     {"category": "Parameters", "source": "k", "target": "k"}], "consistent")
    renamed_api = difference_rows(_side("torch.f", "function", [Param("x")]),
                                  _side("mindspore.ops.g", "function", [Param("x")]))
    assert renamed_api[1] == "names-differ"
    rows, status = difference_rows(_side("torch.f", "function", [Param("x"), Param("k", "1")]),
                                   _side("mindspore.ops.f", "function", [Param("x"), Param("k", "2")]))
    assert status == "parameters-differ"
    assert rows[1]["note"] == "TODO: explain the effect. The defaults differ: PyTorch k=1, MindSpore k=2."
    rows, status = difference_rows(_side("torch.f", "function", [Param("x")]),
                                   _side("mindspore.ops.f", "function", [Param("x"), Param("extra", "0")]))
    assert rows[1] == {"category": "Parameters", "target": "extra", "note": "TODO: explain — only in MindSpore."}
    assert status == "parameters-differ"


def test_deprecated_source_parameters_do_not_spoil_the_status():
    rows, status = difference_rows(
        _side("torch.nn.A", "class", [Param("reduce", "None"), Param("reduction", "'mean'")], [Param("input")]),
        _side("mindspore.nn.A", "class", [Param("reduction", "'mean'")], [Param("logits")]),
        deprecated={"reduce"})
    assert status == "names-differ"
    assert rows[0]["source"] == "reduce" and "deprecated" in rows[0]["note"]
    assert rows[2]["category"] == "Inputs"


def test_target_only_rows_keep_their_position():
    rows, _ = difference_rows(_side("torch.f", "function", [Param("a"), Param("c", "1")]),
                              _side("mindspore.ops.f", "function", [Param("a"), Param("b", "0"), Param("c", "1")]))
    assert [row.get("source") or row.get("target") for row in rows] == ["a", "b", "c"]


def test_dump_mapping_round_trips_multiline_text():
    data = {"source": {"signature": "class torch.nn.X(\n    a=1,   \n    b=2\n)(x)", "summary": "s: with colon"},
            "differences": [flow({"category": "Parameters", "source": "a", "note": "x: y"})],
            "examples": [{"source": "import torch\nprint(torch.ones(1))\n"}]}
    text = dump_mapping(data, ["first comment", "second"])
    assert text.startswith(SCHEMA_LINE + "\n# first comment\n# second\n")
    assert "signature: |\n    class torch.nn.X(\n        a=1,\n" in text
    loaded = yaml.safe_load(text)
    assert loaded["source"]["signature"] == "class torch.nn.X(\n    a=1,\n    b=2\n)(x)\n"
    assert loaded["examples"][0]["source"] == "import torch\nprint(torch.ones(1))\n"
    assert loaded["differences"] == [{"category": "Parameters", "source": "a", "note": "x: y"}]

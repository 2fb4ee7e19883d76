"""Validation: every broken mapping is reported as file:line:column: field: message."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from generator.loader import load_mappings
from generator.schema import Status

from .conftest import ROOT, VALID_MAPPING, write_mapping


def problems_of(folder: Path) -> list[str]:
    return [str(problem) for problem in load_mappings([folder]).problems]


def test_valid_mapping_loads_with_positions(mapping_dir: Path):
    result = load_mappings([mapping_dir])
    assert result.ok, result.problems
    (loaded,) = result.mappings
    assert loaded.mapping.status is Status.names_differ
    assert loaded.mapping.page_path == "torch.nn/L1Loss"
    assert loaded.line_of("examples", 0, "source") == 18
    assert loaded.line_of("differences", 1, "note") == 14


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        pytest.param(VALID_MAPPING.replace("  summary: The same loss.", "  sumary: The same loss."),
                     ":10:3: target.sumary: unknown key (a typo?)", id="typo-key"),
        pytest.param(VALID_MAPPING.replace("same_values: true", "same_values: [1, 2]"),
                     ":17:5: examples[0].same_values: Input should be a valid boolean", id="wrong-type"),
        pytest.param(VALID_MAPPING.replace("status: names-differ", "status: similar"),
                     ":11:1: status: Input should be 'consistent'", id="unknown-status"),
        pytest.param(VALID_MAPPING.replace("  kind: class\n  signature: class mindspore", "  kind: class\n signature: class mindspore"),
                     ":9:2: YAML syntax error", id="bad-indentation"),
        pytest.param(VALID_MAPPING.replace("status: names-differ", "status: names-differ\nstatus: consistent"),
                     ":12:1: status: duplicate key (first defined on line 11)", id="duplicate-key"),
        pytest.param(VALID_MAPPING.replace("  kind: class\n  signature: class torch", "  signature: class torch"),
                     ":1:1: source.kind: required field is missing", id="missing-field"),
        pytest.param(VALID_MAPPING.replace("api: mindspore.nn.L1Loss", "api: jax.nn.L1Loss"),
                     ":6:1: target: `jax.nn.L1Loss` belongs to no known framework", id="unknown-framework"),
        pytest.param("", ":1:1: the file is empty", id="empty-file"),
        pytest.param("# only a comment\n", ":1:1: the file is empty", id="comment-only"),
        pytest.param("- a\n- b\n", ":1:1: a mapping file must hold key: value pairs", id="not-a-mapping"),
        pytest.param("source: [unclosed\n", ":2:1: YAML syntax error", id="syntax-error"),
    ],
)
def test_broken_mapping_reports_file_line_field(tmp_path: Path, broken: str, expected: str):
    path = write_mapping(tmp_path, "torch.nn/L1Loss.yaml", broken)
    problems = problems_of(tmp_path)
    assert any(problem.startswith(f"{path}{expected}") for problem in problems), problems
    assert len(problems) == 1, problems  # a typo of an optional key (summary) is one problem, not two


def test_target_required_unless_no_counterpart(tmp_path: Path):
    text = VALID_MAPPING.split("target:")[0] + "status: parameters-differ\n"
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text)
    (problem,) = problems_of(tmp_path)
    assert "`target` is required unless status is `no-counterpart`" in problem


def test_all_problems_of_all_files_in_one_run(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/A.yaml", VALID_MAPPING.replace("kind: class", "knd: class"))
    write_mapping(tmp_path, "torch.nn/B.yaml", "")
    write_mapping(tmp_path, "torch.nn/C.yaml", VALID_MAPPING.replace("api: torch.nn.L1Loss", "api: torch.nn.C"))
    problems = problems_of(tmp_path)
    # A: `knd` unknown twice and `kind` missing twice; B: empty.
    assert sum("A.yaml" in p for p in problems) == 4
    assert sum("B.yaml" in p for p in problems) == 1
    assert not any("C.yaml" in p for p in problems)


def test_two_files_for_one_api_pair(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml")
    copy = write_mapping(tmp_path, "extra/L1Loss-copy.yaml")
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'torch.nn/L1Loss.yaml'}:2:3: source.api: ")
    assert f"two files map torch.nn.L1Loss -> mindspore.nn.L1Loss: also in {copy}" in problem


def test_example_needs_code(tmp_path: Path):
    text = VALID_MAPPING.replace("    source: |\n      print(1 + 1)\n    target: |\n      print(2)\n", "")
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text)
    (problem,) = problems_of(tmp_path)
    assert ":16:5: examples[0]: an example needs `source` code, `target` code or both" in problem


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    from .conftest import sys

    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, capture_output=True, text=True)


def test_check_command_exit_code_and_no_traceback(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", VALID_MAPPING.replace("note: Same function.", "nte: Same function."))
    write_mapping(tmp_path, "torch.nn/Dup.yaml", VALID_MAPPING.replace("status: names-differ", "status: a\nstatus: b"))
    completed = run_cli("check", "--mappings", str(tmp_path))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.splitlines()
    assert f"{tmp_path / 'torch.nn/L1Loss.yaml'}:14:55: differences[1].nte: unknown key (a typo?)" in lines
    assert any(line.startswith(f"{tmp_path / 'torch.nn/Dup.yaml'}:12:1: status: duplicate key") for line in lines)
    assert lines[-1] == "2 problems found."


def test_check_command_accepts_paths(mapping_dir: Path):
    completed = run_cli("check", str(mapping_dir / "torch.nn" / "L1Loss.yaml"))
    assert completed.returncode == 0, completed.stderr
    assert "1 mappings OK." in completed.stdout


def test_repository_mappings_are_valid():
    completed = run_cli("check")
    assert completed.returncode == 0, completed.stderr


def test_a_line_of_example_code_maps_to_its_file_line(mapping_dir: Path):
    (loaded,) = load_mappings([mapping_dir]).mappings
    lines = (mapping_dir / "torch.nn" / "L1Loss.yaml").read_text().splitlines()
    assert loaded.line_in_text(("examples", 0, "source"), 1) == lines.index("      print(1 + 1)") + 1
    assert loaded.line_in_text(("examples", 0, "target"), 1) == lines.index("      print(2)") + 1
    assert loaded.line_in_text(("examples", 0, "note"), 1) == loaded.line_of("examples", 0, "note")  # not a block


ALTERNATIVE = """\
alternatives:
  - target:
      api: mindspore.ops.l1_loss
      kind: function
      signature: mindspore.ops.l1_loss(input, target, reduction='mean') -> Tensor
"""


def test_a_second_target_of_one_source_api_is_an_alternative_not_a_conflict(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", VALID_MAPPING.replace("status:", ALTERNATIVE + "status:", 1))
    result = load_mappings([tmp_path])
    assert result.ok, result.problems
    assert result.mappings[0].mapping.api_pairs() == [
        ("torch.nn.L1Loss", "mindspore.nn.L1Loss", True), ("torch.nn.L1Loss", "mindspore.ops.l1_loss", False)]


def test_two_files_mapping_one_pair_conflict_on_that_pair(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", VALID_MAPPING.replace("status:", ALTERNATIVE + "status:", 1))
    other = VALID_MAPPING.replace("api: torch.nn.L1Loss", "api: torch.nn.functional.l1_loss").replace(
        "api: mindspore.nn.L1Loss", "api: mindspore.ops.l1_loss")
    write_mapping(tmp_path, "torch.nn.functional/l1_loss.yaml", other.replace("status:", """\
other_pairs:
  - source: {api: torch.nn.L1Loss, kind: class, signature: "class torch.nn.L1Loss()"}
    target: {api: mindspore.ops.l1_loss, kind: function, signature: "mindspore.ops.l1_loss(input)"}
status:""", 1))
    problems = problems_of(tmp_path)
    assert len(problems) == 1 and "two files map torch.nn.L1Loss -> mindspore.ops.l1_loss: also in" in problems[0]


def test_one_source_api_in_two_files_is_one_page_too_many(tmp_path: Path):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml")
    write_mapping(tmp_path, "extra/L1Loss.yaml", VALID_MAPPING.replace("api: mindspore.nn.L1Loss", "api: mindspore.ops.l1_loss"))
    (problem,) = problems_of(tmp_path)
    assert "two files write the page of torch.nn.L1Loss" in problem and "alternatives" in problem


@pytest.mark.parametrize("change, message", [
    (lambda text: text.replace("alternatives:\n  - target:", "alternatives:\n  - recommended: true\n    target:")
     .replace("status:", "  - recommended: true\n    target: {api: mindspore.mint.nn.L1Loss, kind: class, "
              "signature: \"class mindspore.mint.nn.L1Loss()\"}\nstatus:", 1),
     "at most one of `alternatives` is `recommended`"),
    (lambda text: text.replace("api: mindspore.ops.l1_loss", "api: mindspore.nn.L1Loss"), "lists the pair"),
    (lambda text: text.replace("api: mindspore.ops.l1_loss", "api: torch.nn.functional.l1_loss"),
     "must belong to different frameworks"),
])
def test_alternatives_are_validated(tmp_path: Path, change, message):
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml", change(VALID_MAPPING.replace("status:", ALTERNATIVE + "status:", 1)))
    problems = problems_of(tmp_path)
    assert any(message in problem for problem in problems), problems


def test_check_refuses_placeholder_text_with_file_line_and_field(tmp_path: Path):
    text = VALID_MAPPING.replace("note: Same function.", "note: \"TODO: explain\"")
    path = write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text)
    assert problems_of(tmp_path) == []  # valid YAML: only `check` refuses to publish it
    completed = run_cli("check", str(path))
    assert completed.returncode == 1
    assert f"{path}:14:" in completed.stderr and "differences.1.note: placeholder text (TODO)" in completed.stderr


def test_torchvision_is_on_the_pytorch_side(tmp_path: Path):
    text = VALID_MAPPING.replace("api: torch.nn.L1Loss", "api: torchvision.ops.box_iou")
    write_mapping(tmp_path, "torchvision.ops/box_iou.yaml", text)
    assert problems_of(tmp_path) == []

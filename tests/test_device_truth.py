"""Signature defaults, device portability, sides whose framework does not run here, one-side
verify and merged device matrices: issue 9's "done when" list, on small fixture sets.

A framework "missing" is simulated with ``GENERATOR_HIDE_FRAMEWORKS`` (``generator.devices``):
nothing is uninstalled, and the worker for the hidden framework must never start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from generator import frameworks
from generator.devices import HIDE_ENV, device_label, missing_frameworks, parse_frameworks, why_not_here
from generator.execute import execute_mappings, write_report
from generator.loader import load_file, load_mappings
from generator.pipeline import Options
from generator.portability import lint_code, portability_problems
from generator.render import Renderer
from generator.reports import merge
from generator.verify import human_summary, junit_xml, side_findings, verify

from .conftest import COMPLETE_MAPPING, ROOT, VALID_MAPPING, write_mapping

TORCH_PRINT = COMPLETE_MAPPING.replace("      print(0.5)\n    target:", "      import torch\n      print(torch.ones(2).numpy())\n    target:")


def loaded_from(folder: Path, text: str):
    loaded, problems = load_file(write_mapping(folder, "torch.nn/L1Loss.yaml", text))
    assert problems == [], [str(problem) for problem in problems]
    return loaded


# --------------------------------------------------------------------------- signature defaults


def test_a_default_the_framework_does_not_have_is_a_finding_on_its_yaml_line(tmp_path: Path):
    text = COMPLETE_MAPPING.replace("reduction='mean')(input, target)", "reduction='sum')(input, target)")
    text = text.replace("{category: Parameters, source: reduce}", "{category: Parameters, source: reduce=False}")
    loaded = loaded_from(tmp_path, text)
    findings = side_findings(loaded, "source")
    lines = (tmp_path / "torch.nn/L1Loss.yaml").read_text().splitlines()
    by_message = {finding.message: finding.line for finding in findings}
    text_drift = [m for m in by_message if "`reduction` defaults to 'mean', not 'sum'" in m]
    row_drift = [m for m in by_message if "`reduce` defaults to None, not False" in m]
    assert text_drift and row_drift, by_message
    assert by_message[text_drift[0]] == next(i for i, line in enumerate(lines, 1) if "reduction='sum'" in line)
    assert by_message[row_drift[0]] == next(i for i, line in enumerate(lines, 1) if "reduce=False" in line)


def test_kinds_and_defaults_of_a_multi_line_signature_text_are_checked(tmp_path: Path):
    text = COMPLETE_MAPPING.replace(
        "signature: class torch.nn.L1Loss(size_average=None, reduce=None, reduction='mean')(input, target)",
        "signature: |\n    class torch.nn.L1Loss(\n        size_average=None,\n        reduce=None,\n        *,\n"
        "        reduction='mean'\n    )(input, target)")
    loaded = loaded_from(tmp_path, text)
    (finding,) = side_findings(loaded, "source")
    assert "`reduction` is keyword-only in the text but positional in the installed API" in finding.message
    lines = (tmp_path / "torch.nn/L1Loss.yaml").read_text().splitlines()
    assert lines[finding.line - 1].strip() == "reduction='mean'"


def test_docstring_signatures_do_not_invent_missing_defaults(tmp_path: Path):
    # torch.abs documents `out: Optional[Tensor]` without its default: `out=None` in a mapping is not drift
    text = COMPLETE_MAPPING.replace("torch.nn.L1Loss", "torch.abs").replace("kind: class\n  signature: class torch.abs(size_average=None, reduce=None, reduction='mean')(input, target)",
                                                                             "kind: function\n  signature: torch.abs(input, *, out=None)")
    text = text.replace("  - {category: Parameters, source: size_average}\n  - {category: Parameters, source: reduce}\n", "")
    text = text.replace("{category: Parameters, source: reduction, target: reduction}", "{category: Parameters, source: out, target: reduction}")
    text = text.replace("{category: Inputs, source: input, target: logits}", "{category: Parameters, source: input, target: logits}")
    text = text.replace("  - {category: Inputs, source: target, target: labels}\n", "  - {category: Inputs, target: labels}\n")
    loaded = loaded_from(tmp_path, text)
    assert side_findings(loaded, "source") == []


# --------------------------------------------------------------------------- portability


def test_the_lint_flags_cpu_only_constructs_with_line_and_column():
    code = "import torch\nx = torch.from_numpy(a)\nprint(x.numpy())\nprint(x.cpu().numpy(), x.tolist())\n# y.numpy()\n"
    assert [(line, column) for line, column, _ in lint_code("torch", code)] == [(2, 5), (3, 8)]
    assert lint_code("torch", "t = t.cuda()\nu = torch.ones(2, device='cpu')")[1][0] == 2
    assert lint_code("mindspore", "print(x.asnumpy())") == []


def test_check_reports_a_non_portable_snippet_at_its_yaml_line_unless_cpu_only(tmp_path: Path):
    folder = tmp_path / "mappings"
    path = write_mapping(folder, "torch.nn/L1Loss.yaml", TORCH_PRINT)
    completed = subprocess.run([sys.executable, "-m", "generator", "check", str(folder)], capture_output=True,
                               text=True, cwd=ROOT)
    line = path.read_text().splitlines().index("      print(torch.ones(2).numpy())") + 1
    assert completed.returncode == 1
    assert f"{path}:{line}:26: examples[0].source: `.numpy()` fails on a GPU tensor" in completed.stderr
    write_mapping(folder, "torch.nn/L1Loss.yaml", TORCH_PRINT.replace("  - same_values: true\n", "  - same_values: true\n    cpu_only: true\n"))
    loaded = load_mappings([folder]).mappings[0]
    assert portability_problems(loaded) == []


def test_every_repository_example_is_portable():
    result = load_mappings([ROOT / "mappings"])
    assert [str(problem) for loaded in result.mappings for problem in portability_problems(loaded)] == []


# --------------------------------------------------------------------------- frameworks not run here


def test_framework_selection_and_hiding(monkeypatch):
    assert parse_frameworks("torch") == ("torch",)
    with pytest.raises(ValueError, match="unknown framework jax"):
        parse_frameworks("torch,jax")
    assert why_not_here("mindspore", ("torch",)) == "MindSpore was not selected (--frameworks torch)"
    monkeypatch.setenv(HIDE_ENV, "torch")
    assert why_not_here("torch") == "PyTorch is not installed on this machine"
    assert why_not_here("mindspore") is None
    monkeypatch.delenv(HIDE_ENV)
    # the real test of "installed": the distribution's metadata, as ``frameworks.installed_version`` reads it
    real = frameworks.installed_version
    monkeypatch.setattr(frameworks, "installed_version", lambda name: None if name == "mindspore" else real(name))
    assert why_not_here("mindspore") == "MindSpore is not installed on this machine"
    assert why_not_here("torch") is None


@pytest.mark.frameworks
@pytest.mark.parametrize("hidden, side, present", [("mindspore", "target", "source"), ("torch", "source", "target")])
def test_a_missing_framework_is_not_run_here_everywhere(tmp_path: Path, monkeypatch, hidden, side, present):
    monkeypatch.setenv(HIDE_ENV, hidden)
    folder = tmp_path / "mappings"
    declared = COMPLETE_MAPPING + f"    expected_failures:\n      - {{side: {side}, devices: [cpu], error: unregistered}}\n"
    write_mapping(folder, "torch.nn/L1Loss.yaml", declared)
    loaded = load_mappings([folder]).mappings
    runs = execute_mappings(loaded, jobs=1, cache_path=None, progress=False)
    run = runs[("torch.nn.L1Loss", 0)]
    assert getattr(run, side) is None and getattr(run, present).status == "ok"
    assert "not installed on this machine" in run.not_run[side]
    # JSON report: skipped, not a failure, not an expected failure
    report_path = tmp_path / "report.json"
    write_report(runs, loaded, report_path, "cpu")
    report = json.loads(report_path.read_text())
    entry = report["mappings"][0]["examples"][0][side]
    assert (entry["status"], entry["expectation"]) == ("not run", "not run")
    assert report["summary"]["not_run"] == 1 and report["summary"]["expected_failures"] == 0
    assert report["summary"]["unexpected_failures"] == 0
    # the page says "not run here", with no warning and no expected-failure note
    page = Renderer().page(loaded[0], {0: run}, "cpu")
    assert "example was not run here" in page and "does not run on" not in page and "{warning}" not in page
    # verify and JUnit: skipped, and the run passes
    result = verify([folder], Options(cache_path=None, jobs=1, progress=False))
    assert result.ok, [str(finding) for finding in result.findings]
    skipped = {finding.name for finding in result.findings if finding.severity == "not run here"}
    assert f"torch.nn.L1Loss::example 1::{side}" in skipped and f"torch.nn.L1Loss::{side} signature" in skipped
    suite = ElementTree.fromstring(junit_xml(result.findings, result.passed).split("\n", 1)[1])
    assert suite.get("failures") == "0" and int(suite.get("skipped")) >= 3
    assert missing_frameworks(loaded) == [why_not_here(hidden)]


@pytest.mark.frameworks
def test_run_refuses_to_publish_a_missing_side_unless_allowed(tmp_path: Path):
    folder = tmp_path / "mappings"
    write_mapping(folder, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING)
    command = [sys.executable, "-m", "generator", "run", "--mappings", str(folder), "--output", str(tmp_path / "api"),
               "--no-cache", "--quiet", "--jobs", "1"]
    env = {**__import__("os").environ, HIDE_ENV: "mindspore"}
    refused = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    assert refused.returncode == 1 and "MindSpore is not installed on this machine" in refused.stderr
    assert not (tmp_path / "api").exists()
    allowed = subprocess.run(command + ["--allow-missing"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert "1 not run here" in allowed.stdout
    assert "not run here" in (tmp_path / "api" / "torch.nn" / "L1Loss.md").read_text()


# --------------------------------------------------------------------------- one side, merged


@pytest.mark.frameworks
def test_torch_only_verify_and_a_merge_with_a_report_of_both_sides(tmp_path: Path):
    folder = tmp_path / "mappings"
    write_mapping(folder, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING)
    torch_only = tmp_path / "torch-only.json"
    options = Options(cache_path=None, jobs=1, progress=False, report=torch_only, frameworks=("torch",))
    result = verify([folder], options)
    assert result.ok
    assert {finding.name for finding in result.findings if finding.severity == "not run here"} >= {
        "torch.nn.L1Loss::example 1::target", "torch.nn.L1Loss::target signature", "torch.nn.L1Loss::example 1::agreement"}
    summary = human_summary(result.findings, result.checked, result.notes)
    assert "checks not run here: MindSpore was not selected (--frameworks torch)" in summary
    assert "signature coverage torch: " in summary and "signature coverage mindspore" not in summary
    assert summary.splitlines()[-1].startswith("verify OK: 1 mappings checked, 0 problems, 0 unchecked, ")
    both = tmp_path / "both.json"
    verify([folder], Options(cache_path=None, jobs=1, progress=False, report=both))
    report = json.loads(torch_only.read_text())
    # a torch-only report of another device model merges into its own column
    report["device"], report["device_name"] = "gpu", "NVIDIA H100 80GB HBM3"
    gpu = tmp_path / "gpu.json"
    gpu.write_text(json.dumps(report))
    other_gpu = tmp_path / "gpu2.json"
    other_gpu.write_text(json.dumps({**report, "device_name": "NVIDIA A100-SXM4-40GB"}))
    matrix = merge([both, gpu, other_gpu, torch_only])
    cpu = device_label("cpu", json.loads(both.read_text())["device_name"])
    assert matrix["devices"] == [cpu, "gpu: NVIDIA H100 80GB HBM3", "gpu: NVIDIA A100-SXM4-40GB"]
    cells = matrix["mappings"]["torch.nn.L1Loss"]["1"]
    assert cells["gpu: NVIDIA H100 80GB HBM3"]["target"]["status"] == "not run"
    assert cells["gpu: NVIDIA H100 80GB HBM3"]["source"]["status"] == "ok"
    # the torch-only CPU report, merged last, does not erase the MindSpore result of the full CPU report
    assert cells[cpu]["target"]["status"] == "ok"
    page = Renderer().page(load_mappings([folder]).mappings[0], {}, "cpu", matrix)
    assert "| GPU (NVIDIA H100 80GB HBM3) | ran (2\\.13\\.0+cpu) | not run here |" in page.replace("\\(", "(").replace("\\)", ")").replace("\\+", "+")


def test_a_torch_namespace_that_is_not_installed_is_not_run_and_unchecked(tmp_path: Path):
    """torchvision belongs to the PyTorch side; where it is absent its examples are not run here (with
    the reason) and its API check is unchecked, never a typed or fake output."""
    from generator.frameworks import package_missing
    from generator.verify import UNCHECKED

    if package_missing("torchvision.ops.box_iou") is None:
        pytest.skip("torchvision is installed here")
    text = VALID_MAPPING.replace("api: torch.nn.L1Loss", "api: torchvision.ops.box_iou")
    path = write_mapping(tmp_path, "torchvision.ops/box_iou.yaml", text)
    loaded = load_mappings([path]).mappings
    runs = execute_mappings(loaded, jobs=1, cache_path=None, progress=False, frameworks=("torch",))
    run = runs[("torchvision.ops.box_iou", 0)]
    assert run.source is None and run.not_run["source"] == "torchvision is not installed on this machine"
    (finding,) = side_findings(loaded[0], "source")
    assert finding.severity == UNCHECKED and "torchvision is not installed" in finding.message

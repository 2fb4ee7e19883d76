"""verify: each failure kind is caught with a message that names it, on small fixture sets."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from generator.loader import load_mappings
from generator.pipeline import Options
from generator.verify import Finding, github_annotations, junit_xml, select_shard, site_findings, verify

from .conftest import COMPLETE_MAPPING, ROOT, write_mapping

pytestmark = pytest.mark.frameworks


def run_verify(folder: Path, tmp_path: Path, shard=(1, 1)):
    options = Options(cache_path=tmp_path / "cache.sqlite", jobs=2, progress=False)
    return verify([folder], options, shard)


def messages(result, check: str) -> list[str]:
    return [finding.message for finding in result.findings if finding.check == check and finding.severity == "error"]


def test_correct_mapping_passes(tmp_path: Path):
    folder = tmp_path / "mappings"
    write_mapping(folder, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING)
    result = run_verify(folder, tmp_path)
    assert result.ok, [str(f) for f in result.findings]
    assert "torch.nn.L1Loss::example 1::agreement" in result.passed


def test_each_failure_kind_is_reported(tmp_path: Path):
    folder = tmp_path / "mappings"
    drift = COMPLETE_MAPPING.replace("  - {category: Parameters, source: reduce}\n", "")  # misses a real parameter
    drift = drift.replace("target: reduction}", "target: reduction}\n  - {category: Parameters, target: beta}")  # invents one
    write_mapping(folder, "torch.nn/L1Loss.yaml", drift)
    write_mapping(folder, "torch.nn/MSELoss.yaml", COMPLETE_MAPPING.replace("torch.nn.L1Loss", "torch.nn.MSELoss")
                  .replace("mindspore.nn.L1Loss", "mindspore.nn.MSELos")
                  .replace("print(0.5)\n    target: |\n      print(0.5)", "print(0.5)\n    target: |\n      print(0.75)"))
    write_mapping(folder, "torch.nn/SmoothL1Loss.yaml", COMPLETE_MAPPING.replace("L1Loss", "SmoothL1Loss")
                  .replace("  - same_values: true\n    source: |\n      print(0.5)",
                           "  - source: |\n      raise ValueError('broken example')"))
    result = run_verify(folder, tmp_path)
    assert not result.ok
    drift_messages = messages(result, "signature")
    assert ("signature drift against mindspore 2.10.0 (signature read from inspect): "
            "`beta` is listed but mindspore.nn.L1Loss has no such parameter") in drift_messages
    assert any(m.startswith("signature drift against torch 2.13.0")
               and "`reduce` is a parameter of torch.nn.L1Loss that the mapping does not list" in m for m in drift_messages)
    (missing,) = messages(result, "api")
    assert missing.startswith("mindspore.nn.MSELos does not exist in mindspore 2.10.0; did you mean mindspore.nn.MSELoss")
    (disagreement,) = messages(result, "agreement")
    assert disagreement.startswith("example 1: the two sides disagree")
    (failure,) = messages(result, "example")
    assert failure == "example 1 (source) failed on cpu: ValueError: broken example"
    lines = {finding.check: finding.line for finding in result.findings}
    smooth = (folder / "torch.nn" / "SmoothL1Loss.yaml").read_text().splitlines()
    assert lines["example"] == smooth.index("      raise ValueError('broken example')") + 1  # the failing line itself
    assert lines["api"] == 7


def test_declared_failure_that_no_longer_happens_is_reported(tmp_path: Path):
    folder = tmp_path / "mappings"
    declared = COMPLETE_MAPPING + "    expected_failures:\n      - {side: target, devices: [cpu], error: unregistered}\n"
    write_mapping(folder, "torch.nn/L1Loss.yaml", declared)
    result = run_verify(folder, tmp_path)
    (stale,) = messages(result, "example")
    assert "is declared to fail on cpu ('unregistered') but ran" in stale



def test_machine_dependent_failure_may_run(tmp_path: Path):
    """A failure seen on some machines only (``machine_dependent``) accepts a run that succeeds; one
    that is not declared so is still reported when it runs."""
    folder = tmp_path / "mappings"
    declared = COMPLETE_MAPPING + ("    expected_failures:\n"
                                   "      - {side: target, devices: [cpu], error: unregistered, machine_dependent: true}\n")
    write_mapping(folder, "torch.nn/L1Loss.yaml", declared)
    assert messages(run_verify(folder, tmp_path), "example") == []

def test_renamed_parameter_is_named(tmp_path: Path):
    folder = tmp_path / "mappings"
    write_mapping(folder, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING.replace("source: reduction,", "source: reductoin,"))
    (message,) = messages(run_verify(folder, tmp_path), "signature")
    assert "`reductoin` is now called `reduction`" in message


def test_shards_cover_every_mapping_exactly_once(tmp_path: Path):
    folder = tmp_path / "mappings"
    for name in ("L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"):
        write_mapping(folder, f"torch.nn/{name}.yaml", COMPLETE_MAPPING.replace("torch.nn.L1Loss", f"torch.nn.{name}"))
    mappings = load_mappings([folder]).mappings
    first, second = select_shard(mappings, 1, 2), select_shard(mappings, 2, 2)
    names = sorted(m.mapping.source.api for m in first + second)
    assert names == sorted(m.mapping.source.api for m in mappings) and len(names) == 5
    assert {len(first), len(second)} == {2, 3}


def test_repository_shards_cover_every_example_exactly_once():
    mappings = load_mappings([ROOT / "mappings"]).mappings
    examples = [(m.mapping.source.api, i) for m in mappings for i in range(len(m.mapping.examples))]
    sharded = [(m.mapping.source.api, i) for s in (1, 2) for m in select_shard(mappings, s, 2)
               for i in range(len(m.mapping.examples))]
    assert sorted(sharded) == sorted(examples)


def test_site_findings_catch_unlinked_and_broken_pages(mapping_dir: Path):
    mappings = load_mappings([mapping_dir]).mappings
    pages = {"index.md": "# Overview\n\n[Other](torch.nn/Other.md)\n", "torch.nn/L1Loss.md": "[home](../../index.md) [gone](../../gone.md)"}
    found = [str(finding) for finding in site_findings(pages, mappings, ["../index.md"])]
    assert any("the overview does not link torch.nn/L1Loss.md" in f for f in found)
    assert any("index.md:1: [site] broken link to torch.nn/Other.md" in f for f in found)
    assert any("broken link to ../../gone.md" in f for f in found)
    assert not any("../../index.md" in f for f in found)


def test_junit_and_github_outputs():
    findings = [
        Finding("example", Path("m/a.yaml"), 7, "example 1 (target) failed", name="torch.a::example 1::target"),
        Finding("signature", Path("m/b.yaml"), 2, "no signature", severity="unchecked", name="torch.b::source signature"),
    ]
    suite = ElementTree.fromstring(junit_xml(findings, ["torch.a::example 1::source"]))
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    failed = suite.find("testcase[@name='example 1::target']")
    assert failed.get("classname") == "torch.a" and failed.find("failure").get("message") == "example 1 (target) failed"
    annotations = github_annotations(findings).splitlines()
    assert annotations == [
        "::error file=m/a.yaml,line=7,title=example::example 1 (target) failed",
        "::warning file=m/b.yaml,line=2,title=signature::no signature",
    ]


def test_verify_command_on_a_broken_set(tmp_path: Path):
    folder = tmp_path / "mappings"
    write_mapping(folder, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING.replace("print(0.5)\n", "print(0.5\n", 1))
    junit = tmp_path / "out" / "junit.xml"
    completed = subprocess.run(
        [sys.executable, "-m", "generator", "verify", "--mappings", str(folder), "--cache", str(tmp_path / "c.sqlite"),
         "--junit", str(junit), "--github", "--quiet"], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert f"::error file={folder / 'torch.nn/L1Loss.yaml'},line=21,title=example::" in completed.stdout  # `print(0.5`
    assert "verify FAILED: 1 mappings checked, 1 problems" in completed.stdout
    assert "signatures checked (names, kinds, defaults) by source: inspect 2" in completed.stdout
    assert "signature coverage torch: " in completed.stdout and "signature coverage mindspore: " in completed.stdout
    assert ElementTree.parse(junit).getroot().get("failures") == "1"

"""The command line as a contributor uses it: new, import, run, merge-reports, pytest mappings/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.loader import load_mappings
from generator.render import escape_cell

from .conftest import COMPLETE_MAPPING, ROOT, SEEDS, write_mapping


pytestmark = pytest.mark.frameworks


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT, capture_output=True, text=True)


def test_new_writes_a_valid_mapping_runs_it_and_renders_its_page(tmp_path: Path):
    mappings, output = tmp_path / "mappings", tmp_path / "api"
    completed = cli("new", "torch.nn.HuberLoss", "mindspore.nn.HuberLoss", "--mappings", str(mappings),
                    "--output", str(output), "--cache", str(tmp_path / "c.sqlite"), "--quiet")
    assert completed.returncode == 0, completed.stderr
    yaml_path = mappings / "torch.nn" / "HuberLoss.yaml"
    assert f"Wrote {yaml_path}" in completed.stdout
    assert load_mappings([mappings]).ok
    page = output / "torch.nn" / "HuberLoss.md"
    assert f"Rendered {page}" in completed.stdout
    assert "Ran its examples: 2 of 2 snippets ran." in completed.stdout
    assert "{tab-item} PyTorch\n" in page.read_text() and "{tab-item} MindSpore\n" in page.read_text()
    again = cli("new", "torch.nn.HuberLoss", "mindspore.nn.HuberLoss", "--mappings", str(mappings), "--quiet")
    assert again.returncode == 1 and "Traceback" not in again.stderr


def test_new_rejects_a_missing_api_with_a_suggestion(tmp_path: Path):
    completed = cli("new", "torch.nn.HuberLoss", "mindspore.nn.HuberLos", "--mappings", str(tmp_path), "--quiet")
    assert completed.returncode == 1
    assert "did you mean mindspore.nn.HuberLoss?" in completed.stderr
    assert not any(tmp_path.rglob("*.yaml"))


def test_import_converts_seeds_and_survives_malformed_pages(tmp_path: Path):
    pages = [str(ROOT / "tests" / "fixtures" / "pages" / "malformed")]
    pages += [str(path) for path in sorted(SEEDS.glob("00[013]_*.txt"))] if SEEDS.is_dir() else []
    completed = cli("import", *pages, "--out", str(tmp_path))
    assert "Traceback" not in completed.stderr
    assert "warning: " in completed.stderr
    assert load_mappings([tmp_path]).ok if any(tmp_path.rglob("*.yaml")) else True
    if SEEDS.is_dir():
        assert (tmp_path / "torch.nn" / "CosineEmbeddingLoss.yaml").is_file()


def test_run_report_and_merged_matrix_on_the_page(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING)
    report = tmp_path / "reports" / "cpu.json"
    common = ["--mappings", str(mappings), "--cache", str(tmp_path / "c.sqlite"), "--quiet", "--output", str(tmp_path / "api")]
    completed = cli("run", *common, "--report", str(report))
    assert completed.returncode == 0, completed.stderr
    data = json.loads(report.read_text())
    assert data["device"] == "cpu" and data["mappings"][0]["examples"][0]["source"]["status"] == "ok"
    gpu = dict(data, device="gpu", device_name="NVIDIA H100 80GB HBM3")
    gpu["mappings"][0]["examples"][0]["target"].update(status="error", error_type="RuntimeError", error_message="no kernel")
    (tmp_path / "reports" / "gpu.json").write_text(json.dumps(gpu))
    merged = tmp_path / "matrix.json"
    assert cli("merge-reports", str(report), str(tmp_path / "reports" / "gpu.json"), "--out", str(merged)).returncode == 0
    assert cli("run", *common, "--matrix", str(merged)).returncode == 0
    page = (tmp_path / "api" / "torch.nn" / "L1Loss.md").read_text()
    assert "| Device | PyTorch | MindSpore |" in page
    cpu_model = escape_cell(data["device_name"])
    assert data["device_name"] and f"| CPU \\({cpu_model}\\) | ran \\(2\\.13\\.0" in page  # keyed by kind and model
    assert "| GPU \\(NVIDIA H100 80GB HBM3\\) | ran \\(2\\.13\\.0" in page and "failed\\: RuntimeError\\: no kernel \\(2\\.10\\.0\\) |" in page
    bad = cli("merge-reports", str(tmp_path / "matrix.json"), "--out", str(tmp_path / "x.json"))
    assert bad.returncode == 1 and "not a run report" in bad.stderr


def test_pytest_collects_mapping_checks_and_runs_them_in_parallel(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/L1Loss.yaml", COMPLETE_MAPPING)
    write_mapping(mappings, "torch.nn/MSELoss.yaml", COMPLETE_MAPPING.replace("L1Loss", "MSELoss").replace("print(0.5)\n", "print(0.25)\n", 1))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", str(mappings), "-n", "2", "-p", "no:cacheprovider", "-q",
         f"--mapping-cache={tmp_path / 'c.sqlite'}", "-k", "not signature", "-rN"],
        cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode == 1, completed.stdout
    assert "1 failed, 5 passed" in completed.stdout
    assert "MSELoss.yaml::example-1-agreement" in completed.stdout

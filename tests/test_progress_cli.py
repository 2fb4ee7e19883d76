"""`python -m generator coverage`: mapped and missing public names per source module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.cli import main
from generator.coverage import public_names

pytestmark = pytest.mark.frameworks


def test_coverage_prints_each_module_and_a_total(mapping_dir: Path, capsys):
    assert main(["coverage", "--mappings", str(mapping_dir), "--module", "torch.nn", "--module", "torch.optim"]) == 0
    lines = capsys.readouterr().out.splitlines()
    public = len(public_names("torch.nn"))
    assert lines[0].split()[:4] == ["torch.nn", "1", "/", str(public)]
    assert lines[1].split()[:2] == ["torch.optim", "0"]
    assert lines[2].startswith("total")


def test_missing_lists_unmapped_names_and_json_gives_the_figures(mapping_dir: Path, capsys):
    assert main(["coverage", "--mappings", str(mapping_dir), "--module", "torch.nn", "--missing", "torch.nn"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "  torch.nn.MSELoss" in listed and "  torch.nn.L1Loss" not in listed
    assert main(["coverage", "--mappings", str(mapping_dir), "--module", "torch.nn", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["module"] == "torch.nn" and row["mapped"] == 1 and row["public"] == len(row["missing"]) + 1
    assert "L1Loss" not in row["missing"]

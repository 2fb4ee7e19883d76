"""`new --batch PAIRS`: many scaffolds at once, checked first, never overwriting."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.batch import BatchError, Pair, read_pairs, scaffold_batch
from generator.cli import main
from generator.loader import load_file


def _pairs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_pairs_skip_comments_and_blank_lines(tmp_path: Path):
    path = _pairs(tmp_path, "# layers\n\ntorch.nn.GELU mindspore.mint.nn.GELU  # same name\ntorch.nn.ReLU\n")
    assert read_pairs(path) == [Pair("torch.nn.GELU", "mindspore.mint.nn.GELU", 3), Pair("torch.nn.ReLU", None, 4)]


def test_malformed_lines_are_named_by_file_and_line_and_nothing_is_written(tmp_path: Path):
    path = _pairs(tmp_path, "torch.nn.GELU mindspore.mint.nn.GELU\ntorch.nn.ReLU a b\nGELU mindspore.mint.nn.GELU\n")
    with pytest.raises(BatchError) as caught:
        scaffold_batch(path, tmp_path / "mappings")
    message = str(caught.value)
    assert f"{path}:2: expected 'SOURCE_API [TARGET_API]', found 3 fields" in message
    assert f"{path}:3: 'GELU' is not a full dotted name" in message
    assert not (tmp_path / "mappings").exists()


def test_a_source_without_target_needs_auto(tmp_path: Path, capsys):
    path = _pairs(tmp_path, "torch.nn.GELU mindspore.mint.nn.GELU\ntorch.nn.ReLU\n")
    assert main(["new", "--batch", str(path), "--mappings", str(tmp_path / "mappings")]) == 1
    assert f"{path}:2: torch.nn.ReLU has no target API" in capsys.readouterr().err
    assert not (tmp_path / "mappings").exists()


def test_batch_and_a_pair_together_is_a_usage_error(tmp_path: Path, capsys):
    path = _pairs(tmp_path, "torch.nn.GELU mindspore.mint.nn.GELU\n")
    assert main(["new", "torch.nn.GELU", "--batch", str(path)]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.frameworks
def test_batch_writes_valid_drafts_picks_targets_and_skips_existing_files(tmp_path: Path, capsys):
    mappings = tmp_path / "mappings"
    existing = mappings / "torch.nn" / "GELU.yaml"
    existing.parent.mkdir(parents=True)
    existing.write_text("kept as it is\n", encoding="utf-8")
    path = _pairs(tmp_path, "torch.nn.GELU mindspore.mint.nn.GELU\ntorch.optim.lr_scheduler.StepLR\n")
    assert main(["new", "--batch", str(path), "--mappings", str(mappings), "--auto"]) == 0
    captured = capsys.readouterr()
    assert f"{path}:2: picked mindspore.experimental.optim.lr_scheduler.StepLR" in captured.out
    assert f"{path}:1: skipped torch.nn.GELU: {existing} already exists" in captured.err
    assert "1 written, 1 skipped" in captured.out
    assert existing.read_text(encoding="utf-8") == "kept as it is\n"
    loaded, problems = load_file(mappings / "torch.optim.lr_scheduler" / "StepLR.yaml")
    assert problems == []
    rows = {(row.source, row.target) for row in loaded.mapping.differences}
    assert ("step_size", "step_size") in rows and ("gamma", "gamma") in rows
    assert "StepLR" in loaded.mapping.examples[0].target

"""Coverage: public names of a source module without a mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.coverage import coverage, public_names
from generator.loader import load_mappings

pytestmark = pytest.mark.frameworks


def test_public_names_are_the_frameworks_own_callables():
    names = public_names("torch.nn.functional")
    assert "relu" in names and "cross_entropy" in names
    assert "Optional" not in names and "Callable" not in names  # typing helpers, not torch API
    assert "grad" not in names  # a submodule, not an API


def test_mapped_names_are_not_missing(mapping_dir: Path):
    (report,) = coverage(load_mappings([mapping_dir]).mappings, ("torch.nn",))
    assert report.mapped == ("L1Loss",)
    assert "L1Loss" not in report.missing and "MSELoss" in report.missing
    assert report.percent == pytest.approx(100 / len(report.public))
    assert len(report.missing) == len(report.public) - 1


def test_class_namespaces_are_covered_too():
    assert {"view", "add", "abs"} <= set(public_names("torch.Tensor"))

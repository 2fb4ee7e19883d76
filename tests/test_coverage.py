"""Coverage: public names of a source module without a mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.coverage import _private_elsewhere, coverage, public_names
from generator.loader import load_mappings

pytestmark = pytest.mark.frameworks


def test_public_names_are_the_frameworks_own_callables():
    names = public_names("torch.nn.functional")
    assert "relu" in names and "cross_entropy" in names
    assert "Optional" not in names and "Callable" not in names  # typing helpers, not torch API
    assert "grad" not in names  # a submodule, not an API


def test_compiled_functions_from_a_private_module_elsewhere_are_re_exports():
    names = public_names("torch.nn.functional")
    # torch._C.has_torch_function*: compiled, from a private module that is not torch.nn's
    assert not {"has_torch_function", "has_torch_function_unary", "has_torch_function_variadic"} & set(names)
    # torch._C._nn: the compiled half of torch.nn, so its functions count where they are exposed
    assert {"gelu", "avg_pool2d", "hardtanh_"} <= set(names)
    assert {"conv2d", "adaptive_avg_pool1d"} <= set(names)  # compiled, from the public torch module


def test_private_elsewhere_rule():
    assert _private_elsewhere("torch._C", "torch.nn.functional")
    assert not _private_elsewhere("torch._C._nn", "torch.nn.functional")
    assert not _private_elsewhere("torch._C._linalg", "torch.linalg")
    assert not _private_elsewhere("torch", "torch.nn.functional")
    assert not _private_elsewhere("torch.nn._impl", "torch.nn")
    assert not _private_elsewhere("torch._C", "torch")  # inside the exposing module


def test_mapped_names_are_not_missing(mapping_dir: Path):
    (report,) = coverage(load_mappings([mapping_dir]).mappings, ("torch.nn",))
    assert report.mapped == ("L1Loss",)
    assert "L1Loss" not in report.missing and "MSELoss" in report.missing
    assert report.percent == pytest.approx(100 / len(report.public))
    assert len(report.missing) == len(report.public) - 1


def test_class_namespaces_are_covered_too():
    assert {"view", "add", "abs"} <= set(public_names("torch.Tensor"))

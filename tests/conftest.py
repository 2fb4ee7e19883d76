"""Shared fixtures: the repository's paths and small mapping files written on the fly."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"

L1LOSS_PAIR = """\
source:
  api: torch.nn.L1Loss
  kind: class
  signature: class torch.nn.L1Loss(size_average=None, reduce=None, reduction='mean')(input, target)
  summary: Mean absolute error.
target:
  api: mindspore.nn.L1Loss
  kind: class
  signature: class mindspore.nn.L1Loss(reduction='mean')(logits, labels)
  summary: The same loss.
status: names-differ
"""

# A small valid mapping: line numbers of its fields are asserted in the loader tests.
VALID_MAPPING = L1LOSS_PAIR + """\
differences:
  - {category: Parameters, source: reduction, target: reduction}
  - {category: Inputs, source: input, target: logits, note: Same function.}
examples:
  - note: Both compute the same value.
    same_values: true
    source: |
      print(1 + 1)
    target: |
      print(2)
"""


# The smallest probes section: the input itself on both sides, two variants.
SMALL_PROBES = """\
probes:
  inputs:
    input: {kind: tensor, shape: [2]}
  source: input
  target: input
  variants: [random, scalar]
"""


# The same pair with every real parameter and input listed: passes the signature-drift check. Its
# status claims a difference: a sameness status is earned by probes and the class surface (#19).
COMPLETE_MAPPING = L1LOSS_PAIR.replace("status: names-differ", "status: parameters-differ") + """\
differences:
  - {category: Parameters, source: size_average}
  - {category: Parameters, source: reduce}
  - {category: Parameters, source: reduction, target: reduction}
  - {category: Inputs, source: input, target: logits}
  - {category: Inputs, source: target, target: labels}
examples:
  - same_values: true
    source: |
      print(0.5)
    target: |
      print(0.5)
"""


def write_mapping(folder: Path, relative: str, text: str = VALID_MAPPING) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def mapping_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    write_mapping(folder, "torch.nn/L1Loss.yaml")
    return folder


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def sites(tmp_path_factory) -> Path:
    """The repository's site in every language (``<root>/en``, ``<root>/zh_CN``), built once per test
    session, as ``make html`` builds it, and shared by the site, language and browser tests.

    Its outputs go to the repository's own cache, which `make test` then hands to `generator verify`:
    the examples and probes of the repository run once per `make test`, not twice (and the second
    language runs none)."""
    from generator.pipeline import DEFAULT_CACHE

    from .site_build import build_sites

    status, html = build_sites(tmp_path_factory.mktemp("site"), cache=DEFAULT_CACHE)
    assert status == 0, "sphinx-build failed"
    return html


@pytest.fixture(scope="session")
def site(sites: Path) -> Path:
    """The English site of the shared build."""
    return sites / "en"


@pytest.fixture(scope="session")
def site_zh(sites: Path) -> Path:
    """The Chinese site of the shared build."""
    return sites / "zh_CN"

"""All-or-nothing generation: a failed build leaves no partial or stale page behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator.pipeline import GenerationError, Options, generate, summarize
from generator.schema import json_schema_text

from .conftest import ROOT, VALID_MAPPING, write_mapping
from .site_build import build_site

NO_RUN = Options(execute=False, cache_path=None)


def test_generate_writes_pages_and_keeps_unchanged_ones(mapping_dir: Path, tmp_path: Path):
    output = tmp_path / "api"
    first = generate([mapping_dir], output, NO_RUN)
    page = output / "torch.nn" / "L1Loss.md"
    assert page in first.written and (output / "index.md") in first.written
    second = generate([mapping_dir], output, NO_RUN)
    assert second.written == [] and page in second.unchanged


def test_removed_mapping_removes_its_page(mapping_dir: Path, tmp_path: Path):
    output = tmp_path / "api"
    write_mapping(mapping_dir, "torch.nn/MSELoss.yaml", VALID_MAPPING.replace("L1Loss", "MSELoss"))
    generate([mapping_dir], output, NO_RUN)
    assert (output / "torch.nn" / "MSELoss.md").is_file()
    (mapping_dir / "torch.nn" / "MSELoss.yaml").unlink()
    result = generate([mapping_dir], output, NO_RUN)
    assert result.removed == [output / "torch.nn" / "MSELoss.md"]
    assert not (output / "torch.nn" / "MSELoss.md").exists()


def test_failed_generation_leaves_the_pages_as_they_were(mapping_dir: Path, tmp_path: Path):
    output = tmp_path / "api"
    generate([mapping_dir], output, NO_RUN)
    before = {path: path.read_bytes() for path in output.rglob("*") if path.is_file()}
    write_mapping(mapping_dir, "torch.nn/Broken.yaml", "source: {api: torch.nn.Broken}\n")
    with pytest.raises(GenerationError, match=r"Broken.yaml:1:1: source.kind: required field is missing"):
        generate([mapping_dir], output, NO_RUN)
    assert {path: path.read_bytes() for path in output.rglob("*") if path.is_file()} == before


def test_failed_sphinx_build_leaves_generated_sources_and_their_html_as_they_were(mapping_dir: Path, tmp_path: Path):
    status, source, html = build_site(tmp_path, "mapping_execute=0", mappings=mapping_dir)
    assert status == 0
    page, built = source / "docs" / "api" / "torch.nn" / "L1Loss.md", html / "docs" / "api" / "torch.nn" / "L1Loss.html"
    before = page.read_bytes(), built.read_bytes()
    (mapping_dir / "torch.nn" / "L1Loss.yaml").write_text(VALID_MAPPING.replace("kind: class", "kind: klass", 1))
    status, _, _ = build_site(tmp_path, "mapping_execute=0", mappings=mapping_dir)
    assert status != 0
    assert (page.read_bytes(), built.read_bytes()) == before


def test_json_schema_file_is_current():
    assert (ROOT / "schema" / "mapping.schema.json").read_text(encoding="utf-8") == json_schema_text(), (
        "schema/mapping.schema.json is stale: run `python -m generator schema`"
    )
    completed = subprocess.run([sys.executable, "-m", "generator", "schema", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_mapping_files_point_editors_at_the_schema():
    for path in (ROOT / "mappings").rglob("*.yaml"):
        first_line = path.read_text(encoding="utf-8").splitlines()[0]
        assert first_line == "# yaml-language-server: $schema=../../schema/mapping.schema.json", path


@pytest.mark.frameworks
def test_second_generation_with_nothing_changed_runs_nothing(mapping_dir: Path, tmp_path: Path):
    options = Options(cache_path=tmp_path / "outputs.sqlite", jobs=2, progress=False)
    first = generate([mapping_dir], tmp_path / "api", options)
    assert summarize(first.runs) == {"snippets": 2, "ok": 2, "failed": 0, "cached": 0, "not_run": 0}
    second = generate([mapping_dir], tmp_path / "api", options)
    assert summarize(second.runs) == {"snippets": 2, "ok": 2, "failed": 0, "cached": 2, "not_run": 0}
    assert second.written == []


def test_editors_schema_accepts_the_repository_mappings_and_flags_a_typo(tmp_path: Path):
    import json

    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "schema" / "mapping.schema.json").read_text()))
    for path in (ROOT / "mappings").rglob("*.yaml"):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    typo = yaml.safe_load(VALID_MAPPING.replace("kind: class", "knd: class", 1))
    messages = [error.message for error in validator.iter_errors(typo)]
    assert any("'knd' was unexpected" in message for message in messages)
    assert any("'kind' is a required property" in message for message in messages)


WORKAROUND_MAPPING = """\
source:
  api: torch.nn.Identity
  kind: class
  signature: class torch.nn.Identity(*args, **kwargs)(input)
  summary: Returns its input.
status: no-counterpart
differences:
  - {category: Inputs, source: input, note: "In MindSpore, return the input itself."}
examples:
  - note: The workaround prints what the layer prints.
    same_values: true
    source: |
      print(1 + 1)
    target: |
      print(2)
"""


def test_a_page_without_counterpart_runs_its_workaround_with_the_other_framework(tmp_path: Path):
    mappings = tmp_path / "mappings"
    write_mapping(mappings, "torch.nn/Identity.yaml", WORKAROUND_MAPPING)
    generated = generate([mappings], tmp_path / "api", Options(cache_path=None, progress=False))
    (run,) = generated.runs.values()
    assert run.target.framework_version == generated.mappings[0].mapping.side_framework("target").version
    assert run.comparison.verdict == "agree"
    page = (tmp_path / "api" / "torch.nn" / "Identity.md").read_text(encoding="utf-8")
    assert "## No MindSpore counterpart" in page
    assert "The MindSpore code in the examples below gets the same effect" in page
    assert "::::{tab-item} MindSpore" in page and "# 2" in page

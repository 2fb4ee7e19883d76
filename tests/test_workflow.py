"""The example workflow users copy: valid for GitHub, and every command in it is one we accept."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import yaml

from generator.cli import build_parser

from .conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "docs.yml"
EXPRESSIONS = {"matrix.shard": "1", "strategy.job-total": "2"}


def run_lines() -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def expand(command: str) -> str:
    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda match: EXPRESSIONS[match.group(1)], command)


def test_workflow_matches_githubs_schema():
    checker = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)]
    completed = subprocess.run(checker, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_generator_command_in_the_workflow_parses():
    commands = [shlex.split(expand(line)) for line in run_lines() if "-m generator" in line]
    assert {words[words.index("generator") + 1] for words in commands} == {"verify", "merge-reports"}
    for words in commands:
        build_parser().parse_args(words[words.index("generator") + 1:])  # exits on a bad option


def test_make_targets_used_by_the_workflow_exist():
    makefile = (ROOT / "Makefile").read_text()
    for line in run_lines():
        if line.startswith("make "):
            target = line.split()[1]
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_shards_in_the_matrix_cover_the_job_total():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    shards = workflow["jobs"]["verify"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    assert workflow["jobs"]["site"]["needs"] == "verify"

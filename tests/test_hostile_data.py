"""Hostile data beside the mappings' markup (issue 26, item 10): YAML values that cannot be built,
rows of the output cache, the coverage file, and ``other_pairs`` that give a source API a second
page or turn a pair around.

Every payload is written here. Whatever crosses a process boundary runs under a timeout and a
memory limit; nothing runs an example.
"""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from pathlib import Path

import pytest

import generator.coverage
from generator.cache import CacheWarning, ResultCache
from generator.coverage import public_api
from generator.execute import Executor
from generator.loader import load_mappings
from generator.pipeline import GenerationError, Options, generate
from generator.reports import ReportError, merge
from generator.results import Snippet, SnippetResult, StatementOutput
from generator.scaffold import find_mapping_of

from .conftest import VALID_MAPPING, write_mapping
from .hostile import check, problems_of





# --- 10a: YAML values that cannot be built ---------------------------------------------------

# (what the target's summary on line 10 reads, a piece of the message). Each used to escape the
# loader as a Python exception (ValueError, KeyError, AttributeError) or, for a tag, to end the
# file's checking at its first problem.
UNBUILDABLE = [
    pytest.param("2024-02-31", "cannot read `2024-02-31` as a date (day is out of range for month); quote it",
                 id="impossible-date"),
    pytest.param("2001-12-14t21:59:43.10+99:00", "as a date (offset must be a timedelta", id="impossible-offset"),
    pytest.param("!!int abc", "cannot read `abc` as an integer", id="int-tag"),
    pytest.param("!!float x", "cannot read `x` as a number", id="float-tag"),
    pytest.param("9" * 5000, "(5000 characters)` as an integer (Exceeds the limit (4300 digits)", id="5000-digits"),
    pytest.param("!!int 1" + "0" * 5000, "as an integer (Exceeds the limit", id="5000-digits-tagged"),
    pytest.param("!!int 1e99999", "cannot read `1e99999` as an integer", id="huge-exponent"),
    pytest.param("!!binary a", "failed to decode base64 data", id="binary-garbage"),
    pytest.param("!!timestamp garbage", "cannot read `garbage` as a date", id="timestamp-garbage"),
    pytest.param("!!bool maybe", "cannot read `maybe` as true or false", id="bool-tag"),
    pytest.param("!unknown value", "unknown tag `!unknown`", id="unknown-tag"),
]


def with_summary(value: str, status: str = "names-differ") -> str:
    text = VALID_MAPPING.replace("  summary: The same loss.", f"  summary: {value}")
    return text.replace("status: names-differ", f"status: {status}")


@pytest.mark.parametrize(("value", "message"), UNBUILDABLE)
def test_a_value_yaml_cannot_build_is_a_located_problem_beside_the_files_others(tmp_path: Path, value: str, message: str):
    path = write_mapping(tmp_path, "torch.nn/L1Loss.yaml", with_summary(value, status="similar"))
    problems = problems_of(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{path}:10:12: target.summary: "), problems
    assert message in problems[0]
    assert problems[1].startswith(f"{path}:11:1: status: Input should be"), problems  # checked in the same pass


def test_a_key_yaml_cannot_build_is_a_located_problem(tmp_path: Path):
    path = write_mapping(tmp_path, "torch.nn/L1Loss.yaml", VALID_MAPPING + "2024-02-30: x\n")
    assert problems_of(path) == [f"{path}:22:1: 2024-02-30: cannot read `2024-02-30` as a date "
                                 "(day is out of range for month); quote it to keep it as text"]


def test_a_file_with_an_unbuildable_value_yields_no_mapping_even_where_its_text_would_validate(tmp_path: Path):
    result = load_mappings([write_mapping(tmp_path, "torch.nn/L1Loss.yaml", with_summary("2024-02-31"))])
    assert result.mappings == [] and len(result.problems) == 1
    quoted = load_mappings([write_mapping(tmp_path, "torch.nn/L1Loss.yaml", with_summary("'2024-02-31'"))])
    assert quoted.ok and quoted.mappings[0].mapping.target.summary.raw == "2024-02-31"


def test_merge_keys_are_refused_with_a_located_problem(tmp_path: Path):
    text = VALID_MAPPING.replace("target:\n  api:", "target:\n  <<: {}\n  api:")
    (problem,) = problems_of(write_mapping(tmp_path, "torch.nn/L1Loss.yaml", text))
    assert problem.endswith(":7:3: target.<<: merge keys (`<<: *name`) are not supported; write the keys out")


def test_check_reports_every_unbuildable_value_without_a_traceback(tmp_path: Path):
    for index, parameter in enumerate(UNBUILDABLE):
        write_mapping(tmp_path, f"m{index}/torch.nn/L1Loss.yaml", with_summary(parameter.values[0]))
    completed = check(tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.splitlines()
    assert lines[-1] == f"{len(UNBUILDABLE)} problems found."
    assert all(re.search(r"/m\d+/torch\.nn/L1Loss\.yaml:10:12: target\.summary: ", line) for line in lines[:-1]), lines


def test_new_looks_through_files_whose_values_yaml_cannot_build(tmp_path: Path):
    path = write_mapping(tmp_path, "torch.nn/L1Loss.yaml", with_summary("2024-02-31"))
    assert find_mapping_of("torch.nn.L1Loss", tmp_path) == path



# --- 10b: rows of the output cache ------------------------------------------------------------

def fresh_result(text: str = "fresh") -> SnippetResult:
    return SnippetResult("ok", [StatementOutput(1, text)], "", None, None, None, 0.01, "2.13.0", "cpu", "CPU")


STORED = json.dumps(fresh_result("stored").to_dict())

# (what the row's `result` holds: text, or bytes stored as text). Several used to crash `run` and
# the build (OverflowError, RecursionError), to be trusted (a status 5, an error line that is a
# list, which rendering then hashes), or to make the whole file "corrupt" (bytes not UTF-8).
BAD_ROWS = [
    pytest.param(STORED.replace('"line": 1', '"line": Infinity'), id="Infinity-line"),
    pytest.param(STORED.replace('"line": 1', '"line": 1e400'), id="huge-exponent-line"),
    pytest.param(STORED.replace('"duration": 0.01', '"duration": NaN'), id="NaN-duration"),
    pytest.param("Infinity", id="Infinity"),
    pytest.param(STORED.replace('"status": "ok"', '"status": 5'), id="status-number"),
    pytest.param(STORED.replace('"status": "ok"', '"status": "fine"'), id="status-unknown"),
    pytest.param(STORED.replace('"error_line": null', '"error_line": [1]'), id="error-line-list"),
    pytest.param(STORED.replace('"error_line": null', '"error_line": "3"'), id="error-line-text"),
    pytest.param(STORED.replace('"line": 1', '"line": true'), id="line-bool"),
    pytest.param(STORED.replace('"text": "stored"', '"text": ["stored"]'), id="text-list"),
    pytest.param(STORED.replace('"outputs": [', '"outputs": [7, '), id="output-number"),
    pytest.param(STORED.replace('"outputs": [{', '"outputs": {"a": {').replace("}]", "}}"), id="outputs-object"),
    pytest.param('{"outputs": []}', id="no-status"),
    pytest.param("[1, 2]", id="list"),
    pytest.param("[" * 100_000 + "]" * 100_000, id="nested-100000-deep"),
    pytest.param('{"status": "ok", "outputs": [{"line": ' + "1" * 5000 + ', "text": "x"}]}', id="5000-digits"),
    pytest.param(STORED.replace('"stored"', '"st\\ud800ored"').encode() + b"\xff\xfe", id="not-utf8"),
]


def executor_without_workers(monkeypatch, path: Path) -> Executor:
    """An executor whose misses get ``fresh_result()`` at once, without starting a framework."""
    def execute(self, groups):
        for items in groups.values():
            for key, _ in items:
                yield key, fresh_result()
    monkeypatch.setattr(Executor, "_execute", execute)
    return Executor(jobs=1, cache_path=path, progress=False)


@pytest.mark.parametrize("row", BAD_ROWS)
def test_a_bad_cache_row_is_a_miss_that_runs_again_and_is_overwritten(tmp_path: Path, monkeypatch, row: str | bytes):
    path = tmp_path / "outputs.sqlite"
    snippet, neighbour = Snippet("torch", "print(1)"), Snippet("torch", "print(2)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a bad row is no corrupt file: no warning, the rest is kept
        with executor_without_workers(monkeypatch, path) as pool:
            pool.cache.put(pool.key(neighbour), json.loads(STORED))
            pool.cache.db.execute("INSERT INTO results VALUES (?, CAST(? AS TEXT), 0)", (pool.key(snippet), row))
            result, kept = pool.run([snippet, neighbour])
            assert not result.cached and result.outputs == [StatementOutput(1, "fresh")]  # ran again
            assert kept.cached and kept.outputs == [StatementOutput(1, "stored")]
            assert pool.stats.executed == 1
            assert pool.cache.get(pool.key(snippet))["outputs"] == [{"line": 1, "text": "fresh"}]  # overwritten


def test_the_cache_hands_out_only_json_objects_and_the_memo_only_text(tmp_path: Path):
    with ResultCache(tmp_path / "outputs.sqlite") as cache:
        cache.put("good", json.loads(STORED))
        for index, parameter in enumerate(BAD_ROWS):
            cache.db.execute("INSERT INTO results VALUES (?, CAST(? AS TEXT), 0)", (f"bad{index}", parameter.values[0]))
        keys = ["good"] + [f"bad{index}" for index in range(len(BAD_ROWS))]
        assert all(isinstance(text, str) for text in cache.texts(keys).values())
        found = cache.get_many(keys)
        assert "good" in found and all(isinstance(value, dict) for value in found.values())
        assert "bad3" not in found and "bad14" not in found  # `Infinity`, 100,000 deep


def test_a_stored_result_is_read_exactly_or_refused_with_a_value_error():
    stored = json.loads(STORED)
    assert SnippetResult.from_dict(stored) == fresh_result("stored")
    for parameter in BAD_ROWS:
        try:
            data = json.loads(parameter.values[0])
        except (ValueError, RecursionError):
            continue  # refused by the cache already
        if data != stored:
            with pytest.raises(ValueError):
                SnippetResult.from_dict(data)


# --- 10c: the coverage file and the coverage modules -------------------------------------------

FOUND = {"torch.nn": ["L1Loss", "MSELoss"]}


@pytest.fixture
def finder_runs(monkeypatch) -> list[list[str]]:
    """The public API finder's subprocess, replaced: it answers ``FOUND`` without importing torch.
    Returns the module lists it was asked for."""
    runs = []

    def run(arguments, **_):
        runs.append(list(arguments[3:]))
        return subprocess.CompletedProcess(arguments, 0, stdout=json.dumps(FOUND), stderr="")
    monkeypatch.setattr(generator.coverage.subprocess, "run", run)
    return runs


def edited(stored: dict, change: str) -> bytes:
    if change == "modules-a-list":
        return json.dumps({**stored, "modules": [FOUND]}).encode()
    if change == "names-a-string":
        return json.dumps({**stored, "modules": {"torch.nn": "L1Loss"}}).encode()
    if change == "names-numbers":
        return json.dumps({**stored, "modules": {"torch.nn": [1, 2]}}).encode()
    if change == "module-missing":
        return json.dumps({**stored, "modules": {}}).encode()
    return {"a-list": b"[1, 2]", "Infinity": b"Infinity", "not-utf8": b'{"key": "\xff\xfe"}',
            "nested-100000-deep": b"[" * 100_000 + b"]" * 100_000}[change]


@pytest.mark.parametrize("change", ["a-list", "Infinity", "not-utf8", "nested-100000-deep", "modules-a-list",
                                    "names-a-string", "names-numbers", "module-missing"])
def test_a_coverage_cache_of_the_wrong_shape_is_ignored_with_a_warning_and_rewritten(tmp_path: Path, finder_runs,
                                                                                      change: str):
    cache = tmp_path / "public-api.json"
    assert public_api(("torch.nn",), cache) == {"torch.nn": ("L1Loss", "MSELoss")}
    cache.write_bytes(edited(json.loads(cache.read_text()), change))
    with pytest.warns(CacheWarning, match="coverage cache .*public-api.json is unusable"):
        assert public_api(("torch.nn",), cache) == {"torch.nn": ("L1Loss", "MSELoss")}
    assert len(finder_runs) == 2  # found again ...
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert public_api(("torch.nn",), cache) == {"torch.nn": ("L1Loss", "MSELoss")}
    assert len(finder_runs) == 2  # ... and the file rewritten: the next build reads it


@pytest.mark.parametrize(("modules", "message"), [
    pytest.param("torch.nn", "must be a list of module names, not str", id="a-string"),
    pytest.param([1, 2], "must be module names such as torch.nn, not 1", id="numbers"),
    pytest.param(["torch.nn; rm -rf /"], "must be module names such as torch.nn, not 'torch.nn; rm -rf /'", id="not-a-name"),
    pytest.param(["no_such_module_x.sub"], "coverage module no_such_module_x.sub cannot be imported: "
                 "No module named 'no_such_module_x'", id="not-importable"),
])
def test_coverage_modules_that_are_no_module_names_fail_the_build_with_one_clear_line(mapping_dir: Path, tmp_path: Path,
                                                                                      modules, message: str):
    options = Options(execute=False, cache_path=None, coverage_modules=modules)
    with pytest.raises(GenerationError) as raised:
        generate([mapping_dir], tmp_path / "api", options)
    assert message in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_a_coverage_cache_that_cannot_be_written_is_a_warning(tmp_path: Path, finder_runs):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.warns(CacheWarning, match="cannot be written"):
        assert public_api(("torch.nn",), blocked / "public-api.json") == {"torch.nn": ("L1Loss", "MSELoss")}


CELL = {"status": "ok", "error": None, "version": "2.13.0", "device_name": "CPU"}


def matrix_with(examples: object, devices: object = ("cpu",)) -> bytes:
    return json.dumps({"devices": list(devices) if isinstance(devices, tuple) else devices,
                       "mappings": {"torch.nn.L1Loss": examples}}).encode()


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(b'{"devices": ["cpu"], "mappings": {"\xff": {}}}', "cannot read the device matrix: 'utf-8' codec",
                 id="not-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "cannot read the device matrix: JSON nested too deeply", id="deep"),
    pytest.param(matrix_with({"1": {"cpu": {"source": CELL}}}, devices=5), "devices: Input should be a valid list",
                 id="devices-a-number"),
    pytest.param(matrix_with({"1": {}}, devices=[{}]), "devices.0: Input should be a valid string", id="device-an-object"),
    pytest.param(matrix_with([]), "mappings.torch.nn.L1Loss: Input should be a valid dictionary", id="examples-a-list"),
    pytest.param(matrix_with({"1": {"cpu": []}}), "mappings.torch.nn.L1Loss.1.cpu: Input should be a valid dictionary",
                 id="cells-a-list"),
    pytest.param(matrix_with({"1": {"cpu": {"source": [1]}}}), "mappings.torch.nn.L1Loss.1.cpu.source", id="cell-a-list"),
    pytest.param(matrix_with({"1": {"cpu": {"source": {**CELL, "error": ["x"]}}}}),
                 "mappings.torch.nn.L1Loss.1.cpu.source.error: Input should be a valid string", id="error-a-list"),
])
def test_a_device_matrix_of_the_wrong_shape_fails_the_build_with_one_clear_line(mapping_dir: Path, tmp_path: Path,
                                                                                data: bytes, message: str):
    matrix = tmp_path / "matrix.json"
    matrix.write_bytes(data)
    options = Options(execute=False, cache_path=None, coverage_modules=(), matrix=matrix)
    with pytest.raises(GenerationError) as raised:
        generate([mapping_dir], tmp_path / "api", options)
    assert str(raised.value).startswith(f"{matrix}: ") and message in str(raised.value), str(raised.value)


def test_a_device_matrix_as_merge_writes_it_is_shown(mapping_dir: Path, tmp_path: Path):
    matrix = tmp_path / "matrix.json"
    matrix.write_bytes(matrix_with({"1": {"cpu": {"source": CELL, "target": {**CELL, "status": "error", "error": "E: x"}}}}))
    generate([mapping_dir], tmp_path / "api", Options(execute=False, cache_path=None, coverage_modules=(), matrix=matrix))
    page = (tmp_path / "api" / "torch.nn" / "L1Loss.md").read_text()
    assert "| CPU | ran \\(2\\.13\\.0\\) | failed\\: E\\: x \\(2\\.13\\.0\\) |" in page


REPORT = {"device": "cpu", "device_name": "CPU", "mappings": [
    {"source": "torch.nn.L1Loss", "examples": [{"index": 0, "source": fresh_result().to_dict(), "target": None}]}]}


@pytest.mark.parametrize(("report", "message"), [
    pytest.param(b'{"device": "\xff"}', "cannot read report: 'utf-8' codec", id="not-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "cannot read report: JSON nested too deeply", id="deep"),
    pytest.param({**REPORT, "device": ["cpu"]}, "not a run report (needs `device` and `mappings`): device: Input should "
                 "be a valid string", id="device-a-list"),
    pytest.param({**REPORT, "mappings": [{"source": "torch.nn.L1Loss", "examples": [{"index": "0"}]}]},
                 "mappings.0.examples.0.index: Input should be a valid integer", id="index-text"),
    pytest.param({**REPORT, "mappings": [{"source": "torch.nn.L1Loss", "examples": [
        {"index": 0, "source": {**fresh_result().to_dict(), "outputs": [{"line": float("inf"), "text": "x"}]}}]}]},
                 "not a run report: torch.nn.L1Loss, example 1, source: `line` holds float, not int", id="line-infinite"),
    pytest.param({**REPORT, "mappings": [{"source": "torch.nn.L1Loss", "examples": [
        {"index": 0, "target": {"status": "not run", "reason": ["x"]}}]}]},
                 "not a run report: torch.nn.L1Loss, example 1, target: `reason` holds list, not text", id="reason-a-list"),
])
def test_merge_reports_refuses_a_report_of_the_wrong_shape_with_one_clear_line(tmp_path: Path, report, message: str):
    path = tmp_path / "cpu.json"
    path.write_bytes(report if isinstance(report, bytes) else json.dumps(report).encode())
    with pytest.raises(ReportError) as raised:
        merge([path])
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value), str(raised.value)


def test_merge_reports_reads_a_report_as_run_writes_it(tmp_path: Path):
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(REPORT))
    assert merge([path])["mappings"] == {"torch.nn.L1Loss": {"1": {"cpu: CPU": {
        "source": {"status": "ok", "error": None, "version": "2.13.0", "device_name": "CPU"}}}}}


# --- 10d: other_pairs: one page per source API, every pair PyTorch -> MindSpore ----------------

ALL = VALID_MAPPING.replace("torch.nn.L1Loss", "torch.all").replace("mindspore.nn.L1Loss", "mindspore.ops.all")


def side(api: str) -> str:
    return f'{{api: {api}, kind: function, signature: "{api}(input)"}}'


def with_other_pair(text: str, source: str, target: str) -> str:
    return text.replace("status:", f"other_pairs:\n  - source: {side(source)}\n    target: {side(target)}\nstatus:", 1)


def test_an_other_pair_cannot_give_an_api_with_its_own_file_a_second_page(tmp_path: Path):
    own = write_mapping(tmp_path, "torch.Tensor/all.yaml",
                        ALL.replace("torch.all", "torch.Tensor.all").replace("mindspore.ops.all", "mindspore.Tensor.all"))
    extra = write_mapping(tmp_path, "torch/all.yaml", with_other_pair(ALL, "torch.Tensor.all", "mindspore.mint.all"))
    assert problems_of(tmp_path) == [
        f"{extra}:12:14: other_pairs[0].source.api: torch.Tensor.all has its own page ({own}, line 2); "
        "one page per source API: give this target there, under `alternatives`"]


def test_one_api_in_two_files_other_pairs_is_one_page_too_many(tmp_path: Path):
    first = write_mapping(tmp_path, "a/torch/all.yaml", with_other_pair(ALL, "torch.Tensor.all", "mindspore.Tensor.all"))
    second = write_mapping(tmp_path, "b/torch/any.yaml", with_other_pair(
        ALL.replace("torch.all", "torch.any").replace("mindspore.ops.all", "mindspore.ops.any"),
        "torch.Tensor.all", "mindspore.mint.all"))
    assert problems_of(tmp_path) == [
        f"{second}:12:14: other_pairs[0].source.api: torch.Tensor.all is on the page of torch.all already "
        f"(`other_pairs` in {first}, line 12); one page per source API: list its targets in one file"]


def test_a_reversed_other_pair_names_the_file_that_maps_it_the_right_way_round(tmp_path: Path):
    right = write_mapping(tmp_path, "torch.Tensor/all.yaml",
                          ALL.replace("torch.all", "torch.Tensor.all").replace("mindspore.ops.all", "mindspore.Tensor.all"))
    wrong = write_mapping(tmp_path, "torch/all.yaml", with_other_pair(ALL, "mindspore.Tensor.all", "torch.Tensor.all"))
    assert problems_of(tmp_path) == [
        f"{wrong}:12:14: other_pairs[0].source.api: mindspore.Tensor.all is a MindSpore API, not a source: "
        f"pairs go PyTorch -> MindSpore; torch.Tensor.all -> mindspore.Tensor.all is mapped in {right} "
        "(source and target swapped?)"]


def test_a_reversed_page_is_one_located_problem_whatever_its_alternatives(tmp_path: Path):
    reversed_page = ALL.replace("api: mindspore.ops.all", "api: TARGET").replace("api: torch.all", "api: mindspore.ops.all_")
    reversed_page = reversed_page.replace("api: TARGET", "api: torch.all")
    path = write_mapping(tmp_path, "mindspore.ops/all_.yaml", reversed_page.replace(
        "status:", f"alternatives:\n  - target: {side('torch.Tensor.all')}\nstatus:", 1))
    assert problems_of(tmp_path) == [
        f"{path}:2:3: source.api: mindspore.ops.all_ is a MindSpore API, not a source: pairs go PyTorch -> MindSpore "
        "(source and target swapped?)"]


def test_other_pairs_that_go_the_right_way_on_their_own_page_are_fine(tmp_path: Path):
    write_mapping(tmp_path, "torch/all.yaml", with_other_pair(ALL, "torch.Tensor.all", "mindspore.Tensor.all"))
    write_mapping(tmp_path, "torch.nn/L1Loss.yaml")
    assert problems_of(tmp_path) == []

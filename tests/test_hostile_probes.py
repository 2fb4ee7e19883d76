"""Hostile probes sections (issue 26, item 6): shapes that would fill memory, timeouts that overflow,
probed code that prints the probes' result marker, and variants lost to the output limit.

Checking and deriving run in a child process under a memory limit (``bounded``), so a regression
cannot eat the machine; drivers' outputs are mostly written here as text, or made by the driver's
own loop run in-process with numpy standing in for a framework; one test runs the real frameworks.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from generator import probes as probes_module
from generator.execute import Executor
from generator.loader import load_mappings
from generator.probes import (MappingProbes, behaviour_view, broken_sides, compare_outcomes, compare_sides,
                              derive_variants, driver_code, parse_side, run_probes)
from generator.render import Renderer
from generator.results import SnippetResult, StatementOutput
from generator.schema import Probes
from generator.verify import probe_findings

from .conftest import L1LOSS_PAIR, ROOT, write_mapping
from .hostile import bounded, check

NONCE = "0123456789abcdef" * 2  # what a driver announces: 32 hexadecimal digits




def probes_yaml(shape: str = "[2]", extra: str = "", inputs: str = "") -> str:
    """A probes section after ``L1LOSS_PAIR`` (11 lines): `input` on line 14, `timeout` on line 17."""
    return (L1LOSS_PAIR + f"probes:\n  inputs:\n    input: {{kind: tensor, shape: {shape}}}\n{inputs}"
            f"  source: input\n  target: input\n{extra}")


def mapping_file(folder: Path, text: str) -> Path:
    return write_mapping(folder, "torch.nn/L1Loss.yaml", text)


def snippet_result(text: str, truncated: bool = False) -> SnippetResult:
    return SnippetResult("ok", [StatementOutput(2, text, truncated)], "", None, None, None, 0.0, "1.0", "cpu", "")


def driver_output(*records: str, nonce: str = NONCE) -> str:
    """What a driver prints: its announcement, then each record on a line of its own."""
    return "\n".join([f"@@probe {nonce}", *(f"@@probe {nonce} {record}" for record in records)])


def record(variant: str, values: list, dtype: str = "float32") -> str:
    return json.dumps({"variant": variant, "dtype": dtype, "shape": [len(values)], "values": values})


# ---------------------------------------------------------------- (a) shapes, inputs and values bounded


@pytest.mark.parametrize("shape, field, message", [
    ("[100000, 100000]", "probes.inputs.input.shape[0]", "less than or equal to 4096"),
    ("[64, 64, 64]", "probes.inputs.input.shape", "at most 4096 elements; this shape holds 262144"),
    ("[1, 1, 1, 1, 1, 1, 1, 1, 1]", "probes.inputs.input.shape", "at most 8 items"),
])
def test_a_probe_shape_beyond_the_bounds_is_a_located_check_error(tmp_path: Path, shape: str, field: str, message: str):
    path = mapping_file(tmp_path, probes_yaml(shape))
    completed = check(path)
    assert completed.returncode == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert re.search(rf"^{re.escape(str(path))}:14:\d+: {re.escape(field)}: .*{re.escape(message)}",
                     completed.stderr, re.MULTILINE), completed.stderr


def test_too_many_inputs_or_parameter_values_are_located_check_errors(tmp_path: Path):
    many_inputs = "".join(f"    x{index}: {{kind: value, value: {index}}}\n" for index in range(16))
    values = "    p: {kind: value, value: 0, values: [" + ", ".join(map(str, range(1, 18))) + "]}\n"
    problems = [str(problem) for text in (probes_yaml(inputs=many_inputs), probes_yaml(inputs=values))
                for problem in load_mappings([mapping_file(tmp_path / str(len(text)), text)]).problems]
    assert len(problems) == 2, problems
    assert ":13:3: probes.inputs: Dictionary should have at most 16 items" in problems[0]
    assert ":15:32: probes.inputs.p.values: List should have at most 16 items" in problems[1]


def test_the_build_process_never_materialises_probe_inputs():
    """A shape that passed no check (a spec built in code) still costs the build process nothing:
    deriving the variants and writing the drivers, under a 1 GiB limit, gives a small driver."""
    script = textwrap.dedent("""
        from generator.probes import derive_variants, driver_code
        from generator.schema import ProbeInput, Probes
        huge = ProbeInput.model_construct(kind="tensor", shape=[100000, 100000])
        probes = Probes.model_construct(inputs={"x": huge}, source="x", target="x")
        print(len(driver_code(derive_variants(probes), "x")))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          preexec_fn=bounded())
    assert done.returncode == 0 and "MemoryError" not in done.stderr, done.stderr[-2000:]
    assert int(done.stdout) < 20_000


PINNED = Probes.model_validate({
    "inputs": {
        "x": {"kind": "tensor", "shape": [3, 4]},
        "i": {"kind": "tensor", "shape": [5], "dtype": "int64", "domain": "index", "high": 7, "vary_dtype": False,
              "special": False},
        "u": {"kind": "tensor", "shape": [2, 3], "domain": "unit"},
        "s": {"kind": "tensor", "shape": [4], "domain": "sign"},
        "q": {"kind": "tensor", "shape": [2, 2], "domain": "positive"},
    },
    "source": "x", "target": "x", "variants": ["random", "special", "dtype"],
})
# sha256 over every array of PINNED's variants as the build process made them before the inputs
# moved into the worker (commit b14abd4): the worker builds the very same arrays.
PINNED_ARRAYS = "61d11e1eabec81b5587dbbfa9e01911b9d3fe3e7b7575201947dadc21daaf593"


def test_the_worker_builds_the_same_input_arrays_as_the_build_process_did():
    builder: dict = {}
    exec(probes_module.driver_common(), builder)  # noqa: S102 - the driver's own code, numpy only
    digest = hashlib.sha256()
    for variant in derive_variants(PINNED):
        if "@" in variant.name:  # special values at the middle and last element: added later (#19)
            continue
        for name, spec in variant.inputs.items():
            array = builder["_probe_array"](json.loads(json.dumps(spec)))  # as the driver receives it
            digest.update(f"{variant.name}/{name}/{array.dtype}/{array.shape}".encode() + array.tobytes())
    assert digest.hexdigest() == PINNED_ARRAYS


# ---------------------------------------------------------------- (b) probes.timeout bounded


@pytest.mark.parametrize("timeout", [".inf", "1e308", "2200000", "3601", ".nan", "0"])
def test_an_unbounded_probe_timeout_is_a_located_check_error(tmp_path: Path, timeout: str):
    path = mapping_file(tmp_path, probes_yaml(extra=f"  timeout: {timeout}\n"))
    (problem,) = load_mappings([path]).problems
    assert str(problem).startswith(f"{path}:17:3: probes.timeout: ")


def test_the_largest_probe_timeout_is_accepted(tmp_path: Path):
    path = mapping_file(tmp_path, probes_yaml(extra="  timeout: 3600\n"))
    assert load_mappings([path]).problems == []


# ---------------------------------------------------------------- (c) the result channel


def two_variants() -> list:
    probes = Probes.model_validate({"inputs": {"input": {"kind": "tensor", "shape": [2]}}, "source": "input",
                                    "target": "input", "variants": ["random", "scalar"]})
    return derive_variants(probes)


def test_marker_lines_printed_by_probed_code_are_not_results():
    variants = two_variants()
    spoofed = ["@@probe 5", '@@probe {"variant": "random", "error": "Spoofed", "message": "by the probe"}',
               '@@probe {"variant": ["random"]}', '@@probe {"dtype": "float32"}', "@@probe " + "[" * 100_000,
               f"@@probe {'f' * 32} " + record("scalar", [9.0])]  # a guessed nonce
    text = driver_output() + "\n" + "\n".join(spoofed) + "\n" + "\n".join(
        f"@@probe {NONCE} {line}" for line in (record("random", [1.0, 2.0]), record("scalar", [3.0])))
    side = parse_side("torch.x", snippet_result(text), variants)
    assert side.failure is None
    assert side.outcomes == {"random": {"dtype": "float32", "shape": [2], "values": [1.0, 2.0]},
                             "scalar": {"dtype": "float32", "shape": [1], "values": [3.0]}}


@pytest.mark.parametrize("payload", [
    "5", "[]", "null", '{"variant": ["random"]}', '{"variant": "random"}', '{"variant": "other", "error": "E"}',
    '{"variant": "random", "error": "E"}', '{"variant": "random", "dtype": "float32", "shape": "x", "values": 1}',
    '{"variant": "random", "items": [' + '{"items": [' * 40 + "]}" * 40 + "]}",  # deeper than any result
    '{"variant": "random", "items": [' + "[" * 100_000 + "]" * 100_000 + "]}",  # deeper than json.loads goes
    '{"variant": "random", "python": "int", "value": {}}',
    '{"variant": "random", "dtype": "float32", "shape": [1], "values": [[1.0]]}',
])
def test_a_malformed_result_line_is_a_lost_variant_never_a_crash(payload: str):
    variants = two_variants()
    text = driver_output(payload, record("scalar", [1.0]))
    side = parse_side("torch.x", snippet_result(text), variants)
    assert list(side.outcomes) == ["scalar"]
    assert side.failure == "no readable outcome for 1 of 2 variants"
    probed = MappingProbes(variants, side, [compare_sides(side, side, variants)])
    assert probed.main.lost == ["random"] and probed.main.agreeing == 1
    assert broken_sides(probed)[0] == ("source", "stopped part-way, 1 of 2 variants not run or lost: no readable "
                                                 "outcome for 1 of 2 variants")


def test_a_python_int_beyond_float_range_compares_without_overflow():
    huge = {"python": "int", "value": 10 ** 400}
    assert compare_outcomes(huge, {"python": "int", "value": 10 ** 400}) is None
    assert compare_outcomes(huge, {"python": "int", "value": 10 ** 400 + 1}).startswith("values differ")


def test_the_driver_keeps_its_results_apart_from_what_the_probed_code_prints():
    """The driver's own loop, with numpy standing in for a framework: the probed code prints marker
    lines, one without a line end; each variant's outcome is still the driver's."""
    variants = two_variants()
    namespace: dict = {}
    exec(probes_module.driver_common(), namespace)  # noqa: S102 - the driver's own code, numpy only
    namespace.update(_probe_tensor=namespace["_probe_array"], _probe_sync=lambda: None, _probe_namespace={"np": np},
                     _probe_numpy=lambda value: (str(value.dtype), value) if isinstance(value, np.ndarray) else None)
    template = ('print("@@probe 5")\n'
                'print(\'@@probe {"variant": "scalar", "error": "Spoofed", "message": "x"}\', end="")\n'
                "np.asarray(input * 2)")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(driver_code(variants, template), namespace)  # noqa: S102
    side = parse_side("numpy", snippet_result(printed.getvalue()), variants)
    assert side.failure is None and set(side.outcomes) == {"random", "scalar"}
    for variant in variants:
        numbers = namespace["_probe_numbers"](variant.inputs["input"])
        expected = np.array(numbers, dtype=np.float64).astype("float32") * 2
        assert side.outcomes[variant.name].get("values") == expected.reshape(-1).tolist(), side.outcomes


# ---------------------------------------------------------------- (d) lost variants


def test_variants_lost_to_the_output_limit_are_neither_agreeing_nor_differing(tmp_path: Path):
    loaded = load_mappings([mapping_file(tmp_path, probes_yaml(extra="  variants: [random, special]\n"))]).mappings[0]
    variants = derive_variants(loaded.mapping.probes)[:9]  # random and the special values in the first row
    records = [record(variant.name, [1.0, 2.0]) for variant in variants]
    whole = parse_side("torch.nn.L1Loss", snippet_result(driver_output(*records)), variants)
    cut_text = driver_output(*records[:3]) + f"\n@@probe {NONCE} " + records[3][:20]
    cut = parse_side("mindspore.nn.L1Loss", snippet_result(cut_text, truncated=True), variants)
    assert "passed the output limit of 64 KiB after 3 of 9 variants" in cut.failure
    for source, target in ((cut, cut), (whole, cut), (cut, whole)):
        compared = compare_sides(source, target, variants)
        assert (compared.agreeing, len(compared.lost), compared.differences) == (3, 6, {})
    probed = MappingProbes(variants, whole, [compare_sides(whole, cut, variants)])
    (view,) = behaviour_view(loaded.mapping, probed)
    assert (view.agreeing, view.total, view.lost) == (3, 9, 6)
    page = Renderer().page(loaded, {}, probes=probed)
    assert "3 of 9 variants behave the same." in page
    assert "6 of them were not run or their outcomes were lost, so they are not compared." in page
    findings = probe_findings(loaded, {loaded.mapping.source.api: probed})
    (finding,) = [finding for finding in findings if finding.line == 16]  # probes.target
    assert "6 of 9 variants not run or lost" in finding.message
    # the status claims the same behaviour: lost variants do not earn it (#19)
    assert any("6 variant(s) were not run or lost" in other.message for other in findings if other.line != 16)


# ---------------------------------------------------------------- on the real frameworks

SPOOFING = probes_yaml(extra="  variants: [random, scalar]\n").replace("  source: input\n", (
    "  source: |\n    print('@@probe 5')\n    print('@@probe {\"variant\": \"random\"}')\n    input\n"))
# 25 variants of 1,024 numbers each: more than 64 KiB of records, some of them read
LARGE = probes_yaml("[1024]", "  variants: [random, special, dtype]\n")


@pytest.fixture(scope="module")
def pool():
    with Executor(jobs=2, cache_path=None, progress=False) as executor:
        yield executor


@pytest.mark.frameworks
def test_real_probes_survive_marker_lines_printed_by_the_probed_code(tmp_path: Path, pool: Executor):
    spoofing = load_mappings([mapping_file(tmp_path, SPOOFING)]).mappings
    probed = run_probes(spoofing, pool)["torch.nn.L1Loss"]
    assert probed.main.agreeing == 2 and probed.main.differences == {} and probed.source.failure is None


@pytest.mark.frameworks
def test_real_probes_count_variants_lost_to_the_output_limit(tmp_path: Path, pool: Executor):
    large = load_mappings([mapping_file(tmp_path, LARGE)]).mappings
    probed = run_probes(large, pool)["torch.nn.L1Loss"]
    main = probed.main
    assert len(probed.variants) == 25 and 0 < main.agreeing + len(main.differences) < 25  # lost: not agreeing
    assert main.agreeing + len(main.differences) + len(main.lost) == 25
    assert "passed the output limit of 64 KiB" in probed.source.failure
    findings = [finding.message for finding in probe_findings(large[0], {"torch.nn.L1Loss": probed})]
    assert any(f"{len(main.lost)} of 25 variants not run or lost" in message for message in findings), findings

"""The execution stage on the real frameworks: warm workers, isolation, capture, errors, mappings.

Most snippets run in one ``Executor.run`` call on a shared pool (``batch``): with ``jobs=2`` and
both frameworks present there is one worker per framework, so a framework's snippets run in the
order given, which the state-reset tests rely on.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from generator.compare import Comparison
from generator.execute import (Executor, Snippet, SnippetResult, StatementOutput, WorkerProcess, WorkerStartError,
                               execute_mappings, expectation, write_report)
from generator.frameworks import FRAMEWORKS
from generator.loader import load_mappings
from generator.worker import cpu_name

pytestmark = pytest.mark.frameworks


def T(code: str, **kw) -> Snippet:
    return Snippet("torch", textwrap.dedent(code).lstrip("\n"), **kw)


def M(code: str, **kw) -> Snippet:
    return Snippet("mindspore", textwrap.dedent(code).lstrip("\n"), **kw)


RANDOM_TORCH = "import random, numpy as np, torch\nprint(random.random())\nprint(np.random.rand(2))\nprint(torch.rand(3))\n"
RANDOM_MS = "import mindspore, numpy as np\nprint(np.random.rand(2))\nprint(mindspore.ops.rand(3))\n"

CASES: dict[str, Snippet] = {
    # warm workers
    "t_modules": T("import sys, os\nprint('torch' in sys.modules, 'mindspore' in sys.modules)\nprint(os.stat('/proc/self/ns/pid').st_ino, open('/proc/self/stat').read().split()[21])  # the worker's identity\n"),
    "m_modules": M("import sys, os\nprint('torch' in sys.modules, 'mindspore' in sys.modules)\nprint(os.stat('/proc/self/ns/pid').st_ino, open('/proc/self/stat').read().split()[21])  # the worker's identity\n"),
    "t_pid": T("import os\nprint(os.stat('/proc/self/ns/pid').st_ino, open('/proc/self/stat').read().split()[21])  # the worker's identity\n"),
    # seeds
    "t_random_1": T(RANDOM_TORCH),
    "m_random_1": M(RANDOM_MS),
    "t_random_2": T(RANDOM_TORCH + "# again\n"),
    "m_random_2": M(RANDOM_MS + "# again\n"),
    # state a snippet changes does not reach the next
    "t_change": T("""
        import os, sys, warnings, numpy as np, torch
        torch.set_default_dtype(torch.float64)
        torch.set_printoptions(precision=8)
        np.set_printoptions(precision=2)
        os.environ['SNIPPET_VAR'] = '1'
        sys.path.insert(0, '/nowhere')
        warnings.simplefilter('ignore')
        secret = 42
        os.chdir('/')
        print(torch.tensor([1/3]), np.array([1/3]))
        """),
    "t_check": T("""
        import os, sys, warnings, numpy as np, torch
        print(torch.get_default_dtype(), torch.tensor([1/3]), np.array([1/3]))
        print('SNIPPET_VAR' in os.environ, '/nowhere' in sys.path, 'secret' in dir())
        print(os.getcwd() != '/', __name__)
        warnings.warn('shown again')
        """),
    "m_change": M("import mindspore\nmindspore.set_context(mode=mindspore.GRAPH_MODE)\nprint(mindspore.get_context('mode'))\n"),
    "m_check": M("import mindspore\nprint(mindspore.get_context('mode'), mindspore.get_context('device_target'))\n"),
    "t_namespace": T("print('secret' in globals(), 'torch' in globals())\n"),
    # capture
    "t_lines": T("""
        x = [1,
             2]
        print(x)
        for i in range(3):
            print(i)
        y = 5
        print(
            'multi-line',
            y,
        )
        """),
    "t_c_level": T("""
        import ctypes, os, sys
        libc = ctypes.CDLL(None)
        libc.printf(b"one %d\\n", 1); print("two"); libc.printf(b"three\\n")
        os.system('echo from a child process')
        print('to stderr', file=sys.stderr)
        os.write(2, b'raw fd 2\\n')
        print('last')
        """),
    "t_warning": T("import warnings\nwarnings.warn('careful')\nprint('after')\n"),
    "t_silent": T("x = 1\n"),
    "t_normalise": T("""
        print(object())
        print('trailing   ')
        print('blank lines follow\\n\\n\\n')
        print(hex(2**40), 0.1 + 0.2, 1e-300, 123456789012345678901234567890)
        """),
    # errors
    "t_zero": T("print('before')\nx = 1\ny = x / 0\nprint('never')\n"),
    "t_inner": T("def f():\n    return {}['missing']\n\nprint('start')\nf()\n"),
    "t_syntax": T("print('fine')\nprint('broken'\n"),
    "t_setup": T("print(helper(2))\n", setup="import sys\nprint('hidden setup output')\n"
                                              "print('hidden', file=sys.stderr)\ndef helper(x):\n    return x * 10\n"),
    "t_setup_error": T("print('not reached')\n", setup="raise ValueError('bad setup')\n"),
    "m_unregistered": M("""
        import mindspore
        import numpy as np
        from mindspore import Tensor, nn

        logits = Tensor(np.array([[0.3, 0.7], [0.5, 0.5]]), mindspore.float32)
        labels = Tensor(np.array([[-1, 1], [1, -1]]), mindspore.float32)
        print('inputs ready')
        loss = nn.SoftMarginLoss()(logits, labels)
        print(loss)
        """),
    "m_after_error": M("import mindspore, numpy as np\nprint(mindspore.Tensor(np.ones(2), mindspore.float32) + 1)\n"),
    "t_duplicate": T("print('same code twice')\n"),
    "t_duplicate_again": T("print('same code twice')\n"),
}


@pytest.fixture(scope="module")
def pool():
    with Executor(jobs=2, progress=False) as executor:
        yield executor


@pytest.fixture(scope="module")
def batch(pool):
    results = pool.run(list(CASES.values()))
    return dict(zip(CASES, results)) | {"_stats": pool.stats}


def texts(result: SnippetResult) -> list[str]:
    return [output.text for output in result.outputs]


# ---------------------------------------------------------------- warm workers


def test_one_framework_per_warm_worker(batch):
    assert texts(batch["t_modules"])[0] == "True False"
    assert texts(batch["m_modules"])[0] == "False True"
    assert texts(batch["t_modules"])[1] == texts(batch["t_pid"])[0]  # same warm worker
    assert texts(batch["t_modules"])[1] != texts(batch["m_modules"])[1]
    assert batch["_stats"].workers_started == 2  # jobs=2: one per framework, each imported once


def test_workers_stay_warm_across_runs(batch, pool):
    again = pool.run([T("import os\nprint(os.stat('/proc/self/ns/pid').st_ino, open('/proc/self/stat').read().split()[21])  # the worker's identity\n# later run\n")])
    assert texts(again[0]) == texts(batch["t_pid"])
    assert pool.stats.workers_started == 0


def test_worker_only_for_frameworks_with_snippets():
    with Executor(jobs=2, progress=False) as executor:
        assert executor.workers() == {}
        executor.run([T("print(1)")])
        assert executor.workers() == {"torch": 1}


def test_jobs_bounds_the_number_of_workers():
    with Executor(jobs=1, progress=False) as executor:
        results = executor.run([T("print('t')"), M("print('m')"), T("print('t2')")])
        assert [texts(r) for r in results] == [["t"], ["m"], ["t2"]]
        assert sum(executor.workers().values()) <= 1


def test_a_slot_whose_framework_ran_out_takes_the_other_frameworks_long_queue():
    slow = [M(f"import time\ntime.sleep(0.5)\nprint({i})\n") for i in range(26)]  # 13 s on one worker
    with Executor(jobs=2, progress=False) as executor:
        results = executor.run([T("print('t')"), *slow])
        assert [texts(r) for r in results] == [["t"]] + [[str(i)] for i in range(26)]
        assert executor.stats.slots_moved == 1 and executor.workers() == {"mindspore": 2}
        assert executor.stats.workers_started == 3


def test_a_cell_left_alive_is_not_a_change_of_state():
    identity = "import os\nprint(os.stat('/proc/self/ns/pid').st_ino, open('/proc/self/stat').read().split()[21])\n"
    kept = "import gc\nfrom mindspore import nn\ngc.disable()\nbox = [nn.ReLU()]\nbox.append(box)  # a cycle: alive until gc\n"
    with Executor(jobs=1, progress=False) as executor:
        before, _, after = executor.run([M(identity + "# before"), M(kept), M(identity + "# after")])
        assert texts(before) == texts(after) and executor.stats.workers_replaced == 0


def test_results_keep_input_order_and_duplicates_run_once(batch):
    assert texts(batch["t_duplicate"]) == texts(batch["t_duplicate_again"]) == ["same code twice"]
    assert batch["_stats"].executed == len(CASES) - 1


def test_many_snippets_reuse_the_warm_worker(pool):
    # The overhead target itself is measured by benchmarks/bench_execute.py, not asserted here.
    pool.run([T("print(0)")])  # make sure the worker is warm
    results = pool.run([T(f"x = {i} + 1\nprint(x)\n") for i in range(60)])
    assert [texts(r) for r in results] == [[str(i + 1)] for i in range(60)]
    # 60 snippets, but no more workers than the pool's slots, each importing torch once.
    assert sum(pool.workers().values()) <= pool.jobs
    assert pool.stats.workers_started <= pool.jobs


# ---------------------------------------------------------------- isolation


def test_seeds_make_random_output_repeatable(batch):
    assert texts(batch["t_random_1"]) == texts(batch["t_random_2"])
    assert texts(batch["m_random_1"]) == texts(batch["m_random_2"])
    assert texts(batch["t_random_1"])[1] == texts(batch["m_random_1"])[0]  # both seed NumPy with 0


def test_seeds_are_the_same_in_a_fresh_worker(batch):
    with Executor(jobs=1, progress=False) as executor:
        fresh = executor.run([T(RANDOM_TORCH + "# fresh\n")])
    assert texts(fresh[0]) == texts(batch["t_random_1"])


def test_global_state_is_restored_between_snippets(batch):
    assert texts(batch["t_change"]) == ["tensor([0.33333333]) [0.33]"]  # float64 is the default here
    assert texts(batch["t_check"]) == ["torch.float32 tensor([0.3333]) [0.33333333]", "False False False",
                                       "True __main__"]
    assert "shown again" in batch["t_check"].stderr  # warnings filters restored
    assert texts(batch["t_namespace"]) == ["False False"]


def test_mindspore_context_is_restored(batch):
    assert texts(batch["m_change"]) == ["0"]
    assert texts(batch["m_check"]) == ["1 CPU"]


# ---------------------------------------------------------------- capture


def test_output_is_attributed_to_the_last_line_of_its_statement(batch):
    result = batch["t_lines"]
    assert [(o.line, o.text) for o in result.outputs] == [(3, "[1, 2]"), (5, "0\n1\n2"), (10, "multi-line 5")]


def test_c_level_output_is_captured_in_order_and_stderr_kept_apart(batch):
    result = batch["t_c_level"]
    assert [(o.line, o.text) for o in result.outputs] == [
        (3, "one 1\ntwo\nthree"), (4, "from a child process"), (7, "last")]
    assert result.stderr == "to stderr\nraw fd 2"


def test_warnings_go_to_stderr(batch):
    result = batch["t_warning"]
    assert texts(result) == ["after"]
    assert "UserWarning: careful" in result.stderr


def test_silent_snippet(batch):
    assert batch["t_silent"].status == "ok" and batch["t_silent"].outputs == []


def test_normalisation_touches_only_noise(batch):
    assert texts(batch["t_normalise"]) == [
        "<object object at 0x...>", "trailing", "blank lines follow",
        "0x10000000000 0.30000000000000004 1e-300 123456789012345678901234567890"]


# ---------------------------------------------------------------- failures


def test_exception_keeps_earlier_output(batch):
    result = batch["t_zero"]
    assert (result.status, result.error_type, result.error_message, result.error_line) == (
        "error", "ZeroDivisionError", "division by zero", 3)
    assert texts(result) == ["before"]
    assert 'File "<snippet>", line 3' in result.traceback


def test_error_line_is_where_it_was_raised(batch):
    result = batch["t_inner"]
    assert (result.error_type, result.error_message, result.error_line) == ("KeyError", "'missing'", 2)
    assert texts(result) == ["start"]


def test_syntax_error(batch):
    result = batch["t_syntax"]
    assert (result.status, result.error_type, result.error_line) == ("error", "SyntaxError", 2)
    assert result.outputs == []  # like Python, nothing runs


def test_setup_is_run_hidden(batch):
    result = batch["t_setup"]
    assert texts(result) == ["20"]
    assert "hidden" not in result.stderr
    failed = batch["t_setup_error"]
    assert (failed.status, failed.error_type, failed.error_message, failed.error_line) == (
        "error", "ValueError", "in setup: bad setup", None)
    assert failed.outputs == []


def test_mindspore_multiline_error_first_line(batch):
    result = batch["m_unregistered"]
    assert (result.status, result.error_type, result.error_message) == (
        "error", "RuntimeError", "The kernel SoftMarginLoss unregistered.")
    assert result.error_line == 9  # asynchronous: where a plain run meets the error, at the print
    assert [(o.line, o.text) for o in result.outputs] == [(7, "inputs ready")]
    assert "C++ Call Stack" in result.traceback
    assert texts(batch["m_after_error"]) == ["[2. 2.]"]  # the error did not leak into the next snippet


# ---------------------------------------------------------------- device, versions


def test_versions_and_device(batch):
    for name, framework in (("t_pid", "torch"), ("m_check", "mindspore")):
        result = batch[name]
        assert result.framework_version == FRAMEWORKS[framework].version
        assert result.device == "cpu"
        assert result.device_name == cpu_name() and result.device_name
        assert not result.cached


def test_bad_arguments():
    with pytest.raises(ValueError, match="device"):
        Executor(device="tpu")
    with Executor(progress=False) as executor:
        with pytest.raises(ValueError, match="framework"):
            executor.run([Snippet("jax", "print(1)")])
        assert executor.run([]) == []


def test_result_dict_roundtrip(batch):
    for result in batch.values():
        if isinstance(result, SnippetResult):
            assert SnippetResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_worker_start_failure_is_recorded(monkeypatch):
    def fail(self, timeout=0):
        raise WorkerStartError("the torch worker exited with code 1: ModuleNotFoundError: No module named 'torch'")

    monkeypatch.setattr(WorkerProcess, "start", fail)
    with Executor(jobs=1, progress=False) as executor:
        results = executor.run([T("print(1)"), T("print(2)")])
    assert [(r.status, r.error_type) for r in results] == [("crash", "WorkerStartError")] * 2
    assert "No module named 'torch'" in results[0].error_message


def test_no_progress_bar_for_a_short_run_off_a_terminal(capfd):
    with Executor(jobs=1, progress=True) as executor:
        executor.run([T("print('quiet')  # progress on")])
    assert capfd.readouterr().err == ""


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    from generator import progress

    monkeypatch.setattr(progress, "_isatty", lambda stream: True)
    monkeypatch.setattr(progress, "TTY_DELAY", 0)
    with progress.Progress(3, "running examples") as bar:
        for _ in range(3):
            bar.update()
    assert "running examples" in capsys.readouterr().err
    with progress.Progress(3, enabled=False) as bar:
        bar.update()
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- mappings


MAPPING = """\
source:
  api: torch.nn.SoftMarginLoss
  kind: class
  signature: class torch.nn.SoftMarginLoss(reduction='mean')(input, target) -> Tensor
  summary: Two-class logistic loss.
target:
  api: mindspore.nn.SoftMarginLoss
  kind: class
  signature: class mindspore.nn.SoftMarginLoss(reduction='mean')(logits, labels) -> Tensor
  summary: The same loss.
status: consistent
examples:
  - same_values: true
    source: |
      import torch
      x = torch.tensor([[0.3, 0.7], [0.5, 0.5]])
      y = torch.tensor([[-1., 1.], [1., -1.]])
      print(torch.nn.SoftMarginLoss()(x, y))
    target: |
      import mindspore, numpy as np
      from mindspore import Tensor, nn
      x = Tensor(np.array([[0.3, 0.7], [0.5, 0.5]]), mindspore.float32)
      y = Tensor(np.array([[-1, 1], [1, -1]]), mindspore.float32)
      print(nn.SoftMarginLoss()(x, y))
    expected_failures:
      - {side: target, devices: [cpu], error: "SoftMarginLoss unregistered", reason: "No CPU kernel in 2.10."}
  - same_values: true
    source: |
      import torch
      print(torch.tensor([1.0, 2.0]) * 2)
    target: |
      import mindspore
      print(mindspore.Tensor([1.0, 2.0]) * 2)
  - same_values: true
    source: |
      import torch
      print(torch.tensor([1.0, 2.0]) * 2)
    target: |
      import mindspore
      print(mindspore.Tensor([1.0, 2.5]) * 2)
  - source: |
      print('no comparison wanted')
"""


def test_execute_mappings_and_report(tmp_path, pool):
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "SoftMarginLoss.yaml").write_text(MAPPING)
    loaded = load_mappings([folder])
    assert loaded.ok, loaded.problems
    runs = execute_mappings(loaded.mappings, executor=pool)
    api = "torch.nn.SoftMarginLoss"
    assert set(runs) == {(api, 0), (api, 1), (api, 2), (api, 3)}
    first = runs[(api, 0)]
    assert first.source.status == "ok" and texts(first.source) == ["tensor(0.6764)"]
    assert first.target.error_message == "The kernel SoftMarginLoss unregistered."
    assert first.comparison == Comparison("not compared", "the target failed (RuntimeError)")
    assert runs[(api, 1)].comparison.verdict == "agree"
    assert runs[(api, 1)].target.outputs == [StatementOutput(2, "[2. 4.]")]
    assert runs[(api, 2)].comparison == Comparison("disagree", "printed value 1 (source line 2, target line 2) "
                                                               "at index 1: 4 vs 5")
    assert runs[(api, 3)].target is None and runs[(api, 3)].comparison.verdict == "not compared"

    example = loaded.mappings[0].mapping.examples[0]
    assert expectation(example, "target", first.target, "cpu") == "expected-failure"
    assert expectation(example, "source", first.source, "cpu") == "ok"
    assert expectation(example, "target", first.target, "gpu") == "unexpected-failure"

    path = tmp_path / "report.json"
    write_report(runs, loaded.mappings, path, "cpu")
    report = json.loads(path.read_text())
    assert report["device"] == "cpu"
    assert report["summary"]["examples"] == 4 and report["summary"]["snippets"] == 7
    assert report["summary"]["expected_failures"] == 1 and report["summary"]["unexpected_failures"] == 0
    assert report["summary"]["disagree"] == 1
    entry = report["mappings"][0]
    assert entry["source"] == api and entry["target"] == "mindspore.nn.SoftMarginLoss"
    target = entry["examples"][0]["target"]
    assert target["expectation"] == "expected-failure"
    assert target["expected_failure"]["error"] == "SoftMarginLoss unregistered"
    assert target["status"] == "error" and target["framework"] == "mindspore"
    assert target["framework_version"] == FRAMEWORKS["mindspore"].version
    assert target["device_name"] == cpu_name()
    assert entry["examples"][0]["comparison"]["verdict"] == "not compared"
    assert entry["examples"][1]["source"]["outputs"] == [{"line": 2, "text": "tensor([2., 4.])"}]


def test_execute_mappings_with_its_own_pool_and_cache(tmp_path):
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "SoftMarginLoss.yaml").write_text(MAPPING)
    mappings = load_mappings([folder]).mappings
    cache = tmp_path / "cache.sqlite"
    first = execute_mappings(mappings, jobs=2, cache_path=cache, progress=False)
    second = execute_mappings(mappings, jobs=2, cache_path=cache, progress=False)
    for key, run in first.items():
        again = second[key]
        assert again.comparison == run.comparison
        for side in ("source", "target"):
            if getattr(run, side) is not None:
                assert getattr(again, side).cached
                assert getattr(again, side).outputs == getattr(run, side).outputs


def test_an_error_is_shown_by_its_first_line_that_says_something():
    from generator.worker import first_line

    message = "\n----------------------------------------------------\n- Kernel select failed:\n---\ndetails"
    assert first_line(message) == "- Kernel select failed:"
    assert first_line("  \n-----\n") == "-----"
    assert first_line("") == ""

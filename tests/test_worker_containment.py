"""Containment: whatever a snippet does, it is recorded and the run goes on.

All snippets run in one ``Executor.run`` call (jobs=1: one worker at a time, so they run in the
order given), and each test checks its part of the results.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from generator.execute import Executor, Snippet

pytestmark = pytest.mark.frameworks

REPO = Path(__file__).resolve().parent.parent
# A worker's identity: inside its own PID namespace every worker is PID 2, so print the namespace
# and the start time (in clock ticks since boot), which differ for a replaced worker.
PID = ("import os\nprint(os.stat('/proc/self/ns/pid').st_ino, "
       "open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19])\n")

CASES: dict[str, Snippet] = {
    "pid_0": Snippet("torch", PID + "# 0"),
    "segfault": Snippet("torch", "import ctypes\nprint('before')\nctypes.string_at(0)\nprint('never')\n"),
    "pid_1": Snippet("torch", PID + "# 1"),
    "abort": Snippet("torch", "import os\nprint('a')\nos.abort()\n"),
    "exit_3": Snippet("torch", "import os\nprint('x', flush=True)\nos._exit(3)\n"),
    "pid_2": Snippet("torch", PID + "# 2"),
    "sys_exit": Snippet("torch", "import sys\nprint('bye')\nsys.exit(2)\n"),
    "pid_3": Snippet("torch", PID + "# 3"),
    "input": Snippet("torch", "answer = input('name? ')\n"),
    "broken_state": Snippet("torch", "import numpy\nnumpy.get_printoptions = None\nprint('broke it')\n"),
    "pid_4": Snippet("torch", PID + "# 4"),
    "timeout": Snippet("torch", "import time\nprint('started')\nwhile True:\n    time.sleep(0.05)\n", timeout=1.5),
    "after_timeout": Snippet("torch", "import torch\nprint(torch.ones(2))\n"),
    "busy": Snippet("torch", "print('spinning')\nwhile True: pass\n", timeout=1.5),
    "after_busy": Snippet("torch", "print('next')\n"),
    "huge_bytearray": Snippet("torch", "print('ok so far')\nb = bytearray(50 * 2**30)\n"),
    "huge_numpy": Snippet("torch", "import numpy as np\na = np.ones(10**10)\n"),
    "over_cap": Snippet("torch", "b = bytearray(3 * 2**30)  # real memory; the test's cap is 1 GiB\n"),
    "huge_torch": Snippet("torch", "import torch\nt = torch.ones(10**10)\n"),
    "after_memory": Snippet("torch", "x = bytearray(100 * 2**20)\nprint(len(x))\n"),
    "flood": Snippet("torch", "for i in range(200_000):\n    print('%050d' % i)\nprint('end')\n"),
    "files": Snippet("torch", "import os\nopen('written.txt', 'w').write('data')\nprint(os.getcwd())\n"
                              "print(sorted(os.listdir('.')))\n"),
    "files_gone": Snippet("torch", "import os\nprint(sorted(os.listdir('.')))\n"),
    "close_fds": Snippet("torch", "import os, sys\nos.write(1, b'\\x00raw bytes\\xff\\n')\nos.close(1)\nos.close(2)\n"),
    "after_close": Snippet("torch", "print('still captured')\nimport sys\nprint('err', file=sys.stderr)\n"),
    "ms_segfault": Snippet("mindspore", "import ctypes\nprint('ms before')\nctypes.string_at(0)\n"),
    "ms_after": Snippet("mindspore", "import mindspore, numpy as np\nprint(mindspore.Tensor(np.array([1.5, 2.5])))\n"),
    "last": Snippet("torch", "print('the run went on')\n"),
}


@pytest.fixture(scope="module")
def results():
    with Executor(jobs=1, memory_limit_bytes=1 << 30, progress=False) as pool:
        outcome = dict(zip(CASES, pool.run(list(CASES.values()))))
        outcome["_stats"] = pool.stats
        yield outcome


def pid(results, name: str) -> str:
    return results[name].outputs[0].text


def test_segfault_is_a_crash_and_the_worker_is_replaced(results):
    result = results["segfault"]
    assert (result.status, result.error_type, result.error_message) == ("crash", "Signal", "killed by SIGSEGV")
    assert result.error_line == 3
    assert [(o.line, o.text) for o in result.outputs] == [(2, "before")]
    assert pid(results, "pid_0") != pid(results, "pid_1")


def test_abort_and_exit_code(results):
    assert (results["abort"].error_type, results["abort"].error_message) == ("Signal", "killed by SIGABRT")
    assert [o.text for o in results["abort"].outputs] == ["a"]
    exited = results["exit_3"]
    assert (exited.status, exited.error_type, exited.error_message) == ("crash", "Exit", "exited with code 3")
    assert exited.error_line == 3 and [o.text for o in exited.outputs] == ["x"]


def test_sys_exit_is_an_error_not_a_dead_worker(results):
    result = results["sys_exit"]
    assert (result.status, result.error_type, result.error_message, result.error_line) == ("error", "SystemExit", "2", 3)
    assert [o.text for o in result.outputs] == ["bye"]
    assert pid(results, "pid_2") == pid(results, "pid_3")


def test_a_worker_whose_state_cannot_be_restored_is_replaced(results):
    assert results["broken_state"].status == "ok"
    assert pid(results, "pid_3") != pid(results, "pid_4")


def test_input_gets_eof_at_once(results):
    result = results["input"]
    assert (result.status, result.error_type) == ("error", "EOFError")  # not "timeout": it did not wait


def test_busy_loop_times_out_and_the_next_snippet_runs(results):
    result = results["busy"]
    assert (result.status, result.error_type) == ("timeout", "Timeout")
    assert [o.text for o in result.outputs] == ["spinning"] and result.error_line == 2
    assert [o.text for o in results["after_busy"].outputs] == ["next"]


def test_timeout_kills_and_the_next_snippet_runs(results):
    result = results["timeout"]
    assert (result.status, result.error_type, result.error_message) == ("timeout", "Timeout", "timed out after 1.5 s")
    assert 1.5 <= result.duration < 10
    assert [o.text for o in result.outputs] == ["started"]
    assert result.error_line == 3
    assert results["after_timeout"].status == "ok"
    assert results["after_timeout"].outputs[0].text == "tensor([1., 1.])"


@pytest.mark.parametrize("name, error_type", [("huge_bytearray", "MemoryError"), ("huge_numpy", "MemoryError"),
                                              ("over_cap", "MemoryError"), ("huge_torch", "RuntimeError")])
def test_huge_allocations_fail_inside_the_snippet(results, name, error_type):
    result = results[name]
    assert (result.status, result.error_type) == ("error", error_type)
    if name == "huge_torch":
        assert "can't allocate memory" in result.error_message or "not enough memory" in result.error_message


def test_memory_failures_keep_earlier_output_and_the_worker(results):
    assert [o.text for o in results["huge_bytearray"].outputs] == ["ok so far"]
    assert results["after_memory"].outputs[0].text == str(100 * 2**20)


def test_flood_of_output_is_truncated(results):
    result = results["flood"]
    assert result.status == "ok"
    (output,) = result.outputs  # 'end' lies beyond the limit
    assert output.truncated and output.line == 2
    shown, marker = output.text.rsplit("\n", 1)
    assert 60_000 < len(shown) <= 64 * 1024
    assert output.text.startswith("0" * 50 + "\n" + "0" * 49 + "1")
    assert marker.startswith("[output truncated at 64 KiB: ") and marker.endswith(" more bytes not shown]")


def test_each_snippet_has_a_fresh_empty_cwd_with_a_fixed_neutral_name(results):
    cwd, listing = [o.text for o in results["files"].outputs]
    assert listing == "['written.txt']"
    if cwd == "/tmp":  # the worker's own folder, seen there in its mount namespace
        assert not Path("/tmp/written.txt").exists()
    else:  # no mount namespace on this machine
        assert not Path(cwd).exists() and REPO not in Path(cwd).parents
    assert not (REPO / "written.txt").exists()
    assert results["files_gone"].outputs[0].text == "[]"


def test_closing_stdout_does_not_break_the_protocol(results):
    assert results["close_fds"].status == "ok"
    assert results["close_fds"].outputs[0].text == "\x00raw bytes\ufffd"
    after = results["after_close"]
    assert [o.text for o in after.outputs] == ["still captured"]
    assert after.stderr == "err"


def test_mindspore_worker_is_contained_too(results):
    crashed = results["ms_segfault"]
    assert (crashed.status, crashed.error_message) == ("crash", "killed by SIGSEGV")
    assert [o.text for o in crashed.outputs] == ["ms before"]
    assert results["ms_after"].outputs[0].text == "[1.5 2.5]"


def test_the_run_went_on(results):
    assert results["last"].outputs[0].text == "the run went on"
    assert results["_stats"].workers_replaced >= 6  # segfault, abort, exit 3, broken state, timeout, MindSpore


def _gone(pid: int, wait: float = 5.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as file:
                if file.read().split(") ")[-1].startswith("Z"):
                    return True  # a zombie: dead, waiting for its reaper
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _host_pids_of(command: list[str]) -> list[int]:
    """PIDs (as this process's /proc numbers them) of the processes running exactly ``command``."""
    wanted = ("\0".join(command) + "\0").encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                found.append(int(entry))
        except OSError:
            pass
    return found


def _watch_for(command: list[str], seen: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not seen and time.monotonic() < deadline:
        seen.extend(_host_pids_of(command))
        time.sleep(0.02)


def test_closing_the_executor_kills_workers_and_what_snippets_started():
    with Executor(jobs=1, progress=False) as pool:
        seen: list[int] = []  # the child's PID as the host numbers it, found while the snippet runs
        watcher = threading.Thread(target=_watch_for, args=(["sleep", "61.25"], seen), daemon=True)
        watcher.start()
        (result,) = pool.run([Snippet("torch", "import subprocess, time\np = subprocess.Popen(['sleep', '61.25'])\n"
                                               "time.sleep(2)\n")])
        watcher.join()
        assert result.status == "ok" and len(seen) == 1
        (child,) = seen
        (worker,) = pool._workers["torch"]
        worker_pid = worker.proc.pid
    assert _gone(worker_pid) and _gone(child)


def test_proc_numbers_the_worker_as_getpid_does():
    # The CUDA driver checks /proc/self against getpid(): with the host's /proc inside the worker's
    # PID namespace it failed with "cudaGetDeviceCount ... Error 304" and GPU workers saw no GPU.
    with Executor(jobs=1, progress=False) as pool:
        (result,) = pool.run([Snippet("torch", "import os\nprint(os.getpid() == int(os.readlink('/proc/self')))\n")])
    assert [output.text for output in result.outputs] == ["True"]

"""Hostile snippets and faults mid-build, on the execution side (issue 13).

* Global state: for each kind of change a snippet can make, a probe example run after it on the
  same pool must print what it printed on a clean worker (``PROBES_FIRST``): the reset undoes it,
  or the worker is replaced. All kinds share two ``Executor.run`` calls (one worker per framework,
  so snippets run in the order given).
* Signals: no snippet can signal or kill the builder (run in a child builder, so a failure cannot
  take the test run down).
* Kills: a builder killed (SIGTERM, SIGKILL) while a snippet spins leaves no process and no
  worker folder behind, not even a child that started its own session.
* Output cut at the cap says so; ``sys.exit(0)`` is a success; the cache survives a failing write;
  ``run`` names unexpected failures and exits 1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator.cache import ResultCache
from generator.cli import main
from generator.execute import Executor, Snippet

from .conftest import L1LOSS_PAIR, write_mapping

pytestmark = pytest.mark.frameworks

ROOT = Path(__file__).resolve().parent.parent

NAMESPACE_PROBE = """
import os, sys
sys.path.insert(0, sys.argv[1])
from generator import worker
if worker._new_pid_namespace() and worker._libc().unshare(worker.CLONE_NEWNS) == 0:
    child = os.fork()
    if child == 0:
        os._exit(0 if os.getpid() == 1 else 1)
    print(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0)
"""


def _namespaces() -> bool:
    """Whether this machine lets workers have their own PID and mount namespaces; without them a
    worker falls back to a subreaper: still no process left behind, but a snippet that knows the
    builder's PID could signal it, and the working folder has a random name."""
    done = subprocess.run([sys.executable, "-c", NAMESPACE_PROBE, str(ROOT)], capture_output=True, text=True)
    return done.stdout.strip() == "True"


needs_namespaces = pytest.mark.skipif(not _namespaces(), reason="no PID/mount namespaces on this machine")

# kind: (framework, hostile snippet, probe). The probe must print the same before and after.
STATE_CHANGES: dict[str, tuple[str, str, str]] = {
    "flush_denormal": ("torch", "import torch\ntorch.set_flush_denormal(True)",
                       "import torch\nprint(torch.tensor([1e-40]))"),
    "torch_tensor_repr": ("torch", "import torch\ntorch.Tensor.__repr__ = lambda self: 'patched'",
                          "import torch\nprint(repr(torch.ones(2)))"),
    "torch_function": ("torch", "import torch\ntorch.nn.functional.relu = lambda x: 'patched'",
                       "import torch\nprint(torch.nn.functional.relu(torch.tensor([-1.0, 2.0])))"),
    "mindspore_tensor_str": ("mindspore", "import mindspore\nmindspore.Tensor.__str__ = lambda self: 'patched'",
                             "import mindspore\nprint(mindspore.Tensor([1.5]))"),
    "builtins_print": ("torch", "import builtins\nbuiltins.print = lambda *a, **k: None", "print('visible')"),
    "sys_modules_entry": ("torch", "import sys, types\n"
                                   "sys.modules['hostile_fake'] = types.ModuleType('hostile_fake')",
                          "try:\n    import hostile_fake\n    print('importable')\n"
                          "except ImportError:\n    print('ImportError')"),
    "putenv": ("torch", "import os\nos.putenv('HOSTILE_VAR', 'leaked')",
               "import subprocess\nprint(subprocess.run(['sh', '-c', 'echo ${HOSTILE_VAR:-unset}'],"
               " capture_output=True, text=True).stdout)"),
    "daemon_thread_prints_later": ("torch", "import threading, time\ndef later():\n    time.sleep(0.3)\n"
                                            "    print('LEAKED from a thread', flush=True)\n"
                                            "threading.Thread(target=later, daemon=True).start()",
                                   "import time\ntime.sleep(0.8)\nprint('probe')"),
    "child_prints_later": ("torch", "import subprocess\n"
                                    "subprocess.Popen(['sh', '-c', 'sleep 0.3; echo LEAKED from a child'])",
                           "import time\ntime.sleep(0.8)\nprint('probe')"),
    "stdout_closed": ("torch", "import sys\nsys.stdout.close()", "print('visible')"),
    "decimal_context": ("torch", "import decimal\ndecimal.getcontext().prec = 3",
                        "import decimal\nprint(decimal.Decimal(1) / 7)"),
    "int_max_str_digits": ("torch", "import sys\nsys.set_int_max_str_digits(640)",
                           "try:\n    print(len(str(10 ** 1000)))\nexcept ValueError as e:\n    print('ValueError')"),
    "main_attribute": ("torch", "import __main__\n__main__.hostile = 1",
                       "import __main__\nprint(hasattr(__main__, 'hostile'))"),
    "umask": ("torch", "import os\nos.umask(0o077)", "import os\nm = os.umask(0)\nos.umask(m)\nprint(oct(m))"),
    "logging_handler": ("torch", "import logging, sys\nlogging.basicConfig(stream=sys.stdout, level=logging.INFO)",
                        "import logging\nlogging.getLogger('probe').warning('warned')\nprint('done')"),
    "json_dumps": ("torch", "import json\njson.dumps = None\njson.JSONEncoder.encode = None",
                   "import json\nprint(json.dumps([1, 2]))"),
    "torch_print_options": ("torch", "import torch\ntorch.set_printoptions(precision=1)",
                            "import torch\nprint(torch.tensor([1 / 3]))"),
    "torch_default_dtype": ("torch", "import torch\ntorch.set_default_dtype(torch.float64)",
                            "import torch\nprint(torch.tensor([0.5]).dtype)"),
    "torch_grad_mode": ("torch", "import torch\ntorch.set_grad_enabled(False)",
                        "import torch\nprint(torch.is_grad_enabled())"),
    "numpy_print_options": ("torch", "import numpy\nnumpy.set_printoptions(precision=1)",
                            "import numpy\nprint(numpy.array([1 / 3]))"),
    "os_environ": ("torch", "import os\nos.environ['HOSTILE'] = '1'", "import os\nprint(os.environ.get('HOSTILE'))"),
    "sys_path": ("torch", "import sys\nsys.path.insert(0, '/hostile')", "import sys\nprint('/hostile' in sys.path)"),
    "recursion_limit": ("torch", "import sys\nsys.setrecursionlimit(80)", "import sys\nprint(sys.getrecursionlimit())"),
    "warning_filters": ("torch", "import warnings\nwarnings.simplefilter('error')",
                        "import warnings\nwarnings.warn('w')\nprint('after')"),
    "signal_handler": ("torch", "import signal\nsignal.signal(signal.SIGUSR1, lambda *a: print('LEAKED'))",
                       "import signal\nprint(signal.getsignal(signal.SIGUSR1))"),
    "display_hook": ("torch", "import sys\nsys.displayhook = lambda value: None",
                     "import sys\nprint(sys.displayhook is sys.__displayhook__)"),
    "rounding_mode": ("torch", "import ctypes\nctypes.CDLL(None).fesetround(0x800)  # FE_UPWARD", "print(1 / 3)"),
    "gc_disabled": ("torch", "import gc\ngc.disable()", "import gc\nprint(gc.isenabled(), gc.get_threshold())"),
    "stdin_replaced": ("torch", "import io, sys\nsys.stdin = io.StringIO('hostile input\\n')",
                       "try:\n    print(input())\nexcept EOFError:\n    print('EOF')"),
    "cwd": ("torch", "import os\nos.chdir('/')", "import os\nprint(os.getcwd())"),
}


def _shown(result) -> tuple:
    return result.status, result.error_type, [o.text for o in result.outputs], result.stderr


def _probe_around(kinds: list[str]) -> dict:
    """On one pool: the probes on clean workers, then each hostile snippet followed by its probe.
    One job: one worker at a time, so each probe runs where its hostile snippet ran, or on the
    worker that replaced it."""
    with Executor(jobs=1, progress=False) as pool:
        clean = pool.run([Snippet(STATE_CHANGES[k][0], STATE_CHANGES[k][2]) for k in kinds])
        sequence = []
        for kind in kinds:
            framework, hostile, probe = STATE_CHANGES[kind]
            sequence += [Snippet(framework, hostile + f"\n# {kind}"), Snippet(framework, probe + f"\n# after {kind}")]
        after = pool.run(sequence)
    return {kind: (clean[i], after[2 * i], after[2 * i + 1]) for i, kind in enumerate(kinds)}


@pytest.fixture(scope="module")
def state_runs():
    """Two pools side by side (most kinds cost a worker start), each running its kinds in order."""
    kinds = list(STATE_CHANGES)
    with ThreadPoolExecutor(2) as threads:
        halves = threads.map(_probe_around, [kinds[0::2], kinds[1::2]])
        return {kind: runs for half in halves for kind, runs in half.items()}


@pytest.mark.parametrize("kind", list(STATE_CHANGES))
def test_state_change_never_reaches_the_next_example(state_runs, kind):
    clean, hostile, probe = state_runs[kind]
    if kind == "cwd" and clean.text != "/tmp":
        pytest.skip("no mount namespace: each worker's folder has its own name")
    assert clean.status == "ok", clean.traceback
    assert hostile.status == "ok", hostile.traceback  # also: patching json keeps its own success a success
    assert _shown(probe) == _shown(clean)


def test_clean_probes_print_what_a_fresh_interpreter_prints(state_runs):
    kinds = [k for k, (framework, _, _) in STATE_CHANGES.items() if framework == "torch" and k != "cwd"]
    script = "import io, contextlib\n"
    for kind in kinds:
        probe = STATE_CHANGES[kind][2]
        script += (f"buffer = io.StringIO()\nwith contextlib.redirect_stdout(buffer):\n"
                   f"    exec({probe!r}, {{'__name__': '__main__'}})\nprint(repr(buffer.getvalue()))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd="/")
    fresh = [eval(line) for line in done.stdout.splitlines()]  # noqa: S307 - our own reprs
    shown = ["\n".join(o.text for o in state_runs[kind][0].outputs) for kind in kinds]
    assert shown == [text.rstrip("\n") for text in fresh]


# ---------------------------------------------------------------- signals and kills

BUILDER = """
import json, os, sys
sys.path.insert(0, {root!r})
from generator.execute import Executor, Snippet
codes = json.loads(sys.argv[1])
with Executor(jobs=1, progress=False) as pool:
    results = pool.run([Snippet("torch", code.replace("BUILDER", str(os.getpid()))) for code in codes])
print(json.dumps([[r.status, r.error_message, [o.text for o in r.outputs]] for r in results]))
"""

SIGNALLERS = [
    "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)\nprint('parent signalled')",
    "import os, signal\ntry:\n    os.kill(BUILDER, signal.SIGKILL)\nexcept OSError as e:\n"
    "    print(type(e).__name__)\nprint('builder signalled')",
    "import os, signal\ntry:\n    os.killpg(os.getpgid(BUILDER), signal.SIGTERM)\nexcept OSError as e:\n"
    "    print(type(e).__name__)\nprint('group signalled')",
    "import os, signal\nos.kill(0, signal.SIGTERM)\nprint('never')",
    "print('the build went on')",
]


@needs_namespaces
def test_no_snippet_can_signal_or_kill_the_builder():
    done = subprocess.run([sys.executable, "-c", BUILDER.format(root=str(ROOT)), json.dumps(SIGNALLERS)],
                          capture_output=True, text=True, timeout=120, start_new_session=True)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.splitlines()[-1])
    assert results[0] == ["ok", None, ["parent signalled"]]
    assert results[1][0] == "ok" and results[1][2][-1] == "builder signalled"
    assert results[2][0] == "ok" and results[2][2][-1] == "group signalled"
    assert results[3][:2] == ["crash", "killed by SIGTERM"]  # its own process group: itself
    assert results[4] == ["ok", None, ["the build went on"]]


def _children(pid: int) -> list[int]:
    found = []
    for task in _listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as file:
                found += [int(child) for child in file.read().split()]
        except OSError:
            pass
    return found


def _tree(pid: int) -> set[int]:
    found, pending = set(), [pid]
    while pending:
        for child in _children(pending.pop()):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return not file.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _with_token(token: str) -> list[int]:
    pids = []
    for entry in _listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as file:
                    if token.encode() in file.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def _worker_folders(pids: set[int]) -> set[str]:
    folders = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                folders |= {arg.decode() for arg in file.read().split(b"\0") if b"apimap-" in arg}
        except OSError:
            pass
    return folders


SPINNER = """\
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{token}'], start_new_session=True)
print('spinning', flush=True)
while True:
    pass
"""


def _builder(kind: str, tmp_path: Path) -> list[str]:
    mappings = tmp_path / "mappings"
    if kind == "run":
        return [sys.executable, "-m", "generator", "run", "--mappings", str(mappings), "--output",
                str(tmp_path / "out"), "--no-cache", "--jobs", "1", "--quiet"]
    shutil.copytree(ROOT / "docs", tmp_path / "src" / "docs", ignore=shutil.ignore_patterns("api"))
    return [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(ROOT), str(tmp_path / "src"),
            str(tmp_path / "html"), "-D", f"mapping_paths={mappings}", "-D", f"mapping_cache={tmp_path / 'c.sqlite'}",
            "-D", "mapping_jobs=1"]


@pytest.mark.parametrize("kind, how", [("run", signal.SIGTERM), ("run", signal.SIGKILL), ("sphinx", signal.SIGTERM)])
def test_a_killed_build_leaves_no_process_and_no_worker_folder(tmp_path, kind, how):
    token = f"hostile-{uuid.uuid4().hex}"
    mapping = L1LOSS_PAIR + "examples:\n  - source: |\n" + textwrap.indent(SPINNER.format(token=token), "      ")
    mapping += "    timeout: 60\n"
    write_mapping(tmp_path / "mappings", "spin.yaml", mapping)
    builder = subprocess.Popen(_builder(kind, tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _with_token(token) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _with_token(token), "the snippet never started"
        time.sleep(0.3)  # the busy loop is running
        tree = _tree(builder.pid) | set(_with_token(token))
        folders = _worker_folders(tree)
        assert folders
        os.kill(builder.pid, how)
        _, stderr = builder.communicate(timeout=30)
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (any(map(_alive, tree)) or any(map(os.path.exists, folders))):
        time.sleep(0.05)
    survivors = [pid for pid in tree if _alive(pid)]
    for pid in survivors:  # do not leave them to the rest of the test run
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
    assert [folder for folder in folders if os.path.exists(folder)] == []
    if how == signal.SIGTERM:  # a clean exit, not death by the signal
        assert builder.returncode > 0 and "Interrupted" in stderr, stderr[-2000:]


# ---------------------------------------------------------------- output, exit, cache, run


@pytest.fixture(scope="module")
def small_runs():
    snippets = {
        "flood": Snippet("torch", "for i in range(20_000):\n    print('%050d' % i)\nprint('end')\n"),
        "exit_0": Snippet("torch", "import sys\nprint('before')\nsys.exit(0)\nprint('after')\n"),
        "exit_none": Snippet("torch", "import sys\nprint('before')\nsys.exit()\n"),
        "exit_1": Snippet("torch", "import sys\nsys.exit(1)\n"),
        "cwd": Snippet("torch", "import os, tempfile\nprint(os.getcwd())\nprint(tempfile.mkdtemp(prefix='x')[:5])\n"),
    }
    with Executor(jobs=1, progress=False) as pool:
        first = dict(zip(snippets, pool.run(list(snippets.values()))))
    with Executor(jobs=1, progress=False) as pool:  # another build: other workers, other folders
        (again,) = pool.run([Snippet("torch", snippets["cwd"].code + "# again\n")])
    first["cwd_again"] = again
    return first


def test_output_cut_at_the_cap_says_so(small_runs):
    (output,) = small_runs["flood"].outputs
    assert output.truncated
    assert output.text.endswith(" more bytes not shown]")
    assert "[output truncated at 64 KiB: " in output.text.splitlines()[-1]


def test_sys_exit_0_is_a_success_and_ends_the_snippet(small_runs):
    for name in ("exit_0", "exit_none"):
        result = small_runs[name]
        assert (result.status, [o.text for o in result.outputs]) == ("ok", ["before"])
    assert (small_runs["exit_1"].status, small_runs["exit_1"].error_type) == ("error", "SystemExit")


@needs_namespaces
def test_working_directory_has_a_fixed_neutral_name(small_runs):
    shown = [[o.text for o in small_runs[name].outputs] for name in ("cwd", "cwd_again")]
    assert shown[0] == shown[1] == ["/tmp", "/tmp/"]


def _fill(path: Path) -> None:
    with ResultCache(path) as cache:
        cache.put("kept", {"status": "ok"})


CANNOT_WRITE = """
import resource, sys, warnings
sys.path.insert(0, {root!r})
from generator.cache import ResultCache
from generator.cli import main
warnings.simplefilter("always")
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # a full disk: no file may grow
with warnings.catch_warnings(record=True) as caught:
    cache = ResultCache({path!r})
    found = cache.get("kept")
    cache.put("new", {{"status": "ok"}})
    cache.close()
print(found)
print([str(w.message) for w in caught])
"""


def test_a_cache_that_cannot_be_written_is_kept_and_still_read(tmp_path):
    path = tmp_path / "cache.sqlite"
    _fill(path)
    done = subprocess.run([sys.executable, "-c", CANNOT_WRITE.format(root=str(ROOT), path=str(path))],
                          capture_output=True, text=True, timeout=60)
    found, messages = done.stdout.splitlines()[-2:]
    assert found == "{'status': 'ok'}"
    assert "cannot be written" in messages and "corrupt" not in messages
    assert not path.with_name(path.name + ".corrupt").exists()
    with ResultCache(path) as cache:
        assert cache.get("kept") == {"status": "ok"} and cache.get("new") is None


def test_a_corrupt_cache_is_still_set_aside(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(UserWarning, match="corrupt"):
        ResultCache(path).close()
    assert path.with_name(path.name + ".corrupt").exists()


FAILING = L1LOSS_PAIR + """\
examples:
  - source: |
      print(1)
      raise ValueError('unexpected')
    target: |
      print(2)
"""

EXPECTED = FAILING + """\
    expected_failures:
      - side: source
        devices: [cpu]
        error: "ValueError: unexpected"
"""


def _run_cli(tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    folder = tmp_path / "mappings"
    write_mapping(folder, "L1Loss.yaml", text)
    code = main(["run", "--mappings", str(folder), "--output", str(tmp_path / "out"), "--no-cache", "--jobs", "2",
                 "--quiet"])
    return code, capsys.readouterr().err


def test_run_names_unexpected_failures_and_exits_1(tmp_path, capsys):
    code, stderr = _run_cli(tmp_path, FAILING, capsys)
    assert code == 1, stderr
    path = tmp_path / "mappings" / "L1Loss.yaml"
    assert f"{path}:15: [example] example 1 (source) failed on cpu: ValueError: unexpected" in stderr
    assert (tmp_path / "out").is_dir()  # pages are still written


def test_run_stays_green_on_expected_failures(tmp_path, capsys):
    code, stderr = _run_cli(tmp_path, EXPECTED, capsys)
    assert code == 0, stderr
    assert "[example]" not in stderr

"""State that one snippet leaves in a warm worker must never reach the next (issue 26, item 5),
and a checkout or virtual environment under ``/tmp`` runs its examples (item 10b).

* Global state: for each kind of change, a hostile snippet A and then a probe B on the same pool
  (one job: B runs where A ran, or on the worker that replaced it). B must print what it prints
  on a clean worker. Kinds cover class methods, module attributes and functions of the frameworks,
  NumPy and the standard library, audit hooks, interval timers and resource limits, on torch and
  MindSpore workers.
* ``/tmp``: the generator copied under ``/tmp`` and run with a virtual environment under ``/tmp``
  (its ``site-packages`` a link to this one's) runs a snippet that imports a module the worker had
  not imported yet and starts ``sys.executable``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator.execute import Executor, Snippet

pytestmark = pytest.mark.frameworks

ROOT = Path(__file__).resolve().parent.parent

MSE = "import torch\nprint(torch.nn.MSELoss()(torch.ones(2), torch.zeros(2)))"
MS_MSE = ("import mindspore, numpy\n"
          "print(mindspore.nn.MSELoss()(mindspore.Tensor(numpy.ones(2, numpy.float32)),"
          " mindspore.Tensor(numpy.zeros(2, numpy.float32))))")
TIMERS = "import signal\nprint([signal.getitimer(t) for t in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)])"
AUDIT_PROBE = "with open('probe.txt', 'w') as file:\n    file.write('x')\nprint('probe')"

# kind: (framework, hostile snippet A, probe B). B must print the same on a clean worker and after A.
STATE_CHANGES: dict[str, tuple[str, str, str]] = {
    "torch_class_method": ("torch", "import torch\ntorch.nn.MSELoss.forward = lambda self, a, b: 42", MSE),
    "torch_module_constant": ("torch", "import torch\ntorch.pi = 3", "import torch\nprint(torch.pi)"),
    "torch_submodule_function": ("torch", "import torch.nn.init\ntorch.nn.init.calculate_gain = lambda *a, **k: 42",
                                 "import torch.nn.init\nprint(torch.nn.init.calculate_gain('tanh'))"),
    "torch_function_code": ("torch", "import torch.nn.functional as F\n"
                                     "F.mse_loss.__code__ = (lambda input, target, *a, **k: 42).__code__", MSE),
    "torch_function_defaults": ("torch", "import torch.nn.functional as F\n"
                                         "F.mse_loss.__defaults__ = (None, None, 'sum')",
                                "import torch\nprint(torch.nn.functional.mse_loss(torch.ones(2), torch.zeros(2)))"),
    "torch_print_options": ("torch", "import torch\ntorch.set_printoptions(sci_mode=True, linewidth=20)",
                            "import torch\nprint(torch.tensor([1 / 3, 2 / 3, 1.0, 4.0]))"),
    "torch_global_hook": ("torch", "import torch\n"
                                   "torch.nn.modules.module.register_module_forward_hook(lambda m, i, o: o * 0)", MSE),
    "mindspore_class_method": ("mindspore", "import mindspore\nmindspore.nn.MSELoss.construct = lambda self, a, b: 42",
                               MS_MSE),
    "mindspore_submodule_attribute": ("mindspore", "import mindspore.nn.loss.loss as m\nm.MSELoss = None",
                                      "import mindspore.nn.loss.loss as m\nprint(m.MSELoss.__name__)"),
    "numpy_submodule_function": ("torch", "import numpy\nnumpy.linalg.norm = lambda *a, **k: 42",
                                 "import numpy\nprint(numpy.linalg.norm(numpy.array([3.0, 4.0])))"),
    "numpy_string_function": ("torch", "import numpy\nnumpy.set_string_function(lambda a: 'patched', repr=False)",
                              "import numpy\nprint(numpy.array([1.5, 2.5]))"),
    "numpy_print_options": ("mindspore", "import numpy\nnumpy.set_printoptions(precision=1, sign='+')",
                            "import numpy\nprint(numpy.array([1 / 3]))"),
    "stdlib_function": ("torch", "import textwrap\ntextwrap.dedent = lambda text: 'patched'",
                        "import textwrap\nprint(textwrap.dedent('  a'))"),
    "stdlib_class_method": ("mindspore", "import fractions\nfractions.Fraction.__str__ = lambda self: 'patched'",
                            "import fractions\nprint(fractions.Fraction(1, 3))"),
    "audit_hook": ("torch", "import sys\nsys.addaudithook(lambda event, args: print('AUDIT', event) "
                            "if event == 'open' else None)", AUDIT_PROBE),
    "audit_hook_mindspore": ("mindspore", "import sys\nsys.addaudithook(lambda event, args: print('AUDIT', event) "
                                          "if event == 'open' else None)", AUDIT_PROBE),
    "interval_timer": ("torch", "import signal\nsignal.setitimer(signal.ITIMER_VIRTUAL, 500.0)\n"
                                "signal.setitimer(signal.ITIMER_PROF, 500.0)", TIMERS),
    "interval_timer_fires": ("mindspore", "import signal\nsignal.setitimer(signal.ITIMER_PROF, 0.2)",
                             "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end:\n"
                             "    pass\nprint('survived')"),
    "rlimit_soft": ("torch", "import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
                             "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))",
                    "import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE))"),
    "rlimit_hard": ("mindspore", "import resource\nresource.setrlimit(resource.RLIMIT_STACK, (1 << 20, 1 << 20))",
                    "import resource\nprint(resource.getrlimit(resource.RLIMIT_STACK))"),
}


def _shown(result) -> tuple:
    return result.status, result.error_type, [o.text for o in result.outputs], result.stderr


def _probe_around(kinds: list[str]) -> dict:
    """On one pool (one job: one worker at a time): the probes on a clean worker, then each hostile
    snippet followed by its probe."""
    with Executor(jobs=1, progress=False) as pool:
        clean = pool.run([Snippet(STATE_CHANGES[k][0], STATE_CHANGES[k][2] + f"\n# clean {k}", timeout=30)
                          for k in kinds])
        sequence = []
        for kind in kinds:
            framework, hostile, probe = STATE_CHANGES[kind]
            sequence += [Snippet(framework, hostile + f"\n# {kind}", timeout=30),
                         Snippet(framework, probe + f"\n# after {kind}", timeout=30)]
        after = pool.run(sequence)
    return {kind: (clean[i], after[2 * i], after[2 * i + 1]) for i, kind in enumerate(kinds)}


@pytest.fixture(scope="module")
def state_runs():
    """One pool per framework, side by side."""
    groups = [[k for k, (framework, _, _) in STATE_CHANGES.items() if framework == name]
              for name in ("torch", "mindspore")]
    with ThreadPoolExecutor(2) as threads:
        return {kind: runs for group in threads.map(_probe_around, groups) for kind, runs in group.items()}


@pytest.mark.parametrize("kind", list(STATE_CHANGES))
def test_state_change_never_reaches_the_next_snippet(state_runs, kind):
    clean, hostile, probe = state_runs[kind]
    assert clean.status == "ok", clean.traceback
    assert hostile.status == "ok", hostile.traceback
    assert _shown(probe) == _shown(clean)


def test_clean_probes_print_the_unpatched_values(state_runs):
    """The probes can fail: on a clean worker they print what the hostile snippets would change."""
    printed = {kind: "\n".join(o.text for o in state_runs[kind][0].outputs) for kind in STATE_CHANGES}
    assert printed["torch_class_method"] == printed["torch_function_code"] == "tensor(1.)"
    assert printed["torch_module_constant"] == "3.141592653589793"
    assert printed["torch_function_defaults"] == "tensor(1.)"
    assert printed["mindspore_class_method"] == "1.0"
    assert printed["audit_hook"] == printed["audit_hook_mindspore"] == "probe"
    assert printed["interval_timer"] == "[(0.0, 0.0), (0.0, 0.0), (0.0, 0.0)]"
    assert printed["interval_timer_fires"] == "survived"
    assert printed["stdlib_function"] == "a"
    assert printed["numpy_submodule_function"] == "5.0"
    assert printed["numpy_string_function"] == "[1.5 2.5]"


# ---------------------------------------------------------------- a checkout under /tmp

TMP_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from generator.execute import Executor, Snippet
with Executor(jobs=1, progress=False) as pool:
    result = pool.run([Snippet("torch", sys.argv[2], timeout=60)])[0]
print(json.dumps([result.status, result.error_message, [o.text for o in result.outputs]]))
"""


def _venv_under(folder: Path) -> Path:
    """A virtual environment under ``folder`` whose packages are this one's (a linked site-packages)."""
    venv = folder / "venv"
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    site.parent.mkdir(parents=True)
    site.symlink_to(sysconfig.get_paths()["purelib"])
    (venv / "bin").mkdir()
    base = Path(sys._base_executable).resolve()  # noqa: SLF001 - the interpreter the venv is made from
    (venv / "bin" / "python").symlink_to(base)
    (venv / "pyvenv.cfg").write_text(f"home = {base.parent}\ninclude-system-site-packages = false\n")
    return venv


def _run_from(checkout: Path, python: str, code: str) -> tuple:
    """Run ``code`` on a torch worker with the generator copied to ``checkout``; its status,
    error message and outputs."""
    shutil.copytree(ROOT / "generator", checkout / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([python, "-c", TMP_RUN, str(checkout), code], capture_output=True, text=True,
                          timeout=240, cwd=str(checkout.parent), env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def tmp_folder():
    """A folder right under ``/tmp`` (pytest's own may live elsewhere), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="apimap-checkout-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_checkout_and_venv_under_tmp_run_examples(tmp_folder):
    venv = _venv_under(tmp_folder)
    code = ("import subprocess, sys, email.mime.text\n"  # a module the worker had not imported
            f"print(sys.prefix == {str(venv)!r})\n"
            "print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout)")
    assert _run_from(tmp_folder / "repo", str(venv / "bin" / "python"), code) == ("ok", None, ["True", "42"])


def test_snippets_still_cannot_write_to_a_checkout_under_tmp(tmp_folder):
    """The paths kept visible under the private ``/tmp`` are read-only for snippets."""
    checkout = tmp_folder / "repo"
    code = textwrap.dedent(f"""
        try:
            open({str(checkout / "written")!r}, "w").close()
            print("written")
        except OSError as error:
            print(type(error).__name__, error.errno)
    """)
    status, _, outputs = _run_from(checkout, sys.executable, code)
    assert status == "ok"
    assert outputs == [f"OSError {errno.EROFS}"]
    assert not (checkout / "written").exists()

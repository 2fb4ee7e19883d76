"""Code that runs inside a worker process: one framework imported once, snippets run one by one.

A worker is started by ``generator.execute`` as ``python -u -X faulthandler -c BOOT ...`` with

* fd 0 on ``/dev/null`` (``input()`` gets ``EOFError`` at once),
* fd 1 and fd 2 on two capture files in the worker's private folder (opened ``O_APPEND``),
* a request pipe and a result pipe, passed by number: the protocol never touches fd 1, so
  whatever a snippet prints cannot corrupt it. Messages are a 4-byte length and JSON, encoded
  and decoded by functions bound at import, before any snippet could patch ``json`` or ``os``,
* a lifeline pipe: the process started is a supervisor that lives as long as the builder holds
  the other end; the snippets run two processes below it, in their own PID namespace (see
  "process tree" below), so no snippet can signal the builder and none outlives the build.

Capture works at the file-descriptor level: fd 1 and fd 2 are the capture files (truncated and
``dup2``-ed back onto fd 1 and fd 2 before every snippet, in case a snippet moved or closed them).
At every top-level statement boundary the worker flushes ``sys.stdout``, ``sys.stderr`` and C
stdio (``fflush(NULL)``; C ``stdout`` is line-buffered) and notes the files' sizes, so what C++
code or a child process prints is attributed to the statement that printed it, like what Python
prints. Statements on one line (``a(); b()``) share one output. MindSpore is not waited for
after each statement (its ops run asynchronously): an error surfaces where a plain run of the
snippet meets it; an error still pending when the snippet ends is reported after its last line. Before each statement it also appends a
record (line numbers and offsets) to an index file, so that when a snippet kills its worker the
parent process can still recover what the statements before (and the one that crashed) printed.

This module imports only the standard library at import time; the parent imports it too.
"""

from __future__ import annotations

import __future__
import ast
import builtins
import ctypes
import gc
import json
import linecache
import operator
import os
import random
import re
import resource
import shutil
import signal
import struct
import sys
import time
import traceback
import warnings
from pathlib import Path
from types import FunctionType, ModuleType

HEADER = struct.Struct("!I")
OUTPUT_LIMIT = 64 * 1024  # bytes of printed output kept per snippet (stdout and stderr each)
TRACEBACK_LIMIT = 16 * 1024
FILE_SIZE_LIMIT = 1 << 30  # RLIMIT_FSIZE: a runaway print loop cannot fill the disk
SNIPPET_FILE = "<snippet>"
SETUP_FILE = "<setup>"
SEED = 0
RECYCLE_RSS_GROWTH = 2 << 30  # a worker whose resident memory grew this much is replaced

# ---------------------------------------------------------------- protocol


def _bind_json():
    """JSON encode/decode functions bound once, at import: nothing a snippet patches later
    (``json.dumps``, ``json.JSONEncoder``, ``os.write``) can change how results travel."""
    from json import encoder, scanner

    make_encoder, make_scanner = encoder.c_make_encoder, scanner.c_make_scanner
    if make_encoder is None or make_scanner is None:  # no C accelerator: plain bound methods
        return json.JSONEncoder(ensure_ascii=True).encode, json.JSONDecoder().decode
    iterencode = make_encoder(None, _unencodable, encoder.c_encode_basestring_ascii, None, ":", ",",
                              False, False, True)
    scan = make_scanner(json.JSONDecoder())
    join = "".join

    def encode(value) -> str:
        return join(iterencode(value, 0))

    def decode(text: str):
        return scan(text, 0)[0]

    return encode, decode


def _unencodable(value):
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_encode, _decode = _bind_json()
_write, _read, _pack, _unpack = os.write, os.read, HEADER.pack, HEADER.unpack


def send(fd: int, message: dict) -> None:
    data = _encode(message).encode()
    view = memoryview(_pack(len(data)) + data)
    while view:
        written = _write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = _read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> dict | None:
    """Blocking read of one message; None at end of file (the parent has gone)."""
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _unpack(header)[0])
    return None if body is None else _decode(body.decode())


# ---------------------------------------------------------------- output


_ADDRESS = re.compile(r"(?<=\bat )0x[0-9a-fA-F]+|(?<=\baddress )0x[0-9a-fA-F]+|(?<=\bobject at )0x[0-9a-fA-F]+")
# "[WARNING] ME(5421:140718811495296,MainProcess):2026-11-26-09:13:16.637.000 [file.py:59] text"
_LOG_HEADER = re.compile(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] (\w+)\([^)]*\):\d{4}-\d\d-\d\d-[\d:.]+ ", re.M)


def normalise(text: str) -> str:
    """Remove what is noise in printed output; numbers are never touched.

    Memory addresses in reprs (``<object at 0x7f3a...>``) become ``0x...``; trailing whitespace
    on each line and trailing blank lines go.
    """
    if "0x" in text:
        text = _ADDRESS.sub("0x...", text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def normalise_log(text: str) -> str:
    """stderr: as ``normalise``, and log headers lose their process id and time stamp."""
    return normalise(_LOG_HEADER.sub(r"[\1] \2 ", text))


def split_outputs(data: bytes, base: int, starts: list[tuple[int, int]], end: int) -> tuple[list[list], bool]:
    """Cut printed bytes into per-statement outputs.

    ``data`` holds the file's bytes from offset ``base`` (at most ``OUTPUT_LIMIT`` of them);
    ``starts`` is (statement's last line, offset where it began) for each statement run, in order;
    ``end`` is the offset after the last statement. Returns ``[[line, text, truncated], ...]``
    for statements that printed, and whether anything printed was left out.
    """
    outputs: list[list] = []
    shown_end = base + len(data)
    truncated = end > shown_end
    for index, (line, start) in enumerate(starts):
        stop = starts[index + 1][1] if index + 1 < len(starts) else end
        if stop <= start:
            continue
        if start >= shown_end:
            break
        chunk = data[start - base:min(stop, shown_end) - base]
        text = normalise(chunk.decode("utf-8", errors="replace"))
        if stop > shown_end:
            text += truncation_marker(end - shown_end)
        if outputs and outputs[-1][0] == line:  # "a(); b()": statements sharing a line share an output
            outputs[-1][1] += "\n" + text
            outputs[-1][2] = stop > shown_end
        else:
            outputs.append([line, text, stop > shown_end])
    return outputs, truncated


def truncation_marker(left_out: int) -> str:
    """The visible note that ends output cut at ``OUTPUT_LIMIT``."""
    return f"\n[output truncated at {OUTPUT_LIMIT // 1024} KiB: {left_out:,} more bytes not shown]"


def read_region(fd: int, start: int, end: int) -> bytes:
    size = max(0, min(end - start, OUTPUT_LIMIT))
    return os.pread(fd, size, start) if size else b""


def first_line(message: str) -> str:
    """The first line that says something: MindSpore's messages run over many lines, and some
    begin with a rule of dashes. The probes' drivers pick the same line."""
    for line in message.splitlines():
        if any(character.isalnum() for character in line):
            return line.strip()
    return message.strip().splitlines()[0] if message.strip() else ""


# ---------------------------------------------------------------- machine


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def nvidia_gpu_name() -> str:
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    try:
        import subprocess

        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=20).stdout.split("\n")
        if names and names[0].strip():
            return names[0].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown NVIDIA GPU"


def ascend_name() -> str:
    try:
        import subprocess

        out = subprocess.run(["npu-smi", "info"], capture_output=True, text=True, timeout=20).stdout
        match = re.search(r"\b(Ascend\s*\w+|9\d\d\w*)\b", out)
        if match:
            return match.group(1) if match.group(1).startswith("Ascend") else f"Ascend {match.group(1)}"
    except (OSError, subprocess.SubprocessError):
        pass
    return "Ascend NPU"


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- frameworks


class Framework:
    """What differs between torch and MindSpore workers: import, device, reset, sync."""

    key = ""
    distribution = ""

    def __init__(self, device: str, threads: int):
        self.device = device
        self.threads = threads
        self.actual_device = device
        self.notes: list[str] = []

    def start(self) -> None: ...
    def snapshot(self) -> None: ...
    def seed(self) -> None: ...
    def restore(self) -> None: ...
    def after_statement(self) -> None: ...

    def finish(self) -> None:
        """Wait for work still pending at the end of a snippet (an asynchronous framework)."""
        self.after_statement()

    def watched(self) -> list:
        """Modules and classes whose attributes a snippet could patch (``torch.Tensor.__repr__``)."""
        return []

    def flags(self) -> tuple:
        """C-level settings the reset does not undo; a change means the worker is replaced."""
        return ()

    # Attributes of watched modules and classes that the framework itself changes or adds as a
    # snippet's objects come and go (a count of live instances) or as it imports lazily, as
    # (label, name): not a change of state.
    bookkeeping: frozenset[tuple[str, str]] = frozenset()

    def wraps(self, old, new) -> bool:
        """Whether ``new`` is the framework's own wrapper of ``old`` (put there lazily, by itself)."""
        code = getattr(new, "__code__", None)
        return (getattr(new, "__wrapped__", None) is old and code is not None
                and code.co_filename.startswith(self.package_dir()))

    def package_dir(self) -> str:
        module = sys.modules.get(self.key)
        return os.path.dirname(module.__file__) + os.sep if module is not None and module.__file__ else "\0"

    def device_name(self) -> str:
        if self.actual_device == "gpu":
            return nvidia_gpu_name()
        if self.actual_device == "ascend":
            return ascend_name()
        return cpu_name()


class Torch(Framework):
    key = distribution = "torch"

    # What importing ``torch._dynamo`` (lazily, on an optimizer's first step) does to modules and
    # classes imported before it.
    bookkeeping = frozenset({
        ("torch._C._distributed.Placement", "__eq__"), ("torch._C._distributed.Placement", "__hash__"),
        ("torch._C._distributed.Placement", "__fx_repr__"), ("torch.autograd.profiler", "_cupti_monitor_module"),
        ("torch.compiler._cache.CacheInfo", "pgo_artifacts"), ("torch.compiler._cache.CacheInfo", "precompile_artifacts"),
    })

    def start(self) -> None:
        import torch

        self.torch = torch
        if self.device == "gpu":
            if not torch.cuda.is_available():
                raise RuntimeError("device 'gpu' asked for, but torch sees no CUDA device")
            torch.set_default_device("cuda")
        elif self.device == "ascend":
            try:
                import torch_npu  # noqa: F401

                torch.set_default_device("npu")
            except ImportError:
                self.actual_device = "cpu"
                self.notes.append("torch_npu is not installed: torch runs on the CPU")
        if self.threads:
            torch.set_num_threads(self.threads)
        str(torch.ones(2, 2) @ torch.ones(2, 2) + 1)  # warm up lazy initialisation
        self.after_statement()

    def device_name(self) -> str:
        if self.actual_device == "gpu":
            return self.torch.cuda.get_device_name()
        return super().device_name()

    def snapshot(self) -> None:
        torch = self.torch
        from torch._tensor_str import PRINT_OPTS

        self.print_opts = PRINT_OPTS
        self.base_print = dict(vars(PRINT_OPTS))
        self.base_dtype = torch.get_default_dtype()
        self.base_device = torch.get_default_device()
        self.base_threads = torch.get_num_threads()
        self.base_deterministic = torch.are_deterministic_algorithms_enabled()

    def seed(self) -> None:
        self.torch.manual_seed(SEED)  # seeds CUDA too

    def restore(self) -> None:
        torch = self.torch
        if vars(self.print_opts) != self.base_print:
            torch.set_printoptions(**self.base_print)
        if torch.get_default_dtype() is not self.base_dtype:
            torch.set_default_dtype(self.base_dtype)
        if torch.get_default_device() != self.base_device:
            torch.set_default_device(self.base_device)
        if not torch.is_grad_enabled():
            torch.set_grad_enabled(True)
        if torch.is_anomaly_enabled():
            torch.set_detect_anomaly(False)
        if torch.are_deterministic_algorithms_enabled() != self.base_deterministic:
            torch.use_deterministic_algorithms(self.base_deterministic)
        if torch.get_num_threads() != self.base_threads:
            torch.set_num_threads(self.base_threads)

    def after_statement(self) -> None:
        if self.actual_device == "gpu":
            self.torch.cuda.synchronize()

    def watched(self) -> list:
        torch = self.torch
        import torch.nn.functional

        return [torch, torch.nn, torch.nn.functional, torch.linalg, torch.fft, torch.special, torch.autograd,
                torch._tensor_str, *_classes_of(torch.Tensor, torch.nn.Module, torch.nn.Parameter)]

    def flags(self) -> tuple:
        torch, C = self.torch, self.torch._C
        return (torch.get_float32_matmul_precision(), C._get_mkldnn_enabled(), C._get_cudnn_enabled(),
                torch.is_inference_mode_enabled(), torch.is_autocast_enabled(), C._get_warnAlways(),
                self.global_hooks())

    def global_hooks(self) -> tuple:
        """How many hooks every ``torch.nn.Module`` runs (``register_module_forward_hook`` ...):
        kept in dicts of ``torch.nn.modules.module``, which change in place."""
        from torch.nn.modules import module

        return tuple(len(value) for name, value in vars(module).items()
                     if name.startswith("_global_") and isinstance(value, dict))


class MindSpore(Framework):
    key = distribution = "mindspore"
    TARGETS = {"cpu": "CPU", "gpu": "GPU", "ascend": "Ascend"}

    def start(self) -> None:
        import mindspore
        import numpy

        try:
            from mindspore.graph.api import _pynative_executor
        except ImportError:  # before 2.9
            from mindspore.common.api import _pynative_executor
        self.ms = mindspore
        self.executor = _pynative_executor
        mindspore.set_device(self.TARGETS[self.device])
        str(mindspore.Tensor(numpy.ones((2, 2)), mindspore.float32).sum() + 1)  # warm up the runtime
        self.finish()

    def snapshot(self) -> None:
        self.base_mode = self.ms.get_context("mode")
        self.base_target = self.ms.get_context("device_target")

    def seed(self) -> None:
        self.ms.set_seed(SEED)

    def restore(self) -> None:
        ms = self.ms
        if ms.get_context("mode") != self.base_mode:
            ms.set_context(mode=self.base_mode)
        if ms.get_context("device_target") != self.base_target:
            ms.set_device(self.base_target)

    def after_statement(self) -> None:
        # MindSpore launches ops asynchronously: an op's error surfaces where a plain script meets
        # it (at a later op, or where a value is first needed). No wait here, so a page shows what
        # a reader's own run prints; ``finish`` waits at the end of the snippet.
        pass

    def finish(self) -> None:
        self.executor.sync()

    bookkeeping = frozenset({("mindspore.nn.cell.Cell", "total_instance_count")})  # +1 per Cell alive

    def watched(self) -> list:
        ms = self.ms
        import mindspore.nn
        import mindspore.ops

        return [ms, ms.nn, ms.ops, *_classes_of(ms.Tensor, ms.Parameter, ms.nn.Cell)]


def _classes_of(*classes: type) -> list[type]:
    """The classes and every class of their MROs (``object`` aside), once each."""
    found: dict[int, type] = {}
    for cls in classes:
        for base in cls.__mro__[:-1]:
            found.setdefault(id(base), base)
    return list(found.values())


FRAMEWORK_CLASSES = {"torch": Torch, "mindspore": MindSpore}


# ---------------------------------------------------------------- the worker


class Worker:
    """Runs snippets in this process, restoring global state between them.

    Before every snippet: a fresh ``__main__`` namespace; seeds for ``random``, NumPy and the
    framework set to 0; an emptied working folder as cwd (``/tmp`` where a mount namespace can be
    made, so output never shows the host's paths); fd 0 back on ``/dev/null``, fd 1/2 back on the
    capture files. After every snippet, restored to what they were after the worker started:
    ``sys.stdout/stderr/stdin``, ``sys.argv``, ``sys.path``, recursion limit, ``os.environ``,
    warning filters (and the "already shown" registries), interval timers (``signal.alarm``,
    ``signal.setitimer``), resource limits, Python signal handlers, trace and profile hooks,
    ``sys.excepthook``/``displayhook``, gc thresholds, umask, ``sys.set_int_max_str_digits``, the
    ``decimal`` context, NumPy print options, array string functions, error handling and buffer
    size, and per framework: torch print options, default dtype, default device, grad mode,
    anomaly mode, deterministic algorithms, thread count; MindSpore context mode and device target.

    What a warm worker may carry over to the next snippet is only what it had when it was warm,
    plus the modules the import system loaded since. Everything else a snippet changed is either
    undone by that reset or found by ``ProcessState.changes()`` (an attribute of any module or
    class, an audit hook, a hard resource limit lowered, ...): a worker with any change is replaced
    before the next snippet, so no snippet ever sees another's leftovers.
    """

    def __init__(self, framework: Framework, folder: Path, memory_limit: int):
        self.framework = framework
        self.folder = folder
        self.memory_limit = memory_limit
        self.out_fd = os.dup(1)
        self.err_fd = os.dup(2)
        self.null_fd = os.dup(0)
        self.index_fd = os.open(folder / "index", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self.audit = AuditWatch()
        libc = ctypes.CDLL(None)
        self.libc = libc
        self.fflush = libc.fflush
        self.fflush.argtypes = [ctypes.c_void_p]
        try:  # C stdout line-buffered, so C and Python output keep their order within a statement
            libc.setvbuf(ctypes.c_void_p.in_dll(libc, "stdout"), None, 1, 0)
        except (ValueError, AttributeError):
            pass

    def start(self) -> dict:
        self.framework.start()
        import numpy

        self.numpy = numpy
        for name in PRELOADED:  # imported once here, so that importing them is no change of state
            __import__(name)
        work = self.folder / "work"
        work.mkdir(exist_ok=True)
        kept = _needed_under_tmp()
        private = _private_tmp(work, kept)
        self.cwd, self.kept = (private, kept) if private else (str(work), frozenset())
        if self.cwd == SNIPPET_CWD and "TMPDIR" in os.environ:
            os.environ["TMPDIR"] = SNIPPET_CWD
            sys.modules["tempfile"].tempdir = None  # found again, from TMPDIR
        os.chdir(self.cwd)
        limit_info = self.limit_resources()
        self.seed()  # what seeding writes (MindSpore keeps the seed in module globals) is no change
        self.snapshot()  # nor are the limits just set
        self.base_rss = _status_kib("VmRSS")
        return {
            "framework": self.framework.key,
            "framework_version": _version(self.framework.distribution),
            "device": self.framework.actual_device,
            "device_name": self.framework.device_name(),
            "pid": os.getpid(),  # 2 in the worker's PID namespace
            "notes": self.framework.notes,
            **limit_info,
        }

    def limit_resources(self) -> dict:
        # torch and MindSpore reserve gigabytes of address space they never touch (VmSize is
        # ~2 GiB for a warm MindSpore worker), so RLIMIT_AS would be a poor measure. RLIMIT_DATA
        # counts private writable memory (heap and anonymous mmap, where arrays live) and is
        # set to what the warm worker uses plus the allowance.
        info = {}
        if self.memory_limit:
            base = _status_kib("VmData")
            limit = base + self.memory_limit
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
            info = {"base_data_bytes": base, "data_limit_bytes": limit}
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        return info

    def snapshot(self) -> None:
        self.framework.snapshot()
        np = self.numpy
        self.base_argv = list(sys.argv)
        self.base_path = list(sys.path)
        self.base_environ = dict(os.environ)
        self.base_recursion = sys.getrecursionlimit()
        self.base_filters = list(warnings.filters)
        self.base_showwarning = warnings.showwarning
        self.base_np_print = np.get_printoptions()
        self.base_np_err = np.geterr()
        self.base_np_buffer = (np.getbufsize(), np.geterrcall())
        self.base_limits = _resource_limits()
        self.base_hooks = (sys.excepthook, sys.displayhook, sys.unraisablehook, sys.breakpointhook)
        self.base_signals = {number: signal.getsignal(number) for number in _SIGNALS}
        self.base_gc = gc.get_threshold()
        self.base_umask = _umask()
        self.base_digits = sys.get_int_max_str_digits()
        self.audit.seen.clear()  # what the framework did while it was imported is the reference
        self.state = ProcessState(self, self.audit)

    def seed(self) -> None:
        random.seed(SEED)
        self.numpy.random.seed(SEED)
        self.framework.seed()

    def restore(self) -> bool:
        """Put global state back; False when it could not be (the worker must be replaced)."""
        sys.stdout, sys.stderr, sys.stdin = sys.__stdout__, sys.__stderr__, sys.__stdin__
        ok = True
        try:
            if sys.argv != self.base_argv:
                sys.argv = list(self.base_argv)
            if sys.path != self.base_path:
                sys.path[:] = self.base_path
            if sys.getrecursionlimit() != self.base_recursion:
                sys.setrecursionlimit(self.base_recursion)
            if warnings.filters != self.base_filters:
                warnings.filters[:] = self.base_filters
            warnings.showwarning = self.base_showwarning
            warnings._filters_mutated()  # forget which warnings were shown: each snippet sees its own
            warnings.onceregistry.clear()
            for timer in _TIMERS:  # signal.setitimer; ITIMER_REAL is also signal.alarm's
                if signal.getitimer(timer) != (0.0, 0.0):
                    signal.setitimer(timer, 0)
            for number, handler in self.base_signals.items():
                if signal.getsignal(number) is not handler:
                    signal.signal(number, handler)
            sys.excepthook, sys.displayhook, sys.unraisablehook, sys.breakpointhook = self.base_hooks
            sys.settrace(None)
            sys.setprofile(None)
            threading_module = sys.modules.get("threading")
            if threading_module is not None:
                threading_module.settrace(None)
                threading_module.setprofile(None)
            if not gc.isenabled():
                gc.enable()
            if gc.get_threshold() != self.base_gc:
                gc.set_threshold(*self.base_gc)
            if _umask() != self.base_umask:
                os.umask(self.base_umask)
            if sys.get_int_max_str_digits() != self.base_digits:
                sys.set_int_max_str_digits(self.base_digits)
            decimal = sys.modules.get("decimal")
            if decimal is not None:
                decimal.setcontext(decimal.Context())
            environ = os.environ
            if environ != self.base_environ:
                for key in [key for key in environ if key not in self.base_environ]:
                    del environ[key]
                for key, value in self.base_environ.items():
                    if environ.get(key) != value:
                        environ[key] = value
            np = self.numpy
            if np.get_printoptions() != self.base_np_print:
                np.set_printoptions(**self.base_np_print)
            if np.geterr() != self.base_np_err:
                np.seterr(**self.base_np_err)
            if (np.getbufsize(), np.geterrcall()) != self.base_np_buffer:
                np.setbufsize(self.base_np_buffer[0])
                np.seterrcall(self.base_np_buffer[1])
            _reset_array_printing(np)
        except Exception:
            ok = False
        try:  # a hard limit lowered cannot be raised again without privilege: then the worker goes
            for limit, value in _resource_limits().items():
                if value != self.base_limits[limit]:
                    resource.setrlimit(limit, self.base_limits[limit])
        except (ValueError, OSError):
            ok = False
        try:
            self.framework.restore()
        except Exception:
            ok = False
        return ok

    def flush(self) -> None:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        self.fflush(None)

    def sizes(self) -> tuple[int, int]:
        return os.fstat(self.out_fd).st_size, os.fstat(self.err_fd).st_size

    def note(self, record: str) -> None:
        os.write(self.index_fd, record.encode())

    def run(self, request: dict) -> dict:
        self.flush()
        for fd in (self.out_fd, self.err_fd, self.index_fd):
            os.ftruncate(fd, 0)
        os.dup2(self.null_fd, 0)
        os.dup2(self.out_fd, 1)
        os.dup2(self.err_fd, 2)
        _empty(self.cwd, self.kept)
        os.chdir(self.cwd)
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        try:
            self.seed()
            result = self.execute(request, namespace)
        finally:
            namespace.clear()
            restored = self.restore()
            os.chdir(self.cwd)
            _empty(self.cwd, self.kept)
        if not restored:
            result["recycle"] = "global state could not be restored"
        elif _status_kib("VmRSS") - self.base_rss > RECYCLE_RSS_GROWTH:
            result["recycle"] = "resident memory grew by more than 2 GiB"
        else:
            changed = self.state.changes()
            if changed:
                result["recycle"] = "changed: " + ", ".join(changed)
        return result

    def finish_pending(self) -> BaseException | None:
        """Wait for the framework's pending work; its error, if any (never left for the next snippet)."""
        try:
            self.framework.finish()
        except BaseException as error:  # noqa: BLE001
            try:
                self.framework.finish()  # drained: a second wait must not see it again
            except BaseException:  # noqa: BLE001
                pass
            return error
        return None

    def execute(self, request: dict, namespace: dict) -> dict:
        code, setup = request["code"], request.get("setup") or ""
        result = {"status": "ok", "outputs": [], "stderr": "", "error_type": None, "error_message": None,
                  "error_line": None, "traceback": None, "duration": 0.0, "truncated": False}
        try:
            statements = compile_statements(code, SNIPPET_FILE)
        except SyntaxError as error:
            result.update(status="error", error_type=type(error).__name__,
                          error_message=first_line(error.msg or str(error)), error_line=error.lineno)
            return result
        if setup:
            linecache.cache[SETUP_FILE] = (len(setup), None, setup.splitlines(True), SETUP_FILE)
            try:
                exec(compile(setup, SETUP_FILE, "exec", dont_inherit=True), namespace)
                self.framework.finish()
            except BaseException as error:  # noqa: BLE001 - a snippet's failure is data
                result.update(status="error", **describe(error, None, SETUP_FILE))
                result["error_message"] = f"in setup: {result['error_message']}"
                return result
        self.flush()
        out_base, err_base = self.sizes()
        self.note(f"B {out_base} {err_base}\n")
        starts: list[tuple[int, int]] = []
        begin = time.perf_counter()
        for first, last, compiled in statements:
            self.flush()
            out_at, err_at = self.sizes()
            self.note(f"S {first} {last} {out_at} {err_at}\n")
            starts.append((last, out_at))
            try:
                exec(compiled, namespace)
                self.framework.after_statement()
            except SystemExit as error:
                if error.code is None or error.code == 0:  # a clean exit ends the snippet, like a script
                    break
                result.update(status="error", **describe(error, first, SNIPPET_FILE))
                break
            except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt too
                result.update(status="error", **describe(error, first, SNIPPET_FILE))
                break
        pending = self.finish_pending()
        if pending is not None and result["status"] == "ok":
            # a plain run logs such an error and exits normally; the page shows it after the last line
            result.update(status="error", **describe(pending, statements[-1][1] if statements else None, SNIPPET_FILE))
            result["error_message"] = f"pending when the snippet ended: {result['error_message']}"
        result["duration"] = time.perf_counter() - begin
        self.flush()
        out_end, err_end = self.sizes()
        outputs, truncated = split_outputs(read_region(self.out_fd, out_base, out_end), out_base, starts, out_end)
        err_data = read_region(self.err_fd, err_base, err_end)
        err_truncated = err_end - err_base > len(err_data)
        result["outputs"] = outputs
        result["stderr"] = normalise_log(err_data.decode("utf-8", errors="replace"))
        if err_truncated:
            result["stderr"] += truncation_marker(err_end - err_base - len(err_data))
        result["truncated"] = truncated or err_truncated
        return result


_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


_LIMITS = tuple(getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_"))


def _resource_limits() -> dict[int, tuple[int, int]]:
    """Every resource limit of this process (``resource.setrlimit``)."""
    return {limit: resource.getrlimit(limit) for limit in _LIMITS}


def _reset_array_printing(np) -> None:
    """Put back NumPy's own array ``str`` and ``repr`` (``numpy.set_string_function``: kept in C,
    with no getter; gone in NumPy 2)."""
    set_string_function = getattr(np, "set_string_function", None)
    if set_string_function is not None:
        set_string_function(None, repr=False)
        set_string_function(None, repr=True)


# Imported at start, so that a snippet importing them adds nothing to ``sys.modules``.
PRELOADED = ("math", "cmath", "decimal", "fractions", "statistics", "itertools", "functools", "collections",
             "copy", "json", "pprint", "textwrap", "string", "dataclasses", "typing", "inspect", "contextlib",
             "threading", "logging", "warnings", "time", "datetime", "pathlib", "tempfile", "subprocess",
             "locale", "operator", "enum", "numbers", "struct", "io")
_SIGNALS = [number for number in signal.valid_signals()
            if number not in (signal.SIGKILL, signal.SIGSTOP) and number < signal.SIGRTMIN]


class ProcessState:
    """A fingerprint of the process state that the worker's reset cannot put back.

    ``changes()`` names what differs from the fingerprint taken when the worker was warm (well
    under a millisecond when nothing changed): attributes of any module or class the worker holds
    (``Namespaces``); ``sys.modules`` entries replaced, removed or added by hand (modules the import
    system loads join the fingerprint: frameworks import lazily); what the worker's audit hook saw
    (``AuditWatch``: another audit hook, a function's code or defaults replaced in place); threads
    and child processes still alive (orphans included: they come back to the init); stdio closed or
    replaced; the C environment (``os.putenv``); the floating-point environment (flush-to-zero,
    rounding mode); the levels and handlers of the loggers that existed when warm; the locale; the
    framework's C flags.
    Not covered: state that no cheap getter shows (native threads started through ``ctypes``,
    memory written through ``ctypes``, a module first imported and patched by the same snippet,
    an object held by a module changed in place, such as an entry added to a module's dict).
    """

    def __init__(self, worker: Worker, audit: AuditWatch):
        self.worker = worker
        self.framework = worker.framework
        self.numpy = worker.numpy
        self.audit = audit
        self.threading = sys.modules["threading"]
        self.logging = sys.modules["logging"]
        self.locale = sys.modules["locale"]
        self.libm = ctypes.CDLL(None)
        self.fegetround = getattr(self.libm, "fegetround", None)
        self.environ = _c_environ_reader()
        self.namespaces = Namespaces(self.framework, audit.known)
        self.namespaces.add([*sys.modules.values(), *self.framework.watched()])
        self.base_modules = dict(sys.modules)
        self.base_module_values = tuple(sys.modules.values())
        self.stdio = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
        try:  # PIDs as this /proc numbers them: the namespace's own, or the host's where it could not be mounted
            self.own_pid = int(os.readlink("/proc/self"))
            with open("/proc/self/stat") as stat:
                self.init_pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            self.own_pid = self.init_pid = 0
        self.base = self.take()

    def take(self) -> dict:
        return {
            "threads": len(self.threading.enumerate()),
            "logging": self.logging_state(),
            "locale": self.locale.setlocale(self.locale.LC_ALL),
            "floating-point environment": self.fp_environment(),
            "C environment (os.putenv)": self.environ(),
            "framework flags": self.framework.flags(),
        }

    def modules_changed(self) -> bool:
        """Entries of ``sys.modules`` replaced or removed, or added by anything but an import.

        Modules that the import system really loaded (frameworks import lazily, on first use)
        join the fingerprint, with their classes."""
        modules = sys.modules
        if len(modules) == len(self.base_modules):  # the usual case, at C speed
            # operator.is_, not id(): every id() call raises an audit event, and AuditWatch is a hook
            return not all(map(operator.is_, modules.values(), self.base_module_values))
        if any(modules.get(name, _MISSING) is not module for name, module in self.base_modules.items()):
            return True
        added = {name: module for name, module in modules.items() if name not in self.base_modules}
        if not all(_imported(name, module) for name, module in added.items()):
            return True
        self.base_modules.update(added)
        self.base_module_values = tuple(modules.values())
        self.namespaces.add(list(added.values()))
        return False

    def fp_environment(self) -> tuple:
        np = self.numpy
        with np.errstate(all="ignore"):
            flushed = float(np.float32(1e-40) * np.float32(1.0)) == 0.0
        return flushed, self.fegetround() if self.fegetround is not None else 0

    def logging_state(self) -> tuple:
        logging = self.logging
        if not hasattr(self, "loggers"):  # those that existed when warm; new ones start as in a fresh process
            self.loggers = [logging.root] + [logger for logger in logging.root.manager.loggerDict.values()
                                             if isinstance(logger, logging.Logger)]
        return (logging.root.manager.disable,
                tuple((lg.level, lg.propagate, lg.disabled, tuple(map(id, lg.handlers))) for lg in self.loggers))

    def children(self) -> list[int]:
        """PIDs (as /proc numbers them) of child processes still alive: the worker's own (any thread's), and orphans
        that came back to the init. The worker's own are found with ``waitpid`` (one system call;
        reading ``/proc/self/task/*/children`` costs a file per framework thread)."""
        while True:  # reap what has ended
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    mine = children() or [-1]  # one is alive, whichever it is
                    break
            except ChildProcessError:
                mine = []
                break
        if self.init_pid:  # orphans of snippets come back to the init (pid 1 or subreaper)
            mine += [pid for pid in children(self.init_pid) if pid != self.own_pid]
        return mine

    def changes(self) -> list[str]:
        found = []
        stdio = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
        if any(a is not b for a, b in zip(stdio, self.stdio)) or any(stream.closed for stream in stdio):
            found.append("stdio")
        now = self.take()
        found += [name for name, value in now.items() if value != self.base[name]]
        found += self.namespaces.changed()
        found += self.audit.seen
        if self.modules_changed():
            found.append("sys.modules")
        if self.children():
            found.append("child processes")
        return found


_MISSING = object()


class AuditWatch:
    """The worker's own audit hook, added before the framework is imported (audit hooks cannot be
    removed, so it stays first).

    It notes in ``seen`` what no getter shows afterwards: another audit hook added (it would run,
    and could print, in every later snippet), and on a function, class or module that the snippet
    did not define, an attribute that Python audits replaced or deleted (a function's ``__code__``,
    ``__defaults__`` or ``__kwdefaults__``, a class's ``__name__`` or ``__bases__``, a module's
    ``__class__``). Only objects in the fingerprint count: the modules and classes ``Namespaces``
    watches and the functions they hold; what a snippet defines, or a module creates while it is
    imported, is not the warm state.
    """

    EVENTS = ("object.__setattr__", "object.__delattr__")

    def __init__(self):
        self.seen: list[str] = []
        self.known: set[int] = set()  # ids of what ``Namespaces`` watches: ``Namespaces.known``
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple) -> None:
        # Called for every audited event of the process (each ``id()`` call is one): keep it short.
        if event == "sys.addaudithook":
            self.seen.append("an audit hook added")
        elif event in self.EVENTS and id(args[0]) in self.known:
            self.seen.append(f"{args[1]} of {_label(args[0])} replaced")


class Namespaces:
    """The attributes of every module the worker holds and of every class those modules define,
    watched for a value replaced, a name removed or one added (``torch.nn.MSELoss.forward = f``,
    ``torch.pi = 3``, ``numpy.linalg.norm = f``, ``textwrap.dedent = f``).

    Two tiers. The namespaces that snippets use directly (``STRICT``: ``builtins``, ``sys``, ``os``,
    NumPy, ``__main__`` …, and the framework's ``Framework.watched()``) may not change at all, but
    for a submodule added by an import. Everywhere else the frameworks keep data of their own
    (counters, flags, lazily filled names, ``__warningregistry__``), so there only behaviour
    counts: a function, class, descriptor or module replaced or removed, an attribute added to a
    class, a builtin's name shadowed in a module.

    Cost: each namespace is a dict whose CPython version tag changes on every write to it, so a
    check reads one integer per namespace (a few thousand; well under a millisecond) and compares
    values only in the namespaces written to. Writes that change nothing that counts become the
    new reference, and so do the framework's own lazy wrappers and bookkeeping
    (``Framework.wraps``, ``Framework.bookkeeping``). Immutable types (``int``, C types) are left
    out: they cannot be patched.
    """

    STRICT = ("builtins", "sys", "os", "io", "json", "json.encoder", "json.decoder", "json.scanner", "struct",
              "time", "random", "math", "warnings", "threading", "logging", "re", "functools", "signal",
              "decimal", "numpy", "numpy.random", "__main__")

    def __init__(self, framework: Framework, known: set[int]):
        self.framework = framework
        self.seen: set[int] = set()
        self.known = known  # ids of the modules and classes watched, and of the functions they hold
        self.labels: list[str] = []
        self.dicts: list[dict] = []
        self.bases: list[dict] = []
        self.kinds: list[str] = []  # "strict", "module" or "class"
        self.watch, self.read = _dict_version_reader()
        self.cells: list = []  # what ``self.read`` reads, one per namespace
        self.versions: list = []
        self.strict = {id(obj) for obj in framework.watched()}
        self.strict.update(id(sys.modules[name]) for name in self.STRICT if name in sys.modules)

    def add(self, objects: list) -> None:
        """Watch these modules and classes, and the classes the modules define, as they are now."""
        for obj in objects:
            if isinstance(obj, ModuleType):
                self._watch(obj)
                for value in list(vars(obj).values()):
                    # type(): ``isinstance`` would ask the value for ``__class__`` (deprecated
                    # torch attributes warn)
                    if issubclass(type(value), type) and getattr(value, "__module__", None) == obj.__name__:
                        self._watch(value)
            elif isinstance(obj, type):
                self._watch(obj)

    def _watch(self, obj) -> None:
        if id(obj) in self.seen or (isinstance(obj, type) and obj.__flags__ & _IMMUTABLE_TYPE):
            return
        namespace = vars(obj) if isinstance(obj, ModuleType) else _class_dict(obj)
        if type(namespace) is not dict:
            return
        self.seen.add(id(obj))
        self.known.add(id(obj))
        self.known.update(id(value) for value in namespace.values() if type(value) is FunctionType)
        self.labels.append(_label(obj))
        self.dicts.append(namespace)
        self.bases.append(dict(namespace))
        self.kinds.append("strict" if id(obj) in self.strict else "module" if isinstance(obj, ModuleType)
                          else "class")
        self.cells.append(self.watch(namespace))
        self.versions.append(self.read(self.cells[-1]))

    def changed(self) -> list[str]:
        """Labels of the namespaces changed since the reference."""
        now = list(map(self.read, self.cells))
        if now == self.versions:
            return []
        found = []
        for index, (old, new) in enumerate(zip(self.versions, now)):
            if old == new:
                continue
            if self._differs(index):
                found.append(self.labels[index])
            else:
                self.versions[index] = new
                self.bases[index] = dict(self.dicts[index])
        return found

    def _differs(self, index: int) -> bool:
        namespace, base, label, kind = self.dicts[index], self.bases[index], self.labels[index], self.kinds[index]
        framework = self.framework
        for name, old in base.items():
            new = namespace.get(name, _MISSING)
            if new is old or (label, name) in framework.bookkeeping or framework.wraps(old, new):
                continue
            if kind == "strict" or _behaviour(old) or _behaviour(new):
                return True
        if len(namespace) == len(base):
            return False
        added = [name for name in namespace if name not in base and name != "__warningregistry__"
                 and (label, name) not in framework.bookkeeping]
        if kind == "strict":
            return not all(isinstance(namespace[name], ModuleType) for name in added)
        if kind == "module":
            return any(name in _BUILTIN_NAMES for name in added)
        return bool(added)


def _behaviour(value) -> bool:
    """Whether ``value`` is code or leads to code (not a framework's data: a counter, a flag, a cache)."""
    return callable(value) or issubclass(type(value), (ModuleType, property, staticmethod, classmethod))


_BUILTIN_NAMES = frozenset(vars(builtins))
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE
_VERSION_OFFSET = 3 * struct.calcsize("P")  # PyDictObject: refcount, type, ma_used, then ma_version_tag


def _dict_version_reader() -> tuple:
    """``(watch, read)``: ``read(watch(d))`` is a token that changes whenever dict ``d`` is written to.

    CPython 3.11 keeps such a version tag in every dict (PEP 509) at a fixed offset: ``watch``
    gives a C integer over it, once per dict, and ``read`` reads it (tried on a dict of our own
    before it is trusted). Elsewhere the token is the identities of the dict's values: as exact,
    some ten times slower."""
    def identities(namespace: dict) -> tuple:
        return len(namespace), tuple(map(id, namespace.values()))

    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
        return (lambda namespace: namespace), identities

    def watch(namespace: dict):
        return ctypes.c_uint64.from_address(id(namespace) + _VERSION_OFFSET)

    read = operator.attrgetter("value")
    probe = {"a": 1}
    cell = watch(probe)
    before = read(cell)
    probe["a"] = 2
    written = read(cell)
    probe["b"] = 3
    if before != written != read(cell):
        return watch, read
    return (lambda namespace: namespace), identities


def _class_dict(cls: type):
    """The dict behind a class's read-only ``__dict__`` proxy (where ``C.x = 1`` writes)."""
    return ctypes.py_object.from_address(id(cls) + type.__dictoffset__).value


def _imported(name: str, module) -> bool:
    """Whether ``module`` looks loaded by the import system under ``name`` (not put there by hand)."""
    spec = getattr(module, "__spec__", None)
    return (isinstance(module, ModuleType) and getattr(spec, "name", None) == name
            and getattr(module, "__name__", None) == name)


def _label(obj) -> str:
    return obj.__name__ if isinstance(obj, ModuleType) else f"{obj.__module__}.{obj.__qualname__}"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _c_environ_reader():
    """A function returning the C library's environment (what ``os.putenv`` changes), sorted."""
    try:
        environ = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
    except (ValueError, AttributeError):
        return lambda: ()

    def read() -> tuple:
        entries = []
        index = 0
        while True:
            entry = environ[index]
            if entry is None:
                return tuple(sorted(entries))
            entries.append(entry)
            index += 1

    return read


def _empty(folder: str, kept: frozenset[str] = frozenset()) -> None:
    """Remove everything in ``folder`` but the entries named in ``kept``, keeping the folder."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name in kept:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def compile_statements(code: str, filename: str) -> list[tuple[int, int, object]]:
    """Each top-level statement compiled on its own, keeping its real line numbers.

    ``from __future__`` imports keep their effect on the statements after them.
    """
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    tree = ast.parse(code, filename)
    flags = 0
    compiled = []
    for statement in tree.body:
        module = ast.Module(body=[statement], type_ignores=[])
        compiled.append((statement.lineno, statement.end_lineno or statement.lineno,
                         compile(module, filename, "exec", flags=flags, dont_inherit=True)))
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            for alias in statement.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return compiled


def describe(error: BaseException, statement_line: int | None, filename: str) -> dict:
    if isinstance(error, SystemExit):
        message = "" if error.code is None else str(error.code)
    else:
        try:
            message = str(error)
        except Exception:  # noqa: BLE001
            message = "<the exception's message could not be made>"
    line = statement_line
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == filename:
            line = frame.tb_lineno
        frame = frame.tb_next
    tb = error.__traceback__
    tb = tb.tb_next if tb is not None else None  # skip the worker's own frame
    text = "".join(traceback.format_exception(type(error), error, tb))
    return {"error_type": type(error).__name__, "error_message": first_line(message),
            "error_line": line if filename == SNIPPET_FILE else None, "traceback": text[-TRACEBACK_LIMIT:]}


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- process tree
#
# builder ── supervisor (own session; outside the namespace) ── init (pid 1 of a new PID
# namespace) ── worker (pid 2; runs the snippets) ── whatever the snippets start.
#
# Nothing in the namespace can name, and so signal, a process outside it: not the supervisor, not
# the builder (``os.getppid()`` in the worker is the init, which ignores every signal sent from
# inside). When the init dies, the kernel kills every process of the namespace, including those
# that started new sessions. The init dies with the worker (it exits after relaying the worker's
# exit status) and with the supervisor (``PR_SET_PDEATHSIG``); the supervisor dies when the
# builder kills it or when the builder's lifeline pipe closes (the builder exited or was killed,
# even by SIGKILL): it then kills the init and removes the worker's folder. Where a PID namespace
# cannot be made (no privilege, no user namespaces), the init is a child subreaper instead and
# kills every descendant it inherited when the worker ends; a snippet could then still signal it.

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SNIPPET_CWD = "/tmp"  # where every snippet runs, when a mount namespace can be made
_STATUS = struct.Struct("!i")


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _new_pid_namespace() -> bool:
    """Children of the caller are born in a new PID namespace (a user namespace too if needed)."""
    libc = _libc()
    if libc.unshare(CLONE_NEWPID) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0:
        return False
    try:  # keep the same ids inside, so files and printed ids look the same
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
    except OSError:
        pass
    return True


def _die_with_parent() -> None:
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _default_signals() -> None:
    import faulthandler

    faulthandler.disable()
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, signal.SIG_DFL)


def _supervise(init: int, lifeline: int, status_fd: int, folder: str) -> None:
    """The supervisor's whole life: wait for the init or for the builder to go away."""
    import select

    poller = select.poll()
    poller.register(lifeline, select.POLLIN)
    try:
        pidfd = os.pidfd_open(init)
        poller.register(pidfd, select.POLLIN)
        wait_ms = None
    except (AttributeError, OSError):
        wait_ms = 100
    while True:
        try:
            ready = {fd for fd, _ in poller.poll(wait_ms)}
        except InterruptedError:
            continue
        if lifeline in ready:  # the builder has gone (or closed us): leave nothing behind
            kill_tree(init)
            os.waitpid(init, 0)
            shutil.rmtree(folder, ignore_errors=True)
            os._exit(0)
        if os.waitpid(init, os.WNOHANG)[0]:
            data = os.read(status_fd, _STATUS.size)
            _exit_like(_STATUS.unpack(data)[0] if len(data) == _STATUS.size else 0)


def _exit_like(status: int) -> None:
    """End this process the way the worker ended, so the builder can report it."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _reap(worker: int, status_fd: int, namespace: bool) -> None:
    """The init's whole life: reap every process; when the worker ends, report how and exit."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(0)
        if pid == worker:
            os.write(status_fd, _STATUS.pack(status))
            if not namespace:
                kill_descendants()
            os._exit(0)


def children(pid: int | str = "self") -> list[int]:
    """Live child processes of ``pid`` (all its threads), by PID as /proc numbers them."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    found += [int(child) for child in file.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return found


def kill_tree(root: int) -> None:
    """SIGKILL ``root`` and all its descendants, each stopped before its children are read, so
    that none can fork away meanwhile (also those that started their own session)."""
    stopped, pending = [], [root]
    while pending:
        pid = pending.pop()
        try:
            os.kill(pid, signal.SIGSTOP)
        except (ProcessLookupError, PermissionError):
            continue
        stopped.append(pid)
        pending += children(pid)
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_descendants() -> None:
    """SIGKILL every descendant of this process, then reap them."""
    for child in children():
        kill_tree(child)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _namespace_proc() -> bool:
    """Mount a ``/proc`` of the new PID namespace, in a mount namespace of its own.

    With the host's ``/proc``, ``/proc/self`` names a PID that ``getpid()`` does not return, and
    the CUDA driver fails ("cudaGetDeviceCount ... Error 304: OS call failed"): a GPU worker would
    see no GPU. False (and the host's ``/proc`` kept) when it cannot be done."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    return libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) == 0


def _private_tmp(work: Path, kept: frozenset[str]) -> str | None:
    """In a new mount namespace, put the worker's ``work`` folder on ``/tmp``: every snippet runs
    in the same neutral ``/tmp`` (pages never show the build host's paths) and what snippets write
    to ``/tmp`` stays inside the worker's folder. The entries of the host's ``/tmp`` named in
    ``kept`` (``_needed_under_tmp``) stay visible at their paths, read-only. None when that cannot
    be done."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        return None
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return None
    points = []
    for name in sorted(kept):
        point = _keep_visible(libc, Path(SNIPPET_CWD) / name, work / name)
        if point is None:
            for done in points:
                libc.umount2(done, MNT_DETACH)
            return None
        points.append(point)
    if libc.mount(str(work).encode(), SNIPPET_CWD.encode(), None, MS_BIND | MS_REC, None) != 0:
        for done in points:
            libc.umount2(done, MNT_DETACH)
        return None
    return SNIPPET_CWD


def _keep_visible(libc, source: Path, point: Path) -> bytes | None:
    """Bind ``source`` read-only on ``point`` (made empty, of the same kind); the mount point, or None."""
    try:
        if source.is_dir():
            point.mkdir()
        else:
            point.touch()
    except OSError:
        return None
    target = str(point).encode()
    if libc.mount(str(source).encode(), target, None, MS_BIND | MS_REC, None) != 0:
        return None
    if libc.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None) != 0:
        libc.umount2(target, MNT_DETACH)
        return None
    return target


def _needed_under_tmp() -> frozenset[str]:
    """Names of the host's ``/tmp`` entries that hold what the worker loads from after it started:
    the generator, the Python installation or virtual environment, the folders on ``sys.path``
    (a checkout or a venv under ``/tmp``; links followed too)."""
    paths = [str(Path(__file__).resolve().parent.parent), sys.executable, sys.prefix, sys.exec_prefix,
             sys.base_prefix, sys.base_exec_prefix, *sys.path]
    names = set()
    for path in paths:
        if not path:
            continue
        for form in (os.path.abspath(path), os.path.realpath(path)):
            parts = Path(form).parts
            if len(parts) > 2 and parts[1] == SNIPPET_CWD.strip("/"):
                names.add(parts[2])
    return frozenset(names)


def main(argv: list[str] | None = None) -> None:
    args = (argv or sys.argv[1:])[:8]
    framework_key, device, request_fd, result_fd, lifeline, folder, memory_limit, threads = args
    request_fd, result_fd, lifeline = int(request_fd), int(result_fd), int(lifeline)
    for fd in (request_fd, result_fd, lifeline):
        os.set_inheritable(fd, False)  # a snippet's child processes must not hold the protocol
    status_read, status_write = os.pipe()
    namespace = _new_pid_namespace()
    init = os.fork()
    if init:
        for fd in (request_fd, result_fd, status_write):
            os.close(fd)
        _supervise(init, lifeline, status_read, folder)
    os.close(lifeline)
    os.close(status_read)
    _die_with_parent()
    os.setsid()
    _default_signals()
    if namespace:
        _namespace_proc()
    else:
        _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    worker = os.fork()
    if worker:
        for fd in (request_fd, result_fd):
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (1, 2):
            os.dup2(null, fd)
        _reap(worker, status_write, namespace)
    os.close(status_write)
    _die_with_parent()
    os.setsid()  # kill(0, ...) in a snippet reaches only the worker's own group
    serve(framework_key, device, request_fd, result_fd, Path(folder), int(memory_limit), int(threads))


def serve(framework_key: str, device: str, request_fd: int, result_fd: int, folder: Path, memory_limit: int,
          threads: int) -> None:
    """The worker: start, say ready, then run snippets until the request pipe closes."""
    try:
        framework = FRAMEWORK_CLASSES[framework_key](device, threads)
        worker = Worker(framework, folder, memory_limit)
        info = worker.start()
    except BaseException as error:  # noqa: BLE001
        send(result_fd, {"fatal": f"{type(error).__name__}: {first_line(str(error))}",
                         "traceback": traceback.format_exc()[-TRACEBACK_LIMIT:]})
        raise SystemExit(1) from None
    worker.flush()
    send(result_fd, {"ready": info})
    while True:
        request = receive(request_fd)
        if request is None:
            break
        try:
            result = worker.run(request)
        except BaseException as error:  # noqa: BLE001 - a fault of the worker itself: say so, then stop
            send(result_fd, {"internal": f"{type(error).__name__}: {first_line(str(error))}",
                             "traceback": traceback.format_exc()[-TRACEBACK_LIMIT:]})
            os._exit(70)
        send(result_fd, result)
    os._exit(0)  # skip interpreter and framework teardown: nothing to save

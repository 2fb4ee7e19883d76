"""Code that runs inside a worker process: one framework imported once, snippets run one by one.

A worker is started by ``generator.execute`` as ``python -u -X faulthandler -c BOOT ...`` with

* fd 0 on ``/dev/null`` (``input()`` gets ``EOFError`` at once),
* fd 1 and fd 2 on two capture files in the worker's private folder (opened ``O_APPEND``),
* a request pipe and a result pipe, passed by number: the protocol never touches fd 1, so
  whatever a snippet prints cannot corrupt it. Messages are a 4-byte length and JSON.

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
import os
import random
import re
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

HEADER = struct.Struct("!I")
OUTPUT_LIMIT = 64 * 1024  # bytes of printed output kept per snippet (stdout and stderr each)
TRACEBACK_LIMIT = 16 * 1024
FILE_SIZE_LIMIT = 1 << 30  # RLIMIT_FSIZE: a runaway print loop cannot fill the disk
SNIPPET_FILE = "<snippet>"
SETUP_FILE = "<setup>"
SEED = 0
RECYCLE_RSS_GROWTH = 2 << 30  # a worker whose resident memory grew this much is replaced

# ---------------------------------------------------------------- protocol


def send(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    view = memoryview(HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
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
    body = _read_exactly(fd, HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


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
        if outputs and outputs[-1][0] == line:  # "a(); b()": statements sharing a line share an output
            outputs[-1][1] += "\n" + text
            outputs[-1][2] = stop > shown_end
        else:
            outputs.append([line, text, stop > shown_end])
    return outputs, truncated


def read_region(fd: int, start: int, end: int) -> bytes:
    size = max(0, min(end - start, OUTPUT_LIMIT))
    return os.pread(fd, size, start) if size else b""


def first_line(message: str) -> str:
    """First non-empty line (MindSpore's messages run over many lines)."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return ""


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

    def device_name(self) -> str:
        if self.actual_device == "gpu":
            return nvidia_gpu_name()
        if self.actual_device == "ascend":
            return ascend_name()
        return cpu_name()


class Torch(Framework):
    key = distribution = "torch"

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


FRAMEWORK_CLASSES = {"torch": Torch, "mindspore": MindSpore}


# ---------------------------------------------------------------- the worker


class Worker:
    """Runs snippets in this process, restoring global state between them.

    Before every snippet: a fresh ``__main__`` namespace; seeds for ``random``, NumPy and the
    framework set to 0; a fresh empty temporary folder as cwd (removed afterwards); fd 1/2 back on
    the capture files. After every snippet, restored to what they were after the worker started:
    ``sys.stdout/stderr/stdin``, ``sys.argv``, ``sys.path``, recursion limit, ``os.environ``,
    warning filters (and the "already shown" registries), pending ``signal.alarm``, NumPy print
    options and error handling, and per framework: torch print options, default dtype, default
    device, grad mode, anomaly mode, deterministic algorithms, thread count; MindSpore context
    mode and device target. A worker whose state cannot be restored asks to be replaced.
    """

    def __init__(self, framework: Framework, folder: Path, memory_limit: int):
        self.framework = framework
        self.folder = folder
        self.memory_limit = memory_limit
        self.out_fd = os.dup(1)
        self.err_fd = os.dup(2)
        self.index_fd = os.open(folder / "index", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        libc = ctypes.CDLL(None)
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
        self.snapshot()
        limit_info = self.limit_resources()
        self.base_rss = _status_kib("VmRSS")
        return {
            "framework": self.framework.key,
            "framework_version": _version(self.framework.distribution),
            "device": self.framework.actual_device,
            "device_name": self.framework.device_name(),
            "pid": os.getpid(),
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
            signal.alarm(0)
            if not gc.isenabled():
                gc.enable()
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
        except Exception:
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
        os.dup2(self.out_fd, 1)
        os.dup2(self.err_fd, 2)
        cwd = tempfile.mkdtemp(prefix="snippet-", dir=self.folder)
        os.chdir(cwd)
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        try:
            self.seed()
            result = self.execute(request, namespace)
        finally:
            namespace.clear()
            os.chdir(self.folder)
            shutil.rmtree(cwd, ignore_errors=True)
            restored = self.restore()
        if not restored:
            result["recycle"] = "global state could not be restored"
        elif _status_kib("VmRSS") - self.base_rss > RECYCLE_RSS_GROWTH:
            result["recycle"] = "resident memory grew by more than 2 GiB"
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
            except BaseException as error:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too
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
        result["outputs"] = outputs
        result["stderr"] = normalise_log(err_data.decode("utf-8", errors="replace"))
        result["truncated"] = truncated or err_end - err_base > len(err_data)
        return result


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


def main(argv: list[str] | None = None) -> None:
    framework_key, device, request_fd, result_fd, folder, memory_limit, threads = (argv or sys.argv[1:])[:7]
    request_fd, result_fd = int(request_fd), int(result_fd)
    for fd in (request_fd, result_fd):
        os.set_inheritable(fd, False)  # a snippet's child processes must not hold the protocol
    try:
        framework = FRAMEWORK_CLASSES[framework_key](device, int(threads))
        worker = Worker(framework, Path(folder), int(memory_limit))
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

"""Stage 2: run every example's code on the real frameworks, cached, and cross-check the sides.

Execution model
---------------
``Executor`` keeps a pool of warm worker processes (``generator.worker``): each imports one
framework once (torch and MindSpore never share a process) and then runs snippets one after
another, restoring global state between them (see ``worker.Worker`` for the list). ``jobs``
workers exist at most, in total; a framework's workers start only when it has snippets to run.
Snippets of one framework share a queue; one thread per worker feeds it and watches it:

* a snippet that runs past ``Snippet.timeout`` gets its worker killed (with every process its
  snippets started, including those in new sessions) and is recorded as ``timeout``;
* a worker that dies (segfault, ``os.abort()``, ``os._exit(3)``, the kernel's OOM killer) is
  recorded as ``crash`` with its signal or exit code;
* in both cases what the statements printed before (and the one that was running) is recovered
  from the worker's capture files, the next snippet gets a fresh worker, and the run goes on;
* a snippet that changed process state the reset cannot undo gets its worker replaced after it
  (``worker.ProcessState``).

Snippets run in their own PID namespace where the machine allows it: they cannot signal the
builder. SIGTERM while examples run unwinds like Ctrl-C (``KeyboardInterrupt``), closing every
worker; a builder killed outright is noticed by each worker's supervisor (its lifeline pipe
closes), which kills what is left and removes the worker's folder.

Caching
-------
``cache_key`` (in ``results``) hashes the code, setup, framework name and version, device, generator version
and timeout; a snippet with an ``identity`` (a probe driver) is keyed on it in place of its code,
whose making is costly. ``ok``, ``error`` and ``crash`` results are cached (a segfault is as deterministic as
an exception); ``timeout`` results, crashes by ``SIGKILL`` (the OOM killer, an outside kill) and
workers that could not start are not: they depend on the machine's load, not on the code.
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import ROOT, __version__
from . import worker as protocol
from .cache import ResultCache
from .compare import NOT_COMPARED, Comparison, compare_results
from .devices import why_not_here
from .frameworks import FRAMEWORKS, package_missing
from .progress import Progress
from .results import (ExampleRun, Snippet, SnippetResult, StatementOutput, cache_key,  # noqa: F401 - re-exported
                      expectation, failure_text)

DEVICES = ("cpu", "gpu", "ascend")
DEFAULT_MEMORY_LIMIT = 8 << 30  # bytes a worker may allocate on top of what it uses when warm
START_TIMEOUT = 300.0  # seconds for a worker to import its framework
TIMEOUT_SLACK = 0.25  # seconds on top of Snippet.timeout for the reset and the messages
DEATH_GRACE = 2.0  # seconds for a dead worker's supervisor to report how the worker ended
# A slot whose framework has no snippets left takes another framework's work when, at that
# framework's pace so far, what waits would keep its workers busy this long: enough to pay for
# importing the framework once more.
MOVE_SLOT_SECONDS = 10.0
_UNDECIDED = object()
_ROOT = str(ROOT)
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from generator.worker import main; "
         "del sys.path[0]; args = sys.argv[2:]; del sys.argv[1:]; main(args)")


# ---------------------------------------------------------------- data


def _cacheable(result: SnippetResult) -> bool:
    if result.status in ("ok", "error"):
        return True
    return (result.status == "crash" and result.error_type in ("Signal", "Exit")
            and result.error_message != "killed by SIGKILL")


@dataclass
class RunStats:
    """What the last ``Executor.run`` did."""

    snippets: int = 0
    cached: int = 0
    executed: int = 0  # distinct snippets run (identical snippets run once)
    workers_started: int = 0
    workers_replaced: int = 0  # after a timeout, a crash or a state that could not be reset
    slots_moved: int = 0  # slots that took another framework's snippets when their own ran out
    wall: float = 0.0
    round_trips: list[float] = field(default_factory=list, repr=False)  # per executed snippet, seconds
    durations: list[float] = field(default_factory=list, repr=False)  # the snippets' own time


# ---------------------------------------------------------------- one worker process


class WorkerStartError(RuntimeError):
    pass


class _Timeout(Exception):
    pass


class _Died(Exception):
    pass


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0",  # set and dict orders of str keys print the same every build
               PYTHONBREAKPOINT="0", MPLBACKEND="Agg", PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    return env


class WorkerProcess:
    """The parent's handle on one worker: start, run one snippet at a time, kill."""

    def __init__(self, framework: str, device: str = "cpu", memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
                 threads: int = 0):
        self.framework = framework
        self.device = device
        self.memory_limit = memory_limit or 0
        self.threads = threads
        self.proc: subprocess.Popen | None = None
        self.folder: Path | None = None
        self.info: dict = {}
        self._request_fd = -1
        self._result_fd = -1
        self._lifeline_fd = -1  # while open, the worker's supervisor lives; closed (or we die): all goes
        self._buffer = bytearray()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> dict:
        self.folder = Path(tempfile.mkdtemp(prefix=f"apimap-{self.framework}-"))
        request_read, self._request_fd = os.pipe()
        self._result_fd, result_write = os.pipe()
        lifeline_read, self._lifeline_fd = os.pipe()
        out = open(self.folder / "stdout", "a+b")
        err = open(self.folder / "stderr", "a+b")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-X", "faulthandler", "-c", _BOOT, _ROOT, self.framework, self.device,
                 str(request_read), str(result_write), str(lifeline_read), str(self.folder), str(self.memory_limit),
                 str(self.threads)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=(request_read, result_write, lifeline_read),
                cwd=self.folder, env=_worker_env(), start_new_session=True)
        except OSError as error:
            self.close()
            raise WorkerStartError(f"cannot start a {self.framework} worker: {error}") from error
        finally:
            for fd in (request_read, result_write, lifeline_read):
                os.close(fd)
            out.close()
            err.close()
        try:
            message = self._receive(time.monotonic() + timeout)
        except (_Timeout, _Died, ValueError) as error:
            tail = self._read_tail("stderr")
            code = self.proc.poll()
            self.close()
            why = "did not start in time" if isinstance(error, _Timeout) else f"exited with code {code}"
            last = [line for line in tail.splitlines() if line.strip()]
            raise WorkerStartError(f"the {self.framework} worker {why}" + (f": {last[-1]}" if last else "")) from None
        if "ready" not in message:
            self.close()
            raise WorkerStartError(message.get("fatal") or f"the {self.framework} worker failed to start")
        self.info = message["ready"]
        return self.info

    def run(self, snippet: Snippet) -> SnippetResult:
        started = time.monotonic()
        try:
            protocol.send(self._request_fd, {"code": snippet.code, "setup": snippet.setup})
            message = self._receive(started + snippet.timeout + TIMEOUT_SLACK)
        except _Timeout:
            self._kill()
            return self._lost(snippet, "timeout", "Timeout", f"timed out after {snippet.timeout:g} s", started)
        except (_Died, OSError, ValueError):
            code = self._kill(grace=DEATH_GRACE)
            if code is not None and code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"signal {-code}"
                return self._lost(snippet, "crash", "Signal", f"killed by {name}", started)
            return self._lost(snippet, "crash", "Exit", f"exited with code {code}", started)
        if "internal" in message:  # the worker's own fault, not the snippet's: never cached
            self.close()
            return SnippetResult("crash", [], "", "WorkerError", message["internal"], None,
                                 time.monotonic() - started, self.info.get("framework_version", ""),
                                 self.info.get("device", self.device), self.info.get("device_name", ""),
                                 traceback=message.get("traceback"))
        result = self._result(message)
        if message.get("recycle"):
            self.close()
        return result

    def _result(self, message: dict) -> SnippetResult:
        return SnippetResult(
            status=message["status"],
            outputs=[StatementOutput(line, text, truncated) for line, text, truncated in message["outputs"]],
            stderr=message["stderr"],
            error_type=message["error_type"],
            error_message=message["error_message"],
            error_line=message["error_line"],
            duration=message["duration"],
            framework_version=self.info.get("framework_version", ""),
            device=self.info.get("device", self.device),
            device_name=self.info.get("device_name", ""),
            traceback=message.get("traceback"),
        )

    def _lost(self, snippet: Snippet, status: str, kind: str, message: str, started: float) -> SnippetResult:
        """The result of a snippet whose worker is gone, from what its capture files hold."""
        outputs: list[StatementOutput] = []
        stderr = ""
        line = None
        try:
            records = (self.folder / "index").read_text().splitlines()
            base = next((r.split() for r in records if r.startswith("B ")), None)
            statements = [r.split() for r in records if r.startswith("S ") and len(r.split()) == 5]
            out_base, err_base = (int(base[1]), int(base[2])) if base else (0, 0)
            with open(self.folder / "stdout", "rb") as out, open(self.folder / "stderr", "rb") as err:
                out_end, err_end = os.fstat(out.fileno()).st_size, os.fstat(err.fileno()).st_size
                if base:
                    starts = [(int(s[2]), int(s[3])) for s in statements]
                    data = protocol.read_region(out.fileno(), out_base, out_end)
                    pieces, _ = protocol.split_outputs(data, out_base, starts, out_end)
                    outputs = [StatementOutput(*piece) for piece in pieces]
                err_text = protocol.read_region(err.fileno(), err_base, err_end).decode("utf-8", errors="replace")
            stderr = protocol.normalise_log(err_text)
            if statements:
                line = int(statements[-1][1])
            # faulthandler lists the most recent call first
            where = re.search(r'File "<snippet>", line (\d+)', stderr)
            if where and status == "crash":
                line = int(where.group(1))
        except (OSError, ValueError, IndexError):
            pass
        finally:
            self.close()
        return SnippetResult(status, outputs, stderr, kind, message, line, time.monotonic() - started,
                             self.info.get("framework_version", ""), self.info.get("device", self.device),
                             self.info.get("device_name", ""))

    def _receive(self, deadline: float) -> dict:
        buffer = self._buffer
        poller = select.poll()
        poller.register(self._result_fd, select.POLLIN)
        while True:
            if len(buffer) >= protocol.HEADER.size:
                size = protocol.HEADER.unpack_from(buffer)[0]
                end = protocol.HEADER.size + size
                if len(buffer) >= end:
                    body = bytes(buffer[protocol.HEADER.size:end])
                    del buffer[:end]
                    return json.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                raise _Timeout
            chunk = os.read(self._result_fd, 1 << 20)
            if not chunk:
                raise _Died
            buffer += chunk

    def _read_tail(self, name: str, size: int = 4096) -> str:
        try:
            with open(self.folder / name, "rb") as file:
                file.seek(max(0, os.fstat(file.fileno()).st_size - size))
                return file.read().decode("utf-8", errors="replace")
        except (OSError, TypeError):
            return ""

    def _kill(self, grace: float = 0.0) -> int | None:
        """Kill the worker and whatever its snippets started; its exit status.

        The worker's supervisor ends the way the worker ended; ``grace`` seconds to let it say how
        (a worker that died takes its supervisor with it a moment later)."""
        if self.proc is None:
            return None
        if grace:
            try:
                return self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        protocol.kill_tree(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.proc.wait()

    def close(self) -> None:
        self._kill()
        for name in ("_request_fd", "_result_fd", "_lifeline_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)
        self._buffer.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _kill_all(workers: dict[str, list]) -> None:
    for slots in workers.values():
        for worker in slots:
            if worker is not None:
                worker.close()
        slots.clear()


# ---------------------------------------------------------------- the pool


class Executor:
    """Runs snippets on warm worker processes, with a result cache. A context manager.

    ``memory_limit_bytes``: what each worker may allocate on top of its warm footprint
    (``RLIMIT_DATA``); ``None`` or 0 for no limit.
    """

    def __init__(self, jobs: int | None = None, device: str = "cpu", cache_path: Path | None = None,
                 force: bool = False, memory_limit_bytes: int | None = DEFAULT_MEMORY_LIMIT, progress: bool = True):
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.device = device
        self.force = force
        self.memory_limit = memory_limit_bytes
        self.progress = progress
        self.cache = ResultCache(cache_path) if cache_path is not None else None
        self.stats = RunStats()
        self._workers: dict[str, list[WorkerProcess | None]] = {}
        self._slots = threading.Lock()  # guards the slot lists while a slot moves
        self._pace: dict[str, list[float]] = {}  # framework -> [seconds, snippets] of round trips
        self._feeding: dict[str, int] = {}  # framework -> slot threads taking its snippets now
        self._stopping = False
        self._finalizer = weakref.finalize(self, _kill_all, self._workers)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stopping = True
        _kill_all(self._workers)
        if self.cache is not None:
            self.cache.close()

    def key(self, snippet: Snippet) -> str:
        return cache_key(snippet, self.device)

    def workers(self) -> dict[str, int]:
        """Live workers per framework."""
        counts = {name: sum(1 for w in slots if w is not None and w.alive) for name, slots in self._workers.items()}
        return {name: count for name, count in counts.items() if count}

    def run(self, snippets: list[Snippet]) -> list[SnippetResult]:
        """Run ``snippets`` (or take them from the cache); results in the same order."""
        began = time.monotonic()
        for snippet in snippets:
            if snippet.framework not in FRAMEWORKS:
                raise ValueError(f"unknown framework {snippet.framework!r} (known: {', '.join(FRAMEWORKS)})")
        self.stats = stats = RunStats(snippets=len(snippets))
        self._pace = {}
        self._stopping = False
        results: list[SnippetResult | None] = [None] * len(snippets)
        keys = [self.key(snippet) for snippet in snippets]
        if self.cache is not None and not self.force:
            for index, data in _lookup(self.cache, keys):
                results[index] = data
                stats.cached += 1
        pending: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            if results[index] is None:
                pending.setdefault(key, []).append(index)
        by_framework: dict[str, list[tuple[str, Snippet]]] = {}
        for key, indexes in pending.items():
            snippet = snippets[indexes[0]]
            by_framework.setdefault(snippet.framework, []).append((key, snippet))
        stats.executed = len(pending)
        with _terminate_as_interrupt(), \
                Progress(len(pending), f"running examples ({self.device})", self.progress) as bar:
            for key, result in self._execute(by_framework):
                result.produced_on = datetime.now(timezone.utc).date().isoformat()
                for index in pending[key]:
                    results[index] = result
                if self.cache is not None and _cacheable(result):
                    self.cache.put(key, result.to_dict())
                bar.update()
        stats.wall = time.monotonic() - began
        return results  # type: ignore[return-value]

    # -- scheduling

    def _execute(self, groups: dict[str, list[tuple[str, Snippet]]]):
        order = [name for name in FRAMEWORKS if name in groups]
        phases = [order] if self.jobs >= len(order) else [[name] for name in order]
        for phase in phases:
            slots = self._plan(phase, {name: len(groups[name]) for name in phase})
            tasks = {name: queue.Queue() for name in phase}
            for name in phase:
                for item in groups[name]:
                    tasks[name].put(item)
            done: queue.Queue = queue.Queue()
            failed: dict[str, SnippetResult] = {}
            self._feeding = dict(slots)
            threads = [threading.Thread(target=self._feed, args=(name, slot, tasks, done, failed),
                                        name=f"{name}-worker-{slot}", daemon=True)
                       for name in phase for slot in range(slots[name])]
            for thread in threads:
                thread.start()
            remaining = sum(len(groups[name]) for name in phase)
            try:
                while remaining:
                    key, result = done.get()
                    if isinstance(result, BaseException):
                        raise result
                    remaining -= 1
                    yield key, result
            except BaseException:
                self._stopping = True
                _kill_all(self._workers)
                raise
            for thread in threads:
                thread.join()

    def _plan(self, phase: list[str], pending: dict[str, int]) -> dict[str, int]:
        """Worker slots per framework for this phase; closes idle workers to stay within ``jobs``."""
        counts = {name: 1 for name in phase}
        spare = self.jobs - len(phase)
        while spare > 0:
            open_ = [name for name in phase if counts[name] < pending[name]]
            if not open_:
                break
            busiest = max(open_, key=lambda name: pending[name] / counts[name])
            counts[busiest] += 1
            spare -= 1
        for name in self._workers:  # drop dead handles
            self._workers[name] = [w for w in self._workers[name] if w is not None and w.alive]
        slots = {}
        for name in phase:
            alive = len(self._workers.get(name, []))
            slots[name] = max(counts[name], min(alive, pending[name]))

        def total() -> int:
            return sum(max(len(self._workers.get(name, [])), slots.get(name, 0)) for name in
                       set(self._workers) | set(phase))
        others = [name for name in self._workers if name not in phase]
        while total() > self.jobs and any(self._workers[name] for name in others):
            name = next(name for name in others if self._workers[name])
            self._workers[name].pop().close()
        for name in phase:
            workers = self._workers.setdefault(name, [])
            while len(workers) > slots[name] and total() > self.jobs:
                workers.pop().close()
            workers.extend([None] * (slots[name] - len(workers)))
        return slots

    def _feed(self, name: str, slot: int, tasks: dict[str, queue.Queue], done: queue.Queue, failed: dict) -> None:
        """One worker slot's thread: take snippets of its framework; when there are none left, take
        over another framework's (``_move_slot``) or end."""
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        try:
            while not self._stopping:
                try:
                    key, snippet = tasks[name].get_nowait()
                except queue.Empty:
                    moved = self._move_slot(name, slot, tasks, failed)
                    if moved is None:
                        return
                    if moved is _UNDECIDED:
                        time.sleep(0.1)
                    else:
                        name, slot = moved
                    continue
                if name in failed:
                    done.put((key, failed[name]))
                    continue
                workers = self._workers[name]
                worker = workers[slot]
                if worker is None or not worker.alive:
                    if worker is not None:
                        worker.close()
                        self.stats.workers_replaced += 1
                    worker = workers[slot] = WorkerProcess(name, self.device, self.memory_limit, threads)
                    try:
                        worker.start()
                        self.stats.workers_started += 1
                    except WorkerStartError as error:
                        workers[slot] = None
                        failed.setdefault(name, self._start_failure(name, error))
                        done.put((key, failed[name]))
                        continue
                began = time.monotonic()
                result = worker.run(snippet)
                took = time.monotonic() - began
                pace = self._pace.setdefault(name, [0.0, 0])
                pace[0] += took
                pace[1] += 1
                self.stats.round_trips.append(took)
                self.stats.durations.append(result.duration)
                done.put((key, result))
        except BaseException as error:  # noqa: BLE001 - hand it to the main thread, never hang it
            done.put((None, error))

    def _move_slot(self, name: str, slot: int, tasks: dict[str, queue.Queue], failed: dict):
        """The framework and slot this slot's thread goes on with, its own worker closed; ``None``
        where no other framework's waiting snippets are worth another worker (``MOVE_SLOT_SECONDS``);
        ``_UNDECIDED`` while a framework with snippets waiting has not finished one (its pace unknown)."""
        with self._slots:
            others = [other for other in tasks if other != name and other not in failed]
            if any(tasks[other].qsize() and other not in self._pace for other in others):
                return _UNDECIDED

            def waiting_seconds(other: str) -> float:
                seconds, count = self._pace.get(other, (0.0, 1))
                return tasks[other].qsize() * seconds / count / max(1, self._feeding[other])

            busiest = max(others, key=waiting_seconds, default=None)
            self._feeding[name] -= 1
            if busiest is None or waiting_seconds(busiest) < MOVE_SLOT_SECONDS:
                return None
            self._feeding[busiest] += 1
            worker = self._workers[name][slot]
            if worker is not None:
                worker.close()
                self._workers[name][slot] = None
            self._workers[busiest].append(None)
            self.stats.slots_moved += 1
            return busiest, len(self._workers[busiest]) - 1

    def _start_failure(self, name: str, error: Exception) -> SnippetResult:
        return SnippetResult("crash", [], "", "WorkerStartError", protocol.first_line(str(error)), None, 0.0,
                             FRAMEWORKS[name].version or "unknown", self.device,
                             protocol.cpu_name() if self.device == "cpu" else "")


@contextmanager
def _terminate_as_interrupt():
    """While examples run, SIGTERM (a CI cancel) unwinds like Ctrl-C: every worker, everything its
    snippets started and the workers' folders go before the process exits. (Were the builder
    killed outright, each worker's supervisor does the same when the builder's lifeline closes.)"""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def interrupt(number, frame):
        raise KeyboardInterrupt(f"terminated by {signal.Signals(number).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _lookup(cache: ResultCache, keys: list[str]):
    found = cache.get_many(keys)
    broken = []
    for index, key in enumerate(keys):
        data = found.get(key)
        if data is None:
            continue
        try:
            result = SnippetResult.from_dict(data)
        except ValueError:  # a row that is no result: run the snippet again and overwrite it
            broken.append(key)
            continue
        result.cached = True
        yield index, result
    if broken:
        cache.delete(broken)


# ---------------------------------------------------------------- mappings


def snippets_of(mappings) -> list[tuple[tuple[str, int, str], Snippet]]:
    """((source api, example index, side), Snippet) for every side of every example that has code."""
    items = []
    for loaded in mappings:
        mapping = loaded.mapping
        for index, example in enumerate(mapping.examples):
            for side in ("source", "target"):
                code = example.code(side)
                if code is None:
                    continue
                framework = mapping.side_framework(side)
                setup = getattr(example.setup, side) or ""
                items.append(((mapping.source.api, index, side),
                              Snippet(framework.key, code, setup, float(example.timeout))))
    return items


def not_run_reason(example, framework: str, device: str, frameworks=None) -> str | None:
    """Why one side of ``example`` is not run here: its framework does not run on this machine
    (``devices.why_not_here``) or the example is marked ``cpu_only`` and the device is not the CPU."""
    reason = why_not_here(framework, frameworks)
    if reason is None and getattr(example, "cpu_only", False) and device != "cpu":
        reason = "the example is marked cpu_only"
    return reason


def execute_mappings(mappings, *, jobs: int | None = None, device: str = "cpu", cache_path: Path | None = None,
                     force: bool = False, progress: bool = True,
                     executor: Executor | None = None, frameworks=None,
                     uncompared=frozenset()) -> dict[tuple[str, int], ExampleRun]:
    """Run every example of ``mappings`` in one ``Executor.run`` (one shared pool).

    Key: (mapping.source.api, example index). Sides are compared when ``example.same_values``.
    ``executor``, if given, is used (and left open) instead of a new one. A side that does not run
    here (``not_run_reason``; ``frameworks`` limits the frameworks run) has no result and is listed
    in ``ExampleRun.not_run``; no worker starts for it. The examples of the mappings in ``uncompared``
    (source APIs whose page is reused as it is: ``memo``) run, but their sides are not compared.
    """
    skipped: dict[tuple[str, int, str], str] = {}
    items = []
    by_api = {loaded.mapping.source.api: loaded.mapping for loaded in mappings}
    for where, snippet in snippets_of(mappings):
        mapping = by_api[where[0]]
        reason = not_run_reason(mapping.examples[where[1]], snippet.framework, device, frameworks) \
            or package_missing(mapping.side_api(where[2]))
        if reason is None:
            items.append((where, snippet))
        else:
            skipped[where] = reason
    if executor is None:
        with Executor(jobs=jobs, device=device, cache_path=cache_path, force=force, progress=progress) as pool:
            results = pool.run([snippet for _, snippet in items])
    else:
        results = executor.run([snippet for _, snippet in items])
    by_side = {where: result for (where, _), result in zip(items, results)}
    runs: dict[tuple[str, int], ExampleRun] = {}
    for loaded in mappings:
        mapping = loaded.mapping
        for index, example in enumerate(mapping.examples):
            api = mapping.source.api
            source = by_side.get((api, index, "source"))
            target = by_side.get((api, index, "target"))
            not_run = {side: skipped[(api, index, side)] for side in ("source", "target") if (api, index, side) in skipped}
            if api in uncompared:
                comparison = Comparison(NOT_COMPARED, "not compared: the page is reused as it is")
            elif example.same_values and not_run:
                comparison = Comparison(NOT_COMPARED, "not run here: " + "; ".join(not_run.values()))
            elif example.same_values:
                comparison = compare_results(source, target, rtol=example.tolerance.rtol, atol=example.tolerance.atol)
            else:
                comparison = Comparison(NOT_COMPARED, "the example does not set same_values")
            runs[(api, index)] = ExampleRun(source, target, comparison, not_run)
    return runs


def write_report(runs: dict[tuple[str, int], ExampleRun], mappings, path: Path, device: str) -> None:
    """The run as JSON: per example and side, the result, the expectation, and the comparison."""
    summary = {"examples": 0, "snippets": 0, "ok": 0, "error": 0, "timeout": 0, "crash": 0, "cached": 0,
               "expected_failures": 0, "unexpected_failures": 0, "unexpected_successes": 0, "not_run": 0,
               "agree": 0, "disagree": 0, "not_compared": 0}
    entries = []
    for loaded in mappings:
        mapping = loaded.mapping
        examples = []
        for index, example in enumerate(mapping.examples):
            run = runs.get((mapping.source.api, index))
            if run is None:
                continue
            summary["examples"] += 1
            entry: dict = {"index": index, "line": loaded.line_of("examples", index), "same_values": example.same_values,
                           "comparison": run.comparison.to_dict()}
            summary[run.comparison.verdict.replace(" ", "_")] += 1
            for side in ("source", "target"):
                result = getattr(run, side)
                api, framework = mapping.side_api(side), mapping.side_framework(side).key
                if result is None and side in run.not_run:
                    summary["not_run"] += 1
                    entry[side] = {"api": api, "framework": framework, "status": "not run",
                                   "reason": run.not_run[side], "expectation": "not run"}
                    continue
                if result is None:
                    entry[side] = None
                    continue
                declared = example.expected_failure(side, device)
                verdict = expectation(example, side, result, device)
                summary["snippets"] += 1
                summary[result.status] = summary.get(result.status, 0) + 1
                summary["cached"] += result.cached
                summary["expected_failures"] += verdict == "expected-failure"
                summary["unexpected_failures"] += verdict == "unexpected-failure"
                summary["unexpected_successes"] += verdict == "unexpected-success"
                entry[side] = {"api": api, "framework": framework, **result.to_dict(),
                               "expected_failure": declared.model_dump() if declared else None,
                               "expectation": verdict}
            examples.append(entry)
        entries.append({"source": mapping.source.api, "target": mapping.target.api if mapping.target else None,
                        "file": str(loaded.path), "examples": examples})
    names = [result.device_name for run in runs.values() for result in (run.source, run.target)
             if result is not None and result.device_name]
    report = {"generator_version": __version__, "device": device,
              "device_name": names[0] if names else (protocol.cpu_name() if device == "cpu" else ""),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "summary": summary, "mappings": entries}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

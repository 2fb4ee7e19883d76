"""The result model: a snippet, what it printed or raised, and one example's two sides.

What the later stages read (``render``, ``reports``, ``verify``, ``probes``) lives here, apart from
``execute``'s process pool, so reading results never imports the pool.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

from . import __version__
from .compare import Comparison
from .frameworks import FRAMEWORKS


@dataclass(frozen=True)
class Snippet:
    framework: str  # "torch" or "mindspore" (keys of generator.frameworks.FRAMEWORKS)
    code: str
    setup: str = ""  # hidden code run first in the same namespace, not shown, not captured
    timeout: float = 60.0
    # Keyed on in place of ``code`` where the code is costly to make and made only to run (a probe
    # driver: ``probes.probe_identity``); empty: the code is the key.
    identity: str = ""


@dataclass
class StatementOutput:
    line: int  # 1-based last line (in the code) of the top-level statement that printed
    text: str  # what it printed (normalised), without trailing newline
    truncated: bool = False  # the printed text was longer than the output limit (64 KiB)

    def to_dict(self) -> dict:
        data = {"line": self.line, "text": self.text}
        if self.truncated:
            data["truncated"] = True
        return data


@dataclass
class SnippetResult:
    status: str  # "ok" | "error" | "timeout" | "crash"
    outputs: list[StatementOutput]
    stderr: str  # warnings and C++ log lines, kept apart from printed output
    error_type: str | None  # "RuntimeError"; crash: "Signal" / "Exit" ("WorkerStartError", "WorkerError"
    #                         when the worker itself failed); timeout: "Timeout"
    error_message: str | None  # first non-empty line of the message
    error_line: int | None  # line in the code of the statement that raised, if known
    duration: float  # seconds the snippet's statements ran (setup excluded)
    framework_version: str
    device: str  # "cpu" | "gpu" | "ascend": where the framework really ran
    device_name: str  # processor model or GPU model
    cached: bool = False
    traceback: str | None = None  # the formatted traceback of an error, for diagnosis
    produced_on: str = ""  # UTC date the snippet really ran (kept when the result comes from the cache)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def text(self) -> str:
        """Everything printed, statement after statement."""
        return "\n".join(output.text for output in self.outputs)

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "outputs": [output.to_dict() for output in self.outputs],
            "stderr": self.stderr,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "error_line": self.error_line,
            "duration": self.duration,
            "framework_version": self.framework_version,
            "device": self.device,
            "device_name": self.device_name,
            "cached": self.cached,
            "traceback": self.traceback,
            "produced_on": self.produced_on,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SnippetResult:
        """The result that ``to_dict`` gave. Anything else (a cache row or a report that was damaged
        or edited) raises ``ValueError``, never another exception: not an object, a status that
        is not one of ``STATUSES``, a value of the wrong type, a duration that is not finite."""
        if not isinstance(data, dict):
            raise ValueError(f"a result is an object, not {type(data).__name__}")
        status = _typed(data, "status", str)
        if status not in STATUSES:
            raise ValueError(f"unknown status {status[:40]!r}")
        duration = _typed(data, "duration", (int, float), 0.0)
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"duration {duration} is not a finite number of seconds")
        return cls(
            status=status,
            outputs=[_statement_output(item) for item in _typed(data, "outputs", list)],
            stderr=_typed(data, "stderr", str, ""),
            error_type=_typed(data, "error_type", (str, type(None))),
            error_message=_typed(data, "error_message", (str, type(None))),
            error_line=_typed(data, "error_line", (int, type(None))),
            duration=float(duration),
            framework_version=_typed(data, "framework_version", str, ""),
            device=_typed(data, "device", str, ""),
            device_name=_typed(data, "device_name", str, ""),
            cached=_typed(data, "cached", bool, False),
            traceback=_typed(data, "traceback", (str, type(None))),
            produced_on=_typed(data, "produced_on", str, ""),
        )


STATUSES = ("ok", "error", "timeout", "crash")


def _statement_output(item: object) -> StatementOutput:
    if not isinstance(item, dict):
        raise ValueError(f"an output is an object, not {type(item).__name__}")
    return StatementOutput(_typed(item, "line", int), _typed(item, "text", str), _typed(item, "truncated", bool, False))


def _typed(data: dict, name: str, kinds: type | tuple[type, ...], default: object = None):
    """``data[name]`` (``default`` where absent) if it is one of ``kinds``, else ``ValueError``.
    A bool is no number here, though Python counts it as an int."""
    value = data.get(name, default)
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"`{name}` holds {type(value).__name__}, not {' or '.join(kind.__name__ for kind in kinds)}")
    return value


def cache_key(snippet: Snippet, device: str, framework_version: str | None = None) -> str:
    """sha256 over everything that decides what a snippet prints."""
    if framework_version is None:
        framework_version = FRAMEWORKS[snippet.framework].version or "unknown"
    parts = [snippet.code, snippet.setup, snippet.framework, framework_version, device, __version__,
             float(snippet.timeout)]
    if snippet.identity:
        parts[0] = f"identity {snippet.identity}"
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass
class ExampleRun:
    """One example of one mapping after execution."""

    source: SnippetResult | None
    target: SnippetResult | None
    comparison: Comparison
    not_run: dict[str, str] = field(default_factory=dict)  # side -> why it did not run here (``devices``)


def failure_text(result: SnippetResult) -> str:
    """How a failure is shown on pages and in reports, and what declared failures are matched against:
    "<error type>: <first line of the message>", e.g. "RuntimeError: The kernel X unregistered."."""
    kind = result.error_type or result.status
    return f"{kind}: {result.error_message}" if result.error_message else kind


def expectation(example, side: str, result: SnippetResult | None, device: str) -> str:
    """"ok", "expected-failure", "unexpected-failure", "unexpected-success" or "not run".

    A failure is expected when the example declares one for this side and device and its
    ``error`` text is in ``failure_text(result)``. A run that succeeds where a failure is declared is
    "unexpected-success", unless the declaration says the failure is machine-dependent.
    """
    if result is None:
        return "not run"
    declared = example.expected_failure(side, device)
    if result.status == "ok":
        return "unexpected-success" if declared is not None and not declared.machine_dependent else "ok"
    if declared is None:
        return "unexpected-failure"
    return "expected-failure" if declared.error in failure_text(result) else "unexpected-failure"

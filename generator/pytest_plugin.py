"""pytest plugin: ``pytest mappings/`` collects every mapping's checks as test items.

Items of ``mappings/torch.nn/L1Loss.yaml``:
  ::schema                  only when the file is invalid (the problems are the failure)
  ::source-signature        the listed parameters match the installed API (skipped if not introspectable)
  ::target-signature
  ::example-1-source        the snippet runs (a declared failure for this device is an xfail)
  ::example-1-target
  ::example-1-agreement     both sides print the same values (only with same_values)

So ``-k``, ``-x``, ``--lf`` and pytest-xdist's ``-n`` work as for any test. Examples share one
warm executor per pytest process and the output cache that ``make html`` uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .loader import LoadedMapping, load_file
from .pipeline import DEFAULT_CACHE
from .schema import DEVICES

_EXECUTOR = pytest.StashKey[object]()
_RUNS = pytest.StashKey[dict]()


class MappingCheckFailed(Exception):
    """A check failed; the message is the whole report (no traceback is shown)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("api-mappings", "API mapping checks (pytest mappings/)")
    group.addoption("--mapping-device", choices=DEVICES, default="cpu", help="device the examples run on")
    group.addoption("--mapping-jobs", type=int, default=2, help="example workers per pytest process (default 2)")
    group.addoption("--mapping-cache", default=str(DEFAULT_CACHE), help="output cache file; '' for none")
    group.addoption("--mapping-force", action="store_true", help="ignore cached outputs")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in (".yaml", ".yml") and "mappings" in file_path.parts[:-1]:
        return MappingFile.from_parent(parent, path=file_path)
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    executor = config.stash.get(_EXECUTOR, None)
    if executor is not None:
        executor.close()


class MappingFile(pytest.File):
    def collect(self):
        loaded, problems = load_file(self.path)
        if loaded is None:
            yield SchemaItem.from_parent(self, name="schema", problems=[str(problem) for problem in problems])
            return
        from .verify import planned_checks

        for index, part in planned_checks(loaded.mapping):
            if index is None:
                yield SignatureItem.from_parent(self, name=f"{part}-signature", loaded=loaded, side=part)
            elif part == "agreement":
                yield AgreementItem.from_parent(self, name=f"example-{index + 1}-agreement", loaded=loaded, index=index)
            else:
                yield ExampleItem.from_parent(self, name=f"example-{index + 1}-{part}", loaded=loaded,
                                              index=index, side=part)
        if loaded.mapping.probes is not None:
            yield ProbesItem.from_parent(self, name="probes", loaded=loaded)


class MappingItem(pytest.Item):
    line_path: tuple = ()

    def __init__(self, *, loaded: LoadedMapping | None = None, **kwargs):
        super().__init__(**kwargs)
        self.loaded = loaded

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MappingCheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        line = self.loaded.line_of(*self.line_path) if self.loaded else 1
        return self.path, line - 1, f"{self.path.name}::{self.name}"

    def example_run(self, index: int):
        """The run of example ``index``; the first request runs all of this mapping's examples."""
        from .execute import execute_mappings

        config = self.config
        runs = config.stash.setdefault(_RUNS, {})
        key = (self.loaded.mapping.source.api, index)
        if key not in runs:
            runs.update(execute_mappings([self.loaded], device=self.device, executor=self.executor()))
        return runs[key]

    def executor(self):
        """The session's one executor (warm workers, the cache), started on first use."""
        from .execute import Executor

        config = self.config
        executor = config.stash.get(_EXECUTOR, None)
        if executor is None:
            cache = config.getoption("--mapping-cache")
            executor = Executor(jobs=config.getoption("--mapping-jobs"), device=self.device,
                                cache_path=Path(cache) if cache else None,
                                force=config.getoption("--mapping-force"), progress=False)
            config.stash[_EXECUTOR] = executor
        return executor

    @property
    def device(self) -> str:
        return self.config.getoption("--mapping-device")


class SchemaItem(MappingItem):
    def __init__(self, *, problems: list[str], **kwargs):
        super().__init__(**kwargs)
        self.problems = problems

    def runtest(self) -> None:
        raise MappingCheckFailed("\n".join(self.problems))


class SignatureItem(MappingItem):
    def __init__(self, *, side: str, **kwargs):
        super().__init__(**kwargs)
        self.side = side
        self.line_path = (*(int(part) if part.isdigit() else part for part in side.split(".")), "api")

    def runtest(self) -> None:
        from .verify import ERROR, side_findings

        findings = side_findings(self.loaded, self.side)
        errors = [str(finding) for finding in findings if finding.severity == ERROR]
        if errors:
            raise MappingCheckFailed("\n".join(errors))
        if findings:
            pytest.skip(findings[0].message)


class ExampleItem(MappingItem):
    def __init__(self, *, index: int, side: str, **kwargs):
        super().__init__(**kwargs)
        self.index, self.side = index, side
        self.line_path = ("examples", index, side)

    def runtest(self) -> None:
        from .verify import example_findings_of

        run = self.example_run(self.index)
        if self.side in run.not_run:
            pytest.skip(f"not run here: {run.not_run[self.side]}")
        problems = example_findings_of(self.loaded, self.index, self.side, run, self.device)
        if problems:
            raise MappingCheckFailed("\n".join(str(problem) for problem in problems))
        result = getattr(run, self.side)
        if not result.ok:
            pytest.xfail(f"declared failure on {self.device}: {result.error_type}: {result.error_message}")


class AgreementItem(MappingItem):
    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index
        self.line_path = ("examples", index, "same_values")

    def runtest(self) -> None:
        comparison = self.example_run(self.index).comparison
        if comparison.verdict == "disagree":
            raise MappingCheckFailed(f"{self.loaded.path}:{self.loaded.line_of(*self.line_path)}: "
                                     f"the two sides disagree: {comparison.detail}")
        if comparison.verdict != "agree":
            pytest.skip(f"not compared: {comparison.detail}")


class ProbesItem(MappingItem):
    """The claims of a mapping against its differential probes (``verify.probe_findings``)."""

    line_path = ("probes",)

    def runtest(self) -> None:
        from .probes import run_probes
        from .verify import probe_findings

        probed = run_probes([self.loaded], self.executor())
        if not probed:
            pytest.skip("not run here: a framework of the probes is not installed")
        problems = probe_findings(self.loaded, probed)
        if problems:
            raise MappingCheckFailed("\n".join(str(problem) for problem in problems))

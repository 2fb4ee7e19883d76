"""Merge JSON run reports from several machines into a device support matrix.

Each ``run --report`` / ``verify --report`` file describes one device (and perhaps one shard,
or one framework: ``--frameworks torch``). ``merge`` folds them into::

    {"devices": ["cpu: AMD EPYC 7B13", "gpu: NVIDIA H100 80GB HBM3"],
     "mappings": {"torch.nn.L1Loss": {"1": {"cpu: AMD EPYC 7B13": {"source": CELL, "target": CELL}}}}}

keyed by device kind and model (``devices.device_label``), so two GPU models never overwrite
each other. CELL is ``{"status", "error", "version", "device_name"}``; a side that was not run
on that machine has status "not run" and never replaces a cell that another report filled, so a
torch-only GPU report and a CPU report of both sides merge into one matrix. Pages render it as a
table per example: which device ran which side, or failed with which error, under which versions.

Reports and matrices are files someone hands over: one that is not UTF-8 JSON of the shape written
here (a list where an object belongs, a number where text does, a result that is no result) is a
``ReportError`` naming the file and the first wrong value, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .devices import device_label
from .results import SnippetResult, failure_text

SIDES = ("source", "target")


class ReportError(Exception):
    pass


class _Example(BaseModel):
    model_config = ConfigDict(strict=True)
    index: int = Field(ge=0)
    source: dict | None = None  # a result (``SnippetResult.from_dict`` reads it) or a side not run
    target: dict | None = None


class _ReportedMapping(BaseModel):
    model_config = ConfigDict(strict=True)
    source: str
    examples: list[_Example] = []


class _Report(BaseModel):
    """What ``execute.write_report`` writes, as far as ``merge`` reads it."""

    model_config = ConfigDict(strict=True)
    device: str
    device_name: str | None = None
    mappings: list[_ReportedMapping]


def read_report(path: Path) -> dict:
    report = _read_json(path, "report")
    _check(_Report, report, f"{path}: not a run report (needs `device` and `mappings`)")
    return report


def _read_json(path: Path, what: str) -> object:
    """The JSON in ``path``; ``ReportError`` naming the file for anything that is not UTF-8 JSON."""
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as error:
        raise ReportError(f"{path}: cannot read {what}: {error.strerror or error}") from None
    except RecursionError:
        raise ReportError(f"{path}: cannot read {what}: JSON nested too deeply") from None
    except ValueError as error:  # not UTF-8, or not JSON
        raise ReportError(f"{path}: cannot read {what}: {error}") from None


def _check(model: type[BaseModel], data: object, failure: str) -> None:
    """``ReportError`` (``failure``, then the first value of the wrong type and its JSON path)
    unless ``data`` is what ``model`` describes."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ReportError(f"{failure}: {where + ': ' if where else ''}{first['msg']}") from None


def _cell(side: dict) -> dict:
    """The matrix cell of one side of a report; ``ValueError`` for a side that is no result."""
    if side.get("status") == "not run":
        reason = side.get("reason")
        if not isinstance(reason, (str, type(None))):
            raise ValueError(f"`reason` holds {type(reason).__name__}, not text")
        return {"status": "not run", "error": None, "version": None, "device_name": None, "reason": reason}
    result = SnippetResult.from_dict(side)
    return {
        "status": result.status,
        "error": None if result.ok else failure_text(result),
        "version": result.framework_version,
        "device_name": result.device_name,
    }


def merge(paths: list[Path]) -> dict:
    """One matrix from many reports; a later report wins where two describe the same cell."""
    devices: list[str] = []
    mappings: dict[str, dict[str, dict[str, dict]]] = {}
    for path in paths:
        report = read_report(path)
        device = device_label(report["device"], report.get("device_name"))
        if device not in devices:
            devices.append(device)
        for mapping in report["mappings"]:
            examples = mappings.setdefault(mapping["source"], {})
            for example in mapping.get("examples", []):
                cells = examples.setdefault(str(example["index"] + 1), {}).setdefault(device, {})
                for side in SIDES:
                    if not example.get(side):
                        continue
                    try:
                        cell = _cell(example[side])
                    except ValueError as error:
                        raise ReportError(f"{path}: not a run report: {mapping['source']}, example "
                                          f"{example['index'] + 1}, {side}: {error}") from None
                    if cell["status"] != "not run" or side not in cells:
                        cells[side] = cell
    return {"devices": devices, "mappings": mappings}


def write_merged(paths: list[Path], out: Path) -> dict:
    matrix = merge(paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(matrix, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return matrix


class _Cell(BaseModel):
    model_config = ConfigDict(strict=True)
    status: str
    error: str | None = None
    version: str | None = None
    device_name: str | None = None
    reason: str | None = None


class _Matrix(BaseModel):
    """What ``merge`` writes, as far as pages read it; other keys are left alone."""

    model_config = ConfigDict(strict=True)
    devices: list[str] = []
    mappings: dict[str, dict[str, dict[str, dict[str, _Cell | None]]]]


def read_matrix(path: Path | None) -> dict:
    """The merged device matrix at ``path`` ({} for None); ``ReportError`` for a file that cannot be
    read or is not what ``merge`` writes, naming the first value of the wrong type."""
    if path is None:
        return {}
    matrix = _read_json(path, "the device matrix")
    _check(_Matrix, matrix, f"{path}: not a merged device matrix (run `python -m generator merge-reports`)")
    return matrix


def example_matrix(matrix: dict, api: str, number: int) -> list[tuple[str, dict | None, dict | None]]:
    """(device, source cell, target cell) rows for one example, in the matrix's device order."""
    per_device = matrix.get("mappings", {}).get(api, {}).get(str(number), {})
    return [(device, per_device[device].get("source"), per_device[device].get("target"))
            for device in matrix.get("devices", []) if device in per_device]

"""The render memo on disk (``memo``): plain data, so that reading it can never run code.

The file (``MEMO_NAME`` in the output folder) is two lines of JSON: a header, then the body::

    {"format": "render-memo", "version": 2, "context": "<render context>", "sha256": "<digest>"}
    {"<mapping file>": {"sha": ..., "page": ..., "digest": ..., "keys": [...], "size": ...,
                        "mtime_ns": ..., "loaded": {"data": {...}, "positions": [...], "text_starts": [...]}}}

``sha256`` digests the format, the version, the context and the body's bytes. ``read`` returns the
entries only when the header is exactly the one this build would write for that body (same format,
version and context, matching digest) and every entry has the fields and JSON types of ``Entry``;
anything else (no file, a truncated, corrupted or edited one, an older version or format, a value of
the wrong type) raises ``MemoRejected`` and the caller renders every page again. The memo of older
builds (``LEGACY_NAMES``, a pickle) is never opened: ``remove_legacy`` deletes it.

The digest has no secret: it detects damage, not a forger who recomputes it. A forged memo still
runs nothing and says no more than a mapping file could: at most ``MAX_MEMO_BYTES`` are read, only
a regular file is opened, and a mapping is rebuilt from its stored YAML data by ``schema.Mapping``'s
validation, as ``loader`` builds it (``loaded_from``); data that does not validate is parsed again
from its YAML file.

A mapping is stored as the plain data its YAML file gave (``LoadedMapping.data``), so validating
it again gives the model the file gives, and the positions as a flat list of line and column
numbers in the order of a walk over that data (``field_paths``), which is the order in which
``loader`` records them. Data that JSON would not give back as it is (a non-text key, a value of
another type) is not stored: that file is parsed again on every build.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .loader import FieldPath, LoadedMapping
from .manifest import write_atomically
from .schema import Mapping

MEMO_NAME = ".render-memo.json"
LEGACY_NAMES = (".render-memo.pickle",)  # earlier builds' memos: never read, removed when a memo is saved
MEMO_FORMAT = "render-memo"
MEMO_VERSION = 2
MAX_MEMO_BYTES = 256 << 20  # about 25 times the memo of 1,000 mappings

_JSON_SCALARS = (str, int, float, bool, type(None))


class MemoRejected(Exception):
    """The memo on disk is absent or not to be trusted; the message says why."""


class _Stored(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StoredMapping(_Stored):
    """A ``LoadedMapping`` as plain data (``stored_mapping``; back with ``loaded_from``)."""

    data: dict[str, Any]  # the YAML as plain data: validated by ``schema.Mapping`` when used
    positions: list[int]  # line, column of each path of ``field_paths(data)``, in that order
    text_starts: list[int]  # index into those paths, first line of the text; per block scalar


class Entry(_Stored):
    """What the memo records of one mapping file (see ``memo``)."""

    sha: str  # sha256 of the YAML file's bytes
    page: str  # the page's path in the output folder
    digest: str | None  # of the results' texts (``memo.results_digest``; None: some result is not cached)
    keys: list[str] = []  # of the results (``memo.result_keys``: a function of the bytes and the context)
    size: int = -1  # the page on disk, as last written or checked
    mtime_ns: int = -1
    loaded: StoredMapping | None = None  # None: the file is parsed again


class _Body(BaseModel):
    model_config = ConfigDict(strict=True)
    entries: dict[str, Entry]


# -- the file

def read(path: Path, context: str) -> dict[str, Entry]:
    """The entries of the memo at ``path`` written with ``context``; ``MemoRejected`` if there is
    none, or it is damaged, edited, of another version or of another render context."""
    blob = _read_bounded(path)
    header, newline, body = blob.partition(b"\n")
    if not newline:
        raise MemoRejected("no line break after the header (a truncated file, or not a memo)")
    try:
        _check_header(json.loads(header), _header(context, body))
        return _Body.model_validate({"entries": json.loads(body)}).entries
    except (ValueError, RecursionError) as error:  # ValidationError and JSONDecodeError are ValueErrors
        raise MemoRejected(f"not valid memo data: {str(error).splitlines()[0]}") from None


def write(path: Path, context: str, entries: dict[str, Entry]) -> None:
    """Write the memo atomically; ``OSError`` or ``ValueError`` (data JSON cannot hold) if not."""
    body = json.dumps({where: entry.model_dump() for where, entry in entries.items()},
                      separators=(",", ":")).encode()
    write_atomically(path, file_bytes(context, body))


def remove_legacy(folder: Path) -> None:
    for name in LEGACY_NAMES:
        (folder / name).unlink(missing_ok=True)


def file_bytes(context: str, body: bytes) -> bytes:
    """The memo file holding ``body`` (the entries as JSON) for ``context``: its header line, then ``body``."""
    return json.dumps(_header(context, body)).encode() + b"\n" + body


_MISMATCHES = {
    "format": "not a render memo",
    "version": f"written in another version of the format (this build reads version {MEMO_VERSION})",
    "context": "written for another render context (generator, templates, versions, options)",
    "sha256": "its digest does not match its content (a truncated, damaged or edited file)",
}


def _check_header(found: object, expected: dict) -> None:
    if not isinstance(found, dict):
        raise MemoRejected("the header is not a JSON object")
    for field, mismatch in _MISMATCHES.items():
        if found.get(field) != expected[field]:
            raise MemoRejected(mismatch)
    if found != expected:
        raise MemoRejected(f"unknown header fields: {', '.join(sorted(set(found) - set(expected)))}")


def _header(context: str, body: bytes) -> dict:
    digest = hashlib.sha256(f"{MEMO_FORMAT}\0{MEMO_VERSION}\0{context}\0".encode() + body).hexdigest()
    return {"format": MEMO_FORMAT, "version": MEMO_VERSION, "context": context, "sha256": digest}


def _read_bounded(path: Path) -> bytes:
    """The file's bytes; never blocks on a FIFO nor reads a device or more than ``MAX_MEMO_BYTES``."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise MemoRejected(f"cannot open it: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise MemoRejected("not a regular file")
        try:
            blob = stream.read(MAX_MEMO_BYTES + 1)
        except OSError as error:
            raise MemoRejected(f"cannot read it: {error.strerror}") from None
    if len(blob) > MAX_MEMO_BYTES:
        raise MemoRejected(f"larger than {MAX_MEMO_BYTES} bytes")
    return blob


# -- one mapping

def stored_mapping(loaded: LoadedMapping) -> StoredMapping | None:
    """``loaded`` as plain data, or None when JSON would not give its data back as it is."""
    if not loaded.data or not _json_faithful(loaded.data):
        return None
    paths = field_paths(loaded.data)
    if paths != list(loaded.positions):
        return None
    index = {path: number for number, path in enumerate(paths)}
    if any(path not in index for path in loaded.text_starts):
        return None
    return StoredMapping.model_construct(
        data=loaded.data,
        positions=[number for path in paths for number in loaded.positions[path]],
        text_starts=[number for path, line in loaded.text_starts.items() for number in (index[path], line)])


def loaded_from(path: Path, stored: StoredMapping) -> LoadedMapping | None:
    """The mapping of the file at ``path`` as ``stored``, validated as ``loader`` validates a file;
    None when the data is not a valid mapping or the positions do not fit it."""
    try:
        mapping = Mapping.model_validate(stored.data)
    except (ValueError, RecursionError):  # a ValidationError, or a validator that gave up
        return None
    paths = field_paths(stored.data)
    flat, starts = stored.positions, stored.text_starts
    if len(flat) != 2 * len(paths) or len(starts) % 2 or not all(0 <= number < len(paths) for number in starts[::2]):
        return None
    positions = dict(zip(paths, zip(flat[::2], flat[1::2])))
    text_starts = {paths[number]: line for number, line in zip(starts[::2], starts[1::2])}
    return LoadedMapping(path, mapping, positions, text_starts, stored.data)


def field_paths(data: Any) -> list[FieldPath]:
    """Every path in ``data``, each before its children, keys and items in order: the order in
    which ``loader`` records positions. Only for data whose depth is bounded: a file's (``loader``
    bounds it) or data that ``schema.Mapping`` accepted."""
    paths: list[FieldPath] = []
    _walk(data, (), paths)
    return paths


def _walk(value: Any, here: FieldPath, paths: list[FieldPath]) -> None:
    paths.append(here)
    if type(value) is dict:
        for key, item in value.items():
            _walk(item, (*here, key), paths)
    elif type(value) is list:
        for number, item in enumerate(value):
            _walk(item, (*here, number), paths)


def _json_faithful(data: Any) -> bool:
    """JSON gives ``data`` back with the same types: text keys, JSON's scalars, lists and mappings."""
    stack = [data]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            if not all(type(key) is str for key in value):
                return False
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
        elif type(value) not in _JSON_SCALARS:
            return False
    return True


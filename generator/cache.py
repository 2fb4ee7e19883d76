"""A small sqlite cache of snippet results, in the spirit of jupyter-cache.

One table, ``results(key, result, created)``: the key is a sha256 (see ``execute.cache_key``),
the result a JSON object (``SnippetResult.to_dict()``). The file is never trusted blindly: a file
that is not an sqlite database, fails ``PRAGMA quick_check``, or raises a database error later is
reported with a warning naming it, moved aside to ``<name>.corrupt`` and rebuilt empty. A cache
that cannot be WRITTEN (a read-only file or folder, a full disk) is not corrupt: it warns once,
keeps serving what it holds (opened read-only if need be) and saves nothing more. If even a fresh
file cannot be created, the cache warns once and works as an empty, write-nothing cache.

A row is never trusted either: one that is not a JSON object in UTF-8 (bytes that do not decode,
``NaN``, ``Infinity`` or a number too large for a float, JSON nested past the decoder's recursion
limit, a list, a number) is dropped and counts as a miss, and so is an object that is no result
(``results.SnippetResult.from_dict`` decides, in ``execute``): the snippet runs again and its new
result overwrites the row.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Iterable

SCHEMA = 1
_BATCH = 500  # keys per SELECT ... IN (...)


class CacheWarning(UserWarning):
    """The cache file was unusable and has been set aside or bypassed."""


class ResultCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db: sqlite3.Connection | None = None
        self.writable = True
        self._open()

    # -- opening and recovery

    def _open(self) -> None:
        try:
            self.db = self._connect()
            return
        except sqlite3.DatabaseError as error:
            if _busy(error):
                warnings.warn(f"result cache {self.path} is busy ({error}); running without a cache",
                              CacheWarning, stacklevel=3)
                return
            if _cannot_write(error) and self._open_read_only(error):
                return
            self._set_aside(error)
        try:
            self.db = self._connect()
        except (sqlite3.Error, OSError) as error:
            warnings.warn(f"result cache {self.path} cannot be used ({error}); running without a cache",
                          CacheWarning, stacklevel=3)
            self.db = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            check = db.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else 'no answer'}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is not None and row[0] != str(SCHEMA):
                db.execute("DROP TABLE IF EXISTS results")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
            db.execute("CREATE TABLE IF NOT EXISTS results "
                       "(key TEXT PRIMARY KEY, result TEXT NOT NULL, created REAL NOT NULL)")
        except BaseException:
            db.close()
            raise
        return db

    def _open_read_only(self, error: Exception) -> bool:
        """Serve an existing, sound file that cannot be written; False if there is none."""
        if not self.path.is_file():
            return False
        try:
            db = sqlite3.connect(f"{self.path.absolute().as_uri()}?immutable=1", uri=True, isolation_level=None)
            check = db.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                db.close()
                return False
            db.execute("SELECT key, result FROM results LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        self.db = db
        self._read_only(error)
        return True

    def _read_only(self, error: Exception) -> None:
        if self.writable:
            warnings.warn(f"result cache {self.path} cannot be written ({error}); its results are used, "
                          f"new ones are not saved", CacheWarning, stacklevel=4)
        self.writable = False

    def _set_aside(self, error: Exception) -> None:
        self.close()
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
            where = f"moved to {aside}"
        except OSError:
            where = "could not be moved"
            try:
                self.path.unlink()
                where = "deleted"
            except OSError:
                pass
        for suffix in ("-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except OSError:
                pass
        warnings.warn(f"result cache {self.path} is corrupt or unreadable ({error}); {where}, rebuilding it",
                      CacheWarning, stacklevel=4)

    def _failed(self, error: sqlite3.DatabaseError) -> None:
        """A database error while in use: a busy file is skipped, anything else is corruption."""
        if _busy(error):
            warnings.warn(f"result cache {self.path} is busy ({error}); results not read or saved this time",
                          CacheWarning, stacklevel=4)
            return
        if _cannot_write(error):
            self._read_only(error)
            return
        self._set_aside(error)
        self._open()

    # -- use

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        """The stored results of those ``keys`` that are in the cache."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict] = {}
        if self.db is None or not keys:
            return found
        bad: list[str] = []
        try:
            for key, stored in self._rows(keys):
                value = _object_of(stored)
                if value is None:
                    bad.append(key)
                else:
                    found[key] = value
            if bad and self.writable:
                self.db.executemany("DELETE FROM results WHERE key = ?", [(key,) for key in bad])
        except sqlite3.DatabaseError as error:
            self._failed(error)
            return {}
        return found

    def texts(self, keys: Iterable[str]) -> dict[str, str]:
        """The stored texts (JSON, unparsed) of those ``keys`` that are in the cache."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        if self.db is None or not keys:
            return found
        try:
            for key, stored in self._rows(keys):
                text = _text_of(stored)
                if text is not None:
                    found[key] = text
        except sqlite3.DatabaseError as error:
            self._failed(error)
            return {}
        return found

    def _rows(self, keys: list[str]):
        """(key, stored bytes) of those ``keys`` that are in the cache. As bytes: a text that is
        not UTF-8 is the row's problem, where sqlite3 would fail the whole query."""
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start:start + _BATCH]
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(f"SELECT key, CAST(result AS BLOB) FROM results WHERE key IN ({marks})", chunk)

    def get(self, key: str) -> dict | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, result: dict) -> None:
        self.put_many([(key, result)])

    def put_many(self, items: Iterable[tuple[str, dict]]) -> None:
        rows = [(key, json.dumps(result), time.time()) for key, result in items]
        if self.db is None or not rows or not self.writable:
            return
        try:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", rows)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            if self.db is not None and self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self._failed(error)

    def delete(self, keys: Iterable[str]) -> None:
        if self.db is None or not self.writable:
            return
        try:
            self.db.executemany("DELETE FROM results WHERE key = ?", [(key,) for key in keys])
        except sqlite3.DatabaseError as error:
            self._failed(error)

    def __len__(self) -> int:
        if self.db is None:
            return 0
        try:
            return self.db.execute("SELECT count(*) FROM results").fetchone()[0]
        except sqlite3.DatabaseError as error:
            self._failed(error)
            return 0

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _text_of(stored: object) -> str | None:
    try:
        return stored.decode("utf-8") if isinstance(stored, bytes) else None
    except UnicodeDecodeError:
        return None


def _object_of(stored: object) -> dict | None:
    """The JSON object a row holds, or None for anything else; only finite numbers."""
    text = _text_of(stored)
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_not_finite, parse_float=_finite_float)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder recurses
        return None
    return value if isinstance(value, dict) else None


def _not_finite(constant: str) -> float:
    raise ValueError(f"{constant} is no result value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large for a float")
    return value


def _busy(error: sqlite3.DatabaseError) -> bool:
    return isinstance(error, sqlite3.OperationalError) and any(
        word in str(error).lower() for word in ("locked", "busy"))


def _cannot_write(error: sqlite3.DatabaseError) -> bool:
    """A failure to write (permissions, a full disk), as opposed to a damaged file."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and any(
        words in text for words in ("readonly", "read-only", "disk is full", "disk i/o error", "unable to open",
                                    "no space", "permission"))

"""What the generator wrote into a folder that it shares with people: the folder's manifest.

A folder the generator writes into (``run --output DIR``, ``docs/api``, a language's copy of
``docs/``) may also hold files that are not the generator's: notes, drafts, other tools' output.
The manifest, ``.generated.json`` in that folder, lists every file the generator wrote there (its
size and sha256 as written) and every folder it created. The rules that follow from it:

* a file is removed only if it is listed and its bytes are still those recorded (a listed file
  changed since is somebody's now: it is dropped from the manifest and left alone);
* a file is replaced only if it is listed, or already holds the new bytes; anything else in the way
  of a generated file is a ``ForeignFile`` error, before anything is written;
* a folder is removed only if it is listed and empty; the folder of the manifest never is.

The manifest is written atomically (a temporary file renamed over it), so a killed writer leaves
the old one or the new one. A missing or unreadable manifest lists nothing: nothing is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_NAME = ".generated.json"
MANIFEST_VERSION = 1
TEMPORARY_SUFFIX = ".gen.tmp"  # of every temporary file the generator writes (``temporary_for``)


class ForeignFile(Exception):
    """A file the generator must write is in the way and was not written by the generator."""

    def __init__(self, path: Path, manifest: Path):
        self.path = path
        super().__init__(f"{path} is in the way: the generator did not write it (it is not listed in {manifest}); "
                         f"move it away or choose another output folder")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def temporary_for(target: Path) -> str:
    """The prefix of the temporary files written on the way to ``target``: ``.NAME.XXXXXXXX.gen.tmp``."""
    return f".{target.name}."


def is_temporary(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX)


@dataclass
class Manifest:
    folder: Path
    files: dict[str, dict] = field(default_factory=dict)  # relative posix path -> {"size", "sha256"}
    folders: set[str] = field(default_factory=set)  # relative posix paths of folders the generator made
    existed: bool = False  # a manifest was on disk when this one was read

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        manifest = cls(Path(folder))
        try:
            stored = json.loads(manifest.path.read_text(encoding="utf-8"))
            if stored.get("version") == MANIFEST_VERSION:
                manifest.files = {str(name): dict(record) for name, record in stored["files"].items()}
                manifest.folders = {str(name) for name in stored["folders"]}
            manifest.existed = True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # none, or unreadable: it lists nothing, so nothing is removed
        return manifest

    def record(self, relative: str, data: bytes) -> None:
        self.files[relative] = {"size": len(data), "sha256": digest(data)}

    def forget(self, relative: str) -> None:
        self.files.pop(relative, None)

    def lists(self, relative: str) -> bool:
        return relative in self.files

    def unchanged(self, relative: str) -> bool:
        """``relative`` is listed and still holds the bytes recorded (a different size needs no reading)."""
        record = self.files.get(relative)
        path = self.folder / relative
        try:
            if record is None or not path.is_file() or path.stat().st_size != record["size"]:
                return False
            return digest(path.read_bytes()) == record["sha256"]
        except OSError:
            return False

    def make_folder(self, folder: Path) -> None:
        """Create ``folder`` (inside ``self.folder``) and its missing parents, listing those it creates."""
        missing = []
        while not folder.exists() and folder != self.folder:
            missing.append(folder)
            folder = folder.parent
        self.folder.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            created.mkdir(exist_ok=True)
            self.folders.add(created.relative_to(self.folder).as_posix())

    def remove_empty_folders(self) -> None:
        """Remove the listed folders that are empty now, deepest first; forget those that are gone."""
        for relative in sorted(self.folders, key=lambda name: name.count("/"), reverse=True):
            folder = self.folder / relative
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                continue  # not empty (or not ours to change): it stays, and stays listed
            self.folders.discard(relative)

    def save(self) -> None:
        text = json.dumps({"version": MANIFEST_VERSION, "files": dict(sorted(self.files.items())),
                           "folders": sorted(self.folders)}, indent=1)
        with suppress(OSError):
            if self.path.read_text(encoding="utf-8") == text:
                return  # a no-op build changes nothing in the folder
        write_atomically(self.path, text.encode("utf-8"))


def write_atomically(target: Path, data: bytes) -> None:
    """``target`` holds ``data`` or what it held before, never a part: a temporary file beside it,
    renamed over it. On failure the temporary file is removed and the error raised."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=temporary_for(target), suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as stream:
            readable_by_all(stream.fileno())
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def readable_by_all(descriptor: int) -> None:
    """A temporary file is made private (0600); what it becomes is a page anyone may read, as before."""
    os.fchmod(descriptor, 0o644)

"""Atomic publication of a built site: a site folder is replaced whole, or not at all.

A language's site ``<out>/<language>`` is never written by Sphinx. Sphinx builds into the work
folder next to it, ``<out>/.<language>.staging``, and a build that succeeded is published by
exchanging the two folders in one rename (``publish``): readers see the old site or the new one,
never half of one, and a failed build (a full disk, a read-only folder, a warning under ``-W``)
leaves the published site as it was. After the exchange the work folder holds the site before, so
the next build starts from it.

Before each build the work folder is made a copy of the published site (``mirror``: only files whose
size or modification time differ are copied; times are kept, as Sphinx compares them with its
sources). A build that failed part way thus leaves nothing behind for the next: its truncated
pages and its empty ``.buildinfo`` are replaced by the published ones. A ``.buildinfo`` that Sphinx
cannot read even so (one published by an older generator) empties the work folder, and Sphinx
writes every page again. Sphinx's environment lives outside both folders (``languages``); Sphinx
itself drops it when a build raised, and ``sphinx_ext.lock_site`` when one was killed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import locks

DOCTREES = ".doctrees"  # where sphinx-build keeps its environment by default: never part of a site
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def work_folder(out: Path, language: str) -> Path:
    return out / f".{language}.staging"


def _previous_folder(site: Path) -> Path:
    return site.with_name(f".{site.name}.previous")


@contextmanager
def site_lock(site: Path) -> Iterator[None]:
    """One build of ``site`` at a time (its work folder is shared); a timeout is an ``OSError``."""
    try:
        descriptor = locks.acquire(site, "site folder")
    except locks.LockTimeout as error:
        raise OSError(errno.EBUSY, str(error)) from None
    try:
        yield
    finally:
        locks.release(descriptor)


def prepare_work_folder(site: Path, work: Path) -> None:
    """Make ``work`` a copy of the published ``site`` (empty if there is none)."""
    _finish_interrupted_publication(site, work)
    work.mkdir(parents=True, exist_ok=True)
    mirror(site, work)
    if not _build_info_readable(work):
        shutil.rmtree(work)
        work.mkdir()


def mirror(source: Path, target: Path) -> None:
    """Make ``target`` hold exactly the files of ``source`` (none if it does not exist), modification
    times included; files that already match in size and time are not copied."""
    wanted = set()
    for path in sorted(_files(source)):
        relative = path.relative_to(source)
        wanted.add(relative)
        copy = target / relative
        if not _same_file(path, copy):
            copy.parent.mkdir(parents=True, exist_ok=True)
            if copy.is_dir() and not copy.is_symlink():
                shutil.rmtree(copy)
            shutil.copy2(path, copy, follow_symlinks=False)
    for path in sorted(target.rglob("*"), reverse=True):
        relative = path.relative_to(target)
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()) and not (source / relative).is_dir():
                path.rmdir()
        elif relative not in wanted:
            path.unlink()


def _files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if path.relative_to(folder).parts[0] != DOCTREES and (path.is_symlink() or not path.is_dir()):
            yield path


def _same_file(path: Path, copy: Path) -> bool:
    try:
        mine, theirs = os.lstat(path), os.lstat(copy)
    except FileNotFoundError:
        return False
    return (mine.st_size, mine.st_mtime_ns, mine.st_mode) == (theirs.st_size, theirs.st_mtime_ns, theirs.st_mode)


def _build_info_readable(work: Path) -> bool:
    from sphinx.builders.html._build_info import BuildInfo

    path = work / ".buildinfo"
    if not path.exists():
        return True
    try:
        BuildInfo.load(path)
    except Exception:  # an empty file is an IndexError in Sphinx 9, which then fails every build
        return False
    return True


def publish(work: Path, site: Path) -> None:
    """Put the built ``work`` folder in the place of ``site`` in one step; ``work`` then holds the old site."""
    if not site.exists():
        os.rename(work, site)
        work.mkdir()
    elif not _exchange(work, site):
        previous = _previous_folder(site)  # without an atomic exchange: three renames
        os.rename(site, previous)
        os.rename(work, site)
        os.rename(previous, work)


def _finish_interrupted_publication(site: Path, work: Path) -> None:
    """A build killed between the renames of ``publish`` (no atomic exchange) left the site aside."""
    previous = _previous_folder(site)
    if previous.is_dir():
        if site.exists():
            if work.exists():
                shutil.rmtree(previous)
            else:
                os.rename(previous, work)
        else:
            os.rename(previous, site)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2``); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(number, os.strerror(number), str(second))

"""Advisory file locks that keep two builds off one output folder, one cache or one site.

The lock for ``PATH`` is the file ``.NAME.lock`` beside it, never inside it, because the guarded
folder may be removed while it is held. ``flock`` locks die with their holder, so a killed build
leaves no stale lock; a second build waits for the first (saying so), and gives up with
``LockTimeout`` after ``wait`` seconds.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

DEFAULT_WAIT = 600.0
_POLL = 0.1


class LockTimeout(Exception):
    pass


def lock_path(guarded: Path) -> Path:
    return guarded.with_name(f".{guarded.name}.lock")


def acquire(guarded: Path, what: str, wait: float = DEFAULT_WAIT) -> int:
    """Lock ``guarded`` (a ``what``, for messages) and return the lock's descriptor."""
    path = lock_path(guarded)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if not _try_lock(descriptor):
            print(f"Waiting for another build that is using the {what} {guarded} ...", file=sys.stderr, flush=True)
            deadline = time.monotonic() + wait
            while not _try_lock(descriptor):
                if time.monotonic() > deadline:
                    raise LockTimeout(f"another build has been using the {what} {guarded} for over {wait:.0f} s; "
                                      f"try again when it has finished")
                time.sleep(_POLL)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def release(descriptor: int) -> None:
    os.close(descriptor)  # closing the only descriptor of the open file drops its flock


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True

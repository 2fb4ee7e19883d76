"""A Sphinx extension for tests only: pause a build at a chosen moment so that a test can kill it.

``SPHINX_PAUSE_AT=read`` pauses in the reading phase, ``write`` in the writing phase, at the
third document, or at the document after ``SPHINX_PAUSE_AFTER`` (a docname) when that is set;
the build prints ``PAUSED`` on stdout, then sleeps ``SPHINX_PAUSE_SECONDS``, or less: until the
file ``SPHINX_PAUSE_RELEASE`` names exists (a test releases it when it has seen what it waits for).
Added to a build with ``-D extensions=...`` by the tests that need it; the site never loads it.
"""

from __future__ import annotations

import os
import sys
import time

EVENTS = {"read": "source-read", "write": "html-page-context"}


def setup(app) -> dict:
    moment = os.environ.get("SPHINX_PAUSE_AT")
    if moment in EVENTS:
        seen: list[str] = []
        after = os.environ.get("SPHINX_PAUSE_AFTER")

        def pause(_app, docname, *_args) -> None:
            due = seen[-1:] == [after] if after else len(seen) == 2
            seen.append(docname)
            if due:
                print("PAUSED", flush=True, file=sys.stdout)
                pause_until(float(os.environ.get("SPHINX_PAUSE_SECONDS", "60")), os.environ.get("SPHINX_PAUSE_RELEASE"))

        app.connect(EVENTS[moment], pause)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def pause_until(seconds: float, release: str | None) -> None:
    """Sleep ``seconds``, or until the file ``release`` exists."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (release and os.path.exists(release)):
        time.sleep(0.05)

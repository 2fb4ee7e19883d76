"""A Sphinx extension for tests only: pause a build at a chosen moment so that a test can kill it.

``SPHINX_PAUSE_AT=read`` pauses in the reading phase, ``write`` in the writing phase, each at the
third document; the build prints ``PAUSED`` on stdout, then sleeps ``SPHINX_PAUSE_SECONDS``.
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
        seen = []

        def pause(*_args) -> None:
            seen.append(None)
            if len(seen) == 3:
                print("PAUSED", flush=True, file=sys.stdout)
                time.sleep(float(os.environ.get("SPHINX_PAUSE_SECONDS", "60")))

        app.connect(EVENTS[moment], pause)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""A progress bar on stderr for runs that take more than a moment (tqdm).

On a terminal the bar appears after ``TTY_DELAY`` seconds; when stderr is not a terminal (CI
logs) it appears only for long runs, after ``LOG_DELAY`` seconds, and updates rarely.
"""

from __future__ import annotations

import sys

TTY_DELAY = 1.0
LOG_DELAY = 30.0


class Progress:
    def __init__(self, total: int, description: str = "running examples", enabled: bool = True):
        self.bar = None
        if not enabled or total <= 0:
            return
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is a dependency; a missing one only costs the bar
            return
        tty = _isatty(sys.stderr)
        self.bar = tqdm(total=total, desc=description, unit="snippet", file=sys.stderr, leave=False,
                        delay=TTY_DELAY if tty else LOG_DELAY, mininterval=0.2 if tty else 10.0,
                        dynamic_ncols=tty)

    def update(self, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

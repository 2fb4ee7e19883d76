"""Helpers of the hostile-input and fault tests: bounded children, `check` in a child, the
loader's problems as text, and a root that cannot write into read-only folders."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from generator.loader import load_mappings

from .conftest import ROOT


def problems_of(*paths: Path) -> list[str]:
    return [str(problem) for problem in load_mappings(list(paths)).problems]


def bounded(memory_bytes: int = 1 << 30):
    """preexec_fn: a child that cannot use more than ``memory_bytes`` of address space."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return limit


def check(*paths: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m generator check`` on ``paths`` in a child bounded in memory and time."""
    return subprocess.run([sys.executable, "-m", "generator", "check", *map(str, paths)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=bounded())


def without_root_override() -> None:
    """preexec_fn: root loses the capabilities that let it write into read-only folders."""
    if os.geteuid() == 0:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, from the bounding set
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

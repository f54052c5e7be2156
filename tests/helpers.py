"""What the CLI tests share: `protege` run in-process, or as a process killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from protege.cli.main import main


def run(*args: str) -> int:
    """`protege ARGS` in this process; its exit code (2 for a user error)."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def kill_when(args: Sequence[str], ready: Callable[[], bool], timeout: float = 120) -> None:
    """Start `protege ARGS` as a process and SIGKILL it as soon as `ready()` holds."""
    proc = subprocess.Popen([sys.executable, "-m", "protege.cli.main", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not ready():
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)

"""What tests share: `protege` run in-process, or as a process killed mid-run; an
adversarial algorithm scored on Pendulum."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

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


def adversarial_pendulum_score(
    train: Callable[..., Any], cfg: Any, demos: Any
) -> tuple[float, Any]:
    """Train an adversarial algorithm on Pendulum demonstrations and return the learned
    policy's normalised score against the scripted expert (20 episodes, seeds 10000+), with
    what to show when it fails (the comparison's metrics and the steps to target)."""
    from protege.evaluation import compare_with_expert
    from protege.experts.scripted import scripted_expert

    result = train(demos, None, cfg, env="Pendulum-v1")
    expert = scripted_expert("Pendulum-v1").act
    comparison = compare_with_expert("Pendulum-v1", result.policy, expert, episodes=20)
    return comparison.normalized_score, (comparison.metrics(), result.steps_to_target)

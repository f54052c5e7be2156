"""Fault injection: an I/O error at every write of a run, and SIGINT mid-training. Each
ends in one line (exit 2, or 130 for an interrupt), nothing half-written, and the same
command with --resume finishes with the results of an uninterrupted run."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "demos.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(path)) == 0
    return path


def bc_args(demos: Path, out: Path) -> list[str]:
    return ["train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
            "--set", "epochs=20", "--set", "hidden=16", "--eval-episodes", "2"]  # fmt: skip


def metrics(out: Path) -> dict[str, float]:
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_an_io_error_at_every_write_is_one_line_and_resume_finishes_the_same(
    demos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    real_fsync = os.fsync
    calls = [0]

    def counting(fd: int) -> None:
        calls[0] += 1
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting)
    clean = tmp_path / "clean"
    assert run(*bc_args(demos, clean)) == 0
    writes = calls[0]
    assert writes >= 5  # config, two checkpoints, policy, metrics
    for n in range(1, writes + 1):
        out = tmp_path / f"eio{n}"
        calls[0] = 0

        def failing(fd: int, n: int = n) -> None:
            calls[0] += 1
            if calls[0] == n:
                raise OSError(errno.EIO, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", failing)
        capsys.readouterr()
        assert run(*bc_args(demos, out)) == 2, n
        err = capsys.readouterr().err
        assert "Input/output error" in err and len(err.strip().splitlines()) == 1, err
        leftovers = (
            [p.name for p in out.rglob("*") if p.name.endswith(".tmp")] if out.exists() else []
        )
        assert leftovers == [], leftovers
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert run(*bc_args(demos, out), "--resume") == 0, n
        assert metrics(out)["return_mean"] == metrics(clean)["return_mean"], n


def _interrupt_when(
    args: list[str], ready: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen([sys.executable, "-m", "protege.cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ready.exists() and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["bc", "mce"])
def test_sigint_mid_training_is_one_line_and_resume_finishes_the_same(
    algo: str, demos: Path, tmp_path: Path
) -> None:
    if algo == "bc":
        args = lambda out: bc_args(demos, out) + ["--set", "epochs=400"]  # noqa: E731
        checkpoint = "bc.pt"
    else:
        grid = tmp_path / "grid.npz"
        assert run("collect", "gridworld:8", "--expert", "optimal", "--episodes", "20",
                   "--out", str(grid)) == 0  # fmt: skip
        args = lambda out: ["train", "mce", "--env", "gridworld:8", "--demos", str(grid),  # noqa: E731
                            "--out", str(out), "--iterations", "400", "--tol", "0",
                            "--eval-episodes", "2"]  # fmt: skip
        checkpoint = "irl.pt"
    clean = tmp_path / "clean"
    assert run(*args(clean)) == 0
    out = tmp_path / "stopped"
    stopped = _interrupt_when(args(out), out / "checkpoints" / checkpoint)
    assert stopped.returncode == 130 and "interrupted" in stopped.stderr, stopped.stderr[-2000:]
    assert not (out / "metrics.json").exists()
    assert run(*args(out), "--resume") == 0
    assert metrics(out)["return_mean"] == metrics(clean)["return_mean"]
    if algo == "mce":
        import numpy as np

        np.testing.assert_array_equal(np.load(out / "reward.npy"), np.load(clean / "reward.npy"))

"""--tensorboard writes the same metrics as progress.csv as TensorBoard scalars."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from helpers import run

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    acc = event_accumulator.EventAccumulator(str(log_dir))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_bc_and_mce_log_their_progress_rows(tmp_path: Path) -> None:
    demos, grid = tmp_path / "d.npz", tmp_path / "g.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    out = tmp_path / "bc"
    assert run("train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
               "--set", "epochs=7", "--set", "patience=100", "--eval-episodes", "2",
               "--tensorboard") == 0  # fmt: skip
    with (out / "progress.csv").open() as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    logged = scalars(out / "tensorboard", "loss")
    assert [s for s, _ in logged] == list(range(7))
    assert [v for _, v in logged] == pytest.approx(losses, rel=1e-6)

    assert run("collect", "gridworld:4", "--expert", "optimal", "--episodes", "10",
               "--out", str(grid)) == 0  # fmt: skip
    assert run("train", "mce", "--env", "gridworld:4", "--demos", str(grid), "--iterations", "12",
               "--tol", "0", "--eval-episodes", "2", "--out", str(tmp_path / "mce"),
               "--tensorboard") == 0  # fmt: skip
    assert len(scalars(tmp_path / "mce" / "tensorboard", "occupancy_l1")) == 12

"""Periodic evaluation keeps the best policy: saved beside the final one, reported in
metrics.json, and the saved weights reproduce the score they were kept for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run

from protege.algorithms.best import BestSoFar
from protege.evaluation import evaluate_returns
from protege.jobs.common import load_run_policy


def test_best_so_far_keeps_the_highest_score_and_a_copy_of_its_weights() -> None:
    net = torch.nn.Linear(2, 1)
    best = BestSoFar()
    assert best.offer(1.0, 10, net) and best.step == 10
    kept = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        net.weight.add_(1.0)  # training goes on...
    assert not best.offer(0.5, 20, net) and not best.offer(1.0, 30, net)  # ties keep the first
    assert not best.offer(float("nan"), 40, net)
    assert all(torch.equal(best.state[k], kept[k]) for k in kept)  # type: ignore[index]
    again = BestSoFar()
    again.load_checkpoint_state(best.checkpoint_state())
    assert (again.score, again.step) == (1.0, 10)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("best") / "demos.npz"
    assert run("collect", "CartPole-v1", "--episodes", "3", "--out", str(path)) == 0
    return path


@pytest.mark.slow
def test_gail_saves_its_best_evaluation_beside_the_final_policy(
    demos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gail"
    assert run("train", "gail", "--env", "CartPole-v1", "--demos", str(demos), "--out",
               str(out), "--steps", "4096", "--set", "eval_every=1024", "--set",
               "eval_episodes=3", "--eval-episodes", "3") == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "policy.zip").is_file() and (out / "policy_best.zip").is_file()
    rows = [r for r in _progress(out) if "eval_return" in r]
    assert metrics["best_eval_return"] == max(r["eval_return"] for r in rows)
    assert set(metrics["best"]) == {"return_mean", "return_std", "normalized_score"}
    best = load_run_policy(out, best=True)  # on the in-training evaluation's own seeds
    again = evaluate_returns("CartPole-v1", best, episodes=3, seed=20_000).mean
    assert again == pytest.approx(metrics["best_eval_return"])


@pytest.mark.slow
def test_iq_learn_saves_its_best_progress_evaluation(demos: Path, tmp_path: Path) -> None:
    out = tmp_path / "iq"
    assert run("train", "iq-learn", "--env", "CartPole-v1", "--demos", str(demos), "--out",
               str(out), "--offline", "--steps", "900", "--set", "log_every=300",
               "--eval-episodes", "3") == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    rows = [r for r in _progress(out) if "return_mean" in r]
    assert metrics["best_eval_return"] == max(r["return_mean"] for r in rows)
    best = load_run_policy(out, best=True)
    again = evaluate_returns("CartPole-v1", best, episodes=5, seed=20_000).mean
    assert again == pytest.approx(metrics["best_eval_return"])
    assert np.isfinite(metrics["best"]["return_mean"])


def _progress(run_dir: Path) -> list[dict[str, float]]:
    from protege.rundir import read_progress

    return read_progress(run_dir)


@pytest.mark.slow
def test_dagger_keeps_its_best_round(tmp_path: Path) -> None:
    out = tmp_path / "dagger"
    assert run("train", "dagger", "--env", "CartPole-v1", "--rounds", "3",
               "--labels-per-round", "300", "--out", str(out), "--eval-episodes", "3",
               "--set", "bc.epochs=10") == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    scores = [r["return_mean"] for r in _progress(out)]
    assert metrics["best_eval_return"] == max(scores)
    assert metrics["best_eval_step"] == scores.index(max(scores))  # the round
    best = load_run_policy(out, best=True)
    again = evaluate_returns("CartPole-v1", best, episodes=3, seed=20_000).mean
    assert again == pytest.approx(metrics["best_eval_return"])

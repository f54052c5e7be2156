"""The ranking loop's plumbing: the saved reward is the one the learner was paid, and a
resumed run neither ranks nor fits the reward again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from protege.algorithms.ranking import (
    BradleyTerryConfig,
    RankedEpisodes,
    TRexConfig,
    train_ranked,
)
from protege.algorithms.ranking.bradley_terry import make_ensemble
from protege.callbacks import Callback
from protege.data import flatten_trajectories
from protege.envs import Spaces, env_spaces
from protege.rewards import load_reward, save_reward

ENV = "CartPole-v1"
TINY = TRexConfig(
    reward=BradleyTerryConfig(pairs=100, epochs=2, ensemble=2),
    steps=1024,
    n_envs=2,
    learner_kwargs={"n_steps": 64, "batch_size": 64},
    log_every=128,
    eval_every=0,
)


def test_the_saved_reward_pays_what_the_learner_was_paid(graded, tmp_path: Path) -> None:  # noqa: ANN001
    steps = flatten_trajectories(graded(ENV, (0.2, 0.8), 2, 0))
    torch.manual_seed(0)
    reward = make_ensemble(env_spaces(ENV), BradleyTerryConfig(ensemble=3))
    reward.calibrate(steps, "positive")
    save_reward(reward, tmp_path, meaning="test")
    loaded = load_reward(tmp_path)
    args = (steps.obs, steps.acts, steps.next_obs, steps.terminated)
    np.testing.assert_allclose(loaded.predict(*args), reward.predict(*args), rtol=1e-5, atol=1e-6)


class Killed(Exception):
    pass


class KillAtFirstLearnerRow(Callback):
    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if metrics["stage"] == 1.0:
            raise Killed


def test_a_resumed_run_keeps_its_reward_and_does_not_rank_again(
    graded,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    demos = graded(ENV, (0.2, 0.6, 1.0), 2, 0)
    calls: list[int] = []

    def prepare(spaces: Spaces) -> RankedEpisodes:
        calls.append(1)
        return RankedEpisodes(demos, -np.array([t.meta["noise"] for t in demos]))

    checkpoint = tmp_path / "t-rex.pt"
    with pytest.raises(Killed):
        train_ranked(prepare, None, TINY, [KillAtFirstLearnerRow()], env=ENV, checkpoint=checkpoint)
    assert checkpoint.is_file() and len(calls) == 1
    resumed = train_ranked(prepare, None, TINY, env=ENV, checkpoint=checkpoint)
    whole = train_ranked(prepare, None, TINY, env=ENV)
    assert len(calls) == 2  # the resumed run did not call it; the unbroken run did
    reward_rows = [r for r in resumed.history if r["stage"] == 0.0]
    assert len(reward_rows) == 2  # the fit's epochs, replayed from the checkpoint
    for a, b in zip(resumed.history, whole.history, strict=True):
        for key in ("stage", "env_steps", "reward_loss", "reward_val_accuracy"):
            np.testing.assert_equal(a[key], b[key])
    assert resumed.env_steps == whole.env_steps >= TINY.steps
    # the learner starts from the same seed after the reward fit: the same policy
    for a, b in zip(
        resumed.model.policy.parameters(), whole.model.policy.parameters(), strict=True
    ):
        torch.testing.assert_close(a, b)

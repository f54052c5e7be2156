"""Checkpoints of the adversarial loop: an interrupted run goes on from its last checkpoint
with the learner's weights, optimisers, counters and replay buffer as they were saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from protege.algorithms.adversarial import AIRLConfig, GAILConfig, train_airl, train_gail
from protege.algorithms.replay import ReplayBuffer, TensorTransitions
from protege.callbacks import Callback
from protege.checkpoint import load_checkpoint, save_checkpoint
from protege.data import Transitions
from protege.rl import build_learner, learner_state, make_vec_env, restore_learner_state


class Interrupted(Exception):
    """Stands in for a kill in the middle of training."""


class Rows(Callback):
    """Records every row it is given; raises `Interrupted` at round `stop_at`."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.rows: list[tuple[int, dict[str, float]]] = []

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if i == self.stop_at:
            raise Interrupted
        self.rows.append((i, dict(metrics)))


OFF_POLICY = {
    "dqn": (train_gail, "CartPole-v1", GAILConfig(
        steps=2_000, learner="dqn", disc_every=250, seed=0,
        learner_kwargs={"learning_starts": 500, "train_freq": 250, "gradient_steps": 16})),
    "sac": (train_airl, "Pendulum-v1", AIRLConfig(
        steps=400, learner="sac", disc_every=50, seed=0,
        learner_kwargs={"learning_starts": 100, "batch_size": 64})),
}  # fmt: skip


@pytest.mark.parametrize("learner", ["dqn", pytest.param("sac", marks=pytest.mark.slow)])
def test_off_policy_run_interrupted_between_checkpoints_resumes_from_the_last(
    learner: str, cartpole_demos: Transitions, pendulum_demos: Transitions, tmp_path: Path
) -> None:
    train, env, cfg = OFF_POLICY[learner]
    demos = cartpole_demos if env == "CartPole-v1" else pendulum_demos
    path, every = tmp_path / "checkpoints" / "run.pt", cfg.disc_every
    first = Rows(stop_at=5)  # rounds 0-4 ran; the checkpoint holds rounds 0-3
    with pytest.raises(Interrupted):
        train(demos, None, cfg, [first], env=env, checkpoint=path, checkpoint_every=2)
    saved = load_checkpoint(path)
    assert len(saved["history"]) == 4
    assert saved["learner"]["counters"]["num_timesteps"] == 4 * every
    assert saved["learner"]["replay_buffer"]["pos"] == 4 * every

    second = Rows()
    result = train(demos, None, cfg, [second], env=env, checkpoint=path, checkpoint_every=2)
    assert [i for i, _ in second.rows] == list(range(8))  # replayed 0-3, then new 4-7
    np.testing.assert_equal(second.rows[:4], first.rows[:4])  # NaN return_mean included
    steps = [row["env_steps"] for row in result.history]
    assert steps == [every * (k + 1) for k in range(8)]  # no gap, no duplicate
    seconds = [row["seconds"] for row in result.history]
    assert seconds == sorted(seconds) and result.train_seconds >= seconds[-1]
    model = result.model
    assert result.env_steps == model.num_timesteps == cfg.steps
    assert model.replay_buffer.pos == cfg.steps  # the saved transitions were restored
    if learner == "dqn":
        assert model._n_calls == cfg.steps  # target-network updates keep their schedule


@pytest.mark.parametrize(
    ("algo", "env", "kwargs"),
    [("ppo", "CartPole-v1", {"n_steps": 64, "batch_size": 64, "n_epochs": 2}),
     ("dqn", "CartPole-v1", {"learning_starts": 50, "train_freq": 50, "gradient_steps": 5}),
     ("sac", "Pendulum-v1", {"learning_starts": 50})],
)  # fmt: skip
def test_learner_state_survives_a_checkpoint_file(
    algo: str, env: str, kwargs: dict[str, Any], tmp_path: Path
) -> None:
    model = build_learner(algo, make_vec_env(env, 1, 0), seed=0, **kwargs)
    model.learn(128)
    save_checkpoint(tmp_path / "c.pt", {"learner": learner_state(model)})
    fresh = build_learner(algo, make_vec_env(env, 1, 1), seed=1, **kwargs)
    restore_learner_state(fresh, load_checkpoint(tmp_path / "c.pt")["learner"])

    for name, params in model.get_parameters().items():
        assert _same(params, fresh.get_parameters()[name]), name
    assert fresh.num_timesteps == model.num_timesteps >= 128
    assert fresh._n_updates == model._n_updates > 0
    assert list(fresh.ep_info_buffer) == [
        {k: float(v) for k, v in e.items()} for e in model.ep_info_buffer
    ]
    if algo == "sac":
        assert torch.equal(fresh.log_ent_coef, model.log_ent_coef)
        assert fresh.log_ent_coef is fresh.ent_coef_optimizer.param_groups[0]["params"][0]
    if algo != "ppo":
        a, b = model.replay_buffer, fresh.replay_buffer
        assert (a.pos, a.full) == (b.pos, b.full)
        np.testing.assert_array_equal(a.observations[: a.pos], b.observations[: b.pos])
        np.testing.assert_array_equal(a.rewards, b.rewards)


def _same(a: Any, b: Any) -> bool:
    """Nested state dicts hold equal values."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return bool(a == b)


def test_window_state_round_trips_dict_observations(tmp_path: Path) -> None:
    window = ReplayBuffer(4)
    for k in range(3):
        obs = {"pos": torch.full((2, 2), k, dtype=torch.float32), "cue": torch.full((2,), k)}
        window.add(TensorTransitions(obs, torch.tensor([k, k]), obs, torch.tensor([0.0, 1.0])))
    save_checkpoint(tmp_path / "w.pt", {"window": window.state_dict()})
    back = ReplayBuffer(4)
    back.load_state_dict(load_checkpoint(tmp_path / "w.pt")["window"])
    assert (back.size, back.pos) == (window.size, window.pos) == (4, 2)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    a, b = window.sample(8, rng_a), back.sample(8, rng_b)
    assert isinstance(a.obs, dict) and isinstance(b.obs, dict)
    np.testing.assert_array_equal(a.obs["pos"], b.obs["pos"])
    np.testing.assert_array_equal(a.obs["cue"], b.obs["cue"])
    np.testing.assert_array_equal(a.terminal, b.terminal)
    back.add(TensorTransitions(obs, torch.tensor([7, 7]), obs, torch.tensor([1.0, 1.0])))

"""IQ-Learn and SQIL checkpoints: an interrupted offline fit resumes to the very weights of
an uninterrupted one; an online one continues its step count and history without gaps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from protege.algorithms.qlearning import IQLearnConfig, SQILConfig, train_iq_learn, train_sqil
from protege.algorithms.qlearning.learner import preprocessed
from protege.algorithms.replay import ReplayBuffer
from protege.callbacks import Callback
from protege.checkpoint import load_checkpoint
from protege.data import flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.experts.scripted import scripted_expert


class StopAt(Exception):
    """Stands in for a kill."""


class Kill(Callback):
    """Stops training when progress row `at` is reported (after its checkpoint, if due)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if i == self.at:
            raise StopAt


class Record(Callback):
    """The row indices the callbacks see."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        self.seen.append(i)


def demos_of(env_id: str, episodes: int = 1):  # noqa: ANN201
    return flatten_trajectories(rollout(env_id, scripted_expert(env_id).act, episodes, seed=0))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])  # Q-net; twin Q and actor
def test_resumed_offline_iq_learn_ends_with_the_weights_of_an_uninterrupted_one(
    env_id: str,
    tmp_path,  # noqa: ANN001
) -> None:
    demos, spaces = demos_of(env_id), env_spaces(env_id)
    cfg = IQLearnConfig(offline=True, steps=200, log_every=20, hidden=(16,), seed=1)
    whole = train_iq_learn(demos, spaces, cfg)
    ckpt = tmp_path / "qlearning.pt"
    with pytest.raises(StopAt):  # rows 0-4 reported; the last checkpoint holds rows 0-3
        train_iq_learn(demos, spaces, cfg, callbacks=[Kill(4)], checkpoint=ckpt,
                       checkpoint_every=2)  # fmt: skip
    assert load_checkpoint(ckpt)["step"] == 80
    record = Record()
    resumed = train_iq_learn(demos, spaces, cfg, callbacks=[record], checkpoint=ckpt,
                             checkpoint_every=2)  # fmt: skip
    assert record.seen == list(range(10))  # 4 replayed from the checkpoint, 6 trained
    assert same_weights(whole.policy, resumed.policy)
    assert same_weights(whole.reward, resumed.reward)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]
    assert [r["step"] for r in resumed.history] == [20.0 * i for i in range(1, 11)]


@pytest.mark.parametrize(
    ("train", "cfg", "env_id"),
    [
        (train_sqil, SQILConfig(), "Pendulum-v1"),
        (train_iq_learn, IQLearnConfig(), "CartPole-v1"),  # with the learner's terminal rate
    ],
)
def test_resumed_online_training_continues_its_steps_buffer_and_history(
    train,  # noqa: ANN001
    cfg,  # noqa: ANN001
    env_id: str,
    tmp_path,  # noqa: ANN001
) -> None:
    cfg = dataclasses.replace(cfg, steps=300, log_every=50, learning_starts=60, hidden=(16,))
    demos, spaces = demos_of(env_id), env_spaces(env_id)
    ckpt = tmp_path / "qlearning.pt"
    with pytest.raises(StopAt):
        train(demos, spaces, cfg, [Kill(3)], env=env_id, checkpoint=ckpt, checkpoint_every=3)
    saved = load_checkpoint(ckpt)
    assert saved["step"] == 150 and saved["buffer"]["size"] == 150
    if train is train_iq_learn:  # the running termination rate of its own transitions
        assert saved["update"]["learner_rate"] > 0
    record = Record()
    resumed = train(demos, spaces, cfg, [record], env=env_id, checkpoint=ckpt, checkpoint_every=3)
    assert record.seen == list(range(6)) and resumed.env_steps == 300
    assert [r["step"] for r in resumed.history] == [50.0 * i for i in range(1, 7)]
    assert resumed.history[:3] == saved["history"]  # replayed, not trained again
    assert np.diff([r["seconds"] for r in resumed.history]).min() > 0  # the clock went on
    assert load_checkpoint(ckpt)["buffer"]["size"] == 300


def test_a_partial_save_left_by_a_kill_is_removed_on_resuming(tmp_path) -> None:  # noqa: ANN001
    ckpt = tmp_path / "qlearning.pt"
    partial = tmp_path / ".qlearning.pt.abc123.tmp"  # what atomic_write leaves when killed
    partial.write_bytes(b"half a checkpoint")
    cfg = IQLearnConfig(offline=True, steps=20, log_every=10, hidden=(8,))
    demos, spaces = demos_of("CartPole-v1"), env_spaces("CartPole-v1")
    train_iq_learn(demos, spaces, cfg, checkpoint=ckpt, checkpoint_every=1)  # a save at each row
    assert not partial.exists() and load_checkpoint(ckpt)["step"] == 20


def test_replay_buffer_round_trips_through_its_state() -> None:
    spaces = env_spaces("Pendulum-v1")
    cpu = torch.device("cpu")
    buffer = ReplayBuffer(4, cpu)
    for i in range(6):  # wraps around: slots hold steps 4, 5, 2, 3
        obs = np.full((1, 3), i, dtype=np.float32)
        acts = np.array([[0.1 * i]], dtype=np.float32)
        buffer.add(preprocessed(obs, acts, obs + 1, np.array([i == 5]), spaces, cpu))
    again = ReplayBuffer(4, cpu)
    again.load_state_dict(buffer.state_dict())
    assert (again.size, again.pos) == (buffer.size, buffer.pos)
    gen_a, gen_b = (torch.Generator().manual_seed(0) for _ in range(2))
    a, b = buffer.sample(8, gen_a), again.sample(8, gen_b)
    for name in ("obs", "acts", "next_obs", "terminal"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    empty = ReplayBuffer(4, cpu)
    empty.load_state_dict(ReplayBuffer(4, cpu).state_dict())
    assert empty.size == 0

"""`collect` resolves its env once and writes each episode once, in episode order: the last
write is the whole dataset, with no second validation and rewrite at the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import protege.data.storage as storage
import protege.envs as envs
from protege.data import load_trajectories, rollout
from protege.experts.scripted import scripted_expert
from protege.jobs.common import collect


def test_collect_resolves_the_env_once_and_writes_each_episode_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real_write = storage._write
    monkeypatch.setattr(storage, "_write", lambda target, flat, *a: (
        writes.append(len(flat.lengths)), real_write(target, flat, *a))[1])  # fmt: skip
    made: list[str] = []
    real_make = envs.make_env
    monkeypatch.setattr(envs, "make_env", lambda env_id, **kw: (
        made.append(env_id), real_make(env_id, **kw))[1])  # fmt: skip

    out = tmp_path / "demos.npz"
    trajs = collect("CartPole-v1", "scripted", 12, out, seed=3)
    assert sorted(writes) == list(range(1, 13))  # one write per episode, none after
    assert len(made) == 1 + 8  # resolved once, then one env per sub-env of the rollout
    saved = load_trajectories(out, env_id="CartPole-v1").trajectories
    again = rollout("CartPole-v1", scripted_expert("CartPole-v1").act, 12, seed=3)
    for a, b, c in zip(saved, trajs, again, strict=True):  # in episode order
        np.testing.assert_array_equal(a.acts, b.acts)
        np.testing.assert_array_equal(a.acts, c.acts)

"""Rollout collection: seeded, reproducible, episode boundaries kept apart."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from protege.data import RandomPolicy, flatten_trajectories, rollout
from protege.data.types import Trajectory


def balance(obs: np.ndarray) -> np.ndarray:
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def test_same_seed_same_episodes_for_any_number_of_envs() -> None:
    a = rollout("CartPole-v1", balance, 5, seed=3, n_envs=1)
    b = rollout("CartPole-v1", balance, 5, seed=3, n_envs=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.acts, y.acts)
    first = gym.make("CartPole-v1").reset(seed=3 + 2)[0]
    np.testing.assert_array_equal(a[2].obs[0], first)


def test_terminated_and_truncated_are_kept_apart() -> None:
    falls = rollout("CartPole-v1", lambda o: np.zeros(len(o), np.int64), 3, seed=0)
    assert all(t.terminated and not t.truncated for t in falls)
    limited = rollout("Pendulum-v1", RandomPolicy(gym.make("Pendulum-v1").action_space), 2)
    assert all(t.truncated and not t.terminated and len(t) == 200 for t in limited)
    flat = flatten_trajectories(falls)
    assert flat.terminated.sum() == 3 and flat.truncated.sum() == 0
    assert set(np.flatnonzero(flat.terminated)) == set(np.cumsum([len(t) for t in falls]) - 1)
    flat = flatten_trajectories(limited)
    assert flat.truncated.sum() == 2 and flat.terminated.sum() == 0


def test_transitions_link_obs_to_next_obs() -> None:
    trajs = rollout("CartPole-v1", balance, 2, seed=0)
    flat = flatten_trajectories(trajs)
    np.testing.assert_array_equal(flat.next_obs[0], flat.obs[1])
    assert flat.rews is not None and flat.rews.sum() == sum(t.episode_return for t in trajs)


def test_dict_observations_roll_out(cue_env) -> None:  # noqa: ANN001
    env, expert = cue_env("dict")
    trajs = rollout(env, expert, 3, seed=0)
    assert set(trajs[0].obs) == {"image", "vec", "key"}
    assert trajs[0].obs["image"].shape == (21, 12, 12, 3)
    assert all(t.episode_return == 20 for t in trajs)


def test_trajectory_rejects_inconsistent_lengths() -> None:
    with pytest.raises(ValueError, match="one more observation"):
        Trajectory(obs=np.zeros((3, 2)), acts=np.zeros(3))
    with pytest.raises(ValueError, match="either terminated or truncated"):
        Trajectory(obs=np.zeros((2, 2)), acts=np.zeros(1), terminated=True, truncated=True)


def test_step_budget_is_exact_and_cuts_running_episodes() -> None:
    falls = rollout("CartPole-v1", lambda o: np.zeros(len(o), np.int64), 10**6, max_steps=100)
    assert sum(len(t) for t in falls) == 100
    assert falls[0].terminated and falls[-1].truncated
    steady = rollout("CartPole-v1", balance, 10**6, seed=0, max_steps=1234, n_envs=4)
    assert sum(len(t) for t in steady) == 1234 and all(t.truncated for t in steady)

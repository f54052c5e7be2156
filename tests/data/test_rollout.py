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


class Reach(gym.Env):
    """Steps along a line; success once the position reaches `goal` (reported under `key`,
    or not at all with key None), and the env lists "lap" as episode information."""

    metadata = {"render_modes": [], "episode_info": ("lap",)}

    def __init__(self, key: str | None = "is_success", goal: int = 3) -> None:
        self.observation_space = gym.spaces.Box(-10, 10, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)  # 0 stay, 1 step on
        self.key, self.goal, self.pos = key, goal, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.pos = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: int) -> tuple:
        self.pos += int(action)
        info: dict = {"lap": self.pos}
        if self.key is not None:
            info[self.key] = self.pos == self.goal
        obs = np.array([self.pos], np.float32)
        return obs, 1.0, False, self.pos >= 5 or action == 0, info  # success is not the end


def test_success_reported_at_any_step_is_kept_in_meta() -> None:
    walk = lambda o: np.ones(len(o), np.int64)  # noqa: E731
    stay = lambda o: np.zeros(len(o), np.int64)  # noqa: E731
    (passed,) = rollout(lambda: Reach("is_success"), walk, 1)  # true at step 3 of 5
    assert passed.meta == {"seed": 0, "success": True, "lap": 5}
    (stood,) = rollout(lambda: Reach("success"), stay, 1)
    assert stood.meta == {"seed": 0, "success": False, "lap": 0}
    (silent,) = rollout(lambda: Reach(None), walk, 1)
    assert silent.meta == {"seed": 0, "lap": 5}  # no success key: nothing claimed
    assert rollout("CartPole-v1", balance, 1, seed=7)[0].meta == {"seed": 7}


def test_success_rates_are_compared_only_where_the_env_reports_success() -> None:
    from protege.evaluation import compare_with_expert, evaluate_returns

    walk = lambda o: np.ones(len(o), np.int64)  # noqa: E731
    half = lambda o: (np.arange(len(o)) % 2).astype(np.int64)  # noqa: E731  row 0 stays
    assert evaluate_returns(lambda: Reach(), walk, 4).success_rate == 1.0
    assert evaluate_returns(lambda: Reach(), half, 4, seed=0).success_rate == 0.5
    assert evaluate_returns(lambda: Reach(None), walk, 4).success_rate is None
    gym.register("test/Reach-v0", entry_point=Reach)
    try:
        metrics = compare_with_expert("test/Reach-v0", half, walk, episodes=4).metrics()
    finally:
        gym.registry.pop("test/Reach-v0")
    assert metrics["success_rate"] == 0.5 and metrics["expert_success_rate"] == 1.0
    assert 0.0 <= metrics["random_success_rate"] <= 1.0
    cartpole = compare_with_expert("CartPole-v1", balance, balance, episodes=2).metrics()
    assert not any("success" in key for key in cartpole)


def test_each_episode_keeps_its_reset_seed_and_replays_from_it() -> None:
    import gymnasium as gym

    trajs = rollout("CartPole-v1", balance, 5, seed=40, n_envs=2)
    assert [t.meta["seed"] for t in trajs] == [40, 41, 42, 43, 44]
    for t in trajs:
        obs, _ = gym.make("CartPole-v1").reset(seed=t.meta["seed"])
        np.testing.assert_array_equal(obs, t.obs[0])

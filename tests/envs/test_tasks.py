"""The tasks that tell policy heads apart: the Gymnasium API, their scripted experts, and that
they do tell heads apart (averaging the two paths hits the obstacle; memoryless is chance)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import run

from protege.algorithms.bc import BCConfig, train_bc
from protege.data import rollout
from protege.data.storage import load_trajectories, save_trajectories
from protege.data.types import flatten_trajectories
from protege.envs import env_spaces
from protege.envs.tasks import CORRIDOR, CUE_HISTORY, FORWARD, LEFT, OBSTACLE, RIGHT, TASK_ENVS
from protege.experts.scripted import scripted_expert
from protege.experts.tasks import CENTRE_BAND, TwoPathsExpert

TWO_PATHS, CUE = "protege/TwoPaths-v0", "protege/CueCorridor-v0"


def constant(action: float | int) -> Callable[[np.ndarray], np.ndarray]:
    """A batched policy taking `action` everywhere: a float steers TwoPaths, an int is a
    CueCorridor move."""
    if isinstance(action, float):
        return lambda obs: np.full((len(obs), 1), action, np.float32)
    return lambda obs: np.full(len(obs), action, np.int64)


@pytest.mark.parametrize("env_id", sorted(TASK_ENVS))
def test_the_tasks_pass_gymnasiums_env_checker(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec is not None and env.spec.max_episode_steps == TASK_ENVS[env_id][1]


@pytest.mark.parametrize("env_id", sorted(TASK_ENVS))
def test_a_seed_fixes_the_episode(env_id: str) -> None:
    act = scripted_expert(env_id).act
    a, b = rollout(env_id, act, 6, seed=3, n_envs=1), rollout(env_id, act, 6, seed=3, n_envs=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.acts, y.acts)
        assert x.meta == y.meta
    other = rollout(env_id, act, 6, seed=4)
    assert any(not np.array_equal(x.obs, y.obs) for x, y in zip(a, other, strict=True))


def test_driving_straight_on_hits_the_obstacle() -> None:
    (hit,) = rollout(TWO_PATHS, constant(0.0), 1)
    assert hit.terminated and hit.meta == {"seed": 0, "success": False, "side": 0}
    assert hit.rews is not None and hit.rews[-1] < -0.5  # the collision penalty
    assert abs(hit.obs[-1][0] - (OBSTACLE[0] - 1.0)) < 0.15  # stopped at the obstacle's front


def test_missing_the_goal_runs_into_the_step_limit() -> None:
    (wide,) = rollout(TWO_PATHS, constant(1.0), 1)  # clears the obstacle, then too far up
    assert wide.truncated and len(wide) == TASK_ENVS[TWO_PATHS][1]
    assert wide.meta == {"seed": 0, "success": False, "side": 1}


def test_the_expert_succeeds_on_both_sides_equally_often_and_equally_well() -> None:
    trajs = rollout(TWO_PATHS, scripted_expert(TWO_PATHS).act, 100, seed=0)
    assert np.mean([t.meta["success"] for t in trajs]) >= 0.98
    sides = np.array([t.meta["side"] for t in trajs])
    assert set(sides) == {-1, 1} and 35 <= np.sum(sides == 1) <= 65
    above = [t.episode_return for t, s in zip(trajs, sides, strict=True) if s == 1]
    below = [t.episode_return for t, s in zip(trajs, sides, strict=True) if s == -1]
    assert abs(np.mean(above) - np.mean(below)) < 0.01  # mirror images: both optimal
    assert {len(t) for t in trajs} == {38}
    again = rollout(TWO_PATHS, scripted_expert(TWO_PATHS).act, 100, seed=1000)
    assert [t.meta["side"] for t in again] != sides.tolist()  # another seed, other sides


def test_each_expert_handed_out_is_a_new_one() -> None:
    """A stateful expert shared by two rollouts would mix their episodes' sides."""
    assert scripted_expert(TWO_PATHS).act is not scripted_expert(TWO_PATHS).act
    assert scripted_expert(CUE).act is not scripted_expert(CUE).act


def test_off_its_path_the_expert_goes_round_on_the_side_it_is_on() -> None:
    expert = TwoPathsExpert()  # no start_episode: states it is asked about, as in DAgger
    off = np.array([[0.8, 0.3], [0.8, -0.3], [1.5, 0.9], [1.5, -0.9]], np.float32)
    steer = expert(off)[:, 0]
    assert np.all(steer[::2] > 0) and np.all(steer[1::2] < 0)
    line = np.stack([np.full(64, 0.6), np.linspace(-0.9, 0.9, 64) * CENTRE_BAND], 1)
    first = expert(line.astype(np.float32))[:, 0]  # on the centre line past the turn
    assert set(np.sign(first)) == {-1.0, 1.0} and np.all(np.abs(first) == 1.0)
    np.testing.assert_array_equal(TwoPathsExpert()(line.astype(np.float32))[:, 0], first)


def bc_success_rate(env_id: str, seed: int, episodes: int = 50) -> float:
    """protege's BC (default settings) from 50 expert episodes: its success rate."""
    demos = rollout(env_id, scripted_expert(env_id).act, 50, seed=1000 * seed)
    cfg = BCConfig(seed=seed, device="cpu")
    policy = train_bc(flatten_trajectories(demos), env_spaces(env_id), cfg).policy
    trajs = rollout(env_id, policy, episodes, seed=10_000)
    return float(np.mean([t.meta["success"] for t in trajs]))


@pytest.mark.slow
def test_bc_averages_the_two_paths_into_the_obstacle() -> None:
    """protege's BC (MSE head) from 50 expert episodes: the mean of "above" and "below" is
    "straight on" at the turn, and it collides in most episodes (measured: success 0.03 to
    0.19 over 10 seeds)."""
    rates = [bc_success_rate(TWO_PATHS, seed) for seed in range(3)]
    assert all(rate <= 0.35 for rate in rates), rates


def test_a_learner_that_commits_to_one_path_succeeds_from_the_same_demos() -> None:
    """Nearest neighbour (it copies one demonstration, so one mode): the data allow it."""
    demos = flatten_trajectories(rollout(TWO_PATHS, scripted_expert(TWO_PATHS).act, 50))
    states, acts = np.asarray(demos.obs), np.asarray(demos.acts)

    def nearest(obs: np.ndarray) -> np.ndarray:
        return acts[((obs[:, None, :] - states[None]) ** 2).sum(-1).argmin(1)]

    trajs = rollout(TWO_PATHS, nearest, 50, seed=10_000)
    assert np.mean([t.meta["success"] for t in trajs]) >= 0.95
    assert {t.meta["side"] for t in trajs} == {-1, 1}


def test_at_the_fork_the_observation_is_the_same_whatever_the_cue() -> None:
    forks = {}
    for seed in range(20):
        (t,) = rollout(CUE, constant(FORWARD), 1, seed=seed)  # walks on, waits at the fork
        forks.setdefault(t.meta["cue"], t.obs[CORRIDOR])
        assert t.obs[0][0] == t.meta["cue"] and not t.obs[1:, 0].any()  # shown once
    assert set(forks) == {-1, 1}
    np.testing.assert_array_equal(forks[-1], forks[1])


def test_a_memoryless_policy_succeeds_in_half_the_episodes_a_window_in_all() -> None:
    def turn(side: int) -> object:
        return lambda obs: np.where(obs[:, 1 + CORRIDOR] == 1, side, FORWARD).astype(np.int64)

    left, right = (rollout(CUE, turn(s), 200, seed=0) for s in (LEFT, RIGHT))
    rates = [np.mean([t.meta["success"] for t in trajs]) for trajs in (left, right)]
    assert abs(sum(rates) - 1.0) < 1e-9 and all(0.4 <= r <= 0.6 for r in rates)
    expert = rollout(CUE, scripted_expert(CUE).act, 100, seed=0)
    assert all(t.meta["success"] and t.episode_return == 1.0 for t in expert)
    # the fastest way to the fork: the cue is CUE_HISTORY - 1 steps back
    assert len(expert[0]) == CUE_HISTORY and expert[0].obs[CUE_HISTORY - 1][1 + CORRIDOR] == 1


def test_bc_without_memory_is_at_chance_on_the_cue() -> None:
    rates = [bc_success_rate(CUE, seed, episodes=100) for seed in range(3)]
    assert all(0.3 <= rate <= 0.7 for rate in rates), rates


@pytest.mark.parametrize("name", ["demos.npz", "demos"])
def test_success_and_side_are_kept_in_datasets(tmp_path: Path, name: str) -> None:
    trajs = rollout(TWO_PATHS, scripted_expert(TWO_PATHS).act, 4, seed=0)
    trajs.append(rollout(TWO_PATHS, constant(0.0), 1)[0])
    save_trajectories(tmp_path / name, trajs, env_id=TWO_PATHS)
    loaded = load_trajectories(tmp_path / name).trajectories
    assert [dict(t.meta) for t in loaded] == [dict(t.meta) for t in trajs]
    assert [t.meta["success"] for t in loaded] == [True] * 4 + [False]


def test_collect_train_eval_on_the_cue_task_report_success_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demos, out = tmp_path / "demos.npz", tmp_path / "run"
    assert run("collect", CUE, "--episodes", "20", "--out", str(demos)) == 0  # built-in expert
    train = ["train", "bc", "--env", CUE, "--demos", str(demos), "--out", str(out)]
    assert run(*train, "--set", "epochs=30", "--eval-episodes", "20") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["expert_success_rate"] == 1.0 and 0.0 <= metrics["success_rate"] <= 1.0
    assert "random_success_rate" in metrics and metrics["expert_source"] == "scripted"
    capsys.readouterr()
    assert run("eval", str(out), "--episodes", "10") == 0
    printed = capsys.readouterr().out
    assert "success rate" in printed and "100%" in printed

"""Noise injected into an expert's actions: the right amount, per space, seeded per episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from protege.data import NoisyPolicy, rollout
from protege.data.noise import parse_noise_schedule
from protege.errors import ConfigError
from protege.experts.scripted import scripted_expert


def constant(action: np.ndarray):  # noqa: ANN201 - a batched policy
    """A policy that always takes `action`."""
    return lambda obs: np.repeat(np.asarray(action)[None], len(obs), axis=0)


def draws(policy: NoisyPolicy, n: int = 4000) -> np.ndarray:
    """`n` actions for one row, over `n` steps of one episode."""
    obs = np.zeros((1, 1), np.float32)
    return np.concatenate([policy(obs) for _ in range(n)])


def test_no_noise_is_the_policy_itself() -> None:
    for env_id in ("CartPole-v1", "Pendulum-v1"):
        expert = scripted_expert(env_id).act
        space = gym.make(env_id).action_space
        clean = rollout(env_id, expert, 3, seed=5)
        noisy = rollout(env_id, NoisyPolicy(expert, space, 0.0, seed=5), 3, seed=5)
        for a, b in zip(clean, noisy, strict=True):
            np.testing.assert_array_equal(a.acts, b.acts)


def test_discrete_actions_are_random_with_probability_eps() -> None:
    space = gym.spaces.Discrete(4)
    acts = draws(NoisyPolicy(constant(np.int64(0)), space, 0.3, seed=0))
    # replaced with probability 0.3, by a uniform action that is 0 a quarter of the time
    assert np.mean(acts != 0) == pytest.approx(0.3 * 3 / 4, abs=0.03)
    assert set(np.unique(acts)) == {0, 1, 2, 3}
    every = draws(NoisyPolicy(constant(np.int64(0)), space, 1.0, seed=0))
    assert np.bincount(every, minlength=4) / len(every) == pytest.approx([0.25] * 4, abs=0.03)


def test_multidiscrete_and_multibinary_stay_in_their_spaces() -> None:
    multi = gym.spaces.MultiDiscrete([3, 5], start=[1, -2])
    acts = draws(NoisyPolicy(constant(np.array([1, -2])), multi, 1.0), 500)
    assert all(multi.contains(a) for a in acts) and len({tuple(a) for a in acts}) == 15
    binary = gym.spaces.MultiBinary(3)
    acts = draws(NoisyPolicy(constant(np.zeros(3, np.int8)), binary, 0.5), 2000)
    assert all(binary.contains(a) for a in acts)
    assert np.mean(acts) == pytest.approx(0.25, abs=0.03)  # 0.5 replaced, half of those 1


def test_box_gaussian_noise_scales_with_the_range_and_is_clipped() -> None:
    wide = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
    acts = draws(NoisyPolicy(constant(np.zeros(2, np.float32)), wide, 0.1, seed=1))
    assert acts.dtype == np.float32
    assert acts.std(axis=0) == pytest.approx([1.0, 1.0], rel=0.05)  # 0.1 x half-range 10
    assert abs(acts.mean()) < 0.05
    tight = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
    acts = draws(NoisyPolicy(constant(np.array([1.9], np.float32)), tight, 1.0, seed=1))
    assert acts.max() == 2.0 and acts.min() >= -2.0 and np.mean(acts == 2.0) > 0.4


def test_box_random_kind_replaces_with_uniform_actions() -> None:
    space = gym.spaces.Box(np.array([0.0, -1.0], np.float32), np.array([1.0, 3.0], np.float32))
    expert = np.array([0.5, 0.5], np.float32)
    acts = draws(NoisyPolicy(constant(expert), space, 0.4, "random", seed=2))
    replaced = (acts != expert).any(axis=1)
    assert np.mean(replaced) == pytest.approx(0.4, abs=0.03)
    assert acts[replaced].min(axis=0) == pytest.approx([0.0, -1.0], abs=0.02)
    assert acts[replaced].max(axis=0) == pytest.approx([1.0, 3.0], abs=0.02)


def test_box_bias_is_the_same_offset_at_every_step_and_clipped() -> None:
    """A systematic mistake: every action of every episode shifted by ε x half-range."""
    space = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 10.0], np.float32))
    policy = NoisyPolicy(constant(np.array([0.5, 9.0], np.float32)), space, 0.25, "bias", seed=3)
    acts = np.concatenate([draws(policy, 50), policy(np.zeros((3, 1), np.float32))])
    np.testing.assert_allclose(acts, np.tile([1.0, 10.0], (53, 1)))  # +0.5, +1.25 -> clipped
    # on Pendulum the scripted expert's torque, biased, is the expert's plus the offset
    expert = scripted_expert("Pendulum-v1").act
    pend = gym.make("Pendulum-v1").action_space
    clean, biased = (rollout("Pendulum-v1", p, 2, seed=0)
                     for p in (expert, NoisyPolicy(expert, pend, 0.85, "bias")))  # fmt: skip
    assert sum(t.episode_return for t in biased) < sum(t.episode_return for t in clean)
    first = next(iter(biased))
    np.testing.assert_allclose(first.acts, np.clip(expert(first.obs[:-1]) + 1.7, -2, 2), atol=1e-6)


def test_noise_is_seeded_per_episode_for_any_number_of_envs() -> None:
    expert = scripted_expert("CartPole-v1").act
    space = gym.make("CartPole-v1").action_space
    runs = [
        rollout("CartPole-v1", NoisyPolicy(expert, space, 0.3, seed=3), 6, seed=3, n_envs=n)
        for n in (1, 4)
    ]
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a.acts, b.acts)
    # a new seed, new noise; and episodes do not share one stream
    other = rollout("CartPole-v1", NoisyPolicy(expert, space, 0.3, seed=4), 6, seed=3)
    pairs = zip(runs[0], other, strict=True)
    assert any(len(a) != len(b) or (a.acts != b.acts).any() for a, b in pairs)


def test_more_noise_means_lower_returns_on_every_seed() -> None:
    expert = scripted_expert("CartPole-v1").act
    space = gym.make("CartPole-v1").action_space
    for seed in range(3):
        means = []
        for eps in (0.0, 0.6, 1.0):
            noisy = NoisyPolicy(expert, space, eps, seed=seed)
            means.append(
                np.mean([t.episode_return for t in rollout("CartPole-v1", noisy, 4, seed=seed)])
            )
        assert means[0] == 500.0 and means[0] > means[1] > means[2], means


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: NoisyPolicy(abs, gym.spaces.Discrete(2), 1.5), r"in \[0, 1\]"),
        (lambda: NoisyPolicy(abs, gym.spaces.Discrete(2), float("nan")), r"in \[0, 1\]"),
        (lambda: NoisyPolicy(abs, gym.spaces.Discrete(2), 0.1, "gaussian"), "--noise-kind random"),
        (lambda: NoisyPolicy(abs, gym.spaces.Discrete(2), 0.1, "pink"), "gaussian, random or bias"),
        (lambda: NoisyPolicy(abs, gym.spaces.Discrete(2), 0.1, "bias"), "bias noise needs Box"),
        (lambda: NoisyPolicy(abs, gym.spaces.Box(-np.inf, np.inf, (1,)), 0.1), "finite bounds"),
        (lambda: NoisyPolicy(abs, gym.spaces.Text(3), 0.1), "noise applies to Box"),
        (lambda: parse_noise_schedule("0,x"), "'x' is not a number"),
        (lambda: parse_noise_schedule(""), "is empty"),
        (lambda: parse_noise_schedule("0,2"), r"in \[0, 1\]"),
        (lambda: parse_noise_schedule("0.5,0.5"), "repeats a level"),
    ],
)
def test_bad_noise_settings_are_one_line(make, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_a_schedule_parses_in_order() -> None:
    assert parse_noise_schedule("0, 0.25,1") == [0.0, 0.25, 1.0]

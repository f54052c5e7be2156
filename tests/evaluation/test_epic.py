"""EPIC is 0 exactly for shaped, shifted and scaled rewards, and known elsewhere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protege.envs.tabular import gridworld
from protege.errors import ConfigError
from protege.evaluation.epic import (
    canonicalize_tabular,
    epic_distance,
    epic_distance_sampled,
    pearson_distance,
)

RNG = np.random.default_rng(0)
S, A, GAMMA = 12, 3, 0.9


def shaped(r: np.ndarray, phi: np.ndarray, gamma: float) -> np.ndarray:
    """R(s, a, s') + γΦ(s') − Φ(s) as an (S, A, S) array."""
    r3 = r if r.ndim == 3 else np.broadcast_to(
        (r[:, None] if r.ndim == 1 else r)[..., None] * np.ones((1, A, S)), (S, A, S)
    )  # fmt: skip
    return r3 + gamma * phi[None, None, :] - phi[:, None, None]


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_shaping_shift_and_scale_give_distance_zero(ndim: int) -> None:
    r = RNG.normal(size=(S, A, S)[:ndim])
    phi = RNG.normal(size=S) * 5
    variants = [shaped(r, phi, GAMMA), 3.7 * r + 11.0, 0.2 * shaped(r, phi, GAMMA) - 4.0]
    for v in variants:
        assert epic_distance(r, v, GAMMA, n_actions=A) == pytest.approx(0.0, abs=1e-6)


def test_the_negated_reward_is_at_distance_one_and_shaping_with_another_gamma_is_not_free() -> None:
    r = RNG.normal(size=(S, A))
    assert epic_distance(r, -r, GAMMA) == pytest.approx(1.0, abs=1e-9)
    phi = RNG.normal(size=S) * 5
    assert epic_distance(r, shaped(r, phi, 0.5), GAMMA) > 0.1


def test_one_hot_goals_in_different_cells_are_at_the_known_distance() -> None:
    """For state rewards under uniform coverage EPIC is the Pearson distance of the state
    rewards: two one-hot goals in an n-state grid have ρ = −1/(n−1)."""
    a, b = gridworld(5, goals=[(0, 4)], gamma=0.9), gridworld(5, goals=[(4, 0)], gamma=0.9)
    n = a.n_states
    expected = math.sqrt((1 + 1 / (n - 1)) / 2)
    d = epic_distance(a.reward, b.reward, 0.9, n_actions=a.n_actions)
    assert d == pytest.approx(expected, abs=1e-9)
    assert d == pytest.approx(pearson_distance(a.reward, b.reward), abs=1e-9)


def test_separable_path_equals_the_dense_definition() -> None:
    r1, r2 = RNG.normal(size=(S, A)), RNG.normal(size=S)
    ds, da = RNG.dirichlet(np.ones(S)), RNG.dirichlet(np.ones(A))
    fast = epic_distance(r1, r2, GAMMA, state_dist=ds, action_dist=da)
    c1 = canonicalize_tabular(r1, GAMMA, A, ds, da)
    c2 = canonicalize_tabular(r2, GAMMA, A, ds, da)
    weights = ds[:, None, None] * da[None, :, None] * ds[None, None, :]
    assert fast == pytest.approx(pearson_distance(c1, c2, weights), abs=1e-12)
    three = np.broadcast_to(r1[:, :, None], (S, A, S))  # the same reward, as (S, A, S)
    assert epic_distance(three, r2, GAMMA, state_dist=ds, action_dist=da) == pytest.approx(fast)


def test_bad_inputs_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="constant"):
        epic_distance(np.ones(S), RNG.normal(size=S), GAMMA, n_actions=A)
    with pytest.raises(ConfigError, match="states"):
        epic_distance(np.ones(S), np.ones(S + 1), GAMMA, n_actions=A)
    with pytest.raises(ConfigError, match="NaN"):
        epic_distance(np.full(S, np.nan), RNG.normal(size=S), GAMMA, n_actions=A)
    with pytest.raises(ConfigError, match="n_actions"):
        epic_distance(RNG.normal(size=S), RNG.normal(size=S), GAMMA)


def pendulum_like(obs, acts, next_obs, dones):  # noqa: ANN001, ANN201
    return -(obs[:, 0] ** 2 + 0.1 * obs[:, 1] ** 2 + 0.01 * acts[:, 0] ** 2)


def test_sampled_epic_cancels_shaping_exactly_and_separates_other_rewards() -> None:
    obs = RNG.normal(size=(400, 2))
    acts = RNG.uniform(-2, 2, size=(400, 1))
    next_obs = obs + 0.05 * RNG.normal(size=(400, 2))

    def potential(o: np.ndarray) -> np.ndarray:
        return 3.0 * o[:, 0] - o[:, 1] ** 2

    def shaped_fn(o, a, o2, d):  # noqa: ANN001, ANN202
        return 2.0 * pendulum_like(o, a, o2, d) + GAMMA * potential(o2) - potential(o) + 5.0

    def other(o, a, o2, d):  # noqa: ANN001, ANN202
        return o[:, 1]

    d_same = epic_distance_sampled(pendulum_like, shaped_fn, obs, acts, next_obs, GAMMA)
    d_other = epic_distance_sampled(pendulum_like, other, obs, acts, next_obs, GAMMA)
    d_neg = epic_distance_sampled(
        pendulum_like, lambda *x: -pendulum_like(*x), obs, acts, next_obs, GAMMA
    )
    assert d_same < 1e-6
    assert 0.5 < d_other < 0.9
    assert d_neg == pytest.approx(1.0, abs=1e-9)

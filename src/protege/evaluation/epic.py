"""EPIC: Equivalent-Policy Invariant Comparison of rewards (Gleave, Dennis, Legg, Russell &
Leike, "Quantifying Differences in Reward Functions", ICLR 2021).

Each reward is first canonicalised so that potential shaping and a constant shift vanish,

    C(R)(s, a, s') = R(s, a, s') + E[γ·R(s', A, S') − R(s, A, S') − γ·R(S, A, S')],

with S, S' ~ D_S and A ~ D_A independent; then the Pearson distance √((1 − ρ)/2) of the two
canonical rewards is taken over a coverage distribution of transitions. It is 0 for rewards
equal up to shaping, shift and positive scale (they have the same optimal policies in every
env over these states and actions) and at most 1 (for R and −R).

Tabular rewards (S,), (S, A) or (S, A, S) are compared exactly under product coverage
D_S × D_A × D_S (uniform unless given); continuous rewards by sampling
(`epic_distance_sampled`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from protege.data.types import Obs, obs_index, obs_len
from protege.errors import ConfigError

RewardFn = Callable[[Obs, np.ndarray, Obs, np.ndarray], np.ndarray]
"""A NumPy reward: (obs, acts, next_obs, dones) batches -> rewards (B,)."""

DENSE_LIMIT = 50_000_000  # S·A·S entries above which an (S, A, S) reward is refused


def pearson_distance(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """√((1 − ρ)/2) for the weighted Pearson correlation ρ of x and y (same shape)."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    w = np.full(x.shape, 1.0 / x.size) if weights is None else np.asarray(weights).ravel()
    w = w / w.sum()
    xc, yc = x - w @ x, y - w @ y
    return _distance(float(w @ (xc * yc)), float(w @ xc**2), float(w @ yc**2))


def _distance(cov: float, var_x: float, var_y: float) -> float:
    if var_x <= 1e-24 or var_y <= 1e-24:
        raise ConfigError(
            "EPIC is undefined for a reward that is constant up to shaping (it ranks no "
            "behaviour above another); compare it with another measure"
        )
    rho = max(-1.0, min(1.0, cov / math.sqrt(var_x * var_y)))
    return math.sqrt((1.0 - rho) / 2.0)


def _dist(p: np.ndarray | None, n: int, what: str) -> np.ndarray:
    if p is None:
        return np.full(n, 1.0 / n)
    p = np.asarray(p, np.float64)
    if p.shape != (n,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
        raise ConfigError(f"{what} must be a probability vector of length {n}")
    return p


def _as_sa(reward: np.ndarray, n_actions: int) -> np.ndarray:
    """A state reward (S,) as (S, A): the reward of leaving s, whatever the action."""
    r = np.asarray(reward, np.float64)
    return np.repeat(r[:, None], n_actions, axis=1) if r.ndim == 1 else r


def canonicalize_tabular(
    reward: np.ndarray,
    gamma: float,
    n_actions: int | None = None,
    state_dist: np.ndarray | None = None,
    action_dist: np.ndarray | None = None,
) -> np.ndarray:
    """C(R) as a dense (S, A, S) array, for a reward (S,), (S, A) or (S, A, S)."""
    r = np.asarray(reward, np.float64)
    S = r.shape[0]
    A = r.shape[1] if r.ndim > 1 else n_actions
    if A is None:
        raise ConfigError("a state reward (S,) needs n_actions to be canonicalised")
    if S * A * S > DENSE_LIMIT:
        raise ConfigError(f"an (S, A, S) array of {S}x{A}x{S} is too large; use epic_distance")
    r3 = r if r.ndim == 3 else np.broadcast_to(_as_sa(r, A)[:, :, None], (S, A, S))
    ds, da = _dist(state_dist, S, "state_dist"), _dist(action_dist, A, "action_dist")
    m = np.einsum("xak,a,k->x", r3, da, ds)  # m(x) = E[R(x, A, S')]
    return r3 + gamma * m[None, None, :] - m[:, None, None] - gamma * float(ds @ m)


def epic_distance(
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    gamma: float,
    n_actions: int | None = None,
    state_dist: np.ndarray | None = None,
    action_dist: np.ndarray | None = None,
) -> float:
    """Exact EPIC distance of two tabular rewards under coverage D_S × D_A × D_S.

    reward_a, reward_b: (S,) state rewards (paid on leaving s), (S, A) or (S, A, S).
    n_actions: needed when both rewards are (S,).
    state_dist, action_dist: D_S and D_A (default uniform).

    (S,) and (S, A) rewards never build an S² array: their canonical form is
    u(s, a) + γ·w(s') with u = r(s, a) − r̄(s) and w = r̄(s') − E[r̄], whose two parts are
    independent with mean 0 under the product coverage, so the moments separate.
    """
    a, b = np.asarray(reward_a, np.float64), np.asarray(reward_b, np.float64)
    if a.shape[0] != b.shape[0]:
        raise ConfigError(f"rewards over {a.shape[0]} and {b.shape[0]} states cannot be compared")
    A = next((r.shape[1] for r in (a, b) if r.ndim > 1), n_actions)
    if A is None:
        raise ConfigError("two state rewards (S,) need n_actions to be compared")
    for r in (a, b):
        if r.ndim > 1 and r.shape[1] != A:
            raise ConfigError(f"rewards over {A} and {r.shape[1]} actions cannot be compared")
        if not np.isfinite(r).all():
            raise ConfigError("EPIC needs finite rewards; this one has NaN or inf entries")
    S = a.shape[0]
    ds, da = _dist(state_dist, S, "state_dist"), _dist(action_dist, A, "action_dist")
    if a.ndim == 3 or b.ndim == 3:
        ca = canonicalize_tabular(a, gamma, A, ds, da)
        cb = canonicalize_tabular(b, gamma, A, ds, da)
        weights = ds[:, None, None] * da[None, :, None] * ds[None, None, :]
        return pearson_distance(ca, cb, weights)

    def parts(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sa = _as_sa(r, A)
        mean = sa @ da  # r̄(s)
        return sa - mean[:, None], mean - ds @ mean

    (ua, wa), (ub, wb) = parts(a), parts(b)
    w_sa = ds[:, None] * da[None, :]

    def moment(u1: np.ndarray, w1: np.ndarray, u2: np.ndarray, w2: np.ndarray) -> float:
        return float((w_sa * u1 * u2).sum() + gamma**2 * (ds * w1 * w2).sum())

    return _distance(moment(ua, wa, ub, wb), moment(ua, wa, ua, wa), moment(ub, wb, ub, wb))


def _repeat(obs: Obs, n: int) -> Obs:
    if isinstance(obs, dict):
        return {k: np.repeat(np.asarray(v), n, axis=0) for k, v in obs.items()}
    return np.repeat(np.asarray(obs), n, axis=0)


def _tile(obs: Obs, n: int) -> Obs:
    def tile(v: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(v), (n,) + (1,) * (np.asarray(v).ndim - 1))

    return {k: tile(v) for k, v in obs.items()} if isinstance(obs, dict) else tile(obs)


def canonicalize_sampled(
    reward: RewardFn,
    obs: Obs,
    acts: np.ndarray,
    next_obs: Obs,
    gamma: float,
    mean_states: Obs,
    mean_acts: np.ndarray,
    batch: int = 65_536,
) -> np.ndarray:
    """C(R) on N transitions, the expectations estimated on M (state, action) samples.

    E[R(x, A, S')] is the mean of R(x, a_j, s_j) over the M pairs; E over S of that mean uses
    the same M states, so a potential shaping cancels exactly, not only in expectation.
    """
    n, m = obs_len(obs), len(mean_acts)

    def mean_from(states: Obs) -> np.ndarray:  # m(x) for each of len(states) states
        k = obs_len(states)
        out = np.empty(k)
        step = max(1, batch // m)
        for lo in range(0, k, step):
            x = obs_index(states, slice(lo, lo + step))
            rows = obs_len(x)
            acts_m = np.tile(mean_acts, (rows,) + (1,) * (mean_acts.ndim - 1))
            r = reward(_repeat(x, m), acts_m, _tile(mean_states, rows),
                       np.zeros(rows * m, dtype=bool))  # fmt: skip
            out[lo : lo + rows] = np.asarray(r, np.float64).reshape(rows, m).mean(axis=1)
        return out

    direct = np.asarray(reward(obs, acts, next_obs, np.zeros(n, dtype=bool)), np.float64)
    return (
        direct
        + gamma * mean_from(next_obs)
        - mean_from(obs)
        - gamma * mean_from(mean_states).mean()
    )


def epic_distance_sampled(
    reward_a: RewardFn,
    reward_b: RewardFn,
    obs: Obs,
    acts: np.ndarray,
    next_obs: Obs,
    gamma: float,
    n_mean: int = 256,
    seed: int = 0,
) -> float:
    """EPIC distance of two reward functions on N coverage transitions (e.g. expert and
    learner transitions pooled); D_S and D_A are the transitions' own states and actions,
    `n_mean` of each drawn independently (seeded) for the canonicalisation."""
    n = obs_len(obs)
    if n < 2:
        raise ConfigError("sampled EPIC needs at least 2 coverage transitions")
    rng = np.random.default_rng(seed)
    states = obs_index(obs, rng.integers(0, n, n_mean))
    actions = np.asarray(acts)[rng.integers(0, n, n_mean)]
    ca = canonicalize_sampled(reward_a, obs, acts, next_obs, gamma, states, actions)
    cb = canonicalize_sampled(reward_b, obs, acts, next_obs, gamma, states, actions)
    return pearson_distance(ca, cb)

"""Demonstrations for tabular IRL: expert trajectories or exact expert occupancy measures.

Every tabular IRL algorithm takes `ExpertDemos`: either a sequence of `Trajectory` with
integer observations (state indices) and actions, or an occupancy measure computed exactly
(`optimal_occupancy`, `state_action_occupancy`). Trajectories are turned into the same
measure empirically, with the conventions of `protege.envs.tabular.solvers`, so that the
two are interchangeable and "infinitely many demonstrations" is the exact occupancy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np

from protege.data.types import Trajectory
from protege.envs.tabular.mdp import TabularMDP
from protege.errors import DatasetError

ExpertDemos: TypeAlias = Sequence[Trajectory] | np.ndarray
"""Expert trajectories (integer obs/acts), or an occupancy measure (S,) or (S, A)."""


def _indices(i: int, name: str, values: object, n: int, mdp: TabularMDP) -> np.ndarray:
    """`values` as int64 indices in 0..n-1, or a `DatasetError` naming trajectory and field."""
    if isinstance(values, dict):
        raise DatasetError(
            f"trajectory {i}: {name} is a dict; tabular IRL needs integer state indices"
        )
    arr = np.asarray(values)
    integral = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))
    )
    if arr.ndim != 1 or not integral:
        raise DatasetError(
            f"trajectory {i}: {name} must be a 1-D array of integer indices for a Discrete "
            f"space, got dtype {arr.dtype} and shape {arr.shape}"
        )
    idx = arr.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise DatasetError(
            f"trajectory {i}: {name} holds {idx.min()}..{idx.max()}, outside 0..{n - 1} of "
            f"this MDP ({mdp.summary()})"
        )
    return idx


def occupancy_from_trajectories(mdp: TabularMDP, trajectories: Sequence[Trajectory]) -> np.ndarray:
    """The empirical state-action occupancy (S, A) of `trajectories`, averaged over episodes.

    Finite horizon T: Σ_{t<T} γ^t 1[s_t = s, a_t = a]. Discounted: (1 - γ) Σ_t γ^t 1[...].
    An episode that *terminated* early stays in its final (absorbing) state for the rest of
    the horizon (actions spread uniformly, they do not matter there), as it would in the
    model. A discounted episode that was *truncated* is renormalised over the steps seen.
    """
    if len(trajectories) == 0:
        raise DatasetError("no trajectories: tabular IRL needs at least one expert episode")
    S, A, gamma, T = mdp.n_states, mdp.n_actions, mdp.gamma, mdp.horizon
    flat_idx: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for i, traj in enumerate(trajectories):
        obs = _indices(i, "obs", traj.obs, S, mdp)
        acts = _indices(i, "acts", traj.acts, A, mdp)
        n = len(acts) if T is None else min(len(acts), T)
        t = np.arange(n)
        w = gamma**t if T is not None else (1.0 - gamma) * gamma**t
        pad = 0.0  # the mass of the absorbing tail after a termination
        if traj.terminated:
            if T is None:
                pad = gamma**n
            elif gamma < 1.0:
                pad = (gamma**n - gamma**T) / (1.0 - gamma)
            else:
                pad = float(T - n)
        elif T is None and n > 0:
            w = w / w.sum()
        flat_idx.append(obs[:n] * A + acts[:n])
        weights.append(w)
        if pad > 0:
            final = int(obs[n])
            flat_idx.append(final * A + np.arange(A))
            weights.append(np.full(A, pad / A))
    counts = np.bincount(np.concatenate(flat_idx), weights=np.concatenate(weights), minlength=S * A)
    return counts.reshape(S, A) / len(trajectories)


def state_action_counts(mdp: TabularMDP, trajectories: Sequence[Trajectory]) -> np.ndarray:
    """How often the expert took each action in each state, (S, A): undiscounted counts.

    Likelihood-based methods (Bayesian IRL) score every observed (s, a) pair once.
    """
    if len(trajectories) == 0:
        raise DatasetError("no trajectories: tabular IRL needs at least one expert episode")
    S, A = mdp.n_states, mdp.n_actions
    flat = [
        _indices(i, "obs", t.obs, S, mdp)[: len(t.acts)] * A + _indices(i, "acts", t.acts, A, mdp)
        for i, t in enumerate(trajectories)
    ]
    return np.bincount(np.concatenate(flat), minlength=S * A).reshape(S, A).astype(np.float64)


def expected_occupancy_mass(mdp: TabularMDP) -> float:
    """Σ ρ for this MDP's conventions: 1 discounted, Σ_{t<T} γ^t with a finite horizon."""
    if mdp.horizon is None:
        return 1.0
    return float(np.sum(mdp.gamma ** np.arange(mdp.horizon)))


def demo_occupancy(
    mdp: TabularMDP, demos: ExpertDemos, *, state_action: bool = False
) -> np.ndarray:
    """The expert occupancy as an array: (S, A) if `state_action`, else (S,).

    Raises `DatasetError` when the demonstrations cannot give what is asked (a state
    occupancy cannot give actions) or do not fit the MDP (shape, sign, total mass).
    """
    if isinstance(demos, np.ndarray):
        rho = np.asarray(demos, dtype=np.float64)
        S, A = mdp.n_states, mdp.n_actions
        if rho.shape not in ((S,), (S, A)):
            raise DatasetError(
                f"an expert occupancy for this MDP has shape ({S},) or ({S}, {A}), got {rho.shape}"
            )
        if not np.all(np.isfinite(rho)) or rho.min() < -1e-12:
            raise DatasetError("the expert occupancy has negative or non-finite entries")
        mass = expected_occupancy_mass(mdp)
        if abs(rho.sum() - mass) > 1e-6 * mass:
            raise DatasetError(
                f"the expert occupancy sums to {rho.sum():.6g}, but occupancies of this MDP "
                f"sum to {mass:.6g} (finite horizon: Σ_t γ^t; discounted: normalised to 1)"
            )
        if state_action and rho.ndim == 1:
            raise DatasetError(
                "this algorithm needs the expert's actions: give a state-action occupancy "
                "(S, A) or trajectories, not a state occupancy (S,)"
            )
    else:
        rho = occupancy_from_trajectories(mdp, demos)
    if not state_action and rho.ndim == 2:
        return rho.sum(axis=1)
    return rho


def policy_from_occupancy(occupancy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """π(a|s) = ρ(s, a) / ρ(s) and the mask of states the expert visits.

    Unvisited states get the uniform policy. For a discounted MDP the stationary policy
    reproduces the occupancy exactly (also that of a mixture of policies).
    """
    rho = np.asarray(occupancy, dtype=np.float64)
    rho_s = rho.sum(axis=1)
    visited = rho_s > 0
    policy = np.full_like(rho, 1.0 / rho.shape[1])
    policy[visited] = rho[visited] / rho_s[visited, None]
    return policy, visited

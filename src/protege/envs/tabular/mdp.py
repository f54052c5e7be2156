"""`TabularMDP`: a finite MDP whose dynamics are known, stored sparsely.

The transition model is one `scipy.sparse.csr_matrix` `P` of shape (S·A, S) whose row
`s * A + a` is the distribution of the next state after action `a` in state `s`. Memory
therefore grows with the number of non-zero transitions (a gridworld has a handful per
row), never with S², and every solver in `protege.envs.tabular.solvers` is a sequence of
sparse matrix-vector products over all states at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp

from protege.errors import EnvError

Features: TypeAlias = np.ndarray | sp.csr_matrix
"""State features (S, d): a dense array, or a sparse matrix (one-hot features of a large
gridworld would not fit densely)."""


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP with known, sparse dynamics.

    P: (S·A, S) `csr_matrix`; row `s * A + a` holds P(s' | s, a) and sums to 1.
    reward: (S,) reward of the state an action is taken in, or (S, A) per state-action.
    features: (S, d) state features φ(s) that IRL algorithms fit a reward over; dense
        array or sparse matrix (the builders give sparse one-hot features by default).
    initial: (S,) distribution of the first state.
    gamma: discount γ in (0, 1]; below 1 when there is no horizon.
    horizon: number of steps T of a finite-horizon problem (returns and occupancies sum
        over t = 0..T-1), or None for the discounted infinite-horizon problem.
    terminal: (S,) bool, states where an episode ends (absorbing in `P`), or None. Only the
        Gymnasium wrapper reads it; the solvers treat such states as absorbing.
    meta: what a builder wants to remember (grid shape, goal cells, object positions...).
    """

    P: sp.csr_matrix
    reward: np.ndarray
    features: Features
    initial: np.ndarray
    gamma: float = 1.0
    horizon: int | None = None
    terminal: np.ndarray | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        P = self.P
        if not sp.issparse(P) or P.ndim != 2:
            raise EnvError(f"TabularMDP.P must be a scipy.sparse matrix (S·A, S), got {type(P)}")
        P = sp.csr_matrix(P, dtype=np.float64)
        P.sum_duplicates()
        n_rows, n_states = P.shape
        if n_states == 0 or n_rows % n_states:
            raise EnvError(
                f"TabularMDP.P has shape {P.shape}; it must be (S·A, S) with row s*A + a"
            )
        if P.data.size and P.data.min() < 0:
            raise EnvError("TabularMDP.P has negative transition probabilities")
        row_sums = np.asarray(P.sum(axis=1)).ravel()
        bad = np.flatnonzero(np.abs(row_sums - 1.0) > 1e-8)
        if bad.size:
            s, a = divmod(int(bad[0]), n_rows // n_states)
            raise EnvError(
                f"TabularMDP.P rows must sum to 1: {bad.size} do not, the first is state {s}, "
                f"action {a} (sum {row_sums[bad[0]]:.6g}); normalise P or add a self-loop"
            )
        object.__setattr__(self, "P", P)
        n_actions = n_rows // n_states

        reward = np.asarray(self.reward, dtype=np.float64)
        if reward.shape not in ((n_states,), (n_states, n_actions)):
            raise EnvError(
                f"TabularMDP.reward has shape {reward.shape}; expected ({n_states},) or "
                f"({n_states}, {n_actions})"
            )
        object.__setattr__(self, "reward", reward)

        features = self.features
        if sp.issparse(features):
            features = sp.csr_matrix(features, dtype=np.float64)
        else:
            features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] != n_states:
            raise EnvError(
                f"TabularMDP.features has shape {features.shape}; expected ({n_states}, d)"
            )
        object.__setattr__(self, "features", features)

        initial = np.asarray(self.initial, dtype=np.float64)
        if initial.shape != (n_states,) or initial.min() < 0 or abs(initial.sum() - 1) > 1e-8:
            raise EnvError(
                f"TabularMDP.initial must be a distribution over {n_states} states "
                f"(shape {initial.shape}, sum {initial.sum():.6g})"
            )
        object.__setattr__(self, "initial", initial)

        if not 0.0 < self.gamma <= 1.0:
            raise EnvError(f"TabularMDP.gamma must be in (0, 1], got {self.gamma}")
        if self.horizon is None and self.gamma >= 1.0:
            raise EnvError(
                "a TabularMDP without a horizon needs gamma < 1 (the infinite sum diverges); "
                "set gamma=0.99 or a finite horizon"
            )
        if self.horizon is not None and self.horizon < 1:
            raise EnvError(f"TabularMDP.horizon must be at least 1, got {self.horizon}")
        if self.terminal is not None:
            terminal = np.asarray(self.terminal, dtype=bool)
            if terminal.shape != (n_states,):
                raise EnvError(
                    f"TabularMDP.terminal has shape {terminal.shape}; expected ({n_states},)"
                )
            object.__setattr__(self, "terminal", terminal)

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return int(self.P.shape[1])

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return int(self.P.shape[0] // self.P.shape[1])

    @property
    def n_features(self) -> int:
        """d, the number of state features."""
        return int(self.features.shape[1])

    @property
    def finite_horizon(self) -> bool:
        """True for the finite-horizon problem, False for the discounted infinite one."""
        return self.horizon is not None

    @cached_property
    def P_action_major(self) -> sp.csr_matrix:
        """`P` with rows reordered to `a * S + s`: `P_action_major @ V` reshapes to (A, S).

        The solvers work in this layout because reductions over actions are then
        elementwise operations on contiguous rows, several times faster than reducing the
        short last axis of an (S, A) array. Built once, on first use; its transpose (a CSC
        view, no copy) pushes occupancy measures forward in time.
        """
        S, A = self.n_states, self.n_actions
        order = np.arange(S * A).reshape(S, A).T.ravel()
        return sp.csr_matrix(self.P[order])

    def state_action_reward(self, reward: np.ndarray | None = None) -> np.ndarray:
        """`reward` (default: `self.reward`) as an array broadcastable to (S, A)."""
        r = self.reward if reward is None else np.asarray(reward, dtype=np.float64)
        if r.shape == (self.n_states,):
            return r[:, None]
        if r.shape == (self.n_states, self.n_actions):
            return r
        raise EnvError(
            f"a reward for this MDP has shape ({self.n_states},) or "
            f"({self.n_states}, {self.n_actions}), got {r.shape}"
        )

    def dense_features(self) -> np.ndarray:
        """The features as a dense (S, d) array (for small MDPs and neural rewards)."""
        f = self.features
        return np.asarray(f) if isinstance(f, np.ndarray) else f.toarray()

    def summary(self) -> str:
        """One line: sizes, non-zeros, discount and horizon."""
        h = f"horizon {self.horizon}" if self.horizon is not None else "infinite horizon"
        return (
            f"TabularMDP(S={self.n_states}, A={self.n_actions}, d={self.n_features}, "
            f"nnz(P)={self.P.nnz}, gamma={self.gamma}, {h})"
        )

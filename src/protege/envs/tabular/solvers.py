"""Planning in a `TabularMDP`: value iteration, soft value iteration, policy evaluation,
occupancy measures and feature expectations.

Every routine is a loop over time steps (or fixed-point iterations) whose body is one
sparse matrix-vector product over all states and actions plus elementwise array maths:
there is no loop over states. The discounted problems solve linear systems of one policy,
(I - γP_π) x = b, by a sparse LU or GMRES (`protege.envs.tabular.linalg`): policy
evaluation, occupancy measures, and each Newton step of soft value iteration.

Internally arrays are laid out action-major, (A, S), so that the reductions over actions
are elementwise operations on contiguous rows; the public arrays are (S, A) views of that
memory (no copy), and passing them back in costs nothing.

Conventions (the ones the IRL algorithms rely on):

- Finite horizon T: t = 0..T-1; V_T = 0; values and occupancies sum over those T steps,
  discounted by γ^t (γ = 1 is allowed). Policies are time-dependent, (T, S, A).
- Discounted infinite horizon: stationary policies (S, A); occupancy measures are
  normalised, ρ(s, a) = (1 - γ) Σ_t γ^t Pr(s_t = s, a_t = a), and sum to 1.
- A reward is (S,) (earned in the state an action is taken in) or (S, A).

From `PARALLEL_MIN_STATES` states on, each time step of the finite-horizon passes runs on
ranges of states (backward) or of actions (forward) in threads: scipy's sparse products and
numpy's ufuncs release the GIL, and each thread's result is computed exactly as one thread
would, so the numbers do not depend on the thread count (up to the order of one sum).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from protege.envs.tabular.linalg import EXACT_RTOL, policy_matrix, solve_discounted
from protege.envs.tabular.mdp import TabularMDP

SoftSolver = Literal["newton", "iteration"]
"""How discounted soft value iteration reaches its fixed point (`soft_value_iteration`)."""

NEWTON_PATIENCE = 5
"""Newton steps in a row that may fail to lower the residual before plain backups take over."""

NEWTON_MAX_RTOL = 0.01
"""The loosest relative residual a Newton step's linear solve may stop at. Looser (0.1)
was faster at γ = 0.9 but sent some Newton steps astray at γ = 0.99 and 0.999."""


@dataclass(frozen=True)
class ValueResult:
    """Values of a policy or of the optimal policy.

    V: (S,) or, with a finite horizon, (T, S) where V[t] is the value with T - t steps to go.
    Q: (S, A) or (T, S, A).
    policy: (S, A) or (T, S, A) action probabilities (one-hot for an optimal policy).
    iterations: Bellman backups performed; converged: the tolerance was met.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int = 0
    converged: bool = True


@dataclass(frozen=True)
class SoftValueResult:
    """Soft (entropy-regularised) values and the soft-optimal policy π(a|s) = exp(Q - V).

    V: (S,) or (T, S); policy: (S, A) or (T, S, A). Q is not stored (it would double the
    memory of a long horizon); the property recovers it exactly as V + log π.
    """

    V: np.ndarray
    policy: np.ndarray
    iterations: int = 0
    converged: bool = True

    @property
    def Q(self) -> np.ndarray:
        """Soft Q-values, (S, A) or (T, S, A)."""
        with np.errstate(divide="ignore"):
            return self.V[..., None] + np.log(self.policy)


# ---------------------------------------------------------------------------- helpers


def _reward_am(mdp: TabularMDP, reward: np.ndarray | None) -> np.ndarray:
    """The reward in action-major layout: (1, S) or (A, S), broadcastable to (A, S)."""
    return mdp.state_action_reward(reward).T


def _policy_am(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """A policy (S, A) or (T, S, A) as a contiguous (A, S) or (T, A, S) array, checked."""
    policy = np.asarray(policy, dtype=np.float64)
    S, A = mdp.n_states, mdp.n_actions
    if policy.shape != (S, A) and not (
        mdp.horizon is not None and policy.shape == (mdp.horizon, S, A)
    ):
        expected = f"({S}, {A})" + (
            f" or ({mdp.horizon}, {S}, {A})" if mdp.horizon is not None else ""
        )
        raise ValueError(f"a policy for this MDP has shape {expected}, got {policy.shape}")
    return np.ascontiguousarray(np.swapaxes(policy, -1, -2))


def _expected_next(mdp: TabularMDP, V: np.ndarray) -> np.ndarray:
    """E[V(s') | s, a] for all (s, a): one sparse product, (A, S)."""
    return (mdp.P_action_major @ V).reshape(mdp.n_actions, mdp.n_states)


def _log_expected_exp_next(mdp: TabularMDP, V: np.ndarray, row_of: np.ndarray) -> np.ndarray:
    """log E[exp V(s') | s, a] for all (s, a), stable per row: (A, S).

    The "optimistic" backup of Ziebart et al. 2008's MaxEnt partition function, where the
    next state is part of the maximised path distribution rather than chosen by nature.
    """
    P = mdp.P_action_major
    vals = V[P.indices]
    starts = P.indptr[:-1]  # every row has an entry: rows of P sum to one
    m = np.maximum.reduceat(vals, starts)
    w = P.data * np.exp(vals - m[row_of])
    return (m + np.log(np.add.reduceat(w, starts))).reshape(mdp.n_actions, mdp.n_states)


def _row_of_nonzeros(mdp: TabularMDP) -> np.ndarray:
    P = mdp.P_action_major
    return np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))


SOFT_BLOCK_STATES = 1 << 15
"""States per block of the soft Bellman update: A·32768 floats stay in cache across its
passes (add, max, exp, sum, divide), instead of streaming the whole (A, S) array each time."""


def _soft_bellman(dest: np.ndarray, nxt: np.ndarray | None, r: np.ndarray, V: np.ndarray) -> None:
    """Q = r + nxt (or r alone when `nxt` is None), all (A, S) or broadcastable to it;
    writes π(a|s) = exp(Q - V) into `dest` (A, S) and V = log Σ_a exp Q into `V` (S,)."""
    S = dest.shape[1]
    if S <= SOFT_BLOCK_STATES:  # one block: skip the slicing (small MDPs iterate a lot)
        if nxt is None:
            dest[...] = r
        else:
            np.add(nxt, r, out=dest)
        _soft_max_block(dest, V)
        return
    for lo in range(0, S, SOFT_BLOCK_STATES):
        cols = slice(lo, lo + SOFT_BLOCK_STATES)
        q = dest[:, cols]
        if nxt is None:
            q[...] = r[:, cols]
        else:
            np.add(nxt[:, cols], r[:, cols], out=q)
        _soft_max_block(q, V[cols])


PARALLEL_MIN_STATES = 100_000
"""From this many states on, the finite-horizon passes use up to `MAX_THREADS` threads."""

MAX_THREADS = 8
"""Threads at most (also bounded by the CPUs this process may run on)."""

_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _n_threads(n_states: int) -> int:
    if n_states < PARALLEL_MIN_STATES:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_THREADS, cpus or 1))


def _run(work: Callable[[int], None], n: int) -> None:
    """work(0), ..., work(n - 1), in threads when n > 1; the first exception is raised."""
    global _pool, _pool_size
    if n == 1:
        work(0)
        return
    if _pool is None or _pool_size < n:  # one shared pool, grown when more threads are asked
        _pool_size = max(n, MAX_THREADS)
        _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="protege")
    list(_pool.map(work, range(n)))


def _ranges(n: int, k: int) -> list[tuple[int, int]]:
    """k contiguous ranges covering 0..n-1, of near-equal length."""
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _row_block(M: sp.csr_matrix, lo: int, hi: int) -> sp.csr_matrix:
    """Rows lo..hi-1 of `M` as a CSR matrix sharing its memory (slicing would copy)."""
    i0, i1 = int(M.indptr[lo]), int(M.indptr[hi])
    block = sp.csr_matrix((hi - lo, M.shape[1]), dtype=M.dtype)
    block.data, block.indices = M.data[i0:i1], M.indices[i0:i1]
    block.indptr = M.indptr[lo : hi + 1] - M.indptr[lo]
    return block


def _soft_max_in_place(q: np.ndarray, V: np.ndarray) -> None:
    """q (A, n) ← exp(q - V) and V (n,) ← log Σ_a exp q, block by block."""
    for lo in range(0, q.shape[1], SOFT_BLOCK_STATES):
        _soft_max_block(q[:, lo : lo + SOFT_BLOCK_STATES], V[lo : lo + SOFT_BLOCK_STATES])


def _soft_max_block(q: np.ndarray, v: np.ndarray) -> None:
    m = q.max(axis=0)
    q -= m
    np.exp(q, out=q)
    z = q.sum(axis=0)
    q /= z
    np.log(z, out=v)
    v += m


class _ParallelSoftBackup:
    """The causal soft Bellman update on ranges of states, one per thread, for large MDPs.

    Thread k owns states lo..hi-1: for every action a it multiplies the rows a·S + lo ..
    a·S + hi - 1 of the action-major P (shared, not copied) with V, adds r, and takes the
    soft max over actions, so each state's numbers are those of the serial update.
    """

    def __init__(self, mdp: TabularMDP, r: np.ndarray, threads: int) -> None:
        S, A = mdp.n_states, mdp.n_actions
        P = mdp.P_action_major
        self.r, self.ranges = r, _ranges(S, threads)
        self.blocks = [[_row_block(P, a * S + lo, a * S + hi) for a in range(A)]
                       for lo, hi in self.ranges]  # fmt: skip

    def __call__(self, dest: np.ndarray, V_next: np.ndarray | None, V: np.ndarray) -> None:
        """dest (A, S) ← π, V (S,) ← soft values, for Q = r + E[V_next(s')] (or r)."""
        r = self.r

        def work(k: int) -> None:
            lo, hi = self.ranges[k]
            for a, block in enumerate(self.blocks[k]):
                r_a = r[a if r.shape[0] > 1 else 0, lo:hi]
                if V_next is None:
                    dest[a, lo:hi] = r_a
                else:
                    np.add(block @ V_next, r_a, out=dest[a, lo:hi])
            _soft_max_in_place(dest[:, lo:hi], V[lo:hi])

        _run(work, len(self.ranges))


class _Forward:
    """One step of the forward pass, d' = Pᵀ (π ⊙ d), optionally accumulating π ⊙ d.

    Large MDPs split the actions among threads: thread k forms x_a = π_a ⊙ d for its
    actions and pushes them through the matching rows of the action-major P (shared, not
    copied) into its own partial d'; the partials are then summed.
    """

    def __init__(self, mdp: TabularMDP) -> None:
        S, A = mdp.n_states, mdp.n_actions
        self.P = mdp.P_action_major
        threads = min(_n_threads(S), A)
        self.ranges = _ranges(A, threads)
        self.blocks = [_row_block(self.P, a0 * S, a1 * S) for a0, a1 in self.ranges]
        self.x = np.empty((A, S))

    def __call__(
        self, pi: np.ndarray, d: np.ndarray, push: bool, rho: np.ndarray | None, weight: float
    ) -> np.ndarray | None:
        """x = π ⊙ d; rho += weight·x when given; returns Pᵀx when `push`, else None."""
        x = self.x
        if len(self.ranges) == 1:
            np.multiply(pi, d, out=x)
            if rho is not None:
                rho += weight * x
            return self.P.T @ x.ravel() if push else None
        partial: list[np.ndarray | None] = [None] * len(self.ranges)

        def work(k: int) -> None:
            a0, a1 = self.ranges[k]
            np.multiply(pi[a0:a1], d, out=x[a0:a1])
            if rho is not None:
                rho[a0:a1] += weight * x[a0:a1]
            if push:
                partial[k] = self.blocks[k].T @ x[a0:a1].ravel()

        _run(work, len(self.ranges))
        if not push:
            return None
        total = partial[0]
        assert total is not None
        for part in partial[1:]:
            total += part
        return total


def _sup(x: np.ndarray) -> float:
    return float(np.abs(x).max()) if x.size else 0.0


# ---------------------------------------------------------------------------- solvers


def soft_value_iteration(
    mdp: TabularMDP,
    reward: np.ndarray | None = None,
    *,
    causal: bool = True,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
    V0: np.ndarray | None = None,
    out: SoftValueResult | None = None,
    solver: SoftSolver = "newton",
) -> SoftValueResult:
    """Soft (maximum-entropy) Bellman backups: V(s) = log Σ_a exp Q(s, a).

    causal=True is maximum causal entropy (Ziebart 2010): Q = r + γ E[V(s')]. causal=False
    is the MaxEnt partition function of Ziebart et al. 2008: Q = r + log E[exp γV(s')],
    which coincides with it under deterministic dynamics.
    Finite horizon: T backward steps, time-dependent policy (T, S, A). Discounted: the
    fixed point, from V0 (a warm start from a nearby reward), reached once a backup
    V_k+1 = T(V_k) has the sup-norm error bound γ/(1-γ)·‖V_k+1 - V_k‖ at or below `tol`;
    the result is that backup's V_k+1 and policy, whichever `solver` led to V_k:
    "newton" (default) is soft policy iteration, Newton's method on V = T(V): it evaluates
    each backup's soft policy by a sparse linear solve (`_newton_step`) and converges
    quadratically, in a handful of backups; "iteration" repeats backups, V_k+1 = T(V_k),
    converging at rate γ (hundreds of backups at γ = 0.9; 2-50x slower, measured by
    `benchmarks/tabular_solvers.py`).
    reward: (S,) or (S, A); defaults to `mdp.reward`.
    out: a previous result for this MDP whose arrays are overwritten and returned instead
        of allocating new ones: an IRL loop that no longer needs the previous policy saves
        re-allocating T·S·A floats every iteration (and holds one copy, not two).
    """
    r = _reward_am(mdp, reward)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    row_of = np.empty(0, dtype=np.int64) if causal else _row_of_nonzeros(mdp)

    def expected_next(V: np.ndarray) -> np.ndarray:
        """γ E[V(s')] (causal; γ scales V, S numbers, not the A·S result) or
        log E[exp γV(s')] (MaxEnt 2008), (A, S)."""
        if causal:
            return _expected_next(mdp, V if gamma == 1.0 else gamma * V)
        return _log_expected_exp_next(mdp, gamma * V, row_of)

    T = mdp.horizon
    policy = _reusable(out, (A, S) if T is None else (T, A, S))
    if T is not None:
        V = _reusable(out, (T, S), values=True)
        threads = _n_threads(S)
        parallel = _ParallelSoftBackup(mdp, r, threads) if causal and threads > 1 else None
        for t in reversed(range(T)):
            if parallel is not None:
                V_next = None if t == T - 1 else V[t + 1] if gamma == 1.0 else gamma * V[t + 1]
                parallel(policy[t], V_next, V[t])
                continue
            nxt = None if t == T - 1 else expected_next(V[t + 1])
            _soft_bellman(policy[t], nxt, r, V[t])
        return SoftValueResult(V=V, policy=policy.transpose(0, 2, 1), iterations=T)

    if solver not in ("newton", "iteration"):
        raise ValueError(f"solver is 'newton' or 'iteration', not {solver!r}")
    newton = solver == "newton"
    V = np.zeros(S) if V0 is None else np.array(V0, dtype=np.float64)
    V_new = V
    bound = gamma / (1.0 - gamma)
    best, stalled = np.inf, 0
    for it in range(1, max_iterations + 1):
        nxt = expected_next(V)
        V_new = np.empty(S)
        _soft_bellman(policy, nxt, r, V_new)
        residual = V_new - V  # T(V) - V
        delta = _sup(residual)
        if bound * delta <= tol:
            return SoftValueResult(V=V_new, policy=policy.T, iterations=it)
        best, stalled = (delta, 0) if delta < best else (best, stalled + 1)
        # Newton's first step may raise the residual (it jumps to a point below the fixed
        # point, from which it climbs monotonically); one that keeps failing to lower it
        # (rounding at the limit of precision) hands over to plain backups for good.
        newton = newton and stalled < NEWTON_PATIENCE
        if newton:
            V = V + _newton_step(mdp, policy, residual, V, nxt, causal, row_of, delta)
        else:
            V = V_new
    return SoftValueResult(V=V_new, policy=policy.T, iterations=max_iterations, converged=False)


def _newton_step(
    mdp: TabularMDP,
    policy_am: np.ndarray,
    residual: np.ndarray,
    V: np.ndarray,
    nxt: np.ndarray,
    causal: bool,
    row_of: np.ndarray,
    rtol: float,
) -> np.ndarray:
    """Newton's step on V = T(V) at V: (I - J)⁻¹ (T(V) - V), with J = ∂T/∂V = γM.

    M is row-stochastic, (S, S): MCE's M = P_π of the backup's soft policy π (so the step
    lands on π's soft value, V^π = (I - γP_π)⁻¹ (r_π + H(π)): policy iteration); MaxEnt
    2008's weighs each next state by its share of E[exp γV(s')], P(s'|s, a)·exp(γV(s') -
    nxt(a, s)). `nxt` is the backup's (A, S) γE[V(s')] or log E[exp γV(s')]. The solve
    is inexact, to relative residual `rtol` (the residual's size, so that convergence
    stays quadratic; at most `NEWTON_MAX_RTOL`).
    """
    P = mdp.P_action_major
    if not causal:
        tilt = np.exp(mdp.gamma * V[P.indices] - nxt.ravel()[row_of])
        P = sp.csr_matrix((P.data * tilt, P.indices, P.indptr), shape=P.shape)
    M = policy_matrix(mdp, policy_am, P)
    rtol = min(max(rtol, EXACT_RTOL), NEWTON_MAX_RTOL)
    return solve_discounted(M, residual, mdp.gamma, rtol=rtol)


def _reusable(
    out: SoftValueResult | None, shape: tuple[int, ...], values: bool = False
) -> np.ndarray:
    """The action-major policy (or, with `values`, V) array of `out` if it has `shape`."""
    if out is not None:
        arr = out.V if values else np.swapaxes(out.policy, -1, -2)
        if arr.shape == shape and arr.flags.c_contiguous and arr.flags.writeable:
            return arr
    return np.empty(shape)


def value_iteration(
    mdp: TabularMDP,
    reward: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
    V0: np.ndarray | None = None,
) -> ValueResult:
    """Optimal values and a deterministic optimal policy by Bellman optimality backups.

    Finite horizon: T backward steps (time-dependent policy). Discounted: iterate until the
    sup-norm error bound γ/(1-γ)·‖V_k+1 - V_k‖ is below `tol`. Ties go to the lowest action.
    """
    r = _reward_am(mdp, reward)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma

    def greedy(Q: np.ndarray) -> np.ndarray:
        pi = np.zeros_like(Q)
        pi[Q.argmax(axis=0), np.arange(S)] = 1.0
        return pi

    if mdp.horizon is not None:
        T = mdp.horizon
        Q = np.empty((T, A, S))
        V = np.empty((T, S))
        for t in reversed(range(T)):
            Q[t] = r if t == T - 1 else r + gamma * _expected_next(mdp, V[t + 1])
            V[t] = Q[t].max(axis=0)
        pi = np.stack([greedy(q) for q in Q])
        return ValueResult(V=V, Q=Q.transpose(0, 2, 1), policy=pi.transpose(0, 2, 1), iterations=T)

    Vk = np.zeros(S) if V0 is None else np.array(V0, dtype=np.float64)
    bound = gamma / (1.0 - gamma)
    converged = False
    it = 0
    Qk = np.empty((A, S))
    for it in range(1, max_iterations + 1):  # noqa: B007 - `it` is reported
        Qk = r + gamma * _expected_next(mdp, Vk)
        V_new = Qk.max(axis=0)
        delta = _sup(V_new - Vk)
        Vk = V_new
        if bound * delta <= tol:
            converged = True
            break
    return ValueResult(V=Vk, Q=Qk.T, policy=greedy(Qk).T, iterations=it, converged=converged)


def policy_evaluation(
    mdp: TabularMDP, policy: np.ndarray, reward: np.ndarray | None = None
) -> ValueResult:
    """V^π and Q^π of a (stochastic) policy, exactly.

    Discounted: one sparse linear solve (I - γ P_π) V = r_π. Finite horizon: T backward
    steps; `policy` may be stationary (S, A) or time-dependent (T, S, A).
    """
    r = _reward_am(mdp, reward)
    pi = _policy_am(mdp, policy)
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    if mdp.horizon is not None:
        T = mdp.horizon
        Q = np.empty((T, A, S))
        V = np.empty((T, S))
        for t in reversed(range(T)):
            Q[t] = r if t == T - 1 else r + gamma * _expected_next(mdp, V[t + 1])
            V[t] = (Q[t] * (pi[t] if pi.ndim == 3 else pi)).sum(axis=0)
        return ValueResult(
            V=V,
            Q=Q.transpose(0, 2, 1),
            policy=np.swapaxes(np.broadcast_to(pi, (T, A, S)), -1, -2),
            iterations=T,
        )
    r_pi = (np.broadcast_to(r, (A, S)) * pi).sum(axis=0)
    V = solve_discounted(policy_matrix(mdp, pi), r_pi, gamma)
    Q = r + gamma * _expected_next(mdp, V)
    return ValueResult(V=V, Q=Q.T, policy=pi.T)


def state_action_occupancy(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """ρ(s, a) of a policy from the MDP's initial distribution, (S, A).

    Finite horizon: Σ_{t<T} γ^t Pr(s_t = s, a_t = a), pushed forward one sparse product a
    step; `policy` stationary (S, A) or time-dependent (T, S, A). Discounted: the
    normalised (1 - γ) Σ_t γ^t Pr(...), from one sparse linear solve; it sums to 1.
    """
    pi = _policy_am(mdp, policy)
    if mdp.horizon is None:
        return (pi * _discounted_state_occupancy(mdp, pi)).T
    rho = np.zeros((mdp.n_actions, mdp.n_states))
    forward = _Forward(mdp)
    d: np.ndarray | None = mdp.initial
    for t in range(mdp.horizon):
        assert d is not None
        pi_t = pi[t] if pi.ndim == 3 else pi
        d = forward(pi_t, d, t < mdp.horizon - 1, rho, mdp.gamma**t)
    return rho.T


def state_occupancy(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """ρ(s) = Σ_a ρ(s, a), the state visitation frequencies, (S,).

    Same conventions as `state_action_occupancy`, computed without the (S, A) accumulator.
    """
    pi = _policy_am(mdp, policy)
    if mdp.horizon is None:
        return _discounted_state_occupancy(mdp, pi)
    rho = np.zeros(mdp.n_states)
    forward = _Forward(mdp)
    d: np.ndarray | None = mdp.initial
    for t in range(mdp.horizon - 1):
        assert d is not None
        rho += mdp.gamma**t * d
        d = forward(pi[t] if pi.ndim == 3 else pi, d, True, None, 0.0)
    assert d is not None
    rho += mdp.gamma ** (mdp.horizon - 1) * d
    return rho


def _discounted_state_occupancy(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """d = (1 - γ) (I - γ P_πᵀ)⁻¹ μ0 for a stationary action-major policy (A, S)."""
    if pi.ndim != 2:
        raise ValueError("a discounted MDP needs a stationary (S, A) policy")
    P_pi = policy_matrix(mdp, pi)
    d = solve_discounted(P_pi.T, (1.0 - mdp.gamma) * mdp.initial, mdp.gamma)
    return np.maximum(d, 0.0)


def feature_expectations(mdp: TabularMDP, occupancy: np.ndarray) -> np.ndarray:
    """μ = Σ_s ρ(s) φ(s), (d,), from a state (S,) or state-action (S, A) occupancy."""
    rho = np.asarray(occupancy, dtype=np.float64)
    if rho.ndim == 2:
        rho = rho.sum(axis=1)
    if rho.shape != (mdp.n_states,):
        raise ValueError(f"an occupancy for this MDP has {mdp.n_states} states, got {rho.shape}")
    return np.asarray(mdp.features.T @ rho).ravel()


def optimal_policy(
    mdp: TabularMDP, reward: np.ndarray | None = None, *, soft: bool = False
) -> np.ndarray:
    """The optimal (one-hot) or soft-optimal policy for `reward`: (S, A) or (T, S, A)."""
    if soft:
        return soft_value_iteration(mdp, reward).policy
    return value_iteration(mdp, reward).policy


def optimal_occupancy(
    mdp: TabularMDP, reward: np.ndarray | None = None, *, soft: bool = False
) -> np.ndarray:
    """The exact state-action occupancy (S, A) of the (soft-)optimal policy for `reward`.

    This is what "demonstrations" are in the limit of infinitely many expert episodes; the
    IRL algorithms accept it wherever they accept trajectories.
    """
    return state_action_occupancy(mdp, optimal_policy(mdp, reward, soft=soft))

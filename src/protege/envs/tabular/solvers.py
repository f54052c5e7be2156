"""Planning in a `TabularMDP`: value iteration, soft value iteration, policy evaluation,
occupancy measures and feature expectations.

Every routine is a loop over time steps (or fixed-point iterations) whose body is one
sparse matrix-vector product over all states and actions plus elementwise array maths:
there is no loop over states. Internally arrays are laid out action-major, (A, S), so that
the reductions over actions are elementwise operations on contiguous rows; the public
arrays are (S, A) views of that memory (no copy), and passing them back in costs nothing.

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

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from protege.envs.tabular.mdp import TabularMDP

DIRECT_SOLVE_MAX_STATES = 50_000
"""Above this many states, linear systems (I - γM)x = b are solved iteratively."""


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


def _solve_discounted(M: sp.spmatrix, b: np.ndarray, gamma: float) -> np.ndarray:
    """Solve (I - γ M) x = b for a row- or column-stochastic sparse M, to machine precision.

    Direct sparse LU up to `DIRECT_SOLVE_MAX_STATES` states, BiCGSTAB above, finished by
    fixed-point sweeps x ← b + γ M x when BiCGSTAB stops short.
    """
    n = M.shape[0]
    system = (sp.identity(n, format="csc") - gamma * sp.csc_matrix(M)).tocsc()
    if n <= DIRECT_SOLVE_MAX_STATES:
        return np.asarray(spla.spsolve(system, b), dtype=np.float64)
    x, _ = spla.bicgstab(system.tocsr(), b, rtol=1e-12, atol=0.0, maxiter=10 * n)
    Mr = sp.csr_matrix(M)
    scale = max(float(np.abs(b).max()), 1e-300) / (1.0 - gamma)
    for _ in range(100_000):
        x_new = b + gamma * (Mr @ x)
        if np.abs(x_new - x).max() <= 1e-13 * scale:
            return np.asarray(x_new)
        x = x_new
    return np.asarray(x)


def _policy_matrix(mdp: TabularMDP, policy_am: np.ndarray) -> sp.csr_matrix:
    """P_π (S, S), P_π[s, s'] = Σ_a π(a|s) P(s'|s, a), as a sparse product."""
    S, A = mdp.n_states, mdp.n_actions
    cols = np.arange(A * S).reshape(A, S).T.ravel()  # (s, a) -> a*S + s
    Pi = sp.csr_matrix((policy_am.T.ravel(), cols, np.arange(0, S * A + 1, A)), shape=(S, A * S))
    return sp.csr_matrix(Pi @ mdp.P_action_major)


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
) -> SoftValueResult:
    """Soft (maximum-entropy) Bellman backups: V(s) = log Σ_a exp Q(s, a).

    causal=True is maximum causal entropy (Ziebart 2010): Q = r + γ E[V(s')]. causal=False
    is the MaxEnt partition function of Ziebart et al. 2008: Q = r + log E[exp γV(s')],
    which coincides with it under deterministic dynamics.
    Finite horizon: T backward steps, time-dependent policy (T, S, A). Discounted: iterate
    to the fixed point until the sup-norm error bound γ/(1-γ)·‖V_k+1 - V_k‖ is below `tol`,
    starting from V0 (a warm start from a nearby reward saves most iterations).
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

    V = np.zeros(S) if V0 is None else np.array(V0, dtype=np.float64)
    bound = gamma / (1.0 - gamma)
    converged = False
    it = 0
    for it in range(1, max_iterations + 1):  # noqa: B007 - `it` is reported
        V_new = np.empty(S)
        _soft_bellman(policy, expected_next(V), r, V_new)
        delta = _sup(V_new - V)
        V = V_new
        if bound * delta <= tol:
            converged = True
            break
    return SoftValueResult(V=V, policy=policy.T, iterations=it, converged=converged)


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
    V = _solve_discounted(_policy_matrix(mdp, pi), r_pi, gamma)
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
    P_pi = _policy_matrix(mdp, pi)
    d = _solve_discounted(P_pi.T, (1.0 - mdp.gamma) * mdp.initial, mdp.gamma)
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

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
"""

from __future__ import annotations

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


def _soft_max_over_actions(Q: np.ndarray) -> np.ndarray:
    """V = log Σ_a exp Q(a, s); overwrites Q (A, S) with π(a|s) = exp(Q - V). Returns V."""
    m = Q.max(axis=0)
    np.subtract(Q, m, out=Q)
    np.exp(Q, out=Q)
    z = Q.sum(axis=0)
    np.divide(Q, z, out=Q)
    np.log(z, out=z)
    z += m
    return z


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

    def backup(V: np.ndarray, dest: np.ndarray) -> None:
        """dest ← r + γ E[V(s')] (causal) or r + log E[exp γV(s')] (MaxEnt 2008)."""
        if causal:
            nxt = _expected_next(mdp, V)
            if gamma != 1.0:
                nxt *= gamma
        else:
            nxt = _log_expected_exp_next(mdp, gamma * V, row_of)
        np.add(nxt, r, out=dest)

    T = mdp.horizon
    policy = _reusable(out, (A, S) if T is None else (T, A, S))
    if T is not None:
        V = _reusable(out, (T, S), values=True)
        for t in reversed(range(T)):
            if t == T - 1:
                policy[t] = r
            else:
                backup(V[t + 1], policy[t])
            V[t] = _soft_max_over_actions(policy[t])
        return SoftValueResult(V=V, policy=policy.transpose(0, 2, 1), iterations=T)

    V = np.zeros(S) if V0 is None else np.array(V0, dtype=np.float64)
    bound = gamma / (1.0 - gamma)
    converged = False
    it = 0
    for it in range(1, max_iterations + 1):  # noqa: B007 - `it` is reported
        backup(V, policy)
        V_new = _soft_max_over_actions(policy)
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
    x = np.empty_like(rho)
    d = mdp.initial
    for t in range(mdp.horizon):
        np.multiply(pi[t] if pi.ndim == 3 else pi, d, out=x)
        rho += mdp.gamma**t * x
        if t < mdp.horizon - 1:
            d = mdp.P_action_major.T @ x.ravel()
    return rho.T


def state_occupancy(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """ρ(s) = Σ_a ρ(s, a), the state visitation frequencies, (S,).

    Same conventions as `state_action_occupancy`, computed without the (S, A) accumulator.
    """
    pi = _policy_am(mdp, policy)
    if mdp.horizon is None:
        return _discounted_state_occupancy(mdp, pi)
    rho = np.zeros(mdp.n_states)
    x = np.empty((mdp.n_actions, mdp.n_states))
    d = mdp.initial
    for t in range(mdp.horizon):
        rho += mdp.gamma**t * d
        if t < mdp.horizon - 1:
            np.multiply(pi[t] if pi.ndim == 3 else pi, d, out=x)
            d = mdp.P_action_major.T @ x.ravel()
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

"""TabularMDP builders, solvers against dense references, demonstrations, toy-text extraction."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp
from gymnasium.utils.env_checker import check_env

from protege.algorithms.tabular.demos import demo_occupancy, occupancy_from_trajectories
from protege.data.rollout import rollout
from protege.data.types import Trajectory
from protege.envs.tabular import (
    TabularEnv,
    TabularMDP,
    TabularPolicy,
    feature_expectations,
    from_toy_text,
    garnet,
    gridworld,
    make_tabular,
    objectworld,
    optimal_occupancy,
    policy_evaluation,
    soft_value_iteration,
    state_action_occupancy,
    state_occupancy,
    value_iteration,
)
from protege.errors import DatasetError, EnvError

# ------------------------------------------------------------------ dense references


def dense(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    """P as a dense (S, A, S) array and the reward as (S, A)."""
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.P.toarray().reshape(S, A, S)
    r = np.broadcast_to(mdp.state_action_reward(), (S, A)).copy()
    return P, r


def logsumexp_rows(Q: np.ndarray) -> np.ndarray:
    m = Q.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(Q - m).sum(axis=1, keepdims=True)))[:, 0]


def dense_soft_vi(mdp: TabularMDP, causal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Soft value iteration with dense loops: (V, policy), finite (T, ...) or discounted."""
    P, r = dense(mdp)
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma

    def q_of(V: np.ndarray) -> np.ndarray:  # dense (S, A, S) products, no sparse code
        if causal:
            return r + g * np.einsum("sat,t->sa", P, V)
        return r + np.log(np.einsum("sat,t->sa", P, np.exp(g * V)))

    if mdp.horizon is not None:
        T = mdp.horizon
        Vs, pis = np.zeros((T, S)), np.zeros((T, S, A))
        V_next = np.zeros(S)
        for t in reversed(range(T)):
            Q = r.copy() if t == T - 1 else q_of(V_next)
            Vs[t] = logsumexp_rows(Q)
            pis[t] = np.exp(Q - Vs[t][:, None])
            V_next = Vs[t]
        return Vs, pis
    V = np.zeros(S)
    for _ in range(500):  # γ^500 is far below 1e-12 for γ = 0.9
        V = logsumexp_rows(q_of(V))
    Q = q_of(V)
    return V, np.exp(Q - logsumexp_rows(Q)[:, None])


def dense_occupancy(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """ρ(s, a) by pushing the state distribution forward step by step (dense loops)."""
    P, _ = dense(mdp)
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    T = mdp.horizon if mdp.horizon is not None else 500
    scale = 1.0 if mdp.horizon is not None else 1.0 - g
    rho = np.zeros((S, A))
    d = mdp.initial.copy()
    for t in range(T):
        pi_t = policy[t] if policy.ndim == 3 else policy
        x = d[:, None] * pi_t
        rho += scale * g**t * x
        d = np.zeros(S)
        for a in range(A):
            d += x[:, a] @ P[:, a, :]
    return rho


# ------------------------------------------------------------------ solvers vs dense


@pytest.mark.parametrize("horizon,gamma", [(12, 1.0), (15, 0.95), (None, 0.9)])
@pytest.mark.parametrize("state_action_reward", [False, True])
def test_soft_value_iteration_matches_dense_reference(horizon, gamma, state_action_reward):
    mdp = garnet(
        30, 4, 3, gamma=gamma, horizon=horizon, state_action_reward=state_action_reward, seed=1
    )
    for causal in (True, False):
        ref_V, ref_pi = dense_soft_vi(mdp, causal=causal)
        soft = soft_value_iteration(mdp, causal=causal)
        assert soft.converged
        np.testing.assert_allclose(soft.V, ref_V, atol=1e-8, rtol=0)
        np.testing.assert_allclose(soft.policy, ref_pi, atol=1e-8, rtol=0)
        np.testing.assert_allclose(soft.Q, np.log(ref_pi) + ref_V[..., None], atol=1e-8)


@pytest.mark.parametrize("horizon,gamma", [(12, 1.0), (15, 0.95), (None, 0.9)])
def test_occupancy_measures_match_dense_reference(horizon, gamma):
    mdp = garnet(30, 4, 3, gamma=gamma, horizon=horizon, seed=2)
    policies = [soft_value_iteration(mdp).policy]  # time-dependent when finite
    rng = np.random.default_rng(0)
    random_pi = rng.random((mdp.n_states, mdp.n_actions))
    policies.append(random_pi / random_pi.sum(axis=1, keepdims=True))  # stationary
    for pi in policies:
        ref = dense_occupancy(mdp, pi)
        rho_sa = state_action_occupancy(mdp, pi)
        np.testing.assert_allclose(rho_sa, ref, atol=1e-8, rtol=0)
        np.testing.assert_allclose(state_occupancy(mdp, pi), ref.sum(axis=1), atol=1e-8)
        mass = 1.0 if horizon is None else np.sum(gamma ** np.arange(horizon))
        assert rho_sa.sum() == pytest.approx(mass, abs=1e-10)
        # Σ ρ r is the expected return, which policy evaluation gives from the start states.
        values = policy_evaluation(mdp, pi)
        V0 = values.V if horizon is None else values.V[0]
        ret = (rho_sa * mdp.state_action_reward()).sum()
        scale = 1.0 - gamma if horizon is None else 1.0
        assert ret == pytest.approx(scale * mdp.initial @ V0, abs=1e-9)


@pytest.mark.parametrize("horizon,gamma", [(10, 1.0), (None, 0.9)])
def test_value_iteration_is_optimal_against_dense_backups(horizon, gamma):
    mdp = garnet(25, 3, 2, gamma=gamma, horizon=horizon, state_action_reward=True, seed=3)
    P, r = dense(mdp)
    vi = value_iteration(mdp)
    V_next = np.zeros(mdp.n_states)
    steps = range(horizon - 1, -1, -1) if horizon else range(500)
    for t in steps:
        Q = r + gamma * np.einsum("sat,t->sa", P, V_next)
        V_next = Q.max(axis=1)
        if horizon:
            np.testing.assert_allclose(vi.V[t], V_next, atol=1e-10)
    if not horizon:
        np.testing.assert_allclose(vi.V, V_next, atol=1e-8)
        np.testing.assert_allclose(policy_evaluation(mdp, vi.policy).V, vi.V, atol=1e-8)


# ------------------------------------------------------------------ builders


def test_gridworld_dynamics_slip_walls_and_sparsity():
    mdp = gridworld((3, 4), slip=0.4, walls=[(1, 1)], goals=[(0, 3)], penalties=[(2, 3)])
    S, A = 12, 4
    assert (mdp.n_states, mdp.n_actions) == (S, A)
    P = mdp.P.toarray().reshape(S, A, S)
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
    # From (1, 0), "right" is blocked by the wall: stay with 1 - slip + slip/A.
    s = 1 * 4 + 0
    assert P[s, 1, s] == pytest.approx(0.6 + 0.1 + 0.1)  # right blocked, left off-grid
    assert P[s, 0, 0] == pytest.approx(0.6 + 0.1)  # up, intended
    assert P[:, :, 5].sum() == pytest.approx(A)  # only the wall's own self-loops enter it
    assert mdp.reward[3] == 1.0 and mdp.reward[11] == -1.0 and mdp.initial[5] == 0.0
    big = gridworld(300, slip=0.2)  # 90,000 states: memory follows non-zeros, not S²
    assert big.P.nnz <= big.n_states * big.n_actions * 4
    assert sp.issparse(big.features) and big.features.nnz == big.n_states


def test_objectworld_and_garnet_are_valid_and_seeded():
    ow = objectworld(8, n_objects=10, seed=3)
    assert ow.n_actions == 5 and ow.features.shape == (64, 4)
    assert set(np.unique(ow.reward)) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(ow.reward, objectworld(8, n_objects=10, seed=3).reward)
    assert objectworld(8, features="discrete").features.shape == (64, 4 * 8)
    g = garnet(40, 3, 4, n_features=5, seed=0)
    assert g.features.shape == (40, 5) and g.P.getnnz(axis=1).max() <= 4


def test_make_tabular_specs_and_errors():
    assert make_tabular("gridworld:6").n_states == 36
    assert make_tabular("gridworld:3x5", slip=0.0).n_states == 15
    assert make_tabular("objectworld:6").n_states == 36
    assert make_tabular("garnet:20:3:2").n_actions == 3
    assert make_tabular("FrozenLake-v1", map_name="8x8").n_states == 64
    with pytest.raises(EnvError, match="gridworld:N"):
        make_tabular("gridworld:ten")
    with pytest.raises(EnvError, match="unknown tabular MDP kind"):
        make_tabular("mazeworld:5")
    with pytest.raises(EnvError, match="no known dynamics"):
        make_tabular("CartPole-v1")
    with pytest.raises(EnvError, match="rows must sum to 1"):
        TabularMDP(
            P=sp.csr_matrix(np.full((2, 2), 0.3)),
            reward=np.zeros(2),
            features=np.eye(2),
            initial=np.array([1.0, 0.0]),
            gamma=0.9,
        )
    with pytest.raises(EnvError, match="gamma < 1"):
        gridworld(3, gamma=1.0)


# ------------------------------------------------------------------ demonstrations


def test_rollouts_in_the_wrapped_env_match_the_exact_occupancy():
    mdp = gridworld(4, slip=0.2, horizon=12, gamma=1.0, stay_action=True)
    pi = soft_value_iteration(mdp, 3.0 * mdp.reward).policy[0]  # a stationary policy
    env = TabularEnv(mdp)
    check_env(env, skip_render_check=True)
    trajs = rollout(lambda: TabularEnv(mdp), TabularPolicy(pi, seed=0), episodes=1500, seed=0)
    assert all(len(t) == 12 and t.truncated for t in trajs)
    empirical = occupancy_from_trajectories(mdp, trajs)
    exact = state_action_occupancy(mdp, pi)
    assert empirical.sum() == pytest.approx(12.0)
    assert np.abs(empirical - exact).sum() / 12.0 < 0.05


def test_terminated_episodes_are_padded_in_their_absorbing_state():
    mdp = gridworld(3, slip=0.0, terminal_goals=True, gamma=0.5)  # goal (0, 2) = state 2
    traj = Trajectory(obs=np.array([0, 1, 2]), acts=np.array([1, 1]), terminated=True)
    rho = occupancy_from_trajectories(mdp, [traj])
    assert rho.sum() == pytest.approx(1.0)
    assert rho[0, 1] == pytest.approx(0.5) and rho[1, 1] == pytest.approx(0.25)
    assert rho[2].sum() == pytest.approx(0.25)
    # the same demo against the exact occupancy of the policy that walks right
    pi = np.zeros((9, 4))
    pi[:, 1] = 1.0
    start = gridworld(3, slip=0.0, terminal_goals=True, gamma=0.5, start=(0, 0))
    assert np.abs(state_occupancy(start, pi) - rho.sum(axis=1)).sum() < 1e-12
    assert feature_expectations(start, rho).shape == (9,)


def test_demo_occupancy_validates_what_it_is_given():
    mdp = gridworld(3)
    rho = optimal_occupancy(mdp)
    assert demo_occupancy(mdp, rho).shape == (9,)
    assert demo_occupancy(mdp, rho, state_action=True).shape == (9, 4)
    with pytest.raises(DatasetError, match="sums to"):
        demo_occupancy(mdp, 2 * rho)
    with pytest.raises(DatasetError, match="state-action occupancy"):
        demo_occupancy(mdp, rho.sum(axis=1), state_action=True)
    with pytest.raises(DatasetError, match="outside 0..8"):
        demo_occupancy(mdp, [Trajectory(obs=np.array([0, 9]), acts=np.array([1]))])
    with pytest.raises(DatasetError, match="integer indices"):
        demo_occupancy(mdp, [Trajectory(obs=np.array([0.5, 1.0]), acts=np.array([1]))])


# ------------------------------------------------------------------ toy-text extraction


def run_episode(env: gym.Env, seed: int, act) -> tuple[float, int, bool]:  # noqa: ANN001
    s, _ = env.reset(seed=seed)
    s0, total, t = int(s), 0.0, 0
    while True:
        s, r, terminated, truncated, _ = env.step(act(int(s), t))
        total, t = total + float(r), t + 1
        if terminated or truncated:
            return total, s0, bool(terminated)


def test_cliffwalking_policy_walks_the_edge_for_minus_13():
    mdp = make_tabular("CliffWalking-v1", gamma=0.99)
    pi = value_iteration(mdp).policy.argmax(axis=1)
    env = gym.make("CliffWalking-v1")
    total, _, terminated = run_episode(env, 0, lambda s, t: pi[s])
    assert terminated and total == -13.0


def test_taxi_policy_achieves_the_optimal_return_from_every_start():
    mdp = make_tabular("Taxi-v4", gamma=0.99)
    pi = value_iteration(mdp).policy.argmax(axis=1)
    optimal = value_iteration(from_toy_text("Taxi-v4", gamma=1.0, horizon=200)).V[0]
    env = gym.make("Taxi-v4")
    for seed in range(15):
        total, s0, terminated = run_episode(env, seed, lambda s, t: pi[s])
        assert terminated and total == pytest.approx(optimal[s0])


def test_frozenlake_policy_reaches_the_optimal_success_rate():
    mdp = from_toy_text("FrozenLake-v1", gamma=1.0, horizon=100)  # the env's time limit
    vi = value_iteration(mdp)
    p_success = float(vi.V[0] @ mdp.initial)  # optimal probability of reaching the goal
    assert 0.7 < p_success < 0.8
    pi = vi.policy.argmax(axis=2)  # (T, S), time-dependent
    env = gym.make("FrozenLake-v1")
    n = 800
    wins = sum(run_episode(env, seed, lambda s, t: pi[t, s])[0] for seed in range(n))
    assert abs(wins / n - p_success) < 4 * np.sqrt(p_success * (1 - p_success) / n)
    # deterministic 8x8: the shortest path, 14 steps, return 1
    det = from_toy_text("FrozenLake-v1", map_name="8x8", is_slippery=False, gamma=0.9)
    pi8 = value_iteration(det).policy.argmax(axis=1)
    env8 = gym.make("FrozenLake-v1", map_name="8x8", is_slippery=False)
    total, _, terminated = run_episode(env8, 0, lambda s, t: pi8[s])
    assert terminated and total == 1.0

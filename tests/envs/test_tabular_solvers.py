"""Discounted soft value iteration by Newton's method, and the linear solves behind it.

Newton's method (soft policy iteration) must give what plain soft value iteration gives,
to the same tolerance, on every kind of MDP; the linear solves (LU, GMRES and their
fallbacks) must give what a dense solve gives, whichever path the size and shape take.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from protege.envs.tabular import (
    TabularMDP,
    garnet,
    gridworld,
    linalg,
    make_tabular,
    objectworld,
    policy_evaluation,
    soft_value_iteration,
    solvers,
    state_occupancy,
)
from protege.envs.tabular.linalg import gmres, lu_is_cheap, policy_matrix, solve_discounted

MDPS = {
    "gridworld": lambda gamma: gridworld(7, slip=0.3, gamma=gamma),
    "objectworld": lambda gamma: objectworld(8, gamma=gamma, seed=3),
    "garnet": lambda gamma: garnet(60, 4, 3, gamma=gamma, state_action_reward=True, seed=5),
    "FrozenLake-v1": lambda gamma: make_tabular("FrozenLake-v1", gamma=gamma),
    "CliffWalking-v1": lambda gamma: make_tabular("CliffWalking-v1", gamma=gamma),
}


def soft_pair(mdp: TabularMDP, **kwargs: object) -> tuple[object, object]:
    """Plain soft value iteration and Newton's method, same arguments."""
    return (
        soft_value_iteration(mdp, solver="iteration", **kwargs),  # type: ignore[arg-type]
        soft_value_iteration(mdp, solver="newton", **kwargs),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", list(MDPS))
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("causal", [True, False])
def test_newton_gives_the_values_and_policy_of_value_iteration(kind, gamma, causal) -> None:
    mdp = MDPS[kind](gamma)
    reward = 2.0 * mdp.state_action_reward(None) + 0.1  # a scale and shift of its own
    reward = np.broadcast_to(reward, (mdp.n_states, mdp.n_actions)).copy()
    plain, newton = soft_pair(mdp, reward=reward, causal=causal)
    assert plain.converged and newton.converged  # type: ignore[attr-defined]
    np.testing.assert_allclose(newton.V, plain.V, atol=1e-8, rtol=0)  # type: ignore[attr-defined]
    np.testing.assert_allclose(newton.policy, plain.policy, atol=1e-8, rtol=0)  # type: ignore[attr-defined]
    # quadratic convergence: a handful of backups where value iteration needs hundreds
    assert newton.iterations <= 12 < plain.iterations  # type: ignore[attr-defined]


@pytest.mark.parametrize("causal", [True, False])
def test_newton_from_a_warm_start_agrees_and_takes_fewer_backups(causal) -> None:
    mdp = gridworld(12, slip=0.2, gamma=0.95)
    rng = np.random.default_rng(0)
    reward = mdp.reward + 0.05 * rng.standard_normal(mdp.n_states)  # a nearby reward
    start = soft_value_iteration(mdp, causal=causal).V
    plain, newton = soft_pair(mdp, reward=reward, causal=causal, V0=start)
    cold = soft_value_iteration(mdp, reward, causal=causal)
    np.testing.assert_allclose(newton.V, plain.V, atol=1e-8, rtol=0)  # type: ignore[attr-defined]
    np.testing.assert_allclose(newton.policy, plain.policy, atol=1e-8, rtol=0)  # type: ignore[attr-defined]
    assert newton.iterations <= cold.iterations  # type: ignore[attr-defined]


def test_newton_on_the_gmres_path_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force every Newton step (and the occupancy) through GMRES, not the LU."""
    monkeypatch.setattr(linalg, "LU_MAX_WORK", 0)
    monkeypatch.setattr(linalg, "LU_MAX_WORK_INEXACT", 0)
    for mdp in (gridworld(15, gamma=0.9), garnet(300, gamma=0.99, seed=2)):
        for causal in (True, False):
            plain, newton = soft_pair(mdp, causal=causal)
            np.testing.assert_allclose(newton.V, plain.V, atol=1e-8, rtol=0)  # type: ignore[attr-defined]
            assert newton.iterations <= 12  # type: ignore[attr-defined]


def test_newton_steps_that_do_not_help_hand_over_to_backups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mdp = garnet(40, 3, 2, gamma=0.9, seed=4)
    monkeypatch.setattr(solvers, "_newton_step", lambda *args: np.full(mdp.n_states, 50.0))
    plain, newton = soft_pair(mdp)
    assert newton.converged  # type: ignore[attr-defined]
    np.testing.assert_allclose(newton.V, plain.V, atol=1e-8, rtol=0)  # type: ignore[attr-defined]


def test_soft_value_iteration_reports_running_out_of_backups() -> None:
    mdp = gridworld(6, gamma=0.99)
    assert not soft_value_iteration(mdp, solver="newton", max_iterations=1).converged
    assert not soft_value_iteration(mdp, solver="iteration", max_iterations=5).converged
    with pytest.raises(ValueError, match="'newton' or 'iteration'"):
        soft_value_iteration(mdp, solver="bisection")  # type: ignore[arg-type]


# ------------------------------------------------------------------ linear solves


def system_of(mdp: TabularMDP) -> tuple[sp.csr_matrix, float]:
    """P_π of a random stochastic policy and the MDP's γ."""
    rng = np.random.default_rng(1)
    pi = rng.random((mdp.n_actions, mdp.n_states))
    return policy_matrix(mdp, pi / pi.sum(axis=0)), mdp.gamma


@pytest.mark.parametrize(
    "path", ["lu", "gmres", "gmres stops short, then lu", "gmres stops short, then sweeps"]
)
@pytest.mark.parametrize("transpose", [False, True])
def test_every_path_of_the_linear_solve_is_exact(
    monkeypatch: pytest.MonkeyPatch, path: str, transpose: bool
) -> None:
    mdp = garnet(150, 4, 3, gamma=0.95, seed=6)
    M, gamma = system_of(mdp)
    M = sp.csr_matrix(M.T) if transpose else M
    b = np.random.default_rng(2).standard_normal(mdp.n_states)
    exact = np.linalg.solve(np.eye(mdp.n_states) - gamma * M.toarray(), b)
    if path != "lu":
        monkeypatch.setattr(linalg, "LU_MAX_WORK", 0)
    if "stops short" in path:
        monkeypatch.setattr(linalg, "KRYLOV_MAX_ITERATIONS", 3)
    if "sweeps" in path:
        monkeypatch.setattr(linalg, "DIRECT_SOLVE_MAX_STATES", 0)
    x = solve_discounted(M, b, gamma)
    # the sweeps stop once one changes x by 1e-13·max|b|/(1 - γ): γ/(1 - γ) times that
    guarantee = gamma / (1 - gamma) * 1e-13 * np.abs(b).max() / (1 - gamma)
    np.testing.assert_allclose(x, exact, atol=2 * guarantee, rtol=0)


def test_gmres_solves_a_nonsymmetric_system_and_says_when_it_stops_short() -> None:
    rng = np.random.default_rng(3)
    A = np.eye(80) + 0.3 * rng.standard_normal((80, 80)) / np.sqrt(80)
    b = rng.standard_normal(80)
    x, solved = gmres(lambda v: A @ v, b, 1e-12, restart=20, max_products=400)
    assert solved
    np.testing.assert_allclose(x, np.linalg.solve(A, b), atol=1e-10)
    _, solved = gmres(lambda v: A @ v, b, 1e-12, restart=5, max_products=5)
    assert not solved
    assert gmres(lambda v: A @ v, np.zeros(80), 1e-12) == (pytest.approx(np.zeros(80)), True)


def test_occupancy_and_policy_evaluation_agree_on_either_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mdp = gridworld(20, slip=0.2, gamma=0.95)
    pi = soft_value_iteration(mdp, 3.0 * mdp.reward).policy
    by_lu = state_occupancy(mdp, pi), policy_evaluation(mdp, pi).V
    monkeypatch.setattr(linalg, "LU_MAX_WORK", 0)
    by_gmres = state_occupancy(mdp, pi), policy_evaluation(mdp, pi).V
    np.testing.assert_allclose(by_gmres[0], by_lu[0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(by_gmres[1], by_lu[1], atol=1e-9, rtol=0)
    assert by_gmres[0].sum() == pytest.approx(1.0, abs=1e-10)


def test_the_lu_goes_first_where_its_factors_stay_sparse() -> None:
    """Grids and toy-text envs (local transitions) are solved by an LU, Garnet MDPs (random
    transitions, which fill an LU in) by GMRES: `LU_MAX_WORK` on the banded-LU work."""
    assert lu_is_cheap(system_of(gridworld(30))[0])
    assert lu_is_cheap(system_of(make_tabular("Taxi-v4"))[0])
    assert not lu_is_cheap(system_of(garnet(1000, seed=0))[0])
    assert not lu_is_cheap(system_of(gridworld(100))[0])
    # a Newton step's looser solve: GMRES is the faster from an ObjectWorld of 32x32 on
    ow = system_of(objectworld(32, seed=0))[0]
    assert lu_is_cheap(ow, linalg.LU_MAX_WORK)
    assert not lu_is_cheap(ow, linalg.LU_MAX_WORK_INEXACT)

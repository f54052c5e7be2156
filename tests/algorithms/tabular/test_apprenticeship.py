"""Abbeel & Ng's apprenticeship learning: max-margin and projection."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from protege.algorithms.tabular import apprenticeship
from protege.algorithms.tabular.apprenticeship import (
    ApprenticeshipConfig,
    apprenticeship_learning,
    closest_mixture,
)
from protege.envs.tabular import (
    feature_expectations,
    gridworld,
    optimal_occupancy,
    state_occupancy,
    value_iteration,
)


@pytest.mark.parametrize("method", ["max_margin", "projection"])
def test_apprenticeship_on_ng_russell_grid_ranks_goal_and_matches_mu(method):
    mdp = gridworld(5, slip=0.3, goals=[(0, 4)], gamma=0.9)
    eps = 1e-4
    result = apprenticeship_learning(
        optimal_occupancy(mdp), None, ApprenticeshipConfig(method=method, epsilon=eps), env=mdp
    )
    assert result.converged and result.reward.argmax() == 4
    mu_policy = feature_expectations(mdp, state_occupancy(mdp, result.policy))
    assert np.linalg.norm(mu_policy - result.expert_feature_expectations) <= eps
    assert result.mixture_weights.sum() == pytest.approx(1.0)
    assert len(result.policies) == len(result.mixture_weights)
    # the reward found makes the expert's own policy optimal
    expert = value_iteration(mdp).policy.argmax(axis=1)
    learned = value_iteration(mdp, result.reward).policy.argmax(axis=1)
    assert (expert == learned).mean() >= 0.9


@pytest.mark.parametrize("method", ["max_margin", "projection"])
def test_apprenticeship_mixes_policies_to_match_a_stochastic_expert(method):
    mdp = gridworld(5, slip=0.3, goals=[(0, 4)], penalties=[(2, 2)], gamma=0.9)
    expert = optimal_occupancy(mdp, 5.0 * mdp.reward, soft=True)  # inside the polytope
    eps = 1e-3
    result = apprenticeship_learning(
        expert,
        None,
        ApprenticeshipConfig(method=method, epsilon=eps, max_iterations=200),
        env=mdp,
    )
    assert result.converged and result.margin <= eps
    assert (result.mixture_weights > 0).sum() > 1
    gaps = [h["feature_gap"] for h in result.history]
    assert gaps[-1] <= eps < gaps[0]
    mu_policy = feature_expectations(mdp, state_occupancy(mdp, result.policy))
    assert np.linalg.norm(mu_policy - result.expert_feature_expectations) <= eps


def test_closest_mixture_solves_the_simplex_qp():
    mus = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        closest_mixture(np.array([1.0, 1.0]), mus), [0, 0.5, 0.5], atol=1e-12
    )
    inside = closest_mixture(np.array([0.2, 0.3]), mus)
    np.testing.assert_allclose(inside @ mus, [0.2, 0.3], atol=1e-12)


@pytest.mark.parametrize("method", ["max_margin", "projection"])
def test_apprenticeship_resumed_from_its_checkpoint_ends_where_an_uninterrupted_fit_does(
    tmp_path, count_calls, interrupt, calls, method
):
    mdp = gridworld(5, slip=0.3, goals=[(0, 4)], penalties=[(2, 2)], gamma=0.9)
    expert = optimal_occupancy(mdp, 5.0 * mdp.reward, soft=True)
    cfg = ApprenticeshipConfig(method=method, epsilon=0.0, max_iterations=25)
    whole = apprenticeship_learning(expert, None, cfg, env=mdp)

    ckpt = tmp_path / "irl.pt"
    # stopped after the checkpoint of iteration 10
    fit = partial(apprenticeship_learning, expert, None, cfg, env=mdp, checkpoint=ckpt)
    interrupt(fit, at=13)
    rl_steps = count_calls(apprenticeship, "value_iteration")
    seen = []
    resumed = apprenticeship_learning(
        expert, None, cfg, [calls(seen.append)], env=mdp, checkpoint=ckpt
    )
    assert [r["iteration"] for r in seen] == list(range(1, 26))  # 10 replayed, 15 new
    assert len(rl_steps) == 15
    assert resumed.history == whole.history
    for name in ("w", "mixture_weights", "policy", "policy_feature_expectations"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    np.testing.assert_array_equal(resumed.policies, whole.policies)

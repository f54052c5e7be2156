"""Ramachandran & Amir's Bayesian IRL (PolicyWalk)."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from protege.algorithms.tabular.bayesian import BayesianIRLConfig, bayesian_irl
from protege.envs.tabular import gridworld, state_action_occupancy, value_iteration


def test_posterior_mean_correlates_with_the_true_reward():
    mdp = gridworld(5, slip=0.2, goals=[(0, 4)], penalties=[(2, 2), (1, 1)], gamma=0.9)
    alpha = 5.0
    expert = softmax(alpha * value_iteration(mdp).Q, axis=1)  # Boltzmann-rational expert
    demos = state_action_occupancy(mdp, expert)
    cfg = BayesianIRLConfig(
        alpha=alpha, step=0.2, n_samples=3000, burn_in=1000, demo_weight=1000.0, seed=0
    )
    result = bayesian_irl(mdp, demos, cfg)
    assert np.corrcoef(result.reward, mdp.reward)[0, 1] >= 0.8
    assert result.samples.shape == (3000, 25)
    assert 0.1 < result.acceptance_rate < 0.9
    assert result.reward.argmax() == 4 and result.reward[[12, 6]].max() < 0
    assert result.history and "occupancy_l1" in result.history[-1]

"""Wulfmeier et al.'s deep MaxEnt IRL on Levine et al.'s ObjectWorld."""

from __future__ import annotations

import numpy as np
import torch

from protege.algorithms.tabular.deep_maxent import DeepMaxEntConfig, deep_maxent_irl
from protege.envs.tabular import objectworld, optimal_occupancy


def test_deep_maxent_closes_the_gap_and_learns_the_nonlinear_reward():
    mdp = objectworld(10, n_objects=15, seed=0, gamma=0.9)
    expert = optimal_occupancy(mdp, 3.0 * mdp.reward, soft=True)
    result = deep_maxent_irl(mdp, expert, DeepMaxEntConfig(lr=0.03, max_iterations=100))
    gaps = [h["occupancy_l1"] for h in result.history]
    assert gaps[-1] < 0.1 * gaps[0]
    assert np.corrcoef(result.reward, mdp.reward)[0, 1] >= 0.9
    # the returned network is the reward: it maps raw features to the learned reward
    phi = torch.as_tensor(mdp.dense_features())
    np.testing.assert_allclose(result.reward_net(phi).detach().numpy(), result.reward)

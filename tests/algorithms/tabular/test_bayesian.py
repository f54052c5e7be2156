"""Ramachandran & Amir's Bayesian IRL (PolicyWalk)."""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy.special import softmax

from protege.algorithms.tabular import bayesian
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
    result = bayesian_irl(demos, None, cfg, env=mdp)
    assert np.corrcoef(result.reward, mdp.reward)[0, 1] >= 0.8
    assert result.samples.shape == (3000, 25)
    assert 0.1 < result.acceptance_rate < 0.9
    assert result.reward.argmax() == 4 and result.reward[[12, 6]].max() < 0
    assert result.history and "occupancy_l1" in result.history[-1]


def test_chain_resumed_from_its_checkpoint_is_bit_identical_to_an_uninterrupted_one(
    tmp_path, count_calls, interrupt, calls
):
    mdp = gridworld(5, slip=0.2, goals=[(0, 4)], penalties=[(2, 2)], gamma=0.9)
    demos = state_action_occupancy(mdp, value_iteration(mdp).policy)
    cfg = BayesianIRLConfig(step=0.2, n_samples=600, burn_in=300, thin=2, seed=3)
    whole = bayesian_irl(demos, None, cfg, env=mdp)

    ckpt = tmp_path / "irl.pt"
    # stopped after the checkpoint of step 1000, in the sampling
    interrupt(partial(bayesian_irl, demos, None, cfg, env=mdp, checkpoint=ckpt), at=1299)
    records_made = count_calls(bayesian, "state_occupancy")
    seen = []
    resumed = bayesian_irl(demos, None, cfg, [calls(seen.append)], env=mdp, checkpoint=ckpt)
    assert [r["iteration"] for r in seen] == [99 + 100 * k for k in range(15)]
    assert len(records_made) == 5  # the 10 records up to step 1000 were replayed
    assert resumed.history == whole.history
    assert resumed.acceptance_rate == whole.acceptance_rate
    np.testing.assert_array_equal(resumed.samples, whole.samples)
    np.testing.assert_array_equal(resumed.reward, whole.reward)

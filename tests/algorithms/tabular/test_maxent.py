"""MaxEnt (2008) and maximum causal entropy (2010) IRL recover the expert's occupancy."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from protege.algorithms.tabular.demos import occupancy_from_trajectories
from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
from protege.data.rollout import rollout
from protege.envs.tabular import (
    TabularEnv,
    TabularPolicy,
    gridworld,
    optimal_occupancy,
    soft_value_iteration,
    state_occupancy,
)
from protege.errors import ConfigError


def slippery_grid(**kwargs):  # noqa: ANN003, ANN201
    return gridworld(10, slip=0.3, goals=[(0, 9)], penalties=[(5, 5), (3, 7)], **kwargs)


@pytest.mark.parametrize("horizon,gamma", [(None, 0.9), (30, 1.0)])
def test_mce_irl_from_exact_occupancy_matches_it_to_1e_3(horizon, gamma):
    mdp = slippery_grid(horizon=horizon, gamma=gamma)
    expert = optimal_occupancy(mdp, soft=True)  # the soft-optimal expert MCE IRL models
    cfg = MaxEntConfig(causal=True, gap="occupancy", tol=1e-4, max_iterations=2000)
    result = maxent_irl(expert, None, cfg, env=mdp)
    assert result.converged
    # Independently: the soft-optimal policy of the recovered reward, and its occupancy.
    learned = state_occupancy(mdp, soft_value_iteration(mdp, result.reward).policy)
    assert np.abs(learned - expert.sum(axis=1)).sum() < 1e-3
    gaps = [h["occupancy_l1"] for h in result.history]
    assert len(gaps) == len(result.history) and gaps[-1] < 1e-4 < gaps[0]
    assert result.reward.argmax() == 9  # the goal cell


def test_maxent_2008_closes_the_feature_gap_and_equals_mce_without_slip():
    mdp = gridworld(6, slip=0.0, goals=[(0, 5)], horizon=15, gamma=1.0)
    expert = optimal_occupancy(mdp, soft=True)
    cfg = MaxEntConfig(tol=1e-5, max_iterations=600)
    causal = maxent_irl(expert, None, cfg, env=mdp)
    plain = maxent_irl(
        expert, None, MaxEntConfig(causal=False, tol=1e-5, max_iterations=600), env=mdp
    )
    assert causal.converged and plain.converged
    np.testing.assert_allclose(plain.reward, causal.reward, atol=1e-9)  # same backup here
    slippery = gridworld(6, slip=0.3, goals=[(0, 5)], horizon=15, gamma=1.0)
    result = maxent_irl(
        optimal_occupancy(slippery, soft=True),
        None,
        MaxEntConfig(causal=False, tol=1e-4, max_iterations=600),
        env=slippery,
    )
    assert result.converged and result.history[-1]["feature_gap"] <= 1e-4


def test_mce_irl_from_sampled_trajectories_matches_their_occupancy():
    mdp = gridworld(5, slip=0.2, horizon=10, gamma=1.0)
    expert_pi = soft_value_iteration(mdp, 4.0 * mdp.reward).policy[0]
    trajs = rollout(lambda: TabularEnv(mdp), TabularPolicy(expert_pi, seed=1), episodes=300)
    result = maxent_irl(
        trajs, None, MaxEntConfig(tol=1e-3, max_iterations=1000, optimizer="gd", lr=0.5), env=mdp
    )
    empirical = occupancy_from_trajectories(mdp, trajs).sum(axis=1)
    assert result.converged
    assert np.abs(result.occupancy - empirical).sum() < 1e-2
    assert result.history[-1]["feature_gap"] <= 1e-3


def test_config_errors_are_config_errors():
    with pytest.raises(ConfigError, match="optimizer"):
        MaxEntConfig(optimizer="sgd")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="theta0"):
        maxent_irl(optimal_occupancy(gridworld(3)), env=gridworld(3), theta0=np.zeros(2))


def test_mce_resumed_from_its_checkpoint_ends_where_an_uninterrupted_fit_does(
    tmp_path, interrupt, calls
):
    mdp = slippery_grid(gamma=0.9)
    expert = optimal_occupancy(mdp, soft=True)
    cfg = MaxEntConfig(causal=True, max_iterations=45, tol=0.0)
    whole = maxent_irl(expert, None, cfg, env=mdp)

    ckpt = tmp_path / "irl.pt"
    # stopped after the checkpoint of iteration 30
    interrupt(partial(maxent_irl, expert, None, cfg, env=mdp, checkpoint=ckpt), at=33)
    seen = []
    resumed = maxent_irl(expert, None, cfg, [calls(seen.append)], env=mdp, checkpoint=ckpt)
    assert [r["iteration"] for r in seen] == list(range(45))  # 30 replayed, 15 new
    np.testing.assert_allclose(resumed.theta, whole.theta, rtol=0, atol=1e-12)
    assert resumed.history == whole.history

"""Ng & Russell's LP IRL on their 5x5 gridworld (30% slip, goal in a corner)."""

from __future__ import annotations

import numpy as np
import pytest

from protege.algorithms.tabular.lp_irl import LPIRLConfig, lp_irl
from protege.envs.tabular import gridworld, optimal_occupancy
from protege.errors import ConfigError, DatasetError


def ng_russell_grid():  # noqa: ANN201
    return gridworld(5, slip=0.3, goals=[(0, 4)], gamma=0.9)  # goal: top-right corner


@pytest.mark.parametrize("l1_penalty", [0.5, 1.05])
def test_lp_irl_ranks_the_goal_highest(l1_penalty):
    mdp = ng_russell_grid()
    result = lp_irl(optimal_occupancy(mdp), None, LPIRLConfig(l1_penalty=l1_penalty), env=mdp)
    assert result.converged and result.reward.argmax() == 4
    assert result.reward[4] == pytest.approx(1.0)  # R_max
    assert np.all(np.abs(result.reward) <= 1.0 + 1e-9)
    (record,) = result.history
    assert record["action_agreement"] >= 0.9 and record["occupancy_l1"] < 0.05


def test_lp_irl_refuses_finite_horizon_and_state_only_demos():
    with pytest.raises(ConfigError, match="discounted"):
        lp_irl(np.zeros((9, 4)), env=gridworld(3, horizon=5, gamma=1.0))
    mdp = ng_russell_grid()
    with pytest.raises(DatasetError, match="state-action occupancy"):
        lp_irl(optimal_occupancy(mdp).sum(axis=1), env=mdp)

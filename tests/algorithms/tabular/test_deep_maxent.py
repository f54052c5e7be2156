"""Wulfmeier et al.'s deep MaxEnt IRL on Levine et al.'s ObjectWorld."""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from protege.algorithms.tabular import deep_maxent
from protege.algorithms.tabular.deep_maxent import DeepMaxEntConfig, deep_maxent_irl
from protege.envs.tabular import objectworld, optimal_occupancy


def test_deep_maxent_closes_the_gap_and_learns_the_nonlinear_reward():
    mdp = objectworld(10, n_objects=15, seed=0, gamma=0.9)
    expert = optimal_occupancy(mdp, 3.0 * mdp.reward, soft=True)
    result = deep_maxent_irl(expert, None, DeepMaxEntConfig(lr=0.03, max_iterations=100), env=mdp)
    gaps = [h["occupancy_l1"] for h in result.history]
    assert gaps[-1] < 0.1 * gaps[0]
    assert np.corrcoef(result.reward, mdp.reward)[0, 1] >= 0.9
    # the returned network is the reward: it maps raw features to the learned reward
    phi = torch.as_tensor(mdp.dense_features())
    np.testing.assert_allclose(result.reward_net(phi).detach().numpy(), result.reward)


def test_deep_maxent_resumed_from_its_checkpoint_ends_where_an_uninterrupted_run_does(
    tmp_path, count_calls, interrupt, calls
):
    mdp = objectworld(6, n_objects=6, seed=1, gamma=0.9)
    expert = optimal_occupancy(mdp, 3.0 * mdp.reward, soft=True)
    cfg = DeepMaxEntConfig(hidden=(16, 16), lr=0.03, max_iterations=25, tol=0.0)
    whole = deep_maxent_irl(expert, None, cfg, env=mdp)

    ckpt = tmp_path / "irl.pt"
    # stopped after the checkpoint of iteration 10
    interrupt(partial(deep_maxent_irl, expert, None, cfg, env=mdp, checkpoint=ckpt), at=13)
    torch.manual_seed(1234)  # a resumed run must not depend on the generator it finds
    backward_passes = count_calls(deep_maxent, "soft_value_iteration")
    seen = []
    resumed = deep_maxent_irl(expert, None, cfg, [calls(seen.append)], env=mdp, checkpoint=ckpt)
    assert [r["iteration"] for r in seen] == list(range(25))  # 10 replayed, 15 new
    assert len(backward_passes) == 15
    assert resumed.history == whole.history
    np.testing.assert_array_equal(resumed.reward, whole.reward)
    expected = whole.reward_net.state_dict()
    for name, value in resumed.reward_net.state_dict().items():
        assert torch.equal(value, expected[name]), name

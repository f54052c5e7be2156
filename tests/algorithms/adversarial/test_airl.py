"""AIRL is judged by what it learns: the expert's return, and a state-only reward."""

from __future__ import annotations

import numpy as np
import pytest

from protege.algorithms.adversarial import AIRLConfig, train_airl
from protege.data import Transitions
from protege.evaluation import evaluate_returns


@pytest.mark.slow
def test_airl_ppo_reaches_475_on_cartpole_from_10_expert_episodes(
    cartpole_demos: Transitions,
) -> None:
    cfg = AIRLConfig(steps=100_000, eval_every=5_000, target_return=475, seed=0)
    result = train_airl(cartpole_demos, None, cfg, env="CartPole-v1")
    stats = evaluate_returns("CartPole-v1", result.policy, episodes=20, seed=10_000)
    assert stats.mean >= 475, (stats, result.steps_to_target)
    # 65,024 env steps with one torch thread (under 60k with torch's default of two): the
    # float order of the thread count changes the run, so the budget leaves room for it
    assert result.steps_to_target is not None and result.steps_to_target <= 80_000


def test_airl_state_only_reward_ignores_actions_and_shaping(cartpole_demos: Transitions) -> None:
    result = train_airl(cartpole_demos, None, AIRLConfig(steps=2_048, seed=0), env="CartPole-v1")
    d = cartpole_demos
    g = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    g_flipped = result.reward.predict(d.obs, 1 - d.acts, d.obs, d.terminated)
    np.testing.assert_array_equal(g, g_flipped)  # g(s): neither a nor s' matter
    assert result.history and np.isfinite(result.history[-1]["disc_loss"])

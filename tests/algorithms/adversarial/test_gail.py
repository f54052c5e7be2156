"""GAIL is judged by what it learns: the expert's return, from its reward alone."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import adversarial_pendulum_score

from protege.algorithms.adversarial import GAILConfig, train_gail
from protege.data import RandomPolicy, Transitions, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.evaluation import evaluate_returns


@pytest.mark.slow
def test_gail_ppo_reaches_475_on_cartpole_from_10_expert_episodes(
    cartpole_demos: Transitions,
) -> None:
    cfg = GAILConfig(steps=100_000, eval_every=5_000, target_return=475, seed=0)
    result = train_gail(cartpole_demos, None, cfg, env="CartPole-v1")
    stats = evaluate_returns("CartPole-v1", result.policy, episodes=20, seed=10_000)
    assert stats.mean >= 475, (stats, result.steps_to_target)
    # 60,160 env steps with one torch thread (under 60k with torch's default of two): the
    # float order of the thread count changes the run, so the budget leaves room for it
    assert result.steps_to_target is not None and result.steps_to_target <= 80_000
    # the discriminator ends up paying expert transitions more than the learner's early ones
    first = result.history[0]
    assert first["disc_accuracy"] < 0.7  # a fresh discriminator guesses
    assert max(row["disc_accuracy"] for row in result.history) > 0.85


def test_gail_reward_pays_the_expert_more_than_a_random_policy(
    cartpole_demos: Transitions,
) -> None:
    result = train_gail(
        cartpole_demos,
        env_spaces("CartPole-v1"),
        GAILConfig(steps=4_096, seed=0),
        env="CartPole-v1",
    )
    rand = flatten_trajectories(
        rollout("CartPole-v1", RandomPolicy(env_spaces("CartPole-v1").action, 0), 50, seed=100)
    )
    d = cartpole_demos
    expert = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    random = result.reward.predict(rand.obs, rand.acts, rand.next_obs, rand.terminated)
    assert np.all(expert > 0)  # -log(1 - D) is positive: a survival bonus
    # measured: 0.73 on the expert vs 0.68 on random play after 4,096 steps with the default
    # gradient penalty (0.77 vs 0.59 without it: the penalty keeps the discriminator smooth)
    assert expert.mean() > random.mean() + 0.02, (expert.mean(), random.mean())


@pytest.mark.slow
def test_gail_sac_reaches_90_percent_of_the_expert_on_pendulum_from_20_episodes(
    pendulum_demos: Transitions,
) -> None:
    # -250 is a normalised score of ~0.9 on the in-training check seeds (expert ~-150,
    # random ~-1200); measured: reached after 4,096 env steps, final score ~1.0 (checked
    # every 1,024 steps, so the run stops there rather than at the next 2,000)
    cfg = GAILConfig(steps=12_000, learner="sac", eval_every=1_024, target_return=-250, seed=0)
    score, shown = adversarial_pendulum_score(train_gail, cfg, pendulum_demos)
    assert score >= 0.9, shown


def test_negative_reward_sign_pays_log_d_which_is_never_positive() -> None:
    import torch

    from protege.algorithms.adversarial.gail import GAILDiscriminator
    from protege.errors import ConfigError

    spaces = env_spaces("MountainCar-v0")
    torch.manual_seed(0)
    pos = GAILDiscriminator(spaces, GAILConfig())
    neg = GAILDiscriminator(spaces, GAILConfig(reward_sign="negative"))
    neg.load_state_dict(pos.state_dict())
    obs = torch.randn(64, 2) * 5
    acts, dones = torch.randint(0, 3, (64,)), torch.zeros(64)
    logit = pos.logit_net(obs, acts, obs, dones)
    r_pos, r_neg = pos.reward(obs, acts, obs, dones), neg.reward(obs, acts, obs, dones)
    assert (r_pos > 0).all() and (r_neg < 0).all()
    # -log(1 - D) + log D = logit: the two signs differ by exactly the discriminator's logit
    torch.testing.assert_close(r_pos + r_neg, logit)
    with pytest.raises(ConfigError, match="reward_sign 'both'"):
        GAILConfig(reward_sign="both")

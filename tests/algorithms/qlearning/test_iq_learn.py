"""IQ-Learn is judged by what it learns: returns against the expert, online and offline,
and a recovered reward that tells the expert's behaviour from a random one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import protege.algorithms.qlearning.loop as loop
from protege.algorithms.qlearning import IQLearnConfig, iq_loss, train_iq_learn
from protege.algorithms.qlearning.iq_learn import absorbing_value, critic_lr
from protege.data import RandomPolicy, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import ConfigError, ProtegeError
from protege.evaluation import compare_with_expert, evaluate_returns
from protege.experts.scripted import scripted_expert


def expert_demos(env_id: str, episodes: int):  # noqa: ANN201
    expert = scripted_expert(env_id).act
    return expert, flatten_trajectories(rollout(env_id, expert, episodes, seed=0))


def no_env(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    raise AssertionError("offline IQ-Learn built an environment")


@pytest.mark.slow
def test_offline_cartpole_from_10_episodes_reaches_475_without_env_steps(monkeypatch) -> None:  # noqa: ANN001
    _, demos = expert_demos("CartPole-v1", 10)
    spaces = env_spaces("CartPole-v1")
    with monkeypatch.context() as m:  # any env built during training fails the test
        m.setattr(loop, "make_env", no_env)
        m.setattr("gymnasium.make", no_env)
        result = train_iq_learn(demos, spaces, IQLearnConfig(offline=True, steps=2000))
    assert result.env_steps == 0
    stats = evaluate_returns("CartPole-v1", result.policy, episodes=20, seed=10_000)
    assert stats.mean >= 475, stats


def test_online_cartpole_gives_the_absorbing_state_the_lowest_value() -> None:
    # The claim "475 from 1 episode within 10k env steps" is not a unit test: over seeds 0-4
    # it scored 500 / 500 / 479 / 461 / 455 (3 of 5), so it lives in benchmarks/seeds.py
    # (claim iq-cartpole-online) with its per-seed table; here only the mechanism.
    _, demos = expert_demos("CartPole-v1", 1)
    cfg = IQLearnConfig(steps=1_500)
    result = train_iq_learn(demos, env_spaces("CartPole-v1"), cfg, env="CartPole-v1")
    assert result.env_steps == 1_500
    # only the learner terminates on CartPole: the absorbing state got the lowest reward
    assert result.history[-1]["v_absorbing"] == pytest.approx(-2 * cfg.chi2 / (1 - cfg.gamma))


@pytest.mark.slow
def test_online_pendulum_from_20_episodes_reaches_90_percent_of_expert() -> None:
    expert, demos = expert_demos("Pendulum-v1", 20)
    # the critic at lr 1e-3, fast: 0.96 / 0.89 / 0.95 / 0.97 / 0.92 on seeds 0-4 after 4,500
    # steps (benchmarks/seeds.py iq-pendulum), but it drifts after reaching the expert; Box's
    # default 3e-4 stays there and needs more steps (iq-pendulum-default: 12,000)
    cfg = IQLearnConfig(steps=4500, lr=1e-3)
    result = train_iq_learn(demos, env_spaces("Pendulum-v1"), cfg, env="Pendulum-v1")
    comparison = compare_with_expert("Pendulum-v1", result.policy, expert, episodes=20)
    assert comparison.normalized_score >= 0.9, comparison.metrics()


@pytest.mark.slow
def test_offline_acrobot_from_10_episodes_matches_the_expert_within_its_std() -> None:
    expert, demos = expert_demos("Acrobot-v1", 10)
    result = train_iq_learn(
        demos, env_spaces("Acrobot-v1"), IQLearnConfig(offline=True, steps=3000)
    )
    comparison = compare_with_expert("Acrobot-v1", result.policy, expert, episodes=20)
    assert comparison.learner.mean >= comparison.expert.mean - comparison.expert.std, (
        comparison.metrics()
    )


@pytest.mark.slow
def test_recovered_reward_scores_expert_transitions_above_random_ones() -> None:
    _, demos = expert_demos("CartPole-v1", 5)
    result = train_iq_learn(
        demos, env_spaces("CartPole-v1"), IQLearnConfig(steps=3000), env="CartPole-v1"
    )
    spaces = env_spaces("CartPole-v1")
    random = flatten_trajectories(
        rollout("CartPole-v1", RandomPolicy(spaces.action, 0), 20, seed=0)
    )

    def mean_reward(t):  # noqa: ANN001, ANN202
        return float(result.reward.predict(t.obs, t.acts, t.next_obs, t.terminated).mean())

    assert mean_reward(demos) > mean_reward(random) + 0.5


def test_the_critics_learning_rate_defaults_by_action_space_and_takes_a_set_value() -> None:
    pendulum, cartpole = env_spaces("Pendulum-v1"), env_spaces("CartPole-v1")
    assert critic_lr(IQLearnConfig(), pendulum) == 3e-4  # 1e-3 drifted past the expert
    assert critic_lr(IQLearnConfig(), cartpole) == 1e-3
    assert critic_lr(IQLearnConfig(lr=2e-3), pendulum) == 2e-3
    with pytest.raises(ConfigError, match="lr=0"):
        IQLearnConfig(lr=0.0)
    _, demos = expert_demos("Pendulum-v1", 1)
    train_iq_learn(demos, pendulum, IQLearnConfig(offline=True, steps=2))  # None never reaches Adam


def test_loss_is_the_papers_three_terms_on_a_hand_computed_batch() -> None:
    q = torch.tensor([2.0, 1.0, 0.5])
    v = torch.tensor([2.5, 1.5, 1.0])
    next_v = torch.tensor([1.0, 2.0, 3.0])
    terminal = torch.tensor([0.0, 0.0, 1.0])
    is_expert = torch.tensor([True, False, True])
    gamma = 0.5
    # y = γ(1 − done)V(s'): [0.5, 1.0, 0]; r = q − y: [1.5, 0.0, 0.5]
    online = IQLearnConfig(chi2=0.5, loss="value_policy", chi2_on="all")
    loss, stats = iq_loss(q, v, next_v, terminal, is_expert, gamma, online)
    expert_term = -(1.5 + 0.5) / 2
    value_term = ((2.5 - 0.5) + (1.5 - 1.0) + (1.0 - 0.0)) / 3
    chi2_term = (1.5**2 + 0.0 + 0.5**2) / 3 / (4 * 0.5)
    assert float(loss) == pytest.approx(expert_term + value_term + chi2_term)
    assert stats["expert_reward"] == pytest.approx(1.0)
    offline = IQLearnConfig(offline=True, chi2=0.5)  # value_expert, χ² on expert samples
    loss, _ = iq_loss(q, v, next_v, terminal, is_expert, gamma, offline)
    value_expert = ((2.5 - 0.5) + (1.0 - 0.0)) / 2
    chi2_expert = (1.5**2 + 0.5**2) / 2 / (4 * 0.5)
    assert float(loss) == pytest.approx(expert_term + value_expert + chi2_expert)
    # with an absorbing value, the terminal transition bootstraps from it
    loss_abs, stats = iq_loss(q, v, next_v, terminal, is_expert, gamma, online, v_absorbing=-2.0)
    assert stats["expert_reward"] == pytest.approx((1.5 + (0.5 + 1.0)) / 2)


def test_absorbing_value_is_the_chi2_optimal_reward_forever() -> None:
    assert absorbing_value(0.0, 0.1, chi2=0.5, gamma=0.99) == pytest.approx(-100.0)
    assert absorbing_value(0.1, 0.0, chi2=0.5, gamma=0.99) == pytest.approx(100.0)
    assert absorbing_value(0.1, 0.1, chi2=0.5, gamma=0.99) == 0.0
    assert absorbing_value(0.0, 0.0, chi2=0.5, gamma=0.99) == 0.0
    assert IQLearnConfig().absorbing_mode == "mixture"
    assert IQLearnConfig(offline=True).absorbing_mode == "zero"
    assert IQLearnConfig(chi2_on="expert").absorbing_mode == "zero"


def test_recovered_reward_is_q_minus_discounted_next_value() -> None:
    _, demos = expert_demos("CartPole-v1", 1)
    cfg = IQLearnConfig(offline=True, steps=20, gamma=0.9)
    reward = train_iq_learn(demos, env_spaces("CartPole-v1"), cfg).reward
    obs = torch.as_tensor(demos.obs[:5])
    acts = torch.as_tensor(demos.acts[:5])
    nxt = torch.as_tensor(demos.next_obs[:5])
    done = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0])
    with torch.no_grad():
        expected = reward.q(obs, acts) - 0.9 * (1 - done) * reward.value(nxt)
        np.testing.assert_allclose(reward(obs, acts, nxt, done), expected, rtol=1e-6)
        # at a terminal transition the reward is Q(s, a) itself
        assert float(reward(obs, acts, nxt, done)[2]) == pytest.approx(
            float(reward.q(obs, acts)[2])
        )


def test_box_reward_is_deterministic_and_handles_any_batch_size() -> None:
    _, demos = expert_demos("Pendulum-v1", 1)
    reward = train_iq_learn(
        demos, env_spaces("Pendulum-v1"), IQLearnConfig(offline=True, steps=20)
    ).reward
    args = (demos.obs, demos.acts, demos.next_obs, demos.terminated)
    first, again = reward.predict(*args), reward.predict(*args)
    np.testing.assert_array_equal(first, again)
    one = reward.predict(*(a[:1] for a in args))
    np.testing.assert_allclose(one, first[:1], rtol=1e-5)


def test_same_seed_same_policy() -> None:
    _, demos = expert_demos("CartPole-v1", 1)
    cfg = IQLearnConfig(steps=300, learning_starts=100, seed=3, hidden=(16,))
    a, b = (
        train_iq_learn(demos, env_spaces("CartPole-v1"), cfg, env="CartPole-v1").policy
        for _ in range(2)
    )
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_user_errors_are_protege_errors_that_name_the_fix() -> None:
    _, demos = expert_demos("CartPole-v1", 1)
    spaces = env_spaces("CartPole-v1")
    with pytest.raises(ConfigError, match="offline=True"):
        train_iq_learn(demos, spaces, IQLearnConfig())  # online without an env
    with pytest.raises(ConfigError, match="loss"):
        IQLearnConfig(loss="value")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="absorbing"):
        IQLearnConfig(absorbing="learned")  # type: ignore[arg-type]
    with pytest.raises(ProtegeError, match="steps"):
        train_iq_learn(demos, spaces, dataclasses.replace(IQLearnConfig(offline=True), steps=0))

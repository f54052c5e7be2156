"""The shared loop: episodes of any length, Dict observations, off-policy learners, the
gradient penalty, and rewards that load back without the training code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from protege.algorithms.adversarial import (
    AIRLConfig,
    DiscriminatorBatch,
    GAILConfig,
    GCLConfig,
    train_airl,
    train_gail,
    train_gcl,
)
from protege.algorithms.adversarial.discriminator import gradient_penalty
from protege.algorithms.adversarial.gail import GAILDiscriminator
from protege.algorithms.adversarial.scale import RunningScale
from protege.algorithms.replay import ReplayBuffer, TensorTransitions
from protege.data import Transitions, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import ConfigError
from protege.experts.scripted import scripted_expert
from protege.rewards import load_reward, save_reward


def shaky_cartpole_demos() -> Transitions:
    """Expert episodes that end at different times: the expert errs 30% of the time, so
    most poles fall (terminated) after 10-200 steps; some reach the 500-step limit."""
    expert = scripted_expert("CartPole-v1").act
    rng = np.random.default_rng(0)

    def shaky(obs: np.ndarray) -> np.ndarray:
        acts = expert(obs)
        flip = rng.random(len(acts)) < 0.3
        return np.where(flip, 1 - acts, acts)

    return flatten_trajectories(rollout("CartPole-v1", shaky, 12, seed=0))


@pytest.mark.parametrize("absorbing", [False, True])
def test_episodes_of_different_lengths_and_terminal_states_train(absorbing: bool) -> None:
    demos = shaky_cartpole_demos()
    ends = np.flatnonzero(demos.terminated | demos.truncated)
    lengths = np.diff(np.concatenate([[-1], ends]))
    assert len(set(lengths.tolist())) > 5 and demos.terminated.any()
    cfg = GAILConfig(steps=2_048, absorbing=absorbing, seed=0)
    result = train_gail(demos, None, cfg, env="CartPole-v1")
    assert len(result.history) == 8  # one round per 256-step PPO rollout
    assert all(np.isfinite(row["disc_loss"]) for row in result.history)
    if absorbing:  # the reward reads the terminal flag: ending is scored on its own
        d = demos
        end = result.reward.predict(d.obs, d.acts, d.next_obs, np.ones(len(d.acts)))
        not_end = result.reward.predict(d.obs, d.acts, d.next_obs, np.zeros(len(d.acts)))
        assert not np.allclose(end, not_end)


@pytest.mark.parametrize(
    ("train", "cfg"),
    [(train_gail, GAILConfig(steps=1_024)), (train_airl, AIRLConfig(steps=1_024)),
     (train_gcl, GCLConfig(steps=1_024))],
)  # fmt: skip
def test_saved_reward_loads_standalone_and_gives_the_same_values(
    train,
    cfg,
    cartpole_demos: Transitions,
    tmp_path,  # noqa: ANN001
) -> None:
    result = train(cartpole_demos, None, cfg, env="CartPole-v1")
    save_reward(result.reward, tmp_path)
    d = cartpole_demos
    expected = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    loaded = load_reward(tmp_path).predict(d.obs, d.acts, d.next_obs, d.terminated)
    np.testing.assert_allclose(loaded, expected, rtol=1e-5, atol=1e-6)
    program = torch.export.load(str(tmp_path / "reward.pt2")).module()  # no protege needed
    raw = program(
        torch.as_tensor(d.obs[:5]), torch.as_tensor(d.acts[:5]),
        torch.as_tensor(d.next_obs[:5]), torch.zeros(5),
    )  # fmt: skip
    np.testing.assert_allclose(raw.detach().numpy(), expected[:5], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_dict_observations_are_imitated(cue_env) -> None:  # noqa: ANN001
    small, expert = cue_env("dict")
    cue_cls = type(small())

    def make():  # noqa: ANN202 - SB3's image encoder needs at least 36x36 pixels
        return cue_cls("dict", size=36)

    demos = flatten_trajectories(rollout(make, expert, 10, seed=0))
    cfg = GAILConfig(steps=2_048, n_envs=4, learner_kwargs={"batch_size": 128}, seed=0)
    result = train_gail(demos, None, cfg, env=make)
    # the discriminator tells the untrained learner from the expert within a few rounds
    assert max(row["disc_accuracy"] for row in result.history) > 0.7


def test_dqn_learner_replays_with_the_current_reward(cartpole_demos: Transitions) -> None:
    cfg = GAILConfig(steps=1_500, learner="dqn", disc_every=250, seed=0,
                     learner_kwargs={"learning_starts": 500, "train_freq": 250})  # fmt: skip
    result = train_gail(cartpole_demos, None, cfg, env="CartPole-v1")
    buffer = result.model.replay_buffer
    samples = buffer.sample(64)  # rewards come from the discriminator as it is now
    d = result.discriminator
    obs, acts = samples.observations, samples.actions.reshape(-1).long()
    b = DiscriminatorBatch(
        obs, acts, samples.next_observations, samples.dones.reshape(-1), torch.zeros(64)
    )
    with torch.no_grad():
        now = torch.nn.functional.softplus(d.logits(b))
    scale = samples.rewards.reshape(-1) / now
    assert torch.allclose(scale, scale[0].expand_as(scale), rtol=1e-4)  # one running scale
    assert len(result.history) == 6


def test_off_policy_learner_saves_to_a_zip_sb3_loads_alone(
    cartpole_demos: Transitions, tmp_path: Path
) -> None:
    from stable_baselines3 import DQN
    from stable_baselines3.common.buffers import ReplayBuffer

    from protege.rl import save_sb3

    cfg = GAILConfig(steps=600, learner="dqn", disc_every=200, seed=0,
                     learner_kwargs={"learning_starts": 200, "train_freq": 200})  # fmt: skip
    result = train_gail(cartpole_demos, None, cfg, env="CartPole-v1")
    # the relabelling buffer's reward function cannot be pickled: it is left out of the file
    save_sb3(result.model, tmp_path / "policy.zip")
    assert not (tmp_path / "policy.partial.zip").exists()
    loaded = DQN.load(tmp_path / "policy.zip")
    assert loaded.replay_buffer_class is ReplayBuffer
    obs = cartpole_demos.obs[:32]
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0],
                                  result.model.predict(obs, deterministic=True)[0])  # fmt: skip


@pytest.mark.slow
def test_sac_learner_gets_env_unit_actions_and_gradient_penalty_runs(
    pendulum_demos: Transitions,
) -> None:
    cfg = AIRLConfig(steps=600, learner="sac", disc_every=100, grad_penalty=10.0, seed=0,
                     learner_kwargs={"learning_starts": 200})  # fmt: skip
    result = train_airl(pendulum_demos, None, cfg, env="Pendulum-v1")
    assert len(result.history) == 6
    assert all(np.isfinite(row["grad_penalty"]) and row["grad_penalty"] >= 0
               for row in result.history)  # fmt: skip


def test_gradient_penalty_is_zero_for_unit_slope_and_positive_otherwise() -> None:
    spaces = env_spaces("Pendulum-v1")
    disc = GAILDiscriminator(spaces, GAILConfig())
    lin = torch.nn.Linear(3 + 1, 1)
    disc.logit_net.mlp = torch.nn.Sequential(lin)
    with torch.no_grad():  # logit = x·w with ‖w‖ = 1 over (obs, act): slope 1 everywhere
        lin.weight.copy_(torch.tensor([[0.6, 0.0, 0.8, 0.0]]))
        lin.bias.zero_()
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(rng.normal(size=(32, 3)), dtype=torch.float32)
    acts = torch.as_tensor(rng.normal(size=(32, 1)), dtype=torch.float32)
    b = DiscriminatorBatch(obs, acts, obs, torch.zeros(32), torch.zeros(32))
    b2 = b._replace(obs=obs + 1, acts=acts - 1)
    assert float(gradient_penalty(disc, b, b2).detach()) == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        lin.weight.mul_(3.0)
    assert float(gradient_penalty(disc, b, b2).detach()) == pytest.approx(4.0, rel=1e-5)


def test_running_scale_and_window() -> None:
    scale = RunningScale()
    x = torch.as_tensor(np.random.default_rng(0).normal(3.0, 2.0, 10_000))
    for chunk in x.split(37):
        scale.update(chunk)
    assert scale.std == pytest.approx(float(x.std(unbiased=False)), rel=1e-6)
    window = ReplayBuffer(5)
    for i in range(3):
        obs = torch.full((3, 2), i)
        window.add(TensorTransitions(obs, torch.arange(3), torch.zeros((3, 2)), torch.zeros(3)))
    kept = window.sample(200, np.random.default_rng(0)).obs[:, 0]
    assert set(kept.tolist()) == {1.0, 2.0}  # the first batch is gone, 2 of the 2nd remain


def test_bad_settings_are_config_errors(cartpole_demos: Transitions) -> None:
    with pytest.raises(ConfigError, match="learner"):
        GAILConfig(learner="a2c")
    with pytest.raises(ConfigError, match="disc_updates"):
        GAILConfig(disc_updates=0)
    with pytest.raises(ConfigError, match="sac needs Box"):
        train_gail(cartpole_demos, None, GAILConfig(learner="sac"), env="CartPole-v1")
    with pytest.raises(ConfigError, match="pass env="):  # the learner needs an env to act in
        train_gail(cartpole_demos, env_spaces("CartPole-v1"), GAILConfig())
    with pytest.raises(ConfigError, match="not the spaces of CartPole-v1"):
        train_gail(cartpole_demos, env_spaces("Pendulum-v1"), GAILConfig(), env="CartPole-v1")

"""Observation normalisation in IQ-Learn and SQIL: the critic, its target and the policy
take their statistics from the demonstrations, the saved policy.pt and reward.pt2 carry
them, and a resumed run ends as an uninterrupted one; "auto" is on for MuJoCo ids only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from protege.algorithms.qlearning import IQLearnConfig, SQILConfig, train_iq_learn, train_sqil
from protege.algorithms.qlearning.learner import make_learner, preprocessed_demos
from protege.callbacks import Callback
from protege.data import RandomPolicy, Transitions, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import ConfigError
from protege.experts.scripted import scripted_expert
from protege.nets import ObsNormalizer
from protege.policies import ActorPolicy
from protege.rewards import load_reward, save_reward


def demos_of(env_id: str, episodes: int = 2) -> Transitions:
    return flatten_trajectories(rollout(env_id, scripted_expert(env_id).act, episodes, seed=0))


def normalizers(net: torch.nn.Module) -> list[ObsNormalizer]:
    return [m for m in net.modules() if isinstance(m, ObsNormalizer)]


def assert_fitted_to(norms: list[ObsNormalizer], obs: np.ndarray) -> None:
    assert norms
    for norm in norms:
        np.testing.assert_allclose(norm.mean.numpy(), obs.mean(0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(norm.std.numpy(), obs.std(0, ddof=1), rtol=1e-3)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])  # Q-net; twin Q and actor
def test_every_network_fits_the_demos_and_the_target_copies_them(env_id: str) -> None:
    demos, spaces = demos_of(env_id), env_spaces(env_id)
    cpu = torch.device("cpu")
    expert = preprocessed_demos(demos, spaces, cpu)
    learner = make_learner(spaces, (16,), 0.01, 1e-3, 1e-3, 0, cpu, normalize_by=expert.obs)
    nets = [learner.critic, learner.critic_target]
    if learner.actor is not None:
        nets.append(learner.actor)
    for net in nets:
        assert_fitted_to(normalizers(net), np.asarray(demos.obs))
    plain = make_learner(spaces, (16,), 0.01, 1e-3, 1e-3, 0, cpu)
    assert normalizers(plain.critic) == []
    # the same seed gives the same weights either way: only the buffers differ
    assert all(
        torch.equal(a, b)
        for a, b in zip(plain.critic.parameters(), learner.critic.parameters(), strict=True)
    )


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_saved_policy_and_reward_reproduce_the_normalised_outputs(
    env_id: str, tmp_path: Path
) -> None:
    demos, spaces = demos_of(env_id), env_spaces(env_id)
    cfg = IQLearnConfig(offline=True, steps=100, log_every=50, hidden=(16,), normalize_obs="on")
    result = train_iq_learn(demos, spaces, cfg)
    obs = np.asarray(demos.obs)
    assert result.policy.arch.normalize_obs
    assert_fitted_to(normalizers(result.policy), obs)
    result.policy.save(tmp_path / "policy.pt")
    loaded = ActorPolicy.load(tmp_path / "policy.pt")
    assert loaded.arch.normalize_obs
    np.testing.assert_allclose(loaded(obs[:20]), result.policy(obs[:20]))
    with torch.no_grad():  # the distribution too, not only its mode
        want = result.policy.trunk(result.policy.encoder(torch.as_tensor(obs[:20])))
        got = loaded.trunk(loaded.encoder(torch.as_tensor(obs[:20])))
    torch.testing.assert_close(got, want)

    save_reward(result.reward, tmp_path)
    d = demos
    expected = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    standalone = load_reward(tmp_path).predict(d.obs, d.acts, d.next_obs, d.terminated)
    np.testing.assert_allclose(standalone, expected, rtol=1e-5, atol=1e-5)
    for norm in normalizers(result.reward):  # the statistics are what the reward reads
        norm.mean.zero_()
        norm.std.fill_(1.0)
    unnormalised = result.reward.predict(d.obs, d.acts, d.next_obs, d.terminated)
    assert not np.allclose(unnormalised, expected, atol=1e-3)


def test_online_sqil_normalises_its_critic_and_actor() -> None:
    demos, spaces = demos_of("Pendulum-v1"), env_spaces("Pendulum-v1")
    cfg = SQILConfig(steps=120, log_every=60, learning_starts=60, hidden=(16,),
                     normalize_obs="on")  # fmt: skip
    result = train_sqil(demos, spaces, cfg, env="Pendulum-v1")
    assert result.env_steps == 120
    assert_fitted_to(normalizers(result.policy), np.asarray(demos.obs))
    assert_fitted_to(normalizers(result.reward.critic), np.asarray(demos.obs))


def test_auto_is_off_on_classic_control_and_on_for_mujoco_ids() -> None:
    demos, spaces = demos_of("Pendulum-v1", 1), env_spaces("Pendulum-v1")
    cfg = IQLearnConfig(offline=True, steps=10, log_every=10, hidden=(8,))
    assert cfg.normalize_obs == "auto"
    for config in (IQLearnConfig, SQILConfig):
        with pytest.raises(ConfigError, match="normalize_obs='yes': choose one of auto, on, off"):
            config(normalize_obs="yes")  # type: ignore[arg-type]
    off = train_iq_learn(demos, spaces, cfg, env="Pendulum-v1")
    assert not off.policy.arch.normalize_obs and normalizers(off.reward) == []
    pytest.importorskip("mujoco")
    spaces = env_spaces("Hopper-v5")
    random = RandomPolicy(spaces.action, 0)
    demos = flatten_trajectories(rollout("Hopper-v5", random, 3, seed=0))
    on = train_iq_learn(demos, spaces, cfg, env="Hopper-v5")  # offline: env read for auto only
    assert on.policy.arch.normalize_obs
    assert_fitted_to(normalizers(on.policy), np.asarray(demos.obs))


class StopAt(Exception):
    """Stands in for a kill."""


class Kill(Callback):
    """Stops training when progress row `at` is reported (after its checkpoint, if due)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if i == self.at:
            raise StopAt


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Equal parameters and buffers (the statistics included)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_resumed_normalised_offline_run_ends_as_an_uninterrupted_one(
    env_id: str, tmp_path: Path
) -> None:
    demos, spaces = demos_of(env_id), env_spaces(env_id)
    cfg = IQLearnConfig(offline=True, steps=120, log_every=20, hidden=(16,), seed=1,
                        normalize_obs="on")  # fmt: skip
    whole = train_iq_learn(demos, spaces, cfg)
    ckpt = tmp_path / "qlearning.pt"
    with pytest.raises(StopAt):
        train_iq_learn(demos, spaces, cfg, [Kill(3)], checkpoint=ckpt, checkpoint_every=2)
    resumed = train_iq_learn(demos, spaces, cfg, checkpoint=ckpt, checkpoint_every=2)
    assert same_state(whole.policy, resumed.policy)
    assert same_state(whole.reward, resumed.reward)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]
    assert_fitted_to(normalizers(resumed.policy), np.asarray(demos.obs))

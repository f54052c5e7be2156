"""GCL is judged by what it learns (Pendulum with SAC), and its importance weights: the
sampler density mixes in the uniform one, so an expert action the learner almost never
takes cannot hold the whole partition estimate."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import adversarial_pendulum_score

from protege.algorithms.adversarial import GCLConfig, gcl_loss, train_gcl
from protege.algorithms.adversarial.discriminator import DiscriminatorBatch
from protege.algorithms.adversarial.gcl import (
    GCLDiscriminator,
    log_sampler_density,
    log_uniform_density,
)
from protege.data import Transitions
from protege.envs import env_spaces


@pytest.mark.slow
def test_gcl_sac_reaches_90_percent_of_the_expert_on_pendulum_from_20_episodes(
    pendulum_demos: Transitions,
) -> None:
    # as GAIL's test: stop at -250 on the in-training check seeds (~0.9 normalised).
    # benchmarks/seeds.py gcl-pendulum: 0.97 / 0.96 / 1.00 / 0.99 / 0.99 on seeds 0-4, about
    # a minute each; without the uniform mixture the learner only improved after 15k steps
    cfg = GCLConfig(steps=20_000, learner="sac", eval_every=1_024, target_return=-250, seed=0)
    score, shown = adversarial_pendulum_score(train_gcl, cfg, pendulum_demos)
    assert score >= 0.9, shown


@pytest.mark.parametrize(
    ("env_id", "learner", "expected"),
    [
        ("Pendulum-v1", "sac", -math.log(2.0)),  # SAC rescales the torque to [-1, 1]
        ("Pendulum-v1", "ppo", -math.log(4.0)),  # PPO: the env's units, [-2, 2]
        ("CartPole-v1", "ppo", -math.log(2.0)),
    ],  # fmt: skip
)
def test_the_uniform_density_is_in_the_units_of_the_learners_log_pi(
    env_id: str, learner: str, expected: float
) -> None:
    assert log_uniform_density(env_spaces(env_id).action, learner) == pytest.approx(expected)


def _batch(obs: torch.Tensor, acts: torch.Tensor, log_pi: torch.Tensor) -> DiscriminatorBatch:
    return DiscriminatorBatch(obs, acts, obs, torch.zeros(len(obs)), log_pi)


@pytest.mark.parametrize("uniform_mix", [0.0, 0.5, 1.0])
def test_gcl_loss_is_the_importance_sampled_objective_with_the_mixed_density(
    uniform_mix: float,
) -> None:
    torch.manual_seed(0)
    disc = GCLDiscriminator(env_spaces("Pendulum-v1"), GCLConfig(learner="sac", disc_hidden=(8,)))
    obs, acts = torch.randn(6, 3), torch.rand(6, 1) * 4 - 2
    log_pi = torch.tensor([0.5, -1.0, 2.0, -650.0, 1.0, -3.0])
    expert, learner = _batch(obs[:3], acts[:3], log_pi[:3]), _batch(obs[3:], acts[3:], log_pi[3:])
    with torch.no_grad():
        loss = gcl_loss(disc, expert, learner, demos_in_samples=True, reward_l2=0.0,
                        uniform_mix=uniform_mix)  # fmt: skip
        r = disc.reward(obs, acts, obs, torch.zeros(6))
    # the background is the learner's samples then the demonstrations
    order = [3, 4, 5, 0, 1, 2]
    pi = log_pi[order].double().exp()
    q = (1 - uniform_mix) * pi + uniform_mix * 0.5  # u = 1/2 on [-1, 1]
    log_w = r[order].double() - q.log()
    expected = -r[:3].mean() + torch.logsumexp(log_w, 0) - math.log(6)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_one_action_the_learner_never_takes_no_longer_holds_the_partition() -> None:
    """An expert action at log π = -650 (what a SAC learner gave the scripted Pendulum
    expert's saturated torques) among seven at log π = 0, all rewarded alike: with the
    learner's density alone its importance weight is the whole partition; with half the
    uniform density mixed in, no weight 1/q exceeds 1 / (ε·u) = 4 (the others' are 4/3)."""
    log_pi = torch.zeros(8)
    log_pi[7] = -650.0
    alone = torch.softmax(-log_sampler_density(log_pi, -math.log(2.0), 0.0), dim=0)
    mixed = torch.softmax(-log_sampler_density(log_pi, -math.log(2.0), 0.5), dim=0)
    assert float(alone[7]) == pytest.approx(1.0)
    q_others = 0.5 * 1.0 + 0.5 * 0.5
    assert float(mixed[7] / mixed[0]) == pytest.approx(q_others / (0.5 * 0.5))
    assert float(mixed.max()) < 0.4

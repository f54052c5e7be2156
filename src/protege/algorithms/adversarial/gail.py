"""Generative adversarial imitation learning (Ho & Ermon 2016, "Generative Adversarial
Imitation Learning").

A discriminator D(s, a) = σ(logit) learns to tell expert transitions from the learner's;
the learner is paid -log(1 - D(s, a)) = softplus(logit), positive everywhere, which is
also the reward the run saves.

    result = train_gail("CartPole-v1", demos, GAILConfig(steps=100_000))
    result.model.save("policy.zip"); save_reward(result.reward, "runs/gail")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from protege.algorithms.adversarial.loop import (
    AdversarialConfig,
    AdversarialResult,
    Batch,
    Discriminator,
    train_adversarial,
)
from protege.callbacks import Callback
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces
from protege.rewards import MLPRewardNet, RewardNet, TensorObs


@dataclass(frozen=True)
class GAILConfig(AdversarialConfig):
    """GAIL settings (see `AdversarialConfig` for each field). Defaults tuned on
    CartPole-v1 with PPO (tests/algorithms/adversarial, benchmarks/adversarial.py)."""


class SoftplusReward(RewardNet):
    """-log(1 - D) = softplus(logit): GAIL's reward, from the discriminator's logit net."""

    def __init__(self, logit_net: RewardNet) -> None:
        super().__init__(logit_net.spaces)
        self.logit_net = logit_net

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        return F.softplus(self.logit_net(obs, acts, next_obs, dones))


class GAILDiscriminator(Discriminator):
    """logit(s, a) by an MLP; the learner's reward is softplus(logit)."""

    def __init__(self, spaces: Spaces, cfg: GAILConfig) -> None:
        super().__init__()
        net = MLPRewardNet(spaces, use_action=True, use_done=cfg.absorbing, hidden=cfg.disc_hidden)
        self.logit_net: RewardNet = net
        self.reward = SoftplusReward(net)

    def logits(self, b: Batch) -> torch.Tensor:
        return self.logit_net(b.obs, b.acts, b.next_obs, b.dones)

    def policy_reward(self, b: Batch) -> torch.Tensor:
        return F.softplus(self.logits(b))


def gail_loss(disc: Discriminator, expert: Batch, learner: Batch) -> torch.Tensor:
    """The discriminator's side of GAIL's minimax: max E_E[log D] + E_π[log(1 - D)]."""
    expert_logits, learner_logits = disc.logits(expert), disc.logits(learner)
    return F.binary_cross_entropy_with_logits(
        expert_logits, torch.ones_like(expert_logits)
    ) + F.binary_cross_entropy_with_logits(learner_logits, torch.zeros_like(learner_logits))


def train_gail(
    env: str | EnvFactory,
    demos: Transitions,
    cfg: GAILConfig = GAILConfig(),
    callbacks: Sequence[Callback] = (),
) -> AdversarialResult:
    """Imitate `demos` in `env` by GAIL; the result holds the SB3 learner and the reward."""
    return train_adversarial(
        env, demos, lambda spaces: GAILDiscriminator(spaces, cfg), gail_loss, cfg, callbacks
    )

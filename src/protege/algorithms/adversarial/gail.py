"""Generative adversarial imitation learning (Ho & Ermon 2016, "Generative Adversarial
Imitation Learning").

A discriminator D(s, a) = σ(logit) learns to tell expert transitions from the learner's;
the learner is paid -log(1 - D(s, a)) = softplus(logit), positive everywhere, which is
also the reward the run saves. On tasks that end on success (MountainCar, Acrobot) a
positive reward pays the learner to never finish; `reward_sign="negative"` pays
log D(s, a) = -softplus(-logit) instead, zero for expert-like steps and negative elsewhere
(Ho & Ermon's "favor zero expert reward" setting for those tasks).

    result = train_gail(demos, None, GAILConfig(steps=100_000), env="CartPole-v1")
    result.model.save("policy.zip"); save_reward(result.reward, "runs/gail")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from protege.algorithms.adversarial.config import AdversarialConfig
from protege.algorithms.adversarial.discriminator import Discriminator, DiscriminatorBatch
from protege.algorithms.adversarial.loop import AdversarialResult, train_adversarial
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError
from protege.nets import TensorObs, normalizes
from protege.rewards import MLPRewardNet, RewardNet


@dataclass(frozen=True)
class GAILConfig(AdversarialConfig):
    """GAIL settings (see `AdversarialConfig` for each field). Defaults tuned on
    CartPole-v1 with PPO (tests/algorithms/adversarial, benchmarks/adversarial.py).

    reward_sign: "positive" pays -log(1 - D) >= 0 (tasks that end on failure, CartPole);
        "negative" pays log D <= 0 (tasks that end on success, MountainCar, Acrobot).
    grad_penalty: weight of the gradient penalty on expert/learner interpolates; 1 for
        GAIL: trained to 3x the steps it needs (60k, PPO, CartPole, 10 episodes) the final
        policy kept >= 475 on 5 of 5 seeds with it, on 3 of 5 without (the discriminator
        overfits and the learner drifts); SAC on Pendulum scored the same (1.00 / 0.98
        against 0.99 / 0.99 normalised, seeds 0 / 1).
    """

    reward_sign: str = "positive"
    grad_penalty: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reward_sign not in ("positive", "negative"):
            raise ConfigError(
                f"reward_sign {self.reward_sign!r}: choose positive (-log(1 - D), tasks that "
                "end on failure) or negative (log D, tasks that end on success)"
            )


class SoftplusReward(RewardNet):
    """GAIL's reward from the discriminator's logit net: -log(1 - D) = softplus(logit), or
    with `negative`, log D = -softplus(-logit)."""

    def __init__(self, logit_net: RewardNet, negative: bool = False) -> None:
        super().__init__(logit_net.spaces)
        self.logit_net, self.negative = logit_net, negative

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        logit = self.logit_net(obs, acts, next_obs, dones)
        return -F.softplus(-logit) if self.negative else F.softplus(logit)


class GAILDiscriminator(Discriminator):
    """logit(s, a) by an MLP; the learner's reward is softplus(logit). `normalize`: the MLP
    standardises observations (`MLPRewardNet`)."""

    def __init__(self, spaces: Spaces, cfg: GAILConfig, normalize: bool = False) -> None:
        super().__init__()
        net = MLPRewardNet(
            spaces,
            use_action=True,
            use_done=cfg.absorbing,
            hidden=cfg.disc_hidden,
            normalize=normalize,
        )
        self.logit_net: RewardNet = net
        self.reward = SoftplusReward(net, negative=cfg.reward_sign == "negative")

    def logits(self, b: DiscriminatorBatch) -> torch.Tensor:
        return self.logit_net(b.obs, b.acts, b.next_obs, b.dones)

    def policy_reward(self, b: DiscriminatorBatch) -> torch.Tensor:
        return self.reward(b.obs, b.acts, b.next_obs, b.dones)


def gail_loss(
    disc: Discriminator, expert: DiscriminatorBatch, learner: DiscriminatorBatch
) -> torch.Tensor:
    """The discriminator's side of GAIL's minimax: max E_E[log D] + E_π[log(1 - D)]."""
    expert_logits, learner_logits = disc.logits(expert), disc.logits(learner)
    return F.binary_cross_entropy_with_logits(
        expert_logits, torch.ones_like(expert_logits)
    ) + F.binary_cross_entropy_with_logits(learner_logits, torch.zeros_like(learner_logits))


def train_gail(
    demos: Transitions,
    spaces: Spaces | None,
    cfg: GAILConfig = GAILConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> AdversarialResult:
    """Imitate `demos` in `env` by GAIL; the result holds the SB3 learner and the reward.

    spaces: the env's, or None to take them from `env` (required: the learner acts in
    it). Callbacks, checkpoint and checkpoint_every as in `train_adversarial`.
    """
    normalize = normalizes(cfg.normalize_obs, env)  # the reward nets' observations
    return train_adversarial(
        demos,
        spaces,
        cfg,
        callbacks,
        env=env,
        make_disc=lambda s: GAILDiscriminator(s, cfg, normalize),
        loss=gail_loss,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )

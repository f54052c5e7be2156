"""Adversarial inverse reinforcement learning (Fu, Luo & Levine 2018, "Learning Robust
Rewards with Adversarial Inverse Reinforcement Learning").

The discriminator has the form D = exp(f) / (exp(f) + π(a|s)), so its logit is
f(s, a, s') - log π(a|s), with f = g + γ h(s') - h(s): a reward g (state-only by default,
the disentangled form that transfers across dynamics) and a shaping potential h that
absorbs the rest. The learner is paid the logit (an entropy-regularised f); with SAC, whose
own entropy bonus plays -log π, it is paid f. The run saves g.

    result = train_airl(demos, None, AIRLConfig(steps=100_000), env="CartPole-v1")
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
from protege.nets import normalizes
from protege.rewards import MLPRewardNet, ShapedRewardNet
from protege.rl import LEARNER_DEFAULTS


@dataclass(frozen=True)
class AIRLConfig(AdversarialConfig):
    """AIRL settings (see `AdversarialConfig` for the shared ones). A slower discriminator
    than GAIL's (disc_lr 3e-4): at 1e-3, 1 of 4 CartPole seeds missed 475 in 100k steps.

    state_only: g(s) (disentangled; transfers to new dynamics) rather than g(s, a).
    gamma: discount of the shaping term; None takes the learner's.
    """

    disc_lr: float = 3e-4
    state_only: bool = True
    gamma: float | None = None


class AIRLDiscriminator(Discriminator):
    """logit = f(s, a, s') - log π(a|s), f = g + γ(1 - done) h(s') - h(s). `normalize`: g
    and h standardise observations (`MLPRewardNet`)."""

    needs_log_pi = True

    def __init__(
        self, spaces: Spaces, cfg: AIRLConfig, gamma: float, normalize: bool = False
    ) -> None:
        super().__init__()
        self.reward = MLPRewardNet(
            spaces,
            use_action=not cfg.state_only,
            use_done=cfg.absorbing,
            hidden=cfg.disc_hidden,
            normalize=normalize,
        )
        self.f = ShapedRewardNet(self.reward, gamma, cfg.disc_hidden, normalize)

    def logits(self, b: DiscriminatorBatch) -> torch.Tensor:
        return self.f(b.obs, b.acts, b.next_obs, b.dones) - b.log_pi

    def policy_reward(self, b: DiscriminatorBatch) -> torch.Tensor:
        return self.logits(b)  # the loop zeroes log_pi for SAC, leaving f


def airl_loss(
    disc: Discriminator, expert: DiscriminatorBatch, learner: DiscriminatorBatch
) -> torch.Tensor:
    """Cross-entropy of D = exp(f) / (exp(f) + π): expert transitions 1, the learner's 0."""
    expert_logits, learner_logits = disc.logits(expert), disc.logits(learner)
    return F.binary_cross_entropy_with_logits(
        expert_logits, torch.ones_like(expert_logits)
    ) + F.binary_cross_entropy_with_logits(learner_logits, torch.zeros_like(learner_logits))


def learner_gamma(cfg: AdversarialConfig) -> float:
    """The learner's discount: `learner_kwargs["gamma"]`, else protege's default for it."""
    return float(cfg.learner_kwargs.get("gamma", LEARNER_DEFAULTS[cfg.learner].get("gamma", 0.99)))


def train_airl(
    demos: Transitions,
    spaces: Spaces | None,
    cfg: AIRLConfig = AIRLConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> AdversarialResult:
    """Recover a reward from `demos` by AIRL while training a learner on it in `env`.

    spaces: the env's, or None to take them from `env` (required: the learner acts in
    it). Callbacks, checkpoint and checkpoint_every as in `train_adversarial`.
    """
    gamma = cfg.gamma if cfg.gamma is not None else learner_gamma(cfg)
    normalize = normalizes(cfg.normalize_obs, env)  # the reward nets' observations
    return train_adversarial(
        demos,
        spaces,
        cfg,
        callbacks,
        env=env,
        make_disc=lambda s: AIRLDiscriminator(s, cfg, gamma, normalize),
        loss=airl_loss,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )

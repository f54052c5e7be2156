"""Guided cost learning (Finn, Levine & Abbeel 2016, "Guided Cost Learning: Deep Inverse
Optimal Control via Policy Optimization"), sample-based, per transition.

The reward r_θ = -c_θ is fitted by the importance-sampled maximum-entropy IOC objective

    L(θ) = -E_demo[r_θ(s, a)] + log E_{(s, a) ~ q}[exp(r_θ(s, a)) / q(a|s)]

where the background samples are the learner's transitions and (as in the paper) the
demonstrations, each weighted by its density q under the sampler. The paper's q averages
the learner's density with the demonstrations'; protege mixes the learner's π(a|s) with the
uniform density u over the actions, q = (1 - ε)·π + ε·u (defensive importance sampling,
Hesterberg 1995), which bounds every weight by 1/(ε·u): an expert action the learner
almost never takes (a SAC learner gave the scripted Pendulum expert's saturated torques
log π down to -650) otherwise holds the whole partition estimate. The learner is then
improved on r_θ (maximum-entropy: it is paid r - log π; with SAC, r). An L2 term on the
rewards pins down their level, which the objective leaves free.

    result = train_gcl(demos, None, GCLConfig(steps=100_000), env="CartPole-v1")
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from protege.algorithms.adversarial.config import AdversarialConfig
from protege.algorithms.adversarial.discriminator import Discriminator, DiscriminatorBatch
from protege.algorithms.adversarial.loop import AdversarialResult, train_adversarial
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces
from protege.nets import cat_tensor_obs, normalizes
from protege.rewards import MLPRewardNet


@dataclass(frozen=True)
class GCLConfig(AdversarialConfig):
    """Guided cost learning settings (see `AdversarialConfig` for the shared ones).

    state_only: r(s) rather than r(s, a).
    demos_in_samples: add the demonstrations to the background samples (the paper's choice;
        it keeps the importance weights from blowing up early on).
    reward_l2: weight of mean r² over both batches (pins the reward's free constant).
    uniform_mix: ε, the uniform density's share in the sampler density q of the
        importance weights (0: the learner's π alone).
    """

    state_only: bool = False
    demos_in_samples: bool = True
    reward_l2: float = 0.01
    uniform_mix: float = 0.5


class GCLDiscriminator(Discriminator):
    """r_θ(s, a) by an MLP; as a classifier (Finn, Christiano et al. 2016) its logit is
    r - log π, which is also what a PPO learner is paid. `normalize`: the MLP standardises
    observations (`MLPRewardNet`)."""

    needs_log_pi = True

    def __init__(self, spaces: Spaces, cfg: GCLConfig, normalize: bool = False) -> None:
        super().__init__()
        self.reward = MLPRewardNet(
            spaces,
            use_action=not cfg.state_only,
            use_done=cfg.absorbing,
            hidden=cfg.disc_hidden,
            normalize=normalize,
        )
        self.log_uniform = log_uniform_density(spaces.action, cfg.learner)

    def logits(self, b: DiscriminatorBatch) -> torch.Tensor:
        return self.reward(b.obs, b.acts, b.next_obs, b.dones) - b.log_pi

    def policy_reward(self, b: DiscriminatorBatch) -> torch.Tensor:
        return self.logits(b)  # the loop zeroes log_pi for SAC, leaving r


def log_uniform_density(action_space: gym.Space, learner: str) -> float:
    """log u, the uniform density over the actions in the units the learner's log π is in
    (`protege.rl.learner_log_prob`): SAC's actions rescaled to [-1, 1]^d, PPO's in the env's
    units, 1/n for n Discrete actions."""
    if isinstance(action_space, gym.spaces.Discrete):
        return -math.log(int(action_space.n))
    assert isinstance(action_space, gym.spaces.Box)
    if learner == "sac":
        return -int(np.prod(action_space.shape)) * math.log(2.0)
    return -float(np.sum(np.log(action_space.high - action_space.low)))


def log_sampler_density(log_pi: torch.Tensor, log_u: float, uniform_mix: float) -> torch.Tensor:
    """log q for q = (1 - ε)·π + ε·u: the learner's log π (B,), the uniform log density, ε."""
    if uniform_mix == 0.0:
        return log_pi
    mixed_u = torch.full_like(log_pi, log_u + math.log(uniform_mix))
    if uniform_mix == 1.0:
        return mixed_u
    return torch.logaddexp(log_pi + math.log1p(-uniform_mix), mixed_u)


def gcl_loss(
    disc: Discriminator,
    expert: DiscriminatorBatch,
    learner: DiscriminatorBatch,
    demos_in_samples: bool = True,
    reward_l2: float = 0.01,
    uniform_mix: float = 0.0,
) -> torch.Tensor:
    """-E_demo[r] + log mean_j exp(r_j - log q_j) over the background samples, + L2, with
    q = (1 - ε)·π + ε·u for ε = `uniform_mix` (`disc.log_uniform`, log u)."""
    background = learner
    if demos_in_samples:
        background = DiscriminatorBatch(
            cat_tensor_obs(learner.obs, expert.obs),
            torch.cat([learner.acts, expert.acts]),
            cat_tensor_obs(learner.next_obs, expert.next_obs),
            torch.cat([learner.dones, expert.dones]),
            torch.cat([learner.log_pi, expert.log_pi]),
        )
    r_demo = disc.reward(expert.obs, expert.acts, expert.next_obs, expert.dones)
    r_samp = disc.reward(background.obs, background.acts, background.next_obs, background.dones)
    log_u = disc.log_uniform if isinstance(disc, GCLDiscriminator) else 0.0
    log_weights = r_samp - log_sampler_density(background.log_pi, log_u, uniform_mix)
    log_partition = torch.logsumexp(log_weights, dim=0) - math.log(len(log_weights))
    return -r_demo.mean() + log_partition + reward_l2 * torch.cat([r_demo, r_samp]).pow(2).mean()


def train_gcl(
    demos: Transitions,
    spaces: Spaces | None,
    cfg: GCLConfig = GCLConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> AdversarialResult:
    """Fit a reward to `demos` by guided cost learning while training a learner on it in
    `env`.

    spaces: the env's, or None to take them from `env` (required: the learner acts in
    it). Callbacks, checkpoint and checkpoint_every as in `train_adversarial`.
    """
    normalize = normalizes(cfg.normalize_obs, env)  # the reward nets' observations
    loss = functools.partial(
        gcl_loss,
        demos_in_samples=cfg.demos_in_samples,
        reward_l2=cfg.reward_l2,
        uniform_mix=cfg.uniform_mix,
    )
    return train_adversarial(
        demos,
        spaces,
        cfg,
        callbacks,
        env=env,
        make_disc=lambda s: GCLDiscriminator(s, cfg, normalize),
        loss=loss,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )

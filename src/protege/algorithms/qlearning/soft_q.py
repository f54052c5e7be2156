"""Soft Q-learning pieces IQ-Learn and SQIL share: Q-networks, soft values, the policy.

Discrete actions: the Q-network *is* an `ActorPolicy` whose trunk outputs Q(s, ·); the
soft value is V(s) = α·logsumexp(Q(s, ·)/α) and the policy softmax(Q/α), saved as an
`ActorPolicy` whose logits are Q/α (`categorical_policy`). Box actions: twin Q-networks
over (observation features, action scaled to [-1, 1]) and a tanh-squashed Gaussian actor
(an `ActorPolicy`), with V(s) = E_{a~π}[Q(s, a) − α·log π(a|s)] as in SAC
(Haarnoja et al. 2018). While training, the actor's log-std is floored at SAC_LOG_STD_MIN
(−20, as SB3's SAC), not at BC's −2.5; the saved policy acts by its mean, which the floor
does not change.
"""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import torch
from torch import nn

from protege.envs import Spaces
from protege.nets import TensorObs, encoder_dim, make_encoder, mlp
from protege.policies import LOG_EPS, LOG_STD_MAX, UNIT_CLAMP, ActorPolicy, PolicyArch


# -- discrete ------------------------------------------------------------------------------
def make_q_policy(spaces: Spaces, hidden: tuple[int, ...], normalize: bool = False) -> ActorPolicy:
    """A Q-network for Discrete actions, built as an ActorPolicy whose trunk outputs Q(s, ·).

    normalize: its encoder standardises Box observations (`PolicyArch.normalize_obs`), so the
        policy saved from it (`categorical_policy`) carries the statistics too.
    """
    return ActorPolicy(spaces, PolicyArch(hidden=hidden, normalize_obs=normalize))


def q_values(q_net: ActorPolicy, obs: TensorObs) -> torch.Tensor:
    """Q(s, ·): (B, n_actions)."""
    return q_net.trunk(q_net.encoder(obs))


def discrete_soft_value(q: torch.Tensor, alpha: float) -> torch.Tensor:
    """V(s) = α·logsumexp(Q(s, ·)/α): (B,)."""
    return alpha * torch.logsumexp(q / alpha, dim=-1)


def categorical_policy(q_net: ActorPolicy, alpha: float) -> ActorPolicy:
    """A copy of the Q-network whose outputs are Q/α: the policy softmax(Q/α) as ActorPolicy."""
    policy = copy.deepcopy(q_net).cpu()
    last = policy.trunk[-1]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight.div_(alpha)
        last.bias.div_(alpha)
    return policy.eval()


def sample_discrete(q: torch.Tensor, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """Actions drawn from softmax(Q/α): (B,)."""
    probs = torch.softmax(q / alpha, dim=-1).cpu()
    return torch.multinomial(probs, 1, generator=gen).view(-1)


# -- continuous ----------------------------------------------------------------------------
SAC_LOG_STD_MIN = -20.0
"""The actor may narrow far below BC's floor (policies.LOG_STD_MIN): with a small α the
soft-optimal policy of a sharp Q is nearly deterministic, and a floor on its spread leaves
a gap between V(s) and max_a Q(s, a) that the IQ critic widens without bound."""


class TwinQ(nn.Module):
    """Two Q-networks over (encoded observation, action in [-1, 1]); SAC's clipped double Q.
    `normalize`: the shared encoder standardises Box observations (`nets.ObsNormalizer`)."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, spaces: Spaces, hidden: tuple[int, ...], normalize: bool = False) -> None:
        super().__init__()
        act = spaces.action
        assert isinstance(act, gym.spaces.Box)
        self.act_dim = int(torch.tensor(act.shape).prod())
        self.encoder = make_encoder(spaces.observation, normalize=normalize)
        in_dim = encoder_dim(self.encoder) + self.act_dim
        self.q1, self.q2 = mlp(in_dim, hidden, 1), mlp(in_dim, hidden, 1)
        self.register_buffer("low", torch.as_tensor(act.low, dtype=torch.float32).flatten())
        self.register_buffer("high", torch.as_tensor(act.high, dtype=torch.float32).flatten())

    def forward(self, obs: TensorObs, acts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q1(s, a), Q2(s, a)), each (B,); `acts` in env units."""
        unit = 2.0 * (acts.reshape(acts.shape[0], -1) - self.low) / (self.high - self.low) - 1.0
        x = torch.cat([self.encoder(obs), unit], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def min_q(self, obs: TensorObs, acts: torch.Tensor) -> torch.Tensor:
        """min(Q1, Q2)(s, a): (B,)."""
        q1, q2 = self(obs, acts)
        return torch.minimum(q1, q2)


def make_actor(spaces: Spaces, hidden: tuple[int, ...], normalize: bool = False) -> ActorPolicy:
    """The tanh-squashed Gaussian actor for Box actions; `normalize` as for `make_q_policy`."""
    return ActorPolicy(spaces, PolicyArch(hidden=hidden, head="gaussian", normalize_obs=normalize))


def squashed_gaussian(
    actor: ActorPolicy, obs: TensorObs, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Actions a = tanh(μ + σ·noise) in env units (B, act_dim) and log π(a|s) (B,).

    noise: standard normal (B, act_dim). The log-likelihood matches
    `ActorPolicy.dist(obs, a).log_prob` (tanh change of variables; the constant Jacobian of
    the affine map to the bounds is left out), with the spread floored at SAC_LOG_STD_MIN.
    """
    mu, log_std = actor.trunk(actor.encoder(obs)).chunk(2, dim=-1)
    std = log_std.clamp(SAC_LOG_STD_MIN, LOG_STD_MAX).exp()
    pre = mu + std * noise
    u = torch.tanh(pre).clamp(-1 + UNIT_CLAMP, 1 - UNIT_CLAMP)
    log_normal = -0.5 * noise.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)
    logp = log_normal - torch.log(1 - u.pow(2) + LOG_EPS)
    return actor.from_unit(u), logp.sum(-1)


def sample_continuous(
    actor: ActorPolicy, obs: TensorObs, gen: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised actions a ~ π(·|s) in env units (B, act_dim) and log π(a|s) (B,)."""
    n = len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)
    noise = torch.randn((n, actor.act_dim), generator=gen).to(actor.device)
    return squashed_gaussian(actor, obs, noise)


def continuous_soft_value(
    actor: ActorPolicy, critic: TwinQ, obs: TensorObs, alpha: float, gen: torch.Generator
) -> torch.Tensor:
    """V(s) = min Q(s, a) − α·log π(a|s), one sample a ~ π(·|s): (B,)."""
    acts, logp = sample_continuous(actor, obs, gen)
    return critic.min_q(obs, acts) - alpha * logp


def actor_loss(
    actor: ActorPolicy, critic: TwinQ, obs: TensorObs, alpha: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """SAC's actor objective E_s[α·log π(a|s) − Q(s, a)], and the mean entropy estimate."""
    acts, logp = sample_continuous(actor, obs, gen)
    return (alpha * logp - critic.min_q(obs, acts)).mean(), -logp.mean().detach()


# -- shared --------------------------------------------------------------------------------
@torch.no_grad()
def polyak(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target ← (1 − τ)·target + τ·source, parameter by parameter."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.lerp_(s, tau)

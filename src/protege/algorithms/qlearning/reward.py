"""The reward a soft Q-function implies: r(s, a, s') = Q(s, a) − γ·(1 − done)·V(s').

IQ-Learn recovers its reward this way (the inverse soft Bellman operator, Garg et al.
2021); for SQIL it is the reward its soft Q-function is optimal for. At a terminal
transition the reward is Q(s, a) itself: it already holds the discounted value of what
follows termination (0, or IQ-Learn's absorbing-state value), so an RL learner that stops
at termination, as SB3's do, sees the returns the Q-function was trained on.

For Box actions V(s') = E_{a~π}[Q(s', a) − α·log π(a|s')] is estimated with
`value_samples` actions from the actor drawn with fixed noise (a buffer), so the reward of
a transition is the same every time it is asked for and the net exports with
`torch.export` (`protege.rewards.save_reward`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from protege.algorithms.qlearning.learner import SoftQLearner
from protege.algorithms.qlearning.soft_q import (
    TwinQ,
    discrete_soft_value,
    q_values,
    squashed_gaussian,
)
from protege.envs import Spaces
from protege.nets import TensorObs
from protege.policies import ActorPolicy
from protege.rewards import RewardNet, obs_features


def _repeat_obs(obs: TensorObs, k: int) -> TensorObs:
    """Each observation batch stacked `k` times along the batch axis: (k·B, ...)."""
    if isinstance(obs, dict):
        return {key: torch.cat([v] * k) for key, v in obs.items()}
    return torch.cat([obs] * k)


class SoftQReward(RewardNet):
    """r(s, a, s', done) = Q(s, a) − γ·(1 − done)·V(s') from a trained soft-Q learner.

    Inputs are raw env batches, as for every `RewardNet` (see `protege.rewards`).
    critic: the Discrete Q-network (an ActorPolicy whose trunk outputs Q) or the TwinQ.
    actor: the tanh-Gaussian actor for Box actions, None for Discrete.
    alpha, gamma: the temperature and discount the critic was trained with.
    value_samples: actor samples per next state for V(s') (Box actions).
    """

    noise: torch.Tensor

    def __init__(
        self,
        spaces: Spaces,
        critic: nn.Module,
        actor: ActorPolicy | None,
        alpha: float,
        gamma: float,
        value_samples: int = 16,
    ) -> None:
        super().__init__(spaces)
        self.critic, self.actor = critic, actor
        self.alpha, self.gamma, self.value_samples = alpha, gamma, value_samples
        act_dim = 0 if actor is None else actor.act_dim
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("noise", torch.randn((value_samples, act_dim), generator=gen))

    @classmethod
    def from_learner(cls, learner: SoftQLearner, gamma: float) -> SoftQReward:
        """A frozen CPU copy of the learner's critic (and actor)."""
        actor = None if learner.actor is None else copy.deepcopy(learner.actor).cpu()
        critic = copy.deepcopy(learner.critic).cpu()
        net = cls(learner.spaces, critic, actor, learner.alpha, gamma)
        for p in net.parameters():
            p.requires_grad_(False)
        return net.eval()

    @property
    def device(self) -> torch.device:
        return self.noise.device

    def q(self, obs: TensorObs, acts: torch.Tensor) -> torch.Tensor:
        """Q(s, a) on preprocessed observations: (B,); the smaller twin for Box actions."""
        if self.actor is None:
            assert isinstance(self.critic, ActorPolicy)
            return q_values(self.critic, obs).gather(1, acts.long().view(-1, 1)).squeeze(1)
        assert isinstance(self.critic, TwinQ)
        return self.critic.min_q(obs, acts.float())

    def value(self, obs: TensorObs) -> torch.Tensor:
        """V(s) on preprocessed observations: (B,); Box: mean over the fixed noise samples."""
        if self.actor is None:
            assert isinstance(self.critic, ActorPolicy)
            return discrete_soft_value(q_values(self.critic, obs), self.alpha)
        assert isinstance(self.critic, TwinQ)
        k = self.value_samples
        noise = self.noise.repeat_interleave(self._batch(obs), dim=0)  # (k·B, act_dim)
        many = _repeat_obs(obs, k)
        acts, logp = squashed_gaussian(self.actor, many, noise)
        values = self.critic.min_q(many, acts) - self.alpha * logp
        return values.view(k, -1).mean(0)

    @staticmethod
    def _batch(obs: TensorObs) -> int:
        if isinstance(obs, dict):
            return next(iter(obs.values())).shape[0]
        return obs.shape[0]

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        """The recovered reward of a batch of raw env transitions: (B,)."""
        space = self.spaces.observation
        s, s_next = obs_features(obs, space), obs_features(next_obs, space)
        not_done = 1.0 - dones.reshape(-1).float()
        return self.q(s, acts) - self.gamma * not_done * self.value(s_next)

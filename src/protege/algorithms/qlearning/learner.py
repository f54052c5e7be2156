"""The soft-Q learner both IQ-Learn and SQIL train: networks, optimisers, acting, actor step,
and the encoding its networks read (`preprocessed`: expert and replayed steps alike).

Discrete actions: one Q-network (an `ActorPolicy` whose trunk outputs Q) and a target copy.
Box actions: twin Q-networks, their target copy and a tanh-Gaussian actor updated by SAC's
actor objective. The algorithms differ only in the critic's loss, written in their modules.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from protege.algorithms.qlearning.soft_q import (
    TwinQ,
    actor_loss,
    categorical_policy,
    continuous_soft_value,
    discrete_soft_value,
    make_actor,
    make_q_policy,
    polyak,
    q_values,
    sample_continuous,
    sample_discrete,
)
from protege.algorithms.replay import TensorTransitions
from protege.data.types import Obs, Transitions
from protege.envs import Spaces
from protege.errors import ConfigError
from protege.nets import TensorObs, fit_normalizers, obs_to_tensor
from protege.policies import ActorPolicy


@dataclass
class SoftQLearner:
    """Networks and optimisers of a soft-Q agent with fixed temperature `alpha`."""

    spaces: Spaces
    alpha: float
    critic: torch.nn.Module  # ActorPolicy (discrete: trunk outputs Q) or TwinQ (Box)
    critic_target: torch.nn.Module
    critic_opt: torch.optim.Optimizer
    actor: ActorPolicy | None  # Box actions only
    actor_opt: torch.optim.Optimizer | None
    gen: torch.Generator
    device: torch.device

    @property
    def discrete(self) -> bool:
        return self.actor is None

    def q_all(self, batch: TensorTransitions) -> list[torch.Tensor]:
        """Q(s, a) of the batch's actions, once per Q-network (two for Box): each (B,)."""
        if self.discrete:
            q = q_values(self.critic, batch.obs)  # type: ignore[arg-type]
            return [q.gather(1, batch.acts.view(-1, 1)).squeeze(1)]
        return list(self.critic(batch.obs, batch.acts))

    def value(self, obs: TensorObs, target: bool = False) -> torch.Tensor:
        """The soft value V(s) under the online (or target) critic: (B,)."""
        critic = self.critic_target if target else self.critic
        if self.discrete:
            return discrete_soft_value(q_values(critic, obs), self.alpha)  # type: ignore[arg-type]
        assert self.actor is not None
        return continuous_soft_value(self.actor, critic, obs, self.alpha, self.gen)  # type: ignore[arg-type]

    def value_all(self, obs: TensorObs) -> list[torch.Tensor]:
        """V(s) under the online critic, once per Q-network (the same actions for both twins).

        Each twin k gets its own V_k(s) = Q_k(s, a) − α·log π(a|s), a ~ π(·|s), so that every
        twin is trained on a consistent objective (for Discrete actions: [V(s)]).
        """
        if self.discrete:
            return [self.value(obs)]
        assert self.actor is not None
        acts, logp = sample_continuous(self.actor, obs, self.gen)
        return [q - self.alpha * logp for q in self.critic(obs, acts)]

    def critic_step(self, loss: torch.Tensor) -> None:
        """One gradient step of the critic."""
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()

    def actor_step(self, obs: TensorObs) -> dict[str, float]:
        """One SAC actor step on `obs` (Box actions; a no-op for discrete)."""
        if self.actor is None or self.actor_opt is None:
            return {}
        for p in self.critic.parameters():
            p.requires_grad_(False)
        loss, entropy = actor_loss(self.actor, self.critic, obs, self.alpha, self.gen)  # type: ignore[arg-type]
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_opt.step()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        return {"actor_loss": float(loss.detach()), "entropy": float(entropy)}

    def update_target(self, tau: float) -> None:
        polyak(self.critic_target, self.critic, tau)

    @torch.no_grad()
    def explore(self, obs: Obs) -> np.ndarray:
        """Actions sampled from the current soft policy for a NumPy batch (exploration)."""
        t = obs_to_tensor(obs, self.spaces.observation, self.device)
        if self.actor is None:
            q = q_values(self.critic, t)  # type: ignore[arg-type]
            return sample_discrete(q, self.alpha, self.gen).numpy().astype(np.int64)
        acts, _ = sample_continuous(self.actor, t, self.gen)
        space = self.spaces.action
        return acts.cpu().numpy().reshape(len(acts), *space.shape).astype(space.dtype)  # type: ignore[misc]

    def state_dict(self) -> dict[str, Any]:
        """What training changes: the networks, the target, the optimisers, the generator."""
        state = {
            "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
            "critic_opt": self.critic_opt.state_dict(), "gen": self.gen.get_state(),
        }  # fmt: skip
        if self.actor is not None and self.actor_opt is not None:
            state["actor"] = self.actor.state_dict()
            state["actor_opt"] = self.actor_opt.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output: training then goes on as if never stopped."""
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.gen.set_state(state["gen"])
        if self.actor is not None and self.actor_opt is not None:
            self.actor.load_state_dict(state["actor"])
            self.actor_opt.load_state_dict(state["actor_opt"])

    def policy(self) -> ActorPolicy:
        """The learned policy as a standalone ActorPolicy on the CPU (logits Q/α, or the actor)."""
        if self.actor is None:
            return categorical_policy(self.critic, self.alpha)  # type: ignore[arg-type]
        return copy.deepcopy(self.actor).cpu().eval()


class TerminalRate:
    """The fraction of the learner's transitions that terminate: a running mean over the
    batches it replays (what the absorbing state's value needs: IQ-Learn, SQIL)."""

    def __init__(self, rate: float = 0.01) -> None:
        self.rate, self.value = rate, 0.0

    def update(self, batch: TensorTransitions) -> float:
        self.value += self.rate * (float(batch.terminal.mean()) - self.value)
        return self.value


class AbsorbingUpdate:
    """The part of an update step (IQ-Learn's, SQIL's) that the absorbing state's value
    needs: the fraction of expert transitions that terminate, and the learner's own rate,
    a running mean checkpointed with `state_dict` (the loop's `Stateful`)."""

    def __init__(self, learner: SoftQLearner, f_expert: float) -> None:
        self.learner, self.f_expert = learner, f_expert
        self.learner_rate = TerminalRate()

    def state_dict(self) -> dict[str, Any]:
        return {"learner_rate": self.learner_rate.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # a checkpoint from a version that kept no rate: start it afresh
        self.learner_rate.value = float(state.get("learner_rate", 0.0))


def make_learner(
    spaces: Spaces,
    hidden: tuple[int, ...],
    alpha: float,
    lr: float,
    actor_lr: float,
    seed: int,
    device: torch.device,
    normalize_by: TensorObs | None = None,
) -> SoftQLearner:
    """Fresh, seeded networks for `spaces` (Discrete or bounded Box actions).

    normalize_by: the demonstrations' preprocessed observations (`preprocessed_demos`), on
        `device`; when given, every network (the critic, its target, the actor) standardises
        Box observations by their mean and standard deviation, kept in its weights.
    """
    if alpha <= 0:
        raise ConfigError(f"alpha (the entropy temperature) must be positive, not {alpha}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    actor: ActorPolicy | None = None
    actor_opt = None
    critic: torch.nn.Module
    normalize = normalize_by is not None
    if isinstance(spaces.action, gym.spaces.Discrete):
        critic = make_q_policy(spaces, hidden, normalize).to(device)
    elif isinstance(spaces.action, gym.spaces.Box):
        critic = TwinQ(spaces, hidden, normalize).to(device)
        actor = make_actor(spaces, hidden, normalize).to(device)
        actor_opt = torch.optim.Adam(actor.parameters(), lr=actor_lr)
    else:
        raise ConfigError(f"action space {spaces.action} is not supported (Discrete or Box)")
    if normalize_by is not None:  # before the target copy, which so gets them too
        fit_normalizers(critic.encoder, normalize_by)
        if actor is not None:
            fit_normalizers(actor.encoder, normalize_by)
    target = copy.deepcopy(critic)
    for p in target.parameters():
        p.requires_grad_(False)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=lr)
    return SoftQLearner(spaces, alpha, critic, target, critic_opt, actor, actor_opt, gen, device)


def _acts_tensor(acts: np.ndarray, spaces: Spaces, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(acts), device=device)
    if spaces.action.shape == () or t.dtype in (torch.int32, torch.int64):
        return t.long().view(-1)
    return t.float().view(len(t), -1)


def preprocessed(
    obs: Obs,
    acts: np.ndarray,
    next_obs: Obs,
    terminal: np.ndarray,
    spaces: Spaces,
    device: torch.device,
) -> TensorTransitions:
    """NumPy steps (B, ...) as the soft-Q networks read them, on `device`: observations
    preprocessed (`obs_to_tensor`), actions (B,) long (Discrete) or (B, act_dim) float."""
    return TensorTransitions(
        obs_to_tensor(obs, spaces.observation, device),
        _acts_tensor(acts, spaces, device),
        obs_to_tensor(next_obs, spaces.observation, device),
        torch.as_tensor(np.asarray(terminal), dtype=torch.float32, device=device),
    )


def preprocessed_demos(
    demos: Transitions, spaces: Spaces, device: torch.device
) -> TensorTransitions:
    """The demonstrations as one `preprocessed` batch (truncated steps are not terminal)."""
    return preprocessed(demos.obs, demos.acts, demos.next_obs, demos.terminated, spaces, device)

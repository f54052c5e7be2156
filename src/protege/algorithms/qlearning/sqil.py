"""SQIL: imitation by soft Q-learning with reward 1 on expert steps and 0 on the learner's
(Reddy, Dragan & Levine 2020, ICLR).

Every update draws as many expert as own transitions and minimises the squared soft
Bellman error against a target critic,

    δ = Q(s, a) − (r + γ·((1 − terminal)·V_target(s') + terminal·V_A)),
    r = 1 (expert), 0 (learner),

V_A the value of the absorbing state after a terminal step (`SQILConfig.absorbing`).

DQN-style for Discrete actions (policy softmax(Q/α)) and SAC-style for Box actions (twin
critics, actor trained by SAC's actor objective). SQIL needs the learner's own
transitions, so it always runs online.

    result = train_sqil(flatten_trajectories(demos), env_spaces("CartPole-v1"),
                        SQILConfig(), env="CartPole-v1")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from protege.algorithms.best import BestSoFar
from protege.algorithms.qlearning.learner import (
    AbsorbingUpdate,
    SoftQLearner,
    make_learner,
    preprocessed_demos,
)
from protege.algorithms.qlearning.loop import Evaluate, Update, run_online
from protege.algorithms.qlearning.reward import SoftQReward
from protege.algorithms.replay import TensorTransitions, concat
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.config import check_fields
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError
from protege.nets import normalizes, resolve_device
from protege.policies import ActorPolicy


@dataclass(frozen=True)
class SQILConfig:
    """SQIL settings. Defaults are tuned on CartPole-v1 and Pendulum-v1.

    steps: environment steps.
    alpha: entropy temperature α (fixed); policy softmax(Q/α) for Discrete actions.
    gamma: discount.
    lr, actor_lr: Adam learning rates of the critic and (Box only) the actor.
    batch_size: expert transitions per update, and as many of the learner's.
    hidden: MLP hidden sizes of the Q-networks and the actor.
    normalize_obs: the Q-networks and the policy standardise Box observations by the
        demonstrations' mean and standard deviation, kept in their weights (so policy.pt
        and reward.pt2 carry them): "on", "off", or "auto" (on when env= is a MuJoCo id,
        whose positions, velocities and forces differ in scale by orders of magnitude).
    absorbing: the value V_A of the absorbing state after a terminal step. "zero" (the
        paper's: nothing after the end), or "mixture": the reward an absorbing step would
        get in SQIL's balanced batches, r_A = f_E / (f_E + f_π), f the rates at which
        expert and learner transitions terminate, V_A = r_A / (1 − γ) (as IQ-Learn's
        mixture; Kostrikov et al. 2019 learn it for DAC). With "zero", where the expert's
        episodes end on success (MountainCar, Acrobot), its last step is worth 1 and every
        other expert step about 1/(1 − γ), so the learner learns to avoid the goal; with
        "mixture" the goal is worth staying expert forever. Where only the learner
        terminates (CartPole) or nothing does (Pendulum), both are 0. "auto": mixture.
    target_tau: Polyak rate of the target critic.
    learning_starts, update_every, buffer_size: steps before the first update, env steps
        between update bursts (as many updates as steps), replay size.
    log_every: steps between progress rows; eval_every: evaluate every this many rows.
    seed: network init, minibatches, exploration and the env's reset.
    device: "cpu" (fastest for these small networks and per-step acting), "cuda" or "auto".
    """

    steps: int = 10_000
    alpha: float = 0.01
    gamma: float = 0.99
    lr: float = 3e-4
    actor_lr: float = 3e-4
    batch_size: int = 64
    hidden: tuple[int, ...] = (64, 64)
    normalize_obs: Literal["auto", "on", "off"] = "auto"
    absorbing: Literal["zero", "mixture", "auto"] = "auto"
    target_tau: float = 0.01
    learning_starts: int = 500
    update_every: int = 1
    buffer_size: int = 100_000
    log_every: int = 500
    eval_every: int = 1
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if not 0 < self.target_tau <= 1 or not 0 <= self.gamma < 1:
            raise ConfigError("target_tau must be in (0, 1] and gamma in [0, 1)")
        if self.absorbing not in ("zero", "mixture", "auto"):
            raise ConfigError(f"absorbing must be zero, mixture or auto, not {self.absorbing}")


@dataclass
class SQILResult:
    """The learned policy, the reward its soft Q-function implies, and how training went."""

    policy: ActorPolicy
    reward: SoftQReward
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    env_steps: int = 0
    best: BestSoFar = field(default_factory=BestSoFar)
    """The best progress evaluation and the policy's weights then (`policy_best.pt`)."""


def sqil_loss(
    q: torch.Tensor,
    next_v: torch.Tensor,
    terminal: torch.Tensor,
    is_expert: torch.Tensor,
    gamma: float,
    v_absorbing: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Squared soft Bellman error with reward 1 on expert and 0 on learner steps; inputs (B,).

    v_absorbing: V of the state after a terminal step (0 in the paper).
    """
    reward = is_expert.float()
    target = reward + gamma * ((1.0 - terminal) * next_v + terminal * v_absorbing)
    loss = (q - target).pow(2).mean()
    return loss, {"loss": float(loss.detach()), "q_expert": float(q[is_expert].mean().detach())}


def absorbing_reward(f_expert: float, f_learner: float) -> float:
    """r_A = f_E / (f_E + f_π): the expected SQIL reward of an absorbing step in a batch of
    as many expert as learner steps; 0 when neither terminates."""
    total = f_expert + f_learner
    return f_expert / total if total > 0 else 0.0


class _SQILUpdate(AbsorbingUpdate):
    """The update step: a critic step on the SQIL loss, an actor step (Box), target update.

    f_expert: the fraction of expert transitions that terminate (for cfg.absorbing).
    """

    def __init__(self, learner: SoftQLearner, cfg: SQILConfig, f_expert: float) -> None:
        super().__init__(learner, f_expert)
        self.cfg = cfg

    def __call__(
        self, expert: TensorTransitions, own: TensorTransitions | None
    ) -> dict[str, float]:
        assert own is not None, "SQIL trains on expert and own transitions"
        learner, cfg = self.learner, self.cfg
        v_absorbing = 0.0
        if cfg.absorbing != "zero":
            r_absorbing = absorbing_reward(self.f_expert, self.learner_rate.update(own))
            v_absorbing = r_absorbing / (1.0 - cfg.gamma)
        batch = concat(expert, own)
        is_expert = torch.zeros(len(batch), dtype=torch.bool, device=batch.terminal.device)
        is_expert[: len(expert)] = True
        with torch.no_grad():
            next_v = learner.value(batch.next_obs, target=True)
        losses: list[torch.Tensor] = []
        stats: dict[str, float] = {}
        for q in learner.q_all(batch):
            loss, stats = sqil_loss(q, next_v, batch.terminal, is_expert, cfg.gamma, v_absorbing)
            losses.append(loss)
        learner.critic_step(torch.stack(losses).sum())
        stats["v_absorbing"] = v_absorbing
        stats.update(learner.actor_step(batch.obs))
        learner.update_target(cfg.target_tau)
        return stats


def sqil_update(learner: SoftQLearner, cfg: SQILConfig, f_expert: float = 0.0) -> Update:
    """The update step: a critic step on the SQIL loss, an actor step (Box), target update.

    f_expert: the fraction of expert transitions that terminate (for cfg.absorbing).
    """
    return _SQILUpdate(learner, cfg, f_expert)


def train_sqil(
    demos: Transitions,
    spaces: Spaces,
    cfg: SQILConfig = SQILConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    evaluate: Evaluate | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> SQILResult:
    """Soft Q-learning on expert (reward 1) and own (reward 0) transitions in `env`.

    spaces: the env's (those of `demos` and of the policy).
    env: a Gymnasium id or a zero-argument builder; required (SQIL is online only), a
        keyword to match every trainer's signature.
    evaluate: called with the current policy at progress rows (every `eval_every`); what
        it returns joins the row (e.g. return_mean), its time is not training time.
    checkpoint: a file for the whole training state (networks, optimisers, replay buffer,
        generators, history), saved every `checkpoint_every` progress rows; when it exists,
        training resumes from it with a fresh episode (see `loop`).
    """
    if len(demos) == 0:
        raise ConfigError("SQIL needs at least one demonstration step")
    if env is None:
        raise ConfigError(
            "SQIL learns from its own transitions too: it needs an environment; pass env="
        )
    device = resolve_device(cfg.device)
    expert = preprocessed_demos(demos, spaces, device)
    stats = expert.obs if normalizes(cfg.normalize_obs, env) else None  # normalize_obs
    learner = make_learner(
        spaces, cfg.hidden, cfg.alpha, cfg.lr, cfg.actor_lr, cfg.seed, device, stats
    )
    update = sqil_update(learner, cfg, float(expert.terminal.float().mean()))
    loop = run_online(
        learner, expert, update, cfg, env, callbacks, evaluate, checkpoint, checkpoint_every
    )
    reward = SoftQReward.from_learner(learner, cfg.gamma)
    return SQILResult(
        learner.policy(), reward, loop.history, loop.train_seconds, loop.env_steps, loop.best
    )

"""IQ-Learn: inverse soft-Q learning for imitation (Garg et al. 2021, NeurIPS).

One soft Q-function is learned from which both the policy (softmax(Q/α), or an actor for
Box actions) and the reward follow, by the inverse soft Bellman operator
r(s, a) = Q(s, a) − γ·V(s'). The χ²-regularised objective over expert (ρ_E) and, online,
learner (ρ) transitions is

    L(Q) = −E_ρE[Q(s,a) − γV(s')]                       (expert reward up)
           + E_μ[V(s) − γV(s')]                          (value term, μ = ρ_E or ρ_E ∪ ρ)
           + 1/(4c)·E_ν[(Q(s,a) − γV(s'))²]              (χ² regulariser, ν = ρ_E or ρ_E ∪ ρ)

with V(s') past a terminal state the value of an absorbing state (0 in the paper; see
`IQLearnConfig.absorbing`). "value_expert" takes μ = ρ_E (works fully offline, from the
demonstrations alone); "value_policy" takes μ = ρ_E ∪ ρ (online). For Box actions each of
the twin critics is trained by this loss with its own V_k(s) = Q_k(s, ã) − α·log π(ã|s)
(one shared ã ~ π), and the actor by SAC's actor objective (Haarnoja et al. 2018).

    result = train_iq_learn(flatten_trajectories(demos), env_spaces("CartPole-v1"),
                            IQLearnConfig(offline=True))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import gymnasium as gym
import torch

from protege.algorithms.best import BestSoFar
from protege.algorithms.qlearning.learner import (
    AbsorbingUpdate,
    SoftQLearner,
    make_learner,
    preprocessed_demos,
)
from protege.algorithms.qlearning.loop import Evaluate, Update, run_offline, run_online
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

LOSSES = ("value_expert", "value_policy")


@dataclass(frozen=True)
class IQLearnConfig:
    """IQ-Learn settings. Defaults are tuned on CartPole-v1, Acrobot-v1 and Pendulum-v1.

    offline: learn from the demonstrations alone (no environment is built or stepped).
    steps: updates (offline) or environment steps (online).
    loss: "value_expert" | "value_policy" | "auto" (value_expert offline, else value_policy).
    chi2: weight c of the χ² regulariser 1/(4c)·E[r²]; chi2_on "expert" or "all" samples
        ("auto": expert offline, all online).
    absorbing: the value V_A given to the state after a termination. "zero" (the paper's
        V = 0), "mixture": the value of an absorbing state whose reward is the χ²-optimal
        r_A = 2c·(f_E − f_π)/(f_E + f_π), f the rates at which expert and learner
        transitions terminate, V_A = r_A/(1 − γ) (Al-Hafez et al. 2023, LS-IQ). Without it,
        online learning with value_policy on an env like CartPole, where only the learner
        terminates, learns negative rewards and so to end episodes early (survival bias).
        "auto": mixture online with value_policy and chi2_on all, else zero.
    alpha: entropy temperature α (fixed); policy softmax(Q/α) for Discrete actions.
    gamma: discount.
    lr: Adam learning rate of the critic; None (the default): 1e-3 for Discrete actions,
        3e-4 for Box. On Pendulum (20 episodes, 20k steps) 1e-3 reached the expert by ~6k
        steps and then drifted, the final policy at 0.99 / 0.62 / 0.30 / 0.99 / 0.99
        normalised on seeds 0-4; 3e-4 ended at 1.00 / 0.98 / 1.00 / 1.00 / 0.98, but it is
        slower on some demonstrations (0.67 after 4,500 steps where 1e-3 had 0.95), so pass
        lr=1e-3 for a short budget and keep the best policy (`critic_lr`).
    actor_lr: Adam learning rate of the actor (Box only).
    batch_size: expert transitions per update (online, as many of the learner's too).
    hidden: MLP hidden sizes of the Q-networks and the actor.
    normalize_obs: the Q-networks and the policy standardise Box observations by the
        demonstrations' mean and standard deviation, kept in their weights (so policy.pt
        and reward.pt2 carry them): "on", "off", or "auto" (on when env= is a MuJoCo id,
        whose positions, velocities and forces differ in scale by orders of magnitude).
    target_tau: Polyak rate of the target critic that gives V(s'); 1 for Discrete actions
        uses the online critic with gradient through V(s'), as in the paper's code.
    learning_starts, update_every, buffer_size: online only: steps before the first
        update, env steps between update bursts (as many updates as steps), replay size.
    log_every: steps between progress rows; eval_every: evaluate every this many rows.
    seed: network init, minibatches, exploration and the env's reset.
    device: "cpu" (fastest for these small networks and per-step acting), "cuda" or "auto".
    """

    offline: bool = False
    steps: int = 10_000
    loss: Literal["value_expert", "value_policy", "auto"] = "auto"
    chi2: float = 0.5
    chi2_on: Literal["expert", "all", "auto"] = "auto"
    absorbing: Literal["zero", "mixture", "auto"] = "auto"
    alpha: float = 0.01
    gamma: float = 0.99
    lr: float | None = None
    actor_lr: float = 3e-4
    batch_size: int = 64
    hidden: tuple[int, ...] = (128, 128)
    normalize_obs: Literal["auto", "on", "off"] = "auto"
    target_tau: float = 0.02
    learning_starts: int = 500
    update_every: int = 1
    buffer_size: int = 100_000
    log_every: int = 500
    eval_every: int = 1
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.loss not in (*LOSSES, "auto"):
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)} or auto, not {self.loss}")
        if self.chi2_on not in ("expert", "all", "auto"):
            raise ConfigError(f"chi2_on must be expert, all or auto, not {self.chi2_on}")
        if self.absorbing not in ("zero", "mixture", "auto"):
            raise ConfigError(f"absorbing must be zero, mixture or auto, not {self.absorbing}")
        if self.chi2 <= 0 or not 0 < self.target_tau <= 1 or not 0 <= self.gamma < 1:
            raise ConfigError("chi2 must be > 0, target_tau in (0, 1], gamma in [0, 1)")

    @property
    def value_loss(self) -> str:
        """The value term in use: value_expert offline unless set."""
        if self.loss != "auto":
            return self.loss
        return "value_expert" if self.offline else "value_policy"

    @property
    def chi2_samples(self) -> str:
        """Where the χ² regulariser applies: expert samples offline unless set."""
        if self.chi2_on != "auto":
            return self.chi2_on
        return "expert" if self.offline else "all"

    @property
    def absorbing_mode(self) -> str:
        """How terminal next states are valued: mixture where the LS-IQ view holds."""
        if self.absorbing != "auto":
            return self.absorbing
        mixture = (
            not self.offline and self.value_loss == "value_policy" and self.chi2_samples == "all"
        )
        return "mixture" if mixture else "zero"


@dataclass
class IQLearnResult:
    """The learned policy, the recovered reward r = Q − γV(s'), and how training went."""

    policy: ActorPolicy
    reward: SoftQReward
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    env_steps: int = 0
    best: BestSoFar = field(default_factory=BestSoFar)
    """The best progress evaluation and the policy's weights then (`policy_best.pt`)."""


def absorbing_value(f_expert: float, f_learner: float, chi2: float, gamma: float) -> float:
    """V_A = r_A/(1 − γ), r_A = 2c·(f_E − f_π)/(f_E + f_π): the χ²-optimal absorbing state.

    f_expert, f_learner: fractions of expert and learner transitions that end in a terminal
    state (each is followed by the absorbing state forever); 0 when neither terminates.
    """
    if f_expert + f_learner <= 0:
        return 0.0
    r_absorbing = 2.0 * chi2 * (f_expert - f_learner) / (f_expert + f_learner)
    return r_absorbing / (1.0 - gamma)


def iq_loss(
    q: torch.Tensor,
    v: torch.Tensor,
    next_v: torch.Tensor,
    terminal: torch.Tensor,
    is_expert: torch.Tensor,
    gamma: float,
    cfg: IQLearnConfig,
    v_absorbing: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The χ²-regularised inverse soft-Q loss on a batch; all inputs (B,), is_expert bool.

    v_absorbing: V of the state after a terminal transition (0 in the paper).
    """
    y = gamma * ((1.0 - terminal) * next_v + terminal * v_absorbing)
    reward = q - y  # r(s, a) = Q(s, a) − γ·V(s'), the inverse soft Bellman operator
    expert_term = -reward[is_expert].mean()
    value_mask = is_expert if cfg.value_loss == "value_expert" else torch.ones_like(is_expert)
    value_term = (v - y)[value_mask].mean()
    chi_mask = is_expert if cfg.chi2_samples == "expert" else torch.ones_like(is_expert)
    chi2_term = reward[chi_mask].pow(2).mean() / (4.0 * cfg.chi2)
    loss = expert_term + value_term + chi2_term
    stats = {
        "loss": float(loss.detach()),
        "expert_reward": float(reward[is_expert].mean().detach()),
        "value_term": float(value_term.detach()),
        "chi2_term": float(chi2_term.detach()),
    }
    if not bool(is_expert.all()):
        stats["learner_reward"] = float(reward[~is_expert].mean().detach())
    return loss, stats


class _IQUpdate(AbsorbingUpdate):
    """The update step: one critic step on the IQ loss, an actor step (Box), target update.

    f_expert: the fraction of expert transitions that terminate (for cfg.absorbing).
    """

    def __init__(self, learner: SoftQLearner, cfg: IQLearnConfig, f_expert: float) -> None:
        super().__init__(learner, f_expert)
        self.cfg = cfg

    def _v_absorbing(self, own: TensorTransitions | None) -> float:
        if self.cfg.absorbing_mode != "mixture":
            return 0.0
        f_learner = self.learner_rate.update(own) if own is not None else 0.0
        return absorbing_value(self.f_expert, f_learner, self.cfg.chi2, self.cfg.gamma)

    def __call__(
        self, expert: TensorTransitions, own: TensorTransitions | None
    ) -> dict[str, float]:
        learner, cfg = self.learner, self.cfg
        batch = expert if own is None else concat(expert, own)
        is_expert = torch.zeros(len(batch), dtype=torch.bool, device=batch.terminal.device)
        is_expert[: len(expert)] = True
        v_absorbing = self._v_absorbing(own)
        if cfg.target_tau >= 1.0 and learner.discrete:
            next_v = learner.value(batch.next_obs)
        else:
            with torch.no_grad():
                next_v = learner.value(batch.next_obs, target=True)
        losses: list[torch.Tensor] = []
        stats: dict[str, float] = {}
        # one IQ objective per Q-network (two twins for Box actions), each with its own V
        for q, v in zip(learner.q_all(batch), learner.value_all(batch.obs), strict=True):
            loss, stats = iq_loss(
                q, v, next_v, batch.terminal, is_expert, cfg.gamma, cfg, v_absorbing
            )
            losses.append(loss)
        learner.critic_step(torch.stack(losses).mean())
        stats["v_absorbing"] = v_absorbing
        stats.update(learner.actor_step(batch.obs))
        learner.update_target(cfg.target_tau)
        return stats


def iq_update(learner: SoftQLearner, cfg: IQLearnConfig, f_expert: float = 0.0) -> Update:
    """The update step: one critic step on the IQ loss, an actor step (Box), target update.

    f_expert: the fraction of expert transitions that terminate (for cfg.absorbing).
    """
    return _IQUpdate(learner, cfg, f_expert)


def critic_lr(cfg: IQLearnConfig, spaces: Spaces) -> float:
    """The critic's learning rate: `cfg.lr`, or for None 1e-3 with Discrete actions (the
    CartPole and Acrobot settings) and 3e-4 with Box ones (Pendulum: 1e-3 drifted after
    reaching the expert on 2 of 5 seeds, see `IQLearnConfig.lr`)."""
    if cfg.lr is not None:
        return cfg.lr
    return 1e-3 if isinstance(spaces.action, gym.spaces.Discrete) else 3e-4


def train_iq_learn(
    demos: Transitions,
    spaces: Spaces,
    cfg: IQLearnConfig = IQLearnConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    evaluate: Evaluate | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> IQLearnResult:
    """Learn a soft Q-function whose policy imitates `demos`; online needs `env`.

    spaces: the spaces `demos` and the policy live in (the env's, online).
    env: a Gymnasium id or a zero-argument builder; offline, only read for
        `normalize_obs="auto"` (an id says whether the env is MuJoCo).
    evaluate: called with the current policy at progress rows (every `eval_every`); what
        it returns joins the row (e.g. return_mean), its time is not training time.
    checkpoint: a file for the whole training state, saved every `checkpoint_every`
        progress rows; when it exists, training resumes from it (offline, to the very
        weights of a run never stopped; online, with a fresh episode: see `loop`).
    """
    if len(demos) == 0:
        raise ConfigError("IQ-Learn needs at least one demonstration step")
    if not cfg.offline and env is None:
        raise ConfigError("online IQ-Learn needs an environment; pass env= or set offline=True")
    device = resolve_device(cfg.device)
    expert = preprocessed_demos(demos, spaces, device)
    stats = expert.obs if normalizes(cfg.normalize_obs, env) else None  # normalize_obs
    lr = critic_lr(cfg, spaces)
    learner = make_learner(spaces, cfg.hidden, cfg.alpha, lr, cfg.actor_lr, cfg.seed, device, stats)
    update = iq_update(learner, cfg, float(expert.terminal.float().mean()))
    saving = (checkpoint, checkpoint_every)
    if cfg.offline:
        loop = run_offline(learner, expert, update, cfg, callbacks, evaluate, *saving)
    else:
        assert env is not None
        loop = run_online(learner, expert, update, cfg, env, callbacks, evaluate, *saving)
    reward = SoftQReward.from_learner(learner, cfg.gamma)
    return IQLearnResult(
        learner.policy(), reward, loop.history, loop.train_seconds, loop.env_steps, loop.best
    )

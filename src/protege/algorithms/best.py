"""The best policy so far: periodic evaluation keeps the weights that scored highest.

Success fluctuates during training (robomimic and LeRobot users keep the best checkpoint,
not the last); a trainer that evaluates on fixed seeds while it trains offers each score
here, and the job saves the best weights beside the final ones (`policy_best.*`) and
reports both. The evaluation seeds must not be those of the final comparison, or the
choice would be fitted to the test.

The SB3 learners' families (adversarial, ranking) evaluate every `eval_every` env steps
with `evaluation_due` and `evaluate_learner`, on episode seeds from `CHECK_SEED`. The
supervised fits (BC, DWBC) keep instead the weights with the lowest loss on held-out
demonstration steps (`HeldOutBest`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from protege.data.rollout import rollout
from protege.envs import EnvFactory
from protege.experts import SB3Expert

M = TypeVar("M", bound=nn.Module)

CHECK_SEED = 20_000
"""In-training evaluations use episode seeds 20000, 20001, ...: apart from demonstration
seeds (0, 1, ...) and the final evaluation's (10000, ...)."""


@dataclass
class BestSoFar:
    """The highest evaluation return offered so far, the step it was reached at and a copy
    of the weights behind it (None before any finite score)."""

    score: float = -math.inf
    step: int | None = None
    state: dict[str, torch.Tensor] | None = None

    def offer(self, score: float, step: int, module: nn.Module) -> bool:
        """Keep `module`'s weights if `score` beats the best so far (ties keep the earlier)."""
        if not math.isfinite(score) or score <= self.score:
            return False
        self.score, self.step = float(score), int(step)
        self.state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
        return True

    def applied_to(self, module: M) -> M | None:
        """A copy of `module` holding the kept weights; None when none were kept."""
        if self.state is None:
            return None
        kept = copy.deepcopy(module)
        kept.load_state_dict(self.state)
        return kept

    def checkpoint_state(self) -> dict[str, Any]:
        """What a training checkpoint stores, so a resumed run keeps the same best."""
        return {"score": self.score, "step": self.step, "state": self.state}

    def load_checkpoint_state(self, saved: dict[str, Any] | None) -> None:
        if not saved:
            return
        self.score, self.step = float(saved["score"]), saved["step"]
        self.state = saved["state"]


@dataclass
class HeldOutBest:
    """The lowest loss on held-out demonstration steps so far, when it was reached (an
    epoch, an update) and a copy of the policy's weights then (None before any)."""

    loss: float = math.inf
    at: int = 0
    state: dict[str, Any] | None = None

    def offer(self, loss: float, at: int, module: nn.Module) -> None:
        """Keep `module`'s weights if `loss` is below the lowest so far (ties keep the
        earlier)."""
        if loss < self.loss:
            self.loss, self.at = loss, at
            self.state = copy.deepcopy(module.state_dict())

    def restore(self, module: nn.Module, last: int) -> int:
        """Load the kept weights into `module` and return when they were reached; with
        none kept (nothing held out), `module` keeps its final weights, reached at `last`."""
        if self.state is None:
            return last
        module.load_state_dict(self.state)
        return self.at


def evaluation_due(every: int, env_steps: int, last: int | None) -> bool:
    """Whether an in-training evaluation falls at `env_steps`: one each time the count
    passes a multiple of `every` since the previous report, made at `last` env steps (None:
    no report yet, so one is due now); never when `every` is 0."""
    if every <= 0:
        return False
    return last is None or env_steps // every > last // every


def evaluate_learner(
    env: str | EnvFactory, model: Any, episodes: int, step: int, best: BestSoFar
) -> float:
    """The mean true return of the SB3 learner `model`, acting deterministically, over
    `episodes` episodes seeded from `CHECK_SEED`; its policy's weights are offered to
    `best` with that score at `step` (env steps)."""
    trajs = rollout(env, SB3Expert(model), episodes, seed=CHECK_SEED)
    score = float(np.mean([t.episode_return for t in trajs]))
    best.offer(score, step, model.policy)
    return score

"""The best policy so far: periodic evaluation keeps the weights that scored highest.

Success fluctuates during training (robomimic and LeRobot users keep the best checkpoint,
not the last); a trainer that evaluates on fixed seeds while it trains offers each score
here, and the job saves the best weights beside the final ones (`policy_best.*`) and
reports both. The evaluation seeds must not be those of the final comparison, or the
choice would be fitted to the test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


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

    def checkpoint_state(self) -> dict[str, Any]:
        """What a training checkpoint stores, so a resumed run keeps the same best."""
        return {"score": self.score, "step": self.step, "state": self.state}

    def load_checkpoint_state(self, saved: dict[str, Any] | None) -> None:
        if not saved:
            return
        self.score, self.step = float(saved["score"]), saved["step"]
        self.state = saved["state"]

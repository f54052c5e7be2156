"""Reward normalisation for the adversarial learner: a running standard deviation.

A discriminator's rewards drift in scale as it sharpens; with `normalize_reward` the loop
divides what the learner is paid by the running standard deviation of every reward paid so
far (the sign is kept, so a survival bonus stays a bonus).
"""

from __future__ import annotations

import math

import torch


class RunningScale:
    """Running standard deviation of the rewards seen (Welford, over batches)."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double()
        n, mean = x.numel(), float(x.mean())
        if n == 0:
            return
        delta, total = mean - self.mean, self.count + n
        self.m2 += float(((x - mean) ** 2).sum()) + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 1.0

    def checkpoint_state(self) -> list[float]:
        """[count, mean, m2], for `save_checkpoint`."""
        return [self.count, self.mean, self.m2]

    def load_checkpoint_state(self, state: list[float]) -> None:
        """Restore what `checkpoint_state` returned."""
        count, mean, m2 = state
        self.count, self.mean, self.m2 = int(count), float(mean), float(m2)

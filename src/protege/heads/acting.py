"""What a policy remembers between steps: per-row observation windows, the pending
predictions of its action chunks, and per-episode random streams.

Row b of the batches a policy is called on is one episode from the step its
`start_episode(b, episode)` is called (`protege.data.rollout` calls it): then its window
restarts (filled with that first observation), its pending predictions are dropped, and
its random stream is seeded from (policy seed, episode), so episode i acts the same
whichever sub-env runs it. A call whose batch size differs from the previous call's starts
every row afresh (rows never announced draw from (policy seed, row)).

With `execute` = 1 the action executed at step t is ACT's temporal ensemble (Zhao et al.
2023, "Learning Fine-Grained Bimanual Manipulation with Low-Cost Hardware") of every chunk
prediction made for t so far: weights exp(-m·i) with i = 0 for the oldest prediction,
normalised. With `execute` = E > 1 a row predicts a chunk, plays its first E actions open
loop and predicts again (Diffusion Policy's receding horizon, Chi et al. 2023): a sampling
head then commits to one mode for E steps where averaging or resampling every step can
hesitate between modes. Each row's random stream still advances once per step, so an
episode acts the same whichever rows share its batch.

With `redraw` = "episode" a row's random numbers are drawn once, at its episode's first
step, and used at every step after: a sampling head then maps each observation to one
action for the whole episode (DDIM is deterministic given its noise), so it keeps to the
mode its noise picked instead of drawing a side anew at every step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from protege.nets import TensorObs

Predict = Callable[[TensorObs, torch.Tensor | None], torch.Tensor]
"""(window frames (B·H, ...), per-row draws (B, n) or None) -> chunk predictions (B, K, D)."""


def ensemble_weights(n: int, m: float) -> np.ndarray:
    """ACT's weights for `n` predictions of one step, oldest first: exp(-m·i) / Σ."""
    w = np.exp(-m * np.arange(n))
    return w / w.sum()


def _map(obs: TensorObs, fn: Callable[[torch.Tensor], torch.Tensor]) -> TensorObs:
    return {k: fn(v) for k, v in obs.items()} if isinstance(obs, dict) else fn(obs)


class ActingState:
    """Per-row memory of a policy with a window of `history` observations, chunks of
    `chunk` actions ensembled with factor `m` (or `execute` of each played open loop), and
    `draw` random numbers per row (("normal" or "uniform", n) or None), seeded from `seed`,
    drawn at every step or once per episode (`redraw` "step" or "episode")."""

    def __init__(
        self,
        history: int,
        chunk: int,
        m: float,
        seed: int,
        draw: tuple[str, int] | None,
        execute: int = 1,
        redraw: str = "step",
    ) -> None:
        if not 1 <= execute <= chunk:
            raise ValueError(f"execute={execute} must lie in 1..chunk={chunk}")
        if redraw not in ("episode", "step"):
            raise ValueError(f"redraw={redraw!r} must be 'episode' or 'step'")
        self.redraw = redraw
        self.history, self.chunk, self.m, self.seed, self.draw = history, chunk, m, seed, draw
        self.execute = execute
        self.reset()

    def reset(self) -> None:
        """Forget every row: the next call starts them all afresh."""
        self.batch: int | None = None
        self.pending: dict[int, int] = {}
        self.window: TensorObs | None = None
        self.preds: torch.Tensor | None = None  # (B, K ages, K steps, D); age 0 = newest
        self.valid: torch.Tensor | None = None  # (B, K ages) bool
        self.rngs: list[np.random.Generator] = []
        self.plan: torch.Tensor | None = None  # (B, K, D): each row's chunk being played
        self.played: torch.Tensor | None = None  # (B,) long: its actions played so far
        self.noise: torch.Tensor | None = None  # (B, n): redraw="episode"'s draws per row

    def start_episode(self, slot: int, episode: int) -> None:
        """Row `slot` of the coming calls is episode `episode`, from its first step."""
        self.pending[slot] = episode

    def act(self, frames: TensorObs, predict: Predict) -> torch.Tensor:
        """This step's ensembled prediction per row, (B, D), for the current observations
        `frames` (B, ...), updating the windows and pending chunks."""
        n = len(next(iter(frames.values()))) if isinstance(frames, dict) else len(frames)
        fresh = torch.zeros(n, dtype=torch.bool)
        if n != self.batch:
            self.batch = n
            self.rngs = [np.random.default_rng([self.seed, 1, row]) for row in range(n)]
            fresh[:] = True
        for slot, episode in self.pending.items():
            if slot < n:
                self.rngs[slot] = np.random.default_rng([self.seed, 0, episode])
                fresh[slot] = True
        self.pending.clear()
        window = self._push(frames, fresh)
        draws = self._draws(n, fresh)
        flat = _map(window, lambda v: v.reshape(n * self.history, *v.shape[2:]))
        draws = None if draws is None else draws.to(_device(frames))
        if self.execute > 1:
            return self._play(flat, draws, fresh, predict)
        return self._ensemble(predict(flat, draws), fresh.to(_device(frames)))

    def _push(self, frames: TensorObs, fresh: torch.Tensor) -> TensorObs:
        """The windows (B, H, ...) with `frames` appended; a fresh row's is H copies."""
        h = self.history

        def push(old: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
            repeated = new.unsqueeze(1).expand(len(new), h, *new.shape[1:])
            if old is None or old.shape[0] != len(new):
                return repeated.clone()
            shifted = torch.cat([old[:, 1:], new.unsqueeze(1)], dim=1)
            rows = fresh.to(new.device).view(-1, *[1] * (shifted.dim() - 1))
            return torch.where(rows, repeated, shifted)

        if isinstance(frames, dict):
            old = self.window if isinstance(self.window, dict) else {}
            self.window = {k: push(old.get(k), v) for k, v in frames.items()}
        else:
            old_t = self.window if isinstance(self.window, torch.Tensor) else None
            self.window = push(old_t, frames)
        return self.window

    def _draws(self, n: int, fresh: torch.Tensor) -> torch.Tensor | None:
        """This step's random numbers per row, each from its own stream: (B, size). With
        redraw="episode", a row keeps what it drew at its episode's first (fresh) step."""
        if self.draw is None:
            return None
        kind, size = self.draw
        if kind == "normal":
            rows = [rng.standard_normal(size) for rng in self.rngs]
        else:
            rows = [rng.random(size) for rng in self.rngs]
        drawn = torch.as_tensor(np.stack(rows), dtype=torch.float32)
        if self.redraw == "step":
            return drawn
        if self.noise is None or len(self.noise) != n:
            self.noise = drawn
        else:
            self.noise = torch.where(fresh.unsqueeze(1), drawn, self.noise)
        return self.noise

    def _play(
        self, flat: TensorObs, draws: torch.Tensor | None, fresh: torch.Tensor, predict: Predict
    ) -> torch.Tensor:
        """This step's action per row, (B, D), from its chunk being played: a row that has
        played `execute` actions of it (or is fresh) gets a new chunk first."""
        n = len(fresh)
        if self.played is None or self.plan is None or len(self.played) != n:
            self.played = torch.full((n,), self.execute, dtype=torch.long)
            self.plan = None
        played = torch.where(fresh, torch.full_like(self.played, self.execute), self.played)
        due = played >= self.execute
        if bool(due.any()):
            new = predict(flat, draws)
            if self.plan is None:
                self.plan = new.clone()
            else:
                self.plan[due.to(new.device)] = new[due.to(new.device)]
            played = torch.where(due, torch.zeros_like(played), played)
        assert self.plan is not None
        action = self.plan[torch.arange(n, device=self.plan.device), played.to(self.plan.device)]
        self.played = played + 1
        return action

    def _ensemble(self, new: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
        """Add this step's chunk predictions (B, K, D) and return the temporal ensemble of
        all predictions for this step, (B, D)."""
        b, k = new.shape[0], self.chunk
        if k == 1:
            return new[:, 0]
        if self.preds is None or self.preds.shape[0] != b:
            self.preds = torch.zeros(b, k, *new.shape[1:], device=new.device)
            self.valid = torch.zeros(b, k, dtype=torch.bool, device=new.device)
        assert self.valid is not None
        self.valid = torch.where(fresh.unsqueeze(1), torch.zeros_like(self.valid), self.valid)
        self.preds = torch.cat([new.unsqueeze(1), self.preds[:, :-1]], dim=1)
        self.valid = torch.cat([torch.ones_like(self.valid[:, :1]), self.valid[:, :-1]], dim=1)
        ages = torch.arange(k, device=new.device)
        for_now = self.preds[:, ages, ages]  # the prediction made `age` steps ago, for now
        # the valid ages are 0..n-1 (one prediction per step since the episode began), so
        # the prediction of age a is the i = n-1-a'th oldest: weight exp(-m·i), at most 1
        n_valid = self.valid.sum(dim=1, keepdim=True)
        i = (n_valid - 1 - ages.unsqueeze(0)).clamp(min=0).float()
        w = torch.exp(-self.m * i) * self.valid.float()
        w = w / w.sum(dim=1, keepdim=True)
        return (w.view(b, k, *[1] * (for_now.dim() - 2)) * for_now).sum(dim=1)


def _device(obs: TensorObs) -> torch.device:
    return next(iter(obs.values())).device if isinstance(obs, dict) else obs.device

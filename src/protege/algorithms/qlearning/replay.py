"""Transitions as device tensors: the expert's demonstrations and the learner's replay buffer.

Both IQ-Learn and SQIL train on minibatches drawn by index from whole tensors (no
per-sample Python). `terminal` is 1 only where the next observation ends the episode in a
terminal state; truncated episodes (time limits) bootstrap through their last step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from protege.data.types import Obs, Transitions
from protege.envs import Spaces
from protege.nets import TensorObs, index_tensor_obs, obs_to_tensor


@dataclass
class Batch:
    """N transitions on one device.

    obs, next_obs: (N, *obs_shape) float tensors (or dicts of them), already preprocessed.
    acts: (N,) long for Discrete actions, (N, act_dim) float (env units) for Box.
    terminal: (N,) float, 1.0 where next_obs is terminal (no bootstrapping past it).
    """

    obs: TensorObs
    acts: torch.Tensor
    next_obs: TensorObs
    terminal: torch.Tensor

    def __len__(self) -> int:
        return len(self.acts)

    def rows(self, idx: torch.Tensor) -> Batch:
        """The transitions at `idx`."""
        return Batch(
            index_tensor_obs(self.obs, idx),
            self.acts[idx],
            index_tensor_obs(self.next_obs, idx),
            self.terminal[idx],
        )

    def sample(self, n: int, gen: torch.Generator) -> Batch:
        """`n` transitions drawn uniformly with replacement."""
        idx = torch.randint(len(self), (n,), generator=gen).to(self.terminal.device)
        return self.rows(idx)


def _cat_obs(a: TensorObs, b: TensorObs) -> TensorObs:
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: torch.cat([a[k], b[k]]) for k in a}
    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    return torch.cat([a, b])


def _obs_to(obs: TensorObs, device: torch.device) -> TensorObs:
    if isinstance(obs, dict):
        return {k: v.to(device) for k, v in obs.items()}
    return obs.to(device)


def concat(a: Batch, b: Batch) -> Batch:
    """`a` then `b` as one batch."""
    return Batch(
        _cat_obs(a.obs, b.obs),
        torch.cat([a.acts, b.acts]),
        _cat_obs(a.next_obs, b.next_obs),
        torch.cat([a.terminal, b.terminal]),
    )


def _acts_tensor(acts: np.ndarray, spaces: Spaces, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(acts), device=device)
    if spaces.action.shape == () or t.dtype in (torch.int32, torch.int64):
        return t.long().view(-1)
    return t.float().view(len(t), -1)


def batch_from_transitions(demos: Transitions, spaces: Spaces, device: torch.device) -> Batch:
    """The demonstrations as one device batch (truncated steps are not terminal)."""
    return Batch(
        obs_to_tensor(demos.obs, spaces.observation, device),
        _acts_tensor(demos.acts, spaces, device),
        obs_to_tensor(demos.next_obs, spaces.observation, device),
        torch.as_tensor(demos.terminated, dtype=torch.float32, device=device),
    )


class ReplayBuffer:
    """A ring buffer of the learner's own transitions, stored as preprocessed tensors."""

    def __init__(self, capacity: int, spaces: Spaces, device: torch.device) -> None:
        self.capacity, self.spaces, self.device = capacity, spaces, device
        self.size, self._next = 0, 0
        self._data: Batch | None = None

    def _allocate(self, first: Batch) -> Batch:
        def empty(x: torch.Tensor) -> torch.Tensor:
            return torch.zeros((self.capacity, *x.shape[1:]), dtype=x.dtype, device=self.device)

        def empty_obs(o: TensorObs) -> TensorObs:
            return {k: empty(v) for k, v in o.items()} if isinstance(o, dict) else empty(o)

        return Batch(
            empty_obs(first.obs), empty(first.acts), empty_obs(first.next_obs),
            empty(first.terminal),
        )  # fmt: skip

    def add(self, obs: Obs, acts: np.ndarray, next_obs: Obs, terminal: np.ndarray) -> None:
        """Store a batch of steps (B, ...): observations as the env returned them."""
        new = Batch(
            obs_to_tensor(obs, self.spaces.observation, self.device),
            _acts_tensor(acts, self.spaces, self.device),
            obs_to_tensor(next_obs, self.spaces.observation, self.device),
            torch.as_tensor(np.asarray(terminal), dtype=torch.float32, device=self.device),
        )
        idx = (self._next + torch.arange(len(new), device=self.device)) % self.capacity
        self._write(idx, new)
        self._next = int((self._next + len(new)) % self.capacity)
        self.size = min(self.size + len(new), self.capacity)

    def _write(self, idx: torch.Tensor, new: Batch) -> None:
        if self._data is None:
            self._data = self._allocate(new)
        data = self._data
        for field_name in ("obs", "next_obs"):
            dst, src = getattr(data, field_name), getattr(new, field_name)
            if isinstance(dst, dict):
                for k in dst:
                    dst[k][idx] = src[k]
            else:
                dst[idx] = src
        data.acts[idx] = new.acts
        data.terminal[idx] = new.terminal

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (copies of the filled rows only) and the ring position."""
        state: dict[str, Any] = {"size": self.size, "next": self._next}
        if self._data is not None:
            filled = self._data.rows(torch.arange(self.size, device=self.device))
            state["data"] = {
                "obs": filled.obs, "acts": filled.acts, "next_obs": filled.next_obs,
                "terminal": filled.terminal,
            }  # fmt: skip
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill the buffer from `state_dict()`'s output (e.g. a checkpoint on the CPU)."""
        self.size, self._next, self._data = int(state["size"]), int(state["next"]), None
        if "data" in state:
            d = state["data"]
            saved = Batch(
                _obs_to(d["obs"], self.device), d["acts"].to(self.device),
                _obs_to(d["next_obs"], self.device), d["terminal"].to(self.device),
            )  # fmt: skip
            self._write(torch.arange(self.size, device=self.device), saved)

    def sample(self, n: int, gen: torch.Generator) -> Batch:
        """`n` stored transitions drawn uniformly with replacement."""
        assert self._data is not None, "sample from an empty replay buffer"
        idx = torch.randint(self.size, (n,), generator=gen).to(self.device)
        return self._data.rows(idx)

"""Transitions as device tensors, and the one replay buffer both learner families keep.

`TensorTransitions` is N steps (s, a, s', terminal) as tensors on one device; `terminal`
is 1 only where s' ends the episode in a terminal state (time-limit truncations are not
terminal, so learners bootstrap through them). `ReplayBuffer` keeps the latest `capacity`
of them in a ring and hands back minibatches drawn uniformly with replacement.

Both families train on minibatches indexed out of whole tensors (no per-sample Python):

  - soft-Q (IQ-Learn, SQIL) stores the learner's steps preprocessed for its networks
    (`qlearning.learner.preprocessed`) and draws with a `torch.Generator`;
  - adversarial (GAIL, AIRL, GCL) stores the learner's latest steps in the env's own
    encoding, as the discriminator reads them (`RewardNet.to_tensors`), and draws with a
    NumPy `Generator`.

The buffer only stores; what the tensors encode is the caller's choice. `sample` keeps
each family's own draw (`torch.randint` or `Generator.integers`), so a seed gives the
same minibatches as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from protege.nets import TensorObs, cat_tensor_obs, index_tensor_obs

Draw = torch.Generator | np.random.Generator
"""The generator a minibatch is drawn with: soft-Q's torch one or the adversary's NumPy one."""


def draw_indices(n: int, high: int, gen: Draw) -> torch.Tensor:
    """`n` indices in [0, high), uniform with replacement, as a CPU int64 tensor.

    A `torch.Generator` draws by `torch.randint`, a NumPy `Generator` by `integers`: the
    draws the soft-Q and the adversarial loops have always made.
    """
    if isinstance(gen, torch.Generator):
        return torch.randint(high, (n,), generator=gen)
    return torch.as_tensor(gen.integers(0, high, n))


@dataclass
class TensorTransitions:
    """N transitions on one device.

    obs, next_obs: (N, ...) tensors (or dicts of them), encoded as the caller's nets read
        them: preprocessed floats for soft-Q, the env's own dtypes for a discriminator.
    acts: (N,) long for Discrete actions, (N, *act_shape) float (env units) for Box.
    terminal: (N,) float, 1.0 where next_obs is terminal (no bootstrapping past it).
    """

    obs: TensorObs
    acts: torch.Tensor
    next_obs: TensorObs
    terminal: torch.Tensor

    def __len__(self) -> int:
        return len(self.acts)

    def rows(self, idx: torch.Tensor) -> TensorTransitions:
        """The transitions at `idx`."""
        return TensorTransitions(
            index_tensor_obs(self.obs, idx),
            self.acts[idx],
            index_tensor_obs(self.next_obs, idx),
            self.terminal[idx],
        )

    def sample(self, n: int, gen: Draw) -> TensorTransitions:
        """`n` transitions drawn uniformly with replacement (see `draw_indices`)."""
        return self.rows(draw_indices(n, len(self), gen).to(self.terminal.device))


def concat(a: TensorTransitions, b: TensorTransitions) -> TensorTransitions:
    """`a` then `b` as one batch."""
    return TensorTransitions(
        cat_tensor_obs(a.obs, b.obs),
        torch.cat([a.acts, b.acts]),
        cat_tensor_obs(a.next_obs, b.next_obs),
        torch.cat([a.terminal, b.terminal]),
    )


class ReplayBuffer:
    """A ring buffer of the latest `capacity` transitions, as tensors on `device`.

    Storage is allocated on the first `add`, with that batch's dtypes and shapes.
    size: transitions held; pos: the slot the next one goes to.
    """

    def __init__(self, capacity: int, device: torch.device | str = "cpu") -> None:
        self.capacity, self.device = capacity, torch.device(device)
        self.size, self.pos = 0, 0
        self._data: TensorTransitions | None = None

    def add(self, new: TensorTransitions) -> None:
        """Store a batch of steps; the oldest ones make room once the buffer is full."""
        n = len(new)
        offsets = torch.arange(n)
        if n > self.capacity:  # only the last `capacity` rows would survive the writes
            offsets = offsets[n - self.capacity :]
            new = new.rows(offsets.to(new.terminal.device))
        self._write(((self.pos + offsets) % self.capacity).to(self.device), new)
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, gen: Draw) -> TensorTransitions:
        """`n` stored transitions drawn uniformly with replacement (see `draw_indices`)."""
        assert self._data is not None, "sample from an empty replay buffer"
        return self._data.rows(draw_indices(n, self.size, gen).to(self.device))

    def _allocate(self, first: TensorTransitions) -> TensorTransitions:
        def empty(x: torch.Tensor) -> torch.Tensor:
            return torch.zeros((self.capacity, *x.shape[1:]), dtype=x.dtype, device=self.device)

        def empty_obs(o: TensorObs) -> TensorObs:
            return {k: empty(v) for k, v in o.items()} if isinstance(o, dict) else empty(o)

        return TensorTransitions(
            empty_obs(first.obs), empty(first.acts), empty_obs(first.next_obs),
            empty(first.terminal),
        )  # fmt: skip

    def _write(self, idx: torch.Tensor, new: TensorTransitions) -> None:
        if self._data is None:
            self._data = self._allocate(new)
        data = self._data
        for field_name in ("obs", "next_obs"):
            dst, src = getattr(data, field_name), getattr(new, field_name)
            if isinstance(dst, dict):
                for k in dst:
                    dst[k][idx] = src[k].to(self.device)
            else:
                dst[idx] = src.to(self.device)
        data.acts[idx] = new.acts.to(self.device)
        data.terminal[idx] = new.terminal.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (copies of the filled slots only) and the ring position,
        for `save_checkpoint`."""
        state: dict[str, Any] = {"size": self.size, "next": self.pos}
        if self._data is not None:
            filled = self._data.rows(torch.arange(self.size, device=self.device))
            state["data"] = {
                "obs": filled.obs, "acts": filled.acts, "next_obs": filled.next_obs,
                "terminal": filled.terminal,
            }  # fmt: skip
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill the buffer from `state_dict()`'s output (e.g. a checkpoint on the CPU);
        the capacity must be the one it was saved with."""
        self.size, self.pos, self._data = int(state["size"]), int(state["next"]), None
        if "data" in state:
            d = state["data"]
            saved = TensorTransitions(d["obs"], d["acts"], d["next_obs"], d["terminal"])
            self._write(torch.arange(self.size, device=self.device), saved)

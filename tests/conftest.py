"""Shared fixtures: tiny seeded environments for spaces the classic-control envs lack."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

# One torch thread per test process: protege's networks are small, and pytest-xdist already
# runs one process per core (on a busy 2-core machine torch's default made the suite 10x slower).
torch.set_num_threads(1)
threadpool_limits(limits=1)  # NumPy/SciPy's BLAS too, as `protege --threads 1` does


class CueEnv(gym.Env):
    """The right action (one of 3) is shown by a cue in the observation; reward 1 if taken.

    kind: "image" (uint8 HxWx3, the cue's colour channel lit), "dict" (image + vector +
    discrete key) or "multidiscrete". Episodes last 20 steps and are truncated.
    """

    def __init__(self, kind: str = "image", size: int = 12) -> None:
        self.kind, self.size = kind, size
        image = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
        if kind == "image":
            self.observation_space: gym.Space = image
        elif kind == "dict":
            self.observation_space = gym.spaces.Dict(
                {"image": image, "vec": gym.spaces.Box(-1, 1, (2,), np.float32),
                 "key": gym.spaces.Discrete(4)}
            )  # fmt: skip
        elif kind == "multidiscrete":
            self.observation_space = gym.spaces.MultiDiscrete([3, 5])
        else:
            raise ValueError(kind)
        self.action_space = gym.spaces.Discrete(3)
        self.t, self.cue = 0, 0

    def _obs(self) -> Any:
        img = self.np_random.integers(0, 60, (self.size, self.size, 3), dtype=np.uint8)
        img[..., self.cue] = 200 + self.np_random.integers(0, 55, (self.size, self.size))
        if self.kind == "image":
            return img
        if self.kind == "dict":
            vec = self.np_random.uniform(-1, 1, 2).astype(np.float32)
            return {"image": img, "vec": vec, "key": int(self.np_random.integers(4))}
        return np.array([self.cue, self.np_random.integers(5)], dtype=np.int64)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t, self.cue = 0, int(self.np_random.integers(3))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        reward = float(int(action) == self.cue)
        self.t += 1
        self.cue = int(self.np_random.integers(3))
        return self._obs(), reward, False, self.t >= 20, {}


def cue_expert(kind: str):  # noqa: ANN201 - a batched policy
    """The optimal batched policy for CueEnv(kind)."""

    def act(obs: Any) -> np.ndarray:
        if kind == "multidiscrete":
            return np.asarray(obs)[:, 0].astype(np.int64)
        img = obs["image"] if kind == "dict" else obs
        return np.asarray(img).reshape(len(img), -1, 3).mean(axis=1).argmax(axis=1)

    return act


@pytest.fixture
def cue_env():  # noqa: ANN201
    """Factory: cue_env(kind) -> (env builder, optimal expert)."""
    return lambda kind: ((lambda: CueEnv(kind)), cue_expert(kind))

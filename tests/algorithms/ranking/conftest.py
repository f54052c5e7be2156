"""Demonstrations of graded quality for the ranking tests: the scripted expert with
ε-random actions (made here, apart from the code under test), each episode marked with
its ε in `meta["noise"]`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pytest

from protege.data import Trajectory, rollout
from protege.envs import env_spaces
from protege.experts.scripted import scripted_expert

GradedEpisodes = Callable[..., list[Trajectory]]


def noisy_expert_episodes(
    env_id: str, levels: Sequence[float], per_level: int, seed: int = 0
) -> list[Trajectory]:
    """`per_level` episodes of the scripted expert at each ε of `levels`: each step, with
    probability ε, a uniform random action. Level k's episodes start from seeds
    1000·seed + k·per_level, ...; ε and the seed fix every random draw."""
    expert = scripted_expert(env_id).act
    space = copy.deepcopy(env_spaces(env_id).action)
    out: list[Trajectory] = []
    for k, eps in enumerate(levels):
        rng = np.random.default_rng([seed, k])
        space.seed(1000 * seed + k)

        def act(obs: np.ndarray, eps: float = eps, rng: np.random.Generator = rng) -> np.ndarray:
            acts = np.array(expert(obs), copy=True)
            for i in np.flatnonzero(rng.random(len(acts)) < eps):
                acts[i] = space.sample()
            return acts

        trajs = rollout(env_id, act, per_level, seed=1000 * seed + k * per_level)
        out += [replace(t, meta={"noise": float(eps)}) for t in trajs]
    return out


@pytest.fixture(scope="session")
def graded() -> GradedEpisodes:
    """`graded(env_id, levels, per_level, seed)`: `noisy_expert_episodes`."""
    return noisy_expert_episodes

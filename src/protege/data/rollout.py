"""Run a policy in vectorised Gymnasium envs and collect whole episodes, reproducibly.

Episode `i` always starts from `reset(seed=seed + i)`, whichever sub-env runs it, so the
same seed gives the same episodes for any number of parallel envs (for a deterministic
policy) and two policies can be compared on exactly the same start states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from protege.data.types import Obs, Trajectory, obs_index, obs_stack
from protege.envs import EnvFactory, make_env

Policy = Callable[[Obs], np.ndarray]
"""A batched policy: observations (B, *obs_shape) -> actions (B, *act_shape)."""


@runtime_checkable
class EpisodeSeeded(Protocol):
    """A policy with per-episode randomness (e.g. `noise.NoisyPolicy`): `rollout` tells it
    which episode each row of its batches belongs to, so episode i is the same whichever
    sub-env runs it."""

    def start_episode(self, slot: int, episode: int) -> None:
        """Row `slot` of the coming batches is episode `episode` (from its first step)."""


class RandomPolicy:
    """Uniform actions from the action space, seeded: the 0 of the normalised score."""

    def __init__(self, action_space: gym.Space, seed: int = 0) -> None:
        self.space = action_space
        self.space.seed(seed)

    def __call__(self, obs: Obs) -> np.ndarray:
        n = len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)
        return np.stack([np.asarray(self.space.sample()) for _ in range(n)])


def _factory(env: str | EnvFactory, env_kwargs: dict[str, Any]) -> EnvFactory:
    if isinstance(env, str):
        make_env(env, **env_kwargs).close()  # fail early with a clear message
        return lambda: make_env(env, **env_kwargs)
    return env


def rollout(
    env: str | EnvFactory,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    n_envs: int = 8,
    env_kwargs: dict[str, Any] | None = None,
    on_episode: Callable[[int, Trajectory], None] | None = None,
    max_steps: int | None = None,
) -> list[Trajectory]:
    """Run `policy` for `episodes` episodes and return them in episode order.

    env: a Gymnasium id or a zero-argument env builder.
    max_steps: stop once this many steps were taken in all (e.g. a budget of expert
        labels); episodes still running are returned cut, marked truncated.
    on_episode: called with (episode index, trajectory) as each one finishes, e.g. to save
        it at once or to advance a progress bar; completion order may differ from index order.
    A policy with a `start_episode(slot, episode)` method (`EpisodeSeeded`) is told which
    episode each row of its batches belongs to, so its randomness can be seeded per episode.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    factory = _factory(env, env_kwargs or {})
    n = min(n_envs, episodes)
    venv = SyncVectorEnv([factory] * n, autoreset_mode=AutoresetMode.DISABLED)
    try:
        return _run(venv, policy, episodes, seed, on_episode, max_steps)
    finally:
        venv.close()


def _run(
    venv: SyncVectorEnv,
    policy: Policy,
    episodes: int,
    seed: int,
    on_episode: Callable[[int, Trajectory], None] | None,
    max_steps: int | None = None,
) -> list[Trajectory]:
    n = venv.num_envs
    episode_of = np.arange(n)  # which episode each sub-env is running; -1 when idle
    next_episode = n
    obs, _ = venv.reset(seed=[seed + i for i in range(n)])
    seeded = policy if isinstance(policy, EpisodeSeeded) else None
    if seeded is not None:
        for i in range(n):
            seeded.start_episode(i, i)
    buffers: list[dict[str, list[Any]]] = [
        {"obs": [obs_index(obs, i)], "acts": [], "rews": []} for i in range(n)
    ]
    done: dict[int, Trajectory] = {}
    steps = 0
    while len(done) < episodes:
        if max_steps is not None and steps >= max_steps:
            return _cut(buffers, episode_of, done)
        acts = np.asarray(policy(obs))
        obs, rews, terminated, truncated, _ = venv.step(acts)
        finished = np.zeros(n, dtype=bool)
        for i in range(n):
            if episode_of[i] < 0:  # idle sub-env: reset it when it ends, keep no data
                finished[i] = bool(terminated[i] or truncated[i])
                continue
            if max_steps is not None and steps >= max_steps:
                continue  # budget spent mid-step: this sub-env's step is not recorded
            buf = buffers[i]
            steps += 1
            buf["acts"].append(acts[i])
            buf["rews"].append(rews[i])
            buf["obs"].append(obs_index(obs, i))
            if terminated[i] or truncated[i]:
                traj = _trajectory(buf, bool(terminated[i]))
                done[int(episode_of[i])] = traj
                if on_episode is not None:
                    on_episode(int(episode_of[i]), traj)
                finished[i] = True
        if not finished.any() or len(done) == episodes:
            continue
        seeds: list[int | None] = [None] * n
        for j in map(int, np.flatnonzero(finished)):
            if episode_of[j] >= 0 and next_episode < episodes:
                episode_of[j] = next_episode
                seeds[j] = seed + next_episode
                if seeded is not None:
                    seeded.start_episode(j, next_episode)
                next_episode += 1
            else:
                episode_of[j] = -1  # idle: keeps stepping, its data is ignored
                seeds[j] = seed
        obs, _ = venv.reset(seed=seeds, options={"reset_mask": finished})
        for j in map(int, np.flatnonzero(finished)):
            buffers[j] = {"obs": [obs_index(obs, j)], "acts": [], "rews": []}
    return [done[i] for i in range(episodes)]


def _trajectory(buf: dict[str, list[Any]], terminated: bool) -> Trajectory:
    return Trajectory(
        obs=obs_stack(buf["obs"]),
        acts=np.stack(buf["acts"]),
        rews=np.asarray(buf["rews"], dtype=np.float64),
        terminated=terminated,
        truncated=not terminated,
    )


def _cut(
    buffers: list[dict[str, list[Any]]], episode_of: np.ndarray, done: dict[int, Trajectory]
) -> list[Trajectory]:
    """Finished episodes plus the running ones cut short (truncated), in episode order."""
    for i, episode in enumerate(episode_of):
        if episode >= 0 and buffers[i]["acts"]:
            done[int(episode)] = _trajectory(buffers[i], terminated=False)
    return [done[i] for i in sorted(done)]

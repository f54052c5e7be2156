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
    Each trajectory's `meta` keeps its reset seed ("seed": `seed` + its index, so the
    episode's start can be replayed, as `protege rank` and the preference window do) and
    what the env's infos said of the episode: "success" (when the env reports
    `info["success"]` or `info["is_success"]`) and the keys the env lists in
    `metadata["episode_info"]` (`_note_info`).
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
    keys = tuple(venv.metadata.get("episode_info", ()))
    if seeded is not None:
        for i in range(n):
            seeded.start_episode(i, i)
    buffers: list[dict[str, Any]] = [_buffer(obs_index(obs, i), seed + i) for i in range(n)]
    done: dict[int, Trajectory] = {}
    steps = 0
    while len(done) < episodes:
        if max_steps is not None and steps >= max_steps:
            return _cut(buffers, episode_of, done)
        acts = np.asarray(policy(obs))
        obs, rews, terminated, truncated, infos = venv.step(acts)
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
            _note_info(buf["meta"], infos, i, keys)
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
            buffers[j] = _buffer(obs_index(obs, j), seeds[j])
    return [done[i] for i in range(episodes)]


SUCCESS_KEYS = ("success", "is_success")
"""Info keys by which envs report success: Meta-World's, and gymnasium-robotics'."""


def _buffer(first_obs: Obs, seed: int | None) -> dict[str, Any]:
    return {"obs": [first_obs], "acts": [], "rews": [], "meta": {"seed": seed}}


def _note_info(meta: dict[str, Any], infos: dict[str, Any], i: int, keys: tuple[str, ...]) -> None:
    """Fold sub-env `i`'s step info (Gymnasium's vector form: arrays, `_key` masks) into its
    episode's meta. "success": True once `info["success"]` or `info["is_success"]` was true
    at any step (Meta-World's and gymnasium-robotics' convention), False while reported but
    never true, absent when the env never reports it. Each key of `keys` (the env's
    `metadata["episode_info"]`, e.g. TwoPaths' "side"): its last scalar value."""
    for key in (*SUCCESS_KEYS, *keys):
        if key not in infos or not infos.get(f"_{key}", np.ones(i + 1, bool))[i]:
            continue
        value = np.asarray(infos[key][i])
        if key in SUCCESS_KEYS:
            meta["success"] = meta.get("success", False) or bool(value.any())
        elif value.ndim == 0:
            meta[key] = value.item()


def note_episode_info(meta: dict[str, Any], info: dict[str, Any], env: gym.Env) -> None:
    """`_note_info` for one (not vectorised) env's step `info`: "success" and the keys the
    env lists in `metadata["episode_info"]` go into the episode's `meta` (people's
    episodes, `protege record`, keep them as `collect`'s do)."""
    keys = tuple(env.metadata.get("episode_info", ()))
    vector = {
        k: np.asarray([v], dtype=object) for k, v in info.items() if k in (*SUCCESS_KEYS, *keys)
    }
    _note_info(meta, vector, 0, keys)


def _trajectory(buf: dict[str, Any], terminated: bool) -> Trajectory:
    return Trajectory(
        obs=obs_stack(buf["obs"]),
        acts=np.stack(buf["acts"]),
        rews=np.asarray(buf["rews"], dtype=np.float64),
        terminated=terminated,
        truncated=not terminated,
        meta=dict(buf["meta"]),
    )


def _cut(
    buffers: list[dict[str, Any]], episode_of: np.ndarray, done: dict[int, Trajectory]
) -> list[Trajectory]:
    """Finished episodes plus the running ones cut short (truncated), in episode order."""
    for i, episode in enumerate(episode_of):
        if episode >= 0 and buffers[i]["acts"]:
            done[int(episode)] = _trajectory(buffers[i], terminated=False)
    return [done[i] for i in sorted(done)]

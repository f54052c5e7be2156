"""The shared data model: episodes (`Trajectory`) and flat batches of steps (`Transitions`).

Observations are either one array or, for `gymnasium.spaces.Dict`, a flat dict of arrays
whose leading axis is time. Every helper here treats both forms alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Obs = np.ndarray | dict[str, np.ndarray]
"""An observation batch: one array (N, *shape), or a dict of such arrays for Dict spaces."""


def obs_len(obs: Obs) -> int:
    """Length of the leading (time or batch) axis."""
    if isinstance(obs, Mapping):
        lengths = {len(v) for v in obs.values()}
        if len(lengths) != 1:
            raise ValueError(f"dict observation keys disagree on length: {sorted(lengths)}")
        return lengths.pop()
    return len(obs)


def obs_index(obs: Obs, idx: Any) -> Obs:
    """Index every array of an observation batch along its leading axis."""
    if isinstance(obs, Mapping):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]


def obs_concat(parts: Sequence[Obs]) -> Obs:
    """Concatenate observation batches along the leading axis."""
    if not parts:
        raise ValueError("nothing to concatenate")
    if isinstance(parts[0], Mapping):
        keys = list(parts[0])
        return {k: np.concatenate([p[k] for p in parts]) for k in keys}
    return np.concatenate(parts)  # type: ignore[arg-type]


def obs_stack(items: Sequence[Obs]) -> Obs:
    """Stack single observations (no leading axis) into a batch."""
    if isinstance(items[0], Mapping):
        keys = list(items[0])
        return {k: np.stack([np.asarray(it[k]) for it in items]) for k in keys}
    return np.stack([np.asarray(it) for it in items])


@dataclass(frozen=True)
class Trajectory:
    """One episode.

    obs: (T+1, *obs_shape), or a dict of such arrays; the last entry is the final observation.
    acts: (T, *act_shape).
    rews: (T,) float, or None when the rewards were not recorded (e.g. human demonstrations).
    terminated: the episode ended in a terminal state (no bootstrapping past it).
    truncated: the episode was cut by a time limit or by the recorder.
    infos: optional per-step info dicts (T,).
    meta: what is known of the episode as a whole, kept with it on disk: e.g. "noise" (the
        ε of the noise injected into the demonstrator's actions, `protege collect --noise`),
        "rating" (a person's score of it, `protege record`); JSON-able scalars only.
    """

    obs: Obs
    acts: np.ndarray
    rews: np.ndarray | None = None
    terminated: bool = False
    truncated: bool = False
    infos: tuple[dict[str, Any], ...] | None = field(default=None, compare=False)
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n_obs = obs_len(self.obs)
        if n_obs != len(self.acts) + 1:
            raise ValueError(
                f"a trajectory needs one more observation than actions, got {n_obs} "
                f"observations and {len(self.acts)} actions"
            )
        if self.rews is not None and len(self.rews) != len(self.acts):
            raise ValueError(f"got {len(self.rews)} rewards for {len(self.acts)} actions")
        if self.terminated and self.truncated:
            raise ValueError("an episode is either terminated or truncated, not both")

    def __len__(self) -> int:
        return len(self.acts)

    @property
    def episode_return(self) -> float:
        """Sum of rewards (NaN when rewards were not recorded)."""
        return float(np.sum(self.rews)) if self.rews is not None else float("nan")


@dataclass(frozen=True)
class Transitions:
    """A flat batch of N steps, the form that learners consume.

    obs, next_obs: (N, *obs_shape) or dicts of such arrays.
    acts: (N, *act_shape).
    rews: (N,) or None.
    terminated: (N,) bool, True where next_obs is terminal (no bootstrapping).
    truncated: (N,) bool, True where the episode was cut after this step.
    starts: (N,) bool, True at each episode's first step (set by `flatten_trajectories`),
        so that windows of past observations (`PolicyArch.history`) and chunks of future
        actions (`PolicyArch.chunk`) stop at episode boundaries; None when unknown (then
        a step starts an episode where the previous one was terminated or truncated).
    """

    obs: Obs
    acts: np.ndarray
    next_obs: Obs
    terminated: np.ndarray
    truncated: np.ndarray
    rews: np.ndarray | None = None
    starts: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.acts)
        for name, value in (("obs", self.obs), ("next_obs", self.next_obs)):
            if obs_len(value) != n:
                raise ValueError(f"{name} has {obs_len(value)} rows for {n} actions")
        for name, arr in (("terminated", self.terminated), ("truncated", self.truncated)):
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
        if self.starts is not None and np.shape(self.starts) != (n,):
            raise ValueError(f"starts has shape {np.shape(self.starts)}, expected ({n},)")

    def __len__(self) -> int:
        return len(self.acts)

    def subset(self, idx: np.ndarray) -> Transitions:
        """Rows `idx` (an index or boolean array) as a new batch.

        `starts` is kept, and a row whose predecessor in the batch is not its predecessor
        here (a gap, a reordering) starts an episode too: a window never reaches across
        rows that were not consecutive."""
        starts = None
        if self.starts is not None:
            rows = np.arange(len(self))[idx]
            starts = np.asarray(self.starts, dtype=bool)[rows].copy()
            if len(rows):
                starts[0] = True
                starts[1:] |= rows[1:] != rows[:-1] + 1
        return Transitions(
            obs=obs_index(self.obs, idx),
            acts=self.acts[idx],
            next_obs=obs_index(self.next_obs, idx),
            terminated=self.terminated[idx],
            truncated=self.truncated[idx],
            rews=None if self.rews is None else self.rews[idx],
            starts=starts,
        )


def flatten_trajectories(trajs: Sequence[Trajectory]) -> Transitions:
    """Concatenate episodes into one batch of transitions (`starts` marks where each
    episode begins)."""
    if not trajs:
        raise ValueError("no trajectories to flatten")
    obs = obs_concat([obs_index(t.obs, slice(0, -1)) for t in trajs])
    next_obs = obs_concat([obs_index(t.obs, slice(1, None)) for t in trajs])
    acts = np.concatenate([t.acts for t in trajs])
    terminated = np.zeros(len(acts), dtype=bool)
    truncated = np.zeros(len(acts), dtype=bool)
    starts = np.zeros(len(acts), dtype=bool)
    firsts = np.cumsum([0] + [len(t) for t in trajs[:-1]])
    starts[[int(first) for first, t in zip(firsts, trajs, strict=True) if len(t)]] = True
    ends = np.cumsum([len(t) for t in trajs]) - 1
    for end, t in zip(ends, trajs, strict=True):
        if len(t):
            terminated[end] = t.terminated
            truncated[end] = t.truncated
    has_rews = all(t.rews is not None for t in trajs)
    rews = np.concatenate([t.rews for t in trajs]).astype(np.float32) if has_rews else None
    return Transitions(obs, acts, next_obs, terminated, truncated, rews, starts)

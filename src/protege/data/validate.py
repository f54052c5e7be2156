"""Checks that demonstrations agree with their spaces, each failure one actionable DatasetError.

Both storage formats are turned into one flat layout (`FlatEpisodes`) and checked here, on every
load and before every save, so a file protege writes always loads again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import gymnasium as gym
import numpy as np
from gymnasium import spaces as gs

from protege.data.types import Obs, Trajectory, obs_concat
from protege.envs import Spaces
from protege.errors import DatasetError

BOUNDS_TOL = 1e-6
"""How far a Box action may lie outside its bounds (float rounding) and still be accepted."""

LEAF_SPACES = (gs.Box, gs.Discrete, gs.MultiDiscrete)
"""Spaces stored as one array each; Dict observations may hold these, one level deep."""

INCONSISTENT_FIX = "the file is inconsistent (written by another tool or edited); save it again"


@dataclass(frozen=True)
class Fields:
    """What a format calls each field, so that messages use the names found in the file."""

    obs: str = "obs"
    acts: str = "acts"
    rews: str = "rews"
    lengths: str = "lengths"
    terminated: str = "terminated"
    truncated: str = "truncated"
    meta: str = "meta"

    def obs_key(self, key: str | None) -> str:
        """The field of one observation array: `obs`, or `obs/<key>` for Dict spaces."""
        return self.obs if key is None else f"{self.obs}/{key}"


NPZ_FIELDS = Fields()
MINARI_FIELDS = Fields(
    obs="observations",
    acts="actions",
    rews="rewards",
    lengths="total_steps",
    terminated="terminations",
    truncated="truncations",
    meta="metadata.json",
)


@dataclass(frozen=True)
class Context:
    """What a message names: the file as the user gave it, its fields, the env to match."""

    name: str
    fields: Fields = NPZ_FIELDS
    env: str | None = None
    first_episode: int = 0  # number of the first episode checked (a DatasetWriter appends)

    def fail(self, field: str, problem: str, fix: str) -> NoReturn:
        raise DatasetError(f"{self.name}: field '{field}' {problem}; {fix}")

    def at(self, row: int, lengths: np.ndarray, is_obs: bool) -> str:
        """'step t of episode i' (or 'observation t ...') for a row of the flat arrays."""
        sizes = lengths + 1 if is_obs else lengths
        ends = np.cumsum(sizes)
        episode = int(np.searchsorted(ends, row, side="right"))
        step = row - int(ends[episode] - sizes[episode])
        what = "observation" if is_obs else "step"
        return f"{what} {step} of episode {episode + self.first_episode}"

    @property
    def env_fix(self) -> str:
        if self.env:
            return f"record the demonstrations on {self.env} or pass --env matching the dataset"
        return "record the demonstrations on the environment they are meant for"


@dataclass(frozen=True)
class FlatEpisodes:
    """Episodes concatenated: the layout of the .npz format, and what every check runs on.

    obs: (sum(lengths) + n, *shape) (each episode keeps its final observation), or a dict.
    acts: (sum(lengths), *shape). rews: (sum(lengths),) or None; NaN where has_rews is False.
    has_rews, lengths, terminated, truncated: one entry per episode.
    """

    obs: Obs
    acts: np.ndarray
    rews: np.ndarray | None
    has_rews: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    def trajectories(self) -> list[Trajectory]:
        """Split into episodes (views into the flat arrays)."""
        ends = np.cumsum(self.lengths)[:-1]
        obs_ends = np.cumsum(self.lengths + 1)[:-1]
        if isinstance(self.obs, Mapping):
            parts = {k: np.split(v, obs_ends) for k, v in self.obs.items()}
            obs: list[Obs] = [{k: parts[k][i] for k in parts} for i in range(len(self.lengths))]
        else:
            obs = list(np.split(self.obs, obs_ends))
        acts = np.split(self.acts, ends)
        rews = np.split(self.rews, ends) if self.rews is not None else [None] * len(acts)
        return [
            Trajectory(
                obs=obs[i],
                acts=acts[i],
                rews=rews[i] if self.has_rews[i] else None,
                terminated=bool(self.terminated[i]),
                truncated=bool(self.truncated[i]),
            )
            for i in range(len(acts))
        ]


def flatten_for_storage(ctx: Context, spaces: Spaces, trajs: Sequence[Trajectory]) -> FlatEpisodes:
    """Episodes to the flat layout, checking each one's structure and shapes first."""
    if not trajs:
        raise DatasetError(f"{ctx.name}: there are no episodes to save; collect at least one")
    for i, t in enumerate(trajs):
        check_episode(ctx, spaces, i, t.obs, t.acts, t.rews)
    has_rews = np.array([t.rews is not None for t in trajs])
    rews = None
    if has_rews.any():
        rews = np.concatenate(
            [np.full(len(t), np.nan) if t.rews is None else np.asarray(t.rews) for t in trajs]
        )
    return FlatEpisodes(
        obs=obs_concat([t.obs for t in trajs]),
        acts=np.concatenate([np.asarray(t.acts) for t in trajs]),
        rews=rews,
        has_rews=has_rews,
        lengths=np.array([len(t) for t in trajs], dtype=np.int64),
        terminated=np.array([t.terminated for t in trajs]),
        truncated=np.array([t.truncated for t in trajs]),
    )


# --------------------------------------------------------------------------- spaces


def check_supported(ctx: Context, spaces: Spaces) -> None:
    """Box, Discrete, MultiDiscrete (or a flat Dict of them) observations; the same actions."""
    fix = "wrap the env so that it has one (e.g. gymnasium.wrappers.FlattenObservation)"
    obs = spaces.observation
    if isinstance(obs, gs.Dict):
        for key, sub in obs.spaces.items():
            if isinstance(sub, gs.Dict | gs.Tuple):
                ctx.fail(
                    "observation_space",
                    f"is a nested Dict (key '{key}' is a {type(sub).__name__}), which protege "
                    "cannot store; it stores Box, Discrete and MultiDiscrete spaces and Dicts "
                    "of them one level deep",
                    fix,
                )
            if not isinstance(sub, LEAF_SPACES):
                ctx.fail("observation_space", f"key '{key}' is {sub}, which is unsupported", fix)
    elif not isinstance(obs, LEAF_SPACES):
        ctx.fail(
            "observation_space",
            f"is {obs}, which protege cannot store (it stores Box, Discrete, MultiDiscrete "
            "and Dicts of them)",
            fix,
        )
    if not isinstance(spaces.action, LEAF_SPACES):
        ctx.fail(
            "action_space",
            f"is {spaces.action}; protege stores Discrete, Box and MultiDiscrete actions",
            "wrap the env so that its actions are one of these",
        )


def check_compatible(
    ctx: Context,
    found: Spaces,
    want: Spaces,
    want_env: str | None = None,
    recorded_on: str | None = None,
) -> None:
    """The file's spaces must match the env's: same types, shapes, dtype kinds, ranges."""
    where = f"env {want_env}" if want_env else "the environment"
    if want_env and recorded_on and recorded_on != want_env:
        fix = (
            f"record the demonstrations on {want_env} or pass --env {recorded_on}, the env "
            "they were recorded on"
        )
    elif want_env:
        fix = f"record the demonstrations on {want_env} or pass --env matching the dataset"
    else:
        on = f" (these were recorded on {recorded_on})" if recorded_on else ""
        fix = f"use demonstrations recorded on the environment they are used with{on}"
    _compare(ctx, where, fix, ctx.fields.obs, "observations", found.observation, want.observation)
    _compare(ctx, where, fix, ctx.fields.acts, "actions", found.action, want.action)


def _compare(
    ctx: Context, where: str, fix: str, field: str, what: str, found: gym.Space, want: gym.Space
) -> None:
    if isinstance(found, gs.Dict) and isinstance(want, gs.Dict):
        if set(found.spaces) != set(want.spaces):
            ctx.fail(
                field,
                f"holds {what} with keys {sorted(found.spaces)} but {where} expects keys "
                f"{sorted(want.spaces)}",
                fix,
            )
        for key, sub in want.spaces.items():
            _compare(ctx, where, fix, f"{field}/{key}", what, found.spaces[key], sub)
        return
    problem = _difference(found, want)
    if problem is not None:
        ctx.fail(field, f"holds {what} {problem.format(where=where)}", fix)


def _difference(found: gym.Space, want: gym.Space) -> str | None:
    """How `found` differs from `want`, as '... but {where} expects ...', or None."""
    if type(found) is not type(want):
        return f"from {describe(found)} but {{where}} expects {what_space(want)} ({describe(want)})"
    if found.shape != want.shape:
        return (
            f"of shape {found.shape} but {{where}} expects {what_space(want)} of shape {want.shape}"
        )
    if isinstance(found, gs.Box) and isinstance(want, gs.Box):
        if np.dtype(found.dtype).kind != np.dtype(want.dtype).kind:
            return f"of dtype {found.dtype} but {{where}} expects dtype {want.dtype}"
        return None
    if isinstance(found, gs.Discrete) and isinstance(want, gs.Discrete):
        same = found.n == want.n and found.start == want.start
    elif isinstance(found, gs.MultiDiscrete) and isinstance(want, gs.MultiDiscrete):
        same = np.array_equal(found.nvec, want.nvec) and np.array_equal(found.start, want.start)
    else:
        same = found == want
    return None if same else f"of {found} but {{where}} expects {want}"


def what_space(space: gym.Space) -> str:
    return f"a {type(space).__name__} space"


def describe(space: gym.Space) -> str:
    """`str(space)`, but a Box with per-element bounds as Box(shape, dtype): short messages."""
    if isinstance(space, gs.Box) and not (
        np.all(space.low == space.low.flat[0]) and np.all(space.high == space.high.flat[0])
    ):
        return f"Box(shape={space.shape}, dtype={space.dtype})"
    return str(space)


# --------------------------------------------------------------------------- one episode


def check_episode(
    ctx: Context,
    spaces: Spaces,
    i: int,
    obs: Any,
    acts: Any,
    rews: Any,
) -> int:
    """Structure and shapes of episode `i` (before concatenation); returns its length."""
    f = ctx.fields
    where = f"of episode {i + ctx.first_episode}"
    acts = np.asarray(acts)
    if acts.ndim == 0:
        ctx.fail(f.acts, f"{where} is a scalar, expected one row per step", INCONSISTENT_FIX)
    n = len(acts)
    _check_rows(ctx, f.acts, where, acts, spaces.action, n, "action")
    for key, sub, arr in _obs_leaves(ctx, spaces.observation, obs, where):
        _check_rows(ctx, f.obs_key(key), where, np.asarray(arr), sub, n + 1, "observation")
    if rews is not None and np.shape(rews) != (n,):
        ctx.fail(
            f.rews,
            f"{where} has shape {np.shape(rews)}, expected ({n},): one reward per action",
            INCONSISTENT_FIX,
        )
    return n


def _obs_leaves(
    ctx: Context, space: gym.Space, obs: Any, where: str
) -> Iterator[tuple[str | None, gym.Space, Any]]:
    field = ctx.fields.obs
    if not isinstance(space, gs.Dict):
        if isinstance(obs, Mapping):
            ctx.fail(field, f"{where} is a dict but the space is {describe(space)}", ctx.env_fix)
        yield None, space, obs
        return
    if not isinstance(obs, Mapping):
        ctx.fail(field, f"{where} is an array but the space is a Dict", ctx.env_fix)
    missing = sorted(set(space.spaces) - set(obs))
    extra = sorted(set(obs) - set(space.spaces))
    if missing:
        ctx.fail(ctx.fields.obs_key(missing[0]), f"is missing {where}", INCONSISTENT_FIX)
    if extra:
        ctx.fail(
            ctx.fields.obs_key(extra[0]),
            f"{where} is not a key of the observation space {describe(space)}",
            ctx.env_fix,
        )
    for key, sub in space.spaces.items():
        yield key, sub, obs[key]


def _check_rows(
    ctx: Context, field: str, where: str, arr: np.ndarray, space: gym.Space, rows: int, what: str
) -> None:
    expected = (rows, *(space.shape or ()))
    if arr.shape != expected:
        ctx.fail(
            field,
            f"{where} has shape {arr.shape}, expected {expected} "
            f"({rows} {what}s of {describe(space)})",
            ctx.env_fix if arr.shape[1:] != space.shape else INCONSISTENT_FIX,
        )


# --------------------------------------------------------------------------- flat data


def validate_flat(ctx: Context, spaces: Spaces, flat: FlatEpisodes) -> FlatEpisodes:
    """Every check on the concatenated data; returns it cast to the spaces' dtypes."""
    f = ctx.fields
    lengths = _lengths(ctx, flat.lengths)
    n, steps = len(lengths), int(lengths.sum())
    terminated = _flags(ctx, f.terminated, flat.terminated, n)
    truncated = _flags(ctx, f.truncated, flat.truncated, n)
    both = np.flatnonzero(terminated & truncated)
    if len(both):
        ctx.fail(
            f.terminated,
            f"and field '{f.truncated}' are both set for episode {both[0] + ctx.first_episode}",
            "an episode ends either terminated (a terminal state) or truncated (cut short); "
            "fix the recorder or drop that episode",
        )
    acts = _leaf(ctx, f.acts, flat.acts, spaces.action, lengths, is_obs=False)
    if isinstance(spaces.observation, gs.Dict):
        if not isinstance(flat.obs, Mapping):
            ctx.fail(f.obs, "is one array but the observation space is a Dict", ctx.env_fix)
        obs: Obs = {
            k: _leaf(ctx, f.obs_key(k), flat.obs[k], sub, lengths, is_obs=True)
            for k, sub in spaces.observation.spaces.items()
        }
    else:
        if isinstance(flat.obs, Mapping):
            ctx.fail(
                f.obs, f"is a dict but the space is {describe(spaces.observation)}", ctx.env_fix
            )
        obs = _leaf(ctx, f.obs, flat.obs, spaces.observation, lengths, is_obs=True)
    has_rews = _flags(ctx, "has_rews", flat.has_rews, n)
    rews = None if flat.rews is None else _rews(ctx, flat.rews, has_rews, lengths, steps)
    return FlatEpisodes(obs, acts, rews, has_rews, lengths, terminated, truncated)


def _lengths(ctx: Context, lengths: Any) -> np.ndarray:
    field = ctx.fields.lengths
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        ctx.fail(
            field,
            f"has shape {arr.shape} and dtype {arr.dtype}, expected one integer per episode",
            INCONSISTENT_FIX,
        )
    if len(arr) == 0:
        ctx.fail(field, "is empty: the dataset holds no episodes", "collect demonstrations again")
    if (arr < 0).any():
        bad = int(np.argmax(arr < 0))
        ctx.fail(field, f"is negative ({arr[bad]}) for episode {bad}", INCONSISTENT_FIX)
    return arr.astype(np.int64)


def _flags(ctx: Context, field: str, flags: Any, n: int) -> np.ndarray:
    arr = np.asarray(flags)
    if arr.shape != (n,):
        ctx.fail(
            field,
            f"has shape {arr.shape}, expected ({n},): one flag per episode",
            INCONSISTENT_FIX,
        )
    if arr.dtype.kind != "b" and not (arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all()):
        ctx.fail(field, f"has dtype {arr.dtype}, expected booleans (or 0/1)", INCONSISTENT_FIX)
    return arr.astype(bool)


def _rews(
    ctx: Context, rews: np.ndarray, has_rews: np.ndarray, lengths: np.ndarray, steps: int
) -> np.ndarray:
    field = ctx.fields.rews
    if rews.shape != (steps,):
        ctx.fail(
            field,
            f"has shape {rews.shape}, expected ({steps},): one reward per step of "
            f"'{ctx.fields.lengths}'",
            INCONSISTENT_FIX,
        )
    if rews.dtype.kind not in "biuf":
        ctx.fail(field, f"has dtype {rews.dtype}, expected floats", INCONSISTENT_FIX)
    out = rews.astype(np.float64)
    bad = ~np.isfinite(out) & np.repeat(has_rews, lengths)
    if bad.any():
        row = int(np.argmax(bad))
        ctx.fail(
            field,
            f"has a non-finite value ({out[row]}) at {ctx.at(row, lengths, False)}",
            "drop or re-record that episode; learners cannot use NaN or infinite values",
        )
    return out


def _leaf(
    ctx: Context, field: str, arr: Any, space: gym.Space, lengths: np.ndarray, is_obs: bool
) -> np.ndarray:
    """Check one array (obs, obs/<key> or acts) against its space; return it cast."""
    arr = np.asarray(arr)
    what = "observation" if is_obs else "action"
    if arr.ndim == 0 or arr.shape[1:] != space.shape:
        ctx.fail(
            field,
            f"has shape {arr.shape} but the {what} space {describe(space)} expects rows of shape "
            f"{space.shape}",
            ctx.env_fix,
        )
    steps = int(lengths.sum())
    rows = steps + len(lengths) if is_obs else steps
    if len(arr) != rows:
        extra = f" plus {len(lengths)} final observations" if is_obs else ""
        ctx.fail(
            ctx.fields.lengths,
            f"adds up to {steps} steps{extra} but field '{field}' has {len(arr)} rows",
            INCONSISTENT_FIX,
        )
    target = np.dtype(space.dtype)
    if arr.dtype.kind not in "biuf":
        ctx.fail(
            field, f"has dtype {arr.dtype} but {describe(space)} holds {target}", INCONSISTENT_FIX
        )
    if target.kind == "f":
        out = arr.astype(target, copy=False)
        _check_finite(ctx, field, out, lengths, is_obs)
        if not is_obs and isinstance(space, gs.Box):
            _check_range(ctx, field, out, space, lengths, is_obs)
        return out
    if arr.dtype.kind == "f":
        _check_finite(ctx, field, arr, lengths, is_obs)
        _check_integral(ctx, field, arr, space, lengths, is_obs)
    if not np.can_cast(arr.dtype, target) or not isinstance(space, gs.Box) or not is_obs:
        _check_range(ctx, field, arr, space, lengths, is_obs)
    return arr.astype(target, copy=False)


def _check_finite(
    ctx: Context, field: str, arr: np.ndarray, lengths: np.ndarray, is_obs: bool
) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        row, inner = _first(bad)
        ctx.fail(
            field,
            f"has a non-finite value ({arr[row][inner]}) at {ctx.at(row, lengths, is_obs)}",
            "drop or re-record that episode; learners cannot use NaN or infinite values",
        )


def _check_integral(
    ctx: Context, field: str, arr: np.ndarray, space: gym.Space, lengths: np.ndarray, is_obs: bool
) -> None:
    bad = arr != np.round(arr)
    if bad.any():
        row, inner = _first(bad)
        ctx.fail(
            field,
            f"has a non-integral value {arr[row][inner]} at {ctx.at(row, lengths, is_obs)} "
            f"but {describe(space)} holds integers",
            f"store whole numbers ({np.dtype(space.dtype)}) in '{field}'",
        )


def _bounds(space: gym.Space, is_obs: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Inclusive lower and upper limits of the values, and how to describe them."""
    if isinstance(space, gs.Discrete):
        lo, hi = int(space.start), int(space.start + space.n - 1)
        return np.array(lo), np.array(hi), f"{space} (values {lo}..{hi})"
    if isinstance(space, gs.MultiDiscrete):
        return space.start, space.start + space.nvec - 1, f"{space}"
    assert isinstance(space, gs.Box)
    dtype = np.dtype(space.dtype)
    if dtype.kind == "b":
        return np.array(0), np.array(1), f"{dtype}"
    if is_obs:  # only the dtype's range: observations may lie outside the Box's bounds
        info = np.iinfo(dtype)
        return np.array(info.min), np.array(info.max), f"the range of {dtype}"
    low = space.low.astype(np.float64) - BOUNDS_TOL
    high = space.high.astype(np.float64) + BOUNDS_TOL
    return low, high, f"the bounds of {describe(space)}"


def _check_range(
    ctx: Context, field: str, arr: np.ndarray, space: gym.Space, lengths: np.ndarray, is_obs: bool
) -> None:
    lo, hi, text = _bounds(space, is_obs)
    bad = (arr < lo) | (arr > hi)
    if not bad.any():
        return
    row, inner = _first(bad)
    if not is_obs and isinstance(space, gs.Box) and describe(space) != str(space):
        text = f"[{space.low[inner]}, {space.high[inner]}], {text}"  # this element's bounds
    elem = f" (element {inner})" if inner and int(np.prod(space.shape or ())) > 1 else ""
    fix = ctx.env_fix
    if not is_obs:
        fix = f"clip or map the actions into {describe(space)}, or pass --env matching the dataset"
    ctx.fail(
        field,
        f"has value {arr[row][inner]}{elem} outside {text} at {ctx.at(row, lengths, is_obs)}",
        fix,
    )


def _first(bad: np.ndarray) -> tuple[int, tuple[int, ...]]:
    """Row and in-row index of the first True of a (rows, *shape) mask."""
    row = int(np.argmax(bad.reshape(len(bad), -1).any(axis=1)))
    if bad.ndim == 1:
        return row, ()
    flat = int(np.argmax(bad[row].reshape(-1)))
    return row, tuple(int(j) for j in np.unravel_index(flat, bad.shape[1:]))

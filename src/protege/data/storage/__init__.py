"""Save and load demonstrations as one .npz file or a Minari dataset directory, validated.

Writes are atomic (a temporary sibling, then a rename), so a crash never leaves a half file and
existing data is never lost; every load checks the data against its spaces (see `validate`).

Here: the public API, and the format chosen by the path. Each format has its module (`npz`,
`minari`), beside the atomic writes (`atomic`), the memory check (`memory`), which paths a save
may replace (`targets`), what both formats share (`common`) and what a dataset keeps beside
its steps: each episode's metadata, preferences and a given ranking (`extras`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from protege.data.preferences import Preference
from protege.data.storage.atomic import _atomic_write_dir, _atomic_write_file
from protege.data.storage.common import FORMAT, FORMAT_VERSION, Demonstrations
from protege.data.storage.extras import (
    EPISODE_META,
    PREF_SEGMENTS,
    PREFERENCES,
    RANKING,
    Extras,
    check_extras,
    episode_meta,
)
from protege.data.storage.memory import (
    available_memory,
    check_fits_in_memory,
    check_fits_on_disk,
)
from protege.data.storage.minari import (
    _dataset_id,
    _load_minari,
    _local_minari_dir,
    _looks_like_minari_id,
    _minari_data_dir,
    _write_minari,
)
from protege.data.storage.npz import _load_npz, _npz_arrays, _write_npz
from protege.data.storage.targets import NPZ_SUFFIX, _check_target, _is_npz
from protege.data.types import Trajectory, obs_concat
from protege.data.validate import (
    MINARI_FIELDS,
    NPZ_FIELDS,
    Context,
    FlatEpisodes,
    check_supported,
    flatten_for_storage,
    validate_flat,
)
from protege.envs import Spaces, env_spaces
from protege.errors import DatasetError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "NPZ_SUFFIX",
    "DatasetWriter",
    "Demonstrations",
    "available_memory",
    "check_fits_in_memory",
    "load_preferences",
    "load_trajectories",
    "save_preferences",
    "save_trajectories",
]


# --------------------------------------------------------------------------- public API


def save_trajectories(
    path: str | Path,
    trajs: Sequence[Trajectory] | Demonstrations,
    env_id: str | None = None,
    spaces: Spaces | None = None,
    *,
    overwrite: bool = False,
    preferences: Sequence[Preference] | None = None,
    ranking: Sequence[int] | None = None,
) -> Path:
    """Validate `trajs` against `spaces` and write them atomically to `path`.

    trajs: the episodes, each with its `meta`, or what `load_trajectories` returned (a
        `Demonstrations`, whose env id, spaces, preferences and ranking are then the
        defaults: save and load mirror each other).
    preferences: segment comparisons over these episodes, kept with them.
    ranking: episode indices, best first, as given by a person (it may leave some out).
    A path ending in .npz gives one flat .npz file; any other path a Minari dataset directory
    (`<path>/data/`). Existing data at `path` is replaced only with `overwrite`.
    """
    if isinstance(trajs, Demonstrations):
        env_id = env_id if env_id is not None else trajs.env_id
        spaces = spaces if spaces is not None else trajs.spaces
        preferences = preferences if preferences is not None else trajs.preferences
        ranking = ranking if ranking is not None else trajs.ranking
        trajs = trajs.trajectories
    if spaces is None:
        if env_id is None:
            raise DatasetError(f"{path}: pass the env id or its spaces to save episodes")
        spaces = env_spaces(env_id)
    target = Path(path)
    _check_target(target, overwrite)
    flat, meta = _prepare(target, trajs, spaces)
    extras = Extras(meta, tuple(preferences or ()), None if ranking is None else tuple(ranking))
    check_extras(_save_context(target), extras, flat.lengths, _preference_fields(target))
    _write(target, flat, env_id, spaces, overwrite, extras)
    return target


def save_preferences(
    path: str | Path, preferences: Sequence[Preference], ranking: Sequence[int] | None = None
) -> Path:
    """Store `preferences` (and a given `ranking`) with the dataset at `path`, replacing those
    it held; its episodes stay as they are. The dataset is read, checked and rewritten
    atomically in protege's format (a Minari dataset made by another tool gets protege's
    metadata), so a crash leaves the old one whole.

    Raises:
        DatasetError: a segment outside the episodes, a ranking naming an episode that is not
            there, or the dataset cannot be read; nothing is written then.
    """
    target = Path(path)
    if not target.exists():
        raise DatasetError(
            f"{path}: no such dataset; preferences are stored with the episodes they compare, "
            f"so save those first (e.g. protege collect ENV_ID --out {path})"
        )
    if target.name == "data" and (target / "metadata.json").is_file():
        target = target.parent  # a Minari dataset's data directory: the dataset is above it
    demos = load_trajectories(target)
    kept = replace(demos, preferences=list(preferences), ranking=None)
    return save_trajectories(target, kept, overwrite=True, ranking=ranking)


def load_preferences(path_or_id: str | Path) -> tuple[list[Preference], list[int] | None]:
    """The preferences and the given ranking (None when none was given) stored with a
    dataset, checked against its episodes (see `load_trajectories`)."""
    demos = load_trajectories(path_or_id)
    return demos.preferences, demos.ranking


def load_trajectories(
    path_or_id: str | Path, *, env_id: str | None = None, spaces: Spaces | None = None
) -> Demonstrations:
    """Read and validate demonstrations from a .npz file, a Minari directory or a local Minari id.

    env_id / spaces: what the data will be used with; the file's spaces must be compatible
        (given only env_id, the env is built once to get its spaces). The file is only read.
    """
    if spaces is None and env_id is not None:
        spaces = env_spaces(env_id)
    name = str(path_or_id)
    path = Path(path_or_id)
    if path.is_file():
        if not _is_npz(path):
            raise DatasetError(
                f"{name}: not a dataset: protege reads .npz files and Minari dataset "
                "directories; pass one of those"
            )
        return _load_npz(path, name, env_id, spaces)
    if path.is_dir():
        return _load_minari(_minari_data_dir(path, name), name, env_id, spaces)
    if path.exists():
        raise DatasetError(f"{name}: not a regular file or directory; pass a dataset path")
    if isinstance(path_or_id, str) and _looks_like_minari_id(path_or_id):
        return _load_minari(_local_minari_dir(path_or_id), name, env_id, spaces)
    raise DatasetError(
        f"{name}: no such file or directory; check the path, or collect demonstrations first "
        f"with `protege collect ENV_ID --out {name}`"
    )


class DatasetWriter:
    """Append episodes one at a time; the dataset is rewritten atomically after each one.

    For recorders and collectors: a crash or kill keeps every episode added before it. An
    existing `path` is refused here, at once (not at the first `add`), unless `overwrite`.
    """

    def __init__(
        self, path: str | Path, env_id: str | None, spaces: Spaces, *, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        self.env_id = env_id
        self.spaces = spaces
        self._overwrite = overwrite
        _check_target(self.path, overwrite)
        check_supported(Context(f"{path} (not saved)"), spaces)
        self._episodes: list[FlatEpisodes] = []
        self._meta: list[dict] = []  # each episode's checked metadata, in the same order
        self._keys: list[int] = []  # the position each episode was added at

    def add(self, traj: Trajectory, position: int | None = None) -> None:
        """Validate one episode and rewrite the dataset with it in place.

        position: the episode's index (a vectorised rollout finishes episodes out of
        order): the file always holds the finished episodes in index order, so once every
        episode is added it is the whole dataset, written with no second pass."""
        key = len(self._episodes) if position is None else position
        at = sum(k < key for k in self._keys)
        episode, (meta,) = _prepare(self.path, [traj], self.spaces, index=at)
        overwrite = self._overwrite or bool(self._episodes)
        episodes = [*self._episodes[:at], episode, *self._episodes[at:]]
        metas = [*self._meta[:at], meta, *self._meta[at:]]
        extras = Extras(tuple(metas))
        _write(self.path, _join(episodes), self.env_id, self.spaces, overwrite, extras)
        self._episodes, self._keys = episodes, [*self._keys[:at], key, *self._keys[at:]]
        self._meta = metas

    def __len__(self) -> int:
        return len(self._episodes)


# --------------------------------------------------------------------------- saving


def _prepare(
    target: Path, trajs: Sequence[Trajectory], spaces: Spaces, index: int = 0
) -> tuple[FlatEpisodes, tuple[dict, ...]]:
    """The checks of a load, run before writing, so that what protege saves always loads;
    the episodes flat, and their metadata."""
    ctx = _save_context(target, index)
    check_supported(ctx, spaces)
    flat = validate_flat(ctx, spaces, flatten_for_storage(ctx, spaces, trajs))
    meta = episode_meta(ctx, trajs, _extra_field(target, EPISODE_META))
    if not _is_npz(target) and (flat.lengths == 0).any():
        ctx.fail(
            MINARI_FIELDS.acts,
            f"of episode {int(np.argmax(flat.lengths == 0)) + index} is empty; Minari "
            "datasets cannot hold episodes without steps",
            "drop that episode or save to a .npz file",
        )
    return flat, meta


def _save_context(target: Path, index: int = 0) -> Context:
    fields = NPZ_FIELDS if _is_npz(target) else MINARI_FIELDS
    return Context(f"{target} (not saved)", fields, first_episode=index)


def _extra_field(target: Path, name: str) -> str:
    """What the format calls an extra: a .npz field, or an entry of Minari's `protege` block."""
    return name if _is_npz(target) else f"protege.{name}"


def _preference_fields(target: Path) -> tuple[str, str]:
    """The names of the preferences and of the ranking in `target`'s format."""
    prefs = PREF_SEGMENTS if _is_npz(target) else PREFERENCES
    return _extra_field(target, prefs), _extra_field(target, RANKING)


def _join(parts: Sequence[FlatEpisodes]) -> FlatEpisodes:
    has_rews = np.concatenate([p.has_rews for p in parts])
    rews = None
    if has_rews.any():
        rews = np.concatenate(
            [np.full(int(p.lengths.sum()), np.nan) if p.rews is None else p.rews for p in parts]
        )
    return FlatEpisodes(
        obs=obs_concat([p.obs for p in parts]),
        acts=np.concatenate([p.acts for p in parts]),
        rews=rews,
        has_rews=has_rews,
        lengths=np.concatenate([p.lengths for p in parts]),
        terminated=np.concatenate([p.terminated for p in parts]),
        truncated=np.concatenate([p.truncated for p in parts]),
    )


def _write(
    target: Path,
    flat: FlatEpisodes,
    env_id: str | None,
    spaces: Spaces,
    overwrite: bool,
    extras: Extras = Extras(),
) -> None:
    check_fits_on_disk(target, _nbytes(flat))
    if _is_npz(target):
        arrays = _npz_arrays(flat, env_id, spaces, extras)
        _atomic_write_file(target, overwrite, lambda f: _write_npz(f, arrays))
    else:
        dataset_id = _dataset_id(target)
        _atomic_write_dir(
            target,
            overwrite,
            lambda tmp: _write_minari(tmp, flat, env_id, spaces, dataset_id, extras),
        )


def _nbytes(flat: FlatEpisodes) -> int:
    """The bytes of a dataset's arrays, what writing it takes on disk before overhead."""
    obs = flat.obs.values() if isinstance(flat.obs, dict) else [flat.obs]
    arrays = [*obs, flat.acts, flat.rews, flat.has_rews, flat.lengths, flat.terminated,
              flat.truncated]  # fmt: skip
    return sum(int(np.asarray(a).nbytes) for a in arrays if a is not None)

"""The Minari format: a dataset directory (`<path>/data/`: metadata.json, main_data.hdf5).

protege's own entries live in the `protege` block of metadata.json: the format version, the
env id, which episodes have no rewards, and (see `extras`) each episode's metadata, the
preferences and a given ranking, as JSON lists.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import minari
import numpy as np
from minari.data_collector import EpisodeBuffer
from minari.dataset.minari_dataset import DATASET_ID_RE
from minari.dataset.minari_storage import MinariStorage

import protege
from protege.data.storage.atomic import _fsync
from protege.data.storage.common import (
    _READ_ERRORS,
    FORMAT_VERSION,
    Demonstrations,
    _check_version,
    _describe,
)
from protege.data.storage.extras import Extras, block_extras, read_block_extras
from protege.data.storage.memory import check_fits_in_memory
from protege.data.types import obs_concat
from protege.data.validate import (
    INCONSISTENT_FIX,
    MINARI_FIELDS,
    Context,
    FlatEpisodes,
    check_compatible,
    check_episode,
    check_supported,
    validate_flat,
)
from protege.envs import Spaces
from protege.errors import DatasetError

_MINARI_KEYS = ("observations", "actions", "rewards", "terminations", "truncations")


# --------------------------------------------------------------------------- saving


def _write_minari(
    tmp: Path,
    flat: FlatEpisodes,
    env_id: str | None,
    spaces: Spaces,
    dataset_id: str,
    extras: Extras = Extras(),
) -> None:
    """A Minari dataset directory (`tmp/data/`), images stored losslessly."""
    tmp.mkdir()
    storage = MinariStorage.new(
        tmp.resolve() / "data",  # Minari joins a relative data path onto itself
        observation_space=spaces.observation,
        action_space=spaces.action,
        env_spec=_env_spec(env_id),
        data_format="hdf5",
        jpeg_encoding=False,
    )
    storage.update_episodes(_episode_buffers(flat))
    protege_meta = {
        "format_version": FORMAT_VERSION,
        "env_id": env_id,
        "episodes_without_rewards": [int(i) for i in np.flatnonzero(~flat.has_rews)],
        "protege_version": protege.__version__,
        **block_extras(extras),
    }
    storage.update_metadata(
        {"dataset_id": dataset_id, "minari_version": minari.__version__, "protege": protege_meta}
    )
    for file in (tmp / "data").iterdir():
        _fsync(file)


def _episode_buffers(flat: FlatEpisodes) -> list[EpisodeBuffer]:
    buffers = []
    for t in flat.trajectories():
        last = np.arange(len(t)) == len(t) - 1
        rews = t.rews if t.rews is not None else np.full(len(t), np.nan)  # see the metadata
        buffers.append(
            EpisodeBuffer(
                observations=dict(t.obs) if isinstance(t.obs, dict) else t.obs,
                actions=t.acts,
                rewards=rews,
                terminations=last & t.terminated,
                truncations=last & t.truncated,
            )
        )
    return buffers


def _env_spec(env_id: str | None) -> gym.envs.registration.EnvSpec | None:
    """The registered spec of `env_id` when it can be stored, so Minari can rebuild the env."""
    if env_id is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = gym.spec(env_id)
            spec.to_json()
    except (gym.error.Error, TypeError, ValueError):
        return None
    return spec


def _minari_root() -> Path:
    """Minari's local datasets directory (computed, not created)."""
    root = os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root else Path.home() / ".minari" / "datasets"


def _dataset_id(target: Path) -> str:
    """Its path relative to Minari's root when it lies there, else `protege/<name>-v0`."""
    try:
        rel = target.resolve().relative_to(_minari_root().resolve()).as_posix()
        if DATASET_ID_RE.fullmatch(rel) and re.search(r"-v\d+$", rel):
            return rel
    except ValueError:
        pass
    name = re.sub(r"[^-\w]", "_", target.name).strip("-_") or "dataset"
    return f"protege/{name}" if re.search(r"-v\d+$", name) else f"protege/{name}-v0"


# --------------------------------------------------------------------------- loading


def _looks_like_minari_id(text: str) -> bool:
    """'namespace/name-v0' (not a path such as ./x, /x, ~/x or x.npz)."""
    if text.startswith((".", "~", "/", "\\")) or Path(text).suffix:
        return False
    return DATASET_ID_RE.fullmatch(text) is not None


def _minari_data_dir(path: Path, name: str) -> Path:
    for d in (path / "data", path):
        if (d / "metadata.json").is_file():
            return d
    raise DatasetError(
        f"{name}: field 'metadata.json' is missing: this directory is not a Minari dataset "
        "(expected data/metadata.json and data/main_data.hdf5); pass a .npz file or a Minari "
        "dataset directory"
    )


def _local_minari_dir(dataset_id: str) -> Path:
    """The data directory of a dataset in Minari's local store; never downloads."""
    try:
        if not (_minari_root() / dataset_id / "data").exists():  # don't let Minari mkdir
            raise FileNotFoundError(dataset_id)
        dataset = minari.load_dataset(dataset_id, download=False)
    except FileNotFoundError:
        local: list[str] = []
        if _minari_root().is_dir():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                local = sorted(minari.list_local_datasets())
        listed = ", ".join(local[:10]) + (", ..." if len(local) > 10 else "") if local else "none"
        raise DatasetError(
            f"{dataset_id}: not an existing file or directory, nor a local Minari dataset "
            f"(local ids: {listed}; stored under {_minari_root()}); check the path, or download "
            f"the dataset first with `minari download {dataset_id}` (protege never downloads)"
        ) from None
    except _READ_ERRORS as exc:
        raise DatasetError(
            f"{dataset_id}: cannot read the local Minari dataset ({_describe(exc)}); "
            f"download it again with `minari download {dataset_id}`"
        ) from None
    return Path(dataset.storage.data_path)


def _load_minari(
    data_dir: Path, name: str, env_id: str | None, want: Spaces | None
) -> Demonstrations:
    ctx = Context(name, MINARI_FIELDS)
    meta = _minari_meta(ctx, data_dir)
    block = meta.get("protege")
    if block is not None:
        if not isinstance(block, dict):
            ctx.fail("protege", "is not a JSON object", INCONSISTENT_FIX)
        _check_version(ctx, "protege", block.get("format_version"))
    block = block or {}
    file_env = block.get("env_id") or _spec_id(meta.get("env_spec"))
    try:
        storage = MinariStorage.read(data_dir)
    except _READ_ERRORS as exc:
        raise DatasetError(
            f"{name}: cannot read the Minari dataset ({_describe(exc)}); it is corrupted or "
            "incomplete; write or download it again"
        ) from None
    spaces = Spaces(storage.observation_space, storage.action_space)
    check_supported(ctx, spaces)
    ctx = replace(ctx, env=env_id or file_env)
    if want is not None:
        check_compatible(ctx, spaces, want, env_id, file_env)
    total = meta.get("total_episodes")
    if not isinstance(total, int) or total < 0:
        ctx.fail("total_episodes", f"is {total!r}, expected a count", INCONSISTENT_FIX)
    if total == 0:
        ctx.fail("total_episodes", "is 0: the dataset holds no episodes", "collect it again")
    if meta.get("data_format") == "hdf5":
        hdf5 = data_dir / "main_data.hdf5"
        if hdf5.is_file():
            check_fits_in_memory(name, hdf5.stat().st_size)
        _check_hdf5(ctx, hdf5, total, spaces)
    try:
        episodes = list(storage.get_episodes(range(total)))
    except _READ_ERRORS as exc:
        raise DatasetError(
            f"{name}: cannot read the episodes ({_describe(exc)}); the dataset is corrupted or "
            "truncated; write or download it again"
        ) from None
    without = set(block.get("episodes_without_rewards", []))
    flat = validate_flat(ctx, spaces, _flatten_minari(ctx, spaces, episodes, without))
    extras = read_block_extras(ctx, block, flat.lengths)
    metas = extras.episode_meta
    trajs = [replace(t, meta=m) for t, m in zip(flat.trajectories(), metas, strict=True)]
    ranking = None if extras.ranking is None else list(extras.ranking)
    return Demonstrations(trajs, file_env, spaces, name, list(extras.preferences), ranking)


def _minari_meta(ctx: Context, data_dir: Path) -> dict[str, Any]:
    field = ctx.fields.meta
    try:
        meta = json.loads((data_dir / "metadata.json").read_text())
    except (OSError, ValueError) as exc:
        ctx.fail(field, f"cannot be read ({_describe(exc)})", "write or download it again")
    if not isinstance(meta, dict):
        ctx.fail(field, "is not a JSON object", "write or download the dataset again")
    version = meta.get("minari_version")
    if version is not None and version not in minari.supported_dataset_versions:
        ctx.fail(
            "minari_version",
            f"is {version}, a dataset format this Minari ({minari.__version__}) cannot read",
            "upgrade minari (pip install -U minari)",
        )
    return meta


def _spec_id(env_spec: Any) -> str | None:
    try:
        env = json.loads(env_spec)["id"] if isinstance(env_spec, str) else None
    except (ValueError, KeyError, TypeError):
        return None
    return env if isinstance(env, str) else None


def _check_hdf5(ctx: Context, file: Path, total: int, spaces: Spaces) -> None:
    """Every episode group is there with every field (opened read-only)."""
    fix = "the dataset is incomplete; write or download it again"
    try:
        with h5py.File(file, "r") as h5:
            groups = len(h5.keys())
            if groups != total:
                ctx.fail("total_episodes", f"is {total} but the data holds {groups}", fix)
            for i in range(total):
                group = h5.get(f"episode_{i}")
                if not isinstance(group, h5py.Group):
                    ctx.fail(f"episode_{i}", "is missing from main_data.hdf5", fix)
                for key in _MINARI_KEYS:
                    if key not in group:
                        ctx.fail(key, f"is missing from episode {i}", fix)
                obs = group["observations"]
                if isinstance(spaces.observation, gym.spaces.Dict) and isinstance(obs, h5py.Group):
                    for key in sorted(set(obs.keys()) ^ set(spaces.observation.spaces)):
                        ctx.fail(
                            ctx.fields.obs_key(key),
                            f"of episode {i} does not match the observation space keys "
                            f"{sorted(spaces.observation.spaces)}",
                            fix,
                        )
    except _READ_ERRORS as exc:
        raise DatasetError(
            f"{ctx.name}: cannot read main_data.hdf5 ({_describe(exc)}); it is corrupted or "
            "truncated; write or download the dataset again"
        ) from None


def _flatten_minari(
    ctx: Context, spaces: Spaces, episodes: list[dict[str, Any]], without_rews: set[int]
) -> FlatEpisodes:
    f = ctx.fields
    lengths: list[int] = []
    terminated: list[bool] = []
    truncated: list[bool] = []
    for i, ep in enumerate(episodes):
        n = check_episode(ctx, spaces, i, ep["observations"], ep["actions"], ep["rewards"])
        lengths.append(n)
        flag_fields = (
            (f.terminated, "terminations", terminated),
            (f.truncated, "truncations", truncated),
        )
        for field, key, out in flag_fields:
            flags = np.asarray(ep[key])
            if flags.shape != (n,):
                ctx.fail(
                    field,
                    f"of episode {i} has shape {flags.shape}, expected ({n},)",
                    INCONSISTENT_FIX,
                )
            early = np.flatnonzero(flags[:-1])
            if len(early):
                ctx.fail(
                    field,
                    f"of episode {i} is set at step {early[0]}, before its last step {n - 1}",
                    "split the episode there, or save the demonstrations again with protege",
                )
            out.append(bool(flags[-1]) if n else False)
    return FlatEpisodes(
        obs=obs_concat([ep["observations"] for ep in episodes]),
        acts=np.concatenate([np.asarray(ep["actions"]) for ep in episodes]),
        rews=np.concatenate([np.asarray(ep["rewards"]) for ep in episodes]),
        has_rews=np.array([i not in without_rews for i in range(len(episodes))]),
        lengths=np.array(lengths, dtype=np.int64),
        terminated=np.array(terminated),
        truncated=np.array(truncated),
    )

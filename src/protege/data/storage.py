"""Save and load demonstrations as one .npz file or a Minari dataset directory, validated.

Writes are atomic (a temporary sibling, then a rename), so a crash never leaves a half file and
existing data is never lost; every load checks the data against its spaces (see `validate`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import minari
import numpy as np
from minari.data_collector import EpisodeBuffer
from minari.dataset.minari_dataset import DATASET_ID_RE
from minari.dataset.minari_storage import MinariStorage
from minari.serialization import deserialize_space, serialize_space

import protege
from protege.data.types import Trajectory, obs_concat
from protege.data.validate import (
    INCONSISTENT_FIX,
    MINARI_FIELDS,
    NPZ_FIELDS,
    Context,
    FlatEpisodes,
    check_compatible,
    check_episode,
    check_supported,
    flatten_for_storage,
    validate_flat,
)
from protege.envs import Spaces, env_spaces
from protege.errors import DatasetError

FORMAT = "protege.demonstrations"
FORMAT_VERSION = 1
"""Version of the .npz layout and of the `protege` block in Minari metadata; bump on change."""

NPZ_SUFFIX = ".npz"
_FILE_SUFFIXES = {".npy", ".h5", ".hdf5", ".pkl", ".pickle", ".json", ".zip", ".pt", ".csv"}
_MINARI_KEYS = ("observations", "actions", "rewards", "terminations", "truncations")
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    TypeError,
    AssertionError,
    NotImplementedError,
    ImportError,
    gym.error.Error,
)
"""What reading a damaged file can raise (h5py and zipfile among them); all become 'cannot read'."""


@dataclass(frozen=True)
class Demonstrations:
    """Loaded, validated episodes and what the file records about them."""

    trajectories: list[Trajectory]
    env_id: str | None
    spaces: Spaces
    source: str


# --------------------------------------------------------------------------- public API


def save_trajectories(
    path: str | Path,
    trajs: Sequence[Trajectory],
    env_id: str | None,
    spaces: Spaces,
    *,
    overwrite: bool = False,
) -> Path:
    """Validate `trajs` against `spaces` and write them atomically to `path`.

    A path ending in .npz gives one flat .npz file; any other path a Minari dataset directory
    (`<path>/data/`). Existing data at `path` is replaced only with `overwrite`.
    """
    target = Path(path)
    _check_target(target, overwrite)
    flat = _prepare(target, trajs, spaces)
    _write(target, flat, env_id, spaces, overwrite)
    return target


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

    def add(self, traj: Trajectory) -> None:
        """Validate one episode and rewrite the dataset with it appended."""
        episode = _prepare(self.path, [traj], self.spaces, index=len(self._episodes))
        overwrite = self._overwrite or bool(self._episodes)
        flat = _join([*self._episodes, episode])
        _write(self.path, flat, self.env_id, self.spaces, overwrite)
        self._episodes.append(episode)

    def __len__(self) -> int:
        return len(self._episodes)


# --------------------------------------------------------------------------- saving


def _prepare(
    target: Path, trajs: Sequence[Trajectory], spaces: Spaces, index: int = 0
) -> FlatEpisodes:
    """The checks of a load, run before writing, so that what protege saves always loads."""
    fields = NPZ_FIELDS if _is_npz(target) else MINARI_FIELDS
    ctx = Context(f"{target} (not saved)", fields, first_episode=index)
    check_supported(ctx, spaces)
    flat = validate_flat(ctx, spaces, flatten_for_storage(ctx, spaces, trajs))
    if fields is MINARI_FIELDS and (flat.lengths == 0).any():
        ctx.fail(
            fields.acts,
            f"of episode {int(np.argmax(flat.lengths == 0)) + index} is empty; Minari "
            "datasets cannot hold episodes without steps",
            "drop that episode or save to a .npz file",
        )
    return flat


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


def _check_target(target: Path, overwrite: bool) -> None:
    if target.suffix.lower() in _FILE_SUFFIXES:
        raise DatasetError(
            f"{target}: '{target.suffix}' is not a dataset format; use a path ending in .npz, "
            "or a directory path without a suffix for a Minari dataset"
        )
    if not os.path.lexists(target):
        return
    if not overwrite:
        raise DatasetError(
            f"{target}: already exists; pass --overwrite to replace it, or choose another path"
        )
    if _is_npz(target) and target.is_dir():
        raise DatasetError(
            f"{target}: is a directory; it will not be replaced by a file, even with "
            "--overwrite; choose another path"
        )
    if not _is_npz(target) and not (target.is_dir() and _is_replaceable_dir(target)):
        raise DatasetError(
            f"{target}: exists and is not a Minari dataset directory; it will not be replaced, "
            "even with --overwrite; choose another path (ending in .npz for a file)"
        )


def _is_npz(path: Path) -> bool:
    return path.suffix.lower() == NPZ_SUFFIX


def _is_replaceable_dir(path: Path) -> bool:
    return not any(path.iterdir()) or any(
        (d / "metadata.json").is_file() for d in (path, path / "data")
    )


def _write(
    target: Path, flat: FlatEpisodes, env_id: str | None, spaces: Spaces, overwrite: bool
) -> None:
    if _is_npz(target):
        arrays = _npz_arrays(flat, env_id, spaces)
        _atomic_write(target, overwrite, lambda tmp: _write_npz(tmp, arrays))
    else:
        dataset_id = _dataset_id(target)
        _atomic_write(
            target, overwrite, lambda tmp: _write_minari(tmp, flat, env_id, spaces, dataset_id)
        )


def _atomic_write(target: Path, overwrite: bool, write: Callable[[Path], None]) -> None:
    """Write to a temporary sibling, then rename it over `target`; never a half-written target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write(tmp)
        _commit(tmp, target, overwrite)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(target.parent)


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    _check_target(target, overwrite)  # it may have appeared while we were writing
    if tmp.is_file() and not target.is_dir():
        os.replace(tmp, target)
        return
    # a directory cannot be swapped in one step: move the old one aside, the new one in
    aside = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(aside, target)
        raise
    _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _meta(env_id: str | None, spaces: Spaces) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "env_id": env_id,
        "observation_space": serialize_space(spaces.observation, to_string=False),
        "action_space": serialize_space(spaces.action, to_string=False),
        "protege_version": protege.__version__,
    }


def _npz_arrays(flat: FlatEpisodes, env_id: str | None, spaces: Spaces) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(_meta(env_id, spaces)))}
    if isinstance(flat.obs, dict):
        arrays.update({NPZ_FIELDS.obs_key(k): v for k, v in flat.obs.items()})
    else:
        arrays["obs"] = flat.obs
    arrays["acts"] = flat.acts
    if flat.rews is not None:
        arrays["rews"] = flat.rews
        if not flat.has_rews.all():
            arrays["has_rews"] = flat.has_rews
    arrays.update(lengths=flat.lengths, terminated=flat.terminated, truncated=flat.truncated)
    return arrays


def _write_npz(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    with tmp.open("xb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
        f.flush()
        os.fsync(f.fileno())


def _write_minari(
    tmp: Path, flat: FlatEpisodes, env_id: str | None, spaces: Spaces, dataset_id: str
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


# --------------------------------------------------------------------------- loading: .npz


def _load_npz(path: Path, name: str, env_id: str | None, want: Spaces | None) -> Demonstrations:
    ctx = Context(name, NPZ_FIELDS)
    arrays = _read_npz(ctx, path)
    meta = _npz_meta(ctx, arrays)
    spaces = _meta_spaces(ctx, meta)
    file_env = meta.get("env_id")
    if file_env is not None and not isinstance(file_env, str):
        ctx.fail(NPZ_FIELDS.meta, f"has env_id {file_env!r}, expected a string", INCONSISTENT_FIX)
    ctx = replace(ctx, env=env_id or file_env)
    if want is not None:
        check_compatible(ctx, spaces, want, env_id, file_env)
    f = NPZ_FIELDS
    for field in (f.acts, f.lengths, f.terminated, f.truncated):
        _require(ctx, arrays, field)
    obs: Any
    if isinstance(spaces.observation, gym.spaces.Dict):
        keys = {k.split("/", 1)[1] for k in arrays if k.startswith(f.obs + "/")}
        obs = {k: _require(ctx, arrays, f.obs_key(k)) for k in spaces.observation.spaces}
        extra = sorted(keys - set(spaces.observation.spaces))
        if extra:
            ctx.fail(
                f.obs_key(extra[0]),
                f"is not a key of the observation space {spaces.observation}",
                INCONSISTENT_FIX,
            )
    else:
        obs = _require(ctx, arrays, f.obs)
    n = len(arrays[f.lengths]) if arrays[f.lengths].ndim == 1 else 0
    rews = arrays.get(f.rews)
    if "has_rews" in arrays and rews is None:
        ctx.fail("has_rews", f"is present but field '{f.rews}' is missing", INCONSISTENT_FIX)
    has_rews = arrays.get("has_rews", np.full(n, rews is not None))
    flat = FlatEpisodes(
        obs=obs,
        acts=arrays[f.acts],
        rews=rews,
        has_rews=has_rews,
        lengths=arrays[f.lengths],
        terminated=arrays[f.terminated],
        truncated=arrays[f.truncated],
    )
    flat = validate_flat(ctx, spaces, flat)
    return Demonstrations(flat.trajectories(), file_env, spaces, name)


def available_memory() -> int:
    """Bytes of memory the system can still give (MemAvailable), or a large number when
    the platform does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def check_fits_in_memory(name: str, nbytes: int, what: str = "its arrays") -> None:
    """Refuse, before reading, data that would not fit in memory (it would crash mid-way)."""
    free = available_memory()
    if nbytes > 0.8 * free:
        raise DatasetError(
            f"{name}: {what} need {nbytes / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB of "
            "memory is available; split the dataset into smaller files (fewer episodes each) "
            "or use a machine with more memory"
        )


def _read_npz(ctx: Context, path: Path) -> dict[str, np.ndarray]:
    """Every array of the file (opened read-only, no pickles), or 'cannot read'."""
    fix = "it is corrupted, truncated or not a .npz file; collect or copy it again"
    try:
        npz = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise DatasetError(f"{ctx.name}: cannot read the file ({_describe(exc)}); {fix}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DatasetError(f"{ctx.name}: holds a single array, not a .npz archive; {fix}")
    arrays = {}
    with npz:
        if npz.zip is not None:  # uncompressed sizes, from the archive's directory
            check_fits_in_memory(ctx.name, sum(i.file_size for i in npz.zip.infolist()))
        for key in npz.files:
            try:
                value = npz[key]
            except _READ_ERRORS as exc:
                ctx.fail(key, f"cannot be read ({_describe(exc)})", fix)
            if not isinstance(value, np.ndarray):
                ctx.fail(key, "is not a .npy array", "pass a .npz written by protege")
            arrays[key] = value
    return arrays


def _npz_meta(ctx: Context, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    field = NPZ_FIELDS.meta
    fix = "save the demonstrations with protege (protege.data.save_trajectories)"
    if field not in arrays:
        ctx.fail(field, "is missing, so this .npz is not a protege demonstrations file", fix)
    raw = arrays[field]
    if raw.ndim != 0 or raw.dtype.kind != "U":
        ctx.fail(field, f"has shape {raw.shape} and dtype {raw.dtype}, expected a string", fix)
    try:
        meta = json.loads(str(raw[()]))
    except json.JSONDecodeError as exc:
        ctx.fail(field, f"is not valid JSON ({exc})", fix)
    if not isinstance(meta, dict):
        ctx.fail(field, f"is a JSON {type(meta).__name__}, expected an object", fix)
    _check_version(ctx, field, meta.get("format_version"))
    return meta


def _check_version(ctx: Context, field: str, version: Any) -> None:
    if version == FORMAT_VERSION:
        return
    if isinstance(version, int) and version > FORMAT_VERSION:
        ctx.fail(
            field,
            f"has format version {version} but this protege ({protege.__version__}) reads "
            f"version {FORMAT_VERSION}",
            "upgrade protege (pip install -U protege)",
        )
    ctx.fail(
        field,
        f"has an unknown format version {version!r} (this protege reads {FORMAT_VERSION})",
        "save the demonstrations again with protege",
    )


def _meta_spaces(ctx: Context, meta: dict[str, Any]) -> Spaces:
    found = []
    for key in ("observation_space", "action_space"):
        if key not in meta:
            ctx.fail(ctx.fields.meta, f"lacks '{key}'", INCONSISTENT_FIX)
        try:
            found.append(deserialize_space(meta[key]))
        except _READ_ERRORS as exc:
            ctx.fail(
                ctx.fields.meta, f"has an unreadable '{key}' ({_describe(exc)})", INCONSISTENT_FIX
            )
    spaces = Spaces(found[0], found[1])
    check_supported(ctx, spaces)
    return spaces


def _require(ctx: Context, arrays: dict[str, np.ndarray], field: str) -> np.ndarray:
    if field not in arrays:
        ctx.fail(field, "is missing", "the file is incomplete; save the demonstrations again")
    return arrays[field]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------- loading: Minari


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
    return Demonstrations(flat.trajectories(), file_env, spaces, name)


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

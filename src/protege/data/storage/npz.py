"""The .npz format: one flat file, an array per field and a JSON `meta` string.

Beside the steps, optional fields (see `extras`): `episode_meta` (a JSON string), the
preferences (`pref_segments`, `pref_labels`) and a given `ranking`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import gymnasium as gym
import numpy as np
from minari.serialization import deserialize_space, serialize_space

import protege
from protege.data.storage.common import (
    _READ_ERRORS,
    FORMAT,
    FORMAT_VERSION,
    Demonstrations,
    _check_version,
    _describe,
)
from protege.data.storage.extras import Extras, npz_extras, read_npz_extras
from protege.data.storage.memory import check_fits_in_memory
from protege.data.validate import (
    INCONSISTENT_FIX,
    NPZ_FIELDS,
    Context,
    FlatEpisodes,
    check_compatible,
    check_supported,
    validate_flat,
)
from protege.envs import Spaces
from protege.errors import DatasetError

# --------------------------------------------------------------------------- saving


def _meta(env_id: str | None, spaces: Spaces) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "env_id": env_id,
        "observation_space": serialize_space(spaces.observation, to_string=False),
        "action_space": serialize_space(spaces.action, to_string=False),
        "protege_version": protege.__version__,
    }


def _npz_arrays(
    flat: FlatEpisodes, env_id: str | None, spaces: Spaces, extras: Extras = Extras()
) -> dict[str, np.ndarray]:
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
    arrays.update(npz_extras(extras))
    return arrays


def _write_npz(f: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """The arrays into `f`, the open temporary file (`_atomic_write_file` flushes and fsyncs it)."""
    np.savez(f, **arrays)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- loading


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
    extras = read_npz_extras(ctx, arrays, flat.lengths)
    metas = extras.episode_meta
    trajs = [replace(t, meta=m) for t, m in zip(flat.trajectories(), metas, strict=True)]
    ranking = None if extras.ranking is None else list(extras.ranking)
    return Demonstrations(trajs, file_env, spaces, name, list(extras.preferences), ranking)


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

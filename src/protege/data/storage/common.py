"""What the .npz and Minari formats share: the format version, the loaded result, read errors."""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

import protege
from protege.data.preferences import Preference
from protege.data.types import Trajectory
from protege.data.validate import Context
from protege.envs import Spaces

FORMAT = "protege.demonstrations"
FORMAT_VERSION = 2
"""Version of the .npz layout and of the `protege` block in Minari metadata; bump on change.
2 added each episode's metadata, preferences and a given ranking (`extras`)."""
READABLE_VERSIONS = (1, 2)
"""Versions this protege reads: a version 1 file loads with no metadata, preferences or ranking."""

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
    """Loaded, validated episodes and what the file records about them.

    trajectories: the episodes, each with its `meta` (noise level, return, rating...).
    env_id: the env they were recorded on, when the file says.
    spaces: the observation and action spaces of the file.
    source: the path or Minari id they were loaded from.
    preferences: comparisons of segments of these episodes stored with them.
    ranking: episode indices, best first, as given with the dataset; None when none was.
    """

    trajectories: list[Trajectory]
    env_id: str | None
    spaces: Spaces
    source: str
    preferences: list[Preference] = field(default_factory=list)
    ranking: list[int] | None = None


def _check_version(ctx: Context, field: str, version: Any) -> None:
    if type(version) is int and version in READABLE_VERSIONS:
        return
    if isinstance(version, int) and version > FORMAT_VERSION:
        ctx.fail(
            field,
            f"has format version {version} but this protege ({protege.__version__}) reads "
            f"versions up to {FORMAT_VERSION}",
            "upgrade protege (pip install -U protege)",
        )
    ctx.fail(
        field,
        f"has an unknown format version {version!r} (this protege reads {FORMAT_VERSION})",
        "save the demonstrations again with protege",
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

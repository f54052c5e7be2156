"""Which format a path means, and which existing paths a save may replace."""

from __future__ import annotations

import os
from pathlib import Path

from protege.errors import DatasetError

NPZ_SUFFIX = ".npz"
_FILE_SUFFIXES = {".npy", ".h5", ".hdf5", ".pkl", ".pickle", ".json", ".zip", ".pt", ".csv"}


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

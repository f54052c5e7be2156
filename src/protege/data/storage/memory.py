"""Capacity checks: data that would not fit in memory is refused before it is read, and a
dataset that would not fit on its disk before a byte of it is written."""

from __future__ import annotations

import shutil
from pathlib import Path

from protege.errors import DatasetError
from protege.rundir import human_bytes


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


DISK_MARGIN = 1.1
"""Room for the format's own overhead (HDF5 metadata, .npz headers) over the arrays' bytes."""


def check_fits_on_disk(target: Path, nbytes: int) -> None:
    """Refuse, before writing, a dataset that would not fit on the disk that holds `target`:
    a full disk mid-write leaves HDF5 in a state where h5py can crash the process."""
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # the platform cannot say: the atomic write still keeps the old data whole
    need = int(nbytes * DISK_MARGIN) + (1 << 16)
    if need > free:
        raise DatasetError(
            f"{target}: writing it needs about {human_bytes(need)} but only "
            f"{human_bytes(free)} is free on that disk; free some space or write it "
            "elsewhere (--out)"
        )

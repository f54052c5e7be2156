"""The memory check: data that would not fit in memory is refused before it is read."""

from __future__ import annotations

from protege.errors import DatasetError


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

"""Run directories: every training run writes its settings, policy, history and metrics.

runs/<name>/config.json   every setting, so the run can be repeated
runs/<name>/policy.pt     the learned policy (policy.zip where the learner is an SB3 model)
runs/<name>/progress.csv  one row per epoch / round / iteration
runs/<name>/metrics.json  the final comparison with the expert
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from protege.errors import RunDirError

CONFIG, METRICS, POLICY, PROGRESS = "config.json", "metrics.json", "policy.pt", "progress.csv"
SB3_POLICY = "policy.zip"  # the policy of a run whose learner is an SB3 model
REWARD = "reward"  # learned rewards live under this name (see protege.rewards)


def _file_mode() -> int:
    """The mode `open()` would give a new file under the process's umask (mkstemp's 0600
    would make datasets and run files unreadable to the rest of a team)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """`write(file)` into a temporary sibling, flushed to disk, then renamed over `path`:
    the file is whole or absent, whenever the process dies. The protege-wide one way to
    write a file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if _disk_full(exc):  # writers (torch.save) may turn ENOSPC into a RuntimeError
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from exc
        raise


def _disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from or while handling, is ENOSPC."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB': sizes in messages."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (see `atomic_write`)."""
    text = json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def save_npy_atomic(path: Path, array: Any) -> None:
    """np.save atomically (see `atomic_write`)."""
    import numpy as np

    atomic_write(path, lambda f: np.save(f, array))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def prepare_run_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Create the run directory; refuse to mix with an earlier run unless `overwrite`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory; choose another --out")
    if (path / CONFIG).exists() and not overwrite:
        raise RunDirError(
            f"{path}: already holds a run (config.json); choose another --out or pass --overwrite"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a run's JSON file with an error that names the file and the fix."""
    if not path.is_file():
        raise RunDirError(f"{path}: missing; is {path.parent} a protege run directory ({what})?")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc}); re-run the training") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a JSON object")
    return data


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's config.json as a dict, with the fields every run has ("algo", "env")."""
    path = Path(run_dir) / CONFIG
    data = read_json(path, "config.json")
    missing = [k for k in ("algo", "env") if not isinstance(data.get(k), str)]
    if missing:
        raise RunDirError(
            f"{path}: no {' or '.join(repr(k) for k in missing)}; it was not written by "
            "protege train, train again"
        )
    return data

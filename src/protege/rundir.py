"""Run directories: every training run writes its settings, policy, history and metrics.

runs/<name>/config.json   every setting, so the run can be repeated
runs/<name>/policy.pt     the learned policy (policy.zip where the learner is an SB3 model)
runs/<name>/progress.csv  one row per epoch / round / iteration
runs/<name>/metrics.json  the final comparison with the expert
"""

from __future__ import annotations

import csv
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
BEST_POLICY, BEST_SB3_POLICY = "policy_best.pt", "policy_best.zip"
"""The best policy of the in-training evaluations, beside the final one (`policy.*`)."""
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
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if abs(n) < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


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


CONFIG_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "algo": ((str,), "the algorithm's name"),
    "env": ((str,), "a Gymnasium id or tabular spec"),
    "demos": ((str, type(None)), "the dataset's path or Minari id"),
    "expert": ((str, type(None)), "an expert spec or null"),
    "eval_episodes": ((int,), "a whole number of episodes, at least 1"),
    "eval_seed": ((int,), "a whole number"),
    "seed": ((int,), "a whole number"),
    "threads": ((int,), "a whole number of threads, at least 1"),
    "config": ((dict,), "the algorithm's settings, a JSON object"),
}
"""config.json's top-level fields: what each must hold (all but algo and env optional)."""


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's config.json, checked: "algo" and "env" present, and every field of
    `CONFIG_FIELDS` that is there of its type, so a hand-edited file is one line naming the
    field, not a traceback further on."""
    path = Path(run_dir) / CONFIG
    data = read_json(path, "config.json")
    missing = [k for k in ("algo", "env") if not isinstance(data.get(k), str)]
    if missing:
        raise RunDirError(
            f"{path}: no {' or '.join(repr(k) for k in missing)}; it was not written by "
            "protege train, train again"
        )
    for key, (types_, what) in CONFIG_FIELDS.items():
        if key not in data:
            continue
        value = data[key]
        bad = not isinstance(value, types_) or (isinstance(value, bool) and bool not in types_)
        if not bad and key in ("eval_episodes", "threads") and value < 1:
            bad = True
        if bad:
            raise RunDirError(
                f"{path}: '{key}' is {json.dumps(value)}, expected {what}; fix it or train "
                "the run again"
            )
    return data


METRIC_NUMBERS = ("return_mean", "return_std", "expert_return_mean", "expert_return_std",
                  "random_return_mean", "random_return_std", "normalized_score",
                  "action_agreement", "train_seconds", "env_steps")  # fmt: skip
"""metrics.json's fields that are numbers (or null where not measured)."""


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """The run's metrics.json, checked: each field of `METRIC_NUMBERS` present is a number
    or null."""
    path = Path(run_dir) / METRICS
    data = read_json(path, "metrics.json")
    for key in METRIC_NUMBERS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RunDirError(
                f"{path}: '{key}' is {json.dumps(value)}, expected a number; run "
                f"`protege eval {Path(run_dir)}` to measure the run again"
            )
    return data


def read_progress(run_dir: str | Path) -> list[dict[str, float]]:
    """progress.csv as rows of floats ([] when there is none). A torn last row, what a crash
    mid-write leaves, is dropped; a damaged cell elsewhere is one line naming its row and
    column."""
    path = Path(run_dir) / PROGRESS
    if not path.is_file():
        return []
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not a text file; delete it or train the run again") from None
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines = lines[:-1]  # torn: the writer died mid-row
    if not lines:
        return []
    reader = csv.DictReader(lines)
    rows: list[dict[str, float]] = []
    for number, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            if number == len(lines):  # a short last row: torn, dropped
                break
            raise RunDirError(f"{path}: row {number} has the wrong number of columns; "
                              "delete the row or train the run again")  # fmt: skip
        try:
            rows.append({k: float(v) for k, v in row.items() if k and v != ""})
        except ValueError:
            bad = next(k for k, v in row.items() if v != "" and not _is_float(v))
            raise RunDirError(
                f"{path}: row {number}, column '{bad}' is {row[bad]!r}, not a number; fix or "
                "delete the row, or train the run again"
            ) from None
    return rows


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

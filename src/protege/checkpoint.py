"""Checkpoints for long training: one file, written whole or not at all, read back checked.

A trainer saves its whole state (weights, optimiser, random generators, history) every few
iterations with `save_checkpoint`; `load_checkpoint` returns it, or says which file is
broken and what to do. A kill at any moment leaves the previous checkpoint intact, and the
temporary file of a save it interrupted is removed by the next save.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from protege.errors import RunDirError
from protege.rundir import atomic_write

FORMAT = "protege.checkpoint/1"
CHECKPOINT_EVERY = 10
"""Every trainer's default: a checkpoint every this many progress steps (epochs, rounds,
iterations, progress rows; Bayesian IRL's rows are 100 MCMC steps each)."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` (tensors, NumPy arrays, numbers, strings, lists, dicts) to `path`
    atomically. Arrays are stored as tensors: a weights-only load accepts no NumPy objects,
    so they come back as tensors (`.numpy()`)."""
    import torch  # here, not at import: the tabular trainers are NumPy until they save

    path = Path(path)
    for partial in path.parent.glob(f".{path.name}.*.tmp"):  # a save killed midway left it
        partial.unlink(missing_ok=True)  # (one run writes its checkpoint: none is live)
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **_no_numpy(state)}, f))
    return path


def _no_numpy(value: Any) -> Any:
    """`value` with every NumPy array in it (inside dicts, lists, tuples) as a CPU tensor."""
    if isinstance(value, np.ndarray):
        import torch

        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {k: _no_numpy(v) for k, v in value.items()}
    if type(value) in (list, tuple):  # not named tuples: they are saved as they are
        return type(value)(_no_numpy(v) for v in value)
    return value


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved at `path` (tensors on the CPU)."""
    import torch

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise RunDirError(
            f"{path}: not a readable checkpoint ({type(exc).__name__}); delete it to start "
            "over from the beginning"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise RunDirError(f"{path}: not a protege checkpoint; delete it to start over")
    return state


@contextmanager
def restoring(path: str | Path | None) -> Iterator[None]:
    """Around putting a loaded checkpoint back into a trainer: a readable file that holds
    another trainer's state, or one of other settings (a key missing, a tensor of another
    shape), becomes one line naming the file and the fix instead of a traceback."""
    try:
        yield
    except (KeyError, IndexError, AttributeError, TypeError, ValueError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise RunDirError(
            f"{path}: holds another trainer's state, or one of other settings "
            f"({type(exc).__name__}: {detail}); delete it to start this run over"
        ) from None

"""Checkpoint and resume for the iterative tabular IRL algorithms.

A fit saves its whole state every few iterations with `save_state`; restarted with the same
file, it reads that state back with `resume_state`, which replays the saved history to
`on_iteration` so that a progress log ends complete (no gaps, no duplicates). Torch is
imported only when checkpointing: most of these algorithms are NumPy/SciPy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

OnIteration = Callable[[dict[str, float]], None]


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (NumPy arrays included) atomically with `save_checkpoint`."""
    from protege.checkpoint import save_checkpoint

    save_checkpoint(path, state)


def resume_state(
    path: str | Path | None, on_iteration: OnIteration | None
) -> dict[str, Any] | None:
    """The state saved at `path` (tensors as saved), or None when there is none yet.

    Its "history" comes back as a list of dicts, each already passed to `on_iteration`.
    """
    if path is None or not Path(path).is_file():
        return None
    from protege.checkpoint import load_checkpoint

    saved = load_checkpoint(path)
    saved["history"] = [dict(record) for record in saved["history"]]
    if on_iteration is not None:
        for record in saved["history"]:
            on_iteration(record)
    return saved


def due(checkpoint: str | Path | None, done: int, every: int) -> TypeGuard[str | Path]:
    """Whether to save after `done` iterations (steps): checkpointing, and every `every`."""
    return checkpoint is not None and done % max(every, 1) == 0

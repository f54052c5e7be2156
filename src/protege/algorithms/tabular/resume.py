"""Resuming the iterative tabular IRL algorithms.

A fit saves its whole state every few iterations (`due`, then `save_checkpoint`); restarted
with the same file, it reads that state back with `resume_state`, which replays the saved
history to `on_iteration` (the fit's `common.Progress`, so its callbacks) so that a progress
log ends complete (no gaps, no duplicates).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from protege.checkpoint import load_checkpoint, restoring

OnIteration = Callable[[dict[str, float]], None]


def resume_state(
    path: str | Path | None, on_iteration: OnIteration | None
) -> dict[str, Any] | None:
    """The state saved at `path` (tensors as saved), or None when there is none yet.

    Its "history" comes back as a list of dicts, each already passed to `on_iteration`.
    """
    if path is None or not Path(path).is_file():
        return None
    saved = load_checkpoint(path)
    with restoring(path):
        saved["history"] = [dict(record) for record in saved["history"]]
    if on_iteration is not None:
        for record in saved["history"]:
            on_iteration(record)
    return saved


def due(checkpoint: str | Path | None, done: int, every: int) -> TypeGuard[str | Path]:
    """Whether to save after `done` iterations (steps): checkpointing, and every `every`."""
    return checkpoint is not None and done % max(every, 1) == 0

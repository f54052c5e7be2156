"""Checkpoints for long training: one file, written whole or not at all, read back checked.

A trainer saves its whole state (weights, optimiser, random generators, history) every few
iterations with `save_checkpoint`; `load_checkpoint` returns it, or says which file is
broken and what to do. A kill at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from protege.errors import RunDirError
from protege.runs import atomic_write

FORMAT = "protege.checkpoint/1"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` (tensors, numbers, lists, dicts) to `path` atomically."""
    path = Path(path)
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved at `path` (tensors on the CPU)."""
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

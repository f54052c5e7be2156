"""Which rows of a flat batch of steps make each observation window and action chunk.

A policy with `history` H sees, at step t of an episode, the observations of steps
t-H+1..t; at the episode's first steps the missing ones repeat its first observation (the
robomimic and LeRobot convention), so a window never reaches into another episode. A
policy with `chunk` K predicts the actions of steps t..t+K-1; those past the episode's end
are padding (the last action repeated) and are left out of the loss (LeRobot's
`action_is_pad`). Episodes are told apart by `starts`, True at each one's first row.
"""

from __future__ import annotations

import numpy as np


def episode_starts(
    starts: np.ndarray | None, terminated: np.ndarray, truncated: np.ndarray
) -> np.ndarray:
    """(N,) bool, True at each episode's first row: `starts` when known
    (`Transitions.starts`), else the first row and every row after a terminated or
    truncated one."""
    if starts is not None:
        out = np.asarray(starts, dtype=bool).copy()
    else:
        out = np.zeros(len(terminated), dtype=bool)
        out[1:] = np.asarray(terminated[:-1], dtype=bool) | np.asarray(truncated[:-1], dtype=bool)
    if len(out):
        out[0] = True
    return out


def window_rows(starts: np.ndarray, history: int) -> np.ndarray:
    """(N, history) rows of each step's observation window, oldest first: row
    max(t - history + 1 + j, first row of t's episode) for j = 0..history-1."""
    n = len(starts)
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rows = np.arange(n)[:, None] - (history - 1) + np.arange(history)[None, :]
    return np.maximum(rows, first[:, None])


def chunk_rows(starts: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, chunk) rows of each step's action chunk, and (N, chunk) bool `pad`, True where
    the step t + k lies past the episode's end (its row is the episode's last)."""
    n = len(starts)
    next_first = np.append(np.flatnonzero(starts), n)  # each episode's end, exclusive
    last = next_first[np.searchsorted(next_first, np.arange(n), side="right")] - 1
    rows = np.arange(n)[:, None] + np.arange(chunk)[None, :]
    pad = rows > last[:, None]
    return np.minimum(rows, last[:, None]), pad

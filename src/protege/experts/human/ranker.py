"""A person ranking episodes best-first in a window: `protege record --rank`, `protege rank`.

The episodes are listed with what is known of them (return, length, rating, noise); the
highlighted one replays beside the list when it can be (its reset seed and actions, and
an env that renders). The person picks the best, then the next best, and so on:

    UP / DOWN         move the highlight among the episodes not yet ranked
    ENTER / K         the highlighted episode is the next best
    0 .. 9            episode 0 .. 9 is the next best (the dataset's indices)
    BACKSPACE         take back the last pick
    ENTER / K         (once all are ranked) save the ranking
    ESC / close       leave without a ranking

The last episode left is ranked by itself. Other keys are ignored. The ranking is what
`protege.data.save_preferences(..., ranking=)` stores and T-REX ranks by.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.data.types import Trajectory  # noqa: E402
from protege.errors import ConfigError  # noqa: E402
from protege.experts.human.window import (  # noqa: E402
    AMBER,
    BLUE,
    GREEN,
    GREY,
    WHITE,
    Color,
    FrameInput,
    Window,
    replay,
)

__all__ = ["RankEntry", "Ranker", "describe_episode", "entries_for", "rank_episodes"]

PICK_KEYS = frozenset({pygame.K_RETURN, pygame.K_KP_ENTER, pygame.K_k})
UNDO_KEYS = frozenset({pygame.K_BACKSPACE})
NUMBER_KEYS = {
    **{getattr(pygame, f"K_{n}"): n for n in range(10)},
    **{getattr(pygame, f"K_KP{n}"): n for n in range(10)},
}
HINT = (
    "UP/DOWN choose · ENTER or K: next best · 0-9: that episode next · BACKSPACE undo · "
    "ESC leave unranked"
)
HOLD_S = 0.5
"""A replay holds its last frame this long before it loops."""


@dataclass(frozen=True)
class RankEntry:
    """One episode to rank.

    index: its index in the dataset (what the ranking names).
    text: one line saying what is known of it (`describe_episode`).
    seed: its reset seed, to replay it (None: it cannot be replayed).
    acts: its actions, (T, *act_shape), to replay it.
    """

    index: int
    text: str
    seed: int | None = None
    acts: np.ndarray | None = None


def describe_episode(index: int, traj: Trajectory) -> str:
    """'episode 2 · return 41.0 · 41 steps · rating 4': what a person ranks by."""
    parts = [f"episode {index}"]
    if traj.rews is not None:
        parts.append(f"return {traj.episode_return:.1f}")
    parts.append(f"{len(traj)} steps")
    for key in ("rating", "noise"):
        if key in traj.meta:
            parts.append(f"{key} {traj.meta[key]:g}")
    return " · ".join(parts)


class Ranker:
    """One ranking session, fed one frame's keys at a time (`feed`) and drawn (`draw`).

    entries: the episodes, in the order listed (at least two).
    env: an env made with render_mode="rgb_array" to replay the highlighted episode in
        (None: no replays); the caller closes it.
    fps: frames per second of the window, for the replay's pause at its end.

    States: "ranking" (picking the next best), "confirm" (all ranked: ENTER saves,
    BACKSPACE takes back), "done" (`ranking` holds the order, best first; None when the
    person left without one).
    """

    def __init__(
        self, entries: Sequence[RankEntry], env: gym.Env | None = None, fps: float = 30.0
    ) -> None:
        if len(entries) < 2:
            raise ConfigError(f"ranking needs at least two episodes, got {len(entries)}")
        self.entries, self.env = list(entries), env
        self.hold = max(1, round(HOLD_S * fps)) if fps > 0 else 1
        self.order: list[int] = []  # positions in `entries`, best first
        self.cursor = 0  # a position in `left`
        self.state = "ranking"
        self.ranking: list[int] | None = None
        self.ignored = 0
        self._frames: Iterator[np.ndarray | None] | None = None
        self._shown: int | None = None
        self._frame: np.ndarray | None = None

    @property
    def left(self) -> list[int]:
        """Positions in `entries` not yet ranked, in listed order."""
        return [i for i in range(len(self.entries)) if i not in self.order]

    def feed(self, inp: FrameInput) -> None:
        """Process one frame's keys (ESC or a closed window leaves without a ranking)."""
        if self.state == "done":
            return
        if inp.quit:
            self.state, self.ranking = "done", None
            return
        for key in inp.pressed:
            if self.state == "done":
                break
            self._key(key)

    def _key(self, key: int) -> None:
        left = self.left
        if key in UNDO_KEYS and self.order:
            self.order.pop()
            if self.state == "confirm":
                self.order.pop()  # the last one, ranked by itself, goes back too
            self.state = "ranking"
            self.cursor = 0
        elif self.state == "confirm" and key in PICK_KEYS:
            self.state = "done"
            self.ranking = [self.entries[i].index for i in self.order]
        elif self.state == "ranking" and key == pygame.K_DOWN:
            self.cursor = (self.cursor + 1) % len(left)
        elif self.state == "ranking" and key == pygame.K_UP:
            self.cursor = (self.cursor - 1) % len(left)
        elif self.state == "ranking" and key in PICK_KEYS:
            self._pick(left[self.cursor])
        elif self.state == "ranking" and key in NUMBER_KEYS:
            chosen = [i for i in left if self.entries[i].index == NUMBER_KEYS[key]]
            if chosen:
                self._pick(chosen[0])
            else:
                self.ignored += 1  # no such episode, or ranked already
        else:
            self.ignored += 1

    def _pick(self, position: int) -> None:
        self.order.append(position)
        left = self.left
        if len(left) == 1:
            self.order.append(left[0])  # the last one left: nothing to choose
            self.state = "confirm"
        self.cursor = min(self.cursor, max(len(self.left) - 1, 0))

    def draw(self, window: Window, info: str = "") -> None:
        """Show the list (ranked ones first) and the highlighted episode's replay."""
        lines: list[tuple[str, Color]] = []
        if self.order:
            lines.append(("ranked, best first:", WHITE))
            lines += [(f"{k + 1}. {self.entries[i].text}", GREEN) for k, i in enumerate(self.order)]
        left = self.left
        if left:
            lines.append((f"to rank ({len(left)} left):", WHITE))
            for k, i in enumerate(left):
                mark = "> " if k == self.cursor else "   "
                lines.append((mark + self.entries[i].text, AMBER if k == self.cursor else GREY))
        if self.state == "confirm":
            state = ("RANKED", GREEN)
            text = "ENTER saves this ranking · BACKSPACE takes the last pick back"
        else:
            state = ("RANK", BLUE)
            text = f"which is the best of the {len(left)} left?"
        frame = self._replay(left[self.cursor] if self.state == "ranking" else None)
        window.show(frame, state, f"{info} · {text}" if info else text, HINT, lines)

    def _replay(self, position: int | None) -> np.ndarray | None:
        """The next frame of the highlighted episode's looping replay (None: none)."""
        entry = None if position is None else self.entries[position]
        if entry is None or self.env is None or entry.seed is None or entry.acts is None:
            self._shown, self._frames = None, None
            return None
        if position != self._shown or self._frames is None:
            self._shown, self._frames = position, self._loop(entry)
        self._frame = next(self._frames)
        return self._frame

    def _loop(self, entry: RankEntry) -> Iterator[np.ndarray | None]:
        assert self.env is not None and entry.seed is not None and entry.acts is not None
        while True:
            frame = None
            for _, frame in replay(self.env, entry.seed, entry.acts):
                yield frame
            for _ in range(self.hold):
                yield frame


def rank_episodes(
    window: Window,
    entries: Sequence[RankEntry],
    env: gym.Env | None = None,
    on_frame: Callable[[Ranker], None] | None = None,
    info: str = "",
) -> list[int] | None:
    """Run a `Ranker` in `window` until the person saves a ranking (returned: the entries'
    indices, best first) or leaves (None)."""
    ranker = Ranker(entries, env, window.fps)
    while ranker.state != "done":
        if on_frame is not None:
            on_frame(ranker)
        ranker.feed(window.poll())
        if ranker.state != "done":
            ranker.draw(window, info)
        window.tick()
    return ranker.ranking


def entries_for(trajs: Sequence[Trajectory], seeds: Sequence[Any] | None = None) -> list[RankEntry]:
    """A `RankEntry` per episode, replayable where its reset seed is known (`seeds`, else
    its `meta["seed"]`)."""
    out = []
    for i, t in enumerate(trajs):
        seed = seeds[i] if seeds is not None else t.meta.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int):
            seed = None
        out.append(RankEntry(i, describe_episode(i, t), seed, t.acts))
    return out

"""A person labelling preferences: two clips side by side, answered with one key each.

`HumanLabeller` is the person DRLHP (`protege train preferences --set labeller=human`)
asks: for each query, a pair of trajectory segments, the two are replayed from their
episodes' reset seeds (`meta["seed"]`) and played side by side as looping clips in a
`Window`, and the person answers:

    1 or LEFT    the left segment (a) is better      label 1.0
    2 or RIGHT   the right segment (b) is better     label 0.0
    0 or SPACE   equal, or cannot tell               label 0.5
    Q or ESC     stop labelling (training goes on with what is labelled)

Any other key is ignored. Each answer goes to `on_answer` the moment it is given (the
trainer writes it to disk there), so closing the window loses nothing answered.

Paper: Christiano et al. (2017), "Deep Reinforcement Learning from Human Preferences"
(clips of 1-2 s side by side; "equal" and "can't tell" as answers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.data.preferences import Segment  # noqa: E402
from protege.data.types import Trajectory, obs_index  # noqa: E402
from protege.envs import EnvFactory, make_env  # noqa: E402
from protege.experts.human.window import (  # noqa: E402
    AMBER,
    BLUE,
    GREY,
    Window,
    replay,
    side_by_side,
)

__all__ = ["ANSWER_KEYS", "STOP_KEYS", "Clip", "HumanLabeller", "LabelSession", "segment_clip"]

ANSWER_KEYS: dict[int, float] = {
    **dict.fromkeys((pygame.K_1, pygame.K_KP1, pygame.K_LEFT), 1.0),
    **dict.fromkeys((pygame.K_2, pygame.K_KP2, pygame.K_RIGHT), 0.0),
    **dict.fromkeys((pygame.K_0, pygame.K_KP0, pygame.K_SPACE), 0.5),
}
"""Key -> label, P(left segment preferred)."""
STOP_KEYS = frozenset({pygame.K_q})
"""Stop labelling; ESC and closing the window do too."""
HINT = (
    "1 / LEFT: left is better · 2 / RIGHT: right is better · 0 / SPACE: equal or can't tell"
    " · Q: stop labelling and train on what is labelled"
)


@dataclass
class Clip:
    """A segment's frames, in order, and a note when they are not what was recorded.

    frames: rgb frames (H, W, 3) of the segment's states, its first to the one after its
        last action; empty when the episode cannot be replayed.
    note: "" when the replay matched the recorded observations; else why the clip is
        missing or may differ.
    """

    frames: list[np.ndarray] = field(default_factory=list)
    note: str = ""


def segment_clip(env: gym.Env, traj: Trajectory, seg: Segment) -> Clip:
    """Replay `seg` of `traj` in `env` (render_mode="rgb_array") from the episode's reset
    seed (`traj.meta["seed"]`), checking the replay against the recorded observations."""
    seed = traj.meta.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        return Clip(note=f"episode {seg.episode} has no reset seed: it cannot be shown")
    frames, same = [], True
    for t, (obs, frame) in enumerate(replay(env, seed, traj.acts, seg.start, seg.stop)):
        same = same and _same_obs(obs, obs_index(traj.obs, seg.start + t))
        if frame is not None:
            frames.append(frame)
    if not frames:
        return Clip(note="the env renders no rgb frames")
    note = "" if same and len(frames) == seg.stop - seg.start + 1 else "replay differs"
    return Clip(frames, note)


def _same_obs(a: Any, b: Any) -> bool:
    if isinstance(b, dict):
        return all(np.allclose(np.asarray(a[k]), np.asarray(v), atol=1e-5) for k, v in b.items())
    return bool(np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                            atol=1e-5))  # fmt: skip


@dataclass
class LabelSession:
    """What one labelling session gave.

    answers: (query index, label) in the order given; label is P(left preferred).
    stopped: the person pressed Q (or ESC, or closed the window) before the last query.
    ignored: key presses that mean nothing here.
    """

    answers: list[tuple[int, float]] = field(default_factory=list)
    stopped: bool = False
    ignored: int = 0


class HumanLabeller:
    """A person answering preference queries in a window (`train_preferences`'s `person`).

    env: a Gymnasium id (made with render_mode="rgb_array") or a zero-argument builder of
        an env that renders rgb frames; the episodes to show were recorded in it.
    fps: frame-rate limit (default: the env's render_fps, or 30; 0: never sleep, scripts).
    size: the window's initial (width, height).
    on_frame: called with the labeller before each frame (scripted input, tests); while
        it runs, `query` is the index of the query on screen.

    The window opens for each call and closes when it returns, so training between rounds
    has no unanswered window on screen.
    """

    def __init__(
        self,
        env: str | EnvFactory,
        fps: float | None = None,
        size: tuple[int, int] = (1000, 480),
        on_frame: Callable[[HumanLabeller], None] | None = None,
    ) -> None:
        self.env, self.fps, self.size, self.on_frame = env, fps, size, on_frame
        self.query = 0
        self.session = LabelSession()

    def __call__(
        self,
        trajs: Sequence[Trajectory],
        queries: Sequence[tuple[Segment, Segment]],
        on_answer: Callable[[int, float], None],
        info: str = "",
    ) -> bool:
        """Ask `queries` (segments a, b of `trajs`); `on_answer(i, label)` as each is
        answered. True when the person stopped labelling (Q, ESC, the window closed)."""
        return self.label(trajs, queries, on_answer, info).stopped

    def label(
        self,
        trajs: Sequence[Trajectory],
        queries: Sequence[tuple[Segment, Segment]],
        on_answer: Callable[[int, float], None] | None = None,
        info: str = "",
    ) -> LabelSession:
        """The whole session: every query shown until answered, or until the person stops."""
        self.query, self.session = 0, LabelSession()
        if not queries:
            return self.session
        env = make_env(self.env, render_mode="rgb_array") if isinstance(self.env, str) else None
        env = env if env is not None else self.env()  # type: ignore[operator]
        try:
            fps = self.fps
            if fps is None:
                fps = float(env.metadata.get("render_fps") or 30)
            window = Window(fps, self.size, "protege · which is better?")
            try:
                self._run(window, env, trajs, queries, on_answer, info)
            finally:
                window.close()  # before the env: closing a classic-control env quits pygame
        finally:
            env.close()
        return self.session

    def _run(
        self,
        window: Window,
        env: gym.Env,
        trajs: Sequence[Trajectory],
        queries: Sequence[tuple[Segment, Segment]],
        on_answer: Callable[[int, float], None] | None,
        info: str,
    ) -> None:
        clips: tuple[Clip, Clip] | None = None
        frame = 0
        while self.query < len(queries):
            if clips is None:
                a, b = queries[self.query]
                clips = (
                    segment_clip(env, trajs[a.episode], a),
                    segment_clip(env, trajs[b.episode], b),
                )
                frame = 0
            if self.on_frame is not None:
                self.on_frame(self)
            inp = window.poll()
            for key in inp.pressed:
                if key in STOP_KEYS or key == pygame.K_ESCAPE:
                    break
                label = ANSWER_KEYS.get(key)
                if label is None:
                    self.session.ignored += 1
                    continue
                self.session.answers.append((self.query, label))
                if on_answer is not None:
                    on_answer(self.query, label)
                self.query += 1
                clips = None
                if self.query == len(queries):
                    return
            if inp.quit or any(k in STOP_KEYS for k in inp.pressed):
                self.session.stopped = True
                return
            if clips is not None:
                self._draw(window, clips, frame, len(queries), info)
                frame += 1
            window.tick()

    def _draw(
        self, window: Window, clips: tuple[Clip, Clip], frame: int, total: int, info: str
    ) -> None:
        left, right = (c.frames[frame % len(c.frames)] if c.frames else None for c in clips)
        notes = [
            f"{side}: {c.note}" for side, c in zip(("left", "right"), clips, strict=True) if c.note
        ]
        steps = max(len(c.frames) for c in clips) or 1
        status = f"{info} · " if info else ""
        status += f"query {self.query + 1}/{total} · step {frame % steps + 1}/{steps}"
        if notes:
            status += " · " + "; ".join(notes)
        state = ("WHICH IS BETTER?", AMBER if notes else BLUE)
        if left is None and right is None:  # nothing to play: say why where the clips go
            window.show(None, state, status, HINT, [(n, GREY) for n in notes])
        else:
            window.show(side_by_side(left, right), state, status, HINT)

"""Teleoperation: a pygame window showing the env, and the keyboard as its actions.

`Teleop` is the person's side of both `protege record` (`recorder`) and HG-DAgger
(`hg_dagger`): `poll()` reads the keyboard once per frame, `actions()` turns that into env
actions through a `KeyMap` (one per frame in real time, one per press for turn-based maps),
and `show()` draws the env's rgb render with a status line and a hint (the window itself
is `window.Window`, which the preference labeller and the episode ranker share).

Headless use and tests: set ``SDL_VIDEODRIVER=dummy`` before the window opens (the window
opens in `Teleop.__init__`, never at import), post key events with ``pygame.event.post``
(or set ``teleop.held``), and pass ``fps=0`` so no frame sleeps.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from protege.experts.human.keymaps import Axis, KeyMap, MouseAxis, _split_combo  # noqa: E402
from protege.experts.human.window import (  # noqa: E402
    AMBER,
    BLUE,
    GREEN,
    GREY,
    RED,
    WHITE,
    Color,
    FrameInput,
    Window,
    env_action,
    render,
)

__all__ = ["AMBER", "BLUE", "GREEN", "GREY", "RED", "WHITE", "Color", "FrameInput", "Teleop"]


class Teleop(Window):
    """The person's side: a pygame window showing the env, and the keyboard as actions.

    keymap: the `KeyMap`, checked against `action_space` here.
    fps: frame-rate limit; 0 never sleeps (scripts and tests).
    ramp_fps: frames per second assumed by continuous ramps (default: `fps`, else 30), so a
        ramp takes the same number of frames whether or not frames sleep.
    size: the window's initial (width, height) in pixels; it can be resized.
    title: the window caption.

    `poll()` reads the event queue once per frame and tracks held keys from KEYDOWN/KEYUP
    events; `held` is a plain set that scripts may also set directly. `actions(frame_input)`
    turns a frame's input into the env actions to take (one per frame in real time, one per
    press for turn-based maps). `show(...)` draws a frame, the status line and a hint
    (`Window`).
    """

    def __init__(
        self,
        keymap: KeyMap,
        action_space: gym.Space,
        fps: float = 30.0,
        ramp_fps: float | None = None,
        size: tuple[int, int] = (720, 548),
        title: str = "protege",
    ) -> None:
        keymap.check(action_space)
        self.keymap = keymap
        self.space = action_space
        self.ramp_fps = float(ramp_fps or fps or 30.0)
        codes = keymap.key_codes()
        self._combos = [
            (frozenset(codes[n] for n in _split_combo(combo)), action)
            for combo, action in keymap.keys.items()
        ]
        self.action_keys = frozenset(codes.values())
        self._axis_codes = [
            (
                ax,
                None if ax.neg is None else codes[ax.neg],
                None if ax.pos is None else codes[ax.pos],
            )
            for ax in keymap.axes
        ]
        self._last = 0
        self._value = np.zeros(0)
        self.reset_controls()
        super().__init__(fps, size, title)

    # -- keyboard

    def reset_controls(self) -> None:
        """Return continuous actions to their centre and forget the last discrete action."""
        self._last = self.keymap.noop if self.keymap.noop is not None else 0
        if isinstance(self.space, gym.spaces.Box):
            self._value = np.clip(
                np.zeros(self.space.shape), self.space.low, self.space.high
            ).astype(np.float64)
            for ax in self.keymap.axes:
                self._value[ax.dim] = self._center(ax)

    def actions(self, inp: FrameInput) -> list[np.ndarray]:
        """The env actions for this frame: one per frame in real time; for turn-based maps
        one per pressed action key (none when nothing was pressed)."""
        if self.keymap.step_on_press:
            out = []
            for key in inp.pressed:
                action = self._resolve(inp.held | {key}, must_have=key)
                if action is not None:
                    out.append(self._as_action(action))
            return out
        if isinstance(self.space, gym.spaces.Box):
            return [self._continuous(inp.held, inp.mouse)]
        action = self._resolve(inp.held)
        if action is None:
            action = self.keymap.noop if self.keymap.noop is not None else self._last
        self._last = action
        return [self._as_action(action)]

    def _resolve(self, held: frozenset[int] | set[int], must_have: int | None = None) -> int | None:
        best: tuple[int, int] | None = None  # (number of keys, action)
        for codes, action in self._combos:
            fits = codes <= held and (must_have is None or must_have in codes)
            if fits and (best is None or len(codes) > best[0]):
                best = (len(codes), action)
        return None if best is None else best[1]

    def _as_action(self, action: int) -> np.ndarray:
        return np.asarray(action, dtype=self.space.dtype or np.int64)

    def _center(self, ax: Axis | MouseAxis) -> float:
        assert isinstance(self.space, gym.spaces.Box)
        lo, hi = float(self.space.low[ax.dim]), float(self.space.high[ax.dim])
        center = ax.center if isinstance(ax, Axis) else None
        return float(np.clip(0.0 if center is None else center, lo, hi))

    def _continuous(
        self, held: frozenset[int], mouse: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Held keys push their dimension toward its bound; released ones decay to centre.
        Mouse-driven dimensions follow the cursor across the picture (`MouseAxis`)."""
        assert isinstance(self.space, gym.spaces.Box)
        for m in self.keymap.mouse:
            lo, hi = float(self.space.low[m.dim]), float(self.space.high[m.dim])
            if mouse is None:
                self._value[m.dim] = self._center(m)
            else:
                self._value[m.dim] = lo + mouse[0 if m.axis == "x" else 1] * (hi - lo)
        for ax, neg, pos in self._axis_codes:
            lo, hi = float(self.space.low[ax.dim]), float(self.space.high[ax.dim])
            c = self._center(ax)
            frames = ax.ramp_s * self.ramp_fps
            up_rate = (hi - c) / frames if frames > 0 else np.inf
            down_rate = (c - lo) / frames if frames > 0 else np.inf
            up, down = pos in held, neg in held
            v = float(self._value[ax.dim])
            if up and not down:
                v = min(hi, v + max(up_rate, down_rate if v < c else 0.0))
            elif down and not up:
                v = max(lo, v - max(down_rate, up_rate if v > c else 0.0))
            elif v > c:
                v = max(c, v - up_rate)
            else:
                v = min(c, v + down_rate)
            self._value[ax.dim] = v
        return self._value.astype(self.space.dtype)


_render = render  # the names hg_dagger and the recorder import
_env_action = env_action

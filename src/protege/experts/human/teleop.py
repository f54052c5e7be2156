"""Teleoperation: a pygame window showing the env, and the keyboard as its actions.

`Teleop` is the person's side of both `protege record` (`recorder`) and HG-DAgger
(`hg_dagger`): `poll()` reads the keyboard once per frame, `actions()` turns that into env
actions through a `KeyMap` (one per frame in real time, one per press for turn-based maps),
and `show()` draws the env's rgb render with a status line and a hint.

Headless use and tests: set ``SDL_VIDEODRIVER=dummy`` before the window opens (the window
opens in `Teleop.__init__`, never at import), post key events with ``pygame.event.post``
(or set ``teleop.held``), and pass ``fps=0`` so no frame sleeps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.experts.human.keymaps import Axis, KeyMap, _split_combo  # noqa: E402

__all__ = ["FrameInput", "Teleop"]


@dataclass(frozen=True)
class FrameInput:
    """What the keyboard did in one frame.

    pressed: keys pressed during the frame, in order (pygame key codes).
    held: keys down at the end of the frame.
    quit: the window was closed or Esc pressed.
    """

    pressed: tuple[int, ...]
    held: frozenset[int]
    quit: bool = False


Color = tuple[int, int, int]
WHITE: Color = (235, 235, 235)
GREY: Color = (150, 150, 150)
RED: Color = (235, 70, 70)
AMBER: Color = (240, 180, 40)
GREEN: Color = (90, 210, 110)
BLUE: Color = (100, 160, 250)


class Teleop:
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
    press for turn-based maps). `show(...)` draws a frame, the status line and a hint.
    """

    STATUS_H = 40
    HINT_H = 28

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
        self.fps = float(fps)
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
        self.held: set[int] = set()
        self._last = 0
        self._value = np.zeros(0)
        self.reset_controls()
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(title)
        self._fonts: dict[int, pygame.font.Font] = {}
        self.clock = pygame.time.Clock()

    # -- keyboard

    def poll(self) -> FrameInput:
        """Drain pygame's event queue: keys pressed this frame, keys held, window closed."""
        pressed: list[int] = []
        quit_ = False
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                quit_ = True
            elif event.type == pygame.KEYDOWN:
                if event.key == pygame.K_ESCAPE:
                    quit_ = True
                pressed.append(event.key)
                self.held.add(event.key)
            elif event.type == pygame.KEYUP:
                self.held.discard(event.key)
            elif event.type == pygame.WINDOWFOCUSLOST:
                self.held.clear()  # a key released elsewhere sends no KEYUP here
        return FrameInput(tuple(pressed), frozenset(self.held), quit_)

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
            return [self._continuous(inp.held)]
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

    def _center(self, ax: Axis) -> float:
        assert isinstance(self.space, gym.spaces.Box)
        lo, hi = float(self.space.low[ax.dim]), float(self.space.high[ax.dim])
        return float(np.clip(0.0 if ax.center is None else ax.center, lo, hi))

    def _continuous(self, held: frozenset[int]) -> np.ndarray:
        """Held keys push their dimension toward its bound; released ones decay to centre."""
        assert isinstance(self.space, gym.spaces.Box)
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

    # -- window

    def show(
        self, frame: np.ndarray | None, state: tuple[str, Color], info: str, hint: str
    ) -> None:
        """Draw the status line (a coloured `state` tag, then `info`), the env frame scaled
        to fit below it, and a one-line `hint` at the bottom."""
        screen = pygame.display.get_surface() or self.screen
        width, height = screen.get_size()
        screen.fill((24, 24, 28))
        tag_text, tag_color = state
        for size in (30, 26, 22, 18):  # the largest font whose line fits the window
            font = self._font(size)
            tag, rest = font.render(tag_text, True, (20, 20, 24)), font.render(info, True, WHITE)
            if tag.get_width() + rest.get_width() + 40 <= width:
                break
        pill = tag.get_rect(left=14, centery=self.STATUS_H // 2).inflate(12, 6)
        pygame.draw.rect(screen, tag_color, pill, border_radius=6)
        screen.blit(tag, tag.get_rect(center=pill.center))
        screen.blit(rest, rest.get_rect(left=pill.right + 12, centery=self.STATUS_H // 2))
        area_h = max(1, height - self.STATUS_H - self.HINT_H)
        if frame is not None:
            img = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
            scale = min(width / img.get_width(), area_h / img.get_height())
            fit = (max(1, round(img.get_width() * scale)), max(1, round(img.get_height() * scale)))
            img = pygame.transform.smoothscale(img, fit)
            screen.blit(img, ((width - fit[0]) // 2, self.STATUS_H + (area_h - fit[1]) // 2))
        else:
            msg = self._font(22).render("no rgb_array render for this env", True, GREY)
            screen.blit(msg, (14, self.STATUS_H + area_h // 2))
        for size in (22, 19, 16):
            surf = self._font(size).render(hint, True, GREY)
            if surf.get_width() + 28 <= width:
                break
        screen.blit(surf, surf.get_rect(left=14, centery=height - self.HINT_H // 2))
        pygame.display.flip()

    def _font(self, size: int) -> pygame.font.Font:
        if size not in self._fonts:
            self._fonts[size] = pygame.font.Font(None, size)
        return self._fonts[size]

    def tick(self) -> None:
        """Wait out the rest of the frame (no wait when fps is 0)."""
        if self.fps > 0:
            self.clock.tick(self.fps)

    def close(self) -> None:
        """Close the window."""
        pygame.display.quit()


def _render(env: gym.Env) -> np.ndarray | None:
    if env.render_mode != "rgb_array":
        return None
    frame = env.render()
    if isinstance(frame, list):  # rgb_array_list
        frame = frame[-1] if frame else None
    return frame if isinstance(frame, np.ndarray) and frame.ndim == 3 else None


def _env_action(action: np.ndarray) -> Any:
    # a 0-d array is unhashable; toy-text envs look actions up in dicts
    return action.item() if action.ndim == 0 else action

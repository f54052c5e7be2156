"""The pygame window every person-facing tool shares: keys in, a frame and text out.

`Window` reads the keyboard once per frame (`poll`) and draws a status line, an env frame
(or two side by side, `side_by_side`), an optional text panel and a hint (`show`).
`Teleop` (`teleop`) adds a key map on top for playing an env; the preference labeller
(`labeller`) and the episode ranker (`ranker`) use it as it is. `require_display` refuses
to open a window nobody can see, and `replay` plays a recorded episode again from its
reset seed to render it.

Headless use and tests: set ``SDL_VIDEODRIVER=dummy`` before the window opens (it opens in
`Window.__init__`, never at import), post key events with ``pygame.event.post``, and pass
``fps=0`` so no frame sleeps.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.errors import ConfigError  # noqa: E402

__all__ = [
    "FrameInput",
    "Window",
    "display_problem",
    "replay",
    "require_display",
    "side_by_side",
]

Color = tuple[int, int, int]
WHITE: Color = (235, 235, 235)
GREY: Color = (150, 150, 150)
RED: Color = (235, 70, 70)
AMBER: Color = (240, 180, 40)
GREEN: Color = (90, 210, 110)
BLUE: Color = (100, 160, 250)
BACKGROUND: Color = (24, 24, 28)

HEADLESS_DRIVERS = ("offscreen", "dummy")
"""SDL's video drivers that draw nowhere: a window on them is one nobody sees."""


@dataclass(frozen=True)
class FrameInput:
    """What the keyboard and the mouse did in one frame.

    pressed: keys pressed during the frame, in order (pygame key codes).
    held: keys down at the end of the frame.
    quit: the window was closed or Esc pressed.
    mouse: where the cursor is over the env's picture, as fractions (x from its left edge,
        y from its bottom edge, each clipped into [0, 1]); None before it first moved over
        the window or before a picture was drawn.
    """

    pressed: tuple[int, ...]
    held: frozenset[int]
    quit: bool = False
    mouse: tuple[float, float] | None = None


def display_problem() -> str | None:
    """Why no window can be shown here (None when one can): no X or Wayland display on
    Linux, or SDL falling back to a driver that draws nowhere. A headless driver named in
    ``SDL_VIDEODRIVER`` on purpose (scripts, tests) is not a problem."""
    asked = os.environ.get("SDL_VIDEODRIVER", "")
    if asked in HEADLESS_DRIVERS:
        return None
    if sys.platform.startswith("linux") and not asked:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    was = pygame.display.get_init()
    try:
        pygame.display.init()
    except pygame.error as exc:
        return f"no display SDL can open ({exc})"
    driver = pygame.display.get_driver()
    if not was:
        pygame.display.quit()
    if driver in HEADLESS_DRIVERS:
        return f"no display (SDL found only its '{driver}' driver)"
    return None


def require_display(what: str) -> None:
    """Refuse, in one line, to start `what` when no window can be shown.

    Raises:
        ConfigError: there is no display (see `display_problem`).
    """
    problem = display_problem()
    if problem is not None:
        raise ConfigError(
            f"{what} opens a window for a person, and this machine has {problem}; run it "
            "where you have a screen (over SSH: ssh -X), or set SDL_VIDEODRIVER=dummy to "
            "drive it from a script"
        )


class Window:
    """A resizable pygame window: keys in (`poll`), a frame and text out (`show`).

    fps: frame-rate limit; 0 never sleeps (scripts and tests).
    size: the window's initial (width, height) in pixels; it can be resized.
    title: the window caption.

    `poll()` reads the event queue once per frame and tracks held keys from KEYDOWN/KEYUP
    events; `held` is a plain set that scripts may also set directly.
    """

    STATUS_H = 40
    HINT_H = 28

    def __init__(
        self, fps: float = 30.0, size: tuple[int, int] = (720, 548), title: str = "protege"
    ) -> None:
        self.fps = float(fps)
        self.held: set[int] = set()
        self.cursor: tuple[int, int] | None = None  # the last mouse position, in pixels
        self.frame_rect: pygame.Rect | None = None  # where the last env picture was drawn
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(title)
        self._fonts: dict[int, pygame.font.Font] = {}
        self.clock = pygame.time.Clock()

    def poll(self) -> FrameInput:
        """Drain pygame's event queue: keys pressed this frame, keys held, window closed,
        and where the cursor is over the env's picture."""
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
            elif event.type == pygame.MOUSEMOTION:
                self.cursor = tuple(event.pos)
        return FrameInput(tuple(pressed), frozenset(self.held), quit_, self.mouse())

    def mouse(self) -> tuple[float, float] | None:
        """The cursor's place over the last env picture drawn (see `FrameInput.mouse`)."""
        if self.cursor is None or self.frame_rect is None:
            return None
        r = self.frame_rect
        fx = (self.cursor[0] - r.left) / max(1, r.width - 1)
        fy = (r.bottom - 1 - self.cursor[1]) / max(1, r.height - 1)
        return float(np.clip(fx, 0.0, 1.0)), float(np.clip(fy, 0.0, 1.0))

    def show(
        self,
        frame: np.ndarray | None,
        state: tuple[str, Color],
        info: str,
        hint: str,
        panel: Sequence[tuple[str, Color]] = (),
    ) -> None:
        """Draw the status line (a coloured `state` tag, then `info`), the env frame scaled
        to fit below it, a one-line `hint` at the bottom, and, when given, `panel`: lines
        of text in their colours, left of the frame."""
        screen = pygame.display.get_surface() or self.screen
        width, height = screen.get_size()
        screen.fill(BACKGROUND)
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
        left = self._panel(screen, panel, width, area_h) if panel else 0
        area_w = max(1, width - left)
        if frame is not None:
            img = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
            scale = min(area_w / img.get_width(), area_h / img.get_height())
            fit = (max(1, round(img.get_width() * scale)), max(1, round(img.get_height() * scale)))
            img = pygame.transform.smoothscale(img, fit)
            at = (left + (area_w - fit[0]) // 2, self.STATUS_H + (area_h - fit[1]) // 2)
            screen.blit(img, at)
            self.frame_rect = pygame.Rect(at, fit)
        elif not panel:
            msg = self._font(22).render("no rgb_array render for this env", True, GREY)
            screen.blit(msg, (14, self.STATUS_H + area_h // 2))
        for size in (22, 19, 16):
            surf = self._font(size).render(hint, True, GREY)
            if surf.get_width() + 28 <= width:
                break
        screen.blit(surf, surf.get_rect(left=14, centery=height - self.HINT_H // 2))
        pygame.display.flip()

    def _panel(
        self, screen: pygame.Surface, lines: Sequence[tuple[str, Color]], width: int, area_h: int
    ) -> int:
        """Draw `lines` down the left of the frame area; the pixels they take across."""
        for size in (24, 21, 18, 15):  # the largest font whose lines fit the height
            font = self._font(size)
            if font.get_linesize() * len(lines) <= area_h - 16:
                break
        surfaces = [font.render(text, True, color) for text, color in lines]
        panel_w = min(max(s.get_width() for s in surfaces) + 28, int(width * 0.6))
        y = self.STATUS_H + 8
        for surf in surfaces:
            if y + font.get_linesize() > self.STATUS_H + area_h:
                break  # the rest does not fit: the window is too short for them
            screen.blit(surf, (14, y), area=pygame.Rect(0, 0, panel_w - 14, surf.get_height()))
            y += font.get_linesize()
        return panel_w

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


def side_by_side(left: np.ndarray | None, right: np.ndarray | None, gap: int = 12) -> np.ndarray:
    """Two rgb frames in one, left and right, with a `gap` of background between them
    (a missing frame is left blank at the other's size), (H, W_left + gap + W_right, 3)."""
    frames = [f for f in (left, right) if f is not None]
    if not frames:
        return np.zeros((1, 1, 3), dtype=np.uint8)
    h = max(f.shape[0] for f in frames)
    blank = np.zeros_like(frames[0])

    def pad(f: np.ndarray | None) -> np.ndarray:
        f = blank if f is None else f
        out = np.empty((h, f.shape[1], 3), dtype=np.uint8)
        out[:] = BACKGROUND
        out[: f.shape[0]] = f[..., :3]
        return out

    space = np.empty((h, gap, 3), dtype=np.uint8)
    space[:] = BACKGROUND
    return np.concatenate([pad(left), space, pad(right)], axis=1)


def replay(
    env: gym.Env, seed: int, acts: np.ndarray, start: int = 0, stop: int | None = None
) -> Iterator[tuple[Any, np.ndarray | None]]:
    """Play an episode again: reset `env` (made with render_mode="rgb_array") with `seed`,
    take `acts` in order, and yield (observation, rgb frame) at steps `start` to `stop`
    (both included: a segment [start, stop) shows its first state to the state after its
    last action). The states before `start` are stepped through without rendering.

    A deterministic env (every Gymnasium classic-control, Box2D and MuJoCo env) replays
    its episode exactly; compare the observations yielded with the recorded ones to know.
    """
    stop = len(acts) if stop is None else stop
    obs, _ = env.reset(seed=int(seed))
    for t in range(stop + 1):
        if t >= start:
            yield obs, render(env)
        if t == stop:
            return
        action = acts[t]
        obs, _, terminated, truncated, _ = env.step(env_action(np.asarray(action)))
        if (terminated or truncated) and t + 1 < stop:
            return  # the env ended sooner than the recording: nothing more to show


def render(env: gym.Env) -> np.ndarray | None:
    """The env's current rgb frame, (H, W, 3), or None when it does not render one."""
    if env.render_mode != "rgb_array":
        return None
    frame = env.render()
    if isinstance(frame, list):  # rgb_array_list
        frame = frame[-1] if frame else None
    return frame if isinstance(frame, np.ndarray) and frame.ndim == 3 else None


def env_action(action: np.ndarray) -> Any:
    """An action as `env.step` takes it: a 0-d array as its Python number (toy-text envs
    look actions up in dicts, and a 0-d array is unhashable)."""
    return action.item() if action.ndim == 0 else action

"""People as experts: play an env at the keyboard, or take over from a learner.

`record` opens a pygame window on the env's rgb render; a person plays episodes and keeps
(K / Enter) or discards (D / Backspace) each one. Every kept episode is written at once, so
closing the window never loses what was kept.

`hg_dagger_collect` is the data-gathering half of HG-DAgger (Kelly, Sidrane,
Driggs-Campbell & Kochenderfer, "HG-DAgger: Interactive Imitation Learning with Human
Experts", ICRA 2019): the learner drives; while the person holds SPACE their action is
executed instead, and only those takeover segments come back, labelled with the person's
actions. The person decides where the learner needs help, not a β schedule.

`KeyMap` says which keys give which action: built in for the classic-control, Box2D lunar
landers and toy-text grids, or a JSON file for any Discrete or 1-D Box action space.
Continuous actions ramp while a key is held and decay back when it is released, so
Pendulum and LunarLanderContinuous are playable with arrows.

Headless use and tests: set ``SDL_VIDEODRIVER=dummy`` before the window opens, post key
events with ``pygame.event.post`` (or set ``teleop.held``), pass ``fps=0`` so no frame
sleeps, and drive `Recorder.step()` one frame at a time (or pass ``on_frame``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.data.rollout import Policy  # noqa: E402
from protege.data.types import Obs, Trajectory, obs_stack  # noqa: E402
from protege.envs import EnvFactory, Spaces, make_env  # noqa: E402
from protege.errors import ConfigError, ExpertError  # noqa: E402

__all__ = [
    "BUILTIN_KEYMAPS",
    "Axis",
    "FrameInput",
    "KeyMap",
    "RecordResult",
    "Recorder",
    "Teleop",
    "default_fps",
    "hg_dagger_collect",
    "keymap_for",
    "record",
]

TAKEOVER_KEY = pygame.K_SPACE
"""Held during `hg_dagger_collect` to take control from the learner."""
PAUSE_KEY = pygame.K_SPACE
"""Toggles pause while recording a real-time env."""
KEEP_KEYS = frozenset({pygame.K_k, pygame.K_RETURN, pygame.K_KP_ENTER})
DISCARD_KEYS = frozenset({pygame.K_d, pygame.K_BACKSPACE})

JSON_EXAMPLE = (
    '{"keys": {"left": 0, "right": 1}, "noop": 0} for a Discrete action space, or '
    '{"axes": [{"dim": 0, "neg": "left", "pos": "right"}]} for a Box'
)

# ------------------------------------------------------------------------------- key maps


@dataclass(frozen=True)
class Axis:
    """One dimension of a Box action driven by two keys.

    dim: index into the (1-D) Box action.
    neg, pos: pygame key names ("left", "a", "space", ...) that push the value toward the
        lower / upper bound while held; either may be None for a one-sided axis.
    ramp_s: seconds (default 0.3) to travel from the centre to a bound while a key is held;
        on release the value decays back to the centre at the same rate. 0 jumps at once.
    center: the resting value (default: 0 clipped into the bounds).
    """

    dim: int
    neg: str | None = None
    pos: str | None = None
    ramp_s: float = 0.3
    center: float | None = None


@dataclass(frozen=True)
class KeyMap:
    """Which keys produce which action, for one env's action space.

    keys: Discrete spaces: a pygame key name, or a "+"-joined combination ("left+right"),
        to an action id. Of the entries whose keys are all held, the combination with the
        most keys wins, then the one listed first.
    noop: the Discrete action when no mapped key is held; None repeats the last one (for
        envs with no "do nothing" action, such as CartPole; action 0 before any key).
    axes: Box spaces: one `Axis` per key-driven dimension; the others rest at their centre.
    step_on_press: turn-based play (toy-text grids): one env step per key press and none
        while no key is pressed, instead of one step per frame.
    source: where the map came from ("built-in" or the JSON file), named in errors.
    """

    keys: Mapping[str, int] = field(default_factory=dict)
    noop: int | None = 0
    axes: tuple[Axis, ...] = ()
    step_on_press: bool = False
    source: str = "built-in"

    @classmethod
    def from_json(cls, path: str | Path) -> KeyMap:
        """Read a key map file; every mistake is a `ConfigError` naming the file and field."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such key map file; write one like {JSON_EXAMPLE}")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            msg = f"{path}: not valid JSON ({exc}); write it like {JSON_EXAMPLE}"
            raise ConfigError(msg) from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "key map") -> KeyMap:
        """Build a key map from parsed JSON (see `from_json`), checking every field's type."""

        def fail(msg: str) -> ConfigError:
            return ConfigError(f"{source}: {msg}; write it like {JSON_EXAMPLE}")

        if not isinstance(data, dict):
            raise fail(f"expected a JSON object, got {type(data).__name__}")
        unknown = set(data) - {"keys", "noop", "axes", "step_on_press"}
        if unknown:
            raise fail(f"unknown field(s) {sorted(unknown)}")
        if "keys" not in data and "axes" not in data:
            raise fail("needs 'keys' (Discrete actions) or 'axes' (Box actions)")
        keys = data.get("keys", {})
        if not isinstance(keys, dict) or not all(
            isinstance(k, str) and _is_int(v) for k, v in keys.items()
        ):
            raise fail("'keys' must map key names to integer action ids")
        noop = data.get("noop", 0)
        if noop is not None and not _is_int(noop):
            raise fail(f"'noop' must be an integer action id or null, got {noop!r}")
        step_on_press = data.get("step_on_press", False)
        if not isinstance(step_on_press, bool):
            raise fail(f"'step_on_press' must be true or false, got {step_on_press!r}")
        raw_axes = data.get("axes", [])
        if not isinstance(raw_axes, list):
            raise fail("'axes' must be a list of {dim, neg, pos} objects")
        axes = []
        for i, ax in enumerate(raw_axes):
            if not isinstance(ax, dict) or not _is_int(ax.get("dim")):
                raise fail(f"axes[{i}] must be an object with an integer 'dim'")
            extra = set(ax) - {"dim", "neg", "pos", "ramp_s", "center"}
            if extra:
                raise fail(f"axes[{i}] has unknown field(s) {sorted(extra)}")
            for name in ("neg", "pos"):
                if ax.get(name) is not None and not isinstance(ax[name], str):
                    raise fail(f"axes[{i}].{name} must be a key name or null")
            for name in ("ramp_s", "center"):
                value = ax.get(name)
                if value is not None and not isinstance(value, int | float):
                    raise fail(f"axes[{i}].{name} must be a number")
            ramp = float(ax.get("ramp_s", 0.3))
            if ramp < 0:
                raise fail(f"axes[{i}].ramp_s must be ≥ 0 seconds, got {ramp}")
            center = ax.get("center")
            center = None if center is None else float(center)
            axes.append(Axis(ax["dim"], ax.get("neg"), ax.get("pos"), ramp, center))
        km = cls(dict(keys), noop, tuple(axes), step_on_press, source)
        km.key_codes()  # unknown key names fail here, before any window opens
        return km

    def key_codes(self) -> dict[str, int]:
        """Every key name this map uses → its pygame key code (unknown names: ConfigError)."""
        names = [n for combo in self.keys for n in _split_combo(combo)]
        names += [n for ax in self.axes for n in (ax.neg, ax.pos) if n is not None]
        return {n: _key_code(n, self.source) for n in names}

    def check(self, space: gym.Space, env_id: str = "the env") -> None:
        """Raise a `ProtegeError` unless this map fits `space` (kind, ids, dims, bounds)."""
        where = f"key map {self.source} for {env_id}"
        if isinstance(space, gym.spaces.Discrete):
            if self.axes or not self.keys:
                raise ConfigError(
                    f"{where}: the action space is {space}, so the map needs 'keys' "
                    "(key name → action id), not 'axes'"
                )
            lo, hi = int(space.start), int(space.start + space.n)
            named = [("keys." + k, a) for k, a in self.keys.items()]
            for name, action in named + [("noop", self.noop)]:
                if action is not None and not lo <= int(action) < hi:
                    raise ConfigError(
                        f"{where}: {name} = {action} is outside the actions {lo}..{hi - 1}"
                    )
        elif isinstance(space, gym.spaces.Box):
            if self.keys or not self.axes:
                raise ConfigError(
                    f"{where}: the action space is {space}, so the map needs 'axes' "
                    '([{"dim": 0, "neg": KEY, "pos": KEY}]), not \'keys\''
                )
            if len(space.shape) != 1:
                raise ConfigError(f"{where}: only 1-D Box actions can be keyed, got {space}")
            dims = [ax.dim for ax in self.axes]
            if len(set(dims)) != len(dims):
                raise ConfigError(f"{where}: axes name dim {dims} more than once")
            for ax in self.axes:
                if not 0 <= ax.dim < space.shape[0]:
                    raise ConfigError(
                        f"{where}: axis dim {ax.dim} is outside the {space.shape[0]} dims"
                    )
                if not (np.isfinite(space.low[ax.dim]) and np.isfinite(space.high[ax.dim])):
                    raise ConfigError(
                        f"{where}: dim {ax.dim} has an infinite bound, so a held key has "
                        "nothing to ramp toward; key only bounded dims"
                    )
        else:
            raise ConfigError(f"{where}: key maps drive Discrete or 1-D Box actions, not {space}")
        self.key_codes()

    def describe(self) -> str:
        """A one-line legend for the window: which key does what."""
        if self.axes:
            parts = []
            for ax in self.axes:
                signed = [(ax.neg, "-"), (ax.pos, "+")]
                keys = "/".join(_label(n) + sign for n, sign in signed if n is not None)
                parts.append(f"{keys} dim {ax.dim}")
            return "  ".join(parts)
        return "  ".join(f"{'+'.join(map(_label, _split_combo(k)))}={a}"
                         for k, a in self.keys.items())  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _split_combo(combo: str) -> list[str]:
    # "+" alone is a key name (keypad plus aside, SDL calls it "+"), so split only "a+b"
    return [combo] if combo == "+" else [part.strip() for part in combo.split("+")]


def _label(name: str) -> str:
    return name.upper()


def _key_code(name: str, source: str) -> int:
    with warnings.catch_warnings():  # pygame warns when not initialised; names resolve anyway
        warnings.simplefilter("ignore")
        try:
            return int(pygame.key.key_code(name.lower()))
        except ValueError:
            raise ConfigError(
                f"{source}: unknown key name '{name}'; use pygame key names such as "
                "'left', 'right', 'up', 'down', 'space', 'a', '1'"
            ) from None


def _grid(keys: dict[str, int]) -> KeyMap:
    return KeyMap(keys, noop=None, step_on_press=True)


_FROZEN_LAKE = _grid({"left": 0, "down": 1, "right": 2, "up": 3})
_CLIFF_WALKING = _grid({"up": 0, "right": 1, "down": 2, "left": 3})
_CARTPOLE = KeyMap({"left": 0, "right": 1}, noop=None)

BUILTIN_KEYMAPS: dict[str, KeyMap] = {
    # CartPole has no idle action: with no key held the last push repeats.
    "CartPole-v0": _CARTPOLE,
    "CartPole-v1": _CARTPOLE,
    # torque -1 / 0 / +1
    "Acrobot-v1": KeyMap({"left": 0, "down": 1, "right": 2}, noop=1),
    # Gymnasium's own MountainCar.get_keys_to_action: none/both → 1, ← → 0, → → 2
    "MountainCar-v0": KeyMap({"left+right": 1, "left": 0, "right": 2}, noop=1),
    "MountainCarContinuous-v0": KeyMap(axes=(Axis(0, "left", "right"),)),
    # Pendulum's positive torque turns it counter-clockwise on screen: ← ccw, → clockwise
    "Pendulum-v1": KeyMap(axes=(Axis(0, neg="right", pos="left"),)),
    # 0 none, 1 fire left orientation engine, 2 main engine, 3 right orientation engine
    "LunarLander-v3": KeyMap({"left": 1, "up": 2, "right": 3}, noop=0),
    # dim 0 main engine (fires above 0), dim 1 side engines (fire beyond ±0.5)
    "LunarLanderContinuous-v3": KeyMap(axes=(Axis(0, None, "up"), Axis(1, "left", "right"))),
    "FrozenLake-v1": _FROZEN_LAKE,
    "FrozenLake8x8-v1": _FROZEN_LAKE,
    "CliffWalking-v1": _CLIFF_WALKING,
    "CliffWalkingSlippery-v1": _CLIFF_WALKING,
    # south, north, east, west, pickup, drop-off
    "Taxi-v4": _grid({"down": 0, "up": 1, "right": 2, "left": 3, "p": 4, "o": 5}),
}
"""Built-in key maps by Gymnasium id."""


def keymap_for(env_id: str, path: str | Path | None = None) -> KeyMap:
    """The key map in `path` (JSON) if given, else the built-in one for `env_id`.

    Raises ExpertError when there is neither, naming the fix (`--keymap FILE.json`).
    """
    if path is not None:
        return KeyMap.from_json(path)
    if env_id in BUILTIN_KEYMAPS:
        return BUILTIN_KEYMAPS[env_id]
    raise ExpertError(
        f"no built-in key map for '{env_id}' (built in: {', '.join(sorted(BUILTIN_KEYMAPS))}); "
        f"write a JSON key map such as {JSON_EXAMPLE} and pass it with --keymap FILE.json"
    )


def default_fps(env: gym.Env, keymap: KeyMap) -> float:
    """Frames per second: the env's `render_fps` (or 30); 30 for turn-based maps."""
    if keymap.step_on_press:
        return 30.0  # steps come from presses; the frame rate only sets input latency
    fps = env.metadata.get("render_fps") or 30
    return float(fps)


# ------------------------------------------------------------------ window and keyboard


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


# --------------------------------------------------------------------------- recording


@dataclass
class RecordResult:
    """What a recording session produced.

    kept: the episodes the person kept, in order (each already written to `path`).
    discarded: episodes the person discarded with D / Backspace.
    lost_steps: steps of an episode that was not kept because the window closed (in
        progress, or finished but not yet kept); 0 when none.
    closed_early: the window was closed (or Esc) before all episodes were kept.
    path: where the kept episodes were written (None when not writing).
    """

    kept: list[Trajectory] = field(default_factory=list)
    discarded: int = 0
    lost_steps: int = 0
    closed_early: bool = False
    path: Path | None = None

    def summary(self) -> str:
        """One or two lines for the terminal."""
        steps = sum(len(t) for t in self.kept)
        where = f" in {self.path}" if self.path is not None and self.kept else ""
        line = f"kept {len(self.kept)} episodes ({steps} steps){where}"
        if self.discarded:
            line += f"; discarded {self.discarded}"
        if self.lost_steps:
            line += (
                f"\nthe window closed before the last episode was kept: its {self.lost_steps} "
                "steps were discarded"
            )
        return line


class Recorder:
    """One recording session in a `Teleop` window, advanced one frame per `step()`.

    env: built with render_mode="rgb_array" (closed by the caller).
    episodes: episodes to keep; discarded ones are re-played and do not count.
    on_keep: called with each kept episode at once (e.g. `DatasetWriter.add`).
    seed: attempt i (kept or discarded) starts from reset(seed=seed + i).
    start_paused: real-time episodes wait for an action key (or SPACE) before they run.

    States: "paused", "recording", "over" (waiting for K keep / D discard), "done".
    """

    def __init__(
        self,
        env: gym.Env,
        teleop: Teleop,
        episodes: int,
        on_keep: Callable[[Trajectory], None] | None = None,
        seed: int = 0,
        start_paused: bool = True,
    ) -> None:
        if episodes < 1:
            raise ConfigError(f"episodes must be at least 1, got {episodes}")
        self.env, self.teleop, self.episodes = env, teleop, episodes
        self.on_keep, self.seed, self.start_paused = on_keep, seed, start_paused
        self.result = RecordResult()
        self.attempt = 0
        self.frame = 0
        self._new_episode()

    @property
    def running(self) -> bool:
        """False once all episodes are kept or the window closed."""
        return self.state != "done"

    def _new_episode(self) -> None:
        obs, _ = self.env.reset(seed=self.seed + self.attempt)
        self.attempt += 1
        self.teleop.reset_controls()
        self.obs: list[Any] = [obs]
        self.acts: list[np.ndarray] = []
        self.rews: list[float] = []
        self.terminated = False
        paused = self.start_paused and not self.teleop.keymap.step_on_press
        self.state = "paused" if paused else "recording"

    def _trajectory(self) -> Trajectory:
        return Trajectory(
            obs=obs_stack(self.obs),
            acts=np.stack(self.acts),
            rews=np.asarray(self.rews, dtype=np.float64),
            terminated=self.terminated,
            truncated=not self.terminated,
        )

    def step(self) -> bool:
        """Process one frame: keys, at most the frame's env steps, drawing. False when done."""
        if self.state == "done":
            return False
        inp = self.teleop.poll()
        if inp.quit:
            self.result.closed_early = True
            self.result.lost_steps = len(self.acts)
            self.state = "done"
            return False
        pressed = set(inp.pressed)
        if self.state == "over":
            if pressed & KEEP_KEYS:
                traj = self._trajectory()
                if self.on_keep is not None:
                    self.on_keep(traj)
                self.result.kept.append(traj)
                if len(self.result.kept) >= self.episodes:
                    self.state = "done"
                else:
                    self._new_episode()
            elif pressed & DISCARD_KEYS:
                self.result.discarded += 1
                self._new_episode()
        elif self.state == "paused" and (PAUSE_KEY in pressed or pressed & self.teleop.action_keys):
            self.state = "recording"
        elif (
            self.state == "recording"
            and PAUSE_KEY in pressed
            and PAUSE_KEY not in self.teleop.action_keys
            and not self.teleop.keymap.step_on_press
        ):
            self.state = "paused"
        if self.state == "recording":
            for action in self.teleop.actions(inp):
                self._env_step(action)
                if self.state != "recording":
                    break
        if self.state != "done":
            self._draw()
        self.frame += 1
        self.teleop.tick()
        return self.state != "done"

    def _env_step(self, action: np.ndarray) -> None:
        obs, rew, terminated, truncated, _ = self.env.step(_env_action(action))
        self.obs.append(obs)
        self.acts.append(action)
        self.rews.append(float(rew))
        if terminated or truncated:
            self.terminated = bool(terminated)
            self.state = "over"

    def _draw(self) -> None:
        k = min(len(self.result.kept) + 1, self.episodes)
        info = f"episode {k}/{self.episodes} · step {len(self.acts)} · return {sum(self.rews):.1f}"
        state: tuple[str, Color]
        if self.state == "recording":
            state = ("RECORDING", RED)
        elif self.state == "paused":
            start = "press an action key to start" if not self.acts else "SPACE resumes"
            state = (f"PAUSED · {start}", AMBER)
        else:
            end = "" if self.terminated else " (time limit)"
            state = (f"EPISODE OVER{end}: K keep · D discard", GREEN)
        pause = "" if self.teleop.keymap.step_on_press else " · SPACE pause"
        hint = (
            f"{self.teleop.keymap.describe()}{pause} · ESC quit (kept episodes are saved)"
            f" · kept {len(self.result.kept)}, discarded {self.result.discarded}"
        )
        self.teleop.show(_render(self.env), state, info, hint)


def record(
    env_id: str,
    out: str | Path | None,
    episodes: int = 5,
    keymap: KeyMap | str | Path | None = None,
    fps: float | None = None,
    seed: int = 0,
    overwrite: bool = False,
    on_frame: Callable[[Recorder], None] | None = None,
) -> RecordResult:
    """A person plays `env_id` in a window; the episodes they keep become a dataset.

    out: the dataset to write (*.npz, else a Minari dataset dir); rewritten after every kept
        episode, so closing the window keeps them all. None records without writing.
    episodes: episodes to keep before the session ends.
    keymap: a `KeyMap`, a JSON key map file, or None for the env's built-in map.
    fps: frame-rate limit (default: the env's render_fps, or 30; 0: never sleep).
    seed: attempt i starts from reset(seed=seed + i).
    overwrite: replace an existing dataset at `out`.
    on_frame: called before each frame with the `Recorder` (scripted input, tests).

    Every error a user can cause (no key map, a bad one, an existing `out`) is raised
    before the window opens.
    """
    km = keymap if isinstance(keymap, KeyMap) else keymap_for(env_id, keymap)
    env = make_env(env_id, render_mode="rgb_array")
    try:
        km.check(env.action_space, env_id)
        on_keep = None
        if out is not None:
            from protege.data.storage import DatasetWriter

            on_keep = DatasetWriter(out, env_id, Spaces.of(env), overwrite=overwrite).add
        rate = default_fps(env, km) if fps is None else fps
        teleop = Teleop(
            km, env.action_space, fps=rate, ramp_fps=rate or default_fps(env, km),
            title=f"protege record · {env_id}",
        )  # fmt: skip
        try:
            rec = Recorder(env, teleop, episodes, on_keep, seed)
            rec.result.path = None if out is None else Path(out)
            while rec.running:
                if on_frame is not None:
                    on_frame(rec)
                rec.step()
            return rec.result
        finally:
            teleop.close()
    finally:
        env.close()


# ---------------------------------------------------------------------------- HG-DAgger


def hg_dagger_collect(
    env: str | EnvFactory | gym.Env,
    learner: Policy | None,
    teleop: Teleop,
    max_steps: int,
    seed: int = 0,
    on_frame: Callable[[int], None] | None = None,
) -> list[Trajectory]:
    """HG-DAgger's data collection: the learner drives, the person takes over by holding SPACE.

    env: a Gymnasium id (built with render_mode="rgb_array"), a zero-argument builder, or
        an env to use and leave open (closing a classic-control env also closes pygame's
        display, so a caller collecting several rounds in one window passes one env).
    learner: a batched policy, obs (B, *obs_shape) -> actions (B, *act_shape); None before
        there is one (DAgger's first round): the person drives all the time, no SPACE needed.
    teleop: the window and key map; its action space must match the env's.
    max_steps: env steps in all (learner's and person's) before collection stops.
    seed: episode i starts from reset(seed=seed + i); episodes restart until max_steps.
    on_frame: called with the frame index before each frame (scripted input, tests).

    Returns one `Trajectory` per contiguous takeover segment, in order: the segment's
    observations plus the one after its last step, the person's actions and the env's
    rewards; `terminated` when the env terminated inside it, else `truncated`. Closing the
    window (or Esc) stops early and returns the segments so far.
    """
    if max_steps < 1:
        raise ConfigError(f"max_steps must be at least 1, got {max_steps}")
    if isinstance(env, gym.Env):
        return _hg_loop(env, learner, teleop, max_steps, seed, on_frame)
    e = make_env(env, render_mode="rgb_array") if isinstance(env, str) else env()
    try:
        return _hg_loop(e, learner, teleop, max_steps, seed, on_frame)
    finally:
        e.close()


def _hg_loop(
    env: gym.Env,
    learner: Policy | None,
    teleop: Teleop,
    max_steps: int,
    seed: int,
    on_frame: Callable[[int], None] | None,
) -> list[Trajectory]:
    if Spaces.of(env).action != teleop.space:
        raise ConfigError(
            f"the teleop's action space {teleop.space} is not the env's {env.action_space}"
        )
    segments: list[Trajectory] = []
    episode = 0
    obs, _ = env.reset(seed=seed)
    teleop.reset_controls()
    seg: dict[str, list[Any]] | None = None  # the open takeover segment

    def close(terminated: bool) -> None:
        nonlocal seg
        if seg is not None and seg["acts"]:
            segments.append(
                Trajectory(
                    obs=obs_stack(seg["obs"]),
                    acts=np.stack(seg["acts"]),
                    rews=np.asarray(seg["rews"], dtype=np.float64),
                    terminated=terminated,
                    truncated=not terminated,
                )
            )
        seg = None

    steps, frame = 0, 0
    while steps < max_steps:
        if on_frame is not None:
            on_frame(frame)
        frame += 1
        inp = teleop.poll()
        if inp.quit:
            break
        human = learner is None or TAKEOVER_KEY in inp.held
        keyed = teleop.actions(inp)  # always, so continuous ramps track the held keys
        if human:
            actions = keyed
        else:
            assert learner is not None
            close(terminated=False)
            actions = [np.asarray(learner(_batch(obs)))[0]]
        for action in actions:
            if human and seg is None:
                seg = {"obs": [obs], "acts": [], "rews": []}
            next_obs, rew, terminated, truncated, _ = env.step(_env_action(action))
            steps += 1
            if seg is not None:
                seg["obs"].append(next_obs)
                seg["acts"].append(action)
                seg["rews"].append(float(rew))
            obs = next_obs
            if terminated or truncated:
                close(terminated=bool(terminated))
                episode += 1
                obs, _ = env.reset(seed=seed + episode)
                teleop.reset_controls()
            if steps >= max_steps:
                break
        who: tuple[str, Color] = ("HUMAN", AMBER) if human else ("LEARNER", BLUE)
        labels = sum(len(t) for t in segments) + (len(seg["acts"]) if seg else 0)
        info = f"step {steps}/{max_steps} · episode {episode + 1} · human labels {labels}"
        takeover = "you drive" if learner is None else "hold SPACE to take over"
        hint = f"{takeover} · {teleop.keymap.describe()} · ESC stop"
        teleop.show(_render(env), who, info, hint)
        teleop.tick()
    close(terminated=False)
    return segments


def human_collector(
    env: gym.Env,
    teleop: Teleop,
    labels_per_round: int,
    on_frame: Callable[[int], None] | None = None,
) -> Callable[[int, Policy | None, float, int], list[Trajectory]]:
    """DAgger's `Collect` with a person as the expert (HG-DAgger): each round the learner
    drives and the person's takeover segments are the labels; before the first fit the person
    drives throughout. β does not apply: the person decides when to take over.

    env: built with render_mode="rgb_array", left open between rounds; the caller closes it.
    """

    def collect(i: int, learner: Policy | None, beta: float, seed: int) -> list[Trajectory]:
        return hg_dagger_collect(env, learner, teleop, labels_per_round, seed, on_frame)

    return collect


def _batch(obs: Any) -> Obs:
    return obs_stack([obs])


def _env_action(action: np.ndarray) -> Any:
    # a 0-d array is unhashable; toy-text envs look actions up in dicts
    return action.item() if action.ndim == 0 else action

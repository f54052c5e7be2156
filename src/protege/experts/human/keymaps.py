"""Key maps: which keys give which action, for one env's action space.

`KeyMap` is built in for the classic-control, Box2D lunar landers, toy-text grids and
protege's TwoPaths (`BUILTIN_KEYMAPS`, looked up by `keymap_for`), or read from a JSON file
for any Discrete or 1-D Box action space. Continuous actions ramp while a key is held and
decay back when it is released (see `Axis`), so Pendulum and LunarLanderContinuous are
playable with arrows; or follow the mouse (see `MouseAxis`): the cursor's place over the
env's picture sets them, as a person steers a vehicle or points where a pusher should go.

Key names are pygame's; they are resolved to key codes here, before any window opens, so
a bad map fails with a `ConfigError` naming the file and the fix.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.errors import ConfigError, ExpertError  # noqa: E402

__all__ = [
    "BUILTIN_KEYMAPS",
    "JSON_EXAMPLE",
    "Axis",
    "KeyMap",
    "MouseAxis",
    "default_fps",
    "keymap_for",
]

JSON_EXAMPLE = (
    '{"keys": {"left": 0, "right": 1}, "noop": 0} for a Discrete action space, or '
    '{"axes": [{"dim": 0, "neg": "left", "pos": "right"}]} or '
    '{"mouse": [{"dim": 0, "axis": "x"}]} for a Box'
)


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
class MouseAxis:
    """One dimension of a Box action set by the mouse: the cursor's place across the env's
    picture (`axis` "x": left edge = the lower bound, right edge = the upper; "y": bottom =
    lower, top = upper), linearly in between; outside the picture, the nearer edge's value.
    Before the cursor first moves over the window, the dimension rests at 0 clipped into
    its bounds.
    """

    dim: int
    axis: str = "x"


@dataclass(frozen=True)
class KeyMap:
    """Which keys produce which action, for one env's action space.

    keys: Discrete spaces: a pygame key name, or a "+"-joined combination ("left+right"),
        to an action id. Of the entries whose keys are all held, the combination with the
        most keys wins, then the one listed first.
    noop: the Discrete action when no mapped key is held; None repeats the last one (for
        envs with no "do nothing" action, such as CartPole; action 0 before any key).
    axes: Box spaces: one `Axis` per key-driven dimension; the others rest at their centre.
    mouse: Box spaces: one `MouseAxis` per mouse-driven dimension (a map may mix both, on
        different dimensions).
    step_on_press: turn-based play (toy-text grids): one env step per key press and none
        while no key is pressed, instead of one step per frame.
    source: where the map came from ("built-in" or the JSON file), named in errors.
    """

    keys: Mapping[str, int] = field(default_factory=dict)
    noop: int | None = 0
    axes: tuple[Axis, ...] = ()
    step_on_press: bool = False
    source: str = "built-in"
    mouse: tuple[MouseAxis, ...] = ()

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
        unknown = set(data) - {"keys", "noop", "axes", "step_on_press", "mouse"}
        if unknown:
            raise fail(f"unknown field(s) {sorted(unknown)}")
        if not {"keys", "axes", "mouse"} & set(data):
            raise fail("needs 'keys' (Discrete actions), or 'axes' or 'mouse' (Box actions)")
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
        axes = []
        axis_fields = ("dim", "neg", "pos", "ramp_s", "center")
        for i, ax in enumerate(_dim_objects(data, "axes", axis_fields, "{dim, neg, pos}", fail)):
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
        mouse = []
        for i, m in enumerate(_dim_objects(data, "mouse", ("dim", "axis"), "{dim, axis}", fail)):
            if m.get("axis", "x") not in ("x", "y"):
                raise fail(f'mouse[{i}].axis must be "x" or "y", got {m.get("axis")!r}')
            mouse.append(MouseAxis(m["dim"], m.get("axis", "x")))
        km = cls(dict(keys), noop, tuple(axes), step_on_press, source, tuple(mouse))
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
            if self.keys or not (self.axes or self.mouse):
                raise ConfigError(
                    f"{where}: the action space is {space}, so the map needs 'axes' "
                    '([{"dim": 0, "neg": KEY, "pos": KEY}]) or \'mouse\' ([{"dim": 0, '
                    '"axis": "x"}]), not \'keys\''
                )
            if len(space.shape) != 1:
                raise ConfigError(f"{where}: only 1-D Box actions can be keyed, got {space}")
            dims = [ax.dim for ax in self.axes] + [m.dim for m in self.mouse]
            if len(set(dims)) != len(dims):
                raise ConfigError(f"{where}: axes and mouse name dim {dims} more than once")
            for dim in dims:
                if not 0 <= dim < space.shape[0]:
                    raise ConfigError(
                        f"{where}: axis dim {dim} is outside the {space.shape[0]} dims"
                    )
                if not (np.isfinite(space.low[dim]) and np.isfinite(space.high[dim])):
                    raise ConfigError(
                        f"{where}: dim {dim} has an infinite bound, so a key or the "
                        "mouse has nothing to map onto; drive only bounded dims"
                    )
        else:
            raise ConfigError(f"{where}: key maps drive Discrete or 1-D Box actions, not {space}")
        self.key_codes()

    def describe(self) -> str:
        """A one-line legend for the window: which key does what."""
        if self.axes or self.mouse:
            parts = []
            for ax in self.axes:
                signed = [(ax.neg, "-"), (ax.pos, "+")]
                keys = "/".join(_label(n) + sign for n, sign in signed if n is not None)
                parts.append(f"{keys} dim {ax.dim}")
            parts += [f"mouse {m.axis} dim {m.dim}" for m in self.mouse]
            return "  ".join(parts)
        return "  ".join(f"{'+'.join(map(_label, _split_combo(k)))}={a}"
                         for k, a in self.keys.items())  # fmt: skip


def _dim_objects(
    data: dict[str, Any],
    field: str,
    allowed: tuple[str, ...],
    shape: str,
    fail: Callable[[str], ConfigError],
) -> list[dict[str, Any]]:
    """`data[field]` (default []) checked as a list of objects, each with an integer "dim"
    and no field outside `allowed` (a key map's 'axes' and 'mouse')."""
    raw = data.get(field, [])
    if not isinstance(raw, list):
        raise fail(f"'{field}' must be a list of {shape} objects")
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not _is_int(entry.get("dim")):
            raise fail(f"{field}[{i}] must be an object with an integer 'dim'")
        extra = set(entry) - set(allowed)
        if extra:
            raise fail(f"{field}[{i}] has unknown field(s) {sorted(extra)}")
    return raw


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
    # the lateral velocity: up steers up (y > 0), at once (the expert turns fully too);
    # {"mouse": [{"dim": 0, "axis": "y"}]} steers by the cursor's height instead
    "protege/TwoPaths-v0": KeyMap(axes=(Axis(0, neg="down", pos="up", ramp_s=0.0),)),
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

"""Built-in tasks that tell policy heads apart (issue #15), registered as Gymnasium ids.

- `protege/TwoPaths-v0`: a vehicle must pass a round obstacle on the way to the goal,
  above or below, both equally short. An expert that picks a side at random per episode
  gives two-mode demonstrations; a unimodal head (MSE, one Gaussian) averages the two
  modes into the obstacle, a multimodal one (mixture, diffusion) can commit to one side.
- `protege/CueCorridor-v0`: a cue shown only at the first step names the side to turn to
  at the end of a corridor; at the fork the observation is the same whatever the cue, so a
  memoryless policy succeeds in at most half the episodes and one that sees the last
  `CUE_HISTORY` observations can succeed in all.

Both report `info["success"]` (Meta-World's convention, read by `protege.data.rollout`
into each episode's `meta`), and list in `metadata["episode_info"]` the scalar info keys
worth keeping per episode (TwoPaths: "side", which side the vehicle passed; CueCorridor:
"cue"). Their scripted experts are in `protege.experts.tasks`.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np

# --- TwoPaths geometry (shared with its scripted expert) ---------------------------------
START_LANE = 0.3  # the start is (0, y), y uniform in [-START_LANE, START_LANE]
FORWARD_SPEED = 0.1  # x advances this much every step
LATERAL_SPEED = 0.1  # y moves this much times the action (in [-1, 1]) every step
OBSTACLE_RADIUS = 1.0
CLEARANCE = 0.075  # how far outside the obstacle the expert's course passes
TURN_AT = 0.5  # where the shortest such course leaves the centre line: after 5 steps
_STEEPEST = LATERAL_SPEED / FORWARD_SPEED
OBSTACLE = np.array(
    [TURN_AT + (OBSTACLE_RADIUS + CLEARANCE) * np.hypot(1.0, _STEEPEST) / _STEEPEST, 0.0]
)  # the obstacle's centre (2.02, 0), on the start-goal line
GOAL = np.array([2 * OBSTACLE[0] - TURN_AT + 0.4, 0.0])  # (3.94, 0): the course is back at
GOAL_RADIUS = 0.15  # y = 0 from x = 3.54; success: within this distance of the goal
COLLISION_PENALTY = 1.0  # subtracted from the step's reward on hitting the obstacle
SUCCESS_BONUS = 1.0  # added on reaching the goal
TWO_PATHS_STEPS = 60  # the step limit (reaching the goal takes 38)
ARENA_LOW = np.array([-0.1, -2.5], dtype=np.float32)
ARENA_HIGH = np.array([5.0, 2.5], dtype=np.float32)

# --- CueCorridor ---------------------------------------------------------------------------
CORRIDOR = 4  # forward steps from the start to the fork
CUE_HISTORY = CORRIDOR + 1  # observations a policy must see to still have the cue at the fork
CUE_STEPS = 2 * CORRIDOR + 4  # the step limit
FORWARD, LEFT, RIGHT = 0, 1, 2  # CueCorridor's actions; cue -1 names LEFT, +1 RIGHT


class TwoPathsEnv(gym.Env):
    """A vehicle driving forward at constant speed from (0, y0), |y0| <= 0.3, to the goal at
    (3.94, 0) must pass a round obstacle (radius 1, centred at (2.02, 0)) on the line between
    them. It can only steer sideways, at most 45 degrees off its course: to pass, it must
    turn to one side by x = 0.5 at the latest, and turn fully (averaging "left" and "right"
    into "straight on" for a step or two hits the obstacle).

    Observation: the position (x, y), float32, inside the arena [-0.1, 5] x [-2.5, 2.5].
    Action: Box(1) in [-1, 1], the lateral velocity (y += LATERAL_SPEED * action; x
    advances FORWARD_SPEED every step whatever the action).
    Reward: the step's progress toward the goal (distance before minus after), plus
    SUCCESS_BONUS on reaching it (within GOAL_RADIUS: terminated, info["success"] True),
    minus COLLISION_PENALTY on touching the obstacle (terminated, success False); a vehicle
    that misses the goal drives on to the arena's end and waits there for the step limit
    (truncated). Passing above (y > 0) and below are mirror images, equally short: both
    are optimal.
    info["side"]: +1 once the vehicle passed the obstacle's centre line (x = 2.02) above
    the obstacle, -1 below, 0 before (and after a collision).
    render_mode "rgb_array": the arena seen from above (the obstacle grey, the goal green,
    the vehicle and its track blue), so a person can drive it (`protege record`).
    """

    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array"], "render_fps": 10, "episode_info": ("side",)
    }  # fmt: skip

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: TwoPaths renders rgb_array only")
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(ARENA_LOW, ARENA_HIGH, dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        self._pos = np.zeros(2)
        self._side = 0
        self._track: list[np.ndarray] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._pos = np.array([0.0, self.np_random.uniform(-START_LANE, START_LANE)])
        self._side = 0
        self._track = [self._pos]
        return self._obs(), {"success": False, "side": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        steer = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        old = self._pos
        new = np.clip(old + [FORWARD_SPEED, LATERAL_SPEED * steer], ARENA_LOW, ARENA_HIGH)
        self._pos = new
        self._track.append(new)
        if self._side == 0 and old[0] < OBSTACLE[0] <= new[0]:
            frac = (OBSTACLE[0] - old[0]) / (new[0] - old[0])
            self._side = 1 if old[1] + frac * (new[1] - old[1]) >= 0 else -1
        reward = float(np.linalg.norm(GOAL - old) - np.linalg.norm(GOAL - new))
        collided = _segment_distance(old, new, OBSTACLE) <= OBSTACLE_RADIUS
        success = not collided and float(np.linalg.norm(GOAL - new)) <= GOAL_RADIUS
        reward += SUCCESS_BONUS * success - COLLISION_PENALTY * collided
        info = {"success": success, "side": 0 if collided else self._side}
        return self._obs(), reward, bool(collided or success), False, info

    def _obs(self) -> np.ndarray:
        return self._pos.astype(np.float32)

    def render(self) -> np.ndarray | None:
        """The arena from above, (H, W, 3) uint8, y up; None unless render_mode is rgb_array."""
        if self.render_mode != "rgb_array":
            return None
        return draw_two_paths(np.asarray(self._track))


RENDER_SCALE = 60  # pixels per unit of the arena


def draw_two_paths(track: np.ndarray) -> np.ndarray:
    """TwoPaths' arena with the vehicle's `track` (T, 2), the last row where it is now."""
    img = _two_paths_arena().copy()
    for point in track[:-1]:
        _disc(img, point, 0.02, (120, 160, 230))
    if len(track):
        _disc(img, track[-1], 0.07, (30, 80, 200))
    return img


@functools.cache
def _two_paths_arena() -> np.ndarray:
    """The still part of TwoPaths' picture: the arena, the obstacle and the goal."""
    (x0, y0), (x1, y1) = ARENA_LOW, ARENA_HIGH
    width, height = round((x1 - x0) * RENDER_SCALE), round((y1 - y0) * RENDER_SCALE)
    img = np.full((height, width, 3), 245, dtype=np.uint8)
    _disc(img, OBSTACLE, OBSTACLE_RADIUS, (150, 150, 150))
    _disc(img, GOAL, GOAL_RADIUS, (60, 170, 90))
    img.flags.writeable = False
    return img


def _disc(img: np.ndarray, centre: np.ndarray, radius: float, color: tuple[int, ...]) -> None:
    """Paint the disc of `radius` (arena units) around `centre` into `img`, y up."""
    col = (centre[0] - ARENA_LOW[0]) * RENDER_SCALE - 0.5  # pixel coordinates of the centre
    row = (ARENA_HIGH[1] - centre[1]) * RENDER_SCALE - 0.5
    r = radius * RENDER_SCALE
    rows = np.arange(max(0, int(row - r)), min(img.shape[0], int(row + r) + 2))
    cols = np.arange(max(0, int(col - r)), min(img.shape[1], int(col + r) + 2))
    inside = np.hypot(rows[:, None] - row, cols[None, :] - col) <= r
    patch = img[rows[:, None], cols[None, :]]
    img[rows[:, None], cols[None, :]] = np.where(inside[..., None], color, patch)


def _segment_distance(a: np.ndarray, b: np.ndarray, point: np.ndarray) -> float:
    """The distance from `point` to the segment a-b (a step passes through the disc when this
    is below its radius, even if both ends lie outside)."""
    ab = b - a
    length2 = float(ab @ ab)
    t = 0.0 if length2 == 0.0 else float(np.clip((point - a) @ ab / length2, 0.0, 1.0))
    return float(np.linalg.norm(a + t * ab - point))


class CueCorridorEnv(gym.Env):
    """A corridor of CORRIDOR steps to a fork; a cue at the first step names the way to turn.

    Observation (float32, CORRIDOR + 2): [cue, one-hot position 0..CORRIDOR]; the cue (-1:
    turn left, +1: turn right, drawn at random per episode) is shown at the first step
    only, 0 afterwards, so at the fork the observation is the same whatever the cue.
    Action: Discrete(3): FORWARD (0), LEFT (1), RIGHT (2). Forward at the fork and a turn
    before it waste a step. At the fork, the turn the cue named ends the episode with reward
    1 (info["success"] True), the other with reward -1.
    """

    metadata: dict[str, Any] = {"render_modes": [], "episode_info": ("cue",)}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (CORRIDOR + 2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._cue = 1
        self._position = 0
        self._first = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._cue = int(self.np_random.choice([-1, 1]))
        self._position = 0
        self._first = True
        return self._obs(), {"success": False, "cue": self._cue}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = int(action)
        self._first = False
        reward, done, success = 0.0, False, False
        if self._position < CORRIDOR:
            self._position += action == FORWARD
        elif action != FORWARD:
            success = action == (LEFT if self._cue < 0 else RIGHT)
            reward, done = (1.0 if success else -1.0), True
        return self._obs(), reward, done, False, {"success": success, "cue": self._cue}

    def _obs(self) -> np.ndarray:
        obs = np.zeros(CORRIDOR + 2, dtype=np.float32)
        obs[0] = self._cue if self._first else 0.0
        obs[1 + self._position] = 1.0
        return obs


TASK_ENVS: dict[str, tuple[str, int]] = {
    "protege/TwoPaths-v0": ("protege.envs.tasks:TwoPathsEnv", TWO_PATHS_STEPS),
    "protege/CueCorridor-v0": ("protege.envs.tasks:CueCorridorEnv", CUE_STEPS),
}
"""The tasks' Gymnasium ids: (entry point, max_episode_steps)."""

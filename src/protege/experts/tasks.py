"""Scripted experts for the tasks that tell policy heads apart (`protege.envs.tasks`).

Both keep state per episode, so each use needs its own instance (`scripted_expert` builds
a fresh one each time). Inside `protege.data.rollout` they are told which episode each row
of their batches is (`start_episode(slot, episode)`, the `EpisodeSeeded` hook), which seeds
their per-episode choice: the same collect gives the same demonstrations for any number of
parallel envs. DAgger shows them the learner's episodes the same way, step by step from
the first state (`protege.algorithms.dagger.label`). Called on states that are not their
own episode's, they answer from the state alone, as documented on each.
"""

from __future__ import annotations

import numpy as np

from protege.envs.tasks import (
    CLEARANCE,
    CORRIDOR,
    FORWARD,
    FORWARD_SPEED,
    LATERAL_SPEED,
    LEFT,
    OBSTACLE,
    OBSTACLE_RADIUS,
    RIGHT,
)

CENTRE_BAND = 0.05  # |y| below this is "on the centre line": either side is open
CENTRING = 0.4  # before its turn, the TwoPaths expert steers this share of y back to 0
_STREAM = 15  # keeps the experts' random draws apart from other per-episode streams


def _row_seed(row: np.ndarray) -> list[int]:
    """An observation's bits as seed words (float32, as the env gives them)."""
    return np.frombuffer(np.ascontiguousarray(row, dtype=np.float32).tobytes(), np.uint32).tolist()


def _coin(seed: list[int]) -> int:
    """+1 or -1, evenly, from a generator seeded by `seed`."""
    return 1 if np.random.default_rng(seed).random() < 0.5 else -1


def clearance_profile(x: np.ndarray) -> np.ndarray:
    """The least |y| (B,) at which the TwoPaths vehicle can be at `x` (B,) and still pass the
    obstacle CLEARANCE outside it: 0 until `TURN_AT`, then a line at the steepest course,
    the arc of the circle of radius OBSTACLE_RADIUS + CLEARANCE, and a line back down."""
    radius = OBSTACLE_RADIUS + CLEARANCE
    slope = LATERAL_SPEED / FORWARD_SPEED
    reach = radius * np.hypot(1.0, slope) / slope  # from the centre, where the profile rises
    dx = np.abs(np.asarray(x, dtype=np.float64) - OBSTACLE[0])
    on_arc = dx <= radius * slope / np.hypot(1.0, slope)
    arc = np.sqrt(np.maximum(radius**2 - dx**2, 0.0))
    return np.where(on_arc, arc, np.maximum(slope * (reach - dx), 0.0))


class TwoPathsExpert:
    """Drives `protege/TwoPaths-v0` round the obstacle on one side: toward the centre line
    (steering back a share CENTRING of its offset each step) until the latest turn that
    passes the obstacle CLEARANCE outside it, then at full steer onto `clearance_profile`
    on its side, along it, and back to the centre line and the goal.

    The side: in its own episodes, a coin flip at the first step, seeded by the episode and
    its start state (so collects with another --seed draw other sides), kept while the
    vehicle is within CENTRE_BAND of the centre line, then the side it is on. On any other
    state (no `start_episode` for the row), the side the vehicle is already on (the sign
    of y), and only within CENTRE_BAND of the centre line, where both are open, a coin flip
    seeded by the state (the same state always gets the same answer).
    """

    def __init__(self) -> None:
        self._pending: dict[int, int] = {}  # slot -> episode whose first step comes next
        self._side: dict[int, int] = {}  # slot -> the side its episode chose

    def start_episode(self, slot: int, episode: int) -> None:
        """Row `slot` starts episode `episode`: its side is drawn at its first step."""
        self._pending[slot] = episode
        self._side.pop(slot, None)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Lateral velocities (B, 1) float32 in [-1, 1] for positions (B, 2)."""
        pos = np.asarray(obs, dtype=np.float64).reshape(len(obs), 2)
        for slot, episode in list(self._pending.items()):
            if slot < len(pos):
                self._side[slot] = _coin([episode, _STREAM, *_row_seed(pos[slot])])
                del self._pending[slot]
        side = np.sign(pos[:, 1])
        for i in np.flatnonzero(np.abs(pos[:, 1]) < CENTRE_BAND):
            chosen = self._side.get(int(i))
            side[i] = chosen if chosen is not None else _coin([_STREAM, *_row_seed(pos[i])])
        target = side * clearance_profile(pos[:, 0] + FORWARD_SPEED)
        steer = np.where(target == 0, -CENTRING * pos[:, 1], target - pos[:, 1]) / LATERAL_SPEED
        return np.clip(steer, -1.0, 1.0)[:, None].astype(np.float32)


class CueCorridorExpert:
    """Walks `protege/CueCorridor-v0`'s corridor and turns at the fork to the side the cue
    named at the episode's first step, which it remembers per row.

    A row that shows a cue (a first step) sets that row's memory; `start_episode` clears
    it. At the fork, a row with no cue remembered (a state that is not from its own
    episode: it cannot know the cue from one observation) gets a coin flip from the
    expert's own generator.
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng([seed, _STREAM])
        self._cue: dict[int, int] = {}  # row -> the cue its episode showed

    def start_episode(self, slot: int, episode: int) -> None:
        """Row `slot` starts a new episode: forget the last one's cue."""
        self._cue.pop(slot, None)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions (B,) int64 for observations (B, CORRIDOR + 2)."""
        o = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        acts = np.full(len(o), FORWARD, dtype=np.int64)
        for i in range(len(o)):
            if o[i, 0] != 0:
                self._cue[i] = int(np.sign(o[i, 0]))
            if o[i, 1 + CORRIDOR] == 1:  # at the fork
                cue = self._cue.get(i)
                if cue is None:
                    cue = 1 if self._rng.random() < 0.5 else -1
                acts[i] = LEFT if cue < 0 else RIGHT
        return acts

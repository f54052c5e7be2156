"""What a DRLHP run keeps between rounds, and how it outlives a kill.

`PreferenceState` is the run's data: every episode a label speaks of (the given ones,
then each round's rollouts, with the round they came from), the labels so far, the stored
comparisons not used yet, where the run stands (the next round; whether its reward is
fitted), and whether the person stopped labelling. `state_dict()` / `load_state_dict()`
put it in and out of a checkpoint (`protege.checkpoint`); the given episodes are not
copied there (they come with the run again), only checked.

The labels file is the run's preferences dataset: every episode and every label, written
atomically (`write_labels`) after each answer a person gives and once a round's synthetic
labels are drawn, so a kill loses no answer. A resumed run continues the round the kill
interrupted with the episodes and answers the file holds beyond its checkpoint
(`pending`): nobody is asked the same question twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from protege.data.preferences import Preference, Segment
from protege.data.storage import load_trajectories, save_trajectories
from protege.data.types import Trajectory
from protege.envs import Spaces
from protege.errors import RunDirError

__all__ = ["PreferenceState", "pending", "write_labels"]


@dataclass
class PreferenceState:
    """A DRLHP run's data and progress.

    seen: every episode a label may speak of: the given ones first, then each round's.
    round_of: the round each of `seen` was rolled out in (-1: given).
    labelled: every label so far, over `seen`.
    unused: indices of the stored comparisons not asked yet (a dataset's preferences).
    next_round: the first round not finished.
    fitted: the reward of `next_round` is fitted (the kill came while the learner trained).
    round_end: the env step the learner trains to in `next_round` (once fitted).
    rounds_begun: rounds whose queries were drawn.
    stopped: the person stopped labelling (Q): no more queries are asked.
    """

    seen: list[Trajectory]
    round_of: list[int]
    labelled: list[Preference] = field(default_factory=list)
    unused: list[int] = field(default_factory=list)
    next_round: int = 0
    fitted: bool = False
    round_end: int = 0
    rounds_begun: int = 0
    stopped: bool = False

    @classmethod
    def start(cls, given: Sequence[Trajectory], stored: int) -> PreferenceState:
        """A run's state before its first round: the `given` episodes, `stored` comparisons."""
        return cls(list(given), [-1] * len(given), unused=list(range(stored)))

    def add_round(self, k: int, episodes: Sequence[Trajectory]) -> list[int]:
        """Append round `k`'s episodes to `seen`; their indices there."""
        first = len(self.seen)
        self.seen += episodes
        self.round_of += [k] * len(episodes)
        return list(range(first, len(self.seen)))

    def rounds(self) -> list[list[Trajectory]]:
        """The episodes each round begun rolled out (empty where it rolled out none)."""
        by_round: list[list[Trajectory]] = [[] for _ in range(self.rounds_begun)]
        for t, k in zip(self.seen, self.round_of, strict=True):
            if 0 <= k < self.rounds_begun:
                by_round[k].append(t)
        return by_round

    def state_dict(self) -> dict[str, Any]:
        """Everything but the given episodes (their lengths, to check them on load)."""
        given = self.round_of.count(-1)
        return {
            "given_lengths": [len(t) for t in self.seen[:given]],
            "episodes": [_pack(t) for t in self.seen[given:]],
            "round_of": self.round_of[given:],
            "segments": np.array([[p.a, p.b] for p in self.labelled], np.int64).reshape(-1, 2, 3),
            "labels": np.array([p.label for p in self.labelled], np.float64),
            "unused": list(self.unused),
            "progress": [self.next_round, int(self.fitted), self.round_end, self.rounds_begun,
                         int(self.stopped)],
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` gave into a state started with the same given episodes.

        Raises:
            KeyError, ValueError: `state` is another trainer's, or of other given episodes
                (`protege.checkpoint.restoring` turns them into one line).
        """
        given = [t for t, k in zip(self.seen, self.round_of, strict=True) if k == -1]
        if [int(n) for n in state["given_lengths"]] != [len(t) for t in given]:
            raise ValueError("the checkpoint was made from other demonstrations")
        self.seen = given + [_unpack(e) for e in state["episodes"]]
        self.round_of = [-1] * len(given) + [int(k) for k in state["round_of"]]
        segments = np.asarray(state["segments"]).reshape(-1, 2, 3).tolist()
        labels = np.asarray(state["labels"]).tolist()
        self.labelled = [
            Preference(Segment(*s[0]), Segment(*s[1]), float(y))
            for s, y in zip(segments, labels, strict=True)
        ]
        self.unused = [int(i) for i in state["unused"]]
        next_round, fitted, round_end, begun, stopped = (int(v) for v in state["progress"])
        self.next_round, self.fitted, self.round_end = next_round, bool(fitted), round_end
        self.rounds_begun, self.stopped = begun, bool(stopped)


def _pack(t: Trajectory) -> dict[str, Any]:
    return {"obs": t.obs, "acts": t.acts, "rews": t.rews, "terminated": t.terminated,
            "truncated": t.truncated, "meta": dict(t.meta)}  # fmt: skip


def _unpack(d: dict[str, Any]) -> Trajectory:
    """An episode `_pack` gave, back from a checkpoint (its arrays came back as tensors)."""
    obs = d["obs"]
    obs = {k: _array(v) for k, v in obs.items()} if isinstance(obs, dict) else _array(obs)
    rews = None if d["rews"] is None else _array(d["rews"])
    return Trajectory(obs, _array(d["acts"]), rews, bool(d["terminated"]), bool(d["truncated"]),
                      meta=dict(d["meta"]))  # fmt: skip


def _array(x: Any) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def write_labels(
    path: str | Path, state: PreferenceState, env_id: str | None, spaces: Spaces
) -> None:
    """Write the run's preferences dataset: `state.seen` with `state.labelled`, atomically
    (a .npz path, or a Minari dataset directory), replacing the previous one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_trajectories(target, state.seen, env_id, spaces, overwrite=True,
                      preferences=state.labelled)  # fmt: skip


def pending(path: str | Path, state: PreferenceState) -> tuple[list[Trajectory], list[Preference]]:
    """The episodes and labels the labels file at `path` holds beyond `state` (the round a
    kill interrupted, `state.next_round`); nothing when there is no file.

    Raises:
        RunDirError: the file is not this run's continuation: other episodes or labels
            than `state`'s, or episodes of another round.
    """
    target = Path(path)
    if not target.exists():
        return [], []
    data = load_trajectories(target)
    trajs, prefs = data.trajectories, data.preferences
    n, m = len(state.seen), len(state.labelled)
    same = (
        len(trajs) >= n
        and [len(t) for t in trajs[:n]] == [len(t) for t in state.seen]
        and prefs[:m] == state.labelled
    )
    extra = trajs[n:]
    if not same or any(t.meta.get("round") != state.next_round for t in extra):
        raise RunDirError(
            f"{target}: holds other episodes or labels than this run's checkpoint; it is not "
            "this run's: delete it (its labels are lost) or start the run over with --overwrite"
        )
    return extra, prefs[m:]

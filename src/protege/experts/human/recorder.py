"""Recording a person's play: the engine of `protege record`.

`record` opens a `Teleop` window on the env's rgb render; a person plays episodes and keeps
(K / Enter) or discards (D / Backspace) each one; with `rate`, each kept episode is then
rated 1-5 (keys 1..5; kept in its `meta` as "rating", what `episode_ranking(by="rating")`
ranks by); with `rank`, once all are kept the person orders them best-first in the same
window (`ranker`: each one replays from its reset seed), and the ranking is stored with
the dataset (what `protege train t-rex` ranks by). Every kept episode is written at once,
so closing the window never loses what was kept. `Recorder` is one session, advanced one
frame per `step()`; tests drive it frame by frame (or pass ``on_frame`` to `record`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before pygame's first import

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from protege.data.rollout import note_episode_info  # noqa: E402
from protege.data.types import Trajectory, obs_stack  # noqa: E402
from protege.envs import Spaces, make_env  # noqa: E402
from protege.errors import ConfigError  # noqa: E402
from protege.experts.human.keymaps import KeyMap, default_fps, keymap_for  # noqa: E402
from protege.experts.human.ranker import Ranker, entries_for  # noqa: E402
from protege.experts.human.teleop import (  # noqa: E402
    AMBER,
    BLUE,
    GREEN,
    RED,
    Color,
    FrameInput,
    Teleop,
    _env_action,
    _render,
)
from protege.experts.human.window import require_display  # noqa: E402

__all__ = ["RecordResult", "Recorder", "record"]

PAUSE_KEY = pygame.K_SPACE
"""Toggles pause while recording a real-time env."""
KEEP_KEYS = frozenset({pygame.K_k, pygame.K_RETURN, pygame.K_KP_ENTER})
DISCARD_KEYS = frozenset({pygame.K_d, pygame.K_BACKSPACE})
RATING_KEYS = {
    **{getattr(pygame, f"K_{r}"): r for r in range(1, 6)},
    **{getattr(pygame, f"K_KP{r}"): r for r in range(1, 6)},
}
"""Rate a kept episode (`rate`): 1 (worst) to 5 (best), on the main row or the keypad."""


@dataclass
class RecordResult:
    """What a recording session produced.

    kept: the episodes the person kept, in order (each already written to `path`).
    discarded: episodes the person discarded with D / Backspace.
    lost_steps: steps of an episode that was not kept because the window closed (in
        progress, or finished but not yet kept); 0 when none.
    closed_early: the window was closed (or Esc) before all episodes were kept.
    path: where the kept episodes were written (None when not writing).
    seeds: the reset seed of each kept episode (it replays from there).
    ranking: the kept episodes' indices, best first, as the person ranked them (`rank`;
        None when not ranked).
    unranked: why a ranking asked for was not made ("" when it was, or was not asked).
    """

    kept: list[Trajectory] = field(default_factory=list)
    discarded: int = 0
    lost_steps: int = 0
    closed_early: bool = False
    path: Path | None = None
    seeds: list[int] = field(default_factory=list)
    ranking: list[int] | None = None
    unranked: str = ""

    def summary(self) -> str:
        """One or two lines for the terminal."""
        steps = sum(len(t) for t in self.kept)
        where = f" in {self.path}" if self.path is not None and self.kept else ""
        line = f"kept {len(self.kept)} episodes ({steps} steps){where}"
        ratings = [str(t.meta["rating"]) for t in self.kept if "rating" in t.meta]
        if ratings:
            line += f", rated {', '.join(ratings)}"
        if self.discarded:
            line += f"; discarded {self.discarded}"
        if self.ranking is not None:
            line += f"\nranked best first: episodes {', '.join(map(str, self.ranking))}"
        elif self.unranked:
            line += f"\nnot ranked: {self.unranked}"
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
    rate: after K, ask for a rating 1-5 (keys 1..5), stored in the episode's meta as
        "rating"; D still discards it then.
    rank: once all episodes are kept (at least two), the person ranks them best-first
        (`ranker.Ranker`, replaying each in `env`); `on_rank` gets the ranking.

    States: "paused", "recording", "over" (waiting for K keep / D discard), "rating"
    (waiting for 1..5, with `rate`), "ranking" (with `rank`: `ranker` is the session),
    "done".
    """

    def __init__(
        self,
        env: gym.Env,
        teleop: Teleop,
        episodes: int,
        on_keep: Callable[[Trajectory], None] | None = None,
        seed: int = 0,
        start_paused: bool = True,
        rate: bool = False,
        rank: bool = False,
        on_rank: Callable[[list[int]], None] | None = None,
    ) -> None:
        if episodes < 1:
            raise ConfigError(f"episodes must be at least 1, got {episodes}")
        if rank and episodes < 2:
            raise ConfigError(
                f"ranking orders several episodes, and --episodes is {episodes}; record at "
                "least 2 to rank them"
            )
        self.env, self.teleop, self.episodes = env, teleop, episodes
        self.on_keep, self.seed, self.start_paused = on_keep, seed, start_paused
        self.rate, self.rank, self.on_rank = rate, rank, on_rank
        self.ranker: Ranker | None = None
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
        self.info_meta: dict[str, Any] = {}  # success and the env's episode_info keys
        self.terminated = False
        paused = self.start_paused and not self.teleop.keymap.step_on_press
        self.state = "paused" if paused else "recording"

    def _trajectory(self, meta: dict[str, Any]) -> Trajectory:
        return Trajectory(
            obs=obs_stack(self.obs),
            acts=np.stack(self.acts),
            rews=np.asarray(self.rews, dtype=np.float64),
            terminated=self.terminated,
            truncated=not self.terminated,
            meta=meta,
        )

    def _keep(self, meta: dict[str, Any]) -> None:
        # the reset seed, as rollout's episodes carry it: `protege rank` replays from it
        traj = self._trajectory({"seed": self.seed + self.attempt - 1, **self.info_meta, **meta})
        if self.on_keep is not None:
            self.on_keep(traj)
        self.result.kept.append(traj)
        self.result.seeds.append(self.seed + self.attempt - 1)
        if len(self.result.kept) < self.episodes:
            self._new_episode()
        elif self.rank:
            self.ranker = Ranker(entries_for(self.result.kept, self.result.seeds), self.env,
                                 self.teleop.fps)  # fmt: skip
            self.state = "ranking"
        else:
            self.state = "done"

    def step(self) -> bool:
        """Process one frame: keys, at most the frame's env steps, drawing. False when done."""
        if self.state == "done":
            return False
        inp = self.teleop.poll()
        if self.state == "ranking":
            return self._rank_step(inp)
        if inp.quit:
            if self.rank:
                self.result.unranked = "the window closed before every episode was kept"
            self.result.closed_early = True
            self.result.lost_steps = len(self.acts)
            self.state = "done"
            return False
        pressed = set(inp.pressed)
        if self.state in ("over", "rating") and pressed & DISCARD_KEYS:
            self.result.discarded += 1
            self._new_episode()
        elif self.state == "over" and pressed & KEEP_KEYS:
            if self.rate:
                self.state = "rating"
            else:
                self._keep({})
        elif self.state == "rating":
            ratings = [RATING_KEYS[k] for k in inp.pressed if k in RATING_KEYS]
            if ratings:
                self._keep({"rating": ratings[0]})
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

    def _rank_step(self, inp: FrameInput) -> bool:
        """A frame of the ranking: the person's keys, then the list and a replay."""
        assert self.ranker is not None
        self.ranker.feed(inp)
        if self.ranker.state == "done":
            self.state = "done"
            self.result.ranking = self.ranker.ranking
            if self.ranker.ranking is None:
                self.result.unranked = "the window closed before the ranking was saved"
            elif self.on_rank is not None:
                self.on_rank(self.ranker.ranking)
        else:
            self.ranker.draw(self.teleop, f"{len(self.result.kept)} episodes kept")
        self.frame += 1
        self.teleop.tick()
        return self.state != "done"

    def _env_step(self, action: np.ndarray) -> None:
        obs, rew, terminated, truncated, info = self.env.step(_env_action(action))
        note_episode_info(self.info_meta, info, self.env)
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
            key = "an action key" if self.teleop.action_keys else "SPACE"  # SPACE: mouse maps
            start = f"press {key} to start" if not self.acts else "SPACE resumes"
            state = (f"PAUSED · {start}", AMBER)
        elif self.state == "rating":
            state = ("RATE IT: 1 (worst) to 5 (best) · D discard", BLUE)
        else:
            end = "" if self.terminated else " (time limit)"
            keep = "K keep and rate" if self.rate else "K keep"
            state = (f"EPISODE OVER{end}: {keep} · D discard", GREEN)
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
    rate: bool = False,
    rank: bool = False,
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
    rate: ask for a rating 1-5 of each kept episode (keys 1..5), kept in its meta as
        "rating" and written with it.
    rank: once all `episodes` (at least 2) are kept, the person orders them best-first in
        the window; the ranking is stored with the dataset (`save_preferences`), the one
        `protege train t-rex` ranks by. Closing the window first stores none (the episodes
        stay).

    Every error a user can cause (no display, no key map, a bad one, an existing `out`,
    `rank` with one episode) is raised before the window opens and before anything is
    written.
    """
    require_display("protege record")
    if rank and episodes < 2:
        raise ConfigError(
            f"--rank orders several episodes, and --episodes is {episodes}; record at least "
            "2 to rank them"
        )
    km = keymap if isinstance(keymap, KeyMap) else keymap_for(env_id, keymap)
    env = make_env(env_id, render_mode="rgb_array")
    try:
        km.check(env.action_space, env_id)
        on_keep = on_rank = None
        if out is not None:
            from protege.data.storage import DatasetWriter, save_preferences

            on_keep = DatasetWriter(out, env_id, Spaces.of(env), overwrite=overwrite).add

            def on_rank(ranking: list[int]) -> None:  # the episodes are on disk: add it
                save_preferences(out, [], ranking)

        frame_rate = default_fps(env, km) if fps is None else fps
        teleop = Teleop(
            km, env.action_space, fps=frame_rate, ramp_fps=frame_rate or default_fps(env, km),
            title=f"protege record · {env_id}",
        )  # fmt: skip
        try:
            rec = Recorder(env, teleop, episodes, on_keep, seed, rate=rate, rank=rank,
                           on_rank=on_rank)  # fmt: skip
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

"""People as experts: play an env at the keyboard, or take over from a learner.

One module per job:

- `keymaps`: `KeyMap`, which keys give which action (built in for the classic-control,
  Box2D lunar landers and toy-text grids, or a JSON file for any Discrete or 1-D Box
  action space); `keymap_for`, `default_fps`.
- `window`: `Window`, the pygame window every tool here shares (keys in, frames and text
  out); `require_display`, which refuses to open one nobody can see; `replay`, an episode
  played again from its reset seed to render it.
- `teleop`: `Teleop`, the window showing the env and the keyboard as its actions.
- `ranker`: `Ranker` / `rank_episodes`, a person ordering episodes best-first.
- `labeller`: `HumanLabeller`, a person answering preference queries: two segments play
  side by side and one key says which is better (`protege train preferences --set
  labeller=human`).
- `recorder`: `record` / `Recorder`, the engine of `protege record`: a person plays
  episodes and keeps or discards each one; kept ones are written at once; then, with
  `rank`, ranks them.
- `hg_dagger`: `hg_dagger_collect` / `human_collector`, HG-DAgger's data collection: the
  learner drives and the person takes over by holding SPACE.

Each imports only those listed before it (recorder and hg_dagger both build on teleop), so
there is no cycle. Each module that imports pygame first sets ``PYGAME_HIDE_SUPPORT_PROMPT``
(whichever is imported first silences pygame's banner); none opens a window at import.

Headless use and tests: set ``SDL_VIDEODRIVER=dummy`` before the window opens, post key
events with ``pygame.event.post`` (or set ``teleop.held``), pass ``fps=0`` so no frame
sleeps, and drive `Recorder.step()` one frame at a time (or pass ``on_frame``).
"""

from __future__ import annotations

from protege.experts.human.hg_dagger import hg_dagger_collect, human_collector
from protege.experts.human.keymaps import (
    BUILTIN_KEYMAPS,
    Axis,
    KeyMap,
    MouseAxis,
    default_fps,
    keymap_for,
)
from protege.experts.human.labeller import HumanLabeller, LabelSession
from protege.experts.human.ranker import RankEntry, Ranker, entries_for, rank_episodes
from protege.experts.human.recorder import Recorder, RecordResult, record
from protege.experts.human.teleop import FrameInput, Teleop
from protege.experts.human.window import Window, require_display

__all__ = [
    "BUILTIN_KEYMAPS",
    "Axis",
    "FrameInput",
    "HumanLabeller",
    "KeyMap",
    "LabelSession",
    "MouseAxis",
    "RankEntry",
    "Ranker",
    "RecordResult",
    "Recorder",
    "Teleop",
    "Window",
    "default_fps",
    "entries_for",
    "hg_dagger_collect",
    "human_collector",
    "keymap_for",
    "rank_episodes",
    "record",
    "require_display",
]

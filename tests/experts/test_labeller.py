"""A person labelling preferences in a window, driven by scripted key events under SDL's
dummy video driver: the clips are the recorded segments replayed, each answer key gives
its label at once, other keys are ignored, and Q, ESC or closing the window stop."""

from __future__ import annotations

import os
from dataclasses import replace

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens anything: no screen needed
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from protege.data import Segment, Trajectory, rollout  # noqa: E402
from protege.data.preferences import segment_pairs  # noqa: E402
from protege.data.rollout import RandomPolicy  # noqa: E402
from protege.envs import env_spaces, make_env  # noqa: E402
from protege.experts.human import HumanLabeller  # noqa: E402
from protege.experts.human.labeller import segment_clip  # noqa: E402


def press(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key))


@pytest.fixture(scope="module")
def episodes() -> list[Trajectory]:
    """Three random CartPole episodes, each marked with the reset seed it started from."""
    trajs = rollout("CartPole-v1", RandomPolicy(env_spaces("CartPole-v1").action, 0), 3, seed=5)
    return [replace(t, meta={"seed": 5 + i}) for i, t in enumerate(trajs)]


def scripted(keys: list[int], every: int = 2) -> tuple[list[int], object]:
    """An on_frame hook pressing `keys` in turn, one every `every` frames; and the query
    index on screen at each frame."""
    queue, seen = list(keys), []

    def on_frame(labeller: HumanLabeller) -> None:
        seen.append(labeller.query)
        if queue and len(seen) % every == 0:
            press(queue.pop(0))

    return seen, on_frame


def test_a_clip_is_the_recorded_segment_replayed(episodes: list[Trajectory]) -> None:
    env = make_env("CartPole-v1", render_mode="rgb_array")
    try:
        clip = segment_clip(env, episodes[1], Segment(1, 3, 9))
        assert clip.note == "" and len(clip.frames) == 7  # states 3..9
        assert clip.frames[0].shape == (400, 600, 3) and clip.frames[0].dtype == np.uint8
        assert not np.array_equal(clip.frames[0], clip.frames[-1])  # the cart moved
        wrong = replace(episodes[1], meta={"seed": 999})  # another start: not what was recorded
        assert segment_clip(env, wrong, Segment(1, 3, 9)).note == "replay differs"
        unseeded = replace(episodes[1], meta={})
        assert "no reset seed" in segment_clip(env, unseeded, Segment(1, 3, 9)).note
    finally:
        env.close()


def test_answer_keys_label_each_query_and_other_keys_are_ignored(
    episodes: list[Trajectory],
) -> None:
    queries = segment_pairs(episodes, 4, 8, seed=0)
    keys = [pygame.K_x, pygame.K_1, pygame.K_F5, pygame.K_RIGHT, pygame.K_KP0, pygame.K_2]
    seen, on_frame = scripted(keys)
    given: list[tuple[int, float]] = []
    labeller = HumanLabeller("CartPole-v1", fps=0, on_frame=on_frame)  # type: ignore[arg-type]
    session = labeller.label(episodes, queries, lambda i, y: given.append((i, y)), "round 1/1")
    assert given == [(0, 1.0), (1, 0.0), (2, 0.5), (3, 0.0)]  # left, right, equal, right
    assert session.answers == given and not session.stopped and session.ignored == 2
    assert seen[:4] == [0, 0, 0, 0] and seen[-1] == 3  # each query stays until answered


@pytest.mark.parametrize(
    "stop",
    [pygame.K_q, pygame.K_ESCAPE, None],  # None: the window is closed
    ids=["q", "esc", "window-closed"],
)
def test_q_esc_or_closing_the_window_stops_with_the_answers_kept(
    episodes: list[Trajectory], stop: int | None
) -> None:
    queries = segment_pairs(episodes, 5, 8, seed=1)
    given: list[tuple[int, float]] = []

    def on_frame(labeller: HumanLabeller) -> None:
        if labeller.query < 2:
            press(pygame.K_SPACE)
        elif stop is None:
            pygame.event.post(pygame.event.Event(pygame.QUIT))
        else:
            press(stop)

    labeller = HumanLabeller("CartPole-v1", fps=0, on_frame=on_frame)
    stopped = labeller(episodes, queries, lambda i, y: given.append((i, y)))
    assert stopped and given == [(0, 0.5), (1, 0.5)]
    assert not pygame.display.get_init()  # the window is closed


def test_keys_typed_ahead_answer_the_queries_in_turn(episodes: list[Trajectory]) -> None:
    """Several answers within one frame (or queued before the window opened) each answer
    the next query; a Q after them stops."""
    queries = segment_pairs(episodes, 4, 8, seed=2)
    pygame.display.init()
    for key in (pygame.K_1, pygame.K_1, pygame.K_2, pygame.K_q):
        press(key)
    session = HumanLabeller("CartPole-v1", fps=0).label(episodes, queries)
    assert session.answers == [(0, 1.0), (1, 1.0), (2, 0.0)] and session.stopped


def test_an_unshowable_segment_still_asks_and_says_why(
    episodes: list[Trajectory], monkeypatch: pytest.MonkeyPatch
) -> None:
    from protege.experts.human.window import Window

    shown: list[tuple[bool, str]] = []
    draw = Window.show

    def spy(self: Window, frame, state, info, hint, panel=()) -> None:  # noqa: ANN001
        shown.append((frame is not None, info))
        draw(self, frame, state, info, hint, panel)

    monkeypatch.setattr(Window, "show", spy)
    unseeded = [replace(t, meta={}) for t in episodes]
    queries = segment_pairs(unseeded, 1, 8, seed=0)

    def on_frame(labeller: HumanLabeller) -> None:
        if shown:
            press(pygame.K_0)

    session = HumanLabeller("CartPole-v1", fps=0, on_frame=on_frame).label(unseeded, queries)
    assert session.answers == [(0, 0.5)]  # "can't tell" is still an answer
    has_frame, info = shown[0]
    assert not has_frame and "left: episode" in info and "no reset seed" in info

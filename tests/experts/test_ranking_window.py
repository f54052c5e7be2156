"""A person ranking episodes best-first (`protege record --rank`, `protege rank`), driven by
scripted key events under SDL's dummy video driver: the ranking lands with the dataset
where T-REX reads it, bad keys are ignored, leaving stores none, and bad input is one line,
exit 2, nothing written."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens anything: no screen needed
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402
from helpers import run  # noqa: E402

from protege.data import load_trajectories, save_trajectories  # noqa: E402
from protege.errors import ConfigError  # noqa: E402
from protege.experts.human import FrameInput, RankEntry, Ranker, Recorder, record  # noqa: E402
from protege.experts.human.window import Window  # noqa: E402

K = pygame


def keys(*pressed: int, quit_: bool = False) -> FrameInput:
    return FrameInput(tuple(pressed), frozenset(), quit_)


def press(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key))


def entries(n: int) -> list[RankEntry]:
    return [RankEntry(i, f"episode {i}") for i in range(n)]


def test_arrows_enter_numbers_and_backspace_make_the_ranking() -> None:
    ranker = Ranker(entries(4))
    ranker.feed(keys(K.K_DOWN, K.K_DOWN, K.K_RETURN))  # episode 2 is the best
    assert ranker.order == [2] and ranker.state == "ranking"
    ranker.feed(keys(K.K_7, K.K_2, K.K_a))  # no episode 7, 2 is ranked, 'a' means nothing
    assert ranker.order == [2] and ranker.ignored == 3
    ranker.feed(keys(K.K_0, K.K_BACKSPACE, K.K_3))  # 0, taken back, then 3
    assert ranker.order == [2, 3]
    ranker.feed(keys(K.K_UP, K.K_k))  # of 0 and 1 left, UP wraps to 1: the last, 0, follows
    assert ranker.state == "confirm" and ranker.order == [2, 3, 1, 0]
    ranker.feed(keys(K.K_BACKSPACE))  # back to choosing between 1 and 0
    assert ranker.state == "ranking" and ranker.order == [2, 3]
    ranker.feed(keys(K.K_KP0, K.K_RETURN))
    assert ranker.state == "done" and ranker.ranking == [2, 3, 0, 1]


def test_leaving_before_saving_gives_no_ranking() -> None:
    ranker = Ranker(entries(3))
    ranker.feed(keys(K.K_1, K.K_0))  # all ranked, not yet saved
    assert ranker.state == "confirm"
    ranker.feed(keys(quit_=True))
    assert ranker.state == "done" and ranker.ranking is None
    with pytest.raises(ConfigError, match="at least two episodes"):
        Ranker(entries(1))


def _play_then(rank_keys: list[int]) -> object:
    """An on_frame hook: RIGHT held until each CartPole episode ends, K keeps it; then, in
    the ranking, `rank_keys`, one a frame."""
    queue = list(rank_keys)

    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(K.K_k)
        elif rec.state == "paused":
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=K.K_RIGHT))
        elif rec.state == "ranking" and queue:
            press(queue.pop(0))

    return on_frame


def test_record_rank_stores_the_persons_ranking_with_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from protege.jobs.ranking import ranked_episodes

    frames: list[bool] = []
    draw = Window.show

    def spy(self: Window, frame, state, info, hint, panel=()) -> None:  # noqa: ANN001
        if state[0] == "RANK":
            frames.append(frame is not None and bool(panel))
        draw(self, frame, state, info, hint, panel)

    monkeypatch.setattr(Window, "show", spy)
    on_frame = _play_then([K.K_x, K.K_1, K.K_DOWN, K.K_RETURN, K.K_RETURN])
    out = tmp_path / "ranked.npz"
    result = record("CartPole-v1", out, episodes=3, fps=0, on_frame=on_frame, rank=True)  # type: ignore[arg-type]
    assert result.ranking == [1, 2, 0] and result.seeds == [0, 1, 2]
    assert "ranked best first: episodes 1, 2, 0" in result.summary()
    demos = load_trajectories(out, env_id="CartPole-v1")
    assert demos.ranking == [1, 2, 0] and len(demos.trajectories) == 3
    ranked = ranked_episodes(demos, "auto")  # what `protege train t-rex` learns from
    assert [t.meta["rank"] for t in ranked] == [0, 1, 2]
    np.testing.assert_array_equal(ranked[0].obs, demos.trajectories[1].obs)
    assert frames and all(frames)  # the list, and the highlighted episode's replay


def test_closing_the_window_while_ranking_keeps_the_episodes_unranked(tmp_path: Path) -> None:
    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(K.K_k)
        elif rec.state == "paused":
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=K.K_LEFT))
        elif rec.state == "ranking":
            pygame.event.post(pygame.event.Event(pygame.QUIT))

    out = tmp_path / "kept.npz"
    result = record("CartPole-v1", out, episodes=2, fps=0, on_frame=on_frame, rank=True)
    assert result.ranking is None and "not ranked: the window closed" in result.summary()
    demos = load_trajectories(out, env_id="CartPole-v1")
    assert len(demos.trajectories) == 2 and demos.ranking is None


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_cli_rank_with_one_episode_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "one.npz"
    err = _one_line_exit_2(capsys, "record", "CartPole-v1", "--out", str(out), "--rank",
                           "--episodes", "1")  # fmt: skip
    assert "record at least 2" in err and not out.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's display variables")
def test_cli_without_a_display_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "ranked.npz"
    err = _one_line_exit_2(capsys, "record", "CartPole-v1", "--out", str(out), "--rank")
    assert "no display" in err and "SDL_VIDEODRIVER=dummy" in err and not out.exists()
    run_dir = tmp_path / "run"
    err = _one_line_exit_2(capsys, "train", "preferences", "--env", "Pendulum-v1", "--out",
                           str(run_dir), "--set", "labeller=human")  # fmt: skip
    assert "labeller=human" in err and "no display" in err and not run_dir.exists()


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Three CartPole episodes, rewarded: always left, always right, alternating."""
    from protege.data import rollout

    def always(action: int) -> object:
        return lambda obs: np.full(len(obs), action)

    def alternating() -> object:
        steps = [0]

        def policy(obs: np.ndarray) -> np.ndarray:
            steps[0] += 1
            return np.full(len(obs), steps[0] % 2)

        return policy

    trajs = [t for seed, policy in enumerate((always(0), always(1), alternating()))
             for t in rollout("CartPole-v1", policy, 1, seed=seed)]  # fmt: skip
    path = tmp_path / "mixed.npz"
    save_trajectories(path, trajs, "CartPole-v1")
    return path


def test_cli_rank_order_stores_the_ranking(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("rank", str(mixed), "--order", "2,0") == 0  # it may leave episodes out
    assert "ranked best first: episodes 2, 0" in capsys.readouterr().out
    assert load_trajectories(mixed).ranking == [2, 0]


@pytest.mark.parametrize(
    ("order", "says"),
    [("0,7", "names episode 7, but the dataset has 3"), ("1,1", "names an episode twice"),
     ("2,x", "expected episode indices separated by commas")],
)  # fmt: skip
def test_cli_rank_bad_order_is_one_line_and_writes_nothing(
    mixed: Path, capsys: pytest.CaptureFixture[str], order: str, says: str
) -> None:
    before = mixed.read_bytes()
    err = _one_line_exit_2(capsys, "rank", str(mixed), "--order", order)
    assert says in err and mixed.read_bytes() == before


def test_cli_rank_in_the_window_then_t_rex_ranks_by_it(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pygame.display.init()
    for key in (K.K_9, K.K_1, K.K_2, K.K_RETURN):  # 9: no such episode, ignored
        press(key)
    assert run("rank", str(mixed)) == 0, capsys.readouterr().err
    assert load_trajectories(mixed).ranking == [1, 2, 0]
    out = tmp_path / "t-rex"
    code = run("train", "t-rex", "--env", "CartPole-v1", "--demos", str(mixed), "--out",
               str(out), "--steps", "128", "--eval-episodes", "1", "--set", "n_envs=2",
               "--set", "learner_kwargs.n_steps=64", "--set", "learner_kwargs.batch_size=64",
               "--set", "eval_every=0", "--set", "reward.pairs=50", "--set", "reward.epochs=1",
               "--set", "reward.ensemble=1")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ranked_by"] == "ranking" and metrics["ranked_episodes"] == 3

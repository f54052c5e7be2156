"""People as experts, driven by scripted key events under SDL's dummy video driver."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens anything: no screen needed
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402
from helpers import run as run_cli  # noqa: E402

from protege.cli.main import main  # noqa: E402
from protege.envs import make_env  # noqa: E402
from protege.errors import ConfigError, ExpertError  # noqa: E402
from protege.experts.human import (  # noqa: E402
    BUILTIN_KEYMAPS,
    FrameInput,
    KeyMap,
    MouseAxis,
    Recorder,
    Teleop,
    hg_dagger_collect,
    keymap_for,
    record,
)
from protege.experts.human.window import GREEN  # noqa: E402


def down(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))


def up(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key))


def press(key: int) -> None:
    down(key)
    up(key)


@pytest.fixture
def teleop_for() -> Iterator[Callable[..., tuple[gym.Env, Teleop]]]:
    """teleop_for(env_id, keymap=None, **env_kwargs) -> (env, teleop), closed afterwards."""
    opened: list[tuple[gym.Env, Teleop]] = []

    def build(
        env_id: str, keymap: KeyMap | None = None, **kwargs: object
    ) -> tuple[gym.Env, Teleop]:
        env = make_env(env_id, render_mode="rgb_array", **kwargs)
        teleop = Teleop(keymap or keymap_for(env_id), env.action_space, fps=0, ramp_fps=30)
        opened.append((env, teleop))
        return env, teleop

    yield build
    for env, teleop in opened:
        env.close()
        teleop.close()


def cartpole_script(plan: Callable[[int, int], set[int]]) -> Callable[[Recorder], None]:
    """Hold the keys plan(kept so far, step) says each frame; keep every finished episode."""

    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(pygame.K_k)
            return
        want = plan(len(rec.result.kept), len(rec.acts))
        held = rec.teleop.held
        for key in held - want:
            up(key)
        for key in want - held:
            down(key)

    return on_frame


def test_record_keeps_two_cartpole_episodes_with_the_held_keys(tmp_path: Path) -> None:
    from protege.data.storage import load_trajectories

    def plan(episode: int, step: int) -> set[int]:
        if episode == 0:
            return {pygame.K_RIGHT}
        # left for 3 steps, nothing for 3 (CartPole repeats the last push), then right
        return {pygame.K_LEFT} if step < 3 else set() if step < 6 else {pygame.K_RIGHT}

    out = tmp_path / "human.npz"
    result = record("CartPole-v1", out, episodes=2, fps=0, on_frame=cartpole_script(plan))
    demos = load_trajectories(out, env_id="CartPole-v1")
    assert len(demos.trajectories) == 2 and len(result.kept) == 2
    first, second = demos.trajectories
    assert (first.acts == 1).all() and first.terminated
    expected = np.where(np.arange(len(second)) < 6, 0, 1)
    np.testing.assert_array_equal(second.acts, expected)
    start0, _ = gym.make("CartPole-v1").reset(seed=0)
    start1, _ = gym.make("CartPole-v1").reset(seed=1)
    np.testing.assert_allclose(first.obs[0], start0)
    np.testing.assert_allclose(second.obs[0], start1)
    assert result.lost_steps == 0 and not result.closed_early
    assert f"kept 2 episodes ({len(first) + len(second)} steps) in {out}" in result.summary()


def test_rate_asks_for_a_rating_of_each_kept_episode(tmp_path: Path) -> None:
    """K, then a number key: the rating is kept in the episode's meta and written with it; D
    still discards at the rating prompt, and other keys wait for a rating."""
    from protege.data import episode_ranking
    from protege.data.storage import load_trajectories

    answers = iter([pygame.K_9, pygame.K_d, pygame.K_2, pygame.K_KP5])
    states: list[str] = []

    def on_frame(rec: Recorder) -> None:
        states.append(rec.state)
        if rec.state == "over":
            press(pygame.K_k)
        elif rec.state == "rating":
            press(next(answers))
        elif rec.state == "paused":
            down(pygame.K_RIGHT)

    out = tmp_path / "rated"  # a Minari dataset: the ratings live in metadata.json
    result = record("CartPole-v1", out, episodes=2, fps=0, on_frame=on_frame, rate=True)
    # each kept episode carries its reset seed, as rollout's do
    assert [t.meta for t in result.kept] == [
        {"seed": s, "rating": r} for s, r in zip(result.seeds, (2, 5), strict=True)
    ]
    assert result.discarded == 1 and states.count("rating") == 4
    assert "kept 2 episodes" in result.summary() and "rated 2, 5" in result.summary()
    demos = load_trajectories(out, env_id="CartPole-v1")
    assert [t.meta["rating"] for t in demos.trajectories] == [2, 5]
    assert episode_ranking(demos, "rating") == [1, 0]
    start2, _ = gym.make("CartPole-v1").reset(seed=2)  # the discarded attempt was seed 1
    np.testing.assert_allclose(demos.trajectories[1].obs[0], start2)


def test_without_rate_k_keeps_at_once_with_no_rating() -> None:
    def on_frame(rec: Recorder) -> None:
        assert rec.state != "rating"
        if rec.state == "over":
            press(pygame.K_k)
        elif rec.state == "paused":
            down(pygame.K_LEFT)

    result = record("CartPole-v1", None, episodes=1, fps=0, on_frame=on_frame)
    assert result.kept[0].meta == {"seed": result.seeds[0]} and "rated" not in result.summary()


def test_discarded_episode_is_replayed_and_not_kept() -> None:
    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(pygame.K_d if rec.result.discarded == 0 else pygame.K_RETURN)
        elif rec.state == "paused":
            down(pygame.K_LEFT)

    result = record("CartPole-v1", None, episodes=1, fps=0, on_frame=on_frame)
    assert result.discarded == 1 and len(result.kept) == 1
    start1, _ = gym.make("CartPole-v1").reset(seed=1)  # attempt 2 starts from seed 1
    np.testing.assert_allclose(result.kept[0].obs[0], start1)
    assert (result.kept[0].acts == 0).all()


def test_window_closed_mid_episode_keeps_exactly_the_kept_one(tmp_path: Path) -> None:
    from protege.data.storage import load_trajectories

    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(pygame.K_k)
        elif rec.state == "paused":
            down(pygame.K_RIGHT)
        elif rec.result.kept and len(rec.acts) == 3:
            pygame.event.post(pygame.event.Event(pygame.QUIT))

    out = tmp_path / "human.npz"
    result = record("CartPole-v1", out, episodes=5, fps=0, on_frame=on_frame)
    assert result.closed_early and result.lost_steps == 3 and len(result.kept) == 1
    assert "3 steps were discarded" in result.summary()
    demos = load_trajectories(out, env_id="CartPole-v1")
    assert len(demos.trajectories) == 1
    np.testing.assert_array_equal(demos.trajectories[0].acts, result.kept[0].acts)
    np.testing.assert_allclose(demos.trajectories[0].obs, result.kept[0].obs)


def test_pendulum_held_key_ramps_to_the_bound_and_decays_back(teleop_for) -> None:  # noqa: ANN001
    env, teleop = teleop_for("Pendulum-v1")
    held = FrameInput((), frozenset({pygame.K_LEFT}))
    pushed = np.array([teleop.actions(held)[0][0] for _ in range(15)])
    assert np.all(np.diff(pushed) >= 0) and pushed[0] > 0
    assert pushed[8] == pytest.approx(2.0) and pushed.max() == pytest.approx(2.0)  # 0.3 s
    released = np.array([teleop.actions(FrameInput((), frozenset()))[0][0] for _ in range(15)])
    assert np.all(np.diff(released) <= 0) and released[-1] == 0.0
    right = FrameInput((), frozenset({pygame.K_RIGHT}))
    pulled = np.array([teleop.actions(right)[0][0] for _ in range(15)])
    assert pulled.min() == pytest.approx(-2.0)
    for a in np.concatenate([pushed, released, pulled]):
        assert env.action_space.contains(np.array([a], dtype=np.float32))

    # and through the recorder: the env accepts every action, all inside the bounds
    rec = Recorder(env, teleop, episodes=1)
    down(pygame.K_LEFT)
    for _ in range(20):
        rec.step()
    acts = np.asarray(rec.acts)[:, 0]
    assert len(acts) == 20 and np.all((acts > 0) & (acts <= 2.0)) and acts[-1] == 2.0


def test_custom_json_keymap_drives_cartpole(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {"a": 0, "d": 1}, "noop": 0}))
    km = keymap_for("CartPole-v1", path)
    assert km.source == str(path) and dict(km.keys) == {"a": 0, "d": 1}

    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(pygame.K_k)
        elif rec.state == "paused":
            down(pygame.K_d)
        elif len(rec.acts) == 4:
            up(pygame.K_d)  # nothing held from step 4: the noop, 0

    result = record("CartPole-v1", None, episodes=1, keymap=path, fps=0, on_frame=on_frame)
    acts = result.kept[0].acts
    np.testing.assert_array_equal(acts[:4], 1)
    np.testing.assert_array_equal(acts[4:], 0)


def test_box_keymap_from_json_and_combos(teleop_for, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "car.json"
    axes = [{"dim": 0, "neg": "a", "pos": "d", "ramp_s": 0}]
    path.write_text(json.dumps({"axes": axes}))
    _, teleop = teleop_for("MountainCarContinuous-v0", keymap_for("x", path))
    assert teleop.actions(FrameInput((), frozenset({pygame.K_d})))[0][0] == 1.0  # ramp 0: jump
    assert teleop.actions(FrameInput((), frozenset()))[0][0] == 0.0
    # Gymnasium's MountainCar convention: both arrows held is "no push" (1)
    _, car = teleop_for("MountainCar-v0")
    both = frozenset({pygame.K_LEFT, pygame.K_RIGHT})
    assert int(car.actions(FrameInput((), both))[0]) == 1
    assert int(car.actions(FrameInput((), frozenset({pygame.K_LEFT})))[0]) == 0
    assert int(car.actions(FrameInput((), frozenset()))[0]) == 1


def test_frozen_lake_steps_once_per_press(teleop_for) -> None:  # noqa: ANN001
    env, teleop = teleop_for("FrozenLake-v1", is_slippery=False)
    rec = Recorder(env, teleop, episodes=1)
    assert rec.state == "recording"  # turn-based: nothing to pause
    rec.step()
    assert rec.acts == []  # no press, no step
    press(pygame.K_RIGHT)
    rec.step()
    down(pygame.K_RIGHT)  # held down: one step, however long it is held
    for _ in range(3):
        rec.step()
    up(pygame.K_RIGHT)
    for _ in range(3):
        press(pygame.K_DOWN)  # three presses within one frame: three steps
    rec.step()
    assert len(rec.acts) == 5 and rec.state == "recording"
    press(pygame.K_RIGHT)
    rec.step()
    assert rec.state == "over" and rec.terminated
    press(pygame.K_k)
    rec.step()
    assert not rec.running
    (traj,) = rec.result.kept
    np.testing.assert_array_equal(traj.acts, [2, 2, 1, 1, 1, 2])  # right right down×3 right
    np.testing.assert_array_equal(traj.obs, [0, 1, 2, 6, 10, 14, 15])
    assert traj.episode_return == 1.0 and traj.terminated


def test_hg_dagger_returns_exactly_the_takeover_segment(teleop_for) -> None:  # noqa: ANN001
    _, teleop = teleop_for("MountainCar-v0")

    def learner(obs: np.ndarray) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)  # always push left

    def on_frame(i: int) -> None:
        if i == 10:
            down(pygame.K_SPACE)
            down(pygame.K_RIGHT)
        elif i == 20:
            up(pygame.K_SPACE)  # right still held, but the learner drives again
        elif i == 25:
            down(pygame.K_LEFT)

    segments = hg_dagger_collect("MountainCar-v0", learner, teleop, 30, seed=3, on_frame=on_frame)
    assert len(segments) == 1
    (seg,) = segments
    np.testing.assert_array_equal(seg.acts, np.full(10, 2))
    assert seg.truncated and not seg.terminated and len(seg.obs) == 11
    env = gym.make("MountainCar-v0")
    obs, _ = env.reset(seed=3)
    for _ in range(10):
        obs, *_ = env.step(0)
    np.testing.assert_allclose(seg.obs[0], obs)
    for _ in range(10):
        obs, *_ = env.step(2)
    np.testing.assert_allclose(seg.obs[-1], obs)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "no such key map file"),
        ("{not json", "not valid JSON"),
        ('{"keys": {"left": "zero"}}', "integer action ids"),
        ('{"keys": {"lefty": 0}}', "unknown key name 'lefty'"),
        ('{"keys": {"left": 0}, "extra": 1}', "unknown field"),
        ('{"mouse": [{"dim": 0, "axis": "z"}]}', 'mouse.0..axis must be "x" or "y"'),
        ('{"mouse": {"dim": 0}}', "'mouse' must be a list"),
    ],
)
def test_bad_keymap_files_say_what_to_fix(tmp_path: Path, content: str | None, match: str) -> None:
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=match) as info:
        keymap_for("CartPole-v1", path)
    msg = str(info.value)  # names the file and shows the fix
    assert str(path) in msg and ('{"keys"' in msg or "pygame key names" in msg)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # CartPole-v0 is old; Box2D's SWIG
def test_keymap_must_fit_the_action_space() -> None:
    space = gym.spaces.Discrete(2)
    with pytest.raises(ConfigError, match="keys.right = 5 is outside the actions 0..1"):
        KeyMap({"left": 0, "right": 5}).check(space, "CartPole-v1")
    with pytest.raises(ConfigError, match="needs 'axes'"):
        BUILTIN_KEYMAPS["CartPole-v1"].check(gym.spaces.Box(-1, 1, (1,)))
    with pytest.raises(ConfigError, match="infinite bound"):
        BUILTIN_KEYMAPS["Pendulum-v1"].check(gym.spaces.Box(-np.inf, np.inf, (1,)))
    both = KeyMap(axes=(BUILTIN_KEYMAPS["Pendulum-v1"].axes[0],), mouse=(MouseAxis(0),))
    with pytest.raises(ConfigError, match="name dim .0, 0. more than once"):
        both.check(gym.spaces.Box(-1, 1, (1,)))
    for env_id, km in BUILTIN_KEYMAPS.items():
        km.check(gym.make(env_id).action_space, env_id)


def test_env_without_keymap_names_the_fix() -> None:
    with pytest.raises(ExpertError, match="--keymap FILE.json"):
        keymap_for("Blackjack-v1")


def test_cli_record_errors_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert run_cli("record", "Blackjack-v1", "--out", str(tmp_path / "d.npz")) == 2
    assert "--keymap" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code = run_cli("record", "CartPole-v1", "--out", str(tmp_path / "d.npz"), "--keymap", str(bad))
    assert code == 2 and "expected a JSON object" in capsys.readouterr().err


@pytest.mark.parametrize("rate", [False, True])
def test_cli_record_reports_what_was_kept(tmp_path: Path, capsys, rate: bool) -> None:  # noqa: ANN001
    pygame.display.init()
    pygame.event.post(pygame.event.Event(pygame.QUIT))  # the person closes the window at once
    flags = ["--rate"] if rate else []
    assert run_cli("record", "FrozenLake-v1", "--out", str(tmp_path / "d.npz"), *flags) == 0
    out = capsys.readouterr().out
    assert "kept 0 episodes" in out and ("then 1-5 rate" in out) == rate


def test_hg_dagger_rounds_label_only_what_the_person_did(tmp_path: Path) -> None:
    """Round 0: the person drives (RIGHT held). Round 1: the learner drives and the person
    takes over for frames 10-19 pushing LEFT; exactly those 10 steps become labels."""
    from protege.algorithms.bc import BCConfig
    from protege.algorithms.dagger import DAggerConfig, round_path, train_dagger
    from protege.data import load_trajectories
    from protege.envs import env_spaces
    from protege.experts.human import human_collector

    env_id = "MountainCar-v0"
    spaces = env_spaces(env_id)
    teleop = Teleop(keymap_for(env_id), spaces.action, fps=0)
    rounds_seen = []

    def on_frame(i: int) -> None:
        if i == 0:
            rounds_seen.append(len(rounds_seen))
            for key in list(teleop.held):
                up(key)
        if rounds_seen[-1] == 0 and i == 0:
            down(pygame.K_RIGHT)
        elif rounds_seen[-1] == 1 and i == 10:
            down(pygame.K_SPACE)
            down(pygame.K_LEFT)
        elif rounds_seen[-1] == 1 and i == 20:
            up(pygame.K_SPACE)

    cfg = DAggerConfig(rounds=2, labels_per_round=30, bc=BCConfig(epochs=5, device="cpu"))
    env = make_env(env_id, render_mode="rgb_array")
    try:
        collect = human_collector(env, teleop, cfg.labels_per_round, on_frame)
        result = train_dagger(None, spaces, cfg, env=env_id, checkpoint=tmp_path, collect=collect)
    finally:
        teleop.close()
        env.close()
    first = load_trajectories(round_path(tmp_path, 0)).trajectories
    second = load_trajectories(round_path(tmp_path, 1)).trajectories
    assert sum(len(t) for t in first) == 30 and all((t.acts == 2).all() for t in first)
    assert [len(t) for t in second] == [10] and (second[0].acts == 0).all()
    assert [row["labels"] for row in result.history] == [30, 40]


@pytest.mark.slow
def test_cli_dagger_with_a_person_writes_a_run(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """With no key pressed the person drives round 0 with the idle action and never takes
    over; the run is still complete, scored against the person's own round-0 return."""
    import json

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as done:
        main(["train", "dagger", "--env", "MountainCar-v0", "--expert", "human", "--fps", "0",
              "--rounds", "2", "--labels-per-round", "200", "--eval-episodes", "2",
              "--out", str(out), "--set", "bc.epochs=3"])  # fmt: skip
    assert done.value.code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["expert_source"] == "human"
    assert metrics["expert_return_mean"] == -200.0  # idling never reaches the flag
    assert [r["labels"] for r in metrics["rounds"]] == [200, 200]
    assert (out / "rounds" / "round_000.npz").is_file()
    assert not (out / "rounds" / "round_001.npz").exists()  # no takeover, nothing to keep


def test_hg_dagger_tells_a_remembering_learner_every_step_and_episode(teleop_for) -> None:  # noqa: ANN001
    """A learner with an observation window sees the person's steps too, and hears where
    each episode starts (its window must not run across them)."""
    _, teleop = teleop_for("MountainCar-v0")

    class Remembering:
        def __init__(self) -> None:
            self.calls, self.episodes = 0, []

        def start_episode(self, slot: int, episode: int) -> None:
            self.episodes.append((slot, episode))

        def __call__(self, obs: np.ndarray) -> np.ndarray:
            self.calls += 1
            return np.zeros(len(obs), dtype=np.int64)

    learner = Remembering()

    def on_frame(i: int) -> None:
        if i == 10:
            down(pygame.K_SPACE)
            down(pygame.K_RIGHT)
        elif i == 20:
            up(pygame.K_SPACE)

    hg_dagger_collect("MountainCar-v0", learner, teleop, 230, seed=3, on_frame=on_frame)
    assert learner.calls == 230  # every step: the learner's 220 and the person's 10
    assert learner.episodes == [(0, 0), (0, 1)]  # MountainCar's 200-step limit: two episodes


def test_mouse_axes_follow_the_cursor_over_the_picture(teleop_for, tmp_path: Path) -> None:  # noqa: ANN001
    """A JSON map's `mouse` axis sets its dimension from the cursor's place across the
    drawn picture (bottom = low, top = high for "y"), clipped at its edges."""
    path = tmp_path / "mouse.json"
    path.write_text(json.dumps({"mouse": [{"dim": 0, "axis": "y"}]}))
    km = keymap_for("protege/TwoPaths-v0", path)
    assert km.mouse == (MouseAxis(0, "y"),) and "mouse y dim 0" in km.describe()
    env, teleop = teleop_for("protege/TwoPaths-v0", km)
    env.reset(seed=0)
    assert teleop.actions(FrameInput((), frozenset()))[0][0] == 0.0  # no cursor yet: centre
    teleop.show(env.render(), ("rec", GREEN), "", "")
    r = teleop.frame_rect
    for y, want in [(r.top, 1.0), (r.bottom - 1, -1.0), (r.top - 50, 1.0), (r.centery, 0.0)]:
        pygame.event.post(
            pygame.event.Event(
                pygame.MOUSEMOTION, pos=(r.centerx, y), rel=(0, 0), buttons=(0, 0, 0)
            )
        )
        inp = teleop.poll()
        assert teleop.actions(inp)[0][0] == pytest.approx(want, abs=0.01)


def test_a_person_drives_two_paths_with_the_mouse(tmp_path: Path) -> None:
    """Recorded with the cursor held at the top of the picture: every step steers up, and
    the vehicle passes above the obstacle (the dataset keeps the side and the success)."""
    from protege.data.storage import load_trajectories

    path = tmp_path / "mouse.json"
    path.write_text(json.dumps({"mouse": [{"dim": 0, "axis": "y"}]}))

    def on_frame(rec: Recorder) -> None:
        if rec.state == "over":
            press(pygame.K_k)
        elif rec.state == "paused":
            press(pygame.K_SPACE)
        r = rec.teleop.frame_rect
        if r is not None:  # near the top of the picture: steer up fully
            at = (r.centerx, r.top + 2)
            pygame.event.post(
                pygame.event.Event(pygame.MOUSEMOTION, pos=at, rel=(0, 0), buttons=(0, 0, 0))
            )

    out = tmp_path / "person.npz"
    record("protege/TwoPaths-v0", out, episodes=1, keymap=path, fps=0, on_frame=on_frame)
    (episode,) = load_trajectories(out, env_id="protege/TwoPaths-v0").trajectories
    assert np.all(episode.acts[1:, 0] > 0.98)  # the first frame drew no picture to point at
    assert episode.meta["side"] == 1 and episode.obs[-1, 1] > 1.0
    assert episode.meta["success"] is False  # full steer up never comes back to the goal


def test_two_paths_renders_the_arena_and_has_a_key_map(teleop_for) -> None:  # noqa: ANN001
    env, teleop = teleop_for("protege/TwoPaths-v0")
    env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(teleop.actions(FrameInput((), frozenset({pygame.K_UP})))[0])
    assert obs[1] > 0.45  # up steers up, at once (ramp 0)
    frame = env.render()
    assert frame.shape == (300, 306, 3) and frame.dtype == np.uint8
    blue = np.argwhere((frame[..., 2] > 150) & (frame[..., 0] < 60))
    row, col = blue.mean(axis=0)  # the vehicle, drawn where it is, y up
    assert col == pytest.approx((obs[0] + 0.1) * 60, abs=3) and row == pytest.approx(
        (2.5 - obs[1]) * 60, abs=3
    )
    assert tuple(frame[150, 121]) == (150, 150, 150)  # the obstacle's centre (2.02, 0)

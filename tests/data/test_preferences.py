"""Rankings and preferences as data: ranked by what the episodes carry, labelled by simulated
teachers with the error rates asked for, stored with the dataset and checked on load."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from protege.data import (
    Preference,
    Segment,
    Trajectory,
    episode_ranking,
    load_preferences,
    load_trajectories,
    preferences_from_ranking,
    save_preferences,
    save_trajectories,
    synthetic_preferences,
)
from protege.data.preferences import boltzmann_probability, segment_return
from protege.envs import env_spaces
from protege.errors import ConfigError, DatasetError

FORMATS = ["demos.npz", "demos"]


def episode(rews: list[float], **meta: object) -> Trajectory:
    """A CartPole-shaped episode with these rewards and metadata."""
    n = len(rews)
    obs = np.linspace(-0.1, 0.1, 4 * (n + 1), dtype=np.float32).reshape(n + 1, 4)
    rews_array = np.asarray(rews, np.float64)
    return Trajectory(obs, np.arange(n) % 2, rews_array, truncated=True, meta=meta)


def graded(n: int = 8, steps: int = 30, seed: int = 0) -> list[Trajectory]:
    """Episodes whose per-step reward is random around their index: episode i earns about i."""
    rng = np.random.default_rng(seed)
    return [episode(list(i + rng.normal(0, 1, steps)), noise=1 - i / n) for i in range(n)]


# --------------------------------------------------------------------------- rankings


def test_rankings_by_return_noise_and_rating() -> None:
    trajs = [
        episode([1.0, 1.0], noise=0.5, rating=2),
        episode([5.0], noise=0.0, rating=5),
        episode([0.5], noise=1.0, rating=2),
    ]
    assert episode_ranking(trajs, "return") == [1, 0, 2]
    assert episode_ranking(trajs, "noise") == [1, 0, 2]  # lower noise first
    assert episode_ranking(trajs, "rating") == [1, 0, 2]  # a tie keeps the earlier first
    no_rews = [Trajectory(t.obs, t.acts, None, meta=t.meta) for t in trajs]
    with pytest.raises(DatasetError, match="episode 0 cannot be ranked by return"):
        episode_ranking(no_rews, "return")
    returns = zip(trajs, [3, 1, 2], strict=True)
    by_meta = [Trajectory(t.obs, t.acts, meta={"return": r}) for t, r in returns]
    assert episode_ranking(by_meta) == [0, 2, 1]  # without rewards, the 'return' in the meta


def test_a_missing_key_says_how_to_get_it() -> None:
    trajs = [episode([1.0], rating=3), episode([2.0])]
    with pytest.raises(DatasetError, match="episode 1 .* 'rating' is missing; .*--rate"):
        episode_ranking(trajs, "rating")
    with pytest.raises(DatasetError, match="'noise' is missing; .*--noise-schedule"):
        episode_ranking(trajs, "noise")
    with pytest.raises(DatasetError, match="no ranking was given"):
        episode_ranking(trajs, "given")
    with pytest.raises(ConfigError, match="return, noise, rating, given"):
        episode_ranking(trajs, "luck")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", FORMATS)
def test_a_given_ranking_and_preferences_round_trip_with_the_dataset(
    tmp_path: Path, name: str
) -> None:
    trajs = graded(5)
    spaces = env_spaces("CartPole-v1")
    path = save_trajectories(tmp_path / name, trajs, "CartPole-v1", spaces)
    prefs = synthetic_preferences(trajs, 20, 10, seed=1, rationality=0.5, soft=True)
    save_preferences(path, prefs, ranking=[4, 2, 3])
    assert sorted(os.listdir(tmp_path)) == [name]  # rewritten in place, nothing beside it
    demos = load_trajectories(path, env_id="CartPole-v1")
    assert demos.preferences == prefs and demos.ranking == [4, 2, 3]
    assert episode_ranking(demos, "given") == [4, 2, 3]
    assert load_preferences(path) == (prefs, [4, 2, 3])
    for a, b in zip(trajs, demos.trajectories, strict=True):  # the episodes are untouched
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.rews, b.rews)
        assert dict(a.meta) == dict(b.meta)
    save_preferences(path, prefs[:3])  # replaces both: no ranking given now
    assert load_preferences(path) == (prefs[:3], None)
    reloaded = load_trajectories(path)
    again = save_trajectories(tmp_path / f"copy-{name}", reloaded)  # a Demonstrations keeps them
    assert load_preferences(again) == (prefs[:3], None)


@pytest.mark.parametrize("name", FORMATS)
def test_preferences_outside_the_episodes_are_refused_and_nothing_is_written(
    tmp_path: Path, name: str
) -> None:
    path = save_trajectories(tmp_path / name, graded(3, steps=10), "CartPole-v1")
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    before = [p.read_bytes() for p in files]
    cases = [
        ([Preference((0, 0, 5), (3, 0, 5), 1.0)], None, "names episode 3, but the dataset has 3"),
        ([Preference((0, 0, 5), (1, 8, 12), 1.0)], None, "past the end of episode 1"),
        ([], [0, 0], "names an episode twice"),
        ([], [5], "names episode 5"),
        ([], [], "is empty"),
    ]
    for prefs, ranking, match in cases:
        with pytest.raises(DatasetError, match=match) as info:
            save_preferences(path, prefs, ranking)
        assert "(not saved)" in str(info.value) and "\n" not in str(info.value)
    assert [p.read_bytes() for p in files] == before
    with pytest.raises(DatasetError, match="no such dataset"):
        save_preferences(tmp_path / "none.npz", [])


def test_a_preference_is_two_segments_and_a_probability() -> None:
    pref = Preference((1, 2, 5), [0, 0, 3], 1)  # type: ignore[arg-type]
    assert pref.a == Segment(1, 2, 5) and pref.b.stop == 3 and pref.label == 1.0
    for a, b, label, match in [
        ((0, 3, 3), (0, 0, 1), 1.0, "at least one step"),
        ((0, -1, 3), (0, 0, 1), 1.0, "cannot be negative"),
        ((0, 1), (0, 0, 1), 1.0, "expected"),
        ((0, 1.5, 3), (0, 0, 1), 1.0, "three integers"),
        ((0, 0, 1), (0, 0, 1), 1.5, r"in \[0, 1\]"),
        ((0, 0, 1), (0, 0, 1), float("nan"), r"in \[0, 1\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            Preference(a, b, label)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- labellers


def test_boltzmann_probability() -> None:
    assert boltzmann_probability(2.0, 1.0, 1.0) == pytest.approx(1 / (1 + math.exp(-1)))
    assert boltzmann_probability(1.0, 2.0, 1.0) == pytest.approx(1 / (1 + math.exp(1)))
    assert boltzmann_probability(1e6, 0.0, 1.0) == 1.0 and boltzmann_probability(0, 1e6, 1) == 0
    assert boltzmann_probability(3.0, 1.0, 0.0) == 0.5
    assert boltzmann_probability(3.0, 1.0, math.inf) == 1.0
    assert boltzmann_probability(1.0, 1.0, math.inf) == 0.5
    with pytest.raises(ConfigError, match="rationality"):
        boltzmann_probability(1.0, 0.0, -1.0)


def agreement(trajs: list[Trajectory], prefs: list[Preference]) -> float:
    """Share of labels that prefer the segment with the higher true return."""
    right = [
        (p.label > 0.5) == (segment_return(trajs, p.a) > segment_return(trajs, p.b))
        for p in prefs
        if segment_return(trajs, p.a) != segment_return(trajs, p.b)
    ]
    return float(np.mean(right))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_labels_err_at_the_rates_asked_for(seed: int) -> None:
    trajs = graded(8, seed=seed)
    perfect = synthetic_preferences(trajs, 600, 10, seed=seed)
    assert agreement(trajs, perfect) == 1.0
    assert {p.label for p in perfect} <= {0.0, 1.0}
    assert all(len(range(*p.a[1:])) == len(range(*p.b[1:])) == 10 for p in perfect)
    mistaken = synthetic_preferences(trajs, 600, 10, seed=seed, error=0.2)
    assert agreement(trajs, mistaken) == pytest.approx(0.8, abs=0.05)
    # a Boltzmann labeller: right as often as σ(β |ΔR|) says, on average
    noisy = synthetic_preferences(trajs, 600, 10, seed=seed, rationality=0.05)
    gaps = [abs(segment_return(trajs, p.a) - segment_return(trajs, p.b)) for p in noisy]
    expected = np.mean([boltzmann_probability(gap, 0.0, 0.05) for gap in gaps])
    assert agreement(trajs, noisy) == pytest.approx(expected, abs=0.06)
    assert 0.6 < expected < 0.95  # the test means something: neither coin flips nor certain
    soft = synthetic_preferences(trajs, 50, 10, seed=seed, rationality=0.05, soft=True)
    assert any(0 < p.label < 1 for p in soft)
    assert synthetic_preferences(trajs, 50, 10, seed=seed) == perfect[:50]  # seeded


def test_synthetic_preferences_need_rewards_and_sane_settings() -> None:
    trajs = graded(3)
    with pytest.raises(DatasetError, match="no rewards"):
        synthetic_preferences([Trajectory(t.obs, t.acts) for t in trajs], 3, 5)
    with pytest.raises(ConfigError, match="error must lie in"):
        synthetic_preferences(trajs, 3, 5, error=2.0)
    with pytest.raises(ConfigError, match="segment_length"):
        synthetic_preferences(trajs, 3, 0)
    trajs = [episode([1.0, 2.0]), episode(list(np.arange(40.0)))]
    for p in synthetic_preferences(trajs, 20, 10):  # as long as the shorter episode
        short = 2 if 0 in (p.a.episode, p.b.episode) else 10
        assert p.a.stop - p.a.start == p.b.stop - p.b.start == short and p.a != p.b
    with pytest.raises(DatasetError, match="no two different segments"):
        synthetic_preferences(trajs[:1], 1, 2)


def test_a_segment_runs_past_a_terminal_step_so_one_per_step_rewards_do_not_tie() -> None:
    # CartPole's reward: 1 per step alive. Short episodes that fell (terminated), one that
    # ran out of time (truncated): inside-episode segments of equal length always tie
    trajs = [replace(episode([1.0] * n), truncated=False, terminated=True) for n in (8, 15, 30)]
    trajs.append(episode([1.0] * 60))  # truncated
    prefs = synthetic_preferences(trajs, 400, 20, seed=0)
    assert sum(p.label != 0.5 for p in prefs) > 100
    for p in prefs:
        for seg in (p.a, p.b):
            ep = trajs[seg.episode]
            assert 0 <= seg.start < seg.stop <= len(ep)
            if not ep.terminated:  # no known future: inside the episode, full length
                assert seg.stop - seg.start == 20
        # the one that falls sooner has fewer real steps, returns less, and loses
        na, nb = p.a.stop - p.a.start, p.b.stop - p.b.start
        assert p.label == (0.5 if na == nb else float(na > nb))
    # a Boltzmann labeller says "equal" on equal returns too, rather than flip a coin
    noisy = synthetic_preferences(trajs, 400, 20, seed=0, rationality=1.0)
    ties = [p for p in noisy if p.a.stop - p.a.start == p.b.stop - p.b.start]
    assert ties and all(p.label == 0.5 for p in ties)
    assert {p.label for p in noisy if p not in ties} == {0.0, 1.0}
    # a terminated episode's segments reach its end (the fall) as well as its middle
    assert any(p.a.episode == 2 and p.a.stop == 30 and p.a.stop - p.a.start < 20 for p in prefs)
    assert any(p.a.episode == 2 and p.a.stop - p.a.start == 20 for p in prefs)


def test_preferences_from_a_ranking_prefer_the_better_ranked_episode() -> None:
    trajs = graded(6)
    ranking = episode_ranking(trajs, "noise")
    prefs = preferences_from_ranking(trajs, ranking, 200, 8, seed=0)
    place = {e: i for i, e in enumerate(ranking)}
    assert all((place[p.a.episode] < place[p.b.episode]) == (p.label == 1.0) for p in prefs)
    assert {p.label for p in prefs} == {0.0, 1.0} and agreement(trajs, prefs) > 0.95
    with pytest.raises(DatasetError, match="names an episode twice"):
        preferences_from_ranking(trajs, [1, 1], 3, 5)


# --------------------------------------------------------------------------- stored, checked


def test_minari_keeps_them_in_its_metadata(tmp_path: Path) -> None:
    trajs = graded(3, steps=10)
    prefs = [Preference((0, 0, 4), (2, 3, 7), 0.25)]
    path = save_trajectories(
        tmp_path / "demos", trajs, "CartPole-v1", preferences=prefs, ranking=[2, 0]
    )
    block = json.loads((path / "data" / "metadata.json").read_text())["protege"]
    assert block["preferences"] == [{"a": [0, 0, 4], "b": [2, 3, 7], "label": 0.25}]
    assert block["ranking"] == [2, 0] and block["episode_meta"][1] == {"noise": 1 - 1 / 3}

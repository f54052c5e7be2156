"""Storage: lossless round trips in both formats, atomic writes, one clear error per bad field."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import gymnasium as gym
import h5py
import numpy as np
import pytest

from protege.data import (
    DatasetWriter,
    Preference,
    RandomPolicy,
    Trajectory,
    load_trajectories,
    rollout,
    save_trajectories,
)
from protege.data import storage as storage_mod
from protege.envs import Spaces, env_spaces
from protege.errors import DatasetError

FORMATS = ["demos.npz", "demos"]  # a .npz file, or a Minari dataset directory


def balance(obs: np.ndarray) -> np.ndarray:
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


class ImageEnv(gym.Env):
    """64x64 RGB noise; ends terminated after a seeded 2..7 steps, else truncated at 5."""

    observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        return self.np_random.integers(0, 256, (64, 64, 3), dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t, self.end = 0, int(self.np_random.integers(2, 8))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        terminated = self.t >= self.end
        return self._obs(), float(action), terminated, self.t >= 5 and not terminated, {}


def digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for p in files:
        h.update(p.read_bytes())
    return h.hexdigest()


def assert_same(a: list[Trajectory], b: list[Trajectory]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x.obs, dict):
            assert isinstance(y.obs, dict) and set(x.obs) == set(y.obs)
            for k in x.obs:
                np.testing.assert_array_equal(x.obs[k], y.obs[k])
        else:
            np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.acts, y.acts)
        assert (x.rews is None) == (y.rews is None)
        if x.rews is not None:
            np.testing.assert_array_equal(x.rews, y.rews)
        assert (x.terminated, x.truncated) == (y.terminated, y.truncated)


def round_trip(
    tmp_path: Path, name: str, trajs: list[Trajectory], env_id: str | None, spaces: Spaces
) -> list[Trajectory]:
    path = save_trajectories(tmp_path / name, trajs, env_id, spaces)
    before = digest(path)
    demos = load_trajectories(path, env_id=env_id, spaces=spaces)
    assert digest(path) == before  # loading never writes
    assert demos.env_id == env_id and demos.source == str(path)
    assert demos.spaces.observation == spaces.observation
    assert demos.spaces.action == spaces.action
    assert_same(trajs, demos.trajectories)
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left behind
    return demos.trajectories


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", FORMATS)
def test_cartpole_and_pendulum_round_trip(tmp_path: Path, name: str) -> None:
    cartpole = env_spaces("CartPole-v1")
    cart = rollout("CartPole-v1", RandomPolicy(cartpole.action, seed=0), 3, seed=0)
    loaded = round_trip(tmp_path / "cart", name, cart, "CartPole-v1", cartpole)
    assert loaded[0].acts.dtype == np.int64 and loaded[0].obs.dtype == np.float32
    assert all(t.terminated and not t.truncated for t in loaded)
    pendulum = env_spaces("Pendulum-v1")
    swing = rollout("Pendulum-v1", RandomPolicy(pendulum.action, seed=1), 2, seed=0)
    loaded = round_trip(tmp_path / "pend", name, swing, "Pendulum-v1", pendulum)
    assert loaded[0].acts.shape == (200, 1) and loaded[0].acts.dtype == np.float32
    assert all(t.truncated and not t.terminated for t in loaded)


@pytest.mark.parametrize("name", FORMATS)
def test_dict_and_multidiscrete_observations_round_trip(tmp_path: Path, name: str, cue_env) -> None:  # noqa: ANN001
    for kind in ("dict", "multidiscrete"):
        env, expert = cue_env(kind)
        trajs = rollout(env, expert, 2, seed=0)
        loaded = round_trip(tmp_path / kind, name, trajs, None, Spaces.of(env()))
        if kind == "dict":
            assert loaded[0].obs["image"].dtype == np.uint8
            assert loaded[0].obs["key"].dtype == np.int64


@pytest.mark.parametrize("name", FORMATS)
def test_images_are_bit_exact_and_episode_ends_are_kept(tmp_path: Path, name: str) -> None:
    trajs = rollout(ImageEnv, RandomPolicy(ImageEnv.action_space, seed=0), 6, seed=0)
    assert {t.terminated for t in trajs} == {True, False}  # both kinds of ending
    loaded = round_trip(tmp_path, name, trajs, None, Spaces.of(ImageEnv()))
    assert loaded[0].obs.dtype == np.uint8 and loaded[0].obs.shape[1:] == (64, 64, 3)
    if name == "demos":  # stored raw in Minari's own layout, not JPEG-encoded
        meta = json.loads((tmp_path / name / "data" / "metadata.json").read_text())
        assert meta["jpeg_encoding"] is False and meta["dataset_id"] == "protege/demos-v0"
        with h5py.File(tmp_path / name / "data" / "main_data.hdf5", "r") as f:
            assert f["episode_0/observations"].shape == trajs[0].obs.shape


@pytest.mark.parametrize("name", FORMATS)
def test_missing_rewards_round_trip_as_none(tmp_path: Path, name: str) -> None:
    obs = np.arange(12, dtype=np.float32).reshape(6, 2)
    space = Spaces(gym.spaces.Box(-100, 100, (2,)), gym.spaces.MultiDiscrete([3, 4]))
    acts = np.array([[0, 1], [2, 3], [1, 0], [0, 0]])
    human = [
        Trajectory(obs[:3], acts[:2], None, terminated=True),
        Trajectory(obs[:4], acts[:3], np.array([1.0, 2.0, 3.0]), truncated=True),
        Trajectory(obs[:2], acts[:1], None),
    ]
    round_trip(tmp_path / "mixed", name, human, None, space)
    nothing = [Trajectory(t.obs, t.acts, None) for t in human]
    assert all(t.rews is None for t in round_trip(tmp_path / "none", name, nothing, None, space))


def test_local_minari_id_is_loaded_and_never_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "store"))
    monkeypatch.setattr("minari.storage.hosting.download_dataset", pytest.fail)
    trajs = rollout("CartPole-v1", balance, 1, seed=0, max_steps=50)
    spaces = env_spaces("CartPole-v1")
    save_trajectories(tmp_path / "store" / "me" / "cart-v0", trajs, "CartPole-v1", spaces)
    demos = load_trajectories("me/cart-v0", env_id="CartPole-v1")
    assert demos.source == "me/cart-v0" and demos.env_id == "CartPole-v1"
    assert_same(trajs, demos.trajectories)
    with pytest.raises(DatasetError, match=r"me/other-v0: .*local ids: me/cart-v0"):
        load_trajectories("me/other-v0")


@pytest.mark.filterwarnings("ignore")
def test_a_dataset_made_by_minari_itself_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minari
    from minari.data_collector import EpisodeBuffer

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    spaces = env_spaces("CartPole-v1")
    trajs = rollout("CartPole-v1", RandomPolicy(spaces.action, seed=0), 2, seed=0)
    last = [np.arange(len(t)) == len(t) - 1 for t in trajs]
    buffers = [
        EpisodeBuffer(
            observations=t.obs, actions=t.acts, rewards=t.rews,  # type: ignore[arg-type]
            terminations=end & t.terminated, truncations=end & t.truncated,  # type: ignore[arg-type]
        )
        for t, end in zip(trajs, last, strict=True)
    ]  # fmt: skip
    minari.create_dataset_from_buffers("others/cart-v0", buffers, env="CartPole-v1")
    demos = load_trajectories("others/cart-v0", env_id="CartPole-v1")
    assert demos.env_id == "CartPole-v1"
    assert_same(trajs, demos.trajectories)


@pytest.mark.parametrize("name", FORMATS)
def test_each_episodes_metadata_round_trips(tmp_path: Path, name: str) -> None:
    trajs = rollout("CartPole-v1", balance, 3, seed=0, max_steps=45)
    metas = [
        {"noise": 0.25, "return": 15.0, "rating": 4, "who": "ana", "kept": True, "note": None},
        {},
        {"noise": np.float32(1.0), "rating": np.int64(2)},  # NumPy scalars become Python ones
    ]
    trajs = [replace(t, meta=m) for t, m in zip(trajs, metas, strict=True)]
    loaded = round_trip(tmp_path, name, trajs, "CartPole-v1", env_spaces("CartPole-v1"))
    assert [dict(t.meta) for t in loaded] == [metas[0], {}, {"noise": 1.0, "rating": 2}]
    assert type(loaded[2].meta["rating"]) is int


V1_NPZ_FIELDS = ("meta", "obs", "acts", "rews", "lengths", "terminated", "truncated")
V1_MINARI_BLOCK = ("format_version", "env_id", "episodes_without_rewards", "protege_version")


@pytest.mark.parametrize("name", FORMATS)
def test_a_version_1_dataset_loads_with_no_metadata(tmp_path: Path, name: str) -> None:
    """What protege wrote before datasets kept metadata still loads: meta is {}."""
    trajs = [replace(t, meta={}) for t in rollout("CartPole-v1", balance, 2, seed=0, max_steps=30)]
    path = save_trajectories(tmp_path / name, trajs, "CartPole-v1")
    if name.endswith(".npz"):
        tamper(path, meta_edit(format_version=1))
        with np.load(path) as z:
            assert set(z.files) == {*V1_NPZ_FIELDS}
    else:
        meta_file = path / "data" / "metadata.json"
        meta = json.loads(meta_file.read_text())
        assert set(meta["protege"]) == {*V1_MINARI_BLOCK}
        edit_meta(path, protege={**meta["protege"], "format_version": 1})
    demos = load_trajectories(path, env_id="CartPole-v1")
    assert_same(trajs, demos.trajectories)
    assert [dict(t.meta) for t in demos.trajectories] == [{}, {}]
    assert demos.preferences == [] and demos.ranking is None


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"noise": 1.5}, "'noise' = 1.5, outside [0, 1]"),
        ({"noise": "high"}, "'noise' = 'high', expected a number"),
        ({"rating": True}, "'rating' = True, expected a number"),
        ({"seed": "x"}, "'seed' = 'x', expected a whole number >= 0"),
        ({"seed": 1.5}, "'seed' = 1.5, expected a whole number >= 0"),
        ({"return": float("nan")}, "not a finite number"),
        ({"seeds": [1, 2]}, "not a JSON scalar"),
        ({3: "x"}, "has the key 3"),
    ],
)
def test_metadata_that_cannot_be_stored_is_refused_before_writing(
    tmp_path: Path, name: str, meta: dict, match: str
) -> None:
    trajs = rollout("CartPole-v1", balance, 2, seed=0, max_steps=20)
    bad = [trajs[0], replace(trajs[1], meta=meta)]
    with pytest.raises(DatasetError, match=re.escape(match)) as info:
        save_trajectories(tmp_path / name, bad, "CartPole-v1")
    message = str(info.value)
    assert "(not saved)" in message and "of episode 1" in message and "episode_meta" in message
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- validation


def episode(rng: np.random.Generator, steps: int, obs_dim: int, acts: np.ndarray, **end: bool):
    obs = rng.normal(size=(steps + 1, obs_dim)).astype(np.float32)
    return Trajectory(obs, acts, np.ones(steps), **end)


@pytest.fixture
def cartpole_npz(tmp_path: Path) -> Path:
    """Episode 0: 10 steps, terminated; episode 1: 6 steps, truncated."""
    rng = np.random.default_rng(0)
    trajs = [
        episode(rng, 10, 4, rng.integers(0, 2, 10), terminated=True),
        episode(rng, 6, 4, rng.integers(0, 2, 6), truncated=True),
    ]
    return save_trajectories(
        tmp_path / "cart" / "demos.npz", trajs, "CartPole-v1", env_spaces("CartPole-v1")
    )


@pytest.fixture
def pendulum_npz(tmp_path: Path) -> Path:
    """Two truncated episodes of 10 steps."""
    rng = np.random.default_rng(0)
    trajs = [
        episode(rng, 10, 3, rng.uniform(-2, 2, (10, 1)).astype(np.float32), truncated=True)
        for _ in range(2)
    ]
    return save_trajectories(
        tmp_path / "pend" / "demos.npz", trajs, "Pendulum-v1", env_spaces("Pendulum-v1")
    )


def tamper(path: Path, edit: Callable[[dict[str, np.ndarray]], None]) -> None:
    with np.load(path) as z:
        arrays = dict(z)
    edit(arrays)
    with path.open("wb") as f:
        np.savez(f, **arrays)


def meta_edit(**changes: Any) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(a: dict[str, np.ndarray]) -> None:
        a["meta"] = np.array(json.dumps({**json.loads(str(a["meta"])), **changes}))

    return edit


def set_at(key: str, index: Any, value: Any, dtype: Any = None) -> Callable[..., None]:
    def edit(a: dict[str, np.ndarray]) -> None:
        a[key] = a[key].astype(dtype or a[key].dtype)
        a[key][index] = value

    return edit


def fails(path: Path, *fragments: str, **kwargs: Any) -> str:
    """Loading raises one DatasetError naming the file and `fragments`; the file is untouched."""
    before = digest(path)
    with pytest.raises(DatasetError) as info:
        load_trajectories(path, **kwargs)
    message = str(info.value)
    assert path.name in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert digest(path) == before
    return message


def with_prefs(
    segments: np.ndarray | None = None, labels: np.ndarray | None = None
) -> Callable[[dict[str, np.ndarray]], None]:
    """Add one valid preference (episode 0's steps 0..2 vs episode 1's), then replace parts."""

    def edit(a: dict[str, np.ndarray]) -> None:
        a["pref_segments"] = np.array([[[0, 0, 2], [1, 0, 2]]]) if segments is None else segments
        a["pref_labels"] = np.array([1.0]) if labels is None else labels

    return edit


NESTED = {"type": "Dict", "subspaces": {"a": {"type": "Dict", "subspaces": {}}}}

CARTPOLE_CASES: dict[str, tuple[Callable[..., None], tuple[str, ...]]] = {
    "no meta": (lambda a: a.pop("meta"), ("'meta'", "not a protege")),
    "meta not json": (lambda a: a.update(meta=np.array("{oops")), ("'meta'", "not valid JSON")),
    "future version": (meta_edit(format_version=99), ("'meta'", "format version 99", "upgrade")),
    "no version": (meta_edit(format_version=None), ("'meta'", "unknown format version")),
    "nested dict space": (meta_edit(observation_space=NESTED), ("observation_space", "nested")),
    "missing acts": (lambda a: a.pop("acts"), ("'acts'", "missing")),
    "missing obs": (lambda a: a.pop("obs"), ("'obs'", "missing")),
    "missing truncated": (lambda a: a.pop("truncated"), ("'truncated'", "missing")),
    "lengths too long": (set_at("lengths", 0, 1000), ("'lengths'", "'acts'", "rows")),
    "lengths 2-d": (lambda a: a.update(lengths=a["lengths"][:, None]), ("'lengths'",)),
    "no episodes": (
        lambda a: a.update(
            lengths=a["lengths"][:0], terminated=a["terminated"][:0], truncated=a["truncated"][:0]
        ),
        ("'lengths'", "no episodes"),
    ),
    "acts shape": (lambda a: a.update(acts=np.stack([a["acts"]] * 2, 1)), ("'acts'", "shape")),
    "obs shape": (lambda a: a.update(obs=a["obs"][:, :3]), ("'obs'", "rows of shape (4,)")),
    "obs strings": (lambda a: a.update(obs=a["obs"].astype(str)), ("'obs'", "dtype")),
    "obs nan": (set_at("obs", (15, 2), np.nan), ("'obs'", "nan", "observation 4 of episode 1")),
    "acts out of range": (set_at("acts", 5, 2), ("'acts'", "Discrete(2)", "step 5 of episode 0")),
    "acts negative": (set_at("acts", 0, -1), ("'acts'", "outside")),
    "acts fractional": (set_at("acts", 3, 0.5, np.float64), ("'acts'", "non-integral value 0.5")),
    "acts inf": (set_at("acts", 3, np.inf, np.float64), ("'acts'", "non-finite", "step 3")),
    "rews nan": (set_at("rews", 10, np.nan), ("'rews'", "non-finite", "step 0 of episode 1")),
    "rews too short": (lambda a: a.update(rews=a["rews"][1:]), ("'rews'", "shape")),
    "both ends": (set_at("terminated", 1, True), ("'terminated'", "'truncated'", "episode 1")),
    "flags not bool": (set_at("terminated", 0, 7, np.int64), ("'terminated'", "0/1")),
    "episode_meta not json": (
        lambda a: a.update(episode_meta=np.array("[{")),
        ("'episode_meta'", "not valid JSON"),
    ),
    "episode_meta not a string": (
        lambda a: a.update(episode_meta=np.zeros(2)),
        ("'episode_meta'", "expected a JSON string"),
    ),
    "episode_meta too short": (
        lambda a: a.update(episode_meta=np.array('[{"noise": 0}]')),
        ("'episode_meta'", "a list of 1", "2 objects"),
    ),
    "episode_meta not objects": (
        lambda a: a.update(episode_meta=np.array("[1, 2]")),
        ("'episode_meta'", "of episode 0 is int"),
    ),
    "episode_meta bad noise": (
        lambda a: a.update(episode_meta=np.array('[{}, {"noise": 7}]')),
        ("'episode_meta'", "of episode 1", "'noise' = 7"),
    ),
    "segments without labels": (
        lambda a: a.update(pref_segments=np.zeros((1, 2, 3), np.int64)),
        ("'pref_labels'", "missing", "'pref_segments'"),
    ),
    "segments shape": (
        with_prefs(segments=np.zeros((1, 3), np.int64)),
        ("'pref_segments'", "(P, 2, 3) integers"),
    ),
    "segments floats": (
        with_prefs(segments=np.array([[[0, 0, 2], [1, 0, 2]]], np.float64)),
        ("'pref_segments'", "dtype float64"),
    ),
    "segment past the end": (
        with_prefs(segments=np.array([[[0, 0, 2], [1, 4, 7]]])),
        ("'pref_segments'", "entry 0: segment b", "past the end of episode 1", "6 steps"),
    ),
    "segment of no episode": (
        with_prefs(segments=np.array([[[2, 0, 2], [1, 0, 2]]])),
        ("'pref_segments'", "segment a", "names episode 2"),
    ),
    "segment empty": (
        with_prefs(segments=np.array([[[0, 3, 3], [1, 0, 2]]])),
        ("'pref_segments'", "at least one step"),
    ),
    "label above 1": (with_prefs(labels=np.array([1.5])), ("'pref_labels'", "entry 0 is 1.5")),
    "label nan": (with_prefs(labels=np.array([np.nan])), ("'pref_labels'", "nan")),
    "labels too many": (with_prefs(labels=np.array([1.0, 0.0])), ("'pref_labels'", "(1,)")),
    "ranking twice": (
        lambda a: a.update(ranking=np.array([1, 1])),
        ("'ranking'", "names an episode twice"),
    ),
    "ranking out of range": (
        lambda a: a.update(ranking=np.array([0, 2])),
        ("'ranking'", "names episode 2", "has 2"),
    ),
    "ranking floats": (
        lambda a: a.update(ranking=np.array([0.0, 1.0])),
        ("'ranking'", "dtype float64", "episode indices"),
    ),
    "ranking empty": (lambda a: a.update(ranking=np.array([], np.int64)), ("'ranking'", "empty")),
}


@pytest.mark.parametrize("case", sorted(CARTPOLE_CASES))
def test_each_broken_field_is_named(cartpole_npz: Path, case: str) -> None:
    edit, fragments = CARTPOLE_CASES[case]
    assert [len(t) for t in load_trajectories(cartpole_npz).trajectories] == [10, 6]
    tamper(cartpole_npz, edit)
    fails(cartpole_npz, *fragments)


def test_valid_extras_added_by_hand_load(cartpole_npz: Path) -> None:
    """The base of the broken-extras cases loads: each case breaks exactly one thing."""
    tamper(cartpole_npz, with_prefs())
    meta = np.array('[{"rating": 1}, {}]')
    tamper(cartpole_npz, lambda a: a.update(episode_meta=meta, ranking=np.array([1])))
    demos = load_trajectories(cartpole_npz)
    assert demos.preferences == [Preference((0, 0, 2), (1, 0, 2), 1.0)]
    assert demos.ranking == [1] and [dict(t.meta) for t in demos.trajectories] == [
        {"rating": 1},
        {},
    ]


def test_box_actions_are_checked_against_bounds_with_a_tolerance(pendulum_npz: Path) -> None:
    tamper(pendulum_npz, set_at("acts", (4, 0), 2.0 + 5e-7, np.float64))
    acts = load_trajectories(pendulum_npz).trajectories[0].acts
    assert acts.dtype == np.float32 and acts[4, 0] == pytest.approx(2.0)
    tamper(pendulum_npz, set_at("acts", (14, 0), 2.5))
    fails(pendulum_npz, "'acts'", "2.5", "bounds", "step 4 of episode 1", "clip")


def test_safe_casts_are_applied_and_integral_floats_accepted(cartpole_npz: Path) -> None:
    tamper(cartpole_npz, lambda a: a.update(obs=a["obs"].astype(np.float64)))
    tamper(cartpole_npz, lambda a: a.update(acts=a["acts"].astype(np.float64)))
    trajs = load_trajectories(cartpole_npz).trajectories
    assert trajs[0].obs.dtype == np.float32 and trajs[0].acts.dtype == np.int64


def test_spaces_must_match_the_env(cartpole_npz: Path, pendulum_npz: Path) -> None:
    fails(
        cartpole_npz,
        "'obs'",
        "Pendulum-v1",
        "shape (4,)",
        "--env CartPole-v1",
        env_id="Pendulum-v1",
    )
    other = Spaces(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(3))
    fails(cartpole_npz, "'acts'", "Discrete(3)", spaces=other)
    ints = Spaces(gym.spaces.Box(-1, 1, (3,), np.int64), gym.spaces.Box(-2, 2, (1,)))
    fails(pendulum_npz, "'obs'", "dtype", spaces=ints)


def test_dict_observations_are_checked_per_key(tmp_path: Path, cue_env) -> None:  # noqa: ANN001
    env, expert = cue_env("dict")
    path = save_trajectories(
        tmp_path / "demos.npz", rollout(env, expert, 2), None, Spaces.of(env())
    )
    want = Spaces.of(env())
    assert isinstance(want.observation, gym.spaces.Dict)
    fewer = Spaces(gym.spaces.Dict({"image": want.observation["image"]}), want.action)
    fails(path, "'obs'", "keys", spaces=fewer)
    tamper(path, set_at("obs/key", 7, 4))
    fails(path, "'obs/key'", "Discrete(4)", "observation 7 of episode 0")
    tamper(path, lambda a: a.pop("obs/vec"))
    fails(path, "'obs/vec'", "missing")


def test_unreadable_files_are_reported_and_left_as_they_were(cartpole_npz: Path) -> None:
    data = cartpole_npz.read_bytes()
    cartpole_npz.write_bytes(data[: len(data) // 2])
    fails(cartpole_npz, "cannot read", "corrupted")
    cartpole_npz.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])
    fails(cartpole_npz)  # a flipped byte inside a member: its CRC no longer matches
    cartpole_npz.write_bytes(b"")
    fails(cartpole_npz, "cannot read")
    with zipfile.ZipFile(cartpole_npz, "w") as z:
        z.writestr("notes.txt", "not an array")
    fails(cartpole_npz, "'notes.txt'", "not a .npy array")
    np.save(cartpole_npz.with_suffix(".npy"), np.zeros(3))
    cartpole_npz.with_suffix(".npy").replace(cartpole_npz)
    fails(cartpole_npz, "single array")


def test_paths_that_are_not_datasets(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nothing.npz: no such file"):
        load_trajectories(tmp_path / "nothing.npz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="notes.txt: not a dataset"):
        load_trajectories(tmp_path / "notes.txt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DatasetError, match="folder: field 'metadata.json' is missing"):
        load_trajectories(tmp_path / "folder")


# --------------------------------------------------------------------------- Minari checks


@pytest.fixture
def cartpole_minari(tmp_path: Path) -> Path:
    trajs = rollout("CartPole-v1", balance, 2, seed=0, max_steps=30)
    return save_trajectories(tmp_path / "demos", trajs, "CartPole-v1", env_spaces("CartPole-v1"))


def edit_h5(path: Path, edit: Callable[[h5py.File], None]) -> None:
    with h5py.File(path / "data" / "main_data.hdf5", "a") as f:
        edit(f)


def edit_meta(path: Path, **changes: Any) -> None:
    meta_file = path / "data" / "metadata.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), **changes}))


def test_minari_fields_are_checked(cartpole_minari: Path) -> None:
    path = cartpole_minari
    edit_h5(path, lambda f: f["episode_1/actions"].__setitem__(3, 5))
    fails(path, "'actions'", "Discrete(2)", "step 3 of episode 1")
    edit_h5(path, lambda f: f["episode_1/actions"].__setitem__(3, 0))
    edit_h5(path, lambda f: f["episode_0/terminations"].__setitem__(2, True))
    fails(path, "'terminations'", "episode 0", "step 2")
    edit_h5(path, lambda f: f["episode_0/observations"].__setitem__((4, 1), np.nan))
    edit_h5(path, lambda f: f["episode_0"].__delitem__("rewards"))
    fails(path, "'rewards'", "missing", "episode 0")
    fails(path, "'observations'", "--env CartPole-v1", env_id="Acrobot-v1")
    edit_meta(path, total_episodes=3)
    fails(path, "'total_episodes'", "3")
    edit_meta(path, protege={"format_version": 3})
    fails(path, "'protege'", "format version 3")
    edit_meta(path, minari_version="9.9.9")
    fails(path, "'minari_version'", "9.9.9")
    (path / "data" / "metadata.json").write_text("{")
    fails(path, "'metadata.json'", "cannot be read")


@pytest.mark.parametrize(
    ("entries", "fragments"),
    [
        ({"episode_meta": {"noise": 0}}, ("'protege.episode_meta'", "a JSON dict")),
        ({"episode_meta": [{}, {"rating": "5"}]}, ("'protege.episode_meta'", "'rating' = '5'")),
        ({"preferences": {}}, ("'protege.preferences'", "expected a list")),
        ({"preferences": [{"a": [0, 0, 2]}]}, ("'protege.preferences'", "entry 0", "'label'")),
        (
            {"preferences": [{"a": [0, 0, 2], "b": [1, 0, 99], "label": 1}]},
            ("'protege.preferences'", "past the end of episode 1"),
        ),
        (
            {"preferences": [{"a": [0, 0, 2], "b": [1, 0, 2], "label": "yes"}]},
            ("'protege.preferences'", "'yes'", "P(a preferred)"),
        ),
        ({"ranking": [0, "1"]}, ("'protege.ranking'", "episode indices")),
        ({"ranking": [0, True]}, ("'protege.ranking'", "episode indices")),
        ({"ranking": 1}, ("'protege.ranking'", "a JSON int")),
    ],
)
def test_minari_extras_are_checked(
    cartpole_minari: Path, entries: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    meta = json.loads((cartpole_minari / "data" / "metadata.json").read_text())
    good = {
        "episode_meta": [{}, {"noise": 0.5}],
        "ranking": [1, 0],
        "preferences": [{"a": [0, 0, 2], "b": [1, 0, 2], "label": 0.5}],
    }
    edit_meta(cartpole_minari, protege={**meta["protege"], **good})
    demos = load_trajectories(cartpole_minari)  # the base of each case loads
    assert demos.ranking == [1, 0] and demos.trajectories[1].meta == {"noise": 0.5}
    edit_meta(cartpole_minari, protege={**meta["protege"], **good, **entries})
    fails(cartpole_minari, *fragments)


def test_minari_nan_and_truncated_file(cartpole_minari: Path) -> None:
    edit_h5(cartpole_minari, lambda f: f["episode_0/observations"].__setitem__((4, 1), np.inf))
    fails(cartpole_minari, "'observations'", "inf", "observation 4 of episode 0")
    main = cartpole_minari / "data" / "main_data.hdf5"
    main.write_bytes(main.read_bytes()[:3000])
    fails(cartpole_minari, "cannot read")


# --------------------------------------------------------------------------- writing safely


@pytest.mark.parametrize("name", FORMATS)
def test_existing_data_is_kept_unless_overwrite(tmp_path: Path, name: str) -> None:
    spaces = env_spaces("CartPole-v1")
    first = rollout("CartPole-v1", balance, 1, seed=0, max_steps=20)
    second = rollout("CartPole-v1", balance, 2, seed=5, max_steps=20)
    path = save_trajectories(tmp_path / name, first, "CartPole-v1", spaces)
    before = digest(path)
    with pytest.raises(DatasetError, match=r"already exists; pass --overwrite .* another path"):
        save_trajectories(path, second, "CartPole-v1", spaces)
    with pytest.raises(DatasetError, match="already exists"):
        DatasetWriter(path, "CartPole-v1", spaces)
    assert digest(path) == before
    save_trajectories(path, second, "CartPole-v1", spaces, overwrite=True)
    assert_same(second, load_trajectories(path).trajectories)
    writer = DatasetWriter(path, "CartPole-v1", spaces, overwrite=True)
    writer.add(first[0])
    assert len(writer) == 1
    assert_same(first, load_trajectories(path).trajectories)
    assert sorted(os.listdir(tmp_path)) == [name]


def test_writer_refuses_a_bad_episode_and_keeps_the_good_ones(tmp_path: Path) -> None:
    spaces = env_spaces("CartPole-v1")
    good = rollout("CartPole-v1", balance, 2, seed=0, max_steps=20)
    writer = DatasetWriter(tmp_path / "demos.npz", "CartPole-v1", spaces)
    for t in good:
        writer.add(t)
    bad = Trajectory(good[0].obs, np.full(len(good[0]), 2), good[0].rews)
    with pytest.raises(DatasetError, match=r"'acts' has value 2 .* step 0 of episode 2"):
        writer.add(bad)
    assert len(writer) == 2
    assert_same(good, load_trajectories(tmp_path / "demos.npz").trajectories)


@pytest.mark.parametrize("name", FORMATS)
def test_writer_keeps_each_episodes_metadata_in_episode_order(tmp_path: Path, name: str) -> None:
    trajs = rollout("CartPole-v1", balance, 3, seed=0, max_steps=30)
    writer = DatasetWriter(tmp_path / name, "CartPole-v1", env_spaces("CartPole-v1"))
    for i in (2, 0, 1):  # a vectorised rollout finishes episodes out of order
        writer.add(replace(trajs[i], meta={"rating": i + 1}), position=i)
    loaded = load_trajectories(tmp_path / name).trajectories
    assert_same(trajs, loaded)
    assert [t.meta["rating"] for t in loaded] == [1, 2, 3]


def test_unrelated_directories_are_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "notes.txt").write_text("keep me")
    trajs = rollout("CartPole-v1", balance, 1, seed=0, max_steps=10)
    with pytest.raises(
        DatasetError, match="not a Minari dataset directory; it will not be replaced"
    ):
        save_trajectories(
            tmp_path / "project", trajs, None, env_spaces("CartPole-v1"), overwrite=True
        )
    assert (tmp_path / "project" / "notes.txt").read_text() == "keep me"
    (tmp_path / "script").write_text("keep me too")
    with pytest.raises(DatasetError, match="not a Minari dataset directory"):
        save_trajectories(
            tmp_path / "script", trajs, None, env_spaces("CartPole-v1"), overwrite=True
        )
    assert (tmp_path / "script").read_text() == "keep me too"


def test_invalid_data_is_refused_before_writing(tmp_path: Path) -> None:
    spaces = env_spaces("Pendulum-v1")
    bad = Trajectory(np.zeros((3, 3), np.float32), np.array([[0.5], [3.0]], np.float32))
    with pytest.raises(DatasetError, match=r"demos.npz \(not saved\): field 'acts' has value 3.0"):
        save_trajectories(tmp_path / "demos.npz", [bad], "Pendulum-v1", spaces)
    with pytest.raises(DatasetError, match="no episodes to save"):
        save_trajectories(tmp_path / "demos.npz", [], "Pendulum-v1", spaces)
    with pytest.raises(DatasetError, match="'.h5' is not a dataset format"):
        save_trajectories(tmp_path / "demos.h5", [bad], "Pendulum-v1", spaces)
    assert os.listdir(tmp_path) == []


def test_crash_mid_write_keeps_the_previous_npz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaces = env_spaces("CartPole-v1")
    trajs = rollout("CartPole-v1", balance, 2, seed=0, max_steps=40)
    path = save_trajectories(tmp_path / "demos.npz", trajs[:1], "CartPole-v1", spaces)
    before = digest(path)

    def half_then_crash(tmp: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
        tmp.write(b"PK\x03\x04 half an archive")
        raise RuntimeError("power cut")

    monkeypatch.setattr(storage_mod, "_write_npz", half_then_crash)
    with pytest.raises(RuntimeError, match="power cut"):
        save_trajectories(path, trajs, "CartPole-v1", spaces, overwrite=True)
    assert digest(path) == before and os.listdir(tmp_path) == ["demos.npz"]
    assert_same(trajs[:1], load_trajectories(path).trajectories)


def test_crash_mid_write_keeps_the_previous_minari_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minari.dataset._storages.hdf5_storage import HDF5Storage

    spaces = env_spaces("CartPole-v1")
    trajs = rollout("CartPole-v1", balance, 3, seed=0, max_steps=60)
    path = save_trajectories(tmp_path / "demos", trajs[:1], "CartPole-v1", spaces)
    before = digest(path)
    original = HDF5Storage.update_episodes

    def one_then_crash(self: HDF5Storage, episodes: Any) -> None:
        original(self, list(episodes)[:1])
        raise KeyboardInterrupt

    monkeypatch.setattr(HDF5Storage, "update_episodes", one_then_crash)
    with pytest.raises(KeyboardInterrupt):
        save_trajectories(path, trajs, "CartPole-v1", spaces, overwrite=True)
    assert digest(path) == before and os.listdir(tmp_path) == ["demos"]
    assert_same(trajs[:1], load_trajectories(path).trajectories)


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from protege.data import DatasetWriter, rollout
from protege.data import storage
from protege.envs import env_spaces

trajs = rollout("CartPole-v1", lambda o: (o[:, 2] + 0.5 * o[:, 3] > 0).astype(np.int64), 4)
writer = DatasetWriter(sys.argv[1], "CartPole-v1", env_spaces("CartPole-v1"))
for t in trajs[:3]:
    writer.add(t)
assert len(writer) == 3

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # mid-write of the 4th episode

storage._write_npz = storage._write_minari = killed
writer.add(trajs[3])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("name", FORMATS)
def test_writer_killed_mid_write_keeps_the_added_episodes(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    demos = load_trajectories(out, env_id="CartPole-v1")
    expected = rollout("CartPole-v1", balance, 3, seed=0)
    assert_same(expected, demos.trajectories)


def test_a_dataset_larger_than_memory_is_refused_before_reading(
    cartpole_npz: Path, cartpole_minari: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import protege.data.storage as storage

    monkeypatch.setattr(storage.memory, "available_memory", lambda: 1000)  # bytes
    fails(cartpole_npz, "GiB", "memory is available", "split the dataset")
    before = digest(cartpole_minari / "data" / "main_data.hdf5")
    with pytest.raises(DatasetError, match="split the dataset"):
        load_trajectories(cartpole_minari)
    assert digest(cartpole_minari / "data" / "main_data.hdf5") == before


def test_a_collect_that_cannot_fit_in_memory_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import protege.data.storage as storage
    from protege.jobs.common import collect

    monkeypatch.setattr(storage.memory, "available_memory", lambda: 10 * 2**20)  # 10 MiB
    with pytest.raises(DatasetError, match="20000 episodes of up to 500 steps"):
        collect("CartPole-v1", "scripted", 20_000, tmp_path / "d.npz")
    assert not (tmp_path / "d.npz").exists()
    collect("CartPole-v1", "scripted", 2, tmp_path / "d.npz")  # small ones still go

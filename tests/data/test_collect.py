"""`collect` resolves its env once and writes each episode once, in episode order: the last
write is the whole dataset, with no second validation and rewrite at the end. With noise
(`--noise`, `--noise-schedule`) each episode keeps its level and return in its metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import run

import protege.data.storage as storage
import protege.envs as envs
from protege.data import load_trajectories, rollout
from protege.experts.scripted import scripted_expert
from protege.jobs.common import collect


def test_collect_resolves_the_env_once_and_writes_each_episode_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real_write = storage._write
    monkeypatch.setattr(storage, "_write", lambda target, flat, *a: (
        writes.append(len(flat.lengths)), real_write(target, flat, *a))[1])  # fmt: skip
    made: list[str] = []
    real_make = envs.make_env
    monkeypatch.setattr(envs, "make_env", lambda env_id, **kw: (
        made.append(env_id), real_make(env_id, **kw))[1])  # fmt: skip

    out = tmp_path / "demos.npz"
    trajs = collect("CartPole-v1", "scripted", 12, out, seed=3)
    assert sorted(writes) == list(range(1, 13))  # one write per episode, none after
    assert len(made) == 1 + 8  # resolved once, then one env per sub-env of the rollout
    saved = load_trajectories(out, env_id="CartPole-v1").trajectories
    again = rollout("CartPole-v1", scripted_expert("CartPole-v1").act, 12, seed=3)
    for a, b, c in zip(saved, trajs, again, strict=True):  # in episode order
        np.testing.assert_array_equal(a.acts, b.acts)
        np.testing.assert_array_equal(a.acts, c.acts)


def test_a_noise_schedule_is_one_graded_dataset_whose_levels_repeat_alone(
    tmp_path: Path,
) -> None:
    out = tmp_path / "graded"  # a Minari dataset: the metadata lives in metadata.json
    trajs = collect("CartPole-v1", "scripted", 3, out, seed=7, noise=[0.0, 0.5, 1.0])
    saved = load_trajectories(out, env_id="CartPole-v1").trajectories
    assert [t.meta["noise"] for t in saved] == [0.0] * 3 + [0.5] * 3 + [1.0] * 3
    assert [t.meta["return"] for t in saved] == [t.episode_return for t in saved]
    assert [dict(t.meta) for t in saved] == [dict(t.meta) for t in trajs]
    by_level = [np.mean([t.episode_return for t in saved[k : k + 3]]) for k in (0, 3, 6)]
    assert by_level[0] == 500.0 and by_level[0] > by_level[1] > by_level[2]
    # level 0.5 is the episodes a single-level collect records from its first seed
    alone = collect("CartPole-v1", "scripted", 3, tmp_path / "half.npz", seed=10, noise=0.5)
    for a, b in zip(saved[3:6], alone, strict=True):
        np.testing.assert_array_equal(a.acts, b.acts)
        np.testing.assert_array_equal(a.obs, b.obs)


def test_collect_without_noise_keeps_each_return(tmp_path: Path) -> None:
    saved = load_trajectories(collect_npz(tmp_path, "plain.npz")).trajectories
    assert [dict(t.meta) for t in saved] == [{"seed": i, "return": 500.0} for i in range(2)]


def collect_npz(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(out), *args) == 0
    return out


def test_cli_noise_schedule_prints_the_return_per_level(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = collect_npz(tmp_path, "graded.npz", "--noise-schedule", "0,1")
    printed = " ".join(capsys.readouterr().out.split())
    assert "wrote 4 episodes" in printed and "return by noise level: 0: 500.0, 1: " in printed
    meta = [dict(t.meta) for t in load_trajectories(out).trajectories]
    assert [m["noise"] for m in meta] == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--noise", "1.5"], "--noise must lie in [0, 1]"),
        (["--noise", "-0.1"], "--noise must lie in [0, 1]"),
        (["--noise", "lots"], "Invalid value for '--noise'"),
        (["--noise-schedule", "0,0.5,x"], "'x' is not a number"),
        (["--noise-schedule", "0,3"], "in [0, 1]"),
        (["--noise", "0.1", "--noise-schedule", "0,1"], "not both"),
        (["--noise", "0.1", "--noise-kind", "gaussian"], "--noise-kind random"),
        (["--noise-kind", "random"], "applies only with --noise"),
    ],
)
def test_cli_bad_noise_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path,
    capsys,  # noqa: ANN001
    args: list[str],
    match: str,
) -> None:
    out = tmp_path / "d.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(out), *args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in " ".join(err.split()), err
    assert not out.exists() and list(tmp_path.iterdir()) == []

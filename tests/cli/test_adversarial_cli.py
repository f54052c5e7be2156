"""`protege train gail|airl|gcl` end to end: the run directory, the reward file that loads
without protege's training code, the reward correlation, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import kill_when, run

from protege.checkpoint import load_checkpoint
from protege.data.storage import load_trajectories
from protege.data.types import flatten_trajectories
from protege.rewards import load_reward

RUN_FILES = ("config.json", "policy.zip", "reward.pt2", "reward.json", "progress.csv",
             "metrics.json")  # fmt: skip


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("adversarial")
    paths = {"CartPole-v1": base / "cartpole.npz", "Pendulum-v1": base / "pendulum.npz"}
    for env, path in paths.items():
        assert run("collect", env, "--episodes", "10", "--out", str(path)) == 0
    return paths


@pytest.mark.slow
def test_gail_writes_a_complete_run_dir_and_stops_at_its_target(
    demos: dict[str, Path],
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    # the wiring, not the learning (tests/algorithms/adversarial/test_gail.py holds GAIL to
    # 475 on CartPole): a target of 150 is passed within a few evaluations, and the run stops
    out = tmp_path / "gail"
    code = run(
        "train", "gail", "--env", "CartPole-v1", "--demos", str(demos["CartPole-v1"]),
        "--out", str(out), "--steps", "100000", "--set", "eval_every=2048",
        "--set", "target_return=150", "--eval-episodes", "10",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["return_mean"] >= metrics["random_return_mean"] + 50, metrics
    assert metrics["env_steps"] < 100_000  # stopped at the target
    assert metrics["reward_correlation"] is None  # CartPole pays a constant 1
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "gail" and config["config"]["learner"] == "ppo"
    with (out / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    for key in ("env_steps", "return_mean", "disc_accuracy", "expert_reward", "learner_reward"):
        assert key in rows[0], key
    steps = [float(r["env_steps"]) for r in rows]
    assert steps == sorted(steps) and steps[-1] == metrics["env_steps"] - 8  # last round
    assert "reward correlation" in capsys.readouterr().out


def test_airl_on_pendulum_reports_reward_correlation_and_a_standalone_reward(
    demos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "airl"
    code = run(
        "train", "airl", "--env", "Pendulum-v1", "--demos", str(demos["Pendulum-v1"]),
        "--out", str(out), "--steps", "1024", "--eval-episodes", "2",
    )  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("reward_correlation", "reward_correlation_expert", "reward_correlation_learner"):
        assert -1.0 <= metrics[key] <= 1.0, key
    reward = load_reward(out)
    assert reward.info["algo"] == "airl" and "disentangled" in reward.info["meaning"]
    t = flatten_trajectories(load_trajectories(demos["Pendulum-v1"]).trajectories)
    r = reward.predict(t.obs, t.acts, t.next_obs, t.terminated)
    assert r.shape == (len(t),) and np.isfinite(r).all()


@pytest.mark.slow
def test_gail_killed_mid_run_resumes_and_finishes(
    demos: dict[str, Path],
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    from stable_baselines3 import PPO

    out = tmp_path / "gail"
    args = ["train", "gail", "--env", "CartPole-v1", "--demos", str(demos["CartPole-v1"]),
            "--out", str(out), "--steps", "5120", "--eval-episodes", "2"]  # fmt: skip
    checkpoint = out / "checkpoints" / "gail.pt"
    kill_when(args, checkpoint.is_file)  # 10 of 20 rounds (256 steps each) are saved
    assert not (out / "metrics.json").exists()  # killed before the end
    saved = load_checkpoint(checkpoint)["history"]
    assert run(*args, "--resume") == 0, capsys.readouterr().err
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*.partial*"))
    with (out / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(20))
    assert [float(r["env_steps"]) for r in rows] == [256.0 * (k + 1) for k in range(20)]
    for row, before in zip(rows, saved, strict=False):  # the saved rounds, as they were
        assert float(row["disc_loss"]) == pytest.approx(before["disc_loss"])
    seconds = [float(r["seconds"]) for r in rows]
    assert seconds == sorted(seconds)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_steps"] == 5120 and metrics["train_seconds"] >= seconds[-1]
    assert np.isfinite(metrics["return_mean"])
    assert PPO.load(out / "policy.zip").num_timesteps == 5120
    assert load_reward(out).info["algo"] == "gail"
    assert len(load_checkpoint(checkpoint)["history"]) == 20
    capsys.readouterr()
    assert run(*args) == 2 and "--overwrite" in capsys.readouterr().err  # no silent restart


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gail", "--env", "Pendulum-v1", "--learner", "dqn"], "--learner dqn"),
        (["airl", "--env", "CartPole-v1", "--learner", "sac"], "--learner sac"),
        (["gail", "--env", "CartPole-v1", "--learner", "a2c"], "--learner a2c"),
        (["gcl", "--env", "CartPole-v1", "--set", "disc_updates=zero"], "disc_updates"),
        (["gcl", "--env", "CartPole-v1", "--set", "nope=1"], "unknown setting"),
        (
            ["gail", "--env", "CartPole-v1", "--set", "learner_kwargs.nonsense=1"],
            "ppo has no setting nonsense",
        ),  # fmt: skip
        (
            [
                "gail",
                "--env",
                "Pendulum-v1",
                "--learner",
                "sac",
                "--set",
                "learner_kwargs.n_epochs=3",
            ],
            "sac has no setting n_epochs",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_is_written(
    demos: dict[str, Path],
    tmp_path: Path,
    capsys,
    args: list[str],
    message: str,  # noqa: ANN001
) -> None:
    env = args[args.index("--env") + 1]
    out = tmp_path / "run"
    assert run("train", *args, "--demos", str(demos[env]), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (out / "config.json").exists()


def test_missing_demos_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code = run("train", "gail", "--env", "CartPole-v1", "--demos", str(tmp_path / "none.npz"),
               "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "none.npz" in err and err.count("\n") == 1

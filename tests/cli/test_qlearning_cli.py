"""`protege train iq-learn|sqil` and reward transfer (`protege train ppo --reward RUN`) end to
end: complete run directories, sensible metrics, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run

from protege.data.rollout import RandomPolicy, rollout
from protege.data.storage import load_trajectories
from protege.data.types import flatten_trajectories
from protege.envs import env_spaces
from protege.rewards import load_reward

RUN_FILES = ("config.json", "policy.pt", "reward.pt2", "reward.json", "progress.csv",
             "metrics.json")  # fmt: skip


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("qlearning")
    paths = {"CartPole-v1": base / "cartpole.npz", "Pendulum-v1": base / "pendulum.npz"}
    for env, path in paths.items():
        assert run("collect", env, "--episodes", "10", "--out", str(path)) == 0
    return paths


@pytest.fixture(scope="module")
def iq_run(demos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Offline IQ-Learn on CartPole-v1: one run dir shared by the tests below."""
    out = tmp_path_factory.mktemp("iq") / "iq"
    code = run(
        "train", "iq-learn", "--env", "CartPole-v1", "--demos", str(demos["CartPole-v1"]),
        "--out", str(out), "--offline", "--steps", "1500", "--set", "log_every=250",
        "--set", "alpha=0.02", "--eval-episodes", "10",
    )  # fmt: skip
    assert code == 0
    return out


@pytest.mark.slow
def test_offline_iq_learn_writes_a_complete_run_that_reached_the_expert(
    iq_run: Path, demos: dict[str, Path]
) -> None:
    for name in RUN_FILES:
        assert (iq_run / name).is_file(), name
    metrics = json.loads((iq_run / "metrics.json").read_text())
    assert metrics["return_mean"] >= 475 and metrics["normalized_score"] >= 0.95
    assert metrics["env_steps"] == 0 and metrics["train_seconds"] > 0
    config = json.loads((iq_run / "config.json").read_text())
    assert config["algo"] == "iq-learn" and config["offline"] is True
    assert config["config"]["alpha"] == 0.02 and config["config"]["steps"] == 1500
    with (iq_run / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["step"]) for r in rows] == [250.0 * i for i in range(1, 7)]
    assert all(float(r["return_mean"]) > 0 for r in rows)
    reward = load_reward(iq_run)
    assert reward.info["algo"] == "iq-learn" and "inverse soft Bellman" in reward.info["meaning"]
    expert = flatten_trajectories(load_trajectories(demos["CartPole-v1"]).trajectories)
    spaces = env_spaces("CartPole-v1")
    rand = flatten_trajectories(rollout("CartPole-v1", RandomPolicy(spaces.action, 0), 10, 0))

    def mean(t):  # noqa: ANN001, ANN202
        return float(np.mean(reward.predict(t.obs, t.acts, t.next_obs, t.terminated)))

    assert mean(expert) > mean(rand)


@pytest.mark.slow
def test_ppo_on_the_recovered_reward_balances_the_pole_and_evaluates(
    iq_run: Path,
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    out = tmp_path / "ppo"
    code = run(
        "train", "ppo", "--env", "CartPole-v1", "--reward", str(iq_run), "--out", str(out),
        "--steps", "4096", "--eval-episodes", "10",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    for name in ("config.json", "policy.zip", "metrics.json"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "ppo" and config["reward_algo"] == "iq-learn"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_steps"] >= 4096
    assert metrics["return_mean"] >= 400, metrics  # the env's reward was never seen
    assert run("eval", str(out), "--episodes", "3") == 0


@pytest.mark.slow
def test_a_run_repeats_exactly_from_its_config_alone(iq_run: Path, tmp_path: Path) -> None:
    from protege.jobs.dispatch import rerun_from_config
    from protege.policies import ActorPolicy

    again = rerun_from_config(iq_run, tmp_path / "again")
    first = json.loads((iq_run / "metrics.json").read_text())
    assert again["return_mean"] == first["return_mean"]
    a, b = (ActorPolicy.load(d / "policy.pt") for d in (iq_run, tmp_path / "again"))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert pa.equal(pb)


def test_online_sqil_run_counts_its_env_steps(demos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sqil"
    code = run(
        "train", "sqil", "--env", "Pendulum-v1", "--demos", str(demos["Pendulum-v1"]),
        "--out", str(out), "--steps", "600", "--set", "learning_starts=200",
        "--set", "log_every=300", "--eval-episodes", "2",
    )  # fmt: skip
    assert code == 0
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_steps"] == 600 and metrics["episodes"] == 2
    with (out / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["step"]) for r in rows] == [300.0, 600.0]
    assert float(rows[-1]["episodes"]) == 3  # 200-step Pendulum episodes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sqil", "--env", "CartPole-v1", "--offline"], "needs the env"),
        (["iq-learn", "--env", "CartPole-v1", "--set", "loss=value"], "loss=value"),
        (["iq-learn", "--env", "CartPole-v1", "--set", "nope=1"], "unknown setting"),
        (["iq-learn", "--env", "Pendulum-v1"], "Pendulum-v1"),  # CartPole demos
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_is_written(
    demos: dict[str, Path],
    tmp_path: Path,
    capsys,  # noqa: ANN001
    args: list[str],
    message: str,
) -> None:
    out = tmp_path / "run"
    code = run("train", *args, "--demos", str(demos["CartPole-v1"]), "--out", str(out))
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (out / "config.json").exists()


def test_missing_demos_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code = run("train", "iq-learn", "--env", "CartPole-v1", "--demos",
               str(tmp_path / "none.npz"), "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "none.npz" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("make_reward_dir", "message"),
    [
        (lambda tmp: tmp / "missing", "no such directory"),
        (lambda tmp: tmp, "reward.pt2"),  # a directory with no reward in it
    ],
)
def test_reward_transfer_from_a_dir_without_reward_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys,  # noqa: ANN001
    make_reward_dir,  # noqa: ANN001
    message: str,
) -> None:
    out = tmp_path / "ppo"
    code = run("train", "ppo", "--env", "CartPole-v1", "--reward", str(make_reward_dir(tmp_path)),
               "--out", str(out))  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.slow
def test_reward_transfer_refuses_another_env_and_a_learner_that_cannot_act(
    iq_run: Path,
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    code = run("train", "ppo", "--env", "Pendulum-v1", "--reward", str(iq_run),
               "--out", str(tmp_path / "a"))  # fmt: skip
    assert code == 2 and "learned on" in capsys.readouterr().err
    code = run("train", "sac", "--env", "CartPole-v1", "--reward", str(iq_run),
               "--out", str(tmp_path / "b"))  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "sac needs Box actions" in err and err.count("\n") == 1, err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("algo", "env", "flags", "steps"),
    [
        ("sqil", "CartPole-v1", ["--set", "learning_starts=100"], 1000),
        ("iq-learn", "Pendulum-v1", ["--offline"], 1000),
    ],
)
def test_killed_mid_run_resumes_and_finishes(
    demos: dict[str, Path],
    tmp_path: Path,
    capsys,  # noqa: ANN001
    algo: str,
    env: str,
    flags: list[str],
    steps: int,
) -> None:
    from helpers import kill_when

    from protege.checkpoint import load_checkpoint
    from protege.policies import ActorPolicy

    out = tmp_path / "run"
    ckpt = out / "checkpoints" / "qlearning.pt"
    args = ["train", algo, "--env", env, "--demos", str(demos[env]), "--out", str(out),
            *flags, "--steps", str(steps), "--set", "log_every=100", "--set", "hidden=32,32",
            "--eval-episodes", "2"]  # fmt: skip
    kill_when(args, ckpt.is_file)
    assert not (out / "metrics.json").exists()  # killed before the end
    saved = load_checkpoint(ckpt)["history"]
    assert 1 <= len(saved) < steps // 100
    assert run(*args, "--resume") == 0, capsys.readouterr().err
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.tmp"))
    with (out / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(steps // 100))
    assert [float(r["step"]) for r in rows] == [100.0 * i for i in range(1, steps // 100 + 1)]
    assert all(v not in (None, "") for r in rows for v in r.values())  # no torn row
    # the rows saved before the kill were replayed as they were, not trained again
    assert [float(r["seconds"]) for r in rows[: len(saved)]] == [r["seconds"] for r in saved]
    assert load_checkpoint(ckpt)["step"] == steps
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_steps"] == (0 if "--offline" in flags else steps)
    assert metrics["train_seconds"] > 0 and np.isfinite(metrics["return_mean"])
    ActorPolicy.load(out / "policy.pt")
    load_reward(out)
    capsys.readouterr()
    assert run(*args) == 2 and "--overwrite" in capsys.readouterr().err  # no silent restart

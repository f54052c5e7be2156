"""The CLI end to end: expert → demonstrations → BC → comparison, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import kill_when, run

METRIC_KEYS = {
    "return_mean",
    "return_std",
    "expert_return_mean",
    "random_return_mean",
    "normalized_score",
    "episodes",
    "train_seconds",
    "inference_ms",
}


def test_collect_train_eval_writes_a_complete_run_dir(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    demos, out = tmp_path / "demos.npz", tmp_path / "run"
    assert run("collect", "CartPole-v1", "--episodes", "10", "--out", str(demos)) == 0
    assert demos.is_file()
    code = run(
        "train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
        "--set", "epochs=60", "--eval-episodes", "10",
    )  # fmt: skip
    assert code == 0
    for name in ("config.json", "policy.pt", "progress.csv", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    assert metrics["return_mean"] >= 475 and metrics["normalized_score"] > 0.9
    assert json.loads((out / "config.json").read_text())["config"]["epochs"] == 60
    capsys.readouterr()
    assert run("eval", str(out), "--episodes", "5", "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["episodes"] == 5 and again["train_seconds"] == metrics["train_seconds"]


def test_minari_dataset_dir_works_as_demos(tmp_path: Path) -> None:
    demos, out = tmp_path / "cartpole-demos", tmp_path / "run"
    assert run("collect", "CartPole-v1", "--episodes", "3", "--out", str(demos)) == 0
    assert demos.is_dir()
    code = run(
        "train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
        "--set", "epochs=2", "--eval-episodes", "2",
    )  # fmt: skip
    assert code == 0 and (out / "metrics.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect", "NoSuchEnv-v0", "--out", "{tmp}/d.npz"], "unknown environment"),
        (["collect", "CartPole-v1", "--expert", "no:fn", "--out", "{tmp}/d.npz"], "cannot import"),
        (["train", "bc", "--env", "CartPole-v1", "--demos", "{tmp}/nope.npz", "--out", "{tmp}/r"],
         "nope.npz"),
        (["eval", "{tmp}/not-a-run"], "config.json"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, capsys, args, message) -> None:  # noqa: ANN001
    code = run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_set_value_is_refused_before_anything_is_written(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    demos = tmp_path / "d.npz"
    assert run("collect", "CartPole-v1", "--episodes", "1", "--out", str(demos)) == 0
    code = run("train", "bc", "--env", "CartPole-v1", "--demos", str(demos),
               "--out", str(tmp_path / "r"), "--set", "epochs=ten")  # fmt: skip
    assert code == 2 and "epochs" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_dataset_from_another_env_is_refused(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    demos = tmp_path / "d.npz"
    assert run("collect", "Pendulum-v1", "--episodes", "1", "--out", str(demos)) == 0
    code = run(
        "train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(tmp_path / "r")
    )
    err = capsys.readouterr().err
    assert code == 2 and "d.npz" in err


@pytest.mark.slow
def test_quickstart_runs_the_whole_journey_as_a_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "protege.cli.main", "quickstart", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "normalised score" in proc.stdout
    metrics = json.loads((tmp_path / "bc" / "metrics.json").read_text())
    assert metrics["return_mean"] >= 475


def balance(obs) -> int:  # noqa: ANN001 - a per-observation expert, imported as test_cli:balance
    return int(obs[2] + 0.5 * obs[3] > 0)


def test_module_function_expert_is_collected(tmp_path: Path) -> None:
    from protege.data import load_trajectories

    demos = tmp_path / "d.npz"
    assert run("collect", "CartPole-v1", "--expert", "test_cli:balance", "--episodes", "2",
               "--out", str(demos)) == 0  # fmt: skip
    trajs = load_trajectories(demos).trajectories
    assert all(t.episode_return == 500 for t in trajs)


@pytest.mark.slow
def test_expert_train_writes_an_sb3_model_usable_as_expert(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from protege.experts import SB3Expert, load_expert

    model = tmp_path / "ppo.zip"
    assert run("expert", "train", "CartPole-v1", "--algo", "ppo", "--steps", "2048",
               "--out", str(model), "--device", "cpu") == 0  # fmt: skip
    expert = load_expert(str(model), "CartPole-v1")
    assert isinstance(expert, SB3Expert)
    assert run("collect", "CartPole-v1", "--expert", str(model), "--episodes", "2",
               "--out", str(tmp_path / "d.npz")) == 0  # fmt: skip
    assert run("expert", "train", "CartPole-v1", "--out", str(model)) == 2  # no silent overwrite
    assert "already exists" in capsys.readouterr().err
    code = run("expert", "train", "CartPole-v1", "--algo", "sac", "--out", str(tmp_path / "s.zip"))
    assert code == 2 and "Box" in capsys.readouterr().err


def test_minari_dataset_at_a_relative_path(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from protege.data import load_trajectories

    monkeypatch.chdir(tmp_path)
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", "rel-demos") == 0
    assert len(load_trajectories("rel-demos").trajectories) == 2


@pytest.mark.slow
def test_killed_collect_keeps_every_finished_episode(tmp_path: Path) -> None:
    from protege.data import load_trajectories

    out = tmp_path / "demos.npz"
    kill_when(["collect", "Pendulum-v1", "--episodes", "100000", "--out", str(out)],
              lambda: out.is_file() and len(load_trajectories(out).trajectories) >= 3)  # fmt: skip
    trajs = load_trajectories(out, env_id="Pendulum-v1").trajectories  # validated in full
    assert len(trajs) >= 3 and all(len(t) == 200 for t in trajs)  # whole episodes only


@pytest.mark.parametrize(
    "args",
    [
        ["collect", "CartPole-v1", "--episodes", "1", "--out", "{file}/x.npz"],
        ["bench", "classic", "--algos", "bc", "--episodes", "1", "--seeds", "1", "--out", "{file}"],
    ],
)
def test_an_out_path_under_a_file_is_one_line(tmp_path: Path, capsys, args: list[str]) -> None:  # noqa: ANN001
    file = tmp_path / "demos.npz"
    file.write_bytes(b"someone's data")
    assert run(*[a.format(file=file) for a in args]) == 2
    err = capsys.readouterr().err
    assert "Not a directory" in err or "File exists" in err, err
    assert err.count("\n") == 1 and str(file) in err
    assert file.read_bytes() == b"someone's data"


def test_resuming_from_another_trainers_checkpoint_is_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from protege.checkpoint import save_checkpoint

    demos, out = tmp_path / "d.npz", tmp_path / "run"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    args = ["train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
            "--set", "epochs=2", "--eval-episodes", "2"]  # fmt: skip
    assert run(*args) == 0
    (out / "metrics.json").unlink()
    foreign = save_checkpoint(out / "checkpoints" / "bc.pt", {"step": 3, "history": []})
    before = foreign.read_bytes()
    capsys.readouterr()
    assert run(*args, "--resume") == 2
    err = capsys.readouterr().err
    assert "bc.pt: holds another trainer's state" in err and err.count("\n") == 1, err
    assert foreign.read_bytes() == before  # left as it was


@pytest.mark.slow
def test_bc_killed_mid_run_resumes_and_finishes(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import csv

    demos, out = tmp_path / "d.npz", tmp_path / "run"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    args = ["train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
            "--set", "epochs=600", "--set", "val_fraction=0", "--eval-episodes", "3"]  # fmt: skip
    kill_when(args, (out / "checkpoints" / "bc.pt").is_file)
    assert not (out / "metrics.json").exists()  # killed before the end
    assert run(*args, "--resume") == 0
    with (out / "progress.csv").open() as f:
        epochs = [int(float(row["epoch"])) for row in csv.DictReader(f)]
    assert epochs == list(range(600))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["return_mean"] >= 400
    capsys.readouterr()
    assert run(*args) == 2 and "--overwrite" in capsys.readouterr().err  # no silent restart

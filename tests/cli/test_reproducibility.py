"""The same command gives the same run on CPU, and config.json alone reproduces it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run

TIMING = {"train_seconds", "evaluated_at", "inference_ms"}


def metrics(run_dir: Path) -> dict:
    """metrics.json less the clock readings (DAgger's rounds carry their own `seconds`)."""
    data = json.loads((run_dir / "metrics.json").read_text())
    rounds = [{k: v for k, v in r.items() if k != "seconds"} for r in data.pop("rounds", [])]
    return {**{k: v for k, v in data.items() if k not in TIMING}, "rounds": rounds}


def same_weights(a: Path, b: Path) -> bool:
    sa, sb = (torch.load(p, weights_only=False)["state_dict"] for p in (a, b))
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("repro") / "demos.npz"
    assert run("collect", "Pendulum-v1", "--episodes", "3", "--out", str(path)) == 0
    return path


def test_same_bc_command_twice_and_from_config_give_identical_runs(
    demos: Path, tmp_path: Path
) -> None:
    args = ["train", "bc", "--env", "Pendulum-v1", "--demos", str(demos), "--seed", "3",
            "--set", "epochs=8", "--eval-episodes", "3"]  # fmt: skip
    assert run(*args, "--out", str(tmp_path / "a")) == 0
    assert run(*args, "--out", str(tmp_path / "b")) == 0
    assert run("train", "--config", str(tmp_path / "a" / "config.json"),
               "--out", str(tmp_path / "c")) == 0  # fmt: skip
    first = metrics(tmp_path / "a")
    assert first == metrics(tmp_path / "b") == metrics(tmp_path / "c")
    assert same_weights(tmp_path / "a" / "policy.pt", tmp_path / "c" / "policy.pt")
    config_a = json.loads((tmp_path / "a" / "config.json").read_text())
    config_c = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config_a == config_c


def test_dagger_and_tabular_runs_are_reproduced_from_config(tmp_path: Path) -> None:
    assert run("train", "dagger", "--env", "CartPole-v1", "--rounds", "2", "--labels-per-round",
               "200", "--eval-episodes", "2", "--set", "bc.epochs=3",
               "--out", str(tmp_path / "d")) == 0  # fmt: skip
    assert run("train", "--config", str(tmp_path / "d"), "--out", str(tmp_path / "d2")) == 0
    assert metrics(tmp_path / "d") == metrics(tmp_path / "d2")
    grid = tmp_path / "grid.npz"
    assert run("collect", "gridworld:4", "--expert", "optimal", "--episodes", "20",
               "--out", str(grid)) == 0  # fmt: skip
    assert run("train", "mce", "--env", "gridworld:4", "--demos", str(grid), "--iterations", "30",
               "--eval-episodes", "3", "--out", str(tmp_path / "m")) == 0  # fmt: skip
    assert run("train", "--config", str(tmp_path / "m"), "--out", str(tmp_path / "m2")) == 0
    assert metrics(tmp_path / "m") == metrics(tmp_path / "m2")
    np.testing.assert_array_equal(
        np.load(tmp_path / "m" / "reward.npy"), np.load(tmp_path / "m2" / "reward.npy")
    )


def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    bad = tmp_path / "config.json"
    bad.write_text('{"algo": "bc", "env": "CartPole-v1", "config": {"epochs": 5, "nope": 1}}')
    assert run("train", "--config", str(bad), "--out", str(tmp_path / "r")) == 2
    assert "nope" in capsys.readouterr().err
    bad.write_text("{not json")
    assert run("train", "--config", str(bad), "--out", str(tmp_path / "r")) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_gail_run_is_reproduced_from_config_and_eval_keeps_its_training_metrics(
    tmp_path: Path,
) -> None:
    demos = tmp_path / "d.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    assert run("train", "gail", "--env", "CartPole-v1", "--demos", str(demos), "--steps", "2048",
               "--eval-episodes", "2", "--out", str(tmp_path / "g")) == 0  # fmt: skip
    assert run("train", "--config", str(tmp_path / "g"), "--out", str(tmp_path / "g2")) == 0
    first = metrics(tmp_path / "g")
    assert first == metrics(tmp_path / "g2")
    assert first["env_steps"] == 2048 and "reward_correlation_learner" in first
    assert run("eval", str(tmp_path / "g"), "--episodes", "3") == 0
    again = metrics(tmp_path / "g")
    assert again["episodes"] == 3 and again["env_steps"] == 2048
    assert "reward_correlation_learner" in again


def test_iq_learn_run_is_reproduced_from_config(tmp_path: Path) -> None:
    demos = tmp_path / "d.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    args = ["--offline", "--steps", "500", "--env", "CartPole-v1", "--eval-episodes", "2"]
    assert run("train", "iq-learn", *args, "--demos", str(demos), "--out", str(tmp_path / "q")) == 0
    assert run("train", "--config", str(tmp_path / "q"), "--out", str(tmp_path / "q2")) == 0
    assert metrics(tmp_path / "q") == metrics(tmp_path / "q2")
    assert same_weights(tmp_path / "q" / "policy.pt", tmp_path / "q2" / "policy.pt")

"""The heads from the command line: `protege train bc|dagger --set policy=...`, then
`protege eval` on the run, unchanged; export says what to use instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demos") / "pendulum.npz"
    assert run("collect", "Pendulum-v1", "--episodes", "2", "--out", str(path)) == 0
    return path


def test_train_bc_with_a_gmm_head_history_and_chunks_then_eval(
    demos: Path, tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    out = tmp_path / "bc"
    code = run(
        "train", "bc", "--env", "Pendulum-v1", "--demos", str(demos), "--out", str(out),
        "--set", "policy=gmm", "--set", "history=2", "--set", "chunk=4", "--set", "epochs=3",
        "--set", "hidden=16", "--eval-episodes", "2",
    )  # fmt: skip
    assert code == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["policy"], config["history"], config["chunk"]) == ("gmm", 2, 4)
    metrics = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    assert run("eval", str(out), "--episodes", "2", "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["return_mean"] == metrics["return_mean"]  # seeded sampling: the same episodes
    assert run("export", str(out)) == 2
    assert "act from policy.pt" in capsys.readouterr().err


def test_train_dagger_takes_the_head_settings_without_bc_prefix_then_eval(
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    out = tmp_path / "dagger"
    code = run(
        "train", "dagger", "--env", "Pendulum-v1", "--rounds", "2", "--labels-per-round", "200",
        "--out", str(out), "--set", "policy=diffusion", "--set", "history=2",
        "--set", "bc.epochs=2", "--set", "bc.hidden=16", "--set", "bc.min_updates=1",
        "--eval-episodes", "2",
    )  # fmt: skip
    assert code == 0
    bc = json.loads((out / "config.json").read_text())["config"]["bc"]
    assert (bc["policy"], bc["history"]) == ("diffusion", 2)
    capsys.readouterr()
    assert run("eval", str(out), "--episodes", "2") == 0


def test_a_continuous_head_for_discrete_actions_is_refused_before_the_run(
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    out = tmp_path / "d"
    assert run("train", "dagger", "--env", "CartPole-v1", "--out", str(out),
               "--set", "policy=gmm") == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "use --set policy=mlp" in err and "\n" not in err
    assert not out.exists()

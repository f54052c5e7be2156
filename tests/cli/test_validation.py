"""Validate at the boundary, write nothing until valid: a setting out of range, an empty
dataset or a damaged config.json is one line and exit 2, and no run directory is left
behind to block the corrected command."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run

from protege.config import _AT_LEAST_ONE, _POSITIVE
from protege.jobs import catalog

ENVS = {"tabular": "gridworld:5"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("data")
    paths = {"CartPole-v1": out / "cartpole.npz", "gridworld:5": out / "grid.npz"}
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(paths["CartPole-v1"])) == 0
    assert run("collect", "gridworld:5", "--expert", "optimal", "--episodes", "3",
               "--out", str(paths["gridworld:5"])) == 0  # fmt: skip
    empty = dict(np.load(paths["CartPole-v1"], allow_pickle=False))
    empty.update(lengths=np.array([0, 0]), obs=empty["obs"][:2], acts=empty["acts"][:0],
                 rews=empty["rews"][:0])  # fmt: skip
    paths["empty"] = out / "empty.npz"
    np.savez(paths["empty"], **empty)
    return paths


def train_args(name: str, demos: Path | None, out: Path) -> list[str]:
    entry = catalog.get(name)
    env = ENVS.get(entry.family, "CartPole-v1")
    args = ["train", name, "--env", env, "--out", str(out)]
    return args + (["--demos", str(demos)] if entry.needs_demos and demos else [])


def _bounded_field(cfg: object, prefix: str = "") -> str:
    """The first setting that must be positive, nested configs included (bc.epochs)."""
    for f in dataclasses.fields(cfg):  # type: ignore[arg-type]
        if f.name in _AT_LEAST_ONE | _POSITIVE:
            return prefix + f.name
    for f in dataclasses.fields(cfg):  # type: ignore[arg-type]
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            return _bounded_field(value, f"{prefix}{f.name}.")
    raise AssertionError(f"{type(cfg).__name__} has no bounded setting")


@pytest.mark.parametrize("name", list(catalog.ALGORITHMS))
def test_a_setting_out_of_range_is_refused_before_anything_is_written(
    name: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    field = _bounded_field(catalog.get(name).default_config())
    env = ENVS.get(catalog.get(name).family, "CartPole-v1")
    out = tmp_path / "run"
    assert run(*train_args(name, data[env], out), "--set", f"{field}=0") == 2
    err = capsys.readouterr().err
    assert field.split(".")[-1] in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize("name", ["bc", "gail", "sqil", "iq-learn"])
def test_an_empty_dataset_is_refused_and_the_corrected_command_runs(
    name: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(*train_args(name, data["empty"], out), "--env", "CartPole-v1") == 2
    err = capsys.readouterr().err
    assert "empty.npz" in err and "no steps" in err, err
    assert not out.exists()


def test_the_corrected_command_is_not_blocked(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = train_args("bc", data["CartPole-v1"], out) + ["--eval-episodes", "1"]
    assert run(*base, "--set", "lr=-1") == 2 and not out.exists()
    assert run(*train_args("bc", data["empty"], out)) == 2 and not out.exists()
    assert run(*base, "--set", "epochs=2") == 0
    assert (out / "metrics.json").is_file()


@pytest.mark.parametrize(
    "field, value, message",
    [("epochs", "20", 'config.epochs is "20": expected an integer'),
     ("hidden", 64, "config.hidden is 64: expected a list"),
     ("lr", -1.0, "config.lr=-1.0: must be greater than 0"),
     ("device", "gpu", "config.device='gpu': choose one of auto, cpu, cuda")],
)  # fmt: skip
def test_a_damaged_config_json_is_one_line(
    field: str, value: object, message: str, data: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    run_dir = tmp_path / "run"
    assert run(*train_args("bc", data["CartPole-v1"], run_dir), "--set", "epochs=1",
               "--eval-episodes", "1") == 0  # fmt: skip
    config = json.loads((run_dir / "config.json").read_text())
    config["config"][field] = value
    (run_dir / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    again = tmp_path / "again"
    assert run("train", "--config", str(run_dir / "config.json"), "--out", str(again)) == 2
    err = capsys.readouterr().err
    assert message in err and "config.json" in err and len(err.strip().splitlines()) == 1, err
    assert not again.exists()


def _edit_json(path: Path, change: dict[str, object], drop: str | None = None) -> None:
    data = json.loads(path.read_text())
    data.update(change)
    if drop:
        del data[drop]
    path.write_text(json.dumps(data))


DAMAGES = {
    "config without demos": (lambda r, o: _edit_json(r / "config.json", {}, drop="demos"),
                             "no 'demos'"),
    "config eval_episodes text": (lambda r, o: _edit_json(r / "config.json",
                                                          {"eval_episodes": "x"}),
                                  "'eval_episodes' is \"x\""),
    "metrics not a number": (lambda r, o: _edit_json(r / "metrics.json", {"return_mean": "abc"}),
                             "'return_mean' is \"abc\""),
    "progress cell not a number": (
        lambda r, o: (r / "progress.csv").write_text(
            (r / "progress.csv").read_text().replace("\n", "\nabc,", 1)),
        "progress.csv"),
    "policy of another env": (lambda r, o: (r / "policy.pt").write_bytes(
        (o / "policy.pt").read_bytes()), "copied from another run"),
}  # fmt: skip
COMMANDS = {  # which reader each damage reaches
    "config without demos": ["eval", "config"],
    "config eval_episodes text": ["eval", "report", "config"],
    "metrics not a number": ["report"],
    "progress cell not a number": ["report"],
    "policy of another env": ["eval"],
}


@pytest.fixture(scope="module")
def runs(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    pend = out / "pend.npz"
    assert run("collect", "Pendulum-v1", "--episodes", "1", "--out", str(pend)) == 0
    for name, env, demos in (("cart", "CartPole-v1", data["CartPole-v1"]),
                             ("pend", "Pendulum-v1", pend)):  # fmt: skip
        assert run("train", "bc", "--env", env, "--demos", str(demos), "--out", str(out / name),
                   "--set", "epochs=2", "--eval-episodes", "1") == 0  # fmt: skip
    return {"cart": out / "cart", "pend": out / "pend"}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_file_is_one_line_for_every_reader(
    damage: str, runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    edit, message = DAMAGES[damage]
    for command in COMMANDS[damage]:
        broken = tmp_path / f"broken-{command}"
        shutil.copytree(runs["cart"], broken)
        edit(broken, runs["pend"])
        args = {"eval": ["eval", str(broken)],
                "report": ["report", str(broken), "--out", str(tmp_path / "r.html")],
                "config": ["train", "--config", str(broken / "config.json"),
                           "--out", str(tmp_path / "again")]}[command]  # fmt: skip
        capsys.readouterr()
        assert run(*args) == 2, (damage, command)
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (command, err)


def test_a_torn_last_progress_row_is_dropped(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from protege.rundir import read_progress

    torn = tmp_path / "torn"
    shutil.copytree(runs["cart"], torn)
    whole = read_progress(torn)
    text = (torn / "progress.csv").read_text()
    (torn / "progress.csv").write_text(text[:-4])  # a crash mid-row
    assert read_progress(torn) == whole[:-1]
    assert run("report", str(torn), "--out", str(tmp_path / "r.html")) == 0


def test_usage_errors_are_one_line_and_version_is_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from protege import __version__

    for args, says in ((["collect", "CartPole-v1", "--episodes", "-1", "--out", "x.npz"],
                        "--episodes"),
                       (["train", "bc", "--env", "CartPole-v1"], "Missing option '--demos'"),
                       (["no-such-command"], "No such command")):  # fmt: skip
        capsys.readouterr()
        assert run(*args) == 2
        err = capsys.readouterr().err
        assert says in err and "--help" in err and len(err.strip().splitlines()) == 1, err
    assert run("--version") == 0
    assert capsys.readouterr().out.strip() == f"protege {__version__}"


def test_ppo_steps_rounded_up_are_announced(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from protege.rl import steps_taken

    assert steps_taken("ppo", 8000, 8) == 8192 and steps_taken("sac", 8000, 8) == 8000
    args = ["--demos", str(data["CartPole-v1"]), "--out", str(tmp_path / "g")]
    assert run("train", "gail", "--env", "CartPole-v1", *args, "--steps", "1000",
               "--eval-episodes", "1") == 0  # fmt: skip
    assert "--steps 1000 becomes 1024" in " ".join(capsys.readouterr().out.split())


def test_an_expert_no_better_than_random_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from protege.evaluation import ReturnStats, beats_random

    def stats(mean: float, std: float) -> ReturnStats:
        return ReturnStats(mean, std, 0.0, 20, 100.0)

    assert beats_random(stats(500, 0), stats(22, 10))
    assert beats_random(stats(-150, 80), stats(-1200, 300))
    assert not beats_random(stats(-500, 0), stats(-500, 0))
    assert not beats_random(stats(30, 20), stats(22, 10))

    out = tmp_path / "acro.zip"
    assert run("expert", "train", "Acrobot-v1", "--steps", "64", "--out", str(out)) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "random policy" in said and "warning: this expert scores about what a random" in said
    assert out.is_file()


def test_a_normalised_score_without_signal_says_why() -> None:
    import math

    from protege.cli.app import metrics_table
    from protege.evaluation import Comparison, ReturnStats

    zero = ReturnStats(0.0, 0.0, 0.0, 20, 100.0)
    nan = float("nan")
    metrics = Comparison(zero, zero, zero, normalized_score=nan, action_agreement=0.5).metrics()
    assert math.isnan(metrics["normalized_score"])  # type: ignore[arg-type]
    assert "both return 0" in str(metrics["score_note"])
    caption = str(metrics_table({**metrics, "expert_source": "optimal"}, "t").caption)
    assert "normalised score is undefined" in caption
    some = ReturnStats(5.0, 0.0, 0.0, 20, 100.0)
    assert "score_note" not in Comparison(some, some, zero, 1.0, None).metrics()

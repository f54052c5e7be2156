"""`protege train dagger` end to end: rounds on disk, scores per round, eval, resume."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run


def dagger(out: Path, *extra: str) -> int:
    return run(
        "train", "dagger", "--env", "CartPole-v1", "--rounds", "3", "--labels-per-round", "700",
        "--eval-episodes", "5", "--out", str(out), *extra,
    )  # fmt: skip


def test_dagger_writes_rounds_scores_and_a_plot_and_eval_shows_them(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    assert dagger(out) == 0
    for name in ("config.json", "policy.pt", "progress.csv", "metrics.json", "progress.png"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "rounds").iterdir()) == [
        "round_000.npz", "round_001.npz", "round_002.npz",
    ]  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["labels"] for r in metrics["rounds"]] == [700, 1400, 2100]
    assert metrics["demo_steps"] == 2100 and metrics["return_mean"] >= 475
    assert all("normalized_score" in r for r in metrics["rounds"])
    capsys.readouterr()
    assert run("eval", str(out)) == 0
    shown = capsys.readouterr().out
    assert "score per DAgger round" in shown and "2100" in shown


def test_resume_finishes_a_run_cut_after_its_first_round(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    assert dagger(out) == 0
    before = json.loads((out / "metrics.json").read_text())
    for name in ("round_001.npz", "round_002.npz"):  # as if killed during round 1
        (out / "rounds" / name).unlink()
    (out / "metrics.json").unlink()
    (out / "policy.pt").unlink()
    assert dagger(out, "--resume") == 0
    after = json.loads((out / "metrics.json").read_text())
    assert after["return_mean"] == before["return_mean"]
    assert [r["labels"] for r in after["rounds"]][-3:] == [700, 1400, 2100]
    assert dagger(out, "--resume", "--set", "beta_schedule=linear") == 2
    assert "other settings" in capsys.readouterr().err


def test_bad_dagger_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert dagger(tmp_path / "r", "--set", "beta_schedule=cosine") == 2
    assert "beta_schedule" in capsys.readouterr().err
    assert run("train", "dagger", "--env", "BipedalWalker-v3", "--expert", "human",
               "--out", str(tmp_path / "h")) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--keymap" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "h").exists()  # refused before anything was written
    assert run("train", "dagger", "--env", "Blackjack-v1", "--out", str(tmp_path / "b")) == 2
    assert "Tuple is not supported" in capsys.readouterr().err
    assert run("collect", "CartPole-v1", "--expert", "human", "--out", str(tmp_path / "d.npz")) == 2
    assert "protege record" in capsys.readouterr().err

"""`protege train preferences` at the door: a run killed mid-way resumes to a finished run
(`--resume`), and `--set labeller=human` asks a person (scripted key events under SDL's
dummy video driver) whose answers end up in the run's preferences dataset."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens anything: no screen needed
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

import pygame  # noqa: E402
import pytest  # noqa: E402
from helpers import kill_when, run  # noqa: E402

from protege.checkpoint import load_checkpoint  # noqa: E402
from protege.data import load_trajectories  # noqa: E402

TINY = ["--env", "Pendulum-v1", "--eval-episodes", "2", "--set", "n_envs=2",
        "--set", "learner_kwargs.n_steps=64", "--set", "learner_kwargs.batch_size=64",
        "--set", "learner_kwargs.n_epochs=2",
        "--set", "log_every=128", "--set", "eval_every=0", "--set", "reward.epochs=2",
        "--set", "reward.ensemble=2", "--set", "candidates=40",
        "--set", "rollout_episodes=2", "--set", "segment_length=20"]  # fmt: skip


@pytest.mark.slow  # a process of its own: torch and SB3 imported again, about 10 s
def test_killed_mid_run_resumes_and_finishes(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "run"
    ckpt = out / "checkpoints" / "preferences.pt"
    args = ["train", "preferences", "--out", str(out), "--steps", "768", *TINY,
            "--set", "rounds=3", "--set", "queries_per_round=8"]  # fmt: skip
    kill_when(args, ckpt.is_file)  # round 1's labels and reward are saved
    assert not (out / "metrics.json").exists()  # killed before the end
    saved = load_checkpoint(ckpt)
    assert saved["state"]["progress"][0] < 3  # not every round was done
    assert run(*args, "--resume") == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["env_steps"] >= 768 and metrics["queries"] == 24
    assert load_checkpoint(ckpt)["state"]["progress"][:2] == [3, 0]  # every round done
    labels = load_trajectories(out / "rounds" / "preferences.npz")
    assert len(labels.preferences) == 24 and len(labels.trajectories) == 6
    for i in range(3):
        assert (out / "rounds" / f"round_{i:03d}.npz").is_file()
    with (out / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    learner = [float(r["env_steps"]) for r in rows if r["stage"] == "1.0"]
    assert learner == sorted(learner) and learner[-1] >= 768  # no round trained twice
    seconds = [float(r["seconds"]) for r in rows]
    assert seconds[: len(saved["history"])] == [r["seconds"] for r in saved["history"]]
    assert not list(out.rglob("*.tmp"))
    capsys.readouterr()
    assert run(*args) == 2 and "--overwrite" in capsys.readouterr().err  # no silent restart


def test_labeller_human_asks_a_person_and_keeps_the_answers(
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    pygame.display.init()  # the keys wait in the queue for the window: typed ahead
    for key in (pygame.K_x, pygame.K_1, pygame.K_2, pygame.K_0, pygame.K_q):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    out = tmp_path / "mine"
    code = run("train", "preferences", "--out", str(out), "--steps", "256", *TINY, "--set",
               "labeller=human", "--set", "rounds=2", "--set", "queries_per_round=6")  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "labels: 3 answers, yours, labelling stopped with Q" in printed.out
    labels = load_trajectories(out / "rounds" / "preferences.npz")
    assert [p.label for p in labels.preferences] == [1.0, 0.0, 0.5]  # x was ignored
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ranked_by"] == "human" and metrics["labelling_stopped"] is True
    assert metrics["queries"] == 3 and metrics["env_steps"] >= 256
    assert (out / "rounds" / "round_000.npz").is_file()
    assert not (out / "rounds" / "round_001.npz").exists()  # nothing asked after Q


@pytest.mark.parametrize("value", ["person", "1"])
def test_a_bad_labeller_is_one_line(tmp_path: Path, capsys, value: str) -> None:  # noqa: ANN001
    code = run("train", "preferences", "--out", str(tmp_path / "r"), *TINY,
               "--set", f"labeller={value}")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "choose one of synthetic, human" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()

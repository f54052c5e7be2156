"""The Python API as one surface: top-level exports that load nothing until used, one
spelling, save and load that mirror each other, and run directories from Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import run

import protege


def test_import_protege_loads_no_torch_and_exports_resolve() -> None:
    code = "import sys, protege; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    for name in protege.__all__:
        assert getattr(protege, name) is not None, name


def test_a_policy_trained_in_python_becomes_a_run_that_the_cli_reads(tmp_path: Path) -> None:
    env = "CartPole-v1"
    demos = protege.rollout(env, protege.scripted_expert(env).act, episodes=3, seed=0)
    path = protege.save_trajectories(tmp_path / "demos.npz", demos, env)
    data = protege.load_trajectories(path, env_id=env)
    again = protege.save_trajectories(tmp_path / "copy.npz", data)  # load and save mirror
    assert again.read_bytes() == path.read_bytes()

    result = protege.train_bc(protege.flatten_trajectories(data.trajectories), data.spaces,
                              protege.BCConfig(epochs=30))  # fmt: skip
    history = [{"epoch": float(i), "loss": row["loss"]} for i, row in enumerate(result.history)]
    metrics = protege.save_run(tmp_path / "mine", result.policy, env, demos=path,
                               algo="my-bc", history=history, eval_episodes=3)  # fmt: skip
    assert metrics["return_mean"] > 100
    record = protege.load_run(tmp_path / "mine")
    assert record.config["algo"] == "my-bc" and len(record.progress) == len(history)
    assert record.metrics["return_mean"] == metrics["return_mean"]
    assert record.policy is not None
    assert run("eval", str(tmp_path / "mine"), "--episodes", "3") == 0
    assert json.loads((tmp_path / "mine" / "metrics.json").read_text())["episodes"] == 3
    assert run("report", str(tmp_path / "mine"), "--out", str(tmp_path / "r.html")) == 0
    assert run("export", str(tmp_path / "mine")) == 0

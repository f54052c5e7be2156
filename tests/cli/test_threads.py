"""Torch threads: one per process by default on every command that trains, `--threads N`
to change it, the count recorded in config.json and used again by `train --config`."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from helpers import run


def test_threads_default_to_one_are_recorded_and_reused(tmp_path: Path) -> None:
    demos = tmp_path / "demos.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    common = ["--env", "CartPole-v1", "--demos", str(demos), "--set", "epochs=2",
              "--eval-episodes", "1"]  # fmt: skip
    try:
        torch.set_num_threads(2)  # what torch gives a 2-core machine
        assert run("train", "bc", *common, "--out", str(tmp_path / "one")) == 0
        assert torch.get_num_threads() == 1
        config = json.loads((tmp_path / "one" / "config.json").read_text())
        assert config["threads"] == 1

        assert run("train", "bc", *common, "--out", str(tmp_path / "two"), "--threads", "2") == 0
        assert json.loads((tmp_path / "two" / "config.json").read_text())["threads"] == 2

        torch.set_num_threads(1)
        again = ["--config", str(tmp_path / "two" / "config.json"), "--out", str(tmp_path / "re")]
        assert run("train", *again) == 0
        assert json.loads((tmp_path / "re" / "config.json").read_text())["threads"] == 2
        assert run("train", "bc", *common, "--out", str(tmp_path / "x"), "--threads", "0") == 2
    finally:
        torch.set_num_threads(1)

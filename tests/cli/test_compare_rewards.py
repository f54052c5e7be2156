"""`protege compare-rewards` on learned continuous-env rewards (sampled EPIC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run


@pytest.fixture(scope="module")
def reward_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("compare")
    demos = base / "d.npz"
    assert run("collect", "CartPole-v1", "--episodes", "3", "--out", str(demos)) == 0
    runs = {"iq": base / "iq", "gail": base / "gail"}
    for name, args in (("iq", ["iq-learn", "--offline", "--steps", "1000"]),
                       ("gail", ["gail", "--steps", "2048"])):  # fmt: skip
        assert run("train", *args, "--env", "CartPole-v1", "--demos", str(demos),
                   "--eval-episodes", "2", "--out", str(runs[name])) == 0  # fmt: skip
    return runs


def compare(capsys, a: Path, b: Path | str) -> dict:  # noqa: ANN001
    capsys.readouterr()
    assert run("compare-rewards", str(a), str(b), "--json") == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_a_reward_is_at_distance_zero_from_itself_and_apart_from_others(
    reward_runs: dict[str, Path],
    capsys,  # noqa: ANN001
) -> None:
    same = compare(capsys, reward_runs["iq"], reward_runs["iq"])
    assert same["epic"] == pytest.approx(0.0, abs=1e-6) and same["coverage_transitions"] == 2048
    other = compare(capsys, reward_runs["iq"], reward_runs["gail"])
    assert 0.0 < other["epic"] <= 1.0
    assert other["pearson_distance"] is not None


def test_true_reward_of_a_continuous_env_is_refused_in_one_line(
    reward_runs: dict[str, Path],
    capsys,  # noqa: ANN001
) -> None:
    capsys.readouterr()
    assert run("compare-rewards", str(reward_runs["iq"]), "true") == 2
    err = capsys.readouterr().err
    assert "reward_correlation" in err and len(err.strip().splitlines()) == 1

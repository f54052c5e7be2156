"""`protege train t-rex|d-rex` at the door: demonstrations that cannot be ranked are one
line naming the file, exit 2, and no run directory left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run

from protege.data import load_trajectories, save_trajectories
from protege.errors import DatasetError
from protege.jobs.ranking import ranked_episodes


def test_tied_demonstrations_are_one_line_naming_the_file(
    graded,  # noqa: ANN001
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demos = tmp_path / "tied.npz"
    save_trajectories(demos, graded("CartPole-v1", (0.0,), 2, 0), "CartPole-v1")  # all 500
    out = tmp_path / "run"
    code = run(
        "train",
        "t-rex",
        "--env",
        "CartPole-v1",
        "--demos",
        str(demos),
        "--out",
        str(out),
        "--steps",
        "256",
        "--set",
        "rank_by=return",
    )
    err = capsys.readouterr().err
    assert code == 2
    assert str(demos) in err and "differ in rank" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_learner_that_cannot_act_in_the_env_is_refused_before_training(
    graded,  # noqa: ANN001
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demos = tmp_path / "mixed.npz"
    save_trajectories(demos, graded("CartPole-v1", (0.3, 1.0), 1, 0), "CartPole-v1")
    code = run(
        "train",
        "d-rex",
        "--env",
        "CartPole-v1",
        "--demos",
        str(demos),
        "--out",
        str(tmp_path / "run"),
        "--learner",
        "sac",
    )
    assert code == 2
    assert "use --learner dqn or ppo" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_ranking_stored_with_the_dataset_ranks_the_episodes(
    graded,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    trajs = graded("CartPole-v1", (0.2, 0.5, 1.0), 1, 0)
    path = tmp_path / "ranked.npz"
    save_trajectories(path, trajs, "CartPole-v1", ranking=[2, 0])  # a person's: best first
    data = load_trajectories(path, env_id="CartPole-v1")
    auto = ranked_episodes(data, "auto")
    assert [t.meta["rank"] for t in auto] == [0, 1]
    assert [t.meta["noise"] for t in auto] == [1.0, 0.2]  # the person's order, not noise's
    assert len(ranked_episodes(data, "noise")) == 3  # another rank_by: every episode
    assert len(ranked_episodes(data, None)) == 3  # D-REX: every episode, unranked
    unranked = load_trajectories(save_trajectories(tmp_path / "u.npz", trajs, "CartPole-v1"))
    with pytest.raises(DatasetError, match="u.npz: rank_by=ranking, but the dataset stores"):
        ranked_episodes(unranked, "ranking")

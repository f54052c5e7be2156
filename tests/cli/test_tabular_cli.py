"""Tabular IRL from the command line: optimal-expert demos → each algorithm → run dir → eval.

Thresholds are what the algorithms achieve on a 5x5 slippery gridworld (slip 0.3, γ 0.9)
from 100 demonstrations of the optimal expert, with a margin; measured values are in the
comments. Rewards are compared with the true one (1 in the top-right corner, 0 elsewhere).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import kill_when, run

from protege.algorithms.tabular.bayesian import bayesian_irl
from protege.data.storage import load_trajectories
from protege.envs import make_env
from protege.envs.tabular import TabularEnv, make_tabular, optimal_policy
from protege.experts import load_expert
from protege.jobs.tabular import TABULAR, build_config, pearson, true_state_reward

METRIC_KEYS = {
    "return_mean",
    "return_std",
    "expert_return_mean",
    "random_return_mean",
    "normalized_score",
    "episodes",
    "train_seconds",
    "occupancy_l1",
    "reward_correlation",
    "epic_to_true",
}
RUN_FILES = ("config.json", "reward.npy", "reward.json", "policy.npy", "progress.csv",
             "metrics.json", "heatmaps.png")  # fmt: skip


@pytest.fixture(scope="module")
def grid_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tabular") / "gridworld5.npz"
    code = run("collect", "gridworld:5", "--expert", "optimal", "--episodes", "100",
               "--out", str(path))  # fmt: skip
    assert code == 0
    return path


def test_tabular_specs_make_sampled_envs_and_toy_text_stays_gymnasium() -> None:
    env = make_env("gridworld:5")
    assert isinstance(env, TabularEnv) and env.observation_space.n == 25
    assert env.action_space.n == 4
    assert not isinstance(make_env("FrozenLake-v1").unwrapped, TabularEnv)


def test_optimal_expert_acts_by_the_argmax_of_the_optimal_policy() -> None:
    expert = load_expert("optimal", "gridworld:5")
    states = np.arange(25)
    best = optimal_policy(make_tabular("gridworld:5")).argmax(axis=1)
    np.testing.assert_array_equal(expert(states), best)
    assert best[0 * 5 + 3] == 1 and best[1 * 5 + 4] == 0  # right, then up, to the goal


def test_collect_optimal_writes_valid_demos(grid_demos: Path) -> None:
    demos = load_trajectories(grid_demos, env_id="gridworld:5")
    assert len(demos.trajectories) == 100 and demos.env_id == "gridworld:5"
    returns = np.array([t.episode_return for t in demos.trajectories])
    assert returns.mean() > 60  # 100 steps; the goal pays 1 a step once reached


def test_every_tabular_algorithm_has_a_command() -> None:
    from protege.cli.main import train_app  # type: ignore[attr-defined]  (assembled there)

    commands = {c.name for c in train_app.registered_commands}
    assert set(TABULAR) == {"lp-irl", "apprenticeship", "maxent", "mce", "bayesian-irl",
                            "deep-maxent"}  # fmt: skip
    assert set(TABULAR) <= commands


# (command, extra flags, minimum normalised score, minimum reward correlation, maximum
# occupancy L1 to the demos); measured: score / correlation / L1.
CASES = [
    # MCE IRL with a small L2 prior; unregularised it fits the demos' sampling noise with
    # ever larger rewards (1000 iterations: correlation 0.19, L1 0.04).
    ("mce", ["--iterations", "100", "--set", "l2=0.01"], 0.8, 0.6, 0.25),  # 0.90 / 0.80 / 0.14
    # MaxEnt 2008's optimistic backup models slip poorly: a weaker policy, a good reward.
    ("maxent", ["--iterations", "60", "--set", "l2=0.01"], 0.5, 0.6, 0.4),  # 0.69 / 0.86 / 0.27
    ("lp-irl", [], 0.9, 0.3, 0.25),  # 1.00 / 0.51 / 0.13
    # The last separating direction is no reward estimate (correlation 0.06): not checked.
    ("apprenticeship", ["--iterations", "30"], 0.8, None, 0.1),  # 0.94 / 0.06 / 0.02
    ("bayesian-irl", ["--iterations", "1000"], 0.9, 0.5, 0.25),  # 1.00 / 0.72 / 0.11
    # Matches the visitation frequencies closely; its reward mostly shapes (0.23-0.27).
    ("deep-maxent", ["--iterations", "40"], 0.8, 0.1, 0.1),  # 0.94 / 0.27 / 0.03
]  # fmt: skip


@pytest.mark.parametrize(("algo", "flags", "min_score", "min_corr", "max_l1"), CASES)
def test_train_writes_a_complete_run_that_learned(
    grid_demos: Path,
    tmp_path: Path,
    capsys,
    algo,
    flags,
    min_score,
    min_corr,
    max_l1,  # noqa: ANN001
) -> None:
    out = tmp_path / algo
    code = run("train", algo, "--env", "gridworld:5", "--demos", str(grid_demos),
               "--out", str(out), *flags)  # fmt: skip
    assert code == 0
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert (config["algo"], config["env"]) == (algo, "gridworld:5")
    assert config["demos"] == str(grid_demos.resolve()) and config["config"]
    reward, policy = np.load(out / "reward.npy"), np.load(out / "policy.npy")
    assert reward.shape == (25,) and policy.shape == (25, 4)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-9)
    info = json.loads((out / "reward.json").read_text())
    assert info["shape"] == [25] and info["over"] == "states" and info["grid_shape"] == [5, 5]
    with (out / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and "occupancy_l1" in rows[0]

    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= METRIC_KEYS
    assert metrics["normalized_score"] > min_score
    assert 0.0 <= metrics["occupancy_l1"] < max_l1
    corr = metrics["reward_correlation"]
    assert corr is None or -1.0 <= corr <= 1.0
    if min_corr is not None:
        assert corr > min_corr
    assert corr == pytest.approx(pearson(reward, true_state_reward(make_tabular("gridworld:5"))))

    capsys.readouterr()
    assert run("eval", str(out), "--episodes", "5", "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert again["episodes"] == 5 and again["train_seconds"] == metrics["train_seconds"]
    assert again["occupancy_l1"] == pytest.approx(metrics["occupancy_l1"])


def test_frozen_lake_collect_and_mce(tmp_path: Path) -> None:
    demos, out = tmp_path / "fl.npz", tmp_path / "mce"
    assert run("collect", "FrozenLake-v1", "--expert", "optimal", "--episodes", "100",
               "--out", str(demos)) == 0  # fmt: skip
    code = run("train", "mce", "--env", "FrozenLake-v1", "--demos", str(demos), "--out",
               str(out), "--iterations", "60", "--eval-episodes", "50")  # fmt: skip
    assert code == 0 and (out / "heatmaps.png").is_file()  # FrozenLake is a 4x4 grid
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["expert_return_mean"] > 0.5  # the optimal policy reaches the goal ~74%
    assert metrics["normalized_score"] > 0.7
    assert metrics["occupancy_l1"] < 0.1
    # The true reward on arrival is 1 at the goal only; MCE's state reward also encodes how
    # long the slippery expert lingers on the way, so it barely correlates (about -0.1).
    assert metrics["reward_correlation"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "mce", "--env", "gridworld:abc", "--demos", "{demos}", "--out", "{tmp}/r"],
         "cannot read tabular spec 'gridworld:abc'"),
        (["train", "mce", "--env", "gridworld:6", "--demos", "{demos}", "--out", "{tmp}/r"],
         "Discrete(25)"),
        (["train", "mce", "--env", "objectworld:5", "--demos", "{demos}", "--out", "{tmp}/r"],
         "Discrete(4)"),
        (["train", "lp-irl", "--env", "gridworld:5", "--demos", "{demos}", "--out", "{tmp}/r",
          "--iterations", "5"], "--iterations does not apply to lp-irl"),
        (["train", "mce", "--env", "gridworld:5", "--demos", "{demos}", "--out", "{tmp}/r",
          "--set", "optimizer=sgd"], "choose one of adam, gd"),
        (["collect", "CartPole-v1", "--expert", "optimal", "--out", "{tmp}/d.npz"],
         "known dynamics"),
        (["collect", "gridworld:x", "--expert", "optimal", "--out", "{tmp}/d.npz"],
         "gridworld:x"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_and_exit_2(
    grid_demos: Path,
    tmp_path: Path,
    capsys,
    args,
    message,  # noqa: ANN001
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)).replace("{demos}", str(grid_demos)) for a in args]
    code = run(*args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing written on a bad start


def test_demos_of_another_env_with_the_same_spaces_are_refused(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    demos = tmp_path / "g4.npz"  # gridworld:4 and FrozenLake-v1: 16 states, 4 actions
    assert run("collect", "gridworld:4", "--expert", "optimal", "--episodes", "2",
               "--out", str(demos)) == 0  # fmt: skip
    capsys.readouterr()
    code = run("train", "mce", "--env", "FrozenLake-v1", "--demos", str(demos),
               "--out", str(tmp_path / "r"))  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "recorded on 'gridworld:4', not 'FrozenLake-v1'" in err


def test_compare_rewards_of_two_runs_and_the_true_reward(
    grid_demos: Path, tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    from protege.evaluation.epic import epic_distance

    for algo in ("mce", "lp-irl"):
        assert run("train", algo, "--env", "gridworld:5", "--demos", str(grid_demos),
                   "--out", str(tmp_path / algo), "--eval-episodes", "2") == 0  # fmt: skip
    capsys.readouterr()
    assert run("compare-rewards", str(tmp_path / "mce"), "true", "--json") == 0
    to_true = json.loads(capsys.readouterr().out)
    mdp = make_tabular("gridworld:5")
    expected = epic_distance(np.load(tmp_path / "mce" / "reward.npy"), mdp.reward, mdp.gamma,
                             n_actions=mdp.n_actions)  # fmt: skip
    assert to_true["epic"] == pytest.approx(expected)
    metrics = json.loads((tmp_path / "mce" / "metrics.json").read_text())
    assert metrics["epic_to_true"] == pytest.approx(expected)
    assert run("compare-rewards", str(tmp_path / "mce"), str(tmp_path / "lp-irl")) == 0
    assert "EPIC" in capsys.readouterr().out
    assert run("compare-rewards", str(tmp_path / "mce"), str(tmp_path / "nope")) == 2
    assert "config.json" in capsys.readouterr().err


@pytest.mark.slow
def test_mce_killed_mid_run_resumes_and_finishes(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    demos, out = tmp_path / "g.npz", tmp_path / "run"
    assert run("collect", "gridworld:12", "--expert", "optimal", "--episodes", "20",
               "--out", str(demos)) == 0  # fmt: skip
    args = ["train", "mce", "--env", "gridworld:12", "--demos", str(demos), "--out", str(out),
            "--iterations", "1000", "--tol", "0", "--eval-episodes", "3"]  # fmt: skip
    kill_when(args, (out / "checkpoints" / "irl.pt").is_file)
    assert not (out / "metrics.json").exists()
    assert run(*args, "--resume") == 0
    with (out / "progress.csv").open() as f:
        iterations = [int(float(row["iteration"])) for row in csv.DictReader(f)]
    assert iterations == list(range(1000))
    assert json.loads((out / "metrics.json").read_text())["iterations"] == 1000


@pytest.mark.slow
def test_bayesian_irl_killed_mid_chain_resumes_to_the_uninterrupted_posterior(
    grid_demos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = ["train", "bayesian-irl", "--env", "gridworld:5", "--demos", str(grid_demos),
            "--out", str(out), "--iterations", "20000", "--eval-episodes", "3"]  # fmt: skip
    kill_when(args, (out / "checkpoints" / "irl.pt").is_file)
    assert not (out / "metrics.json").exists()
    assert run(*args, "--resume") == 0
    with (out / "progress.csv").open() as f:
        steps = [int(float(row["iteration"])) for row in csv.DictReader(f)]
    assert steps == list(range(99, 20500, 100))  # one row per 100 MCMC steps, none twice
    assert json.loads((out / "metrics.json").read_text())["iterations"] == 205
    cfg = build_config("bayesian-irl", iterations=20000)
    demos = load_trajectories(grid_demos).trajectories
    whole = bayesian_irl(demos, None, cfg, env=make_tabular("gridworld:5"))
    np.testing.assert_array_equal(np.load(out / "reward.npy"), whole.reward)

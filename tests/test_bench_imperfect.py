"""`protege bench imperfect`: demonstrator levels made by calibrated noise, each dataset
collected once and shared, and a table that sets every learner beside its demonstrator."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import run

from protege.data.storage import load_trajectories
from protege.errors import ConfigError
from protege.experiments import bench
from protege.experiments.bench import (
    SUITES,
    BenchPlan,
    Cell,
    bench_cells,
    get_suite,
    markdown,
    plan_bench,
    tabulate,
    write_bench,
)
from protege.experiments.imperfect import (
    IMPERFECT_NOISE,
    LEVEL_TARGETS,
    MIXED_EXPERT_SHARE,
    beats_demonstrator,
)
from protege.experiments.sweep import run_trial
from protege.jobs.catalog import ALGORITHMS

ISSUE_16 = ("t-rex", "d-rex", "preferences", "filtered-bc", "weighted-bc")


def test_every_issue_16_method_runs_beside_bc_and_gail_on_every_noise_level() -> None:
    suite = get_suite("imperfect")
    assert set(suite.envs) == {"CartPole-v1", "LunarLander-v3", "Pendulum-v1", "HalfCheetah-v5"}
    cells = {(c.env, c.level, c.algo) for c, _ in bench_cells(suite, seeds=3)}
    for env in suite.envs:
        for level in LEVEL_TARGETS:  # 25%, 50%, 75%: the same data for every method
            for algo in ("bc", "gail", "t-rex", "d-rex", "filtered-bc", "weighted-bc"):
                assert (env, level, algo) in cells
                assert (env, "graded", algo) in cells  # T-REX's kind of data: 5 qualities
        for algo in ("bc", "bc-expert-part", "filtered-bc", "weighted-bc", "dwbc"):
            assert (env, "mixed", algo) in cells
        assert (env, "none", "preferences") in cells  # it learns from labels, not demos
        assert {a for e, lv, a in cells if e == env and lv == "none"} == {"preferences"}
    assert {a for *_, a in cells} >= {*ISSUE_16, "dwbc", "bc", "gail"}
    assert all(suite.algorithm(label) in ALGORITHMS for label in suite.algos)
    # preferences with 1,000 synthetic labels on every env
    for env in suite.envs:
        cfg = suite.settings_for("preferences", env, "none")
        assert cfg["rounds"] * cfg["queries_per_round"] == 1000
    assert suite.settings_for("t-rex", "Pendulum-v1", "50%")["learner"] == "sac"
    assert suite.settings_for("filtered-bc", "CartPole-v1", "mixed")["keep_fraction"] == 0.1
    assert "keep_fraction" not in suite.settings_for("filtered-bc", "CartPole-v1", "25%")


def test_noise_is_calibrated_for_every_env_and_level_and_degrades_with_the_level() -> None:
    suite = get_suite("imperfect")
    for env in suite.envs:
        kind, eps = IMPERFECT_NOISE[env]
        assert kind in ("random", "gaussian") and set(eps) == set(LEVEL_TARGETS)
        assert 0 < eps["75%"] < eps["50%"] < eps["25%"] <= 1  # worse demonstrator, more noise


def test_plan_collects_each_level_once_with_its_noise_and_shares_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import protege.jobs.common as common

    calls: list[tuple[Any, ...]] = []
    collect = common.collect

    def counted(env: str, expert: str, episodes: int, out: Any, **kw: Any) -> Any:
        calls.append((env, episodes, Path(out).name, kw.get("noise")))
        return collect(env, expert, episodes, out, **kw)

    monkeypatch.setattr(common, "collect", counted)
    suite = replace(get_suite("imperfect"), envs=("CartPole-v1",), episodes=(10,))
    algos = ["bc", "bc-expert-part", "dwbc", "t-rex", "preferences"]
    plan = plan_bench(suite, tmp_path, 2, algos=algos)
    kind, eps = IMPERFECT_NOISE["CartPole-v1"]
    demos = tmp_path / "imperfect" / "demos"
    assert sorted(p.name for p in demos.iterdir()) == sorted([
        "CartPole-v1__10ep__25pct.npz", "CartPole-v1__10ep__50pct.npz",
        "CartPole-v1__10ep__75pct.npz", "CartPole-v1__10ep__graded.npz",
        "CartPole-v1__10ep__mixed.npz",
        "CartPole-v1__10ep__mixed__expert-part.npz"])  # fmt: skip
    # 3 noise levels, the graded series, and the mixed set's expert part and noisy rest:
    # once each
    assert len(calls) == 6
    for level in LEVEL_TARGETS:
        data = load_trajectories(demos / f"CartPole-v1__10ep__{level.replace('%', 'pct')}.npz")
        assert [t.meta["noise"] for t in data.trajectories] == [eps[level]] * 10
        returns = [t.meta["return"] for t in data.trajectories]
        assert plan.demonstrators[("CartPole-v1", 10, level)] == pytest.approx(np.mean(returns))
    # graded: 2 episodes at each of 5 noise levels from the 50% level's to random actions;
    # its demonstrator is the least noisy pair, the best demonstrations
    graded = load_trajectories(demos / "CartPole-v1__10ep__graded.npz").trajectories
    levels = [t.meta["noise"] for t in graded]
    assert levels[::2] == levels[1::2] == sorted(set(levels))
    assert levels[0] == eps["50%"] and levels[-1] == 1.0 and len(set(levels)) == 5
    best = np.mean([t.meta["return"] for t in graded[:2]])
    assert plan.demonstrators[("CartPole-v1", 10, "graded")] == pytest.approx(best)
    assert best > np.mean([t.meta["return"] for t in graded])
    mixed = load_trajectories(demos / "CartPole-v1__10ep__mixed.npz").trajectories
    n_expert = round(MIXED_EXPERT_SHARE * 10)
    assert [t.meta["noise"] for t in mixed] == [0.0] * n_expert + [eps["25%"]] * (10 - n_expert)
    part = load_trajectories(demos / "CartPole-v1__10ep__mixed__expert-part.npz").trajectories
    assert len(part) == n_expert and np.array_equal(part[0].obs, mixed[0].obs)
    assert math.isnan(plan.demonstrators[("CartPole-v1", 10, "none")])

    by_cell: dict[Cell, list[Any]] = {}
    for cell, trial in zip(plan.cells, plan.trials, strict=True):
        by_cell.setdefault(cell, []).append(trial)
    assert all(len(ts) == 2 for ts in by_cell.values())  # seeds 0 and 1
    for cell, trials in by_cell.items():
        dataset = demos / f"CartPole-v1__10ep__{cell.level.replace('%', 'pct')}.npz"
        for t in trials:
            if cell.algo == "preferences":
                assert t.demos is None
            elif cell.algo in ("dwbc", "bc-expert-part"):
                assert t.demos == str(demos / "CartPole-v1__10ep__mixed__expert-part.npz")
            else:  # every other algorithm of the level learns from the same dataset
                assert t.demos == str(dataset)
            if cell.algo == "dwbc":
                assert f"unlabelled={dataset}" in t.overrides
            if cell.algo == "t-rex":  # by return inside one level, by noise across levels
                rank_by = "noise" if cell.level == "graded" else "return"
                assert f"rank_by={rank_by}" in t.overrides
    assert len({t.run_dir for t in plan.trials}) == len(plan.trials)
    assert {c.level for c in by_cell if c.algo == "bc"} == {*LEVEL_TARGETS, "graded", "mixed"}

    plan_bench(suite, tmp_path, 2, algos=algos)
    assert len(calls) == 6  # planned again: nothing is collected again


def _result(score: float, expert: float = 500.0, random: float = 20.0) -> dict[str, Any]:
    return {"return_mean": random + score * (expert - random), "normalized_score": score,
            "expert_return_mean": expert, "random_return_mean": random}  # fmt: skip


def test_table_sets_each_learner_beside_its_demonstrator_with_the_verdict() -> None:
    suite = get_suite("imperfect")
    cells = [Cell("CartPole-v1", 20, "t-rex", "25%")] * 2 + [
        Cell("CartPole-v1", 20, "bc", "25%"),
        Cell("CartPole-v1", 20, "t-rex", "75%"),
        Cell("CartPole-v1", 20, "preferences", "none"),
    ]
    demo_25 = 20.0 + 0.25 * 480  # a demonstrator at 0.25 of the expert-random gap
    plan = BenchPlan(suite, [None] * len(cells), cells, {  # type: ignore[list-item]
        ("CartPole-v1", 20, "25%"): demo_25, ("CartPole-v1", 20, "75%"): 20.0 + 0.75 * 480,
        ("CartPole-v1", 20, "none"): math.nan})  # fmt: skip
    results = [_result(0.40), _result(0.50), _result(0.30), _result(0.90), _result(0.95)]
    rows = {(r["algo"], r["level"]): r for r in tabulate(plan, results)}
    t_rex = rows[("t-rex", "25%")]
    assert t_rex["seeds"] == 2 and t_rex["normalized_score"] == pytest.approx(0.45)
    assert t_rex["demonstrator_return"] == demo_25
    assert t_rex["demonstrator_score"] == pytest.approx(0.25)
    assert t_rex["margin"] == pytest.approx(0.20)
    assert t_rex["beats_demonstrator"] == "yes"  # exactly the margin counts
    assert rows[("bc", "25%")]["margin"] == pytest.approx(0.05)
    assert rows[("bc", "25%")]["beats_demonstrator"] == "no"
    assert rows[("t-rex", "75%")]["beats_demonstrator"] == "no"  # 0.90 - 0.75 < 0.2
    prefs = rows[("preferences", "none")]
    assert math.isnan(prefs["demonstrator_score"]) and prefs["beats_demonstrator"] == ""

    md = markdown(plan, list(rows.values()))
    assert "| env | episodes | demonstrations | algorithm |" in md
    assert "| demonstrator | demonstrator score | margin | beats by ≥ 0.2 | expert | random |" in md
    assert "| CartPole-v1 | 20 | 25% | t-rex | 2 | " in md
    assert "| 140.0 | 0.25 | +0.20 | yes | 500.0 | 20.0 |" in md
    assert "| CartPole-v1 | 20 | none | preferences | 1 | " in md and "| – | – | – | – |" in md
    lines = md.splitlines()  # rows in the suite's order: levels, then labels
    order = [next(i for i, line in enumerate(lines) if f"| {lv} | {a} |" in line)
             for lv, a in (("25%", "bc"), ("25%", "t-rex"), ("75%", "t-rex"),
                           ("none", "preferences"))]  # fmt: skip
    assert order == sorted(order)


def test_suites_without_levels_keep_their_table() -> None:
    suite = get_suite("pendulum")
    plan = BenchPlan(suite, [None], [Cell("Pendulum-v1", 20, "bc")])  # type: ignore[list-item]
    (row,) = tabulate(plan, [_result(0.8, -150.0, -1200.0)])
    assert "level" not in row and "demonstrator_score" not in row
    md = markdown(plan, [row])
    assert "| env | expert episodes | algorithm |" in md and "demonstrator" not in md


def test_beats_demonstrator_needs_a_fifth_of_the_gap() -> None:
    assert beats_demonstrator(0.45, 0.25) == "yes"
    assert beats_demonstrator(0.449, 0.25) == "no"
    assert beats_demonstrator(0.2, 0.5) == "no"
    assert beats_demonstrator(math.nan, 0.5) == "" and beats_demonstrator(0.5, math.nan) == ""


def test_bc_on_a_noisy_level_end_to_end_at_a_tiny_budget(tmp_path: Path) -> None:
    """Plan, train, tabulate and write a level's table; a second plan finds it finished."""
    suite = replace(
        get_suite("imperfect"), envs=("CartPole-v1",), episodes=(4,), eval_episodes=3,
        settings={"bc": {"epochs": 3, "hidden": [16]}},
    )  # fmt: skip
    plan = plan_bench(suite, tmp_path, 1, algos=["bc"], levels=["50%"])
    assert [(c.level, c.algo) for c in plan.cells] == [("50%", "bc")]
    results = [run_trial(t) for t in plan.trials]
    md, table = write_bench(plan, tabulate(plan, results), tmp_path)
    with table.open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["level"] == "50%" and row["algo"] == "bc" and row["seeds"] == "1"
    assert float(row["expert_return_mean"]) == 500.0
    assert float(row["demonstrator_score"]) == pytest.approx(
        (float(row["demonstrator_return"]) - float(row["random_return_mean"]))
        / (500.0 - float(row["random_return_mean"]))
    )
    assert 0.2 < float(row["demonstrator_score"]) < 0.8  # a demonstrator, not the expert
    assert row["beats_demonstrator"] in ("yes", "no")
    assert "| CartPole-v1 | 4 | 50% | bc | 1 |" in md.read_text()
    again = plan_bench(suite, tmp_path, 1, algos=["bc"], levels=["50%"])
    assert all((Path(t.run_dir) / "metrics.json").is_file() for t in again.trials)


def test_bench_help_lists_every_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("bench", "--help") == 0
    shown = capsys.readouterr().out
    for name in SUITES:
        assert name in shown, name
    assert "--levels" in shown


def test_bad_levels_exit_2_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("bench", "imperfect", "--levels", "10%", "--out", str(tmp_path)) == 2
    assert "suite imperfect has 25%, 50%, 75%, graded, mixed, none" in capsys.readouterr().err
    assert run("bench", "classic", "--levels", "25%", "--out", str(tmp_path)) == 2
    assert "suite classic has no demonstrator levels" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no calibrated noise for Acrobot-v1"):
        bench.SUITES["imperfect"].noise_of("Acrobot-v1", bench.SUITES["imperfect"].levels[0])

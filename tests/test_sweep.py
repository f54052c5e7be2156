"""`protege sweep`: a grid of runs on a local pool or Ray, resumable, tabulated."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import run

from protege.experiments.sweep import summarize

SWEEP = """
name: grid
algos: [bc]
envs: [CartPole-v1]
seeds: [0, 1]
demos: {episodes: 2}
grid: {epochs: [2, 30]}
set: {batch_size: 128}
eval_episodes: 3
"""


def trial_dirs(out: Path) -> list[Path]:
    return sorted(p for p in (out / "grid").iterdir() if p.name.startswith("bc__"))


def results(out: Path) -> list[str]:
    return [line for line in (out / "grid" / "results.md").read_text().splitlines()
            if line.startswith("| bc")]  # fmt: skip


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """SWEEP run once on a local pool: (spec file, out dir, its results rows as first made;
    the local test goes on to interrupt and resume it in that out dir)."""
    base = tmp_path_factory.mktemp("sweep")
    spec, out = base / "sweep.yaml", base / "runs"
    spec.write_text(SWEEP)
    assert run("sweep", str(spec), "--out", str(out), "--workers", "2") == 0
    return spec, out, results(out)


def test_local_sweep_runs_the_grid_and_resumes_only_what_is_unfinished(
    local_sweep: tuple[Path, Path, list[str]],
) -> None:
    spec, out, _ = local_sweep
    dirs = trial_dirs(out)
    assert [d.name for d in dirs] == [
        "bc__CartPole-v1__epochs=2__s0", "bc__CartPole-v1__epochs=2__s1",
        "bc__CartPole-v1__epochs=30__s0", "bc__CartPole-v1__epochs=30__s1",
    ]  # fmt: skip
    config = json.loads((dirs[2] / "config.json").read_text())["config"]
    assert (config["epochs"], config["batch_size"], config["seed"]) == (30, 128, 0)
    rows = results(out)
    assert len(rows) == 2 and all("| 2 |" in r for r in rows)  # two seeds per setting
    assert "30" in rows[1] and float(rows[1].split("|")[5].split("±")[0]) > 400

    # an interrupted sweep: one trial never finished; only that one runs again
    (dirs[0] / "metrics.json").unlink()
    stamps = {d: (d / "metrics.json").stat().st_mtime_ns for d in dirs[1:]}
    assert run("sweep", str(spec), "--out", str(out), "--workers", "2") == 0
    assert (dirs[0] / "metrics.json").is_file()
    assert all((d / "metrics.json").stat().st_mtime_ns == s for d, s in stamps.items())
    assert results(out) == rows  # the same numbers: trials are deterministic

    # the same run dirs under other settings: finished runs are not passed off as the new ones
    spec.write_text(SWEEP.replace("batch_size: 128", "batch_size: 64"))
    assert run("sweep", str(spec), "--out", str(out), "--workers", "2") == 0
    assert all((d / "metrics.json").stat().st_mtime_ns == s for d, s in stamps.items())
    assert all("| 0 (2 failed) |" in r for r in results(out))


@pytest.mark.slow
def test_ray_sweep_on_a_local_instance_gives_the_local_numbers(
    local_sweep: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    pytest.importorskip("ray.tune")
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SWEEP.replace("seeds: [0, 1]", "seeds: [1]"))  # 2 of the local 4 trials
    assert run("sweep", str(spec), "--out", str(tmp_path / "ray"), "--ray") == 0
    ray_dirs = trial_dirs(tmp_path / "ray")
    assert [d.name for d in ray_dirs] == [
        "bc__CartPole-v1__epochs=2__s1", "bc__CartPole-v1__epochs=30__s1",
    ]  # fmt: skip
    for d in ray_dirs:  # the same numbers as the same trials run locally
        ray_metrics = json.loads((d / "metrics.json").read_text())
        local = json.loads((local_sweep[1] / "grid" / d.name / "metrics.json").read_text())
        assert ray_metrics["return_mean"] == local["return_mean"], d.name
        assert ray_metrics["normalized_score"] == local["normalized_score"], d.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("algos: [bc]\nenvs: [CartPole-v1]\nepochs: 3\n", "unknown keys epochs"),
        ("algos: [gail2]\nenvs: [CartPole-v1]\n", "'gail2' is not one of"),
        ("algos: [bc]\n", "'envs' is missing"),
        ("algos: [bc]\nenvs: [CartPole-v1]\ngrid: {epoch: [1, 2]}\n", "epoch"),
        ("algos: [bc]\nenvs: [CartPole-v1]\nseeds: [a]\n", "seeds must be integers"),
        ("algos: [bc\n", "not valid YAML"),
        ("- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_bad_sweep_files_are_one_line_and_exit_2(
    tmp_path: Path,
    capsys,
    text: str,
    message: str,  # noqa: ANN001
) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(text)
    assert run("sweep", str(spec), "--out", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert message in err and "sweep.yaml" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_a_crashing_trial_is_reported_and_does_not_stop_the_others(monkeypatch) -> None:  # noqa: ANN001
    from protege.errors import ConfigError
    from protege.experiments import sweep

    def boom(trial: sweep.Trial) -> dict:
        if trial.seed == 0:
            raise RuntimeError("kaput")
        if trial.seed == 1:
            raise ConfigError("bad setting")
        return {"return_mean": 1.0}

    monkeypatch.setattr(sweep, "run_trial", boom)
    trials = [sweep.Trial("bc", "CartPole-v1", s, (), f"/tmp/t{s}", None, 1) for s in range(3)]
    results = [sweep._safe(t) for t in trials]
    assert results[0]["error"].startswith("RuntimeError: kaput")
    assert results[1] == {"error": "bad setting"} and results[2] == {"return_mean": 1.0}


def test_summaries_read_nested_metrics_such_as_the_kept_best_policys() -> None:
    results = [
        {"return_mean": 1.0, "best": {"normalized_score": 0.5}},
        {"return_mean": 2.0, "best": {"normalized_score": 1.0}},
        {"return_mean": 3.0},  # a run that kept no best policy (BC): left out of the mean
    ]
    row = summarize(results, ["return_mean", "best.normalized_score", "best.missing"])
    assert row["seeds"] == 3 and row["return_mean"] == 2.0
    assert row["best.normalized_score"] == 0.75 and row["best.normalized_score_ci95"] > 0
    assert math.isnan(row["best.missing"])


def test_a_shared_policy_setting_reaches_daggers_inner_bc(tmp_path: Path) -> None:
    from protege.experiments.sweep import build_config, expand, load_sweep

    spec = tmp_path / "heads.yaml"
    spec.write_text("algos: [bc, dagger]\nenvs: [Pendulum-v1]\n"
                    "set: {policy: gmm, history: 2, epochs: 7}\n")  # fmt: skip
    trials = {t.algo: t for t in expand(load_sweep(spec), tmp_path, {})}
    bc = build_config("bc", 0, trials["bc"].overrides)
    dagger = build_config("dagger", 0, trials["dagger"].overrides)
    assert (bc.policy, bc.history, bc.epochs) == ("gmm", 2, 7)
    assert (dagger.bc.policy, dagger.bc.history) == ("gmm", 2)
    # only the policy's own settings pass down; BC's training settings need dagger: {bc.epochs}
    assert dagger.bc.epochs != 7


def test_a_finished_run_from_before_a_setting_was_added_is_still_read(tmp_path: Path) -> None:
    """A run saved before BC's `redraw` (or GCL's `uniform_mix`) existed did what the
    setting's `SETTINGS_ADDED` value does: it is that trial's run, at any nesting (DAgger's
    bc), and not a trial's at another value (GCL's default since, 0.5)."""
    from dataclasses import asdict, replace

    from protege.algorithms.adversarial import GCLConfig
    from protege.algorithms.bc import BCConfig
    from protege.algorithms.dagger import DAggerConfig
    from protege.experiments.sweep import _made_with

    def saved_without(cfg: object, key: str, nested: str | None = None) -> Path:
        config = json.loads(json.dumps(asdict(cfg)))  # type: ignore[call-overload]
        del (config[nested] if nested else config)[key]
        run_dir = tmp_path / f"{type(cfg).__name__}-{key}-{len(list(tmp_path.iterdir()))}"
        run_dir.mkdir()
        (run_dir / "config.json").write_text(json.dumps({"config": config}))
        return run_dir

    bc = saved_without(BCConfig(), "redraw")
    assert _made_with(bc, BCConfig()) and not _made_with(bc, BCConfig(redraw="episode"))
    assert not _made_with(bc, BCConfig(epochs=3))  # any other difference still counts
    dagger = saved_without(DAggerConfig(), "redraw", nested="bc")
    assert _made_with(dagger, DAggerConfig())
    # BC's hidden default became () ("the env's"): a run saved with the old 64x64 is the
    # () trial's on a small env, not on a MuJoCo one (256x256 there)
    old_bc = saved_without(replace(BCConfig(), hidden=(64, 64)), "redraw")
    assert _made_with(old_bc, BCConfig(), "Pendulum-v1")
    assert not _made_with(old_bc, BCConfig(), "Hopper-v5") and not _made_with(old_bc, BCConfig())
    gcl = saved_without(GCLConfig(uniform_mix=0.0), "uniform_mix")
    assert not _made_with(gcl, GCLConfig()) and _made_with(
        gcl, replace(GCLConfig(), uniform_mix=0.0)
    )

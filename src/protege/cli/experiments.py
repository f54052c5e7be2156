"""`protege sweep` and `protege bench`: many runs at once, locally or on Ray Tune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from protege.cli.app import app, console, episode_progress, err_console


@app.command("sweep")
def sweep_cmd(
    sweep_file: Path = typer.Argument(..., help="SWEEP.yaml: algos, envs, seeds, grid, set."),
    out: Path = typer.Option(Path("runs"), help="Runs go to OUT/<sweep name>/."),
    workers: int | None = typer.Option(None, min=1, help="Local processes (default: cores)."),
    ray: bool = typer.Option(False, "--ray", help="Run the grid on Ray Tune instead."),
    address: str | None = typer.Option(
        None, help="With --ray: an existing cluster's address (default: start a local Ray)."
    ),
) -> None:
    """Run a grid of runs (algorithms × envs × seeds × settings) and tabulate them.

    Finished trials (a run dir with metrics.json) are kept: run the same sweep again to
    finish an interrupted one.
    """
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.experiments.sweep import aggregate, load_sweep, plan, write_results

    sweep = load_sweep(sweep_file)
    console.print(f"sweep {sweep.name}: checking settings, preparing demonstrations")
    trials = plan(sweep, out)
    results = _run_trials(trials, workers, ray, address, out / sweep.name)
    rows = aggregate(trials, results)
    md, table = write_results(rows, out / sweep.name)
    console.print(md.read_text(), soft_wrap=True)
    console.print(f"wrote {md} and {table}")


def _run_trials(
    trials: list[Any], workers: int | None, ray: bool, address: str | None, storage: Path
) -> list[dict[str, Any]]:
    """Run sweep trials locally (with a progress bar) or on Ray; report the failed ones."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.experiments.sweep import run_local, run_ray

    finished = sum((Path(t.run_dir) / "metrics.json").is_file() for t in trials)
    console.print(f"{len(trials)} trials, {finished} already finished")
    if ray:
        results = run_ray(trials, address, storage)
    else:
        with episode_progress("runs", len(trials)) as progress:
            task = progress.add_task("trials", total=len(trials))
            results = run_local(trials, workers, on_done=lambda t, r: progress.advance(task))
    for t, r in zip(trials, results, strict=True):
        if "error" in r:
            err_console.print(f"[red]failed[/] {t.run_dir}: {escape(r['error'])}")
    return results


@app.command("bench")
def bench_cmd(
    suite: str = typer.Argument(
        ..., help="classic | pendulum | mujoco | heads | tabular | imperfect."
    ),
    seeds: int = typer.Option(3, min=1, help="Seeds 0..N-1 per algorithm and setting."),
    out: Path = typer.Option(Path("bench"), help="Runs and tables go to OUT/SUITE/."),
    algos: str | None = typer.Option(None, help="Only these algorithms (comma-separated)."),
    envs: str | None = typer.Option(None, help="Only these envs (comma-separated)."),
    episodes: str | None = typer.Option(
        None, help="Only these numbers of expert episodes (comma-separated)."
    ),
    levels: str | None = typer.Option(
        None, help="imperfect: only these demonstrator levels (25%,50%,75%,graded,mixed,none)."
    ),
    workers: int | None = typer.Option(None, min=1, help="Local processes (default: cores)."),
    ray: bool = typer.Option(False, "--ray", help="Run the trials on Ray Tune instead."),
    address: str | None = typer.Option(
        None, help="With --ray: an existing cluster's address (default: start a local Ray)."
    ),
) -> None:
    """Run a named benchmark suite and write a markdown table (mean ± 95% CI over
    seeds) beside the expert, a random policy and the published numbers.

    classic: Ho & Ermon (2016)'s CartPole/Acrobot/MountainCar, 200-step limits,
    1/4/7/10 trajectories.

    pendulum: Pendulum-v1, 20 episodes.

    mujoco: the five fixed-horizon locomotion envs, 1/4/10/25 trajectories of the
    shipped experts (the mujoco extra).

    heads: BC's policy heads on the tasks that tell them apart, with success rate
    and cost per action.

    tabular: gridworlds and toy-text.

    imperfect: demonstrators at about 25/50/75% of the expert (noise injected),
    a graded set (five noise levels, the best at 50%: T-REX's kind of data)
    and a mixed set (10% expert) on CartPole, LunarLander, Pendulum and
    HalfCheetah: T-REX, D-REX, preferences (1,000 labels), filtered/weighted BC
    and DWBC beside BC and GAIL, with the demonstrator's score and whether the
    learner beat it by 0.2 of the expert-random gap (--levels picks levels).
    LunarLander and HalfCheetah take hours per run: use --ray or a background run.

    Finished runs are kept: the same command again only runs what is missing.
    """
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.experiments.bench import get_suite, plan_bench, tabulate, write_bench

    def split(value: str | None) -> list[str] | None:
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    spec = get_suite(suite)
    console.print(f"bench {suite}: {spec.description}; collecting demonstrations")
    bench = plan_bench(spec, out, seeds, split(algos), split(envs), split(episodes), split(levels))
    results = _run_trials(bench.trials, workers, ray, address, out / suite)
    md, table = write_bench(bench, tabulate(bench, results), out)
    console.print(md.read_text(), soft_wrap=True)
    console.print(f"wrote {md} and {table}")

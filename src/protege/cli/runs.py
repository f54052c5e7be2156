"""`protege eval`, `protege compare-rewards` and `protege report`: reading run directories."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from protege.cli.app import app, console, episode_progress, metrics_table, rounds_table


@app.command("eval")
def eval_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory written by `protege train`."),
    episodes: int | None = typer.Option(None, min=1, help="Evaluation episodes (default: run's)."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json instead of a table."),
) -> None:
    """Measure a trained policy against the expert and a random policy; writes metrics.json."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.jobs.dispatch import evaluate_run
    from protege.rundir import read_config

    config = read_config(run_dir)
    env = config["env"]
    n = episodes or int(config.get("eval_episodes", 20))
    with episode_progress("evaluate", 0) as progress:  # the learner's, expert's and random's
        task = progress.add_task(f"evaluate {run_dir} ({n} episodes each)", total=None)
        metrics = evaluate_run(run_dir, episodes, on_episode=lambda i, t: progress.advance(task))
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        if metrics.get("rounds"):
            console.print(rounds_table(metrics["rounds"], f"{run_dir}: score per DAgger round"))
        console.print(metrics_table(metrics, f"{run_dir} on {env} vs the expert"))


@app.command("compare-rewards")
def compare_rewards_cmd(
    run_a: str = typer.Argument(..., help="A run directory with a learned reward."),
    run_b: str = typer.Argument(..., help="Another run directory, or `true`."),
    env: str | None = typer.Option(None, help="The env (default: RUN_A's)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """EPIC distance (0: same optimal policies; shaping-, shift- and scale-invariant) and
    Pearson distance between two learned rewards, or one and the true reward (tabular).

    Tabular rewards are compared exactly; continuous ones by sampled EPIC on both runs'
    demonstrations and held-out episodes of their policies."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.jobs.reward_distance import compare_rewards

    result = compare_rewards(run_a, run_b, env)
    env_id = result["env"]
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"reward distance on {env_id} (γ = {result['gamma']})")
    table.add_column("reward A")
    table.add_column("reward B")
    table.add_column("EPIC", justify="right")
    table.add_column("Pearson distance", justify="right")

    def fmt(x: float | None) -> str:
        return "undefined (constant reward)" if x is None else f"{x:.4f}"

    table.add_row(result["a"], result["b"], fmt(result["epic"]), fmt(result["pearson_distance"]))
    console.print(table)


@app.command("report")
def report_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (several seeds aggregate)."),
    out: Path = typer.Option(Path("report.html"), help="The HTML page to write."),
) -> None:
    """One self-contained HTML page (plots embedded) over run directories."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.reports.html import write_report

    path = write_report(run_dirs, out)
    console.print(f"wrote {path} and {path.stem}_files/ (open the page in a browser)")

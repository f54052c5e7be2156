"""`protege quickstart`: the whole journey on a built-in default, in one command."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import typer

from protege.cli.app import THREADS_OPTION, app, console, metrics_table, use_threads


@app.command("quickstart")
def quickstart_cmd(
    out: Path | None = typer.Option(None, help="Directory for the demos and run (default: temp)."),
    env: str = typer.Option("CartPole-v1", help="An env with a built-in scripted expert."),
    episodes: int = typer.Option(10, help="Expert episodes to learn from."),
    threads: int = THREADS_OPTION,
) -> None:
    """The whole journey on a built-in default: expert → demonstrations → BC → comparison."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.algorithms.bc import BCConfig
    from protege.callbacks import RichProgress
    from protege.jobs.bc import train_run
    from protege.jobs.common import collect

    use_threads(threads)
    start = time.perf_counter()
    base = out if out is not None else Path(tempfile.mkdtemp(prefix="protege-quickstart-"))
    base.mkdir(parents=True, exist_ok=True)
    demos = base / "demos.npz"
    console.rule(f"[bold]protege quickstart · {env}")
    console.print(f"1. recording {episodes} episodes of the built-in scripted expert → {demos}")
    trajs = collect(env, "scripted", episodes, demos, seed=0, overwrite=True)
    console.print(f"   {sum(len(t) for t in trajs)} expert steps")
    console.print("2. behavioral cloning")
    metrics = train_run(
        "bc", env, base / "bc", BCConfig(), demos=demos, eval_episodes=20, overwrite=True,
        callbacks=[RichProgress("bc", "val_loss")],
    )  # fmt: skip
    console.print("3. comparison with the expert on 20 new seeded episodes")
    console.print(metrics_table(metrics, f"BC on {env} vs the expert"))
    console.print(
        f"done in {time.perf_counter() - start:.1f} s · run directory {base / 'bc'} "
        f"(config.json, policy.pt, progress.csv, metrics.json)"
    )

"""`protege experts`, `protege expert train` and `protege collect`: the experts there are,
making one, and recording its demonstrations."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from protege.cli.app import (
    THREADS_OPTION,
    app,
    console,
    episode_progress,
    expert_app,
    use_threads,
)
from protege.errors import ExpertError


@app.command("experts")
def experts_cmd() -> None:
    """List the built-in scripted experts and their measured returns."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.experts.scripted import SCRIPTED_EXPERTS

    table = Table(title="Built-in scripted experts (mean return over 100 seeded episodes)")
    table.add_column("env")
    table.add_column("return", justify="right")
    table.add_column("tested ≥", justify="right")
    table.add_column("controller")
    for env_id, e in SCRIPTED_EXPERTS.items():
        table.add_row(env_id, f"{e.reference_return:.1f}", f"{e.min_return:.0f}", e.description)
    console.print(table)


@app.command("collect")
def collect_cmd(
    env: str = typer.Argument(..., help="Gymnasium id, e.g. CartPole-v1, or gridworld:N etc."),
    out: Path = typer.Option(
        ..., "--out", help="Where to write: *.npz, else a Minari dataset dir."
    ),
    expert: str = typer.Option(
        "scripted",
        help="scripted | optimal (tabular envs: gridworld:N, FrozenLake-v1...) | PATH to an "
        "SB3 .zip | module:function.",
    ),
    episodes: int = typer.Option(10, min=1, help="Episodes to record."),
    seed: int = typer.Option(0, help="Episode i starts from reset(seed=seed+i)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing dataset at --out."
    ),
) -> None:
    """Record an expert's demonstrations."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.jobs.common import collect

    with episode_progress("collect", episodes) as progress:
        task = progress.add_task(f"collect {env}", total=episodes)
        trajs = collect(env, expert, episodes, out, seed, overwrite,
                        on_episode=lambda i, t: progress.advance(task))  # fmt: skip
    returns = [t.episode_return for t in trajs]
    steps = sum(len(t) for t in trajs)
    console.print(
        f"wrote {len(trajs)} episodes ({steps} steps) to {out}; "
        f"return {sum(returns) / len(returns):.1f} (min {min(returns):.1f}, max {max(returns):.1f})"
    )


@expert_app.command("train")
def expert_train_cmd(
    env: str = typer.Argument(..., help="Gymnasium id."),
    out: Path = typer.Option(..., help="Model file to write (.zip)."),
    algo: str = typer.Option("ppo", help="ppo | sac | dqn"),
    steps: int = typer.Option(100_000, min=1, help="Environment steps."),
    seed: int = typer.Option(0),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing model file at --out."
    ),
    threads: int = THREADS_OPTION,
) -> None:
    """Train a Stable-Baselines3 expert on the env's reward, when no scripted one exists."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.data.rollout import RandomPolicy
    from protege.evaluation import beats_random, evaluate_returns
    from protege.experts import SB3Expert
    from protege.rl import rich_progress_callback, save_sb3, train_sb3

    if out.exists() and not overwrite:
        raise ExpertError(f"{out}: already exists; choose another --out or pass --overwrite")
    use_threads(threads)
    callback = rich_progress_callback(steps, f"{algo} on {env}")
    model = train_sb3(env, algo, steps, seed, device=device, callback=callback)
    path = save_sb3(model, out)
    console.print(f"wrote {path}; measuring it against a random policy on 20 episodes each")
    with episode_progress("evaluate", 40) as progress:
        task = progress.add_task(f"evaluate {algo} on {env}", total=40)
        advance = lambda i, t: progress.advance(task)  # noqa: E731
        stats = evaluate_returns(env, SB3Expert(model), episodes=20, on_episode=advance)
        random = evaluate_returns(env, RandomPolicy(model.action_space, 0), 20, on_episode=advance)
    console.print(
        f"return over 20 episodes {stats.mean:.1f} ± {stats.std:.1f} "
        f"(random policy {random.mean:.1f} ± {random.std:.1f})"
    )
    if not beats_random(stats, random):
        console.print(
            f"[yellow]warning:[/] this expert scores about what a random policy does; train "
            f"it longer (--steps, now {steps}) or with another --algo before recording it"
        )

"""`protege train lp-irl|apprenticeship|maxent|mce|bayesian-irl|deep-maxent`: tabular IRL.

protege collect gridworld:8 --expert optimal --episodes 50 --out demos.npz
protege train mce --env gridworld:8 --demos demos.npz --out runs/mce --iterations 300
protege eval runs/mce
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from protege.cli.app import (
    EVAL_EPISODES_OPTION,
    MLFLOW_OPTION,
    OVERWRITE_OPTION,
    SET_OPTION,
    TENSORBOARD_OPTION,
    THREADS_OPTION,
    WANDB_OPTION,
    add_train_commands,
    console,
    metrics_table,
    tracked,
    trainer_callbacks,
    use_threads,
)

ENV_HELP = (
    "A toy-text id (FrozenLake-v1, CliffWalking-v1, Taxi-v4) or a tabular spec: gridworld:N, "
    "gridworld:RxC, objectworld:N, garnet:S[:A:B]."
)


def _command(name: str) -> Callable[..., None]:
    def train_cmd(
        env: str = typer.Option(..., help=ENV_HELP),
        demos: str = typer.Option(..., help="*.npz or Minari dataset dir recorded on ENV."),
        out: Path = typer.Option(..., help="Run directory to create."),
        iterations: int | None = typer.Option(None, min=1, help="Iterations at most."),
        tol: float | None = typer.Option(None, min=0.0, help="Stop once the gap is this small."),
        seed: int = typer.Option(0, help="Seeds the algorithm (where random) and evaluation."),
        set_: list[str] = SET_OPTION,
        eval_episodes: int = EVAL_EPISODES_OPTION,
        overwrite: bool = OVERWRITE_OPTION,
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Continue an interrupted run from its checkpoint (all but lp-irl, which is "
            "one solve and has none).",
        ),
        tensorboard: bool = TENSORBOARD_OPTION,
        mlflow: bool = MLFLOW_OPTION,
        wandb: bool = WANDB_OPTION,
        threads: int = THREADS_OPTION,
    ) -> None:
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.jobs.tabular import build_config, train_run

        use_threads(threads)
        cfg = build_config(name, set_, iterations=iterations, tol=tol, seed=seed)
        with tracked(out, mlflow, wandb) as trackers:
            metrics = train_run(
                name, env, out, cfg, demos=demos, seed=seed, eval_episodes=eval_episodes,
                overwrite=overwrite, resume=resume,
                callbacks=trainer_callbacks(name, "occupancy_l1", out, tensorboard) + trackers,
            )  # fmt: skip
        console.print(metrics_table(metrics, f"{name} on {env} vs the optimal expert"))
        corr = metrics["reward_correlation"]
        console.print(
            f"reward correlation with the true reward {'n/a' if corr is None else f'{corr:.3f}'}"
            f" · occupancy L1 to the demos {metrics['occupancy_l1']:.3f}"
            f" · {metrics['iterations']} iterations in {metrics['train_seconds']:.1f} s"
        )
        extra = ", heatmaps.png" if (out / "heatmaps.png").is_file() else ""
        console.print(f"run written to {out} (reward.npy, policy.npy, progress.csv{extra})")

    return train_cmd


add_train_commands("tabular", _command)

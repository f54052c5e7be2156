"""`protege train bc|dagger`, and `protege train --config RUN` (a re-run of any algorithm).

The other families' commands are in `tabular`, `adversarial`, `qlearning` and `transfer`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from protege.cli.app import (
    EVAL_EPISODES_OPTION,
    EXPERT_OPTION,
    MLFLOW_OPTION,
    OVERWRITE_OPTION,
    RESUME_OPTION,
    SET_OPTION,
    TENSORBOARD_OPTION,
    THREADS_OPTION,
    WANDB_OPTION,
    AlgorithmCommand,
    add_train_commands,
    console,
    metrics_table,
    rounds_table,
    tracked,
    train_app,
    trainer_callbacks,
    use_threads,
)
from protege.jobs.catalog import ALGORITHMS


@train_app.callback(invoke_without_command=True)
def train_from_config(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="Re-run an earlier run exactly: RUN_DIR/config.json (or RUN_DIR)."
    ),
    out: Path | None = typer.Option(None, "--out", help="With --config: the new run directory."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="With --config: reuse an existing run directory."
    ),
) -> None:
    """Train a policy from demonstrations into a run directory (or re-run one: --config)."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.errors import ConfigError

    if ctx.invoked_subcommand is not None:
        if config is not None or out is not None:
            raise ConfigError(
                "--config and --out before the algorithm belong to a re-run; use "
                "`protege train --config RUN/config.json --out NEW_RUN` on its own"
            )
        return
    if config is None or out is None:
        raise ConfigError(
            "give an algorithm (`protege train bc ...`, see --help) or re-run one: "
            "`protege train --config RUN/config.json --out NEW_RUN`"
        )
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.callbacks import RichProgress
    from protege.jobs.dispatch import rerun_from_config

    metrics = rerun_from_config(config, out, overwrite, [RichProgress("train")])
    console.print(metrics_table(metrics, f"{out}: re-run of {config}"))
    console.print(f"run written to {out}")


def _bc_command(name: str) -> Callable[..., None]:
    """`protege train NAME` for an algorithm of the BC family (plain BC, filtered BC...)."""

    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
        demos: str = typer.Option(..., help="*.npz, a Minari dataset dir, or a local Minari id."),
        out: Path = typer.Option(..., help="Run directory to create."),
        seed: int = typer.Option(0, help="Seeds initialisation, data split and minibatches."),
        expert: str | None = EXPERT_OPTION,
        set_: list[str] = SET_OPTION,
        eval_episodes: int = EVAL_EPISODES_OPTION,
        overwrite: bool = OVERWRITE_OPTION,
        resume: bool = RESUME_OPTION,
        tensorboard: bool = TENSORBOARD_OPTION,
        mlflow: bool = MLFLOW_OPTION,
        wandb: bool = WANDB_OPTION,
        threads: int = THREADS_OPTION,
    ) -> None:
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.jobs.bc import build_config, train_run

        use_threads(threads)
        cfg = build_config(name, set_, seed=seed)
        callbacks = trainer_callbacks(name, "loss", out, tensorboard)
        with tracked(out, mlflow, wandb) as trackers:
            metrics = train_run(
                name, env, out, cfg, demos=demos, expert=expert, eval_episodes=eval_episodes,
                overwrite=overwrite, callbacks=callbacks + trackers, resume=resume,
            )  # fmt: skip
        title = "BC" if name == "bc" else name
        console.print(metrics_table(metrics, f"{title} on {env} vs the expert"))
        console.print(f"run written to {out}")

    return train_cmd


add_train_commands("bc", _bc_command)


@train_app.command("dagger", cls=AlgorithmCommand, help=ALGORITHMS["dagger"].help)
def train_dagger_cmd(
    env: str = typer.Option(..., help="Gymnasium id."),
    out: Path = typer.Option(..., help="Run directory to create (or resume)."),
    expert: str | None = typer.Option(
        None,
        help="scripted | shipped | PATH to an SB3 .zip | module:function | human (you take "
        "over the learner in a window by holding SPACE: HG-DAgger). Default: the env's "
        "built-in expert.",
    ),
    rounds: int = typer.Option(5, min=1, help="DAgger rounds (round 0 is pure expert)."),
    labels_per_round: int = typer.Option(2000, min=1, help="Expert labels gathered per round."),
    seed: int = typer.Option(0),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a DAggerConfig field: key=value, bc.key=value for the inner BC."
    ),  # fmt: skip
    eval_episodes: int = typer.Option(10, min=1, help="Evaluation episodes after each round."),
    overwrite: bool = OVERWRITE_OPTION,
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted run from its saved rounds."
    ),
    fps: float | None = typer.Option(
        None, min=0, help="--expert human: frame-rate limit (default: the env's; 0 never waits)."
    ),
    keymap: Path | None = typer.Option(
        None, "--keymap", help="--expert human: a JSON key map (see `protege record --help`)."
    ),
    tensorboard: bool = TENSORBOARD_OPTION,
    mlflow: bool = MLFLOW_OPTION,
    wandb: bool = WANDB_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.jobs.dagger import build_config, train_run

    use_threads(threads)
    cfg = build_config("dagger", set_, rounds=rounds, labels_per_round=labels_per_round, seed=seed)
    callbacks = trainer_callbacks("dagger", "normalized_score", out, tensorboard)
    with tracked(out, mlflow, wandb) as trackers:
        metrics = train_run(
            "dagger", env, out, cfg, expert=expert, eval_episodes=eval_episodes,
            overwrite=overwrite, callbacks=callbacks + trackers, resume=resume, fps=fps,
            keymap=keymap,
        )  # fmt: skip
    console.print(rounds_table(metrics["rounds"], f"DAgger on {env}: score per round"))
    console.print(metrics_table(metrics, f"DAgger on {env} vs the expert"))
    console.print(f"run written to {out} (progress.png plots the rounds)")

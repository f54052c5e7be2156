"""`protege train iq-learn|sqil`: non-adversarial imitation by soft Q-learning.

protege collect CartPole-v1 --episodes 10 --out demos.npz
protege train iq-learn --env CartPole-v1 --demos demos.npz --out runs/iq --offline
protege train sqil --env Pendulum-v1 --demos pend.npz --out runs/sqil --steps 8000
protege train sqil ... --resume          # continue a killed run from its last checkpoint
protege train ppo --env CartPole-v1 --reward runs/iq --out runs/ppo   # reward transfer
protege eval runs/iq
"""

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
    add_train_commands,
    console,
    metrics_table,
    tracked,
    trainer_callbacks,
    use_threads,
)


def _command(name: str) -> Callable[..., None]:
    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
        demos: str = typer.Option(..., help="*.npz or Minari dataset dir recorded on ENV."),
        out: Path = typer.Option(..., help="Run directory to create (or resume)."),
        offline: bool = typer.Option(
            False,
            "--offline",
            help="Learn from the demonstrations alone: no env step (iq-learn only).",
        ),
        steps: int | None = typer.Option(
            None, min=1, help="Env steps online, updates offline (default 10000)."
        ),
        seed: int = typer.Option(0, help="Seeds the networks, minibatches and the env."),
        set_: list[str] = SET_OPTION,
        expert: str | None = EXPERT_OPTION,
        eval_episodes: int = EVAL_EPISODES_OPTION,
        overwrite: bool = OVERWRITE_OPTION,
        resume: bool = RESUME_OPTION,
        tensorboard: bool = TENSORBOARD_OPTION,
        mlflow: bool = MLFLOW_OPTION,
        wandb: bool = WANDB_OPTION,
        threads: int = THREADS_OPTION,
    ) -> None:
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.jobs.qlearning import build_config, train_run

        use_threads(threads)
        cfg = build_config(name, set_, offline=offline, steps=steps, seed=seed)
        callbacks = trainer_callbacks(name, "return_mean", out, tensorboard)
        with tracked(out, mlflow, wandb) as trackers:
            metrics = train_run(
                name, env, out, cfg, demos=demos, expert=expert, eval_episodes=eval_episodes,
                overwrite=overwrite, callbacks=callbacks + trackers, resume=resume,
            )  # fmt: skip
        mode = "offline" if offline else "online"
        console.print(metrics_table(metrics, f"{name} ({mode}) on {env} vs the expert"))
        console.print(
            f"{metrics['env_steps']} env steps, {metrics['train_seconds']:.1f} s of training"
        )
        console.print(
            f"run written to {out} (policy.pt, reward.pt2, reward.json, progress.csv, metrics.json)"
        )

    return train_cmd


add_train_commands("qlearning", _command)

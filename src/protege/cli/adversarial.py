"""`protege train gail|airl|gcl`: adversarial imitation and model-free IRL.

protege collect CartPole-v1 --episodes 10 --out demos.npz
protege train gail --env CartPole-v1 --demos demos.npz --out runs/gail --steps 60000
protege train airl --env Pendulum-v1 --demos pend.npz --out runs/airl --learner sac
protege eval runs/gail
"""

from __future__ import annotations

import math
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
    StepProgress,
    add_train_commands,
    console,
    metrics_table,
    note_rounding,
    tracked,
    use_threads,
    with_tensorboard,
)


def _round_info(i: int, row: dict[str, float]) -> str:
    """The progress bar's line for a discriminator round: the latest return and accuracy."""
    ret, acc = row.get("return_mean", math.nan), row.get("disc_accuracy", math.nan)
    return f"return {ret:.1f} · disc accuracy {acc:.2f}"


def _command(name: str) -> Callable[..., None]:
    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
        demos: str = typer.Option(..., help="*.npz or Minari dataset dir recorded on ENV."),
        out: Path = typer.Option(..., help="Run directory to create (or resume)."),
        learner: str = typer.Option(
            "ppo", help="ppo (on-policy) | sac (Box actions) | dqn (Discrete actions)."
        ),
        steps: int | None = typer.Option(None, min=1, help="Learner env steps (default 100000)."),
        seed: int = typer.Option(0, help="Seeds the learner, discriminator and envs."),
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
        from protege.jobs.adversarial import build_config, train_run

        use_threads(threads)
        cfg = build_config(name, set_, learner=learner, steps=steps, seed=seed)
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.rl import steps_taken

        note_rounding(
            cfg.steps, steps_taken(cfg.learner, cfg.steps, cfg.n_envs, cfg.learner_kwargs)
        )
        progress = StepProgress(f"{name} · {learner}", _round_info)
        callbacks = with_tensorboard(progress, out, tensorboard)
        with tracked(out, mlflow, wandb) as trackers:
            metrics = train_run(
                name, env, out, cfg, demos=demos, expert=expert, eval_episodes=eval_episodes,
                overwrite=overwrite, callbacks=callbacks + trackers, resume=resume,
            )  # fmt: skip
        console.print(metrics_table(metrics, f"{name} ({learner}) on {env} vs the expert"))
        corr = metrics.get("reward_correlation")
        console.print(
            f"reward correlation with the true reward {'n/a' if corr is None else f'{corr:.3f}'}"
            f" · {metrics['env_steps']} env steps in {metrics['train_seconds']:.1f} s"
        )
        console.print(
            f"run written to {out} (policy.zip, reward.pt2, reward.json, progress.csv, "
            "metrics.json)"
        )

    return train_cmd


add_train_commands("adversarial", _command)

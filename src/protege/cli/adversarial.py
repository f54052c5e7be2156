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

from protege.callbacks import Callback
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
    console,
    metrics_table,
    note_rounding,
    tracked,
    train_app,
    use_threads,
)
from protege.jobs.catalog import ALGORITHMS, family


class StepProgress(Callback):
    """A progress bar over env steps with the latest return and discriminator accuracy."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._progress: object | None = None

    def on_start(self, total: int, unit: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Column

        width = 2 * len(str(total)) + 1  # "2048/60000": the count is never cut, the info is
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=16),
            MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=width)),
            TextColumn(f"{unit}s"),
            TextColumn("{task.fields[info]}", table_column=Column(ratio=1, no_wrap=True)),
            TimeElapsedColumn(),
        )  # fmt: skip
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total, info="")

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if self._progress is None:
            return
        ret, acc = metrics.get("return_mean", math.nan), metrics.get("disc_accuracy", math.nan)
        info = f"return {ret:.1f} · disc accuracy {acc:.2f}"
        self._progress.update(self._task, completed=metrics["env_steps"], info=info)  # type: ignore[attr-defined]

    def on_end(self, metrics: dict[str, float]) -> None:
        if self._progress is not None:
            self._progress.stop()  # type: ignore[attr-defined]


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
        from protege.callbacks import TensorBoardLogger
        from protege.jobs.adversarial import build_config, train_run

        use_threads(threads)
        cfg = build_config(name, set_, learner=learner, steps=steps, seed=seed)
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.rl import steps_taken

        note_rounding(
            cfg.steps, steps_taken(cfg.learner, cfg.steps, cfg.n_envs, cfg.learner_kwargs)
        )
        callbacks: list[Callback] = [StepProgress(f"{name} · {learner}")]
        if tensorboard:
            callbacks.append(TensorBoardLogger(out / "tensorboard"))
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


for _name in family("adversarial"):
    train_app.command(_name, cls=AlgorithmCommand, help=ALGORITHMS[_name].help)(_command(_name))

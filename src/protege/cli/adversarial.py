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
from protege.cli import TENSORBOARD_HELP

# name: (paper, config class, what it learns). Kept here, not imported from
# protege.adversarial_jobs, so that `protege --help` does not load torch and SB3.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "gail": (
        "GAIL (Ho & Ermon 2016)",
        "GAILConfig",
        "a discriminator between expert and learner transitions; the learner is paid "
        "-log(1 - D), which is saved as the reward.",
    ),
    "airl": (
        "AIRL (Fu et al. 2018)",
        "AIRLConfig",
        "a disentangled reward g(s) (--set state_only=false: g(s, a)) plus a shaping "
        "potential, through the discriminator exp(f) / (exp(f) + π).",
    ),
    "gcl": (
        "Guided cost learning (Finn et al. 2016)",
        "GCLConfig",
        "a reward fitted by the importance-sampled maximum-entropy IOC objective on the "
        "learner's samples.",
    ),
}


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

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn(f"{unit}s"), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
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
    title, config_name, summary = COMMANDS[name]

    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
        demos: str = typer.Option(..., help="*.npz or Minari dataset dir recorded on ENV."),
        out: Path = typer.Option(..., help="Run directory to create (or resume)."),
        learner: str = typer.Option(
            "ppo", help="ppo (on-policy) | sac (Box actions) | dqn (Discrete actions)."
        ),
        steps: int | None = typer.Option(None, min=1, help="Learner env steps (default 100000)."),
        seed: int = typer.Option(0, help="Seeds the learner, discriminator and envs."),
        set_: list[str] = typer.Option(
            [], "--set", help=f"Override a {config_name} field: key=value."
        ),
        expert: str | None = typer.Option(
            None, help="Expert to compare with (default: built-in, else the demos' returns)."
        ),
        eval_episodes: int = typer.Option(20, min=1, help="Evaluation episodes."),
        overwrite: bool = typer.Option(False, help="Reuse an existing run directory."),
        resume: bool = typer.Option(False, help="Continue an interrupted run from its checkpoint."),
        tensorboard: bool = typer.Option(False, help=TENSORBOARD_HELP),
    ) -> None:
        from protege.adversarial_jobs import build_config, train_adversarial_run
        from protege.callbacks import TensorBoardLogger
        from protege.cli.main import console, metrics_table

        cfg = build_config(name, learner, steps, seed, set_)
        callbacks: list[Callback] = [StepProgress(f"{name} · {learner}")]
        if tensorboard:
            callbacks.append(TensorBoardLogger(out / "tensorboard"))
        metrics = train_adversarial_run(
            name, env, demos, out, cfg, expert, eval_episodes, overwrite, callbacks, resume
        )
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

    train_cmd.__doc__ = f"{title}: {summary}"
    return train_cmd


def register(train_app: typer.Typer) -> None:
    """Add `gail`, `airl` and `gcl` to `protege train`."""
    for name in COMMANDS:
        train_app.command(name)(_command(name))

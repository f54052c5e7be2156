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

from protege.cli import TENSORBOARD_HELP

# name: (paper, config class, what it learns). Kept here, not imported from
# protege.qlearning_jobs, so that `protege --help` does not load torch.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "iq-learn": (
        "IQ-Learn (Garg et al. 2021)",
        "IQLearnConfig",
        "one soft Q-function by the χ²-regularised inverse soft-Q objective; its policy "
        "imitates and r = Q − γV(s') is saved as the reward. --offline learns from the "
        "demonstrations alone, without a single env step.",
    ),
    "sqil": (
        "SQIL (Reddy, Dragan & Levine 2020)",
        "SQILConfig",
        "soft Q-learning with reward 1 on expert steps and 0 on its own (DQN-style for "
        "Discrete actions, SAC-style for Box); online only.",
    ),
}


def _command(name: str) -> Callable[..., None]:
    title, config_name, summary = COMMANDS[name]

    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
        demos: str = typer.Option(..., help="*.npz or Minari dataset dir recorded on ENV."),
        out: Path = typer.Option(..., help="Run directory to create (or resume)."),
        offline: bool = typer.Option(
            False, help="Learn from the demonstrations alone: no env step (iq-learn only)."
        ),
        steps: int | None = typer.Option(
            None, min=1, help="Env steps online, updates offline (default 10000)."
        ),
        seed: int = typer.Option(0, help="Seeds the networks, minibatches and the env."),
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
        from protege.cli.main import console, metrics_table, trainer_callbacks
        from protege.qlearning_jobs import build_qlearning_config, train_qlearning_run

        cfg = build_qlearning_config(name, offline, steps, seed, set_)
        metrics = train_qlearning_run(
            name, env, demos, out, cfg, expert, eval_episodes, overwrite,
            trainer_callbacks(name, "return_mean", out, tensorboard), resume=resume,
        )  # fmt: skip
        mode = "offline" if offline else "online"
        console.print(metrics_table(metrics, f"{name} ({mode}) on {env} vs the expert"))
        console.print(
            f"{metrics['env_steps']} env steps, {metrics['train_seconds']:.1f} s of training"
        )
        console.print(
            f"run written to {out} (policy.pt, reward.pt2, reward.json, progress.csv, metrics.json)"
        )

    train_cmd.__doc__ = f"{title}: {summary}"
    return train_cmd


def register(train_app: typer.Typer) -> None:
    """Add `iq-learn` and `sqil` to `protege train`."""
    for name in COMMANDS:
        train_app.command(name)(_command(name))

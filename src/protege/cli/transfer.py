"""`protege train ppo|sac|dqn --reward RUN`: reward transfer, a fresh learner on a learned reward.

protege train iq-learn --env CartPole-v1 --demos demos.npz --out runs/iq --offline
protege train ppo --env CartPole-v1 --reward runs/iq --out runs/ppo-on-iq --steps 50000
protege eval runs/ppo-on-iq

The learner never sees the env's reward: every step is paid by the saved reward.pt2 of
RUN (IQ-Learn, SQIL, GAIL, AIRL, GCL); the true return is what `protege eval` measures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from protege.cli.app import (
    EVAL_EPISODES_OPTION,
    OVERWRITE_OPTION,
    THREADS_OPTION,
    console,
    metrics_table,
    note_rounding,
    train_app,
    use_threads,
)
from protege.jobs.catalog import LEARNERS


def _command(name: str) -> Callable[..., None]:
    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the reward was learned on."),
        reward: Path = typer.Option(
            ..., help="Run directory holding a learned reward (reward.pt2 + reward.json)."
        ),
        out: Path = typer.Option(..., help="Run directory to create."),
        steps: int = typer.Option(100_000, min=1, help="Env steps of the learner."),
        seed: int = typer.Option(0, help="Seeds the learner and its envs."),
        demos: str | None = typer.Option(
            None, help="Demonstrations for the comparison (default: the reward run's)."
        ),
        expert: str | None = typer.Option(
            None, help="Expert to compare with (default: the reward run's, else built-in)."
        ),
        eval_episodes: int = EVAL_EPISODES_OPTION,
        overwrite: bool = OVERWRITE_OPTION,
        threads: int = THREADS_OPTION,
    ) -> None:
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.jobs.transfer import train_on_reward_run
        from protege.rl import rich_progress_callback

        use_threads(threads)
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.rl import steps_taken

        note_rounding(steps, steps_taken(name, steps, n_envs=8))
        progress = rich_progress_callback(steps, f"{name} on {reward.name}'s reward")
        metrics = train_on_reward_run(
            name, env, reward, out, steps, seed, demos, expert, eval_episodes, overwrite,
            progress,
        )  # fmt: skip
        console.print(metrics_table(metrics, f"{name} on the reward of {reward} vs the expert"))
        console.print(
            f"{metrics['env_steps']} env steps, {metrics['train_seconds']:.1f} s of training"
        )
        console.print(f"run written to {out} (policy.zip, config.json, metrics.json)")

    train_cmd.__doc__ = (
        f"Reward transfer with {LEARNERS[name]}: train a fresh policy on a learned reward "
        "(--reward RUN) instead of the env's own."
    )
    return train_cmd


for _name in LEARNERS:
    train_app.command(_name)(_command(_name))

"""`protege train t-rex|d-rex|preferences`: reward learning from ranked (or automatically
ranked) demonstrations or from preferences between segments, then RL on the learned
reward.

protege collect Pendulum-v1 --episodes 4 --noise-schedule 0.6,0.8,1.0 --out mixed.npz
protege train t-rex --env Pendulum-v1 --demos mixed.npz --out runs/t-rex --learner sac
protege train d-rex --env CartPole-v1 --demos demos.npz --out runs/d-rex --steps 60000
protege train preferences --env Pendulum-v1 --out runs/prefs --learner sac --steps 20000
protege train preferences --env Pendulum-v1 --out runs/mine --set labeller=human
protege compare-rewards runs/t-rex runs/d-rex
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import typer

from protege.cli.app import (
    EVAL_EPISODES_OPTION,
    EXPERT_OPTION,
    OVERWRITE_OPTION,
    RESUME_OPTION,
    SET_OPTION,
    TENSORBOARD_OPTION,
    THREADS_OPTION,
    StepProgress,
    add_train_commands,
    console,
    metrics_table,
    note_rounding,
    use_threads,
    with_tensorboard,
)
from protege.jobs.catalog import ALGORITHMS


def _row_info(i: int, row: dict[str, float]) -> str:
    """The progress bar's line: the reward fit's epoch and held-out pair accuracy first
    (stage 0), then the learner's latest true return."""
    if row.get("stage") == 0.0:
        acc = row.get("reward_val_accuracy", math.nan)
        return f"reward epoch {i + 1} · held-out pair accuracy {acc:.2f}"
    return f"return {row.get('return_mean', math.nan):.1f}"


def _command(name: str) -> Callable[..., None]:
    def train_cmd(
        env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
        demos: str | None = typer.Option(
            ... if ALGORITHMS[name].needs_demos else None,
            help="*.npz or Minari dataset dir recorded on ENV"
            + ("." if ALGORITHMS[name].needs_demos else " (optional: its stored preferences)."),
        ),
        out: Path = typer.Option(..., help="Run directory to create (or resume)."),
        learner: str = typer.Option(
            "ppo", help="ppo (on-policy) | sac (Box actions) | dqn (Discrete actions)."
        ),
        steps: int | None = typer.Option(None, min=1, help="Learner env steps (default 100000)."),
        seed: int = typer.Option(0, help="Seeds the pairs, reward nets, learner and envs."),
        set_: list[str] = SET_OPTION,
        expert: str | None = EXPERT_OPTION,
        eval_episodes: int = EVAL_EPISODES_OPTION,
        overwrite: bool = OVERWRITE_OPTION,
        resume: bool = RESUME_OPTION,
        tensorboard: bool = TENSORBOARD_OPTION,
        threads: int = THREADS_OPTION,
    ) -> None:
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege.jobs.ranking import build_config, train_run
        from protege.rl import steps_taken

        use_threads(threads)
        cfg = build_config(name, set_, learner=learner, steps=steps, seed=seed)
        note_rounding(
            cfg.steps, steps_taken(cfg.learner, cfg.steps, cfg.n_envs, cfg.learner_kwargs)
        )
        progress = StepProgress(f"{name} · {learner}", _row_info)
        callbacks = with_tensorboard(progress, out, tensorboard)
        metrics = train_run(
            name,
            env,
            out,
            cfg,
            demos=demos,
            expert=expert,
            eval_episodes=eval_episodes,
            overwrite=overwrite,
            callbacks=callbacks,
            resume=resume,
        )
        console.print(metrics_table(metrics, f"{name} ({learner}) on {env} vs the expert"))
        best_demo = metrics.get("demo_return_best")
        if best_demo is not None:
            console.print(
                f"best demonstration {best_demo:.1f} · learner {metrics['return_mean']:.1f}"
            )
        acc, tau = metrics.get("reward_val_accuracy"), metrics.get("reward_tau_return")
        console.print(
            f"reward: held-out pair accuracy {'n/a' if acc is None else f'{acc:.2f}'} · "
            f"Kendall τ with the ranked episodes' true returns "
            f"{'n/a' if tau is None else f'{tau:.2f}'} · paid '{metrics['reward_transform']}'"
            f" · {metrics['env_steps']} env steps in {metrics['train_seconds']:.1f} s"
        )
        if metrics.get("ranked_by") in ("synthetic", "human"):  # preferences' own labels
            who = "yours" if metrics["ranked_by"] == "human" else "the simulated labeller's"
            stop = ", labelling stopped with Q" if metrics.get("labelling_stopped") else ""
            console.print(
                f"labels: {metrics['queries']} answers, {who}{stop}; kept with their episodes "
                f"in {out / 'rounds' / 'preferences.npz'}"
            )
        console.print(
            f"run written to {out} (policy.zip, reward.pt2, reward.json, progress.csv, "
            "metrics.json)"
        )

    return train_cmd


add_train_commands("ranking", _command)

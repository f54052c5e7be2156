"""The job behind `protege train dagger`: DAgger and HG-DAgger into a run directory.

A run directory holds config.json, rounds/round_NNN.npz (each round's expert labels,
written before the fit, so `--resume` continues an interrupted run and reproduces the
same policy), policy.pt, progress.csv (one row per round), progress.png and metrics.json.

    cfg = build_config("dagger", rounds=4, labels_per_round=500)
    metrics = train_run("dagger", "LunarLander-v3", "runs/dagger", cfg, expert="scripted")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from protege.algorithms.bc import HEAD_SETTINGS
from protege.algorithms.best import BestSoFar
from protege.algorithms.dagger import DAggerConfig, train_dagger
from protege.callbacks import Callback
from protege.data.rollout import Policy, RandomPolicy
from protege.envs import make_env, resolve_env
from protege.errors import ConfigError
from protege.evaluation import evaluate_returns, normalized_score
from protege.experts import load_expert
from protege.jobs import catalog
from protege.jobs.common import (
    ROUNDS,
    best_metrics,
    configure,
    default_expert,
    evaluate_against_expert,
    human_expert_returns,
    logged,
    open_run,
    run_config,
    run_job,
    save_policy,
)
from protege.reports.plots import plot_rounds

ROUND_SEED = 20_000
"""The score after each round, which chooses the best round, is measured on episode seeds
20000+, apart from the final comparison's (EVAL_SEED), so that choice is not fitted to it."""


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> DAggerConfig:
    """DAggerConfig from the CLI's flags (--rounds, --labels-per-round, --seed), then --set
    (bc.key=value for the inner BC; the policy's own settings, `HEAD_SETTINGS` such as
    policy=gmm or history=4, may leave out the "bc.")."""
    forwarded = [_to_bc(o) for o in overrides]
    cfg: DAggerConfig = configure(catalog.get(algo), forwarded, **flags)
    return cfg


def _to_bc(override: str) -> str:
    """A policy setting given to DAgger itself ("policy=gmm") as the inner BC's."""
    key = override.partition("=")[0].strip()
    return f"bc.{override.strip()}" if key in HEAD_SETTINGS else override


@run_job
def train_run(
    algo: str,
    env_id: str,
    out: str | Path,
    cfg: DAggerConfig,
    *,
    demos: str | Path | None = None,
    expert: str | None = None,
    seed: int = 0,
    eval_episodes: int = 10,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
    on_frame: Callable[[int], None] | None = None,
    fps: float | None = None,
    keymap: str | Path | None = None,
) -> dict[str, Any]:
    """DAgger into a run directory: per-round datasets, per-round scores, progress.png.

    demos is unused (the expert labels the learner's own states); `seed` too (`cfg.seed`).

    expert "human": a person labels by taking over the learner in a window (HG-DAgger); their
    return, the 1 of the normalised score, is that of the episodes they drove in round 0.
    fps: the person's frame-rate limit (default: the env's); keymap: a JSON key map file
    (default: the env's built-in one); on_frame: scripted input, tests.
    """
    if expert is None:
        resolve_env(env_id)  # an unknown env or unsupported spaces is the clearer error
    expert = expert if expert is not None else default_expert(env_id)
    if expert is None:
        raise ConfigError(
            f"dagger on {env_id}: protege has no built-in expert for it; pass --expert"
        )
    spaces = resolve_env(env_id).spaces
    human = expert == "human"
    if human:
        from protege.experts.human import Teleop, default_fps, human_collector, keymap_for

        keys = keymap_for(env_id, keymap)  # no or a bad key map fails before anything runs
    expert_policy = None if human else load_expert(expert, env_id)
    config = run_config(algo, env_id, cfg, demos=None, expert=expert,
                        eval_episodes=eval_episodes)  # fmt: skip
    run = open_run(out, config, overwrite, resume)
    rand = evaluate_returns(
        env_id, RandomPolicy(spaces.action, ROUND_SEED), eval_episodes, ROUND_SEED
    )
    expert_mean: list[float] = []  # measured once; for a person, after round 0 exists
    best, rounds = BestSoFar(), [0]

    def evaluate(policy: Policy) -> dict[str, float]:
        if not expert_mean:
            expert_mean.append(
                human_expert_returns(run).mean
                if expert_policy is None
                else evaluate_returns(env_id, expert_policy, eval_episodes, ROUND_SEED).mean
            )
        stats = evaluate_returns(env_id, policy, eval_episodes, ROUND_SEED)
        if isinstance(policy, nn.Module):
            best.offer(stats.mean, rounds[0], policy)
        rounds[0] += 1
        score = normalized_score(stats.mean, expert_mean[0], rand.mean)
        return {"return_mean": stats.mean, "normalized_score": score}

    collect = None
    if human:
        env = make_env(env_id, render_mode="rgb_array")  # one env for every round's window
        rate = default_fps(env, keys) if fps is None else fps
        teleop = Teleop(
            keys, spaces.action, fps=rate, ramp_fps=rate or default_fps(env, keys),
            title=f"protege DAgger · {env_id}",
        )  # fmt: skip
        collect = human_collector(env, teleop, cfg.labels_per_round, on_frame)
    try:
        result = train_dagger(
            expert_policy, spaces, cfg, logged(run, callbacks),
            env=env_id, checkpoint=run / ROUNDS, evaluate=evaluate, collect=collect,
        )  # fmt: skip
    finally:
        if human:
            teleop.close()
            env.close()
    save_policy(run, result.policy, best)  # the best round's policy beside the last one
    plot_rounds(result.history, run / "progress.png", title=f"DAgger on {env_id}")
    return evaluate_against_expert(run, eval_episodes, result.train_seconds,
                                   training=best_metrics(best))  # fmt: skip

"""The jobs behind `protege train gail|airl|gcl`: adversarial IRL into a run directory.

config.json    algo, env, demos and every setting
policy.zip     the SB3 learner (loadable by SB3 alone, or `protege eval`)
reward.pt2     the learned reward as a standalone `torch.export` program, and
reward.json    what it means (`protege.rewards.load_reward` reads both)
progress.csv   one row per discriminator round: env_steps, return_mean (true return of
               recent training episodes), disc_accuracy, expert_reward, learner_reward
metrics.json   returns vs the expert and a random policy on the same seeds; where the
               env pays a non-constant reward, the Pearson correlation of learned and
               true reward on held-out expert and learner transitions
checkpoints/   ALGO.pt, the whole training state every 10 rounds, for `resume`

cfg = build_config("gail", learner="ppo", steps=100_000)
metrics = train_adversarial_run("gail", "CartPole-v1", "demos.npz", "runs/gail", cfg)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from protege.algorithms.adversarial import (
    AdversarialConfig,
    AdversarialResult,
    AIRLConfig,
    GAILConfig,
    GCLConfig,
    train_airl,
    train_gail,
    train_gcl,
)
from protege.callbacks import Callback, CSVLogger
from protege.config import apply_overrides
from protege.data.rollout import Policy, rollout
from protege.data.types import Transitions, flatten_trajectories
from protege.envs import env_spaces
from protege.errors import ConfigError
from protege.evaluation import pearson
from protege.experts import load_expert
from protege.jobs import (
    CHECKPOINTS,
    EVAL_SEED,
    default_expert,
    evaluate_run,
    load_demos,
    open_run,
    run_config,
)
from protege.rewards import RewardFn, save_reward
from protege.rl import ALGOS, check_learner, save_sb3
from protege.runs import METRICS, PROGRESS, SB3_POLICY, write_json_atomic

Train = Callable[..., AdversarialResult]
ADVERSARIAL_ALGOS: dict[str, tuple[type[AdversarialConfig], Train]] = {
    "gail": (GAILConfig, train_gail),
    "airl": (AIRLConfig, train_airl),
    "gcl": (GCLConfig, train_gcl),
}
REWARD_MEANING = {
    "gail": "-log(1 - D(s, a)), GAIL's reward for the learner (higher = more expert-like)",
    "airl": "g, AIRL's disentangled reward (the shaping potential h is left out)",
    "gcl": "r = -c, the cost learned by guided cost learning, negated",
}
CORRELATION_EPISODES = 5
"""Held-out episodes of the expert and of the learner scored by both rewards (seeds 10000+)."""


def build_config(
    algo: str,
    learner: str = "ppo",
    steps: int | None = None,
    seed: int = 0,
    overrides: Sequence[str] = (),
) -> AdversarialConfig:
    """The algorithm's config from the CLI's flags: --learner, --steps, --seed, then --set."""
    if algo not in ADVERSARIAL_ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; choose one of gail, airl, gcl")
    if learner not in ALGOS:
        raise ConfigError(f"--learner {learner}: choose one of {', '.join(ALGOS)}")
    cls = ADVERSARIAL_ALGOS[algo][0]
    changes: dict[str, Any] = {"learner": learner, "seed": seed}
    if steps is not None:
        changes["steps"] = steps
    return apply_overrides(dataclasses.replace(cls(), **changes), overrides)


def train_adversarial_run(
    algo: str,
    env_id: str,
    demos_path: str | Path,
    out: str | Path,
    cfg: AdversarialConfig,
    expert: str | None = None,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """GAIL, AIRL or GCL into a run directory, then the comparison with the expert.

    The training state is checkpointed every 10 rounds (checkpoints/ALGO.pt); `resume`
    continues an interrupted run from it (from the start when it has none yet).
    """
    cls, train = ADVERSARIAL_ALGOS[algo]
    if not isinstance(cfg, cls):
        raise ConfigError(f"{algo} needs a {cls.__name__}, got {type(cfg).__name__}")
    demos = load_demos(demos_path, env_id)  # first: a missing or mismatched file fails here
    spaces = env_spaces(env_id)
    try:
        check_learner(cfg.learner, spaces.action, env_id)
    except ConfigError as exc:
        fits = "sac or ppo" if cfg.learner == "dqn" else "dqn or ppo"
        raise ConfigError(f"--learner {cfg.learner}: {exc}; use --learner {fits}") from None
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(algo, env_id, demos_path, expert, eval_episodes, cfg)
    run = open_run(out, config, overwrite, resume)
    transitions = flatten_trajectories(demos.trajectories)
    result = train(env_id, transitions, cfg, [CSVLogger(run / PROGRESS), *callbacks],
                   checkpoint=run / CHECKPOINTS / f"{algo}.pt")  # fmt: skip
    save_sb3(result.model, run / SB3_POLICY)
    meaning = REWARD_MEANING[algo]
    if getattr(cfg, "reward_sign", "positive") == "negative":
        meaning = "log D(s, a), GAIL's reward with reward_sign=negative (0 = expert-like)"
    save_reward(result.reward, run, meaning=meaning, algo=algo)
    metrics = evaluate_run(run, eval_episodes, train_seconds=result.train_seconds)
    metrics["env_steps"] = result.env_steps
    expert_policy = load_expert(expert, env_id) if expert is not None else None
    metrics.update(reward_correlation(env_id, result.reward.predict, result.policy, expert_policy))
    write_json_atomic(run / METRICS, metrics)
    return metrics


def _scored(env_id: str, policy: Policy, reward: RewardFn) -> tuple[np.ndarray, np.ndarray]:
    """(learned, true) rewards of held-out episodes of `policy` (seeds 10000, ...)."""
    t: Transitions = flatten_trajectories(
        rollout(env_id, policy, CORRELATION_EPISODES, seed=EVAL_SEED)
    )
    assert t.rews is not None
    return reward(t.obs, t.acts, t.next_obs, t.terminated), t.rews


def reward_correlation(
    env_id: str, reward: RewardFn, learner: Policy, expert: Policy | None
) -> dict[str, float | None]:
    """Pearson correlation of learned and true reward on held-out learner transitions,
    expert transitions (when there is an expert to run) and both together."""
    learned, true = _scored(env_id, learner, reward)
    out: dict[str, float | None] = {"reward_correlation_learner": pearson(learned, true)}
    if expert is not None:
        e_learned, e_true = _scored(env_id, expert, reward)
        out["reward_correlation_expert"] = pearson(e_learned, e_true)
        learned, true = np.concatenate([learned, e_learned]), np.concatenate([true, e_true])
    out["reward_correlation"] = pearson(learned, true)
    return out

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
checkpoints/   ALGO.pt, the whole training state every `protege.checkpoint.CHECKPOINT_EVERY`
               (10) rounds, for `resume`

cfg = build_config("gail", learner="ppo", steps=100_000)
metrics = train_run("gail", "CartPole-v1", "runs/gail", cfg, demos="demos.npz")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from protege.algorithms.adversarial import AdversarialConfig
from protege.callbacks import Callback
from protege.data.rollout import Policy, rollout
from protege.data.types import Transitions, flatten_trajectories
from protege.envs import resolve_env
from protege.evaluation import pearson
from protege.experts import load_expert
from protege.jobs import catalog
from protege.jobs.common import (
    CHECKPOINTS,
    EVAL_SEED,
    best_metrics,
    check_learner_fits,
    check_learner_flag,
    configure,
    default_expert,
    evaluate_against_expert,
    job_entry,
    load_demos,
    logged,
    open_run,
    require_demos,
    run_config,
    run_job,
    save_sb3_policy,
)
from protege.rewards import RewardFn, save_reward

REWARD_MEANING = {
    "gail": "-log(1 - D(s, a)), GAIL's reward for the learner (higher = more expert-like)",
    "airl": "g, AIRL's disentangled reward (the shaping potential h is left out)",
    "gcl": "r = -c, the cost learned by guided cost learning, negated",
}
CORRELATION_EPISODES = 5
"""Held-out episodes of the expert and of the learner scored by both rewards (seeds 10000+)."""


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> AdversarialConfig:
    """The algorithm's config from the CLI's flags: --learner, --steps, --seed, then --set."""
    check_learner_flag(flags.get("learner"))
    cfg: AdversarialConfig = configure(catalog.get(algo), overrides, **flags)
    return cfg


@run_job
def train_run(
    algo: str,
    env_id: str,
    out: str | Path,
    cfg: AdversarialConfig,
    *,
    demos: str | Path | None = None,
    expert: str | None = None,
    seed: int = 0,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """GAIL, AIRL or GCL into a run directory, then the comparison with the expert.

    The training state is checkpointed every `CHECKPOINT_EVERY` (10) rounds
    (checkpoints/ALGO.pt); `resume` continues an interrupted run from it (from the start
    when it has none yet). `seed` is unused: the learner, discriminator and envs are
    seeded by `cfg.seed`.
    """
    train = job_entry(algo, cfg).train_fn()
    demos_path = require_demos(algo, demos)
    env = resolve_env(env_id)  # once: the spaces, the demos check and the learner use it
    data = load_demos(demos_path, env)  # first: a missing or mismatched file fails here
    spaces = env.spaces
    check_learner_fits(cfg.learner, spaces, env_id)
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(algo, env_id, cfg, demos=demos_path, expert=expert,
                        eval_episodes=eval_episodes)  # fmt: skip
    run = open_run(out, config, overwrite, resume)
    transitions = flatten_trajectories(data.trajectories)
    result = train(transitions, spaces, cfg, logged(run, callbacks),
                   env=env_id, checkpoint=run / CHECKPOINTS / f"{algo}.pt")  # fmt: skip
    save_sb3_policy(run, result.model, result.best)
    meaning = REWARD_MEANING[algo]
    if getattr(cfg, "reward_sign", "positive") == "negative":
        meaning = "log D(s, a), GAIL's reward with reward_sign=negative (0 = expert-like)"
    save_reward(result.reward, run, meaning=meaning, algo=algo)
    expert_policy = load_expert(expert, env_id) if expert is not None else None
    training: dict[str, Any] = {"env_steps": result.env_steps, **best_metrics(result.best)}
    training.update(reward_correlation(env_id, result.reward.predict, result.policy, expert_policy))
    return evaluate_against_expert(run, eval_episodes, result.train_seconds, training=training)


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

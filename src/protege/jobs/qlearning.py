"""The jobs behind `protege train iq-learn|sqil`: non-adversarial imitation by soft
Q-learning, into a run directory.

An IQ-Learn or SQIL run directory holds

config.json    algo, env, demos, expert and every setting (offline included)
policy.pt      the learned policy (softmax(Q/α) for Discrete actions, the actor for Box)
reward.pt2     the recovered reward r = Q(s, a) − γ·(1 − done)·V(s') as a standalone
reward.json    `torch.export` program, and what it means (`protege.rewards.load_reward`)
progress.csv   one row per `log_every` steps: losses, expert and learner reward, the
               return of recent training episodes (online) and of `PROGRESS_EPISODES`
               evaluation episodes
metrics.json   returns against the expert and a random policy on the same seeds, the
               env steps taken (0 offline) and the training time
checkpoints/   qlearning.pt: the whole training state at the last progress row, from
               which `--resume` continues an interrupted run

    cfg = build_config("iq-learn", offline=True, steps=3000)
    metrics = train_run("iq-learn", "CartPole-v1", "runs/iq", cfg, demos="demos.npz")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from protege.algorithms.qlearning import IQLearnConfig, SQILConfig
from protege.callbacks import Callback
from protege.data.rollout import Policy, RandomPolicy
from protege.data.types import flatten_trajectories
from protege.envs import EnvHandle, resolve_env
from protege.errors import ConfigError
from protege.evaluation import evaluate_returns, normalized_score
from protege.experts import load_expert
from protege.jobs import catalog
from protege.jobs.common import (
    CHECKPOINTS,
    best_metrics,
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
    save_policy,
)
from protege.rewards import save_reward

PROGRESS_EPISODES = 5
"""Evaluation episodes behind each progress row's return_mean (seeds PROGRESS_SEED...)."""
PROGRESS_SEED = 20_000
"""Progress evaluations, which choose the best policy, use seeds apart from the final
comparison's (EVAL_SEED), so that choice is not fitted to the test."""
REWARD_MEANING = {
    "iq-learn": "r = Q(s,a) - gamma*(1-done)*V(s'), IQ-Learn's recovered reward (inverse "
    "soft Bellman operator); at a terminal step Q(s,a), which holds the absorbing value",
    "sqil": "r = Q(s,a) - gamma*(1-done)*V(s'), the reward SQIL's soft Q-function is "
    "optimal for (trained on 1 for expert and 0 for its own steps)",
}
QLearningConfig = IQLearnConfig | SQILConfig
CHECKPOINT = "qlearning.pt"  # in the run's checkpoints/ folder
ROWS_PER_CHECKPOINT = 1
"""Progress rows between checkpoints, not the trainers' default `CHECKPOINT_EVERY` (10):
each row is already `log_every` steps and an evaluation, so saving the state (replay
buffer included) at every row costs little, and a killed run loses at most one row."""


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> QLearningConfig:
    """The algorithm's config from the CLI's flags: --offline, --steps, --seed, then --set."""
    if algo == "sqil" and flags.get("offline"):
        raise ConfigError(
            "sqil --offline: SQIL learns from its own transitions (reward 0) as well as "
            "the expert's, so it needs the env; use `protege train iq-learn --offline`"
        )
    cfg: QLearningConfig = configure(catalog.get(algo), overrides, **flags)
    return cfg


def _progress_evaluator(env: EnvHandle, expert: str | None) -> Any:
    """Return (and normalised score, where an expert can be run) on PROGRESS_EPISODES."""
    env_id, spaces = env.id, env.spaces
    random = evaluate_returns(
        env.factory, RandomPolicy(spaces.action, PROGRESS_SEED), PROGRESS_EPISODES, PROGRESS_SEED
    )
    expert_mean = None
    if expert is not None:
        reference = load_expert(expert, env_id, spaces)
        expert_mean = evaluate_returns(
            env.factory, reference, PROGRESS_EPISODES, PROGRESS_SEED
        ).mean

    def evaluate(policy: Policy) -> dict[str, float]:
        stats = evaluate_returns(env.factory, policy, PROGRESS_EPISODES, PROGRESS_SEED)
        row = {"return_mean": stats.mean}
        if expert_mean is not None:
            row["normalized_score"] = normalized_score(stats.mean, expert_mean, random.mean)
        return row

    return evaluate


@run_job
def train_run(
    algo: str,
    env_id: str,
    out: str | Path,
    cfg: QLearningConfig,
    *,
    demos: str | Path | None = None,
    expert: str | None = None,
    seed: int = 0,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """IQ-Learn or SQIL into a run directory, then the comparison with the expert.

    The training state is checkpointed at every progress row (checkpoints/qlearning.pt);
    `resume` continues an interrupted run from it (or starts one where there is none).
    `seed` is unused: the networks, minibatches and env are seeded by `cfg.seed`.
    """
    train = job_entry(algo, cfg).train_fn()
    demos_path = require_demos(algo, demos)
    handle = resolve_env(env_id)  # once: the demos check, the env and the evaluator use it
    data = load_demos(demos_path, handle)  # first: a missing or mismatched file fails here
    offline = isinstance(cfg, IQLearnConfig) and cfg.offline
    # the id, not a factory: it also tells the trainer whether normalize_obs=auto is on
    # (MuJoCo); offline, it is only read for that, and no env is built
    env = handle.id
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(algo, env_id, cfg, demos=demos_path, expert=expert,
                        eval_episodes=eval_episodes, offline=offline)  # fmt: skip
    run = open_run(out, config, overwrite, resume)
    transitions = flatten_trajectories(data.trajectories)
    evaluate = _progress_evaluator(handle, expert) if cfg.eval_every > 0 else None
    result = train(transitions, data.spaces, cfg, logged(run, callbacks), env=env,
                   evaluate=evaluate, checkpoint=run / CHECKPOINTS / CHECKPOINT,
                   checkpoint_every=ROWS_PER_CHECKPOINT)  # fmt: skip
    save_policy(run, result.policy, result.best)
    save_reward(result.reward, run, meaning=REWARD_MEANING[algo], algo=algo, gamma=cfg.gamma)
    training: dict[str, Any] = {"env_steps": result.env_steps, **best_metrics(result.best)}
    return evaluate_against_expert(run, eval_episodes, result.train_seconds, training=training)

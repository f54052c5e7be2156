"""The jobs behind `protege train iq-learn|sqil` and reward transfer (`train ppo|sac|dqn`).

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

A reward-transfer run (a fresh SB3 learner trained on a saved reward instead of the env's)
holds config.json (with the reward run it used), policy.zip and metrics.json, so
`protege eval` treats it like any other run.

    cfg = build_qlearning_config("iq-learn", offline=True, steps=3000)
    metrics = train_qlearning_run("iq-learn", "CartPole-v1", "demos.npz", "runs/iq", cfg)
    transfer = train_on_reward_run("ppo", "CartPole-v1", "runs/iq", "runs/ppo", steps=50_000)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import protege
from protege.algorithms.qlearning import IQLearnConfig, SQILConfig, train_iq_learn, train_sqil
from protege.callbacks import Callback, CSVLogger
from protege.config import apply_overrides, config_from_dict
from protege.data.rollout import Policy, RandomPolicy
from protege.data.types import flatten_trajectories
from protege.envs import env_factory, env_spaces
from protege.errors import ConfigError, RunDirError
from protege.evaluation import evaluate_returns, normalized_score
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
from protege.rewards import REWARD_FILE, load_reward, save_reward
from protege.rl import ALGOS, LEARNER_DEFAULTS, check_learner, save_sb3, train_on_reward
from protege.runs import (
    CONFIG,
    METRICS,
    POLICY,
    PROGRESS,
    SB3_POLICY,
    prepare_run_dir,
    read_config,
    write_json_atomic,
)

QLEARNING_ALGOS = ("iq-learn", "sqil")
PROGRESS_EPISODES = 5
"""Evaluation episodes behind each progress row's return_mean (seeds EVAL_SEED...)."""
REWARD_MEANING = {
    "iq-learn": "r = Q(s,a) - gamma*(1-done)*V(s'), IQ-Learn's recovered reward (inverse "
    "soft Bellman operator); at a terminal step Q(s,a), which holds the absorbing value",
    "sqil": "r = Q(s,a) - gamma*(1-done)*V(s'), the reward SQIL's soft Q-function is "
    "optimal for (trained on 1 for expert and 0 for its own steps)",
}
QLearningConfig = IQLearnConfig | SQILConfig
CHECKPOINT = "qlearning.pt"  # in the run's checkpoints/ folder
CHECKPOINT_EVERY = 1
"""Progress rows between checkpoints: each row is already `log_every` steps and an
evaluation, so saving the state (replay buffer included) at every row costs little."""


def build_qlearning_config(
    algo: str,
    offline: bool = False,
    steps: int | None = None,
    seed: int = 0,
    overrides: Sequence[str] = (),
) -> QLearningConfig:
    """The algorithm's config from the CLI's flags: --offline, --steps, --seed, then --set."""
    if algo not in QLEARNING_ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; choose one of iq-learn, sqil")
    changes: dict[str, Any] = {"seed": seed}
    if steps is not None:
        changes["steps"] = steps
    if algo == "sqil":
        if offline:
            raise ConfigError(
                "sqil --offline: SQIL learns from its own transitions (reward 0) as well as "
                "the expert's, so it needs the env; use `protege train iq-learn --offline`"
            )
        return apply_overrides(dataclasses.replace(SQILConfig(), **changes), overrides)
    cfg = IQLearnConfig(offline=offline)
    return apply_overrides(dataclasses.replace(cfg, **changes), overrides)


def _progress_evaluator(env_id: str, expert: str | None) -> Any:
    """Return (and normalised score, where an expert can be run) on PROGRESS_EPISODES."""
    spaces = env_spaces(env_id)
    random = evaluate_returns(
        env_id, RandomPolicy(spaces.action, EVAL_SEED), PROGRESS_EPISODES, EVAL_SEED
    )
    expert_mean = None
    if expert is not None:
        reference = load_expert(expert, env_id)
        expert_mean = evaluate_returns(env_id, reference, PROGRESS_EPISODES, EVAL_SEED).mean

    def evaluate(policy: Policy) -> dict[str, float]:
        stats = evaluate_returns(env_id, policy, PROGRESS_EPISODES, EVAL_SEED)
        row = {"return_mean": stats.mean}
        if expert_mean is not None:
            row["normalized_score"] = normalized_score(stats.mean, expert_mean, random.mean)
        return row

    return evaluate


def train_qlearning_run(
    algo: str,
    env_id: str,
    demos_path: str | Path,
    out: str | Path,
    cfg: QLearningConfig,
    expert: str | None = None,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """IQ-Learn or SQIL into a run directory, then the comparison with the expert.

    The training state is checkpointed at every progress row (checkpoints/qlearning.pt);
    `resume` continues an interrupted run from it (or starts one where there is none).
    """
    if algo not in QLEARNING_ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; choose one of iq-learn, sqil")
    wanted = IQLearnConfig if algo == "iq-learn" else SQILConfig
    if not isinstance(cfg, wanted):
        raise ConfigError(f"{algo} needs a {wanted.__name__}, got {type(cfg).__name__}")
    demos = load_demos(demos_path, env_id)  # first: a missing or mismatched file fails here
    offline = isinstance(cfg, IQLearnConfig) and cfg.offline
    env = None if offline else env_factory(env_id)
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(algo, env_id, demos_path, expert, eval_episodes, cfg, offline=offline)
    run = open_run(out, config, overwrite, resume)
    transitions = flatten_trajectories(demos.trajectories)
    evaluate = _progress_evaluator(env_id, expert) if cfg.eval_every > 0 else None
    logged = [CSVLogger(run / PROGRESS), *callbacks]
    saving = (run / CHECKPOINTS / CHECKPOINT, CHECKPOINT_EVERY)
    if isinstance(cfg, IQLearnConfig):
        result: Any = train_iq_learn(transitions, demos.spaces, cfg, env, logged, evaluate, *saving)
    else:
        result = train_sqil(transitions, demos.spaces, cfg, env, logged, evaluate, *saving)
    result.policy.save(run / POLICY)
    save_reward(result.reward, run, meaning=REWARD_MEANING[algo], algo=algo, gamma=cfg.gamma)
    metrics = evaluate_run(run, eval_episodes, train_seconds=result.train_seconds)
    metrics["env_steps"] = result.env_steps
    write_json_atomic(run / METRICS, metrics)
    return metrics


def rerun_qlearning(
    config: dict[str, Any], out: str | Path, overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:  # fmt: skip
    """Train a new run from an IQ-Learn or SQIL run's config.json (as read)."""
    algo = config["algo"]
    cfg: QLearningConfig
    if algo == "iq-learn":
        cfg = config_from_dict(IQLearnConfig, config["config"])
    else:
        cfg = config_from_dict(SQILConfig, config["config"])
    return train_qlearning_run(
        algo, config["env"], config["demos"], out, cfg, config.get("expert"),
        int(config.get("eval_episodes", 20)), overwrite, callbacks,
    )  # fmt: skip


def train_on_reward_run(
    algo: str,
    env_id: str,
    reward_dir: str | Path,
    out: str | Path,
    steps: int = 100_000,
    seed: int = 0,
    demos: str | None = None,
    expert: str | None = None,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callback: Any = None,
) -> dict[str, Any]:
    """Reward transfer: a fresh SB3 `algo` trained on the reward saved in `reward_dir`
    (any run that wrote reward.pt2), in place of `env_id`'s own reward.

    demos: the demonstrations the comparison uses (action agreement; the expert's returns
        where no expert can be run); default: the reward run's own, from its config.json.
    """
    if algo not in ALGOS:
        raise ConfigError(f"unknown learner {algo!r}; choose one of {', '.join(ALGOS)}")
    reward_run = Path(reward_dir)
    if not reward_run.is_dir():
        raise RunDirError(
            f"--reward {reward_run}: no such directory; pass the run directory of a run that "
            f"learned a reward (protege train iq-learn|sqil|gail|airl|gcl)"
        )
    reward = load_reward(reward_run)
    spaces = env_spaces(env_id)
    if reward.spaces != spaces:
        raise ConfigError(
            f"--reward {reward_run / REWARD_FILE}: learned on observation "
            f"{reward.spaces.observation} and action {reward.spaces.action}, but {env_id} has "
            f"{spaces.observation} and {spaces.action}; pass --env with the env the reward "
            "was learned on"
        )
    check_learner(algo, spaces.action, env_id)
    source = read_config(reward_run) if (reward_run / CONFIG).is_file() else {}
    demos = demos if demos is not None else source.get("demos")
    if demos is None:
        raise ConfigError(
            f"--reward {reward_run}: it has no config.json naming its demonstrations; pass "
            "--demos PATH for the comparison with the expert"
        )
    load_demos(demos, env_id)  # fail before training if the comparison cannot be made
    expert = expert if expert is not None else source.get("expert", default_expert(env_id))
    if steps < 1:
        raise ConfigError(f"--steps {steps}: must be at least 1")
    run = prepare_run_dir(out, overwrite=overwrite)
    config = {
        "algo": algo,
        "env": env_id,
        "reward": str(reward_run.resolve()),
        "reward_algo": source.get("algo"),
        "demos": demos,
        "expert": expert,
        "eval_episodes": eval_episodes,
        "eval_seed": EVAL_SEED,
        "protege_version": protege.__version__,
        "config": {"steps": steps, "seed": seed, "sb3": LEARNER_DEFAULTS[algo]},
    }
    write_json_atomic(run / CONFIG, config)
    start = time.perf_counter()
    model = train_on_reward(env_id, reward.predict, algo, steps, seed, callback=callback)
    train_seconds = time.perf_counter() - start
    save_sb3(model, run / SB3_POLICY)
    metrics = evaluate_run(run, eval_episodes, train_seconds=train_seconds)
    metrics["env_steps"] = int(model.num_timesteps)
    write_json_atomic(run / METRICS, metrics)
    return metrics

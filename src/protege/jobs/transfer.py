"""The job behind `protege train ppo|sac|dqn --reward RUN`: reward transfer, a fresh
Stable-Baselines3 learner trained on a learned reward instead of the env's own.

A reward-transfer run holds config.json (with the reward run it used), policy.zip and
metrics.json, so `protege eval` treats it like any other run.

    metrics = train_on_reward_run("ppo", "CartPole-v1", "runs/iq", "runs/ppo", steps=50_000)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from protege.envs import resolve_env
from protege.errors import ConfigError, RunDirError
from protege.jobs.common import (
    default_expert,
    evaluate_against_expert,
    load_demos,
    open_run,
    run_config,
)
from protege.rewards import REWARD_FILE, load_reward
from protege.rl import ALGOS, LEARNER_DEFAULTS, check_learner, save_sb3, train_on_reward
from protege.rundir import CONFIG, SB3_POLICY, read_config


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
    env = resolve_env(env_id)  # once, for the reward's spaces and the demos check
    spaces = env.spaces
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
    load_demos(demos, env)  # fail before training if the comparison cannot be made
    expert = expert if expert is not None else source.get("expert", default_expert(env_id))
    if steps < 1:
        raise ConfigError(f"--steps {steps}: must be at least 1")
    settings = {"steps": steps, "seed": seed, "sb3": LEARNER_DEFAULTS[algo]}
    config = run_config(
        algo, env_id, settings, demos=demos, expert=expert, eval_episodes=eval_episodes,
        reward=str(reward_run.resolve()), reward_algo=source.get("algo"),
    )  # fmt: skip
    run = open_run(out, config, overwrite, resume=False)
    start = time.perf_counter()
    model = train_on_reward(env_id, reward.predict, algo, steps, seed, callback=callback)
    train_seconds = time.perf_counter() - start
    save_sb3(model, run / SB3_POLICY)
    training = {"env_steps": int(model.num_timesteps)}
    return evaluate_against_expert(run, eval_episodes, train_seconds, training=training)

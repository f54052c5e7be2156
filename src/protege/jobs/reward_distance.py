"""`protege compare-rewards A B|true`: how far apart two rewards are (EPIC and Pearson).

Tabular runs (reward.npy) are compared exactly on the env's MDP, `true` included. Learned
rewards of continuous envs (reward.pt2) are compared by sampled EPIC on coverage
transitions: both runs' demonstrations and held-out episodes of both runs' policies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from protege.data.rollout import rollout
from protege.data.types import Transitions, flatten_trajectories, obs_index
from protege.errors import RunDirError
from protege.evaluation import pearson
from protege.evaluation.epic import epic_distance_sampled
from protege.jobs import catalog
from protege.jobs.common import EVAL_SEED, load_run_policy, run_demonstrations
from protege.jobs.tabular import compare_tabular_rewards
from protege.rundir import read_config

COVERAGE_EPISODES = 5  # held-out episodes of each run's policy (seeds 10000, ...)
MAX_COVERAGE = 2048  # transitions kept (seeded subsample): EPIC costs N x 256 reward calls
GAMMA = 0.99  # the discount EPIC's canonicalisation assumes for continuous envs


def compare_rewards(a: str | Path, b: str | Path, env_id: str | None = None) -> dict[str, Any]:
    """EPIC and Pearson distances between the rewards of runs `a` and `b` (or `true`)."""
    config_a = read_config(a)
    env_id = env_id or config_a["env"]
    if config_a["algo"] in catalog.family("tabular"):
        return compare_tabular_rewards(a, b, env_id)
    if str(b) == "true":
        raise RunDirError(
            f"{a}: the true reward of {env_id} is known only on the transitions it paid, and "
            "EPIC needs it at any (s, a, s'); compare two learned rewards, or read "
            "reward_correlation in the run's metrics.json"
        )
    from protege.rewards import load_reward

    runs = [Path(a), Path(b)]
    rewards = [load_reward(r) for r in runs]
    coverage = _coverage(runs, env_id)
    direct = [r.predict(coverage.obs, coverage.acts, coverage.next_obs, coverage.terminated)
              for r in rewards]  # fmt: skip
    corr = pearson(direct[0], direct[1])
    return {
        "a": f"{runs[0]} ({config_a['algo']})",
        "b": f"{runs[1]} ({read_config(runs[1])['algo']})",
        "env": env_id,
        "gamma": GAMMA,
        "coverage_transitions": len(coverage),
        "epic": epic_distance_sampled(
            rewards[0].predict,
            rewards[1].predict,
            coverage.obs,
            coverage.acts,
            coverage.next_obs,
            GAMMA,
        ),  # fmt: skip
        "pearson_distance": None if corr is None else float(np.sqrt((1.0 - corr) / 2.0)),
    }


def _coverage(runs: list[Path], env_id: str) -> Transitions:
    """Both runs' demonstrations and a few held-out episodes of each run's policy."""
    trajs = []
    for run in runs:
        config = read_config(run)
        if config["env"] != env_id:
            raise RunDirError(f"{run}: a run on {config['env']}, not {env_id}")
        trajs += run_demonstrations(run, config).trajectories
        trajs += rollout(env_id, load_run_policy(run), COVERAGE_EPISODES, EVAL_SEED)
    flat = flatten_trajectories(trajs)
    if len(flat) <= MAX_COVERAGE:
        return flat
    keep = np.sort(np.random.default_rng(0).choice(len(flat), MAX_COVERAGE, replace=False))
    return Transitions(
        obs_index(flat.obs, keep), flat.acts[keep], obs_index(flat.next_obs, keep),
        flat.terminated[keep], flat.truncated[keep],
    )  # fmt: skip

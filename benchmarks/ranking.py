"""T-REX and D-REX: a policy better than the demonstrations it learned from?

For each row (env, algorithm, learner, steps) and seed, demonstrations are recorded from
protege's scripted expert with ε-random actions (each step, with probability ε, a uniform
random action), so that none is near the expert:

- T-REX learns from `T_REX_DEMOS` episodes at several ε, ranked by ε (less is better);
- D-REX learns from `D_REX_DEMOS` episodes at one ε, without rewards or ranking (it
  clones them, ranks its clone's noisy rollouts by noise);
- BC learns from the same demonstrations, for comparison: it copies the demonstrator.

Reported, as mean ± std over the seeds: the best demonstration's return (the bar), the
demonstrations' mean, BC's return, the ranking learner's final return (20 episodes, seeds
10000...) and its best in-training evaluation's, the expert's, and the learned reward's
Kendall τ with the true return on held-out episodes of every ε from 0 (the expert) to 1.
Every run uses the algorithm's default config apart from `steps` and the learner, on the
CPU with torch on one thread.

    python benchmarks/ranking.py            # 3 seeds, ~15 minutes on 2 CPU cores
    python benchmarks/ranking.py --quick    # seed 0 only
    python benchmarks/ranking.py --env Pendulum-v1 --seeds 3

The table is printed and written to `benchmarks/out/ranking.md` (raw numbers: `.json`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege.algorithms.bc import BCConfig, train_bc
from protege.algorithms.ranking import (
    DRexConfig,
    RankingResult,
    TRexConfig,
    noise_rollouts,
    train_d_rex,
    train_t_rex,
)
from protege.algorithms.ranking.loop import predicted_returns, rank_correlation
from protege.data import Trajectory, flatten_trajectories
from protege.envs import env_spaces
from protege.evaluation import evaluate_returns
from protege.experts.scripted import scripted_expert

HERE = Path(__file__).resolve().parent
T_REX_LEVELS = {
    "Pendulum-v1": (0.6, 0.7, 0.8, 0.9, 1.0),
    "CartPole-v1": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
}
T_REX_DEMOS = 4  # episodes per level
D_REX_LEVEL = {"Pendulum-v1": 0.5, "CartPole-v1": 0.6}
D_REX_DEMOS = 5
EVAL_EPISODES = 20
HELD_OUT = tuple(np.linspace(0.0, 1.0, 11))  # 2 episodes each, seeds apart from the demos'


@dataclass(frozen=True)
class Row:
    env: str
    algo: str
    learner: str
    steps: int


ROWS = (
    Row("Pendulum-v1", "t-rex", "sac", 10_000),
    Row("Pendulum-v1", "d-rex", "sac", 10_000),
    Row("CartPole-v1", "t-rex", "ppo", 50_000),
    Row("CartPole-v1", "d-rex", "ppo", 50_000),
)


def demonstrations(
    env: str, levels: tuple[float, ...], per_level: int, seed: int
) -> list[Trajectory]:
    """The scripted expert's episodes at each ε of `levels`, marked with their ε."""
    expert = scripted_expert(env).act
    return noise_rollouts(env, expert, env_spaces(env).action, levels, per_level, seed=seed)


def run(row: Row, seed: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    env = row.env
    if row.algo == "t-rex":
        demos = demonstrations(env, T_REX_LEVELS[env], T_REX_DEMOS, seed)
    else:
        demos = demonstrations(env, (D_REX_LEVEL[env],), D_REX_DEMOS, seed)
    returns = [t.episode_return for t in demos]
    start, cpu = time.perf_counter(), time.process_time()
    result: RankingResult
    if row.algo == "t-rex":
        cfg = TRexConfig(learner=row.learner, steps=row.steps, seed=seed)
        result = train_t_rex(demos, None, cfg, env=env)
    else:
        unlabelled = [Trajectory(t.obs, t.acts, None, t.terminated, t.truncated) for t in demos]
        result = train_d_rex(
            unlabelled, None, DRexConfig(learner=row.learner, steps=row.steps, seed=seed), env=env
        )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    learner = evaluate_returns(env, result.policy, EVAL_EPISODES, seed=10_000)
    bc = train_bc(flatten_trajectories(demos), env_spaces(env), BCConfig(seed=seed))
    bc_stats = evaluate_returns(env, bc.policy, EVAL_EPISODES, seed=10_000)
    expert = evaluate_returns(env, scripted_expert(env).act, EVAL_EPISODES, seed=10_000)
    held = demonstrations(env, HELD_OUT, 2, seed + 100)
    tau = rank_correlation(
        predicted_returns(result.reward, held), np.array([t.episode_return for t in held])
    )
    return {
        "best_demo": max(returns),
        "demo_mean": float(np.mean(returns)),
        "bc": bc_stats.mean,
        "learner": learner.mean,
        "learner_best_eval": result.best.score if result.best.state is not None else None,
        "expert": expert.mean,
        "held_out_tau": tau,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "env_steps": result.env_steps,
        "transform": result.facts["reward_transform"],
        "val_accuracy": result.facts["reward_val_accuracy"],
    }


def fmt(values: list[float], digits: int = 1) -> str:
    """Mean ± std over seeds (the value alone for one seed, – for none)."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 0 only")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--env", help="only this env's rows (Pendulum-v1 or CartPole-v1)")
    args = parser.parse_args()
    seeds = [0] if args.quick else list(range(args.seeds))
    rows = [r for r in ROWS if args.env in (None, r.env)]
    raw: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = f"{row.env} {row.algo} {row.learner} {row.steps}"
        raw[key] = []
        for seed in seeds:
            raw[key].append(run(row, seed))
            print(key, seed, json.dumps(raw[key][-1]), flush=True)
    header = (
        "| env | algorithm | best demo | demos' mean | BC | learner | learner (best eval) "
        "| expert | reward τ (held out) | CPU seconds |\n|---|---|---:|---:|---:|---:|---:|---:"
        "|---:|---:|"
    )
    lines = [header]
    for row in rows:
        r = raw[f"{row.env} {row.algo} {row.learner} {row.steps}"]

        def col(k: str, r: list[dict[str, Any]] = r) -> str:
            return fmt([x[k] for x in r if x[k] is not None])

        lines.append(
            f"| {row.env} | {row.algo} ({row.learner}, {row.steps // 1000}k steps) | "
            f"{col('best_demo')} | {col('demo_mean')} | {col('bc')} | {col('learner')} | "
            f"{col('learner_best_eval')} | {col('expert')} | "
            f"{fmt([x['held_out_tau'] for x in r if x['held_out_tau'] is not None], 2)} | "
            f"{col('cpu_seconds')} |"
        )
    text = "\n".join(lines)
    print(text)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "ranking.md").write_text(text + "\n")
    (out / "ranking.json").write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()

"""GAIL, AIRL and guided cost learning: env steps and wall time to the expert's level.

What it measures, per (algorithm, env, learner) and seed, all in one run:

- steps / seconds to target: env steps and training seconds (evaluations excluded) until
  the learner first reaches the target, judged every `EVAL_EVERY` env steps on 10 fixed
  episodes (seeds 20000..20009): CartPole-v1 a mean return >= 475; Pendulum-v1 a normalised
  score >= 0.9 (0 = uniform-random policy, 1 = the scripted expert, both measured on the
  same seeds). Training stops there, or at the step budget;
- the final return (mean ± std over 20 episodes, seeds 10000..10019, disjoint from the
  demonstrations' 0..N-1) and its normalised score;
- where the true reward is not constant (Pendulum), the Pearson correlation of the learned
  reward with the true one on held-out expert and learner transitions.

Demonstrations: CartPole-v1 10 episodes, Pendulum-v1 20 episodes of protege's scripted
experts. Reference (`imitation` 1.0.1, from the issue): GAIL reaches 475 on CartPole after
~131,000 env steps / 85 s; its AIRL is at 287 after 200,000 steps.

Run from the repository root, with protege's venv active and one core per process:

    OMP_NUM_THREADS=1 python benchmarks/adversarial.py              # every task, seed 0
    OMP_NUM_THREADS=1 python benchmarks/adversarial.py --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/adversarial.py --only gail:CartPole-v1:ppo

The table is printed and written to `benchmarks/out/adversarial.md` (raw: adversarial.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from protege.adversarial_jobs import ADVERSARIAL_ALGOS, reward_correlation
from protege.algorithms.adversarial.loop import CHECK_SEED
from protege.data import RandomPolicy, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.evaluation import evaluate_returns, normalized_score
from protege.experts.scripted import scripted_expert

OUT = Path(__file__).resolve().parent / "out"
EVAL_SEED, EVAL_EPISODES, CHECK_EPISODES = 10_000, 20, 10


@dataclass(frozen=True)
class Task:
    algo: str
    env_id: str
    learner: str
    demo_episodes: int
    steps: int  # budget
    eval_every: int
    score_target: float | None = None  # Pendulum: normalised score; else a return target
    return_target: float | None = None
    overrides: tuple[tuple[str, object], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.algo}:{self.env_id}:{self.learner}"


TASKS = [
    Task("gail", "CartPole-v1", "ppo", 10, 150_000, 5_000, return_target=475),
    Task("airl", "CartPole-v1", "ppo", 10, 150_000, 5_000, return_target=475),
    Task("gcl", "CartPole-v1", "ppo", 10, 150_000, 5_000, return_target=475),
    Task("gail", "Pendulum-v1", "sac", 20, 30_000, 2_000, score_target=0.9),
    Task("airl", "Pendulum-v1", "sac", 20, 30_000, 2_000, score_target=0.9),
]


def mean_return(env_id: str, policy: object, episodes: int, seed: int) -> float:
    return evaluate_returns(env_id, policy, episodes, seed).mean  # type: ignore[arg-type]


def run_task(task: Task, seed: int) -> dict[str, object]:
    expert = scripted_expert(task.env_id).act
    demos = flatten_trajectories(rollout(task.env_id, expert, task.demo_episodes, seed=0))
    action_space = env_spaces(task.env_id).action
    rand = RandomPolicy(action_space, CHECK_SEED)
    target = task.return_target
    if task.score_target is not None:  # the return that is that score on the check seeds
        e = mean_return(task.env_id, expert, CHECK_EPISODES, CHECK_SEED)
        r = mean_return(task.env_id, rand, CHECK_EPISODES, CHECK_SEED)
        target = r + task.score_target * (e - r)
    cls, train = ADVERSARIAL_ALGOS[task.algo]
    cfg = dataclasses.replace(
        cls(), learner=task.learner, steps=task.steps, eval_every=task.eval_every,
        eval_episodes=CHECK_EPISODES, target_return=target, seed=seed, **dict(task.overrides),
    )  # fmt: skip
    wall = time.perf_counter()
    result = train(task.env_id, demos, cfg)
    wall = time.perf_counter() - wall
    at_target = next((row for row in result.history if row.get("eval_return", -math.inf)
                      >= (target if target is not None else math.inf)), None)  # fmt: skip
    final = evaluate_returns(task.env_id, result.policy, EVAL_EPISODES, EVAL_SEED)
    e_final = mean_return(task.env_id, expert, EVAL_EPISODES, EVAL_SEED)
    r_final = mean_return(
        task.env_id, RandomPolicy(action_space, EVAL_SEED), EVAL_EPISODES, EVAL_SEED
    )
    corr = reward_correlation(task.env_id, result.reward.predict, result.policy, expert)
    return {
        "task": task.name,
        "seed": seed,
        "target_return": target,
        "steps_to_target": result.steps_to_target,
        "seconds_to_target": None if at_target is None else at_target["seconds"],
        "env_steps": result.env_steps,
        "train_seconds": result.train_seconds,
        "wall_seconds": wall,
        "final_return": final.mean,
        "final_std": final.std,
        "final_score": normalized_score(final.mean, e_final, r_final),
        **corr,
    }


def _fmt(x: object, spec: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| algorithm · env · learner | seed | env steps to target | s to target | "
        "final return | score | reward corr. (expert / learner) | wall s |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['seed']} | {_fmt(r['steps_to_target'], ',')} "
            f"(of {r['env_steps']:,}) | {_fmt(r['seconds_to_target'], '.1f')} | "
            f"{r['final_return']:.1f} ± {r['final_std']:.1f} | {r['final_score']:.3f} | "
            f"{_fmt(r.get('reward_correlation_expert'), '.2f')} / "
            f"{_fmt(r.get('reward_correlation_learner'), '.2f')} | {r['wall_seconds']:.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", help="algo:env:learner names to run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = [t for t in TASKS if not args.only or t.name in args.only]
    rows = []
    for task in tasks:
        for seed in args.seeds:
            row = run_task(task, seed)
            print(table([row]).splitlines()[-1], flush=True)
            rows.append(row)
    OUT.mkdir(exist_ok=True)
    (OUT / "adversarial.json").write_text(json.dumps(rows, indent=2, default=float))
    md = table(rows)
    reached = [r for r in rows if r["steps_to_target"] is not None]
    md += f"\n{len(reached)}/{len(rows)} runs reached the target. "
    md += f"Mean wall time per run {np.mean([r['wall_seconds'] for r in rows]):.0f} s.\n"
    (OUT / "adversarial.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

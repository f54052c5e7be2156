"""Meta-World: the scripted experts' success rates, and BC's from their demonstrations.

Two measurements on protege's `metaworld/<task>` ids (`protege.envs.metaworld`; needs the
`metaworld` extra):

- `--experts`: each task's scripted expert (`protege.experts.metaworld`) over 50 episodes,
  `reset(seed=i)` for i = 0..49: success rate and mean episode length (what
  `EXPERT_RECORDS` and docs/manipulation.md keep). Every MT1 task by default.
- BC (the default): behavioral cloning with BC's default head (`BCConfig()`: mlp, MSE,
  observations standardised) from the first 10 and 50 expert episodes (seeds 0..49), on
  pick-place, push, door-open, drawer-open and button-press; success rate over 50
  evaluation episodes (seeds 10000..10049, positions the demonstrations never had), per
  training seed; the baseline the other policy heads are judged against.

One torch thread, the CPU. Run from the repository root:

    python benchmarks/metaworld_bc.py --experts                # ~5 min on one core
    python benchmarks/metaworld_bc.py --seeds 0 1 2            # BC, 5 tasks x {10, 50}
    python benchmarks/metaworld_bc.py --tasks push-v3 --demos 10

Tables go to stdout and `benchmarks/out/metaworld_{experts,bc}.md` (raw: `.json`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege.algorithms.bc import BCConfig, train_bc
from protege.data import Trajectory, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.envs.metaworld import METAWORLD_TASKS, NAMESPACE
from protege.experts.metaworld import metaworld_expert

OUT = Path(__file__).resolve().parent / "out"
EPISODES = 50
EVAL_SEED = 10_000  # evaluation positions 10000..10049, disjoint from the demos' 0..49
BC_TASKS = ("pick-place-v3", "push-v3", "door-open-v3", "drawer-open-v3", "button-press-v3")


def success_rate(trajs: list[Trajectory]) -> float:
    """The fraction of episodes whose meta records a success."""
    return float(np.mean([bool(t.meta.get("success", False)) for t in trajs]))


def measure_experts(tasks: list[str]) -> list[dict[str, Any]]:
    """Each task's expert over EPISODES seeded episodes: success rate, mean length."""
    rows = []
    for task in tasks:
        env_id = f"{NAMESPACE}/{task}"
        start = time.perf_counter()
        trajs = rollout(env_id, metaworld_expert(env_id), EPISODES, seed=0)
        seconds = time.perf_counter() - start
        steps = sum(len(t) for t in trajs)
        row = {"task": task, "success": success_rate(trajs), "steps": steps / len(trajs),
               "steps_per_s": steps / seconds}  # fmt: skip
        rows.append(row)
        print(f"{task:30s} success {row['success']:.2f}  mean steps {row['steps']:6.1f}  "
              f"{row['steps_per_s']:6.0f} steps/s", flush=True)  # fmt: skip
    return rows


def measure_bc(tasks: list[str], demos: list[int], seeds: list[int]) -> list[dict[str, Any]]:
    """BC's success rate per task, number of demonstrations and training seed."""
    rows = []
    for task in tasks:
        env_id = f"{NAMESPACE}/{task}"
        spaces = env_spaces(env_id)
        expert = rollout(env_id, metaworld_expert(env_id), max(demos), seed=0)
        for n in demos:
            for seed in seeds:
                start = time.perf_counter()
                result = train_bc(flatten_trajectories(expert[:n]), spaces,
                                  BCConfig(seed=seed, device="cpu"), env=env_id)  # fmt: skip
                train_s = time.perf_counter() - start
                learner = rollout(env_id, result.policy, EPISODES, seed=EVAL_SEED)
                rows.append({"task": task, "demos": n, "seed": seed,
                             "demo_success": success_rate(expert[:n]),
                             "success": success_rate(learner),
                             "steps": float(np.mean([len(t) for t in learner])),
                             "epochs": len(result.history), "train_s": train_s})  # fmt: skip
                print(f"{task:18s} demos {n:3d} seed {seed}: success {rows[-1]['success']:.2f}"
                      f" (epochs {rows[-1]['epochs']}, {train_s:.0f} s)", flush=True)  # fmt: skip
    return rows


def experts_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | success (50 episodes) | mean steps |", "|---|---:|---:|"]
    lines += [
        f"| `{NAMESPACE}/{r['task']}` | {r['success']:.2f} | {r['steps']:.0f} |" for r in rows
    ]
    return "\n".join(lines)


def bc_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | demos | BC success (mean over seeds) | per seed | train s |",
             "|---|---:|---:|---|---:|"]  # fmt: skip
    order = {task: i for i, task in enumerate(dict.fromkeys(r["task"] for r in rows))}
    keys = sorted({(r["task"], r["demos"]) for r in rows}, key=lambda k: (order[k[0]], k[1]))
    for task, n in keys:
        cell = [r for r in rows if r["task"] == task and r["demos"] == n]
        per_seed = ", ".join(f"{r['success']:.2f}" for r in cell)
        mean_s = np.mean([r["train_s"] for r in cell])
        lines.append(f"| {task} | {n} | {np.mean([r['success'] for r in cell]):.2f} | "
                     f"{per_seed} | {mean_s:.0f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experts", action="store_true", help="measure the experts only")
    parser.add_argument("--tasks", nargs="*", help="Meta-World task names (default: see doc)")
    parser.add_argument("--demos", nargs="*", type=int, default=[10, 50])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    OUT.mkdir(exist_ok=True)
    if args.experts:
        rows = measure_experts(args.tasks or list(METAWORLD_TASKS))
        table, name = experts_table(rows), "metaworld_experts"
    else:
        rows = measure_bc(args.tasks or list(BC_TASKS), args.demos, args.seeds)
        table, name = bc_table(rows), "metaworld_bc"
    print(table)
    (OUT / f"{name}.md").write_text(table + "\n")
    (OUT / f"{name}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

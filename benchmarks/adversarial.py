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
experts (seeds 0..N-1).

Side by side, in the same run: HumanCompatibleAI `imitation` 1.0.1's GAIL and AIRL (SB3 PPO
learner) on the very same demonstrations, target, check seeds and final-return seeds, in
its own venv (`_imitation_env.py`; it pins Gymnasium 0.29) as a subprocess running
`_imitation_adversarial.py` (its settings: imitation's CartPole tutorials; rl-zoo's PPO for
Pendulum-v1). Its training runs one imitation round at a time (16,384 env steps on
CartPole, 4,096 on Pendulum), judged after each; budgets: CartPole 200,000 env steps,
Pendulum 300,000. The ratio is imitation's training seconds to target over protege's.
Goal (issue #5): >= 5x less wall time to 475 on CartPole-v1; Pendulum-v1 solved where
imitation is not.

Run from the repository root, with protege's venv active and one core per process:

    OMP_NUM_THREADS=1 python benchmarks/adversarial.py              # every task, seed 0
    OMP_NUM_THREADS=1 python benchmarks/adversarial.py --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/adversarial.py --only gail:CartPole-v1:ppo
    OMP_NUM_THREADS=1 python benchmarks/adversarial.py --ho-ermon --seeds 0 1 2   # the table
    OMP_NUM_THREADS=1 python benchmarks/adversarial.py --no-imitation  # protege only

The tables are printed and written to `benchmarks/out/adversarial.md` (raw:
adversarial.json, imitation's learning curves included).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege.algorithms.adversarial.loop import CHECK_SEED
from protege.data import RandomPolicy, Trajectory, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.evaluation import evaluate_returns, normalized_score
from protege.experts.scripted import scripted_expert
from protege.jobs import catalog
from protege.jobs.adversarial import reward_correlation

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
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
    imitation_steps: int | None = None  # imitation 1.0.1's budget; None: no baseline row

    @property
    def name(self) -> str:
        return f"{self.algo}:{self.env_id}:{self.learner}"


TASKS = [
    Task("gail", "CartPole-v1", "ppo", 10, 150_000, 5_000, return_target=475,
         imitation_steps=200_000),
    Task("airl", "CartPole-v1", "ppo", 10, 150_000, 5_000, return_target=475,
         imitation_steps=200_000),
    Task("gcl", "CartPole-v1", "ppo", 10, 150_000, 5_000, return_target=475),
    Task("gail", "Pendulum-v1", "sac", 20, 30_000, 2_000, score_target=0.9,
         imitation_steps=300_000),
    Task("airl", "Pendulum-v1", "sac", 20, 30_000, 2_000, score_target=0.9),
]  # fmt: skip


def mean_return(env_id: str, policy: object, episodes: int, seed: int) -> float:
    return evaluate_returns(env_id, policy, episodes, seed).mean  # type: ignore[arg-type]


def run_task(
    task: Task, seed: int, imitation_py: Path | None, why_not: str = "not run"
) -> dict[str, Any]:
    """protege's run, then imitation's on the same demonstrations (`why_not` if it can't)."""
    expert = scripted_expert(task.env_id).act
    trajs = rollout(task.env_id, expert, task.demo_episodes, seed=0)
    action_space = env_spaces(task.env_id).action
    rand = RandomPolicy(action_space, CHECK_SEED)
    target = task.return_target
    if task.score_target is not None:  # the return that is that score on the check seeds
        e = mean_return(task.env_id, expert, CHECK_EPISODES, CHECK_SEED)
        r = mean_return(task.env_id, rand, CHECK_EPISODES, CHECK_SEED)
        target = r + task.score_target * (e - r)
    assert target is not None
    entry = catalog.get(task.algo)
    cls, train = entry.config_class(), entry.train_fn()
    cfg = dataclasses.replace(
        cls(), learner=task.learner, steps=task.steps, eval_every=task.eval_every,
        eval_episodes=CHECK_EPISODES, target_return=target, seed=seed, **dict(task.overrides),
    )  # fmt: skip
    wall = time.perf_counter()
    result = train(flatten_trajectories(trajs), None, cfg, env=task.env_id)
    wall = time.perf_counter() - wall
    at_target = next((row for row in result.history
                      if row.get("eval_return", -math.inf) >= target), None)  # fmt: skip
    final = evaluate_returns(task.env_id, result.policy, EVAL_EPISODES, EVAL_SEED)
    e_final = mean_return(task.env_id, expert, EVAL_EPISODES, EVAL_SEED)
    r_final = mean_return(
        task.env_id, RandomPolicy(action_space, EVAL_SEED), EVAL_EPISODES, EVAL_SEED
    )
    corr = reward_correlation(task.env_id, result.reward.predict, result.policy, expert)
    row: dict[str, Any] = {
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
        "imitation": None,
    }
    if task.imitation_steps is not None:
        if imitation_py is None:
            row["imitation"] = {"error": why_not}
        else:
            im = run_imitation(imitation_py, task, trajs, target, seed)
            if "final_return" in im:
                im["final_score"] = normalized_score(im["final_return"], e_final, r_final)
            row["imitation"] = im
    return row


# --- imitation 1.0.1 (in its own venv) ---------------------------------------------------------


def imitation_python_or_none() -> Path | None:
    """The imitation venv's python (built on first use), or None after saying why not."""
    sys.path.insert(0, str(HERE))
    from _imitation_env import imitation_python_or_none as find

    return find()


def run_imitation(
    python: Path, task: Task, trajs: list[Trajectory], target: float, seed: int
) -> dict[str, Any]:
    """imitation's `task.algo` on the same demonstrations, target and seeds (a subprocess)."""
    sys.path.insert(0, str(HERE))
    from _imitation_env import save_demos

    with tempfile.TemporaryDirectory(prefix="adversarial-imitation-") as tmp:
        demos, job_path, result = Path(tmp, "demos.npz"), Path(tmp, "job.json"), Path(tmp, "r")
        save_demos(trajs, demos)
        job = {
            "algo": task.algo, "env_id": task.env_id, "demos": str(demos),
            "steps": task.imitation_steps, "seed": seed, "target": target,
            "check_seed": CHECK_SEED, "check_episodes": CHECK_EPISODES,
            "eval_seed": EVAL_SEED, "eval_episodes": EVAL_EPISODES, "result": str(result),
        }  # fmt: skip
        job_path.write_text(json.dumps(job))
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
        cmd = [str(python), str(HERE / "_imitation_adversarial.py"), str(job_path)]
        wall = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env)
        wall = time.perf_counter() - wall
        if done.returncode != 0 or not result.exists():
            tail = " / ".join(done.stderr.strip().splitlines()[-3:])
            return {"error": f"imitation's run failed (exit {done.returncode}): {tail}"}
        return {**json.loads(result.read_text()), "wall_seconds": wall}


# --- report ------------------------------------------------------------------------------------


def _fmt(x: object, spec: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _vs(r: dict[str, Any]) -> list[str]:
    """Cells: steps to target, seconds to target, final return, score, ratio (imitation's)."""
    im = r["imitation"]
    if im is None or "error" in im:
        why = "not run" if im is None else im["error"]
        return [why, "—", "—", "—", "—"]
    steps = im.get("steps_to_target")
    cells = [
        _fmt(steps, ",") if steps is not None else f"not reached in {im['env_steps']:,}",
        _fmt(im.get("seconds_to_target"), ".1f")
        if steps is not None
        else f"— ({im['train_seconds']:.0f} s spent)",
        f"{im['final_return']:.1f} ± {im['final_std']:.1f}",
        _fmt(im.get("final_score"), ".3f"),
    ]
    p_s, i_s = r["seconds_to_target"], im.get("seconds_to_target")
    cells.append("—" if p_s is None or i_s is None else f"{i_s / p_s:.1f}×")
    return cells


def comparison(rows: list[dict[str, Any]]) -> str:
    head = (
        "| algorithm · env · learner | seed | target return | env steps to target · protege "
        "| · imitation | s to target · protege | · imitation | final return · protege | "
        "· imitation | score · protege | · imitation | ratio (imitation s / protege s) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        i_steps, i_s, i_final, i_score, ratio = _vs(r)
        lines.append(
            f"| {r['task']} | {r['seed']} | {r['target_return']:.1f} | "
            f"{_fmt(r['steps_to_target'], ',')} | {i_steps} | "
            f"{_fmt(r['seconds_to_target'], '.1f')} | {i_s} | "
            f"{r['final_return']:.1f} ± {r['final_std']:.1f} | {i_final} | "
            f"{r['final_score']:.3f} | {i_score} | {ratio} |"
        )
    return head + "\n".join(lines) + "\n"


def table(rows: list[dict[str, Any]]) -> str:
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


def goals(rows: list[dict[str, Any]]) -> str:
    """Issue #5's goals, judged on this run's rows."""
    lines = []
    for r in rows:
        im, head = r["imitation"], f"- {r['task']} (seed {r['seed']}):"
        if im is None or "error" in im:
            continue
        p_ok, i_ok = r["steps_to_target"] is not None, im.get("steps_to_target") is not None
        if r["task"].startswith("gail:CartPole-v1") and p_ok and i_ok:
            ratio = im["seconds_to_target"] / r["seconds_to_target"]
            verdict = "met" if ratio >= 5 else "NOT met"
            lines.append(f"{head} {ratio:.1f}× less time to target (goal >= 5×): {verdict}")
        elif r["task"].startswith("gail:CartPole-v1"):
            lines.append(f"{head} target reached by protege {p_ok}, by imitation {i_ok}")
        elif r["task"].startswith("gail:Pendulum-v1"):
            verdict = "met" if p_ok and not i_ok else "NOT met"
            lines.append(
                f"{head} solved by protege {p_ok}, by imitation {i_ok} "
                f"(goal: protege yes, imitation no): {verdict}"
            )
    return ("\nGoals (issue #5):\n" + "\n".join(lines) + "\n") if lines else ""


def ho_ermon_table(seeds: int) -> None:
    """GAIL and BC on Ho & Ermon (2016)'s classic-control suite beside the paper's numbers:
    `protege bench classic` (200-step limits, 1/4/7/10 trajectories), resumable."""
    from protege.experiments.bench import get_suite, plan_bench, tabulate, write_bench
    from protege.experiments.sweep import run_local

    bench = plan_bench(get_suite("classic"), OUT, seeds, algos=["bc", "gail"])
    results = run_local(bench.trials, on_done=lambda t, r: print("done", t.run_dir, flush=True))
    md, _ = write_bench(bench, tabulate(bench, results), OUT)
    print(md.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", help="algo:env:learner names to run")
    parser.add_argument("--no-imitation", action="store_true", help="protege only")
    parser.add_argument(
        "--ho-ermon", action="store_true",
        help="instead: Ho & Ermon's classic-control table for BC and GAIL (protege bench "
        "classic), seeds 0..len(--seeds)-1, into benchmarks/out/classic/results.md",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.ho_ermon:
        ho_ermon_table(len(args.seeds))
        return
    tasks = [t for t in TASKS if not args.only or t.name in args.only]
    wanted = not args.no_imitation and any(t.imitation_steps for t in tasks)
    imitation_py = imitation_python_or_none() if wanted else None
    why_not = "skipped (--no-imitation)" if args.no_imitation else "imitation 1.0.1 unavailable"
    rows = []
    for task in tasks:
        for seed in args.seeds:
            row = run_task(task, seed, imitation_py, why_not)
            print(comparison([row]).splitlines()[-1], flush=True)
            rows.append(row)
    OUT.mkdir(exist_ok=True)
    (OUT / "adversarial.json").write_text(json.dumps(rows, indent=2, default=float))
    md = "protege vs imitation 1.0.1 (same demonstrations, target, check and final seeds):\n\n"
    md += comparison(rows) + goals(rows) + "\nprotege in detail:\n\n" + table(rows)
    reached = [r for r in rows if r["steps_to_target"] is not None]
    md += f"\n{len(reached)}/{len(rows)} protege runs reached the target. "
    md += f"Mean wall time per protege run {np.mean([r['wall_seconds'] for r in rows]):.0f} s.\n"
    (OUT / "adversarial.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

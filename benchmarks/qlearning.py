"""IQ-Learn (online and offline) and SQIL: env steps and training time to the target.

What it measures, for each (env, algorithm, mode) row, with protege's built-in scripted
experts recording the demonstrations (seeds 0..N-1):

- steps to target: env steps (online) or updates (offline, where no env step is ever
  taken) until the policy first reaches the target, judged every `LOG_EVERY` steps on
  `EVAL_EPISODES` fixed evaluation episodes (seeds 10000...): CartPole-v1 a mean return
  >= 475, Pendulum-v1 a normalised score >= 0.9 (0 = uniform-random policy, 1 = the
  scripted expert, both on the same seeds), Acrobot-v1 a mean return within one standard
  deviation of the expert's;
- seconds to target: training time until then (evaluation excluded), and the whole run's;
- the final policy's return (mean ± std over 20 evaluation episodes) and normalised score.

Every protege run uses the algorithm's default config (`IQLearnConfig()`, `SQILConfig()`)
apart from `steps`, seed 0, on the CPU with torch on one thread (the loops' own setting).

protege's GAIL (PPO on CartPole-v1, SAC on Pendulum-v1, default settings) runs on the same
demonstrations as the adversarial reference, judged every `LOG_EVERY` env steps on
`EVAL_EPISODES` episodes of its own check seeds (20000...).

Beside protege's SQIL rows, HumanCompatibleAI `imitation` 1.0.1's SQIL runs on the same
demonstrations, budgets and evaluation seeds, in its own venv (`_imitation_env.py`; it pins
Gymnasium 0.29) as a subprocess: on SB3's DQN with rl-zoo's tuned CartPole settings (those
of `protege.rl.LEARNER_DEFAULTS["dqn"]`; SB3's DQN defaults update the target network only
every 10,000 steps) and on SB3's SAC with its defaults for Pendulum-v1.

    python benchmarks/qlearning.py                   # ~10 minutes on 2 CPU cores
    python benchmarks/qlearning.py --quick           # CartPole rows only
    python benchmarks/qlearning.py --skip-imitation  # protege only

The table is printed and written to `benchmarks/out/qlearning.md` (raw numbers: `.json`).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from protege.algorithms.adversarial import GAILConfig, train_gail
from protege.algorithms.qlearning import IQLearnConfig, SQILConfig, train_iq_learn, train_sqil
from protege.callbacks import Callback
from protege.data import RandomPolicy, flatten_trajectories, rollout
from protege.data.rollout import Policy
from protege.envs import env_spaces
from protege.evaluation import ReturnStats, evaluate_returns, normalized_score
from protege.experts.scripted import scripted_expert
from protege.rl import LEARNER_DEFAULTS

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
EVAL_EPISODES = 10  # for the target check during training
FINAL_EPISODES = 20  # for the final policy
EVAL_SEED = 10_000
LOG_EVERY = 500


@dataclass(frozen=True)
class Row:
    env_id: str
    algo: str  # "iq-learn" | "sqil" | "gail" (protege's, as the adversarial reference)
    offline: bool
    demo_episodes: int
    steps: int  # env steps online, updates offline
    library: str = "protege"

    @property
    def label(self) -> str:
        mode = "offline" if self.offline else "online"
        name = {"iq-learn": "IQ-Learn", "sqil": "SQIL", "gail": "GAIL"}[self.algo]
        return f"{name} ({mode})" + (" · imitation 1.0.1" if self.library == "imitation" else "")


ROWS = [
    Row("CartPole-v1", "iq-learn", True, 10, 3000),
    Row("CartPole-v1", "iq-learn", False, 1, 10_000),
    Row("CartPole-v1", "sqil", False, 1, 10_000),
    Row("CartPole-v1", "sqil", False, 1, 10_000, "imitation"),
    Row("CartPole-v1", "sqil", False, 10, 10_000),
    Row("CartPole-v1", "sqil", False, 10, 10_000, "imitation"),
    Row("CartPole-v1", "gail", False, 10, 30_000),
    Row("Pendulum-v1", "iq-learn", True, 20, 10_000),
    Row("Pendulum-v1", "iq-learn", False, 20, 10_000),
    Row("Pendulum-v1", "sqil", False, 20, 10_000),
    Row("Pendulum-v1", "sqil", False, 20, 10_000, "imitation"),
    Row("Pendulum-v1", "gail", False, 20, 10_000),
    Row("Acrobot-v1", "iq-learn", True, 10, 3000),
]
TARGETS = {
    "CartPole-v1": "mean return >= 475",
    "Pendulum-v1": "normalised score >= 0.9",
    "Acrobot-v1": "mean return >= expert mean - expert std",
}


@dataclass
class Reference:
    """Expert and random returns on the evaluation seeds."""

    expert: ReturnStats
    random: ReturnStats

    def score(self, value: float) -> float:
        return normalized_score(value, self.expert.mean, self.random.mean)

    def reached(self, env_id: str, mean_return: float) -> bool:
        if env_id == "CartPole-v1":
            return mean_return >= 475
        if env_id == "Pendulum-v1":
            return self.score(mean_return) >= 0.9
        return mean_return >= self.expert.mean - self.expert.std


@dataclass
class Outcome:
    row: dict[str, Any]
    steps_to_target: int | None = None
    seconds_to_target: float | None = None
    train_seconds: float = 0.0
    wall_seconds: float = 0.0
    env_steps: int = 0
    final_mean: float = math.nan
    final_std: float = math.nan
    final_score: float = math.nan
    curve: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None


class Watch(Callback):
    """Records each progress row, and the first one at the target."""

    def __init__(self, row: Row, ref: Reference, out: Outcome) -> None:
        self.row, self.ref, self.out = row, ref, out

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if "env_steps" in metrics:  # GAIL's rows: judged on its own evaluations
            if "eval_return" not in metrics:
                return
            metrics = {"step": metrics["env_steps"], "seconds": metrics["seconds"],
                       "return_mean": metrics["eval_return"]}  # fmt: skip
        self.out.curve.append({k: metrics[k] for k in ("step", "seconds", "return_mean")})
        hit = self.ref.reached(self.row.env_id, metrics["return_mean"])
        if hit and self.out.steps_to_target is None:
            self.out.steps_to_target = int(metrics["step"])
            self.out.seconds_to_target = float(metrics["seconds"])  # evaluation excluded


def reference(env_id: str, episodes: int) -> Reference:
    spaces = env_spaces(env_id)
    expert = evaluate_returns(env_id, scripted_expert(env_id).act, episodes, EVAL_SEED)
    random = evaluate_returns(env_id, RandomPolicy(spaces.action, EVAL_SEED), episodes, EVAL_SEED)
    return Reference(expert, random)


def run(row: Row, ref: Reference) -> Outcome:
    out = Outcome(asdict(row))
    if row.library == "imitation":
        return run_imitation(row, ref, out)
    expert = scripted_expert(row.env_id).act
    demos = flatten_trajectories(rollout(row.env_id, expert, row.demo_episodes, seed=0))
    spaces = env_spaces(row.env_id)

    def evaluate(policy: Policy) -> dict[str, float]:
        return {"return_mean": evaluate_returns(row.env_id, policy, EVAL_EPISODES, EVAL_SEED).mean}

    start = time.perf_counter()
    common = {"steps": row.steps, "log_every": LOG_EVERY, "seed": 0}
    watch = [Watch(row, ref, out)]
    if row.algo == "iq-learn":
        cfg = IQLearnConfig(offline=row.offline, **common)
        env = None if row.offline else row.env_id
        result: Any = train_iq_learn(demos, spaces, cfg, watch, env=env, evaluate=evaluate)
    elif row.algo == "gail":  # evaluated every LOG_EVERY steps on its own check seeds
        learner = "sac" if row.env_id == "Pendulum-v1" else "ppo"
        gail_cfg = GAILConfig(steps=row.steps, learner=learner, eval_every=LOG_EVERY,
                              eval_episodes=EVAL_EPISODES, seed=0)  # fmt: skip
        result = train_gail(demos, spaces, gail_cfg, watch, env=row.env_id)
    else:
        result = train_sqil(
            demos, spaces, SQILConfig(**common), watch, env=row.env_id, evaluate=evaluate
        )
    out.wall_seconds = time.perf_counter() - start
    out.train_seconds, out.env_steps = result.train_seconds, result.env_steps
    final = evaluate_returns(row.env_id, result.policy, FINAL_EPISODES, EVAL_SEED)
    out.final_mean, out.final_std, out.final_score = final.mean, final.std, ref.score(final.mean)
    return out


# --- imitation 1.0.1's SQIL (in its own venv) -------------------------------------------------

CHILD = r'''
"""imitation 1.0.1's SQIL on protege's demonstrations; writes its results as JSON."""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import gymnasium as gym
import torch
from imitation.algorithms import sqil
from stable_baselines3 import DQN, SAC
from stable_baselines3.common.env_util import make_vec_env

job = json.loads(open(sys.argv[1]).read())
sys.path.insert(0, job["benchmarks"])
import _imitation_common

torch.set_num_threads(1)
env_id = job["env_id"]


def evaluate(policy, episodes):
    return _imitation_common.evaluate(policy, env_id, episodes, job["eval_seed"])


def reached(mean):
    if job["target"] == "return":
        return mean >= job["threshold"]
    return (mean - job["random"]) / (job["expert"] - job["random"]) >= job["threshold"]


trajs = _imitation_common.load_demos(job["demos"])
venv = make_vec_env(env_id, n_envs=1, seed=job["seed"])
discrete = isinstance(venv.action_space, gym.spaces.Discrete)
kwargs = dict(job["dqn_kwargs"]) if discrete else {}
trainer = sqil.SQIL(venv=venv, demonstrations=trajs, policy="MlpPolicy",
                    rl_algo_class=DQN if discrete else SAC,
                    rl_kwargs={"seed": job["seed"], "device": "cpu", **kwargs})
result, train_s, steps = {"curve": []}, 0.0, 0
wall = time.perf_counter()
while steps < job["steps"]:
    chunk = min(job["log_every"], job["steps"] - steps)
    start = time.perf_counter()
    trainer.train(total_timesteps=chunk, reset_num_timesteps=steps == 0)
    train_s += time.perf_counter() - start
    steps += chunk
    mean = float(evaluate(trainer.policy, job["episodes"]).mean())
    result["curve"].append({"step": steps, "seconds": train_s, "return_mean": mean})
    if reached(mean) and "steps_to_target" not in result:
        result["steps_to_target"], result["seconds_to_target"] = steps, train_s
final = evaluate(trainer.policy, job["final_episodes"])
result.update(train_seconds=train_s, wall_seconds=time.perf_counter() - wall, env_steps=steps,
              final_mean=float(final.mean()), final_std=float(final.std(ddof=1)))
with open(job["result"], "w") as f:
    json.dump(result, f)
'''


def imitation_python_or_none() -> Path | None:
    """The imitation venv's python (built on first use), or None after saying why not."""
    sys.path.insert(0, str(HERE))
    from _imitation_env import imitation_python_or_none as find

    return find()


def run_imitation(row: Row, ref: Reference, out: Outcome) -> Outcome:
    """imitation's SQIL on the same demonstrations, budget and evaluation seeds."""
    python = imitation_python_or_none()
    if python is None:
        out.error = "imitation unavailable"
        return out
    trajs = rollout(row.env_id, scripted_expert(row.env_id).act, row.demo_episodes, seed=0)
    target = "return" if row.env_id == "CartPole-v1" else "score"
    sys.path.insert(0, str(HERE))
    from _imitation_env import save_demos

    with tempfile.TemporaryDirectory(prefix="sqil-imitation-") as tmp:
        demos_path, script = Path(tmp, "demos.npz"), Path(tmp, "child.py")
        job_path, result_path = Path(tmp, "job.json"), Path(tmp, "result.json")
        save_demos(trajs, demos_path)
        script.write_text(CHILD)
        job = {
            "env_id": row.env_id, "demos": str(demos_path), "steps": row.steps,
            "log_every": LOG_EVERY, "seed": 0, "eval_seed": EVAL_SEED,
            "episodes": EVAL_EPISODES, "final_episodes": FINAL_EPISODES,
            "target": target, "threshold": 475.0 if target == "return" else 0.9,
            "expert": ref.expert.mean, "random": ref.random.mean,
            "dqn_kwargs": LEARNER_DEFAULTS["dqn"], "result": str(result_path),
            "benchmarks": str(HERE),
        }  # fmt: skip
        job_path.write_text(json.dumps(job))
        cmd = [str(python), str(script), str(job_path)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not result_path.exists():
            tail = " / ".join(done.stderr.strip().splitlines()[-3:])
            out.error = f"imitation's run failed (exit {done.returncode}): {tail}"
            return out
        r = json.loads(result_path.read_text())
    out.curve, out.env_steps = r["curve"], r["env_steps"]
    out.steps_to_target, out.seconds_to_target = (
        r.get("steps_to_target"),
        r.get("seconds_to_target"),
    )
    out.train_seconds, out.wall_seconds = r["train_seconds"], r["wall_seconds"]
    out.final_mean, out.final_std = r["final_mean"], r["final_std"]
    out.final_score = ref.score(out.final_mean)
    return out


# --- report ------------------------------------------------------------------------------------


def fmt_steps(o: Outcome) -> str:
    if o.steps_to_target is None:
        return "not reached"
    unit = "updates" if o.row["offline"] else "env steps"
    return f"{o.steps_to_target:,} {unit}"


def table(outcomes: list[Outcome], refs: dict[str, Reference]) -> str:
    lines = [
        "| env | algorithm | demos | budget | to target | s to target | train s | wall s "
        "| final return | score |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        r = o.row
        label = Row(**r).label
        budget = f"{r['steps']:,} {'updates' if r['offline'] else 'env steps'}"
        if o.error:
            lines.append(
                f"| {r['env_id']} | {label} | {r['demo_episodes']} ep | {budget} | {o.error} |"
                + " |" * 5
            )
            continue
        secs = "–" if o.seconds_to_target is None else f"{o.seconds_to_target:.1f}"
        lines.append(
            f"| {r['env_id']} | {label} | {r['demo_episodes']} ep | {budget} | {fmt_steps(o)} "
            f"| {secs} | {o.train_seconds:.1f} | {o.wall_seconds:.1f} "
            f"| {o.final_mean:.1f} ± {o.final_std:.1f} | {o.final_score:.3f} |"
        )
    lines.append("")
    lines.append(
        f"Judged every {LOG_EVERY} steps on {EVAL_EPISODES} episodes; s to target and train s "
        "are training only (evaluation excluded), wall s includes the evaluations; CPU, torch "
        "on 1 thread. imitation's SQIL: SB3 DQN with rl-zoo's CartPole settings, SB3 SAC "
        "defaults on Pendulum-v1."
    )
    for env_id, ref in refs.items():
        lines.append(
            f"{env_id}: target {TARGETS[env_id]}; expert {ref.expert.mean:.1f} ± "
            f"{ref.expert.std:.1f}, random {ref.random.mean:.1f} ± {ref.random.std:.1f} "
            f"({FINAL_EPISODES} episodes, seeds {EVAL_SEED}+)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CartPole-v1 rows only")
    parser.add_argument("--skip-imitation", action="store_true", help="protege only")
    args = parser.parse_args()
    rows = [r for r in ROWS if not args.quick or r.env_id == "CartPole-v1"]
    rows = [r for r in rows if not args.skip_imitation or r.library == "protege"]
    OUT.mkdir(exist_ok=True)
    torch.manual_seed(0)
    envs = dict.fromkeys(r.env_id for r in rows)
    refs = {env_id: reference(env_id, FINAL_EPISODES) for env_id in envs}
    outcomes = []
    for row in rows:
        print(f"{row.env_id} · {row.label} · {row.demo_episodes} episodes ...", flush=True)
        o = run(row, refs[row.env_id])
        outcomes.append(o)
        status = o.error or f"{fmt_steps(o)}; final {o.final_mean:.1f} ± {o.final_std:.1f}"
        print(f"  {status}", flush=True)
    text = table(outcomes, refs)
    print()
    print(text)
    (OUT / "qlearning.md").write_text(text + "\n")
    raw = {
        "outcomes": [asdict(o) for o in outcomes],
        "references": {k: asdict(v) for k, v in refs.items()},
    }
    (OUT / "qlearning.json").write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()

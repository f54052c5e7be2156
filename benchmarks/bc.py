"""Behavioral cloning: protege against HumanCompatibleAI `imitation` 1.0.1, same demonstrations.

What it measures, per environment (CartPole-v1 from 10 expert episodes, Pendulum-v1 from 20,
both from protege's built-in scripted experts; with `--envs Hopper-v5`, Hopper from 10 episodes
of protege's shipped SAC expert; demonstration seeds 0..N-1):

- time to target: training seconds (evaluation excluded) until the policy first reaches the
  target, judged after every epoch (Hopper: every 2nd) on 10 fixed evaluation episodes (seeds
  10000..10009): CartPole-v1 a mean return >= 475, Pendulum-v1 and Hopper-v5 a normalised score
  >= 0.9 (0 = a uniform-random policy, 1 = the expert, both measured on the same evaluation
  seeds);
- epochs to target, epochs run, samples/s (training samples processed per training second);
- the final return (mean ± std on the evaluation seeds) of the policy each library returns
  (protege: the best-validation epoch it restores; imitation: the last epoch), its normalised
  score, and the ratio imitation / protege of the times to target.

Both libraries run with their own defaults (protege `BCConfig()`: batch 256, 10% validation
split, early stopping, observations standardised by the demonstrations' statistics; imitation
`BC(...)`: batch 32, 32x32 MLP, entropy weight 1e-3, raw observations) on the CPU,
with the same number of torch threads, for the same epoch budget. The demonstrations are made
once and saved to `benchmarks/out/bc_demos_<env>.npz`, which imitation's side reads. imitation
pins Gymnasium 0.29, so it runs in its own venv (`benchmarks/.venv-imitation`, built on first use
by `_imitation_env.py`) as a subprocess; that subprocess first replays the expert's evaluation
episodes to check that its environments match protege's step for step. Gymnasium 0.29 has no
Hopper-v5: imitation's side runs Hopper-v4 (gymnasium 0.29.1's mujoco extra, installed into that
venv on first use), and the table says whether and how it differs from protege's Hopper-v5.

Run from the repository root, with protege's venv active:

    python benchmarks/bc.py                   # 100 epochs; a few minutes on 2 CPU cores
    python benchmarks/bc.py --quick           # 20 epochs
    python benchmarks/bc.py --skip-imitation  # protege only
    python benchmarks/bc.py --threads 2       # torch threads on both sides (default 1)
    python benchmarks/bc.py --envs Hopper-v5  # MuJoCo Hopper only (not in the default run)

The table is printed and written to `benchmarks/out/bc.md` (raw numbers: `bc.json`).
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

import numpy as np
import torch

from protege.algorithms.bc import BCConfig, policy_arch, train_bc
from protege.callbacks import Callback
from protege.data import RandomPolicy, Trajectory, flatten_trajectories, rollout
from protege.envs import env_spaces, is_mujoco, make_env
from protege.evaluation import ReturnStats, evaluate_returns, normalized_score
from protege.experts import load_expert
from protege.nets import fit_normalizers, obs_to_tensor
from protege.policies import ActorPolicy

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
EVAL_EPISODES = 10
EVAL_SEED = 10_000  # evaluation episodes use seeds 10000..10009, disjoint from the demos'
EPOCHS, QUICK_EPOCHS = 100, 20
SEED = 0


def warm_up() -> None:
    """One optimiser step on a tiny net, done on both sides before anything is timed: torch
    sets some things up lazily on first use (its first optimiser imports torch._dynamo, ~1 s)."""
    net = torch.nn.Linear(4, 2)
    torch.optim.Adam(net.parameters()).step(lambda: net(torch.ones(1, 4)).sum().backward())


@dataclass(frozen=True)
class Task:
    env_id: str
    demo_episodes: int
    target: str  # "return": mean return >= threshold; "score": normalised score >= threshold
    threshold: float
    expert: str = "scripted"  # a `load_expert` spec: "scripted" or "shipped"
    imitation_env_id: str = ""  # the id in imitation's Gymnasium 0.29 when it differs
    eval_every: int = 1  # epochs between evaluations (each one is 10 episodes)
    default: bool = True  # in the run without --envs
    env_diff: str = ""  # how imitation's env differs from protege's, from Gymnasium's docs

    @property
    def imitation_env(self) -> str:
        return self.imitation_env_id or self.env_id

    def describe(self) -> str:
        if self.target == "return":
            return f"mean return >= {self.threshold:g}"
        return f"normalised score >= {self.threshold:g}"


HOPPER_V4_V5 = (
    "Gymnasium's Hopper-v4 and -v5 load the same hopper.xml with frame_skip 4 (dt 0.008 s) "
    "and have the same 11-value observation, reward weights, health ranges, reset noise and "
    "1,000-step limit; v5 pays the healthy bonus (1 a step) only while the hopper is healthy, "
    "v4 on the step it falls too (an episode ending in a fall returns 1 more in v4), and v5 "
    "adds info keys and needs mujoco >= 2.3.3 (v4: >= 2.1.3)"
)

TASKS = {
    "CartPole-v1": Task("CartPole-v1", 10, "return", 475.0),
    "Pendulum-v1": Task("Pendulum-v1", 20, "score", 0.9),
    # MuJoCo: 1,000-step episodes, so evaluated every 2nd epoch; only run when asked
    "Hopper-v5": Task(
        "Hopper-v5", 10, "score", 0.9, expert="shipped", imitation_env_id="Hopper-v4",
        eval_every=2, default=False, env_diff=HOPPER_V4_V5,
    ),
}  # fmt: skip


@dataclass
class Reference:
    """Expert and random returns on the evaluation seeds: the two ends of the score."""

    expert: ReturnStats
    random: ReturnStats

    def score(self, value: float) -> float:
        return normalized_score(value, self.expert.mean, self.random.mean)

    def reached(self, task: Task, mean_return: float) -> bool:
        value = mean_return if task.target == "return" else self.score(mean_return)
        return value >= task.threshold


@dataclass
class Outcome:
    """One library on one environment."""

    library: str
    epochs_run: int = 0
    seconds_to_target: float | None = None
    epochs_to_target: int | None = None
    train_seconds: float = 0.0  # evaluation excluded
    samples_per_second: float = 0.0
    final_mean: float = math.nan
    final_std: float = math.nan
    final_score: float = math.nan
    curve: list[dict[str, float]] = field(default_factory=list)  # one row per evaluation
    error: str | None = None
    env: str = ""  # the env id and the Gymnasium / MuJoCo versions it ran under
    replay: str = ""  # imitation: how the expert's evaluation episodes replayed in its env


# --- demonstrations ------------------------------------------------------------------------


def save_demos(path: Path, trajs: list[Trajectory]) -> None:
    """Episodes as a plain npz that needs nothing but NumPy to read (imitation's side)."""
    np.savez(
        path,
        obs=np.concatenate([t.obs for t in trajs]),  # (sum(T + 1), obs_dim)
        acts=np.concatenate([t.acts for t in trajs]),  # (sum(T), *act_shape)
        rews=np.concatenate([t.rews for t in trajs]),  # (sum(T),)
        lengths=np.array([len(t) for t in trajs]),  # T per episode
        terminated=np.array([t.terminated for t in trajs]),
        truncated=np.array([t.truncated for t in trajs]),
    )


# --- protege ---------------------------------------------------------------------------------


class EvalEachEpoch(Callback):
    """Evaluates the policy being trained after every `task.eval_every`-th epoch. `train_bc`'s
    clock already leaves callback time out of `metrics["seconds"]`, so that is the training
    time so far."""

    def __init__(self, task: Task, policy: ActorPolicy, ref: Reference, out: Outcome) -> None:
        self.task, self.policy, self.ref, self.out = task, policy, ref, out

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if (i + 1) % self.task.eval_every:
            return
        train_s = metrics["seconds"]
        stats = evaluate_returns(self.task.env_id, self.policy, EVAL_EPISODES, seed=EVAL_SEED)
        score = self.ref.score(stats.mean)
        self.out.curve.append(
            {"epoch": i + 1, "train_s": train_s, "return": stats.mean, "score": score}
        )
        if self.out.seconds_to_target is None and self.ref.reached(self.task, stats.mean):
            self.out.seconds_to_target, self.out.epochs_to_target = train_s, i + 1
            print(
                f"  protege   {self.task.env_id}: target reached at epoch {i + 1}, "
                f"{train_s:.2f} s (return {stats.mean:.1f})",
                flush=True,
            )


def env_versions(env_id: str) -> str:
    """The env id with the Gymnasium (and MuJoCo) version it runs under here."""
    import gymnasium

    text = f"{env_id}, gymnasium {gymnasium.__version__}"
    if is_mujoco(env_id):
        import mujoco

        text += f", mujoco {mujoco.__version__}"
    return text


def run_protege(task: Task, trajs: list[Trajectory], ref: Reference, epochs: int) -> Outcome:
    out = Outcome("protege", env=env_versions(task.env_id))
    demos = flatten_trajectories(trajs)
    spaces = env_spaces(task.env_id)
    cfg = BCConfig(epochs=epochs, device="cpu", seed=SEED)
    # The policy train_bc would build itself, made here so the callback can evaluate it: same
    # seed and architecture, so the same initial weights, and its observation normaliser
    # fitted to the demonstrations as train_bc does for a policy it builds (BCConfig's
    # normalize_obs; train_bc leaves a policy it is given as it is).
    torch.manual_seed(cfg.seed)
    policy = ActorPolicy(spaces, policy_arch(cfg, task.env_id))
    fit_normalizers(policy.encoder, obs_to_tensor(demos.obs, spaces.observation))
    evaluator = EvalEachEpoch(task, policy, ref, out)
    result = train_bc(demos, spaces, cfg, callbacks=[evaluator], policy=policy)

    n_val = int(len(demos) * cfg.val_fraction) if len(demos) * cfg.val_fraction >= 1 else 0
    out.epochs_run = len(result.history)
    out.train_seconds = result.history[-1]["seconds"]
    out.samples_per_second = (len(demos) - n_val) * out.epochs_run / out.train_seconds
    final = evaluate_returns(task.env_id, result.policy, EVAL_EPISODES, seed=EVAL_SEED)
    out.final_mean, out.final_std, out.final_score = final.mean, final.std, ref.score(final.mean)
    return out


# --- imitation (in its own venv) ------------------------------------------------------------

CHILD = r'''
"""imitation 1.0.1's BC on protege's demonstrations; writes its results as JSON."""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import gymnasium as gym
import numpy as np
import torch
from imitation.algorithms import bc
from imitation.data import rollout, types
from imitation.util import logger as imit_logger

job = json.loads(open(sys.argv[1]).read())
torch.set_num_threads(job["threads"])
net = torch.nn.Linear(4, 2)  # warm-up, as on protege's side: torch's one-time lazy set-up
torch.optim.Adam(net.parameters()).step(lambda: net(torch.ones(1, 4)).sum().backward())
env_id, seeds = job["env_id"], list(range(job["eval_seed"], job["eval_seed"] + job["episodes"]))
envs = [gym.make(env_id) for _ in seeds]
versions = f"{env_id}, gymnasium {gym.__version__}"
if job["mujoco"]:
    import mujoco

    versions += f", mujoco {mujoco.__version__}"


def same(x, y):
    return np.allclose(x, y, rtol=1e-5, atol=1e-6)


def replay_check(check):
    """Replays, open loop, the expert's evaluation episodes recorded in protege's env: does
    each start, step and end the same here? (None, summary) when all do, else (how, summary)."""
    n_eps, a, o = len(seeds), 0, 0
    starts = lengths = rets = 0
    first, worst_obs, worst_ret = [], 0.0, 0.0
    for k, (env, seed) in enumerate(zip(envs, seeds)):
        n, ref = int(check["lengths"][k]), check["obs"][o : o + int(check["lengths"][k]) + 1]
        obs, _ = env.reset(seed=seed)
        starts += same(obs, ref[0])
        total, t, done, diverged = 0.0, 0, False, None if same(obs, ref[0]) else 0
        while not done and t < n:
            obs, r, term, trunc, _ = env.step(check["acts"][a + t])
            total, t, done = total + float(r), t + 1, term or trunc
            worst_obs = max(worst_obs, float(np.max(np.abs(obs - ref[t]))))
            if diverged is None and not same(obs, ref[t]):
                diverged = t
        if diverged is not None:
            first.append(diverged)
        lengths += t == n and done
        gap = abs(total - check["returns"][k])
        rets += gap <= 1e-6 * max(1.0, abs(total))
        worst_ret = max(worst_ret, gap / max(1.0, abs(check["returns"][k])))
        a, o = a + n, o + n + 1
    if not first and lengths == rets == n_eps:
        return None, (f"{n_eps}/{n_eps} expert episodes replay step for step (largest "
                      f"observation difference {worst_obs:.3g}, return {100 * worst_ret:.3g}%)")
    how = (f"of {n_eps} expert episodes replayed with their recorded actions, {starts} start "
           f"the same, {n_eps - len(first)} stay within 1e-5 of protege's observations to "
           f"the end, {lengths} end at the same step, {rets} return the same")
    if first:
        how += (f"; observations first differ at step {min(first)} (median "
                f"{int(np.median(first))}), by up to {worst_obs:.3g} later; returns differ by "
                f"up to {100 * worst_ret:.1f}%")
    return how, how


def evaluate(policy):
    """Deterministic returns on the evaluation seeds, all episodes stepped as one batch."""
    obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)])
    returns, done = np.zeros(len(envs)), np.zeros(len(envs), dtype=bool)
    while not done.all():
        idx = np.flatnonzero(~done)
        acts, _ = policy.predict(obs[idx], deterministic=True)
        for j, act in zip(idx, acts):
            obs[j], r, term, trunc, _ = envs[j].step(act)
            returns[j] += r
            done[j] = term or trunc
    return returns


def reached(mean):
    score = (mean - job["random"]) / (job["expert"] - job["random"])
    return (mean if job["target"] == "return" else score) >= job["threshold"], score


d = np.load(job["demos"])
trajs, o, a = [], 0, 0
for length, terminal in zip(d["lengths"], d["terminated"]):
    trajs.append(
        types.TrajectoryWithRew(
            obs=d["obs"][o : o + length + 1],
            acts=d["acts"][a : a + length],
            infos=None,
            terminal=bool(terminal),
            rews=d["rews"][a : a + length].astype(np.float32),
        )
    )
    o, a = o + length + 1, a + length
transitions = rollout.flatten_trajectories(trajs)

mismatch, replay = replay_check(np.load(job["check"]))
result = {"mismatch": mismatch, "replay": replay, "env": versions, "curve": []}
torch.manual_seed(job["seed"])
trainer = bc.BC(
    observation_space=envs[0].observation_space,
    action_space=envs[0].action_space,
    rng=np.random.default_rng(job["seed"]),
    demonstrations=transitions,
    device="cpu",
    custom_logger=imit_logger.configure(job["log_dir"]),  # the default outputs, in a temp dir
)
per_epoch = len(transitions) // trainer.batch_size * trainer.batch_size  # drop_last=True
train_s, returns = 0.0, None
for epoch in range(1, job["epochs"] + 1):
    start = time.perf_counter()
    trainer.train(n_epochs=1, progress_bar=False)
    train_s += time.perf_counter() - start
    if epoch % job["eval_every"] and epoch != job["epochs"]:
        continue
    returns = evaluate(trainer.policy)
    hit, score = reached(returns.mean())
    result["curve"].append(
        {"epoch": epoch, "train_s": train_s, "return": returns.mean(), "score": score}
    )
    if hit and "seconds_to_target" not in result:
        result["seconds_to_target"], result["epochs_to_target"] = train_s, epoch
        print(f"  imitation {env_id}: target reached at epoch {epoch}, {train_s:.2f} s "
              f"(return {returns.mean():.1f})", file=sys.stderr, flush=True)
    if epoch % (10 * job["eval_every"]) == 0:
        print(f"  imitation {env_id}: epoch {epoch}, {train_s:.1f} s, return "
              f"{returns.mean():.1f}", file=sys.stderr, flush=True)
result.update(
    epochs_run=job["epochs"],
    train_seconds=train_s,
    samples_per_second=per_epoch * job["epochs"] / train_s,
    final_mean=float(returns.mean()),
    final_std=float(returns.std(ddof=1)),
)
with open(job["result"], "w") as f:
    json.dump(result, f)
'''


def save_eval_check(path: Path, expert_trajs: list[Trajectory]) -> None:
    """The expert's evaluation episodes, for the child to replay in its own Gymnasium."""
    np.savez(
        path,
        obs=np.concatenate([t.obs for t in expert_trajs]),  # (sum(T + 1), obs_dim)
        acts=np.concatenate([t.acts for t in expert_trajs]),
        lengths=np.array([len(t) for t in expert_trajs]),
        returns=np.array([t.episode_return for t in expert_trajs]),
    )


def run_imitation(
    python: Path, task: Task, demos_path: Path, check_path: Path, ref: Reference, epochs: int
) -> Outcome:
    out = Outcome("imitation")
    with tempfile.TemporaryDirectory(prefix="bc-imitation-") as tmp:
        script, job_path, result_path = Path(tmp, "child.py"), Path(tmp, "job.json"), Path(tmp, "r")
        script.write_text(CHILD)
        job = {
            "env_id": task.imitation_env,
            "mujoco": is_mujoco(task.env_id),
            "demos": str(demos_path),
            "check": str(check_path),
            "eval_seed": EVAL_SEED,
            "episodes": EVAL_EPISODES,
            "epochs": epochs,
            "eval_every": task.eval_every,
            "seed": SEED,
            "threads": torch.get_num_threads(),
            "target": task.target,
            "threshold": task.threshold,
            "expert": ref.expert.mean,
            "random": ref.random.mean,
            "log_dir": str(Path(tmp, "log")),
            "result": str(result_path),
        }
        job_path.write_text(json.dumps(job))
        # stdout carries imitation's own logger; progress lines come on stderr, shown as is
        done = subprocess.run(
            [str(python), str(script), str(job_path)], stdout=subprocess.PIPE, text=True
        )
        if done.returncode != 0 or not result_path.exists():
            out.error = f"imitation's run failed (exit {done.returncode})"
            return out
        r = json.loads(result_path.read_text())
    out.env, out.replay = r["env"], r["replay"]
    if r["mismatch"]:
        print(f"  WARNING: imitation's {task.imitation_env} differs from protege's {task.env_id}: "
              f"{r['mismatch']}")  # fmt: skip
        out.error = "environments differ"
    out.curve = r["curve"]
    out.epochs_run = r["epochs_run"]
    out.seconds_to_target, out.epochs_to_target = (
        r.get("seconds_to_target"),
        r.get("epochs_to_target"),
    )
    out.train_seconds, out.samples_per_second = r["train_seconds"], r["samples_per_second"]
    out.final_mean, out.final_std = r["final_mean"], r["final_std"]
    out.final_score = ref.score(out.final_mean)
    return out


def imitation_python_or_none() -> Path | None:
    """The imitation venv's python (built on first use), or None after saying why not."""
    sys.path.insert(0, str(HERE))
    from _imitation_env import imitation_python_or_none as find

    return find()


def imitation_mujoco_or_none(python: Path) -> Path | None:
    """`python` once Gymnasium 0.29's MuJoCo envs work in its venv (installed on first use),
    or None after saying why not."""
    from _imitation_env import ImitationUnavailable, with_mujoco

    try:
        return with_mujoco(python)
    except ImitationUnavailable as exc:
        print(f"imitation's MuJoCo envs unavailable, protege only:\n{exc}", flush=True)
        return None


# --- report --------------------------------------------------------------------------------


def _ratio(ours: Outcome, theirs: Outcome) -> str:
    if ours.seconds_to_target is None or theirs.error:
        return "n/a"
    if theirs.seconds_to_target is None:  # a lower bound: it had all its training time
        return f"> {theirs.train_seconds / ours.seconds_to_target:.1f}x"
    return f"{theirs.seconds_to_target / ours.seconds_to_target:.1f}x"


def table(results: list[tuple[Task, Reference, list[Outcome]]], epochs: int) -> str:
    head = (
        "| env | library | s to target | epochs to target | epochs run | samples/s "
        "| final return | normalised score | imitation/protege time |"
    )
    lines = [head, "|" + "---|" * 9]
    for task, _ref, outs in results:
        protege = outs[0]
        for o in outs:
            if o.error and not o.curve:
                lines.append(f"| {task.env_id} | {o.library} | {o.error} |" + " |" * 6)
                continue
            ttt = "not reached" if o.seconds_to_target is None else f"{o.seconds_to_target:.2f}"
            ept = "-" if o.epochs_to_target is None else str(o.epochs_to_target)
            ratio = _ratio(protege, o) if o is not protege else ""
            lib = o.library + (f" ({o.error})" if o.error else "")
            lines.append(
                f"| {task.env_id} | {lib} | {ttt} | {ept} | {o.epochs_run} "
                f"| {o.samples_per_second:,.0f} | {o.final_mean:.1f} ± {o.final_std:.1f} "
                f"| {o.final_score:.2f} | {ratio} |"
            )
    notes = ["", f"Targets (budget {epochs} epochs):"]
    for task, ref, outs in results:
        every = "each epoch" if task.eval_every == 1 else f"every {task.eval_every} epochs"
        notes.append(
            f"- {task.env_id}: {task.describe()}, judged {every}, {task.demo_episodes} "
            f"{task.expert} expert episodes; expert {ref.expert.mean:.1f} ± "
            f"{ref.expert.std:.1f}, random {ref.random.mean:.1f} ± {ref.random.std:.1f}"
        )
        for o in outs[1:]:
            if o.env and (task.imitation_env != task.env_id or o.error):
                notes.append(
                    f"  - imitation's env: {o.env}; protege's: {outs[0].env}. Replay check: "
                    f"{o.replay}. imitation's returns are measured in its env and scored "
                    "against the expert and random returns measured in protege's"
                    + (f". {task.env_diff}" if task.env_diff else "")
                )
    notes.append(
        "- each library's own defaults: protege BCConfig() (batch 256, 64x64 MLP, 256x256 on "
        "MuJoCo, 10% held "
        "out for early stopping, returns the best-validation epoch), imitation BC (batch 32, "
        "32x32 MLP, entropy weight 1e-3, returns the last epoch)"
    )
    notes.append(
        f"- evaluation: {EVAL_EPISODES} deterministic episodes, seeds {EVAL_SEED}.."
        f"{EVAL_SEED + EVAL_EPISODES - 1}; times are training only, CPU, "
        f"torch threads: {torch.get_num_threads()}"
    )
    return "\n".join(lines + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs")
    parser.add_argument("--epochs", type=int, help=f"epoch budget (default {EPOCHS})")
    parser.add_argument("--skip-imitation", action="store_true", help="protege only")
    parser.add_argument(
        "--envs",
        nargs="+",
        choices=list(TASKS),
        default=[k for k, t in TASKS.items() if t.default],
        help="default: %(default)s (Hopper-v5 only when named: it needs the mujoco extra)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads, both sides (default 1: steadier timings on a shared machine)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warm_up()
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    python = None if args.skip_imitation else imitation_python_or_none()
    if python is not None and any(is_mujoco(TASKS[e].env_id) for e in args.envs):
        python = imitation_mujoco_or_none(python)

    results = []
    for env_id in args.envs:
        task = TASKS[env_id]
        expert = load_expert(task.expert, env_id)
        trajs = rollout(env_id, expert, task.demo_episodes, seed=0)
        demos_path = OUT / f"bc_demos_{env_id}.npz"
        save_demos(demos_path, trajs)
        env = make_env(env_id)
        action_space = env.action_space
        env.close()
        expert_eval = rollout(env_id, expert, EVAL_EPISODES, seed=EVAL_SEED)
        ref = Reference(
            expert=ReturnStats.of(
                np.array([t.episode_return for t in expert_eval]),
                np.array([len(t) for t in expert_eval]),
            ),
            random=evaluate_returns(
                env_id, RandomPolicy(action_space, EVAL_SEED), EVAL_EPISODES, seed=EVAL_SEED
            ),
        )
        print(
            f"{env_id}: {len(trajs)} demos ({sum(map(len, trajs))} steps, mean return "
            f"{np.mean([t.episode_return for t in trajs]):.1f}) -> {demos_path.name}; "
            f"target: {task.describe()}",
            flush=True,
        )
        outs = [run_protege(task, trajs, ref, epochs)]
        if python is not None:
            check_path = OUT / f"bc_evalcheck_{env_id}.npz"
            save_eval_check(check_path, expert_eval)
            outs.append(run_imitation(python, task, demos_path, check_path, ref, epochs))
        results.append((task, ref, outs))

    md = table(results, epochs)
    elapsed = time.perf_counter() - started
    md += f"- whole run (demos, training, evaluation): {elapsed:.0f} s\n"
    print("\n" + md)
    (OUT / "bc.md").write_text(md)
    raw: list[dict[str, Any]] = [
        {"env_id": t.env_id, "expert": asdict(r.expert), "random": asdict(r.random)}
        | {"outcomes": [asdict(o) for o in outs]}
        for t, r, outs in results
    ]
    (OUT / "bc.json").write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

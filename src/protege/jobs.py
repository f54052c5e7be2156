"""The jobs behind the CLI: collect demonstrations, train and evaluate a run directory.

Each job is a plain function, so the CLI, `quickstart` and tests share one code path.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

import protege
from protege.algorithms.bc import BCConfig, train_bc
from protege.algorithms.dagger import DAggerConfig, round_path, train_dagger
from protege.callbacks import Callback, CSVLogger
from protege.config import config_from_dict
from protege.data.rollout import Policy, RandomPolicy, rollout
from protege.data.storage import (
    DatasetWriter,
    Demonstrations,
    check_fits_in_memory,
    load_trajectories,
    save_trajectories,
)
from protege.data.types import Trajectory, flatten_trajectories
from protege.envs import env_spaces, is_tabular_spec, make_env
from protege.errors import ExpertError, ProtegeError, RunDirError
from protege.evaluation import ReturnStats, compare_with_expert, evaluate_returns, normalized_score
from protege.experts import SB3Expert, load_expert, load_sb3_model
from protege.experts.scripted import SCRIPTED_EXPERTS
from protege.policies import ActorPolicy
from protege.report import plot_rounds
from protege.runs import (
    CONFIG,
    METRICS,
    POLICY,
    PROGRESS,
    SB3_POLICY,
    prepare_run_dir,
    read_config,
    read_json,
    write_json_atomic,
)

ROUNDS = "rounds"  # DAgger's per-round labelled datasets inside a run directory
CHECKPOINTS = "checkpoints"  # training state for --resume
EVAL_SEED = 10_000  # evaluation episodes start here, away from collection seeds 0, 1, ...
ADVERSARIAL_ALGO_NAMES = ("gail", "airl", "gcl")
TABULAR_ALGO_NAMES = ("lp-irl", "apprenticeship", "maxent", "mce", "bayesian-irl", "deep-maxent")


def default_expert(env_id: str) -> str | None:
    """'scripted' when protege has a built-in expert for the env, else None."""
    return "scripted" if env_id in SCRIPTED_EXPERTS else None


def builtin_expert(env_id: str) -> str | None:
    """'scripted' where protege has a scripted expert, 'optimal' where the dynamics are known
    (tabular specs, toy-text envs), else None: what sweeps and benches record and compare
    with when the user names no expert."""
    if env_id in SCRIPTED_EXPERTS:
        return "scripted"
    if is_tabular_spec(env_id):  # built-in MDPs: known dynamics, nothing to build here
        return "optimal"
    from protege.envs.tabular import make_tabular

    try:
        make_tabular(env_id)  # toy-text: dynamics read from the env
    except ProtegeError:
        return None
    return "optimal"


def collect(
    env_id: str,
    expert: str,
    episodes: int,
    out: str | Path,
    seed: int = 0,
    overwrite: bool = False,
    on_episode: Callable[[int, Trajectory], None] | None = None,
) -> list[Trajectory]:
    """Roll out the expert for `episodes` seeded episodes and save them to `out`.

    Each episode is written as soon as it ends (in the order they end), so a killed collect
    keeps every finished one; at the end the dataset is rewritten once in episode order.
    """
    spaces = env_spaces(env_id)  # first: an unknown env is the clearer error
    policy = load_expert(expert, env_id)
    horizon = episode_limit(env_id)
    if horizon is not None:  # rollouts and the writer hold about three copies of the data
        need = 3 * episodes * (horizon + 1) * step_bytes(spaces)
        check_fits_in_memory(str(out), need, f"{episodes} episodes of up to {horizon} steps")
    writer = DatasetWriter(out, env_id, spaces, overwrite=overwrite)

    def finished(i: int, traj: Trajectory) -> None:
        writer.add(traj)
        if on_episode is not None:
            on_episode(i, traj)

    trajs = rollout(env_id, policy, episodes, seed=seed, on_episode=finished)
    save_trajectories(out, trajs, env_id, spaces, overwrite=True)
    return trajs


def rerun_from_config(
    config_path: str | Path,
    out: str | Path,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train a new run from an earlier run's config.json alone: the same algorithm, env,
    demonstrations, expert and every setting, so on CPU the same metrics come out."""
    path = Path(config_path)
    run_dir = path if path.is_dir() else path.parent
    if not path.is_dir() and path.name != CONFIG:
        raise RunDirError(f"{path}: a run's settings are in {CONFIG}; pass RUN_DIR/{CONFIG}")
    config = read_config(run_dir)
    if not isinstance(config.get("config"), dict):
        raise RunDirError(f"{run_dir / CONFIG}: no 'config' settings; it cannot be re-run")
    algo, env_id = config["algo"], config["env"]
    episodes = int(config.get("eval_episodes", 20))
    if algo == "bc":
        cfg = config_from_dict(BCConfig, config["config"])
        return train_bc_run(env_id, config["demos"], out, cfg, config.get("expert"), episodes,
                            overwrite, callbacks)  # fmt: skip
    if algo == "dagger":
        dagger_cfg = config_from_dict(DAggerConfig, config["config"])
        return train_dagger_run(env_id, config["expert"], out, dagger_cfg, episodes, overwrite,
                                callbacks=callbacks)  # fmt: skip
    if algo in TABULAR_ALGO_NAMES:
        from protege.tabular_jobs import rerun_tabular

        return rerun_tabular(config, out, overwrite, callbacks)
    if algo in ("iq-learn", "sqil"):
        from protege.qlearning_jobs import rerun_qlearning

        return rerun_qlearning(config, out, overwrite, callbacks)
    if algo in ADVERSARIAL_ALGO_NAMES:
        from protege.adversarial_jobs import ADVERSARIAL_ALGOS, train_adversarial_run

        adv_cfg = config_from_dict(ADVERSARIAL_ALGOS[algo][0], config["config"])
        expert = config.get("expert")
        return train_adversarial_run(
            algo, env_id, config["demos"], out, adv_cfg, expert, episodes, overwrite, callbacks
        )
    raise RunDirError(f"{path}: algo '{algo}' cannot be re-run from its config yet")


def episode_limit(env_id: str) -> int | None:
    """The env's time limit (max_episode_steps), if it has one."""
    env = make_env(env_id)
    try:
        return env.spec.max_episode_steps if env.spec is not None else None
    finally:
        env.close()


def step_bytes(spaces: Any) -> int:
    """Bytes one stored step takes: an observation and an action."""

    def size(sample: Any) -> int:
        if isinstance(sample, dict):
            return sum(size(v) for v in sample.values())
        return int(np.asarray(sample).nbytes)

    return size(spaces.observation.sample()) + size(spaces.action.sample())


def load_demos(demos: str | Path, env_id: str) -> Demonstrations:
    """Load and validate demonstrations against `env_id`."""
    return load_trajectories(demos, env_id=env_id, spaces=env_spaces(env_id))


def _expert_reference(
    env_id: str, expert: str | None, demos: Demonstrations
) -> Policy | ReturnStats:
    """The expert to compare with: a policy to roll out, or else the demonstrations' returns."""
    if expert is not None:
        return load_expert(expert, env_id)
    returns = np.array([t.episode_return for t in demos.trajectories])
    if np.isnan(returns).any():
        raise ExpertError(
            f"no expert to compare with on {env_id}: the demonstrations carry no rewards and "
            "there is no built-in expert; pass --expert PATH|module:fn"
        )
    return ReturnStats.of(returns, np.array([len(t) for t in demos.trajectories]))


def run_config(
    algo: str, env_id: str, demos_path: str | Path, expert: str | None, eval_episodes: int,
    cfg: Any, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """What config.json holds for a run learned from demonstrations: enough to repeat it."""
    path = Path(demos_path)
    return {
        "algo": algo,
        "env": env_id,
        "demos": str(path.resolve()) if path.exists() else str(demos_path),
        "expert": expert,
        "eval_episodes": eval_episodes,
        "eval_seed": EVAL_SEED,
        **extra,
        "protege_version": protege.__version__,
        "config": asdict(cfg),
    }


def open_run(out: str | Path, config: dict[str, Any], overwrite: bool, resume: bool) -> Path:
    """The run directory: a new one with `config` written, or (resume) the existing one,
    which must have been started with the same settings."""
    run = Path(out)
    if resume and (run / CONFIG).is_file():
        previous = read_config(run)
        if previous.get("config") != json.loads(json.dumps(config["config"])):
            raise RunDirError(
                f"{run / CONFIG}: the run was started with other settings; resume it with the "
                "same flags, or start a new run with another --out"
            )
        return run
    run = prepare_run_dir(out, overwrite=overwrite)
    for stale in (CHECKPOINTS, ROUNDS):  # an overwritten run's state must not be resumed
        shutil.rmtree(run / stale, ignore_errors=True)
    write_json_atomic(run / CONFIG, config)
    return run


def train_bc_run(
    env_id: str,
    demos_path: str | Path,
    out: str | Path,
    cfg: BCConfig,
    expert: str | None = None,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """Behavioral cloning into a run directory, then the comparison with the expert.

    The training state is checkpointed every 10 epochs (checkpoints/bc.pt); `resume`
    continues an interrupted run from it.
    """
    demos = load_demos(demos_path, env_id)
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config("bc", env_id, demos_path, expert, eval_episodes, cfg)
    run = open_run(out, config, overwrite, resume)
    transitions = flatten_trajectories(demos.trajectories)
    result = train_bc(
        transitions, demos.spaces, cfg, [CSVLogger(run / PROGRESS), *callbacks],
        checkpoint=run / CHECKPOINTS / "bc.pt",
    )  # fmt: skip
    result.policy.save(run / POLICY)
    metrics = evaluate_run(run, eval_episodes, train_seconds=result.train_seconds)
    return metrics


def evaluate_run(
    run_dir: str | Path,
    episodes: int | None = None,
    train_seconds: float | None = None,
    on_episode: Callable[[int, Any], None] | None = None,
) -> dict[str, Any]:
    """Measure a run's policy against the expert and random policy; write metrics.json."""
    run = Path(run_dir)
    config = read_config(run)
    if config.get("algo") in TABULAR_ALGO_NAMES:
        from protege.tabular_jobs import evaluate_tabular_run

        return evaluate_tabular_run(run, episodes, on_episode)
    env_id = config["env"]
    episodes = episodes or int(config.get("eval_episodes", 20))
    policy = load_run_policy(run)
    demos = run_demonstrations(run, config)
    transitions = flatten_trajectories(demos.trajectories)
    expert_ref = (
        human_expert_returns(run)
        if config.get("expert") == "human"
        else _expert_reference(env_id, config.get("expert"), demos)
    )
    seed = int(config.get("eval_seed", EVAL_SEED))
    comparison = compare_with_expert(
        env_id, policy, expert_ref, episodes, seed, transitions, on_episode=on_episode
    )
    metrics: dict[str, Any] = dict(comparison.metrics())
    metrics["expert_source"] = config.get("expert") or "demonstrations"
    metrics["demo_episodes"] = len(demos.trajectories)
    metrics["demo_steps"] = len(transitions)
    previous = read_json(run / METRICS, METRICS) if (run / METRICS).is_file() else {}
    if train_seconds is None:
        train_seconds = previous.get("train_seconds")
    metrics["train_seconds"] = train_seconds
    metrics["evaluated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if config["algo"] == "dagger":
        metrics["rounds"] = read_progress(run)
    for key, value in previous.items():  # what training measured (env steps, reward
        metrics.setdefault(key, value)  # correlations...) survives a re-evaluation
    write_json_atomic(run / METRICS, metrics)
    return metrics


def load_run_policy(run: Path) -> Policy:
    """A run's policy: `policy.pt` (protege's ActorPolicy) or `policy.zip` (an SB3 model)."""
    if (run / POLICY).is_file():
        return ActorPolicy.load(run / POLICY)
    if (run / SB3_POLICY).is_file():
        return SB3Expert(load_sb3_model(run / SB3_POLICY))
    raise RunDirError(
        f"{run}: no {POLICY} or {SB3_POLICY}; the run never finished training, train it again"
    )


def run_demonstrations(run: Path, config: dict[str, Any]) -> Demonstrations:
    """The expert-labelled data a run learned from: its demos file, or DAgger's rounds."""
    if config["algo"] != "dagger":
        return load_demos(config["demos"], config["env"])
    rounds = sorted((run / ROUNDS).glob("round_*.npz"))
    if not rounds:
        raise RunDirError(
            f"{run / ROUNDS}: no round datasets; the DAgger run never finished a round"
        )
    loaded = [load_demos(r, config["env"]) for r in rounds]
    trajs = [t for d in loaded for t in d.trajectories]
    return Demonstrations(trajs, config["env"], loaded[0].spaces, str(run / ROUNDS))


def human_expert_returns(run: Path) -> ReturnStats:
    """A person's returns in a human-expert DAgger run: the episodes they drove in round 0
    (the last one is left out when the label budget cut it short)."""
    config = read_config(run)
    path = round_path(run / ROUNDS, 0)
    if not path.is_file():
        raise RunDirError(f"{path}: missing; the person's first round was never saved")
    trajs = load_demos(path, config["env"]).trajectories
    whole = trajs[:-1] if len(trajs) > 1 else trajs  # the last may be cut by the label budget
    return ReturnStats.of(
        np.array([t.episode_return for t in whole]), np.array([len(t) for t in whole])
    )


def read_progress(run: Path) -> list[dict[str, float]]:
    """progress.csv as a list of rows of floats."""
    path = run / PROGRESS
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def train_dagger_run(
    env_id: str,
    expert: str,
    out: str | Path,
    cfg: DAggerConfig,
    eval_episodes: int = 10,
    overwrite: bool = False,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    on_frame: Callable[[int], None] | None = None,
    fps: float | None = None,
    keymap: str | Path | None = None,
) -> dict[str, Any]:
    """DAgger into a run directory: per-round datasets, per-round scores, progress.png.

    expert "human": a person labels by taking over the learner in a window (HG-DAgger); their
    return, the 1 of the normalised score, is that of the episodes they drove in round 0.
    fps: the person's frame-rate limit (default: the env's); keymap: a JSON key map file
    (default: the env's built-in one); on_frame: scripted input, tests.
    """
    spaces = env_spaces(env_id)
    human = expert == "human"
    if human:
        from protege.experts.human import Teleop, default_fps, human_collector, keymap_for

        keys = keymap_for(env_id, keymap)  # no or a bad key map fails before anything runs
    expert_policy = None if human else load_expert(expert, env_id)
    config = {
        "algo": "dagger",
        "env": env_id,
        "expert": expert,
        "eval_episodes": eval_episodes,
        "eval_seed": EVAL_SEED,
        "protege_version": protege.__version__,
        "config": asdict(cfg),
    }
    run = open_run(out, config, overwrite, resume)
    rand = evaluate_returns(
        env_id, RandomPolicy(spaces.action, EVAL_SEED), eval_episodes, EVAL_SEED
    )
    expert_mean: list[float] = []  # measured once; for a person, after round 0 exists

    def evaluate(policy: Policy) -> dict[str, float]:
        if not expert_mean:
            expert_mean.append(
                human_expert_returns(run).mean
                if expert_policy is None
                else evaluate_returns(env_id, expert_policy, eval_episodes, EVAL_SEED).mean
            )
        stats = evaluate_returns(env_id, policy, eval_episodes, EVAL_SEED)
        score = normalized_score(stats.mean, expert_mean[0], rand.mean)
        return {"return_mean": stats.mean, "normalized_score": score}

    collect = None
    if human:
        env = make_env(env_id, render_mode="rgb_array")  # one env for every round's window
        rate = default_fps(env, keys) if fps is None else fps
        teleop = Teleop(
            keys, spaces.action, fps=rate, ramp_fps=rate or default_fps(env, keys),
            title=f"protege DAgger · {env_id}",
        )  # fmt: skip
        collect = human_collector(env, teleop, cfg.labels_per_round, on_frame)
    try:
        result = train_dagger(
            env_id, expert_policy, spaces, cfg, run / ROUNDS, evaluate,
            [CSVLogger(run / PROGRESS), *callbacks], env_id=env_id, collect=collect,
        )  # fmt: skip
    finally:
        if human:
            teleop.close()
            env.close()
    result.policy.save(run / POLICY)
    plot_rounds(result.history, run / "progress.png", title=f"DAgger on {env_id}")
    return evaluate_run(run, eval_episodes, train_seconds=result.train_seconds)

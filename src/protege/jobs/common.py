"""What every job shares: the run directory's config.json, demonstrations, the expert to
compare with, and the evaluation that writes metrics.json; and the steps the families'
`train_run` have in common (the config and demos checks, the SB3 learner's fit to the
env, progress.csv, policy.* and policy_best.*).

A job is "train X into a run directory" (one module per family beside this one); this
module sits below them all and imports none of them, nor `dispatch` above them.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

import protege
from protege.algorithms.best import BestSoFar
from protege.algorithms.dagger import round_path
from protege.callbacks import Callback, CSVLogger
from protege.config import apply_overrides
from protege.data.noise import NoisyPolicy, noise_levels
from protege.data.rollout import Policy, rollout
from protege.data.storage import (
    DatasetWriter,
    Demonstrations,
    check_fits_in_memory,
    load_trajectories,
)
from protege.data.types import Trajectory, flatten_trajectories
from protege.envs import EnvHandle, Spaces, env_spaces, is_metaworld, is_tabular_spec, resolve_env
from protege.errors import ConfigError, DatasetError, ExpertError, ProtegeError, RunDirError
from protege.evaluation import ReturnStats, compare_with_expert, ms_per_action
from protege.experts import SB3Expert, load_expert, load_sb3_model
from protege.experts.scripted import SCRIPTED_EXPERTS
from protege.experts.shipped import shipped_for
from protege.jobs import catalog
from protege.jobs.catalog import Algorithm
from protege.policies import ActorPolicy
from protege.rl import ALGOS, check_learner, save_sb3
from protege.rundir import (
    BEST_POLICY,
    BEST_SB3_POLICY,
    CONFIG,
    METRICS,
    POLICY,
    PROGRESS,
    SB3_POLICY,
    prepare_run_dir,
    read_config,
    read_metrics,
    read_progress,
    write_json_atomic,
)

TrainRun = TypeVar("TrainRun", bound=Callable[..., dict[str, Any]])
ROUNDS = "rounds"  # DAgger's per-round labelled datasets inside a run directory
CHECKPOINTS = "checkpoints"  # training state for --resume
EVAL_SEED = 10_000  # evaluation episodes start here, away from collection seeds 0, 1, ...


def configure(entry: Algorithm, overrides: Sequence[str] = (), **flags: Any) -> Any:
    """`entry`'s config from the CLI's flags, then `--set key=value` overrides.

    Each flag sets the config field the catalog maps it to (`Algorithm.flags`); `seed` is
    set wherever the config has one; a flag given (not None, not False) that does not
    apply is an error naming the settings there are, not silently ignored.
    """
    cfg = entry.default_config()
    changes: dict[str, Any] = {}
    nested: list[str] = []  # flags that set a field of a nested config, e.g. bc.seed
    for flag, value in flags.items():
        if value is None or value is False:
            continue
        field = entry.flags.get(flag, "seed" if flag == "seed" else None)
        if field is not None and "." in field:
            nested.append(f"{field}={value}")
            continue
        if field is None or not hasattr(cfg, field):
            if flag == "seed":
                continue  # seeds the evaluation only (tabular algorithms without randomness)
            raise ConfigError(
                f"--{flag.replace('_', '-')} does not apply to {entry.name}; its settings are "
                f"{', '.join(f for f in asdict(cfg))} (--set key=value)"
            )
        changes[field] = value
    return apply_overrides(replace(cfg, **changes), [*nested, *overrides])


def default_expert(env_id: str) -> str | None:
    """'scripted' when protege has a scripted expert for the env (Meta-World's own for the
    metaworld/* ids), 'shipped' when it ships a trained one (the MuJoCo envs,
    `protege.experts.shipped`), else None."""
    if env_id in SCRIPTED_EXPERTS or is_metaworld(env_id):
        return "scripted"
    return "shipped" if shipped_for(env_id) is not None else None


def builtin_expert(env_id: str) -> str | None:
    """`default_expert`, else 'optimal' where the dynamics are known (tabular specs,
    toy-text envs), else None: what sweeps and benches record and compare with when the
    user names no expert."""
    known = default_expert(env_id)
    if known is not None:
        return known
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
    noise: float | Sequence[float] | None = None,
    noise_kind: str | None = None,
) -> list[Trajectory]:
    """Roll out the expert for `episodes` seeded episodes and save them to `out`.

    The env is resolved once (`resolve_env`) and handed down. Each episode is validated
    and written as soon as it ends, in episode order, so a killed collect keeps every
    finished one and the last write is the whole dataset. Each episode's `meta` keeps its
    'return' (and its 'noise').

    noise: one noise level ε in [0, 1], or several (a schedule): `episodes` episodes are
        recorded at each level, in turn, into the one dataset (mixed quality, graded by ε).
        Episode i of the dataset starts from reset(seed=seed + i) and draws its noise
        from its own generator (`NoisyPolicy`), so a level of a schedule repeats as a
        single-level collect with the same starting seed.
    noise_kind: "gaussian" or "random" (`protege.data.noise`); None: the action space's
        default. Bad levels or kinds are refused before anything is written.
    """
    env = resolve_env(env_id)  # first: an unknown env is the clearer error
    levels = noise_levels(noise)
    if noise is None and noise_kind is not None:
        raise ConfigError("--noise-kind applies only with --noise or --noise-schedule")
    policy = load_expert(expert, env_id, env.spaces)
    if noise is not None:  # a kind that does not fit the action space fails here, not midway
        NoisyPolicy(policy, env.spaces.action, 0.0, noise_kind)
    total = episodes * len(levels)
    if env.horizon is not None:  # rollouts and the writer hold about three copies of the data
        need = 3 * total * (env.horizon + 1) * step_bytes(env.spaces)
        check_fits_in_memory(str(out), need, f"{total} episodes of up to {env.horizon} steps")
    writer = DatasetWriter(out, env_id, env.spaces, overwrite=overwrite)
    done: dict[int, Trajectory] = {}
    for k, level in enumerate(levels):
        first = k * episodes  # this level's first episode in the dataset

        def finished(
            j: int, traj: Trajectory, first: int = first, level: float | None = level
        ) -> None:
            meta: dict[str, Any] = {"return": traj.episode_return}
            if level is not None:
                meta["noise"] = level
            traj = replace(traj, meta={**traj.meta, **meta})
            writer.add(traj, position=first + j)
            done[first + j] = traj
            if on_episode is not None:
                on_episode(first + j, traj)

        actor = policy
        if level is not None:
            actor = NoisyPolicy(policy, env.spaces.action, level, noise_kind, seed + first)
        rollout(env.factory, actor, episodes, seed=seed + first, on_episode=finished)
    return [done[i] for i in range(total)]


def step_bytes(spaces: Any) -> int:
    """Bytes one stored step takes: an observation and an action."""

    def size(sample: Any) -> int:
        if isinstance(sample, dict):
            return sum(size(v) for v in sample.values())
        return int(np.asarray(sample).nbytes)

    return size(spaces.observation.sample()) + size(spaces.action.sample())


def load_demos(demos: str | Path, env: str | EnvHandle) -> Demonstrations:
    """Load and validate demonstrations against the env (an id, or a handle already
    resolved by the job); a dataset with no step to learn from is refused here, before any
    run directory is made."""
    env = env if isinstance(env, EnvHandle) else resolve_env(env)
    env_id = env.id
    data = load_trajectories(demos, env_id=env_id, spaces=env.spaces)
    if sum(len(t) for t in data.trajectories) == 0:
        raise DatasetError(
            f"{demos}: its {len(data.trajectories)} episode(s) hold no steps to learn from; "
            f"record episodes of at least one step (protege collect {env_id} ...)"
        )
    return data


def expert_reference(
    env_id: str, expert: str | None, demos: Demonstrations
) -> Policy | ReturnStats:
    """The expert to compare with: a policy to roll out, or else the demonstrations' returns
    (and success rate, when their episodes recorded success)."""
    if expert is not None:
        return load_expert(expert, env_id)
    returns = np.array([t.episode_return for t in demos.trajectories])
    if np.isnan(returns).any():
        raise ExpertError(
            f"no expert to compare with on {env_id}: the demonstrations carry no rewards and "
            "there is no built-in expert; pass --expert PATH|module:fn"
        )
    return ReturnStats.of_episodes(demos.trajectories)


def run_config(
    algo: str,
    env_id: str,
    cfg: Any,
    *,
    demos: str | Path | None,
    expert: str | None,
    eval_episodes: int,
    **extra: Any,
) -> dict[str, Any]:
    """What config.json holds, for every run: enough to repeat it (`dispatch.rerun`).

    cfg: the config dataclass (or, for reward transfer, its settings as a dict). demos:
    the dataset (None when the expert is queried instead: DAgger). extra: family-specific
    entries (the tabular MDP, the reward run of a transfer...).
    """
    record: dict[str, Any] = {"algo": algo, "env": env_id}
    if demos is not None:
        path = Path(demos)
        record["demos"] = str(path.resolve()) if path.exists() else str(demos)
    record.update(expert=expert, eval_episodes=eval_episodes, eval_seed=EVAL_SEED, **extra)
    record["threads"] = torch.get_num_threads()  # bit-identical results need the same count
    record["protege_version"] = protege.__version__
    record["config"] = asdict(cfg) if is_dataclass(cfg) else dict(cfg)  # type: ignore[arg-type]
    return record


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


def job_entry(algo: str, cfg: Any) -> Algorithm:
    """`algo`'s catalog entry, once `cfg` is checked to be its config class (a config of
    another algorithm, passed through the Python API, is refused in one line)."""
    entry = catalog.get(algo)
    wanted = entry.config_class()
    if not isinstance(cfg, wanted):
        raise ConfigError(f"{algo} needs a {wanted.__name__}, got {type(cfg).__name__}")
    return entry


def require_demos(algo: str, demos: str | Path | None) -> str | Path:
    """`demos`, which an algorithm that learns from demonstrations cannot do without."""
    if demos is None:
        raise ConfigError(f"{algo} learns from demonstrations; pass --demos PATH")
    return demos


def check_learner_flag(learner: str | None) -> None:
    """Refuse a --learner that is not an SB3 learner protege builds (None: not given)."""
    if learner is not None and learner not in ALGOS:
        raise ConfigError(f"--learner {learner}: choose one of {', '.join(ALGOS)}")


def check_learner_fits(learner: str, spaces: Spaces, env_id: str) -> None:
    """Refuse, before the run directory is made, an SB3 learner that cannot act in the
    env's actions, naming the learners that can."""
    try:
        check_learner(learner, spaces.action, env_id)
    except ConfigError as exc:
        fits = "sac or ppo" if learner == "dqn" else "dqn or ppo"
        raise ConfigError(f"--learner {learner}: {exc}; use --learner {fits}") from None


def logged(run: Path, callbacks: Sequence[Callback]) -> list[Callback]:
    """The trainer's callbacks: the run's progress.csv (one row per progress report), then
    the caller's."""
    return [CSVLogger(run / PROGRESS), *callbacks]


def save_policy(run: Path, policy: ActorPolicy, best: BestSoFar) -> None:
    """Save the final policy (policy.pt) and, where training evaluated it, the best
    evaluation's weights beside it (policy_best.pt)."""
    policy.save(run / POLICY)
    kept = best.applied_to(policy)
    if kept is not None:
        kept.save(run / BEST_POLICY)


def save_sb3_policy(run: Path, model: Any, best: BestSoFar) -> None:
    """Save the final SB3 learner (policy.zip) and, where training evaluated it, the
    learner with the best evaluation's policy weights (policy_best.zip); `model` is left
    with its final weights."""
    save_sb3(model, run / SB3_POLICY)
    if best.state is not None:
        final = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
        model.policy.load_state_dict(best.state)
        save_sb3(model, run / BEST_SB3_POLICY)
        model.policy.load_state_dict(final)


def run_job(train_run: TrainRun) -> TrainRun:
    """Make a job all-or-nothing up to its first checkpoint: when it stops on a user error
    (`ProtegeError`: a bad dataset, setting, expert...) or an `OSError` (a full disk) before
    any training state was saved,
    what it wrote into `out` is removed again, so the corrected command is not refused with
    "already holds a run". A resumed run, or one that saved a checkpoint, is left as it is.
    """

    @functools.wraps(train_run)
    def job(algo: str, env_id: str, out: str | Path, cfg: Any, **kwargs: Any) -> dict[str, Any]:
        run = Path(out)
        before = set(run.iterdir()) if run.is_dir() else None
        try:
            return train_run(algo, env_id, out, cfg, **kwargs)
        except (ProtegeError, OSError):  # OSError: a full disk, a path refused midway
            if not kwargs.get("resume") and not _saved_state(run):
                _remove_new(run, before)
            raise

    return job  # type: ignore[return-value]


def _saved_state(run: Path) -> bool:
    return any(p.is_file() for d in (CHECKPOINTS, ROUNDS) for p in (run / d).glob("*"))


def _remove_new(run: Path, before: set[Path] | None) -> None:
    """Remove what a failed job created in `run`: the directory itself when it was not
    there before, else only the entries that were not (an overwritten run's files are
    already replaced and stay)."""
    if not run.is_dir():
        return
    if before is None:
        shutil.rmtree(run, ignore_errors=True)
        return
    for path in set(run.iterdir()) - before:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def evaluate_against_expert(
    run_dir: str | Path,
    episodes: int | None = None,
    train_seconds: float | None = None,
    on_episode: Callable[[int, Any], None] | None = None,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure a run's policy against the expert and a random policy; write metrics.json,
    once, with what training measured (`training`: env steps, reward correlations...)."""
    run = Path(run_dir)
    config = read_config(run)
    env_id = config["env"]
    episodes = episodes or int(config.get("eval_episodes", 20))
    policy = load_run_policy(run)
    demos = run_demonstrations(run, config)
    transitions = flatten_trajectories(demos.trajectories)
    expert_ref = (
        human_expert_returns(run)
        if config.get("expert") == "human"
        else expert_reference(env_id, config.get("expert"), demos)
    )
    seed = int(config.get("eval_seed", EVAL_SEED))
    comparison = compare_with_expert(
        env_id, policy, expert_ref, episodes, seed, transitions, on_episode=on_episode
    )
    metrics: dict[str, Any] = dict(comparison.metrics())
    if (run / BEST_POLICY).is_file() or (run / BEST_SB3_POLICY).is_file():
        best = compare_with_expert(env_id, load_run_policy(run, best=True), expert_ref,
                                   episodes, seed, transitions)  # fmt: skip
        measured = best.metrics()
        metrics["best"] = {
            k: measured[k]
            for k in ("return_mean", "return_std", "normalized_score", "success_rate")
            if k in measured
        }
        metrics["policy_files"] = (
            "policy.* is the final policy; policy_best.* the best of the in-training "
            "evaluations (best_eval_return, at env step or update best_eval_step), measured "
            "here in 'best'"
        )
    metrics["inference_ms"] = ms_per_action(env_id, policy)  # the learner's cost per action
    metrics["expert_source"] = config.get("expert") or "demonstrations"
    metrics["demo_episodes"] = len(demos.trajectories)
    metrics["demo_steps"] = len(transitions)
    previous = _previous_metrics(run)
    if train_seconds is None:
        train_seconds = previous.get("train_seconds")
    metrics["train_seconds"] = train_seconds
    metrics["evaluated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if (run / ROUNDS).is_dir():  # DAgger: the score after each round
        metrics["rounds"] = read_progress(run)
    metrics.update(training or {})
    for key, value in previous.items():  # what training measured (env steps, reward
        metrics.setdefault(key, value)  # correlations...) survives a re-evaluation
    write_json_atomic(run / METRICS, metrics)
    return metrics


def best_metrics(best: BestSoFar) -> dict[str, Any]:
    """What training measured of its best policy: the in-training evaluation's return and
    when it was reached (nothing when the trainer never evaluated)."""
    if best.state is None:
        return {}
    return {"best_eval_return": best.score, "best_eval_step": best.step}


def _previous_metrics(run: Path) -> dict[str, Any]:
    """What an earlier evaluation and the training measured, kept by a re-evaluation; a
    damaged metrics.json is replaced by the new measurement rather than blocking it."""
    if not (run / METRICS).is_file():
        return {}
    try:
        return read_metrics(run)
    except RunDirError:
        return {}


def load_run_policy(run: Path, best: bool = False) -> Policy:
    """A run's policy: `policy.pt` (protege's ActorPolicy) or `policy.zip` (an SB3 model),
    or with `best` the best in-training evaluation's (`policy_best.*`); refused in one line
    when it was made for other spaces than the run's env (a file copied from another run)."""
    env_id = read_config(run)["env"]
    torch_file, sb3_file = (BEST_POLICY, BEST_SB3_POLICY) if best else (POLICY, SB3_POLICY)
    if (run / torch_file).is_file():
        policy = ActorPolicy.load(run / torch_file)
        _check_policy_spaces(run / torch_file, policy.spaces, env_id)
        return policy
    if (run / sb3_file).is_file():
        model = load_sb3_model(run / sb3_file)
        _check_policy_spaces(
            run / sb3_file, Spaces(model.observation_space, model.action_space), env_id
        )
        return SB3Expert(model)
    raise RunDirError(
        f"{run}: no {POLICY} or {SB3_POLICY}; the run never finished training, train it again"
    )


def _check_policy_spaces(path: Path, spaces: Spaces, env_id: str) -> None:
    expected = env_spaces(env_id)
    if spaces != expected:
        raise RunDirError(
            f"{path}: a policy for observations {spaces.observation} and actions "
            f"{spaces.action}, but the run's env {env_id} has {expected.observation} and "
            f"{expected.action}; was it copied from another run? Train this run again"
        )


def run_demonstrations(run: Path, config: dict[str, Any]) -> Demonstrations:
    """The expert-labelled data a run learned from: its demos file, or DAgger's rounds."""
    if config.get("demos"):
        return load_demos(config["demos"], config["env"])
    if not (run / ROUNDS).is_dir():
        raise RunDirError(
            f"{run / CONFIG}: no 'demos' naming the dataset the run learned from; add "
            '"demos": "PATH" or train the run again'
        )
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
    return ReturnStats.of_episodes(whole)

"""The jobs behind `protege train lp-irl|apprenticeship|maxent|mce|bayesian-irl|deep-maxent`.

Tabular IRL knows the dynamics: ENV is a toy-text id (FrozenLake-v1, CliffWalking-v1,
Taxi-v4) or a built-in spec ("gridworld:10", "objectworld:10", "garnet:100"), and
`make_tabular(ENV)` gives the exact MDP the algorithm plans in, while evaluation rolls the
learned policy out in the real env (`protege.envs.make_env(ENV)`). A run directory holds

    config.json    algo, env, demos and every setting
    reward.npy     the learned reward over states (S,); reward.json says what it is
    policy.npy     the learned policy's action probabilities, (S, A)
    progress.csv   one row per iteration: the gap to the expert (occupancy_l1, ...)
    metrics.json   returns vs the optimal expert and a random policy on the same seeds,
                   plus occupancy_l1 and reward_correlation
    heatmaps.png   for grids: true and learned reward, expert and learned occupancy

    metrics = train_tabular_run("mce", "gridworld:8", "demos.npz", "runs/mce",
                                build_config("mce", iterations=200))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import protege
from protege.algorithms.tabular.apprenticeship import (
    ApprenticeshipConfig,
    apprenticeship_learning,
)
from protege.algorithms.tabular.bayesian import BayesianIRLConfig, bayesian_irl
from protege.algorithms.tabular.deep_maxent import DeepMaxEntConfig, deep_maxent_irl
from protege.algorithms.tabular.lp_irl import LPIRLConfig, lp_irl
from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
from protege.callbacks import Callback, CallbackList, CSVLogger
from protege.config import apply_overrides, config_from_dict
from protege.data.storage import Demonstrations
from protege.data.types import flatten_trajectories
from protege.envs import is_tabular_spec
from protege.envs.tabular import (
    TabularMDP,
    TabularPolicy,
    demo_occupancy,
    make_tabular,
    optimal_policy,
    state_occupancy,
)
from protege.errors import ConfigError, DatasetError, RunDirError
from protege.evaluation import compare_with_expert, pearson
from protege.evaluation.epic import epic_distance
from protege.jobs import CHECKPOINTS, EVAL_SEED, load_demos, open_run
from protege.report import plot_grid_heatmaps
from protege.runs import (
    METRICS,
    PROGRESS,
    read_config,
    read_json,
    save_npy_atomic,
    write_json_atomic,
)

REWARD, REWARD_INFO, POLICY_NPY, HEATMAPS = (
    "reward.npy",
    "reward.json",
    "policy.npy",
    "heatmaps.png",
)
NO_LIMIT_EPISODE_STEPS = 500
"""Evaluation cuts episodes here on envs without a time limit (CliffWalking-v1), so that a
learned policy walking in circles cannot stall `protege eval`."""

Fit = Callable[..., Any]
"""(mdp, trajectories, cfg, on_iteration[, checkpoint=PATH]) -> a result (see TabularAlgo)."""


@dataclass(frozen=True)
class TabularAlgo:
    """How the CLI drives one tabular IRL algorithm.

    config: builds the default config dataclass.
    fit: (mdp, trajectories, cfg, on_iteration) -> a result with `reward`, `policy`,
        `history`, `converged`.
    iterations, tol, seed: the config fields --iterations, --tol and --seed set (None: the
        flag does not apply); unit: what one progress step is; resumable: `fit` accepts
        `checkpoint=PATH` (checkpoints/irl.pt) and resumes from it (--resume).
    """

    config: Callable[[], Any]
    fit: Fit
    iterations: str | None
    tol: str | None
    seed: str | None
    unit: str = "iteration"
    resumable: bool = False  # fit takes checkpoint=PATH and resumes from it

    def total(self, cfg: Any) -> int:
        """Progress steps at most: iterations, or MCMC steps for Bayesian IRL."""
        if isinstance(cfg, BayesianIRLConfig):
            return cfg.burn_in + cfg.n_samples * cfg.thin
        return int(getattr(cfg, self.iterations)) if self.iterations else 1


def _maxent(
    mdp: TabularMDP, demos: Any, cfg: Any, cb: Callable[[dict[str, float]], None],
    checkpoint: Path | None = None,
) -> Any:  # fmt: skip
    return maxent_irl(mdp, demos, cfg, on_iteration=cb, checkpoint=checkpoint)


TABULAR_ALGOS: dict[str, TabularAlgo] = {
    # Ng & Russell 2000: one linear program.
    "lp-irl": TabularAlgo(LPIRLConfig, lp_irl, None, None, None, unit="solve"),
    # Abbeel & Ng 2004: --iterations counts the optimal policies computed, --tol is ε.
    "apprenticeship": TabularAlgo(
        ApprenticeshipConfig,
        apprenticeship_learning,
        "max_iterations",
        "epsilon",
        None,
        resumable=True,
    ),
    # Ziebart et al. 2008 and 2010.
    "maxent": TabularAlgo(
        lambda: MaxEntConfig(causal=False),
        _maxent,
        "max_iterations",
        "tol",
        None,
        resumable=True,
    ),
    "mce": TabularAlgo(
        lambda: MaxEntConfig(causal=True),
        _maxent,
        "max_iterations",
        "tol",
        None,
        resumable=True,
    ),
    # Ramachandran & Amir 2007: --iterations is the posterior samples kept.
    "bayesian-irl": TabularAlgo(
        BayesianIRLConfig, bayesian_irl, "n_samples", None, "seed", unit="step", resumable=True
    ),
    # Wulfmeier et al. 2015.
    "deep-maxent": TabularAlgo(
        DeepMaxEntConfig, deep_maxent_irl, "max_iterations", "tol", "seed", resumable=True
    ),
}
"""The six `protege train` commands of tabular IRL, by command name."""


def _algo(name: str) -> TabularAlgo:
    if name not in TABULAR_ALGOS:
        raise ConfigError(
            f"unknown tabular IRL algorithm '{name}': use one of {', '.join(TABULAR_ALGOS)}"
        )
    return TABULAR_ALGOS[name]


def build_config(
    algo: str,
    iterations: int | None = None,
    tol: float | None = None,
    seed: int = 0,
    overrides: Sequence[str] = (),
) -> Any:
    """The algorithm's config from the CLI's flags: --iterations, --tol, --seed, then --set.

    --iterations sets `max_iterations` (apprenticeship: policies computed; Bayesian IRL:
    `n_samples`, the posterior samples kept); --tol sets the convergence gap (`tol`, or
    `epsilon` for apprenticeship). A flag that does not apply is an error, not ignored.
    """
    spec = _algo(algo)
    changes: dict[str, Any] = {}
    for flag, value, field in (
        ("--iterations", iterations, spec.iterations),
        ("--tol", tol, spec.tol),
    ):
        if value is None:
            continue
        if field is None:
            raise ConfigError(
                f"{flag} does not apply to {algo}; its settings are "
                f"{', '.join(f.name for f in dataclasses.fields(spec.config()))} (--set key=value)"
            )
        changes[field] = value
    if spec.seed is not None:
        changes[spec.seed] = seed
    cfg = dataclasses.replace(spec.config(), **changes)
    return apply_overrides(cfg, overrides)


def rerun_tabular(config: dict[str, Any], out: str | Path, overwrite: bool = False,
                  callbacks: Sequence[Callback] = ()) -> dict[str, Any]:  # fmt: skip
    """Train again exactly as a tabular run's config.json says."""
    algo = _algo(config["algo"])
    cfg = config_from_dict(type(algo.config()), config["config"])
    return train_tabular_run(
        config["algo"], config["env"], config["demos"], out, cfg, int(config.get("seed", 0)),
        int(config.get("eval_episodes", 20)), overwrite, callbacks,
    )  # fmt: skip


def tabular_mdp(env_id: str) -> TabularMDP:
    """The exact MDP of ENV, the one the algorithms plan in (`make_tabular`)."""
    return make_tabular(env_id)


def true_state_reward(mdp: TabularMDP) -> np.ndarray:
    """The env's reward as a state reward (S,), to compare a learned one with.

    A builder's reward is already one. For a (state, action) reward (the toy-text envs) it
    is the reward of entering each state (`meta["arrival_reward"]`, NaN where no transition
    enters): for discounted returns a reward on arrival ranks behaviour as the same reward
    on departure does, up to shaping. Failing that, the mean over actions.
    """
    r = np.asarray(mdp.reward, dtype=np.float64)
    if r.ndim == 1:
        return r
    arrival = mdp.meta.get("arrival_reward")
    return np.asarray(arrival, dtype=np.float64) if arrival is not None else r.mean(axis=1)


def _check_demos_env(demos: Demonstrations, env_id: str, path: str | Path) -> None:
    recorded = demos.env_id
    if recorded and recorded != env_id:
        raise DatasetError(
            f"{path}: demonstrations were recorded on '{recorded}', not '{env_id}'; pass "
            f"--env {recorded} or collect demos on {env_id} (protege collect {env_id} "
            "--expert optimal)"
        )


def _demos_str(path: str | Path) -> str:
    return str(Path(path).resolve()) if Path(path).exists() else str(path)


def train_tabular_run(
    algo: str,
    env_id: str,
    demos_path: str | Path,
    out: str | Path,
    cfg: Any,
    seed: int = 0,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """Tabular IRL into a run directory, then the comparison with the optimal expert.

    Every algorithm but LP IRL (one solve) checkpoints to checkpoints/irl.pt, every 10
    iterations (Bayesian IRL: every 1000 MCMC steps); `resume` continues from there.
    """
    spec = _algo(algo)
    mdp = tabular_mdp(env_id)
    demos = load_demos(demos_path, env_id)
    _check_demos_env(demos, env_id, demos_path)
    config = {
        "algo": algo,
        "env": env_id,
        "demos": _demos_str(demos_path),
        "expert": "optimal",
        "seed": seed,
        "eval_episodes": eval_episodes,
        "eval_seed": EVAL_SEED,
        "mdp": mdp.summary(),
        "protege_version": protege.__version__,
        "config": dataclasses.asdict(cfg),
    }
    run = open_run(out, config, overwrite, resume)
    extra = {"checkpoint": run / CHECKPOINTS / "irl.pt"} if spec.resumable else {}

    progress = CallbackList([CSVLogger(run / PROGRESS), *callbacks])
    progress.on_start(spec.total(cfg), spec.unit)
    start = time.perf_counter()
    records: list[dict[str, float]] = []

    def on_iteration(record: dict[str, float]) -> None:
        # Bayesian IRL records every 100th MCMC step; the others record every iteration.
        step = int(record["iteration"]) if spec.unit == "step" else len(records)
        records.append({**record, "seconds": time.perf_counter() - start})
        progress.on_iteration(step, records[-1])

    try:
        result = spec.fit(mdp, demos.trajectories, cfg, on_iteration, **extra)
    except DatasetError as exc:
        raise DatasetError(f"{demos_path}: {exc}") from None
    finally:
        progress.on_end(records[-1] if records else {})
    train_seconds = time.perf_counter() - start

    reward = np.asarray(result.reward, dtype=np.float64)
    save_npy_atomic(run / REWARD, reward)
    save_npy_atomic(run / POLICY_NPY, np.asarray(result.policy, dtype=np.float64))
    write_json_atomic(run / REWARD_INFO, _reward_info(algo, env_id, mdp, reward))
    if hasattr(result, "samples"):  # Bayesian IRL: the posterior samples behind the mean
        save_npy_atomic(run / "reward_samples.npy", result.samples)
    if hasattr(result, "reward_net"):  # deep MaxEnt: the network, to score other features
        import torch

        torch.save(result.reward_net.state_dict(), run / "reward_net.pt")
    training = {
        "iterations": len(result.history),
        "converged": bool(result.converged),
        "train_seconds": train_seconds,
    }
    return evaluate_tabular_run(run, eval_episodes, training=training, mdp=mdp, demos=demos)


def _reward_info(algo: str, env_id: str, mdp: TabularMDP, reward: np.ndarray) -> dict[str, Any]:
    shape = mdp.meta.get("shape")
    return {
        "file": REWARD,
        "shape": list(reward.shape),
        "dtype": str(reward.dtype),
        "over": "states",
        "index": (
            f"state index s = row * {shape[1]} + col, row 0 at the top (grid {shape[0]}x{shape[1]})"
            if shape is not None
            else "state index s, the env's Discrete observation"
        ),
        "meaning": (
            f"the reward {algo} learned, earned in the state an action is taken in; defined "
            "up to the transformations that leave the expert's behaviour optimal (scale, "
            "shaping), so compare it by correlation or by the policy it induces"
        ),
        "env": env_id,
        "features": f"{mdp.n_features} state features ({mdp.meta.get('kind', 'custom')})",
        "grid_shape": list(shape) if shape is not None else None,
        "policy_file": POLICY_NPY,
        "policy_shape": [mdp.n_states, mdp.n_actions],
    }


def _load_array(path: Path, shape: tuple[int, ...], what: str) -> np.ndarray:
    if not path.is_file():
        raise RunDirError(f"{path}: missing; re-run `protege train` to write the {what}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RunDirError(
            f"{path}: not a readable .npy file ({exc}); re-run the training"
        ) from None
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        raise RunDirError(
            f"{path}: the {what} has shape {arr.shape} (finite: {np.all(np.isfinite(arr))}), "
            f"but the env needs {shape}; was the run trained on another env?"
        )
    return np.asarray(arr, dtype=np.float64)


def _eval_env_kwargs(env_id: str) -> dict[str, Any]:
    if is_tabular_spec(env_id):
        return {}
    try:
        limit = gym.spec(env_id).max_episode_steps
    except gym.error.Error:
        return {}
    return {} if limit is not None else {"max_episode_steps": NO_LIMIT_EPISODE_STEPS}


def evaluate_tabular_run(
    run_dir: str | Path,
    episodes: int | None = None,
    on_episode: Callable[[int, Any], None] | None = None,
    *,
    training: dict[str, Any] | None = None,
    mdp: TabularMDP | None = None,
    demos: Demonstrations | None = None,
) -> dict[str, Any]:
    """Measure a tabular IRL run; write metrics.json (and heatmaps.png for grids).

    The learned policy (sampled, seeded by the run's seed) is rolled out in the real env
    against the optimal expert and a random policy on the same episode seeds. Occupancies
    are exact, from the known dynamics, and normalised to sum to 1: `occupancy_l1` is
    ‖ρ_learned - ρ_demos‖₁ (what the algorithms match), `occupancy_l1_optimal` the same
    against the optimal expert's exact occupancy. `reward_correlation` is the Pearson
    correlation of the learned and the true state reward (`true_state_reward`).
    training: iterations, converged, train_seconds (default: kept from metrics.json).
    """
    run = Path(run_dir)
    config = read_config(run)
    env_id = config["env"]
    episodes = episodes or int(config.get("eval_episodes", 20))
    mdp = mdp if mdp is not None else tabular_mdp(env_id)
    S, A = mdp.n_states, mdp.n_actions
    policy = _load_array(run / POLICY_NPY, (S, A), "policy")
    reward = _load_array(run / REWARD, (S,), "reward")
    if demos is None:
        demos = load_demos(config["demos"], env_id)
    if training is None:
        previous = read_json(run / METRICS, "metrics.json") if (run / METRICS).is_file() else {}
        training = {k: previous.get(k) for k in ("iterations", "converged", "train_seconds")}

    expert_probs = optimal_policy(mdp)
    seed = int(config.get("eval_seed", EVAL_SEED))
    comparison = compare_with_expert(
        env_id,
        TabularPolicy(policy, seed=int(config.get("seed", 0))),
        TabularPolicy(expert_probs, deterministic=True),
        episodes,
        seed,
        flatten_trajectories(demos.trajectories),
        env_kwargs=_eval_env_kwargs(env_id),
        on_episode=on_episode,
    )
    rho_learned = _normalised(state_occupancy(mdp, policy))
    rho_demos = _normalised(demo_occupancy(mdp, demos.trajectories))
    rho_optimal = _normalised(state_occupancy(mdp, expert_probs))
    r_true = true_state_reward(mdp)
    metrics: dict[str, Any] = dict(comparison.metrics())
    metrics.update(
        occupancy_l1=float(np.abs(rho_learned - rho_demos).sum()),
        occupancy_l1_optimal=float(np.abs(rho_learned - rho_optimal).sum()),
        reward_correlation=pearson(reward, r_true),
        epic_to_true=epic_or_none(reward, mdp.reward, mdp.gamma, A),
        expert_source="optimal",
        demo_episodes=len(demos.trajectories),
        demo_steps=sum(len(t) for t in demos.trajectories),
        **training,
        evaluated_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    shape = mdp.meta.get("shape")
    if shape is not None:
        corr = metrics["reward_correlation"]
        plot_grid_heatmaps(
            (int(shape[0]), int(shape[1])),
            [
                ("true reward" + (" on arrival" if mdp.reward.ndim == 2 else ""),
                 r_true, "reward"),
                (f"learned reward ({config['algo']})", reward, "reward"),
                (f"expert occupancy, {len(demos.trajectories)} demos", rho_demos, "occupancy"),
                ("learned occupancy", rho_learned, "occupancy"),
            ],
            run / HEATMAPS,
            title=(
                f"{config['algo']} on {env_id}: reward correlation "
                f"{'n/a' if corr is None else f'{corr:.2f}'}, occupancy L1 "
                f"{metrics['occupancy_l1']:.2f}, normalised score "
                f"{metrics['normalized_score']:.2f}"
            ),
        )  # fmt: skip
    write_json_atomic(run / METRICS, metrics)
    return metrics


def epic_or_none(a: np.ndarray, b: np.ndarray, gamma: float, n_actions: int) -> float | None:
    """EPIC distance of two tabular rewards; None where it is undefined (a constant one)."""
    try:
        return epic_distance(a, b, gamma, n_actions=n_actions)
    except ConfigError:
        return None


def run_reward(spec: str | Path, mdp: TabularMDP) -> tuple[str, np.ndarray, np.ndarray]:
    """A tabular reward to compare, `true` (the MDP's own) or a run dir's reward.npy, as
    (name, reward for EPIC, state reward (S,) for the Pearson distance)."""
    if str(spec) == "true":
        return "true reward", np.asarray(mdp.reward, np.float64), true_state_reward(mdp)
    run = Path(spec)
    config = read_config(run)
    if config.get("algo") not in TABULAR_ALGOS:
        raise RunDirError(
            f"{run}: a {config.get('algo')} run has no tabular reward; compare tabular IRL runs "
            f"({', '.join(TABULAR_ALGOS)}) or `true`"
        )
    reward = _load_array(run / REWARD, (mdp.n_states,), "reward")
    return f"{run} ({config['algo']})", reward, reward


def compare_tabular_rewards(a: str | Path, b: str | Path, env_id: str) -> dict[str, Any]:
    """EPIC and Pearson distances between two tabular rewards on `env_id`'s MDP."""
    mdp = tabular_mdp(env_id)
    (name_a, ra, sa), (name_b, rb, sb) = run_reward(a, mdp), run_reward(b, mdp)
    corr = pearson(sa, sb)
    return {
        "a": name_a,
        "b": name_b,
        "env": env_id,
        "gamma": mdp.gamma,
        "epic": epic_or_none(ra, rb, mdp.gamma, mdp.n_actions),
        "pearson_distance": None if corr is None else float(np.sqrt((1.0 - corr) / 2.0)),
    }


def _normalised(rho: np.ndarray) -> np.ndarray:
    total = float(rho.sum())
    return rho / total if total > 0 else rho

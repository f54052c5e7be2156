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

    cfg = build_config("mce", iterations=200)
    metrics = train_run("mce", "gridworld:8", "runs/mce", cfg, demos="demos.npz")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from protege.algorithms.tabular.demos import demo_occupancy
from protege.callbacks import Callback
from protege.data.storage import Demonstrations
from protege.data.types import flatten_trajectories
from protege.envs import is_tabular_spec
from protege.envs.tabular import (
    TabularMDP,
    TabularPolicy,
    make_tabular,
    optimal_policy,
    state_occupancy,
)
from protege.errors import ConfigError, DatasetError, RunDirError
from protege.evaluation import compare_with_expert, pearson
from protege.evaluation.epic import epic_distance
from protege.jobs import catalog
from protege.jobs.common import (
    CHECKPOINTS,
    EVAL_SEED,
    configure,
    load_demos,
    logged,
    open_run,
    require_demos,
    run_config,
    run_job,
)
from protege.reports.plots import plot_grid_heatmaps
from protege.rundir import (
    METRICS,
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

TABULAR = catalog.family("tabular")
"""The tabular IRL algorithms' command names, in catalog order."""


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> Any:
    """The algorithm's config from the CLI's flags, then --set.

    --iterations sets `max_iterations` (apprenticeship: policies computed; Bayesian IRL:
    `n_samples`, the posterior samples kept); --tol sets the convergence gap (`tol`, or
    `epsilon` for apprenticeship); --seed the algorithm's seed where it is random. A flag
    that does not apply is an error, not ignored.
    """
    entry = catalog.get(algo)
    if entry.family != "tabular":
        raise ConfigError(f"{algo} is not a tabular IRL algorithm; use one of {', '.join(TABULAR)}")
    return configure(entry, overrides, **flags)


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


@run_job
def train_run(
    algo: str,
    env_id: str,
    out: str | Path,
    cfg: Any,
    *,
    demos: str | Path | None = None,
    expert: str | None = None,
    seed: int = 0,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """Tabular IRL into a run directory, then the comparison with the optimal expert.

    Every algorithm but LP IRL (one solve) checkpoints to checkpoints/irl.pt, every
    `CHECKPOINT_EVERY` (10) progress rows: iterations, or for Bayesian IRL rows of 100 MCMC
    steps, so every 1000 steps; `resume` continues from there.
    expert: unused, the expert is the optimal policy of the known dynamics. seed: seeds
    the sampled evaluation of the learned (stochastic) policy.
    """
    entry = catalog.get(algo)
    demos_path = require_demos(algo, demos)
    mdp = tabular_mdp(env_id)
    data = load_demos(demos_path, env_id)
    _check_demos_env(data, env_id, demos_path)
    config = run_config(algo, env_id, cfg, demos=demos_path, expert="optimal",
                        eval_episodes=eval_episodes, seed=seed, mdp=mdp.summary())  # fmt: skip
    # config.json's key order of earlier runs: seed before eval_episodes
    config = {k: config[k] for k in ("algo", "env", "demos", "expert", "seed", *config)}
    run = open_run(out, config, overwrite, resume)
    checkpoint = run / CHECKPOINTS / "irl.pt" if entry.resumable else None
    fit = entry.train_fn()
    # the trainer reports to the callbacks: on_start(total, unit), one row per record with
    # its `seconds`, on_end (also when it fails)
    start = time.perf_counter()
    try:
        result = fit(
            data.trajectories, data.spaces, cfg, logged(run, callbacks),
            env=mdp, checkpoint=checkpoint,
        )  # fmt: skip
    except DatasetError as exc:
        raise DatasetError(f"{demos_path}: {exc}") from None
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
    return evaluate_run(run, eval_episodes, training=training, mdp=mdp, demos=data)


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


def evaluate_run(
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
    if config.get("algo") not in TABULAR:
        raise RunDirError(
            f"{run}: a {config.get('algo')} run has no tabular reward; compare tabular IRL runs "
            f"({', '.join(TABULAR)}) or `true`"
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

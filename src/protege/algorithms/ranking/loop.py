"""The pipeline T-REX and D-REX share: ranked episodes -> a Bradley–Terry reward -> an SB3
learner on it.

1. The algorithm ranks some episodes (`RankedEpisodes`: T-REX the demonstrations
   themselves, D-REX rollouts of a cloned policy at increasing noise).
2. Snippet pairs are drawn from them (`snippets.sample_snippet_pairs`) and an ensemble
   reward is fitted by the Bradley–Terry cross-entropy (`bradley_terry`), then calibrated
   on the ranked episodes' steps (`RankingConfig.reward_transform`).
3. A fresh SB3 learner (PPO, SAC or DQN, `protege.rl.build_learner`) trains on that fixed
   reward in place of the env's; every `eval_every` env steps it is evaluated on the env's
   true return (seeds 20000, ...), and the best evaluation's weights are kept.

Progress: `on_start(steps, "env step")`, then one row per reward epoch (stage 0) and one
per `log_every` learner steps (stage 1), all with the same keys (`ROW_KEYS`, NaN where a
stage has no such number). With `checkpoint=`, the state is saved once the reward is
fitted (so a resumed run never fits it again, nor re-ranks) and every `checkpoint_every`
learner rows; a resumed learner continues from its saved step with fresh episodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from protege.algorithms.best import BestSoFar, evaluate_learner, evaluation_due
from protege.algorithms.ranking.bradley_terry import (
    EnsembleReward,
    make_ensemble,
    train_bradley_terry,
)
from protege.algorithms.ranking.config import RankingConfig
from protege.algorithms.ranking.snippets import sample_snippet_pairs
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.data.types import Trajectory, flatten_trajectories
from protege.envs import EnvFactory, Spaces, check_supported, make_env
from protege.errors import ConfigError
from protege.experts import SB3Expert
from protege.nets import resolve_device
from protege.rewards import RewardVecEnvWrapper
from protege.rl import (
    build_learner,
    check_learner,
    learner_state,
    make_vec_env,
    recent_returns,
    restore_learner_state,
    round_callback,
)

ROW_KEYS = (
    "stage",
    "env_steps",
    "reward_loss",
    "reward_accuracy",
    "reward_val_loss",
    "reward_val_accuracy",
    "return_mean",
    "eval_return",
    "seconds",
)
"""Every progress row's keys: stage 0 rows are reward epochs, stage 1 rows learner rounds."""


@dataclass
class RankedEpisodes:
    """What an algorithm hands the loop: episodes and their scores (higher is better).

    min_gap: only episodes whose scores differ by more than this are compared (D-REX:
        noise levels too close to tell apart). facts: what the ranking measured, for
        metrics.json (numbers, strings, lists and dicts of them).
    """

    trajectories: list[Trajectory]
    scores: np.ndarray
    min_gap: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class RankingResult:
    """The learner (an SB3 model: `.save("policy.zip")`), the learned reward (what the
    learner was paid), one history row per reward epoch and learner round, training
    seconds (evaluations excluded), env steps taken, the env step at which `target_return`
    was first reached (or None), the best in-training evaluation, and what the ranking and
    the reward fit measured (`facts`: pair accuracies, rank correlations...)."""

    model: Any
    reward: EnsembleReward
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    env_steps: int = 0
    steps_to_target: int | None = None
    best: BestSoFar = field(default_factory=BestSoFar)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> SB3Expert:
        """The learner as a batched policy acting deterministically."""
        return SB3Expert(self.model)


def row(**values: float) -> dict[str, float]:
    """A progress row with every key of `ROW_KEYS` (NaN where not given)."""
    out = dict.fromkeys(ROW_KEYS, math.nan)
    out.update(values)
    return out


def learner_env(
    env: str | EnvFactory | None, spaces: Spaces | None
) -> tuple[str | EnvFactory, Spaces]:
    """The env the learner acts in and its spaces, checked: the family needs an env, and
    `spaces`, when given, must be the env's (the reward is built for them)."""
    if env is None:
        raise ConfigError(
            "ranking-based IRL trains a learner in the environment: pass env= (a Gymnasium "
            "id or a zero-argument builder)"
        )
    made = make_env(env) if isinstance(env, str) else env()
    try:
        actual = check_supported(Spaces.of(made), str(env))
    finally:
        made.close()
    if spaces is not None and spaces != actual:
        raise ConfigError(
            f"spaces {spaces} are not the spaces of {env} ({actual}); pass the env's, or "
            "None to take them from the env"
        )
    return env, actual


LENGTH_TAU = 0.3
"""`reward_transform="auto"`: |Kendall's τ| of episode length and rank from which the
ranking is taken to say that ending an episode is bad (τ > 0) or good (τ < 0)."""


def resolve_transform(transform: str, ranked: RankedEpisodes) -> str:
    """`transform`, with "auto" decided by whether better-ranked episodes last longer
    ("positive"), shorter ("negative") or neither ("standardize"); see `RankingConfig`."""
    if transform != "auto":
        return transform
    lengths = np.array([len(t) for t in ranked.trajectories], dtype=np.float64)
    tau = rank_correlation(lengths, np.asarray(ranked.scores, dtype=np.float64))
    if tau is not None and tau >= LENGTH_TAU:
        return "positive"
    if tau is not None and tau <= -LENGTH_TAU:
        return "negative"
    return "standardize"


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Kendall's τ between two score vectors (None when either is constant or too short)."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    tau = stats.kendalltau(a, b).statistic
    return None if not np.isfinite(tau) else float(tau)


def predicted_returns(reward: EnsembleReward, trajs: Sequence[Trajectory]) -> np.ndarray:
    """Each episode's return under `reward`, (N,)."""
    out = []
    for t in trajs:
        if len(t) == 0:
            out.append(0.0)
            continue
        s = flatten_trajectories([t])
        out.append(float(reward.predict(s.obs, s.acts, s.next_obs, s.terminated).sum()))
    return np.array(out)


class _Rows(Callback):
    """Forwards the reward fit's epochs as stage-0 progress rows, keeping them."""

    def __init__(self, cb: Callback, history: list[dict[str, float]], start: float) -> None:
        self.cb, self.history, self.start = cb, history, start

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        r = row(stage=0.0, env_steps=0.0, seconds=time.perf_counter() - self.start, **metrics)
        self.cb.on_iteration(len(self.history), r)
        self.history.append(r)


def fit_ranked_reward(
    ranked: RankedEpisodes,
    spaces: Spaces,
    cfg: RankingConfig,
    callbacks: Sequence[Callback] = (),
    history: list[dict[str, float]] | None = None,
) -> tuple[EnsembleReward, dict[str, Any]]:
    """Stages 1-2: snippet pairs of the ranked episodes, the Bradley–Terry fit, the
    calibration. Returns the reward (with `cfg.reward_transform`, "auto" resolved) and
    what was measured: the transform used, pair accuracies and Kendall's τ of the
    episodes' learned returns with their ranking and (where they carry rewards) their true
    returns. Rows go to `callbacks` and `history` as stage-0 rows."""
    start = time.perf_counter()
    history = history if history is not None else []
    rng = np.random.default_rng(cfg.seed)
    r = cfg.reward
    pairs = sample_snippet_pairs(
        ranked.trajectories,
        ranked.scores,
        r.pairs,
        r.snippet_min,
        r.snippet_max,
        ranked.min_gap,
        rng,
        r.later_start,
    )
    rows = _Rows(CallbackList(callbacks), history, start)
    fit = train_bradley_terry(pairs, spaces, r, [rows], seed=cfg.seed, device=cfg.device)
    reward = fit.reward
    transform = resolve_transform(cfg.reward_transform, ranked)
    reward.calibrate(pairs.steps, transform)
    learned = predicted_returns(reward, ranked.trajectories)
    true = np.array([t.episode_return for t in ranked.trajectories])
    facts: dict[str, Any] = {
        **ranked.facts,
        "ranked_episodes": len(ranked.trajectories),
        "reward_transform": transform,
        "reward_pairs": len(pairs),
        "reward_train_accuracy": fit.train_accuracy,
        "reward_val_accuracy": None if math.isnan(fit.val_accuracy) else fit.val_accuracy,
        "reward_tau_ranking": rank_correlation(learned, np.asarray(ranked.scores)),
        "reward_tau_return": (
            rank_correlation(learned, true) if np.all(np.isfinite(true)) else None
        ),
        "reward_seconds": time.perf_counter() - start,
    }
    return reward, facts


def train_ranked(
    prepare: Callable[[Spaces], RankedEpisodes],
    spaces: Spaces | None,
    cfg: RankingConfig,
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> RankingResult:
    """Rank (`prepare`, called with the env's spaces unless a checkpoint already holds
    the reward), fit the reward, train the learner on it; see the module docstring.

    env: a Gymnasium id or a zero-argument builder (required: the learner acts in it).
    checkpoint: a file for the training state (see the module docstring).
    """
    env, spaces = learner_env(env, spaces)
    check_learner(cfg.learner, spaces.action, str(env))
    device = resolve_device(cfg.device)
    cb = CallbackList(callbacks)
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    history: list[dict[str, float]] = []
    start, outside = time.perf_counter(), 0.0
    cb.on_start(cfg.steps, "env step")
    if saved is not None:
        torch.manual_seed(cfg.seed)
        reward = make_ensemble(spaces, cfg.reward).to(device)
        with restoring(checkpoint):
            reward.load_state_dict(saved["reward"])
            history = [dict(r) for r in saved["history"]]
            facts = dict(saved["facts"])
            reward.transform = str(facts["reward_transform"])
        start -= float(saved["seconds"])
        for i, r in enumerate(history):
            cb.on_iteration(i, r)
    else:
        reward, facts = fit_ranked_reward(prepare(spaces), spaces, cfg, [cb], history)
    reward.eval()

    n_envs = cfg.n_envs if cfg.learner == "ppo" else 1
    venv = RewardVecEnvWrapper(make_vec_env(env, n_envs, cfg.seed), reward.predict)
    model = build_learner(cfg.learner, venv, cfg.seed, str(device), **cfg.learner_kwargs)
    best, reached = BestSoFar(), []
    if saved is not None and "learner" in saved:
        with restoring(checkpoint):
            restore_learner_state(model, saved["learner"])
            best.load_checkpoint_state(saved.get("best"))
            reached = [int(s) for s in saved["reached"]]
        venv.seed(_resume_seed(cfg.seed, model.num_timesteps))  # not the first episodes again

    def save(with_learner: bool) -> None:
        assert checkpoint is not None
        state: dict[str, Any] = {
            "reward": reward.state_dict(),
            "history": history,
            "facts": facts,
            "seconds": time.perf_counter() - start - outside,
        }
        if with_learner:
            state.update(
                learner=learner_state(model), best=best.checkpoint_state(), reached=reached
            )
        save_checkpoint(checkpoint, state)

    if checkpoint is not None and saved is None:
        save(with_learner=False)  # the reward is fitted: a resumed run starts from here

    def on_round(env_steps: int) -> dict[str, float]:
        episodes = recent_returns(model, 20)
        mean = float(np.mean(episodes)) if episodes else math.nan
        return row(stage=1.0, env_steps=float(env_steps), return_mean=mean)

    def report(r: dict[str, float]) -> bool:
        nonlocal outside
        tick = time.perf_counter()
        env_steps = int(r["env_steps"])
        learner_rows = [h for h in history if h["stage"] == 1.0]
        before = int(learner_rows[-1]["env_steps"]) if learner_rows else 0
        if evaluation_due(cfg.eval_every, env_steps, before):
            r["eval_return"] = evaluate_learner(env, model, cfg.eval_episodes, env_steps, best)
            if cfg.target_return is not None and r["eval_return"] >= cfg.target_return:
                reached.append(env_steps)
        outside += time.perf_counter() - tick
        r["seconds"] = time.perf_counter() - start - outside
        cb.on_iteration(len(history), r)
        history.append(r)
        if checkpoint is not None and len(learner_rows + [r]) % max(checkpoint_every, 1) == 0:
            tick = time.perf_counter()
            save(with_learner=True)
            outside += time.perf_counter() - tick  # writing files is not training
        return not reached

    last = int(history[-1]["env_steps"]) if history else 0
    try:
        if model.num_timesteps < cfg.steps and not reached:
            model.learn(
                total_timesteps=cfg.steps - model.num_timesteps,
                callback=round_callback(on_round, report, cfg.log_every, last),
                reset_num_timesteps=False,  # a resumed learner counts on from its checkpoint
            )
    finally:
        venv.close()
    result = RankingResult(
        model,
        reward,
        history,
        time.perf_counter() - start - outside,
        int(model.num_timesteps),
        reached[0] if reached else None,
        best,
        facts,
    )
    cb.on_end(history[-1] if history else {})
    return result


def _resume_seed(seed: int, env_steps: int) -> int:
    """The envs' seed after a resume: apart from the first run's and from evaluation seeds."""
    return int(np.random.SeedSequence([seed, env_steps]).generate_state(1)[0])

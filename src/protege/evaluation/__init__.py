"""Comparison with the expert: returns, normalised score and action agreement.

Learner, expert and a uniform-random policy run on the same episode seeds, so the
normalised score (0 = random, 1 = expert) compares like with like.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from scipy import stats

from protege.data.rollout import EpisodeSeeded, Policy, RandomPolicy, rollout
from protege.data.types import Trajectory, Transitions, obs_stack
from protege.envs import EnvFactory, make_env


@dataclass(frozen=True)
class ReturnStats:
    """Undiscounted episode returns: mean, std, 95% CI half-width (t-distribution), count;
    and the share of successful episodes when the env reports success (`success_rate`,
    from each episode's `meta["success"]`, see `protege.data.rollout`), else None."""

    mean: float
    std: float
    ci95: float
    episodes: int
    mean_length: float
    success_rate: float | None = None

    @classmethod
    def of(
        cls, returns: np.ndarray, lengths: np.ndarray, successes: np.ndarray | None = None
    ) -> ReturnStats:
        n = len(returns)
        std = float(np.std(returns, ddof=1)) if n > 1 else 0.0
        ci = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else float("nan")
        rate = None if successes is None else float(np.mean(successes))
        return cls(float(np.mean(returns)), std, ci, n, float(np.mean(lengths)), rate)

    @classmethod
    def of_episodes(cls, trajs: Sequence[Trajectory]) -> ReturnStats:
        """The stats of whole episodes; a success rate when every one says whether it
        succeeded (`meta["success"]`)."""
        known = all("success" in t.meta for t in trajs)
        return cls.of(
            np.array([t.episode_return for t in trajs]),
            np.array([len(t) for t in trajs]),
            np.array([bool(t.meta["success"]) for t in trajs]) if known else None,
        )


def beats_random(expert: ReturnStats, random: ReturnStats) -> bool:
    """Whether an expert's returns are clearly above a random policy's on the same episodes:
    its mean above the random mean by more than half their spreads together (and more than a
    rounding error), so that an expert stuck at the random policy's return is not taken
    for one (an Acrobot PPO expert at -500 +- 0 was once recorded)."""
    margin = max(0.5 * (expert.std + random.std), 1e-6 * max(1.0, abs(random.mean)))
    return expert.mean > random.mean + margin


def evaluate_returns(
    env: str | EnvFactory,
    policy: Policy,
    episodes: int = 20,
    seed: int = 10_000,
    env_kwargs: dict[str, Any] | None = None,
    on_episode: Callable[[int, Any], None] | None = None,
) -> ReturnStats:
    """Roll out `policy` on episode seeds seed, seed+1, ... and summarise the returns."""
    trajs = rollout(env, policy, episodes, seed=seed, env_kwargs=env_kwargs, on_episode=on_episode)
    return ReturnStats.of_episodes(trajs)


def ms_per_action(
    env: str | EnvFactory, policy: Policy, steps: int = 100, seed: int = 10_000
) -> float:
    """What acting costs on this machine: the median wall-clock milliseconds of one policy
    call on one observation (a batch of 1), over `steps` steps of one env, episode after
    episode (seeds seed, seed+1, ...), the policy's per-episode state (observation windows,
    pending action chunks) kept as in a rollout. Env steps are not counted."""
    one = make_env(env) if isinstance(env, str) else env()
    seeded = policy if isinstance(policy, EpisodeSeeded) else None
    times, episode = [], 0
    try:
        obs, _ = one.reset(seed=seed)
        if seeded is not None:
            seeded.start_episode(0, episode)
        for _ in range(steps):
            batch = obs_stack([obs])
            start = time.perf_counter()
            act = np.asarray(policy(batch))
            times.append(time.perf_counter() - start)
            obs, _, terminated, truncated, _ = one.step(act[0])
            if terminated or truncated:
                episode += 1
                obs, _ = one.reset(seed=seed + episode)
                if seeded is not None:
                    seeded.start_episode(0, episode)
    finally:
        one.close()
    return 1000.0 * float(np.median(times))


def normalized_score(value: float, expert: float, random: float) -> float:
    """(value - random) / (expert - random): 0 is the random policy, 1 the expert."""
    gap = expert - random
    return float((value - random) / gap) if abs(gap) > 1e-12 else float("nan")


def action_agreement(policy: Policy, demos: Transitions, action_space: gym.Space) -> float:
    """How often the policy picks the expert's action on the expert's own states.

    Discrete: exact matches. Box: every dimension within 10% of the action range.
    """
    acts = np.asarray(policy(demos.obs))
    expert = np.asarray(demos.acts)
    if isinstance(action_space, gym.spaces.Box):
        tol = 0.1 * (action_space.high - action_space.low)
        close = np.abs(acts.reshape(expert.shape) - expert) <= tol
        return float(np.mean(close.reshape(len(expert), -1).all(axis=1)))
    return float(np.mean(acts.reshape(expert.shape) == expert))


@dataclass(frozen=True)
class Comparison:
    """A learned policy measured against the expert and a random policy on the same seeds."""

    learner: ReturnStats
    expert: ReturnStats
    random: ReturnStats
    normalized_score: float
    action_agreement: float | None

    def metrics(self) -> dict[str, float | int | str | None]:
        """The flat dict written to metrics.json."""
        return {
            "return_mean": self.learner.mean,
            "return_std": self.learner.std,
            "return_ci95": self.learner.ci95,
            "episode_length_mean": self.learner.mean_length,
            "expert_return_mean": self.expert.mean,
            "expert_return_std": self.expert.std,
            "random_return_mean": self.random.mean,
            "random_return_std": self.random.std,
            "normalized_score": self.normalized_score,
            "action_agreement": self.action_agreement,
            "episodes": self.learner.episodes,
            **self._success_rates(),
            **({"score_note": self.score_note} if self.score_note else {}),
        }

    def _success_rates(self) -> dict[str, float]:
        """The success rates of the policies whose episodes said whether they succeeded."""
        rates = {
            "success_rate": self.learner.success_rate,
            "expert_success_rate": self.expert.success_rate,
            "random_success_rate": self.random.success_rate,
        }
        return {k: v for k, v in rates.items() if v is not None}

    @property
    def score_note(self) -> str | None:
        """Why the normalised score carries no signal, when it does not: the expert and the
        random policy return the same on these episodes (a gridworld whose goal the optimal
        expert cannot reach within the episode limit returns 0 for every policy)."""
        if not math.isnan(self.normalized_score):
            return None
        return (
            f"the expert and a random policy both return {self.expert.mean:.4g} on these "
            "episodes, so the normalised score is undefined (NaN): compare action agreement, "
            "occupancy or a longer episode limit instead"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_with_expert(
    env_id: str,
    policy: Policy,
    expert: Policy | ReturnStats,
    episodes: int = 20,
    seed: int = 10_000,
    demos: Transitions | None = None,
    env_kwargs: dict[str, Any] | None = None,
    on_episode: Callable[[int, Any], None] | None = None,
) -> Comparison:
    """Learner, expert and random policy on the same seeds; agreement on `demos` if given.

    expert: a policy to roll out, or the returns already measured for it (e.g. the
        demonstrations' own returns when the expert cannot be run again, like a person).
    """
    env = make_env(env_id, **(env_kwargs or {}))
    action_space = env.action_space
    env.close()
    kw = {"episodes": episodes, "seed": seed, "env_kwargs": env_kwargs, "on_episode": on_episode}
    learner = evaluate_returns(env_id, policy, **kw)  # type: ignore[arg-type]
    expert_stats = (
        expert if isinstance(expert, ReturnStats) else evaluate_returns(env_id, expert, **kw)  # type: ignore[arg-type]
    )
    random_stats = evaluate_returns(env_id, RandomPolicy(action_space, seed), **kw)  # type: ignore[arg-type]
    agreement = action_agreement(policy, demos, action_space) if demos is not None else None
    return Comparison(
        learner,
        expert_stats,
        random_stats,
        normalized_score(learner.mean, expert_stats.mean, random_stats.mean),
        agreement,
    )


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation over the entries where both are finite; None when either side is
    constant there (it is undefined)."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    xc, yc = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    denom = float(np.sqrt((xc @ xc) * (yc @ yc)))
    if denom <= 1e-12 * ok.sum():
        return None
    return float(xc @ yc / denom)

"""Deep RL from preferences (Christiano et al. 2017, "Deep Reinforcement Learning from
Human Preferences"): a reward learned from pairwise comparisons of short segments of the
learner's own behaviour, asked for a few at a time, and an SB3 learner trained on it as
it improves.

Each round:

1. the current learner (a random policy before the first round) is rolled out for
   `rollout_episodes` episodes;
2. `candidates` segment pairs are drawn from those episodes and the `queries_per_round`
   most informative are asked: those on which the reward ensemble disagrees most (the
   variance over members of the predicted P(a ≻ b), `query_selection="disagreement"`),
   or a random choice (`"random"`; also the first round, before any reward exists);
3. they are labelled by a simulated labeller from the env's true reward (Boltzmann with
   `rationality`, mistakes with probability `error`: `protege.data.synthetic_preferences`)
   or, when the dataset stores preferences, taken from those (the candidates are then the
   stored comparisons not yet used, and no labeller is needed);
4. the Bradley–Terry ensemble (`bradley_terry.train_bradley_terry`) is refitted on every
   label so far and calibrated on every step seen so far;
5. the learner trains `steps / rounds` further env steps on the new reward (SAC and DQN
   pay their replayed steps by it too: `protege.rl.build_learner(reward_relabel=)`).

Progress rows are `loop.ROW_KEYS` rows: stage 0, each reward fit's epochs (env_steps 0);
stage 1, learner rows every `log_every` env steps and evaluations at a round's end.
Not resumable (no checkpoint): a killed run starts again. A person labelling in a window
is not implemented.

    result = train_preferences([], None, PreferencesConfig(steps=40_000), env="Pendulum-v1")
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from protege.algorithms.best import BestSoFar
from protege.algorithms.ranking.bradley_terry import (
    EnsembleReward,
    SnippetPairs,
    train_bradley_terry,
)
from protege.algorithms.ranking.config import RankingConfig
from protege.algorithms.ranking.loop import (
    CHECK_SEED,
    RankingResult,
    _Rows,
    learner_env,
    predicted_returns,
    rank_correlation,
    row,
)
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY
from protege.data.preferences import Preference, Segment, synthetic_preferences
from protege.data.rollout import RandomPolicy, rollout
from protege.data.types import Trajectory, flatten_trajectories
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError, DatasetError
from protege.experts import SB3Expert
from protege.nets import resolve_device
from protege.rewards import RewardVecEnvWrapper
from protege.rl import build_learner, check_learner, make_vec_env, recent_returns, round_callback

QUERY_SELECTION = ("disagreement", "random")
ROLLOUT_SEED = 40_000
"""Rollouts for queries use episode seeds 40000 + 1000 * round, ...: apart from the
demonstrations', the final evaluation's (10000, ...) and in-training evaluations'."""

__all__ = [
    "PreferencesConfig",
    "PreferencesResult",
    "disagreement",
    "pairs_of",
    "random_queries",
    "select_queries",
    "train_preferences",
]


@dataclass(frozen=True)
class PreferencesConfig(RankingConfig):
    """DRLHP settings (see `RankingConfig` for the reward fit and the learner; of `reward`,
    `pairs`, `snippet_min`, `snippet_max` and `later_start` are unused: the pairs are the
    queries). `reward_transform="auto"` is "standardize" here (nothing ranks whole
    episodes); `eval_every` > 0 evaluates the learner at each round's end.

    rounds: query-fit-train rounds; the learner trains `steps / rounds` env steps in each.
    queries_per_round: segment pairs labelled each round.
    candidates: segment pairs drawn from the round's rollouts to choose the queries from.
    segment_length: steps per segment (shorter in an episode that has fewer).
    rollout_episodes: episodes of the current learner rolled out each round for candidates.
    query_selection: "disagreement" (the pairs whose predicted P(a ≻ b) varies most over
        the reward ensemble; needs reward.ensemble >= 2) or "random".
    rationality: β of the simulated Boltzmann labeller, P(a ≻ b) = σ(β (R_a − R_b)) on the
        segments' true returns; 0 labels at random.
    error: probability that the simulated labeller flips a label, in [0, 1].
    """

    rounds: int = 5
    queries_per_round: int = 100
    candidates: int = 1000
    segment_length: int = 25
    rollout_episodes: int = 8
    query_selection: str = "disagreement"
    rationality: float = 1.0
    error: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("rounds", "queries_per_round", "candidates", "segment_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.rollout_episodes < 1:
            raise ConfigError(f"rollout_episodes must be at least 1, not {self.rollout_episodes}")
        if self.query_selection not in QUERY_SELECTION:
            raise ConfigError(
                f"query_selection {self.query_selection!r}: choose one of "
                f"{', '.join(QUERY_SELECTION)}"
            )
        if self.query_selection == "disagreement" and self.reward.ensemble < 2:
            raise ConfigError(
                "query_selection=disagreement needs a reward ensemble of 2 or more to "
                "disagree; set reward.ensemble=3 or query_selection=random"
            )
        if not self.rationality >= 0:
            raise ConfigError(f"rationality must be >= 0, not {self.rationality}")
        if not 0.0 <= self.error <= 1.0:
            raise ConfigError(f"error must lie in [0, 1] (a mistake's probability): {self.error}")


@dataclass
class PreferencesResult(RankingResult):
    """A `RankingResult` and the episodes each round rolled out for its queries (what the
    reward learned from, with their true rewards; empty lists where the dataset's stored
    preferences were the queries)."""

    rounds: list[list[Trajectory]] = field(default_factory=list)


def pairs_of(trajs: Sequence[Trajectory], prefs: Sequence[Preference]) -> SnippetPairs:
    """`prefs` (segments of `trajs`) as Bradley–Terry pairs: `first` is segment b, `second`
    segment a, so `prefer_second` is the preference's label P(a ≻ b)."""
    steps = flatten_trajectories(list(trajs))
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in trajs])[:-1]]).astype(np.int64)
    width = max((max(p.a.stop - p.a.start, p.b.stop - p.b.start) for p in prefs), default=1)
    first = np.zeros((len(prefs), width), dtype=np.int64)
    second = np.zeros((len(prefs), width), dtype=np.int64)
    mask = np.zeros((len(prefs), width), dtype=bool)
    for i, p in enumerate(prefs):
        n = min(p.a.stop - p.a.start, p.b.stop - p.b.start)
        second[i, :n] = offsets[p.a.episode] + p.a.start + np.arange(n)
        first[i, :n] = offsets[p.b.episode] + p.b.start + np.arange(n)
        mask[i, :n] = True
    labels = np.array([p.label for p in prefs], dtype=np.float32)
    return SnippetPairs(steps, first, second, mask, labels)


@torch.no_grad()
def disagreement(
    reward: EnsembleReward, trajs: Sequence[Trajectory], prefs: Sequence[Preference]
) -> np.ndarray:
    """The variance over the ensemble's members of each pair's P(a ≻ b) = σ(R_k(a) −
    R_k(b)), R_k a member's raw return of the segment, (P,)."""
    steps = flatten_trajectories(list(trajs))
    tensors = reward.to_tensors(steps.obs, steps.acts, steps.next_obs, steps.terminated)
    member = reward.member_rewards(*tensors).double().cpu().numpy()  # (K, N)
    total = np.concatenate([np.zeros((len(member), 1)), np.cumsum(member, axis=1)], axis=1)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in trajs])[:-1]]).astype(np.int64)

    def returns(segs: list[Segment]) -> np.ndarray:  # (K, P)
        start = np.array([offsets[s.episode] + s.start for s in segs])
        stop = np.array([offsets[s.episode] + s.stop for s in segs])
        return np.asarray(total[:, stop] - total[:, start])

    logits = returns([p.a for p in prefs]) - returns([p.b for p in prefs])
    prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
    return np.asarray(prob.var(axis=0))


def select_queries(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices (ascending) of the `k` candidates with the highest `scores`, ties going to
    the earlier candidate; all of them when there are no more than `k`."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.sort(np.argsort(-scores, kind="stable")[:k])


def random_queries(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (ascending) of `k` of `n` candidates drawn without replacement by `rng`."""
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


def train_preferences(
    demos: Sequence[Trajectory],
    spaces: Spaces | None,
    cfg: PreferencesConfig = PreferencesConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    preferences: Sequence[Preference] = (),
) -> PreferencesResult:
    """Learn a reward from preference queries on the learner's behaviour, and the learner.

    demos: episodes of the env, optional: with `preferences` (comparisons of their
        segments, e.g. a dataset's stored ones) they are the labelled pool queries are
        chosen from; without, their segments join the first round's candidates, labelled
        by the simulated labeller (they need rewards then).
    spaces: the env's, or None to take them from `env` (required: the learner acts in it).
    checkpoint: unsupported (this trainer does not resume); must be None.
    Callbacks as in `loop.train_ranked`.

    Raises:
        ConfigError: a checkpoint was asked for, or the learner does not fit the env.
        DatasetError: stored preferences name segments outside `demos`, or the episodes
            to label carry no rewards.
    """
    if checkpoint is not None:
        raise ConfigError("preferences does not resume from a checkpoint; pass checkpoint=None")
    env, spaces = learner_env(env, spaces)
    check_learner(cfg.learner, spaces.action, str(env))
    pool = list(demos)
    stored = list(preferences)
    if stored and not pool:
        raise DatasetError("stored preferences need the episodes they compare; pass them as demos")
    device = resolve_device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    cb = CallbackList(callbacks)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    outside = 0.0
    cb.on_start(cfg.steps, "env step")

    n_envs = cfg.n_envs if cfg.learner == "ppo" else 1
    current: list[EnsembleReward] = []  # the latest fit: the learner's env reads it

    def paid(*args: Any) -> np.ndarray:
        if not current:  # before the first fit: nothing learned yet, pay nothing
            return np.zeros(len(args[0]), dtype=np.float32)
        return current[0].predict(*args)

    def relabel(samples: Any) -> torch.Tensor:
        # an off-policy learner's replayed steps are paid by the latest reward, not by the
        # one that was current when they were taken (it changes every round)
        acts = samples.actions
        if isinstance(spaces.action, gym.spaces.Box):  # SB3 stores actions in [-1, 1]
            low = torch.as_tensor(spaces.action.low, device=acts.device)
            high = torch.as_tensor(spaces.action.high, device=acts.device)
            acts = low + 0.5 * (acts + 1.0) * (high - low)
        else:
            acts = acts.reshape(-1).long()
        with torch.no_grad():
            dones = samples.dones.reshape(-1).float()
            return current[0](samples.observations, acts, samples.next_observations, dones)

    venv = RewardVecEnvWrapper(make_vec_env(env, n_envs, cfg.seed), paid)
    model = build_learner(
        cfg.learner,
        venv,
        cfg.seed,
        str(device),
        reward_relabel=None if cfg.learner == "ppo" else relabel,
        **cfg.learner_kwargs,
    )
    best, reached = BestSoFar(), []
    seen: list[Trajectory] = list(pool)  # every episode a label speaks of, and every step seen
    labelled: list[Preference] = []
    unused = list(range(len(stored)))
    per_round = max(cfg.steps // cfg.rounds, 1)
    facts: dict[str, Any] = {"ranked_by": "dataset" if stored else "synthetic"}
    fit = None
    rounds: list[list[Trajectory]] = []

    def report(r: dict[str, float]) -> bool:
        r["seconds"] = time.perf_counter() - start - outside
        cb.on_iteration(len(history), r)
        history.append(r)
        return True

    def on_round(env_steps: int) -> dict[str, float]:
        episodes = recent_returns(model, 20)
        mean = float(np.mean(episodes)) if episodes else math.nan
        return row(stage=1.0, env_steps=float(env_steps), return_mean=mean)

    try:
        for k in range(cfg.rounds):
            # 1-3: candidates, the queries among them, their labels
            if stored:
                cand = [stored[i] for i in unused]
                cand_trajs = pool
                rounds.append([])
            else:
                policy = SB3Expert(model) if current else RandomPolicy(spaces.action, cfg.seed + k)
                fresh = rollout(
                    env, policy, cfg.rollout_episodes, seed=ROLLOUT_SEED + 1000 * k + cfg.seed
                )
                cand_trajs = (pool if k == 0 else []) + fresh
                rounds.append(fresh)
                cand = synthetic_preferences(
                    cand_trajs,
                    cfg.candidates,
                    cfg.segment_length,
                    seed=int(rng.integers(2**31)),
                    rationality=cfg.rationality,
                    error=cfg.error,
                )
            if not cand:
                break  # the stored pool is used up
            if current and cfg.query_selection == "disagreement":
                picked = select_queries(
                    disagreement(current[0], cand_trajs, cand), cfg.queries_per_round
                )
            else:
                picked = random_queries(len(cand), cfg.queries_per_round, rng)
            if stored:
                picked_set = {unused[i] for i in picked}
                labelled += [stored[i] for i in sorted(picked_set)]
                unused = [i for i in unused if i not in picked_set]
            else:
                base = len(seen) - (len(pool) if k == 0 else 0)
                seen += fresh
                labelled += [_shift(cand[i], base) for i in picked]
            # 4: refit the reward on every label so far
            pairs = pairs_of(seen, labelled)
            rows = _Rows(cb, history, start - outside)
            fit = train_bradley_terry(
                pairs, spaces, cfg.reward, [rows], seed=cfg.seed + k, device=cfg.device
            )
            transform = "standardize" if cfg.reward_transform == "auto" else cfg.reward_transform
            fit.reward.calibrate(pairs.steps, transform)
            fit.reward.eval()
            current[:] = [fit.reward]
            # 5: the learner trains further on it
            last = int(model.num_timesteps)
            budget = per_round if k < cfg.rounds - 1 else max(cfg.steps - last, 1)
            model.learn(
                total_timesteps=budget,
                callback=round_callback(on_round, report, cfg.log_every, last),
                reset_num_timesteps=False,
            )
            if cfg.eval_every > 0:
                tick = time.perf_counter()
                trajs = rollout(env, SB3Expert(model), cfg.eval_episodes, seed=CHECK_SEED)
                score = float(np.mean([t.episode_return for t in trajs]))
                best.offer(score, int(model.num_timesteps), model.policy)
                outside += time.perf_counter() - tick
                report(row(stage=1.0, env_steps=float(model.num_timesteps), eval_return=score))
                if cfg.target_return is not None and score >= cfg.target_return:
                    reached.append(int(model.num_timesteps))
                    break
    finally:
        venv.close()
    if fit is None:
        raise DatasetError("no preferences to learn from: the dataset stores none")
    reward = current[0]
    strict = np.array([p.label for p in labelled])
    true = np.array([t.episode_return for t in seen])
    learned = predicted_returns(reward, seen)
    facts.update(
        queries=len(labelled),
        query_selection=cfg.query_selection,
        reward_transform=reward.transform,
        reward_train_accuracy=fit.train_accuracy,
        reward_val_accuracy=None if math.isnan(fit.val_accuracy) else fit.val_accuracy,
        labels_strict=int((strict != 0.5).sum()),
        reward_tau_return=rank_correlation(learned, true) if np.all(np.isfinite(true)) else None,
    )
    result = PreferencesResult(
        model,
        reward,
        history,
        time.perf_counter() - start - outside,
        int(model.num_timesteps),
        reached[0] if reached else None,
        best,
        facts,
        rounds,
    )
    cb.on_end(history[-1] if history else {})
    return result


def _shift(p: Preference, base: int) -> Preference:
    """`p` with its episodes renumbered by `base` (from a round's list to all episodes)."""
    a = Segment(p.a.episode + base, p.a.start, p.a.stop)
    b = Segment(p.b.episode + base, p.b.start, p.b.stop)
    return Preference(a, b, p.label)

"""DRLHP's queries: which segment pairs to ask about, who answers, and the answers as
Bradley–Terry pairs (`preferences.train_preferences` uses them each round).

- `disagreement` / `select_queries`: active selection, the pairs on which the reward
  ensemble's members disagree most about P(a ≻ b) (Christiano et al. 2017, section 2.2.4);
  `random_queries` the baseline.
- `round_episodes` / `candidate_pairs`: a round's rollouts (each replayable from its
  reset seed) and the segment pairs drawn from them, labelled by the simulated labeller
  or left for a person.
- `Person`: whoever answers in place of the simulated labeller (a `HumanLabeller` window,
  or a script in tests).
- `pairs_of`: labelled segments of episodes as the `SnippetPairs` the fit takes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np
import torch

from protege.algorithms.ranking.bradley_terry import EnsembleReward, SnippetPairs
from protege.data.preferences import (
    Preference,
    Segment,
    segment_pairs,
    synthetic_preferences,
)
from protege.data.rollout import Policy, rollout
from protege.data.types import Trajectory, flatten_trajectories
from protege.envs import EnvFactory

__all__ = [
    "Person",
    "candidate_pairs",
    "disagreement",
    "pairs_of",
    "random_queries",
    "renumber",
    "replayable",
    "round_episodes",
    "select_queries",
]


class Person(Protocol):
    """Someone answering preference queries (`protege.experts.human.HumanLabeller`)."""

    def __call__(
        self,
        trajs: Sequence[Trajectory],
        queries: Sequence[tuple[Segment, Segment]],
        on_answer: Callable[[int, float], None],
        info: str = "",
    ) -> bool:
        """Ask `queries` (segments a, b of `trajs`) in order; call `on_answer(i, label)`,
        label = P(a ≻ b), as each is answered. True when the person stopped labelling."""
        ...


def round_episodes(
    env: str | EnvFactory, policy: Policy, episodes: int, seed: int, k: int
) -> list[Trajectory]:
    """Round k's `episodes` of `policy` from reset seeds `seed`, `seed + 1`, ..., each
    marked with its round (meta "round"; `rollout` records the seed, meta "seed", so it can
    be replayed to show)."""
    trajs = rollout(env, policy, episodes, seed=seed)
    return [replace(t, meta={**t.meta, "round": k}) for t in trajs]


def replayable(traj: Trajectory) -> bool:
    """Whether a person can be shown `traj`: it records its reset seed (meta "seed")."""
    seed = traj.meta.get("seed")
    return isinstance(seed, int) and not isinstance(seed, bool)


def candidate_pairs(
    trajs: Sequence[Trajectory],
    n: int,
    segment_length: int,
    *,
    seed: int,
    labeller: tuple[float, float] | None,
) -> list[Preference]:
    """`n` segment pairs of `trajs` to choose queries from: labelled by the simulated
    labeller, `labeller` = (rationality, error) (`synthetic_preferences`), or, when it is
    None (a person answers the ones asked), unlabelled: 0.5 until answered."""
    if labeller is None:
        pairs = segment_pairs(trajs, n, segment_length, seed=seed)
        return [Preference(a, b, 0.5) for a, b in pairs]
    rationality, error = labeller
    return synthetic_preferences(
        trajs, n, segment_length, seed=seed, rationality=rationality, error=error
    )


def pairs_of(trajs: Sequence[Trajectory], prefs: Sequence[Preference]) -> SnippetPairs:
    """`prefs` (segments of `trajs`) as Bradley–Terry pairs: `first` is segment b, `second`
    segment a, so `prefer_second` is the preference's label P(a ≻ b). Each segment keeps
    its own real steps: one cut short by its episode's end (`_draw_pair`) adds nothing for
    the absorbing steps past it, whatever the reward."""
    steps = flatten_trajectories(list(trajs))
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in trajs])[:-1]]).astype(np.int64)
    width = max((max(p.a.stop - p.a.start, p.b.stop - p.b.start) for p in prefs), default=1)
    first = np.zeros((len(prefs), width), dtype=np.int64)
    second = np.zeros((len(prefs), width), dtype=np.int64)
    mask = np.zeros((len(prefs), width), dtype=bool)
    second_mask = np.zeros((len(prefs), width), dtype=bool)
    for i, p in enumerate(prefs):
        na, nb = p.a.stop - p.a.start, p.b.stop - p.b.start
        second[i, :na] = offsets[p.a.episode] + p.a.start + np.arange(na)
        first[i, :nb] = offsets[p.b.episode] + p.b.start + np.arange(nb)
        second_mask[i, :na] = True
        mask[i, :nb] = True
    labels = np.array([p.label for p in prefs], dtype=np.float32)
    return SnippetPairs(steps, first, second, mask, labels, second_mask)


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


def renumber(p: Preference, where: Sequence[int]) -> Preference:
    """`p` with episode i renamed `where[i]` (from a round's candidate list to the run's
    list of every episode)."""
    a = Segment(where[p.a.episode], p.a.start, p.a.stop)
    b = Segment(where[p.b.episode], p.b.start, p.b.stop)
    return Preference(a, b, p.label)

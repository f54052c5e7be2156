"""Ranked episodes -> snippet pairs: what T-REX compares, and how episodes are ranked.

A ranking gives each episode a score (higher is better): its place in a ranking given
with the dataset, a person's rating, minus the noise injected into its actions, or its
return. Pairs of episodes with different scores
become pairs of equally long random snippets, the better episode's snippet starting no
earlier than the worse one's (Brown et al. 2019: in a task that makes progress, the later
part of a better episode should look better still), labelled "the second is better".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from protege.algorithms.ranking.bradley_terry import SnippetPairs
from protege.data.types import Trajectory, flatten_trajectories
from protege.errors import ConfigError, DatasetError

RANK_BY = ("auto", "ranking", "noise", "rating", "return")
RANK = "rank"
"""`meta` key of an episode's place in a given ranking (0 is the best; `given_ranking`)."""


def given_ranking(trajs: Sequence[Trajectory], ranking: Sequence[int]) -> list[Trajectory]:
    """The episodes a ranking names (indices into `trajs`, best first), in its order, each
    with its place in `meta["rank"]`; episodes it leaves out are left out."""
    return [replace(trajs[i], meta={**trajs[i].meta, RANK: k}) for k, i in enumerate(ranking)]


def resolve_rank_by(trajs: Sequence[Trajectory], rank_by: str = "auto") -> str:
    """`rank_by`, with "auto" decided: a given ranking (`meta["rank"]`) when every episode
    has a place in it, else noise when every episode records it, else the return."""
    if rank_by not in RANK_BY:
        raise ConfigError(f"rank_by {rank_by!r}: choose one of {', '.join(RANK_BY)}")
    if rank_by != "auto":
        return rank_by
    for by, key in (("ranking", RANK), ("noise", "noise")):
        if trajs and all(key in t.meta for t in trajs):
            return by
    return "return"


def episode_scores(trajs: Sequence[Trajectory], rank_by: str = "auto") -> np.ndarray:
    """Each episode's score, higher is better, (N,).

    rank_by: "ranking" (minus `meta["rank"]`, the place in a ranking given with the
        dataset: `given_ranking`), "noise" (minus `meta["noise"]`: less noise is better),
        "rating" (`meta["rating"]`), "return" (the episode's return), or "auto" (see
        `resolve_rank_by`).

    Raises:
        DatasetError: an episode lacks what `rank_by` reads (one line naming it and the fix).
    """
    rank_by = resolve_rank_by(trajs, rank_by)
    if rank_by == "return":
        scores = np.array([t.episode_return for t in trajs], dtype=np.float64)
        missing = np.flatnonzero(~np.isfinite(scores))
        if len(missing):
            raise DatasetError(
                f"episode {int(missing[0])} carries no rewards, so episodes cannot be ranked by "
                "return; record rewards, or rank by meta noise or rating (--set rank_by=noise)"
            )
        return scores
    key = RANK if rank_by == "ranking" else rank_by
    for i, t in enumerate(trajs):
        value = t.meta.get(key)
        if (
            not isinstance(value, numbers.Real)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise DatasetError(
                f"episode {i} has no numeric meta[{key!r}] to rank by (it has "
                f"{sorted(t.meta) or 'none'}); rank by return instead (--set rank_by=return)"
            )
    values = np.array([float(t.meta[key]) for t in trajs])
    return values if key == "rating" else -values


def sample_snippet_pairs(
    trajs: Sequence[Trajectory],
    scores: np.ndarray,
    n_pairs: int,
    snippet_min: int = 10,
    snippet_max: int = 50,
    min_gap: float = 0.0,
    rng: np.random.Generator | None = None,
    later: bool = True,
) -> SnippetPairs:
    """`n_pairs` pairs of equally long snippets of episodes with different scores.

    Each pair: two episodes whose scores differ by more than `min_gap` (uniformly among
    such pairs), a length L between `snippet_min` and `snippet_max` (at most the shorter
    episode's), the worse episode's snippet at a uniform start t₁, the better's at a
    uniform start t₂ >= t₁ (`later`, where it fits; else anywhere it fits). `first` is the
    worse snippet and `prefer_second` is 1.

    Raises:
        DatasetError: when no two episodes differ by more than `min_gap`.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) != len(trajs):
        raise ValueError(f"{len(scores)} scores for {len(trajs)} episodes")
    usable = np.array([i for i, t in enumerate(trajs) if len(t) > 0])
    if len(usable) == 0:
        raise DatasetError("the ranked episodes hold no steps")
    s = scores[usable]
    worse, better = np.nonzero(s[:, None] + min_gap < s[None, :])  # all ordered candidates
    if len(worse) == 0:
        raise DatasetError(
            f"no two of the {len(usable)} ranked episodes differ in rank"
            + (f" by more than {min_gap:g}" if min_gap else "")
            + "; rank episodes of different quality (returns, noise levels or ratings)"
        )
    steps = flatten_trajectories([trajs[i] for i in usable])
    lengths = np.array([len(trajs[i]) for i in usable])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pick = rng.integers(0, len(worse), n_pairs)
    first = np.zeros((n_pairs, snippet_max), dtype=np.int64)
    second = np.zeros((n_pairs, snippet_max), dtype=np.int64)
    mask = np.zeros((n_pairs, snippet_max), dtype=bool)
    for p, k in enumerate(pick):
        w, b = worse[k], better[k]
        shortest = int(min(lengths[w], lengths[b]))
        low = min(snippet_min, shortest)
        length = int(rng.integers(low, min(snippet_max, shortest) + 1))
        t_w = int(rng.integers(0, lengths[w] - length + 1))
        last_b = int(lengths[b] - length)
        low_b = t_w if later and t_w <= last_b else 0
        t_b = int(rng.integers(low_b, last_b + 1))
        span = np.arange(length)
        first[p, :length] = offsets[w] + t_w + span
        second[p, :length] = offsets[b] + t_b + span
        mask[p, :length] = True
    return SnippetPairs(steps, first, second, mask, np.ones(n_pairs, dtype=np.float32))

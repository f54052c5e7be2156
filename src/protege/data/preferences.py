"""Rankings of episodes and preferences between trajectory segments, as data.

What learning from preferences and rankings consumes, kept beside the demonstrations they
speak of (`save_preferences` stores them with the dataset):

- a **ranking** of episodes, best first: from their returns, from the noise injected into
  them (`protege collect --noise-schedule`), from a person's ratings (`protege record
  --rate`), or given by a person (`protege record --rank`, `protege rank`), read back
  best first by `episode_ranking`;
- **preferences**: segment A (episode, start, stop) against segment B, labelled with
  P(A is preferred), from a person (the pairs to ask about: `segment_pairs`) or made up
  from true returns by a simulated labeller (`synthetic_preferences`), or from a ranking
  (`preferences_from_ranking`).

Paper: Christiano et al. (2017), "Deep Reinforcement Learning from Human Preferences"
(segment pairs, the Bradley-Terry model); Lee et al. (2021), "B-Pref" (simulated teachers:
a Boltzmann labeller with rationality β, and mistakes with probability ε); Brown et al.
(2019), "Extrapolating Beyond Suboptimal Demonstrations via Inverse Reinforcement Learning
from Observations" (T-REX: ranked episodes, pairs of their segments).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from protege.data.types import Trajectory
from protege.errors import ConfigError, DatasetError

if TYPE_CHECKING:  # the type only: storage imports this module
    from protege.data.storage import Demonstrations

RankBy = Literal["return", "noise", "rating", "given"]
RANK_BY: tuple[RankBy, ...] = ("return", "noise", "rating", "given")
"""return (highest first; the rewards, else the episode's 'return' metadata), noise (lowest
first), rating (highest first), given (the ranking stored with the dataset)."""


class Segment(NamedTuple):
    """Steps [start, stop) of episode `episode` of a dataset."""

    episode: int
    start: int
    stop: int


@dataclass(frozen=True)
class Preference:
    """A comparison of two segments.

    a, b: the segments compared, each (episode, start, stop).
    label: P(a is preferred to b), in [0, 1]: 1 a is better, 0 b is better, 0.5 equal (or a
        soft label from a labeller that is unsure).
    """

    a: Segment
    b: Segment
    label: float

    def __post_init__(self) -> None:
        for name in ("a", "b"):
            seg = getattr(self, name)
            problem = _segment_shape_problem(seg)
            if problem is not None:
                raise ValueError(f"segment {name} {problem}")
            object.__setattr__(self, name, Segment(*(int(v) for v in seg)))
        if isinstance(self.label, bool) or not isinstance(self.label, int | float | np.number):
            raise ValueError(f"label must be a number in [0, 1], not {self.label!r}")
        if not 0.0 <= float(self.label) <= 1.0:
            raise ValueError(f"label must lie in [0, 1] (P(a preferred)), not {self.label}")
        object.__setattr__(self, "label", float(self.label))


def _segment_shape_problem(seg: Any) -> str | None:
    """Why `seg` is not an (episode, start, stop) of integers with start < stop, or None."""
    if not isinstance(seg, Sequence) or len(seg) != 3:
        return f"is {seg!r}, expected (episode, start, stop)"
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in seg):
        return f"is {tuple(seg)!r}, expected three integers (episode, start, stop)"
    episode, start, stop = (int(v) for v in seg)
    if episode < 0 or start < 0:
        return f"is {tuple(seg)!r}: episode and start cannot be negative"
    if stop <= start:
        return f"is {tuple(seg)!r}: it needs at least one step (start < stop)"
    return None


def segment_problem(seg: Segment, lengths: Sequence[int]) -> str | None:
    """Why `seg` does not lie inside a dataset whose episodes have `lengths`, or None."""
    problem = _segment_shape_problem(seg)
    if problem is not None:
        return problem
    if seg.episode >= len(lengths):
        return f"{tuple(seg)} names episode {seg.episode}, but the dataset has {len(lengths)}"
    if seg.stop > lengths[seg.episode]:
        return (
            f"{tuple(seg)} runs past the end of episode {seg.episode}, which has "
            f"{lengths[seg.episode]} steps"
        )
    return None


def ranking_problem(ranking: Sequence[Any], episodes: int) -> str | None:
    """Why `ranking` is not a list of distinct episode indices of a dataset of `episodes`
    episodes (best first; it may leave episodes out), or None."""
    if len(ranking) == 0:
        return "is empty; rank at least one episode"
    for r in ranking:
        if isinstance(r, bool) or not isinstance(r, int | np.integer):
            return f"holds {r!r}, expected episode indices (integers)"
        if not 0 <= int(r) < episodes:
            return f"names episode {r}, but the dataset has {episodes} (0..{episodes - 1})"
    if len({int(r) for r in ranking}) != len(ranking):
        return "names an episode twice; rank each episode once"
    return None


# --------------------------------------------------------------------------- rankings


def episode_ranking(
    demos: Sequence[Trajectory] | Demonstrations, by: RankBy = "return"
) -> list[int]:
    """The episodes' indices, best first (ties keep the earlier episode first).

    Args:
        demos: the episodes, or a loaded dataset (`Demonstrations`, which holds the given
            ranking, if any).
        by: "return" (highest first: the rewards, else the 'return' in the episode's meta),
            "noise" (lowest first: the 'noise' its actions were collected with), "rating"
            (highest first: a person's 'rating'), or "given" (the ranking stored with the
            dataset; it may leave episodes out).

    Raises:
        DatasetError: an episode lacks what `by` ranks by (or no ranking was given).
        ConfigError: `by` is none of these.
    """
    if by not in RANK_BY:
        raise ConfigError(f"rank episodes by one of {', '.join(RANK_BY)}, not {by!r}")
    if by == "given":
        ranking = None if isinstance(demos, Sequence) else demos.ranking
        if ranking is None:
            where = "" if isinstance(demos, Sequence) else f"{demos.source}: "
            raise DatasetError(
                f"{where}no ranking was given with these episodes; store one with "
                "protege.data.save_preferences(path, ..., ranking=[best, ..., worst]), or "
                "rank by return, noise or rating"
            )
        return [int(r) for r in ranking]
    trajs = list(demos) if isinstance(demos, Sequence) else demos.trajectories
    scores = np.array([_score(t, i, by) for i, t in enumerate(trajs)], dtype=np.float64)
    order = np.argsort(scores if by == "noise" else -scores, kind="stable")
    return [int(i) for i in order]


def _score(traj: Trajectory, index: int, by: str) -> float:
    if by == "return" and traj.rews is not None:
        return traj.episode_return
    value = traj.meta.get(by)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | np.number):
        fixes = {
            "return": "collect it with rewards (protege collect records them)",
            "noise": "collect the data with protege collect --noise or --noise-schedule",
            "rating": "record it with protege record --rate",
        }
        found = "missing" if value is None else f"{value!r}, not a number"
        raise DatasetError(
            f"episode {index} cannot be ranked by {by}: its meta '{by}' is {found}; "
            f"{fixes[by]}, or rank by another key"
        )
    return float(value)


# --------------------------------------------------------------------------- labellers


def boltzmann_probability(return_a: float, return_b: float, rationality: float) -> float:
    """P(a preferred to b) = σ(β (R_a − R_b)) for a Boltzmann-rational labeller.

    rationality: β ≥ 0; 0 labels at random (0.5), infinity always prefers the higher return
    (0.5 on a tie).
    """
    if not rationality >= 0:
        raise ConfigError(f"rationality must be >= 0 (β of a Boltzmann labeller): {rationality}")
    diff = float(return_a) - float(return_b)
    if diff == 0 or rationality == 0:
        return 0.5
    if math.isinf(rationality):
        return 1.0 if diff > 0 else 0.0
    z = rationality * diff
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def segment_return(trajs: Sequence[Trajectory], seg: Segment) -> float:
    """The true return of a segment: the sum of its episode's rewards over [start, stop)."""
    rews = trajs[seg.episode].rews
    if rews is None:
        raise DatasetError(
            f"episode {seg.episode} has no rewards: synthetic preferences need the true "
            "returns; collect the episodes with rewards (protege collect records them)"
        )
    return float(np.sum(rews[seg.start : seg.stop]))


def synthetic_preferences(
    trajs: Sequence[Trajectory],
    pairs: int,
    segment_length: int,
    *,
    seed: int = 0,
    rationality: float = math.inf,
    error: float = 0.0,
    soft: bool = False,
) -> list[Preference]:
    """Preferences between random segment pairs, labelled from their true returns.

    Each pair draws two episodes (uniformly; the same one may be drawn twice) and in each a
    segment of the same length at a uniform start (never the same segment twice; see
    `_draw_pair`: a segment may run past the end of an episode that terminated, into its
    absorbing state, which pays 0); the labeller prefers by the Boltzmann model, then errs
    with probability `error`.

    Args:
        trajs: episodes with rewards (at least one step each counts; empty ones are skipped).
        pairs: how many preferences to make.
        segment_length: steps per segment (shorter in an episode that has fewer).
        seed: the draws repeat exactly for the same seed.
        rationality: β of the Boltzmann labeller, P(a) = σ(β (R_a − R_b)); infinity
            (default) always prefers the higher return.
        error: probability that a label is flipped (a mistake), in [0, 1].
        soft: label with the probability itself instead of a sampled 0/1 (with a mistake
            rate ε: (1 − ε) p + ε (1 − p)).

    Returns:
        `pairs` preferences, label 1.0 (a better), 0.0 (b better) or 0.5 (equal returns:
        the labeller says they are equal, as a person may, B-Pref's "equal" teacher),
        or soft labels. A Boltzmann labeller that flipped a coin on ties would teach the
        reward whatever else tells the two segments apart (CartPole: which way the cart
        drifts).
    """
    if pairs < 0 or segment_length < 1:
        raise ConfigError(
            f"pairs must be >= 0 and segment_length >= 1, not {pairs} and {segment_length}"
        )
    if not 0.0 <= error <= 1.0:
        raise ConfigError(f"error must lie in [0, 1] (a mistake's probability), not {error}")
    boltzmann_probability(0.0, 0.0, rationality)  # checks rationality
    usable = _usable_episodes(trajs, segment_length)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(pairs):
        a, b = _draw_pair(trajs, usable, segment_length, rng)
        ra, rb = segment_return(trajs, a), segment_return(trajs, b)
        p = boltzmann_probability(ra, rb, rationality)
        draw, mistake = rng.random(), rng.random()  # always both: the stream stays aligned
        if soft:
            label = (1 - error) * p + error * (1 - p)
        else:  # equal returns: "equal", not a coin flip that teaches whatever differs
            label = 0.5 if ra == rb else float(draw < p)
            if mistake < error:
                label = 1.0 - label
        out.append(Preference(a, b, label))
    return out


def segment_pairs(
    trajs: Sequence[Trajectory], pairs: int, segment_length: int, *, seed: int = 0
) -> list[tuple[Segment, Segment]]:
    """Random segment pairs to ask someone about, unlabelled (a person labels them:
    `protege train preferences --set labeller=human`); drawn as `synthetic_preferences`
    draws its pairs, so the episodes need no rewards.

    Raises:
        DatasetError: the episodes hold no two different segments.
        ConfigError: `pairs` < 0 or `segment_length` < 1.
    """
    if pairs < 0 or segment_length < 1:
        raise ConfigError(
            f"pairs must be >= 0 and segment_length >= 1, not {pairs} and {segment_length}"
        )
    usable = _usable_episodes(trajs, segment_length)
    rng = np.random.default_rng(seed)
    return [_draw_pair(trajs, usable, segment_length, rng) for _ in range(pairs)]


def _usable_episodes(trajs: Sequence[Trajectory], segment_length: int) -> list[int]:
    """The episodes with steps, checked to hold two different segments between them."""
    usable = [i for i, t in enumerate(trajs) if len(t) > 0]
    if not (len(usable) > 1 or (usable and len(trajs[usable[0]]) > segment_length)):
        raise DatasetError(
            "the episodes hold no two different segments to compare; collect more episodes "
            "or use shorter segments"
        )
    return usable


def _draw_pair(
    trajs: Sequence[Trajectory], usable: list[int], segment_length: int, rng: np.random.Generator
) -> tuple[Segment, Segment]:
    """Two episodes of `usable` (uniformly; the same one may be drawn twice) and in each a
    segment of the same length n, min(`segment_length`, the lengths of those of the two
    that did not terminate), at a uniform start.

    An episode that terminated goes on in its absorbing state, where nothing happens and
    nothing is paid (the MDP's convention, and what an RL learner's value assumes after a
    terminal step). So its segment may start at any of its steps and run past its end: the
    segment keeps only its real steps (stop <= the episode's length), and its return counts
    0 for the rest. Without this, two segments of equal length in a task that pays 1 per
    step alive (CartPole) always tie, though one of them falls; with it, the one that falls
    is the worse. A truncated episode has no known future, so its segments stay inside it.
    """

    def start(e: int, n: int) -> int:
        room = len(trajs[e]) if trajs[e].terminated else len(trajs[e]) - n + 1
        return int(rng.integers(room))

    a = b = Segment(0, 0, 0)
    while a == b:  # a segment against itself says nothing: draw again
        ea, eb = (usable[int(k)] for k in rng.integers(len(usable), size=2))
        n = min([segment_length] + [len(trajs[e]) for e in (ea, eb) if not trajs[e].terminated])
        sa, sb = start(ea, n), start(eb, n)
        a = Segment(ea, sa, min(sa + n, len(trajs[ea])))
        b = Segment(eb, sb, min(sb + n, len(trajs[eb])))
    return a, b


def preferences_from_ranking(
    trajs: Sequence[Trajectory],
    ranking: Sequence[int],
    pairs: int,
    segment_length: int,
    *,
    seed: int = 0,
) -> list[Preference]:
    """Preferences between segments of ranked episodes: the better-ranked one is preferred.

    Each pair draws two different episodes of `ranking` (best first) and a segment of each,
    of the same length min(`segment_length`, both lengths), at uniform starts; the label is 1
    when segment a's episode ranks higher (T-REX's training pairs).
    """
    if pairs < 0 or segment_length < 1:
        raise ConfigError(
            f"pairs must be >= 0 and segment_length >= 1, not {pairs} and {segment_length}"
        )
    problem = ranking_problem(ranking, len(trajs))
    if problem is not None:
        raise DatasetError(f"the ranking {problem}")
    ranked = [int(r) for r in ranking if len(trajs[int(r)]) > 0]
    if len(ranked) < 2:
        raise DatasetError("preferences from a ranking need two ranked episodes with steps")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(pairs):
        ra, rb = (int(k) for k in rng.choice(len(ranked), size=2, replace=False))
        ea, eb = ranked[ra], ranked[rb]
        n = min(segment_length, len(trajs[ea]), len(trajs[eb]))
        sa, sb = (int(rng.integers(len(trajs[e]) - n + 1)) for e in (ea, eb))
        out.append(Preference(Segment(ea, sa, sa + n), Segment(eb, sb, sb + n), float(ra < rb)))
    return out

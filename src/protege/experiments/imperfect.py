"""`protege bench imperfect`: demonstrators worse than the expert, made by noise injection, and
the learners meant to do better than them (issue #16).

Each env's built-in expert (scripted; the shipped SB3 model on HalfCheetah) is made a
worse demonstrator by noise in its actions, calibrated per env so that the demonstrator
scores about 25%, 50% and 75% of the expert's normalised score (`IMPERFECT_NOISE`, measured
by `benchmarks/imperfect_noise.py`: rollouts of the noisy expert only). A "mixed" dataset
holds 10% noiseless expert episodes and 90% at the 25% level's noise, unlabelled. A
"graded" dataset is T-REX's kind of demonstrations: episodes at five noise levels, evenly
from the 50% level's ε to 1 (random actions), each episode's noise in its meta, so that a
ranking says which way is better; its demonstrator is its best episodes (the 50% level's
noise), which a learner must beat. The "none" level has no demonstrations: preference
comparisons learn from 1,000 answers of a simulated labeller instead.

This module holds the suite's tables (levels, noise, budgets) and makes a level's dataset;
`protege.experiments.bench` runs it like every other suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from protege.errors import ConfigError
from protege.experiments.sweep import path_safe


@dataclass(frozen=True)
class Level:
    """One kind of demonstrations a suite's algorithms learn from: the env's expert as it is,
    with calibrated noise, a mix of expert and noisy episodes, or none at all.

    name: the table's label ("25%", "mixed", "none"); "" is the expert itself, noiseless
        (every suite without levels).
    algos: the suite's row labels run on it.
    noise: the calibrated level (a key of `LEVEL_TARGETS`) whose noise the noisy episodes
        take; None: none.
    expert_share: the share of the episodes recorded from the noiseless expert (first in
        the dataset; the rest take `noise`); 0: none.
    expert_part: row labels whose --demos is the level's expert episodes alone; their
        settings may name the level's whole dataset as "{dataset}" (DWBC's unlabelled set).
    demos: whether the level has demonstrations; without, its algorithms get no --demos.
    graded: the noisy episodes span this many noise levels, evenly from `noise`'s ε to 1
        (random actions), an equal share each, least noise first (a graded series, as
        `protege collect --noise-schedule` records); its demonstrator is the least noisy
        share. 0: every noisy episode at `noise`'s ε.
    """

    name: str
    algos: tuple[str, ...]
    noise: str | None = None
    expert_share: float = 0.0
    expert_part: tuple[str, ...] = ()
    demos: bool = True
    graded: int = 0

    @property
    def tag(self) -> str:
        """The level as part of a file name ("25%" -> "25pct"; "" for the expert)."""
        return self.name.replace("%", "pct")


LEVEL_TARGETS = {"25%": 0.25, "50%": 0.5, "75%": 0.75}
"""The demonstrator levels: the normalised score the noisy expert is calibrated to."""

IMPERFECT_ENVS = ("CartPole-v1", "LunarLander-v3", "Pendulum-v1", "HalfCheetah-v5")
IMPERFECT_EPISODES = 20
"""Episodes per dataset: 20 at each noise level; the mixed one 2 expert and 18 noisy; the
graded one 4 at each of its 5 noise levels."""
GRADED_LEVELS = 5
MIXED_EXPERT_SHARE = 0.1

IMPERFECT_NOISE: dict[str, tuple[str, dict[str, float]]] = {
    # ε-random actions; the score falls steeply from ε 0.3 (0.87) to 0.5 (0.22)
    "CartPole-v1": ("random", {"25%": 0.45, "50%": 0.39, "75%": 0.325}),  # 0.23, 0.49, 0.76
    "LunarLander-v3": ("random", {"25%": 0.74, "50%": 0.40, "75%": 0.22}),  # 0.25, 0.51, 0.73
    # Gaussian noise never brings the scripted expert below 0.80 (at ε = 1)
    "Pendulum-v1": ("random", {"25%": 0.84, "50%": 0.68, "75%": 0.53}),  # 0.25, 0.50, 0.75
    # Gaussian (ε-random: 0.19 at ε = 0.1). An episode returns about 5,000 or falls to a
    # few hundred (the expert's own worst episodes do), so a level is mostly a share of
    # failed episodes, and the score is not monotone in ε below 0.1 (ε 0.07: 1.11, 0.075:
    # 0.72, 0.08: 0.65, 0.085: 0.71, 0.09: 0.53)
    "HalfCheetah-v5": ("gaussian", {"25%": 0.15, "50%": 0.10, "75%": 0.075}),  # 0.26, 0.51, 0.72
}
"""Per env: the noise kind (`protege.data.noise`) and the ε of each level, measured by
`python benchmarks/imperfect_noise.py` (rollouts of the noisy expert on the bench's
demonstration seeds, normalised by the expert and a random policy on its evaluation
seeds: 4342 for HalfCheetah, whose expert scores 1.17 on the demonstration seeds); the
measured normalised scores are in the comments, over the 20 episodes of each dataset."""

RANKED = ("t-rex", "d-rex")
NOISY_ALGOS = ("bc", "gail", *RANKED, "filtered-bc", "weighted-bc")
MIXED_ALGOS = ("bc", "bc-expert-part", "filtered-bc", "weighted-bc", "dwbc")
IMPERFECT_ALGOS = ("bc", "bc-expert-part", "gail", *RANKED, "preferences", "filtered-bc",
                   "weighted-bc", "dwbc")  # fmt: skip
IMPERFECT_LEVELS = (
    *(Level(name, NOISY_ALGOS, noise=name) for name in LEVEL_TARGETS),
    Level("graded", NOISY_ALGOS, noise="50%", graded=GRADED_LEVELS),
    Level(
        "mixed",
        MIXED_ALGOS,
        noise="25%",
        expert_share=MIXED_EXPERT_SHARE,
        expert_part=("bc-expert-part", "dwbc"),
    ),
    Level("none", ("preferences",), demos=False),
)
"""Noisy levels: every method on the same data (graded: episodes of five qualities, the
best at the 50% level). mixed: the methods for a small expert part
in a large unlabelled set, beside BC on all of it and BC on the expert part alone. none:
preference comparisons, which need no demonstrations."""

_WIDE = {"hidden": [256, 256]}
_SAC_CHEETAH = {"learner": "sac", "steps": 300_000}
# rl-zoo's PPO for LunarLander (16 envs, 1M steps), for every learner trained there
_PPO_LANDER = {
    "learner": "ppo", "steps": 1_000_000, "n_envs": 16, "learner_kwargs.n_steps": 1024,
    "learner_kwargs.batch_size": 64, "learner_kwargs.gae_lambda": 0.98,
    "learner_kwargs.gamma": 0.999, "learner_kwargs.n_epochs": 4,
    "learner_kwargs.ent_coef": 0.01,
}  # fmt: skip
_RANKING = {
    # docs/imperfect.md: PPO 50k on CartPole, SAC 10k on Pendulum
    "@CartPole-v1": {"learner": "ppo", "steps": 50_000},
    "@Pendulum-v1": {"learner": "sac", "steps": 10_000},
    "@LunarLander-v3": _PPO_LANDER,
    "@HalfCheetah-v5": _SAC_CHEETAH,
}
IMPERFECT_SETTINGS: dict[str, dict[str, Any]] = {
    "bc@HalfCheetah-v5": _WIDE,
    "bc-expert-part@HalfCheetah-v5": _WIDE,
    "filtered-bc@HalfCheetah-v5": {"bc.hidden": [256, 256]},
    "weighted-bc@HalfCheetah-v5": {"bc.hidden": [256, 256]},
    "filtered-bc@mixed": {"keep_fraction": MIXED_EXPERT_SHARE},  # %BC: the top 10%
    "dwbc": {"unlabelled": "{dataset}"},
    "dwbc@HalfCheetah-v5": {"steps": 100_000, "hidden": [256, 256], "disc_hidden": [256, 256]},
    # the classic suite's GAIL+PPO on CartPole, the pendulum suite's SAC, the mujoco suite's
    # PPO 1M on HalfCheetah
    "gail@CartPole-v1": {
        "learner": "ppo",
        "steps": 100_000,
        "disc_lr": 3e-4,
        "learner_kwargs.ent_coef": 0.01,
    },
    "gail@Pendulum-v1": {"learner": "sac", "steps": 20_000},
    "gail@LunarLander-v3": _PPO_LANDER,
    "gail@HalfCheetah-v5": {"learner": "ppo", "steps": 1_000_000},
    # a level's episodes carry one noise level: T-REX ranks them by their true return, as
    # its paper ranks its demonstrations; a graded level's by their noise
    "t-rex": {"rank_by": "return"},
    "t-rex@graded": {"rank_by": "noise"},
    **{f"{algo}{env}": dict(s) for algo in RANKED for env, s in _RANKING.items()},
    # 1,000 synthetic labels: 5 rounds of 200
    "preferences": {"rounds": 5, "queries_per_round": 200},
    "preferences@CartPole-v1": {"learner": "ppo", "steps": 50_000},
    "preferences@Pendulum-v1": {"learner": "sac", "steps": 20_000},
    "preferences@LunarLander-v3": _PPO_LANDER,
    "preferences@HalfCheetah-v5": _SAC_CHEETAH,
}
"""The suite's --set values per row label, per label@env and per label@level (the more
specific wins). Budgets: where docs/imperfect.md and the algorithms' tests measured them
(ranking on CartPole and Pendulum), else the other suites' (GAIL) or the published
recipes' (rl-zoo's PPO for LunarLander; SAC for HalfCheetah): the LunarLander and
HalfCheetah budgets are hours per run on one core, not yet measured here."""


def collect_level(
    env_id: str,
    level: Level,
    episodes: int,
    directory: Path,
    noise: tuple[str, float] | None,
) -> tuple[Path | None, Path | None]:
    """Record a level's dataset (and its expert part) from the env's built-in expert into
    `directory`, once: a file already there is kept.

    noise: (kind, ε) of the level's noisy episodes (a graded level's least noise); None
        for a level without noise.
    Returns the dataset and the expert part (None where the level has none). Every
    episode's meta keeps its return and its noise (0 for the expert's).
    """
    # here, not at the top: the jobs layer imports torch (not needed to list the suites)
    from protege.jobs.common import builtin_expert, collect

    if not level.demos:
        return None, None
    stem = f"{path_safe(env_id)}__{episodes}ep" + (f"__{level.tag}" if level.tag else "")
    dataset = directory / f"{stem}.npz"
    n_expert = round(level.expert_share * episodes) if level.expert_share else 0
    if level.expert_share and not 0 < n_expert < episodes:
        raise ConfigError(f"level {level.name}: {episodes} episodes cannot hold an expert "
                          f"share of {level.expert_share}; use more episodes")  # fmt: skip
    if level.graded and episodes % level.graded:
        raise ConfigError(f"level {level.name}: {episodes} episodes do not split evenly "
                          f"over its {level.graded} noise levels; use a multiple of "
                          f"{level.graded}")  # fmt: skip
    part = directory / f"{stem}__expert-part.npz" if n_expert else None
    if dataset.is_file() and (part is None or part.is_file()):
        return dataset, part
    expert = builtin_expert(env_id)
    if expert is None:
        raise ConfigError(f"no built-in expert for {env_id}")
    if part is not None and not part.is_file():
        collect(env_id, expert, n_expert, part, seed=0, noise=0.0)
    if dataset.is_file():
        return dataset, part
    if noise is None:
        collect(env_id, expert, episodes, dataset, seed=0)
    elif level.graded:
        collect(env_id, expert, episodes // level.graded, dataset, seed=0,
                noise=graded_noise(noise[1], level.graded), noise_kind=noise[0])  # fmt: skip
    elif part is None:
        collect(env_id, expert, episodes, dataset, seed=0, noise=noise[1], noise_kind=noise[0])
    else:  # the expert part, then the noisy rest from the next seeds on
        _mix(env_id, expert, part, episodes - n_expert, noise, dataset)
    return dataset, part


def _mix(
    env_id: str, expert: str, part: Path, n_noisy: int, noise: tuple[str, float], out: Path
) -> None:
    """The expert part's episodes followed by `n_noisy` noisy ones, into `out`."""
    from protege.data.storage import load_trajectories, save_trajectories
    from protege.jobs.common import collect

    experts = load_trajectories(part, env_id=env_id)
    first = len(experts.trajectories)
    noisy_file = out.with_name(out.stem + "__noisy-part.npz")
    noisy = collect(env_id, expert, n_noisy, noisy_file, seed=first, overwrite=True,
                    noise=noise[1], noise_kind=noise[0])  # fmt: skip
    save_trajectories(out, [*experts.trajectories, *noisy], env_id, experts.spaces)
    noisy_file.unlink()


def graded_noise(eps: float, levels: int) -> list[float]:
    """`levels` noise levels evenly from `eps` to 1 (random actions), least noise first."""
    return [round(float(e), 6) for e in np.linspace(eps, 1.0, levels)]


def mean_return(dataset: Path | None, best_only: bool = False) -> float:
    """The mean episode return of a dataset (the demonstrator's), NaN for none.

    best_only: of its least noisy episodes alone (a graded dataset's best demonstrations,
    the ones a learner must beat).
    """
    if dataset is None:
        return float("nan")
    from protege.data.storage import load_trajectories

    trajs = load_trajectories(dataset).trajectories
    returns = np.array([t.episode_return for t in trajs])
    if best_only:
        noise = np.array([float(t.meta.get("noise", 0.0)) for t in trajs])
        returns = returns[noise == noise.min()]
    return float(returns.mean())


BEAT_MARGIN = 0.2
"""How far above the demonstrator's normalised score a learner must land to count as doing
better than it (a fifth of the expert-random gap, issue #16)."""


def beats_demonstrator(learner: float, demonstrator: float) -> str:
    """ "yes" when the learner's normalised score is at least `BEAT_MARGIN` above the
    demonstrator's, "no" when not, "" when either is unknown (NaN)."""
    if np.isnan(learner) or np.isnan(demonstrator):
        return ""
    return "yes" if learner - demonstrator >= BEAT_MARGIN - 1e-9 else "no"

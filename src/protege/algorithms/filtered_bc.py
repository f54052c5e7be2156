"""Filtered behavioral cloning: clone only the best episodes of mixed-quality demonstrations.

Logged data mixes good and bad episodes; plain BC copies both. Filtered BC ranks the
episodes by return and clones the top `keep_fraction` of them ("%BC", Chen et al. 2021;
Emmons et al. 2021 show it is a strong baseline for learning from suboptimal data). It
needs rewards in the demonstrations, and it is the same BC fit on fewer, better episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from protege.algorithms.bc import BCConfig, BCResult, train_bc
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.config import check_fields
from protege.data.types import Transitions, obs_index
from protege.envs import Spaces
from protege.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class FilteredBCConfig:
    """Filtered BC settings.

    keep_fraction: share of the episodes cloned, the best by return (at least one episode).
    bc: the behavioral-cloning settings of the fit (see BCConfig).
    """

    keep_fraction: float = 0.5
    bc: BCConfig = field(default_factory=BCConfig)

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if not 0.0 < self.keep_fraction <= 1.0:
            raise ConfigError(f"keep_fraction must lie in (0, 1], not {self.keep_fraction}")


def episode_bounds(demos: Transitions) -> list[tuple[int, int]]:
    """(start, end) of each episode in a flat batch: an episode ends where it terminated or
    was truncated; steps after the last end form a last, unfinished episode."""
    ends = np.flatnonzero(np.asarray(demos.terminated) | np.asarray(demos.truncated)) + 1
    starts = np.concatenate([[0], ends])
    bounds = [(int(a), int(b)) for a, b in zip(starts[:-1], ends, strict=True)]
    if len(demos) > (bounds[-1][1] if bounds else 0):
        bounds.append((bounds[-1][1] if bounds else 0, len(demos)))
    return bounds


def best_episodes(demos: Transitions, keep_fraction: float) -> Transitions:
    """The steps of the top `keep_fraction` of episodes by return (ties keep the earlier)."""
    if demos.rews is None or not np.all(np.isfinite(demos.rews)):
        raise DatasetError(
            "filtered BC ranks episodes by return, but the demonstrations carry no rewards; "
            "record them with rewards (protege collect does) or use plain bc"
        )
    bounds = episode_bounds(demos)
    returns = np.array([demos.rews[a:b].sum() for a, b in bounds])
    n_keep = max(1, int(round(keep_fraction * len(bounds))))
    keep = np.sort(np.argsort(-returns, kind="stable")[:n_keep])
    rows = np.concatenate([np.arange(*bounds[i]) for i in keep])
    return Transitions(
        obs=obs_index(demos.obs, rows), acts=demos.acts[rows],
        next_obs=obs_index(demos.next_obs, rows), terminated=demos.terminated[rows],
        truncated=demos.truncated[rows], rews=demos.rews[rows],
    )  # fmt: skip


def train_filtered_bc(
    demos: Transitions,
    spaces: Spaces,
    cfg: FilteredBCConfig = FilteredBCConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: Any = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> BCResult:
    """Behavioral cloning on the best `cfg.keep_fraction` of the episodes by return.

    `env` only tells BC whether `normalize_obs=auto` is on (nothing is rolled out);
    `checkpoint` resumes the BC fit."""
    kept = best_episodes(demos, cfg.keep_fraction)
    return train_bc(kept, spaces, cfg.bc, callbacks, env=env, checkpoint=checkpoint,
                    checkpoint_every=checkpoint_every)  # fmt: skip

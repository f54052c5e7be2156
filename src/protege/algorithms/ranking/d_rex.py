"""Disturbance-based reward extrapolation (Brown, Goo & Niekum 2019, "Better-than-Demonstrator
Imitation Learning via Automatically-Ranked Demonstrations").

T-REX without a ranking: D-REX clones the demonstrations (BC), rolls the clone out with
ε-greedy noise at increasing levels (with probability ε a uniform random action), and
takes "less noise is better" as the ranking. A Bradley–Terry reward fitted to those
rollouts (`loop`) pays what the clone does that noise destroys, and an RL learner on it
can outdo the demonstrator. Nothing but unlabelled demonstrations and the env is needed.

    result = train_d_rex(trajs, None, DRexConfig(steps=50_000), env="CartPole-v1")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from protege.algorithms.bc import BCConfig, train_bc
from protege.algorithms.ranking.config import RankingConfig
from protege.algorithms.ranking.loop import RankedEpisodes, RankingResult, train_ranked
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.data.noise import NoisyPolicy
from protege.data.rollout import Policy, rollout
from protege.data.types import Trajectory, flatten_trajectories
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError, DatasetError

NOISE_SEED = 30_000
"""Noisy rollouts use episode seeds 30000, 30001, ...: apart from demonstration seeds
(0, 1, ...), the final evaluation's (10000, ...) and in-training evaluations' (20000, ...)."""


@dataclass(frozen=True)
class DRexConfig(RankingConfig):
    """D-REX settings (see `RankingConfig` for the reward fit and the learner).

    bc: the behavioral-cloning fit of the demonstrations (BCConfig, with its own seed),
        whose policy is rolled out with noise.
    noise_min: the least ε of the noise schedule.
    noise_max: the most ε (1: a uniform random policy).
    noise_levels: ε levels, evenly spaced from noise_min to noise_max (D-REX: 20).
    rollouts_per_level: episodes rolled out at each level (D-REX's K).
    min_noise_gap: only rollouts whose ε differ by more than this are compared: close
        levels' returns overlap, so their order says little (the min_margin of D-REX's
        MuJoCo code).
    """

    bc: BCConfig = field(default_factory=BCConfig)
    noise_min: float = 0.02
    noise_max: float = 1.0
    noise_levels: int = 20
    rollouts_per_level: int = 5
    min_noise_gap: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.noise_min <= self.noise_max <= 1.0:
            raise ConfigError(
                f"noise_min={self.noise_min}, noise_max={self.noise_max}: need "
                "0 <= noise_min <= noise_max <= 1 (ε is a probability)"
            )
        if self.noise_levels < 2 or self.rollouts_per_level < 1:
            raise ConfigError(
                f"noise_levels={self.noise_levels}, rollouts_per_level="
                f"{self.rollouts_per_level}: a ranking needs at least 2 levels of 1 rollout"
            )
        if self.min_noise_gap < 0 or self.min_noise_gap >= self.noise_max - self.noise_min:
            raise ConfigError(
                f"min_noise_gap={self.min_noise_gap}: must be at least 0 and below "
                f"noise_max - noise_min ({self.noise_max - self.noise_min:g}), or no two "
                "levels are compared"
            )

    def schedule(self) -> np.ndarray:
        """The ε levels, (noise_levels,)."""
        return np.linspace(self.noise_min, self.noise_max, self.noise_levels)


def noise_rollouts(
    env: str | EnvFactory,
    policy: Policy,
    action_space: gym.Space,
    levels: Sequence[float],
    per_level: int,
    seed: int = 0,
) -> list[Trajectory]:
    """`per_level` episodes of `policy` at each ε in `levels`, each marked with
    `meta["noise"] = ε`; level k's episodes start from seeds NOISE_SEED + k·per_level, ..."""
    out: list[Trajectory] = []
    for k, eps in enumerate(levels):
        noise_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
        # ε-greedy, as D-REX: with probability ε a uniform action, per step and episode
        noisy = NoisyPolicy(policy, action_space, float(eps), kind="random", seed=noise_seed)
        trajs = rollout(env, noisy, per_level, seed=NOISE_SEED + k * per_level)
        out += [replace(t, meta={**t.meta, "noise": float(eps)}) for t in trajs]
    return out


def rank_by_noise(
    demos: Sequence[Trajectory], env: str | EnvFactory, spaces: Spaces, cfg: DRexConfig
) -> RankedEpisodes:
    """D-REX's automatic ranking: BC on `demos`, its noisy rollouts, scored by -ε; the
    facts hold the mean true return at each level (the degradation curve) where the env
    pays rewards."""
    bc = train_bc(flatten_trajectories(list(demos)), spaces, cfg.bc, env=env)
    levels = [float(e) for e in cfg.schedule()]
    trajs = noise_rollouts(env, bc.policy, spaces.action, levels, cfg.rollouts_per_level, cfg.seed)
    returns = np.array([t.episode_return for t in trajs]).reshape(len(levels), -1)
    facts: dict[str, Any] = {
        "ranked_by": "noise",
        "bc_epochs": len(bc.history),
        "noise_levels": levels,
    }
    if np.all(np.isfinite(returns)):
        facts["noise_return_means"] = [float(r) for r in returns.mean(1)]
    scores = -np.array([t.meta["noise"] for t in trajs])
    return RankedEpisodes(trajs, scores, cfg.min_noise_gap, facts)


def train_d_rex(
    demos: Sequence[Trajectory],
    spaces: Spaces | None,
    cfg: DRexConfig = DRexConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> RankingResult:
    """Rank BC's noisy rollouts by noise, learn a reward from that, then a policy on it.

    demos: the demonstrations (whole episodes, no rewards or ranking needed).
    spaces: the env's, or None to take them from `env` (required: the clone and the
        learner act in it). Callbacks, checkpoint and checkpoint_every as in
        `loop.train_ranked`; a resumed run does not clone or roll out again.

    Raises:
        DatasetError: the demonstrations hold no step to clone.
    """
    episodes = list(demos)
    if sum(len(t) for t in episodes) == 0:
        raise DatasetError("D-REX clones the demonstrations first, and they hold no steps")
    if env is None:  # the loop checks it too; the rollouts need it first
        raise ConfigError("D-REX rolls out a cloned policy in the environment: pass env=")
    rollout_env = env
    return train_ranked(
        lambda s: rank_by_noise(episodes, rollout_env, s, cfg),
        spaces,
        cfg,
        callbacks,
        env=env,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )

"""The settings T-REX and D-REX share (`RankingConfig`): the reward fit and the learner.

Each algorithm's config subclasses it with its own fields; the loop reads only these.
Checked when built, so a bad setting fails before a run directory is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protege.algorithms.ranking.bradley_terry import TRANSFORMS, BradleyTerryConfig
from protege.config import check_fields
from protege.errors import ConfigError
from protege.rl import ALGOS, check_learner_kwargs


@dataclass(frozen=True)
class RankingConfig:
    """Settings every ranking algorithm shares: a Bradley–Terry reward fitted to ranked
    snippets, then an SB3 learner trained on it.

    reward: the Bradley–Terry reward fit (BradleyTerryConfig), set as reward.KEY: pairs,
        snippet_min, snippet_max, epochs, batch_size, lr, weight_decay, hidden,
        state_only, ensemble, val_fraction; e.g. --set reward.pairs=5000.
    reward_transform: what the learner is paid (and the run saves as its reward), z being
        the ensemble's mean of its members standardised on the ranked episodes' steps:
        "standardize" (z), "positive" (z - min z: every step seen pays, so staying alive
        does; tasks that end on failure), "negative" (z - max z: every step costs, so
        finishing sooner pays; tasks that end on success), "sigmoid" (sigmoid(z), T-REX's
        form for Atari), "absorbing" (each member over its root mean square, the level kept: 0 is
        what an ended episode pays; for preferences whose segments run past a terminal
        step), "raw" (the members' mean as fitted), or "auto": "positive" when
        the better-ranked episodes are the longer ones (Kendall's τ of length and rank
        >= 0.3), "negative" when they are the shorter ones (τ <= -0.3), else
        "standardize". Equal-length snippets cannot tell whether ending an episode is good
        or bad; the episodes' lengths can.
    steps: learner env steps in all (a run stops sooner once `target_return` is reached).
    learner: "ppo" (on-policy), "sac" (Box actions) or "dqn" (Discrete actions).
    n_envs: parallel envs for PPO; off-policy learners step one env.
    learner_kwargs: SB3 settings over protege's defaults (`protege.rl.LEARNER_DEFAULTS`).
    log_every: env steps between progress rows (at a PPO rollout's end: at least this many).
    eval_every: env steps between deterministic evaluations on the env's true reward (0:
        never); the best one's policy is saved beside the final one (policy_best.zip).
    eval_episodes: episodes per evaluation (seeds 20000, 20001, ...).
    target_return: stop once an evaluation's mean return reaches it (None: never).
    seed: seeds the pairs, the reward nets, the learner and its envs.
    device: "cpu", "cuda" or "auto" (the reward nets and the learner).
    """

    reward: BradleyTerryConfig = field(default_factory=BradleyTerryConfig)
    reward_transform: str = "auto"
    steps: int = 100_000
    learner: str = "ppo"
    n_envs: int = 8
    learner_kwargs: dict[str, Any] = field(default_factory=dict)
    log_every: int = 2048
    eval_every: int = 10_000
    eval_episodes: int = 10
    target_return: float | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.learner not in ALGOS:
            raise ConfigError(f"learner {self.learner!r}: choose one of {', '.join(ALGOS)}")
        if self.reward_transform not in ("auto", *TRANSFORMS):
            raise ConfigError(
                f"reward_transform {self.reward_transform!r}: choose one of auto, "
                f"{', '.join(TRANSFORMS)}"
            )
        if self.learner_kwargs:  # before a run directory is made, not when the learner is
            check_learner_kwargs(self.learner, self.learner_kwargs)

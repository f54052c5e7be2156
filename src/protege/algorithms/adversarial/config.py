"""The settings GAIL, AIRL and guided cost learning share (`AdversarialConfig`).

Each algorithm's config subclasses it with its own fields and tuned defaults; the loop,
the adversary and the learner read only these. Checked when built, so a bad setting fails
before a run directory is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from protege.config import check_fields
from protege.errors import ConfigError
from protege.rl import ALGOS, check_learner_kwargs


@dataclass(frozen=True)
class AdversarialConfig:
    """Settings every adversarial algorithm shares. Each algorithm's config subclasses it
    with defaults tuned on CartPole-v1 (PPO) and Pendulum-v1 (SAC).

    steps: learner env steps in all (a run stops sooner once `target_return` is reached).
    learner: "ppo" (on-policy), "sac" (Box actions) or "dqn" (Discrete actions).
    n_envs: parallel envs for PPO; off-policy learners step one env.
    learner_kwargs: SB3 settings over protege's defaults (`protege.rl.LEARNER_DEFAULTS`).
    demo_batch_size: expert transitions per discriminator minibatch (learner: as many).
    disc_updates: discriminator Adam steps per round.
    disc_every: env steps between rounds for off-policy learners (PPO: every rollout).
    disc_lr: discriminator learning rate.
    disc_hidden: hidden sizes of the reward MLPs.
    normalize_obs: the reward MLPs (and AIRL's potential) standardise Box observations by
        the expert demonstrations' mean and standard deviation, kept in their weights (and
        so in reward.pt2): "on", "off", or "auto" (on for MuJoCo env ids, whose positions,
        velocities and forces differ in scale by orders of magnitude). The SB3 learner's
        own policy is SB3's, not protege's, and is not normalised by this setting.
    grad_penalty: weight of the gradient penalty on expert/learner interpolates (Gulrajani
        et al. 2017, as DAC uses it); 0 disables it.
    normalize_reward: divide the learner's reward by its running standard deviation (the
        sign is kept, so a survival bonus stays a bonus).
    learner_window: the discriminator's learner samples come from the latest this-many
        transitions; 0: the latest round (on-policy) or 10 rounds (off-policy).
    absorbing: the reward sees whether s' is terminal, so ending an episode gets a learned
        reward of its own (Kostrikov et al. 2019's absorbing-state treatment, as an input).
    eval_every: env steps between deterministic evaluations (0: never).
    eval_episodes: episodes per evaluation (seeds 20000, 20001, ...).
    target_return: stop once an evaluation's mean return reaches it (None: never).
    seed: seeds the learner, the discriminator and the envs.
    device: "cpu", "cuda" or "auto".
    """

    steps: int = 100_000
    learner: str = "ppo"
    n_envs: int = 8
    learner_kwargs: dict[str, Any] = field(default_factory=dict)
    demo_batch_size: int = 256
    disc_updates: int = 4
    disc_every: int = 256
    disc_lr: float = 1e-3
    disc_hidden: tuple[int, ...] = (64, 64)
    normalize_obs: Literal["auto", "on", "off"] = "auto"
    grad_penalty: float = 0.0
    normalize_reward: bool = True
    learner_window: int = 0
    absorbing: bool = False
    eval_every: int = 0
    eval_episodes: int = 10
    target_return: float | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.learner not in ALGOS:
            raise ConfigError(f"learner {self.learner!r}: choose one of {', '.join(ALGOS)}")
        for name in ("steps", "n_envs", "demo_batch_size", "disc_updates", "disc_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.grad_penalty < 0 or self.learner_window < 0 or self.eval_every < 0:
            raise ConfigError("grad_penalty, learner_window and eval_every must be >= 0")
        if self.learner_kwargs:  # before a run directory is made, not when the learner is
            check_learner_kwargs(self.learner, self.learner_kwargs)

"""Noise injected into a demonstrator's actions: graded, mixed-quality demonstrations.

`NoisyPolicy` wraps any batched policy: with ε = 0 it is the policy, with ε = 1 it acts at
random (or, for Box actions with Gaussian noise, with noise as wide as the action range).
A series of ε gives a series of datasets ranked by quality without a person ranking them,
what D-REX learns a reward from and what filtered BC filters.

Paper: Brown, Goo & Niekum (2019), "Better-than-Demonstrator Imitation Learning via
Automatically-Ranked Demonstrations" (D-REX): ε-greedy noise on a BC policy ranks its
rollouts by ε.

Reproducible per episode: the noise of episode e is drawn from its own generator, seeded by
(`seed` + e), whichever sub-env of a vectorised rollout runs it (`rollout` says which episode
each sub-env starts through `start_episode`), so a noisy collect repeats exactly for any
number of parallel envs, as a noiseless one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import gymnasium as gym
import numpy as np

from protege.data.types import Obs
from protege.errors import ConfigError

NoiseKind = Literal["gaussian", "random", "bias"]
NOISE_KINDS: tuple[NoiseKind, ...] = ("gaussian", "random", "bias")
"""gaussian: add N(0, (ε · half-range)²) to a Box action, then clip (Box only).
random: with probability ε, a uniform random action instead of the policy's.
bias: add ε · half-range to every element of a Box action, then clip (Box only): the same
offset at every step of every episode, a systematic mistake (a miscalibrated actuator, a
person who always over-steers) that a learner cloning the demonstrations copies, where it
averages zero-mean noise away."""

DISCRETE_SPACES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
"""Action spaces whose noise is ε-random actions."""

NOISE_STREAM = 0x6E6F697365
"""Mixed into every noise seed, so that the noise of episode e is not the same random stream
as its env's `reset(seed=seed + e)`."""


def check_noise_level(eps: float, what: str = "--noise") -> float:
    """`eps` as a float in [0, 1], or a one-line ConfigError naming `what`."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number in [0, 1], not {eps!r}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise ConfigError(
            f"{what} must lie in [0, 1] (the share of random actions, or the Gaussian noise "
            f"as a fraction of the action range), not {eps}"
        )
    return value


def parse_noise_schedule(text: str) -> list[float]:
    """'0,0.25,0.5' -> [0.0, 0.25, 0.5]: noise levels, each in [0, 1], no repeats.

    Raises:
        ConfigError: an empty, unparsable or out-of-range schedule, in one line.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise ConfigError("--noise-schedule is empty; give noise levels such as 0,0.25,0.5,1")
    levels = []
    for part in parts:
        try:
            levels.append(float(part))
        except ValueError:
            raise ConfigError(
                f"--noise-schedule '{text}': '{part}' is not a number; give comma-separated "
                "noise levels in [0, 1], such as 0,0.25,0.5,1"
            ) from None
    for level in levels:
        check_noise_level(level, f"every level of --noise-schedule '{text}'")
    if len(set(levels)) != len(levels):
        raise ConfigError(f"--noise-schedule '{text}' repeats a level; give each level once")
    return levels


def default_kind(space: gym.Space) -> NoiseKind:
    """Gaussian for Box actions, ε-random for the discrete spaces."""
    return "gaussian" if isinstance(space, gym.spaces.Box) else "random"


class NoisyPolicy:
    """A batched policy whose actions are perturbed with noise of level ε, seeded per episode.

    policy: the batched policy to perturb, observations (B, ...) -> actions (B, *act_shape).
    action_space: its action space: Discrete, MultiDiscrete or MultiBinary (with probability
        eps a uniform random action), or Box with finite bounds.
    eps: the noise level in [0, 1].
    kind: for Box, "gaussian" (add N(0, (eps * (high - low) / 2)²) per element, then clip),
        "random" (with probability eps, a uniform action) or "bias" (add eps * (high - low)
        / 2, the same at every step, then clip); discrete spaces take "random" only. None:
        the space's default (`default_kind`).
    seed: episode e's noise comes from a generator seeded by (seed + e, `NOISE_STREAM`).

    `rollout` calls `start_episode(slot, episode)` whenever sub-env `slot` starts episode
    `episode`; called outside a rollout, row i of every batch is episode i.
    """

    def __init__(
        self,
        policy: object,
        action_space: gym.Space,
        eps: float,
        kind: str | None = None,
        seed: int = 0,
    ) -> None:
        if not callable(policy):
            raise TypeError(f"policy must be callable, got {type(policy).__name__}")
        self.policy = policy
        self.space = action_space
        self.eps = check_noise_level(eps, "the noise level")
        self.kind = _check_kind(action_space, kind)
        self.seed = int(seed)
        self._rngs: dict[int, np.random.Generator] = {}

    def start_episode(self, slot: int, episode: int) -> None:
        """Row `slot` of the next batches belongs to `episode`: draw its noise from there."""
        self._rngs[slot] = np.random.default_rng([self.seed + episode, NOISE_STREAM])

    def __call__(self, obs: Obs) -> np.ndarray:
        """The policy's actions for `obs`, each row perturbed with its own episode's noise."""
        acts = np.array(self.policy(obs), copy=True)
        for i in range(len(acts)):
            if i not in self._rngs:
                self.start_episode(i, i)
            acts[i] = self._perturb(acts[i], self._rngs[i])
        return acts

    def _perturb(self, act: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One action with noise; draws the same numbers whatever ε is (streams stay aligned)."""
        space = self.space
        if isinstance(space, gym.spaces.Box) and self.kind in ("gaussian", "bias"):
            half = (space.high.astype(np.float64) - space.low.astype(np.float64)) / 2
            z = rng.standard_normal(space.shape)  # drawn for bias too: streams stay aligned
            step = self.eps * half if self.kind == "bias" else self.eps * half * z
            noisy = np.asarray(act, np.float64) + step
            if np.dtype(space.dtype).kind in "iu":
                noisy = np.round(noisy)
            return np.clip(noisy, space.low, space.high).astype(space.dtype)
        take_random = rng.random() < self.eps
        random = _uniform(space, rng)
        return random if take_random else act


def _check_kind(space: gym.Space, given: str | None) -> NoiseKind:
    """The kind of noise for `space` (its default for None), or a one-line ConfigError."""
    if given is not None and given not in NOISE_KINDS:
        raise ConfigError(f"--noise-kind must be gaussian, random or bias, not {given!r}")
    kind = default_kind(space) if given is None else NOISE_KINDS[NOISE_KINDS.index(given)]
    if isinstance(space, gym.spaces.Box):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ConfigError(
                f"noise needs an action space with finite bounds, but it is {space}; wrap the "
                "env so that its actions are bounded (e.g. gymnasium.wrappers.ClipAction)"
            )
        return kind
    if not isinstance(space, DISCRETE_SPACES):
        raise ConfigError(
            f"noise applies to Box, Discrete, MultiDiscrete and MultiBinary actions, not {space}"
        )
    if kind in ("gaussian", "bias"):
        raise ConfigError(
            f"{kind} noise needs Box actions, but they are {space}; use --noise-kind random "
            "(the default there: a uniform random action with probability ε)"
        )
    return kind


def _uniform(space: gym.Space, rng: np.random.Generator) -> np.ndarray:
    """A uniform random action of `space` from `rng` (not the space's own generator)."""
    if isinstance(space, gym.spaces.Discrete):
        return np.asarray(space.start + rng.integers(space.n), dtype=space.dtype)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return (space.start + rng.integers(0, space.nvec)).astype(space.dtype)
    if isinstance(space, gym.spaces.MultiBinary):
        return rng.integers(0, 2, space.shape).astype(space.dtype)
    assert isinstance(space, gym.spaces.Box)
    if np.dtype(space.dtype).kind in "iu":
        return rng.integers(space.low, space.high.astype(np.int64) + 1).astype(space.dtype)
    return rng.uniform(space.low, space.high).astype(space.dtype)


def noise_levels(noise: float | Sequence[float] | None) -> list[float | None]:
    """The levels a collect records: [None] without noise, else each level checked."""
    if noise is None:
        return [None]
    levels = [noise] if isinstance(noise, int | float) else list(noise)
    if not levels:
        raise ConfigError("give at least one noise level")
    return [check_noise_level(level) for level in levels]

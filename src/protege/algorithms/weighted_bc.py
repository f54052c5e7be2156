"""Weighted behavioral cloning: clone every step of mixed-quality demonstrations, each
weighted by how good it was.

Filtered BC keeps the best episodes and drops the rest; weighted BC keeps them all and
lets the weights decide. Two weightings:

- `return`: a step weighs as its episode's return, exp((R - max R) / temperature) with R
  rescaled to the dataset's return range [0, 1] (the soft version of %BC's cut: the best
  episode weighs 1, one a whole range worse e^(-1/temperature)).
- `advantage`: a step weighs as its own advantage, exp(A / temperature) clipped at
  `max_weight` (advantage-weighted regression, AWR; Peng et al. 2019, "Advantage-Weighted
  Regression: Simple and Scalable Off-Policy Reinforcement Learning"). A value net V(s) is
  fitted to the discounted returns-to-go of the data and A = G - V(s), in units of its
  standard deviation: good actions in a bad episode count, bad ones in a good episode do
  not.

Either way the weights are normalised to mean 1 and the fit is `train_bc` with a weight
per step (so BC's loss, early stopping and checkpoints are the same). Both need rewards in
the demonstrations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from protege.algorithms.bc import BCConfig, BCResult, bc_hidden, train_bc
from protege.algorithms.filtered_bc import episode_bounds
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.config import check_fields
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError, DatasetError
from protege.nets import (
    TensorObs,
    encoder_dim,
    fit_normalizers,
    index_tensor_obs,
    make_encoder,
    mlp,
    normalizes,
    obs_to_tensor,
    resolve_device,
)

WEIGHTINGS = ("return", "advantage")
TARGET_EVERY = 10
"""Value epochs between recomputing its targets: a truncated episode's tail is
bootstrapped with the value net's own estimate V(s'), which improves as it is fitted."""


@dataclass(frozen=True)
class WeightedBCConfig:
    """Weighted BC settings.

    weighting: "return" (each step weighs as its episode's return) or "advantage" (as its
        own advantage over a fitted value, AWR).
    temperature: how sharply the weights favour the best: "return" divides the episode's
        return, rescaled to the dataset's range [0, 1], by it (0.1: an episode a whole
        range below the best weighs e^-10 of it); "advantage" divides the advantage, in
        units of its standard deviation, by it (AWR's β). Larger is closer to plain BC.
    max_weight: "advantage": the largest weight of a step before the weights are
        normalised to mean 1 (AWR clips at 20), so a few lucky steps cannot take over.
    gamma: "advantage": discount of the returns-to-go the value net is fitted to.
    value_epochs: "advantage": passes of the value net's fit over the data (its net has
        bc.hidden layers and is trained with bc.lr, bc.batch_size and bc.seed).
    bc: the behavioral-cloning settings of the weighted fit (see BCConfig).
    """

    weighting: str = "return"
    temperature: float = 0.1
    max_weight: float = 20.0
    gamma: float = 0.99
    value_epochs: int = 50
    bc: BCConfig = field(default_factory=BCConfig)

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(
                f"weighting must be one of {', '.join(WEIGHTINGS)}, not {self.weighting!r}"
            )
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be greater than 0, not {self.temperature}")
        if self.max_weight < 1:
            raise ConfigError(f"max_weight must be at least 1, not {self.max_weight}")
        if self.value_epochs < 1:
            raise ConfigError(f"value_epochs must be at least 1, not {self.value_epochs}")


def _rewards(demos: Transitions) -> np.ndarray:
    if demos.rews is None or not np.all(np.isfinite(demos.rews)):
        raise DatasetError(
            "weighted BC weighs steps by return, but the demonstrations carry no rewards; "
            "record them with rewards (protege collect does) or use plain bc"
        )
    return np.asarray(demos.rews, dtype=np.float64)


def return_weights(demos: Transitions, temperature: float) -> np.ndarray:
    """(N,) weights, mean 1: each step's exp((R - max R) / temperature), R its episode's
    return rescaled to the dataset's return range (all 1 when every episode scores alike).

    Raises:
        DatasetError: the demonstrations carry no rewards.
    """
    rews = _rewards(demos)
    bounds = episode_bounds(demos)
    returns = np.array([rews[a:b].sum() for a, b in bounds])
    spread = returns.max() - returns.min()
    scaled = (returns - returns.min()) / spread if spread > 0 else np.ones_like(returns)
    per_episode = np.exp((scaled - 1.0) / temperature)
    weights = np.repeat(per_episode, [b - a for a, b in bounds])
    return weights / weights.mean()


def returns_to_go(demos: Transitions, gamma: float, tail: np.ndarray | None = None) -> np.ndarray:
    """(N,) discounted returns-to-go G_t = r_t + γ G_{t+1} within each episode.

    tail: (N,) the value of each step's next state, added (discounted) after the last step
        of an episode that was truncated rather than terminated; None adds nothing.
    """
    rews = _rewards(demos)
    out = np.zeros(len(rews))
    for a, b in episode_bounds(demos):
        g = 0.0
        if tail is not None and not demos.terminated[b - 1]:
            g = float(tail[b - 1])
        for t in range(b - 1, a - 1, -1):
            g = rews[t] + gamma * g
            out[t] = g
    return out


def fit_value(
    demos: Transitions, spaces: Spaces, cfg: WeightedBCConfig, env: str | EnvFactory | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fit V(s) to the data's discounted returns-to-go; return (G, V(s)), both (N,).

    The targets are recomputed every `TARGET_EVERY` epochs, bootstrapping truncated
    episodes with the current V(s'), so a cut episode's last steps are not undervalued.
    Observations are standardised as BC's are (`cfg.bc.normalize_obs`, for `env`).
    """
    bc = cfg.bc
    device = resolve_device(bc.device)
    torch.manual_seed(bc.seed)
    gen = torch.Generator().manual_seed(bc.seed)
    encoder = make_encoder(spaces.observation, normalize=normalizes(bc.normalize_obs, env))
    hidden = bc_hidden(bc, env)
    net = torch.nn.Sequential(encoder, mlp(encoder_dim(encoder), hidden, 1)).to(device)
    obs = obs_to_tensor(demos.obs, spaces.observation, device)
    next_obs = obs_to_tensor(demos.next_obs, spaces.observation, device)
    fit_normalizers(encoder, obs)  # a no-op unless normalising
    opt = torch.optim.Adam(net.parameters(), lr=bc.lr)

    def values(x: TensorObs) -> np.ndarray:
        with torch.no_grad():
            return net(x).squeeze(-1).double().cpu().numpy()

    n = len(demos)
    g = returns_to_go(demos, cfg.gamma)
    scale = float(np.std(g)) or 1.0  # fit in units of the returns' spread, any reward scale
    for epoch in range(cfg.value_epochs):
        if epoch and epoch % TARGET_EVERY == 0:
            g = returns_to_go(demos, cfg.gamma, tail=values(next_obs) * scale)
        target = torch.as_tensor(g / scale, dtype=torch.float32, device=device)
        order = torch.randperm(n, generator=gen).to(device)
        for b in range(0, n, bc.batch_size):
            idx = order[b : b + bc.batch_size]
            loss = (net(index_tensor_obs(obs, idx)).squeeze(-1) - target[idx]).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return g, values(obs) * scale


def advantage_weights(
    demos: Transitions, spaces: Spaces, cfg: WeightedBCConfig, env: str | EnvFactory | None = None
) -> np.ndarray:
    """(N,) weights, mean 1: each step's exp(A / temperature), A = G - V(s) in units of its
    standard deviation, clipped at `cfg.max_weight` before normalising (AWR).

    Raises:
        DatasetError: the demonstrations carry no rewards.
    """
    g, v = fit_value(demos, spaces, cfg, env)
    adv = g - v
    adv = adv / (adv.std() + 1e-8)
    weights = np.exp(np.minimum(adv / cfg.temperature, math.log(cfg.max_weight)))
    return weights / weights.mean()


def step_weights(
    demos: Transitions, spaces: Spaces, cfg: WeightedBCConfig, env: str | EnvFactory | None = None
) -> np.ndarray:
    """(N,) the weight of each demonstration step under `cfg.weighting`, mean 1."""
    if cfg.weighting == "return":
        return return_weights(demos, cfg.temperature)
    return advantage_weights(demos, spaces, cfg, env)


def train_weighted_bc(
    demos: Transitions,
    spaces: Spaces,
    cfg: WeightedBCConfig = WeightedBCConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> BCResult:
    """Behavioral cloning with each step's loss weighted by its return or advantage.

    `env` only says whether "auto" normalises observations (nothing is rolled out);
    `checkpoint` resumes the BC fit (the weights are recomputed first, the same for the
    same data and seed).

    Raises:
        DatasetError: the demonstrations carry no rewards.
    """
    weights = step_weights(demos, spaces, cfg, env)
    return train_bc(demos, spaces, cfg.bc, callbacks, env=env, checkpoint=checkpoint,
                    checkpoint_every=checkpoint_every, weights=weights)  # fmt: skip

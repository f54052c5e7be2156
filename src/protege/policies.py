"""Policies learned by protege: an observation encoder, an MLP trunk and an action head.

Discrete actions get a categorical head; Box actions a tanh-squashed Gaussian whose mean
action is always inside the bounds (or a deterministic tanh head for an MSE loss).
A policy saves to one `.pt` file holding its spaces and settings, so it reloads without
the code or data that trained it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from minari.serialization import deserialize_space, serialize_space
from torch import nn

from protege.data.types import Obs
from protege.envs import Spaces
from protege.errors import ConfigError, RunDirError
from protege.nets import TensorObs, encoder_dim, make_encoder, mlp, obs_to_tensor
from protege.rundir import atomic_write

LOG_STD_MIN, LOG_STD_MAX = -2.5, 2.0
_EPS = 1e-6
_CLAMP = 1e-6  # keeps atanh finite for expert actions exactly at the bounds


@dataclass(frozen=True)
class PolicyArch:
    """Network shape: MLP hidden sizes after the encoder, CNN feature width for images."""

    hidden: tuple[int, ...] = (256, 256)
    cnn_features: int = 256
    head: str = "gaussian"  # Box actions only: "gaussian" (tanh-squashed) or "deterministic"


@dataclass
class ActionDist:
    """What a policy head returns for a batch: enough to score expert actions and act."""

    log_prob: torch.Tensor | None = None  # filled by `score`
    entropy: torch.Tensor | None = None
    mode: torch.Tensor = field(default_factory=lambda: torch.empty(0))


class ActorPolicy(nn.Module):
    """obs -> action distribution; call it on NumPy batches to act (deterministically)."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, spaces: Spaces, arch: PolicyArch = PolicyArch()) -> None:
        super().__init__()
        self.spaces, self.arch = spaces, arch
        act = spaces.action
        self.encoder = make_encoder(spaces.observation, arch.cnn_features)
        if isinstance(act, gym.spaces.Discrete):
            out = int(act.n)
        elif isinstance(act, gym.spaces.Box):
            if not (np.all(np.isfinite(act.low)) and np.all(np.isfinite(act.high))):
                raise ConfigError("Box action spaces must be bounded to be kept in bounds")
            self.act_dim = int(np.prod(act.shape))
            out = self.act_dim * (2 if arch.head == "gaussian" else 1)
            self.register_buffer("low", torch.as_tensor(act.low, dtype=torch.float32).flatten())
            self.register_buffer("high", torch.as_tensor(act.high, dtype=torch.float32).flatten())
        else:
            raise ConfigError(f"action space {act} is not supported (Discrete or bounded Box)")
        if arch.head not in ("gaussian", "deterministic"):
            raise ConfigError(f"policy head '{arch.head}' unknown; use gaussian or deterministic")
        self.trunk = mlp(encoder_dim(self.encoder), arch.hidden, out)
        self.discrete = isinstance(act, gym.spaces.Discrete)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- maths -------------------------------------------------------------------------
    def _to_unit(self, acts: torch.Tensor) -> torch.Tensor:
        """Box actions -> [-1, 1]."""
        return 2.0 * (acts - self.low) / (self.high - self.low) - 1.0

    def _from_unit(self, u: torch.Tensor) -> torch.Tensor:
        return self.low + (u + 1.0) * 0.5 * (self.high - self.low)

    def dist(self, obs: TensorObs, acts: torch.Tensor | None = None) -> ActionDist:
        """The action distribution on `obs`; with `acts`, also their log-likelihood."""
        out = self.trunk(self.encoder(obs))
        if self.discrete:
            logp_all = torch.log_softmax(out, dim=-1)
            d = ActionDist(mode=out.argmax(dim=-1))
            d.entropy = -(logp_all.exp() * logp_all).sum(-1)
            if acts is not None:
                d.log_prob = logp_all.gather(1, acts.long().view(-1, 1)).squeeze(1)
            return d
        if self.arch.head == "deterministic":
            return ActionDist(mode=self._from_unit(torch.tanh(out)))
        mu, log_std = out.chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        d = ActionDist(mode=self._from_unit(torch.tanh(mu)))
        d.entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)  # pre-squash
        if acts is not None:
            u = self._to_unit(acts.view(len(acts), -1)).clamp(-1 + _CLAMP, 1 - _CLAMP)
            pre = torch.atanh(u)
            normal = torch.distributions.Normal(mu, log_std.exp())
            # change of variables through tanh (and the fixed affine map to the bounds)
            d.log_prob = (normal.log_prob(pre) - torch.log(1 - u.pow(2) + _EPS)).sum(-1)
        return d

    # -- acting ------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, obs: Obs) -> np.ndarray:
        """Deterministic (mode) actions for a NumPy batch, shaped for the action space."""
        mode = self.dist(obs_to_tensor(obs, self.spaces.observation, self.device)).mode
        acts = mode.cpu().numpy()
        if self.discrete:
            return acts.astype(np.int64)
        space = self.spaces.action
        return acts.reshape(len(acts), *space.shape).astype(space.dtype)  # type: ignore[misc]

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights, spaces and architecture to one file, atomically."""
        payload = {
            "format": "protege.policy/1",
            "spaces": json.dumps(
                {
                    "observation": serialize_space(self.spaces.observation),
                    "action": serialize_space(self.spaces.action),
                }
            ),
            "arch": json.dumps(asdict(self.arch)),
            "state_dict": {k: v.cpu() for k, v in self.state_dict().items()},
        }
        atomic_write(Path(path), lambda f: torch.save(payload, f))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> ActorPolicy:
        """Rebuild a saved policy (weights only: no code is unpickled)."""
        path = Path(path)
        if not path.is_file():
            raise RunDirError(f"{path}: no policy file here; train one with `protege train`")
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
            spaces_json = json.loads(payload["spaces"])
            spaces = Spaces(
                deserialize_space(spaces_json["observation"]),
                deserialize_space(spaces_json["action"]),
            )
            arch_d = json.loads(payload["arch"])
            arch = PolicyArch(**{**arch_d, "hidden": tuple(arch_d["hidden"])})
        except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
            raise RunDirError(f"{path}: not a readable protege policy ({exc})") from None
        policy = cls(spaces, arch).to(device)
        policy.load_state_dict(payload["state_dict"])
        policy.eval()
        return policy

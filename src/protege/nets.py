"""Network builders: an observation encoder for any supported space, and MLPs.

Observations become tensors through SB3's `preprocess_obs` (one-hot for Discrete and
MultiDiscrete, /255 for uint8 images); images are encoded by a small CNN that accepts
any size and either channel order, vectors by flattening, Dict spaces key by key.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, preprocess_obs
from torch import nn

from protege.data.types import Obs
from protege.envs import is_image_space
from protege.errors import ConfigError

TensorObs = torch.Tensor | dict[str, torch.Tensor]
"""An observation batch as tensors: one tensor (N, *shape), or a dict of them (Dict spaces)."""


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, activation: type[nn.Module] = nn.ReLU
) -> nn.Sequential:
    """A plain MLP: Linear-activation blocks, then a final Linear to `out_dim`."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), activation()]
        in_dim = h
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def _channels_last(space: gym.spaces.Box) -> bool:
    """Images whose last axis is small (1-4 channels) and first is not are (H, W, C)."""
    return space.shape[-1] <= 4 and space.shape[0] > 4


class ImageEncoder(nn.Module):
    """Three stride-2 3x3 convolutions and a linear layer; works for any image size."""

    def __init__(self, space: gym.spaces.Box, features_dim: int = 256) -> None:
        super().__init__()
        self.channels_last = _channels_last(space)
        c = space.shape[-1] if self.channels_last else space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(c, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            dummy = torch.zeros((1, *space.shape))
            n_flat = self.cnn(self._to_nchw(dummy)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flat, features_dim), nn.ReLU())
        self.features_dim = features_dim

    def _to_nchw(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2) if self.channels_last else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(self._to_nchw(x)))


class FlattenEncoder(nn.Module):
    """Flattens a (preprocessed) vector, one-hot or MultiDiscrete observation."""

    def __init__(self, space: gym.Space) -> None:
        super().__init__()
        self.features_dim = int(get_flattened_obs_dim(space))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(start_dim=1)


class DictEncoder(nn.Module):
    """Encodes each key of a Dict observation and concatenates the features."""

    def __init__(self, space: gym.spaces.Dict, cnn_features: int = 256) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(
            {k: make_encoder(sub, cnn_features) for k, sub in space.spaces.items()}
        )
        self.features_dim = sum(encoder_dim(e) for e in self.encoders.values())

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([enc(x[k]) for k, enc in self.encoders.items()], dim=1)


def encoder_dim(encoder: nn.Module) -> int:
    """Output width of an encoder built by `make_encoder`."""
    return int(encoder.features_dim)  # type: ignore[arg-type]


def make_encoder(space: gym.Space, cnn_features: int = 256) -> nn.Module:
    """The encoder for `space`; its `features_dim` attribute is the output width."""
    if isinstance(space, gym.spaces.Dict):
        if any(isinstance(s, gym.spaces.Dict) for s in space.spaces.values()):
            raise ConfigError("nested Dict observation spaces are not supported; flatten the keys")
        return DictEncoder(space, cnn_features)
    if is_image_space(space):
        return ImageEncoder(space, cnn_features)  # type: ignore[arg-type]
    if isinstance(space, gym.spaces.Box | gym.spaces.Discrete | gym.spaces.MultiDiscrete):
        return FlattenEncoder(space)
    raise ConfigError(
        f"observation space {space} is not supported (Box, Discrete, MultiDiscrete, Dict)"
    )


def obs_to_tensor(obs: Obs, space: gym.Space, device: torch.device | str = "cpu") -> TensorObs:
    """NumPy observations (B, ...) -> preprocessed float tensors on `device`."""
    if isinstance(obs, dict):
        t: TensorObs = {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items()}
    else:
        t = torch.as_tensor(np.asarray(obs), device=device)
    out = preprocess_obs(t, space, normalize_images=True)
    if isinstance(out, dict):
        return {k: v.float() for k, v in out.items()}
    return out.float()


def index_tensor_obs(obs: TensorObs, idx: torch.Tensor) -> TensorObs:
    """Rows `idx` of a tensor observation batch (plain or dict)."""
    if isinstance(obs, dict):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]


def cat_tensor_obs(a: TensorObs, b: TensorObs) -> TensorObs:
    """Two tensor observation batches (plain or dict) as one: `a`'s rows, then `b`'s."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: torch.cat([a[k], b[k]]) for k in a}
    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    return torch.cat([a, b])


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)

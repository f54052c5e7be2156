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
from protege.envs import EnvFactory, is_image_space, is_mujoco
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


class ObsNormalizer(nn.Module):
    """`clip((x - mean) / std, -10, 10)` per feature, with statistics fitted once from the
    demonstrations (`fit`). They are buffers: saved with the net's weights, so a loaded
    policy normalises as in training and needs nothing else. Before `fit` it is the identity.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Take the mean and standard deviation of `x` (N, dim); a constant feature keeps
        std 1 rather than blowing up."""
        x = x.flatten(start_dim=1).float()
        self.mean.copy_(x.mean(0))
        std = x.std(0) if len(x) > 1 else torch.ones_like(self.std)
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).clamp(-10.0, 10.0)


class FlattenEncoder(nn.Module):
    """Flattens a (preprocessed) vector, one-hot or MultiDiscrete observation; with
    `normalize` (Box vectors only), standardises it by the demonstrations' statistics."""

    def __init__(self, space: gym.Space, normalize: bool = False) -> None:
        super().__init__()
        self.features_dim = int(get_flattened_obs_dim(space))
        use = normalize and isinstance(space, gym.spaces.Box)
        self.normalizer = ObsNormalizer(self.features_dim) if use else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(start_dim=1)
        return self.normalizer(x) if self.normalizer is not None else x


class DictEncoder(nn.Module):
    """Encodes each key of a Dict observation and concatenates the features."""

    def __init__(
        self, space: gym.spaces.Dict, cnn_features: int = 256, normalize: bool = False
    ) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(
            {k: make_encoder(sub, cnn_features, normalize) for k, sub in space.spaces.items()}
        )
        self.features_dim = sum(encoder_dim(e) for e in self.encoders.values())

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([enc(x[k]) for k, enc in self.encoders.items()], dim=1)


def encoder_dim(encoder: nn.Module) -> int:
    """Output width of an encoder built by `make_encoder`."""
    return int(encoder.features_dim)  # type: ignore[arg-type]


def make_encoder(space: gym.Space, cnn_features: int = 256, normalize: bool = False) -> nn.Module:
    """The encoder for `space`; its `features_dim` attribute is the output width.

    normalize: standardise Box vector observations (not images, not one-hots) by statistics
        that `fit_normalizers` takes from the demonstrations.
    """
    if isinstance(space, gym.spaces.Dict):
        if any(isinstance(s, gym.spaces.Dict) for s in space.spaces.values()):
            raise ConfigError("nested Dict observation spaces are not supported; flatten the keys")
        return DictEncoder(space, cnn_features, normalize)
    if is_image_space(space):
        return ImageEncoder(space, cnn_features)  # type: ignore[arg-type]
    if isinstance(space, gym.spaces.Box | gym.spaces.Discrete | gym.spaces.MultiDiscrete):
        return FlattenEncoder(space, normalize)
    raise ConfigError(
        f"observation space {space} is not supported (Box, Discrete, MultiDiscrete, Dict)"
    )


def fit_normalizers(encoder: nn.Module, obs: TensorObs) -> None:
    """Fit every `ObsNormalizer` of an encoder from `make_encoder` to a preprocessed batch
    (the demonstrations' observations); an encoder without one is left as it is."""
    if isinstance(encoder, DictEncoder):
        assert isinstance(obs, dict)
        for key, sub in encoder.encoders.items():
            fit_normalizers(sub, obs[key])
    elif isinstance(encoder, FlattenEncoder) and encoder.normalizer is not None:
        assert isinstance(obs, torch.Tensor)
        encoder.normalizer.fit(obs)


def normalizes(setting: str, env: str | EnvFactory | None) -> bool:
    """Whether a `normalize_obs` setting ("auto", "on", "off") is on for `env` (an id, a
    factory, or None: "auto" is on for a MuJoCo id only, whose positions, velocities and
    forces differ in scale by orders of magnitude). Every family's trainer asks it here."""
    if setting != "auto":
        return setting == "on"
    return isinstance(env, str) and is_mujoco(env)


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

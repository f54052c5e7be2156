"""Learned rewards: one network interface, standalone files, and env wrappers that use them.

Every learned reward is a `RewardNet`: `forward(obs, acts, next_obs, dones) -> (B,)` on
batched tensors in the env's own encoding (Discrete actions as integers, images as uint8,
Dict observations as dicts of tensors); the net does its own preprocessing, so the same
inputs work for the exported file. `predict` is the NumPy convenience.

`save_reward(net, run_dir)` writes

    reward.pt2    the network as a `torch.export` program with a dynamic batch axis:
                  loadable by `torch.export.load` alone, without protege's code
    reward.json   the spaces, the input dtypes and shapes, and what the reward means

and `load_reward(run_dir)` reads them back as a `StandaloneReward` that checks its inputs
against the recorded spaces. `RewardVecEnvWrapper` (SB3) and `LearnedRewardWrapper`
(Gymnasium) replace an env's reward by a learned one and keep the true one in
`info["true_reward"]`: the inner loop of adversarial IRL, and reward transfer.

    net = MLPRewardNet(env_spaces("CartPole-v1"), use_action=True)
    save_reward(net, "runs/x")
    reward = load_reward("runs/x")           # or torch.export.load("runs/x/reward.pt2")
    r = reward.predict(obs, acts, next_obs, dones)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from minari.serialization import deserialize_space, serialize_space
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from torch import nn

from protege.data.types import Obs, obs_len, obs_stack
from protege.envs import Spaces
from protege.errors import ConfigError, RunDirError
from protege.nets import (
    ObsNormalizer,
    TensorObs,
    encoder_dim,
    fit_normalizers,
    make_encoder,
    mlp,
)
from protege.rundir import REWARD, atomic_write, write_json_atomic

REWARD_FILE, REWARD_INFO = f"{REWARD}.pt2", f"{REWARD}.json"
FORMAT = "protege.reward/1"

RewardFn = Callable[[Obs, np.ndarray, Obs, np.ndarray], np.ndarray]
"""A NumPy reward: (obs, acts, next_obs, dones) batches -> rewards (B,)."""


def obs_features(obs: TensorObs, space: gym.Space) -> TensorObs:
    """Raw observation tensors -> float tensors (one-hot for Discrete, /255 for images)."""
    out = preprocess_obs(obs, space, normalize_images=True)
    if isinstance(out, dict):
        return {k: v.float() for k, v in out.items()}
    return out.float()


def action_features(acts: torch.Tensor, space: gym.Space) -> torch.Tensor:
    """Actions (B,) or (B, *shape) -> float features (B, d): one-hot for Discrete."""
    if isinstance(space, gym.spaces.Discrete):
        idx = acts.reshape(-1).long() - int(space.start)
        return (idx.unsqueeze(-1) == torch.arange(int(space.n), device=acts.device)).float()
    if isinstance(space, gym.spaces.Box):
        return acts.reshape(acts.shape[0], -1).float()
    raise ConfigError(f"action space {space} is not supported by reward nets (Discrete or Box)")


def action_dim(space: gym.Space) -> int:
    """Width of `action_features` for `space`."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    raise ConfigError(f"action space {space} is not supported by reward nets (Discrete or Box)")


class RewardNet(nn.Module):
    """Base class of learned rewards: r(s, a, s', done) on batched tensors -> (B,).

    Subclasses implement `forward`; `predict` and `save_reward` work for all of them.
    """

    def __init__(self, spaces: Spaces) -> None:
        super().__init__()
        self.spaces = spaces

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def to_tensors(
        self, obs: Obs, acts: np.ndarray, next_obs: Obs, dones: np.ndarray
    ) -> tuple[TensorObs, torch.Tensor, TensorObs, torch.Tensor]:
        """NumPy batches -> tensors on the net's device, in the env's own dtypes."""
        return _to_tensors(self.spaces, obs, acts, next_obs, dones, self.device)

    @torch.no_grad()
    def predict(self, obs: Obs, acts: np.ndarray, next_obs: Obs, dones: np.ndarray) -> np.ndarray:
        """Rewards (B,) as float32 NumPy for NumPy batches."""
        return self(*self.to_tensors(obs, acts, next_obs, dones)).cpu().numpy().astype(np.float32)


class MLPRewardNet(RewardNet):
    """An MLP over the chosen inputs: state, action, next state and the terminal flag.

    use_action=False gives a state-only reward r(s) (AIRL's disentangled form);
    use_next_state and use_done add s' and `done` (1 where s' is terminal).
    normalize: standardise Box observations by statistics `fit_obs_normalizers` takes from
        the demonstrations; they are buffers, so a saved reward file carries them.
    """

    def __init__(
        self,
        spaces: Spaces,
        use_state: bool = True,
        use_action: bool = True,
        use_next_state: bool = False,
        use_done: bool = False,
        hidden: Sequence[int] = (64, 64),
        normalize: bool = False,
    ) -> None:
        super().__init__(spaces)
        if not (use_state or use_action or use_next_state or use_done):
            raise ConfigError("a reward net needs at least one input")
        self.use_state, self.use_action = use_state, use_action
        self.use_next_state, self.use_done = use_next_state, use_done
        self.encoder = make_encoder(spaces.observation, normalize=normalize)
        width = encoder_dim(self.encoder) * (int(use_state) + int(use_next_state))
        width += action_dim(spaces.action) if use_action else 0
        width += int(use_done)
        self.mlp = mlp(width, hidden, 1)

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        if self.use_state:
            parts.append(self.encoder(obs_features(obs, self.spaces.observation)))
        if self.use_action:
            parts.append(action_features(acts, self.spaces.action))
        if self.use_next_state:
            parts.append(self.encoder(obs_features(next_obs, self.spaces.observation)))
        if self.use_done:
            parts.append(dones.reshape(-1, 1).float())
        return self.mlp(torch.cat(parts, dim=1)).squeeze(-1)


class StatePotential(nn.Module):
    """h(s): an MLP potential over states, the shaping term of AIRL; `normalize` as for
    `MLPRewardNet`."""

    def __init__(
        self, space: gym.Space, hidden: Sequence[int] = (64, 64), normalize: bool = False
    ) -> None:
        super().__init__()
        self.space = space
        self.encoder = make_encoder(space, normalize=normalize)
        self.mlp = mlp(encoder_dim(self.encoder), hidden, 1)

    def forward(self, obs: TensorObs) -> torch.Tensor:
        return self.mlp(self.encoder(obs_features(obs, self.space))).squeeze(-1)


class ShapedRewardNet(RewardNet):
    """f(s, a, s') = g(s, a) + γ (1 - done) h(s') - h(s) (Fu et al. 2018, AIRL).

    `base` is g, the reward that transfers; the shaping term absorbs the dynamics. Terminal
    next states have potential 0, so episodes of any length are scored consistently.
    normalize: the potential standardises Box observations (as `MLPRewardNet` does).
    """

    def __init__(
        self,
        base: RewardNet,
        gamma: float = 0.99,
        potential_hidden: Sequence[int] = (64, 64),
        normalize: bool = False,
    ) -> None:
        super().__init__(base.spaces)
        self.base, self.gamma = base, gamma
        self.potential = StatePotential(base.spaces.observation, potential_hidden, normalize)

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        g = self.base(obs, acts, next_obs, dones)
        not_done = 1.0 - dones.reshape(-1).float()
        return g + self.gamma * not_done * self.potential(next_obs) - self.potential(obs)


def fit_obs_normalizers(net: nn.Module, obs: Obs) -> None:
    """Fit the observation statistics of every `MLPRewardNet` and `StatePotential` inside
    `net` (a reward, a discriminator) that was built with `normalize=True` to `obs`, the
    demonstrations' raw observations (N, *shape) or a dict of them; the rest are left as
    they are, so calling it on a net without normalisers changes nothing.
    """
    for module in net.modules():
        if isinstance(module, MLPRewardNet):
            space = module.spaces.observation
        elif isinstance(module, StatePotential):
            space = module.space
        else:
            continue
        if not any(isinstance(m, ObsNormalizer) for m in module.encoder.modules()):
            continue  # nothing to fit: skip converting the observations (images are large)
        device = next(module.parameters()).device
        fit_normalizers(module.encoder, obs_features(_obs_tensor(obs, space, device), space))


# -- inputs ------------------------------------------------------------------------------


def _obs_tensor(obs: Obs, space: gym.Space, device: torch.device | str) -> TensorObs:
    if isinstance(space, gym.spaces.Dict):
        if not isinstance(obs, dict):
            raise ConfigError(f"observations must be a dict with keys {list(space.spaces)}")
        return {k: _obs_tensor(obs[k], sub, device) for k, sub in space.spaces.items()}  # type: ignore[misc]
    arr = np.asarray(obs, dtype=space.dtype)
    shape = space.shape if space.shape is not None else ()
    if arr.shape[1:] != tuple(shape):
        raise ConfigError(
            f"observations have shape {arr.shape[1:]} per row, the reward's space needs "
            f"{tuple(shape)}"
        )
    return torch.as_tensor(arr, device=device)


def _to_tensors(
    spaces: Spaces,
    obs: Obs,
    acts: np.ndarray,
    next_obs: Obs,
    dones: np.ndarray,
    device: torch.device | str = "cpu",
) -> tuple[TensorObs, torch.Tensor, TensorObs, torch.Tensor]:
    n = obs_len(obs)
    act_space = spaces.action
    a: np.ndarray
    if isinstance(act_space, gym.spaces.Discrete):
        a = np.asarray(acts, dtype=np.int64).reshape(n)
    else:
        a = np.asarray(acts, dtype=np.float32).reshape(n, *act_space.shape)  # type: ignore[misc]
    d = np.asarray(dones, dtype=np.float32).reshape(n)
    if obs_len(next_obs) != n:
        raise ConfigError(f"{n} observations but {obs_len(next_obs)} next observations")
    return (
        _obs_tensor(obs, spaces.observation, device),
        torch.as_tensor(a, device=device),
        _obs_tensor(next_obs, spaces.observation, device),
        torch.as_tensor(d, device=device),
    )


def _example(spaces: Spaces, n: int = 2) -> tuple[TensorObs, torch.Tensor, TensorObs, torch.Tensor]:
    rng = np.random.default_rng(0)
    spaces.observation.seed(0)
    spaces.action.seed(0)
    obs = obs_stack([spaces.observation.sample() for _ in range(n)])
    nxt = obs_stack([spaces.observation.sample() for _ in range(n)])
    acts = np.stack([np.asarray(spaces.action.sample()) for _ in range(n)])
    return _to_tensors(spaces, obs, acts, nxt, rng.integers(0, 2, n))


def _dynamic_shapes(spaces: Spaces) -> tuple[Any, ...]:
    batch = torch.export.Dim("batch", min=1)
    if isinstance(spaces.observation, gym.spaces.Dict):
        obs: Any = {k: {0: batch} for k in spaces.observation.spaces}
    else:
        obs = {0: batch}
    return (obs, {0: batch}, obs, {0: batch})


# -- files -------------------------------------------------------------------------------


def save_reward(net: RewardNet, run_dir: str | Path, meaning: str = "", **info: Any) -> Path:
    """Export `net` to `run_dir/reward.pt2` (standalone) and describe it in reward.json."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    was_training, device = net.training, net.device
    net.eval().cpu()
    try:
        program = torch.export.export(
            net, _example(net.spaces), dynamic_shapes=_dynamic_shapes(net.spaces)
        )
        atomic_write(run / REWARD_FILE, lambda f: torch.export.save(program, f))
    finally:
        net.to(device).train(was_training)
    description = {
        "format": FORMAT,
        "file": REWARD_FILE,
        "spaces": {
            "observation": serialize_space(net.spaces.observation),
            "action": serialize_space(net.spaces.action),
        },
        "inputs": (
            "forward(obs, acts, next_obs, dones) on batched tensors: obs/next_obs in the "
            "observation space's dtype (a dict of tensors for Dict spaces), acts int64 (B,) "
            "for Discrete or float32 (B, *shape) for Box, dones float32 (B,) = 1 where "
            "next_obs is terminal; returns float32 (B,)"
        ),
        "load": "torch.export.load('reward.pt2').module()(obs, acts, next_obs, dones)",
        "meaning": meaning,
        "net": type(net).__name__,
        **info,
    }
    write_json_atomic(run / REWARD_INFO, description)
    return run / REWARD_FILE


class StandaloneReward:
    """A saved reward loaded back: call `predict` on NumPy batches (inputs are checked)."""

    def __init__(self, module: Any, spaces: Spaces, info: dict[str, Any]) -> None:
        self.module, self.spaces, self.info = module, spaces, info

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        """Rewards (B,) for CPU tensors in the env's own dtypes (see reward.json)."""
        return self.module(obs, acts, next_obs, dones)

    __call__ = forward

    @torch.no_grad()
    def predict(self, obs: Obs, acts: np.ndarray, next_obs: Obs, dones: np.ndarray) -> np.ndarray:
        """Rewards (B,) as float32 NumPy for NumPy batches."""
        tensors = _to_tensors(self.spaces, obs, acts, next_obs, dones)
        return self.module(*tensors).numpy().astype(np.float32)


def load_reward(run_dir: str | Path) -> StandaloneReward:
    """The reward a run saved (reward.pt2 + reward.json), without protege's training code."""
    run = Path(run_dir)
    path, info_path = run / REWARD_FILE, run / REWARD_INFO
    if not path.is_file() or not info_path.is_file():
        raise RunDirError(
            f"{run}: no learned reward ({REWARD_FILE} and {REWARD_INFO}); pass the run "
            "directory of a run that learned a reward (protege train iq-learn|sqil|gail|airl|gcl)"
        )
    try:
        info = json.loads(info_path.read_text())
        spaces = Spaces(
            deserialize_space(info["spaces"]["observation"]),
            deserialize_space(info["spaces"]["action"]),
        )
        module = torch.export.load(str(path)).module()
    except Exception as exc:  # noqa: BLE001 - any failure means the files are unusable
        raise RunDirError(
            f"{path}: not a readable protege reward ({exc}); re-run the training"
        ) from None
    return StandaloneReward(module, spaces, info)


# -- wrappers ----------------------------------------------------------------------------


class RewardVecEnvWrapper(VecEnvWrapper):
    """An SB3 VecEnv whose reward is `reward_fn(obs, acts, next_obs, dones)`.

    The true reward stays in `info["true_reward"]`. After an episode ends, SB3 returns the
    next episode's first observation; the reward is computed on the real last one
    (`info["terminal_observation"]`), and `dones` is 1 only for termination, not for a
    time-limit truncation. The Monitor wrapper underneath still logs true returns.
    """

    def __init__(self, venv: VecEnv, reward_fn: RewardFn) -> None:
        super().__init__(venv)
        self.reward_fn = reward_fn
        self._last_obs: Obs | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        self._last_obs = self.venv.reset()  # type: ignore[assignment]
        return self._last_obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, true_rews, dones, infos = self.venv.step_wait()
        assert self._last_obs is not None and self._actions is not None, "reset() first"
        next_obs = _copy_obs(obs)
        terminated = np.zeros(len(dones), dtype=np.float32)
        for i in map(int, np.flatnonzero(dones)):
            _set_row(next_obs, i, infos[i]["terminal_observation"])
            terminated[i] = float(not infos[i].get("TimeLimit.truncated", False))
        rews = np.asarray(
            self.reward_fn(self._last_obs, self._actions, next_obs, terminated), dtype=np.float32
        ).reshape(len(dones))
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_rews[i])
        self._last_obs = obs  # type: ignore[assignment]
        return obs, rews, dones, infos


def _copy_obs(obs: Any) -> Obs:
    if isinstance(obs, dict):
        return {k: np.array(v, copy=True) for k, v in obs.items()}
    return np.array(obs, copy=True)


def _set_row(obs: Obs, i: int, value: Any) -> None:
    if isinstance(obs, dict):
        for k in obs:
            obs[k][i] = value[k]
    else:
        obs[i] = value


class LearnedRewardWrapper(gym.Wrapper):
    """A Gymnasium env whose reward is `reward_fn`; the true reward goes to info."""

    def __init__(self, env: gym.Env, reward_fn: RewardFn) -> None:
        super().__init__(env)
        self.reward_fn = reward_fn
        self._obs: Any = None

    def reset(self, **kwargs: Any) -> Any:
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action: Any) -> Any:
        obs, true_rew, terminated, truncated, info = self.env.step(action)
        batch = obs_stack([self._obs]), np.asarray([action]), obs_stack([obs])
        reward = float(self.reward_fn(batch[0], batch[1], batch[2], np.array([terminated]))[0])
        info = {**info, "true_reward": float(true_rew)}
        self._obs = obs
        return obs, reward, terminated, truncated, info

"""Experts: anything that maps observations to actions.

`load_expert(spec, env_id)` turns what a user types into a batched policy:
`scripted` (the built-in controller for the env), `shipped` (an SB3 expert trained here
and shipped with protege: the MuJoCo locomotion envs), `optimal` (the optimal policy of a
tabular env, see `optimal_expert`), a Stable-Baselines3 model file
(`expert.zip`), or a `module:function` callable taking one observation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from protege.data.rollout import Policy
from protege.data.types import Obs, obs_index, obs_len
from protege.envs import Spaces, is_metaworld
from protege.errors import ExpertError
from protege.experts.normalization import ObsNormalization, read_normalization


class CallableExpert:
    """A per-observation callable `(obs) -> action` as a batched policy (one call per row).

    With `action_space`, every action it returns is checked to lie in it, and an exception
    the function raises becomes an `ExpertError` naming it: a user's function is input, and
    its mistakes are one line, not a traceback from inside the env."""

    def __init__(
        self, fn: Callable[[Any], Any], name: str = "callable", action_space: Any = None,
        env_id: str | None = None,
    ) -> None:  # fmt: skip
        self.fn = fn
        self.name = name
        self.action_space = action_space
        self.env_id = env_id

    def __call__(self, obs: Obs) -> np.ndarray:
        return np.stack([self._act(obs_index(obs, i)) for i in range(obs_len(obs))])

    def _act(self, obs: Any) -> np.ndarray:
        on = f" on {self.env_id}" if self.env_id else ""
        try:
            action = np.asarray(self.fn(obs))
        except Exception as exc:  # noqa: BLE001 - the user's code: reported, not re-raised
            raise ExpertError(
                f"expert '{self.name}' raised {type(exc).__name__}: {exc}{on}; fix the function"
            ) from None
        if self.action_space is None:
            return action
        conformed = _conform(action, self.action_space)
        if conformed is None:
            raise ExpertError(
                f"expert '{self.name}' returned the action {action.tolist()!r}{on}, outside "
                f"its action space {self.action_space}; return an action in that space"
            )
        return conformed


def _conform(action: np.ndarray, space: Any) -> np.ndarray | None:
    """`action` as one of `space`'s (its shape and dtype), or None when it is not one: for a
    Box, any finite numbers of the right size (values past the bounds are clipped by the
    env, as controllers often rely on); otherwise a member of the space (a whole float
    counts as an integer)."""
    import gymnasium as gym

    if action.size != int(np.prod(space.shape, dtype=np.int64)):
        return None
    if action.dtype == bool or not np.issubdtype(action.dtype, np.number):
        return None
    shaped = action.reshape(space.shape)
    if isinstance(space, gym.spaces.Box):
        return shaped.astype(space.dtype) if np.all(np.isfinite(shaped)) else None
    whole = np.all(np.isfinite(shaped)) and np.all(shaped == np.round(shaped))
    if not np.can_cast(shaped.dtype, space.dtype, "same_kind") and not whole:
        return None
    cast = shaped.astype(space.dtype)
    return cast if space.contains(cast) else None


class SB3Expert:
    """A Stable-Baselines3 model acting deterministically (its `predict`).

    obs_norm: the observation statistics it was trained with (read from its file, see
        `protege.experts.normalization`), applied before `predict`.
    skip: leading observation entries the model was not trained on, dropped first (a
        model for Hopper-v5 acting in protege/HopperFixedHorizon-v5, whose observation
        adds the torso's x position in front).
    """

    def __init__(
        self, model: Any, deterministic: bool = True, obs_norm: ObsNormalization | None = None,
        skip: int = 0,
    ) -> None:  # fmt: skip
        self.model = model
        self.deterministic = deterministic
        self.obs_norm = obs_norm
        self.skip = skip

    def __call__(self, obs: Obs) -> np.ndarray:
        if self.skip:
            obs = np.asarray(obs)[..., self.skip :]
        if self.obs_norm is not None:
            obs = self.obs_norm(np.asarray(obs))
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return np.asarray(action)


def load_sb3_model(path: str | Path, device: str = "cpu") -> Any:
    """Load an SB3 model file, whichever algorithm saved it (read from the zip's metadata)."""
    import zipfile

    from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3

    path = Path(path)
    if not path.is_file():
        raise ExpertError(f"{path}: no such expert model file; pass an SB3 .zip or 'scripted'")
    try:
        with zipfile.ZipFile(path) as zf:
            data = zf.read("data").decode()
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ExpertError(f"{path}: not a Stable-Baselines3 model file ({exc})") from None
    for cls in (PPO, SAC, DQN, A2C, TD3, DDPG):
        # SB3 records the policy class; its module names the algorithm family
        if f"stable_baselines3.{cls.__name__.lower()}.policies" in data:
            return cls.load(path, device=device)
    for cls in (PPO, SAC, DQN, A2C, TD3, DDPG):
        try:
            return cls.load(path, device=device)
        except Exception:  # noqa: BLE001 - try the next algorithm family
            continue
    raise ExpertError(f"{path}: could not load as any SB3 algorithm (PPO, SAC, DQN, A2C, TD3)")


def load_callable(spec: str) -> Callable[[Any], Any]:
    """Import `package.module:function`."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExpertError(
            f"expert '{spec}': cannot import module '{module_name}' ({exc})"
        ) from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)  # type: ignore[assignment]
        if fn is None:
            raise ExpertError(f"expert '{spec}': module '{module_name}' has no '{attr}'")
    if not callable(fn):
        raise ExpertError(f"expert '{spec}' is not callable")
    return fn


def optimal_expert(env_id: str) -> Policy:
    """The optimal policy of an env whose dynamics are known, as a batched policy.

    For a tabular spec ("gridworld:10", "objectworld:10", "garnet:...") or a toy-text id
    (FrozenLake-v1, CliffWalking-v1, Taxi-v4): value iteration on `make_tabular(env_id)`
    (its discount: 0.9 for the builders, 0.99 for toy-text), acting deterministically by
    the argmax of Q* (ties to the lowest action). It maximises the discounted return, which
    is what the tabular IRL algorithms model the expert as doing.
    """
    from protege.envs.tabular import TabularPolicy, make_tabular, optimal_policy
    from protege.errors import EnvError

    try:
        mdp = make_tabular(env_id)
    except EnvError as exc:
        raise ExpertError(f"expert 'optimal' needs an env with known dynamics: {exc}") from None
    return TabularPolicy(optimal_policy(mdp), deterministic=True)


def _check_model_spaces(spec: str, model: Any, env_id: str, known: Spaces | None) -> None:
    """Refuse an SB3 model trained on another env: its spaces must be the env's (an image
    observation may be stored channels-first, as SB3 transposes images)."""
    from protege.envs import env_spaces

    spaces = known or env_spaces(env_id)
    obs, want = model.observation_space, spaces.observation
    shape, wanted = getattr(obs, "shape", None), getattr(want, "shape", None)
    same_obs = obs == want or (
        shape is not None
        and wanted is not None
        and sorted(shape) == sorted(wanted)
        and type(obs) is type(want)
    )
    if not same_obs or model.action_space != spaces.action:
        raise ExpertError(
            f"{spec}: an SB3 model for observations {obs} and actions {model.action_space}, "
            f"but {env_id} has {want} and {spaces.action}; use an expert trained on {env_id} "
            f"(protege expert train {env_id} ...)"
        )


def load_expert(spec: str, env_id: str, spaces: Spaces | None = None) -> Policy:
    """Resolve an expert spec: 'scripted', 'shipped' (an SB3 expert trained here and shipped
    with protege, `protege.experts.shipped`), 'optimal' (tabular envs), a path to an SB3
    .zip, or 'module:function'; `spaces`, the env's when the caller has them already, check that
    the expert fits the env."""
    if spec == "scripted":
        if is_metaworld(env_id):  # Meta-World's own controller (the metaworld extra)
            from protege.experts.metaworld import metaworld_expert

            return metaworld_expert(env_id)
        from protege.experts.scripted import scripted_expert

        return scripted_expert(env_id).act  # type: ignore[return-value]  # arrays only
    if spec == "optimal":
        return optimal_expert(env_id)
    if spec == "human":
        raise ExpertError(
            "a person is not a policy to roll out: record them with `protege record ENV`, or "
            "label DAgger's rounds with `protege train dagger --expert human`"
        )
    if spec == "shipped":
        from protege.experts.shipped import shipped_expert

        return shipped_expert(env_id)
    if spec.endswith(".zip") or Path(spec).is_file():
        model = load_sb3_model(spec)
        _check_model_spaces(spec, model, env_id, spaces)
        return SB3Expert(model, obs_norm=read_normalization(spec))
    if ":" in spec:
        from protege.envs import env_spaces

        space = (spaces or env_spaces(env_id)).action
        return CallableExpert(load_callable(spec), name=spec, action_space=space, env_id=env_id)
    raise ExpertError(
        f"expert '{spec}' is not 'scripted', 'optimal', an existing SB3 model file, or "
        "'module:function'"
    )

"""Gymnasium helpers: build environments by id with clear errors, and describe their spaces."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from protege.envs.metaworld import is_metaworld, register_metaworld  # noqa: F401
from protege.envs.tasks import TASK_ENVS
from protege.errors import EnvError

EnvFactory = Callable[[], gym.Env]


@dataclass(frozen=True)
class Spaces:
    """The observation and action spaces a dataset or policy is bound to."""

    observation: gym.Space
    action: gym.Space

    @classmethod
    def of(cls, env: gym.Env) -> Spaces:
        return cls(env.observation_space, env.action_space)


LIMITED_ENVS: dict[str, tuple[str, int]] = {
    "protege/CartPole200-v1": ("CartPole-v1", 200),
    "protege/Acrobot200-v1": ("Acrobot-v1", 200),
}
"""Gymnasium ids protege registers: (base id, max_episode_steps), the 200-step limits of Ho &
Ermon (2016)'s classic-control table (MountainCar-v0 already stops at 200; Gymnasium's
CartPole-v0 does too, but warns that it is out of date)."""

for _id, (_base, _limit) in LIMITED_ENVS.items():
    if _id not in gym.registry:
        gym.register(_id, entry_point=gym.spec(_base).entry_point, max_episode_steps=_limit,
                     reward_threshold=gym.spec(_base).reward_threshold)  # fmt: skip


@dataclass(frozen=True)
class FixedHorizon:
    """A MuJoCo locomotion env in the form `imitation`'s benchmark uses (its "seals" envs,
    `seals/Hopper-v1` etc.): every episode runs the full 1,000 steps (no termination on
    falling, so episode length carries no information about the reward), and the torso's
    position, which the forward reward is the change of, is in the observation. Built from
    Gymnasium's own v5 env and options: no extra package."""

    base: str  # the Gymnasium v5 id
    options: tuple[tuple[str, Any], ...]  # gym.make keyword arguments
    positions: int  # leading observation entries the v5 default leaves out (x, or x and y)


_SHOW_POSITION = ("exclude_current_positions_from_observation", False)
_NO_FALL = ("terminate_when_unhealthy", False)

FIXED_HORIZON_ENVS: dict[str, FixedHorizon] = {
    "protege/HopperFixedHorizon-v5": FixedHorizon("Hopper-v5", (_SHOW_POSITION, _NO_FALL), 1),
    "protege/Walker2dFixedHorizon-v5": FixedHorizon("Walker2d-v5", (_SHOW_POSITION, _NO_FALL), 1),
    "protege/HalfCheetahFixedHorizon-v5": FixedHorizon("HalfCheetah-v5", (_SHOW_POSITION,), 1),
    "protege/SwimmerFixedHorizon-v5": FixedHorizon("Swimmer-v5", (_SHOW_POSITION,), 2),
    "protege/AntFixedHorizon-v5": FixedHorizon("Ant-v5", (_SHOW_POSITION, _NO_FALL), 2),
}
"""The fixed-horizon MuJoCo ids protege registers (the `mujoco` extra builds them)."""

for _id, _fh in FIXED_HORIZON_ENVS.items():
    if _id not in gym.registry:
        gym.register(_id, entry_point=gym.spec(_fh.base).entry_point, max_episode_steps=1000,
                     kwargs=dict(_fh.options))  # fmt: skip

# The tasks that tell policy heads apart (protege/TwoPaths-v0, protege/CueCorridor-v0)
for _id, (_entry, _limit) in TASK_ENVS.items():
    if _id not in gym.registry:
        gym.register(_id, entry_point=_entry, max_episode_steps=_limit)

register_metaworld()  # metaworld/<task>-v3 (the metaworld extra; protege.envs.metaworld)


TABULAR_KINDS = ("gridworld", "objectworld", "garnet")
"""Spec prefixes of the built-in tabular MDPs: "gridworld:10", "objectworld:8", "garnet:100"."""


def is_tabular_spec(env_id: str) -> bool:
    """True for a built-in tabular spec such as "gridworld:10" (not a Gymnasium id)."""
    kind, sep, _ = env_id.partition(":")
    return bool(sep) and kind.lower() in TABULAR_KINDS


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """`gym.make(env_id)` with a one-line error that suggests close ids when it is unknown.

    A built-in tabular spec ("gridworld:10", "objectworld:10", "garnet:100:4:3") gives a
    `protege.envs.tabular.TabularEnv` sampling `make_tabular(env_id)`; `max_episode_steps`
    goes to the wrapper and other kwargs to the builder. Toy-text ids (FrozenLake-v1...)
    stay real Gymnasium envs.
    """
    if is_tabular_spec(env_id):
        return _tabular_env(env_id, **kwargs)
    if is_mujoco(env_id):
        _route_mujoco_warnings()
    try:
        return gym.make(env_id, **kwargs)
    except (gym.error.Error, ValueError) as exc:  # ValueError: "module:" ids gym cannot import
        known = sorted(gym.registry)
        close = [k for k in known if env_id.split("-")[0].lower() in k.lower()][:5]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise EnvError(f"unknown environment '{env_id}': {exc}.{hint}") from None
    except ImportError as exc:
        raise EnvError(
            f"environment '{env_id}' needs a package that is not installed ({exc}); "
            "install the Gymnasium extra it names"
        ) from None


_GYMNASIUM_ASSET_WARNINGS = ("'settotalmass' is deprecated",)
"""MuJoCo warnings about Gymnasium's own model files (half_cheetah.xml), nothing a user did."""


@functools.lru_cache(maxsize=1)
def _route_mujoco_warnings() -> None:
    """Send MuJoCo's warnings to Python's `warnings` instead of its default, which appends
    them to MUJOCO_LOG.TXT in the working directory: building HalfCheetah-v5 with MuJoCo 3.17+
    left that file behind in every folder protege ran in."""
    try:
        import mujoco
    except ImportError:  # make_env names the extra to install
        return

    def warn(message: str) -> None:
        if not any(known in message for known in _GYMNASIUM_ASSET_WARNINGS):
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(warn)


def _tabular_env(spec: str, max_episode_steps: int | None = None, **kwargs: Any) -> gym.Env:
    from protege.envs.tabular import TabularEnv, make_tabular

    mdp = _cached_tabular(spec) if not kwargs else make_tabular(spec, **kwargs)
    return TabularEnv(mdp, max_episode_steps=max_episode_steps)


@functools.lru_cache(maxsize=4)
def _cached_tabular(spec: str) -> Any:
    """Built once per spec: rollouts build an env per sub-env, and a big grid takes a second.

    Sharing is safe: a `TabularMDP` is frozen and `TabularEnv` only reads it.
    """
    from protege.envs.tabular import make_tabular

    return make_tabular(spec)


def env_factory(env_id: str, **kwargs: Any) -> EnvFactory:
    """A zero-argument builder for `env_id`, checked once so errors surface early."""
    make_env(env_id, **kwargs).close()
    return lambda: make_env(env_id, **kwargs)


SUPPORTED_SPACES = (
    gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary,
)  # fmt: skip
"""What protege's data model holds: these, and Dict spaces of them."""


def check_supported(spaces: Spaces, env_id: str) -> Spaces:
    """Refuse spaces the data model cannot hold (Tuple, Text, Graph...) with the fix."""
    for what, space in (("observation", spaces.observation), ("action", spaces.action)):
        dict_obs = what == "observation" and isinstance(space, gym.spaces.Dict)
        parts = list(space.spaces.values()) if isinstance(space, gym.spaces.Dict) else [space]
        for part in parts if dict_obs else [space]:
            if not isinstance(part, SUPPORTED_SPACES):
                raise EnvError(
                    f"{env_id}: {what} space {type(part).__name__} is not supported (protege "
                    "holds Box, Discrete, MultiDiscrete, MultiBinary and Dict observations); "
                    "wrap the env, e.g. with gymnasium.wrappers.FlattenObservation"
                )
    return spaces


@dataclass(frozen=True)
class EnvHandle:
    """An env resolved once: its id, spaces (checked supported), episode limit and a
    factory. Layers pass this down instead of re-resolving the id string at each step."""

    id: str
    spaces: Spaces
    horizon: int | None
    factory: EnvFactory


def resolve_env(env_id: str, **kwargs: Any) -> EnvHandle:
    """Build `env_id` once: an unknown id or unsupported spaces fail here, in one line."""
    env = make_env(env_id, **kwargs)
    try:
        spaces = check_supported(Spaces.of(env), env_id)
        horizon = env.spec.max_episode_steps if env.spec is not None else None
    finally:
        env.close()
    return EnvHandle(env_id, spaces, horizon, lambda: make_env(env_id, **kwargs))


def env_spaces(env_id: str, **kwargs: Any) -> Spaces:
    """The spaces of `env_id`, built once and closed; unsupported spaces are refused."""
    env = make_env(env_id, **kwargs)
    try:
        return check_supported(Spaces.of(env), env_id)
    finally:
        env.close()


def is_mujoco(env_id: str) -> bool:
    """Whether `env_id` is one of Gymnasium's MuJoCo envs (protege's fixed-horizon variants
    included): observations of mixed scales (positions, velocities, forces), where learners
    normalise them by default."""
    spec = gym.registry.get(env_id)
    entry = spec.entry_point if spec is not None else None
    return isinstance(entry, str) and entry.startswith("gymnasium.envs.mujoco")


def is_image_space(space: gym.Space) -> bool:
    """A uint8 Box of rank 3 (H, W, C) or (C, H, W): the shape a CNN encoder expects."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3

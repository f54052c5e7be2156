"""Meta-World v3 manipulation tasks as protege env ids: `metaworld/pick-place-v3` and the
rest of Meta-World's MT1 list (the `metaworld` extra, `pip install 'protege[metaworld]'`).

Meta-World (Yu et al., 2019, "Meta-World: A Benchmark and Evaluation for Multi-Task and
Meta Reinforcement Learning"; Farama's `metaworld` package) ships a Sawyer arm in MuJoCo
with 50 tasks, each with a scripted policy (`protege.experts.metaworld`). Each id here is
one task with the goal in the observation (MT1's form, 39 floats) and:

- a reproducible variation per reset seed: `reset(seed=i)` seeds the env's own sampler of
  object and goal positions (Meta-World's `seeded_rand_vec` path), so episode i is the
  same every time and seeds 0, 1, ... give different positions (MT1 instead fixes 50
  positions drawn once; here every seed is a new one, so demonstrations and evaluation
  episodes do not share positions);
- termination at the first step where `info["success"]` is true (the task is done; the
  info keeps "success", a bool, which `protege.data.rollout` records per episode), and
  truncation at Meta-World's 500-step limit.

The ids are registered without importing Meta-World (`register_metaworld`); it is imported
when an env is built. Meta-World 3.1.1 pins mujoco 3.3.0; under a newer MuJoCo, whose weld
constraints have 12 parameters instead of 11, `patch_mocap_welds` makes it work (see there).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from protege.errors import EnvError

NAMESPACE = "metaworld"
MAX_EPISODE_STEPS = 500
"""Meta-World's `SawyerXYZEnv.max_path_length`: the env refuses a step past it."""

METAWORLD_TASKS: tuple[str, ...] = (
    "assembly-v3", "basketball-v3", "bin-picking-v3", "box-close-v3",
    "button-press-topdown-v3", "button-press-topdown-wall-v3", "button-press-v3",
    "button-press-wall-v3", "coffee-button-v3", "coffee-pull-v3", "coffee-push-v3",
    "dial-turn-v3", "disassemble-v3", "door-close-v3", "door-lock-v3", "door-open-v3",
    "door-unlock-v3", "hand-insert-v3", "drawer-close-v3", "drawer-open-v3", "faucet-open-v3",
    "faucet-close-v3", "hammer-v3", "handle-press-side-v3", "handle-press-v3",
    "handle-pull-side-v3", "handle-pull-v3", "lever-pull-v3", "pick-place-wall-v3",
    "pick-out-of-hole-v3", "pick-place-v3", "plate-slide-v3", "plate-slide-side-v3",
    "plate-slide-back-v3", "plate-slide-back-side-v3", "peg-insert-side-v3",
    "peg-unplug-side-v3", "soccer-v3", "stick-push-v3", "stick-pull-v3", "push-v3",
    "push-wall-v3", "push-back-v3", "reach-v3", "reach-wall-v3", "shelf-place-v3",
    "sweep-into-v3", "sweep-v3", "window-open-v3", "window-close-v3",
)  # fmt: skip
"""Meta-World 3.1.1's MT1 task names (`metaworld.MT1.ENV_NAMES`; a test checks they agree)."""

METAWORLD_ENVS: dict[str, str] = {f"{NAMESPACE}/{task}": task for task in METAWORLD_TASKS}
"""protege env id -> Meta-World task name."""

INSTALL = "pip install 'protege[metaworld]'"
_WELD = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0])
"""What Meta-World's `reset_mocap_welds` writes into each weld constraint's parameters."""


def register_metaworld() -> None:
    """Register every `metaworld/<task>` id in Gymnasium's registry (cheap: no import of
    Meta-World, which happens when one is built)."""
    for env_id, task in METAWORLD_ENVS.items():
        if env_id not in gym.registry:
            # no passive checker: it warns on every build that some tasks' goal bounds have
            # low == high (a goal coordinate that does not vary), which is by design
            gym.register(env_id, entry_point="protege.envs.metaworld:MetaWorldEnv",
                         kwargs={"task": task}, max_episode_steps=MAX_EPISODE_STEPS,
                         disable_env_checker=True)  # fmt: skip


def is_metaworld(env_id: str) -> bool:
    """Whether `env_id` is one of the `metaworld/<task>` ids."""
    return env_id in METAWORLD_ENVS


def patch_mocap_welds() -> bool:
    """Make Meta-World construct under a MuJoCo whose weld rows are wider than 11; True if
    the patch is (now) in place.

    Why: `SawyerMocapBase.reset_mocap_welds` writes 11 numbers into every weld row of
    `model.eq_data`, the width of MuJoCo 3.x (mujoco 3.3.0 is what Meta-World 3.1.1 pins).
    MuJoCo 4.0 has 12 per row, and the write fails at construction ("could not broadcast
    input array from shape (11,) into shape (12,)"). The patched method writes the same 11
    numbers into the first 11 entries and leaves the rest as MuJoCo compiled them (the
    scripted experts' episodes were identical with that entry zeroed). Applied only when
    the row width is not 11, and once (calling again changes nothing).
    """
    import mujoco
    from metaworld.sawyer_xyz_env import SawyerMocapBase

    if mujoco.mjNEQDATA == len(_WELD):
        return False
    SawyerMocapBase.reset_mocap_welds = _reset_mocap_welds  # type: ignore[method-assign]
    return True


def _reset_mocap_welds(self: Any) -> None:
    """Meta-World's `reset_mocap_welds` for weld rows of any width >= 11."""
    import mujoco

    model = self.model
    if model.nmocap > 0 and model.eq_data is not None:
        for i in range(model.eq_data.shape[0]):
            if model.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
                model.eq_data[i, : len(_WELD)] = _WELD


def _sawyer_env(task: str, render_mode: str | None) -> Any:
    """Meta-World's env for `task` with the goal observed and positions drawn from the env's
    own seeded generator at each reset; EnvError naming the extra if it is not installed."""
    try:
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS
    except ImportError as exc:
        raise EnvError(
            f"{NAMESPACE}/{task} needs Meta-World, which is not installed ({exc}); {INSTALL}"
        ) from None
    patch_mocap_welds()
    env_class: Any = ALL_V3_ENVIRONMENTS[task]  # typed for literal render modes only
    env = env_class(render_mode=render_mode)
    # As Meta-World's own goal-observable classes set up a single-task env
    # (metaworld.env_dict._create_observable_goal_envs), except that positions come from
    # env.np_random (seeded per reset) instead of NumPy's global generator
    env._partially_observable = False
    del env.sawyer_observation_space  # a cached property: recomputed with the goal's bounds
    env.observation_space = env.sawyer_observation_space
    env._set_task_called = True
    env._freeze_rand_vec = False
    env.seeded_rand_vec = True
    return env


class MetaWorldEnv(gym.Wrapper):
    """One Meta-World v3 task, goal observed, a new object/goal placement per reset seed,
    ending at the first success.

    Observation: Box(39,) float64: the hand's position and the gripper's opening, up to two
    objects' positions and quaternions (zero-padded), the same 18 values of the previous
    step, and the goal's position. Action: Box(4,) in [-1, 1] float32: the hand's xyz
    displacement and the gripper's effort. Reward: Meta-World's v2 shaped reward (0..10).
    """

    def __init__(self, task: str, render_mode: str | None = None) -> None:
        if task not in METAWORLD_TASKS:
            raise EnvError(f"unknown Meta-World task '{task}'; known: {', '.join(METAWORLD_TASKS)}")
        self._sawyer = _sawyer_env(task, render_mode)
        super().__init__(self._sawyer)
        self.task = task

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:  # Meta-World's reset ignores its seed argument; seed() is its way
            self._sawyer.seed(seed)
        return self.env.reset()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["success"] = bool(info["success"])
        return obs, float(reward), bool(terminated) or info["success"], bool(truncated), info

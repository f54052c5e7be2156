"""Meta-World's own scripted policies as protege experts (the `metaworld` extra).

Every Meta-World task ships a hand-written controller (`metaworld.policies`): it reads the
hand, object and goal positions from one observation and moves the hand toward the next
waypoint (above the object, down, grip, to the goal). `metaworld_expert` wraps the one for
an env's task as a batched policy; it is the default expert of every `metaworld/<task>` id
(`protege collect metaworld/push-v3 --episodes 10 --out d.npz`). The controllers are
stateless, so DAgger can ask them about any state.

`EXPERT_RECORDS` keeps what each one scored here: success rate and mean episode length
over 50 episodes, `reset(seed=i)` for i = 0..49 (`benchmarks/metaworld_bc.py --experts`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from protege.data.types import Obs
from protege.envs.metaworld import METAWORLD_ENVS, NAMESPACE, is_metaworld
from protege.errors import ExpertError


@dataclass(frozen=True)
class ExpertRecord:
    """A Meta-World expert's measured score on its protege env.

    success: the fraction of the 50 seeded episodes that succeeded (each ends at its first
        success). steps: their mean length in steps (a failure counts the 500-step limit).
    """

    success: float
    steps: float


class MetaWorldExpert:
    """Meta-World's scripted policy for one task, batched: obs (B, 39) -> actions (B, 4)
    float32 in [-1, 1] (the controller's proportional moves, clipped to the action bounds
    as the env would clip them)."""

    def __init__(self, env_id: str, policy: Any) -> None:
        self.env_id = env_id
        self.policy = policy

    def __call__(self, obs: Obs) -> np.ndarray:
        rows = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        with warnings.catch_warnings():
            # metaworld.policies.move warns whenever a gain times an error exceeds 1: the
            # controllers rely on the clipping, so it would fire at most steps
            warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")
            actions = np.stack([self.policy.get_action(row) for row in rows])
        return np.clip(actions, -1.0, 1.0).astype(np.float32)


def metaworld_expert(env_id: str) -> MetaWorldExpert:
    """The scripted expert of a `metaworld/<task>` id.

    Raises:
        ExpertError: `env_id` is not a Meta-World id, or Meta-World is not installed.
    """
    if not is_metaworld(env_id):
        raise ExpertError(
            f"'{env_id}' is not a Meta-World id; they are {NAMESPACE}/<task>, e.g. "
            f"{NAMESPACE}/push-v3"
        )
    try:
        from metaworld.policies import ENV_POLICY_MAP
    except ImportError as exc:
        raise ExpertError(
            f"the scripted expert of {env_id} is Meta-World's, which is not installed ({exc}); "
            "pip install 'protege[metaworld]'"
        ) from None
    policy_class: Any = ENV_POLICY_MAP[METAWORLD_ENVS[env_id]]  # a concrete Policy
    return MetaWorldExpert(env_id, policy_class())


# Measured by `benchmarks/metaworld_bc.py --experts` (metaworld 3.1.1, mujoco 4.0.0)
EXPERT_RECORDS: dict[str, ExpertRecord] = {
    "metaworld/assembly-v3": ExpertRecord(1.00, 90.2),
    "metaworld/basketball-v3": ExpertRecord(1.00, 102.1),
    "metaworld/bin-picking-v3": ExpertRecord(1.00, 126.4),
    "metaworld/box-close-v3": ExpertRecord(0.94, 151.7),
    "metaworld/button-press-topdown-v3": ExpertRecord(1.00, 66.2),
    "metaworld/button-press-topdown-wall-v3": ExpertRecord(1.00, 57.6),
    "metaworld/button-press-v3": ExpertRecord(1.00, 62.1),
    "metaworld/button-press-wall-v3": ExpertRecord(1.00, 66.2),
    "metaworld/coffee-button-v3": ExpertRecord(1.00, 35.9),
    "metaworld/coffee-pull-v3": ExpertRecord(1.00, 79.5),
    "metaworld/coffee-push-v3": ExpertRecord(1.00, 55.6),
    "metaworld/dial-turn-v3": ExpertRecord(1.00, 74.4),
    "metaworld/disassemble-v3": ExpertRecord(0.94, 144.2),
    "metaworld/door-close-v3": ExpertRecord(1.00, 65.3),
    "metaworld/door-lock-v3": ExpertRecord(1.00, 116.4),
    "metaworld/door-open-v3": ExpertRecord(0.96, 110.2),
    "metaworld/door-unlock-v3": ExpertRecord(1.00, 46.7),
    "metaworld/hand-insert-v3": ExpertRecord(0.92, 96.0),
    "metaworld/drawer-close-v3": ExpertRecord(1.00, 78.4),
    "metaworld/drawer-open-v3": ExpertRecord(1.00, 89.0),
    "metaworld/faucet-open-v3": ExpertRecord(1.00, 60.0),
    "metaworld/faucet-close-v3": ExpertRecord(1.00, 65.1),
    "metaworld/hammer-v3": ExpertRecord(1.00, 66.8),
    "metaworld/handle-press-side-v3": ExpertRecord(1.00, 41.3),
    "metaworld/handle-press-v3": ExpertRecord(1.00, 31.4),
    "metaworld/handle-pull-side-v3": ExpertRecord(1.00, 81.8),
    "metaworld/handle-pull-v3": ExpertRecord(1.00, 111.6),
    "metaworld/lever-pull-v3": ExpertRecord(1.00, 78.8),
    "metaworld/pick-place-wall-v3": ExpertRecord(1.00, 86.6),
    "metaworld/pick-out-of-hole-v3": ExpertRecord(1.00, 115.5),
    "metaworld/pick-place-v3": ExpertRecord(1.00, 53.0),
    "metaworld/plate-slide-v3": ExpertRecord(1.00, 51.2),
    "metaworld/plate-slide-side-v3": ExpertRecord(1.00, 47.4),
    "metaworld/plate-slide-back-v3": ExpertRecord(1.00, 58.6),
    "metaworld/plate-slide-back-side-v3": ExpertRecord(1.00, 46.5),
    "metaworld/peg-insert-side-v3": ExpertRecord(0.82, 175.5),
    "metaworld/peg-unplug-side-v3": ExpertRecord(1.00, 101.4),
    "metaworld/soccer-v3": ExpertRecord(0.86, 136.3),
    "metaworld/stick-push-v3": ExpertRecord(1.00, 31.8),
    "metaworld/stick-pull-v3": ExpertRecord(0.96, 125.8),
    "metaworld/push-v3": ExpertRecord(1.00, 61.6),
    "metaworld/push-wall-v3": ExpertRecord(1.00, 80.6),
    "metaworld/push-back-v3": ExpertRecord(1.00, 192.7),
    "metaworld/reach-v3": ExpertRecord(1.00, 47.7),
    "metaworld/reach-wall-v3": ExpertRecord(1.00, 46.3),
    "metaworld/shelf-place-v3": ExpertRecord(0.82, 168.6),
    "metaworld/sweep-into-v3": ExpertRecord(0.92, 89.9),
    "metaworld/sweep-v3": ExpertRecord(1.00, 89.1),
    "metaworld/window-open-v3": ExpertRecord(1.00, 87.4),
    "metaworld/window-close-v3": ExpertRecord(1.00, 80.6),
}
"""Each Meta-World expert's success rate and mean episode length over 50 seeded episodes."""

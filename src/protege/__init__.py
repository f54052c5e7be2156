"""protege: imitation learning from demonstrations, with the expert as the yardstick.

The whole Python API is here, one spelling each, imported on first use (so `import
protege` and `protege --help` load no torch):

    import protege

    demos = protege.rollout("CartPole-v1", protege.scripted_expert("CartPole-v1").act, episodes=10)
    protege.save_trajectories("demos.npz", demos, "CartPole-v1")
    data = protege.load_trajectories("demos.npz", env_id="CartPole-v1")
    result = protege.train_bc(protege.flatten_trajectories(data.trajectories), data.spaces)
    metrics = protege.save_run("runs/bc", result.policy, "CartPole-v1", demos="demos.npz")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # data
    **dict.fromkeys(("Trajectory", "Transitions", "flatten_trajectories", "rollout",
                     "RandomPolicy", "save_trajectories", "load_trajectories"), "protege.data"),
    **dict.fromkeys(("Spaces", "env_spaces", "make_env", "resolve_env"), "protege.envs"),
    # experts and evaluation
    **dict.fromkeys(("load_expert", "SB3Expert"), "protege.experts"),
    "scripted_expert": "protege.experts.scripted",
    **dict.fromkeys(("compare_with_expert", "evaluate_returns", "normalized_score"),
                    "protege.evaluation"),
    # algorithms: one trainer signature, train_x(demos, spaces, cfg, callbacks, *, env, ...)
    **dict.fromkeys(("BCConfig", "train_bc"), "protege.algorithms.bc"),
    **dict.fromkeys(("DAggerConfig", "train_dagger"), "protege.algorithms.dagger"),
    **dict.fromkeys(("FilteredBCConfig", "train_filtered_bc"), "protege.algorithms.filtered_bc"),
    **dict.fromkeys(("GAILConfig", "AIRLConfig", "GCLConfig", "train_gail", "train_airl",
                     "train_gcl"), "protege.algorithms.adversarial"),
    **dict.fromkeys(("IQLearnConfig", "SQILConfig", "train_iq_learn", "train_sqil"),
                    "protege.algorithms.qlearning"),
    **dict.fromkeys(("TRexConfig", "DRexConfig", "train_t_rex", "train_d_rex"),
                    "protege.algorithms.ranking"),
    **dict.fromkeys(("MaxEntConfig", "maxent_irl"), "protege.algorithms.tabular.maxent"),
    # what training produces, and run directories
    "ActorPolicy": "protege.policies",
    "load_reward": "protege.rewards",
    **dict.fromkeys(("save_run", "load_run", "RunRecord"), "protege.jobs.runs"),
}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'protege' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

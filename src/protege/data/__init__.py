"""Demonstrations: the shared data model, rollout collection, storage and validation."""

from protege.data.rollout import Policy, RandomPolicy, rollout
from protege.data.storage import (
    DatasetWriter,
    Demonstrations,
    load_trajectories,
    save_trajectories,
)
from protege.data.types import Obs, Trajectory, Transitions, flatten_trajectories

__all__ = [
    "Obs",
    "Policy",
    "RandomPolicy",
    "Trajectory",
    "Transitions",
    "flatten_trajectories",
    "rollout",
    "DatasetWriter",
    "Demonstrations",
    "load_trajectories",
    "save_trajectories",
]

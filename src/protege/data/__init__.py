"""Demonstrations: the shared data model, rollout collection (with injected noise), storage
and validation, and rankings and preferences over episodes."""

from protege.data.noise import NoisyPolicy
from protege.data.preferences import (
    Preference,
    Segment,
    episode_ranking,
    preferences_from_ranking,
    synthetic_preferences,
)
from protege.data.rollout import Policy, RandomPolicy, rollout
from protege.data.storage import (
    DatasetWriter,
    Demonstrations,
    load_preferences,
    load_trajectories,
    save_preferences,
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
    "NoisyPolicy",
    "DatasetWriter",
    "Demonstrations",
    "load_trajectories",
    "save_trajectories",
    "Preference",
    "Segment",
    "episode_ranking",
    "synthetic_preferences",
    "preferences_from_ranking",
    "save_preferences",
    "load_preferences",
]

"""Expert demonstrations shared by the adversarial tests (made once per session)."""

from __future__ import annotations

import pytest

from protege.data import Transitions, flatten_trajectories, rollout
from protege.experts.scripted import scripted_expert


@pytest.fixture(scope="session")
def cartpole_demos() -> Transitions:
    """10 episodes of the scripted CartPole expert (seeds 0-9; all 500 steps, truncated)."""
    return flatten_trajectories(rollout("CartPole-v1", scripted_expert("CartPole-v1").act, 10))


@pytest.fixture(scope="session")
def pendulum_demos() -> Transitions:
    """20 episodes of the scripted Pendulum expert (seeds 0-19)."""
    return flatten_trajectories(rollout("Pendulum-v1", scripted_expert("Pendulum-v1").act, 20))

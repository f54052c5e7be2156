"""`ms_per_action`: what one action costs, measured the way a rollout acts."""

from __future__ import annotations

import time

import numpy as np

from protege.evaluation import ms_per_action


class SlowStateful:
    """Sleeps 2 ms per call and records the episodes it is told about."""

    def __init__(self) -> None:
        self.episodes: list[int] = []
        self.batches: list[int] = []

    def start_episode(self, slot: int, episode: int) -> None:
        assert slot == 0
        self.episodes.append(episode)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        self.batches.append(len(obs))
        time.sleep(0.002)
        return np.zeros(len(obs), dtype=np.int64)


def test_one_observation_per_call_with_episodes_announced() -> None:
    policy = SlowStateful()
    ms = ms_per_action("CartPole-v1", policy, steps=40)
    assert 2.0 <= ms < 50.0, ms  # the sleep, and not the env's steps
    assert set(policy.batches) == {1} and len(policy.batches) == 40
    # always pushing left ends a CartPole episode within ~10 steps: several episodes ran,
    # each announced from 0 up, as rollout announces them
    assert len(policy.episodes) >= 3 and policy.episodes == list(range(len(policy.episodes)))

"""The threaded finite-horizon passes (used from PARALLEL_MIN_STATES states on) give the
serial numbers, on small MDPs forced onto the threaded path."""

from __future__ import annotations

import numpy as np
import pytest

from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
from protege.envs.tabular import (
    garnet,
    gridworld,
    soft_value_iteration,
    solvers,
    state_action_occupancy,
    state_occupancy,
)


def serial_and_threaded(monkeypatch: pytest.MonkeyPatch, threads: int, fn):  # noqa: ANN001, ANN201
    monkeypatch.setattr(solvers, "_n_threads", lambda n_states: 1)
    serial = fn()
    monkeypatch.setattr(solvers, "_n_threads", lambda n_states: threads)
    monkeypatch.setattr(solvers, "SOFT_BLOCK_STATES", 7)  # blocks smaller than the ranges
    return serial, fn()


@pytest.mark.parametrize("threads", [2, 3, 6])
@pytest.mark.parametrize("state_action_reward", [False, True])
def test_threaded_soft_value_iteration_gives_the_serial_numbers(
    monkeypatch: pytest.MonkeyPatch, threads: int, state_action_reward: bool
) -> None:
    mdp = garnet(30, 4, 3, horizon=12, gamma=0.95, state_action_reward=state_action_reward)
    serial, threaded = serial_and_threaded(monkeypatch, threads, lambda: soft_value_iteration(mdp))
    np.testing.assert_array_equal(threaded.V, serial.V)  # each state's sums are the same
    np.testing.assert_array_equal(threaded.policy, serial.policy)


@pytest.mark.parametrize("threads", [2, 3, 6])
def test_threaded_occupancies_give_the_serial_numbers(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    mdp = gridworld((5, 7), slip=0.2, horizon=10, gamma=1.0)
    pi = soft_value_iteration(mdp).policy
    for occupancy in (state_occupancy, state_action_occupancy):
        for policy in (pi, pi[0]):  # time-dependent and stationary
            serial, threaded = serial_and_threaded(
                monkeypatch,
                threads,
                lambda occupancy=occupancy, policy=policy: occupancy(mdp, policy),
            )
            np.testing.assert_allclose(threaded, serial, atol=1e-13, rtol=0)
            assert threaded.sum() == pytest.approx(10.0, abs=1e-10)


def test_threaded_mce_irl_learns_the_same_reward(monkeypatch: pytest.MonkeyPatch) -> None:
    mdp = gridworld(6, slip=0.2, horizon=15, gamma=1.0)
    expert = state_occupancy(mdp, soft_value_iteration(mdp, 3.0 * mdp.reward).policy)
    cfg = MaxEntConfig(max_iterations=30, tol=0.0)
    serial, threaded = serial_and_threaded(
        monkeypatch, 2, lambda: maxent_irl(expert, None, cfg, env=mdp)
    )
    np.testing.assert_allclose(threaded.reward, serial.reward, atol=1e-10, rtol=0)
    assert threaded.history[-1]["occupancy_l1"] < 0.5 * threaded.history[0]["occupancy_l1"]

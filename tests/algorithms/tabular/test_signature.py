"""The tabular trainers' common signature: the MDP as `env`, progress through callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from protege.algorithms.tabular.apprenticeship import ApprenticeshipConfig, apprenticeship_learning
from protege.algorithms.tabular.bayesian import BayesianIRLConfig, bayesian_irl
from protege.algorithms.tabular.deep_maxent import DeepMaxEntConfig, deep_maxent_irl
from protege.algorithms.tabular.lp_irl import LPIRLConfig, lp_irl
from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
from protege.callbacks import Callback
from protege.envs.tabular import make_tabular, optimal_occupancy
from protege.errors import ConfigError

# (trainer, a small config, progress total, unit)
TRAINERS: list[tuple[Callable[..., Any], Any, int, str]] = [
    (lp_irl, LPIRLConfig(), 1, "solve"),
    (apprenticeship_learning, ApprenticeshipConfig(max_iterations=3, epsilon=0.0), 3, "iteration"),
    (maxent_irl, MaxEntConfig(max_iterations=3, tol=0.0), 3, "iteration"),
    (bayesian_irl, BayesianIRLConfig(n_samples=150, burn_in=50), 200, "step"),
    (deep_maxent_irl, DeepMaxEntConfig(max_iterations=3, tol=0.0), 3, "iteration"),
]


class Log(Callback):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_start(self, total: int, unit: str) -> None:
        self.events.append(("start", total, unit))

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        self.events.append(("row", i, metrics))

    def on_end(self, metrics: dict[str, float]) -> None:
        self.events.append(("end", metrics))


@pytest.mark.parametrize(("fit", "cfg", "total", "unit"), TRAINERS)
def test_a_fit_without_its_mdp_is_a_config_error(fit, cfg, total, unit) -> None:  # noqa: ANN001
    demos = optimal_occupancy(make_tabular("gridworld:3"), soft=True)
    with pytest.raises(ConfigError, match="pass the MDP as env="):
        fit(demos, None, cfg)


@pytest.mark.parametrize(("fit", "cfg", "total", "unit"), TRAINERS)
def test_callbacks_get_start_one_row_per_record_with_seconds_and_end(
    fit,
    cfg,
    total,
    unit,  # noqa: ANN001
) -> None:
    mdp = make_tabular("gridworld:3")
    demos = optimal_occupancy(mdp, 3.0 * mdp.reward, soft=True)
    log = Log()
    result = fit(demos, None, cfg, [log], env=mdp)
    start, *rows, end = log.events
    assert start == ("start", total, unit)
    assert [metrics for _, _, metrics in rows] == [
        {**record, "seconds": metrics["seconds"]}
        for record, (_, _, metrics) in zip(result.history, rows, strict=True)
    ]
    assert all("seconds" not in record for record in result.history)
    by_step = unit == "step"  # Bayesian IRL: the index is the MCMC step of the row
    assert [i for _, i, _ in rows] == [
        int(r["iteration"]) if by_step else k for k, r in enumerate(result.history)
    ]
    assert end == ("end", rows[-1][2])


def test_a_tabular_spec_as_env_is_its_mdp() -> None:
    mdp = make_tabular("gridworld:4")
    demos = optimal_occupancy(mdp, soft=True)
    cfg = MaxEntConfig(max_iterations=5, tol=0.0)
    by_spec = maxent_irl(demos, None, cfg, env="gridworld:4")
    np.testing.assert_array_equal(by_spec.reward, maxent_irl(demos, None, cfg, env=mdp).reward)

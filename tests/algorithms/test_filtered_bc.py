"""Filtered BC is judged by what it learns: from expert episodes mixed with a lazy
demonstrator's, it clones the expert where plain BC averages the two into a failure."""

from __future__ import annotations

import numpy as np
import pytest

from protege.algorithms.bc import BCConfig, train_bc
from protege.algorithms.filtered_bc import FilteredBCConfig, best_episodes, train_filtered_bc
from protege.data import RandomPolicy, Transitions, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import DatasetError
from protege.evaluation import evaluate_returns, normalized_score
from protege.experts.scripted import scripted_expert

ENV = "Pendulum-v1"


@pytest.fixture(scope="module")
def mixed() -> tuple[Transitions, list[float]]:
    """20 episodes of the swing-up expert and 20 of a demonstrator that never pushes."""
    expert = rollout(ENV, scripted_expert(ENV).act, 20, seed=0)
    lazy = rollout(ENV, lambda obs: np.zeros((len(obs), 1), np.float32), 20, seed=100)
    return flatten_trajectories(expert + lazy), [t.episode_return for t in expert + lazy]


def test_the_best_episodes_are_kept_whole(mixed: tuple[Transitions, list[float]]) -> None:
    demos, returns = mixed
    kept = best_episodes(demos, 0.5)
    assert len(kept) == 20 * 200
    assert kept.rews.sum() == pytest.approx(sum(sorted(returns)[20:]))  # type: ignore[union-attr]
    assert len(best_episodes(demos, 0.01)) == 200  # at least one episode
    no_rewards = Transitions(demos.obs, demos.acts, demos.next_obs, demos.terminated,
                             demos.truncated, None)  # fmt: skip
    with pytest.raises(DatasetError, match="carry no rewards"):
        best_episodes(no_rewards, 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_filtered_bc_clones_the_expert_where_bc_fails(
    mixed: tuple[Transitions, list[float]], seed: int
) -> None:
    demos, _ = mixed
    spaces = env_spaces(ENV)
    expert = evaluate_returns(ENV, scripted_expert(ENV).act, 10).mean
    random = evaluate_returns(ENV, RandomPolicy(spaces.action, 0), 10).mean

    def score(policy: object) -> float:
        return normalized_score(evaluate_returns(ENV, policy, 10).mean, expert, random)  # type: ignore[arg-type]

    fit = BCConfig(epochs=100, patience=20, seed=seed)  # a third of BC's default, both sides
    filtered = train_filtered_bc(demos, spaces, FilteredBCConfig(bc=fit))
    plain = train_bc(demos, spaces, fit)
    # measured: filtered 0.96 / 0.99 / 1.00, plain BC 0.25 / 0.40 / 0.16 (seeds 0, 1, 2)
    assert score(filtered.policy) >= 0.9
    assert score(plain.policy) < 0.7

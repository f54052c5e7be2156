"""D-REX is judged by the ranking it makes for itself: from unranked, unrewarded
demonstrations, the noise ranking of its clone's rollouts teaches a reward that ranks
unseen episodes by their true return."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from protege.algorithms.ranking import BradleyTerryConfig, DRexConfig
from protege.algorithms.ranking.d_rex import noise_rollouts, rank_by_noise
from protege.algorithms.ranking.loop import fit_ranked_reward, predicted_returns, rank_correlation
from protege.data import Trajectory
from protege.envs import env_spaces
from protege.errors import ConfigError

ENV = "Pendulum-v1"
HELD_OUT = tuple(np.linspace(0.0, 1.0, 11))


def without_rewards(trajs: list[Trajectory]) -> list[Trajectory]:
    """The episodes as D-REX may get them: no rewards, no ranking."""
    return [Trajectory(t.obs, t.acts, None, t.terminated, t.truncated) for t in trajs]


def test_the_noise_ranking_teaches_a_reward_that_ranks_unseen_episodes(
    graded,  # noqa: ANN001
) -> None:
    taus, curves = [], []
    for seed in range(4):
        demos = without_rewards(graded(ENV, (0.5,), 5, seed))  # one mediocre demonstrator
        cfg = DRexConfig(
            reward=BradleyTerryConfig(pairs=1000, epochs=5),
            noise_levels=10,
            rollouts_per_level=3,
            seed=seed,
        )
        ranked = rank_by_noise(demos, ENV, env_spaces(ENV), cfg)
        reward, facts = fit_ranked_reward(ranked, env_spaces(ENV), cfg)
        held = graded(ENV, HELD_OUT, 2, seed + 100)
        tau = rank_correlation(
            predicted_returns(reward, held), np.array([t.episode_return for t in held])
        )
        taus.append(tau)
        curves.append(stats.spearmanr(facts["noise_levels"], facts["noise_return_means"])[0])
    # measured: τ 0.99 / 0.86 / 0.92 / 0.85; the clone's return falls with ε (Spearman
    # -0.88 / -0.90 / -0.79 / -0.94): the automatic ranking is mostly right
    assert sum(t is not None and t >= 0.6 for t in taus) >= 3, taus
    assert sum(c <= -0.7 for c in curves) >= 3, curves


def test_noisy_rollouts_are_marked_with_their_noise() -> None:
    spaces = env_spaces("CartPole-v1")
    always_left = lambda obs: np.zeros(len(obs), dtype=np.int64)  # noqa: E731
    trajs = noise_rollouts("CartPole-v1", always_left, spaces.action, [0.0, 1.0], 3, seed=0)
    assert [t.meta["noise"] for t in trajs] == [0.0] * 3 + [1.0] * 3
    assert all(np.all(t.acts == 0) for t in trajs[:3])  # no noise: the policy's own
    assert 0.3 < np.mean(np.concatenate([t.acts for t in trajs[3:]])) < 0.7  # all random
    again = noise_rollouts("CartPole-v1", always_left, spaces.action, [0.0, 1.0], 3, seed=0)
    assert all(np.array_equal(a.acts, b.acts) for a, b in zip(trajs, again, strict=True))


def test_a_schedule_that_compares_nothing_is_refused() -> None:
    with pytest.raises(ConfigError, match="min_noise_gap"):
        DRexConfig(noise_min=0.5, noise_max=0.6, min_noise_gap=0.3)
    with pytest.raises(ConfigError, match="noise_levels"):
        DRexConfig(noise_levels=1)
    with pytest.raises(ConfigError, match="probability"):
        DRexConfig(noise_max=1.5)
    np.testing.assert_allclose(DRexConfig().schedule()[[0, -1]], [0.02, 1.0])
    assert len(DRexConfig().schedule()) == 20

"""The Bradley–Terry reward fit and its parts: snippet pairs, the loss, the ensemble's
calibration, and the ranking of episodes by noise, rating or return."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from protege.algorithms.ranking import (
    BradleyTerryConfig,
    RankedEpisodes,
    bradley_terry_loss,
    episode_scores,
    sample_snippet_pairs,
    train_bradley_terry,
)
from protege.algorithms.ranking.bradley_terry import make_ensemble
from protege.algorithms.ranking.loop import resolve_transform
from protege.algorithms.ranking.snippets import given_ranking
from protege.data import Trajectory, flatten_trajectories
from protege.envs import Spaces
from protege.errors import ConfigError, DatasetError

SPACES = Spaces(gym.spaces.Box(-3, 3, (2,), np.float32), gym.spaces.Discrete(2))


def episode(rng: np.random.Generator, length: int, **meta: float) -> Trajectory:
    """Random states; the true reward is the first coordinate of the state."""
    obs = rng.uniform(-3, 3, (length + 1, 2)).astype(np.float32)
    acts = rng.integers(0, 2, length)
    return Trajectory(obs, acts, obs[:-1, 0].copy(), truncated=True, meta=meta)


def test_snippet_pairs_are_equally_long_and_the_better_starts_no_earlier() -> None:
    rng = np.random.default_rng(0)
    trajs = [episode(rng, n) for n in (30, 80, 5, 120)]
    scores = np.array([0.0, 1.0, 2.0, 3.0])
    pairs = sample_snippet_pairs(trajs, scores, 400, 10, 40, rng=np.random.default_rng(1))
    lengths = np.array([len(t) for t in trajs])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    episode_of = np.repeat(np.arange(len(trajs)), lengths)
    for first, second, mask in zip(pairs.first, pairs.second, pairs.mask, strict=True):
        n = int(mask.sum())
        assert mask[:n].all() and not mask[n:].any()
        a, b = episode_of[first[:n]], episode_of[second[:n]]
        assert len(set(a)) == len(set(b)) == 1  # each snippet lies inside one episode
        assert scores[b[0]] > scores[a[0]]  # the second is the better episode's
        assert np.all(np.diff(first[:n]) == 1) and np.all(np.diff(second[:n]) == 1)
        assert min(10, lengths[a[0]], lengths[b[0]]) <= n <= 40
        t_worse, t_better = first[0] - starts[a[0]], second[0] - starts[b[0]]
        if t_worse <= lengths[b[0]] - n:  # where the better snippet can start no earlier
            assert t_better >= t_worse
    assert np.all(pairs.prefer_second == 1.0)


def test_without_later_start_the_better_snippet_starts_anywhere() -> None:
    rng = np.random.default_rng(0)
    trajs = [episode(rng, 100), episode(rng, 100)]
    kw = {"snippet_min": 10, "snippet_max": 10, "rng": np.random.default_rng(1)}
    free = sample_snippet_pairs(trajs, np.array([0.0, 1.0]), 300, later=False, **kw)
    ruled = sample_snippet_pairs(trajs, np.array([0.0, 1.0]), 300, **kw)
    assert np.mean(free.second[:, 0] - 100 < free.first[:, 0]) > 0.3  # about half
    assert np.all(ruled.second[:, 0] - 100 >= ruled.first[:, 0])


def test_pairs_need_two_episodes_that_differ_by_more_than_the_gap() -> None:
    rng = np.random.default_rng(0)
    trajs = [episode(rng, 20) for _ in range(3)]
    with pytest.raises(DatasetError, match="differ in rank"):
        sample_snippet_pairs(trajs, np.zeros(3), 10)
    with pytest.raises(DatasetError, match="by more than 0.5"):
        sample_snippet_pairs(trajs, np.array([0.0, 0.2, 0.4]), 10, min_gap=0.5)
    pairs = sample_snippet_pairs(trajs, np.array([0.0, 0.2, 0.9]), 50, min_gap=0.5)
    assert len(pairs) == 50


def test_the_loss_is_the_bradley_terry_cross_entropy() -> None:
    logits = torch.tensor([2.0, -1.0, 0.0])
    labels = torch.tensor([1.0, 1.0, 0.5])
    p = torch.sigmoid(logits)  # P(second better) = e^R2 / (e^R1 + e^R2)
    expected = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    assert float(bradley_terry_loss(logits, labels)) == pytest.approx(float(expected))


def test_the_fit_recovers_a_reward_from_rankings_of_its_returns() -> None:
    """Episodes ranked by their true return (the sum of the state's first coordinate): the
    learned reward ranks held-out snippets as the true one does."""
    rng = np.random.default_rng(0)
    trajs = [episode(rng, 40) for _ in range(30)]
    scores = np.array([t.episode_return for t in trajs])
    pairs = sample_snippet_pairs(trajs, scores, 600, 5, 20, rng=np.random.default_rng(1))
    fit = train_bradley_terry(pairs, SPACES, BradleyTerryConfig(epochs=8, ensemble=2), seed=0)
    # snippets of a better episode need not be better, so pairs are noisy: measured 0.73
    assert fit.val_accuracy >= 0.6, fit.history[-1]
    states = rng.uniform(-3, 3, (500, 2)).astype(np.float32)
    learned = fit.reward.predict(states, np.zeros(500), states, np.zeros(500))
    assert np.corrcoef(learned, states[:, 0])[0, 1] > 0.75  # measured 0.86
    assert fit.history[-1]["reward_loss"] < fit.history[0]["reward_loss"]


def test_calibration_sets_what_the_reward_pays() -> None:
    rng = np.random.default_rng(0)
    steps = flatten_trajectories([episode(rng, 200)])
    torch.manual_seed(0)
    reward = make_ensemble(SPACES, BradleyTerryConfig(ensemble=3))

    def paid() -> np.ndarray:
        return reward.predict(steps.obs, steps.acts, steps.next_obs, steps.terminated)

    raw = paid()
    reward.calibrate(steps, "standardize")
    z = paid()
    assert abs(z.mean()) < 1e-4 and not np.allclose(raw, z)
    reward.calibrate(steps, "positive")
    assert paid().min() == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(paid() - paid().min(), z - z.min(), atol=1e-5)
    reward.calibrate(steps, "negative")
    assert paid().max() == pytest.approx(0.0, abs=1e-5)
    reward.calibrate(steps, "sigmoid")
    assert np.all((paid() > 0) & (paid() < 1))
    members = np.stack([m.predict(steps.obs, steps.acts, steps.next_obs, steps.terminated)
                        for m in reward.members])  # fmt: skip
    reward.calibrate(steps, "absorbing")  # each member over its root mean square: level kept
    rms = np.sqrt((members**2).mean(1, keepdims=True))
    np.testing.assert_allclose(paid(), (members / rms).mean(0), rtol=1e-4)
    with torch.no_grad():  # a level far above the spread (CartPole's fit paid 56 ± 1)
        for m in reward.members:
            [*_, last] = (p for p in m.parameters() if p.ndim == 1)
            last += 50.0
    reward.calibrate(steps, "absorbing")
    assert np.all(np.abs(paid() - 1.0) < 0.1)  # about 1 a step, as the task's own reward
    with pytest.raises(ConfigError, match="reward_transform"):
        reward.calibrate(steps, "softplus")


def test_episodes_are_ranked_by_noise_rating_or_return() -> None:
    rng = np.random.default_rng(0)
    trajs = [episode(rng, 10, noise=0.5, rating=2.0), episode(rng, 10, noise=0.1, rating=1.0)]
    np.testing.assert_allclose(episode_scores(trajs), [-0.5, -0.1])  # auto: by noise
    np.testing.assert_allclose(episode_scores(trajs, "rating"), [2.0, 1.0])
    returns = episode_scores(trajs, "return")
    np.testing.assert_allclose(returns, [t.episode_return for t in trajs])
    trajs.append(episode(rng, 10))  # no noise recorded: auto ranks by return
    assert len(episode_scores(trajs)) == 3
    with pytest.raises(DatasetError, match=r"episode 2 has no numeric meta\['rating'\]"):
        episode_scores(trajs, "rating")
    unrewarded = Trajectory(trajs[0].obs, trajs[0].acts, None)
    with pytest.raises(DatasetError, match="carries no rewards"):
        episode_scores([unrewarded], "return")
    with pytest.raises(ConfigError, match="rank_by"):
        episode_scores(trajs, "length")


def test_a_given_ranking_keeps_the_episodes_it_names_in_its_order() -> None:
    rng = np.random.default_rng(0)
    trajs = [episode(rng, 10, noise=0.1 * i) for i in range(4)]
    ranked = given_ranking(trajs, [2, 0, 3])  # best first; episode 1 left out
    assert [t.meta["rank"] for t in ranked] == [0, 1, 2]
    assert ranked[0].meta["noise"] == pytest.approx(0.2)  # its own meta kept
    np.testing.assert_allclose(episode_scores(ranked), [0, -1, -2])  # auto: the ranking
    np.testing.assert_allclose(episode_scores(ranked, "noise"), [-0.2, 0.0, -0.3])


def test_auto_pays_a_survival_bonus_where_better_episodes_last_longer() -> None:
    rng = np.random.default_rng(0)
    longer = [episode(rng, n) for n in (10, 20, 30, 40)]
    scores = np.arange(4.0)

    def auto(trajs: list[Trajectory]) -> str:
        return resolve_transform("auto", RankedEpisodes(trajs, scores))

    assert auto(longer) == "positive"  # CartPole: the worse fall sooner
    assert auto(longer[::-1]) == "negative"  # MountainCar: the better finish sooner
    assert auto([episode(rng, 25) for _ in range(4)]) == "standardize"  # Pendulum: fixed
    assert resolve_transform("sigmoid", RankedEpisodes(longer, scores)) == "sigmoid"


def test_preferences_past_a_terminal_step_fix_the_level_against_the_absorbing_state() -> None:
    # one reward per step alive (CartPole): segments that run past a fall keep only their
    # real steps, so the fit must pay the states it saw above the absorbing state's 0
    from protege.algorithms.ranking.queries import pairs_of
    from protege.data import synthetic_preferences

    rng = np.random.default_rng(0)
    trajs = []
    for n in (5, 10, 20, 40, 80):
        t = episode(rng, n)
        trajs.append(Trajectory(t.obs, t.acts, np.ones(n), terminated=True))
    prefs = synthetic_preferences(trajs, 600, 20, seed=0)
    pairs = pairs_of(trajs, prefs)
    assert pairs.second_mask is not None and (pairs.second_mask != pairs.mask).any()
    fit = train_bradley_terry(pairs, SPACES, BradleyTerryConfig(epochs=20), seed=0)
    assert fit.val_accuracy > 0.9
    fit.reward.calibrate(pairs.steps, "absorbing")
    steps = pairs.steps
    paid = fit.reward.predict(steps.obs, steps.acts, steps.next_obs, steps.terminated)
    assert np.mean(paid > 0) > 0.95  # staying alive pays: falling sooner is worse
    fit.reward.calibrate(pairs.steps, "standardize")  # what a shift-free fit would lose
    paid = fit.reward.predict(steps.obs, steps.acts, steps.next_obs, steps.terminated)
    assert np.mean(paid > 0) < 0.8


def test_settings_are_checked_when_made() -> None:
    with pytest.raises(ConfigError, match="snippet_max=5 is below snippet_min=10"):
        BradleyTerryConfig(snippet_max=5)
    with pytest.raises(ConfigError, match="ensemble"):
        BradleyTerryConfig(ensemble=0)

"""DRLHP (`train_preferences`): the query selector picks the pairs the reward ensemble
disagrees on most, a reward learned from a simulated labeller's preferences ranks unseen
Pendulum episodes by their true return, and the job runs without --demos."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from protege.algorithms.ranking import (
    BradleyTerryConfig,
    PreferencesConfig,
    disagreement,
    select_queries,
    train_preferences,
)
from protege.algorithms.ranking.bradley_terry import make_ensemble
from protege.algorithms.ranking.loop import predicted_returns
from protege.data import synthetic_preferences
from protege.envs import env_spaces
from protege.errors import ConfigError
from protege.jobs import dispatch

SMALL_PPO = {"n_steps": 64, "batch_size": 64}


def test_select_queries_takes_the_highest_scores_ties_to_the_earlier() -> None:
    scores = np.array([0.1, 0.5, 0.5, 0.0, 0.9, 0.2])
    assert select_queries(scores, 3).tolist() == [1, 2, 4]
    assert select_queries(scores, 2).tolist() == [1, 4]
    assert select_queries(scores, 10).tolist() == list(range(6))


def test_disagreement_is_the_ensembles_variance_of_the_preference_probability(
    graded,  # noqa: ANN001
) -> None:
    torch.manual_seed(0)
    trajs = graded("Pendulum-v1", (0.2, 1.0), 2, 0)
    reward = make_ensemble(env_spaces("Pendulum-v1"), BradleyTerryConfig(ensemble=3)).eval()
    prefs = synthetic_preferences(trajs, 40, 20, seed=1)
    got = disagreement(reward, trajs, prefs)

    def member_return(k: int, seg: tuple[int, int, int]) -> float:
        t = trajs[seg[0]]
        s = slice(seg[1], seg[2])
        r = reward.members[k](*reward.to_tensors(t.obs[:-1][s], t.acts[s], t.obs[1:][s],
                                                 np.zeros(seg[2] - seg[1])))  # fmt: skip
        return float(r.detach().sum())

    want = [
        np.var([1 / (1 + np.exp(member_return(k, p.b) - member_return(k, p.a))) for k in range(3)])
        for p in prefs
    ]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-9)
    picked = select_queries(got, 5)
    assert set(picked) == set(np.argsort(-got)[:5])
    assert got[picked].min() >= np.delete(got, picked).max()


def test_config_checks_its_settings() -> None:
    with pytest.raises(ConfigError, match="query_selection"):
        PreferencesConfig(query_selection="biggest")
    with pytest.raises(ConfigError, match="ensemble"):
        PreferencesConfig(reward=BradleyTerryConfig(ensemble=1))
    with pytest.raises(ConfigError, match="error"):
        PreferencesConfig(error=1.5)


def _cfg(seed: int, selection: str = "disagreement") -> PreferencesConfig:
    return PreferencesConfig(
        steps=256, rounds=2, queries_per_round=60, candidates=300, rollout_episodes=4,
        segment_length=25, query_selection=selection, seed=seed, n_envs=2, log_every=128,
        eval_every=0, learner_kwargs=SMALL_PPO,
        reward=BradleyTerryConfig(epochs=20, ensemble=3, hidden=(32, 32)),
    )  # fmt: skip


def test_reward_from_synthetic_preferences_ranks_unseen_pendulum_episodes(
    graded,  # noqa: ANN001
) -> None:
    # unseen episodes from the scripted expert at ε = 0 (return near -150) to 1 (random)
    held_out = graded("Pendulum-v1", (0.0, 0.3, 0.6, 1.0), 3, 7)
    true = np.array([t.episode_return for t in held_out])
    corr = []
    for seed in range(4):
        result = train_preferences([], None, _cfg(seed), env="Pendulum-v1")
        assert result.facts["queries"] == 120 and len(result.rounds) == 2
        corr.append(stats.pearsonr(predicted_returns(result.reward, held_out), true).statistic)
    print("Pearson r of learned and true returns, seeds 0-3:", np.round(corr, 3))
    assert sum(c >= 0.9 for c in corr) >= 3, corr


def test_stored_preferences_are_the_queries_and_no_labeller_is_needed(
    graded,  # noqa: ANN001
) -> None:
    trajs = graded("Pendulum-v1", (0.0, 0.5, 1.0), 2, 3)
    stored = synthetic_preferences(trajs, 150, 25, seed=4)
    unrewarded = [replace(t, rews=None) for t in trajs]  # a labeller would fail on these
    cfg = replace(_cfg(0), rounds=3)
    result = train_preferences(unrewarded, None, cfg, env="Pendulum-v1", preferences=stored)
    assert result.facts["ranked_by"] == "dataset" and result.facts["queries"] == 150
    assert result.rounds == [[], [], []]
    true = np.array([t.episode_return for t in trajs])
    r = stats.pearsonr(predicted_returns(result.reward, trajs), true).statistic
    assert r >= 0.9, r


def test_preferences_job_runs_without_demos_and_writes_its_reward(tmp_path: Path) -> None:
    overrides = ("rounds=2", "queries_per_round=10", "candidates=40", "rollout_episodes=2",
                 "n_envs=2", "learner_kwargs.n_steps=64", "learner_kwargs.batch_size=64",
                 "eval_every=0", "reward.epochs=2", "reward.ensemble=2")  # fmt: skip
    cfg = dispatch.build_config("preferences", overrides, learner="ppo", steps=256)
    run = tmp_path / "run"
    metrics = dispatch.train("preferences", "Pendulum-v1", run, cfg, eval_episodes=2)
    assert isinstance(metrics["return_mean"], float) and metrics["queries"] == 20
    assert json.loads((run / "config.json").read_text()).get("demos") is None
    for name in ("policy.zip", "reward.pt2", "reward.json", "rounds/round_001.npz"):
        assert (run / name).is_file(), name

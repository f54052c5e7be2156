"""DAgger is judged by what it learns: against BC with the same number of expert labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from protege.algorithms.bc import BCConfig, train_bc
from protege.algorithms.dagger import (
    DAggerConfig,
    MixturePolicy,
    beta_at,
    label,
    round_path,
    train_dagger,
)
from protege.data import RandomPolicy, flatten_trajectories, rollout
from protege.envs import env_spaces
from protege.errors import ConfigError
from protege.evaluation import evaluate_returns, normalized_score
from protege.experts import CallableExpert
from protege.experts.scripted import scripted_expert

CPU_BC = BCConfig(epochs=50, lr=3e-3, device="cpu")


def score(env_id: str, policy, expert) -> float:  # noqa: ANN001
    """Normalised score on 20 evaluation episodes (seeds 10000..), expert and random alike."""
    spaces = env_spaces(env_id)
    learner = evaluate_returns(env_id, policy, 20, 10_000).mean
    best = evaluate_returns(env_id, expert, 20, 10_000).mean
    rand = evaluate_returns(env_id, RandomPolicy(spaces.action, 10_000), 20, 10_000).mean
    return normalized_score(learner, best, rand)


@pytest.mark.slow
def test_dagger_beats_bc_with_the_same_number_of_expert_labels_on_lunar_lander() -> None:
    env_id, rounds, labels = "LunarLander-v3", 4, 250
    expert = scripted_expert(env_id).act
    spaces = env_spaces(env_id)
    cfg = DAggerConfig(rounds=rounds, labels_per_round=labels, bc=CPU_BC)
    dagger = train_dagger(expert, spaces, cfg, env=env_id)
    assert dagger.history[-1]["labels"] == rounds * labels
    # BC gets the same 2,000 labels as whole expert episodes, the way demonstrations come
    demos = rollout(env_id, expert, 10**9, seed=0, n_envs=1, max_steps=rounds * labels)
    bc = train_bc(flatten_trajectories(demos), spaces, CPU_BC)  # the same fit as DAgger's
    dagger_score, bc_score = score(env_id, dagger.policy, expert), score(env_id, bc.policy, expert)
    # measured: DAgger 0.96, BC 0.43 (with 4 x 500 labels 0.89 and 0.62). BC's own defaults
    # (300 epochs) get 0.81 from the same 1,000 labels: a longer fit closes much of the gap
    assert dagger_score >= 0.85 and dagger_score >= bc_score + 0.25, (dagger_score, bc_score)


def test_cartpole_reaches_475_within_5_rounds_of_2000_labels() -> None:
    expert = scripted_expert("CartPole-v1").act
    cfg = DAggerConfig(rounds=5, labels_per_round=2000, bc=CPU_BC)

    def evaluate(policy) -> dict[str, float]:  # noqa: ANN001
        return {"return_mean": evaluate_returns("CartPole-v1", policy, 10, 10_000).mean}

    result = train_dagger(
        expert, env_spaces("CartPole-v1"), cfg, env="CartPole-v1", evaluate=evaluate
    )
    assert [row["labels"] for row in result.history] == [2000, 4000, 6000, 8000, 10000]
    assert [row["beta"] for row in result.history] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert max(row["return_mean"] for row in result.history) >= 475
    assert evaluate_returns("CartPole-v1", result.policy, 20, 20_000).mean >= 475


def noisy_balance(obs: np.ndarray) -> int:
    """A stochastic per-observation expert: the balance rule, a random action 20% of the time."""
    if np.random.random() < 0.2:
        return int(np.random.randint(2))
    return int(obs[2] + 0.5 * obs[3] > 0)


def test_stochastic_callable_expert_is_queried_on_the_learners_states() -> None:
    np.random.seed(0)
    expert = CallableExpert(noisy_balance, name="noisy_balance")
    cfg = DAggerConfig(rounds=3, labels_per_round=1500, bc=CPU_BC)
    result = train_dagger(expert, env_spaces("CartPole-v1"), cfg, env="CartPole-v1")
    assert evaluate_returns("CartPole-v1", result.policy, 10, 10_000).mean >= 475


def test_beta_schedules() -> None:
    assert [beta_at(DAggerConfig(beta_schedule="constant", beta=0.3), i) for i in range(3)] == [
        1.0, 0.3, 0.3,
    ]  # fmt: skip
    linear = DAggerConfig(beta_schedule="linear", rounds=4)
    assert [beta_at(linear, i) for i in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    exp = DAggerConfig(beta_schedule="exponential", beta_decay=0.5)
    assert [beta_at(exp, i) for i in range(4)] == [1.0, 0.5, 0.25, 0.125]
    with pytest.raises(ConfigError, match="beta_schedule"):
        DAggerConfig(beta_schedule="cosine")


def test_mixture_executes_the_expert_with_probability_beta() -> None:
    expert = lambda obs: np.ones(len(obs), dtype=np.int64)  # noqa: E731
    learner = lambda obs: np.zeros(len(obs), dtype=np.int64)  # noqa: E731
    acts = MixturePolicy(expert, learner, beta=0.3, seed=0)(np.zeros((20_000, 4)))
    assert abs(acts.mean() - 0.3) < 0.02
    assert not MixturePolicy(expert, learner, beta=0.0, seed=0)(np.zeros((100, 4))).any()


def test_interrupted_run_resumes_to_the_same_policy(tmp_path: Path) -> None:
    expert = scripted_expert("CartPole-v1").act
    spaces = env_spaces("CartPole-v1")
    cfg = DAggerConfig(rounds=3, labels_per_round=300, bc=BCConfig(epochs=5, device="cpu"))
    whole = train_dagger(expert, spaces, cfg, env="CartPole-v1", checkpoint=tmp_path / "a")
    # a run killed during round 2 left rounds 0 and 1 on disk
    (tmp_path / "b").mkdir()
    for i in (0, 1):
        shutil.copy(round_path(tmp_path / "a", i), round_path(tmp_path / "b", i))

    calls = []  # finished rounds must not ask the expert again

    def expert_counting(obs):  # noqa: ANN001, ANN202
        calls.append(len(obs))
        return expert(obs)

    resumed = train_dagger(
        expert_counting, spaces, cfg, env="CartPole-v1", checkpoint=tmp_path / "b"
    )
    assert sum(calls) >= 300  # only round 2 was collected...
    assert sum(calls) <= 2 * 300  # ...acting and labelling 300 states, nothing more
    for pa, pb in zip(whole.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert [r["labels"] for r in resumed.history] == [r["labels"] for r in whole.history]


def test_an_expert_with_memory_labels_each_episode_as_it_happened() -> None:
    """CueCorridor's expert remembers the cue shown at an episode's first step; asked about a
    whole episode in one batch it would guess at the fork (a coin flip), so DAgger shows it
    each visited episode step by step from its start."""
    cue = "protege/CueCorridor-v0"
    trajs = rollout(cue, scripted_expert(cue).act, 20, seed=0)
    labelled = label(trajs, scripted_expert(cue).act)
    for t, again in zip(trajs, labelled, strict=True):
        np.testing.assert_array_equal(again.acts, t.acts)
    memoryless = scripted_expert("CartPole-v1").act  # labelled in one batch, as before
    (t,) = rollout("CartPole-v1", memoryless, 1, seed=0)
    np.testing.assert_array_equal(label([t], memoryless)[0].acts, t.acts)

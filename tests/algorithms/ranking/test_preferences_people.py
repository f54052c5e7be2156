"""DRLHP with a person answering (`labeller=human`, here a scripted person through the same
`person` door the window uses) and DRLHP resumed: each answer is on disk the moment it is
given, Q stops the questions but not the training, a run killed mid-labelling asks on
resume exactly the questions it had not asked, and a reward learned from a person who
prefers the higher return ranks unseen episodes by their true return."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from protege.algorithms.ranking import BradleyTerryConfig, PreferencesConfig, train_preferences
from protege.algorithms.ranking.loop import predicted_returns
from protege.checkpoint import load_checkpoint
from protege.data import Segment, Trajectory, load_trajectories
from protege.data.preferences import segment_return
from protege.errors import ConfigError, DatasetError

SMALL_PPO = {"n_steps": 64, "batch_size": 64}


class Killed(Exception):
    """The process dies here (as a SIGKILL would stop it)."""


class ScriptedPerson:
    """Answers each query by the segments' true returns (1.0: a is better), through the
    `person` door the window uses; optionally stops (Q) or dies after so many answers."""

    def __init__(
        self,
        stop_after: int | None = None,
        die_after: int | None = None,
        check: Callable[[int], None] | None = None,
    ) -> None:
        self.stop_after, self.die_after, self.check = stop_after, die_after, check
        self.asked: list[tuple[Segment, Segment]] = []
        self.calls: list[str] = []

    def __call__(
        self,
        trajs: Sequence[Trajectory],
        queries: Sequence[tuple[Segment, Segment]],
        on_answer: Callable[[int, float], None],
        info: str = "",
    ) -> bool:
        self.calls.append(info)
        for i, (a, b) in enumerate(queries):
            if self.die_after is not None and len(self.asked) == self.die_after:
                raise Killed
            if self.stop_after is not None and len(self.asked) == self.stop_after:
                return True  # Q
            self.asked.append((a, b))
            on_answer(i, float(segment_return(trajs, a) > segment_return(trajs, b)))
            if self.check is not None:
                self.check(len(self.asked))
        return False


def _cfg(**changes: object) -> PreferencesConfig:
    cfg = PreferencesConfig(
        steps=256, rounds=2, queries_per_round=6, candidates=40, rollout_episodes=2,
        segment_length=20, seed=0, n_envs=2, log_every=64, eval_every=0,
        learner_kwargs=SMALL_PPO, labeller="human",
        reward=BradleyTerryConfig(epochs=3, ensemble=2, hidden=(16, 16)),
    )  # fmt: skip
    return replace(cfg, **changes)


def test_labeller_must_be_synthetic_or_human() -> None:
    with pytest.raises(ConfigError, match="labeller 'person': choose one of synthetic, human"):
        PreferencesConfig(labeller="person")


def test_each_answer_is_in_the_labels_file_the_moment_it_is_given(tmp_path: Path) -> None:
    labels = tmp_path / "rounds" / "preferences.npz"

    def on_disk(answered: int) -> None:
        stored = load_trajectories(labels)
        assert len(stored.preferences) == answered
        assert all(t.meta["seed"] >= 40_000 for t in stored.trajectories)  # replayable

    person = ScriptedPerson(check=on_disk)
    result = train_preferences([], None, _cfg(), env="Pendulum-v1", labels=labels, person=person)
    assert len(person.asked) == 12 and person.calls == ["round 1/2", "round 2/2"]
    stored = load_trajectories(labels)
    assert [(p.a, p.b) for p in stored.preferences] == person.asked
    assert result.facts["ranked_by"] == "human" and result.facts["queries"] == 12
    assert result.facts["labelling_stopped"] is False
    assert len(stored.trajectories) == 4 and [len(r) for r in result.rounds] == [2, 2]


def test_q_stops_the_questions_and_the_learner_trains_on_what_is_labelled() -> None:
    person = ScriptedPerson(stop_after=4)
    cfg = _cfg(rounds=3, steps=384)
    result = train_preferences([], None, cfg, env="Pendulum-v1", person=person)
    assert len(person.asked) == 4 and len(person.calls) == 1  # never asked again
    assert result.facts["queries"] == 4 and result.facts["labelling_stopped"] is True
    assert result.env_steps >= 384  # every round's training still ran
    assert [len(r) for r in result.rounds] == [2, 0, 0]  # no rollouts for questions after Q


def test_stopping_before_the_first_answer_is_one_clear_error() -> None:
    with pytest.raises(DatasetError, match="labelling stopped before the first answer"):
        train_preferences([], None, _cfg(), env="Pendulum-v1", person=ScriptedPerson(0))


def test_a_run_killed_mid_labelling_asks_on_resume_only_what_it_had_not(tmp_path: Path) -> None:
    unbroken = ScriptedPerson()
    whole = train_preferences([], None, _cfg(), env="Pendulum-v1", person=unbroken)

    labels, ckpt = tmp_path / "preferences.npz", tmp_path / "preferences.pt"
    first = ScriptedPerson(die_after=8)  # all of round 1, then 2 answers of round 2
    with pytest.raises(Killed):
        train_preferences([], None, _cfg(), env="Pendulum-v1", checkpoint=ckpt, labels=labels,
                          person=first)  # fmt: skip
    assert load_checkpoint(ckpt)["state"]["progress"][0] == 1  # round 1 done and saved
    assert len(load_trajectories(labels).preferences) == 8  # the 2 answers after it, too

    second = ScriptedPerson()
    resumed = train_preferences([], None, _cfg(), env="Pendulum-v1", checkpoint=ckpt,
                                labels=labels, person=second)  # fmt: skip
    assert len(second.asked) == 4 and not set(second.asked) & set(first.asked)
    assert first.asked + second.asked == unbroken.asked  # the same questions, each once
    assert resumed.facts["queries"] == whole.facts["queries"] == 12
    stored = load_trajectories(labels).preferences
    assert [(p.a, p.b) for p in stored] == unbroken.asked
    assert resumed.env_steps >= 256 and [len(r) for r in resumed.rounds] == [2, 2]


def test_a_run_killed_while_the_learner_trains_resumes_there(tmp_path: Path) -> None:
    """Synthetic labels; killed at the first learner row after a checkpoint of round 2's
    training: the resumed run keeps the saved rows, asks nothing again, and finishes."""
    from protege.callbacks import Callback

    ckpt, labels = tmp_path / "preferences.pt", tmp_path / "preferences.npz"

    class KillInRoundTwo(Callback):
        def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
            if ckpt.is_file() and load_checkpoint(ckpt)["state"]["progress"][:2] == [1, 1]:
                raise Killed  # round 2 is fitted and its learner is training

    cfg = _cfg(labeller="synthetic", steps=512)
    with pytest.raises(Killed):
        train_preferences([], None, cfg, [KillInRoundTwo()], env="Pendulum-v1",
                          checkpoint=ckpt, labels=labels, checkpoint_every=1)  # fmt: skip
    saved = load_checkpoint(ckpt)
    rows_before = [dict(r) for r in saved["history"]]
    result = train_preferences([], None, cfg, env="Pendulum-v1", checkpoint=ckpt, labels=labels)
    np.testing.assert_equal(result.history[: len(rows_before)], rows_before)  # as they were
    assert result.env_steps >= 512 and result.facts["queries"] == 12
    assert len(load_trajectories(labels).preferences) == 12
    assert load_checkpoint(ckpt)["state"]["progress"][0] == 2  # both rounds finished


def test_reward_from_a_persons_answers_ranks_unseen_pendulum_episodes(
    graded,  # noqa: ANN001
) -> None:
    """The person door end to end: answers of a person preferring the higher return train
    a reward that orders unseen episodes (ε = 0 to 1) by their true return."""
    held_out = graded("Pendulum-v1", (0.0, 0.3, 0.6, 1.0), 3, 7)
    true = np.array([t.episode_return for t in held_out])
    corr = []
    for seed in range(3):
        reward = BradleyTerryConfig(epochs=20, ensemble=3, hidden=(32, 32))
        cfg = _cfg(queries_per_round=60, candidates=300, rollout_episodes=4, segment_length=25,
                   seed=seed, reward=reward)  # fmt: skip
        result = train_preferences([], None, cfg, env="Pendulum-v1", person=ScriptedPerson())
        corr.append(stats.pearsonr(predicted_returns(result.reward, held_out), true).statistic)
    print("Pearson r of learned and true returns, seeds 0-2:", np.round(corr, 3))
    assert sum(c >= 0.9 for c in corr) >= 2, corr

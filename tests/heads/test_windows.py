"""Windows, chunks and temporal ensembling, on hand-made examples: the index maths of
`protege.heads.windows` and the run-time memory of `protege.heads.acting`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from protege.data.types import Trajectory, Transitions, flatten_trajectories
from protege.heads.acting import ActingState, ensemble_weights
from protege.heads.windows import chunk_rows, episode_starts, window_rows


def two_episodes() -> Transitions:
    """Rows 0-2 are episode A (3 steps), rows 3-6 episode B (4 steps); obs = row index."""
    a = Trajectory(np.arange(0, 4, dtype=np.float32)[:, None], np.zeros(3), truncated=True)
    b = Trajectory(np.arange(3, 8, dtype=np.float32)[:, None], np.ones(4), terminated=True)
    return flatten_trajectories([a, b])


def test_flatten_marks_each_episode_start_and_subset_keeps_them() -> None:
    demos = two_episodes()
    assert demos.starts is not None
    assert demos.starts.tolist() == [True, False, False, True, False, False, False]
    # a gap (row 1 dropped) starts a new run of rows: no window reaches across it
    assert demos.subset(np.array([0, 2, 3, 4])).starts.tolist() == [True, True, True, False]  # type: ignore[union-attr]
    empty = Trajectory(np.zeros((1, 1)), np.zeros(0))  # no steps: it starts no row
    after_empty = flatten_trajectories([empty, Trajectory(np.zeros((3, 1)), np.zeros(2))])
    assert after_empty.starts.tolist() == [True, False]  # type: ignore[union-attr]


def test_windows_pad_with_the_first_observation_and_never_cross_episodes() -> None:
    demos = two_episodes()
    starts = episode_starts(demos.starts, demos.terminated, demos.truncated)
    assert window_rows(starts, 3).tolist() == [
        [0, 0, 0], [0, 0, 1], [0, 1, 2],  # episode A
        [3, 3, 3], [3, 3, 4], [3, 4, 5], [4, 5, 6],  # episode B: never rows 1-2
    ]  # fmt: skip
    # without `starts`, the done flags tell the episodes apart the same way
    guessed = episode_starts(None, demos.terminated, demos.truncated)
    assert guessed.tolist() == starts.tolist()


def test_chunk_targets_past_the_episode_end_are_padding() -> None:
    demos = two_episodes()
    starts = episode_starts(demos.starts, demos.terminated, demos.truncated)
    rows, pad = chunk_rows(starts, 3)
    assert rows.tolist() == [
        [0, 1, 2], [1, 2, 2], [2, 2, 2],
        [3, 4, 5], [4, 5, 6], [5, 6, 6], [6, 6, 6],
    ]  # fmt: skip
    assert pad.tolist() == [
        [False, False, False], [False, False, True], [False, True, True],
        [False, False, False], [False, False, False], [False, False, True], [False, True, True],
    ]  # fmt: skip


def test_temporal_ensemble_weighs_predictions_as_act_does() -> None:
    """Chunk 3, m = 0.5: at step 2 three predictions exist for it (made at steps 0, 1, 2);
    ACT weighs the i-th oldest exp(-m·i) and normalises."""
    m = 0.5
    state = ActingState(history=1, chunk=3, m=m, seed=0, draw=None)
    made = {  # step -> its chunk (predictions for steps t, t+1, t+2), one row, one number
        0: [10.0, 11.0, 12.0],
        1: [21.0, 22.0, 23.0],
        2: [32.0, 33.0, 34.0],
    }
    frames = torch.zeros(1, 1)
    outs = [
        float(state.act(frames, lambda _o, _d, c=chunk: torch.tensor(c).view(1, 3, 1)))
        for chunk in made.values()
    ]
    w = [math.exp(-m * i) for i in range(3)]
    assert np.allclose(ensemble_weights(3, m), np.array(w) / sum(w))
    assert outs[0] == 10.0  # one prediction for step 0
    assert math.isclose(outs[1], (11.0 * w[0] + 21.0 * w[1]) / (w[0] + w[1]), rel_tol=1e-6)
    want = (12.0 * w[0] + 22.0 * w[1] + 32.0 * w[2]) / sum(w)
    assert math.isclose(outs[2], want, rel_tol=1e-6)
    # a new episode drops the pending predictions: its first action is its own prediction
    state.start_episode(0, 5)
    assert float(state.act(frames, lambda _o, _d: torch.full((1, 3, 1), 7.0))) == 7.0


def test_acting_windows_restart_per_row_and_on_a_new_batch_size() -> None:
    state = ActingState(history=3, chunk=1, m=0.01, seed=0, draw=None)
    seen: list[list[list[float]]] = []

    def predict(frames: torch.Tensor, _draws: object) -> torch.Tensor:
        seen.append(frames.view(-1, 3).tolist())  # (B, H) window per row
        return torch.zeros(len(frames) // 3, 1, 1)

    state.act(torch.tensor([[1.0], [5.0]]), predict)
    state.act(torch.tensor([[2.0], [6.0]]), predict)
    state.start_episode(1, 9)  # row 1 starts a new episode
    state.act(torch.tensor([[3.0], [7.0]]), predict)
    assert seen == [
        [[1, 1, 1], [5, 5, 5]],
        [[1, 1, 2], [5, 5, 6]],
        [[1, 2, 3], [7, 7, 7]],
    ]
    state.act(torch.tensor([[4.0]]), predict)  # another batch size: every row afresh
    assert seen[-1] == [[4, 4, 4]]


def test_per_episode_streams_depend_on_the_episode_not_the_row() -> None:
    def first_draws(slot: int, episode: int) -> torch.Tensor:
        state = ActingState(history=1, chunk=1, m=0.0, seed=3, draw=("normal", 2))
        got: list[torch.Tensor] = []
        state.start_episode(slot, episode)
        state.act(torch.zeros(2, 1), lambda _o, d: got.append(d) or torch.zeros(2, 1, 1))  # type: ignore[func-returns-value]
        return got[0][slot]

    assert torch.equal(first_draws(0, 4), first_draws(1, 4))
    assert not torch.equal(first_draws(0, 4), first_draws(0, 5))


@pytest.mark.parametrize("redraw", ["episode", "step"])
def test_redraw_keeps_a_rows_draws_for_its_episode_or_draws_every_step(redraw: str) -> None:
    """Two rows, three steps, then row 1 starts a new episode: with redraw="episode" each
    row's draws stay those of its episode's first step, and the restarted row's are its new
    episode's first draws; with "step" every step draws afresh."""
    state = ActingState(history=1, chunk=1, m=0.0, seed=3, draw=("normal", 2), redraw=redraw)
    seen: list[torch.Tensor] = []

    def step() -> torch.Tensor:
        state.act(torch.zeros(2, 1), lambda _o, d: seen.append(d) or torch.zeros(2, 1, 1))  # type: ignore[func-returns-value]
        return seen[-1].clone()

    state.start_episode(0, 0)
    state.start_episode(1, 1)
    first, second, third = step(), step(), step()
    state.start_episode(1, 2)
    restarted = step()
    fresh = ActingState(history=1, chunk=1, m=0.0, seed=3, draw=("normal", 2), redraw=redraw)
    fresh.start_episode(1, 2)
    fresh.act(torch.zeros(2, 1), lambda _o, d: seen.append(d) or torch.zeros(2, 1, 1))  # type: ignore[func-returns-value]
    if redraw == "episode":
        assert torch.equal(first, second) and torch.equal(first, third)
        assert torch.equal(restarted[0], first[0])  # row 0 keeps its episode's draws
        assert torch.equal(restarted[1], seen[-1][1])  # row 1: episode 2's first draws
        assert not torch.equal(restarted[1], first[1])
    else:
        assert not torch.equal(first, second) and not torch.equal(second, third)
        assert not torch.equal(restarted[0], third[0])


def test_redraw_must_be_episode_or_step() -> None:
    with pytest.raises(ValueError, match="redraw='often'"):
        ActingState(history=1, chunk=1, m=0.0, seed=0, draw=None, redraw="often")


def test_receding_horizon_plays_each_chunk_open_loop_then_predicts_again() -> None:
    """Chunk 4, action_steps 3: a row predicts at its steps 0, 3, 6, ... and plays actions
    0-2 of that chunk; a row starting a new episode predicts at once, the other row keeps
    playing its chunk."""
    state = ActingState(history=1, chunk=4, m=0.01, seed=0, draw=None, execute=3)
    calls: list[int] = []

    def predict(frames: torch.Tensor, _draws: object) -> torch.Tensor:
        calls.append(len(calls))  # the k-th prediction: chunk 100k + (0, 1, 2, 3) per row
        base = 100.0 * len(calls) + torch.arange(4.0)
        return torch.stack([base, base + 50.0]).view(2, 4, 1)

    def step() -> list[float]:
        return state.act(torch.zeros(2, 1), predict).view(-1).tolist()

    assert [step() for _ in range(4)] == [
        [100.0, 150.0], [101.0, 151.0], [102.0, 152.0], [200.0, 250.0]
    ]  # fmt: skip
    assert len(calls) == 2  # predictions at steps 0 and 3 only
    state.start_episode(1, 7)  # row 1 restarts: it takes the new chunk's first action,
    assert step() == [201.0, 350.0]  # row 0 plays on from its chunk made at step 3
    assert step() == [202.0, 351.0]
    assert step() == [400.0, 352.0]
    assert len(calls) == 4


def test_receding_horizon_must_fit_in_the_chunk() -> None:
    with pytest.raises(ValueError, match="execute=5"):
        ActingState(history=1, chunk=4, m=0.01, seed=0, draw=None, execute=5)

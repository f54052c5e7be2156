"""The training loop both algorithms share: offline (demonstrations only) or online.

Offline, every iteration is one update on a minibatch of expert transitions and no
environment is built. Online, the learner acts in one environment with its soft policy,
stores its transitions in a replay buffer and, every `update_every` steps, updates on an
equal mix of expert and own transitions. Either way `update(expert, learner)` is the
algorithm: it receives the two minibatches (learner None offline) and returns metrics.

With `checkpoint=PATH` the whole training state is saved there every `checkpoint_every`
progress rows, and a loop that finds the file continues from it: offline it ends exactly
as a run never stopped; online the episode under way at the checkpoint is not resumed (the
env is reset), but the step count, the replay buffer and the history carry on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from protege.algorithms.best import BestSoFar
from protege.algorithms.qlearning.learner import SoftQLearner, preprocessed
from protege.algorithms.replay import ReplayBuffer, TensorTransitions
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.data.rollout import Policy
from protege.data.types import obs_stack
from protege.envs import EnvFactory, make_env
from protege.errors import ConfigError

Update = Callable[[TensorTransitions, TensorTransitions | None], dict[str, float]]
Evaluate = Callable[[Policy], dict[str, float]]


@runtime_checkable
class Stateful(Protocol):
    """An update step with state of its own to checkpoint (IQ-Learn's termination rate)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class LoopSettings(Protocol):
    """The config fields the loop reads (IQLearnConfig and SQILConfig both have them)."""

    @property
    def steps(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def learning_starts(self) -> int: ...

    @property
    def update_every(self) -> int: ...

    @property
    def buffer_size(self) -> int: ...

    @property
    def log_every(self) -> int: ...

    @property
    def eval_every(self) -> int: ...

    @property
    def seed(self) -> int: ...


@dataclass
class LoopResult:
    """History rows (one per `log_every`), training seconds (evaluation excluded), env steps."""

    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    env_steps: int = 0
    best: BestSoFar = field(default_factory=BestSoFar)
    """The best progress evaluation (`evaluate`'s return_mean) and the policy's weights then."""


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for r in rows for k in r}
    return {k: float(np.mean([r[k] for r in rows if k in r])) for k in sorted(keys)}


class _Checkpointer:
    """Saves the loop's whole state to `path` every `every` progress rows, and reads it back.

    state: the loop's own part (online: the replay buffer and episode returns).
    """

    def __init__(
        self,
        path: str | Path | None,
        every: int,
        learner: SoftQLearner,
        update: Update,
        state: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.every, self.learner, self.update, self.state = max(every, 1), learner, update, state
        self.best: BestSoFar | None = None  # the reporter's, saved with the rest

    def load(self) -> dict[str, Any] | None:
        """The saved state, already put back into the learner and update; None to start."""
        if self.path is None or not self.path.is_file():
            return None
        saved = load_checkpoint(self.path)
        with restoring(self.path):
            self.learner.load_state_dict(saved["learner"])
            if isinstance(self.update, Stateful):
                self.update.load_state_dict(saved["update"])
            torch.set_rng_state(saved["torch_rng"])
        return saved

    def save(self, step: int, history: list[dict[str, float]]) -> None:
        """Save after `step` when the row just added to `history` is due."""
        if self.path is None or len(history) % self.every:
            return
        update: dict[str, Any] = {}
        if isinstance(self.update, Stateful):
            update = self.update.state_dict()
        save_checkpoint(self.path, {
            "step": step, "history": history, "learner": self.learner.state_dict(),
            "update": update, "torch_rng": torch.get_rng_state(), **self.state(),
            "best": self.best.checkpoint_state() if self.best is not None else None,
        })  # fmt: skip


class _Reporter:
    """Averages update metrics between reports, evaluates when due, times callbacks out,
    checkpoints after each due row."""

    def __init__(
        self,
        cfg: LoopSettings,
        learner: SoftQLearner,
        cb: Callback,
        evaluate: Evaluate | None,
        saver: _Checkpointer,
    ) -> None:
        self.cfg, self.learner, self.cb, self.evaluate = cfg, learner, cb, evaluate
        self.saver = saver
        self.rows: list[dict[str, float]] = []
        self.result = LoopResult()
        saver.best = self.result.best
        self.start, self.outside = time.perf_counter(), 0.0
        self.reports = 0

    def seconds(self) -> float:
        return time.perf_counter() - self.start - self.outside

    def resume(self, saved: dict[str, Any] | None) -> int:
        """Replay a checkpoint's rows to the callbacks and restart the clock where it was;
        the step to continue after (0 without a checkpoint)."""
        if saved is None:
            return 0
        self.result.history = [dict(row) for row in saved["history"]]
        self.result.best.load_checkpoint_state(saved.get("best"))
        for i, row in enumerate(self.result.history):
            self.cb.on_iteration(i, row)
        self.reports = len(self.result.history)
        seconds = self.result.history[-1]["seconds"] if self.result.history else 0.0
        self.start, self.outside = time.perf_counter() - seconds, 0.0
        return int(saved["step"])

    def report(self, step: int, extra: dict[str, float]) -> None:
        row = {"step": float(step), **_mean(self.rows), **extra, "seconds": self.seconds()}
        self.rows = []
        tick = time.perf_counter()
        due = self.reports % max(self.cfg.eval_every, 1) == 0 or step >= self.cfg.steps
        if self.evaluate is not None and self.cfg.eval_every > 0 and due:
            policy = self.learner.policy()
            row.update(self.evaluate(policy))
            if "return_mean" in row:
                self.result.best.offer(row["return_mean"], step, policy)
        self.result.history.append(row)
        self.saver.save(step, self.result.history)  # before the callbacks, as BC does
        self.cb.on_iteration(self.reports, row)
        self.reports += 1
        self.outside += time.perf_counter() - tick


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside, restoring the setting after.

    Each update is a handful of small matrix products: on a 2-core machine that is busy
    with anything else, two torch threads waiting on each other made online CartPole
    8.7x slower (43.4 s against 5.0 s for 3000 steps).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _n_reports(cfg: LoopSettings) -> int:
    return -(-cfg.steps // cfg.log_every)


def _check(cfg: LoopSettings) -> None:
    for name in ("steps", "batch_size", "update_every", "log_every", "buffer_size"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be at least 1, not {getattr(cfg, name)}")


def run_offline(
    learner: SoftQLearner,
    expert: TensorTransitions,
    update: Update,
    cfg: LoopSettings,
    callbacks: Sequence[Callback] = (),
    evaluate: Evaluate | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> LoopResult:
    """`cfg.steps` updates on expert minibatches; no environment is built or stepped.

    checkpoint: a file for the whole training state, saved every `checkpoint_every`
        progress rows; when it exists, training continues from it and ends with the
        weights of a run never stopped (the saved rows are replayed to the callbacks).
    """
    _check(cfg)
    cb = CallbackList(callbacks)
    saver = _Checkpointer(checkpoint, checkpoint_every, learner, update)
    saved = saver.load()
    rep = _Reporter(cfg, learner, cb, evaluate, saver)
    cb.on_start(_n_reports(cfg), "report")
    first = rep.resume(saved)
    with one_thread():
        for step in range(first + 1, cfg.steps + 1):
            rep.rows.append(update(expert.sample(cfg.batch_size, learner.gen), None))
            if step % cfg.log_every == 0 or step == cfg.steps:
                rep.report(step, {})
    rep.result.train_seconds = rep.seconds()
    cb.on_end(rep.result.history[-1] if rep.result.history else {})
    return rep.result


def run_online(
    learner: SoftQLearner,
    expert: TensorTransitions,
    update: Update,
    cfg: LoopSettings,
    env: str | EnvFactory,
    callbacks: Sequence[Callback] = (),
    evaluate: Evaluate | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> LoopResult:
    """`cfg.steps` env steps of the soft policy; updates mix expert and replayed transitions.

    Before `learning_starts` steps the learner acts with its initial policy and trains on
    nothing; each minibatch is half expert, half its own (`batch_size` of each).
    checkpoint: as `run_offline`'s, with the replay buffer and the episode returns; on
        resuming, the episode under way at the checkpoint is dropped and a new one begins
        (the env is reset with seed `cfg.seed + step`).
    """
    _check(cfg)
    cb = CallbackList(callbacks)
    e = make_env(env) if isinstance(env, str) else env()
    buffer = ReplayBuffer(cfg.buffer_size, learner.device)
    returns: list[float] = []
    saver = _Checkpointer(checkpoint, checkpoint_every, learner, update,
                          lambda: {"buffer": buffer.state_dict(), "returns": returns})  # fmt: skip
    saved = saver.load()
    if saved is not None:
        with restoring(checkpoint):
            buffer.load_state_dict(saved["buffer"])
            returns.extend(float(r) for r in saved["returns"])
    rep = _Reporter(cfg, learner, cb, evaluate, saver)
    ep_return = 0.0
    cb.on_start(_n_reports(cfg), "report")
    first = rep.resume(saved)
    with one_thread(), closing(e):
        obs, _ = e.reset(seed=cfg.seed + first)
        e.action_space.seed(cfg.seed)
        for step in range(first + 1, cfg.steps + 1):
            batch_obs = obs_stack([obs])
            act = learner.explore(batch_obs)
            next_obs, reward, terminated, truncated, _ = e.step(act[0])
            step_batch = (batch_obs, act, obs_stack([next_obs]), np.array([terminated]))
            buffer.add(preprocessed(*step_batch, learner.spaces, learner.device))
            ep_return += float(reward)
            if terminated or truncated:
                returns.append(ep_return)
                ep_return = 0.0
                obs, _ = e.reset()
            else:
                obs = next_obs
            if step >= cfg.learning_starts and step % cfg.update_every == 0:
                for _ in range(cfg.update_every):
                    rows = update(
                        expert.sample(cfg.batch_size, learner.gen),
                        buffer.sample(cfg.batch_size, learner.gen),
                    )
                    rep.rows.append(rows)
            if step % cfg.log_every == 0 or step == cfg.steps:
                recent = returns[-10:]
                extra = {"episodes": float(len(returns))}
                if recent:
                    extra["train_return"] = float(np.mean(recent))
                rep.report(step, extra)
    rep.result.train_seconds = rep.seconds()
    rep.result.env_steps = cfg.steps
    cb.on_end(rep.result.history[-1] if rep.result.history else {})
    return rep.result

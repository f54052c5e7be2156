"""The training loop both algorithms share: offline (demonstrations only) or online.

Offline, every iteration is one update on a minibatch of expert transitions and no
environment is built. Online, the learner acts in one environment with its soft policy,
stores its transitions in a replay buffer and, every `update_every` steps, updates on an
equal mix of expert and own transitions. Either way `update(expert, learner)` is the
algorithm: it receives the two minibatches (learner None offline) and returns metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from protege.algorithms.qlearning.learner import SoftQLearner
from protege.algorithms.qlearning.replay import Batch, ReplayBuffer
from protege.callbacks import Callback, CallbackList
from protege.data.rollout import Policy
from protege.data.types import obs_stack
from protege.envs import EnvFactory, make_env
from protege.errors import ConfigError

Update = Callable[[Batch, Batch | None], dict[str, float]]
Evaluate = Callable[[Policy], dict[str, float]]


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


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for r in rows for k in r}
    return {k: float(np.mean([r[k] for r in rows if k in r])) for k in sorted(keys)}


class _Reporter:
    """Averages update metrics between reports, evaluates when due, times callbacks out."""

    def __init__(
        self, cfg: LoopSettings, learner: SoftQLearner, cb: Callback, evaluate: Evaluate | None
    ) -> None:
        self.cfg, self.learner, self.cb, self.evaluate = cfg, learner, cb, evaluate
        self.rows: list[dict[str, float]] = []
        self.result = LoopResult()
        self.start, self.outside = time.perf_counter(), 0.0
        self.reports = 0

    def seconds(self) -> float:
        return time.perf_counter() - self.start - self.outside

    def report(self, step: int, extra: dict[str, float]) -> None:
        row = {"step": float(step), **_mean(self.rows), **extra, "seconds": self.seconds()}
        self.rows = []
        tick = time.perf_counter()
        due = self.reports % max(self.cfg.eval_every, 1) == 0 or step >= self.cfg.steps
        if self.evaluate is not None and self.cfg.eval_every > 0 and due:
            row.update(self.evaluate(self.learner.policy()))
        self.result.history.append(row)
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
    expert: Batch,
    update: Update,
    cfg: LoopSettings,
    callbacks: Sequence[Callback] = (),
    evaluate: Evaluate | None = None,
) -> LoopResult:
    """`cfg.steps` updates on expert minibatches; no environment is built or stepped."""
    _check(cfg)
    cb = CallbackList(callbacks)
    rep = _Reporter(cfg, learner, cb, evaluate)
    cb.on_start(_n_reports(cfg), "report")
    with one_thread():
        for step in range(1, cfg.steps + 1):
            rep.rows.append(update(expert.sample(cfg.batch_size, learner.gen), None))
            if step % cfg.log_every == 0 or step == cfg.steps:
                rep.report(step, {})
    rep.result.train_seconds = rep.seconds()
    cb.on_end(rep.result.history[-1] if rep.result.history else {})
    return rep.result


def run_online(
    learner: SoftQLearner,
    expert: Batch,
    update: Update,
    cfg: LoopSettings,
    env: str | EnvFactory,
    callbacks: Sequence[Callback] = (),
    evaluate: Evaluate | None = None,
) -> LoopResult:
    """`cfg.steps` env steps of the soft policy; updates mix expert and replayed transitions.

    Before `learning_starts` steps the learner acts with its initial policy and trains on
    nothing; each minibatch is half expert, half its own (`batch_size` of each).
    """
    _check(cfg)
    cb = CallbackList(callbacks)
    e = make_env(env) if isinstance(env, str) else env()
    buffer = ReplayBuffer(cfg.buffer_size, learner.spaces, learner.device)
    rep = _Reporter(cfg, learner, cb, evaluate)
    returns: list[float] = []
    ep_return = 0.0
    cb.on_start(_n_reports(cfg), "report")
    with one_thread(), closing(e):
        obs, _ = e.reset(seed=cfg.seed)
        e.action_space.seed(cfg.seed)
        for step in range(1, cfg.steps + 1):
            batch_obs = obs_stack([obs])
            act = learner.explore(batch_obs)
            next_obs, reward, terminated, truncated, _ = e.step(act[0])
            buffer.add(batch_obs, act, obs_stack([next_obs]), np.array([terminated]))
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

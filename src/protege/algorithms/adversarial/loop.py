"""The loop GAIL, AIRL and guided cost learning share: one learner, one discriminator.

An SB3 learner (PPO, SAC or DQN, built by `protege.rl.build_learner`) acts in envs whose
reward is the discriminator's current `policy_reward`; every learner transition is also
kept in a small window. Each round (every PPO rollout, or every `disc_every` steps of an
off-policy learner) the discriminator takes `disc_updates` Adam steps on its algorithm's
loss, each on `demo_batch_size` expert and as many learner transitions. Off-policy learners
replay old transitions with the *current* reward (Kostrikov et al. 2019, DAC).

The algorithms differ only in their `Discriminator` (what a logit is, what the learner is
paid) and their loss; both are passed in. This module is the plumbing between the parts:

    config.py         AdversarialConfig, the settings all three share
    discriminator.py  the Discriminator interface, its batches, the gradient penalty
    adversary.py      the discriminator's side: pay, relabel, window, one round of updates
    scale.py          the running reward scale (`normalize_reward`)
    protege.algorithms.replay   the window (the replay buffer soft-Q learners use too)
    protege.rl        the SB3 learner: building, checkpointing, pacing it in rounds

With `checkpoint=`, the whole state (learner, optimisers, replay buffer, discriminator,
window, generators, history) is saved to one file every `checkpoint_every` rounds
(`protege.checkpoint.CHECKPOINT_EVERY`, 10, by default: 2,560 env steps with the default PPO
rollout or disc_every), and a later call continues from it; episodes under way at the kill
start over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege.algorithms.adversarial.adversary import Adversary
from protege.algorithms.adversarial.config import AdversarialConfig
from protege.algorithms.adversarial.discriminator import Discriminator, Loss
from protege.algorithms.best import CHECK_SEED as CHECK_SEED  # benchmarks read it here
from protege.algorithms.best import BestSoFar, evaluate_learner, evaluation_due
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces, check_supported, make_env
from protege.errors import ConfigError, DatasetError
from protege.experts import SB3Expert
from protege.nets import resolve_device
from protege.rewards import RewardNet, RewardVecEnvWrapper, fit_obs_normalizers
from protege.rl import (
    build_learner,
    check_learner,
    learner_state,
    make_vec_env,
    recent_returns,
    restore_learner_state,
    round_callback,
)


@dataclass
class AdversarialResult:
    """The learner (an SB3 model: `.save("policy.zip")`), the learned reward, the
    discriminator, one history row per round, training seconds (evaluations excluded), env
    steps taken, and the env step at which `target_return` was first reached (or None)."""

    model: Any
    reward: RewardNet
    discriminator: Discriminator
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    env_steps: int = 0
    steps_to_target: int | None = None
    best: BestSoFar = field(default_factory=BestSoFar)
    """The best in-training evaluation (`eval_every`, seeds from CHECK_SEED) and the learner
    policy's weights then (`model.policy`)."""

    @property
    def policy(self) -> SB3Expert:
        """The learner as a batched policy acting deterministically: an attribute, as
        `BCResult.policy` and the other results' are (call it on a batch of observations)."""
        return SB3Expert(self.model)


def env_spaces_of(env: str | EnvFactory) -> Spaces:
    """The spaces of an env id or builder (built once, closed)."""
    e = make_env(env) if isinstance(env, str) else env()
    try:
        return check_supported(Spaces.of(e), str(env))
    finally:
        e.close()


def _learner_env(
    env: str | EnvFactory | None, spaces: Spaces | None
) -> tuple[str | EnvFactory, Spaces]:
    """The env the learner acts in and its spaces, checked: this family needs an env, and
    `spaces`, when given, must be the env's (the discriminator is built for them)."""
    if env is None:
        raise ConfigError(
            "adversarial imitation trains a learner in the environment: pass env= (a "
            "Gymnasium id or a zero-argument builder)"
        )
    actual = env_spaces_of(env)
    if spaces is not None and spaces != actual:
        raise ConfigError(
            f"spaces {spaces} are not the spaces of {env} ({actual}); pass the env's, or "
            "None to take them from the env"
        )
    return env, actual


def train_adversarial(
    demos: Transitions,
    spaces: Spaces | None,
    cfg: AdversarialConfig,
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    make_disc: Callable[[Spaces], Discriminator],
    loss: Loss,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> AdversarialResult:
    """Alternate learner rollouts on the discriminator's reward and discriminator rounds.

    demos: expert transitions in the env's spaces (`protege.data.flatten_trajectories`);
        `terminated` marks terminal next states, so episodes of any length mix freely.
    spaces: the env's spaces, or None to take them from the env.
    env: a Gymnasium id or a zero-argument builder (the learner's envs and evaluations);
        required, as a keyword to match every trainer's signature.
    make_disc: builds the algorithm's discriminator for the env's spaces (after seeding);
        the observation normalisers of its reward nets, where it has them
        (`normalize_obs`), are fitted to the demonstrations' observations here.
    loss: the discriminator's loss on an expert and a learner batch.
    Callbacks get `on_start(steps, "env step")` and one `on_iteration` per round whose row
    holds `env_steps`, the learner's recent true `return_mean`, `disc_loss`,
    `disc_accuracy`, `expert_reward` / `learner_reward` (the saved reward's minibatch
    means), and `eval_return` when an evaluation ran.
    checkpoint: a file for the whole training state, saved every `checkpoint_every` rounds
        once the learner has trained on the round; when it exists, training continues from
        it (its rows are replayed to the callbacks) with fresh episodes.
    """
    if len(demos) == 0:
        raise DatasetError("the demonstrations hold no transitions; record some episodes")
    env, spaces = _learner_env(env, spaces)
    check_learner(cfg.learner, spaces.action, str(env))
    torch.manual_seed(cfg.seed)
    disc = make_disc(spaces).to(resolve_device(cfg.device))
    fit_obs_normalizers(disc, demos.obs)  # a no-op unless built with normalize_obs
    adversary = Adversary(disc, loss, demos, cfg)
    on_policy = cfg.learner == "ppo"
    n_envs = cfg.n_envs if on_policy else 1
    venv = RewardVecEnvWrapper(make_vec_env(env, n_envs, cfg.seed), adversary.env_reward)
    model = build_learner(
        cfg.learner, venv, cfg.seed, str(resolve_device(cfg.device)),
        reward_relabel=None if on_policy else adversary.relabel, **cfg.learner_kwargs,
    )  # fmt: skip
    round_steps = model.n_steps * n_envs if on_policy else cfg.disc_every
    adversary.attach(model, cfg.learner_window or round_steps * (1 if on_policy else 10))

    cb = CallbackList(callbacks)
    history: list[dict[str, float]] = []
    reached: list[int] = []
    best = BestSoFar()
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    if saved is not None:
        with restoring(checkpoint):
            adversary.load_checkpoint_state(saved["adversary"])
            restore_learner_state(model, saved["learner"])
            torch.set_rng_state(saved["torch_rng"])
            history, reached = [dict(row) for row in saved["history"]], list(saved["reached"])
            best.load_checkpoint_state(saved.get("best"))
        venv.seed(_resume_seed(cfg.seed, model.num_timesteps))  # not the first episodes again
    start, outside = time.perf_counter() - (saved["seconds"] if saved else 0.0), 0.0

    def on_round(env_steps: int) -> dict[str, float]:
        row: dict[str, float] = {"env_steps": float(env_steps)}
        row.update(adversary.train_round())
        episodes = recent_returns(model, 20)
        row["return_mean"] = float(np.mean(episodes)) if episodes else math.nan
        return row

    def save() -> None:
        assert checkpoint is not None
        save_checkpoint(checkpoint, {
            "learner": learner_state(model), "adversary": adversary.checkpoint_state(),
            "torch_rng": torch.get_rng_state(), "history": history, "reached": reached,
            "seconds": time.perf_counter() - start - outside, "best": best.checkpoint_state(),
        })  # fmt: skip

    def report(row: dict[str, float]) -> bool:
        nonlocal outside
        tick = time.perf_counter()
        env_steps = int(row["env_steps"])
        last = int(history[-1]["env_steps"]) if history else None
        if evaluation_due(cfg.eval_every, env_steps, last):
            # the policy as it is now, after training on the round's data
            row["eval_return"] = evaluate_learner(env, model, cfg.eval_episodes, env_steps, best)
            if cfg.target_return is not None and row["eval_return"] >= cfg.target_return:
                reached.append(env_steps)
        outside += time.perf_counter() - tick
        row["seconds"] = time.perf_counter() - start - outside
        cb.on_iteration(len(history), row)
        history.append(row)
        if checkpoint is not None and len(history) % max(checkpoint_every, 1) == 0:
            tick = time.perf_counter()
            save()
            outside += time.perf_counter() - tick  # writing files is not training
        return not reached

    cb.on_start(cfg.steps, "env step")
    for i, row in enumerate(history):
        cb.on_iteration(i, row)
    last = int(history[-1]["env_steps"]) if history else 0
    try:
        if model.num_timesteps < cfg.steps and not reached:
            model.learn(
                total_timesteps=cfg.steps - model.num_timesteps,
                callback=round_callback(on_round, report, round_steps, last),
                reset_num_timesteps=False,  # a resumed learner counts on from its checkpoint
            )
    finally:
        venv.close()
    result = AdversarialResult(
        model, disc.reward, disc, history, time.perf_counter() - start - outside,
        int(model.num_timesteps), reached[0] if reached else None, best,
    )  # fmt: skip
    cb.on_end(history[-1] if history else {})
    return result


def _resume_seed(seed: int, env_steps: int) -> int:
    """The envs' seed after a resume: apart from the first run's and from evaluation seeds."""
    return int(np.random.SeedSequence([seed, env_steps]).generate_state(1)[0])

"""The loop GAIL, AIRL and guided cost learning share: one learner, one discriminator.

An SB3 learner (PPO, SAC or DQN, built by `protege.rl.build_learner`) acts in envs whose
reward is the discriminator's current `policy_reward`; every learner transition is also
kept in a small window. Each round (every PPO rollout, or every `disc_every` steps of an
off-policy learner) the discriminator takes `disc_updates` Adam steps on its algorithm's
loss, each on `demo_batch_size` expert and as many learner transitions. Off-policy learners
replay old transitions with the *current* reward (Kostrikov et al. 2019, DAC).

The algorithms differ only in their `Discriminator` (what a logit is, what the learner is
paid) and their loss; both are passed in. Everything here is plumbing.

With `checkpoint=`, the whole state (learner, optimisers, replay buffer, discriminator,
window, generators, history) is saved to one file every `checkpoint_every` rounds, and a
later call continues from it; episodes under way at the kill start over.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from protege.callbacks import Callback, CallbackList
from protege.checkpoint import load_checkpoint, restoring, save_checkpoint
from protege.data.rollout import rollout
from protege.data.types import Obs, Transitions, obs_index
from protege.envs import EnvFactory, Spaces, check_supported, make_env
from protege.errors import ConfigError, DatasetError
from protege.nets import TensorObs, index_tensor_obs, resolve_device
from protege.rewards import RewardNet, RewardVecEnvWrapper
from protege.rl import (
    ALGOS,
    build_learner,
    check_learner,
    check_learner_kwargs,
    learner_log_prob,
    make_vec_env,
)

CHECK_SEED = 20_000
"""In-training evaluations (`eval_every`) use episode seeds 20000, 20001, ...: apart from
demonstration seeds (0, 1, ...) and the final evaluation's (10000, ...)."""

CHECKPOINT_EVERY = 10
"""Rounds between checkpoints: 2,560 env steps with the default PPO rollout or disc_every."""


@dataclass(frozen=True)
class AdversarialConfig:
    """Settings every adversarial algorithm shares. Each algorithm's config subclasses it
    with defaults tuned on CartPole-v1 (PPO) and Pendulum-v1 (SAC).

    steps: learner env steps in all (a run stops sooner once `target_return` is reached).
    learner: "ppo" (on-policy), "sac" (Box actions) or "dqn" (Discrete actions).
    n_envs: parallel envs for PPO; off-policy learners step one env.
    learner_kwargs: SB3 settings over protege's defaults (`protege.rl.LEARNER_DEFAULTS`).
    demo_batch_size: expert transitions per discriminator minibatch (learner: as many).
    disc_updates: discriminator Adam steps per round.
    disc_every: env steps between rounds for off-policy learners (PPO: every rollout).
    disc_lr: discriminator learning rate.
    disc_hidden: hidden sizes of the reward MLPs.
    grad_penalty: weight of the gradient penalty on expert/learner interpolates (Gulrajani
        et al. 2017, as DAC uses it); 0 disables it.
    normalize_reward: divide the learner's reward by its running standard deviation (the
        sign is kept, so a survival bonus stays a bonus).
    learner_window: the discriminator's learner samples come from the latest this-many
        transitions; 0: the latest round (on-policy) or 10 rounds (off-policy).
    absorbing: the reward sees whether s' is terminal, so ending an episode gets a learned
        reward of its own (Kostrikov et al. 2019's absorbing-state treatment, as an input).
    eval_every: env steps between deterministic evaluations (0: never).
    eval_episodes: episodes per evaluation (seeds 20000, 20001, ...).
    target_return: stop once an evaluation's mean return reaches it (None: never).
    seed: seeds the learner, the discriminator and the envs.
    device: "cpu", "cuda" or "auto".
    """

    steps: int = 100_000
    learner: str = "ppo"
    n_envs: int = 8
    learner_kwargs: dict[str, Any] = field(default_factory=dict)
    demo_batch_size: int = 256
    disc_updates: int = 4
    disc_every: int = 256
    disc_lr: float = 1e-3
    disc_hidden: tuple[int, ...] = (64, 64)
    grad_penalty: float = 0.0
    normalize_reward: bool = True
    learner_window: int = 0
    absorbing: bool = False
    eval_every: int = 0
    eval_episodes: int = 10
    target_return: float | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.learner not in ALGOS:
            raise ConfigError(f"learner {self.learner!r}: choose one of {', '.join(ALGOS)}")
        for name in ("steps", "n_envs", "demo_batch_size", "disc_updates", "disc_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.grad_penalty < 0 or self.learner_window < 0 or self.eval_every < 0:
            raise ConfigError("grad_penalty, learner_window and eval_every must be >= 0")
        if self.learner_kwargs:  # before a run directory is made, not when the learner is
            check_learner_kwargs(self.learner, self.learner_kwargs)


class Batch(NamedTuple):
    """Transitions as tensors in the env's own encoding, plus the learner's log π(a|s)."""

    obs: TensorObs
    acts: torch.Tensor
    next_obs: TensorObs
    dones: torch.Tensor
    log_pi: torch.Tensor


class Discriminator(nn.Module):
    """What an algorithm plugs into the loop.

    reward: the learned reward that is saved (`protege.rewards.save_reward`).
    logits(b): the classifier's log D/(1-D), D = P(expert | transition); (B,).
    policy_reward(b): what the learner is paid for b; (B,).
    needs_log_pi: whether logits/policy_reward read `b.log_pi` (else it is left zero).
    """

    needs_log_pi = False
    reward: RewardNet

    def logits(self, b: Batch) -> torch.Tensor:
        raise NotImplementedError

    def policy_reward(self, b: Batch) -> torch.Tensor:
        raise NotImplementedError


Loss = Callable[[Discriminator, Batch, Batch], torch.Tensor]
"""(discriminator, expert batch, learner batch) -> the scalar the discriminator minimises."""


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

    def policy(self, obs: Obs) -> np.ndarray:
        """The learner's deterministic action for a batch of observations."""
        return np.asarray(self.model.predict(obs, deterministic=True)[0])


def env_spaces_of(env: str | EnvFactory) -> Spaces:
    """The spaces of an env id or builder (built once, closed)."""
    e = make_env(env) if isinstance(env, str) else env()
    try:
        return check_supported(Spaces.of(e), str(env))
    finally:
        e.close()


# -- the discriminator's maths shared by all three ------------------------------------------


def gradient_penalty(disc: Discriminator, expert: Batch, learner: Batch) -> torch.Tensor:
    """E[(‖∇ logits(x̂)‖ - 1)²] at x̂ = εx_E + (1-ε)x_L (Gulrajani et al. 2017).

    Float inputs (Box observations and actions) are interpolated; integer ones (Discrete
    actions, images) are taken from the expert and carry no gradient.
    """
    n = min(len(expert.acts), len(learner.acts))
    eps = torch.rand(n, device=expert.acts.device)
    inputs: list[torch.Tensor] = []

    def mix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if not a.is_floating_point():
            return a[:n]
        e = eps.reshape(-1, *([1] * (a.dim() - 1)))
        x = (e * a[:n] + (1 - e) * b[:n]).detach().requires_grad_(True)
        inputs.append(x)
        return x

    def mix_obs(a: TensorObs, b: TensorObs) -> TensorObs:
        if isinstance(a, dict):
            return {k: mix(a[k], b[k]) for k in a}  # type: ignore[index]
        return mix(a, b)  # type: ignore[arg-type]

    x_hat = Batch(
        mix_obs(expert.obs, learner.obs),
        mix(expert.acts, learner.acts),
        mix_obs(expert.next_obs, learner.next_obs),
        expert.dones[:n],
        (eps * expert.log_pi[:n] + (1 - eps) * learner.log_pi[:n]).detach(),
    )
    if not inputs:
        return torch.zeros((), device=expert.acts.device)
    grads = torch.autograd.grad(
        disc.logits(x_hat).sum(), inputs, create_graph=True, allow_unused=True
    )  # unused: inputs the reward does not read (s' for most)
    used = [g.reshape(n, -1) for g in grads if g is not None]
    if not used:
        return torch.zeros((), device=expert.acts.device)
    norm = torch.cat(used, dim=1).norm(dim=1)
    return ((norm - 1) ** 2).mean()


class RunningScale:
    """Running standard deviation of the rewards seen (Welford, over batches)."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double()
        n, mean = x.numel(), float(x.mean())
        if n == 0:
            return
        delta, total = mean - self.mean, self.count + n
        self.m2 += float(((x - mean) ** 2).sum()) + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 1.0


class TransitionWindow:
    """The latest `capacity` learner transitions (NumPy ring buffer, Dict obs included)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.data: dict[str, Any] | None = None

    def add(self, obs: Obs, acts: np.ndarray, next_obs: Obs, dones: np.ndarray) -> None:
        batch = {"obs": obs, "acts": np.asarray(acts), "next_obs": next_obs, "dones": dones}
        n = len(batch["acts"])
        if self.data is None:
            self.data = {k: _alloc(v, self.capacity) for k, v in batch.items()}
        idx = (self.pos + np.arange(n)) % self.capacity
        for k, v in batch.items():
            _put(self.data[k], idx, v)
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        assert self.data is not None, "nothing recorded yet"
        idx = rng.integers(0, self.size, n)
        return {k: obs_index(v, idx) for k, v in self.data.items()}

    def state(self) -> dict[str, Any]:
        """The window's arrays and counters, for `save_checkpoint` (not a copy)."""
        return {"size": self.size, "pos": self.pos, "data": self.data}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `state` returned (the capacity must be the same)."""
        self.size, self.pos = int(state["size"]), int(state["pos"])
        self.data = None if state["data"] is None else _arrays(state["data"])


def _alloc(v: Any, capacity: int) -> Any:
    if isinstance(v, dict):
        return {k: _alloc(x, capacity) for k, x in v.items()}
    v = np.asarray(v)
    return np.zeros((capacity, *v.shape[1:]), dtype=v.dtype)


def _put(buf: Any, idx: np.ndarray, v: Any) -> None:
    if isinstance(buf, dict):
        for k in buf:
            buf[k][idx] = v[k]
    else:
        buf[idx] = np.asarray(v).reshape(len(idx), *buf.shape[1:])


def _rows(x: Any, n: int) -> Any:
    """The first `n` rows of an array (or of each array in a dict)."""
    if isinstance(x, dict):
        return {k: _rows(v, n) for k, v in x.items()}
    return x[:n]


def _arrays(x: Any) -> Any:
    """Arrays a checkpoint gave back as tensors, as NumPy arrays again (in dicts)."""
    if isinstance(x, dict):
        return {k: _arrays(v) for k, v in x.items()}
    return x.numpy()


def _fill(buf: Any, saved: Any) -> None:
    """Copy saved rows into the start of a preallocated array (or dict of them)."""
    if isinstance(buf, dict):
        for k in buf:
            _fill(buf[k], saved[k])
    else:
        buf[: len(saved)] = saved.numpy()


# -- the loop ------------------------------------------------------------------------------


class _Adversary:
    """The discriminator's side: data, optimiser, the learner's reward, one round of updates."""

    def __init__(
        self, disc: Discriminator, loss: Loss, demos: Transitions, cfg: AdversarialConfig
    ) -> None:
        self.disc, self.loss, self.cfg = disc, loss, cfg
        self.device = disc.reward.device
        self.spaces = disc.reward.spaces
        self.expert = disc.reward.to_tensors(
            demos.obs, demos.acts, demos.next_obs, demos.terminated
        )
        self.n_expert = len(demos)
        self.opt = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr)
        self.scale = RunningScale()
        self.rng = np.random.default_rng(cfg.seed)
        self.model: Any = None  # the SB3 learner, set once it is built
        self.window: TransitionWindow | None = None
        # SAC maximises its own entropy, so an AIRL/GCL reward's -log π would count it twice
        self.reward_log_pi = disc.needs_log_pi and cfg.learner == "ppo"

    def log_pi(self, obs: TensorObs, acts: torch.Tensor) -> torch.Tensor:
        if not self.disc.needs_log_pi:
            return torch.zeros(len(acts), device=self.device)
        with torch.no_grad():
            return learner_log_prob(self.model, obs, acts).reshape(-1).float()

    def batch(
        self,
        obs: TensorObs,
        acts: torch.Tensor,
        next_obs: TensorObs,
        dones: torch.Tensor,
        with_log_pi: bool = True,
    ) -> Batch:
        log_pi = self.log_pi(obs, acts) if with_log_pi else torch.zeros(len(acts))
        return Batch(obs, acts, next_obs, dones, log_pi.to(self.device))

    @torch.no_grad()
    def pay(self, b: Batch, update_scale: bool) -> torch.Tensor:
        """The learner's reward for b, scaled by the running std when configured."""
        r = self.disc.policy_reward(b)
        if not self.cfg.normalize_reward:
            return r
        if update_scale:
            self.scale.update(r)
        return r / max(self.scale.std, 1e-8)

    def env_reward(self, obs: Obs, acts: np.ndarray, next_obs: Obs, dones: np.ndarray) -> Any:
        """`RewardVecEnvWrapper`'s reward function: records the step, returns the pay."""
        assert self.window is not None
        self.window.add(obs, acts, next_obs, dones)
        tensors = self.disc.reward.to_tensors(obs, acts, next_obs, dones)
        b = self.batch(*tensors, with_log_pi=self.reward_log_pi)
        return self.pay(b, update_scale=True).cpu().numpy()

    def relabel(self, samples: Any) -> torch.Tensor:
        """An off-policy minibatch's rewards under the current discriminator (DAC)."""
        acts = samples.actions
        if isinstance(self.spaces.action, gym.spaces.Box):  # SB3 stores actions in [-1, 1]
            low = torch.as_tensor(self.spaces.action.low, device=acts.device)
            high = torch.as_tensor(self.spaces.action.high, device=acts.device)
            acts = low + 0.5 * (acts + 1.0) * (high - low)
        else:
            acts = acts.reshape(-1).long()
        obs, next_obs = samples.observations, samples.next_observations
        b = self.batch(obs, acts, next_obs, samples.dones.reshape(-1), self.reward_log_pi)
        return self.pay(b, update_scale=False)

    def expert_batch(self, n: int) -> Batch:
        idx = torch.as_tensor(self.rng.integers(0, self.n_expert, n), device=self.device)
        obs, acts, next_obs, dones = self.expert
        return self.batch(
            index_tensor_obs(obs, idx), acts[idx], index_tensor_obs(next_obs, idx), dones[idx]
        )

    def learner_batch(self, n: int) -> Batch:
        assert self.window is not None
        s = self.window.sample(n, self.rng)
        tensors = self.disc.reward.to_tensors(s["obs"], s["acts"], s["next_obs"], s["dones"])
        return self.batch(*tensors)

    def train_round(self) -> dict[str, float]:
        """`disc_updates` steps of the discriminator; metrics of the last minibatch."""
        n = self.cfg.demo_batch_size
        rows = []
        for _ in range(self.cfg.disc_updates):
            expert, learner = self.expert_batch(n), self.learner_batch(n)
            loss = self.loss(self.disc, expert, learner)
            penalty = torch.zeros(())
            if self.cfg.grad_penalty > 0:
                penalty = gradient_penalty(self.disc, expert, learner)
            self.opt.zero_grad()
            (loss + self.cfg.grad_penalty * penalty).backward()
            self.opt.step()
            with torch.no_grad():
                e_logits, l_logits = self.disc.logits(expert), self.disc.logits(learner)
                rows.append(
                    {
                        "disc_loss": float(loss),
                        "grad_penalty": float(penalty),
                        "disc_accuracy": float(
                            0.5 * ((e_logits > 0).float().mean() + (l_logits < 0).float().mean())
                        ),
                        "expert_reward": float(self.disc.reward(*expert[:4]).mean()),
                        "learner_reward": float(self.disc.reward(*learner[:4]).mean()),
                    }
                )
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}

    def state(self) -> dict[str, Any]:
        """The discriminator, its optimiser, the reward scale, the window and the generator."""
        assert self.window is not None
        return {
            "disc": self.disc.state_dict(), "opt": self.opt.state_dict(),
            "scale": [self.scale.count, self.scale.mean, self.scale.m2],
            "window": self.window.state(), "rng": self.rng.bit_generator.state,
        }  # fmt: skip

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `state` returned."""
        assert self.window is not None
        self.disc.load_state_dict(state["disc"])
        self.opt.load_state_dict(state["opt"])
        count, mean, m2 = state["scale"]
        self.scale.count, self.scale.mean, self.scale.m2 = int(count), float(mean), float(m2)
        self.window.load_state(state["window"])
        self.rng.bit_generator.state = state["rng"]


# -- the learner's state in a checkpoint ---------------------------------------------------

_COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_n_calls")  # _n_calls: DQN's
_BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def learner_state(model: Any) -> dict[str, Any]:
    """What an SB3 learner needs to go on training: weights and optimisers (SB3's own
    `get_parameters`), SAC's entropy coefficient, counters, recent episodes and, off-policy,
    the filled part of the replay buffer, for `save_checkpoint`."""
    from stable_baselines3.common.save_util import recursive_getattr

    state: dict[str, Any] = {
        "parameters": model.get_parameters(),
        "variables": {
            name: recursive_getattr(model, name).detach().cpu().clone()
            for name in model._get_torch_save_params()[1]
        },
        "counters": {k: int(getattr(model, k)) for k in _COUNTERS if hasattr(model, k)},
        "episodes": [{k: float(v) for k, v in e.items()} for e in model.ep_info_buffer or ()],
    }
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        n = buffer.buffer_size if buffer.full else buffer.pos
        state["replay_buffer"] = {
            "pos": int(buffer.pos), "full": bool(buffer.full),
            "arrays": {name: _rows(getattr(buffer, name), n) for name in _BUFFER_FIELDS
                       if getattr(buffer, name, None) is not None},
        }  # fmt: skip
    return state


def load_learner_state(model: Any, state: dict[str, Any]) -> None:
    """Restore what `learner_state` returned into a learner built with the same settings."""
    from stable_baselines3.common.save_util import recursive_getattr

    model.set_parameters(state["parameters"], exact_match=True, device=model.device)
    with torch.no_grad():
        for name, value in state["variables"].items():
            recursive_getattr(model, name).copy_(value)  # in place: optimisers hold it
    for name, value in state["counters"].items():
        setattr(model, name, int(value))
    window = model._stats_window_size
    model.ep_info_buffer = deque((dict(e) for e in state["episodes"]), maxlen=window)
    model.ep_success_buffer = deque(maxlen=window)
    saved = state.get("replay_buffer")
    if saved is not None:
        buffer = model.replay_buffer
        for name, rows in saved["arrays"].items():
            _fill(getattr(buffer, name), rows)
        buffer.pos, buffer.full = int(saved["pos"]), bool(saved["full"])


def _round_callback(
    on_round: Callable[[int], dict[str, float]],
    report: Callable[[dict[str, float]], bool],
    every: int,
    last: int = 0,
) -> Any:
    """An SB3 callback: `on_round(env_steps)` at a rollout's end (at most every `every`
    steps, before the learner trains on it), then `report(row)` once the learner has
    trained, at the next rollout's start or at the end; training stops when it is False.
    last: the env step of the latest round (a resumed run's)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Rounds(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.last, self.go_on = last, True
            self.pending: dict[str, float] | None = None

        def _on_step(self) -> bool:
            return self.go_on

        def _on_rollout_end(self) -> None:
            if self.num_timesteps - self.last >= every:
                self.last = self.num_timesteps
                self.pending = on_round(self.num_timesteps)

        def _on_rollout_start(self) -> None:
            if self.pending is not None:
                self.go_on = report(self.pending)
                self.pending = None

        def _on_training_end(self) -> None:
            self._on_rollout_start()

    return _Rounds()


def train_adversarial(
    env: str | EnvFactory,
    demos: Transitions,
    make_disc: Callable[[Spaces], Discriminator],
    loss: Loss,
    cfg: AdversarialConfig,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> AdversarialResult:
    """Alternate learner rollouts on the discriminator's reward and discriminator rounds.

    env: a Gymnasium id or a zero-argument builder (the learner's envs and evaluations).
    make_disc: builds the algorithm's discriminator for the env's spaces (after seeding).
    demos: expert transitions in the env's spaces (`protege.data.flatten_trajectories`);
        `terminated` marks terminal next states, so episodes of any length mix freely.
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
    spaces = env_spaces_of(env)
    check_learner(cfg.learner, spaces.action, str(env))
    torch.manual_seed(cfg.seed)
    disc = make_disc(spaces).to(resolve_device(cfg.device))
    adversary = _Adversary(disc, loss, demos, cfg)
    on_policy = cfg.learner == "ppo"
    n_envs = cfg.n_envs if on_policy else 1
    venv = RewardVecEnvWrapper(make_vec_env(env, n_envs, cfg.seed), adversary.env_reward)
    model = build_learner(
        cfg.learner, venv, cfg.seed, str(resolve_device(cfg.device)),
        reward_relabel=None if on_policy else adversary.relabel, **cfg.learner_kwargs,
    )  # fmt: skip
    adversary.model = model
    round_steps = model.n_steps * n_envs if on_policy else cfg.disc_every
    adversary.window = TransitionWindow(
        cfg.learner_window or round_steps * (1 if on_policy else 10)
    )

    cb = CallbackList(callbacks)
    history: list[dict[str, float]] = []
    reached: list[int] = []
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    if saved is not None:
        with restoring(checkpoint):
            adversary.load_state(saved["adversary"])
            load_learner_state(model, saved["learner"])
            torch.set_rng_state(saved["torch_rng"])
            history, reached = [dict(row) for row in saved["history"]], list(saved["reached"])
        venv.seed(_resume_seed(cfg.seed, model.num_timesteps))  # not the first episodes again
    start, outside = time.perf_counter() - (saved["seconds"] if saved else 0.0), 0.0

    def on_round(env_steps: int) -> dict[str, float]:
        row: dict[str, float] = {"env_steps": float(env_steps)}
        row.update(adversary.train_round())
        episodes = [info["r"] for info in list(model.ep_info_buffer)[-20:]]
        row["return_mean"] = float(np.mean(episodes)) if episodes else math.nan
        return row

    def save() -> None:
        assert checkpoint is not None
        save_checkpoint(checkpoint, {
            "learner": learner_state(model), "adversary": adversary.state(),
            "torch_rng": torch.get_rng_state(), "history": history, "reached": reached,
            "seconds": time.perf_counter() - start - outside,
        })  # fmt: skip

    def report(row: dict[str, float]) -> bool:
        nonlocal outside
        tick = time.perf_counter()
        env_steps = int(row["env_steps"])
        due = cfg.eval_every > 0 and (
            not history
            or env_steps // cfg.eval_every > int(history[-1]["env_steps"]) // cfg.eval_every
        )
        if due:  # the policy as it is now, after training on the round's data
            trajs = rollout(env, AdversarialResult(model, disc.reward, disc).policy,
                            cfg.eval_episodes, seed=CHECK_SEED)  # fmt: skip
            row["eval_return"] = float(np.mean([t.episode_return for t in trajs]))
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
                callback=_round_callback(on_round, report, round_steps, last),
                reset_num_timesteps=False,  # a resumed learner counts on from its checkpoint
            )
    finally:
        venv.close()
    result = AdversarialResult(
        model, disc.reward, disc, history, time.perf_counter() - start - outside,
        int(model.num_timesteps), reached[0] if reached else None,
    )  # fmt: skip
    cb.on_end(history[-1] if history else {})
    return result


def _resume_seed(seed: int, env_steps: int) -> int:
    """The envs' seed after a resume: apart from the first run's and from evaluation seeds."""
    return int(np.random.SeedSequence([seed, env_steps]).generate_state(1)[0])

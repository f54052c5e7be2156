"""Behavioral cloning: fit a policy to the expert's (observation, action) pairs by maximum
likelihood (Pomerleau 1991; Bain & Sammut 1995).

The whole dataset lives on the device as tensors and minibatches are drawn by index, so an
epoch is a handful of tensor operations with no per-sample Python.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from protege.algorithms.best import HeldOutBest
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.config import check_fields
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces, is_mujoco
from protege.errors import ConfigError
from protege.heads.windows import chunk_rows, episode_starts, window_rows
from protege.nets import (
    TensorObs,
    fit_normalizers,
    index_tensor_obs,
    normalizes,
    obs_to_tensor,
    resolve_device,
)
from protege.policies import REDRAWS, ActorPolicy, PolicyArch

POLICIES = ("mlp", "gmm", "diffusion")
DIFFUSION_MIN_UPDATES = 15_000
"""The fewest minibatch updates a diffusion head is trained for when `min_updates` is
left at 0: on Pendulum-v1 from 20 episodes, BC's default 300 epochs (~4k updates) left it at
0.46 normalised, 1,000 epochs (~14k) at 0.96 (fit seeds 0-2)."""
HEAD_SETTINGS = ("policy", "history", "chunk", "components", "gmm_act", "diffusion_steps",
                 "sample_steps", "ema_decay", "temporal_ensemble", "action_steps",
                 "redraw")  # fmt: skip
"""BCConfig's settings of the policy itself; `protege train dagger --set policy=gmm` passes
them on to DAgger's inner BC (`bc.policy=gmm`)."""


@dataclass(frozen=True)
class BCConfig:
    """Behavioral cloning settings. Defaults hold over seeds and experts (issue #17): on 5
    seeds each (demonstrations and fit), 20 episodes of Pendulum-v1 from the built-in
    expert score 0.998 normalised (min 0.994; the old lr 3e-3, 100 epochs, patience 20,
    raw observations: 0.70, min 0.44), from a different controller (energy pumping then PD)
    0.994 (old: -0.06); 10 episodes of LunarLander-v3 return 265 (min 252; old 155, min
    114); CartPole-v1 500 on all 5. Each change was needed: without normalised
    observations the other controller's Pendulum scored 0.10, with them at lr 3e-3 0.78.

    epochs: passes over the training split (upper bound when early stopping).
    min_updates: at least this many minibatch updates: on a small dataset (DAgger's early
        rounds) `epochs` is raised until they are reached, and early stopping waits for
        them, so the fit is not cut short. 0 (the default): none, except for
        policy=diffusion, DIFFUSION_MIN_UPDATES (15,000), which a value set here replaces.
    batch_size: minibatch size.
    lr: Adam learning rate.
    weight_decay: AdamW decoupled weight decay.
    ent_weight: weight of the entropy bonus subtracted from the loss (0 disables it).
    val_fraction: share of samples held out for early stopping; 0 disables it.
    patience: epochs without a better validation loss before stopping.
    continuous_loss: Box actions and policy=mlp only: "mse" (a deterministic tanh head,
        fastest for the deterministic experts protege ships) or "gaussian" (tanh-squashed
        likelihood, for stochastic experts such as people).
    hidden: MLP hidden sizes after the observation encoder; () (the default): 256x256 on
        MuJoCo envs, 64x64 elsewhere (`bc_hidden`). On Hopper-v5 from 10 episodes of the
        shipped expert, fit seeds 0-2: 64x64 scored 0.99 / 0.98 / 0.66 normalised,
        256x256 1.00 / 1.00 / 1.00 (the mujoco bench and HalfCheetah ran 256x256 already).
    normalize_obs: standardise Box observations by the demonstrations' mean and standard
        deviation, kept in the policy's weights: "on" (the default: it helped on every task
        measured, see above), "off", or "auto" (on for MuJoCo envs only, as the adversarial
        and Q-learning families do).
    seed: seeds weight init, the split and minibatch order, and the acting policy's
        per-episode random streams (gmm sampling, diffusion noise).
    device: "auto" (CUDA when present), "cpu" or "cuda".
    policy: the policy's head (docs/heads.md): "mlp" (one action per step: categorical for
        Discrete actions, the `continuous_loss` head for Box), "gmm" (a mixture of
        Gaussians with means squashed into the bounds, robomimic's BC-GMM, for
        demonstrations with several modes) or "diffusion" (a denoising diffusion over
        action chunks, Chi et al. 2023); gmm and diffusion need Box actions.
    history: observations the policy sees: the current one and the history-1 before it,
        each encoded and the features concatenated (at an episode's start the first
        observation is repeated), for experts that act on what they saw earlier.
    chunk: actions predicted per step (ACT's chunking, Zhao et al. 2023); targets past an
        episode's end are left out of the loss, and the action executed is the temporal
        ensemble of every prediction made for the step.
    components: policy=gmm only: the mixture's components.
    gmm_act: policy=gmm only: act with the mean of a component drawn by its weight
        ("sample", seeded per episode) or of the heaviest one ("mode").
    diffusion_steps: policy=diffusion only: noise steps of training (DDPM, squared
        cosine schedule).
    sample_steps: policy=diffusion only: DDIM steps per action chunk when acting (the
        cost of an action).
    ema_decay: policy=diffusion only: decay of the exponential moving average of the
        weights, the copy that acts.
    temporal_ensemble: chunk > 1 only: ACT's m, the i-th oldest prediction of a step
        weighs exp(-m·i) (0: all alike).
    action_steps: chunk > 1 only: actions of each chunk played open loop before the next
        prediction (Diffusion Policy's action horizon; 1..chunk). 1: predict every step and
        play the temporal ensemble; more: a sampling head commits to one mode for that many
        steps instead of mixing modes (docs/heads.md).
    redraw: policy=diffusion, or gmm acting by "sample": draw the head's random numbers
        at every step ("step", the default) or once per episode ("episode": the policy
        keeps to the mode its noise picked, for demonstrations that keep to one mode per
        episode; TwoPaths, diffusion: 0.97-0.99 success against 0.86-0.91; `REDRAWS`).
    """

    epochs: int = 300
    min_updates: int = 0
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    ent_weight: float = 0.0
    val_fraction: float = 0.1
    patience: int = 60
    continuous_loss: str = "mse"
    hidden: tuple[int, ...] = ()
    normalize_obs: str = "on"
    seed: int = 0
    device: str = "auto"
    policy: str = "mlp"
    history: int = 1
    chunk: int = 1
    components: int = 5
    gmm_act: str = "mode"
    diffusion_steps: int = 100
    sample_steps: int = 10
    ema_decay: float = 0.995
    temporal_ensemble: float = 0.01
    action_steps: int = 1
    redraw: str = "step"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.policy not in POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        for name in ("history", "chunk", "components", "diffusion_steps", "sample_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be at least 1 (BCConfig)")
        if self.sample_steps > self.diffusion_steps:
            raise ConfigError(
                f"sample_steps={self.sample_steps} exceeds diffusion_steps="
                f"{self.diffusion_steps}; sample in at most as many steps as training's noise has"
            )
        if self.gmm_act not in ("sample", "mode"):
            raise ConfigError(f"gmm_act must be 'sample' or 'mode', not {self.gmm_act!r}")
        if self.redraw not in REDRAWS:
            raise ConfigError(f"redraw must be 'episode' or 'step', not {self.redraw!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay={self.ema_decay}: must lie in [0, 1) (BCConfig)")
        if self.temporal_ensemble < 0.0:
            raise ConfigError(f"temporal_ensemble={self.temporal_ensemble}: must be 0 or more")
        if not 1 <= self.action_steps <= self.chunk:
            raise ConfigError(
                f"action_steps={self.action_steps}: must lie in 1..chunk={self.chunk}; set "
                "chunk to at least the actions to play per prediction"
            )
        if self.ent_weight > 0 and self.policy != "mlp":
            raise ConfigError(
                f"ent_weight applies to policy=mlp; the {self.policy} head has no entropy "
                "term: set ent_weight=0"
            )
        if self.normalize_obs not in ("auto", "on", "off"):
            raise ConfigError(
                f"normalize_obs must be 'auto', 'on' or 'off', not {self.normalize_obs!r}"
            )
        if self.continuous_loss not in ("gaussian", "mse"):
            raise ConfigError(
                f"continuous_loss must be 'gaussian' or 'mse', not {self.continuous_loss!r}"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in [0, 1), not {self.val_fraction}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be at least 1")


@dataclass
class BCResult:
    """The cloned policy and how training went (one history row per epoch)."""

    policy: ActorPolicy
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    best_epoch: int = 0


def bc_loss(
    policy: ActorPolicy,
    obs: TensorObs,
    acts: torch.Tensor,
    cfg: BCConfig,
    weights: torch.Tensor | None = None,
    pad: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Negative log-likelihood of the expert's actions (or MSE, or the diffusion head's
    denoising error), minus the entropy bonus.

    obs, acts, pad: as `ActorPolicy.dist` takes them (windows and chunks; `make_batches`).
    weights: (B,) per-sample weights of the likelihood (or MSE) term, e.g. weighted BC's
        episode or advantage weights; None weighs every sample 1.
    generator: the diffusion head's noise and steps (CPU), so a resumed fit draws the same.
    """

    def mean(per_sample: torch.Tensor) -> torch.Tensor:
        return per_sample.mean() if weights is None else (weights * per_sample).mean()

    head = policy.arch.head
    if not policy.discrete and head == "diffusion":
        loss = mean(policy.diffusion_loss(obs, acts, pad, generator))
        return loss, {"denoise": loss.detach()}
    if not policy.discrete and head != "gmm" and cfg.continuous_loss == "mse":
        mode = policy.dist(obs).mode
        loss = mean(_unit_error(policy, mode, acts, pad))
        return loss, {"mse": loss.detach()}
    d = policy.dist(obs, acts, pad)
    assert d.log_prob is not None
    nll = mean(-d.log_prob)
    stats = {"nll": nll.detach()}
    loss = nll
    if d.entropy is not None:
        entropy = d.entropy.mean()
        stats["entropy"] = entropy.detach()
        loss = nll - cfg.ent_weight * entropy
    if policy.discrete:
        hit = (d.mode == acts.long()).float()
        keep = torch.ones_like(hit) if pad is None else (~pad).float()
        stats["accuracy"] = (hit * keep).sum() / keep.sum()
    else:
        stats["mse"] = _unit_error(policy, d.mode, acts, pad).mean().detach()
    return loss, stats


def _unit_error(
    policy: ActorPolicy, mode: torch.Tensor, acts: torch.Tensor, pad: torch.Tensor | None
) -> torch.Tensor:
    """Squared error in [-1, 1] per sample, (B,): summed over action numbers; with chunks,
    averaged over the K steps with padded ones counted 0."""
    b, k = len(acts), policy.arch.chunk
    if k == 1:
        err = policy.to_unit(mode) - policy.to_unit(acts.view(b, -1))
        return err.pow(2).sum(-1)
    err = policy.to_unit(mode.reshape(b, k, -1)) - policy.to_unit(acts.reshape(b, k, -1))
    per_step = err.pow(2).sum(-1)
    keep = torch.ones_like(per_step) if pad is None else (~pad).float()
    return (per_step * keep).sum(1) / k


Batch = tuple[TensorObs, torch.Tensor, torch.Tensor | None]
"""A minibatch as `bc_loss` takes it: observations (windows), actions (chunks), pad."""


def make_batches(
    obs: TensorObs, acts: torch.Tensor, starts: np.ndarray, history: int, chunk: int
) -> Callable[[torch.Tensor], Batch]:
    """idx (B,) -> the rows' minibatch: for `history` > 1 each row's window of frames
    (B·H rows, `heads.windows.window_rows`), for `chunk` > 1 its chunk of actions
    (B, K, ...) and `pad` (B, K); one step's observation and action otherwise.

    starts: (N,) True at each episode's first row (`heads.windows.episode_starts`).
    """
    device = acts.device
    win = torch.as_tensor(window_rows(starts, history), device=device) if history > 1 else None
    rows, pad = chunk_rows(starts, chunk)
    rows_t = torch.as_tensor(rows, device=device)
    pad_t = torch.as_tensor(pad, device=device)

    def batch(idx: torch.Tensor) -> Batch:
        o = index_tensor_obs(obs, idx if win is None else win[idx].reshape(-1))
        if chunk == 1:
            return o, acts[idx], None
        return o, acts[rows_t[idx]], pad_t[idx]

    return batch


SMALL_HIDDEN = (64, 64)
MUJOCO_HIDDEN = (256, 256)


def bc_hidden(cfg: BCConfig, env: str | EnvFactory | None = None) -> tuple[int, ...]:
    """`cfg.hidden`, or where it is () the default for `env`: `MUJOCO_HIDDEN` for a MuJoCo
    id (many-jointed bodies, 10-100+ observation entries), `SMALL_HIDDEN` elsewhere."""
    if cfg.hidden:
        return cfg.hidden
    return MUJOCO_HIDDEN if isinstance(env, str) and is_mujoco(env) else SMALL_HIDDEN


def policy_arch(cfg: BCConfig, env: str | EnvFactory | None = None) -> PolicyArch:
    """The architecture BC builds for `cfg` (`hidden` () and `normalize_obs` "auto" ask
    `env`)."""
    mlp_head = "deterministic" if cfg.continuous_loss == "mse" else "gaussian"
    return PolicyArch(
        hidden=bc_hidden(cfg, env), head=mlp_head if cfg.policy == "mlp" else cfg.policy,
        normalize_obs=normalizes(cfg.normalize_obs, env), history=cfg.history,
        chunk=cfg.chunk, components=cfg.components, gmm_act=cfg.gmm_act,
        diffusion_steps=cfg.diffusion_steps, sample_steps=cfg.sample_steps,
        ema_decay=cfg.ema_decay, temporal_ensemble=cfg.temporal_ensemble,
        action_steps=cfg.action_steps, redraw=cfg.redraw, seed=cfg.seed,
    )  # fmt: skip


def check_policy(cfg: BCConfig, spaces: Spaces) -> None:
    """Refuse a head the action space cannot have, before anything runs: gmm and diffusion
    are for Box actions (one line naming the fix)."""
    if cfg.policy != "mlp" and isinstance(spaces.action, gym.spaces.Discrete):
        raise ConfigError(
            f"policy={cfg.policy} is for Box actions, and this env's are {spaces.action}; "
            "use --set policy=mlp (a categorical head)"
        )


def weighted_rows(obs: TensorObs, weights: np.ndarray, seed: int = 0) -> TensorObs:
    """`obs` (N rows) drawn again N times in proportion to `weights` (N,): the distribution
    that weighted BC clones, whose statistics its observation normaliser takes (equal
    weights: `obs` itself, so that BC weighted all alike is BC)."""
    p = np.asarray(weights, dtype=np.float64)
    if np.all(p == p[0]):
        return obs
    rows = np.random.default_rng(seed).choice(len(p), len(p), p=p / p.sum())
    return index_tensor_obs(obs, torch.as_tensor(rows))  # a CPU index serves CUDA rows too


def train_bc(
    demos: Transitions,
    spaces: Spaces,
    cfg: BCConfig = BCConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    policy: ActorPolicy | None = None,
    weights: np.ndarray | None = None,
) -> BCResult:
    """Fit a policy to the expert's (observation, action) pairs by maximum likelihood.

    Callbacks get `on_start(epochs, "epoch")`, one `on_iteration` per epoch and `on_end`.
    env: unused, accepted for the trainers' common signature: BC never steps an env, it
        learns from `demos` alone.
    checkpoint: a file for the whole training state, saved every `checkpoint_every` epochs;
        when it exists, training resumes from it (the saved epochs' rows are replayed to
        the callbacks) and ends with the same policy as a run never stopped.
    policy: start from this policy (e.g. DAgger's previous round) instead of a fresh one.
    weights: (N,) a weight per demonstration step in the loss, training and validation
        alike, and in the observation statistics (weighted BC: mean 1, so the loss keeps
        BC's scale); None weighs all 1.
    """
    if len(demos) == 0:
        raise ConfigError("behavioral cloning needs at least one demonstration step")
    if weights is not None and np.shape(weights) != (len(demos),):
        raise ConfigError(f"weights has shape {np.shape(weights)}, expected ({len(demos)},)")
    check_policy(cfg, spaces)
    cb = CallbackList(callbacks)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    fresh = policy is None
    policy = (policy or ActorPolicy(spaces, policy_arch(cfg, env))).to(device)
    policy.train()

    obs = obs_to_tensor(demos.obs, spaces.observation, device)
    if fresh:  # a no-op unless arch.normalize_obs
        fit_normalizers(
            policy.encoder, obs if weights is None else weighted_rows(obs, weights, cfg.seed)
        )
    acts = torch.as_tensor(np.asarray(demos.acts), device=device)
    acts = acts.long() if policy.discrete else acts.float()
    w = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
    starts = episode_starts(demos.starts, demos.terminated, demos.truncated)
    batch = make_batches(obs, acts, starts, policy.arch.history, policy.arch.chunk)
    n = len(acts)
    perm = torch.randperm(n, generator=gen).to(device)
    n_val = int(n * cfg.val_fraction) if n * cfg.val_fraction >= 1 else 0
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    n_train = len(train_idx)

    opt = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    min_updates = cfg.min_updates
    if policy.arch.head == "diffusion" and min_updates == 0:  # 0: the head's own minimum
        min_updates = DIFFUSION_MIN_UPDATES
    min_epochs = math.ceil(min_updates / max(math.ceil(n_train / cfg.batch_size), 1))
    epochs = max(cfg.epochs, min_epochs)
    history: list[dict[str, float]] = []
    best = HeldOutBest()
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    if saved is not None:
        with restoring(checkpoint):
            policy.load_state_dict(saved["policy"])
            opt.load_state_dict(saved["optimizer"])
            gen.set_state(saved["generator"])
            history = [dict(row) for row in saved["history"]]
            best = HeldOutBest(saved["best_val"], saved["best_epoch"], saved["best"])
    start, in_callbacks = time.perf_counter(), 0.0  # callback time is not training time
    start -= history[-1]["seconds"] if history else 0.0
    cb.on_start(epochs, "epoch")
    for i, row in enumerate(history):
        cb.on_iteration(i, row)
    stopped = bool(
        n_val and len(history) >= min_epochs and history
        and len(history) - 1 - best.at >= cfg.patience
    )  # fmt: skip
    for epoch in range(len(history), len(history) if stopped else epochs):
        order = train_idx[torch.randperm(n_train, generator=gen).to(device)]
        total, batches = torch.zeros((), device=device), 0
        for b in range(0, n_train, cfg.batch_size):
            idx = order[b : b + cfg.batch_size]
            batch_w = None if w is None else w[idx]
            obs_b, acts_b, pad_b = batch(idx)
            loss, _ = bc_loss(policy, obs_b, acts_b, cfg, batch_w, pad_b, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            policy.update_ema()
            total += loss.detach()
            batches += 1
        row = {"epoch": float(epoch), "loss": float(total) / max(batches, 1)}
        if n_val:
            with torch.no_grad():
                val_w = None if w is None else w[val_idx]
                obs_v, acts_v, pad_v = batch(val_idx)
                same_noise = torch.Generator().manual_seed(cfg.seed + 1)  # comparable epochs
                val_loss, stats = bc_loss(policy, obs_v, acts_v, cfg, val_w, pad_v, same_noise)
            row["val_loss"] = float(val_loss)
            row.update({f"val_{k}": float(v) for k, v in stats.items()})
            best.offer(row["val_loss"], epoch, policy)
        row["seconds"] = time.perf_counter() - start - in_callbacks
        history.append(row)
        if checkpoint is not None and (epoch + 1) % max(checkpoint_every, 1) == 0:
            save_checkpoint(checkpoint, {
                "policy": policy.state_dict(), "optimizer": opt.state_dict(),
                "generator": gen.get_state(), "history": history, "best_val": best.loss,
                "best_epoch": best.at, "best": best.state,
            })  # fmt: skip
        tick = time.perf_counter()
        cb.on_iteration(epoch, row)
        in_callbacks += time.perf_counter() - tick
        if n_val and epoch + 1 >= min_epochs and epoch - best.at >= cfg.patience:
            break  # early stopping, once the minimum updates are done
    best_epoch = best.restore(policy, last=len(history) - 1)
    policy.eval()
    train_seconds = time.perf_counter() - start - in_callbacks
    cb.on_end(history[-1] if history else {})
    return BCResult(policy, history, train_seconds, best_epoch)

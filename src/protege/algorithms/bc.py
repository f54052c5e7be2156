"""Behavioral cloning: fit a policy to the expert's (observation, action) pairs by maximum
likelihood (Pomerleau 1991; Bain & Sammut 1995).

The whole dataset lives on the device as tensors and minibatches are drawn by index, so an
epoch is a handful of tensor operations with no per-sample Python.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.config import check_fields
from protege.data.types import Transitions
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError
from protege.nets import (
    TensorObs,
    fit_normalizers,
    index_tensor_obs,
    normalizes,
    obs_to_tensor,
    resolve_device,
)
from protege.policies import ActorPolicy, PolicyArch


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
        rounds) `epochs` is raised until they are reached, so the fit is not cut short.
    batch_size: minibatch size.
    lr: Adam learning rate.
    weight_decay: AdamW decoupled weight decay.
    ent_weight: weight of the entropy bonus subtracted from the loss (0 disables it).
    val_fraction: share of samples held out for early stopping; 0 disables it.
    patience: epochs without a better validation loss before stopping.
    continuous_loss: Box actions only: "mse" (a deterministic tanh head, fastest for the
        deterministic experts protege ships) or "gaussian" (tanh-squashed likelihood, for
        stochastic experts such as people).
    hidden: MLP hidden sizes after the observation encoder.
    normalize_obs: standardise Box observations by the demonstrations' mean and standard
        deviation, kept in the policy's weights: "on" (the default: it helped on every task
        measured, see above), "off", or "auto" (on for MuJoCo envs only, as the adversarial
        and Q-learning families do).
    seed: seeds weight init, the split and minibatch order.
    device: "auto" (CUDA when present), "cpu" or "cuda".
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
    hidden: tuple[int, ...] = (64, 64)
    normalize_obs: str = "on"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
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
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Negative log-likelihood of the expert's actions (or MSE), minus the entropy bonus.

    weights: (B,) per-sample weights of the likelihood (or MSE) term, e.g. weighted BC's
        episode or advantage weights; None weighs every sample 1.
    """

    def mean(per_sample: torch.Tensor) -> torch.Tensor:
        return per_sample.mean() if weights is None else (weights * per_sample).mean()

    if not policy.discrete and cfg.continuous_loss == "mse":
        mode = policy.dist(obs).mode
        err = policy.to_unit(mode) - policy.to_unit(acts.view(len(acts), -1))
        loss = mean(err.pow(2).sum(-1))
        return loss, {"mse": loss.detach()}
    d = policy.dist(obs, acts)
    assert d.log_prob is not None and d.entropy is not None
    nll = mean(-d.log_prob)
    entropy = d.entropy.mean()
    stats = {"nll": nll.detach(), "entropy": entropy.detach()}
    if policy.discrete:
        stats["accuracy"] = (d.mode == acts.long()).float().mean()
    else:
        err = policy.to_unit(d.mode) - policy.to_unit(acts.view(len(acts), -1))
        stats["mse"] = err.pow(2).sum(-1).mean().detach()
    return nll - cfg.ent_weight * entropy, stats


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
    cb = CallbackList(callbacks)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    arch = PolicyArch(
        hidden=cfg.hidden, head="deterministic" if cfg.continuous_loss == "mse" else "gaussian",
        normalize_obs=normalizes(cfg.normalize_obs, env),
    )  # fmt: skip
    fresh = policy is None
    policy = (policy or ActorPolicy(spaces, arch)).to(device)
    policy.train()

    obs = obs_to_tensor(demos.obs, spaces.observation, device)
    if fresh:  # a no-op unless arch.normalize_obs
        fit_normalizers(
            policy.encoder, obs if weights is None else weighted_rows(obs, weights, cfg.seed)
        )
    acts = torch.as_tensor(np.asarray(demos.acts), device=device)
    acts = acts.long() if policy.discrete else acts.float()
    w = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
    n = len(acts)
    perm = torch.randperm(n, generator=gen).to(device)
    n_val = int(n * cfg.val_fraction) if n * cfg.val_fraction >= 1 else 0
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    n_train = len(train_idx)

    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    epochs = max(
        cfg.epochs, math.ceil(cfg.min_updates / max(math.ceil(n_train / cfg.batch_size), 1))
    )
    history: list[dict[str, float]] = []
    best_val, best_epoch, best_state = float("inf"), 0, None
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    if saved is not None:
        with restoring(checkpoint):
            policy.load_state_dict(saved["policy"])
            opt.load_state_dict(saved["optimizer"])
            gen.set_state(saved["generator"])
            history = [dict(row) for row in saved["history"]]
            best_val, best_epoch, best_state = saved["best_val"], saved["best_epoch"], saved["best"]
    start, in_callbacks = time.perf_counter(), 0.0  # callback time is not training time
    start -= history[-1]["seconds"] if history else 0.0
    cb.on_start(epochs, "epoch")
    for i, row in enumerate(history):
        cb.on_iteration(i, row)
    stopped = bool(n_val and history and len(history) - 1 - best_epoch >= cfg.patience)
    for epoch in range(len(history), len(history) if stopped else epochs):
        order = train_idx[torch.randperm(n_train, generator=gen).to(device)]
        total, batches = torch.zeros((), device=device), 0
        for b in range(0, n_train, cfg.batch_size):
            idx = order[b : b + cfg.batch_size]
            batch_w = None if w is None else w[idx]
            loss, _ = bc_loss(policy, index_tensor_obs(obs, idx), acts[idx], cfg, batch_w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            batches += 1
        row = {"epoch": float(epoch), "loss": float(total) / max(batches, 1)}
        if n_val:
            with torch.no_grad():
                val_w = None if w is None else w[val_idx]
                val_loss, stats = bc_loss(
                    policy, index_tensor_obs(obs, val_idx), acts[val_idx], cfg, val_w
                )
            row["val_loss"] = float(val_loss)
            row.update({f"val_{k}": float(v) for k, v in stats.items()})
            if row["val_loss"] < best_val:
                best_val, best_epoch = row["val_loss"], epoch
                best_state = copy.deepcopy(policy.state_dict())
        row["seconds"] = time.perf_counter() - start - in_callbacks
        history.append(row)
        if checkpoint is not None and (epoch + 1) % max(checkpoint_every, 1) == 0:
            save_checkpoint(checkpoint, {
                "policy": policy.state_dict(), "optimizer": opt.state_dict(),
                "generator": gen.get_state(), "history": history, "best_val": best_val,
                "best_epoch": best_epoch, "best": best_state,
            })  # fmt: skip
        tick = time.perf_counter()
        cb.on_iteration(epoch, row)
        in_callbacks += time.perf_counter() - tick
        if n_val and epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        policy.load_state_dict(best_state)
    else:
        best_epoch = len(history) - 1
    policy.eval()
    train_seconds = time.perf_counter() - start - in_callbacks
    cb.on_end(history[-1] if history else {})
    return BCResult(policy, history, train_seconds, best_epoch)

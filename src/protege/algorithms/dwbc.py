"""Discriminator-weighted behavioral cloning: learn from a small expert dataset and a large
unlabelled one that mixes expert and other behaviour.

Paper: Xu, Zhan, Yin & Qin 2022, "Discriminator-Weighted Offline Imitation Learning from
Suboptimal Demonstrations" (ICML); the authors' code: github.com/ryanxhr/DWBC.

A discriminator d(s, a, log π(a|s)) in [0.1, 0.9] is trained by positive-unlabelled
learning, the expert steps D_e positive and the unlabelled steps D_o a mixture with a share
η of expert-like ones:

    L_d = E_De[-log d] + E_Do[-log(1 - d)] / η + E_De[log(1 - d)]

and the policy by BC whose weights come from it (the paper's policy objective, in the form
of the authors' code: unlabelled steps the discriminator calls non-expert, d < 0.5, weigh
0):

    L_π = E_De[-log π · (α - η / (d (1 - d)) - 1)] + E_Do[-log π · (1 / (1 - d) - 1)]

Feeding log π into the discriminator couples the two: a step the policy already finds
likely and that looks like the expert's is weighted up. Box actions use a tanh-squashed
Gaussian policy (a likelihood is needed), Discrete a categorical one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from protege.algorithms.best import HeldOutBest
from protege.callbacks import Callback, CallbackList
from protege.checkpoint import CHECKPOINT_EVERY, load_checkpoint, restoring, save_checkpoint
from protege.config import check_fields
from protege.data.storage import load_trajectories
from protege.data.types import Transitions, flatten_trajectories
from protege.envs import EnvFactory, Spaces
from protege.errors import ConfigError, DatasetError
from protege.nets import (
    TensorObs,
    cat_tensor_obs,
    encoder_dim,
    fit_normalizers,
    index_tensor_obs,
    make_encoder,
    mlp,
    normalizes,
    obs_to_tensor,
    resolve_device,
)
from protege.policies import ActorPolicy, PolicyArch

D_MIN, D_MAX = 0.1, 0.9  # the discriminator's output range (the authors' code)
LOG_PI_MIN, LOG_PI_MAX = -20.0, 10.0  # log π is clipped to this and rescaled to [0, 1]


@dataclass(frozen=True)
class DWBCConfig:
    """DWBC settings. α, η, the batch size, the discriminator's learning rate and the ranges
    of d and log π are the paper's (its code's). Its 500k updates of 256-wide nets are for
    MuJoCo; the defaults here are for small tasks, and were measured on CartPole-v1 (2
    expert episodes, an unlabelled set of 4 more among 200 random ones): with the paper's
    policy lr 1e-4 or weight decay 0.005 the expert's held-out likelihood stays well below
    BC's in thousands of updates; with one discriminator update per 100 policy updates d
    stays near 0.5 for every step; and with 256-wide nets and 10k updates the
    discriminator memorises the expert part (1% of the hidden expert steps called
    expert-like), which leaves BC on the expert part alone.

    unlabelled: the unlabelled dataset (.npz, Minari dataset dir or local Minari id),
        expert and other behaviour mixed, with the same spaces as --demos (the expert
        part). Required.
    alpha: α, the weight of plain BC on the expert steps; it must exceed the correction's
        largest weight η / (d (1 - d)) + 1 = η / 0.09 + 1 (6.6 for η = 0.5), so every
        expert step keeps a positive weight.
    eta: η, the prior share of expert-like steps in the unlabelled data (positive-unlabelled
        learning), in (0, 1].
    steps: policy updates, each on one minibatch from each dataset.
    batch_size: minibatch size, from each dataset.
    lr: Adam learning rate of the policy (the paper's 1e-4, for 500k updates).
    weight_decay: L2 weight decay of the policy's Adam (the paper's 0.005).
    disc_lr: Adam learning rate of the discriminator.
    disc_every: a discriminator update every this many policy updates (the authors' code:
        100, over 500k updates).
    hidden: the policy's MLP hidden sizes (the paper's 256, 256).
    disc_hidden: the discriminator's MLP hidden sizes (the paper's 256, 256).
    normalize_obs: standardise Box observations, as the authors' code does: the policy's by
        the expert steps' mean and standard deviation (what it clones), the
        discriminator's by both datasets' (what it tells apart). "on", "off", or "auto"
        (on for MuJoCo envs only).
    log_every: policy updates per progress row (and per check of the held-out expert steps).
    val_fraction: share of the expert steps held out; the policy kept is the one with the
        lowest negative log-likelihood on them, checked every `log_every` updates. 0 keeps
        the last.
    seed: seeds weight init, the split and minibatches.
    device: "auto" (CUDA when present), "cpu" or "cuda".
    """

    unlabelled: str = ""
    alpha: float = 7.5
    eta: float = 0.5
    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    disc_lr: float = 1e-4
    disc_every: int = 1
    hidden: tuple[int, ...] = (64, 64)
    disc_hidden: tuple[int, ...] = (64, 64)
    normalize_obs: str = "on"
    log_every: int = 100
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.normalize_obs not in ("auto", "on", "off"):
            raise ConfigError(
                f"normalize_obs must be 'auto', 'on' or 'off', not {self.normalize_obs!r}"
            )
        if not 0.0 < self.eta <= 1.0:
            raise ConfigError(f"eta must lie in (0, 1], not {self.eta}")
        floor = self.eta / (D_MIN * (1 - D_MIN)) + 1  # the correction's largest weight
        if self.alpha <= floor:
            raise ConfigError(
                f"alpha={self.alpha} must exceed eta / 0.09 + 1 = {floor:.3g}, or expert "
                "steps can get a negative weight and be pushed away; raise alpha or lower eta"
            )


class Discriminator(nn.Module):
    """d(s, a, log π(a|s)) in [D_MIN, D_MAX]: an MLP over the encoded observation, the action
    (one-hot, or Box actions in [-1, 1]) and log π rescaled to [0, 1]. `normalize`:
    standardise Box observations by statistics `fit_normalizers` takes from both datasets
    (the authors' code standardises states; unlabelled random steps reach values far from
    the expert's, and an unscaled input learns much slower)."""

    def __init__(self, spaces: Spaces, hidden: Sequence[int], normalize: bool = False) -> None:
        super().__init__()
        self.encoder = make_encoder(spaces.observation, normalize=normalize)
        act = spaces.action
        self.n_actions = int(act.n) if hasattr(act, "n") else 0  # Discrete: one-hot width
        width = self.n_actions or int(np.prod(act.shape))  # type: ignore[arg-type]
        self.mlp = mlp(encoder_dim(self.encoder) + width + 1, hidden, 1)

    def forward(self, obs: TensorObs, acts: torch.Tensor, log_pi: torch.Tensor) -> torch.Tensor:
        """obs (B, ...), acts (B,) indices or (B, act_dim) in [-1, 1], log_pi (B,) -> (B,)."""
        if self.n_actions:
            acts = nn.functional.one_hot(acts.long().view(-1), self.n_actions).float()
        scaled = (log_pi.clamp(LOG_PI_MIN, LOG_PI_MAX) - LOG_PI_MIN) / (LOG_PI_MAX - LOG_PI_MIN)
        x = torch.cat([self.encoder(obs), acts.view(len(acts), -1), scaled.view(-1, 1)], dim=1)
        return torch.sigmoid(self.mlp(x)).squeeze(-1).clamp(D_MIN, D_MAX)


@dataclass
class DWBCResult:
    """The policy, the discriminator (which unlabelled steps it took for the expert's: d >
    0.5), how training went (one history row per `log_every` updates) and the update after
    which the kept policy was checked."""

    policy: ActorPolicy
    discriminator: Discriminator
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    best_step: int = 0


def load_unlabelled(path: str, spaces: Spaces) -> Transitions:
    """The unlabelled dataset at `path`, validated against the expert data's spaces.

    Raises:
        ConfigError: no path was given.
        DatasetError: the file is missing or broken, has other spaces, or holds no steps.
    """
    if not path:
        raise ConfigError(
            "dwbc learns from an unlabelled dataset beside the expert's --demos; pass "
            "--set unlabelled=PATH (.npz or Minari dataset recorded on the same env)"
        )
    data = load_trajectories(path, spaces=spaces)
    if sum(len(t) for t in data.trajectories) == 0:
        raise DatasetError(
            f"{path}: its {len(data.trajectories)} episode(s) hold no steps to learn from; "
            "pass an unlabelled dataset with at least one step"
        )
    return flatten_trajectories(data.trajectories)


def train_dwbc(
    demos: Transitions,
    spaces: Spaces,
    cfg: DWBCConfig = DWBCConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: str | EnvFactory | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    unlabelled: Transitions | None = None,
) -> DWBCResult:
    """Clone the expert steps `demos`, and the steps of the unlabelled data a discriminator
    finds expert-like, by discriminator-weighted BC.

    Callbacks get `on_start(rows, "report")`, one `on_iteration` per `log_every` updates
    and `on_end`.
    env: only says whether normalize_obs="auto" is on (DWBC never steps an env).
    checkpoint: a file for the whole training state, saved every `checkpoint_every` rows;
        when it exists, training resumes from it and ends as a run never stopped.
    unlabelled: the unlabelled steps; None loads `cfg.unlabelled`.

    Raises:
        ConfigError: no demonstration steps, or no unlabelled dataset.
        DatasetError: the unlabelled dataset cannot be used (see `load_unlabelled`).
    """
    if len(demos) == 0:
        raise ConfigError("DWBC needs at least one expert demonstration step")
    if unlabelled is None:
        unlabelled = load_unlabelled(cfg.unlabelled, spaces)
    cb = CallbackList(callbacks)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    normalize = normalizes(cfg.normalize_obs, env)
    arch = PolicyArch(hidden=cfg.hidden, head="gaussian", normalize_obs=normalize)
    policy = ActorPolicy(spaces, arch).to(device)
    disc = Discriminator(spaces, cfg.disc_hidden, normalize).to(device)
    policy.train()

    def tensors(data: Transitions) -> tuple[TensorObs, torch.Tensor]:
        acts = torch.as_tensor(np.asarray(data.acts), device=device)
        return obs_to_tensor(data.obs, spaces.observation, device), (
            acts.long() if policy.discrete else acts.float()
        )

    obs_e, acts_e = tensors(demos)
    obs_o, acts_o = tensors(unlabelled)
    # no-ops unless normalize: the policy takes the statistics of the expert's steps, the
    # distribution it clones; the discriminator those of both datasets, which it tells apart
    fit_normalizers(policy.encoder, obs_e)
    fit_normalizers(disc.encoder, cat_tensor_obs(obs_e, obs_o))
    disc_acts_e = acts_e if policy.discrete else policy.to_unit(acts_e.view(len(acts_e), -1))
    disc_acts_o = acts_o if policy.discrete else policy.to_unit(acts_o.view(len(acts_o), -1))
    perm = torch.randperm(len(demos), generator=gen).to(device)
    n_val = int(len(demos) * cfg.val_fraction) if len(demos) * cfg.val_fraction >= 1 else 0
    n_val = min(n_val, len(demos) - 1)  # at least one expert step to train on
    val_idx, train_idx = perm[:n_val], perm[n_val:]

    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    disc_opt = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr)
    rows = -(-cfg.steps // cfg.log_every)
    history: list[dict[str, float]] = []
    best = HeldOutBest()
    saved = load_checkpoint(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    if saved is not None:
        with restoring(checkpoint):
            policy.load_state_dict(saved["policy"])
            disc.load_state_dict(saved["discriminator"])
            opt.load_state_dict(saved["optimizer"])
            disc_opt.load_state_dict(saved["disc_optimizer"])
            gen.set_state(saved["generator"])
            history = [dict(row) for row in saved["history"]]
            best = HeldOutBest(saved["best_val"], saved["best_step"], saved["best"])
    start, in_callbacks = time.perf_counter(), 0.0  # callback time is not training time
    start -= history[-1]["seconds"] if history else 0.0
    cb.on_start(rows, "report")
    for i, row in enumerate(history):
        cb.on_iteration(i, row)

    for r in range(len(history), rows):
        sums = torch.zeros(4, device=device)  # policy loss, disc loss, mean d on D_e, on D_o
        first, last = r * cfg.log_every, min((r + 1) * cfg.log_every, cfg.steps)
        for step in range(first, last):
            e = train_idx[torch.randint(len(train_idx), (cfg.batch_size,), generator=gen)]
            o = torch.randint(len(unlabelled), (cfg.batch_size,), generator=gen).to(device)
            # one pass over both minibatches: the expert's rows, then the unlabelled ones
            obs = cat_tensor_obs(index_tensor_obs(obs_e, e), index_tensor_obs(obs_o, o))
            log_pi = policy.dist(obs, torch.cat([acts_e[e], acts_o[o]])).log_prob
            assert log_pi is not None
            d = disc(obs, torch.cat([disc_acts_e[e], disc_acts_o[o]]), log_pi.detach())
            (log_pi_e, log_pi_o), (d_e, d_o) = log_pi.chunk(2), d.chunk(2)

            # the discriminator: positive-unlabelled learning, every `disc_every` updates
            d_loss = (-d_e.log() - (1 - d_o).log() / cfg.eta + (1 - d_e).log()).mean()
            if (step + 1) % cfg.disc_every == 0:
                disc_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                disc_opt.step()

            # the policy: BC weighted by the discriminator's verdicts
            d_e, d_o = d_e.detach(), d_o.detach()
            w_e = cfg.alpha - cfg.eta / (d_e * (1 - d_e)) - 1
            w_o = torch.where(d_o < 0.5, 0.0, 1 / (1 - d_o) - 1)
            loss = (-log_pi_e * w_e).mean() + (-log_pi_o * w_o).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += torch.stack([loss.detach(), d_loss.detach(), d_e.mean(), d_o.mean()])

        means = (sums / max(last - first, 1)).tolist()
        row = {"step": float(last), "loss": means[0], "disc_loss": means[1],
               "d_expert": means[2], "d_unlabelled": means[3]}  # fmt: skip
        if n_val:
            with torch.no_grad():
                val = policy.dist(index_tensor_obs(obs_e, val_idx), acts_e[val_idx]).log_prob
            assert val is not None
            row["val_nll"] = float(-val.mean())
            best.offer(row["val_nll"], last, policy)
        row["seconds"] = time.perf_counter() - start - in_callbacks
        history.append(row)
        if checkpoint is not None and (r + 1) % max(checkpoint_every, 1) == 0:
            save_checkpoint(checkpoint, {
                "policy": policy.state_dict(), "discriminator": disc.state_dict(),
                "optimizer": opt.state_dict(), "disc_optimizer": disc_opt.state_dict(),
                "generator": gen.get_state(), "history": history, "best_val": best.loss,
                "best_step": best.at, "best": best.state,
            })  # fmt: skip
        tick = time.perf_counter()
        cb.on_iteration(r, row)
        in_callbacks += time.perf_counter() - tick
    best_step = best.restore(policy, last=cfg.steps)
    policy.eval()
    train_seconds = time.perf_counter() - start - in_callbacks
    cb.on_end(history[-1] if history else {})
    return DWBCResult(policy, disc, history, train_seconds, best_step)

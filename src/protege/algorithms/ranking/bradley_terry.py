"""A reward learned from comparisons of sub-trajectories by the Bradley–Terry model.

Given pairs of snippets (σ₁, σ₂) and, for each, the probability that σ₂ is the better one,
a reward net r is fitted so that

    P(σ₂ ≻ σ₁) = exp R(σ₂) / (exp R(σ₁) + exp R(σ₂)),    R(σ) = Σ_{s ∈ σ} r(s)

by the cross-entropy of those labels (Bradley & Terry 1952; as T-REX fits it to ranked
demonstrations, Brown et al. 2019, and Christiano et al. 2017 to a person's preferences).
This module is the part every ranking and preference learner shares: the snippet pairs
(`SnippetPairs`), the ensemble reward (`EnsembleReward`), the loss and the fit
(`train_bradley_terry`). Who made the comparisons (a ranking of episodes, noise levels,
a person) is the caller's business.

    pairs = sample_snippet_pairs(trajs, scores, 2000, rng=np.random.default_rng(0))
    fit = train_bradley_terry(pairs, spaces, BradleyTerryConfig(), seed=0)
    fit.reward.predict(obs, acts, next_obs, dones)          # (B,)
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from protege.callbacks import Callback, CallbackList
from protege.config import check_fields
from protege.data.types import Transitions
from protege.envs import Spaces
from protege.errors import ConfigError, DatasetError
from protege.nets import TensorObs, index_tensor_obs, resolve_device
from protege.rewards import MLPRewardNet, RewardNet

TRANSFORMS = ("standardize", "positive", "negative", "sigmoid", "absorbing", "raw")
"""What a calibrated `EnsembleReward` pays (see its docstring)."""


@dataclass(frozen=True)
class BradleyTerryConfig:
    """Settings of the Bradley–Terry reward fit. The defaults are what benchmarks/ranking.py
    runs; half the pairs and epochs already rank unseen Pendulum-v1 episodes with Kendall's
    τ >= 0.89 (tests/algorithms/ranking).

    pairs: snippet pairs drawn from the ranked episodes (a `val_fraction` of them held out).
    snippet_min: shortest snippet, in steps (shorter only where an episode is).
    snippet_max: longest snippet, in steps; each pair's length is drawn between the two,
        and both snippets of a pair are equally long.
    later_start: the better episode's snippet starts no earlier than the worse one's
        (T-REX's rule: in a task that makes progress, a better episode's later states
        look better still); false: both start anywhere (for tasks without progress, such
        as balancing, where "later" would only teach the drift of time).
    epochs: passes over the training pairs (the weights of the best validation loss are kept).
    batch_size: pairs per Adam step.
    lr: Adam learning rate.
    weight_decay: AdamW decoupled weight decay.
    hidden: hidden sizes of each reward MLP.
    state_only: r(s), as T-REX learns it (rankings say which states are better, rarely
        which actions); false: r(s, a).
    ensemble: independently initialised reward nets, each fitted on the pairs in its own
        order; the reward is their mean (T-REX and D-REX average a few).
    val_fraction: share of the pairs held out for the validation loss and accuracy.
    """

    pairs: int = 2000
    snippet_min: int = 10
    snippet_max: int = 50
    later_start: bool = True
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    hidden: tuple[int, ...] = (64, 64)
    state_only: bool = True
    ensemble: int = 3
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        for name in ("pairs", "snippet_min", "ensemble"):
            if getattr(self, name) < 1:
                raise ConfigError(f"reward.{name} must be at least 1, not {getattr(self, name)}")
        if self.snippet_max < self.snippet_min:
            raise ConfigError(
                f"reward.snippet_max={self.snippet_max} is below snippet_min="
                f"{self.snippet_min}; raise it or lower snippet_min"
            )


@dataclass(frozen=True)
class SnippetPairs:
    """Pairs of equally long snippets of some episodes, and which of each pair is better.

    steps: the episodes' steps, flat (`flatten_trajectories`); the snippets index them.
    first, second: (P, L) int64 step indices of each pair's two snippets, padded past a
        pair's own length (`mask`).
    mask: (P, L) bool, True on a pair's real steps.
    prefer_second: (P,) float in [0, 1], the probability that `second` is the better (1 for
        a strict ranking, 0.5 for a tie).
    second_mask: (P, L) bool, True on the second snippet's real steps where they differ
        from the first's (a preference segment cut short by its episode's end, which pays
        nothing past it); None: `mask` for both.
    """

    steps: Transitions
    first: np.ndarray
    second: np.ndarray
    mask: np.ndarray
    prefer_second: np.ndarray
    second_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        p = len(self.prefer_second)
        for name in ("first", "second", "mask", "second_mask"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != p:
                raise ValueError(f"{name} has {value.shape[0]} pairs, labels {p}")

    def __len__(self) -> int:
        return len(self.prefer_second)

    def subset(self, idx: np.ndarray) -> SnippetPairs:
        """Pairs `idx`, on the same steps."""
        second_mask = None if self.second_mask is None else self.second_mask[idx]
        return SnippetPairs(self.steps, self.first[idx], self.second[idx], self.mask[idx],
                            self.prefer_second[idx], second_mask)  # fmt: skip


class EnsembleReward(RewardNet):
    """The mean of several reward nets, each standardised, then shifted or squashed.

    A ranking fixes a reward only up to scale and shift, and each member lands on its own;
    `calibrate` measures each member's mean and spread on some steps (the ranked
    episodes') and sets what `forward` returns, z being the mean over members of
    (r_k - mean_k) / std_k:

        "standardize"  z: zero mean, unit spread on the calibration steps
        "positive"     z - min z: every calibration step pays 0 or more, so staying alive
                       pays (tasks that end on failure: CartPole, falling robots)
        "negative"     z - max z: every calibration step costs 0 or more, so ending
                       sooner pays (tasks that end on success: MountainCar, Acrobot)
        "sigmoid"      sigmoid(z), in (0, 1) (T-REX's form for Atari)
        "absorbing"    the mean over members of r_k / rms_k (rms_k: the root mean square of
                       r_k on the calibration steps): the level kept, so 0 stays what an
                       ended episode's absorbing state pays (preferences whose segments run
                       past a terminal step fix that level), and a step pays about ±1, as
                       a task's own reward would (by the spread alone, CartPole's learned
                       reward paid 56 ± 1 a step, and PPO's value fit drowned in the level)
        "raw"          the members' mean as fitted (before any calibration)
    """

    shift: torch.Tensor  # (K,) each member's mean on the calibration steps
    scale: torch.Tensor  # (K,) and its standard deviation
    offset: torch.Tensor  # () added to z ("positive", "negative")

    def __init__(self, members: Sequence[RewardNet]) -> None:
        if not members:
            raise ConfigError("an ensemble reward needs at least one member")
        super().__init__(members[0].spaces)
        self.members = nn.ModuleList(members)
        self.transform = "raw"
        self.register_buffer("shift", torch.zeros(len(members)))
        self.register_buffer("scale", torch.ones(len(members)))
        self.register_buffer("offset", torch.zeros(()))

    def member_rewards(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        """Each member's own reward, (K, B)."""
        return torch.stack([m(obs, acts, next_obs, dones) for m in self.members])

    def standardized(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        """z: the mean over members of each one's standardised reward, (B,)."""
        raw = self.member_rewards(obs, acts, next_obs, dones)
        return ((raw - self.shift.unsqueeze(1)) / self.scale.unsqueeze(1)).mean(0)

    def forward(
        self, obs: TensorObs, acts: torch.Tensor, next_obs: TensorObs, dones: torch.Tensor
    ) -> torch.Tensor:
        if self.transform == "raw":
            return self.member_rewards(obs, acts, next_obs, dones).mean(0)
        if self.transform == "absorbing":
            raw = self.member_rewards(obs, acts, next_obs, dones)
            return (raw / self.scale.unsqueeze(1)).mean(0)
        z = self.standardized(obs, acts, next_obs, dones)
        return torch.sigmoid(z) if self.transform == "sigmoid" else z + self.offset

    @torch.no_grad()
    def calibrate(self, steps: Transitions, transform: str = "standardize") -> None:
        """Standardise each member on `steps` and pay by `transform` (see the class)."""
        if transform not in TRANSFORMS:
            raise ConfigError(f"reward_transform {transform!r}: choose one of {TRANSFORMS}")
        tensors = self.to_tensors(steps.obs, steps.acts, steps.next_obs, steps.terminated)
        raw = self.member_rewards(*tensors)
        self.shift.copy_(raw.mean(1))
        if transform == "absorbing":
            self.scale.copy_(raw.pow(2).mean(1).sqrt().clamp_min(1e-6))
        elif raw.shape[1] > 1:
            self.scale.copy_(raw.std(1).clamp_min(1e-6))
        z = self.standardized(*tensors)
        offset = {"positive": -z.min(), "negative": -z.max()}.get(transform, torch.zeros(()))
        self.offset.copy_(offset)
        self.transform = transform


def make_ensemble(spaces: Spaces, cfg: BradleyTerryConfig) -> EnsembleReward:
    """A fresh ensemble of `cfg.ensemble` MLP rewards of s (or of s and a), initialised
    from torch's current random state."""
    members = [
        MLPRewardNet(spaces, use_action=not cfg.state_only, hidden=cfg.hidden)
        for _ in range(cfg.ensemble)
    ]
    return EnsembleReward(members)


@dataclass
class BradleyTerryResult:
    """The fitted ensemble (transform "raw" until calibrated), one history row per epoch
    (mean over members), the ensemble's accuracy on the training and held-out pairs, and
    the training time."""

    reward: EnsembleReward
    history: list[dict[str, float]] = field(default_factory=list)
    train_accuracy: float = math.nan
    val_accuracy: float = math.nan
    train_seconds: float = 0.0


class _PairTensors:
    """A `SnippetPairs`' steps and indices as tensors on one device."""

    def __init__(self, pairs: SnippetPairs, reward: RewardNet, device: torch.device) -> None:
        s = pairs.steps
        self.obs, self.acts, self.next_obs, self.dones = reward.to_tensors(
            s.obs, s.acts, s.next_obs, s.terminated
        )
        self.first = torch.as_tensor(pairs.first, device=device).long()
        self.second = torch.as_tensor(pairs.second, device=device).long()
        self.mask = torch.as_tensor(pairs.mask, device=device).float()
        second_mask = pairs.mask if pairs.second_mask is None else pairs.second_mask
        self.second_mask = torch.as_tensor(second_mask, device=device).float()
        self.label = torch.as_tensor(pairs.prefer_second, device=device).float()

    def returns(
        self, net: nn.Module, idx: torch.Tensor, which: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """R(σ) of snippets `which[idx]` (real steps: `mask[idx]`) by `net`, (B,)."""
        rows = which[idx]
        flat = rows.reshape(-1)
        r = net(
            index_tensor_obs(self.obs, flat),
            self.acts[flat],
            index_tensor_obs(self.next_obs, flat),
            self.dones[flat],
        )
        return (r.reshape(rows.shape) * mask[idx]).sum(1)

    def logits(self, net: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        """R(σ₂) - R(σ₁) for pairs `idx`: the log-odds that the second is better."""
        second = self.returns(net, idx, self.second, self.second_mask)
        return second - self.returns(net, idx, self.first, self.mask)


def bradley_terry_loss(logits: torch.Tensor, prefer_second: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the Bradley–Terry preference probabilities sigmoid(R₂ - R₁) against
    the labels P(σ₂ ≻ σ₁), both (B,)."""
    return F.binary_cross_entropy_with_logits(logits, prefer_second)


def pair_accuracy(logits: torch.Tensor, prefer_second: torch.Tensor) -> float:
    """Share of the pairs with a strict label whose better snippet gets the higher return
    (NaN when every label is a tie)."""
    strict = prefer_second != 0.5
    if not bool(strict.any()):
        return math.nan
    right = (logits[strict] > 0) == (prefer_second[strict] > 0.5)
    return float(right.float().mean())


def train_bradley_terry(
    pairs: SnippetPairs,
    spaces: Spaces,
    cfg: BradleyTerryConfig = BradleyTerryConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    seed: int = 0,
    device: str = "cpu",
) -> BradleyTerryResult:
    """Fit `cfg.ensemble` reward nets to `pairs` by the Bradley–Terry cross-entropy.

    A `cfg.val_fraction` of the pairs (seeded) is held out; each member keeps the weights
    of its best validation loss (its last, without a validation split). `seed` seeds the
    split, the nets and the pair order; `device` is where they train. Callbacks get
    `on_start(epochs, "epoch")`, one `on_iteration` per epoch with `reward_loss`,
    `reward_accuracy`, `reward_val_loss`, `reward_val_accuracy` (means over members) and
    `on_end`.

    Raises:
        DatasetError: when there are no pairs to learn from.
    """
    if len(pairs) == 0:
        raise DatasetError(
            "no pairs of episodes to compare: a ranking needs at least two episodes that "
            "are not tied"
        )
    torch_device = resolve_device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    reward = make_ensemble(spaces, cfg).to(torch_device)
    data = _PairTensors(pairs, reward, torch_device)
    order = rng.permutation(len(pairs))
    n_val = int(len(pairs) * cfg.val_fraction)
    val_idx = torch.as_tensor(order[:n_val], device=torch_device)
    train_idx = torch.as_tensor(order[n_val:], device=torch_device)
    gen = torch.Generator().manual_seed(seed)
    cb = CallbackList(callbacks)
    cb.on_start(cfg.epochs, "epoch")
    start = time.perf_counter()
    rows: list[list[dict[str, float]]] = [[] for _ in range(cfg.epochs)]
    for member in reward.members:
        _fit_member(member, data, train_idx, val_idx, cfg, gen, rows)
    history = [{k: float(np.mean([r[k] for r in epoch])) for k in epoch[0]} for epoch in rows]
    for i, row in enumerate(history):
        cb.on_iteration(i, row)
    reward.eval()
    with torch.no_grad():
        train_acc = pair_accuracy(data.logits(reward, train_idx), data.label[train_idx])
        val_acc = (
            pair_accuracy(data.logits(reward, val_idx), data.label[val_idx]) if n_val else math.nan
        )
    result = BradleyTerryResult(reward, history, train_acc, val_acc, time.perf_counter() - start)
    cb.on_end(history[-1] if history else {})
    return result


def _fit_member(
    net: nn.Module,
    data: _PairTensors,
    train_idx: torch.Tensor,
    val_idx: torch.Tensor,
    cfg: BradleyTerryConfig,
    gen: torch.Generator,
    rows: list[list[dict[str, float]]],
) -> None:
    """Fit one member; append its row of each epoch to `rows[epoch]`."""
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best_loss, best_state = math.inf, None
    n = len(train_idx)
    for epoch in range(cfg.epochs):
        net.train()
        shuffled = train_idx[torch.randperm(n, generator=gen).to(train_idx.device)]
        total = 0.0
        right = 0.0
        for b in range(0, n, cfg.batch_size):
            idx = shuffled[b : b + cfg.batch_size]
            logits = data.logits(net, idx)
            loss = bradley_terry_loss(logits, data.label[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            right += float(((logits.detach() > 0) == (data.label[idx] > 0.5)).float().sum())
        row = {
            "reward_loss": total / max(n, 1),
            "reward_accuracy": right / max(n, 1),
            "reward_val_loss": math.nan,
            "reward_val_accuracy": math.nan,
        }
        if len(val_idx):
            net.eval()
            with torch.no_grad():
                logits = data.logits(net, val_idx)
                row["reward_val_loss"] = float(bradley_terry_loss(logits, data.label[val_idx]))
                row["reward_val_accuracy"] = pair_accuracy(logits, data.label[val_idx])
            if row["reward_val_loss"] < best_loss:
                best_loss, best_state = row["reward_val_loss"], copy.deepcopy(net.state_dict())
        rows[epoch].append(row)
    if best_state is not None:
        net.load_state_dict(best_state)

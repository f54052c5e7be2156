"""Deep maximum entropy IRL: a neural reward over state features, known dynamics.

Wulfmeier, Ondrúška & Posner (2015), "Maximum Entropy Deep Inverse Reinforcement Learning",
arXiv:1507.04888.

The reward r_θ(s) = g(φ(s); θ) is a multilayer perceptron of the state features. The
MaxEnt log-likelihood L of the demonstrations has the gradient

    ∂L/∂θ = Σ_s (μ_D(s) - E[μ(s)]) ∂r_θ(s)/∂θ,

where μ_D is the expert's state visitation frequency (SVF) and E[μ] that of the soft-optimal
policy for r_θ: the SVF difference is the gradient of L with respect to the reward of each
state, and backpropagation carries it into the network. One iteration: evaluate r_θ on all
states → soft value iteration → the learner's SVF → backward pass with that gradient →
optimiser step (Adam, with weight decay as the paper's L2 regulariser).

    result = deep_maxent_irl(expert_occupancy, env=objectworld_mdp)
    result.reward, result.reward_net
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from protege.algorithms.tabular.common import Progress, mdp_from_env
from protege.algorithms.tabular.demos import ExpertDemos, demo_occupancy
from protege.algorithms.tabular.resume import due, resume_state
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY, restoring, save_checkpoint
from protege.config import check_fields
from protege.envs import Spaces
from protege.envs.tabular import SoftValueResult, TabularMDP, soft_value_iteration, state_occupancy
from protege.errors import ConfigError


@dataclass(frozen=True)
class DeepMaxEntConfig:
    """Deep MaxEnt IRL settings.

    hidden: widths of the hidden layers of the reward MLP (default (32, 32)), ReLU between.
    lr: Adam step size (default 0.01); weight_decay: L2 on the weights (default 1e-4).
    max_iterations: gradient steps at most (default 200).
    tol: stop once the SVF gap ‖μ_D - E[μ]‖₁ is at or below this (default 1e-3).
    causal: soft value iteration with maximum causal entropy backups (default True) or the
        MaxEnt 2008 partition function (False).
    standardize: scale each feature to zero mean, unit variance before the network.
    threads: torch intra-op threads while training; None picks 1 below 10,000 states (a
        small MLP runs slower on more threads) and leaves torch's setting above. Restored
        afterwards.
    seed: of the network's initialisation.
    """

    hidden: tuple[int, ...] = (32, 32)
    lr: float = 0.01
    weight_decay: float = 1e-4
    max_iterations: int = 200
    tol: float = 1e-3
    causal: bool = True
    standardize: bool = True
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.lr <= 0 or self.max_iterations < 1 or self.tol < 0 or self.weight_decay < 0:
            raise ConfigError(
                "DeepMaxEntConfig needs lr > 0, max_iterations >= 1, tol >= 0, weight_decay >= 0"
            )
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"DeepMaxEntConfig.hidden widths must be positive, got {self.hidden}")


@dataclass
class DeepMaxEntResult:
    """What deep MaxEnt IRL learned.

    reward: (S,) r_θ on every state; reward_net: the trained MLP, (N, d) features -> (N,)
        (standardisation included, so it takes raw features).
    policy: the soft-optimal policy for `reward`, (S, A) or (T, S, A).
    occupancy: (S,) its SVF; expert_occupancy: (S,) the expert's.
    history: per iteration: iteration, occupancy_l1 (the SVF gap), reward_std.
    converged: the gap reached `tol`.
    """

    reward: np.ndarray
    reward_net: nn.Module
    policy: np.ndarray
    occupancy: np.ndarray
    expert_occupancy: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    converged: bool = False


class RewardMLP(nn.Module):
    """r_θ(φ) = MLP(standardised φ): (N, d) features -> (N,) rewards."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        layers: list[nn.Module] = []
        width = mean.shape[0]
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.mean) / self.std).squeeze(-1)


def deep_maxent_irl(
    demos: ExpertDemos,
    spaces: Spaces | None = None,
    cfg: DeepMaxEntConfig = DeepMaxEntConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: TabularMDP | str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> DeepMaxEntResult:
    """Train an MLP reward over the MDP's features with the MaxEnt SVF gradient.

    demos: expert trajectories or the expert's exact occupancy (S,) or (S, A).
    env: the MDP (or its tabular spec), required. spaces: unused, the MDP's are implied.
    callbacks: `on_start(max_iterations, "iteration")`, one `on_iteration` per history
        record as it is made (with its `seconds`), `on_end`.
    checkpoint: a file for the network, the optimiser, torch's generator, the warm start and
        the history, saved every `checkpoint_every` iterations; when it exists, training
        resumes from it (saved records are replayed to the callbacks) and ends where an
        uninterrupted run would.
    """
    mdp = mdp_from_env(env, "deep MaxEnt IRL")
    threads = cfg.threads if cfg.threads is not None else (1 if mdp.n_states < 10_000 else None)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with Progress(callbacks, cfg.max_iterations, "iteration") as report:
            return _train(mdp, demos, cfg, report, checkpoint, checkpoint_every)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    mdp: TabularMDP,
    demos: ExpertDemos,
    cfg: DeepMaxEntConfig,
    report: Progress,
    checkpoint: str | Path | None,
    checkpoint_every: int,
) -> DeepMaxEntResult:
    mu_D = demo_occupancy(mdp, demos)  # expert SVF, (S,)
    phi = torch.as_tensor(mdp.dense_features(), dtype=torch.float64)
    if cfg.standardize:
        mean, std = phi.mean(dim=0), phi.std(dim=0).clamp_min(1e-8)
    else:
        mean, std = torch.zeros_like(phi[0]), torch.ones_like(phi[0])
    torch.manual_seed(cfg.seed)
    net = RewardMLP(mean, std, cfg.hidden).to(torch.float64)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict[str, float]] = []
    V_warm: np.ndarray | None = None
    soft: SoftValueResult | None = None
    saved = resume_state(checkpoint, report)
    if saved is not None:
        with restoring(checkpoint):
            net.load_state_dict(saved["net"])
            opt.load_state_dict(saved["optimizer"])
            torch.set_rng_state(saved["torch_rng"])
            V_warm = None if saved["V_warm"] is None else saved["V_warm"].numpy()
            history = saved["history"]
    converged = False
    for k in range(len(history), cfg.max_iterations):
        r = net(phi)  # r_θ(s) for every state, (S,)
        reward = r.detach().numpy().copy()
        soft = soft_value_iteration(mdp, reward, causal=cfg.causal, V0=V_warm, out=soft)
        V_warm = None if mdp.horizon is not None else soft.V
        mu = state_occupancy(mdp, soft.policy)  # E[μ], the learner's SVF
        record = {
            "iteration": float(k),
            "occupancy_l1": float(np.abs(mu_D - mu).sum()),
            "reward_std": float(reward.std()),
        }
        history.append(record)
        report(record)
        if record["occupancy_l1"] <= cfg.tol:
            converged = True
            break
        if k == cfg.max_iterations - 1:
            break  # keep the network consistent with the policy just evaluated
        # ∂L/∂r = μ_D - E[μ]; minimise -L, so backpropagate -(μ_D - E[μ]).
        opt.zero_grad()
        r.backward(torch.as_tensor(-(mu_D - mu), dtype=r.dtype))
        opt.step()
        if due(checkpoint, k + 1, checkpoint_every):
            save_checkpoint(checkpoint, {
                "net": net.state_dict(), "optimizer": opt.state_dict(), "V_warm": V_warm,
                "torch_rng": torch.get_rng_state(), "history": history,
            })  # fmt: skip
    assert soft is not None  # max_iterations >= 1
    return DeepMaxEntResult(
        reward=reward,
        reward_net=net,
        policy=soft.policy,
        occupancy=mu,
        expert_occupancy=mu_D,
        history=history,
        converged=converged,
    )

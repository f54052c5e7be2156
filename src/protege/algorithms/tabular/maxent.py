"""Maximum entropy IRL with known dynamics: MaxEnt (2008) and maximum causal entropy (2010).

Ziebart, Maas, Bagnell & Dey (2008), "Maximum Entropy Inverse Reinforcement Learning",
AAAI; and Ziebart, Bagnell & Dey (2010), "Modeling Interaction via the Principle of Maximum
Causal Entropy", ICML.

The reward is linear in the state features, r_θ(s) = θ·φ(s). The expert is modelled as the
soft-optimal policy for r_θ, and θ maximises the likelihood of the demonstrations, whose
gradient is the difference of feature expectations

    ∇_θ L = μ_E - μ_θ,    μ = Σ_s ρ(s) φ(s),

with ρ the state visitation frequencies (occupancy measure). One iteration is the paper's
loop: backward pass (soft value iteration for r_θ) → forward pass (occupancy of the soft
policy) → gradient step. The two papers differ only in the backward pass: MCE IRL takes the
expectation of the next state's soft value, MaxEnt the log-expectation of its exponential
(they agree under deterministic dynamics). Both finite-horizon and discounted
infinite-horizon MDPs are supported.

    result = maxent_irl(expert_trajectories, cfg=MaxEntConfig(causal=True), env=mdp)
    result.reward, result.policy, result.history[-1]["occupancy_l1"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from protege.algorithms.tabular.common import Progress, mdp_from_env
from protege.algorithms.tabular.demos import ExpertDemos, demo_occupancy
from protege.algorithms.tabular.resume import due, resume_state
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY, restoring, save_checkpoint
from protege.config import check_fields
from protege.envs import Spaces
from protege.envs.tabular import (
    SoftValueResult,
    TabularMDP,
    feature_expectations,
    soft_value_iteration,
    state_occupancy,
)
from protege.errors import ConfigError


@dataclass(frozen=True)
class MaxEntConfig:
    """MaxEnt / MCE IRL settings.

    causal: True for maximum causal entropy IRL (Ziebart 2010), False for MaxEnt IRL
        (Ziebart et al. 2008). Default True.
    optimizer: "adam" (default) or "gd" (plain gradient ascent with step `lr`).
    lr: step size; 0.1 suits Adam on one-hot or unit-scale features.
    max_iterations: gradient steps at most (default 1000).
    tol: stop once the gap named by `gap` is at or below this (default 1e-4).
    gap: "feature" (‖μ_E - μ_θ‖₂) or "occupancy" (‖ρ_E - ρ_θ‖₁) decides convergence;
        both are recorded every iteration.
    l2: weight of an L2 penalty ½·l2·‖θ‖² (a Gaussian prior on θ); default 0.
    soft_vi_tol: error bound of each discounted soft value iteration (warm-started).
    """

    causal: bool = True
    optimizer: Literal["adam", "gd"] = "adam"
    lr: float = 0.1
    max_iterations: int = 1000
    tol: float = 1e-4
    gap: Literal["feature", "occupancy"] = "feature"
    l2: float = 0.0
    soft_vi_tol: float = 1e-10

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.optimizer not in ("adam", "gd"):
            raise ConfigError(f"MaxEntConfig.optimizer is 'adam' or 'gd', not {self.optimizer!r}")
        if self.gap not in ("feature", "occupancy"):
            raise ConfigError(f"MaxEntConfig.gap is 'feature' or 'occupancy', not {self.gap!r}")
        if self.lr <= 0 or self.max_iterations < 1 or self.tol < 0 or self.l2 < 0:
            raise ConfigError(
                "MaxEntConfig needs lr > 0, max_iterations >= 1, tol >= 0 and l2 >= 0"
            )


@dataclass
class MaxEntResult:
    """What MaxEnt / MCE IRL learned.

    theta: (d,) reward weights; reward: (S,) r_θ = Φθ.
    policy: the soft-optimal policy for `reward`, (S, A) or (T, S, A) with a finite horizon.
    occupancy: (S,) its state occupancy; feature_expectations: (d,) μ_θ.
    expert_occupancy: (S,) and expert_feature_expectations: (d,), from the demonstrations.
    history: one dict per iteration: iteration, feature_gap, occupancy_l1, grad_norm.
    converged: the gap reached `tol` before `max_iterations`.
    """

    theta: np.ndarray
    reward: np.ndarray
    policy: np.ndarray
    occupancy: np.ndarray
    feature_expectations: np.ndarray
    expert_occupancy: np.ndarray
    expert_feature_expectations: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    converged: bool = False


class _Adam:
    """Adam (Kingma & Ba 2015) for gradient *ascent* on a numpy parameter vector."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, 1e-8
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self.k = 0

    def step(self, grad: np.ndarray) -> np.ndarray:
        if self.m is None or self.v is None:
            self.m, self.v = np.zeros_like(grad), np.zeros_like(grad)
        self.k += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad**2
        m_hat = self.m / (1 - self.beta1**self.k)
        v_hat = self.v / (1 - self.beta2**self.k)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def maxent_irl(
    demos: ExpertDemos,
    spaces: Spaces | None = None,
    cfg: MaxEntConfig = MaxEntConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: TabularMDP | str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    theta0: np.ndarray | None = None,
) -> MaxEntResult:
    """Fit r_θ = Φθ so that the soft-optimal policy matches the expert's feature expectations.

    demos: expert trajectories (integer states and actions) or the expert's exact
        occupancy measure (S,) or (S, A), e.g. from `optimal_occupancy(mdp, soft=True)`.
    env: the MDP (or its tabular spec), required. spaces: unused, the MDP's are implied.
    callbacks: `on_start(max_iterations, "iteration")`, one `on_iteration` per history
        record as it is made (with its `seconds`), `on_end`.
    checkpoint: a file for θ, the optimiser, the warm start and the history, saved every
        `checkpoint_every` iterations; when it exists, fitting resumes from it (saved
        records are replayed to the callbacks) and ends where an uninterrupted fit would.
    theta0: initial weights (d,), zeros by default.
    """
    mdp = mdp_from_env(env, "MaxEnt IRL")
    with Progress(callbacks, cfg.max_iterations, "iteration") as report:
        return _fit(mdp, demos, cfg, theta0, report, checkpoint, checkpoint_every)


def _fit(
    mdp: TabularMDP,
    demos: ExpertDemos,
    cfg: MaxEntConfig,
    theta0: np.ndarray | None,
    report: Progress,
    checkpoint: str | Path | None,
    checkpoint_every: int,
) -> MaxEntResult:
    """The gradient ascent of the module docstring, resumed from `checkpoint` if it exists."""
    rho_E = demo_occupancy(mdp, demos)  # (S,) expert state visitation frequencies
    mu_E = feature_expectations(mdp, rho_E)  # (d,) expert feature expectations
    phi = mdp.features
    theta = np.zeros(mdp.n_features) if theta0 is None else np.array(theta0, dtype=np.float64)
    if theta.shape != (mdp.n_features,):
        raise ConfigError(f"theta0 has shape {theta.shape}; expected ({mdp.n_features},)")
    adam = _Adam(cfg.lr) if cfg.optimizer == "adam" else None
    history: list[dict[str, float]] = []
    V_warm: np.ndarray | None = None
    soft: SoftValueResult | None = None
    converged = False
    saved = resume_state(checkpoint, report)
    if saved is not None:
        with restoring(checkpoint):
            theta, history = saved["theta"].numpy(), saved["history"]
            V_warm = None if saved["V_warm"] is None else saved["V_warm"].numpy()
            if adam is not None and saved["adam_k"]:
                adam.m, adam.v = saved["adam_m"].numpy(), saved["adam_v"].numpy()
                adam.k = int(saved["adam_k"])
    for k in range(len(history), cfg.max_iterations):
        reward = np.asarray(phi @ theta).ravel()  # r_θ(s) = θ·φ(s)
        soft = soft_value_iteration(
            mdp, reward, causal=cfg.causal, tol=cfg.soft_vi_tol, V0=V_warm, out=soft
        )  # backward pass (overwrites the previous policy's memory)
        V_warm = None if mdp.horizon is not None else soft.V
        rho = state_occupancy(mdp, soft.policy)  # forward pass
        mu = feature_expectations(mdp, rho)
        grad = mu_E - mu - cfg.l2 * theta  # ∇_θ log-likelihood
        record = {
            "iteration": float(k),
            "feature_gap": float(np.linalg.norm(mu_E - mu)),
            "occupancy_l1": float(np.abs(rho_E - rho).sum()),
            "grad_norm": float(np.linalg.norm(grad)),
        }
        history.append(record)
        report(record)
        gap = record["feature_gap"] if cfg.gap == "feature" else record["occupancy_l1"]
        if gap <= cfg.tol:
            converged = True
            break
        if k == cfg.max_iterations - 1:
            break  # keep θ consistent with the policy and occupancy just evaluated
        theta = theta + (adam.step(grad) if adam is not None else cfg.lr * grad)
        if due(checkpoint, k + 1, checkpoint_every):
            save_checkpoint(checkpoint, {
                "theta": theta, "V_warm": V_warm, "history": history,
                "adam_m": adam.m if adam else None, "adam_v": adam.v if adam else None,
                "adam_k": adam.k if adam else 0,
            })  # fmt: skip
    assert soft is not None  # max_iterations >= 1
    return MaxEntResult(
        theta=theta,
        reward=reward,
        policy=soft.policy,
        occupancy=rho,
        feature_expectations=mu,
        expert_occupancy=rho_E,
        expert_feature_expectations=mu_E,
        history=history,
        converged=converged,
    )

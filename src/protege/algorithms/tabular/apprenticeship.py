"""Apprenticeship learning via inverse reinforcement learning, max-margin and projection.

Abbeel & Ng (2004), "Apprenticeship Learning via Inverse Reinforcement Learning", ICML.

The reward is R(s) = w·φ(s) with ‖w‖₂ ≤ 1, and a policy is summarised by its feature
expectations μ(π) = Σ_s ρ_π(s) φ(s) (here with the normalised discounted occupancy, so μ is
(1 - γ) times the paper's). Starting from a random policy π⁽⁰⁾, each iteration i

1. finds the reward direction w⁽ⁱ⁾ and margin t⁽ⁱ⁾ that separate μ_E from μ⁽⁰⁾..μ⁽ⁱ⁻¹⁾:
   - max-margin: max_{t, ‖w‖₂ ≤ 1} t  s.t.  wᵀμ_E ≥ wᵀμ⁽ʲ⁾ + t for all j < i, a QP solved
     in its dual form (the margin equals the distance from μ_E to the convex hull of the
     μ⁽ʲ⁾, and w points from the closest hull point to μ_E), exactly, as a non-negative
     least-squares problem (`scipy.optimize.nnls`);
   - projection: w⁽ⁱ⁾ = μ_E - μ̄⁽ⁱ⁻¹⁾, where μ̄ is the running orthogonal projection of μ_E
     onto the segment from the previous μ̄ to the newest μ;
2. stops if t⁽ⁱ⁾ ≤ ε (or the closest mixture already is within ε); otherwise computes the
   optimal policy π⁽ⁱ⁾ for R = w⁽ⁱ⁾·φ and its μ⁽ⁱ⁾.

The output is the mixture of the policies found whose feature expectations are closest to
μ_E (the QP over the simplex of mixture weights λ), within ε of the expert's. In a
discounted MDP the mixture's occupancy is realised exactly by one stationary policy,
π(a|s) = Σ_j λ_j ρ_j(s, a) / Σ_j λ_j ρ_j(s), which the result also gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.optimize import nnls

from protege.algorithms.tabular.common import Progress, mdp_from_env
from protege.algorithms.tabular.demos import ExpertDemos, demo_occupancy, policy_from_occupancy
from protege.algorithms.tabular.resume import due, resume_state
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY, restoring, save_checkpoint
from protege.config import check_fields
from protege.envs import Spaces
from protege.envs.tabular import (
    TabularMDP,
    feature_expectations,
    state_action_occupancy,
    value_iteration,
)
from protege.errors import ConfigError


@dataclass(frozen=True)
class ApprenticeshipConfig:
    """Apprenticeship learning settings.

    method: "projection" (default) or "max_margin".
    epsilon: stop once the margin t = ‖μ_E - closest mixture‖₂ is at or below this
        (default 1e-4; feature expectations are normalised occupancy sums).
    max_iterations: policies to compute at most (default 100).
    """

    method: Literal["projection", "max_margin"] = "projection"
    epsilon: float = 1e-4
    max_iterations: int = 100

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.method not in ("projection", "max_margin"):
            raise ConfigError(
                f"ApprenticeshipConfig.method must be 'projection' or 'max_margin', "
                f"got {self.method!r}"
            )
        if self.epsilon < 0 or self.max_iterations < 1:
            raise ConfigError("ApprenticeshipConfig needs epsilon >= 0 and max_iterations >= 1")


@dataclass
class ApprenticeshipResult:
    """What apprenticeship learning found.

    w: (d,) the last reward direction (unit norm); reward: (S,) R = Φw, for which the last
        policy found is optimal.
    policies: the deterministic policies π⁽⁰⁾..π⁽ⁿ⁾, each (S, A); π⁽⁰⁾ is uniform random.
    policy_feature_expectations: (n+1, d) their μ⁽ʲ⁾.
    mixture_weights: (n+1,) λ on the simplex, minimising ‖μ_E - Σ λ_j μ⁽ʲ⁾‖₂.
    policy: (S, A) the stationary policy with the mixture's occupancy.
    feature_expectations: (d,) Σ λ_j μ⁽ʲ⁾; expert_feature_expectations: (d,) μ_E.
    margin: ‖μ_E - feature_expectations‖₂ at the end.
    history: per iteration: iteration, margin, feature_gap, occupancy_l1 (of the mixture).
    converged: the margin reached ε.
    """

    w: np.ndarray
    reward: np.ndarray
    policies: list[np.ndarray]
    policy_feature_expectations: np.ndarray
    mixture_weights: np.ndarray
    policy: np.ndarray
    feature_expectations: np.ndarray
    expert_feature_expectations: np.ndarray
    margin: float
    history: list[dict[str, float]] = field(default_factory=list)
    converged: bool = False


def closest_mixture(mu_E: np.ndarray, mus: np.ndarray) -> np.ndarray:
    """λ on the simplex minimising ‖μ_E - Σ_j λ_j μ_j‖₂: the max-margin QP, solved exactly.

    The max-margin problem max_{‖w‖₂ ≤ 1} min_j wᵀ(μ_E - μ_j) is a least-distance program;
    Lawson & Hanson's reduction solves it as one non-negative least-squares problem,
    min_{u ≥ 0} ‖Σ_j u_j (μ_E - μ_j)‖² + (Σ_j u_j - 1)², whose solution direction λ = u / Σu
    is the closest mixture (and w ∝ μ_E - Σ λ_j μ_j). `scipy.optimize.nnls` is an exact
    active-set method, so no tolerance needs tuning.
    """
    mus = np.atleast_2d(mus)
    n = len(mus)
    if n == 1:
        return np.ones(1)
    G = mu_E - mus  # (n, d)
    scale = max(float(np.abs(G).max()), 1e-300)
    E = np.vstack([G.T / scale, np.ones(n)])  # (d + 1, n)
    f = np.zeros(len(E))
    f[-1] = 1.0
    u, _ = nnls(E, f, maxiter=50 * n + 1000)
    return u / u.sum()


def apprenticeship_learning(
    demos: ExpertDemos,
    spaces: Spaces | None = None,
    cfg: ApprenticeshipConfig = ApprenticeshipConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: TabularMDP | str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> ApprenticeshipResult:
    """Find a mixture of optimal policies whose feature expectations are within ε of μ_E.

    demos: expert trajectories or the expert's exact occupancy (S,) or (S, A).
    env: the MDP (or its tabular spec), required; it must be discounted (infinite horizon),
    as in the paper. spaces: unused, the MDP's are implied.
    callbacks: `on_start(max_iterations, "iteration")`, one `on_iteration` per history
        record as it is made (with its `seconds`), `on_end`.
    checkpoint: a file for the policies found, μ̄, w and the history, saved every
        `checkpoint_every` iterations; when it exists, the fit resumes from it (saved
        records are replayed to the callbacks) and ends where an uninterrupted fit would.
    """
    mdp = mdp_from_env(env, "apprenticeship learning")
    if mdp.horizon is not None:
        raise ConfigError(
            "apprenticeship learning (Abbeel & Ng 2004) needs a discounted infinite-horizon "
            "MDP: build it with horizon=None and gamma < 1"
        )
    with Progress(callbacks, cfg.max_iterations, "iteration") as report:
        return _fit(mdp, demos, cfg, report, checkpoint, checkpoint_every)


def _fit(
    mdp: TabularMDP,
    demos: ExpertDemos,
    cfg: ApprenticeshipConfig,
    report: Progress,
    checkpoint: str | Path | None,
    checkpoint_every: int,
) -> ApprenticeshipResult:
    """The iterations of the module docstring, resumed from `checkpoint` where one exists."""
    rho_E = demo_occupancy(mdp, demos)
    mu_E = feature_expectations(mdp, rho_E)

    pi = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)  # π⁽⁰⁾: random
    occupancies = [state_action_occupancy(mdp, pi)]
    policies = [pi]
    mus = [feature_expectations(mdp, occupancies[0])]
    mu_bar = mus[0]  # projection method's running projection μ̄
    w = mu_E - mu_bar
    history: list[dict[str, float]] = []
    saved = resume_state(checkpoint, report)
    if saved is not None:
        with restoring(checkpoint):
            policies, occupancies, mus = (
                list(saved[key].numpy()) for key in ("policies", "occupancies", "mus")
            )
            mu_bar, w, history = saved["mu_bar"].numpy(), saved["w"].numpy(), saved["history"]
    converged = False
    for i in range(len(history) + 1, cfg.max_iterations + 1):
        mus_arr = np.asarray(mus)
        lam = closest_mixture(mu_E, mus_arr)  # the max-margin QP, and the output mixture
        mu_mix = lam @ mus_arr
        if cfg.method == "projection":
            if i > 1:  # project μ_E onto the line through μ̄⁽ⁱ⁻²⁾ and μ⁽ⁱ⁻¹⁾
                step = mus[-1] - mu_bar
                denom = float(step @ step)
                if denom > 0:
                    mu_bar = mu_bar + (float(step @ (mu_E - mu_bar)) / denom) * step
            w_i = mu_E - mu_bar
        else:
            w_i = mu_E - mu_mix
        t = float(np.linalg.norm(w_i))  # t⁽ⁱ⁾
        rho_mix = np.tensordot(lam, np.asarray(occupancies), axes=1)
        record = {
            "iteration": float(i),
            "margin": t,
            "feature_gap": float(np.linalg.norm(mu_E - mu_mix)),
            "occupancy_l1": float(np.abs(rho_mix.sum(axis=1) - rho_E).sum()),
        }
        history.append(record)
        report(record)
        if min(t, record["feature_gap"]) <= cfg.epsilon:  # the output mixture is within ε
            converged = True
            break
        w = w_i / t  # ‖w‖₂ = 1
        reward = np.asarray(mdp.features @ w).ravel()
        pi = value_iteration(mdp, reward).policy  # the RL step: optimal policy for R = w·φ
        policies.append(pi)
        occupancies.append(state_action_occupancy(mdp, pi))
        mus.append(feature_expectations(mdp, occupancies[-1]))
        if due(checkpoint, i, checkpoint_every):
            save_checkpoint(checkpoint, {
                "policies": np.asarray(policies), "occupancies": np.asarray(occupancies),
                "mus": np.asarray(mus), "mu_bar": mu_bar, "w": w, "history": history,
            })  # fmt: skip

    mus_arr = np.asarray(mus)
    lam = closest_mixture(mu_E, mus_arr)
    rho_mix = np.tensordot(lam, np.asarray(occupancies), axes=1)
    mu_mix = lam @ mus_arr
    w = w / max(float(np.linalg.norm(w)), 1e-300)
    return ApprenticeshipResult(
        w=w,
        reward=np.asarray(mdp.features @ w).ravel(),
        policies=policies,
        policy_feature_expectations=mus_arr,
        mixture_weights=lam,
        policy=policy_from_occupancy(rho_mix)[0],
        feature_expectations=mu_mix,
        expert_feature_expectations=mu_E,
        margin=float(np.linalg.norm(mu_E - mu_mix)),
        history=history,
        converged=converged,
    )

"""Linear-programming IRL for a finite state space with a known expert policy.

Ng & Russell (2000), "Algorithms for Inverse Reinforcement Learning", ICML, section 3.

The expert's policy π_E is optimal for R exactly when, for every state s and action a,

    (P_{π_E}(s) - P_a(s)) (I - γ P_{π_E})⁻¹ R ≥ 0.

Among those rewards the LP picks the one that makes π_E's actions win by the widest margin,
with an L1 penalty λ favouring simple (sparse) rewards:

    maximise   Σ_s min_{a ≠ π_E(s)} (P_{π_E}(s) - P_a(s)) (I - γ P_{π_E})⁻¹ R  -  λ ‖R‖₁
    subject to the optimality constraints above and |R(s)| ≤ R_max,

written with one auxiliary variable t_s per min term and u_s per |R(s)|, and solved with
`scipy.optimize.linprog(method="highs")`. The expert policy is read off the
demonstrations (the most frequent action in each visited state); states the expert never
visits carry no constraint. The constraint matrix is dense, S·(A-1) by S: this algorithm is
for small state spaces, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from protege.algorithms.tabular.common import Progress, mdp_from_env
from protege.algorithms.tabular.demos import ExpertDemos, demo_occupancy
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY
from protege.config import check_fields
from protege.envs import Spaces
from protege.envs.tabular import TabularMDP, feature_expectations, state_occupancy, value_iteration
from protege.errors import ConfigError


@dataclass(frozen=True)
class LPIRLConfig:
    """LP IRL settings.

    l1_penalty: λ, the weight of ‖R‖₁ (Ng & Russell show results for λ around 1.05 on their
        5x5 gridworld with R_max = 1); larger gives sparser rewards, too large gives R = 0.
    r_max: bound on |R(s)| (default 1).
    max_states: refuse larger MDPs: the LP is dense, S·(A-1) x S (default 5000).
    """

    l1_penalty: float = 1.05
    r_max: float = 1.0
    max_states: int = 5000

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.l1_penalty < 0 or self.r_max <= 0:
            raise ConfigError("LPIRLConfig needs l1_penalty >= 0 and r_max > 0")


@dataclass
class LPIRLResult:
    """What LP IRL recovered.

    reward: (S,) R; policy: (S, A) an optimal (one-hot) policy for it.
    expert_policy: (S, A) the deterministic policy read from the demonstrations;
        constrained: (S,) bool, the states it was read from.
    objective: the LP's optimal value (margin sum minus λ‖R‖₁).
    history: one record (the LP is solved once): iteration, action_agreement (on constrained
        states), occupancy_l1 and feature_gap between the expert and `policy`.
    converged: the LP solved to optimality.
    """

    reward: np.ndarray
    policy: np.ndarray
    expert_policy: np.ndarray
    constrained: np.ndarray
    objective: float
    history: list[dict[str, float]] = field(default_factory=list)
    converged: bool = False


def lp_irl(
    demos: ExpertDemos,
    spaces: Spaces | None = None,
    cfg: LPIRLConfig = LPIRLConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: TabularMDP | str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> LPIRLResult:
    """Recover a state reward R (S,) for which the expert's policy is optimal.

    demos: expert trajectories or a state-action occupancy (S, A) (a state occupancy has no
    actions). env: the MDP (or its tabular spec), required; it must be discounted (infinite
    horizon), as in the paper. spaces: unused, the MDP's are implied.
    callbacks: `on_start(1, "solve")`, one `on_iteration` for the one solve, `on_end`.
    checkpoint, checkpoint_every: unused, accepted for the trainers' common signature: one
    LP solve has nothing to resume.
    """
    mdp = mdp_from_env(env, "LP IRL")
    if mdp.horizon is not None:
        raise ConfigError(
            "LP IRL (Ng & Russell 2000) needs a discounted infinite-horizon MDP: build it "
            "with horizon=None and gamma < 1"
        )
    S, A = mdp.n_states, mdp.n_actions
    if mdp.n_states > cfg.max_states:
        raise ConfigError(
            f"LP IRL builds a dense {S * (A - 1)} x {S} LP; this MDP has {S} states, over "
            f"LPIRLConfig.max_states={cfg.max_states}. Use maxent_irl for large MDPs"
        )
    with Progress(callbacks, 1, "solve") as report:
        return _solve(mdp, demos, cfg, report)


def _solve(mdp: TabularMDP, demos: ExpertDemos, cfg: LPIRLConfig, report: Progress) -> LPIRLResult:
    """The LP of the module docstring, solved; its one record reported."""
    S, A, gamma = mdp.n_states, mdp.n_actions, mdp.gamma
    rho_E = demo_occupancy(mdp, demos, state_action=True)  # (S, A)
    constrained = rho_E.sum(axis=1) > 0
    a_E = rho_E.argmax(axis=1)  # π_E(s)
    expert_policy = np.zeros((S, A))
    expert_policy[np.arange(S), a_E] = 1.0

    # P_a blocks (S, S) from the action-major P; P_{π_E}(s) = P_{π_E(s)}(s).
    P_am = mdp.P_action_major
    P_a = [sp.csr_matrix(P_am[a * S : (a + 1) * S]) for a in range(A)]
    P_pi = sp.csr_matrix(P_am[a_E * S + np.arange(S)])
    # M = (I - γ P_π)⁻¹, dense (S, S): values of π_E are V = M R.
    M = np.linalg.solve(np.eye(S) - gamma * P_pi.toarray(), np.eye(S))
    # D[a][s] = (P_π(s) - P_a(s)) M : the advantage of π_E(s) over a in s, linear in R.
    D = np.stack([np.asarray((P_pi - P_a[a]) @ M) for a in range(A)])  # (A, S, S)
    s_idx, a_idx = np.nonzero(constrained[:, None] & (np.arange(A)[None, :] != a_E[:, None]))
    D_rows = D[a_idx, s_idx]  # (m, S), one row per constrained (s, a ≠ π_E(s))
    t_of = np.cumsum(constrained) - 1  # index of t_s among constrained states
    n_t = int(constrained.sum())
    m = len(D_rows)

    # Variables x = [R (S), t (n_t), u (S)]; linprog minimises, so negate the objective.
    c = np.concatenate([np.zeros(S), -np.ones(n_t), cfg.l1_penalty * np.ones(S)])
    T_sel = np.zeros((m, n_t))
    T_sel[np.arange(m), t_of[s_idx]] = 1.0
    I_S = np.eye(S)
    A_ub = np.block(
        [
            [-D_rows, T_sel, np.zeros((m, S))],  # t_s ≤ (P_π(s) - P_a(s)) M R
            [-D_rows, np.zeros((m, n_t)), np.zeros((m, S))],  # π_E optimal: D R ≥ 0
            [I_S, np.zeros((S, n_t)), -I_S],  # R ≤ u
            [-I_S, np.zeros((S, n_t)), -I_S],  # -R ≤ u
        ]
    )
    b_ub = np.zeros(len(A_ub))
    bounds = [(-cfg.r_max, cfg.r_max)] * S + [(None, None)] * n_t + [(0.0, cfg.r_max)] * S
    sol = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if sol.status != 0 or sol.x is None:
        raise ConfigError(f"LP IRL's linear program failed: {sol.message}")
    reward = sol.x[:S]

    policy = value_iteration(mdp, reward).policy
    rho = state_occupancy(mdp, policy)
    rho_E_s = rho_E.sum(axis=1)
    agreement = (policy.argmax(axis=1) == a_E)[constrained].mean() if n_t else 1.0
    record = {
        "iteration": 0.0,
        "action_agreement": float(agreement),
        "occupancy_l1": float(np.abs(rho - rho_E_s).sum()),
        "feature_gap": float(
            np.linalg.norm(feature_expectations(mdp, rho) - feature_expectations(mdp, rho_E_s))
        ),
    }
    report(record)
    return LPIRLResult(
        reward=reward,
        policy=policy,
        expert_policy=expert_policy,
        constrained=constrained,
        objective=float(-sol.fun),
        history=[record],
        converged=True,
    )

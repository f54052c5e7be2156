"""Bayesian IRL: a posterior over rewards, sampled by PolicyWalk MCMC.

Ramachandran & Amir (2007), "Bayesian Inverse Reinforcement Learning", IJCAI.

The expert is modelled as Boltzmann-rational in the optimal Q-values of the unknown reward,

    P(O | R) = Π_{(s, a) ∈ O} exp(α Q*(s, a; R)) / Σ_b exp(α Q*(s, b; R)),

with confidence α, and a prior P(R) over state rewards R ∈ [-R_max, R_max]^S. PolicyWalk is
a Metropolis walk on the grid of step δ over that cube that carries along the optimal
policy π of the current reward: a proposal R̃ moves one state's reward by ±δ; Q^π(R̃) is
computed by policy evaluation, and only if π is no longer optimal for R̃ is policy
iteration run (warm-started from π) to obtain Q*(R̃). The proposal is accepted with
probability min(1, P(R̃ | O) / P(R | O)). The posterior mean estimates the reward.

    cfg = BayesianIRLConfig(alpha=5.0, n_samples=2000)
    result = bayesian_irl(trajectories, cfg=cfg, env=mdp)
    result.reward  # posterior mean, (S,)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from protege.algorithms.tabular.common import Progress, mdp_from_env
from protege.algorithms.tabular.demos import ExpertDemos, demo_occupancy, state_action_counts
from protege.algorithms.tabular.resume import due, resume_state
from protege.callbacks import Callback
from protege.checkpoint import CHECKPOINT_EVERY, restoring, save_checkpoint
from protege.config import check_fields
from protege.envs import Spaces
from protege.envs.tabular import TabularMDP, state_occupancy, value_iteration
from protege.errors import ConfigError

STEPS_PER_ROW = 100
"""MCMC steps per progress row (history record); `checkpoint_every` counts these rows."""


@dataclass(frozen=True)
class BayesianIRLConfig:
    """Bayesian IRL (PolicyWalk) settings.

    alpha: the expert's confidence α in the Boltzmann likelihood (default 5).
    r_max: rewards live in [-r_max, r_max] (default 1).
    step: δ, the grid step of the walk (default r_max / 10).
    n_samples: posterior samples kept after burn-in (default 2000); burn_in: discarded
        first steps (default 500); thin: keep every thin-th step (default 1).
    prior: "uniform" on the cube (default), "gaussian" or "laplace" with `prior_scale`.
    demo_weight: when the demonstrations are an occupancy measure, the number of (s, a)
        observations it stands for (default 100); trajectories count their own steps.
    seed: of the walk.
    """

    alpha: float = 5.0
    r_max: float = 1.0
    step: float | None = None
    n_samples: int = 2000
    burn_in: int = 500
    thin: int = 1
    prior: Literal["uniform", "gaussian", "laplace"] = "uniform"
    prior_scale: float = 0.5
    demo_weight: float = 100.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)  # every setting's type and range, by what its name means
        if self.prior not in ("uniform", "gaussian", "laplace"):
            raise ConfigError(
                f"BayesianIRLConfig.prior must be uniform, gaussian or laplace, got {self.prior!r}"
            )
        if self.alpha <= 0 or self.r_max <= 0 or self.n_samples < 1 or self.thin < 1:
            raise ConfigError(
                "BayesianIRLConfig needs alpha > 0, r_max > 0, n_samples >= 1 and thin >= 1"
            )
        if self.burn_in < 0 or self.demo_weight <= 0 or self.prior_scale <= 0:
            raise ConfigError(
                "BayesianIRLConfig needs burn_in >= 0, demo_weight > 0, prior_scale > 0"
            )
        if self.step is not None and not 0 < self.step <= self.r_max:
            raise ConfigError("BayesianIRLConfig.step must be in (0, r_max]")


@dataclass
class BayesianIRLResult:
    """The posterior over rewards.

    reward: (S,) the posterior mean; samples: (n_samples, S) the kept samples.
    policy: (S, A) an optimal (one-hot) policy for the posterior mean.
    acceptance_rate: fraction of accepted proposals.
    history: one record per block of `STEPS_PER_ROW` (100) MCMC steps: iteration, log_posterior,
        acceptance_rate, occupancy_l1 (expert vs the current reward's optimal policy).
    """

    reward: np.ndarray
    samples: np.ndarray
    policy: np.ndarray
    acceptance_rate: float
    history: list[dict[str, float]] = field(default_factory=list)
    converged: bool = True


def _log_prior(R: np.ndarray, cfg: BayesianIRLConfig) -> float:
    if cfg.prior == "gaussian":
        return float(-0.5 * np.sum((R / cfg.prior_scale) ** 2))
    if cfg.prior == "laplace":
        return float(-np.sum(np.abs(R)) / cfg.prior_scale)
    return 0.0


def _log_likelihood(Q: np.ndarray, counts: np.ndarray, alpha: float) -> float:
    """Σ_{s,a} n(s, a) [α Q*(s, a) - log Σ_b exp(α Q*(s, b))]."""
    aQ = alpha * Q
    m = aQ.max(axis=1, keepdims=True)
    log_z = m + np.log(np.exp(aQ - m).sum(axis=1, keepdims=True))
    return float(np.sum(counts * (aQ - log_z)))


class _PolicyValues:
    """Q^π(R) of deterministic policies, fast: V^π = M_π R with M_π = (I - γ P_π)⁻¹.

    PolicyWalk evaluates the same policy under thousands of nearby rewards, so M_π is
    computed once per policy (a dense S x S inverse: Bayesian IRL is for small MDPs) and
    each evaluation is one dense and one sparse product.
    """

    def __init__(self, mdp: TabularMDP) -> None:
        self.mdp = mdp
        self._actions: np.ndarray | None = None
        self._M = np.empty((0, 0))

    def Q(self, actions: np.ndarray, R: np.ndarray) -> np.ndarray:
        mdp = self.mdp
        S, A = mdp.n_states, mdp.n_actions
        if self._actions is None or not np.array_equal(actions, self._actions):
            P_pi = mdp.P[np.arange(S) * A + actions].toarray()
            self._M = np.linalg.inv(np.eye(S) - mdp.gamma * P_pi)
            self._actions = actions.copy()
        V = self._M @ R
        return R[:, None] + mdp.gamma * (mdp.P @ V).reshape(S, A)

    def optimal(self, actions: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Policy iteration from `actions`: the optimal actions for R and their Q*."""
        S = self.mdp.n_states
        for _ in range(10 * S + 100):
            Q = self.Q(actions, R)
            current = Q[np.arange(S), actions]
            best = Q.max(axis=1)
            improve = best > current + 1e-10 * (1.0 + np.abs(best))  # strict: ties stay
            if not improve.any():
                return actions, Q
            actions = np.where(improve, Q.argmax(axis=1), actions)
        return actions, self.Q(actions, R)


def bayesian_irl(
    demos: ExpertDemos,
    spaces: Spaces | None = None,
    cfg: BayesianIRLConfig = BayesianIRLConfig(),
    callbacks: Sequence[Callback] = (),
    *,
    env: TabularMDP | str | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> BayesianIRLResult:
    """Sample the posterior over state rewards (S,) with PolicyWalk; return its mean.

    demos: expert trajectories or a state-action occupancy (S, A). env: the MDP (or its
    tabular spec), required; it must be discounted (infinite horizon), as in the paper.
    spaces: unused, the MDP's are implied.
    callbacks: `on_start(burn_in + n_samples * thin, "step")`, then a progress row every
        `STEPS_PER_ROW` MCMC steps (and at the last), as `on_iteration(step, record)`
        with the record's MCMC step as the index, then `on_end`.
    checkpoint: a file for the chain (current reward, policy, generator state), the samples
        kept and the history, saved every `checkpoint_every` progress rows (the default 10:
        every 1000 MCMC steps); when it exists, the chain resumes from it (saved records
        are replayed to the callbacks) and ends bit-identical to an uninterrupted one.
    """
    mdp = mdp_from_env(env, "Bayesian IRL")
    if mdp.horizon is not None:
        raise ConfigError(
            "Bayesian IRL (Ramachandran & Amir 2007) needs a discounted infinite-horizon "
            "MDP: build it with horizon=None and gamma < 1"
        )
    total = cfg.burn_in + cfg.n_samples * cfg.thin
    with Progress(callbacks, total, "step", index_by_iteration=True) as report:
        return _walk(mdp, demos, cfg, report, checkpoint, checkpoint_every)


def _walk(
    mdp: TabularMDP,
    demos: ExpertDemos,
    cfg: BayesianIRLConfig,
    report: Progress,
    checkpoint: str | Path | None,
    checkpoint_every: int,
) -> BayesianIRLResult:
    """PolicyWalk as in the module docstring, resumed from `checkpoint` where one exists."""
    if isinstance(demos, np.ndarray):
        rho = demo_occupancy(mdp, demos, state_action=True)
        counts = cfg.demo_weight * rho / rho.sum()
    else:
        counts = state_action_counts(mdp, demos)
    rho_E = demo_occupancy(mdp, demos)  # (S,), for the gap recorded in the history
    S = mdp.n_states
    rng = np.random.default_rng(cfg.seed)
    delta = cfg.step if cfg.step is not None else cfg.r_max / 10
    n_grid = int(np.floor(cfg.r_max / delta + 1e-9))

    # Start at a random grid point, with its optimal policy.
    R = rng.integers(-n_grid, n_grid + 1, size=S) * delta
    values = _PolicyValues(mdp)
    actions, Q = values.optimal(value_iteration(mdp, R).policy.argmax(axis=1), R)
    log_post = _log_likelihood(Q, counts, cfg.alpha) + _log_prior(R, cfg)

    total = cfg.burn_in + cfg.n_samples * cfg.thin
    samples = np.empty((cfg.n_samples, S))
    history: list[dict[str, float]] = []
    accepted = 0
    kept = 0
    start = 0
    saved = resume_state(checkpoint, report)
    if saved is not None:
        with restoring(checkpoint):
            R, actions, Q = (saved[key].numpy() for key in ("R", "actions", "Q"))
            rng.bit_generator.state = saved["rng"]  # PCG64's state: plain ints
            log_post, history = saved["log_post"], saved["history"]
            start, accepted, kept = saved["steps"], saved["accepted"], saved["kept"]
            samples[:kept] = saved["samples"].numpy()
    for it in range(start, total):
        i = int(rng.integers(S))
        R_new = R.copy()
        R_new[i] += delta if rng.random() < 0.5 else -delta
        if abs(R_new[i]) <= cfg.r_max + 1e-12:
            Q_new = values.Q(actions, R_new)  # Q^π(R̃)
            actions_new = actions
            best = Q_new.max(axis=1)
            if np.any(best > Q_new[np.arange(S), actions] + 1e-10 * (1.0 + np.abs(best))):
                actions_new, Q_new = values.optimal(actions, R_new)  # π not optimal for R̃
            log_post_new = _log_likelihood(Q_new, counts, cfg.alpha) + _log_prior(R_new, cfg)
            if np.log(rng.random()) < log_post_new - log_post:
                R, actions, Q, log_post = R_new, actions_new, Q_new, log_post_new
                accepted += 1
        if it >= cfg.burn_in and (it - cfg.burn_in) % cfg.thin == 0:
            samples[kept] = R
            kept += 1
        if (it + 1) % STEPS_PER_ROW == 0 or it == total - 1:
            pi = np.eye(mdp.n_actions)[actions]
            record = {
                "iteration": float(it),
                "log_posterior": log_post,
                "acceptance_rate": accepted / (it + 1),
                "occupancy_l1": float(np.abs(state_occupancy(mdp, pi) - rho_E).sum()),
            }
            history.append(record)
            report(record)
        every = STEPS_PER_ROW * max(checkpoint_every, 1)  # the same MCMC steps as rows
        if due(checkpoint, it + 1, every) and it + 1 < total:
            save_checkpoint(checkpoint, {
                "steps": it + 1, "R": R, "actions": actions, "Q": Q, "log_post": log_post,
                "accepted": accepted, "kept": kept, "samples": samples[:kept],
                "rng": rng.bit_generator.state, "history": history,
            })  # fmt: skip
    mean = samples.mean(axis=0)
    return BayesianIRLResult(
        reward=mean,
        samples=samples,
        policy=value_iteration(mdp, mean).policy,
        acceptance_rate=accepted / total,
        history=history,
    )

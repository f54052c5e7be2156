"""Linear systems of one stationary policy, (I - γM) x = b, for the discounted solvers.

M is a policy's state-to-state matrix P_π (policy evaluation, the Newton step of soft
value iteration) or its transpose (occupancy measures). The solve picks what is fast for
the MDP at hand, measured on 2 CPU cores (`benchmarks/tabular_solvers.py`):

- a sparse LU (SuperLU) when it is cheap: S·b² at most `LU_MAX_WORK`, b the bandwidth of
  M in reverse Cuthill-McKee order (`LU_MAX_WORK_INEXACT` for a Newton step's looser
  solve). That holds for grids up to about 30x30, the toy-text envs and ObjectWorld up to
  32x32, where the LU is exact and cheapest;
- otherwise SciPy's restarted GMRES (`gmres`), at most `KRYLOV_MAX_ITERATIONS` products with M. At
  γ = 0.9 it converges in a few dozen, where an LU is 5x slower on a 200x200 grid and
  hopeless on Garnet MDPs (random transitions fill the LU in: 3.4 s at 3,000 states);
- when GMRES stops short (γ close to 1 slows it down): the LU up to
  `DIRECT_SOLVE_MAX_STATES` states, fixed-point sweeps x ← b + γMx above (they converge at
  rate γ, whatever M is).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import reverse_cuthill_mckee

from protege.envs.tabular.mdp import TabularMDP

LU_MAX_WORK = 2e6
"""A sparse LU is taken straight away when S·b² (the work of a banded LU) is at most this.
Measured: Garnet MDPs cross it at 200 states (LU 10 ms vs GMRES 8 ms per MCE iteration),
grids at 30x30 (17 ms each way); Taxi-v4 (500 states, b = 13) takes 7 ms by LU, 49 by GMRES."""

LU_MAX_WORK_INEXACT = 3e5
"""The same bound for a solve to a looser `rtol` (a Newton step's), where GMRES needs few
products: on ObjectWorld 32x32 (S·b² = 1e6) the LU took 1.7 ms, GMRES 0.8 ms to rtol 1e-3
and 1.5 ms to 1e-6; on Taxi-v4 (8e4) the LU 0.3 ms, GMRES 1.9 and 2.9 ms."""

BANDWIDTH_MAX_STATES = 5_000
"""The bandwidth is measured up to this many states (0.5 ms there); above, GMRES goes first
(a 2-D grid's LU is cheap only up to about 1,400 states)."""

DIRECT_SOLVE_MAX_STATES = 50_000
"""Up to this many states, a system GMRES did not solve is solved by a sparse LU; above,
by fixed-point sweeps (an LU of a larger system may not fit in memory)."""

KRYLOV_RESTART = 20
"""GMRES's restart length: Krylov vectors kept, 21 x 8 bytes per state (10 stalled on Taxi-v4)."""

KRYLOV_RESTART_LARGE = 10
"""The restart length from `LARGE_STATES` states on, where orthogonalising against the kept
vectors, not the products with M, is what costs: an exact occupancy of a 1000x1000 grid
took 1.9 s with 10, 3.0 s with 20 (60 and 56 products)."""

LARGE_STATES = 100_000
"""From this many states on, GMRES restarts every `KRYLOV_RESTART_LARGE` products."""

KRYLOV_MAX_ITERATIONS = 300
"""Products with M that GMRES may spend before the fallback takes over."""

EXACT_RTOL = 1e-13
"""Relative residual of a solve whose result is reported (values, occupancies)."""


def policy_matrix(
    mdp: TabularMDP, policy_am: np.ndarray, P: sp.csr_matrix | None = None
) -> sp.csr_matrix:
    """M[s, s'] = Σ_a π(a|s) P(s'|s, a), (S, S), as one sparse product.

    policy_am: (A, S), the policy action-major. P: an action-major (S·A, S) matrix to use
    instead of the MDP's own (the Newton step of MaxEnt 2008 passes a tilted one).
    """
    S, A = mdp.n_states, mdp.n_actions
    P = mdp.P_action_major if P is None else P
    cols = np.arange(A * S).reshape(A, S).T.ravel()  # (s, a) -> a*S + s
    Pi = sp.csr_matrix((policy_am.T.ravel(), cols, np.arange(0, S * A + 1, A)), shape=(S, A * S))
    return sp.csr_matrix(Pi @ P)


def solve_discounted(
    M: sp.spmatrix, b: np.ndarray, gamma: float, *, rtol: float = EXACT_RTOL
) -> np.ndarray:
    """Solve (I - γM) x = b for a row- or column-stochastic sparse M (n, n).

    rtol: relative residual ‖b - (I - γM)x‖₂ ≤ rtol·‖b‖₂ asked of GMRES. The default,
        `EXACT_RTOL`, is for results; the Newton step of soft value iteration asks less
        while it is far from the fixed point. The LU is exact whatever `rtol`. At the
        default the result is finished by fixed-point sweeps until they change it by at
        most rtol·max|b|/(1 - γ), the guarantee the solvers always gave.
    """
    n = M.shape[0]
    Mr = sp.csr_matrix(M)
    if lu_is_cheap(Mr, LU_MAX_WORK if rtol <= EXACT_RTOL else LU_MAX_WORK_INEXACT):
        return _direct(M, b, gamma)
    x, solved = gmres(
        lambda v: v - gamma * (Mr @ v),
        np.asarray(b, dtype=np.float64),
        rtol,
        restart=KRYLOV_RESTART if n < LARGE_STATES else KRYLOV_RESTART_LARGE,
        max_products=KRYLOV_MAX_ITERATIONS,
    )
    if not solved and n <= DIRECT_SOLVE_MAX_STATES:
        return _direct(M, b, gamma)
    if not solved or rtol <= EXACT_RTOL:
        return _fixed_point(Mr, b, gamma, x, rtol)
    return x


def gmres(
    matvec: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    rtol: float,
    *,
    restart: int = KRYLOV_RESTART,
    max_products: int = KRYLOV_MAX_ITERATIONS,
) -> tuple[np.ndarray, bool]:
    """SciPy's restarted GMRES for A x = b from x = 0, A given by `matvec`, at most about
    `max_products` products with A. Returns (x, whether ‖b - Ax‖₂ ≤ rtol·‖b‖₂).

    Its inner products are BLAS calls, which OpenBLAS threads from 32,768 elements on: on a
    busy 2-core machine that made it 45x slower (7.4 s for one 200x200 gridworld system)
    unless BLAS has one thread, as `protege --threads 1` (threadpoolctl) and the tests give
    it (0.17 s)."""
    b = np.asarray(b, dtype=np.float64)
    n = b.size
    b_norm = float(np.linalg.norm(b))
    if b_norm == 0.0:
        return np.zeros(n), True
    operator = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    cycles = max(-(-max_products // restart), 1)
    x, _ = spla.gmres(operator, b, rtol=rtol, atol=0.0, restart=restart, maxiter=cycles)
    residual = float(np.linalg.norm(b - matvec(x)))
    return x, residual <= rtol * b_norm


def lu_is_cheap(M: sp.csr_matrix, work: float = LU_MAX_WORK) -> bool:
    """Whether a sparse LU of I - γM costs little: S·b² ≤ `work`, b the bandwidth of M
    (n, n) once reverse Cuthill-McKee has ordered its states (on M + Mᵀ's pattern)."""
    n = M.shape[0]
    if n**3 <= work:
        return True
    if n > BANDWIDTH_MAX_STATES:
        return False
    order = reverse_cuthill_mckee(M, symmetric_mode=False)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    rows = np.repeat(np.arange(n), np.diff(M.indptr))
    bandwidth = int(np.abs(position[rows] - position[M.indices]).max(initial=0))
    return n * bandwidth**2 <= work


def _direct(M: sp.spmatrix, b: np.ndarray, gamma: float) -> np.ndarray:
    n = M.shape[0]
    system = (sp.identity(n, format="csc") - gamma * sp.csc_matrix(M)).tocsc()
    return np.asarray(spla.spsolve(system, b), dtype=np.float64)


def _fixed_point(
    M: sp.csr_matrix, b: np.ndarray, gamma: float, x: np.ndarray, rtol: float
) -> np.ndarray:
    """Sweeps x ← b + γMx from `x` until one changes x by at most rtol·max|b|/(1 - γ)."""
    scale = max(float(np.abs(b).max()) if b.size else 0.0, 1e-300) / (1.0 - gamma)
    for _ in range(100_000):
        x_new = b + gamma * (M @ x)
        if np.abs(x_new - x).max() <= rtol * scale:
            return np.asarray(x_new)
        x = x_new
    return x

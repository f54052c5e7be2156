"""Benchmark: MCE IRL iterations at the CLI's defaults, the old soft VI solver vs the new.

    python benchmarks/tabular_solvers.py                     # the default suite
    python benchmarks/tabular_solvers.py --envs gridworld:200,gridworld:1000 --iterations 4

`protege train mce`'s defaults: the discounted MDP `make_tabular(ENV)` builds (γ = 0.9 for
gridworld, objectworld and garnet, 0.99 for the toy-text envs) and `MaxEntConfig()` (Adam,
lr 0.1, each soft value iteration warm-started and solved to the error bound 1e-10). The
demonstrations are the optimal policy's exact occupancy, which many expert episodes
approach; an iteration costs the same whatever they are.

- old: soft value iteration by repeated backups (rate γ: hundreds at γ = 0.9), and linear
  solves (the occupancy measure) by a sparse LU up to 50,000 states, BiCGSTAB above: the
  solver before Newton's method, copied below (`old_solve_discounted`);
- new: Newton's method, i.e. soft policy iteration (`soft_value_iteration(solver="newton")`),
  and linear solves by a sparse LU where it is cheap, GMRES elsewhere
  (`protege.envs.tabular.linalg`).

Both run in this one process, one after the other per env and repeat (old, new, old,
new...), so that they share the machine's load. ms/iter is the median time between two
iteration callbacks (a steady-state iteration: backward pass, forward pass, gradient), the
best over repeats; backups is the mean number of soft Bellman backups per backward pass;
max |Δθ| is the largest difference of the rewards the two learned in the same iterations
(both solve to the same tolerance, so it stays far below the step size).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from protege.algorithms.tabular import maxent
from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
from protege.callbacks import Callback
from protege.envs.tabular import make_tabular, optimal_occupancy, solvers

DEFAULT_ENVS = (
    "FrozenLake-v1,Taxi-v4,gridworld:10,objectworld:32,garnet:1000,gridworld:60,garnet:3000,"
    "gridworld:200"
)


def old_solve_discounted(M: sp.spmatrix, b: np.ndarray, gamma: float, **_: Any) -> np.ndarray:
    """The linear solve before GMRES, verbatim: LU up to 50,000 states, BiCGSTAB above,
    finished by fixed-point sweeps."""
    n = M.shape[0]
    system = (sp.identity(n, format="csc") - gamma * sp.csc_matrix(M)).tocsc()
    if n <= 50_000:
        return np.asarray(spla.spsolve(system, b), dtype=np.float64)
    x, _ = spla.bicgstab(system.tocsr(), b, rtol=1e-12, atol=0.0, maxiter=10 * n)
    Mr = sp.csr_matrix(M)
    scale = max(float(np.abs(b).max()), 1e-300) / (1.0 - gamma)
    for _ in range(100_000):
        x_new = b + gamma * (Mr @ x)
        if np.abs(x_new - x).max() <= 1e-13 * scale:
            return np.asarray(x_new)
        x = x_new
    return np.asarray(x)


SIDES = {
    "old": ("iteration", old_solve_discounted),
    "new": ("newton", solvers.solve_discounted),
}


class Stamps(Callback):
    """The wall-clock time of every iteration callback."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        self.times.append(time.perf_counter())


def run_side(side: str, mdp: Any, expert: np.ndarray, iterations: int) -> dict[str, Any]:
    """`iterations` + 1 MCE IRL iterations with one side's solver; its timings and θ."""
    solver, solve = SIDES[side]
    backups: list[int] = []
    original = solvers.soft_value_iteration

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs, solver=solver)
        backups.append(result.iterations)
        return result

    # The two switches, undone below: maxent's backward pass and the solvers' linear solve.
    maxent.soft_value_iteration = counted  # type: ignore[assignment]
    solvers.solve_discounted = solve  # type: ignore[assignment]
    try:
        stamps = Stamps()
        cfg = MaxEntConfig(max_iterations=iterations + 1, tol=0.0)
        result = maxent_irl(expert, None, cfg, [stamps], env=mdp)
    finally:
        maxent.soft_value_iteration = original  # type: ignore[assignment]
        solvers.solve_discounted = SIDES["new"][1]  # type: ignore[assignment]
    return {
        "ms_per_iteration": 1e3 * float(np.median(np.diff(stamps.times))),
        "backups": float(np.mean(backups[1:])),  # the first pass is a cold start
        "theta": result.theta,
    }


def measure(env: str, iterations: int, repeats: int) -> dict[str, Any]:
    """Old and new on one env, alternately, `repeats` times each."""
    mdp = make_tabular(env)
    expert = optimal_occupancy(mdp)
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for _ in range(repeats):
        for side in ("old", "new"):
            runs[side].append(run_side(side, mdp, expert, iterations))
    best = {side: min(r["ms_per_iteration"] for r in rs) for side, rs in runs.items()}
    return {
        "env": env,
        "states": mdp.n_states,
        "gamma": mdp.gamma,
        "old_ms": best["old"],
        "new_ms": best["new"],
        "old_backups": runs["old"][0]["backups"],
        "new_backups": runs["new"][0]["backups"],
        "speedup": best["old"] / best["new"],
        "theta_diff": float(np.abs(runs["old"][0]["theta"] - runs["new"][0]["theta"]).max()),
    }


def main() -> None:
    threadpool_limits(limits=1)  # one BLAS thread, as `protege train --threads 1` has
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--envs", default=DEFAULT_ENVS, help="comma-separated tabular specs")
    parser.add_argument("--iterations", type=int, default=6, help="timed MCE iterations")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side (best kept)")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    print(
        f"MCE IRL at `protege train mce`'s defaults; {args.iterations} iterations per run, "
        f"best of {args.repeats} runs per side, alternating; {os.cpu_count()} CPU(s)."
    )
    header = ("env", "states", "γ", "old ms/iter", "backups", "new ms/iter", "backups",
              "speed-up", "max |Δθ|")  # fmt: skip
    widths = (16, 9, 5, 12, 8, 12, 8, 9, 9)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    print("-" * (sum(widths) + len(widths) - 1), flush=True)
    rows = []
    for env in args.envs.split(","):
        row = measure(env, args.iterations, args.repeats)
        rows.append(row)
        cells = (
            env, f"{row['states']:,}", f"{row['gamma']:g}", f"{row['old_ms']:.1f}",
            f"{row['old_backups']:.0f}", f"{row['new_ms']:.1f}", f"{row['new_backups']:.1f}",
            f"{row['speedup']:.1f}x", f"{row['theta_diff']:.0e}",
        )  # fmt: skip
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())

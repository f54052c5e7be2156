"""Benchmark: soft value iteration and MCE IRL iterations, protege vs `imitation` 1.0.1.

    python benchmarks/tabular.py                      # 5x5 .. 1000x1000, horizon 20
    python benchmarks/tabular.py --sizes 10,60 --horizon 60 --no-imitation

For each n x n slippery gridworld (4 actions, slip 0.2, one-hot features, finite horizon T)
it measures, in a fresh subprocess per size and per library so that peak memory is that of
one problem:

- soft VI: the finite-horizon soft value iteration (T soft Bellman backups), reported per
  backup;
- MCE iteration: one full maximum causal entropy IRL iteration (soft value iteration,
  occupancy measure of the soft policy, gradient), in steady state (after a first one);
- peak memory: the subprocess's peak resident set size (`resource.getrusage`), which
  includes the interpreter, the libraries and building the MDP.

protege runs `protege.algorithms.tabular.maxent.maxent_irl` on its sparse `TabularMDP`.
`imitation` runs `imitation.algorithms.mce_irl.mce_partition_fh` and
`mce_occupancy_measures` on the dense (S, A, S) model of the same MDP (same transitions,
reward and start distribution), in its own venv (`benchmarks/_imitation_env.py`; imitation
pins an old Gymnasium). Its dense model needs 8·S²·A bytes, so it is run only up to
`--imitation-max-states` states. The speed-up is imitation's time over protege's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SLIP = 0.2

# Runs inside imitation's venv: argv = npz path, horizon, iterations. Prints one JSON line.
IMITATION_WORKER = r"""
import json, resource, sys, time, types
import numpy as np
import scipy.sparse as sp
from imitation.algorithms import mce_irl

path, horizon, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = np.load(path + ".arrays.npz")
P = sp.load_npz(path + ".P.npz")
S, A = P.shape[1], P.shape[0] // P.shape[1]
env = types.SimpleNamespace(  # the attributes mce_partition_fh / mce_occupancy_measures read
    horizon=horizon, state_dim=S, action_dim=A, observation_dim=S,
    transition_matrix=P.toarray().reshape(S, A, S),  # the dense model, 8·S²·A bytes
    reward_matrix=data["reward"], initial_state_dist=data["initial"],
)
del P
rho_E = data["expert"]
times, backups = [], []
for _ in range(iterations + 1):  # the first one warms up
    t0 = time.perf_counter()
    V, Q, pi = mce_irl.mce_partition_fh(env, reward=env.reward_matrix)
    t1 = time.perf_counter()
    D, Dcum = mce_irl.mce_occupancy_measures(env, pi=pi)
    grad = rho_E - Dcum
    t2 = time.perf_counter()
    times.append(t2 - t0)
    backups.append((t1 - t0) / horizon)
print(json.dumps({
    "mce_s": float(np.median(times[1:])),
    "soft_vi_s": float(np.median(backups[1:])),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _gridworld(n: int, horizon: int):  # noqa: ANN202 - a TabularMDP
    from protege.envs.tabular import gridworld

    return gridworld(n, slip=SLIP, goals=[(0, n - 1)], horizon=horizon, gamma=1.0)


def protege_worker(n: int, horizon: int, dump: str | None) -> dict[str, Any]:
    """Measure protege on an n x n gridworld (run in its own process)."""
    import numpy as np
    import scipy.sparse as sp

    from protege.algorithms.tabular.maxent import MaxEntConfig, maxent_irl
    from protege.callbacks import Callback
    from protege.envs.tabular import soft_value_iteration, state_occupancy

    t0 = time.perf_counter()
    mdp = _gridworld(n, horizon)
    build_s = time.perf_counter() - t0
    S = mdp.n_states
    # The expert: soft-optimal for 3x the true reward; its exact occupancy are the demos.
    expert = state_occupancy(mdp, soft_value_iteration(mdp, 3.0 * mdp.reward).policy)
    if dump is not None:  # the same MDP for imitation's side
        sp.save_npz(dump + ".P.npz", mdp.P)
        np.savez(dump + ".arrays.npz", reward=mdp.reward, initial=mdp.initial, expert=expert)

    # soft VI: whole finite-horizon passes, per backup, after a warm-up pass; like the IRL
    # loop, each pass reuses the previous one's arrays (`out=`) instead of allocating T·S·A
    reps = max(3, min(50, int(2e7 / (S * horizon))))
    soft = soft_value_iteration(mdp)
    t0 = time.perf_counter()
    for _ in range(reps):
        soft = soft_value_iteration(mdp, out=soft)
    soft_vi_s = (time.perf_counter() - t0) / (reps * horizon)
    del soft

    # MCE IRL: time between iteration callbacks, i.e. steady-state iterations
    stamps: list[float] = []
    iterations = max(3, min(30, int(1e7 / (S * horizon))))
    cfg = MaxEntConfig(max_iterations=iterations + 1, tol=0.0)

    class Stamp(Callback):
        def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
            stamps.append(time.perf_counter())

    maxent_irl(expert, None, cfg, [Stamp()], env=mdp)
    mce_s = float(np.median(np.diff(stamps)))
    return {
        "n": n,
        "states": S,
        "nnz": int(mdp.P.nnz),
        "build_s": build_s,
        "soft_vi_s": soft_vi_s,
        "mce_s": mce_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_json(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run a worker and parse the JSON on its last output line (or say why there is none)."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


def fmt_s(x: float | None) -> str:
    """Seconds as "12.345 ms" or "1.23 s"; "-" when not measured."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x * 1e3:.3f} ms" if x < 0.1 else f"{x:.2f} s"


def fmt_mb(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def speedup(imitation: dict[str, Any], protege: dict[str, Any], key: str) -> str:
    if key in imitation and key in protege:
        return f"{imitation[key] / protege[key]:,.0f}x"
    return "-"


def measure(
    n: int, horizon: int, imitation_py: Path | None, max_states: int, tmp: str
) -> dict[str, Any]:
    """Both sides on an n x n gridworld, each in its own subprocess."""
    n_states = n * n
    dump = os.path.join(tmp, f"grid{n}")
    run_imitation = imitation_py is not None and n_states <= max_states
    cmd = [sys.executable, __file__, "--worker", "protege", "--size", str(n)]
    cmd += ["--horizon", str(horizon)] + (["--dump", dump] if run_imitation else [])
    protege = run_json(cmd, timeout=1800)
    imitation: dict[str, Any] = {}
    if run_imitation and "error" not in protege:
        iterations = 3 if n_states <= 4000 else 1
        cmd = [str(imitation_py), "-c", IMITATION_WORKER, dump, str(horizon), str(iterations)]
        imitation = run_json(cmd, timeout=3600)
    elif imitation_py is not None:
        gib = 8 * n_states * n_states * 4 / 2**30
        imitation = {"error": f"not run: its dense model would need {gib:,.1f} GiB"}
    return {"n": n, "states": n_states, "protege": protege, "imitation": imitation}


COLUMNS = (
    ("grid", 9), ("states", 9), ("nnz(P)", 10),
    ("protege VI/backup", 17), ("MCE/iter", 10), ("peak MB", 8),
    ("imitation VI/backup", 19), ("MCE/iter", 10), ("peak MB", 8),
    ("speed-up VI", 11), ("MCE", 6),
)  # fmt: skip


def print_row(cells: list[str]) -> None:
    print(" ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="5,10,20,30,60,100,200,500,1000")
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument(
        "--imitation-max-states",
        type=int,
        default=10_000,
        help="largest S for imitation's dense model (8·S²·A bytes; 3.2 GB at 10,000)",
    )
    parser.add_argument("--no-imitation", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--worker", choices=["protege"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "protege":
        print(json.dumps(protege_worker(args.size, args.horizon, args.dump)))
        return

    imitation_py: Path | None = None
    note = ""
    if not args.no_imitation:
        from _imitation_env import ImitationUnavailable, imitation_python

        try:
            imitation_py = imitation_python()
        except (ImitationUnavailable, OSError) as exc:
            note = f"imitation 1.0.1 could not be installed, so only protege is measured:\n{exc}"
            print(note, file=sys.stderr)

    print(
        f"n x n gridworlds: 4 actions, slip {SLIP}, one-hot features, horizon {args.horizon}; "
        f"{os.cpu_count()} CPU(s).\nVI/backup: one soft Bellman backup; MCE/iter: one MCE IRL "
        "iteration (soft VI + occupancy + gradient); peak MB: the worker's peak RSS."
    )
    print_row([name for name, _ in COLUMNS])
    print("-" * (sum(w for _, w in COLUMNS) + len(COLUMNS) - 1), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            row = measure(n, args.horizon, imitation_py, args.imitation_max_states, tmp)
            rows.append(row)
            p, im = row["protege"], row["imitation"]
            print_row([
                f"{n}x{n}", f"{row['states']:,}", f"{p.get('nnz', 0):,}",
                fmt_s(p.get("soft_vi_s")), fmt_s(p.get("mce_s")), fmt_mb(p.get("peak_mb")),
                fmt_s(im.get("soft_vi_s")), fmt_s(im.get("mce_s")), fmt_mb(im.get("peak_mb")),
                speedup(im, p, "soft_vi_s"), speedup(im, p, "mce_s"),
            ])  # fmt: skip
            for side, res in (("protege", p), ("imitation", im)):
                if "error" in res:
                    print(f"{'':>9} {side}: {res['error']}", flush=True)
    if note:
        print(f"\n{note}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""Calibrate `protege bench imperfect`: the noise that makes each env's expert a demonstrator
at about 25%, 50% and 75% of its normalised score.

For each env of the suite and each noise kind its action space takes (`random`: with
probability ε a uniform random action; `gaussian`, Box only: N(0, (ε · half-range)²) added
and clipped), the env's built-in expert is rolled out with noise ε on a grid of ε, on the
bench's own demonstration seeds (reset(seed=i) and the noise of episode i seeded as
`protege collect --noise` seeds it, i = 0, 1, ...). Each ε's mean return is normalised by
the expert and a uniform-random policy on the bench's evaluation episodes (seeds 10000+),
as every run's metrics.json normalises. Nothing is trained: rollouts only.

Per env the kind whose curve is smoothest (the smallest largest drop between neighbouring
grid points, among the kinds that reach the lowest target) is chosen; each target's ε is
found by bisection (to 0.005) inside the grid interval that straddles it, and the ε
measured closest to the target is kept. The table to paste into
`protege.experiments.imperfect.IMPERFECT_NOISE` is printed last, with the measured
normalised scores.

    python benchmarks/imperfect_noise.py                          # every env, ~10 min
    python benchmarks/imperfect_noise.py --envs CartPole-v1 --grid 0.1
    python benchmarks/imperfect_noise.py --episodes 50            # more episodes per point

The curves and the table are written to `benchmarks/out/imperfect_noise.json` too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from protege.data.noise import NoisyPolicy
from protege.data.rollout import RandomPolicy, rollout
from protege.envs import env_spaces
from protege.evaluation import evaluate_returns, normalized_score
from protege.experiments.imperfect import (
    IMPERFECT_ENVS,
    IMPERFECT_EPISODES,
    IMPERFECT_NOISE,
    LEVEL_TARGETS,
)
from protege.experts import load_expert
from protege.jobs.common import EVAL_SEED, builtin_expert

HERE = Path(__file__).resolve().parent
EVAL_EPISODES = 50  # the suite's evaluation episodes
STEP = 0.005  # resolution of ε: HalfCheetah's score moves by 0.4 between ε 0.07 and 0.08


def noisy_return(env_id: str, policy: Any, eps: float, kind: str, episodes: int) -> float:
    """Mean return of the expert at noise `eps` on the demonstration seeds 0..episodes-1,
    noise seeded as `protege collect --noise` seeds it."""
    space = env_spaces(env_id).action
    actor = NoisyPolicy(policy, space, eps, kind, seed=0)
    trajs = rollout(env_id, actor, episodes, seed=0)
    return float(np.mean([t.episode_return for t in trajs]))


def kinds_of(env_id: str) -> tuple[str, ...]:
    """The noise kinds the env's action space takes."""
    import gymnasium as gym

    return (
        ("random", "gaussian")
        if isinstance(env_spaces(env_id).action, gym.spaces.Box)
        else ("random",)
    )


def bracket(curve: dict[float, float], target: float) -> tuple[float, float]:
    """Neighbouring grid points (lo, hi) whose (made non-increasing) scores straddle
    `target`: the expert at lo scores at least it, at hi at most."""
    eps = sorted(curve)
    score = np.minimum.accumulate(np.array([curve[e] for e in eps]))
    for i in range(len(eps) - 1):
        if score[i] >= target >= score[i + 1]:
            return eps[i], eps[i + 1]
    return (eps[0], eps[0]) if target >= score[0] else (eps[-1], eps[-1])


def epsilon_for(measure: Any, curve: dict[float, float], target: float) -> tuple[float, float]:
    """The ε (to `STEP`) whose measured score is closest to `target`: bisection inside the
    grid interval that straddles it. `measure(eps)` is the normalised score at eps."""
    lo, hi = bracket(curve, target)
    scores = {lo: curve[lo], hi: curve[hi]}
    while hi - lo > STEP + 1e-9:
        mid = round(round((lo + hi) / 2 / STEP) * STEP, 3)
        scores[mid] = measure(mid)
        lo, hi = (mid, hi) if scores[mid] >= target else (lo, mid)
    best = min(scores, key=lambda e: abs(scores[e] - target))
    return best, scores[best]


def roughness(curve: dict[float, float]) -> float:
    """The largest drop of the normalised score between neighbouring grid points."""
    scores = [curve[e] for e in sorted(curve)]
    return float(max(a - b for a, b in zip(scores, scores[1:], strict=False)))


def calibrate(env_id: str, grid: list[float], episodes: int) -> dict[str, Any]:
    """The env's curves, the chosen kind and each target's ε with its measured score."""
    spaces = env_spaces(env_id)
    expert_name = builtin_expert(env_id)
    assert expert_name is not None, env_id
    policy = load_expert(expert_name, env_id, spaces)
    expert = evaluate_returns(env_id, policy, EVAL_EPISODES, EVAL_SEED).mean
    random = evaluate_returns(env_id, RandomPolicy(spaces.action, EVAL_SEED), EVAL_EPISODES,
                              EVAL_SEED).mean  # fmt: skip
    print(f"{env_id}: expert {expert:.1f}, random {random:.1f} ({EVAL_EPISODES} episodes)")
    curves: dict[str, dict[float, float]] = {}
    for kind in kinds_of(env_id):
        curve = {}
        for eps in grid:
            curve[eps] = normalized_score(
                noisy_return(env_id, policy, eps, kind, episodes), expert, random
            )
        curves[kind] = curve
        shown = "  ".join(f"{e:.2f}:{s:+.2f}" for e, s in curve.items())
        print(f"  {kind:8s} roughness {roughness(curve):.2f}  {shown}", flush=True)
    lowest = min(LEVEL_TARGETS.values())
    reaching = [k for k, c in curves.items() if min(c.values()) <= lowest] or list(curves)
    kind = min(reaching, key=lambda k: roughness(curves[k]))
    levels = {}
    for level, target in LEVEL_TARGETS.items():

        def measure(eps: float, kind: str = kind) -> float:
            return normalized_score(
                noisy_return(env_id, policy, eps, kind, episodes), expert, random
            )

        eps, measured = epsilon_for(measure, curves[kind], target)
        levels[level] = {"eps": eps, "target": target, "measured": measured}
        print(f"  {level}: {kind} eps {eps:g} -> {measured:.3f}", flush=True)
    return {"expert": expert, "random": random, "curves": curves, "kind": kind,
            "levels": levels}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", default=",".join(IMPERFECT_ENVS))
    parser.add_argument(
        "--episodes",
        type=int,
        default=IMPERFECT_EPISODES,
        help="noisy episodes per grid point (default: the bench's dataset)",
    )
    parser.add_argument("--grid", type=float, default=0.1, help="step of the ε grid")
    args = parser.parse_args()
    torch.set_num_threads(1)
    grid = [round(float(e), 4) for e in np.arange(0.0, 1.0 + 1e-9, args.grid)]
    out: dict[str, Any] = {}
    start = time.perf_counter()
    for env_id in [e.strip() for e in args.envs.split(",") if e.strip()]:
        out[env_id] = calibrate(env_id, grid, args.episodes)
    print(f"\n{time.perf_counter() - start:.0f} s. IMPERFECT_NOISE (measured normalised "
          f"scores over {args.episodes} episodes in the comments):")  # fmt: skip
    for env_id, res in out.items():
        measured = ", ".join(f"{v['measured']:.2f}" for v in res["levels"].values())
        eps = ", ".join(f'"{k}": {v["eps"]}' for k, v in res["levels"].items())
        print(f'    "{env_id}": ("{res["kind"]}", {{{eps}}}),  # {measured}')
        current = IMPERFECT_NOISE.get(env_id)
        if current is not None and current != (res["kind"], {k: v["eps"] for k, v in
                                                              res["levels"].items()}):  # fmt: skip
            print(f"      (the table in imperfect.py has {current})")
    (HERE / "out").mkdir(exist_ok=True)
    path = HERE / "out" / "imperfect_noise.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

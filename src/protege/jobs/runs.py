"""Run directories from Python: write a policy trained in your own code as a run directory
that `protege eval`, `protege report` and `protege export` read, and read any run back.

    result = protege.train_bc(protege.flatten_trajectories(demos), spaces)
    metrics = protege.save_run("runs/mine", result.policy, "CartPole-v1", demos="demos.npz")
    run = protege.load_run("runs/mine")       # config, metrics, progress, policy
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protege.data.rollout import Policy
from protege.jobs.common import (
    default_expert,
    evaluate_against_expert,
    load_demos,
    load_run_policy,
    open_run,
    run_config,
)
from protege.policies import ActorPolicy
from protege.rl import save_sb3
from protege.rundir import (
    POLICY,
    PROGRESS,
    SB3_POLICY,
    atomic_write,
    read_config,
    read_metrics,
    read_progress,
)


@dataclass(frozen=True)
class RunRecord:
    """What a run directory holds: its config.json, metrics.json (empty before an
    evaluation), progress.csv rows and the policy (None when it has no policy.pt/zip)."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    progress: list[dict[str, float]]
    policy: Policy | None


def save_run(
    out: str | Path,
    policy: ActorPolicy | Any,
    env_id: str,
    *,
    demos: str | Path,
    expert: str | None = None,
    algo: str = "custom",
    settings: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, float]] = (),
    eval_episodes: int = 20,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write `policy` (an `ActorPolicy`, or a Stable-Baselines3 model) as a run directory
    and measure it against the expert on the usual seeds; returns metrics.json.

    demos: the dataset it learned from (action agreement, and the expert's returns where
        no expert can be run). expert: the expert to compare with (default: built-in).
    algo, settings: what config.json records of how it was trained (`train --config`
        re-runs only the catalog's algorithms). history: progress rows for progress.csv.
    """
    load_demos(demos, env_id)  # a missing or mismatched dataset fails before anything is written
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(algo, env_id, dict(settings or {}), demos=demos, expert=expert,
                         eval_episodes=eval_episodes)  # fmt: skip
    run = open_run(out, config, overwrite, resume=False)
    if isinstance(policy, ActorPolicy):
        policy.save(run / POLICY)
    else:
        save_sb3(policy, run / SB3_POLICY)
    if history:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=sorted({k for row in history for k in row}))
        writer.writeheader()
        writer.writerows(history)
        atomic_write(run / PROGRESS, lambda f: f.write(buf.getvalue().encode()))
    return evaluate_against_expert(run, eval_episodes)


def load_run(run_dir: str | Path) -> RunRecord:
    """Read a run directory back, every file checked (`rundir.read_*`)."""
    run = Path(run_dir)
    config = read_config(run)
    metrics = read_metrics(run) if (run / "metrics.json").is_file() else {}
    has_policy = (run / POLICY).is_file() or (run / SB3_POLICY).is_file()
    policy = load_run_policy(run) if has_policy else None
    return RunRecord(run, config, metrics, read_progress(run), policy)

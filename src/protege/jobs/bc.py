"""The jobs behind `protege train bc|filtered-bc|weighted-bc|dwbc`: behavioral cloning into
a run directory (the catalog entry names the trainer: plain BC, BC on the best episodes, BC
weighted by return or advantage, or discriminator-weighted BC with an unlabelled dataset).

A run directory holds config.json, policy.pt (loads without protege's training code),
progress.csv (one row per epoch), metrics.json, and checkpoints/bc.pt for `--resume`.

    cfg = build_config("bc", ["epochs=50"], seed=0)
    metrics = train_run("bc", "CartPole-v1", "runs/bc", cfg, demos="demos.npz")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from protege.callbacks import Callback
from protege.data.types import flatten_trajectories
from protege.jobs import catalog
from protege.jobs.common import (
    CHECKPOINTS,
    configure,
    default_expert,
    evaluate_against_expert,
    load_demos,
    logged,
    open_run,
    require_demos,
    run_config,
    run_job,
)
from protege.rundir import POLICY


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> Any:
    """The algorithm's config (BCConfig, FilteredBCConfig...) from the CLI's flags
    (--seed), then --set."""
    return configure(catalog.get(algo), overrides, **flags)


@run_job
def train_run(
    algo: str,
    env_id: str,
    out: str | Path,
    cfg: Any,
    *,
    demos: str | Path | None = None,
    expert: str | None = None,
    seed: int = 0,
    eval_episodes: int = 20,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """Behavioral cloning into a run directory, then the comparison with the expert.

    The training state is checkpointed every `CHECKPOINT_EVERY` (10) epochs
    (checkpoints/bc.pt); `resume` continues an interrupted run from it. `seed` is unused:
    the fit is seeded by its config.
    """
    data = load_demos(require_demos(algo, demos), env_id)
    cfg = _absolute_paths(cfg)
    expert = expert if expert is not None else default_expert(env_id)
    config = run_config(algo, env_id, cfg, demos=demos, expert=expert,
                        eval_episodes=eval_episodes)  # fmt: skip
    run = open_run(out, config, overwrite, resume)
    transitions = flatten_trajectories(data.trajectories)
    result = catalog.get(algo).train_fn()(
        transitions, data.spaces, cfg, logged(run, callbacks),
        env=env_id, checkpoint=run / CHECKPOINTS / "bc.pt",
    )  # fmt: skip
    result.policy.save(run / POLICY)
    return evaluate_against_expert(run, eval_episodes, train_seconds=result.train_seconds)


def _absolute_paths(cfg: Any) -> Any:
    """`cfg` with a second dataset it names (DWBC's `unlabelled`) as an absolute path when
    it exists, as config.json records --demos, so `--config` re-runs from any directory."""
    path = getattr(cfg, "unlabelled", "")
    if isinstance(path, str) and path and Path(path).exists():
        return replace(cfg, unlabelled=str(Path(path).resolve()))
    return cfg

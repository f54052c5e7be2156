"""The only place that maps an algorithm's name to the job that trains it.

Re-running a run from its config.json, re-evaluating a run, sweeps and benches all go
through here; the family is read from `catalog`, and its job module
(`protege.jobs.<family>`) is imported only when used, so evaluating a BC run does not load
the adversarial family's Stable-Baselines3 stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from protege.callbacks import Callback
from protege.config import config_from_dict
from protege.errors import ConfigError, RunDirError
from protege.jobs import catalog
from protege.jobs.common import evaluate_against_expert
from protege.rundir import CONFIG, read_config


def job_module(algo: str) -> ModuleType:
    """The job module of `algo`'s family (an unknown name is one line naming the known)."""
    return importlib.import_module(f"protege.jobs.{catalog.get(algo).family}")


def build_config(algo: str, overrides: Sequence[str] = (), **flags: Any) -> Any:
    """`algo`'s config from the CLI's flags (those its family takes), then --set."""
    return job_module(algo).build_config(algo, overrides, **flags)


def train(algo: str, env_id: str, out: str | Path, cfg: Any, **kwargs: Any) -> dict[str, Any]:
    """Train `algo` into run directory `out` and compare it with the expert; the keyword
    arguments are the jobs' own: demos, expert, seed, eval_episodes, overwrite, callbacks,
    resume."""
    metrics: dict[str, Any] = job_module(algo).train_run(algo, env_id, out, cfg, **kwargs)
    return metrics


def rerun_from_config(
    config_path: str | Path,
    out: str | Path,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train a new run from an earlier run's config.json alone: the same algorithm, env,
    demonstrations, expert and every setting, so on CPU the same metrics come out."""
    path = Path(config_path)
    run_dir = path if path.is_dir() else path.parent
    if not path.is_dir() and path.name != CONFIG:
        raise RunDirError(f"{path}: a run's settings are in {CONFIG}; pass RUN_DIR/{CONFIG}")
    config = read_config(run_dir)
    if not isinstance(config.get("config"), dict):
        raise RunDirError(f"{run_dir / CONFIG}: no 'config' settings; it cannot be re-run")
    algo = config["algo"]
    if algo not in catalog.ALGORITHMS:
        raise RunDirError(f"{path}: algo '{algo}' cannot be re-run from its config yet")
    try:
        cfg: Any = config_from_dict(catalog.get(algo).config_class(), config["config"])
    except ConfigError as exc:
        raise ConfigError(
            f"{run_dir / CONFIG}: config.{exc}; fix the value or train the run again"
        ) from None
    if catalog.get(algo).needs_demos and not config.get("demos"):
        raise RunDirError(
            f"{run_dir / CONFIG}: no 'demos' naming the dataset {algo} learned from; add "
            '"demos": "PATH" or train the run again'
        )
    if isinstance(config.get("threads"), int) and config["threads"] >= 1:
        torch.set_num_threads(config["threads"])  # the same count gives the same numbers
    return train(
        algo, config["env"], out, cfg, demos=config.get("demos"), expert=config.get("expert"),
        seed=int(config.get("seed", 0)), eval_episodes=int(config.get("eval_episodes", 20)),
        overwrite=overwrite, callbacks=callbacks,
    )  # fmt: skip


def evaluate_run(
    run_dir: str | Path,
    episodes: int | None = None,
    on_episode: Callable[[int, Any], None] | None = None,
) -> dict[str, Any]:
    """Measure a run's policy against the expert and a random policy; write metrics.json.

    A family with its own measure (tabular IRL: exact occupancies, heatmaps) provides
    `evaluate_run`; every other run, reward transfer included, is measured the same way.
    """
    algo = read_config(run_dir)["algo"]
    if algo in catalog.ALGORITHMS:
        evaluate = getattr(job_module(algo), "evaluate_run", None)
        if evaluate is not None:
            metrics: dict[str, Any] = evaluate(run_dir, episodes, on_episode)
            return metrics
    return evaluate_against_expert(run_dir, episodes, on_episode=on_episode)

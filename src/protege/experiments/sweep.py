"""`protege sweep SWEEP.yaml`: a grid of runs (algorithms × envs × seeds × settings), on a
local pool of processes or on Ray Tune, aggregated into one table.

    name: cartpole                      # runs go to OUT/<name>/<algo>__<env>__<settings>__s<seed>
    algos: [bc, dagger]
    envs: [CartPole-v1]
    seeds: [0, 1, 2]
    demos: {episodes: 10}               # collected once per env from its built-in expert,
                                        # or a dataset per env: {CartPole-v1: demos.npz}
    grid: {epochs: [20, 50]}            # --set values, crossed with everything above; a
                                        # setting applies to the algorithms that have it
    set: {batch_size: 128, dagger: {bc.epochs: 20}}   # for every run, or for one algorithm
    expert: scripted                    # records the demos, labels DAgger, is compared with
                                        # (default: the env's built-in expert)
    eval_episodes: 10

Every trial is an ordinary run directory; a trial whose `metrics.json` exists is finished,
so running the same sweep again (after an interruption, locally or on Ray) only runs the
unfinished ones.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import math
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from protege.errors import ConfigError, ProtegeError
from protege.jobs.catalog import ALGORITHMS
from protege.rundir import CONFIG, METRICS, read_json

SWEEP_KEYS = {"name", "algos", "envs", "seeds", "demos", "grid", "set", "eval_episodes", "expert"}


@dataclass(frozen=True)
class Trial:
    """One run of the grid."""

    algo: str
    env: str
    seed: int
    overrides: tuple[str, ...]
    run_dir: str
    demos: str | None
    eval_episodes: int
    expert: str | None = None  # None: the env's built-in expert

    @property
    def label(self) -> str:
        """The settings that vary, for the results table."""
        return " ".join(self.overrides) or "defaults"


@dataclass
class Sweep:
    """A parsed SWEEP.yaml."""

    name: str
    algos: list[str]
    envs: list[str]
    seeds: list[int]
    demos: dict[str, Any] = field(default_factory=lambda: {"episodes": 10})
    grid: dict[str, list[Any]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int = 10
    source: str = "sweep"  # the file, for error messages
    expert: str | None = None  # None: each env's built-in expert


def _as_list(value: Any, key: str, path: Path) -> list[Any]:
    value = value if isinstance(value, list) else [value]
    if not value:
        raise ConfigError(f"{path}: '{key}' is empty; give at least one value")
    return value


def load_sweep(path: str | Path) -> Sweep:
    """Read and check SWEEP.yaml: every error names the file, the key and the fix."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such sweep file")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(sorted(SWEEP_KEYS))}")
    unknown = set(data) - SWEEP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(sorted(map(str, unknown)))}; "
                          f"known: {', '.join(sorted(SWEEP_KEYS))}")  # fmt: skip
    for key in ("algos", "envs"):
        if key not in data:
            raise ConfigError(f"{path}: '{key}' is missing, e.g. {key}: [...]")
    algos = [str(a) for a in _as_list(data["algos"], "algos", path)]
    for a in algos:
        if a not in ALGORITHMS:
            raise ConfigError(f"{path}: algos: '{a}' is not one of {', '.join(ALGORITHMS)}")
    seeds = _as_list(data.get("seeds", [0]), "seeds", path)
    if not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{path}: seeds must be integers, e.g. seeds: [0, 1, 2]")
    grid = data.get("grid") or {}
    fixed = data.get("set") or {}
    expert = data.get("expert")
    if expert is not None and not isinstance(expert, str):
        raise ConfigError(f"{path}: 'expert' must be text, e.g. expert: scripted or expert.zip")
    demos = data.get("demos") or {"episodes": 10}
    for key, value in (("grid", grid), ("set", fixed), ("demos", demos)):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: '{key}' must be a mapping, e.g. {key}: {{epochs: 20}}")
    return Sweep(
        name=str(data.get("name") or path.stem),
        algos=algos,
        envs=[str(e) for e in _as_list(data["envs"], "envs", path)],
        seeds=seeds,
        demos=demos,
        grid={str(k): _grid_values(k, v, path, algos) for k, v in grid.items()},
        fixed={str(k): v for k, v in fixed.items()},
        expert=expert,
        eval_episodes=int(data.get("eval_episodes", 10)),
        source=str(path),
    )


def _grid_values(key: Any, value: Any, path: Path, algos: list[str]) -> Any:
    """A grid entry: a list of values, or (under an algorithm's name) its own grid."""
    if str(key) in algos:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: grid.{key} must map settings to values, "
                              "e.g. grid: {dagger: {rounds: [3, 5]}}")  # fmt: skip
        return {str(k): _as_list(v, f"grid.{key}.{k}", path) for k, v in value.items()}
    return _as_list(value, f"grid.{key}", path)


@functools.cache
def settings_of(algo: str) -> frozenset[str]:
    """Every setting name `algo` takes, nested ones dotted (DAgger's `bc.epochs`); built
    once per algorithm (it builds the default config)."""
    import dataclasses

    def names(cfg: Any, prefix: str = "") -> set[str]:
        out: set[str] = set()
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            out.add(prefix + f.name)
            if dataclasses.is_dataclass(value):
                out |= names(value, f"{prefix}{f.name}.")
        return out

    return frozenset(names(ALGORITHMS[algo].default_config()))


def for_algorithm(sweep: Sweep, algo: str) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """The grid and fixed settings of `algo`'s trials: the shared ones it has (a setting
    applies to the algorithms that take it) and its own section, which wins."""

    def takes(name: str, key: str) -> bool:  # a setting, or an entry of a dict setting
        own = settings_of(name)
        # a policy setting (policy: gmm) reaches DAgger's inner BC, as `--set policy=gmm` does
        return key in own or key.split(".")[0] in own or f"bc.{key}" in own and _head(key)

    def pick(table: dict[str, Any], what: str) -> dict[str, Any]:
        shared = {k: v for k, v in table.items() if k not in sweep.algos}
        for key in shared:
            if not any(takes(a, key) for a in sweep.algos):
                raise ConfigError(
                    f"{sweep.source}: {what}.{key}: no algorithm of this sweep "
                    f"({', '.join(sweep.algos)}) has this setting"
                )
        mine = {k: v for k, v in shared.items() if takes(algo, k)}
        return {**mine, **dict(table.get(algo) or {})}

    return pick(sweep.grid, "grid"), pick(sweep.fixed, "set")


def _head(key: str) -> bool:
    """Whether `key` is one of the policy's own settings (`protege.algorithms.bc`'s
    HEAD_SETTINGS), which an algorithm with an inner BC takes without the "bc."."""
    from protege.algorithms.bc import HEAD_SETTINGS

    return key in HEAD_SETTINGS


def _override(key: str, value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f"{key}={value}"


def plan(sweep: Sweep, out: Path) -> list[Trial]:
    """The sweep's trials, settings checked first, then the demonstrations they need.

    Paths are made absolute: Ray runs each trial in a working directory of its own.
    """
    out = Path(out).resolve()
    expand(sweep, out, {})  # a bad setting fails before any demonstration is collected
    return expand(sweep, out, prepare_demos(sweep, out))


def expand(sweep: Sweep, out: Path, demos: dict[str, str | None]) -> list[Trial]:
    """Every (algo, env, grid point, seed), checked by building its config now, so a bad
    setting fails before anything runs."""
    trials = []
    for algo, env in itertools.product(sweep.algos, sweep.envs):
        trials += _expand_one(sweep, out, demos, algo, env)
    return trials


def _expand_one(
    sweep: Sweep, out: Path, demos: dict[str, str | None], algo: str, env: str
) -> list[Trial]:
    grid, fixed_values = for_algorithm(sweep, algo)
    keys = sorted(grid)
    points = list(itertools.product(*(grid[k] for k in keys))) or [()]
    fixed = [_override(k, v) for k, v in fixed_values.items()]
    trials = []
    for point, seed in itertools.product(points, sweep.seeds):
        varying = tuple(_override(k, v) for k, v in zip(keys, point, strict=True))
        overrides = (*fixed, *varying)
        try:
            build_config(algo, seed, overrides)
        except ConfigError as exc:
            raise ConfigError(f"{sweep.source}: {algo}: {exc}") from None
        tag = "__".join(v.replace("/", "_").replace(",", "_") for v in varying)
        name = "__".join(p for p in (algo, path_safe(env), tag, f"s{seed}") if p)
        trials.append(Trial(algo, env, int(seed), overrides, str(out / sweep.name / name),
                            demos.get(env), sweep.eval_episodes, sweep.expert))  # fmt: skip
    return trials


def path_safe(env: str) -> str:
    """An env id as one path component ("protege/Acrobot200-v1" -> "protege_Acrobot200-v1")."""
    return env.replace("/", "_").replace(":", "-")


def build_config(algo: str, seed: int, overrides: Sequence[str]) -> Any:
    """The config dataclass of one trial."""
    from protege.jobs.dispatch import build_config as configure

    return configure(algo, overrides, seed=seed)


def prepare_demos(sweep: Sweep, out: Path) -> dict[str, str | None]:
    """A dataset per env: the one given, or collected once from the env's built-in expert."""
    from protege.jobs.common import builtin_expert, collect

    needed = [a for a in sweep.algos if ALGORITHMS[a].needs_demos]
    paths: dict[str, str | None] = {}
    for env in sweep.envs:
        given = sweep.demos.get(env)
        if given is not None:
            paths[env] = str(Path(given).resolve()) if Path(given).exists() else str(given)
            continue
        if not needed:
            paths[env] = None
            continue
        expert = sweep.expert or sweep.demos.get("expert") or builtin_expert(env)
        if expert is None:
            raise ConfigError(f"sweep '{sweep.name}': no built-in expert for {env}; give "
                              f"demos: {{{env}: PATH}}")  # fmt: skip
        path = out / sweep.name / "demos" / f"{path_safe(env)}.npz"
        if not path.is_file():
            collect(env, expert, int(sweep.demos.get("episodes", 10)), path, seed=0)
        paths[env] = str(path)
    return paths


def run_trial(trial: Trial) -> dict[str, Any]:
    """Train one trial into its run directory. A finished one is only read, if it was made
    with the trial's settings; an interrupted one continues from its checkpoint."""
    run_dir = Path(trial.run_dir)
    cfg = build_config(trial.algo, trial.seed, trial.overrides)
    same = _made_with(run_dir, cfg, trial.env)
    if (run_dir / METRICS).is_file():
        if not same:
            raise ConfigError(f"{run_dir}: finished with other settings than this trial's; "
                              "delete it to run it again, or use another --out")  # fmt: skip
        return read_json(run_dir / METRICS, METRICS)
    from protege.jobs.common import builtin_expert
    from protege.jobs.dispatch import train

    expert = trial.expert or builtin_expert(trial.env)  # the same for every algorithm
    if ALGORITHMS[trial.algo].needs_expert and expert is None:
        raise ConfigError(f"{trial.algo} on {trial.env}: no built-in expert to query")
    return train(
        trial.algo, trial.env, run_dir, cfg, demos=trial.demos, expert=expert,
        seed=trial.seed, eval_episodes=trial.eval_episodes, overwrite=True, resume=same,
    )  # fmt: skip


SETTINGS_ADDED: dict[str, Any] = {
    "redraw": "step",  # BC's (and every config embedding BC's), December 2026 (#15)
    "action_steps": 1,  # BC's, November 2026 (#15): a chunk predicted anew every step
    "uniform_mix": 0.0,  # GCL's, November 2026 (#17); its default since is 0.5
}
"""Settings added to a config after runs were made, each with the value that does what
those runs did. A finished run saved without one is the same run as a trial whose value is
that one, so a bench or sweep keeps reading it (a trial at the new default, where that
differs, runs again)."""


def _made_with(run_dir: Path, cfg: Any, env: str | None = None) -> bool:
    """Whether `run_dir` holds a run started with exactly these settings on `env` (reading a
    setting added since as `SETTINGS_ADDED` says the run had it, and BC's `hidden` saved
    as the sizes that its "auto" value, (), now gives on `env`)."""
    path = run_dir / CONFIG
    if not path.is_file():
        return False
    saved = read_json(path, CONFIG)
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        return False
    current = json.loads(json.dumps(asdict(cfg)))
    return _with_added_settings(saved["config"], current, env) == current


def _with_added_settings(
    saved: dict[str, Any], current: dict[str, Any], env: str | None = None
) -> dict[str, Any]:
    """`saved` with each `SETTINGS_ADDED` key that `current` has and it lacks, at the value
    that reproduces the saved run, at every level of nesting (DAgger's `bc`); a BC `hidden`
    saved as the sizes that () resolves to on `env` (before () meant "the env's default",
    BC's default was 64x64 everywhere) reads as ()."""
    out = dict(saved)
    for key, value in current.items():
        if key not in out and key in SETTINGS_ADDED:
            out[key] = SETTINGS_ADDED[key]
        elif key == "hidden" and value == [] and env is not None and out.get(key) != []:
            from protege.algorithms.bc import BCConfig, bc_hidden

            if out.get(key) == list(bc_hidden(BCConfig(), env)):
                out[key] = []
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _with_added_settings(out[key], value, env)
    return out


def _worker_init() -> None:
    """One torch thread per worker: the pool already uses every core."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def _safe(trial: Trial) -> dict[str, Any]:
    """The trial's metrics, or its error: one failing trial never stops the others."""
    try:
        return run_trial(trial)
    except ProtegeError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a bug, not bad input: report it with the rest
        return {"error": f"{type(exc).__name__}: {exc} (a bug in protege; please report it)"}


def run_local(
    trials: Sequence[Trial], workers: int | None = None,
    on_done: Callable[[Trial, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Run trials on a pool of processes (default: one per core); results in trial order."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(trials)))
    results: list[dict[str, Any]] = [{} for _ in trials]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                             initializer=_worker_init) as pool:  # fmt: skip
        futures = {pool.submit(_safe, t): i for i, t in enumerate(trials)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if on_done is not None:
                on_done(trials[i], results[i])
    return results


def run_ray(trials: Sequence[Trial], address: str | None, storage: Path) -> list[dict[str, Any]]:
    """Hand the trials to Ray Tune (a local instance, or the cluster at `address`), one CPU
    each; the run directories stay the record, so results are read back from them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError(
            "--ray needs Ray Tune: pip install 'protege[ray]' (or leave out --ray)"
        ) from None

    started = not ray.is_initialized()
    if started:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})  # fmt: skip
    try:

        def trainable(config: dict[str, Any]) -> dict[str, Any]:
            metrics = _safe(Trial(**config["trial"]))
            return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}

        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"trial": tune.grid_search([asdict(t) for t in trials])},
            run_config=tune.RunConfig(
                storage_path=str(storage.resolve()), name="tune", verbose=0
            ),  # fmt: skip
        )
        tuner.fit()
    finally:
        if started:
            ray.shutdown()
    return [_read_result(t) for t in trials]


def _read_result(trial: Trial) -> dict[str, Any]:
    path = Path(trial.run_dir) / METRICS
    return read_json(path, METRICS) if path.is_file() else {"error": "did not finish"}


def mean_ci95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval (nan for one value)."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) < 2:
        return float(arr.mean()), math.nan
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean()), float(half)


SUMMARY_KEYS = ("return_mean", "normalized_score", "expert_return_mean", "random_return_mean")


def summarize(results: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Seeds finished and failed and, per metric in `keys`, the mean and the 95% CI
    half-width (`KEY_ci95`) over the finished results. A dotted key reads a nested metric
    ("best.normalized_score": the kept best policy's)."""
    ok = [r for r in results if "error" not in r and "return_mean" in r]
    row: dict[str, Any] = {"seeds": len(ok), "failed": len(results) - len(ok)}
    for key in keys:
        found = [_nested(r, key) for r in ok]
        values = [float(v) for v in found if isinstance(v, (int, float))]
        row[key], row[f"{key}_ci95"] = mean_ci95(values) if values else (math.nan, math.nan)
    return row


def _nested(metrics: dict[str, Any], key: str) -> Any:
    """metrics[key], or for "a.b" metrics["a"]["b"]; None where it is missing."""
    value: Any = metrics
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def aggregate(trials: Sequence[Trial], results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (algo, env, settings): mean and 95% CI over seeds."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for t, r in zip(trials, results, strict=True):
        groups[(t.algo, t.env, t.label)].append(r)
    return [
        {"algo": algo, "env": env, "settings": label, **summarize(rs, SUMMARY_KEYS)}
        for (algo, env, label), rs in groups.items()
    ]


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a markdown table (mean ± 95% CI over seeds)."""

    def pm(row: dict[str, Any], key: str) -> str:
        mean, ci = row[key], row[f"{key}_ci95"]
        if math.isnan(mean):
            return "–"
        return f"{mean:.3g}" if math.isnan(ci) else f"{mean:.3g} ± {ci:.2g}"

    lines = ["| algo | env | settings | seeds | return | normalised score | expert | random |",
             "|---|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        seeds = f"{r['seeds']}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        cells = [
            r["algo"],
            r["env"],
            r["settings"],
            seeds,
            *(
                pm(r, k)
                for k in (
                    "return_mean",
                    "normalized_score",
                    "expert_return_mean",
                    "random_return_mean",
                )
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(rows: Sequence[dict[str, Any]], directory: Path) -> tuple[Path, Path]:
    """results.md and results.csv in the sweep's directory."""
    return write_tables(directory, markdown(rows), rows)


def write_tables(directory: Path, text: str, rows: Sequence[dict[str, Any]]) -> tuple[Path, Path]:
    """`text` as results.md and `rows` as results.csv in `directory`, each written whole."""
    from protege.rundir import atomic_write

    md, table = directory / "results.md", directory / "results.csv"
    atomic_write(md, lambda f: f.write(text.encode()))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["algo"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(table, lambda f: f.write(buf.getvalue().encode()))
    return md, table

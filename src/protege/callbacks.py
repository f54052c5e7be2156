"""The one interface through which training reports progress.

Trainers call `on_start`, then `on_iteration` once per epoch/round/iteration with a flat
dict of metrics, then `on_end`. Progress bars, CSV logs, checkpoints and experiment
trackers (TensorBoard, MLflow, Weights & Biases) are callbacks, so an algorithm's code
stays the maths.
"""

from __future__ import annotations

import csv
import json
import math
import netrc
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from protege.errors import ConfigError


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_start(self, total: int, unit: str) -> None:
        """Training is about to run `total` iterations, each one `unit` (e.g. 'epoch')."""

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        """Iteration `i` (0-based) finished with `metrics`."""

    def on_end(self, metrics: dict[str, float]) -> None:
        """Training finished (early stopping included)."""


class CallbackList(Callback):
    """Fans every hook out to several callbacks, in order."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_start(self, total: int, unit: str) -> None:
        for cb in self.callbacks:
            cb.on_start(total, unit)

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_iteration(i, metrics)

    def on_end(self, metrics: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_end(metrics)


class CSVLogger(Callback):
    """Appends one row per iteration to `progress.csv`, flushed at once so nothing is lost."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        row = {"iteration": i, **metrics}
        if self._writer is None:
            self._file = self.path.open("w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=list(row), extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerow(row)
        assert self._file is not None
        self._file.flush()

    def on_end(self, metrics: dict[str, float]) -> None:
        if self._file is not None:
            self._file.close()


class TensorBoardLogger(Callback):
    """Writes every numeric metric as a TensorBoard scalar (`tensorboard --logdir DIR`).

    x axis: the iteration's `step` (env steps) when the trainer logs one, else its index.
    Needs the `tensorboard` package (`pip install 'protege[tensorboard]'`).
    """

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from protege.errors import ConfigError

            raise ConfigError(
                "--tensorboard needs the tensorboard package: pip install 'protege[tensorboard]'"
            ) from None
        self._make = lambda: SummaryWriter(str(log_dir))
        self.writer: Any = None  # made when training starts: nothing is written before

    def on_start(self, total: int, unit: str) -> None:
        if self.writer is None:
            self.writer = self._make()

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if self.writer is None:
            self.on_start(0, "")
        step = int(metrics.get("step", i))
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and key not in ("step", "iteration"):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def on_end(self, metrics: dict[str, float]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


ARTIFACT_MAX_BYTES = 50 * 2**20
"""Files of the run directory up to this size are sent to MLflow / W&B when the run ends."""


class RunTracker(Callback):
    """What the MLflow and W&B loggers share, the TensorBoard logger's shape plus a run.

    The run opens when training starts (the run directory's config.json is written by then)
    with every setting as a parameter; each iteration's numbers are logged at its `step`
    (env steps) when the trainer logs one, else at its index; `on_end` leaves the run open
    for `finish`, which the caller invokes once the job is done: it adds metrics.json's
    numbers as final/NAME, its texts (score_note...), the run directory's top-level files
    up to `ARTIFACT_MAX_BYTES` (config.json, metrics.json, progress.csv, the policy and
    reward files), and closes the run. `protege.cli.app.tracked` does that for the CLI.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.started = False

    def on_start(self, total: int, unit: str) -> None:
        if not self.started:
            config_file = self.run_dir / "config.json"
            config = json.loads(config_file.read_text()) if config_file.is_file() else {}
            self._open(config)
            self.started = True

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if not self.started:
            self.on_start(0, "")
        self._log(_numbers(metrics, skip=("step", "iteration")), int(metrics.get("step", i)))

    def finish(self, failed: bool = False) -> str | None:
        """Log the job's results and close the run (as failed when `failed`); one line
        saying where the run is, or None when no run was opened."""
        if not self.started:
            return None
        self.started = False
        results: dict[str, Any] = {}
        if (self.run_dir / "metrics.json").is_file() and not failed:
            results = json.loads((self.run_dir / "metrics.json").read_text())
        final = {f"final/{k}": v for k, v in _numbers(results).items()}
        notes = {k: v for k, v in results.items() if isinstance(v, str)}
        # a job that failed before its first checkpoint has removed its run directory
        found = self.run_dir.iterdir() if self.run_dir.is_dir() else iter(())
        files = sorted(p for p in found if p.is_file() and p.stat().st_size <= ARTIFACT_MAX_BYTES)
        return self._close(final, notes, files, failed)

    def _open(self, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def _log(self, numbers: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def _close(
        self, final: dict[str, float], notes: dict[str, str], files: list[Path], failed: bool
    ) -> str:
        raise NotImplementedError


def _numbers(metrics: dict[str, Any], skip: Sequence[str] = ()) -> dict[str, float]:
    """The int and float values of `metrics` (not bools, not the keys in `skip`)."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in skip
    }


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as {"config.lr": "0.1", ...}: MLflow's parameters are flat strings."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if not isinstance(value, str) else value
    return flat


class MLflowLogger(RunTracker):
    """Logs the run to MLflow (`RunTracker`): a run named after the run directory.

    uri: the tracking server or store, e.g. http://host:5000, sqlite:///mlflow.db or a
        directory; default MLFLOW_TRACKING_URI, else ./mlruns, MLflow's local file store
        (`MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ./mlruns` shows it).
    experiment: default MLFLOW_EXPERIMENT_NAME, else "protege".
    Needs MLflow's client, `pip install 'protege[mlflow]'` (mlflow-skinny).
    """

    def __init__(
        self, run_dir: str | Path, uri: str | None = None, experiment: str | None = None
    ) -> None:
        try:
            import mlflow  # noqa: F401 - checked now, so a missing package stops before training
        except ImportError:
            raise _missing("--mlflow", "MLflow's client", "mlflow") from None
        super().__init__(run_dir)
        self.uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "./mlruns"
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "protege"
        self.client: Any = None
        self.run_id = ""

    def _open(self, config: dict[str, Any]) -> None:
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        uri = self.uri
        if "://" not in uri and not uri.startswith(("file:", "databricks")):
            # a directory: MLflow's file store, which MLflow 3 serves only when asked to
            uri = Path(uri).resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self.client = MlflowClient(uri)
            found = self.client.get_experiment_by_name(self.experiment)
            experiment_id = (
                found.experiment_id if found else self.client.create_experiment(self.experiment)
            )
            run = self.client.create_run(experiment_id, run_name=self.run_dir.name)
            self.run_id = run.info.run_id
            params = [Param(k, v[:6000]) for k, v in _flat(config).items()]
            for lo in range(0, len(params), 100):  # MLflow takes 100 parameters a call
                self.client.log_batch(self.run_id, params=params[lo : lo + 100])
        except MlflowException as exc:
            first = str(exc.message).splitlines()[0]
            raise ConfigError(f"--mlflow: MLflow at {uri} refused the run: {first}") from None
        self.uri = uri

    def _log(self, numbers: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in numbers.items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def _close(
        self, final: dict[str, float], notes: dict[str, str], files: list[Path], failed: bool
    ) -> str:
        if final:
            self._log(final, 0)
        for key, text in notes.items():
            self.client.set_tag(self.run_id, key, text[:5000])
        for path in files:
            self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
        return f"MLflow run {self.run_id} in experiment '{self.experiment}' at {self.uri}"


class WandbLogger(RunTracker):
    """Logs the run to Weights & Biases (`RunTracker`): a run named after the run directory,
    its settings as the run's config, the final metrics in its summary.

    project: default WANDB_PROJECT, else "protege". Its files go to WANDB_DIR, else
    RUN_DIR/wandb. Mode: WANDB_MODE when set; else online when an API key is known
    (WANDB_API_KEY or `wandb login`), offline otherwise (`wandb sync DIR` uploads it later).
    Needs `pip install 'protege[wandb]'`.
    """

    def __init__(self, run_dir: str | Path, project: str | None = None) -> None:
        try:
            import wandb  # noqa: F401 - checked now, so a missing package stops before training
        except ImportError:
            raise _missing("--wandb", "Weights & Biases", "wandb") from None
        super().__init__(run_dir)
        self.project = project or os.environ.get("WANDB_PROJECT") or "protege"
        self.run: Any = None

    def _open(self, config: dict[str, Any]) -> None:
        import wandb

        mode = os.environ.get("WANDB_MODE") or ("online" if _wandb_key_known() else "offline")
        # W&B's process-wide settings follow the environment, not the run: an offline run
        # in an "online" process still sent W&B's own telemetry (seen in a test's strace)
        os.environ["WANDB_MODE"] = mode
        try:
            self.run = wandb.init(
                project=self.project,
                name=self.run_dir.name,
                config=config,
                dir=os.environ.get("WANDB_DIR") or str(self.run_dir),
                mode=mode,  # type: ignore[arg-type]
                settings=wandb.Settings(console="off"),  # protege's progress bars stay as they are
            )
        except (wandb.Error, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--wandb: W&B refused the run ({mode}): {first}") from None

    def _log(self, numbers: dict[str, float], step: int) -> None:
        if numbers:
            self.run.log(numbers, step=step)

    def _close(
        self, final: dict[str, float], notes: dict[str, str], files: list[Path], failed: bool
    ) -> str:
        import wandb

        run = self.run
        where = str(Path(run.dir).parent)
        offline = run.settings.mode == "offline"
        try:
            run.summary.update({**final, **notes})
            for path in files:
                run.save(str(path), base_path=str(self.run_dir), policy="now")
            run.finish(exit_code=1 if failed else 0)
        finally:
            # the run file is flushed by W&B's service process: stopping it makes the run
            # whole on disk when the command returns (`wandb sync` right after, a test)
            wandb.teardown()
        if offline:
            return f"W&B run {run.id}, offline, in {where}: `wandb sync {where}` uploads it"
        return f"W&B run {run.id} in project '{self.project}'"


def _wandb_key_known() -> bool:
    """Whether W&B has an API key here: WANDB_API_KEY, or a `wandb login` entry in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        hosts = netrc.netrc().hosts
    except (OSError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def _missing(flag: str, what: str, extra: str) -> ConfigError:
    return ConfigError(f"{flag} needs {what}: pip install 'protege[{extra}]'")


class RichProgress(Callback):
    """A progress bar showing the iteration count and the latest loss-like metric."""

    def __init__(self, description: str, show: str = "loss") -> None:
        self.description, self.show = description, show
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def on_start(self, total: int, unit: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TextColumn(f"{unit}s"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total, info="")

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if self._progress is None or self._task is None:
            return
        value = metrics.get(self.show, math.nan)
        self._progress.update(self._task, completed=i + 1, info=f"{self.show} {value:.4g}")

    def on_end(self, metrics: dict[str, float]) -> None:
        if self._progress is not None:
            self._progress.stop()

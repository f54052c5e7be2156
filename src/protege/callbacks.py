"""The one interface through which training reports progress.

Trainers call `on_start`, then `on_iteration` once per epoch/round/iteration with a flat
dict of metrics, then `on_end`. Progress bars, CSV logs and checkpoints are callbacks, so
an algorithm's code stays the maths.
"""

from __future__ import annotations

import csv
import math
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

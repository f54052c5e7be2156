"""The `protege` Typer apps and what every command module shares: the consoles, progress
bars and the learner-vs-expert table.

Command modules (`data`, `train`, `tabular`, `adversarial`, `qlearning`, `transfer`,
`runs`, `experiments`, `record`) import from here and add their commands; `main` imports
them all and is the entry point. Nothing here imports a command module, so there is no
cycle, and nothing here imports torch, so `protege --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from typer.core import TyperCommand

from protege.callbacks import Callback
from protege.config import settings_help
from protege.jobs import catalog

TENSORBOARD_HELP = "Also log every metric for TensorBoard, to RUN_DIR/tensorboard."
"""The --tensorboard flag's help, the same on every trainer."""
MLFLOW_HELP = (
    "Also log the run to MLflow: settings, every metric per iteration, metrics.json and the "
    "run's files. To MLFLOW_TRACKING_URI (a server, sqlite:///FILE, a directory) if set, else "
    "./mlruns; experiment MLFLOW_EXPERIMENT_NAME or 'protege'. Needs pip install "
    "'protege\\[mlflow]'."  # the backslash: [mlflow] is not Rich markup
)
"""The --mlflow flag's help, the same on every trainer."""
WANDB_HELP = (
    "Also log the run to Weights & Biases, as --mlflow does; project WANDB_PROJECT or "
    "'protege'. Offline (in RUN_DIR/wandb; `wandb sync` uploads it) unless WANDB_MODE says "
    "otherwise or an API key is set (wandb login). Needs pip install 'protege\\[wandb]'."
)
"""The --wandb flag's help, the same on every trainer."""
THREADS_HELP = (
    "Torch threads for this process (recorded in config.json). 1 is fastest for protege's "
    "small networks, most of all on a busy machine; bit-identical results need the same count."
)
"""The --threads flag's help, the same on every command that trains."""

# The options every trainer shares, declared once (Typer reads a default's metadata only,
# so one OptionInfo serves every command).
SET_OPTION: Any = typer.Option([], "--set", help="Override a setting: key=value (listed below).")
EXPERT_OPTION: Any = typer.Option(
    None, help="Expert to compare with (default: built-in, else the demos' returns)."
)
EVAL_EPISODES_OPTION: Any = typer.Option(20, min=1, help="Evaluation episodes.")
OVERWRITE_OPTION: Any = typer.Option(False, "--overwrite", help="Reuse an existing run directory.")
RESUME_OPTION: Any = typer.Option(
    False, "--resume", help="Continue an interrupted run from its checkpoint."
)
TENSORBOARD_OPTION: Any = typer.Option(False, "--tensorboard", help=TENSORBOARD_HELP)
MLFLOW_OPTION: Any = typer.Option(False, "--mlflow", help=MLFLOW_HELP)
WANDB_OPTION: Any = typer.Option(False, "--wandb", help=WANDB_HELP)
THREADS_OPTION: Any = typer.Option(1, min=1, help=THREADS_HELP)

app = typer.Typer(
    name="protege",
    help="Imitation learning: record an expert, learn from it, and measure the learner against it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
train_app = typer.Typer(
    help="Train a policy from demonstrations into a run directory.", no_args_is_help=True
)
expert_app = typer.Typer(help="Make experts where no built-in one exists.", no_args_is_help=True)


def _show_version(value: bool) -> None:
    if value:
        # here, not at the top: keeps torch and SB3 out of `protege --help`
        from protege import __version__

        console.print(f"protege {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Imitation learning: record an expert, learn from it, and measure the learner against it."""


app.add_typer(train_app, name="train")
app.add_typer(expert_app, name="expert")

console = Console()
err_console = Console(stderr=True)


class AlgorithmCommand(TyperCommand):
    """`protege train NAME`: its `--help` ends with every --set setting of the algorithm
    (type, default, meaning), made from the config dataclass and its docstring
    (`protege.config.settings_help`), so the help cannot drift from the code.

    The config class is imported when this command's help is shown, not before: listing
    the commands (`protege train --help`) loads no algorithm, and so no torch."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # Typer's own vendored Click types
        if self.name in catalog.ALGORITHMS and not self.epilog:
            self.epilog = settings_help(catalog.get(self.name).default_config())
        super().format_help(ctx, formatter)


def add_train_commands(family: str, make: Callable[[str], Callable[..., None]]) -> None:
    """`protege train NAME` for every algorithm of a catalog family, in catalog order: the
    command `make(NAME)` returns, with the catalog's one-line help and the algorithm's
    --set settings at the end of its --help (`AlgorithmCommand`)."""
    for name in catalog.family(family):
        train_app.command(name, cls=AlgorithmCommand, help=catalog.get(name).help)(make(name))


def use_threads(threads: int) -> None:
    """Give torch, and the BLAS under NumPy and SciPy, `threads` threads in this process,
    before anything trains.

    Torch's default (one per core) makes small networks slower, and much slower on a shared
    machine: BC on CartPole took 28.4 s instead of 3.0 s, GAIL for 8k steps 126 s instead of
    6.3 s, on a loaded 2-core machine. OpenBLAS threads a dot product of 32,768 elements or
    more; on that machine SciPy's GMRES on a 200x200 gridworld's policy system took 7.4 s
    with its default threads and 0.17 s with one (threadpoolctl limits them at run time).
    torch is imported here, not at the top, so that `protege --help` does not load it."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)  # for the process, not a `with` block


def note_rounding(steps: int, taken: int) -> None:
    """Say so when the learner will take more env steps than asked (PPO's whole rollouts,
    `protege.rl.steps_taken`)."""
    if taken != steps:
        console.print(
            f"[yellow]note:[/] --steps {steps} becomes {taken}: PPO collects whole rollouts "
            "(n_envs x n_steps env steps each)"
        )


def trainer_callbacks(name: str, show: str, out: Path, tensorboard: bool = False) -> list[Callback]:
    """A trainer's progress bar (the iteration count and the latest `show` metric), plus a
    TensorBoard logger in the run dir when asked."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.callbacks import RichProgress

    return with_tensorboard(RichProgress(name, show=show), out, tensorboard)


def with_tensorboard(progress: Callback, out: Path, tensorboard: bool) -> list[Callback]:
    """`progress`, plus a TensorBoard logger in the run dir when asked (--tensorboard)."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.callbacks import TensorBoardLogger

    callbacks = [progress]
    if tensorboard:
        callbacks.append(TensorBoardLogger(Path(out) / "tensorboard"))
    return callbacks


class StepProgress(Callback):
    """A progress bar over a learner's env steps, with a line of what its rows report:
    `info(i, row)`, e.g. the latest return (the SB3 families: adversarial, ranking)."""

    def __init__(self, description: str, info: Callable[[int, dict[str, float]], str]) -> None:
        self.description = description
        self.info = info
        self._progress: Progress | None = None

    def on_start(self, total: int, unit: str) -> None:
        width = 2 * len(str(total)) + 1  # "2048/60000": the count is never cut, the info is
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(table_column=Column(no_wrap=True, min_width=width)),
            TextColumn(f"{unit}s"),
            TextColumn("{task.fields[info]}", table_column=Column(ratio=1, no_wrap=True)),
            TimeElapsedColumn(),
        )
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total, info="")

    def on_iteration(self, i: int, metrics: dict[str, float]) -> None:
        if self._progress is None:
            return
        info = self.info(i, metrics)
        self._progress.update(self._task, completed=metrics["env_steps"], info=info)

    def on_end(self, metrics: dict[str, float]) -> None:
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def tracked(out: Path, mlflow: bool = False, wandb: bool = False) -> Iterator[list[Callback]]:
    """The experiment trackers asked for (--mlflow, --wandb), as callbacks for the trainer:

        with tracked(out, mlflow, wandb) as trackers:
            metrics = train_run(..., callbacks=callbacks + trackers)

    Each opens its run when training starts; on leaving, it logs metrics.json and the run's
    files and closes the run (as failed when the block raised), and its line is printed."""
    # here, not at the top: keeps MLflow and W&B out of a command that does not ask for them
    from protege.callbacks import MLflowLogger, RunTracker, WandbLogger

    trackers: list[RunTracker] = []
    if mlflow:
        trackers.append(MLflowLogger(out))
    if wandb:
        trackers.append(WandbLogger(out))
    try:
        yield list(trackers)
    except BaseException:
        for tracker in trackers:
            with suppress(Exception):  # the command's own error is the one to report
                tracker.finish(failed=True)
        raise
    for tracker in trackers:
        line = tracker.finish()
        if line:
            console.print(f"logged: {line}")


def episode_progress(description: str, total: int) -> Progress:
    """A Rich progress bar counting episodes."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn("episodes"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """The learner-vs-expert comparison as a table a person reads at a glance."""
    table = Table(title=title, title_justify="left")
    table.add_column("policy")
    table.add_column("return (mean ± std)", justify="right")
    table.add_column("normalised score", justify="right")
    rows = [
        ("learner", metrics["return_mean"], metrics["return_std"], metrics["normalized_score"]),
        ("expert", metrics["expert_return_mean"], metrics["expert_return_std"], 1.0),
        ("random", metrics["random_return_mean"], metrics["random_return_std"], 0.0),
    ]
    # envs that report success (info["success"]): each policy's share of successful episodes
    successes = [metrics.get(f"{p}success_rate") for p in ("", "expert_", "random_")]
    show_success = any(rate is not None for rate in successes)
    if show_success:
        table.add_column("success rate", justify="right")
    for (name, mean, std, score), rate in zip(rows, successes, strict=True):
        success = ["-" if rate is None else f"{rate:.0%}"] if show_success else []
        table.add_row(name, f"{mean:.1f} ± {std:.1f}", f"{score:.3f}", *success)
    agreement = metrics.get("action_agreement")
    if agreement is not None:
        table.caption = (
            f"action agreement on expert states {agreement:.1%} · {metrics['episodes']} episodes"
            f" on the same seeds · expert: {metrics.get('expert_source')}"
        )
    if metrics.get("score_note"):
        note = f"[yellow]note:[/] {metrics['score_note']}"
        table.caption = f"{table.caption}\n{note}" if table.caption else note
    return table


def rounds_table(rounds: list[dict[str, float]], title: str) -> Table:
    """DAgger's rounds: β, expert labels so far, learner return and normalised score."""
    table = Table(title=title, title_justify="left")
    for name in ("round", "β", "expert labels", "return", "normalised score"):
        table.add_column(name, justify="right")
    for r in rounds:
        table.add_row(
            f"{int(r['round'])}", f"{r['beta']:.3f}", f"{int(r['labels'])}",
            f"{r.get('return_mean', float('nan')):.1f}",
            f"{r.get('normalized_score', float('nan')):.3f}",
        )  # fmt: skip
    return table

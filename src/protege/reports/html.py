"""`protege report`: run directories as one self-contained HTML page a person reads first.

The page embeds its plots (base64 PNG, also written beside it) so it opens from disk with no
server: learning curves with seeds aggregated (mean and 95% band), learner against expert
and random returns, each run's own figures (DAgger rounds, grid heatmaps), and a table of
the comparison with the expert, EPIC to the true reward where known.
"""

from __future__ import annotations

import base64
import html
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from protege.errors import RunDirError  # noqa: E402
from protege.reports.plots import save_figure  # noqa: E402
from protege.rundir import (  # noqa: E402
    METRICS,
    atomic_write,
    read_config,
    read_metrics,
    read_progress,
)

X_COLUMNS = ("step", "epoch", "round", "iteration")
Y_COLUMNS = ("return_mean", "normalized_score", "train_return", "occupancy_l1", "val_loss",
             "loss")  # fmt: skip
RUN_FIGURES = ("progress.png", "heatmaps.png")


@dataclass(frozen=True)
class Run:
    """What the report reads from one run directory."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    progress: list[dict[str, float]]

    @property
    def group(self) -> tuple[str, str]:
        return self.config["algo"], self.config["env"]


def read_run(path: str | Path) -> Run:
    """A run directory's config, metrics and progress; unfinished runs are refused."""
    run = Path(path)
    config = read_config(run)
    if not (run / METRICS).is_file():
        raise RunDirError(f"{run}: no {METRICS}; the run has not finished (protege eval {run})")
    return Run(run, config, read_metrics(run), read_progress(run))


def _png(fig: Any, path: Path) -> str:
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return base64.b64encode(path.read_bytes()).decode("ascii")


def mean_band(curves: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and the 95% t-interval half-width (0 for a single seed), on the
    common length of the curves."""
    n = min(len(c) for c in curves)
    stacked = np.stack([np.asarray(c[:n], dtype=np.float64) for c in curves])
    mean = np.nanmean(stacked, axis=0)
    if len(curves) < 2:
        return mean, np.zeros(n)
    sem = np.nanstd(stacked, axis=0, ddof=1) / math.sqrt(len(curves))
    return mean, stats.t.ppf(0.975, len(curves) - 1) * sem


def learning_curves(groups: dict[tuple[str, str], list[Run]], path: Path) -> str | None:
    """One panel per (algo, env): the first metric the runs logged, mean and 95% band."""
    panels = []
    for (algo, env), runs in groups.items():
        rows = [r.progress for r in runs if r.progress]
        if not rows:
            continue
        x_key = next((k for k in X_COLUMNS if k in rows[0][0]), None)
        y_key = next((k for k in Y_COLUMNS if any(k in row for row in rows[0])), None)
        if x_key is None or y_key is None:
            continue
        curves = [np.array([row.get(y_key, math.nan) for row in r]) for r in rows]
        xs = np.array([row[x_key] for row in rows[0]])
        panels.append((f"{algo} on {env}", x_key, y_key, xs, curves, len(rows)))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (title, x_key, y_key, xs, curves, n) in zip(axes[0], panels, strict=True):
        mean, band = mean_band(curves)
        x = xs[: len(mean)]
        ax.plot(x, mean, color="tab:blue", label=f"mean of {n} run{'s' * (n > 1)}")
        if n > 1:
            ax.fill_between(x, mean - band, mean + band, alpha=0.25, label="95% band")
        ax.set(title=title, xlabel=x_key, ylabel=y_key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig, path)


def returns_chart(groups: dict[tuple[str, str], list[Run]], path: Path) -> str | None:
    """Learner, expert and random returns per (algo, env), mean over runs with 95% CI."""
    names, bars = [], []
    for (algo, env), runs in groups.items():
        rows = [r.metrics for r in runs if "return_mean" in r.metrics]
        if not rows:
            continue
        names.append(f"{algo}\n{env}")
        bars.append([
            mean_band([np.array([m.get(k, math.nan)]) for m in rows])
            for k in ("return_mean", "expert_return_mean", "random_return_mean")
        ])  # fmt: skip
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * len(names)), 3.8))
    width = 0.27
    for j, (label, colour) in enumerate(
        [("learner", "tab:blue"), ("expert", "tab:green"), ("random", "tab:gray")]
    ):
        means = [b[j][0][0] for b in bars]
        errs = [b[j][1][0] for b in bars]
        xs = np.arange(len(names)) + (j - 1) * width
        ax.bar(xs, means, width, yerr=errs, capsize=3, label=label, color=colour)
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set_ylabel("episode return")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig, path)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.0f}"
    return html.escape(str(value))


def summary_table(groups: dict[tuple[str, str], list[Run]]) -> str:
    """The comparison with the expert, one row per (algo, env), seeds aggregated."""
    head = ("algorithm", "env", "runs", "return (mean ± 95% CI)", "expert", "random",
            "normalised score", "EPIC to true", "reward corr.", "occupancy L1")  # fmt: skip
    rows = []
    for (algo, env), runs in groups.items():
        m = [r.metrics for r in runs]

        def avg(key: str, metrics: list[dict[str, Any]] = m) -> float | None:
            values = [x[key] for x in metrics if isinstance(x.get(key), (int, float))]
            return float(np.mean(values)) if values else None

        mean, band = mean_band([np.array([x.get("return_mean", math.nan)]) for x in m])
        ret = (
            f"{_fmt(float(mean[0]))} ± {_fmt(float(band[0]))}"
            if len(m) > 1
            else _fmt(float(mean[0]))
        )
        cells = (algo, env, len(runs), ret, avg("expert_return_mean"), avg("random_return_mean"),
                 avg("normalized_score"), avg("epic_to_true"), avg("reward_correlation"),
                 avg("occupancy_l1"))  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px;
        color: #222; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .35rem .7rem; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
img {{ max-width: 100%; display: block; margin: .5rem 0 1.5rem; }}
.muted {{ color: #777; }}
</style></head>
<body>
<h1>{title}</h1>
<p class="muted">{subtitle}</p>
<h2>Learned vs expert</h2>
{table}
{figures}
<script>
window.addEventListener("load", () => {{
  document.body.dataset.imagesLoaded =
    [...document.images].filter(img => img.complete && img.naturalWidth > 0).length;
}});
</script>
</body></html>
"""


def write_report(run_dirs: Sequence[str | Path], out: str | Path) -> Path:
    """Write `out` (HTML, plots embedded) and its PNGs in `<out stem>_files/`."""
    if not run_dirs:
        raise RunDirError("no run directories given; pass one or more RUN_DIRs")
    runs = [read_run(d) for d in run_dirs]
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        groups[r.group].append(r)
    out = Path(out)
    files = out.with_name(f"{out.stem}_files")
    files.mkdir(parents=True, exist_ok=True)
    figures = []
    curves = learning_curves(groups, files / "learning_curves.png")
    if curves:
        figures.append(("Learning curves (seeds aggregated)", curves))
    bars = returns_chart(groups, files / "returns.png")
    if bars:
        figures.append(("Returns: learner, expert and random", bars))
    for r in runs:
        for name in RUN_FIGURES:
            if (r.path / name).is_file():
                data = base64.b64encode((r.path / name).read_bytes()).decode("ascii")
                figures.append((f"{r.path.name}: {name}", data))
    body = "".join(
        f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{data}">'
        for title, data in figures
    )
    page = PAGE.format(
        title="protege report",
        subtitle=html.escape(f"{len(runs)} runs: " + ", ".join(str(r.path) for r in runs)),
        table=summary_table(groups),
        figures=body,
    )
    atomic_write(out, lambda f: f.write(page.encode("utf-8")))
    return out

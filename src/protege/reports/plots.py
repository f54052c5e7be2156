"""Plots a person would rather look at than a CSV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors  # noqa: E402

from protege.rundir import atomic_write  # noqa: E402


def save_figure(fig: Any, path: Path, dpi: float | None = None) -> None:
    """The figure as a PNG at `path`, written atomically, and closed."""
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    plt.close(fig)


def plot_rounds(history: Sequence[dict[str, float]], path: str | Path, title: str) -> Path:
    """Normalised score against expert labels used, one point per DAgger round."""
    path = Path(path)
    labels = [row["labels"] for row in history]
    scores = [row.get("normalized_score", float("nan")) for row in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(labels, scores, marker="o", label="learner")
    ax.axhline(1.0, color="tab:green", linestyle="--", label="expert")
    ax.axhline(0.0, color="tab:gray", linestyle=":", label="random")
    for row, x, y in zip(history, labels, scores, strict=True):
        ax.annotate(f"r{int(row['round'])}", (x, y), textcoords="offset points", xytext=(4, -12))
    ax.set_xlabel("expert labels")
    ax.set_ylabel("normalised score (0 random, 1 expert)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def plot_grid_heatmaps(
    shape: tuple[int, int],
    panels: Sequence[tuple[str, np.ndarray, str]],
    path: str | Path,
    title: str,
) -> Path:
    """Per-state values drawn over the cells of a grid, one panel each, in one figure.

    shape: (rows, cols); state s is the cell (s // cols, s % cols), row 0 at the top.
    panels: (title, values (rows·cols,), kind) with kind "reward" (its own colour range,
        viridis, NaN cells grey) or "occupancy" (one square-root scale shared by all
        occupancy panels, so they compare directly and faint paths show beside the peak).
    Wide grids (CliffWalking's 4x12) stack the panels in one column, others go 2x2.
    """
    path = Path(path)
    rows, cols = shape
    n = len(panels)
    wide = cols >= 2 * rows
    n_rows, n_cols = (n, 1) if wide else ((n + 1) // 2, min(n, 2))
    cell = min(4.0 / max(rows, cols) * (3 if wide else 1), 0.6)
    panel_w = max(cols * cell, 2.5)
    panel_h = max(rows * cell, 2.0)
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(n_cols * (panel_w + 1.4), n_rows * (panel_h + 0.7) + 0.6),
        dpi=120,
        squeeze=False,
    )
    occupancy_max = max(
        [float(np.max(values)) for _, values, kind in panels if kind == "occupancy"], default=0.0
    )
    top = occupancy_max if occupancy_max > 0 else 1.0
    for ax, (name, values, kind) in zip(axes.ravel(), panels, strict=False):
        grid = np.asarray(values, dtype=np.float64).reshape(rows, cols)
        if kind == "occupancy":
            norm = colors.PowerNorm(0.5, vmin=0.0, vmax=top)
            image = ax.imshow(grid, cmap="magma", norm=norm, interpolation="nearest")
            name = f"{name} (√ scale)"
        else:
            cmap = plt.get_cmap("viridis").with_extremes(bad="lightgray")
            image = ax.imshow(grid, cmap=cmap, interpolation="nearest")
            if np.isnan(grid).any():
                name = f"{name} (grey: undefined)"
        ax.set_title(name, fontsize=10)
        if max(rows, cols) <= 20:
            ax.set_xticks(range(cols))
            ax.set_yticks(range(rows))
            ax.tick_params(labelsize=6, length=0)
            ax.set_xticks(np.arange(-0.5, cols), minor=True)
            ax.set_yticks(np.arange(-0.5, rows), minor=True)
            ax.grid(which="minor", color="white", linewidth=0.4, alpha=0.5)
            ax.tick_params(which="minor", length=0)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
    return path

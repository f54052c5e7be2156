"""`protege report`: one self-contained page, rendered by a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import run

from protege.reports.html import mean_band

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("report")
    demos, grid = base / "d.npz", base / "g.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    assert run("collect", "gridworld:4", "--expert", "optimal", "--episodes", "20",
               "--out", str(grid)) == 0  # fmt: skip
    dirs = []
    for seed in ("0", "1"):
        dirs.append(base / f"bc{seed}")
        args = ["--seed", seed, "--set", "epochs=5", "--eval-episodes", "2"]
        assert run("train", "bc", "--env", "CartPole-v1", "--demos", str(demos), *args,
                   "--out", str(dirs[-1])) == 0  # fmt: skip
    dirs.append(base / "mce")
    assert run("train", "mce", "--env", "gridworld:4", "--demos", str(grid), "--iterations", "50",
               "--eval-episodes", "2", "--out", str(dirs[-1])) == 0  # fmt: skip
    return dirs


def test_report_page_embeds_every_plot_and_the_table(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run("report", *map(str, runs), "--out", str(out)) == 0
    page = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    # learning curves, returns, the mce run's heatmaps
    assert len(images) == 3 and all(len(i) > 1000 for i in images)
    assert 'src="http' not in page and "<link" not in page  # nothing fetched from elsewhere
    assert page.count("<tr>") == 3  # header + bc (2 seeds) + mce
    assert (tmp_path / "report_files" / "learning_curves.png").is_file()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_headless_chromium_renders_the_plots(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run("report", *map(str, runs), "--out", str(out)) == 0
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
         "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert 'data-images-loaded="3"' in dom  # every <img> decoded with a non-zero width
    shot = tmp_path / "shot.png"
    screenshot = [f"--user-data-dir={profile}", "--window-size=1200,1600", f"--screenshot={shot}"]
    subprocess.run([CHROMIUM, *FLAGS, *screenshot, out.as_uri()], capture_output=True, timeout=120)
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.std() > 0.1  # a page of plots, not a blank one


def test_mean_band_is_the_t_interval_over_seeds() -> None:
    mean, band = mean_band([np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0])])
    np.testing.assert_allclose(mean, [2.0, 3.0])
    np.testing.assert_allclose(band, 12.706 * np.sqrt(2) / np.sqrt(2), rtol=1e-3)


def test_unfinished_or_missing_runs_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert run("report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")) == 2
    assert "config.json" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()

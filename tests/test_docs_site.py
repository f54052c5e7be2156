"""The documentation site builds in strict mode (a broken link, anchor or API reference
fails it), with the generated CLI reference and the API pages from the docstrings.

Needs the `docs` extra (in `dev`); skipped where MkDocs is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner, not a warning
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_site_builds_with_every_page(site: Path) -> None:
    pages = ["getting-started", "tutorial-clone", "tutorial-dagger", "tutorial-tabular-irl",
             "tutorial-gail", "tutorial-own-env", "tutorial-sweeps", "cli", "architecture",
             "reliability", "api"]  # fmt: skip
    assert (site / "index.html").is_file()
    for page in pages:
        assert (site / page / "index.html").is_file(), page


def test_the_cli_reference_is_generated_from_the_app(site: Path) -> None:
    cli = (site / "cli" / "index.html").read_text()
    assert "protege train" in cli and "protege sweep" in cli and "protege expert train" in cli
    assert 'id="protege-train-dagger"' in cli
    # each algorithm's --set settings, from its config's docstring
    assert "Settings (--set key=value) of BCConfig" in cli and "labels_per_round" in cli


def test_the_api_reference_is_rendered_from_docstrings(site: Path) -> None:
    bc = (site / "api" / "bc" / "index.html").read_text()
    assert "train_bc" in bc and "Behavioral cloning" in bc
    data = (site / "api" / "data" / "index.html").read_text()
    assert "save_trajectories" in data and "Trajectory" in data

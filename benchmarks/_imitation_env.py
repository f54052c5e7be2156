"""A private virtualenv with `imitation` 1.0.1, the baseline that `benchmarks/tabular.py` uses.

`imitation` pins an old Gymnasium (0.29), so it cannot share protege's environment. The venv
is built once, on first use, beside this file. torch is installed first from the exact
version protege uses (a CPU wheel where one is offered locally): installing `imitation`
straight away would let pip pull a CUDA build of torch, gigabytes we never use.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

VENV_DIR = Path(__file__).resolve().parent / ".venv-imitation"
TORCH_PIN = "torch==2.13.0"
IMITATION_PIN = "imitation==1.0.1"
GYMNASIUM_MUJOCO_PIN = "gymnasium[mujoco]==0.29.1"  # the Gymnasium imitation 1.0.1 pins


class ImitationUnavailable(RuntimeError):
    """The `imitation` venv could not be created or `imitation` could not be installed."""


def _python_in(venv_dir: Path) -> Path:
    bin_dir = "Scripts" if sys.platform == "win32" else "bin"
    exe = "python.exe" if sys.platform == "win32" else "python"
    return venv_dir / bin_dir / exe


def _imports_imitation(python: Path) -> bool:
    probe = [str(python), "-c", "import imitation.algorithms.mce_irl"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def _pip(python: Path, *args: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ImitationUnavailable(f"`{' '.join(cmd[3:])}` failed:\n{tail}")


def imitation_python(venv_dir: Path = VENV_DIR, quiet: bool = False) -> Path:
    """The python of a venv where `import imitation` works, creating that venv if missing.

    Raises `ImitationUnavailable` with pip's last lines when the install fails (no network,
    no wheel for this Python), so the caller can report it and go on without the baseline.
    """
    python = _python_in(venv_dir)
    if python.exists() and _imports_imitation(python):
        return python
    if not quiet:
        print(f"building {venv_dir} with {IMITATION_PIN} (once; a few minutes)...", flush=True)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    _pip(python, TORCH_PIN)  # first, so that imitation's `torch` requirement is already met
    _pip(python, IMITATION_PIN)
    if not _imports_imitation(python):
        raise ImitationUnavailable(f"{IMITATION_PIN} installed but `import imitation` fails")
    return python


def with_mujoco(python: Path) -> Path:
    """`python` (an imitation venv's) once Gymnasium 0.29's MuJoCo envs (Hopper-v4 ...) make
    there: gymnasium's own mujoco extra at imitation's Gymnasium, installed on first use."""
    probe = [str(python), "-c", "import gymnasium as g; g.make('Hopper-v4').reset(seed=0)"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        _pip(python, GYMNASIUM_MUJOCO_PIN)
        if subprocess.run(probe, capture_output=True).returncode != 0:
            raise ImitationUnavailable(f"{GYMNASIUM_MUJOCO_PIN} installed but Hopper-v4 fails")
    return python


if __name__ == "__main__":
    print(imitation_python())


def save_demos(trajs: list, path: Path) -> None:
    """protege Trajectories as the plain arrays `_imitation_common.load_demos` reads (obs
    with each episode's final observation, acts, lengths, terminated)."""
    import numpy as np

    np.savez(
        path,
        obs=np.concatenate([t.obs for t in trajs]),
        acts=np.concatenate([t.acts for t in trajs]),
        lengths=np.array([len(t) for t in trajs]),
        terminated=np.array([t.terminated for t in trajs]),
    )


def imitation_python_or_none() -> Path | None:
    """`imitation_python()`, or None after printing why not, so a benchmark goes on with
    protege's rows only."""
    try:
        return imitation_python()
    except ImitationUnavailable as exc:
        print(f"imitation 1.0.1 unavailable, protege only:\n{exc}", flush=True)
        return None

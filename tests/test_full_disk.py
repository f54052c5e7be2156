"""A full disk: every write is whole or absent, and the error is one line saying where and
how much room there is (fault injection on a real 256 KiB tmpfs where the machine lets us
mount one, and by a writer that fails with ENOSPC everywhere)."""

from __future__ import annotations

import errno
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run

from protege.data import rollout, save_trajectories
from protege.envs import env_spaces
from protege.experts.scripted import scripted_expert


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, or a skip where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def protege(*args: str) -> subprocess.CompletedProcess[str]:
    """`protege ARGS` as its own process: a crash (h5py's on a full disk) cannot hide."""
    return subprocess.run([sys.executable, "-m", "protege.cli.main", *args],
                          capture_output=True, text=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demos.npz", "demos"])
def test_collect_onto_a_full_disk_is_one_line_and_leaves_nothing(
    tiny_disk: Path, name: str
) -> None:
    out = protege("collect", "CartPole-v1", "--episodes", "60", "--out", str(tiny_disk / name))
    assert out.returncode == 2, out.stderr
    assert "free on that disk" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert [p.name for p in tiny_disk.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_train_onto_a_full_disk_is_one_line_and_leaves_no_run(
    tiny_disk: Path, tmp_path: Path
) -> None:
    demos = tmp_path / "demos.npz"
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    out = protege("train", "bc", "--env", "CartPole-v1", "--demos", str(demos),
                  "--out", str(tiny_disk / "run"), "--set", "epochs=1",
                  "--set", "hidden=1024,1024")  # fmt: skip
    assert out.returncode == 2, out.stderr[-3000:]
    err = out.stderr.strip().splitlines()[-1]
    assert "no space left on the disk" in err and "free there" in err, err
    assert list(tiny_disk.iterdir()) == []


def test_enospc_from_any_writer_is_one_line_and_the_old_file_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demos.npz"
    spaces = env_spaces("CartPole-v1")
    trajs = rollout("CartPole-v1", scripted_expert("CartPole-v1").act, episodes=2, seed=0)
    save_trajectories(path, trajs, "CartPole-v1", spaces)
    before = path.read_bytes()

    import protege.data.storage as storage

    def full(f: object, arrays: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "_write_npz", full)
    assert run("collect", "CartPole-v1", "--episodes", "2", "--out", str(path),
               "--overwrite") == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no space left on the disk" in err and len(err.strip().splitlines()) == 1, err
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.npz"]

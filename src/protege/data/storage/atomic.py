"""Atomic dataset writes: a crash never leaves a half-written dataset, nor loses the old one.

A .npz file is written by the project's one file writer, `protege.rundir.atomic_write`; what a
dataset needs on top of it (and a Minari directory, which it cannot write) is here.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO

from protege.data.storage.targets import _check_target
from protege.rundir import atomic_write


def _atomic_write_file(target: Path, overwrite: bool, write: Callable[[IO[bytes]], object]) -> None:
    """`rundir.atomic_write(target, write)`, plus two guarantees a dataset needs on top of it.

    `target` is checked again once written, just before the rename: it may have appeared while
    we were writing, and is replaced only with `overwrite` (rundir.atomic_write replaces
    unconditionally). And the parent directory is fsynced after, so that the rename itself
    survives a crash (rundir.atomic_write fsyncs only the file).
    """

    def write_then_check(f: IO[bytes]) -> None:
        write(f)
        _check_target(target, overwrite)  # it may have appeared while we were writing

    atomic_write(target, write_then_check)
    _fsync_dir(target.parent)


def _atomic_write_dir(target: Path, overwrite: bool, write: Callable[[Path], None]) -> None:
    """`write(tmp)` builds a directory at a temporary sibling, then it replaces `target`;
    never a half-written target.

    Beside `rundir.atomic_write`, which writes one file: a Minari dataset is a directory, and a
    directory cannot be renamed over another in one step, so the old one is moved aside, the new
    one in, then the old one removed (restored if the move in fails). Like `_atomic_write_file`,
    it checks `target` again before replacing it and fsyncs the parent directory after.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write(tmp)
        _commit(tmp, target, overwrite)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(target.parent)


def _remove_stale(target: Path) -> None:
    """Remove what a killed or crashed writer of `target` left beside it (its temporary or
    moved-aside directory), once the process that made it is gone."""
    for leftover in target.parent.glob(f".{target.name}.*-*-*"):
        kind, _, rest = leftover.name[len(target.name) + 2 :].partition("-")
        pid = rest.partition("-")[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        if kind == "old" and not os.path.lexists(target):
            continue  # the old dataset, moved aside by a writer that died: keep it
        _remove(leftover)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    _check_target(target, overwrite)  # it may have appeared while we were writing
    # a directory cannot be swapped in one step: move the old one aside, the new one in
    aside = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(aside, target)
        raise
    _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

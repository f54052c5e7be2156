"""`protege.checkpoint`: NumPy state saved as tensors, leftovers of killed saves cleared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from protege.checkpoint import load_checkpoint, save_checkpoint


def test_numpy_arrays_anywhere_in_the_state_come_back_as_tensors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    state = {
        "theta": rng.normal(size=3),
        "nested": {"rows": np.arange(12).reshape(3, 4)[:, ::2]},  # not contiguous
        "many": [np.ones(2, dtype=np.float32), (np.zeros(1), 5)],
        "rng": rng.bit_generator.state, "history": [{"loss": 1.5}], "none": None,
    }  # fmt: skip
    back = load_checkpoint(save_checkpoint(tmp_path / "c.pt", state))  # weights-only load
    np.testing.assert_array_equal(back["theta"].numpy(), state["theta"])
    np.testing.assert_array_equal(back["nested"]["rows"].numpy(), [[0, 2], [4, 6], [8, 10]])
    assert back["many"][0].dtype == torch.float32 and isinstance(back["many"][1], tuple)
    assert back["many"][1][1] == 5 and back["history"] == [{"loss": 1.5}]
    assert back["rng"] == state["rng"] and back["none"] is None


def test_the_temporary_file_of_a_killed_save_is_removed_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})
    partial = tmp_path / ".c.pt.abc123.tmp"  # what atomic_write leaves when killed midway
    partial.write_bytes(b"half a checkpoint")
    other = tmp_path / ".other.pt.abc123.tmp"  # another file's: not ours to remove
    other.write_bytes(b"x")
    assert load_checkpoint(path)["step"] == 1  # the previous checkpoint is intact
    save_checkpoint(path, {"step": 2})
    assert not partial.exists() and other.exists() and load_checkpoint(path)["step"] == 2


def test_restoring_a_foreign_state_is_one_line_naming_the_file() -> None:
    import pytest

    from protege.checkpoint import restoring
    from protege.errors import RunDirError

    foreign = pytest.raises(RunDirError, match=r"c.pt: holds another trainer's state.*KeyError")
    with foreign, restoring("runs/x/c.pt"):
        {"step": 1}["policy"]
    net = torch.nn.Linear(2, 2)
    mismatch = pytest.raises(RunDirError, match=r"RuntimeError: Error\(s\) in loading state_dict")
    with mismatch, restoring("c.pt"):
        net.load_state_dict(torch.nn.Linear(3, 2).state_dict())

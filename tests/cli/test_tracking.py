"""--mlflow and --wandb log a run to the real libraries, in their local and offline modes.

MLflow writes to a file store in tmp_path and is read back with its own client; W&B runs
offline (WANDB_MODE=offline, WANDB_DIR in tmp_path), and its run file is read back record
by record with W&B's own protobuf messages. Nothing leaves the machine.
"""

from __future__ import annotations

import csv
import json
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import run

from protege.callbacks import WandbLogger
from protege.cli.app import tracked


@pytest.fixture(scope="module")
def grid_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    demos = tmp_path_factory.mktemp("demos") / "grid.npz"
    assert run("collect", "gridworld:4", "--expert", "optimal", "--episodes", "6",
               "--out", str(demos)) == 0  # fmt: skip
    return demos


def train_mce(demos: Path, out: Path, *flags: str) -> int:
    return run("train", "mce", "--env", "gridworld:4", "--demos", str(demos), "--out", str(out),
               "--iterations", "7", "--tol", "0", "--eval-episodes", "2", *flags)  # fmt: skip


def progress(out: Path, column: str) -> list[float]:
    with (out / "progress.csv").open() as f:
        return [float(row[column]) for row in csv.DictReader(f)]


# ------------------------------------------------------------------ MLflow


def test_mlflow_logs_settings_metrics_results_and_files(
    grid_demos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(store))
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "grid")
    out = tmp_path / "mce"
    assert train_mce(grid_demos, out, "--mlflow") == 0

    client = MlflowClient(store.resolve().as_uri())
    experiment = client.get_experiment_by_name("grid")
    assert experiment is not None
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == "mce" and logged.info.status == "FINISHED"
    params = logged.data.params
    assert params["algo"] == "mce" and params["env"] == "gridworld:4"
    assert params["config.lr"] == "0.1" and params["config.max_iterations"] == "7"
    history = client.get_metric_history(logged.info.run_id, "occupancy_l1")
    assert [m.step for m in history] == list(range(7))
    assert [m.value for m in history] == pytest.approx(progress(out, "occupancy_l1"))
    results = json.loads((out / "metrics.json").read_text())
    assert logged.data.metrics["final/return_mean"] == pytest.approx(results["return_mean"])
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"config.json", "metrics.json", "progress.csv", "policy.npy"} <= artifacts


def test_mlflow_records_a_failed_command_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(store))
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "x")
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"algo": "bc", "config": {"epochs": 3}}))
    with pytest.raises(KeyboardInterrupt), tracked(out, mlflow=True) as (logger,):
        logger.on_start(3, "epoch")
        logger.on_iteration(0, {"loss": 0.5, "converged": True})  # a bool is not a metric
        raise KeyboardInterrupt  # Ctrl-C in the middle of training
    client = MlflowClient(store.resolve().as_uri())
    (logged,) = client.search_runs([client.get_experiment_by_name("x").experiment_id])
    assert logged.info.status == "FAILED"
    assert logged.data.metrics == {"loss": 0.5}
    assert logged.data.params == {"algo": "bc", "config.epochs": "3"}


# ------------------------------------------------------------------ W&B


def wandb_records(path: Path) -> Iterator[Any]:
    """The records of a W&B run file (.wandb): a LevelDB-style log of protobuf `Record`s,
    after a 7-byte header (":W&B", magic 0xBEE1, version), in 32 KiB blocks of chunks each
    with a 7-byte header (CRC-32C, length, type: 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:7])
    assert (ident, magic) == (b":W&B", 0xBEE1)
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length == 0 and kind == 0):  # the block's padding
            pos += left
            continue
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def key(item: Any) -> str:
    """A W&B record item's key: `key`, or its `nested_key` parts joined by "/"."""
    return str(item.key) or "/".join(item.nested_key)


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B offline, writing under tmp_path, without console capture or system metrics."""
    pytest.importorskip("wandb")
    home = tmp_path / "wandb-home"
    home.mkdir()
    for key, value in {
        "WANDB_MODE": "offline", "WANDB_DIR": str(home), "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off", "WANDB__DISABLE_STATS": "true", "WANDB_CONFIG_DIR": str(home),
        "WANDB_CACHE_DIR": str(home), "WANDB_DATA_DIR": str(home), "WANDB_ERROR_REPORTING": "false",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return home


def test_wandb_offline_run_holds_the_settings_history_summary_and_files(
    grid_demos: Path, tmp_path: Path, wandb_offline: Path
) -> None:
    out = tmp_path / "mce"
    assert train_mce(grid_demos, out, "--wandb") == 0

    (run_file,) = wandb_offline.glob("wandb/offline-run-*/run-*.wandb")
    records = list(wandb_records(run_file))
    (started,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert started.display_name == "mce" and started.project == "protege"
    config = {key(item): json.loads(item.value_json) for item in started.config.update}
    assert config["algo"] == "mce" and config["config"]["max_iterations"] == 7
    history = [
        {"step": r.history.step.num}
        | {key(item): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    assert [h["step"] for h in history] == list(range(7))
    assert [h["occupancy_l1"] for h in history] == pytest.approx(progress(out, "occupancy_l1"))
    summary = {
        key(item): json.loads(item.value_json)
        for r in records
        if r.WhichOneof("record_type") == "summary"
        for item in r.summary.update
    }
    results = json.loads((out / "metrics.json").read_text())
    assert summary["final/return_mean"] == pytest.approx(results["return_mean"])
    saved = {f.path for r in records if r.WhichOneof("record_type") == "files"
             for f in r.files.files}  # fmt: skip
    assert {"config.json", "metrics.json", "policy.npy"} <= saved
    assert any(r.WhichOneof("record_type") == "exit" and r.exit.exit_code == 0 for r in records)


def test_wandb_is_offline_without_an_api_key(
    tmp_path: Path, wandb_offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from `wandb login`
    out = tmp_path / "run"
    out.mkdir()
    logger = WandbLogger(out, project="p")
    logger.on_iteration(0, {"loss": 1.0})
    line = logger.finish()
    assert line is not None and "offline" in line and "wandb sync" in line


# ------------------------------------------------------------------ missing packages


@pytest.mark.parametrize(
    "flag,module,extra", [("--mlflow", "mlflow", "mlflow"), ("--wandb", "wandb", "wandb")]
)
def test_a_missing_tracker_package_is_one_line_naming_the_extra(
    grid_demos: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    module: str,
    extra: str,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError
    assert train_mce(grid_demos, tmp_path / "run", flag) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"pip install 'protege[{extra}]'" in err
    assert not (tmp_path / "run").exists()  # it stopped before anything was written

"""The architecture as a contract: layers, one catalog, help generated from the code.

docs/architecture.md says which layer may import which; `[tool.importlinter]` in
pyproject.toml states it for import-linter, and this test fails when an import breaks it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

from protege.config import field_docs, settings_help
from protege.jobs import catalog

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_a_broken_layer_is_caught(tmp_path: Path) -> None:
    """The contract can fail: the real layers, upside down, are broken."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "protege"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "upside down"\ntype = "layers"\n'
        'layers = ["protege.errors", "protege.jobs", "protege.cli"]\n'
    )
    assert lint_imports(config_filename=str(config), no_cache=True) == 1


def test_every_catalog_entry_resolves_and_is_a_train_command() -> None:
    from protege.cli.main import train_app  # type: ignore[attr-defined]

    commands = {c.name for c in train_app.registered_commands}
    for entry in catalog.ALGORITHMS.values():
        assert entry.family in catalog.FAMILIES, entry.name
        assert entry.name in commands, f"no `protege train {entry.name}`"
        cfg = entry.default_config()
        assert dataclasses.is_dataclass(cfg)
        assert callable(entry.train_fn())
        for flag, field in entry.flags.items():
            target = cfg
            for part in field.split("."):  # a nested field: bc.seed
                assert hasattr(target, part), f"{entry.name}: --{flag} maps to unknown {field}"
                target = getattr(target, part)


@pytest.mark.parametrize("name", list(catalog.ALGORITHMS))
def test_every_setting_is_documented_in_its_help(name: str) -> None:
    cfg = catalog.get(name).default_config()
    docs = field_docs(type(cfg))
    undocumented = [k for k, v in docs.items() if not v]
    assert not undocumented, f"{type(cfg).__name__}: document {undocumented} in its docstring"
    text = settings_help(cfg)
    for f in dataclasses.fields(cfg):
        assert f"\n{f.name} (" in text


def test_train_help_lists_each_setting_with_type_default_and_meaning() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "protege.cli.main", "train", "bc", "--help"],
        capture_output=True, text=True, check=True, env={"COLUMNS": "200", "PATH": ""},
    ).stdout  # fmt: skip
    assert "Settings (--set key=value) of BCConfig" in out
    assert "epochs (int, default 300): passes over the training split" in out
    assert "val_fraction (float, default 0.1): share of samples held out" in out


def test_the_catalog_and_the_command_list_load_no_torch() -> None:
    code = (
        "import sys, protege.jobs.catalog, protege.cli.app; "
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""The docs run: every `protege` command line in the README's and docs/' shell blocks
parses (command and options exist), and every sweep YAML block builds its trials."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from protege.cli.main import app
from protege.errors import ConfigError
from protege.experiments.sweep import expand, load_sweep

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"\||\.\.\.|^\[|^[A-Z_]+$")  # ALGO, RUN..., a|b, [--ray]


def blocks(kind: str) -> list[tuple[str, str]]:
    return [(doc.name, block) for doc in DOCS
            for block in re.findall(rf"```{kind}\n(.*?)```", doc.read_text(), re.S)]  # fmt: skip


def command_lines() -> list[str]:
    lines = []
    for _, block in blocks("bash"):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("protege "):
                lines.append(line)
    return lines


LINES = command_lines()


def test_the_docs_have_command_lines_and_sweeps() -> None:
    assert len(LINES) >= 30 and any("algos:" in b for _, b in blocks("yaml"))


@pytest.mark.parametrize("line", LINES)
def test_every_documented_command_line_parses(line: str) -> None:
    args = shlex.split(line)[1:]
    if any(PLACEHOLDER.search(a) for a in args):
        pytest.skip("a synopsis with placeholders")
    command = typer.main.get_command(app)
    rest = list(args)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    try:
        command.make_context(command.name, rest)  # a click UsageError if an option is wrong
    except typer.Exit as done:  # `--help` prints the help and exits 0
        assert done.exit_code == 0


@pytest.mark.parametrize("doc, block", [b for b in blocks("yaml") if "algos:" in b[1]])
def test_every_documented_sweep_builds_its_trials(doc: str, block: str, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(block)
    sweep = load_sweep(path)
    assert expand(sweep, tmp_path, {}), doc


def test_a_setting_applies_to_the_algorithms_that_have_it(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "algos: [bc, dagger]\nenvs: [CartPole-v1]\nseeds: [0, 1]\n"
        "grid: {epochs: [20, 50], dagger: {rounds: [2, 3, 4]}}\n"
        "set: {dagger: {bc.epochs: 7}}\nexpert: scripted\n"
    )
    trials = expand(load_sweep(path), tmp_path, {})
    bc = [t for t in trials if t.algo == "bc"]
    dagger = [t for t in trials if t.algo == "dagger"]
    assert len(bc) == 2 * 2 and len(dagger) == 3 * 2
    assert all("bc.epochs=7" in t.overrides and not any(o.startswith("epochs") for o in
                                                         t.overrides) for t in dagger)  # fmt: skip
    assert {t.expert for t in trials} == {"scripted"}
    path.write_text("algos: [bc, dagger]\nenvs: [CartPole-v1]\ngrid: {nope: [1, 2]}\n")
    with pytest.raises(ConfigError, match="grid.nope: no algorithm of this sweep"):
        expand(load_sweep(path), tmp_path, {})

"""`protege export RUN [--onnx]`: a run's policy as files that load without protege.

RUN/policy.pt2 (a `torch.export` program, loaded by torch alone) always, and with --onnx
RUN/policy.onnx (run by onnxruntime alone); both map a batch of observations to the
policy's deterministic actions (`protege.export`). Only runs whose
policy is protege's own network (policy.pt: BC, DAgger, IQ-Learn, SQIL) have one to export:
an SB3 model or a tabular table is refused in one line that says what to do instead.
"""

from __future__ import annotations

from pathlib import Path

import typer

from protege.cli.app import app, console
from protege.errors import RunDirError
from protege.rundir import POLICY, SB3_POLICY

TABULAR_POLICY = "policy.npy"  # a tabular run's policy (see protege.jobs.tabular)


def policy_file(run_dir: Path) -> Path:
    """RUN/policy.pt, or a `RunDirError` saying why the run has none to export and what to
    use instead (an SB3 model, a tabular table, an unfinished or missing run)."""
    if not run_dir.is_dir():
        raise RunDirError(
            f"{run_dir}: not a directory; pass the run directory `protege train --out` wrote"
        )
    if (run_dir / POLICY).is_file():
        return run_dir / POLICY
    if (run_dir / SB3_POLICY).is_file():
        raise RunDirError(
            f"{run_dir}: its policy is a Stable-Baselines3 model ({SB3_POLICY}), which protege "
            "export does not convert; load it with the SB3 algorithm's `.load` and export "
            "`model.policy` as SB3's 'Exporting models' guide shows (ONNX, TorchScript)"
        )
    if (run_dir / TABULAR_POLICY).is_file():
        raise RunDirError(
            f"{run_dir}: a tabular run's policy is {TABULAR_POLICY}, action probabilities per "
            "state (states, actions) that numpy.load reads without protege; there is no "
            "network to export"
        )
    raise RunDirError(
        f"{run_dir}: no {POLICY}; export needs a finished bc, dagger, iq-learn or sqil run"
    )


@app.command("export")
def export_cmd(
    run_dir: Path = typer.Argument(
        ..., help="A run directory with a policy.pt (bc, dagger, iq-learn, sqil)."
    ),
    onnx: bool = typer.Option(
        False,
        "--onnx",
        help="Also write RUN_DIR/policy.onnx, run by onnxruntime without torch "
        "(needs pip install 'protege\\[onnx]').",  # the backslash: [onnx] is not Rich markup
    ),
) -> None:
    """Write the policy as files that load without protege: policy.pt2 and policy.onnx.

    RUN_DIR/policy.pt2 is a torch.export program that torch alone loads; with --onnx,
    RUN_DIR/policy.onnx runs on onnxruntime alone. Each maps a batch of observations, in
    the env's dtype, to the policy's deterministic actions, and is checked against the
    policy before it is written."""
    source = policy_file(run_dir)
    # torch is imported here, not at the top: `protege --help` stays fast
    from protege.export import (
        ONNX_FILE,
        PROGRAM_FILE,
        export_program,
        require_onnx,
        save_onnx,
        save_program,
    )
    from protege.jobs.common import load_run_policy
    from protege.policies import ActorPolicy

    if onnx:
        require_onnx()  # before anything is written
    if (run_dir / "config.json").is_file():  # a run: its policy must be for the run's env
        policy = load_run_policy(run_dir)
        assert isinstance(policy, ActorPolicy)
    else:  # a bare policy.pt
        policy = ActorPolicy.load(source)
    program = export_program(policy)
    pt2 = save_program(policy, run_dir / PROGRAM_FILE, program)
    console.print(f"wrote {pt2}: torch.export.load(path).module()(obs) -> actions", soft_wrap=True)
    if onnx:
        path = save_onnx(policy, run_dir / ONNX_FILE, program)
        console.print(
            f"wrote {path}: onnxruntime.InferenceSession(path).run(None, {{'obs': obs}})[0]"
            " -> actions",
            soft_wrap=True,
        )

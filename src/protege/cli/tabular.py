"""`protege train lp-irl|apprenticeship|maxent|mce|bayesian-irl|deep-maxent`: tabular IRL.

protege collect gridworld:8 --expert optimal --episodes 50 --out demos.npz
protege train mce --env gridworld:8 --demos demos.npz --out runs/mce --iterations 300
protege eval runs/mce
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from protege.cli import TENSORBOARD_HELP

ENV_HELP = (
    "A toy-text id (FrozenLake-v1, CliffWalking-v1, Taxi-v4) or a tabular spec: gridworld:N, "
    "gridworld:RxC, objectworld:N, garnet:S[:A:B]."
)

# name: (paper, config class, what it learns). Kept here, not imported from
# protege.tabular_jobs, so that `protege --help` does not load scipy and torch.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "lp-irl": (
        "LP IRL (Ng & Russell 2000)",
        "LPIRLConfig",
        "the reward for which the expert's policy is optimal by the widest margin, by one "
        "linear program (small MDPs; --iterations and --tol do not apply).",
    ),
    "apprenticeship": (
        "Apprenticeship learning (Abbeel & Ng 2004)",
        "ApprenticeshipConfig",
        "a mixture of optimal policies whose feature expectations match the expert's "
        "(projection method; --set method=max_margin). --tol is ε.",
    ),
    "maxent": (
        "MaxEnt IRL (Ziebart et al. 2008)",
        "MaxEntConfig",
        "a linear reward whose maximum entropy path distribution matches the expert's "
        "feature expectations.",
    ),
    "mce": (
        "Maximum causal entropy IRL (Ziebart et al. 2010)",
        "MaxEntConfig",
        "a linear reward whose soft-optimal policy matches the expert's feature expectations.",
    ),
    "bayesian-irl": (
        "Bayesian IRL, PolicyWalk (Ramachandran & Amir 2007)",
        "BayesianIRLConfig",
        "the posterior mean reward, sampled by MCMC. --iterations is the number of "
        "posterior samples kept; --tol does not apply.",
    ),
    "deep-maxent": (
        "Deep MaxEnt IRL (Wulfmeier et al. 2015)",
        "DeepMaxEntConfig",
        "a neural (MLP) reward of the state features, trained with the MaxEnt "
        "visitation-frequency gradient.",
    ),
}


def _command(name: str) -> Callable[..., None]:
    title, config_name, summary = COMMANDS[name]

    def train_cmd(
        env: str = typer.Option(..., help=ENV_HELP),
        demos: str = typer.Option(..., help="*.npz or Minari dataset dir recorded on ENV."),
        out: Path = typer.Option(..., help="Run directory to create."),
        iterations: int | None = typer.Option(None, min=1, help="Iterations at most."),
        tol: float | None = typer.Option(None, min=0.0, help="Stop once the gap is this small."),
        seed: int = typer.Option(0, help="Seeds the algorithm (where random) and evaluation."),
        set_: list[str] = typer.Option(
            [], "--set", help=f"Override a {config_name} field: key=value."
        ),
        eval_episodes: int = typer.Option(20, min=1, help="Evaluation episodes."),
        overwrite: bool = typer.Option(False, help="Reuse an existing run directory."),
        resume: bool = typer.Option(
            False,
            help="Continue an interrupted run from its checkpoint (all but lp-irl, which is "
            "one solve and has none).",
        ),
        tensorboard: bool = typer.Option(False, help=TENSORBOARD_HELP),
    ) -> None:
        from protege.cli.main import console, metrics_table, trainer_callbacks
        from protege.tabular_jobs import build_config, train_tabular_run

        cfg = build_config(name, iterations, tol, seed, set_)
        metrics = train_tabular_run(
            name, env, demos, out, cfg, seed, eval_episodes, overwrite,
            trainer_callbacks(name, "occupancy_l1", out, tensorboard), resume,
        )  # fmt: skip
        console.print(metrics_table(metrics, f"{name} on {env} vs the optimal expert"))
        corr = metrics["reward_correlation"]
        console.print(
            f"reward correlation with the true reward {'n/a' if corr is None else f'{corr:.3f}'}"
            f" · occupancy L1 to the demos {metrics['occupancy_l1']:.3f}"
            f" · {metrics['iterations']} iterations in {metrics['train_seconds']:.1f} s"
        )
        extra = ", heatmaps.png" if (out / "heatmaps.png").is_file() else ""
        console.print(f"run written to {out} (reward.npy, policy.npy, progress.csv{extra})")

    train_cmd.__doc__ = f"{title}: {summary}"
    return train_cmd


def register(train_app: typer.Typer) -> None:
    """Add the six tabular IRL commands to `protege train`."""
    for name in COMMANDS:
        train_app.command(name)(_command(name))

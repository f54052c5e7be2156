"""`protege`: the command line over demonstrations, training and comparison with the expert.

Only this package reads flags. A user error (`ProtegeError`) prints one line and exits 2.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from protege.callbacks import Callback
from protege.cli import TENSORBOARD_HELP
from protege.cli.adversarial import register as register_adversarial
from protege.cli.qlearning import register as register_qlearning
from protege.cli.record import register as register_record
from protege.cli.rl import register as register_rl
from protege.cli.tabular import register as register_tabular
from protege.errors import ExpertError, ProtegeError

app = typer.Typer(
    name="protege",
    help="Imitation learning: record an expert, learn from it, and measure the learner against it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
train_app = typer.Typer(
    help="Train a policy from demonstrations into a run directory.", no_args_is_help=True
)
expert_app = typer.Typer(help="Make experts where no built-in one exists.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(expert_app, name="expert")
register_tabular(train_app)
register_qlearning(train_app)
register_rl(train_app)
register_adversarial(train_app)


@train_app.callback(invoke_without_command=True)
def train_from_config(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="Re-run an earlier run exactly: RUN_DIR/config.json (or RUN_DIR)."
    ),
    out: Path | None = typer.Option(None, "--out", help="With --config: the new run directory."),
    overwrite: bool = typer.Option(False, help="With --config: reuse an existing run directory."),
) -> None:
    """Train a policy from demonstrations into a run directory (or re-run one: --config)."""
    from protege.errors import ConfigError

    if ctx.invoked_subcommand is not None:
        if config is not None or out is not None:
            raise ConfigError(
                "--config and --out before the algorithm belong to a re-run; use "
                "`protege train --config RUN/config.json --out NEW_RUN` on its own"
            )
        return
    if config is None or out is None:
        raise ConfigError(
            "give an algorithm (`protege train bc ...`, see --help) or re-run one: "
            "`protege train --config RUN/config.json --out NEW_RUN`"
        )
    from protege.callbacks import RichProgress
    from protege.jobs import rerun_from_config

    metrics = rerun_from_config(config, out, overwrite, [RichProgress("train")])
    console.print(metrics_table(metrics, f"{out}: re-run of {config}"))
    console.print(f"run written to {out}")


register_record(app)

console = Console()
err_console = Console(stderr=True)


def trainer_callbacks(name: str, show: str, out: Path, tensorboard: bool = False) -> list[Callback]:
    """A trainer's progress bar, plus a TensorBoard logger in the run dir when asked."""
    from protege.callbacks import RichProgress, TensorBoardLogger

    callbacks: list[Callback] = [RichProgress(name, show=show)]
    if tensorboard:
        callbacks.append(TensorBoardLogger(Path(out) / "tensorboard"))
    return callbacks


def episode_progress(description: str, total: int) -> Progress:
    """A Rich progress bar counting episodes."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("episodes"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """The learner-vs-expert comparison as a table a person reads at a glance."""
    table = Table(title=title, title_justify="left")
    table.add_column("policy")
    table.add_column("return (mean ± std)", justify="right")
    table.add_column("normalised score", justify="right")
    rows = [
        ("learner", metrics["return_mean"], metrics["return_std"], metrics["normalized_score"]),
        ("expert", metrics["expert_return_mean"], metrics["expert_return_std"], 1.0),
        ("random", metrics["random_return_mean"], metrics["random_return_std"], 0.0),
    ]
    for name, mean, std, score in rows:
        table.add_row(name, f"{mean:.1f} ± {std:.1f}", f"{score:.3f}")
    agreement = metrics.get("action_agreement")
    if agreement is not None:
        table.caption = (
            f"action agreement on expert states {agreement:.1%} · {metrics['episodes']} episodes"
            f" on the same seeds · expert: {metrics.get('expert_source')}"
        )
    return table


@app.command("experts")
def experts_cmd() -> None:
    """List the built-in scripted experts and their measured returns."""
    from protege.experts.scripted import SCRIPTED_EXPERTS

    table = Table(title="Built-in scripted experts (mean return over 100 seeded episodes)")
    table.add_column("env")
    table.add_column("return", justify="right")
    table.add_column("tested ≥", justify="right")
    table.add_column("controller")
    for env_id, e in SCRIPTED_EXPERTS.items():
        table.add_row(env_id, f"{e.reference_return:.1f}", f"{e.min_return:.0f}", e.description)
    console.print(table)


@app.command("collect")
def collect_cmd(
    env: str = typer.Argument(..., help="Gymnasium id, e.g. CartPole-v1, or gridworld:N etc."),
    out: Path = typer.Option(
        ..., "--out", help="Where to write: *.npz, else a Minari dataset dir."
    ),
    expert: str = typer.Option(
        "scripted",
        help="scripted | optimal (tabular envs: gridworld:N, FrozenLake-v1...) | PATH to an "
        "SB3 .zip | module:function.",
    ),
    episodes: int = typer.Option(10, min=1, help="Episodes to record."),
    seed: int = typer.Option(0, help="Episode i starts from reset(seed=seed+i)."),
    overwrite: bool = typer.Option(False, help="Replace an existing dataset at --out."),
) -> None:
    """Record an expert's demonstrations."""
    from protege.jobs import collect

    with episode_progress("collect", episodes) as progress:
        task = progress.add_task(f"collect {env}", total=episodes)
        trajs = collect(env, expert, episodes, out, seed, overwrite,
                        on_episode=lambda i, t: progress.advance(task))  # fmt: skip
    returns = [t.episode_return for t in trajs]
    steps = sum(len(t) for t in trajs)
    console.print(
        f"wrote {len(trajs)} episodes ({steps} steps) to {out}; "
        f"return {sum(returns) / len(returns):.1f} (min {min(returns):.1f}, max {max(returns):.1f})"
    )


@train_app.command("bc")
def train_bc_cmd(
    env: str = typer.Option(..., help="Gymnasium id the demonstrations were recorded on."),
    demos: str = typer.Option(..., help="*.npz, a Minari dataset dir, or a local Minari id."),
    out: Path = typer.Option(..., help="Run directory to create."),
    seed: int = typer.Option(0, help="Seeds initialisation, data split and minibatches."),
    expert: str | None = typer.Option(
        None, help="Expert to compare with (default: built-in, else the demos' returns)."
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a BCConfig field: key=value."),
    eval_episodes: int = typer.Option(20, min=1, help="Evaluation episodes."),
    overwrite: bool = typer.Option(False, help="Reuse an existing run directory."),
    resume: bool = typer.Option(False, help="Continue an interrupted run from its checkpoint."),
    tensorboard: bool = typer.Option(False, help=TENSORBOARD_HELP),
) -> None:
    """Behavioral cloning: fit the expert's state-to-action map."""
    from protege.algorithms.bc import BCConfig
    from protege.config import apply_overrides
    from protege.jobs import train_bc_run

    cfg = apply_overrides(BCConfig(seed=seed), set_)
    callbacks = trainer_callbacks("bc", "loss", out, tensorboard)
    metrics = train_bc_run(
        env, demos, out, cfg, expert, eval_episodes, overwrite, callbacks, resume
    )
    console.print(metrics_table(metrics, f"BC on {env} vs the expert"))
    console.print(f"run written to {out}")


@train_app.command("dagger")
def train_dagger_cmd(
    env: str = typer.Option(..., help="Gymnasium id."),
    out: Path = typer.Option(..., help="Run directory to create (or resume)."),
    expert: str = typer.Option(
        "scripted",
        help="scripted | PATH to an SB3 .zip | module:function | human (you take over the "
        "learner in a window by holding SPACE: HG-DAgger).",
    ),
    rounds: int = typer.Option(5, min=1, help="DAgger rounds (round 0 is pure expert)."),
    labels_per_round: int = typer.Option(2000, min=1, help="Expert labels gathered per round."),
    seed: int = typer.Option(0),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a DAggerConfig field: key=value, bc.key=value for the inner BC."
    ),  # fmt: skip
    eval_episodes: int = typer.Option(10, min=1, help="Evaluation episodes after each round."),
    overwrite: bool = typer.Option(False, help="Reuse an existing run directory."),
    resume: bool = typer.Option(False, help="Continue an interrupted run from its saved rounds."),
    fps: float | None = typer.Option(
        None, min=0, help="--expert human: frame-rate limit (default: the env's; 0 never waits)."
    ),
    keymap: Path | None = typer.Option(
        None, "--keymap", help="--expert human: a JSON key map (see `protege record --help`)."
    ),
    tensorboard: bool = typer.Option(False, help=TENSORBOARD_HELP),
) -> None:
    """DAgger: query the expert on the learner's own states, aggregate, re-fit by BC."""
    from protege.algorithms.dagger import DAggerConfig
    from protege.config import apply_overrides
    from protege.jobs import train_dagger_run

    base = DAggerConfig(rounds=rounds, labels_per_round=labels_per_round, seed=seed)
    cfg = apply_overrides(base, set_)
    callbacks = trainer_callbacks("dagger", "normalized_score", out, tensorboard)
    metrics = train_dagger_run(
        env, expert, out, cfg, eval_episodes, overwrite, resume, callbacks, fps=fps, keymap=keymap
    )
    console.print(rounds_table(metrics["rounds"], f"DAgger on {env}: score per round"))
    console.print(metrics_table(metrics, f"DAgger on {env} vs the expert"))
    console.print(f"run written to {out} (progress.png plots the rounds)")


def rounds_table(rounds: list[dict[str, float]], title: str) -> Table:
    """DAgger's rounds: β, expert labels so far, learner return and normalised score."""
    table = Table(title=title, title_justify="left")
    for name in ("round", "β", "expert labels", "return", "normalised score"):
        table.add_column(name, justify="right")
    for r in rounds:
        table.add_row(
            f"{int(r['round'])}", f"{r['beta']:.3f}", f"{int(r['labels'])}",
            f"{r.get('return_mean', float('nan')):.1f}",
            f"{r.get('normalized_score', float('nan')):.3f}",
        )  # fmt: skip
    return table


@app.command("eval")
def eval_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory written by `protege train`."),
    episodes: int | None = typer.Option(None, min=1, help="Evaluation episodes (default: run's)."),
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json instead of a table."),
) -> None:
    """Measure a trained policy against the expert and a random policy; writes metrics.json."""
    from protege.jobs import evaluate_run
    from protege.runs import read_config

    env = read_config(run_dir)["env"]
    metrics = evaluate_run(run_dir, episodes)
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        if metrics.get("rounds"):
            console.print(rounds_table(metrics["rounds"], f"{run_dir}: score per DAgger round"))
        console.print(metrics_table(metrics, f"{run_dir} on {env} vs the expert"))


@app.command("compare-rewards")
def compare_rewards_cmd(
    run_a: str = typer.Argument(..., help="A run directory with a learned reward."),
    run_b: str = typer.Argument(..., help="Another run directory, or `true`."),
    env: str | None = typer.Option(None, help="The env (default: RUN_A's)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """EPIC distance (0: same optimal policies; shaping-, shift- and scale-invariant) and
    Pearson distance between two learned rewards, or one and the true reward (tabular).

    Tabular rewards are compared exactly; continuous ones by sampled EPIC on both runs'
    demonstrations and held-out episodes of their policies."""
    from protege.compare import compare_rewards

    result = compare_rewards(run_a, run_b, env)
    env_id = result["env"]
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"reward distance on {env_id} (γ = {result['gamma']})")
    table.add_column("reward A")
    table.add_column("reward B")
    table.add_column("EPIC", justify="right")
    table.add_column("Pearson distance", justify="right")

    def fmt(x: float | None) -> str:
        return "undefined (constant reward)" if x is None else f"{x:.4f}"

    table.add_row(result["a"], result["b"], fmt(result["epic"]), fmt(result["pearson_distance"]))
    console.print(table)


@app.command("report")
def report_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (several seeds aggregate)."),
    out: Path = typer.Option(Path("report.html"), help="The HTML page to write."),
) -> None:
    """One self-contained HTML page (plots embedded) over run directories."""
    from protege.html_report import write_report

    path = write_report(run_dirs, out)
    console.print(f"wrote {path} and {path.stem}_files/ (open the page in a browser)")


@app.command("sweep")
def sweep_cmd(
    sweep_file: Path = typer.Argument(..., help="SWEEP.yaml: algos, envs, seeds, grid, set."),
    out: Path = typer.Option(Path("runs"), help="Runs go to OUT/<sweep name>/."),
    workers: int | None = typer.Option(None, min=1, help="Local processes (default: cores)."),
    ray: bool = typer.Option(False, "--ray", help="Run the grid on Ray Tune instead."),
    address: str | None = typer.Option(
        None, help="With --ray: an existing cluster's address (default: start a local Ray)."
    ),
) -> None:
    """Run a grid of runs (algorithms × envs × seeds × settings) and tabulate them.

    Finished trials (a run dir with metrics.json) are kept: run the same sweep again to
    finish an interrupted one.
    """
    from protege.sweep import aggregate, load_sweep, plan, write_results

    sweep = load_sweep(sweep_file)
    console.print(f"sweep {sweep.name}: checking settings, preparing demonstrations")
    trials = plan(sweep, out)
    results = _run_trials(trials, workers, ray, address, out / sweep.name)
    rows = aggregate(trials, results)
    md, table = write_results(rows, out / sweep.name)
    console.print(md.read_text(), soft_wrap=True)
    console.print(f"wrote {md} and {table}")


def _run_trials(
    trials: list[Any], workers: int | None, ray: bool, address: str | None, storage: Path
) -> list[dict[str, Any]]:
    """Run sweep trials locally (with a progress bar) or on Ray; report the failed ones."""
    from protege.sweep import run_local, run_ray

    finished = sum((Path(t.run_dir) / "metrics.json").is_file() for t in trials)
    console.print(f"{len(trials)} trials, {finished} already finished")
    if ray:
        results = run_ray(trials, address, storage)
    else:
        with episode_progress("runs", len(trials)) as progress:
            task = progress.add_task("trials", total=len(trials))
            results = run_local(trials, workers, on_done=lambda t, r: progress.advance(task))
    for t, r in zip(trials, results, strict=True):
        if "error" in r:
            err_console.print(f"[red]failed[/] {t.run_dir}: {escape(r['error'])}")
    return results


@app.command("bench")
def bench_cmd(
    suite: str = typer.Argument(..., help="classic | pendulum | tabular."),
    seeds: int = typer.Option(3, min=1, help="Seeds 0..N-1 per algorithm and setting."),
    out: Path = typer.Option(Path("bench"), help="Runs and tables go to OUT/SUITE/."),
    algos: str | None = typer.Option(None, help="Only these algorithms (comma-separated)."),
    envs: str | None = typer.Option(None, help="Only these envs (comma-separated)."),
    episodes: str | None = typer.Option(
        None, help="Only these numbers of expert episodes (comma-separated)."
    ),
    workers: int | None = typer.Option(None, min=1, help="Local processes (default: cores)."),
    ray: bool = typer.Option(False, "--ray", help="Run the trials on Ray Tune instead."),
    address: str | None = typer.Option(
        None, help="With --ray: an existing cluster's address (default: start a local Ray)."
    ),
) -> None:
    """Run a named benchmark suite and write a markdown table (mean ± 95% CI over seeds)
    beside the expert, a random policy and the published numbers.

    classic: Ho & Ermon (2016)'s CartPole/Acrobot/MountainCar, 200-step limits, 1/4/7/10
    trajectories. pendulum: Pendulum-v1, 20 episodes. tabular: gridworlds and toy-text.
    Finished runs are kept: the same command again only runs what is missing.
    """
    from protege.bench import get_suite, plan_bench, tabulate, write_bench

    def split(value: str | None) -> list[str] | None:
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    spec = get_suite(suite)
    console.print(f"bench {suite}: {spec.description}; collecting demonstrations")
    bench = plan_bench(spec, out, seeds, split(algos), split(envs), split(episodes))
    results = _run_trials(bench.trials, workers, ray, address, out / suite)
    md, table = write_bench(bench, tabulate(bench, results), out)
    console.print(md.read_text(), soft_wrap=True)
    console.print(f"wrote {md} and {table}")


@app.command("quickstart")
def quickstart_cmd(
    out: Path | None = typer.Option(None, help="Directory for the demos and run (default: temp)."),
    env: str = typer.Option("CartPole-v1", help="An env with a built-in scripted expert."),
    episodes: int = typer.Option(10, help="Expert episodes to learn from."),
) -> None:
    """The whole journey on a built-in default: expert → demonstrations → BC → comparison."""
    from protege.algorithms.bc import BCConfig
    from protege.callbacks import RichProgress
    from protege.jobs import collect, train_bc_run

    start = time.perf_counter()
    base = out if out is not None else Path(tempfile.mkdtemp(prefix="protege-quickstart-"))
    base.mkdir(parents=True, exist_ok=True)
    demos = base / "demos.npz"
    console.rule(f"[bold]protege quickstart · {env}")
    console.print(f"1. recording {episodes} episodes of the built-in scripted expert → {demos}")
    trajs = collect(env, "scripted", episodes, demos, seed=0, overwrite=True)
    console.print(f"   {sum(len(t) for t in trajs)} expert steps")
    console.print("2. behavioral cloning")
    metrics = train_bc_run(
        env, demos, base / "bc", BCConfig(), None, 20, True, [RichProgress("bc", "val_loss")]
    )
    console.print("3. comparison with the expert on 20 new seeded episodes")
    console.print(metrics_table(metrics, f"BC on {env} vs the expert"))
    console.print(
        f"done in {time.perf_counter() - start:.1f} s · run directory {base / 'bc'} "
        f"(config.json, policy.pt, progress.csv, metrics.json)"
    )


@expert_app.command("train")
def expert_train_cmd(
    env: str = typer.Argument(..., help="Gymnasium id."),
    out: Path = typer.Option(..., help="Model file to write (.zip)."),
    algo: str = typer.Option("ppo", help="ppo | sac | dqn"),
    steps: int = typer.Option(100_000, min=1, help="Environment steps."),
    seed: int = typer.Option(0),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    overwrite: bool = typer.Option(False, help="Replace an existing model file at --out."),
) -> None:
    """Train a Stable-Baselines3 expert on the env's reward, when no scripted one exists."""
    from protege.evaluation import evaluate_returns
    from protege.experts import SB3Expert
    from protege.rl import rich_progress_callback, save_sb3, train_sb3

    if out.exists() and not overwrite:
        raise ExpertError(f"{out}: already exists; choose another --out or pass --overwrite")
    callback = rich_progress_callback(steps, f"{algo} on {env}")
    model = train_sb3(env, algo, steps, seed, device=device, callback=callback)
    path = save_sb3(model, out)
    stats = evaluate_returns(env, SB3Expert(model), episodes=20)
    console.print(f"wrote {path}; return over 20 episodes {stats.mean:.1f} ± {stats.std:.1f}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="protege")
    except (ProtegeError, OSError) as exc:
        message = str(exc)
        if not isinstance(exc, ProtegeError):  # a path the filesystem refuses: not a dir...
            where = f"{exc.filename}: " if exc.filename else ""
            message = f"{where}{exc.strerror or exc}; check the paths given (--out, --demos, ...)"
        line = " ".join(message.split())  # one line, whatever the message holds
        err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

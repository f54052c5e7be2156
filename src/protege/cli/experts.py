"""`protege experts`, `protege expert train` and `protege collect`: the experts there are,
making one, and recording its demonstrations."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from protege.cli.app import (
    THREADS_OPTION,
    app,
    console,
    episode_progress,
    expert_app,
    use_threads,
)
from protege.errors import ConfigError, ExpertError


@app.command("experts")
def experts_cmd() -> None:
    """List the built-in experts (scripted controllers, and experts trained here and shipped)
    with their measured returns."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.envs import FIXED_HORIZON_ENVS
    from protege.experts.metaworld import EXPERT_RECORDS  # measured: imports no Meta-World
    from protege.experts.scripted import SCRIPTED_EXPERTS
    from protege.experts.shipped import SHIPPED_EXPERTS

    table = Table(title="Built-in scripted experts (mean return over 100 seeded episodes)")
    table.add_column("env")
    table.add_column("return", justify="right")
    table.add_column("tested ≥", justify="right")
    table.add_column("controller")
    for env_id, e in SCRIPTED_EXPERTS.items():
        table.add_row(env_id, f"{e.reference_return:.1f}", f"{e.min_return:.0f}", e.description)
    console.print(table)
    shipped = Table(title="Shipped trained experts (--expert shipped; mean return over 50 "
                    "seeded episodes)")  # fmt: skip
    shipped.add_column("env (and its fixed-horizon variant)")
    shipped.add_column("return", justify="right")
    shipped.add_column("tested ≥", justify="right")
    shipped.add_column("trained by")
    for env_id, trained in SHIPPED_EXPERTS.items():
        variants = [k for k, v in FIXED_HORIZON_ENVS.items() if v.base == env_id]
        shipped.add_row("\n".join([env_id, *variants]), f"{trained.reference_return:.1f}",
                        f"{trained.min_return:.0f}", f"{trained.command} ({trained.steps} "
                        f"steps, {trained.wall_s / 60:.0f} min)")  # fmt: skip
    if SHIPPED_EXPERTS:
        console.print(shipped)
    mw = Table(title="Meta-World's scripted experts (metaworld/<task>, pip install "
               "'protege[metaworld]'; success over 50 seeded episodes)")  # fmt: skip
    mw.add_column("env")
    mw.add_column("success", justify="right")
    mw.add_column("mean steps", justify="right")
    for env_id, record in EXPERT_RECORDS.items():
        mw.add_row(env_id, f"{record.success:.2f}", f"{record.steps:.0f}")
    console.print(mw)


@app.command("collect")
def collect_cmd(
    env: str = typer.Argument(..., help="Gymnasium id, e.g. CartPole-v1, or gridworld:N etc."),
    out: Path = typer.Option(
        ..., "--out", help="Where to write: *.npz, else a Minari dataset dir."
    ),
    expert: str | None = typer.Option(
        None,
        help="scripted | shipped (the MuJoCo envs' trained experts) | optimal (tabular envs: "
        "gridworld:N, FrozenLake-v1...) | PATH to an SB3 .zip | module:function. Default: "
        "the env's built-in expert (scripted, shipped or optimal).",
    ),
    episodes: int = typer.Option(10, min=1, help="Episodes to record."),
    seed: int = typer.Option(0, help="Episode i starts from reset(seed=seed+i)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing dataset at --out."
    ),
    noise: float | None = typer.Option(
        None,
        help="Perturb the expert's actions with noise of level ε in [0, 1]: discrete actions "
        "are random with probability ε; Box actions get Gaussian noise of ε × half their "
        "range. Each episode's metadata keeps its noise level and return.",
    ),
    noise_schedule: str | None = typer.Option(
        None,
        "--noise-schedule",
        help="Comma-separated noise levels, e.g. 0,0.25,0.5,0.75,1: --episodes episodes at "
        "each level, into one dataset of graded, mixed quality.",
    ),
    noise_kind: str | None = typer.Option(
        None,
        "--noise-kind",
        help="gaussian (Box actions; their default) | random (a uniform random action with "
        "probability ε; the only kind for discrete actions) | bias (Box: ε times the half "
        "range added to every action, a systematic mistake).",
    ),
) -> None:
    """Record an expert's demonstrations, optionally with noise injected into its actions."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.data.noise import parse_noise_schedule
    from protege.envs import resolve_env
    from protege.jobs.common import builtin_expert, collect

    if expert is None:
        resolve_env(env)  # an unknown env is the clearer error
    expert = expert or builtin_expert(env)
    if expert is None:
        raise ExpertError(
            f"protege has no built-in expert for {env}; pass --expert PATH.zip (e.g. from "
            f"protege expert train {env} --out expert.zip) or --expert module:function"
        )
    if noise is not None and noise_schedule is not None:
        raise ConfigError("pass --noise or --noise-schedule, not both")
    levels = parse_noise_schedule(noise_schedule) if noise_schedule is not None else noise
    total = episodes * (len(levels) if isinstance(levels, list) else 1)
    with episode_progress("collect", total) as progress:
        task = progress.add_task(f"collect {env}", total=total)
        trajs = collect(env, expert, episodes, out, seed, overwrite,
                        on_episode=lambda i, t: progress.advance(task), noise=levels,
                        noise_kind=noise_kind)  # fmt: skip
    returns = [t.episode_return for t in trajs]
    steps = sum(len(t) for t in trajs)
    line = (
        f"wrote {len(trajs)} episodes ({steps} steps) to {out}; "
        f"return {sum(returns) / len(returns):.1f} (min {min(returns):.1f}, max {max(returns):.1f})"
    )
    if levels is not None:
        by_level: dict[float, list[float]] = {}
        for t in trajs:
            by_level.setdefault(t.meta["noise"], []).append(t.episode_return)
        line += "; return by noise level: " + ", ".join(
            f"{level:g}: {sum(r) / len(r):.1f}" for level, r in by_level.items()
        )
    console.print(line)


@expert_app.command("train")
def expert_train_cmd(
    env: str = typer.Argument(..., help="Gymnasium id."),
    out: Path = typer.Option(..., help="Model file to write (.zip)."),
    algo: str = typer.Option("ppo", help="ppo | sac | dqn"),
    steps: int = typer.Option(
        None, min=1, help="Environment steps [default: the recipe's, else 100000]."
    ),
    recipe: str = typer.Option(
        "auto",
        help="Published settings: auto (the recipe for --algo on this env if there is one, "
        "e.g. ppo-hopper), none (protege's defaults), or a recipe name: "
        "ppo-hopper | ppo-halfcheetah | ppo-walker2d | ppo-swimmer | ppo-ant, and sac-* "
        "for the same envs (--algo sac).",
    ),
    seed: int = typer.Option(0),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing model file at --out."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Go on from the checkpoint an interrupted run left beside --out."
    ),
    threads: int = THREADS_OPTION,
) -> None:
    """Train a Stable-Baselines3 expert on the env's reward, when no scripted one exists.

    It checkpoints every 50k steps beside --out (.OUT.checkpoint/); --resume goes on from
    there. With a recipe that normalises observations (all MuJoCo ones), their statistics
    are saved inside the model file, so the file alone reproduces the expert's return."""
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    import shutil
    import time

    from protege.data.rollout import RandomPolicy
    from protege.evaluation import beats_random, evaluate_returns
    from protege.experts import load_expert
    from protege.rl import get_recipe, recipe_for, rich_progress_callback, save_sb3, train_sb3

    if out.exists() and not overwrite:
        raise ExpertError(f"{out}: already exists; choose another --out or pass --overwrite")
    chosen = None if recipe == "none" else recipe_for(env, algo) if recipe == "auto" else (
        get_recipe(recipe))  # fmt: skip
    budget = steps or (chosen.steps if chosen else 100_000)
    checkpoint = out.parent / f".{out.name}.checkpoint"
    if checkpoint.exists() and not resume:
        raise ExpertError(
            f"{checkpoint}: an interrupted run's checkpoint; pass --resume to go on from it, "
            "or remove it to start again"
        )
    use_threads(threads)
    name = chosen.name if chosen else algo
    console.print(f"training {name} on {env} for {budget} steps"
                  + (f" ({chosen.source})" if chosen else ""))  # fmt: skip
    callback = rich_progress_callback(budget, f"{name} on {env}")
    started = time.perf_counter()
    model = train_sb3(env, algo, budget, seed, device=device, callback=callback,
                      recipe=chosen, checkpoint_dir=checkpoint)  # fmt: skip
    path = save_sb3(model, out)
    shutil.rmtree(checkpoint, ignore_errors=True)
    wall = time.perf_counter() - started
    console.print(f"wrote {path} after {wall:.0f} s; measuring it against a random policy on "
                  "20 episodes each")  # fmt: skip
    with episode_progress("evaluate", 40) as progress:
        task = progress.add_task(f"evaluate {name} on {env}", total=40)
        advance = lambda i, t: progress.advance(task)  # noqa: E731
        stats = evaluate_returns(env, load_expert(str(path), env), episodes=20, on_episode=advance)
        random = evaluate_returns(env, RandomPolicy(model.action_space, 0), 20, on_episode=advance)
    console.print(
        f"return over 20 episodes {stats.mean:.1f} ± {stats.std:.1f} "
        f"(random policy {random.mean:.1f} ± {random.std:.1f})"
    )
    if not beats_random(stats, random):
        console.print(
            f"[yellow]warning:[/] this expert scores about what a random policy does; train "
            f"it longer (--steps, now {budget}) or with another --algo before recording it"
        )

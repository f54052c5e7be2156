"""`protege record`: a person plays an env in a window; the episodes they keep become demos,
rated (--rate) or ranked (--rank) as they say. `protege rank`: a person ranks the episodes
of a dataset, in a window or with --order."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from protege.cli.app import app, console

if TYPE_CHECKING:  # the type only: the data layer loads NumPy and Gymnasium
    from protege.data import Trajectory


@app.command("record")
def record_cmd(
    env: str = typer.Argument(..., help="Gymnasium id, e.g. CartPole-v1 or FrozenLake-v1."),
    out: Path = typer.Option(
        ..., "--out", help="Where to write: *.npz, else a Minari dataset dir."
    ),
    episodes: int = typer.Option(5, min=1, help="Episodes to keep (discarded ones are replayed)."),
    keymap: Path | None = typer.Option(
        None,
        "--keymap",
        help='JSON key map, e.g. {"keys": {"left": 0, "right": 1}, "noop": 0}; for Box '
        'actions {"axes": [{"dim": 0, "neg": "left", "pos": "right"}]}, or {"mouse": '
        '[{"dim": 0, "axis": "x"}]} to set a dimension from the cursor over the picture.',
    ),
    fps: float | None = typer.Option(
        None, min=0, help="Frame-rate limit (default: the env's render_fps, or 30)."
    ),
    seed: int = typer.Option(0, help="Attempt i starts from reset(seed=seed+i)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing dataset at --out."
    ),
    rate: bool = typer.Option(
        False,
        "--rate",
        help="After keeping an episode, rate it 1 (worst) to 5 (best) with the number keys; "
        "the rating is stored in the episode's metadata.",
    ),
    rank: bool = typer.Option(
        False,
        "--rank",
        help="Once all episodes are kept (at least 2), order them best-first in the window: "
        "UP/DOWN and Enter (or an episode's number key) pick the next best while the "
        "highlighted one replays, Backspace takes a pick back, Enter saves. The ranking is "
        "stored with the dataset; `protege train t-rex --demos OUT` ranks by it.",
    ),
) -> None:
    """Play an env yourself: after each episode press K (or Enter) to keep it, D to discard.

    Kept episodes are written at once, so closing the window (or Esc) never loses them.
    With --rate, each kept episode is then rated 1-5 (the number keys); with --rank, the
    kept episodes are then ranked best-first.
    """
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.experts.human import keymap_for, record, require_display

    require_display("protege record")  # before anything is read or written
    km = keymap_for(env, keymap)  # a missing or bad key map fails before the window opens
    pause = "" if km.step_on_press else " · SPACE pause"
    keep = "K keep, then 1-5 rate" if rate else "K keep"
    then = " · then rank them best-first" if rank else ""
    console.print(f"recording {env}: {km.describe()}{pause} · {keep} · D discard · ESC quit{then}")
    result = record(env, out, episodes, km, fps, seed, overwrite, rate=rate, rank=rank)
    console.print(result.summary())


@app.command("rank")
def rank_cmd(
    dataset: str = typer.Argument(..., help="The dataset to rank: *.npz or a Minari dataset dir."),
    order: str | None = typer.Option(
        None,
        "--order",
        help="The ranking, best first, as episode indices (from 0) separated by commas, "
        "e.g. 2,0,1; it may leave episodes out. Stored without opening a window.",
    ),
    fps: float | None = typer.Option(
        None, min=0, help="Frame-rate limit of the window (default: the env's render_fps, or 30)."
    ),
) -> None:
    """Rank a dataset's episodes best-first, in a window or with --order; the ranking is
    stored with the dataset (replacing any it had), and `protege train t-rex` ranks by it.

    The window lists each episode's return, length, rating and noise; one that records
    its reset seed (`meta["seed"]`) replays while highlighted.
    """
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.data import load_trajectories, save_preferences
    from protege.data.preferences import ranking_problem
    from protege.errors import ConfigError, DatasetError

    demos = load_trajectories(dataset)  # a missing or broken file fails first
    if order is not None:
        try:
            ranking = [int(v) for v in order.replace(" ", "").split(",") if v]
        except ValueError:
            raise ConfigError(
                f"--order {order!r}: expected episode indices separated by commas, e.g. 2,0,1"
            ) from None
        problem = ranking_problem(ranking, len(demos.trajectories))
        if problem is not None:
            raise DatasetError(f"--order {order}: the ranking {problem}; nothing was written")
    else:
        given = _rank_in_window(demos.trajectories, demos.env_id, fps)
        if given is None:
            console.print("not ranked: the window closed before the ranking was saved")
            return
        ranking = given
    save_preferences(dataset, demos.preferences, ranking)
    console.print(
        f"ranked best first: episodes {', '.join(map(str, ranking))}; stored with {dataset} "
        f"(protege train t-rex --demos {dataset} ranks by it)"
    )


def _rank_in_window(
    trajs: list[Trajectory], env_id: str | None, fps: float | None
) -> list[int] | None:
    """A person's ranking of `trajs` in a window (None when they leave without one)."""
    from protege.envs import make_env
    from protege.errors import ConfigError, EnvError
    from protege.experts.human import Window, entries_for, rank_episodes, require_display

    if len(trajs) < 2:
        raise ConfigError(f"ranking orders several episodes, and the dataset has {len(trajs)}")
    require_display("protege rank")
    env = None
    if env_id is not None and any("seed" in t.meta for t in trajs):
        try:
            env = make_env(env_id, render_mode="rgb_array")  # to replay the episodes
        except EnvError:
            env = None  # listed without replays
    rate = float(env.metadata.get("render_fps") or 30) if env is not None else 30.0
    window = Window(rate if fps is None else fps, title="protege rank")
    try:
        return rank_episodes(window, entries_for(trajs), env, info=f"{len(trajs)} episodes")
    finally:
        window.close()  # before the env: closing a classic-control env quits pygame
        if env is not None:
            env.close()

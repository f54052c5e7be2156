"""`protege record`: a person plays an env in a window; the episodes they keep become demos."""

from __future__ import annotations

from pathlib import Path

import typer

from protege.cli.app import app, console


@app.command("record")
def record_cmd(
    env: str = typer.Argument(..., help="Gymnasium id, e.g. CartPole-v1 or FrozenLake-v1."),
    out: Path = typer.Option(
        ..., "--out", help="Where to write: *.npz, else a Minari dataset dir."
    ),
    episodes: int = typer.Option(5, min=1, help="Episodes to keep (discarded ones are replayed)."),
    keymap: Path | None = typer.Option(
        None, "--keymap", help='JSON key map, e.g. {"keys": {"left": 0, "right": 1}, "noop": 0}.'
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
) -> None:
    """Play an env yourself: after each episode press K (or Enter) to keep it, D to discard.

    Kept episodes are written at once, so closing the window (or Esc) never loses them.
    With --rate, each kept episode is then rated 1-5 (the number keys).
    """
    # here, not at the top: keeps torch and SB3 out of `protege --help`
    from protege.experts.human import keymap_for, record

    km = keymap_for(env, keymap)  # a missing or bad key map fails before the window opens
    pause = "" if km.step_on_press else " · SPACE pause"
    keep = "K keep, then 1-5 rate" if rate else "K keep"
    console.print(f"recording {env}: {km.describe()}{pause} · {keep} · D discard · ESC quit")
    result = record(env, out, episodes, km, fps, seed, overwrite, rate=rate)
    console.print(result.summary())

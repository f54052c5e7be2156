"""`protege`: the command line over demonstrations, training and comparison with the expert.

Only this package reads flags. A user error (`ProtegeError`) prints one line and exits 2.
The commands live in one module per area, each adding itself to the apps in
`protege.cli.app`; importing them here assembles the CLI.
"""

from __future__ import annotations

import errno
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from rich.markup import escape
from typer._click.exceptions import NoArgsIsHelpError as NoArgsIsHelp  # Typer's own Click
from typer.exceptions import Abort, TyperException

# isort: off
# Each module adds its commands to the apps when imported; the order is the order of the
# commands in `protege --help` and `protege train --help`.
from protege.cli import record, experts, runs, export, experiments, quickstart  # noqa: F401
from protege.cli import tabular, qlearning, transfer, adversarial, ranking, train  # noqa: F401

# isort: on
from protege.cli.app import app, err_console, train_app  # noqa: F401  (tests list its commands)
from protege.errors import ProtegeError
from protege.rundir import human_bytes


def fail(message: str) -> NoReturn:
    """A user error: one line on stderr, exit code 2."""
    line = " ".join(message.split())  # one line, whatever the message holds
    err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    sys.exit(2)


def _no_space(filename: str | None) -> str:
    """The full-disk message: where, and how much is free there."""
    if not filename:
        return "no space left on the disk (nothing was half-written)"
    folder = Path(filename).parent
    while not folder.exists() and folder != folder.parent:  # a failed job removed its run
        folder = folder.parent
    try:
        free = f", {human_bytes(shutil.disk_usage(folder).free)} free there"
    except OSError:
        free = ""
    return f"{filename}: no space left on the disk{free} (nothing was half-written)"


def _interrupted() -> NoReturn:
    # the real stderr: a progress bar still live at the interrupt redirects sys.stderr
    print("interrupted: run the same command with --resume to continue", file=sys.__stderr__)
    sys.exit(130)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2, usage errors
    (a missing option, a value the parser refuses) included."""
    try:
        code = app(args=argv, prog_name="protege", standalone_mode=False)
    except NoArgsIsHelp as exc:  # `protege train` alone: the help, as before
        exc.show()
        sys.exit(2)
    except TyperException as exc:  # the argument parser's usage errors
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        fail(f"{exc.format_message()}{hint}")
    except (ProtegeError, OSError) as exc:
        message = str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            message = f"{_no_space(exc.filename)}; free some space and run the command again"
        elif not isinstance(exc, ProtegeError):  # a path the filesystem refuses: not a dir...
            where = f"{exc.filename}: " if exc.filename else ""
            message = f"{where}{exc.strerror or exc}; check the paths given (--out, --demos, ...)"
        fail(message)
    except (KeyboardInterrupt, Abort):
        _interrupted()
    if code == 130:  # Typer turns Ctrl-C (SIGINT) into exit code 130
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)  # as Click's standalone mode does


if __name__ == "__main__":
    main()

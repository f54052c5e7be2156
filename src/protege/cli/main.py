"""`protege`: the command line over demonstrations, training and comparison with the expert.

Only this package reads flags. A user error (`ProtegeError`) prints one line and exits 2.
The commands live in one module per area, each adding itself to the apps in
`protege.cli.app`; importing them here assembles the CLI.
"""

from __future__ import annotations

import sys

from rich.markup import escape

# isort: off
# Each module adds its commands to the apps when imported; the order is the order of the
# commands in `protege --help` and `protege train --help`.
from protege.cli import record, experts, runs, experiments, quickstart  # noqa: F401
from protege.cli import tabular, qlearning, transfer, adversarial, train  # noqa: F401

# isort: on
from protege.cli.app import app, err_console, train_app  # noqa: F401  (tests list its commands)
from protege.errors import ProtegeError


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

"""MkDocs hook: the CLI reference, generated from the Typer app at build time.

`docs/cli.md` holds the marker below; this hook replaces it with the markdown that Typer's
own generator (`typer.cli.get_docs_for_click`, what `typer MODULE utils docs` prints) makes
from `protege.cli.main.app`: every command and subcommand with its usage, arguments and
options. `protege train NAME` pages end with the algorithm's `--set` settings, from the same
`protege.config.settings_help` that `protege train NAME --help` prints, so the reference
cannot drift from the code. Runs in the build's own interpreter: no `typer` executable on
PATH, no network.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<!-- protege-cli -->"
# "name (type, default value): meaning", one per paragraph of settings_help
SETTING = re.compile(r"^(\S+) \((.+?)\): (.*)$", re.S)


def _settings_markdown(text: str) -> str:
    """`settings_help`'s plain text as a markdown list."""
    head, *fields = text.split("\n\n")
    lines = [f"**{head.rstrip(':')}**:", ""]
    for field in fields:
        match = SETTING.match(field.strip())
        if match:
            name, kind, meaning = match.groups()
            lines.append(f"* `{name}` ({kind}): {' '.join(meaning.split())}")
        else:
            lines.append(f"* {' '.join(field.split())}")
    return "\n".join(lines)


def cli_markdown() -> str:
    """The whole CLI reference, headings from level 2 (the page's title is level 1)."""
    import typer
    import typer.main
    from typer.cli import get_docs_for_click

    from protege.cli.app import AlgorithmCommand
    from protege.cli.main import app
    from protege.config import settings_help
    from protege.jobs import catalog

    root = typer.main.get_command(app)

    def fill_epilogs(command: Any) -> None:
        # AlgorithmCommand adds the settings only when its help is shown; do it here
        if isinstance(command, AlgorithmCommand) and command.name in catalog.ALGORITHMS:
            cfg = catalog.get(command.name).default_config()
            command.epilog = _settings_markdown(settings_help(cfg))
        for sub in getattr(command, "commands", {}).values():
            fill_epilogs(sub)

    fill_epilogs(root)
    ctx = typer.Context(root, info_name="protege", obj={})  # no rich markup: plain text
    return get_docs_for_click(obj=root, ctx=ctx, name="protege", indent=1).strip() + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_markdown())

"""The `irbench` command: a thin typer layer over the Python API."""

from __future__ import annotations

from typing import Annotated

import typer

from irbench import __version__
from irbench.cli import (
    check_cmd,
    compare_cmd,
    datasets_cmd,
    demo_cmd,
    eval_cmd,
    leaderboard_cmd,
    measures_cmd,
    run_cmd,
)

app = typer.Typer(
    name="irbench",
    help="Retrieval evaluation with trec_eval's numbers, fast: eval, compare, run, leaderboard, check, datasets, measures, demo.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"irbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """irbench: trec_eval-exact evaluation, significance tests, leaderboards."""


eval_cmd.register(app)
compare_cmd.register(app)
measures_cmd.register(app)
demo_cmd.register(app)
leaderboard_cmd.register(app)
check_cmd.register(app)
datasets_cmd.register(app)
run_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    app()

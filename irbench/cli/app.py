"""The `irbench` command: a thin typer layer over the Python API.

Commands are loaded lazily: a run of `irbench eval` imports `eval_cmd` alone and builds only
its click command. Importing all the command modules and letting typer build every command
took ~40 ms of each invocation, as much as scoring a DL-sized run. `irbench --help`, shell
completion and "did you mean" suggestions see every command (help loads them all).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from irbench._version import __version__

# command name -> module of irbench.cli whose `register(app)` adds it, in the order of --help
COMMANDS = {
    "eval": "eval_cmd",
    "compare": "compare_cmd",
    "measures": "measures_cmd",
    "demo": "demo_cmd",
    "leaderboard": "leaderboard_cmd",
    "table": "table_cmd",
    "check": "check_cmd",
    "run": "run_cmd",
    "datasets": "datasets_cmd",
    "repro": "repro_cmd",
    "plot": "plot_cmd",
}


def load_command(name: str) -> Any:
    """The click command that `irbench.cli.<module>.register` adds under ``name``."""
    module = import_module(f"irbench.cli.{COMMANDS[name]}")
    holder = typer.Typer(rich_markup_mode="rich", add_completion=False)
    module.register(holder)
    return typer.main.get_group(holder).commands[name]


class _LazyCommands(MutableMapping[str, Any]):
    """The group's name -> command mapping: every name of COMMANDS, each command built on
    first access."""

    def __init__(self, commands: MutableMapping[str, Any]) -> None:
        self._built: dict[str, Any] = dict(commands)
        self._names = list(dict.fromkeys([*COMMANDS, *commands]))

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


class LazyGroup(typer.core.TyperGroup):
    """typer's group with the commands of COMMANDS imported and built on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands)


app = typer.Typer(
    name="irbench",
    help="Retrieval evaluation with trec_eval's numbers, fast: eval, compare, run, leaderboard, table, check, datasets, measures, demo, repro, plot.",
    cls=LazyGroup,
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


def main() -> None:
    """Console-script entry point.

    The process ends with :func:`os._exit` once the command has returned and its output is
    flushed: every thread pool irbench starts is shut down and joined before then, but
    pyarrow's own C++ thread pools are torn down by C++ static destructors during a normal
    interpreter exit, and when one of their threads is still alive that aborts a finished
    command with ``terminate called without an active exception`` (exit 134; apache/arrow
    #34314). Skipping that teardown makes the exit code the command's, every time.
    """
    one_blas_thread(sys.argv[1:], os.environ)
    try:
        app()
        code = 0
    except SystemExit as exc:  # click's standalone mode always ends here
        code = _exit_code(exc.code)
    _flushed_exit(code)


#: Commands that do linear algebra (dense encoding, faiss): they keep BLAS's default threads.
BLAS_COMMANDS = frozenset({"run", "demo"})


def one_blas_thread(argv: list[str], environ: MutableMapping[str, str]) -> None:
    """Ask OpenBLAS for one thread unless the command does linear algebra or the user chose.

    numpy's OpenBLAS starts a thread per core when numpy is imported (measured on 2 cores:
    about 0.15 s of CPU and 0.04 s of the 0.5 s cold start of ``irbench eval``); scoring,
    tests and reports do no BLAS work. Only effective before numpy is imported, which
    :func:`main` guarantees (the command modules import it lazily).
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in BLAS_COMMANDS:
        environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _exit_code(code: object) -> int:
    """The status ``sys.exit(code)`` would give: None 0, an int itself, else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _flushed_exit(code: int) -> None:
    """Flush stdout and stderr, then end the process at once with ``code``."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`irbench ... | head`)
            stream.flush()
    os._exit(code)

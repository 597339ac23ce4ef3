"""Shared pieces of the command line: error reporting, warnings, output formats, and the
options several commands take (trec_eval's, the significance tests', the engine's)."""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import typer

from irbench.errors import IrbenchError, IrbenchWarning
from irbench.stats.methods import CI_METHODS, CORRECTIONS, SIGNIFICANCE_TESTS, TESTS

if TYPE_CHECKING:
    from irbench.engine.placement import Engine


class EvalFormat(str, Enum):
    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    trec = "trec"


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    """``text`` with rich markup escaped. rich is imported here, on the first message, not
    when the command line starts (~15 ms that a successful `irbench eval` does not need)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise. ``message`` is plain
    text: brackets in it (``irbench-eval[dask]``, paths) are printed, not read as markup."""
    err_console().print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn irbench errors into a one-line message and exit code 2; show warnings on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IrbenchWarning)
        try:
            yield
        except IrbenchError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except OSError as exc:  # unreadable file, full disk, ...
            raise fail(str(exc)) from None
        finally:
            console = None
            for w in caught:
                if issubclass(w.category, IrbenchWarning):
                    console = console or err_console()
                    console.print(f"[yellow]warning:[/] {escape(str(w.message))}", soft_wrap=True)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def fmt_value(value: float, digits: int = 4) -> str:
    if math.isnan(value):
        return "nan"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}f}"


def write_lines(lines: Iterator[str], out: Any = None) -> None:
    stream = out or sys.stdout
    for line in lines:
        stream.write(line)
        stream.write("\n")


def dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=True, ensure_ascii=False)


class Compat(str, Enum):
    """The trec_eval version whose semantics the numbers follow."""

    v9 = "9"
    v10 = "10"


CompatOption = Annotated[
    Compat,
    typer.Option(
        "--compat",
        help="trec_eval version to match: [bold]9[/] (9.0.x, default: scores compared as C "
        "floats (float32), so scores equal in float32 tie and fall to the doc-id tie-break; "
        "what pytrec_eval and published numbers use) or [bold]10[/] (10.0: scores compared as "
        "doubles, iprec_at_recall / 11pt_avg recall cuts rounded with lround).",
    ),
]


def semantics_note(compat: str) -> str:
    """How an output names the semantics behind its numbers."""
    return (
        "trec_eval 10.0 semantics (--compat 10)" if compat == "10" else "trec_eval 9.0.x semantics"
    )


class EngineName(str, Enum):
    local = "local"
    dask = "dask"


ENGINE_PANEL = "Engine (parallel and distributed scoring)"

EngineOption = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="Where runs are scored: [bold]local[/] (this process) or [bold]dask[/] (in "
        "parallel on a Dask cluster, huge runs split by query; needs "
        "pip install 'irbench-eval\\[dask]'). The numbers are identical.",
        rich_help_panel=ENGINE_PANEL,
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask: a running scheduler, e.g. tcp://10.0.0.5:8786 (printed by "
        "`dask scheduler`) or its --scheduler-file (.json). Workers read the run files "
        "themselves, so on several machines the runs must be on a shared filesystem under the "
        "same path. Default: a local cluster started for this command.",
        rich_help_panel=ENGINE_PANEL,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="With --engine dask and no --scheduler: worker processes of the local cluster "
        "(default: one per core).",
        rich_help_panel=ENGINE_PANEL,
    ),
]
ShardSizeOption = Annotated[
    str | None,
    typer.Option(
        "--shard-size",
        metavar="SIZE",
        help="With --engine dask: a run bigger than this (64MB, 1GiB, bytes; default 256MB) is "
        "split by query into shards scored on different workers.",
        rich_help_panel=ENGINE_PANEL,
    ),
]

IgnoreIdenticalIdsOption = Annotated[
    bool,
    typer.Option(
        "--ignore-identical-ids",
        help="Drop a retrieved document whose id equals the query id before scoring (BEIR's "
        "and MTEB's protocol for ArguAna and Quora). Recorded in the output's conditions.",
    ),
]


def open_engine(
    engine: EngineName, scheduler: str | None, workers: int | None, shard_size: str | None
) -> Engine:
    """The engine the options ask for, to be used as a context manager (it owns the cluster)."""
    from irbench.engine.api import make_engine

    return make_engine(engine.value, scheduler=scheduler, workers=workers, shard_size=shard_size)


# ------------------------------------------------------------------- trec_eval's conditions

CompleteOption = Annotated[
    bool,
    typer.Option(
        "--complete", "-c", help="Use all qrels queries, missing ones score 0 (trec_eval -c)."
    ),
]
RelLevelOption = Annotated[int, typer.Option("--rel-level", "-l", help="trec_eval -l.")]
JudgedOnlyOption = Annotated[bool, typer.Option("--judged-only", "-J", help="trec_eval -J.")]
MaxResultsOption = Annotated[int | None, typer.Option("--max-results", "-M", help="trec_eval -M.")]


# ------------------------------------------------------------------ significance tests
# The choices come from irbench.stats.methods, the tables compare_aligned runs them from;
# typer offers a Literal's values as choices (mypy sees plain strings).

if TYPE_CHECKING:
    TestName: TypeAlias = str
    CorrectionName: TypeAlias = str
    CiName: TypeAlias = str
    FamilyName: TypeAlias = str
else:
    TestName = Literal[TESTS]
    CorrectionName = Literal[CORRECTIONS]
    CiName = Literal[CI_METHODS]
    FamilyName = Literal["all", "measure"]

TestOption = Annotated[
    TestName,
    typer.Option(
        "--test",
        "-t",
        help="Significance test: "
        + "; ".join(f"{t.name}: {t.summary}" for t in SIGNIFICANCE_TESTS.values())
        + ".",
    ),
]
CorrectionOption = Annotated[
    CorrectionName,
    typer.Option(
        "--correction",
        help="Multiple-testing correction (bh: Benjamini-Hochberg).",
    ),
]
CiOption = Annotated[
    CiName,
    typer.Option("--ci", help="Interval for the difference."),
]
FamilyOption = Annotated[
    FamilyName,
    typer.Option(
        "--family",
        help="Correction family: all rows (default) or each measure's.",
    ),
]
AlphaOption = Annotated[float, typer.Option("--alpha", help="Level of tests and intervals.")]
PermutationsOption = Annotated[
    int, typer.Option("--permutations", "-B", help="Permutations / bootstrap replicates.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the resampling tests.")]

"""Typed exceptions. Every error irbench raises on bad input derives from :class:`IrbenchError`.

Each class also subclasses the builtin that fits (``ValueError``, ``FileNotFoundError``), so
callers can catch either. Messages say what was expected, what was found, where (file and
physical line, 1-based) and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ComparabilityError",
    "DatasetError",
    "DatasetFilesMissingError",
    "DistributedError",
    "DuplicateEntryError",
    "InputFormatError",
    "IrbenchError",
    "IrbenchWarning",
    "MeasureError",
    "MissingFileError",
    "RankerError",
    "RunExistsError",
    "RunNotGroupedError",
]


class IrbenchError(Exception):
    """Base class of every error irbench raises on purpose."""

    exit_code: int = 2


class InputFormatError(IrbenchError, ValueError):
    """A qrels, run or table does not have the expected form.

    Parameters
    ----------
    message:
        What was expected and what was found.
    path:
        The file (or a description such as ``"<stdin>"`` or ``"DataFrame"``).
    line:
        The 1-based physical line number, when the input is a text file.
    hint:
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.hint = hint
        self.detail = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        text = f"{where}{message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DuplicateEntryError(InputFormatError):
    """The same (query, document) pair occurs twice in a run or qrels (trec_eval refuses these)."""

    query_id: str | None = None
    doc_id: str | None = None
    qpos: int | None = None


class NotStreamableError(InputFormatError):
    """A run that cannot be read in chunks of whole queries (JSON Lines, Parquet on stdin, or
    a run not grouped by query); reading it whole works."""


class RunNotGroupedError(NotStreamableError):
    """A run read as a stream has a query's rows in two places (it is not grouped by query).

    ``query_id`` is the query, ``line`` the physical line where it occurs again, ``first_lines``
    the (first, last) physical lines of the earlier chunk that held it, and ``sort_command``
    the shell command that groups the file.
    """

    query_id: str | None = None
    first_lines: tuple[int, int] | None = None
    sort_command: str | None = None


class MissingFileError(IrbenchError, FileNotFoundError):
    """An input file does not exist."""


class MeasureError(IrbenchError, ValueError):
    """A measure string or object could not be understood."""


class ComparabilityError(IrbenchError, ValueError):
    """Results computed under different conditions (qrels, query set, cutoffs) were combined."""


class IrbenchWarning(UserWarning):
    """Something the user should know that does not stop the evaluation (e.g. missing queries)."""


class StatsError(IrbenchError, ValueError):
    """A significance test or comparison got input it cannot test (NaN, too few queries, ...)."""


class DatasetError(IrbenchError, ValueError):
    """A dataset id is unknown, its files are unusable, or an import was refused."""


class DatasetFilesMissingError(DatasetError, FileNotFoundError):
    """A dataset's source files are not on disk (and could not be downloaded).

    ``missing`` lists ``(path, what)`` pairs: where each file must be put and what it is.
    """

    def __init__(self, message: str, missing: list[tuple[str, str]] | None = None) -> None:
        self.missing = list(missing or [])
        super().__init__(message)


class RankerError(IrbenchError, ValueError):
    """A ranker name, parameter, index or input run could not be used."""


class DistributedError(IrbenchError, RuntimeError):
    """The Dask engine is unavailable, cannot reach its scheduler, or a task (a run, a shard)
    failed on the cluster. The message names the run or shard; no partial result is returned."""


class RunExistsError(IrbenchError, FileExistsError):
    """A run file would replace one made by another ranker, other parameters or other inputs
    (its ``.meta.json`` sidecar says how it was made); ``force`` / ``--force`` replaces it."""

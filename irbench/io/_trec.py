"""Parsing TREC run and qrels text into Arrow tables (fast path, normaliser, precise slow path).

Format rules (both files)
-------------------------
* Fields are separated by any run of ASCII whitespace (space, tab, ``\\r``, ``\\v``, ``\\f``);
  leading and trailing whitespace is fine, so are CRLF line endings and a missing final newline.
* Blank lines and lines whose first non-blank character is ``#`` are skipped. (trec_eval 9 rejects
  comment lines and trec_eval refuses blank lines in qrels; irbench accepts both everywhere. A
  consequence: a query id cannot start with ``#``.)
* Run lines are ``qid iter docno rank score tag [ignored ...]``: at least 6 fields; iter, rank and
  anything after the 6th field are ignored. The score is read like Python's ``float()``
  (decimal or scientific notation, ``inf``) but NaN, hexadecimal floats, digit-group underscores
  and decimal commas are refused.
* Qrels lines are exactly ``qid iter docno rel``; ``rel`` must be a whole number (optionally
  signed). ``1.9``, ``x`` or ``2e1`` are refused (trec_eval's ``atol`` silently truncates them).
* Ids are opaque UTF-8 strings (``"007"`` stays ``"007"``).
* Refused with :class:`~irbench.errors.InputFormatError` naming the file and the *physical*
  1-based line: a UTF-8 byte-order mark, NUL bytes, an empty file, a file without records, a
  wrong field count, a bad score or grade, invalid UTF-8. A (query, doc) pair judged twice in a
  qrels file raises :class:`~irbench.errors.DuplicateEntryError` naming both lines.

Implementation
--------------
Clean bytes (single spaces, no tab/CR/VT/FF, no ``#``) go straight to ``pyarrow.csv``, with as
many columns as the first run line has (extra run columns stay on the fast path when every line
has them). Other bytes are normalised first (only the needed steps). Whenever pyarrow fails or a vectorised check
finds a problem, a line-by-line Python pass over the *original* bytes locates the first bad
physical line and raises; if it finds none (e.g. extra run columns) it returns its own result.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from irbench._arrow import to_numpy
from irbench.errors import DuplicateEntryError, InputFormatError
from irbench.io._source import Data
from irbench.io.schema import QRELS_SCHEMA, RUN_SCHEMA

__all__ = [
    "QRELS_FORMAT",
    "RUN_FORMAT",
    "TrecFormat",
    "check_start",
    "last_run_tag",
    "locate",
    "parse_block",
    "parse_trec",
]

BOM = b"\xef\xbb\xbf"
_BLOCK_SIZE = 16 << 20
_OTHER_SPACE = (b"\t", b"\r", b"\x0b", b"\x0c")
_TO_SPACE = bytes.maketrans(b"\t\r\x0b\x0c", b"    ")
_SCAN_BLOCK = 1 << 18  # bytes compared at a time by _has_space_trouble
_COMMENT_LINE_RE = re.compile(rb"\n#[^\n]*")
_INTEGER_RE = re.compile(rb"[+-]?[0-9]+\Z")
_INTEGER_RE2 = r"^[+-]?[0-9]+$"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class TrecFormat:
    """Layout of one TREC text format.

    Parameters
    ----------
    kind:
        ``"run"`` or ``"qrels"`` (used in messages).
    min_fields, max_fields:
        Allowed number of whitespace-separated fields (``max_fields=None``: no upper bound).
    value_field:
        0-based index of the score/grade field (query id is field 0, doc id field 2).
    schema:
        Output schema.
    layout:
        Human-readable field list for messages.
    example:
        A valid example line for hints.
    """

    kind: str
    min_fields: int
    max_fields: int | None
    value_field: int
    schema: pa.Schema
    layout: str
    example: str

    @property
    def is_qrels(self) -> bool:
        """True for qrels (integer grades, duplicates checked here)."""
        return self.kind == "qrels"


RUN_FORMAT = TrecFormat(
    kind="run",
    min_fields=6,
    max_fields=None,
    value_field=4,
    schema=RUN_SCHEMA,
    layout="query_id iter doc_id rank score run_tag",
    example="301 Q0 FBIS3-10082 1 12.5 myrun",
)
QRELS_FORMAT = TrecFormat(
    kind="qrels",
    min_fields=4,
    max_fields=4,
    value_field=3,
    schema=QRELS_SCHEMA,
    layout="query_id iter doc_id relevance",
    example="301 0 FBIS3-10082 1",
)


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------


def parse_trec(data: Data, fmt: TrecFormat, where: str) -> pa.Table:
    """Parse TREC text *data* (already decompressed) into a table in ``fmt.schema``.

    Parameters
    ----------
    data:
        The whole file content (``bytes`` or a read-only ``mmap``).
    fmt:
        :data:`RUN_FORMAT` or :data:`QRELS_FORMAT`.
    where:
        File name for error messages.

    Raises
    ------
    InputFormatError
        See the module docstring for the rules.
    """
    _check_prelude(data, where)
    return _parse_records(data, fmt, where)


def parse_block(
    data: Data,
    fmt: TrecFormat,
    where: str,
    *,
    first_line: int | Callable[[], int],
    first_byte: int,
) -> pa.Table:
    """Parse one block of a larger TREC file (whole lines, at least one record line).

    Same rules and messages as :func:`parse_trec`, with line numbers and byte offsets
    counted in the whole file: the block starts at physical line ``first_line`` (1-based; a
    callable is asked only when there is an error to report, since counting the lines before
    the block costs a pass over them) and byte ``first_byte``. The checks that concern the
    whole file (empty, byte-order mark, no records at all) are the caller's.
    """
    try:
        _check_nul(data, where, first_byte)
        return _parse_records(data, fmt, where)
    except InputFormatError as exc:
        line = first_line() if callable(first_line) else first_line
        if exc.line is None or line == 1:
            raise
        moved = type(exc)(exc.detail, path=exc.path, line=exc.line + line - 1, hint=exc.hint)
        raise moved from None


def _parse_records(data: Data, fmt: TrecFormat, where: str) -> pa.Table:
    """The fast path (pyarrow's CSV reader on normalised text), or the line-by-line slow path
    when pyarrow fails or its result does not pass the vectorised checks."""
    text = _normalise(data)
    table = _fast_parse(text, fmt)
    del text
    if table is None or not _fast_result_ok(table, fmt):
        return _slow_parse(data, fmt, where)
    return table


def last_run_tag(data: Data) -> str | None:
    """Return the 6th field of the last record line (blank and ``#`` lines skipped), if any."""
    end = len(data)
    while end > 0:
        start = data.rfind(b"\n", 0, end) + 1
        fields = data[start:end].split()
        if fields and not fields[0].startswith(b"#"):
            return fields[5].decode("utf-8", "replace") if len(fields) >= 6 else None
        end = start - 1
    return None


def locate(data: Data, query_id: str, doc_id: str) -> list[int]:
    """Return the physical 1-based line numbers holding (*query_id*, *doc_id*) (fields 1 and 3)."""
    qid, did = query_id.encode("utf-8"), doc_id.encode("utf-8")
    found = []
    for lineno, line in enumerate(io.BytesIO(data), 1):
        fields = line.split()
        if len(fields) >= 3 and fields[0] == qid and fields[2] == did:
            found.append(lineno)
    return found


# --------------------------------------------------------------------------------------------
# checks and normalisation on raw bytes
# --------------------------------------------------------------------------------------------


def _line_of(data: Data, offset: int) -> int:
    return bytes(data[:offset]).count(b"\n") + 1


def _check_prelude(data: Data, where: str) -> None:
    """Refuse empty files, a leading byte-order mark and NUL bytes."""
    check_start(data, where)
    _check_nul(data, where)


def check_start(data: Data, where: str) -> None:
    """Refuse an empty file and a leading byte-order mark (*data*: the file's first bytes)."""
    if not data:
        raise InputFormatError(
            "the file is empty",
            path=where,
            hint="check that the run/qrels was written completely",
        )
    if data[: len(BOM)] == BOM:
        raise InputFormatError(
            "the file starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF)",
            path=where,
            line=1,
            hint="strip it, e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`, or save as UTF-8 "
            "without BOM; otherwise it would become part of the first query id",
        )


def _check_nul(data: Data, where: str, first_byte: int = 0) -> None:
    """Refuse NUL bytes (*data* starts at byte ``first_byte`` of its file)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputFormatError(
            f"NUL byte at byte offset {first_byte + nul}: this looks like a binary file (or "
            "UTF-16 text)",
            path=where,
            line=_line_of(data, nul),
            hint="pass a plain-text or gzip TREC file; convert UTF-16 with "
            "`iconv -f UTF-16 -t UTF-8`",
        )


def _has_space_trouble(text: Data) -> bool:
    """True if *text* has two spaces in a row or a space at the start or end of a line.

    Compares neighbouring bytes with numpy, a block at a time (blocks overlap by one byte):
    several times faster than a regular expression over the whole text.
    """
    if text[:1] == b" " or text[-1:] == b" ":
        return True
    raw = np.frombuffer(text, dtype=np.uint8)
    for lo in range(0, max(raw.size - 1, 0), _SCAN_BLOCK):
        x = raw[lo : lo + _SCAN_BLOCK + 1]
        space = x == 32
        newline = x == 10
        after_space_or_newline = space[:-1] | newline[:-1]
        if (space[1:] & after_space_or_newline).any() or (space[:-1] & newline[1:]).any():
            return True
    return False


def _collapse_spaces(text: bytes) -> bytes:
    """Collapse runs of spaces and strip spaces at line edges."""
    while True:
        shorter = text.replace(b"  ", b" ")
        if len(shorter) == len(text):
            break
        text = shorter
    text = text.replace(b"\n ", b"\n").replace(b" \n", b"\n")
    return text.strip(b" ")


def _drop_comments(text: bytes) -> bytes:
    """Remove lines starting with ``#`` (*text* must already be edge-stripped)."""
    while text.startswith(b"#"):
        newline = text.find(b"\n")
        text = b"" if newline < 0 else text[newline + 1 :]
    return _COMMENT_LINE_RE.sub(b"", text) if b"\n#" in text else text


def _normalise(data: Data) -> Data:
    """Return *data* with single-space separators and no comment lines (only needed steps)."""
    text = data
    if any(text.find(ch) >= 0 for ch in _OTHER_SPACE):
        text = bytes(text).translate(_TO_SPACE)
    if _has_space_trouble(text):
        text = _collapse_spaces(bytes(text))
    if text.find(b"#") >= 0:
        text = _drop_comments(bytes(text))
    return text


# --------------------------------------------------------------------------------------------
# pyarrow fast path
# --------------------------------------------------------------------------------------------


def _fast_parse(text: Data, fmt: TrecFormat) -> pa.Table | None:
    """Parse normalised *text* with ``pyarrow.csv``; None when pyarrow refuses it."""
    if not text:
        return None
    n_fields = fmt.min_fields
    if fmt.max_fields is None:  # extra run columns: as many as the first line has
        newline = text.find(b"\n")
        n_fields = max(n_fields, text[: newline if newline >= 0 else len(text)].count(b" ") + 1)
    names = [f"f{i}" for i in range(n_fields)]
    value = f"f{fmt.value_field}"
    value_type = pa.float64() if not fmt.is_qrels else pa.string()
    read = pa_csv.ReadOptions(column_names=names, block_size=_BLOCK_SIZE, use_threads=True)
    parse = pa_csv.ParseOptions(
        delimiter=" ",
        quote_char=False,
        double_quote=False,
        escape_char=False,
        newlines_in_values=False,
        ignore_empty_lines=True,
    )
    convert = pa_csv.ConvertOptions(
        include_columns=["f0", "f2", value],
        column_types={"f0": pa.string(), "f2": pa.string(), value: value_type},
        null_values=[],
        true_values=[],
        false_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=True,
    )
    try:
        raw = pa_csv.read_csv(
            pa.py_buffer(text), read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowException, ValueError):
        return None
    columns = [raw.column("f0"), raw.column("f2"), raw.column(value)]
    if fmt.is_qrels:
        grades = columns[2]
        if raw.num_rows and not pc.all(pc.match_substring_regex(grades, _INTEGER_RE2)).as_py():
            return None
        try:
            columns[2] = pc.cast(grades, pa.int64())
        except pa.ArrowException:
            return None
    return pa.Table.from_arrays(columns, schema=fmt.schema)


def _fast_result_ok(table: pa.Table, fmt: TrecFormat) -> bool:
    """Vectorised sanity checks; False sends the input to the precise slow path."""
    if table.num_rows == 0:
        return False
    if not fmt.is_qrels:
        return not pc.any(pc.is_nan(table.column("score"))).as_py()
    return not _has_duplicate_pairs(table)


def _has_duplicate_pairs(table: pa.Table) -> bool:
    """True if a (query_id, doc_id) pair repeats. Integer codes and a numpy sort: unlike
    ``Table.group_by`` this does not import pyarrow.acero (and with it pandas), which would
    cost more than the whole evaluation of a small run."""
    q = pc.dictionary_encode(table.column("query_id")).combine_chunks()
    d = pc.dictionary_encode(table.column("doc_id")).combine_chunks()
    key = to_numpy(q.indices).astype(np.int64) * len(d.dictionary)
    key += to_numpy(d.indices)
    key.sort()
    return bool((key[1:] == key[:-1]).any())


# --------------------------------------------------------------------------------------------
# precise slow path
# --------------------------------------------------------------------------------------------


def _field_count_error(fmt: TrecFormat, found: int, where: str, lineno: int) -> InputFormatError:
    if fmt.max_fields is None:
        expected = f"at least {fmt.min_fields}"
    else:
        expected = f"exactly {fmt.min_fields}"
    return InputFormatError(
        f"expected {expected} whitespace-separated fields ({fmt.layout}) in this {fmt.kind} "
        f"line, found {found}",
        path=where,
        line=lineno,
        hint=f"a {fmt.kind} line looks like `{fmt.example}`; blank lines and lines starting "
        "with # are skipped",
    )


def _decode_id(token: bytes, what: str, where: str, lineno: int) -> str:
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        raise InputFormatError(
            f"{what} {token!r} is not valid UTF-8",
            path=where,
            line=lineno,
            hint="ids must be UTF-8 text; re-encode the file, e.g. `iconv -f latin1 -t utf-8`",
        ) from None


def parse_score(token: bytes, where: str, lineno: int) -> float:
    """Read a run score like ``float()`` but refuse NaN and ``_`` digit separators."""
    try:
        value = float(token) if b"_" not in token else math.nan
        bad = math.isnan(value)
    except ValueError:
        bad, value = True, math.nan
    if bad:
        text = token.decode("utf-8", "replace")
        raise InputFormatError(
            f"score {text!r} (field 5) is not a number"
            if text.lower().lstrip("+-") != "nan"
            else "score is NaN",
            path=where,
            line=lineno,
            hint="scores must be decimal or scientific numbers such as 12.5, -3e-2 or inf; NaN, "
            "hexadecimal floats and decimal commas are refused",
        )
    return value


def parse_grade(token: bytes, where: str, lineno: int) -> int:
    """Read a qrels grade: a signed whole number within int64."""
    value = int(token) if _INTEGER_RE.match(token) else None
    if value is None or not _INT64_MIN <= value <= _INT64_MAX:
        text = token.decode("utf-8", "replace")
        raise InputFormatError(
            f"relevance grade {text!r} (field 4) is not an integer",
            path=where,
            line=lineno,
            hint="grades must be whole numbers such as 0, 1, 2 or -1 (trec_eval would silently "
            "truncate this value)",
        )
    return value


def _slow_parse(data: Data, fmt: TrecFormat, where: str) -> pa.Table:
    """Line-by-line parse of the original bytes; raises at the first bad physical line."""
    read_value: Callable[[bytes, str, int], float | int] = (
        parse_grade if fmt.is_qrels else parse_score
    )
    qids: list[str] = []
    docs: list[str] = []
    values: list[float | int] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, line in enumerate(io.BytesIO(data), 1):
        fields = line.split()
        if not fields or fields[0].startswith(b"#"):
            continue
        n = len(fields)
        if n < fmt.min_fields or (fmt.max_fields is not None and n > fmt.max_fields):
            raise _field_count_error(fmt, n, where, lineno)
        qid = _decode_id(fields[0], "query id", where, lineno)
        doc = _decode_id(fields[2], "doc id", where, lineno)
        value = read_value(fields[fmt.value_field], where, lineno)
        if fmt.is_qrels:
            first = seen.setdefault((qid, doc), lineno)
            if first != lineno:
                raise DuplicateEntryError(
                    f"query {qid!r}, document {doc!r} is judged twice (lines {first} and {lineno})",
                    path=where,
                    line=lineno,
                    hint="keep one judgment per (query, document) pair; trec_eval refuses "
                    "duplicates",
                )
        qids.append(qid)
        docs.append(doc)
        values.append(value)
    if not qids:
        raise InputFormatError(
            f"no {fmt.kind} records found (only blank or # comment lines)",
            path=where,
            hint=f"a {fmt.kind} line looks like `{fmt.example}`",
        )
    value_type = fmt.schema.field(2).type
    arrays = [
        pa.array(qids, pa.string()),
        pa.array(docs, pa.string()),
        pa.array(values, value_type),
    ]
    return pa.Table.from_arrays(arrays, schema=fmt.schema)

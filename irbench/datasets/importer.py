"""``irbench datasets import``: put files a user already has where the adapters will find them.

Each input is a file (its role — ``qrels``, ``queries`` or ``docs`` — told by its name, else by
its first line, or given explicitly as ``qrels=PATH``), a BEIR zip, or a BEIR folder
(``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``). The target of each role is the
file ir_datasets (or irbench's native reader) opens for that dataset under ``IR_DATASETS_HOME``;
the content is converted to the target's format on the way (TREC qrels ↔ BEIR qrels TSV, TSV
topics → BEIR ``queries.jsonl``, gzip in or out, CRLF → LF). Every write is atomic.

Zip files are checked before use: an entry with an absolute path, a ``..`` component or a
symbolic link is refused (:func:`check_zip`), and extraction (:func:`safe_extract`) verifies each
resolved destination stays inside the target folder.
"""

from __future__ import annotations

import gzip
import json
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from irbench.datasets.irds import SourceFile
from irbench.errors import DatasetError, MissingFileError

__all__ = ["check_zip", "import_files", "read_query_rows", "safe_extract", "sniff_role"]

ROLES = ("qrels", "queries", "docs")
_NAME_HINTS = (
    ("qrels", ("qrel", ".rel", "rlv-ass")),
    ("queries", ("quer", "topic", ".qry")),
    ("docs", ("corpus", "collection", "docs", ".all", "doc-text")),
)


def check_zip(archive: zipfile.ZipFile) -> None:
    """Refuse a zip with absolute paths, ``..`` components or symbolic links (zip-slip)."""
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        is_link = stat.S_ISLNK(info.external_attr >> 16)
        if (
            name.startswith(("/", "\\"))
            or (len(name) > 1 and name[1] == ":")
            or ".." in parts
            or is_link
        ):
            raise DatasetError(
                f"{archive.filename}: refusing unsafe zip entry {name!r} "
                f"({'symbolic link' if is_link else 'path escapes the target folder'}); "
                "re-create the archive with relative paths only"
            )


def safe_extract(zip_path: Path, dest: Path) -> list[Path]:
    """Extract *zip_path* into *dest* after :func:`check_zip`; return the extracted files."""
    dest = dest.resolve()
    out: list[Path] = []
    with zipfile.ZipFile(zip_path) as archive:
        check_zip(archive)
        for info in archive.infolist():
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(dest):  # belt and braces after check_zip
                raise DatasetError(f"{zip_path}: entry {info.filename!r} escapes {dest}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            out.append(target)
    return out


def _first_line(path: Path) -> str:
    with _open_plain(path) as handle:
        return handle.readline().decode("utf-8", "replace").strip()


def sniff_role(path: Path) -> str:
    """``qrels``, ``queries`` or ``docs``, from the file name, else from its first line."""
    name = path.name.lower()
    for role, hints in _NAME_HINTS:
        if any(h in name for h in hints):
            return role
    first = _first_line(path)
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except ValueError:
            obj = {}
        return "docs" if isinstance(obj, dict) and "title" in obj else "queries"
    cols = first.split()
    if first.startswith("query-id") or (len(cols) in (3, 4) and cols[-1].lstrip("-").isdigit()):
        return "qrels"
    if "\t" in first:
        return "docs" if path.stat().st_size > 50 << 20 else "queries"
    raise DatasetError(
        f"{path}: cannot tell whether this is qrels, queries or docs; "
        "name its role explicitly, e.g. qrels=PATH, queries=PATH or docs=PATH"
    )


def _open_plain(path: Path) -> IO[bytes]:
    """Open *path* for reading, decompressing gzip (detected by magic bytes)."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _lines(path: Path) -> Iterator[str]:
    with _open_plain(path) as handle:
        for raw in handle:
            yield raw.decode("utf-8").rstrip("\r\n").rstrip("\r")


# ------------------------------------------------------------------------------------ inputs


class _Inputs:
    """Files by role, plus an optional BEIR zip or folder."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self.beir: Path | None = None  # a BEIR zip or folder
        self.tmp: list[tempfile.TemporaryDirectory[str]] = []

    def add(self, role: str, path: Path) -> None:
        if role in self.files and self.files[role] != path:
            raise DatasetError(
                f"two files for the {role}: {self.files[role]} and {path}; import one at a time"
            )
        self.files[role] = path


def _collect(paths: list[str]) -> _Inputs:
    inputs = _Inputs()
    for arg in paths:
        role = None
        if "=" in arg and arg.split("=", 1)[0] in ROLES:
            role, arg = arg.split("=", 1)
        path = Path(arg).expanduser()
        if not path.exists():
            raise MissingFileError(f"{path}: no such file or folder")
        if role is not None:
            inputs.add(role, path)
        elif path.is_dir():
            if (path / "corpus.jsonl").exists() or (path / "queries.jsonl").exists():
                inputs.beir = path
            else:
                for child in sorted(p for p in path.iterdir() if p.is_file()):
                    inputs.add(sniff_role(child), child)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                check_zip(archive)
                names = archive.namelist()
            if any(n.endswith(("corpus.jsonl", "queries.jsonl")) for n in names):
                inputs.beir = path
            else:  # a zip of loose files (e.g. the CISI distribution): extract, then sniff
                tmp = tempfile.TemporaryDirectory(prefix="irbench-import-")
                inputs.tmp.append(tmp)
                for child in safe_extract(path, Path(tmp.name)):
                    if not child.name.startswith("."):
                        inputs.add(sniff_role(child), child)
        elif path.name.endswith((".tar", ".tar.gz", ".tgz")):
            raise DatasetError(
                f"{path}: tar archives are not imported; extract it and import the files inside"
            )
        else:
            inputs.add(sniff_role(path), path)
    return inputs


# ------------------------------------------------------------------------------------ writers


def _read_qrels_rows(path: Path) -> Iterator[tuple[str, str, str, str]]:
    """(qid, iteration, docid, grade) from TREC 4-column, BEIR 3-column (header) or 3-column."""
    for n, line in enumerate(_lines(path), 1):
        cols = line.split()
        if not cols or line.startswith("#") or (n == 1 and cols[0] == "query-id"):
            continue
        if len(cols) == 4:
            yield cols[0], cols[1], cols[2], cols[3]
        elif len(cols) == 3:
            yield cols[0], "0", cols[1], cols[2]
        else:
            raise DatasetError(
                f"{path}:{n}: expected a qrels line (qid iter docid grade), got {line!r}"
            )


def read_query_rows(path: Path, member: str | None = None) -> Iterator[tuple[str, str]]:
    """(query id, text) pairs from TSV ``qid<TAB>text``, BEIR ``queries.jsonl`` or a BEIR zip/folder."""
    if (
        zipfile.is_zipfile(path)
        or path.is_dir()
        or path.suffix == ".jsonl"
        or _first_line(path).startswith("{")
    ):
        from irbench.datasets.formats import beir_queries

        table = beir_queries(path, member)
        yield from zip(
            table.column("query_id").to_pylist(), table.column("text").to_pylist(), strict=True
        )
        return
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DatasetError(f"{path}:{n}: expected qid<TAB>text, got {line!r}")
        qid, text = line.split("\t", 1)
        yield qid, text


def _writer(target: SourceFile) -> Iterator[IO[str]]:
    from irbench.io.atomic import atomic_text_writer

    # atomic_text_writer gzips when the name ends in .gz, which is what a "gzip" packing needs.
    if target.packing == "gzip" and not target.path.name.endswith(".gz"):
        raise DatasetError(f"cannot write {target.path}: gzip target without .gz suffix")
    with atomic_text_writer(target.path) as out:
        yield out


def _write_qrels(src: Path, target: SourceFile) -> None:
    from contextlib import contextmanager

    rows = _read_qrels_rows(src)
    with contextmanager(_writer)(target) as out:
        if target.fmt == "beir-qrels":
            out.write("query-id\tcorpus-id\tscore\n")
            for qid, _it, did, rel in rows:
                out.write(f"{qid}\t{did}\t{rel}\n")
        elif target.fmt in ("cranfield-qrels", "smart-qrels"):
            for line in _lines(src):
                out.write(line + "\n")
        else:
            for qid, it, did, rel in rows:
                out.write(f"{qid} {it} {did} {rel}\n")


def _write_queries(
    src: Path, target: SourceFile, fields: tuple[str, ...], member: str | None = None
) -> None:
    from contextlib import contextmanager

    with contextmanager(_writer)(target) as out:
        if target.fmt == "beir-queries":
            extra = [f for f in fields if f not in ("query_id", "text", "title")]
            for qid, text in read_query_rows(src, member):
                obj = {"_id": qid, "text": text, "metadata": dict.fromkeys(extra)}
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        elif target.fmt in ("cranfield-queries", "smart-queries"):
            for line in _lines(src):
                out.write(line + "\n")
        else:
            for qid, text in read_query_rows(src, member):
                out.write(f"{qid}\t{text}\n")


def _copy_plain(src: Path, target: SourceFile) -> None:
    from irbench.io.atomic import atomic_binary_writer

    with _open_plain(src) as handle, atomic_binary_writer(target.path) as out:
        shutil.copyfileobj(handle, out, 4 << 20)


def _zip_beir_folder(folder: Path, target: Path, name: str) -> None:
    """Zip a BEIR folder (stored, not deflated: fast) as ``<name>/...``, BEIR's own layout."""
    from irbench.io.atomic import atomic_output

    with atomic_output(target) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, f"{name}/{path.relative_to(folder).as_posix()}")


def _copy_zip(src: Path, target: Path) -> None:
    from irbench.io.atomic import atomic_output

    with open(src, "rb") as handle, atomic_output(target) as out:
        shutil.copyfileobj(handle, out, 4 << 20)


# ------------------------------------------------------------------------------------ main


def import_files(
    dataset_id: str, paths: list[str], *, home: str | None = None
) -> list[tuple[str, Path]]:
    """Place the user's files for *dataset_id*; return ``(role, destination)`` pairs.

    Parameters
    ----------
    dataset_id:
        A registered id (``irbench datasets list``).
    paths:
        Files (role from name or content, or ``role=PATH``), BEIR zips or BEIR folders.
    home:
        Destination root; default ``$IR_DATASETS_HOME`` (``~/.ir_datasets``).
    """
    import os

    from irbench.datasets.dataset import load_dataset

    if home is not None:
        os.environ["IR_DATASETS_HOME"] = str(home)
    ds = load_dataset(dataset_id)
    if ds.spec.backend == "embedded":
        raise DatasetError(f"{dataset_id} ships with irbench; there is nothing to import")
    inputs = _collect(paths)
    try:
        return _place(ds, inputs)
    finally:
        for tmp in inputs.tmp:
            tmp.cleanup()


def _place(ds: object, inputs: _Inputs) -> list[tuple[str, Path]]:
    from irbench.datasets.dataset import Dataset

    assert isinstance(ds, Dataset)
    placed: list[tuple[str, Path]] = []
    fields: tuple[str, ...] = ("query_id", "text")
    if ds.spec.backend == "irds" and ds.has("queries"):
        fields = tuple(ds.irds_dataset().queries_cls()._fields)
    beir = inputs.beir
    docs_targets = ds.source_files("docs")
    member = docs_targets[0].member if docs_targets else None
    prefix = PurePosixPath(member).parent.as_posix() if member else ""
    for role in ROLES:
        targets = ds.source_files(role)
        if not targets:
            if role in inputs.files:
                raise DatasetError(f"{ds.id} has no {role}; do not pass {inputs.files[role]}")
            continue
        target = targets[0]
        src = inputs.files.get(role)
        if src is None and beir is None:
            continue
        if role == "docs" and src is None and beir is not None:
            if target.fmt != "beir-zip-docs":
                raise DatasetError(f"{ds.id}: a BEIR zip/folder does not hold this corpus")
            if beir.is_dir():
                _zip_beir_folder(beir, target.path, prefix or beir.name)
            else:
                _copy_zip(beir, target.path)
        elif role == "docs" and src is not None:
            if target.fmt == "beir-zip-docs":
                raise DatasetError(
                    f"{ds.id}: its corpus comes as the BEIR zip or folder, not {src}"
                )
            if target.packing not in ("", "gzip"):
                raise DatasetError(
                    f"{ds.id}: its corpus is read from {target.path} ({target.describe()}); "
                    "put that file there yourself"
                )
            _copy_plain(src, target)
        elif role == "qrels":
            if src is None:
                assert beir is not None
                split = target.path.stem if target.fmt == "beir-qrels" else "test"
                src = _beir_member(beir, f"qrels/{split}.tsv", inputs, prefix)
            _write_qrels(src, target)
        else:
            if src is None:
                assert beir is not None
                src = _beir_member(beir, "queries.jsonl", inputs, prefix)
            _write_queries(src, target, fields)
        placed.append((role, target.path))
    if not placed:
        raise DatasetError(f"nothing to import for {ds.id} from the given paths")
    if ds.spec.backend == "irds":
        from irbench.datasets import irds

        irds.guard_migrations(ds.irds_dataset())
    return placed


def _beir_member(beir: Path, suffix: str, inputs: _Inputs, prefix: str = "") -> Path:
    """A file of a BEIR folder or zip (zip members are safely extracted to a temp folder)."""
    if beir.is_dir():
        hits = sorted(beir.rglob(suffix.split("/")[-1]))
        hits = [h for h in hits if h.as_posix().endswith(suffix)]
    else:
        tmp = tempfile.TemporaryDirectory(prefix="irbench-import-")
        inputs.tmp.append(tmp)
        with zipfile.ZipFile(beir) as archive:
            check_zip(archive)
            names = [n for n in archive.namelist() if n.endswith(suffix)]
            names = [n for n in names if n.startswith(prefix + "/")] or names
            hits = []
            if names:
                name = sorted(names, key=len)[0]
                dest = Path(tmp.name) / "member"
                with archive.open(name) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
                hits = [dest]
    if not hits:
        raise DatasetError(f"{beir}: no {suffix} in the BEIR zip/folder")
    return hits[0]

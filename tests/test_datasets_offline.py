"""`irbench datasets info` never downloads and never lets ir_datasets delete a user's files.

ir_datasets' ``Migrator`` deletes its "affected files" (``msmarco-passage/collection.tsv``)
on the first call made through it when ``irds_version.txt`` is missing; the files below are
placed by hand, without that version file, in a temporary IR_DATASETS_HOME. Sockets are
forbidden, so any network attempt is recorded and fails the test.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.datasets import load_dataset
from irbench.errors import DatasetError

DL19 = "msmarco-passage/trec-dl-2019/judged"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:2]))
        raise OSError("network forbidden in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def hand_placed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[Path, bytes]:
    """A home with MS MARCO files put there by hand: no irds_version.txt, no qrels."""
    home = tmp_path / "home"
    monkeypatch.setenv("IR_DATASETS_HOME", str(home))
    monkeypatch.setenv("IRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("IRBENCH_OFFLINE", raising=False)  # info must not need it
    files = {
        home / "msmarco-passage" / "collection.tsv": b"".join(
            f"{i}\tpassage {i}\n".encode() for i in range(25)
        ),
        home / "msmarco-passage" / "trec-dl-2019" / "queries.tsv": b"1\tfirst\n2\tsecond\n",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def _untouched(files: dict[Path, bytes]) -> None:
    for path, data in files.items():
        assert path.exists(), f"{path} was deleted"
        assert path.read_bytes() == data, f"{path} was changed"


def test_info_reports_missing_parts_without_network_or_deletion(
    hand_placed: dict[Path, bytes], no_network: list[str]
) -> None:
    result = CliRunner().invoke(app, ["datasets", "info", DL19, "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["docs"] == 25  # counted from the file on disk
    assert info["qrels"] is None and info["queries"] is None  # judged queries need the qrels
    qrels_path = str(list(hand_placed)[-1].parent / "qrels")
    assert info["missing"]["qrels"][0]["path"] == qrels_path
    assert info["missing"]["queries"][0]["path"] == qrels_path
    assert "agreement" not in result.output and "download error" not in result.output
    assert no_network == []
    _untouched(hand_placed)


def test_info_table_keeps_an_empty_hand_placed_collection(
    hand_placed: dict[Path, bytes], no_network: list[str]
) -> None:
    collection = next(iter(hand_placed))
    collection.write_bytes(b"")  # the case seen: an empty collection.tsv vanished
    hand_placed[collection] = b""
    result = CliRunner().invoke(app, ["datasets", "info", DL19])
    assert result.exit_code == 0, result.output
    assert "missing  qrels:" in result.stdout
    assert no_network == []
    _untouched(hand_placed)


def test_a_second_info_reads_the_cache(
    hand_placed: dict[Path, bytes], no_network: list[str]
) -> None:
    for _ in range(2):
        result = CliRunner().invoke(app, ["datasets", "info", DL19, "--format", "json"])
        assert result.exit_code == 0, result.output
    assert any("docs: read from cache" in e for e in json.loads(result.stdout)["events"])
    _untouched(hand_placed)


def test_listing_files_does_not_run_migrations(hand_placed: dict[Path, bytes]) -> None:
    """Finding the files (ir_datasets.load, part_files) calls nothing through a Migrator."""
    from irbench.datasets import irds

    ds = irds.load(DL19)
    for part in ("docs", "queries", "qrels"):
        irds.part_files(ds, part)
    assert not (next(iter(hand_placed)).parent / "irds_version.txt").exists()
    _untouched(hand_placed)


def test_an_old_version_file_is_refused_not_migrated(hand_placed: dict[Path, bytes]) -> None:
    collection = next(iter(hand_placed))
    (collection.parent / "irds_version.txt").write_text("v1")
    with pytest.raises(DatasetError, match="never deletes your files"):
        load_dataset(DL19).count("docs")
    _untouched(hand_placed)


def test_offline_build_never_downloads(
    hand_placed: dict[Path, bytes], no_network: list[str]
) -> None:
    from irbench.errors import DatasetFilesMissingError

    with pytest.raises(DatasetFilesMissingError, match="qrels"):
        load_dataset(DL19, offline=True).queries()
    assert no_network == []
    _untouched(hand_placed)

"""`irbench datasets list` prints whole ids: plain tab-separated text in a pipe, and a table
that never cuts an id in an 80-column terminal."""

from __future__ import annotations

from rich.console import Console
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.cli.datasets_cmd import _list_table
from irbench.datasets import list_specs


def test_piped_listing_is_plain_text_with_full_ids() -> None:
    result = CliRunner().invoke(app, ["datasets", "list"])  # stdout is not a terminal
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    specs = list_specs()
    assert len(lines) == len(specs)
    for line, spec in zip(lines, specs, strict=True):
        assert line.split("\t") == [
            spec.id,
            spec.family,
            {"irds": "ir_datasets", "native": "irbench", "embedded": "built in"}[spec.backend],
            spec.title,
        ]
    assert not any(ch in result.stdout for ch in "┃━│─…")


def test_terminal_table_keeps_every_id_whole_at_80_columns() -> None:
    specs = list_specs()
    rows = [(s.id, s.family, s.backend, s.title) for s in specs]
    console = Console(width=80, record=True, force_terminal=True, color_system=None)
    console.print(_list_table(rows))
    first_words = {line.split()[0] for line in console.export_text().splitlines() if line.strip()}
    assert {s.id for s in specs} <= first_words  # each id whole at the start of its row
    assert max(len(s.id) for s in specs) > 30  # long enough to have been cut before

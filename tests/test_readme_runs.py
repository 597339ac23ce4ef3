"""The README's "Make runs" commands, run as written on the shipped Vaswani data in a fresh
folder, make the runs of the README's Vaswani table and print its numbers; `irbench demo` in
the same folder rewrites those runs byte for byte and refuses one made another way.

The commands and the table are parsed from README.md, so the two cannot drift apart."""

from __future__ import annotations

import glob
import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.rankers.runner import metadata_path

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def readme_commands() -> list[list[str]]:
    """The commands of the first code block of "Make runs" (comment lines skipped)."""
    block = re.search(r"\n```\n(.*?)\n```\n", _section("Make runs"), re.S)
    assert block is not None, "no code block under ## Make runs"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [c for c in commands if c]


def readme_table() -> dict[str, dict[str, str]]:
    """Run file -> {"MAP": ..., "nDCG@10": ...} for every row of the Vaswani table of "Make
    runs" that names a run file."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in _section("Make runs").splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            continue
        path = re.search(r"`(runs/[^`]+\.run)`", cells[0])
        if path and "MAP" in header and "nDCG@10" in header:
            rows[path.group(1)] = {m: cells[header.index(m)] for m in ("MAP", "nDCG@10")}
    return rows


def _evaluate(path: str) -> dict[str, str]:
    """The run's MAP and nDCG@10 on Vaswani, as `irbench eval` prints them (4 decimals)."""
    res = CliRunner().invoke(app, ["eval", "vaswani", path, "-m", "AP", "-m", "nDCG@10",
                                   "--format", "jsonl"])  # fmt: skip
    assert res.exit_code == 0, res.output
    values = {}
    for line in res.stdout.splitlines():
        row = json.loads(line)
        if row["query_id"] == "all":
            values[{"AP": "MAP"}.get(row["measure"], row["measure"])] = f"{row['value']:.4f}"
    return values


def test_readme_make_runs_reproduces_the_readme_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRBENCH_CACHE", str(tmp_path / "cache"))
    commands, table = readme_commands(), readme_table()
    assert [c[:3] for c in commands[:4]] == [["irbench", "run", "bm25"], ["irbench", "run",
            "dense"], ["irbench", "run", "dense"], ["irbench", "run", "rrf"]]  # fmt: skip
    assert commands[-1][:2] == ["irbench", "eval"]
    assert len(table) == 4, table  # bm25, dense, the re-ranking and the fusion

    printed = ""
    for command in commands:
        assert command[0] == "irbench", command
        args = [a for arg in command[1:] for a in (sorted(glob.glob(arg)) or [arg])]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, f"{shlex.join(command)}\n{res.output}"
        printed = res.stdout
    for path, expected in table.items():
        assert Path(path).is_file(), f"the README's commands do not make {path}"
        assert _evaluate(path) == expected, path
        for value in expected.values():  # the README's last command prints them
            assert value in printed, (path, value)

    # the demo makes the same runs under the same names: it rewrites them, byte for byte
    made = {p: Path(p).read_bytes() for p in table}
    res = CliRunner().invoke(app, ["demo", "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    demo_rrf = "runs/vaswani-rrf-bm25+dense.run"
    for value in table[demo_rrf].values():
        assert value in res.stdout
    assert all(Path(p).read_bytes() == made[p] for p in made)

    # ... and refuses to replace a run made another way
    sidecar = metadata_path(demo_rrf)
    meta = json.loads(sidecar.read_text())
    meta["params"]["rrf_k"] = 10.0
    sidecar.write_text(json.dumps(meta))
    res = CliRunner().invoke(app, ["demo", "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 2
    message = " ".join(res.output.split())
    assert f"{demo_rrf} holds a run made another way (params.rrf_k: 10.0 there, 60.0 now)" in (
        message
    )
    assert "--force" in message and "elsewhere (-o)" in message
    assert Path(demo_rrf).read_bytes() == made[demo_rrf]
    res = CliRunner().invoke(app, ["demo", "--cache-dir", str(tmp_path / "cache"), "--force"])
    assert res.exit_code == 0, res.output
    assert json.loads(sidecar.read_text())["params"]["rrf_k"] == 60.0
    assert Path(demo_rrf).read_bytes() == made[demo_rrf]

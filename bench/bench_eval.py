#!/usr/bin/env python3
"""End-to-end benchmark: `irbench eval` against pytrec_eval, ranx and ir_measures.

Every measurement is a fresh child process: wall time is taken around the child and
peak RSS comes from os.wait4() (ru_maxrss of that child only). The peers are timed
with the workers of ../shared/bench/anchors.py (imported by path, not copied);
irbench is timed as its console script, exactly as a user runs it:

    irbench eval QRELS RUN -m nDCG@10 -m RR@10 -m AP -m R@K -m P@10 -m RR --format tsv

K is the run depth from the data's meta.json, as anchors.py uses (R@1000 at MS MARCO
dev scale, R@100 at 100k x 100). RR (uncut) is included because every anchors worker
computes it too (pytrec_eval derives RR@10 from it), so all tools do the same work.

Data comes from ../shared/bench/gen_synthetic.py (run as a subprocess, into
bench/.data/<scale>/, reused when present).

Agreement: irbench's default (queries in run AND qrels) is compared with pytrec_eval
to 1e-9; ranx and ir_measures average over every qrels query (missing = 0, like
trec_eval -c), so they are compared with `irbench eval -c` (one extra, untimed run).

Reps are interleaved (rep 1 of every tool, then rep 2, ...) so load spikes on a
shared machine hit all tools alike; ratios are only meaningful within one run.

    python bench/bench_eval.py                          # both scales + DL check
    python bench/bench_eval.py --scales msmarco-dev --reps 5 --json out.json
    python bench/bench_eval.py --scales dl-only         # just the DL latency check
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ANCHORS = SHARED / "bench" / "anchors.py"
GEN = SHARED / "bench" / "gen_synthetic.py"
DATA = REPO / "bench" / ".data"
DL_QRELS = SHARED / "data" / "trec-dl" / "qrels.dl19-passage.txt"
DL_RUN = SHARED / "data" / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt"

SCALES = ("msmarco-dev", "large")
PEERS = ("pytrec_eval", "ranx", "ir_measures")
# Reference processes that only read the run (no evaluation): pyarrow's CSV reader on the whole
# file with irbench's parser options, and irbench's own chunked reader (what `irbench eval`
# spends before any scoring). They show how much of irbench's time is reading.
READERS = {
    "pyarrow-csv": """
import sys, pyarrow as pa, pyarrow.csv as c
names = [f"f{i}" for i in range(6)]
t = c.read_csv(sys.argv[1], read_options=c.ReadOptions(column_names=names, block_size=16 << 20),
    parse_options=c.ParseOptions(delimiter=" ", quote_char=False, double_quote=False,
    escape_char=False, newlines_in_values=False, ignore_empty_lines=True),
    convert_options=c.ConvertOptions(include_columns=["f0", "f2", "f4"], column_types={
    "f0": pa.string(), "f2": pa.string(), "f4": pa.float64()}, null_values=[],
    strings_can_be_null=False, check_utf8=True))
print(t.num_rows)
""",
    "irbench-read": """
import os, sys
from irbench.io.chunks import iter_query_chunks
chunks = iter_query_chunks(sys.argv[1], workers=min(4, os.cpu_count() or 1))
print(sum(c.table.num_rows for c in chunks))
""",
}
TOOLS = ("irbench", *PEERS, *READERS)
# anchors' value keys -> irbench measure names ("K" = run depth)
MEASURES = {
    "ndcg@10": "nDCG@10",
    "rr@10": "RR@10",
    "ap": "AP",
    "r@K": "R@K",
    "p@10": "P@10",
    "rr": "RR",
}
TOL = 1e-9
WALL_TARGET = 10.0  # pytrec_eval wall / irbench wall
MEM_TARGET = 0.5  # irbench RSS / pytrec_eval RSS
DL_TARGET_S = 0.35


def load_anchors() -> ModuleType:
    spec = importlib.util.spec_from_file_location("irbench_shared_anchors", ANCHORS)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {ANCHORS}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def irbench_bin(python: str) -> str:
    cand = Path(python).parent / "irbench"
    return str(cand) if cand.exists() else "irbench"


def ensure_data(scale: str, python: str) -> Path:
    d = DATA / scale
    if (d / "qrels.txt").exists() and (d / "run.sys00.txt").exists() and (d / "meta.json").exists():
        return d
    log(f"generating {scale} into {d} (takes minutes) ...")
    t0 = time.perf_counter()
    subprocess.run(
        [python, str(GEN), str(DATA), "--scale", scale, "--systems", "1"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    log(f"generated {scale} in {time.perf_counter() - t0:.0f} s")
    return d


def timed(anchors: ModuleType, cmd: list[str]) -> tuple[str, str, float, float, int, float]:
    """anchors.timed (wall, wait4 peak RSS) plus the child's CPU seconds (user + sys).

    CPU time is taken as the RUSAGE_CHILDREN delta around the reaped child; on a shared,
    overloaded machine it is far less noisy than wall time.
    """
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, err, wall, rss, rc = anchors.timed(cmd)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return out, err, wall, rss, rc, cpu


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def irbench_cmd(exe: str, qrels: str, run: str, k: int, complete: bool = False) -> list[str]:
    cmd = [exe, "eval", qrels, run]
    for m in MEASURES.values():
        cmd += ["-m", m.replace("K", str(k))]
    cmd += ["--format", "tsv"]
    return cmd + (["-c"] if complete else [])


def parse_irbench_tsv(out: str, k: int) -> dict[str, float]:
    back = {v.replace("K", str(k)): key for key, v in MEASURES.items()}
    vals: dict[str, float] = {}
    for line in out.splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) == 4 and parts[2] == "all" and parts[1] in back:
            vals[back[parts[1]]] = float(parts[3])
    return vals


def max_diff(a: dict[str, float], b: dict[str, float]) -> tuple[float, str]:
    common = [m for m in MEASURES if m in a and m in b]
    if not common:
        return float("nan"), "no common measures"
    diffs = {m: abs(a[m] - b[m]) for m in common}
    worst = max(diffs, key=lambda m: diffs[m])
    bad = [f"{m} {a[m] - b[m]:+.1e}" for m in common if diffs[m] > TOL]
    return diffs[worst], ", ".join(bad)


def run_tool(anchors: ModuleType, tool: str, exe: str, python: str, qrels: str, run: str, k: int):
    """One timed child process: returns dict(wall, rss, values, phases) or dict(error)."""
    if tool == "irbench":
        cmd = irbench_cmd(exe, qrels, run, k)
    elif tool in READERS:
        cmd = [python, "-c", READERS[tool], run]
    else:
        cmd = [python, str(ANCHORS), "_worker", "eval", tool, qrels, run, str(k)]
    out, err, wall, rss, rc, cpu = timed(anchors, cmd)
    if rc != 0:
        tail = err.strip().splitlines()[-1] if err.strip() else f"rc={rc}"
        return dict(error=tail[:300])
    if tool == "irbench":
        return dict(wall=wall, cpu=cpu, rss=rss, values=parse_irbench_tsv(out, k))
    if tool in READERS:
        return dict(wall=wall, cpu=cpu, rss=rss, values={})
    j = json.loads(out.split("@@JSON@@", 1)[1])
    phases = {p: j[p] for p in j if p.startswith("t_") and j[p] is not None}
    return dict(
        wall=wall, cpu=cpu, rss=rss, values=j["values"], values_c=j.get("values_c"), phases=phases
    )


def bench_scale(
    anchors: ModuleType, a: argparse.Namespace, name: str, qrels: str, run: str, k: int
):
    exe = irbench_bin(a.python)
    samples: dict[str, list[dict[str, Any]]] = {t: [] for t in a.tools}
    errors: dict[str, str] = {}
    for rep in range(a.reps):
        for tool in a.tools:
            if tool in errors or (tool in a.slow and rep >= a.slow_reps):
                continue
            r = run_tool(anchors, tool, exe, a.python, qrels, run, k)
            if "error" in r:
                errors[tool] = r["error"]
                log(f"  [{name}] {tool}: ERROR {r['error']}")
                continue
            samples[tool].append(r)
            log(
                f"  [{name}] rep {rep + 1} {tool}: {r['wall']:.2f} s wall, "
                f"{r['cpu']:.2f} s cpu, {r['rss']:.0f} MiB"
            )
    res: dict[str, Any] = {}
    for tool in a.tools:
        if tool in errors:
            res[tool] = dict(error=errors[tool])
            continue
        s = samples[tool]
        res[tool] = dict(
            wall_median=statistics.median(x["wall"] for x in s),
            wall_min=min(x["wall"] for x in s),
            walls=[x["wall"] for x in s],
            cpu_median=statistics.median(x["cpu"] for x in s),
            rss_mib=max(x["rss"] for x in s),
            values=s[0]["values"],
            values_c=s[0].get("values_c"),
            phases={
                p: statistics.median(x["phases"][p] for x in s) for p in s[0].get("phases", {})
            },
        )
    # irbench -c for the all-qrels-queries convention (ranx, ir_measures); untimed
    if "irbench" in res and "error" not in res["irbench"]:
        out, _err, wall, rss, rc = anchors.timed(irbench_cmd(exe, qrels, run, k, complete=True))
        if rc == 0:
            res["irbench"]["values_c"] = parse_irbench_tsv(out, k)
            res["irbench"]["wall_c"] = wall
            res["irbench"]["rss_c"] = rss
    agreement(res)
    return res


def agreement(res: dict[str, Any]) -> None:
    ib = res.get("irbench")
    if not ib or "error" in ib:
        return
    for tool, r in res.items():
        if "error" in r or tool in READERS:
            continue
        if tool == "irbench":
            ref = res.get("pytrec_eval")
            if ref and "error" not in ref:
                d, bad = max_diff(ib["values"], ref["values"])
                r["agree"] = f"= pytrec_eval: max|d| {d:.1e}" + (f" MISMATCH {bad}" if bad else "")
                r["agree_ok"] = not bad
                if ib.get("values_c") and ref.get("values_c"):
                    d, bad = max_diff(ib["values_c"], ref["values_c"])
                    r["agree"] += f"; -c {d:.1e}" + (f" MISMATCH {bad}" if bad else "")
                    r["agree_ok"] = r["agree_ok"] and not bad
            else:
                r["agree"] = "-"
            continue
        if tool == "pytrec_eval":
            d, bad = max_diff(r["values"], ib["values"])
            label = "vs irbench"
        else:  # ranx, ir_measures: every qrels query counts => irbench -c
            if not ib.get("values_c"):
                r["agree"] = "irbench -c failed"
                continue
            d, bad = max_diff(r["values"], ib["values_c"])
            label = "vs irbench -c"
        r["agree"] = f"{label}: max|d| {d:.1e}" + (f" (> 1e-9: {bad})" if bad else "")
        r["agree_ok"] = not bad


def fmt_table(name: str, res: dict[str, Any], k: int) -> list[str]:
    lines = [
        f"### {name} (recall cutoff K={k})",
        "",
        "| tool | wall median (s) | wall min (s) | CPU median (s) | peak RSS (MiB) | "
        "wall / irbench | CPU / irbench | RSS / irbench | agreement |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ib = res.get("irbench", {})
    for tool, r in res.items():
        if "error" in r:
            lines.append(f"| {tool} | error: {r['error']} | | | | | | | |")
            continue
        if "error" not in ib and ib:
            wr = f"{r['wall_median'] / ib['wall_median']:.2f}x"
            mr = f"{r['rss_mib'] / ib['rss_mib']:.2f}x"
            cr = f"{r['cpu_median'] / ib['cpu_median']:.2f}x"
        else:
            wr = mr = cr = "-"
        lines.append(
            f"| {tool} | {r['wall_median']:.2f} | {r['wall_min']:.2f} | {r['cpu_median']:.2f} | "
            f"{r['rss_mib']:.0f} | {wr} | {cr} | {mr} | "
            f"{r.get('agree', 'reads the run only' if tool in READERS else '-')} |"
        )
    pt = res.get("pytrec_eval", {})
    if ib and pt and "error" not in ib and "error" not in pt:
        sp = pt["wall_median"] / ib["wall_median"]
        mem = ib["rss_mib"] / pt["rss_mib"]
        cs = pt["cpu_median"] / ib["cpu_median"]
        lines += [
            "",
            f"targets vs pytrec_eval: speed-up {sp:.2f}x (target >= {WALL_TARGET:.0f}x: "
            f"{'PASS' if sp >= WALL_TARGET else 'FAIL'}; CPU-time ratio {cs:.2f}x); irbench RSS = {mem:.2f} of pytrec_eval's "
            f"(target <= {MEM_TARGET}: {'PASS' if mem <= MEM_TARGET else 'FAIL'}); "
            f"agreement 1e-9: {'PASS' if ib.get('agree_ok') else 'FAIL'}",
        ]
    rd = res.get("irbench-read", {})
    if ib and rd and "error" not in ib and "error" not in rd:
        lines += [
            "",
            f"reading alone (irbench's chunked reader, no scoring) takes {rd['wall_median']:.2f} s "
            f"of irbench's {ib['wall_median']:.2f} s ({rd['cpu_median']:.2f} of "
            f"{ib['cpu_median']:.2f} s CPU)",
        ]
    ph = [
        f"{t}: " + ", ".join(f"{p[2:]} {v:.2f}" for p, v in r["phases"].items())
        for t, r in res.items()
        if "error" not in r and r.get("phases")
    ]
    if ph:
        lines += ["", "peer internal phases, median s (from anchors workers): " + "; ".join(ph)]
    return lines


def dl_check(anchors: ModuleType, a: argparse.Namespace) -> dict[str, Any]:
    if DL_QRELS.exists() and DL_RUN.exists():
        qrels, run, src = str(DL_QRELS), str(DL_RUN), "TREC DL 2019 passage, BM25 run (rank_llm)"
    else:
        d = ensure_data("dl", a.python)
        qrels, run, src = str(d / "qrels.txt"), str(d / "run.sys00.txt"), "synthetic dl scale"
    exe = irbench_bin(a.python)
    cmd = irbench_cmd(exe, qrels, run, 1000)
    walls, cpus, rss, values = [], [], [], {}
    for i in range(a.dl_reps):
        out, err, wall, r, rc, cpu = timed(anchors, cmd)
        if rc != 0:
            return dict(error=err.strip()[-300:], source=src)
        walls.append(wall)
        cpus.append(cpu)
        rss.append(r)
        values = parse_irbench_tsv(out, 1000)
        log(f"  [dl] rep {i + 1}/{a.dl_reps} irbench: {wall:.3f} s wall, {cpu:.3f} s cpu")
    # floor: a bare interpreter start on this machine, same moment
    floor = [timed(anchors, [a.python, "-c", "pass"]) for _ in range(a.dl_reps)]
    return dict(
        source=src,
        qrels=qrels,
        run=run,
        walls=walls,
        wall_median=statistics.median(walls),
        wall_min=min(walls),
        cpu_median=statistics.median(cpus),
        rss_mib=max(rss),
        python_startup_median=statistics.median(x[2] for x in floor),
        python_startup_cpu_median=statistics.median(x[5] for x in floor),
        values=values,
    )


def fmt_dl(d: dict[str, Any]) -> list[str]:
    lines = ["### DL-sized check (43 queries x 1000)", ""]
    if "error" in d:
        return [*lines, f"irbench eval failed: {d['error']}"]
    ok = d["wall_median"] < DL_TARGET_S
    return [
        *lines,
        f"data: {d['source']}",
        "",
        "| irbench eval | wall median (s) | wall min (s) | CPU median (s) | peak RSS (MiB) | "
        "bare `python -c pass` wall / CPU median (s) | target (wall) |",
        "|---|---|---|---|---|---|---|",
        f"| 5 measures + RR, tsv | {d['wall_median']:.3f} | {d['wall_min']:.3f} | "
        f"{d['cpu_median']:.3f} | {d['rss_mib']:.0f} | {d['python_startup_median']:.3f} / "
        f"{d['python_startup_cpu_median']:.3f} | "
        f"< {DL_TARGET_S} s: {'PASS' if ok else 'FAIL'} |",
    ]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (
        f"{platform.node()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"load avg {' '.join(f'{x:.1f}' for x in load)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--scales",
        nargs="*",
        default=list(SCALES),
        choices=[*SCALES, "dl", "tiny", "dl-only"],
        help="synthetic scales to time (gen_synthetic.py names); 'dl-only' skips them",
    )
    ap.add_argument("--reps", type=int, default=3, help="runs per tool per scale (median)")
    ap.add_argument("--tools", nargs="*", default=list(TOOLS), choices=list(TOOLS))
    ap.add_argument(
        "--slow",
        nargs="*",
        default=[],
        choices=list(PEERS),
        help="peers timed only --slow-reps times (e.g. ir_measures on a loaded machine)",
    )
    ap.add_argument("--slow-reps", type=int, default=1)
    ap.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the untimed ranx run that fills numba's compile cache before timing",
    )
    ap.add_argument("--dl-reps", type=int, default=5, help="runs of the DL latency check")
    ap.add_argument("--no-dl", action="store_true", help="skip the DL latency check")
    ap.add_argument("--run", default="run.sys00.txt", help="run file inside each scale dir")
    ap.add_argument("--python", default=sys.executable, help="interpreter with all tools")
    ap.add_argument("--json", help="write raw results here")
    a = ap.parse_args()

    anchors = load_anchors()
    if "ranx" in a.tools and not a.no_warmup:
        # ranx JIT-compiles with numba on first use (minutes); cached afterwards. Timing
        # the cold compile would measure numba, not ranx, so fill the cache first.
        d = ensure_data("tiny", a.python)
        log("warming ranx's numba cache (untimed) ...")
        timed(
            anchors,
            [
                a.python,
                str(ANCHORS),
                "_worker",
                "eval",
                "ranx",
                str(d / "qrels.txt"),
                str(d / "run.sys00.txt"),
                "100",
            ],
        )
    started = time.strftime("%Y-%m-%d %H:%M")
    report: dict[str, Any] = dict(date=started, machine=machine(), reps=a.reps, scales={})
    reps = f"reps={a.reps}" + (f" ({', '.join(a.slow)}: {a.slow_reps})" if a.slow else "")
    out_lines = [f"irbench bench_eval, {started}; {report['machine']}; {reps}", ""]
    for scale in [s for s in a.scales if s != "dl-only"]:
        d = ensure_data(scale, a.python)
        meta = json.loads((d / "meta.json").read_text())
        k = int(meta.get("k", 1000))
        qrels, run = str(d / "qrels.txt"), str(d / a.run)
        title = f"{scale}: {meta.get('queries_in_run', '?')} run queries x {k}"
        log(f"== {title}")
        res = bench_scale(anchors, a, scale, qrels, run, k)
        report["scales"][scale] = dict(k=k, meta=meta, results=res)
        table = fmt_table(title, res, k)
        out_lines += [*table, ""]
        log("\n".join(table))  # partial results survive an interrupted run
        if a.json:
            Path(a.json).write_text(json.dumps(report, indent=1))
    if not a.no_dl:
        log("== DL check")
        dl = dl_check(anchors, a)
        report["dl"] = dl
        out_lines += [*fmt_dl(dl), ""]
    report["machine_end"] = machine()
    out_lines.append(f"finished {time.strftime('%Y-%m-%d %H:%M')}; {report['machine_end']}")
    print("\n".join(out_lines))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: irbench's batched randomization test vs ranx's Fisher randomization test.

Workload (issue 3): 10 systems at MS MARCO dev scale (6,980 queries), 3 measures, all 45
pairs, 10,000 permutations. Per-query values are simulated directly (beta-distributed scores
with per-query difficulty and per-system effects), so no run files are needed.

Both libraries get the *same* per-query values in the same process. ranx's test
(``ranx.statistical_tests.compute_statistical_significance(stat_test="fisher")``, the code
``ranx.compare`` runs after evaluating) loops over permutations in numba and visits every
ordered pair (90 for 10 systems); timing all of it takes many minutes, so by default ranx is
timed on 2 systems (2 ordered comparisons x 3 measures = what ranx spends per unordered pair)
and multiplied by 45, printed as an *extrapolation*. ``--ranx-full`` times all 10 systems.
ranx's numba compilation (first call) is timed separately as warm-up and excluded.

Wall-clock and process CPU time are both printed; the machine may be shared, so compare the
ratios measured in the same run. irbench's test is repeated ``--reps`` times and the minimum is
used (timeit's convention: noise only ever adds time); ranx is timed once, which favours ranx.

    python bench/bench_compare.py [--queries 6980] [--permutations 10000] [--reps 5] [--ranx-full]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def simulate(n_sys: int, n_meas: int, n_q: int, seed: int = 0) -> np.ndarray:
    """values[s, m, q] in [0, 1]: query difficulty + system effect + noise, many zeros."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1.0, size=(1, n_meas, n_q))
    effect = np.linspace(-0.2, 0.2, n_sys)[:, None, None]
    noise = rng.normal(0, 0.8, size=(n_sys, n_meas, n_q))
    v = 1 / (1 + np.exp(-(difficulty + effect + noise - 0.5)))
    v[v < 0.25] = 0.0  # queries with nothing relevant retrieved
    return np.round(v, 4)


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systems", type=int, default=10)
    ap.add_argument("--queries", type=int, default=6980)
    ap.add_argument("--permutations", type=int, default=10_000)
    ap.add_argument("--ranx-full", action="store_true", help="time ranx on all systems")
    ap.add_argument("--no-ranx", action="store_true")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of irbench's test (min)")
    args = ap.parse_args()

    from irbench.stats import randomization_test, randomization_test_pairs
    from irbench.stats.align import Aligned
    from irbench.stats.compare import compare_aligned

    measures = ["nDCG@10", "AP", "RR@10"]
    values = simulate(args.systems, len(measures), args.queries)
    s = args.systems
    pairs = [(j, i) for i in range(s) for j in range(i + 1, s)]
    print(
        f"workload: {s} systems, {len(pairs)} pairs, {len(measures)} measures, "
        f"{args.queries} queries, {args.permutations} permutations"
    )
    d = np.stack([values[j] - values[i] for j, i in pairs])  # (45, 3, n)
    walls, cpus = [], []
    for _ in range(args.reps):
        res, w_rep, c_rep = timed(
            randomization_test_pairs, values, pairs, permutations=args.permutations, seed=0
        )
        walls.append(w_rep)
        cpus.append(c_rep)
    w_core, c_core = min(walls), min(cpus)
    print(
        f"irbench randomization_test_pairs ({len(pairs)}x{len(measures)} tests, what compare "
        f"runs), {args.reps} reps: wall min {w_core:.2f} s / median {np.median(walls):.2f} s, "
        f"cpu min {c_core:.2f} s / median {np.median(cpus):.2f} s"
    )
    res_d, w_d, c_d = timed(randomization_test, d, permutations=args.permutations, seed=0)
    print(
        f"irbench randomization_test on the {len(pairs) * len(measures)} difference columns: "
        f"wall {w_d:.2f} s, cpu {c_d:.2f} s (same p-values: "
        f"{bool(np.array_equal(res_d.count, res.count))})"
    )
    w_imp = sum(timed(__import__, mod)[1] for mod in ("scipy.stats", "pandas"))
    print(f"import scipy.stats, pandas (once per process, excluded below): wall {w_imp:.2f} s")
    runs = [f"sys{i:02d}" for i in range(s)]
    data = Aligned(
        values, runs, measures, [str(q) for q in range(args.queries)], "intersection", 0, 0
    )
    _, w_cmp, c_cmp = timed(
        compare_aligned, data, test="randomization", permutations=args.permutations, seed=0
    )
    print(
        f"irbench compare_aligned (test + CI + effects + Holm): wall {w_cmp:.2f} s, cpu {c_cmp:.2f} s"
    )
    if args.no_ranx:
        return

    from ranx.statistical_tests import compute_statistical_significance

    def ranx_scores(idx: list[int]) -> dict[str, dict[str, np.ndarray]]:
        return {
            runs[i]: {m: np.ascontiguousarray(values[i, k]) for k, m in enumerate(measures)}
            for i in idx
        }

    tiny = {r: {m: v[:50] for m, v in sc.items()} for r, sc in ranx_scores([0, 1]).items()}
    _, w_warm, _ = timed(compute_statistical_significance, ["sys00", "sys01"], tiny, "fisher", 10)
    print(f"ranx warm-up (numba compile/load, excluded): wall {w_warm:.2f} s")
    idx = list(range(s)) if args.ranx_full else [0, 1]
    names = [runs[i] for i in idx]
    out, w_rx, c_rx = timed(
        compute_statistical_significance, names, ranx_scores(idx), "fisher", args.permutations
    )
    if args.ranx_full:
        w_all, c_all, how = w_rx, c_rx, "measured"
    else:
        w_all, c_all, how = w_rx * len(pairs), c_rx * len(pairs), "EXTRAPOLATED x45 from 1 pair"
    print(f"ranx fisher, {len(idx)} systems: wall {w_rx:.2f} s, cpu {c_rx:.2f} s")
    print(f"ranx fisher, all {len(pairs)} pairs ({how}): wall {w_all:.1f} s, cpu {c_all:.1f} s")
    # agreement on the pair we timed (ranx p = count/B, irbench (count+1)/(B+1))
    rx = out[frozenset(["sys00", "sys01"])]
    k = pairs.index((1, 0))
    for m_i, m in enumerate(measures):
        print(
            f"  p({m}, sys01 vs sys00): irbench {res.p_value[k, m_i]:.4f} "
            f"+- {res.mc_se[k, m_i]:.4f}, ranx {rx[m]['p_value']:.4f}"
        )
    print(
        f"speed-up irbench test vs ranx (same run): wall {w_all / w_core:.0f}x "
        f"(median rep {w_all / float(np.median(walls)):.0f}x), "
        f"cpu {c_all / max(c_core, 1e-9):.0f}x; full compare_aligned: wall {w_all / w_cmp:.0f}x"
    )
    print("target: irbench test < 2 s and >= 50x faster than ranx")


if __name__ == "__main__":
    main()

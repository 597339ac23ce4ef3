"""Paper tables: systems as rows, (dataset x measure) as columns, a BEIR-style average, and
significance markers against named baselines (superscript letters as in ranx, or daggers).

The numbers come from the leaderboard (:func:`irbench.report.leaderboard.build_leaderboard`:
same scoring, conditions, spec files, CQADupStack grouping and average) and the markers from
:func:`irbench.stats.compare_per_query`, called per dataset and baseline exactly as
``irbench compare QRELS <the dataset's runs> -m <the measures> --baseline B`` calls it: the
correction family of a marker is, per dataset and baseline, every other system x every measure
(``family="all"``; ``"measure"``: each measure's systems), so a cell's marker is the decision
``compare`` prints for that pair and measure. Group and average columns have no markers.

Extra columns (latency, Judged@10 ...) plug in with :meth:`PaperTable.add_column` and text
beside a value (``± std``, a CI, Judged@10 ...) with :class:`Annotation`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from irbench.errors import ComparabilityError, InputFormatError

__all__ = [
    "CI",
    "STD",
    "Annotation",
    "ColumnSpec",
    "PaperTable",
    "build_table",
    "display_label",
    "table",
]

#: Marker symbols with ``markers="dagger"``: one per baseline, in order.
DAGGERS = ("†", "‡", "§", "¶")


@dataclass(frozen=True)
class ColumnSpec:
    """A kind of column under every dataset: a measure, or an extra value such as latency.

    ``key`` is the frame's ``measure`` value; ``label`` the header (default ``key``);
    ``higher_is_better`` decides bold/underline; ``significance`` whether markers are shown;
    ``decimals``/``percent`` override the table's number format (``None``: the table's).
    """

    key: str
    label: str | None = None
    higher_is_better: bool = True
    significance: bool = True
    decimals: int | None = None
    percent: bool | None = None

    @property
    def header(self) -> str:
        return self.label or self.key


@dataclass(frozen=True)
class Annotation:
    """Text shown after a cell's value (plain Unicode; renderers escape it).

    ``text(table, row)`` gets the :class:`PaperTable` and the cell's frame row (a pandas
    Series with ``dataset``, ``run``, ``measure``, ``value`` ...) and returns ``""`` for none.
    """

    name: str
    text: Callable[[PaperTable, Any], str]


def _std_text(t: PaperTable, row: Any) -> str:
    std = row.get("std", math.nan)
    return "" if not _finite(std) else f" ± {t.number(std, row['measure'])}"


def _ci_text(t: PaperTable, row: Any) -> str:
    lo, hi = row.get("ci_low", math.nan), row.get("ci_high", math.nan)
    if not (_finite(lo) and _finite(hi)):
        return ""
    return f" [{t.number(lo, row['measure'])}, {t.number(hi, row['measure'])}]"


#: ``± std`` over queries (sample standard deviation).
STD = Annotation("std", _std_text)
#: The ``1 - alpha`` Student-t interval of the mean over queries (as the leaderboard's).
CI = Annotation("ci", _ci_text)


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


_DL = re.compile(r"^(?:trec[-_]?)?dl[-_]?(\d\d)(?:[-_].*)?$", re.IGNORECASE)


def display_label(name: str) -> str:
    """Header of a dataset as papers write it: ``dl19``/``dl19-passage`` -> ``DL19``,
    ``cqadupstack`` -> ``CQADupStack``, ``average`` -> ``Avg.``; else the name itself."""
    from irbench.report.average import CQADUPSTACK
    from irbench.report.leaderboard import AVERAGE

    m = _DL.match(name)
    if m:
        return f"DL{m.group(1)}"
    return {AVERAGE: "Avg.", CQADUPSTACK: "CQADupStack", "dev": "Dev"}.get(name, name)


@dataclass
class PaperTable:
    """A paper table: the long ``frame`` (one row per dataset, system and column key) and how
    to show it. Render with :meth:`to_latex`, :meth:`to_markdown`, :meth:`to_csv`,
    :meth:`to_html` or :meth:`render`."""

    frame: Any  # pandas DataFrame, see build_table
    systems: list[str]
    datasets: list[str]  # column groups in order (datasets, groups, "average")
    labels: dict[str, str]
    columns: list[ColumnSpec]
    baselines: list[str]
    markers: str = "letters"
    test: str = "t"
    correction: str = "holm"
    alpha: float = 0.05
    family: str = "all"
    decimals: int = 4
    percent: bool = False
    underline: bool = True
    layout: str = "dataset"  # dataset: datasets on top, measures below; measure: the reverse
    annotations: list[Annotation] = field(default_factory=list)
    caption: str | None = None
    label: str | None = None

    # ----------------------------------------------------------------- plug-in points
    def add_column(self, spec: ColumnSpec, values: Any) -> None:
        """Add a column kind from a DataFrame with ``dataset``, ``run``, ``value`` (e.g. mean
        latency per query); every dataset of the table gets it, bold/underline included."""
        import pandas as pd

        if spec.key in {c.key for c in self.columns}:
            raise InputFormatError(f"the table already has a column {spec.key!r}")
        rows = pd.DataFrame(values).copy()
        missing = {"dataset", "run", "value"} - set(rows.columns)
        if missing:
            raise InputFormatError(f"column {spec.key!r}: values lack {sorted(missing)}")
        rows["measure"] = spec.key
        rows["kind"] = rows["dataset"].map(self.frame.groupby("dataset")["kind"].first())
        self.columns.append(spec)
        self.frame = pd.concat([self.frame, rows], ignore_index=True)
        self._mark_best()

    def annotate(self, annotation: Annotation) -> None:
        """Show ``annotation``'s text after every value."""
        self.annotations.append(annotation)

    # ----------------------------------------------------------------- formatting
    def spec(self, key: str) -> ColumnSpec:
        return next(c for c in self.columns if c.key == key)

    def number(self, value: float, key: str) -> str:
        """``value`` as shown in column ``key`` (decimals, percent); ``–`` for no value."""
        if not _finite(value):
            return "–"
        spec = self.spec(key)
        pct = self.percent if spec.percent is None else spec.percent
        dec = spec.decimals if spec.decimals is not None else self.decimals
        return f"{value * 100 if pct else value:.{dec}f}"

    def letter(self, baseline: str) -> str:
        i = self.baselines.index(baseline)
        if self.markers == "dagger":
            return DAGGERS[i]
        return chr(ord("a") + i) if i < 26 else str(i)

    def cell(self, dataset: str, run: str, key: str) -> Any:
        """The frame row of a cell, or None."""
        f = self.frame
        hit = f[(f["dataset"] == dataset) & (f["run"] == run) & (f["measure"] == key)]
        return None if hit.empty else hit.iloc[0]

    def grid(self) -> list[tuple[str, str]]:
        """The (dataset, key) of each value column, left to right."""
        if self.layout == "measure":
            return [(d, c.key) for c in self.columns for d in self.datasets if self._has(d, c)]
        return [(d, c.key) for d in self.datasets for c in self.columns if self._has(d, c)]

    def _has(self, dataset: str, spec: ColumnSpec) -> bool:
        f = self.frame
        return bool(((f["dataset"] == dataset) & (f["measure"] == spec.key)).any())

    def legend(self) -> str:
        """The caption text: markers, test, correction family, alpha; bold/underline."""
        parts = []
        if self.baselines:
            if self.markers == "dagger":
                who = ", ".join(f"{b} ({self.letter(b)})" for b in self.baselines)
            else:
                who = ", ".join(f"({self.letter(b)}) {b}" for b in self.baselines)
            what = "Superscript letters" if self.markers == "letters" else "Symbols"
            fam = (
                "every other system and measure"
                if self.family == "all"
                else "every other system, per measure"
            )
            parts.append(
                f"{what} mark a significant improvement over {who}: "
                f"{_TESTS.get(self.test, self.test)}, {_CORRECTIONS.get(self.correction, self.correction)} "
                f"per dataset and baseline over {fam} (as irbench compare --baseline), "
                f"alpha = {self.alpha:g}."
            )
        parts.append(
            "Best value per column in bold" + (", second underlined." if self.underline else ".")
        )
        if any(self.frame["kind"] == "average"):
            parts.append(
                "Avg.: mean over datasets"
                + (
                    " (CQADupStack's forums averaged first)."
                    if any(self.frame["kind"] == "group")
                    else "."
                )
            )
        return " ".join(parts)

    def _mark_best(self) -> None:
        """``best``/``second`` per column over the systems, on the values as displayed (equal
        displayed values share the mark)."""
        import numpy as np

        f = self.frame
        best = np.zeros(len(f), dtype=bool)
        second = np.zeros(len(f), dtype=bool)
        for (_, key), idx in f.groupby(["dataset", "measure"], sort=False).groups.items():
            spec = self.spec(key)
            shown = {i: self.number(f.at[i, "value"], key) for i in idx}
            vals = sorted(
                {float(s) for s in shown.values() if s != "–"}, reverse=spec.higher_is_better
            )
            for i, s in shown.items():
                if s == "–":
                    continue
                pos = vals.index(float(s))
                best[f.index.get_loc(i)] = pos == 0
                second[f.index.get_loc(i)] = pos == 1
        f["best"], f["second"] = best, second

    # ----------------------------------------------------------------- output
    def to_latex(self, *, standalone: bool = False) -> str:
        from irbench.report.table_render import render_latex

        return render_latex(self, standalone=standalone)

    def to_markdown(self) -> str:
        from irbench.report.table_render import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        from irbench.report.table_render import render_html

        return render_html(self)

    def to_csv(self, *, wide: bool = False) -> str:
        from irbench.report.table_render import render_csv

        return render_csv(self, wide=wide)

    def render(self, fmt: str) -> str:
        """``latex``, ``markdown``, ``csv``, ``csv-wide`` or ``html``."""
        if fmt == "latex":
            return self.to_latex()
        if fmt == "markdown":
            return self.to_markdown()
        if fmt in ("csv", "csv-wide"):
            return self.to_csv(wide=fmt == "csv-wide")
        if fmt == "html":
            return self.to_html()
        raise InputFormatError(
            f"unknown table format {fmt!r}: latex, markdown, csv, csv-wide, html"
        )


_CORRECTIONS = {
    "holm": "Holm correction",
    "bonferroni": "Bonferroni correction",
    "holm-sidak": "Holm-Sidak correction",
    "bh": "Benjamini-Hochberg correction",
    "none": "no correction",
}
_TESTS = {
    "t": "paired t-test",
    "wilcoxon": "Wilcoxon signed-rank test",
    "sign": "sign test",
    "randomization": "paired randomization test",
    "bootstrap": "paired bootstrap test",
    "tukey": "Tukey HSD",
    "tukey-randomized": "randomized Tukey HSD",
}


def _significance(
    board: Any,
    baselines: Sequence[str],
    *,
    test: str,
    correction: str,
    alpha: float,
    family: str,
    permutations: int,
    seed: int,
) -> dict[tuple[str, str, str, str], Any]:
    """``(dataset, run, measure, baseline) -> compare row``: per dataset and baseline, one
    :func:`compare_per_query` over the dataset's runs and measures, as ``irbench compare``."""
    import pandas as pd

    from irbench.engine.evaluator import results_table
    from irbench.report.leaderboard import _resolve_baseline
    from irbench.stats import compare_per_query

    out: dict[tuple[str, str, str, str], Any] = {}
    for ds in board.datasets:
        if len(ds.runs) < 2:
            continue
        per_query = pd.concat(
            [results_table(r.scores).to_pandas() for r in ds.runs], ignore_index=True
        )
        for b in baselines:
            base = _resolve_baseline(ds, b)
            df = compare_per_query(
                per_query,
                baseline=base,
                test=test,
                correction=correction,
                alpha=alpha,
                permutations=permutations,
                seed=seed,
                queries="zeros" if ds.conditions.complete else "intersection",
                family="all" if family == "all" else "measure",
            )
            for r in df.itertuples(index=False):
                out[(ds.name, r.run, r.measure, b)] = r
    return out


def _column_order(
    datasets: Sequence[str], groups: dict[str, str | None], expand: bool
) -> list[str]:
    """Datasets in spec order, a group at its first member (after its last one with
    ``expand``, the members shown too), then the average."""
    from irbench.report.leaderboard import AVERAGE

    out: list[str] = []
    for i, d in enumerate(datasets):
        g = groups.get(d)
        if g is None or expand:
            out.append(d)
        last = g is not None and all(groups.get(x) != g for x in datasets[i + 1 :])
        if g is not None and g not in out and (not expand or last):
            out.append(g)
    return [*out, AVERAGE]


def build_table(
    datasets: Sequence[Any],
    measures: Any,
    *,
    baselines: Sequence[str] = (),
    conditions: Any = None,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    family: str = "all",
    permutations: int = 10_000,
    seed: int = 0,
    markers: str = "letters",
    average: bool = True,
    expand_groups: bool = False,
    systems: Sequence[str] | None = None,
    order: Sequence[str] | None = None,
    force: bool = False,
    engine: Any = None,
    **style: Any,
) -> PaperTable:
    """Score ``datasets`` (:class:`~irbench.report.leaderboard.DatasetSpec`) and build the
    :class:`PaperTable`; see :func:`table` for the parameters."""
    import numpy as np
    import pandas as pd

    from irbench.report.leaderboard import AVERAGE, _resolve_baseline, build_leaderboard

    if markers not in ("letters", "dagger"):
        raise InputFormatError(f"markers must be 'letters' or 'dagger' (got {markers!r})")
    if markers == "dagger" and len(baselines) > len(DAGGERS):
        raise InputFormatError(
            f"--markers dagger has symbols for {len(DAGGERS)} baselines; use letters for more"
        )
    if family not in ("all", "measure"):
        raise InputFormatError(f"family must be 'all' or 'measure' (got {family!r})")
    board = build_leaderboard(
        datasets,
        measures,
        conditions=conditions,
        alpha=alpha,
        ties=False,
        force=force,
        engine=engine,
        average=average,
    )
    baselines = [_resolve_baseline(board.datasets[0], b) for b in baselines]
    sig = _significance(
        board,
        baselines,
        test=test,
        correction=correction,
        alpha=alpha,
        family=family,
        permutations=permutations,
        seed=seed,
    )
    groups = {g for g in board.groups.values() if g is not None}
    spec_labels = {d.name: d.label for d in datasets if getattr(d, "label", None)}
    lb = board.table
    std = {
        (ds.name, r.name, str(m)): float(np.std(r.scores.values[m], ddof=1))
        if r.scores.values[m].size > 1
        else math.nan
        for ds in board.datasets
        for r in ds.runs
        for m in ds.measures
    }
    rows = []
    for r in lb.itertuples(index=False):
        kind = (
            "average" if r.dataset == AVERAGE else ("group" if r.dataset in groups else "dataset")
        )
        if kind == "dataset" and board.groups.get(r.dataset) and not expand_groups:
            continue  # shown through its group's column
        row: dict[str, Any] = {
            "dataset": r.dataset,
            "kind": kind,
            "run": r.run,
            "measure": r.measure,
            "value": r.value,
            "n_queries": r.n_queries,
            "std": std.get((r.dataset, r.run, r.measure), math.nan),
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "ignore_identical_ids": r.ignore_identical_ids,
        }
        marks = []
        for i, b in enumerate(baselines):
            c = sig.get((r.dataset, r.run, r.measure, b))
            better = bool(c is not None and c.significant and c.delta > 0)
            row[f"delta_vs_{b}"] = float(c.delta) if c is not None else math.nan
            row[f"p_adjusted_vs_{b}"] = float(c.p_adjusted) if c is not None else math.nan
            row[f"significant_vs_{b}"] = bool(c.significant) if c is not None else False
            row[f"better_vs_{b}"] = better
            if better:
                marks.append(DAGGERS[i] if markers == "dagger" else chr(ord("a") + i))
        row["marker"] = "".join(marks)
        rows.append(row)
    frame = pd.DataFrame(rows)
    names = _column_order([d.name for d in board.datasets], board.groups, expand_groups)
    names = [n for n in names if n in set(frame["dataset"])]
    if order is not None:
        unknown = [d for d in order if d not in names]
        if unknown:
            raise InputFormatError(
                f"unknown dataset(s) {unknown} in the order; the table has {names}"
            )
        names = list(order) + ([AVERAGE] if AVERAGE in names and AVERAGE not in order else [])
        frame = frame[frame["dataset"].isin(names)].reset_index(drop=True)
    runs = list(dict.fromkeys(frame["run"]))
    if systems is not None:
        unknown = [s for s in systems if s not in runs]
        if unknown:
            raise InputFormatError(f"unknown system(s) {unknown}; the runs are {runs}")
        runs = list(systems)
        frame = frame[frame["run"].isin(runs)].reset_index(drop=True)
    for b in baselines:
        if b not in runs:
            raise ComparabilityError(f"baseline {b!r} is not one of the table's systems {runs}")
    cols = [ColumnSpec(str(m)) for m in board.datasets[0].measures]
    t = PaperTable(
        frame=frame,
        systems=runs,
        datasets=names,
        labels={d: spec_labels.get(d) or display_label(d) for d in names},
        columns=cols,
        baselines=list(baselines),
        markers=markers,
        test=test,
        correction=correction,
        alpha=alpha,
        family=family,
        **style,
    )
    t._mark_best()
    return t


def table(
    qrels: Any = None,
    runs: Any = None,
    measures: Any = None,
    *,
    spec: str | os.PathLike[str] | None = None,
    baselines: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    dataset: str | None = None,
    complete: bool = False,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    ignore_identical_ids: bool = False,
    std: bool = False,
    ci: bool = False,
    **options: Any,
) -> PaperTable:
    """A paper table of systems x (dataset x measure), with significance markers.

    One dataset from ``qrels`` and ``runs`` (runs named ``names``, else as ``irbench eval``; the
    dataset ``dataset``, else after the qrels file), or many
    from a leaderboard spec (TOML, :func:`irbench.report.leaderboard.load_spec`; its
    ``measures`` and ``baselines``/``baseline`` apply unless given here).

    Options: ``baselines`` (names; markers mark a significant improvement over each),
    ``test``, ``correction``, ``alpha``, ``family`` (``all``/``measure``), ``permutations``,
    ``seed`` (as :func:`irbench.compare`); ``markers`` (``letters`` a, b, c... or ``dagger``);
    ``average`` (BEIR average column, with several datasets), ``expand_groups`` (show each
    CQADupStack forum too), ``systems`` and ``order`` (row and dataset order/subset),
    ``decimals`` (4), ``percent``, ``underline`` (second best), ``layout`` (``dataset`` or
    ``measure`` on top), ``caption``, ``label``; ``std``/``ci`` add ``± std`` or the CI after
    each value; the trec_eval conditions and ``ignore_identical_ids`` as in
    :func:`irbench.leaderboard`. The result's ``frame`` is the long DataFrame (one row per
    dataset, system and measure, with the value, std, CI, ``best``/``second``, ``marker`` and
    per baseline ``delta_vs_B``, ``p_adjusted_vs_B``, ``significant_vs_B``, ``better_vs_B``).

    Examples
    --------
    >>> import irbench
    >>> t = irbench.table("qrels.txt", ["bm25.run", "splade.run"], "nDCG@10",
    ...                   baselines="bm25")  # doctest: +SKIP
    >>> print(t.to_latex())  # doctest: +SKIP
    """
    from irbench.report.leaderboard import DatasetSpec, load_spec
    from irbench.report.scoring import Conditions

    cond = Conditions(
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        complete=complete,
        ignore_identical_ids=ignore_identical_ids,
    )
    if spec is not None:
        if qrels is not None or runs is not None:
            raise InputFormatError("give qrels and runs, or a spec file, not both")
        sets, opts = load_spec(spec)
        measures = measures if measures is not None else opts.get("measures")
        if baselines is None:
            baselines = opts.get("baselines") or (
                [opts["baseline"]] if opts.get("baseline") else None
            )
    else:
        if qrels is None or runs is None:
            raise InputFormatError("give qrels and runs, or a spec file")
        run_list = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs)
        sets = [DatasetSpec(dataset, qrels, run_list, list(names) if names else None)]
    if not measures:
        raise InputFormatError("no measure given (for example -m nDCG@10)")
    base = [baselines] if isinstance(baselines, str) else list(baselines or [])
    t = build_table(sets, measures, baselines=base, conditions=cond, **options)
    if std:
        t.annotate(STD)
    if ci:
        t.annotate(CI)
    return t

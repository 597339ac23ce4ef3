"""The model of a paper table (:class:`PaperTable`): its long frame, column kinds
(:class:`ColumnSpec`), per-cell annotations (:class:`Annotation`), number format, markers and
legend. Built by :func:`irbench.report.table.build_table`; rendered by
:mod:`irbench.report.table_render`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from irbench.errors import InputFormatError

__all__ = [
    "CI",
    "DAGGERS",
    "STD",
    "Annotation",
    "ColumnSpec",
    "PaperTable",
    "display_label",
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
    from irbench.report.average import AVERAGE, CQADUPSTACK

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
        self.mark_best()

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

    def mark_best(self) -> None:
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

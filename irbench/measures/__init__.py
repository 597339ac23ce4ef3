"""Measures: values with one canonical spelling, parsed from ir_measures or trec_eval syntax."""

from __future__ import annotations

from irbench.measures.catalog import CATALOG, Family
from irbench.measures.spec import Measure, parse_measure, parse_measures, trec_eval_name

__all__ = ["CATALOG", "Family", "Measure", "parse_measure", "parse_measures", "trec_eval_name"]

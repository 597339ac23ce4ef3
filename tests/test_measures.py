"""Measure syntax: one canonical spelling, ir_measures and trec_eval inputs, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from irbench.errors import MeasureError
from irbench.measures import CATALOG, Measure, parse_measure, parse_measures, trec_eval_name


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("nDCG@10", "nDCG@10"),
        ("AP(rel=2)", "AP(rel=2)"),
        ("AP(rel=1)", "AP"),
        ("RR@10", "RR@10"),
        ("P@5", "P@5"),
        ("R@1000", "R@1000"),
        ("Judged@10", "Judged@10"),
        ("P(rel=2)@10", "P(rel=2)@10"),
        ("RBP(rel=2,p=0.5)", "RBP(p=0.5,rel=2)"),
        ("RBP(p=0.8)", "RBP"),
        ("nDCG(dcg='exp-log2')@10", "nDCG(dcg='exp-log2')@10"),
        ("nDCG(gains={2:3,0:0, 1:1})@5", "nDCG(gains={0:0,1:1,2:3})@5"),
        ("IPrec@0.5", "IPrec@0.5"),
        ("MAP", "AP"),
        ("NumRelRet", "NumRet(rel=1)"),
        ("R-Prec", "Rprec"),
        ("ERR@20", "ERR@20"),
    ],
)
def test_canonical_spelling(text: str, canonical: str) -> None:
    m = parse_measure(text)
    assert str(m) == canonical
    assert parse_measure(str(m)) == m


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P.5,10", ["P@5", "P@10"]),
        ("ndcg_cut.10", ["nDCG@10"]),
        ("map", ["AP"]),
        ("map_cut.100", ["AP@100"]),
        ("recall.1000", ["R@1000"]),
        ("recip_rank", ["RR"]),
        ("success", ["Success@1", "Success@5", "Success@10"]),
        ("iprec_at_recall.0.5", ["IPrec@0.5"]),
        ("11pt_avg", ["IPrecAvg"]),
        ("num_rel_ret", ["NumRet(rel=1)"]),
        ("ndcg.1=3,2=9", ["nDCG(gains={1:3,2:9})"]),
        ("nDCG@10 AP P.5", ["nDCG@10", "AP", "P@5"]),
    ],
)
def test_trec_eval_names(text: str, expected: list[str]) -> None:
    assert [str(m) for m in parse_measures(text)] == expected


def test_ir_measures_objects_are_accepted() -> None:
    ir_measures = pytest.importorskip("ir_measures")
    got = parse_measures([ir_measures.nDCG @ 10, ir_measures.AP(rel=2), ir_measures.P(rel=2) @ 5])
    assert [str(m) for m in got] == ["nDCG@10", "AP(rel=2)", "P(rel=2)@5"]
    # and our canonical strings parse in ir_measures to the same measure
    for m in got:
        assert str(ir_measures.parse_measure(str(m))) == str(m)


def test_duplicates_are_removed_in_order() -> None:
    assert [str(m) for m in parse_measures(["P@5", "P.5,10", "MAP", "AP"])] == ["P@5", "P@10", "AP"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("nDGC@10", "did you mean nDCG"),
        ("Success(rel=2)", "needs a cutoff"),
        ("Rprec@10", "takes no cutoff"),
        ("P@0", "whole number"),
        ("P@2.5", "whole number"),
        ("AP(foo=1)", "no parameter 'foo'"),
        ("RBP(p=1.5)", "strictly between 0 and 1"),
        ("nDCG(dcg='exp')@10", "must be one of"),
        ("IPrec@1.5", "between 0 and 1"),
        ("AP(rel=", "cannot parse"),
        ("AP)", "cannot parse"),
    ],
)
def test_bad_measures_say_why(text: str, fragment: str) -> None:
    with pytest.raises(MeasureError, match=None) as info:
        parse_measures(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_trec_eval_name() -> None:
    assert trec_eval_name(parse_measure("nDCG@10")) == "ndcg_cut_10"
    assert trec_eval_name(parse_measure("AP")) == "map"
    assert trec_eval_name(parse_measure("IPrec@0.1")) == "iprec_at_recall_0.10"
    assert trec_eval_name(parse_measure("NumRet(rel=1)")) == "num_rel_ret"
    assert trec_eval_name(parse_measure("NumRet")) == "num_ret"
    assert trec_eval_name(parse_measure("Judged@10")) is None


def test_measures_are_hashable_values() -> None:
    assert {parse_measure("AP"), Measure("AP"), Measure("AP", params=(("rel", 1),))} == {
        Measure("AP")
    }


@st.composite
def measures(draw: st.DrawFn) -> Measure:
    fam = CATALOG[draw(st.sampled_from(sorted(CATALOG)))]
    cutoff = None
    if fam.cutoff == "int" and (fam.cutoff_required or draw(st.booleans())):
        cutoff = draw(st.integers(1, 10_000))
    elif fam.cutoff == "float":
        cutoff = draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]))
    params = []
    if "rel" in fam.params and draw(st.booleans()):
        params.append(("rel", draw(st.integers(0, 4))))
    if "p" in fam.params and draw(st.booleans()):
        params.append(("p", draw(st.floats(0.05, 0.95))))
    if "judged_only" in fam.params and draw(st.booleans()):
        params.append(("judged_only", draw(st.booleans())))
    if "gains" in fam.params and draw(st.booleans()):
        params.append(
            ("gains", draw(st.dictionaries(st.integers(0, 4), st.integers(0, 20), max_size=3)))
        )
    return Measure(fam.name, cutoff, tuple(params))


@given(measures())
def test_parse_of_str_round_trips(m: Measure) -> None:
    assert parse_measure(str(m)) == m
    assert hash(parse_measure(str(m))) == hash(m)

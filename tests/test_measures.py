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


# Names people type (issue 15): any case, trec_eval's printed names, ir_measures' aliases.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ndcg@10", "nDCG@10"),
        ("NDCG@10", "nDCG@10"),
        ("mrr", "RR"),
        ("mrr@10", "RR@10"),
        ("MRR@10", "RR@10"),
        ("recall@100", "R@100"),
        ("Recall@100", "R@100"),
        ("map@10", "AP@10"),
        ("Map(Rel=2)", "AP(rel=2)"),
        ("rbp(P=0.5)", "RBP(p=0.5)"),
        ("p@10", "P@10"),
        ("r@1000", "R@1000"),
        ("rprec", "Rprec"),
        ("RPrec", "Rprec"),
        ("precision@5", "P@5"),
        ("bpref", "Bpref"),
        ("numrelret", "NumRet(rel=1)"),
        ("ndcg_cut_10", "nDCG@10"),
        ("NDCG_CUT_10", "nDCG@10"),
        ("P_10", "P@10"),
        ("p_10", "P@10"),
        ("recall_100", "R@100"),
        ("iprec_at_recall_0.10", "IPrec@0.1"),
        ("map_cut_10", "AP@10"),
        ("success_5", "Success@5"),
        ("recip_rank", "RR"),
        ("Recip_Rank", "RR"),
        ("gm_map", "GMAP"),
        ("set_p", "SetP"),
    ],
)
def test_names_people_type(text: str, canonical: str) -> None:
    m = parse_measure(text)
    assert str(m) == canonical
    assert parse_measures(text) == [m]
    assert parse_measure(str(m)) == m


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P_5,10", ["P@5", "P@10"]),
        ("p.5,10", ["P@5", "P@10"]),
        ("NDCG_CUT.10", ["nDCG@10"]),
        ("OFFICIAL", [str(m) for m in parse_measures("official")]),
        ("p", [str(m) for m in parse_measures("P")]),
        ("Recall", [str(m) for m in parse_measures("recall")]),
    ],
)
def test_trec_eval_names_in_any_case(text: str, expected: list[str]) -> None:
    assert [str(m) for m in parse_measures(text)] == expected


def test_every_trec_output_name_parses_back() -> None:
    """What `--format trec` prints (trec_eval_name) is accepted as input to the same measure."""
    for text in ["nDCG@10", "P@5", "R@100", "AP@1000", "Success@5", "IPrec@0.1", "RR", "AP"]:
        m = parse_measure(text)
        name = trec_eval_name(m)
        assert name is not None
        assert parse_measures(name) == [m], name


def test_lower_case_lookup_is_unambiguous() -> None:
    """The rule in spec.py (tables in names.py): lower-cased, each table's names are distinct and a name in both
    tables means the same family."""
    from irbench.measures import names

    irm = {**{n: n for n in CATALOG}, **names.ALIASES}
    for name, family in irm.items():
        assert names.IRM_NAMES[name.lower()] == family, name
    trec = {**names.TREC_PLAIN, **{k: v[0] for k, v in names.TREC_CUT.items()}}
    assert len({k.lower() for k in trec}) == len(trec)
    for name, family in trec.items():
        if name.lower() in names.IRM_NAMES:
            assert names.IRM_NAMES[name.lower()] == family, name
    # parameter names are matched in lower case: they must all be lower case
    assert all(k == k.lower() for fam in CATALOG.values() for k in fam.params)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("mapp", ["map", "AP"]),
        ("MAPP@10", ["map", "AP"]),
        ("ndgc@10", ["nDCG"]),
        ("recip_rnk", ["recip_rank", "RR"]),
        ("ndcg_cutt_10", ["ndcg_cut", "nDCG"]),
    ],
)
def test_unknown_names_get_a_suggestion(text: str, fragments: list[str]) -> None:
    with pytest.raises(MeasureError) as info:
        parse_measures(text)
    message = str(info.value)
    assert "did you mean" in message
    for fragment in fragments:
        assert fragment.lower() in message.lower() if fragment == "map" else fragment in message


def test_cli_eval_prints_the_canonical_spelling() -> None:
    from typer.testing import CliRunner

    from irbench.cli.app import app
    from irbench.datasets.dataset import embedded_dir

    demo = embedded_dir("demo") / "dl19-passage"
    args = ["eval", str(demo / "qrels.txt.gz"), str(demo / "runs" / "bm25.run.gz")]
    result = CliRunner().invoke(app, [*args, "-m", "mrr@10", "-m", "ndcg_cut_10", "-f", "tsv"])
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    column = header.split("\t").index("measure")
    measures = {line.split("\t")[column] for line in lines}
    assert measures == {"RR@10", "nDCG@10"}
    bad = CliRunner().invoke(app, [*args, "-m", "mapp"])
    assert bad.exit_code == 2
    assert "AP" in bad.output and "did you mean" in bad.output


@pytest.mark.parametrize(("text", "family"), [("p", "P"), ("R", "R"), ("mrr@10", "RR")])
def test_cli_measures_finds_a_family_in_any_spelling(text: str, family: str) -> None:
    from typer.testing import CliRunner

    from irbench.cli.app import app

    result = CliRunner().invoke(app, ["measures", text])
    assert result.exit_code == 0, result.output
    assert CATALOG[family].title in result.output

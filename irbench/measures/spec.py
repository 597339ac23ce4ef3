"""Measure values and their one canonical spelling.

A :class:`Measure` is an immutable, hashable value such as ``nDCG@10`` or ``AP(rel=2)``. The
canonical string is ir_measures' syntax with parameters in alphabetical order and default values
left out, so ``parse_measure(str(m)) == m`` always holds. :func:`parse_measures` also accepts
trec_eval names (``ndcg_cut.10``, ``P.5,10``, ``map``) and ir_measures measure objects.

Names are looked up without regard to case (``ndcg@10``, ``mrr@10``, ``recip_rank``, ``p_10``
all work) and printed in the canonical spelling. The rule, which leaves nothing ambiguous: a bare
name is first looked up among trec_eval's names (``P``, ``recall`` and ``success`` alone expand to
trec_eval's default cutoffs, as ``trec_eval -m P`` does), then among ir_measures' families and
aliases (``MAP``, ``MRR``, ``NDCG``, ``Precision``, ``Recall``...). Lower-cased, each table's names
are distinct, and a name found in both tables means the same family in both (``map`` is AP,
``ndcg`` is nDCG), which tests/test_measures.py checks. Parameter names (``rel``, ``p``,
``beta``...) are all lower case and also matched without regard to case; parameter values (such
as ``dcg='exp-log2'``) are taken as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from irbench.errors import MeasureError
from irbench.measures.catalog import CATALOG, Family
from irbench.measures.names import (
    ALIASES,
    NUMRELRET,
    TREC_ALL,
    TREC_CUT,
    TREC_CUT_LOWER,
    TREC_OFFICIAL,
    TREC_PLAIN,
    TREC_PLAIN_LOWER,
    TREC_UNDERSCORE,
    canonical_name,
)

__all__ = ["Measure", "family_name", "parse_measure", "parse_measures", "trec_eval_name"]

Gains = tuple[tuple[int, float], ...]


def _fmt_number(x: float | int) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):  # gains
        return "{" + ",".join(f"{g}:{_fmt_number(x)}" for g, x in v) + "}"
    return _fmt_number(v)


@dataclass(frozen=True, order=True)
class Measure:
    """An evaluation measure: a family name, an optional cutoff and parameters.

    Construct with :func:`parse_measure` (``parse_measure("nDCG@10")``) or directly
    (``Measure("nDCG", 10)``). Parameters equal to their default are dropped, so
    ``Measure("AP", params=(("rel", 1),)) == Measure("AP")``.
    """

    name: str
    cutoff: int | float | None = None
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        family = CATALOG.get(self.name)
        if family is None:
            raise MeasureError(_unknown(self.name))
        cutoff = _check_cutoff(family, self.cutoff)
        object.__setattr__(self, "cutoff", cutoff)
        clean: dict[str, Any] = {}
        for key, value in self.params:
            spec = family.params.get(key)
            if spec is None and key == "judged_only":
                raise MeasureError(_no_judged_only(self.name))
            if spec is None:
                allowed = ", ".join(sorted(family.params)) or "none"
                raise MeasureError(
                    f"{self.name} has no parameter {key!r} (its parameters: {allowed})"
                )
            value = _coerce(self.name, key, spec.kind, value, spec.choices)
            if value is not None and value != spec.default:
                clean[key] = value
        object.__setattr__(self, "params", tuple(sorted(clean.items())))

    @property
    def family(self) -> Family:
        return CATALOG[self.name]

    def __getitem__(self, key: str) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        spec = self.family.params.get(key)
        if spec is None:
            raise KeyError(key)
        return spec.default

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def with_params(self, **updates: Any) -> Measure:
        """A copy with some parameters replaced (``None`` restores the default)."""
        merged = dict(self.params)
        merged.update(updates)
        return Measure(self.name, self.cutoff, tuple((k, v) for k, v in merged.items()))

    def __str__(self) -> str:
        text = self.name
        if self.params:
            text += "(" + ",".join(f"{k}={_fmt_value(v)}" for k, v in self.params) + ")"
        if self.cutoff is not None:
            text += f"@{_fmt_number(self.cutoff)}"
        return text

    def __repr__(self) -> str:
        return f"Measure({str(self)!r})"


def _suggestion_names() -> dict[str, tuple[str, str]]:
    """Lower-cased name -> (spelling shown, canonical family) for every name irbench accepts."""
    out: dict[str, tuple[str, str]] = {}
    for name in CATALOG:
        out[name.lower()] = (name, name)
    for alias, family in ALIASES.items():
        out.setdefault(alias.lower(), (alias, family))
    for trec, family in TREC_PLAIN.items():
        out.setdefault(trec.lower(), (trec, family))
    for trec, (family, _) in TREC_CUT.items():
        out.setdefault(trec.lower(), (trec, family))
    return out


def _unknown(name: str) -> str:
    """An error message for an unknown measure name, with close matches among every name
    (canonical, ir_measures alias or trec_eval), compared in lower case."""
    import difflib

    names = _suggestion_names()
    close = difflib.get_close_matches(name.lower(), list(names), n=4, cutoff=0.5)
    shown: dict[str, str] = {}
    for key in close:
        spelled, family = names[key]
        text = family if spelled.lower() == family.lower() else f"{spelled} (= {family})"
        shown.setdefault(family, text)
    hint = f"; did you mean {', '.join(list(shown.values())[:3])}?" if shown else ""
    return f"unknown measure {name!r}{hint} (`irbench measures` lists them all)"


def _no_judged_only(name: str) -> str:
    from irbench.measures.catalog import JUDGED_ONLY_FAMILIES

    takes = ", ".join(sorted(JUDGED_ONLY_FAMILIES, key=str.lower))
    return (
        f"{name} takes no judged_only parameter (as in ir_measures, it is taken by {takes}); "
        "use -J (judged_only=True for the whole evaluation) to drop unjudged documents for "
        "every measure"
    )


def _check_cutoff(family: Family, cutoff: Any) -> int | float | None:
    if cutoff is None:
        if family.cutoff_required:
            raise MeasureError(f"{family.name} needs a cutoff, e.g. {family.name}@10")
        return None
    if family.cutoff is None:
        raise MeasureError(f"{family.name} takes no cutoff (got @{cutoff})")
    if family.cutoff == "int":
        if isinstance(cutoff, bool) or not float(cutoff).is_integer() or cutoff < 1:
            raise MeasureError(f"{family.name}@k needs a whole number k >= 1 (got @{cutoff})")
        return int(cutoff)
    value = float(cutoff)
    if not 0.0 <= value <= 1.0:
        raise MeasureError(f"{family.name}@r needs a recall level between 0 and 1 (got @{cutoff})")
    return value


def _coerce(name: str, key: str, kind: str, value: Any, choices: tuple[Any, ...] | None) -> Any:
    if value is None:
        return None
    try:
        if kind == "int":
            if isinstance(value, bool) or not float(value).is_integer():
                raise ValueError
            out: Any = int(value)
        elif kind == "float":
            out = float(value)
        elif kind == "str":
            if not isinstance(value, str):
                raise ValueError
            out = value
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ValueError
            out = value
        elif kind == "gains":
            items = value.items() if isinstance(value, dict) else value
            out = tuple(sorted((int(g), float(x)) for g, x in items))
        else:  # pragma: no cover - catalog error
            raise ValueError
    except (TypeError, ValueError):
        raise MeasureError(f"{name}: parameter {key}={value!r} is not a valid {kind}") from None
    if choices is not None and out not in choices:
        raise MeasureError(f"{name}: {key} must be one of {', '.join(map(repr, choices))}")
    if key == "p" and not 0.0 < out < 1.0:
        raise MeasureError(f"{name}: p must lie strictly between 0 and 1 (got {out})")
    return out


# --------------------------------------------------------------------------- ir_measures syntax

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
      | (?P<sym>[(),=@{}:])
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise MeasureError(f"cannot parse measure {text!r} at {text[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _number(s: str) -> int | float:
    return int(s) if re.fullmatch(r"[-+]?\d+", s) else float(s)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            want = value or kind or "more"
            got = tok[1] if tok else "end of text"
            raise MeasureError(f"cannot parse measure {self.text!r}: expected {want}, got {got!r}")
        self.i += 1
        return tok[1]

    def value(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise MeasureError(f"cannot parse measure {self.text!r}: a value is missing")
        kind, text = tok
        if kind == "num":
            self.i += 1
            return _number(text)
        if kind == "str":
            self.i += 1
            return text[1:-1]
        if kind == "name" and text in ("True", "False", "true", "false"):
            self.i += 1
            return text.lower() == "true"
        if text == "{":
            self.i += 1
            pairs: list[tuple[Any, Any]] = []
            while self.peek() and self.peek() != ("sym", "}"):
                key = _number(self.take("num"))
                self.take("sym", ":")
                pairs.append((key, _number(self.take("num"))))
                if self.peek() == ("sym", ","):
                    self.i += 1
            self.take("sym", "}")
            return dict(pairs)
        raise MeasureError(f"cannot parse measure {self.text!r}: unexpected {text!r}")

    def measure(self) -> Measure:
        name = canonical_name(self.take("name"))
        params: list[tuple[str, Any]] = []
        if self.peek() == ("sym", "("):
            self.i += 1
            while self.peek() != ("sym", ")"):
                key = self.take("name").lower()  # every parameter name is lower case
                self.take("sym", "=")
                params.append((key, self.value()))
                if self.peek() == ("sym", ","):
                    self.i += 1
                elif self.peek() != ("sym", ")"):
                    self.take("sym", ")")
            self.take("sym", ")")
        cutoff = None
        if self.peek() == ("sym", "@"):
            self.i += 1
            cutoff = _number(self.take("num"))
        if self.peek() is not None:
            raise MeasureError(f"cannot parse measure {self.text!r}: trailing {self.peek()[1]!r}")  # type: ignore[index]
        if name == NUMRELRET:
            name, params = "NumRet", [*params, ("rel", dict(params).get("rel", 1))]
        return Measure(name, cutoff, tuple(params))


def parse_measure(text: str) -> Measure:
    """Parse one measure in ir_measures syntax, e.g. ``"nDCG@10"`` or ``"P(rel=2)@5"``, or a
    trec_eval name that names one measure (``"ndcg_cut_10"``, ``"recip_rank"``), in any case.

    Raises
    ------
    MeasureError
        If the text is not a measure irbench knows, with close matches.
    """
    if not isinstance(text, str):
        raise MeasureError(f"a measure must be a string, got {type(text).__name__}")
    trec = _parse_trec(text.strip())
    if trec is not None and len(trec) == 1:  # a trec_eval name of one measure: recip_rank, P_10
        return trec[0]
    return _Parser(text).measure()


# --------------------------------------------------------------------------- trec_eval names


def _trec_cuts(text: str, name: str, rest: str) -> list[Measure]:
    family, _ = TREC_CUT_LOWER[name.lower()]
    try:
        cuts = [_number(c) for c in rest.split(",") if c]
    except ValueError:
        raise MeasureError(f"trec_eval measure {text!r}: cutoffs must be numbers") from None
    return [Measure(family, c) for c in cuts]


def _parse_trec(text: str) -> list[Measure] | None:
    """trec_eval's name ``text`` (any case) as measures, or None if it is not one."""
    lower = text.lower()
    if lower in ("official", "all_trec"):
        out: list[Measure] = []
        for name in TREC_OFFICIAL if lower == "official" else TREC_ALL:
            out.extend(_parse_trec(name) or [])
        return out
    if lower == "num_rel_ret":
        return [Measure("NumRet", params=(("rel", 1),))]
    underscore = TREC_UNDERSCORE.fullmatch(text)
    if underscore:
        return _trec_cuts(text, underscore["name"], underscore["cuts"])
    name, dot, rest = lower.partition(".")
    if name in TREC_PLAIN_LOWER and not dot:
        return [Measure(TREC_PLAIN_LOWER[name])]
    if name == "ndcg" and dot:
        gains = {}
        for pair in rest.split(","):
            level, eq, gain = pair.partition("=")
            if not eq:
                raise MeasureError(f"trec_eval measure {text!r}: ndcg takes level=gain pairs")
            gains[int(level)] = float(gain)
        return [Measure("nDCG", params=(("gains", gains),))]
    if name in TREC_CUT_LOWER:
        if not dot:
            family, defaults = TREC_CUT_LOWER[name]
            return [Measure(family, c) for c in defaults]
        return _trec_cuts(text, name, rest)
    return None


def trec_eval_name(measure: Measure) -> str | None:
    """trec_eval's output name for ``measure`` (``ndcg_cut_10``), or None if it has none."""
    fam = measure.family
    if measure.name == "NumRet" and measure.get("rel") is not None:
        return "num_rel_ret" if measure["rel"] is not None else "num_ret"
    extra = {k for k, _ in measure.params} - {"rel"}
    if extra:
        return None
    if measure.cutoff is None:
        return fam.trec_name
    if fam.trec_cut_name is None:
        return None
    cut = measure.cutoff
    if measure.name == "IPrec":
        return f"{fam.trec_cut_name}_{cut:.2f}"
    return f"{fam.trec_cut_name}_{cut}"


def _from_object(obj: Any) -> Measure:
    """Convert an ir_measures measure object (anything with NAME and params)."""
    name = canonical_name(obj.NAME)
    params = dict(getattr(obj, "params", {}) or {})
    cutoff = params.pop("cutoff", None)
    if name == "IPrec":
        cutoff = params.pop("recall", cutoff)
    if name == NUMRELRET:
        name = "NumRet"
    return Measure(name, cutoff, tuple(params.items()))


def parse_measures(specs: str | Measure | Any | Iterable[Any]) -> list[Measure]:
    """Parse measures given as strings (ir_measures or trec_eval syntax), objects or lists.

    A string may hold several measures separated by whitespace; trec_eval names may expand to
    several measures (``P.5,10`` gives ``P@5`` and ``P@10``; ``official`` gives trec_eval's
    default set). Duplicates are removed, first occurrence kept.
    """
    if isinstance(specs, (str, Measure)) or hasattr(specs, "NAME"):
        specs = [specs]
    out: list[Measure] = []
    for spec in specs:
        if isinstance(spec, Measure):
            out.append(spec)
        elif isinstance(spec, str):
            for part in _split_top_level(spec):
                trec = _parse_trec(part)
                out.extend(trec if trec is not None else [parse_measure(part)])
        elif hasattr(spec, "NAME"):
            out.append(_from_object(spec))
        else:
            raise MeasureError(f"cannot read {spec!r} as a measure")
    return list(dict.fromkeys(out))


def family_name(text: str) -> str:
    """The canonical family a name means, in any case and any accepted spelling: ``"p"``,
    ``"mrr@10"``, ``"ndcg_cut_10"`` and ``"R"`` give ``"P"``, ``"RR"``, ``"nDCG"`` and ``"R"``."""
    name = canonical_name(text.strip())
    if name in CATALOG:
        return name
    return parse_measures(text)[0].name


def _split_top_level(text: str) -> list[str]:
    """Split on whitespace outside brackets and quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch.isspace() and depth == 0:
            if cur:
                parts.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return parts

"""Text analysis for lexical rankers: tokenise, lowercase, drop stopwords, stem.

The chain follows Anserini's default English analyzer (``DefaultEnglishAnalyzer``: Lucene's
``StandardTokenizer`` → ``EnglishPossessiveFilter`` → ``LowerCaseFilter`` → ``StopFilter``
with ``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`` → ``PorterStemFilter``), vectorised over Arrow:

1. The whole column is split at one RE2 pattern (:data:`TOKEN_SEPARATORS`, replaced by a
   space with ``pyarrow.compute.replace_substring_regex``, then split); a token is a run of Unicode letters, marks, digits
   and ``_``, which may contain ``'``, ``’`` and ``.`` (so ``don't``, ``e.g.`` and ``3.14``
   stay whole, as in Unicode word segmentation, UAX #29).
2. The token occurrences are dictionary-encoded; every later step runs once per *unique*
   token of the batch (:meth:`Analyzer.normalize`), never per occurrence: lowercase, strip
   ``'`` / ``.`` at both ends, drop a final ``'s`` (possessive), drop stopwords, stem.
3. Occurrences are mapped through that per-vocabulary lookup with numpy.

Differences from Lucene's ``StandardTokenizer`` (UAX #29): ``'`` and ``.`` join any word
characters (UAX #29 joins ``.`` only between two letters or two digits, and never joins a
run such as ``...``); ``,`` and ``;`` between digits split (``1,000`` → ``1``, ``000``);
CJK ideographs are not split into single characters; there is no 255-character token limit.

References
----------
Lucene ``EnglishAnalyzer`` / ``EnglishPossessiveFilter`` / ``PorterStemFilter``,
https://lucene.apache.org/core/9_9_0/analysis/common/ ;
Anserini ``DefaultEnglishAnalyzer``, https://github.com/castorini/anserini ;
M. F. Porter, "An algorithm for suffix stripping", *Program* 14(3), 1980 (``porter``);
Snowball English ("Porter2"), https://snowballstem.org/algorithms/english/stemmer.html
(``snowball``); both through PyStemmer (https://github.com/snowballstem/pystemmer).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import single_chunk, to_numpy
from irbench.errors import RankerError

__all__ = [
    "ENGLISH_STOPWORDS",
    "STEMMERS",
    "STOPWORD_LISTS",
    "TOKEN_SEPARATORS",
    "Analyzed",
    "Analyzer",
]

#: Lucene's ``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`` (33 words), Anserini's default list.
ENGLISH_STOPWORDS: tuple[str, ...] = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
)  # fmt: skip

#: Stopword lists by name.
STOPWORD_LISTS: dict[str, tuple[str, ...]] = {"english": ENGLISH_STOPWORDS, "none": ()}

#: Stemmer names → PyStemmer algorithms (``None``: no stemming).
STEMMERS: dict[str, str | None] = {"porter": "porter", "snowball": "english", "none": None}

#: What separates tokens (RE2 syntax): anything but letters, marks, digits, ``_ ' ’ .``.
TOKEN_SEPARATORS = r"[^\p{L}\p{M}\p{N}_'’.]+"

_EDGE_CHARS = "'."  # stripped from both ends of a token (after ’ → ')


@dataclass(frozen=True)
class Analyzed:
    """The analysed tokens of a column of texts, as codes into a per-batch vocabulary.

    Attributes
    ----------
    offsets:
        ``int64`` array of ``n + 1``: the tokens of text *i* are ``codes[offsets[i]:offsets[i+1]]``.
    codes:
        ``int32`` positions into :attr:`vocab`, in text order (stopwords already removed).
    vocab:
        The distinct terms of this batch (an Arrow string array, no nulls).
    """

    offsets: np.ndarray
    codes: np.ndarray
    vocab: pa.Array

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """Number of terms of each text (its BM25 document length)."""
        return np.diff(self.offsets)

    def text_of_token(self) -> np.ndarray:
        """For every entry of :attr:`codes`, the row of the text it comes from (``int64``)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths())

    def token_lists(self) -> list[list[str]]:
        """The terms of each text as Python lists (for tests and other libraries)."""
        terms = self.vocab.take(pa.array(self.codes, type=pa.int32()))
        return pa.ListArray.from_arrays(pa.array(self.offsets, type=pa.int64()), terms).to_pylist()


@dataclass(frozen=True)
class Analyzer:
    """Tokeniser, lowercasing, English stopwords and stemming; see the module docstring.

    Parameters
    ----------
    lowercase:
        Lowercase tokens (Unicode ``utf8_lower``). Stopwords match case-insensitively either way.
    stopwords:
        ``"english"``: Lucene's 33-word English set (:data:`ENGLISH_STOPWORDS`); ``"none"``.
    stemmer:
        ``"porter"`` (Porter 1980, the algorithm of Lucene's ``PorterStemFilter``),
        ``"snowball"`` (Snowball English, "Porter2") or ``"none"``.
    """

    lowercase: bool = True
    stopwords: Literal["english", "none"] = "english"
    stemmer: Literal["porter", "snowball", "none"] = "porter"

    def __post_init__(self) -> None:
        if self.stopwords not in STOPWORD_LISTS:
            raise RankerError(
                f"unknown stopword list {self.stopwords!r}; use one of {', '.join(STOPWORD_LISTS)}"
            )
        if self.stemmer not in STEMMERS:
            raise RankerError(f"unknown stemmer {self.stemmer!r}; use one of {', '.join(STEMMERS)}")

    def params(self) -> dict[str, Any]:
        """The options, as recorded in an index's ``meta.json``."""
        return {"lowercase": self.lowercase, "stopwords": self.stopwords, "stemmer": self.stemmer}

    def analyze(self, texts: pa.Array | pa.ChunkedArray) -> Analyzed:
        """Analyse a column of texts (nulls count as empty texts)."""
        column = single_chunk(texts)
        if len(column) == 0:
            return Analyzed(np.zeros(1, np.int64), np.zeros(0, np.int32), pa.array([], pa.string()))
        column = pc.fill_null(column.cast(pa.large_string()), "")
        # A regex split (split_pattern_regex) is ~6x slower than a regex replace + plain split.
        spaced = pc.replace_substring_regex(column, pattern=TOKEN_SEPARATORS, replacement=" ")
        pieces = pc.ascii_split_whitespace(spaced)
        counts = to_numpy(pc.list_value_length(pieces)).astype(np.int64)
        encoded = pc.dictionary_encode(pieces.flatten())
        raw_codes = to_numpy(encoded.indices)
        terms = self.normalize(encoded.dictionary)  # one entry per distinct raw token
        final = pc.dictionary_encode(terms)
        lut = to_numpy(final.indices, null=-1).astype(np.int32)
        codes = lut[raw_codes]
        keep = codes >= 0
        rows = np.repeat(np.arange(len(column), dtype=np.int64), counts)[keep]
        offsets = np.zeros(len(column) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(column)), out=offsets[1:])
        return Analyzed(
            offsets, np.ascontiguousarray(codes[keep]), final.dictionary.cast(pa.string())
        )

    def normalize(self, tokens: pa.Array) -> pa.Array:
        """Map raw tokens to terms (null where a token is dropped); one call per unique token."""
        tokens = pc.replace_substring(single_chunk(tokens), "’", "'")
        if self.lowercase:
            tokens = pc.utf8_lower(tokens)
        tokens = pc.utf8_trim(tokens, characters=_EDGE_CHARS)
        tokens = pc.replace_substring_regex(tokens, pattern="'[sS]$", replacement="")
        tokens = pc.utf8_trim(tokens, characters=_EDGE_CHARS)
        drop = pc.equal(pc.utf8_length(tokens), 0)
        stop = STOPWORD_LISTS[self.stopwords]
        if stop:
            folded = tokens if self.lowercase else pc.utf8_lower(tokens)
            drop = pc.or_(drop, pc.is_in(folded, value_set=pa.array(stop, tokens.type)))
        kept = pc.filter(tokens, pc.invert(drop))
        algorithm = STEMMERS[self.stemmer]
        if algorithm is not None and len(kept):
            kept = pa.array(_stemmer(algorithm).stemWords(kept.to_pylist()), tokens.type)
        out = pa.nulls(len(tokens), tokens.type)
        return pc.replace_with_mask(out, pc.invert(drop), kept)

    def tokenize(self, text: str) -> list[str]:
        """The terms of one text (convenience for tests and interactive use)."""
        return self.analyze(pa.array([text], pa.string())).token_lists()[0]


@lru_cache(maxsize=4)
def _stemmer(algorithm: str) -> Any:
    try:
        import Stemmer
    except ImportError as err:
        raise RankerError(
            "stemming needs PyStemmer (pip install PyStemmer), or use stemmer=none"
        ) from err
    return Stemmer.Stemmer(algorithm)

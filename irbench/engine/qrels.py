"""Qrels bound once for scoring many runs (ir_measures' evaluator idea).

Binding sorts the query ids (byte order, as trec_eval prints them), encodes every judgment as an
integer key ``query_position * n_docs + doc_position`` and keeps per-query statistics that the
measures need (relevant counts per threshold, judged non-relevant counts, ideal gains), each
computed lazily and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, to_numpy
from irbench.engine.fingerprint import pair_keys, string_hashes
from irbench.engine.segments import BoolArray, FloatArray, IntArray, positions_in_segment
from irbench.errors import DuplicateEntryError, InputFormatError

#: Grade given to a retrieved document that is not in the qrels (trec_eval RELVALUE_NONPOOL).
NONPOOL = -1
#: Grade given to a retrieved document judged with a negative grade (trec_eval RELVALUE_UNJUDGED).
UNJUDGED = -2

_MIN_BUCKET_BITS, _MAX_BUCKET_BITS = 20, 26  # size range of the judged-key bitmap (log2)
_FEW_IDS = 1 / 8  # query_positions: ids per qrels query below which fingerprints are cheaper


@dataclass
class BoundQrels:
    """Qrels prepared for repeated evaluation.

    Attributes
    ----------
    query_ids:
        The qrels' distinct query ids in byte order; a query's position in this array is its
        ``qpos`` everywhere in the engine.
    """

    query_ids: pa.Array
    doc_ids: pa.Array
    keys: IntArray  # sorted judgment keys qpos * n_docs + dpos
    grades: IntArray  # grade of each key (original, may be negative)
    qpos: IntArray  # query position of each key (sorted order)
    _cache: dict[object, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_table(cls, qrels: pa.Table, source: str = "qrels") -> BoundQrels:
        """Bind a table in QRELS_SCHEMA (query_id, doc_id, relevance)."""
        if qrels.num_rows == 0:
            raise InputFormatError("the qrels hold no judgments", path=source)
        qcol = qrels.column("query_id").combine_chunks()
        dcol = qrels.column("doc_id").combine_chunks()
        query_ids = pc.take(pc.unique(qcol), pc.sort_indices(pc.unique(qcol)))
        doc_ids = pc.unique(dcol)
        qpos = to_numpy(pc.index_in(qcol, value_set=query_ids)).astype(np.int64)
        dpos = to_numpy(pc.index_in(dcol, value_set=doc_ids)).astype(np.int64)
        keys = qpos * np.int64(len(doc_ids)) + dpos
        grades = to_numpy(qrels.column("relevance")).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        keys, grades, qpos = keys[order], grades[order], qpos[order]
        dup = np.flatnonzero(keys[1:] == keys[:-1])
        if dup.size:
            i = int(order[dup[0] + 1])
            raise DuplicateEntryError(
                f"query {qcol[i].as_py()!r} judges document {dcol[i].as_py()!r} twice",
                path=source,
                hint="keep one judgment per (query, document) pair",
            )
        return cls(query_ids=query_ids, doc_ids=doc_ids, keys=keys, grades=grades, qpos=qpos)

    @property
    def num_queries(self) -> int:
        return len(self.query_ids)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the judgments in canonical order (independent of file order and format)."""
        import hashlib

        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.keys).tobytes())
        h.update(np.ascontiguousarray(self.grades).tobytes())
        for arr in (self.query_ids, self.doc_ids):
            for buf in arr.buffers():
                if buf is not None:
                    h.update(memoryview(buf))
        return h.hexdigest()

    def lookup(self, qpos: IntArray, doc_ids: pa.Array | pa.ChunkedArray) -> IntArray:
        """Grade of each (query, document) row; NONPOOL if unjudged, UNJUDGED if negative."""
        dpos = pc.index_in(doc_ids, value_set=self.doc_ids)
        found = to_numpy(pc.is_valid(dpos))
        grades = np.full(len(qpos), NONPOOL, dtype=np.int64)
        if not found.any():
            return grades
        rows = np.flatnonzero(found)
        d = to_numpy(pc.take(dpos, from_numpy(rows))).astype(np.int64)
        keys = qpos[rows] * np.int64(len(self.doc_ids)) + d
        at = np.searchsorted(self.keys, keys)
        at_clip = np.minimum(at, self.keys.size - 1)
        hit = self.keys[at_clip] == keys
        g = self.grades[at_clip[hit]]
        grades[rows[hit]] = np.where(g < 0, UNJUDGED, g)
        return grades

    def lookup_hashed(
        self,
        qpos: IntArray,
        run_keys: npt.NDArray[np.uint64],
        doc_ids: pa.Array | pa.ChunkedArray,
        rows: IntArray,
    ) -> IntArray:
        """:meth:`lookup` of ``doc_ids[rows]`` through their ``pair_keys(qpos, fingerprint)``.

        A bitmap of the judgment keys' top bits (about 64 buckets per judgment, at least
        2^20) discards almost every unjudged row with one gather; the few candidates are
        binary-searched and then confirmed on the strings, so the result equals :meth:`lookup`
        exactly (and falls back to it if two judgments of the qrels share a key).
        """
        table = self._hashed_judgments()
        if table is None:
            return self.lookup(qpos, pc.take(doc_ids, from_numpy(rows)))
        keys, order, bitmap, shift = table
        cand = np.flatnonzero(bitmap[run_keys >> shift])
        grades = np.full(len(qpos), NONPOOL, dtype=np.int64)
        if not cand.size:
            return grades
        at = np.minimum(np.searchsorted(keys, run_keys[cand]), keys.size - 1)
        hit = keys[at] == run_keys[cand]
        hit_rows, judgment = cand[hit], order[at[hit]]
        if hit_rows.size:  # confirm on the ids themselves (a fingerprint match is not proof)
            same_q = self.qpos[judgment] == qpos[hit_rows]
            same_d = to_numpy(
                pc.equal(
                    pc.take(doc_ids, from_numpy(rows[hit_rows])),
                    pc.take(self.doc_ids, from_numpy(self.dpos[judgment])),
                )
            )
            ok = same_q & same_d
            hit_rows, judgment = hit_rows[ok], judgment[ok]
        g = self.grades[judgment]
        grades[hit_rows] = np.where(g < 0, UNJUDGED, g)
        return grades

    @cached_property
    def dpos(self) -> IntArray:
        """Position in ``doc_ids`` of each judgment's document."""
        return self.keys - self.qpos * np.int64(len(self.doc_ids))

    def _hashed_judgments(
        self,
    ) -> tuple[npt.NDArray[np.uint64], IntArray, BoolArray, np.uint64] | None:
        """Sorted fingerprint keys of the judgments, their order, the bucket bitmap and the
        shift that maps a key to its bucket."""
        if "hashed" not in self._cache:
            keys = pair_keys(self.qpos, string_hashes(self.doc_ids)[self.dpos])
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            bits = min(max(int(keys.size).bit_length() + 6, _MIN_BUCKET_BITS), _MAX_BUCKET_BITS)
            shift = np.uint64(64 - bits)
            bitmap = np.zeros(1 << bits, dtype=bool)
            bitmap[keys >> shift] = True
            unique = not (keys[1:] == keys[:-1]).any()
            self._cache["hashed"] = (keys, order, bitmap, shift) if unique else None
        return self._cache["hashed"]  # type: ignore[return-value]

    def _hashed_queries(self) -> tuple[npt.NDArray[np.uint64], IntArray] | None:
        """Sorted fingerprints of the qrels query ids and their order (None if two collide)."""
        if "query_hashes" not in self._cache:
            hashes = string_hashes(self.query_ids)
            order = np.argsort(hashes)
            unique = not (hashes[order][1:] == hashes[order][:-1]).any()
            self._cache["query_hashes"] = (hashes[order], order) if unique else None
        return cast("tuple[npt.NDArray[np.uint64], IntArray] | None", self._cache["query_hashes"])

    def query_positions(self, ids: pa.Array | pa.ChunkedArray) -> IntArray:
        """Position of each of ``ids`` in :attr:`query_ids`, -1 for ids the qrels lack.

        For a few ids (a chunk's queries against large qrels), their fingerprints are
        binary-searched among the qrels queries' (sorted once) and every match is confirmed on
        the strings, so the result is exact and no hash table of the qrels ids is built per
        call. Many ids (a run whose queries are interleaved) go through ``pc.index_in``, whose
        per-call table of the qrels ids is then the cheaper part.
        """
        few = 0 < len(ids) <= _FEW_IDS * self.num_queries
        table = self._hashed_queries() if few else None
        if table is None:
            found = pc.index_in(ids, value_set=self.query_ids)
            return to_numpy(found, null=-1).astype(np.int64, copy=False)
        sorted_hashes, order = table
        h = string_hashes(ids)
        at = np.minimum(np.searchsorted(sorted_hashes, h), sorted_hashes.size - 1)
        pos = np.where(sorted_hashes[at] == h, order[at], -1).astype(np.int64)
        cand = np.flatnonzero(pos >= 0)
        if cand.size:
            same = to_numpy(
                pc.equal(
                    pc.take(ids, from_numpy(cand)), pc.take(self.query_ids, from_numpy(pos[cand]))
                )
            )
            pos[cand[~same]] = -1
        return pos

    # ----------------------------------------------------------------- per-query statistics

    def num_rel(self, rel: int) -> IntArray:
        """Documents with grade >= rel per query (trec_eval num_rel)."""
        key = ("num_rel", rel)
        if key not in self._cache:
            mask = self.grades >= rel
            self._cache[key] = np.bincount(self.qpos[mask], minlength=self.num_queries)
        return self._cache[key]  # type: ignore[return-value]

    def num_judged_nonrel(self, rel: int) -> IntArray:
        """Judged documents with 0 <= grade < rel per query (bpref's denominator)."""
        key = ("num_nonrel", rel)
        if key not in self._cache:
            mask = (self.grades >= 0) & (self.grades < rel)
            self._cache[key] = np.bincount(self.qpos[mask], minlength=self.num_queries)
        return self._cache[key]  # type: ignore[return-value]

    def ideal_dcg(self, gain_key: object, gains: FloatArray, cutoff: float | None) -> FloatArray:
        """Ideal DCG per query for the given per-judgment gains, cut at ``cutoff``.

        The ideal ranking holds every judged document with positive gain, in decreasing gain
        order, retrieved or not (trec_eval m_ndcg.c / m_ndcg_cut.c).
        """
        key = ("idcg", gain_key, cutoff)
        if key not in self._cache:
            pos_mask = gains > 0
            q = self.qpos[pos_mask]
            g = gains[pos_mask]
            order = np.lexsort((-g, q))
            q, g = q[order], g[order]
            rank = positions_in_segment(q, self.num_queries) + 1
            disc = g / np.log2(rank + 1.0)
            if cutoff is not None:
                disc = np.where(rank <= cutoff, disc, 0.0)
            self._cache[key] = np.bincount(q, weights=disc, minlength=self.num_queries)
        return self._cache[key]  # type: ignore[return-value]

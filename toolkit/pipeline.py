"""Running the stages in order; the :class:`Corpus` object holding every table.

The pipeline holds no stage logic. It wires pure functions together::

    load_documents → clean_documents → split_sentences → apply_manifest → find_derivations
        → actors → sentiment → framing → topics

Per-document work (cleaning, segmentation, and each stage's ``document_step``) is mapped
over the documents by :mod:`toolkit.engine`, cached per document; corpus-level work
(rewrites, co-mentions, aggregates, topics) runs on the whole tables. Stages that do not read
each other's tables run side by side in their own processes on large corpora.

and, when given an output folder, caches each stage's tables there under a key that
hashes everything the stage depends on (input bytes, manifest, reporter data files,
options, the package's own source), so a re-run with unchanged inputs reads Parquet
instead of recomputing.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from . import __version__
from .clean import clean_documents, furniture_lines
from .corpus import (
    LoadLimits,
    apply_manifest,
    fill_unknown_outlets,
    load_documents,
    read_manifest,
    relative_source_paths,
)
from .dedup import PairCache, derivations_from, evaluate_pairs, mark_derivations, rewrite_diff, signatures
from .engine import Digests, DocumentStep, Engine, ForkedTables, beside, map_documents, reissue
from .models import BACKEND_ENV
from .report import outlet_summary, removal_reasons, removed_by_reason
from .segment import SENTENCE_COLUMNS, split_sentences
from .store import StageStore, files_fingerprint, fingerprint, read_table, write_table

#: Analysis stages in pipeline order: (name, module). A stage's tables are merged into the
#: corpus in this order (sentiment's scored ``sentences`` replace the corpus's).
ANALYSES: tuple[tuple[str, str], ...] = (
    ("actors", "toolkit.actors"),
    ("sentiment", "toolkit.sentiment"),
    ("framing", "toolkit.framing"),
    ("topics", "toolkit.topics"),
)
#: The analysis stages whose tables each stage reads (when they run), besides the corpus
#: tables: sentiment and framing read the actors' ``mentions``. Stages that do not depend on
#: each other can run side by side (:func:`stage_waves`).
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "actors": (),
    "sentiment": ("actors",),
    "framing": ("actors",),
    "topics": (),
}
#: The reporter's data files (in ``data_dir``) each analysis stage reads, and those its early part
#: reads (:func:`early_started`; framing's word counts read none): a stage's cache key holds its
#: own files only, so editing ``frames.yml`` does not run named-entity recognition again.
STAGE_DATA_FILES: dict[str, tuple[str, ...]] = {
    "actors": ("actors.yml",),
    "sentiment": (),
    "framing": ("frames.yml", "naming.yml"),
    "topics": (),
}
EARLY_DATA_FILES: dict[str, tuple[str, ...]] = {"framing": ()}
#: The analysis stages that run torch (sentence embeddings): :func:`run_side_by_side` runs them
#: in the pipeline's own process, never in a forked one.
STAGES_ON_TORCH: frozenset[str] = frozenset({"framing", "topics"})
#: Analysis stages that read no corpus table but ``sentences`` and these columns of ``articles``
#: (the actors stage: each article's outlet), so they need nothing of rewrite detection: when
#: such a stage is forked beside others (:func:`run_side_by_side`) and the corpus is computed,
#: :func:`analyze` forks it as soon as the articles are segmented, while this process detects
#: rewrites (a warm run's corpus phase otherwise leaves a core idle for 1-2 s at 10,000 articles).
SEGMENTED_READERS: dict[str, tuple[str, ...]] = {"actors": ("doc_id", "outlet")}
#: Chart modules, each exposing ``figures(tables) -> list[Figure]``, with the stage
#: whose tables they draw (``corpus`` is always present).
CHART_MODULES: tuple[tuple[str, str], ...] = (
    ("corpus", "toolkit.charts.corpus"),
    ("actors", "toolkit.charts.actors"),
    ("sentiment", "toolkit.charts.tone"),
    ("framing", "toolkit.charts.framing"),
    ("topics", "toolkit.charts.topics"),
)

ARTICLE_COLUMNS = [
    "doc_id", "outlet", "title", "dek", "byline", "published", "url", "source_credit",
    "text", "n_words", "derived_from", "similarity_to_source",
]


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding ``data/corpus.csv``.

    Lets notebooks (run from ``notebooks/``) and the command line (run from the
    repository root) use the same defaults. Falls back to ``start`` itself.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "corpus.csv").is_file():
            return folder
    return here


@dataclass
class Corpus:
    """All tables of an analysed corpus, by name (see DESIGN.md for their columns).

    Tables are reachable as attributes (``corpus.sentences``) or by name
    (``corpus["sentences"]``). ``corpus.tables`` is the plain dict; ``corpus.stages``
    names the stages that produced them.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    stages: tuple[str, ...] = ("corpus",)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(f"no table '{name}' (available: {', '.join(sorted(tables))})")

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def summary(self) -> pd.DataFrame:
        """One row per outlet: articles, words, sentences (the small-n picture at a glance)."""
        return self.tables["outlet_summary"]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.tables.items())
        return f"Corpus({sizes})"


def _code_fingerprint() -> str:
    """Hash of the package's source, so changed code never reuses stale tables."""
    package = Path(__file__).parent
    return files_fingerprint(sorted(package.rglob("*.py")))


def document_tables(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Clean and segment some documents: the per-document part of the corpus stage.

    ``frames["documents"]`` carries, besides the ``documents`` columns, ``furniture``:
    the corpus-furniture keys that occur on that page (a tuple), so each document's
    result depends only on its own row. Returns ``articles``, ``removed``,
    ``paragraphs``, ``sentences`` and ``signatures`` (the near-duplicate fingerprints of
    :func:`toolkit.dedup.signatures`) for those documents.
    """
    docs = frames["documents"]
    parts = [
        clean_documents(docs.iloc[[i]].drop(columns=["furniture"]), furniture=frozenset(docs["furniture"].iloc[i]))
        for i in range(len(docs))
    ]
    if not parts:
        parts = [clean_documents(docs.drop(columns=["furniture"]), furniture=frozenset())]
    articles, removed, paragraphs = (pd.concat(list(p), ignore_index=True) for p in zip(*parts))
    return {"articles": articles, "removed": removed, "paragraphs": paragraphs, "sentences": split_sentences(paragraphs),
            "signatures": signatures(articles)}


def page_furniture(documents: pd.DataFrame) -> list[tuple[str, ...]]:
    """For each document, the corpus-furniture keys found on its page (empty for non-dump formats)."""
    is_dump = documents["format"].isin(["txt", "md"])
    furniture = furniture_lines(documents.loc[is_dump, "raw_text"])
    own = [
        tuple(sorted(furniture & furniture_lines([text], min_pages=1))) if dump else ()
        for text, dump in zip(documents["raw_text"], is_dump)
    ]
    return own


def corpus_tables(
    documents: pd.DataFrame,
    rejects: pd.DataFrame,
    manifest: pd.DataFrame | None = None,
    *,
    engine: Engine = Engine(),
    cache_dir: Path | None = None,
    salt: str = "",
    before_pool: Callable[[], None] | None = None,
    digests: Digests | None = None,
    segmented: Callable[[pd.DataFrame, pd.DataFrame], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """From loaded documents to the corpus tables.

    Cleaning and segmentation run per document through ``engine`` (cached per document
    in ``cache_dir`` when given); manifest overrides, rewrite detection and the
    descriptive tables run over the whole corpus. Rewrite detection keeps its pair
    decisions and alignments in ``cache_dir`` too, so a later run aligns only pairs whose
    articles changed. Returns ``documents``, ``rejects``,
    ``articles``, ``removed``, ``paragraphs``, ``sentences``, ``derivations``,
    ``rewrite_diff``, ``outlet_summary``, ``removed_by_reason`` and ``removal_reasons``.
    ``digests``: the run's :class:`toolkit.engine.Digests`; rewrite detection's keys hash the
    ``sentences`` returned here, as the analysis stages' per-document keys do. ``segmented``:
    called with the ``articles`` (their outlets set, not yet marked by rewrite detection) and
    the ``sentences`` as soon as they exist, before rewrite detection, so a stage that reads
    nothing else can start then (:data:`SEGMENTED_READERS`).
    """
    # where a document was read from does not change its tables: leaving the path out of the
    # per-document key lets a moved or re-exported file reuse the cache
    per_doc = map_documents(
        document_tables,
        {"documents": documents.drop(columns=["source_path"]).assign(furniture=page_furniture(documents))},
        outputs=["articles", "removed", "paragraphs", "sentences", "signatures"],
        doc_ids=documents["doc_id"].tolist(),
        salt=fingerprint("corpus", salt),
        cache_dir=cache_dir,
        engine=engine,
        before_pool=before_pool,
    )
    articles, removed, paragraphs, sentences = (per_doc[k] for k in ("articles", "removed", "paragraphs", "sentences"))
    if manifest is not None and not manifest.empty:
        articles = apply_manifest(articles, documents, manifest)
    articles = fill_unknown_outlets(articles)
    if segmented is not None:
        segmented(articles, sentences)
    pair_paths = {name: cache_dir / f"pairs-{name}.parquet" for name in PairCache.TABLES} if cache_dir else {}
    known = PairCache(**{name: read_table(path) for name, path in pair_paths.items()}) \
        if pair_paths and all(path.is_file() for path in pair_paths.values()) else None
    pairs = evaluate_pairs(articles, sentences, precomputed=per_doc["signatures"], known=known, digests=digests)
    for name, path in pair_paths.items():
        write_table(getattr(pairs, name), path)
    derivations = derivations_from(pairs.evaluations)
    articles = mark_derivations(articles, derivations).reindex(columns=ARTICLE_COLUMNS)
    return {
        "outlet_summary": outlet_summary(articles, sentences),
        "removed_by_reason": removed_by_reason(removed, articles),
        "removal_reasons": removal_reasons(removed),
        "documents": documents,
        "rejects": rejects,
        "articles": articles,
        "removed": removed,
        "paragraphs": paragraphs,
        "sentences": sentences,
        "derivations": derivations,
        "rewrite_diff": rewrite_diff(sentences, articles, pairs=pairs),
    }


def run_stage(module_name: str, tables: Mapping[str, pd.DataFrame], *, arrow_tables: bool = False,
              **arguments: Any) -> dict[str, pd.DataFrame | pa.Table]:
    """Run one analysis stage: the module's ``run`` on ``tables`` with :func:`stage_options`
    (keyword ``arguments`` as there). ``arrow_tables``: the caller takes Arrow tables as well as
    DataFrames (a forked stage, which hands its tables over and writes them as Arrow): a module
    with ``RETURNS_ARROW`` is then asked for them (``run(..., arrow_tables=True)``)."""
    module = importlib.import_module(module_name)
    options = stage_options(module_name, tables, **arguments)
    if arrow_tables and getattr(module, "RETURNS_ARROW", False):
        options["arrow_tables"] = True
    return module.run(tables, **options)


def stage_options(
    module_name: str,
    tables: Mapping[str, pd.DataFrame],
    *,
    data_dir: Path,
    cache_dir: Path | None,
    engine: Engine,
    salt: str,
    before_pool: Callable[[], None] | None = None,
    early_tables: Mapping[str, pd.DataFrame] | None = None,
    digests: Digests | None = None,
    data_files: Sequence[str] = (),
    early_data_files: Sequence[str] = (),
) -> dict[str, object]:
    """What :func:`run_stage` passes to a stage module's ``run`` besides the tables: its
    per-document results (``precomputed``), the options its ``document_options`` chose from the
    whole corpus, its early part's tables (``early_tables``), ``data_dir`` and ``cache_dir``
    (the benchmarks time this part and ``run`` apart).

    A stage module whose work splits per document exposes ``document_step`` with
    ``DOCUMENT_INPUTS``/``DOCUMENT_OUTPUTS``: that part is mapped over the documents by
    ``engine`` (cached per document under ``cache_dir/<stage>``) and handed to the
    module's ``run`` as ``precomputed``; ``run`` then does the corpus-level work only. A module
    may instead split that work into ``DOCUMENT_STEPS`` (name → :class:`DocumentStep`), each
    cached on its own (under ``cache_dir/<stage>-<name>``) and keyed by the data files it reads,
    so that editing one file recomputes only the steps that read it.
    A module may also expose ``document_options(tables) -> dict``: options of
    ``document_step`` (and ``run``) chosen from the whole corpus, e.g. a cheaper method
    above a corpus size; they are part of the per-document cache key. A module with an
    ``early`` part (see :func:`early_started`) gets its tables as ``early_tables``: those given, or
    computed here. ``salt`` names what the per-document results depend on besides their rows and
    the reporter's data files: those are added by content, ``data_files`` for ``document_step``,
    ``early_data_files`` for the early part. ``before_pool`` and
    ``digests``: see :func:`toolkit.engine.map_documents`.
    """
    module = importlib.import_module(module_name)
    name = module_name.rsplit(".", 1)[-1]
    options: dict = {"data_dir": data_dir, "cache_dir": cache_dir}
    steps = getattr(module, "DOCUMENT_STEPS", None)
    if steps is None and hasattr(module, "document_step"):
        steps = {"": DocumentStep(module.document_step, module.DOCUMENT_INPUTS, module.DOCUMENT_OUTPUTS,
                                  tuple(data_files))}
    if steps:
        chosen = module.document_options(tables) if hasattr(module, "document_options") else {}
        options["precomputed"] = {}
        for step_name, step in steps.items():
            folder = f"{name}-{step_name}" if step_name else name
            options["precomputed"].update(map_step(
                step.function, step.inputs, step.outputs, tables,
                salt=fingerprint(salt, step_name, stage_data(step.data_files, data_dir), sorted(chosen.items())),
                cache_dir=cache_dir / folder if cache_dir is not None else None, engine=engine,
                options={"data_dir": data_dir, **chosen}, before_pool=before_pool, digests=digests))
        options.update(chosen)
    if hasattr(module, "early_started"):
        if early_tables is None:
            with early_started(module_name, tables, cache_dir=cache_dir, engine=engine, salt=salt, data_dir=data_dir,
                               data_files=early_data_files, before_pool=before_pool, digests=digests) as finish:
                early_tables = finish()
        options["early_tables"] = early_tables
    return options


@contextmanager
def early_started(
    module_name: str,
    tables: Mapping[str, pd.DataFrame],
    *,
    cache_dir: Path | None,
    engine: Engine,
    salt: str,
    data_dir: Path,
    data_files: Sequence[str],
    before_pool: Callable[[], None] | None = None,
    digests: Digests | None = None,
) -> Iterator[Callable[[], dict[str, pd.DataFrame]]]:
    """The ``early`` part of a stage in two steps: entering maps its per-document part and starts
    the rest, the function it yields finishes it and returns its tables: the tables a stage makes
    from the corpus tables alone, so the pipeline can compute them while the stages it depends on
    still run.

    The module exposes ``early_started(tables, *, precomputed, engine, before_fork, cache_dir, salt,
    digests)``, a context manager yielding that function (it may start a forked process on
    entering; ``cache_dir``, the per-document cache's folder, may keep corpus-level results for the
    next run to update), and its
    per-document part ``early_document_step`` with ``EARLY_INPUTS``/``EARLY_OUTPUTS`` (mapped by
    ``engine``, cached per document under ``cache_dir/<stage>-early``). ``salt``: as for
    :func:`run_stage`, with the early part's ``data_files`` (in ``data_dir``) added by content.
    """
    module = importlib.import_module(module_name)
    name = module_name.rsplit(".", 1)[-1]
    folder = cache_dir / f"{name}-early" if cache_dir is not None else None
    early_salt = fingerprint(salt, stage_data(data_files, data_dir), "early")
    precomputed = map_step(module.early_document_step, module.EARLY_INPUTS, module.EARLY_OUTPUTS, tables,
                           salt=early_salt, cache_dir=folder, engine=engine, before_pool=before_pool, digests=digests)
    with module.early_started(tables, precomputed=precomputed, engine=engine, before_fork=before_pool,
                              cache_dir=folder, salt=early_salt, digests=digests) as finish:
        yield finish


def map_step(
    step: Callable[..., dict[str, pd.DataFrame]],
    inputs: Sequence[str],
    outputs: Sequence[str],
    tables: Mapping[str, pd.DataFrame],
    *,
    salt: str,
    cache_dir: Path | None,
    engine: Engine,
    options: Mapping[str, object] | None = None,
    before_pool: Callable[[], None] | None = None,
    digests: Digests | None = None,
) -> dict[str, pd.DataFrame]:
    """A stage's per-document ``step`` mapped over every article of ``tables`` in order
    (:func:`toolkit.engine.map_documents`), reading the ``inputs`` among ``tables`` and giving
    ``outputs``."""
    return map_documents(step, {k: tables[k] for k in inputs if k in tables}, outputs=list(outputs),
                         doc_ids=tables["articles"]["doc_id"].tolist(), salt=salt, cache_dir=cache_dir,
                         engine=engine, options=options, before_pool=before_pool, digests=digests)


def _resolve(paths, manifest, data_dir) -> tuple[list[Path], Path | None, Path]:
    root = project_root()
    if paths is None:
        paths = [root / "data" / "raw"]
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    if manifest is None:
        candidate = root / "data" / "corpus.csv"
        manifest = candidate if candidate.is_file() else None
    data_dir = Path(data_dir) if data_dir is not None else root / "data"
    return [Path(p) for p in paths], (Path(manifest) if manifest else None), data_dir


def analyze(
    paths: str | Path | Iterable[str | Path] | None = None,
    *,
    manifest: str | Path | None = None,
    data_dir: str | Path | None = None,
    stages: Sequence[str] | None = None,
    out: str | Path | None = None,
    limits: LoadLimits = LoadLimits(),
    engine: Engine = Engine(),
    progress: Callable[[str], None] | None = None,
) -> Corpus:
    """Load, clean and analyse a corpus; return a :class:`Corpus` with every table.

    ``paths``: folder(s), glob(s) or files (default: the project's ``data/raw``).
    ``manifest``: the per-file override table (default: ``data/corpus.csv`` when present).
    ``data_dir``: where the reporter's ``actors.yml``, ``frames.yml`` and ``naming.yml``
    live (default: the project's ``data/``). ``stages``: analysis stages to run, in
    pipeline order (default: all of :data:`ANALYSES`; ``[]`` gives the corpus tables only).
    ``out``: a folder for the Parquet tables and the stage cache; without it nothing is
    written and nothing is reused. ``engine``: where per-document work runs
    (:class:`toolkit.engine.Engine`: local processes by default, or a Dask cluster).
    ``progress``: called with each stage's name as it starts (with ``"a+b"`` for stages that
    start together).

    With ``out``, the local engine on several cores and a corpus of at least
    ``engine.min_parallel_docs`` documents, stages that do not read each other's tables
    (:func:`stage_waves`: actors beside topics, then sentiment beside framing) run side by side,
    actors and sentiment in forked processes (:func:`run_side_by_side`), and while a wave's forked
    stages run this process computes the ``early`` parts of later stages (:func:`early_started`:
    framing's word counts while actors runs); a forked stage that reads only the segmented
    articles (:data:`SEGMENTED_READERS`) starts before rewrite detection. The tables are the same
    as when the stages run one after another, which they do otherwise.
    """
    paths, manifest_path, data_dir = _resolve(paths, manifest, data_dir)
    wanted = [name for name, _ in ANALYSES] if stages is None else list(stages)
    unknown = sorted(set(wanted) - {name for name, _ in ANALYSES})
    if unknown:
        raise ValueError(f"unknown stage(s): {', '.join(unknown)}")
    store = StageStore(Path(out)) if out is not None else None
    notify = progress or (lambda _name: None)

    notify("corpus")
    root = project_root()
    documents, rejects = load_documents(paths, limits=limits)
    documents, rejects = relative_source_paths(documents, root), relative_source_paths(rejects, root)
    manifest_df = read_manifest(manifest_path) if manifest_path else None
    code = _code_fingerprint()
    key = fingerprint(
        __version__, code, limits,
        pd.util.hash_pandas_object(documents.drop(columns=["source_path"]), index=False).sum(),
        documents["doc_id"].tolist(), rejects.to_csv(index=False),
        manifest_path if manifest_path else None,
    )
    cache_dir = Path(out) / "cache" if out is not None else None
    wait = store.flush if store else None  # stage tables are written while the next stage runs
    still_writing: list[StillWriting] = []  # forked stages writing their tables while the next stage runs
    digests = Digests()  # every stage reads the corpus's sentences: hashed once per run
    modules = dict(ANALYSES)
    inputs = {name: stage_data(STAGE_DATA_FILES[name], data_dir) for name in wanted}
    early_files = {name: EARLY_DATA_FILES.get(name, STAGE_DATA_FILES[name]) for name in wanted}
    keys = {}
    for name, _ in ANALYSES:
        if name in wanted:
            keys[name] = fingerprint(key, name, inputs[name], *(keys[d] for d in STAGE_INPUTS[name] if d in keys))
    waves = stage_waves(wanted)
    early: dict[str, dict[str, pd.DataFrame]] = {}
    forked_first: dict[str, ForkedTables] = {}  # stages forked before the corpus tables were complete

    def salt_of(name: str) -> str:
        """What a stage's per-document results depend on besides their rows and data files."""
        return fingerprint(code, name)

    def job_of(name: str, stage_input: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
        """The :func:`run_stage` arguments of stage ``name`` reading the tables ``stage_input``."""
        return dict(module_name=modules[name], tables=stage_input, data_dir=data_dir, cache_dir=cache_dir,
                    engine=engine, salt=salt_of(name), early_tables=early.pop(name, None), digests=digests,
                    data_files=STAGE_DATA_FILES[name], early_data_files=early_files[name])

    def fork_segmented(articles: pd.DataFrame, sentences: pd.DataFrame) -> None:
        """Fork the first wave's :data:`SEGMENTED_READERS` when that wave runs side by side."""
        if store is None or not waves or not engine.forks_beside(len(articles)):
            return
        todo = [name for name in waves[0] if not store.has(name, keys[name])]
        for name in todo if len(todo) > 1 else ():
            if name in SEGMENTED_READERS and name not in STAGES_ON_TORCH:
                store.flush()  # as before any fork (see run_side_by_side's callers)
                digests.of(sentences)  # for the fork to inherit
                job = job_of(name, {"articles": articles[list(SEGMENTED_READERS[name])], "sentences": sentences})
                forked_first[name] = ForkedTables(run_stage, {**job, "arrow_tables": True}, store.folder,
                                                  label=f"the {name} stage", extends=job["tables"])

    try:
        tables = store.get("corpus", key) if store else None
        if tables is None:
            tables = corpus_tables(documents, rejects, manifest_df, engine=engine,
                                   cache_dir=cache_dir / "corpus" if cache_dir else None, salt=code,
                                   before_pool=wait, digests=digests, segmented=fork_segmented)
            if store and engine.forks_beside(len(tables["articles"])):
                still_writing.append(write_beside(store, "corpus", key, tables))
            elif store:
                store.put_later("corpus", key, tables)
        else:
            tables = stored_corpus(tables)
        tables = dict(tables)
        side_by_side = store is not None and engine.forks_beside(len(tables["articles"]))
        results: dict[str, Mapping[str, pd.DataFrame]] = {}

        def run_here(name: str, job: Mapping) -> None:
            results[name] = run_stage(**job, before_pool=wait)
            if store:
                store.put_later(name, keys[name], results[name])

        @contextmanager
        def noted(name: str) -> Iterator[None]:
            try:
                yield
            except Exception as exc:
                exc.add_note(f"(raised in the {name} stage's early part, run beside an earlier stage)")
                raise

        def early_parts(later: Sequence[str]) -> Callable[[], AbstractContextManager[Callable[[], None]]]:
            """The ``early`` parts of the ``later`` stages still to compute, to run while this
            wave's forked stages run (this process would otherwise wait for them): started before
            this process runs its own stages of the wave, finished after them."""
            @contextmanager
            def started() -> Iterator[Callable[[], None]]:
                finishing: dict[str, Callable[[], dict[str, pd.DataFrame]]] = {}
                with ExitStack() as running:
                    for name in later:
                        if name in early or not hasattr(importlib.import_module(modules[name]), "early_started") \
                                or store.has(name, keys[name]):
                            continue
                        with noted(name):
                            finishing[name] = running.enter_context(early_started(
                                modules[name], tables, cache_dir=cache_dir, engine=engine, salt=salt_of(name),
                                data_dir=data_dir, data_files=early_files[name], digests=digests))

                    def finish() -> None:
                        for name, finished in finishing.items():
                            with noted(name):
                                early[name] = finished()

                    yield finish
            return started

        for number, wave in enumerate(waves):
            together = side_by_side and len(wave) > 1
            if together:
                notify("+".join(wave))
            todo = {}
            for name in wave:
                if not together:
                    notify(name)
                if name in forked_first:
                    todo[name] = forked_first.pop(name)
                    continue
                cached = store.get(name, keys[name]) if store else None
                if cached is not None:
                    results[name] = cached
                    continue
                job = job_of(name, stage_tables(tables, results, name))
                if together:
                    todo[name] = job
                else:
                    run_here(name, job)
            if len(todo) > 1 or any(isinstance(job, ForkedTables) for job in todo.values()):
                store.flush()  # a fork while the writer thread holds a lock could leave a child stuck on it
                # every stage's per-document keys hash the sentences: here, once, for the forks to inherit
                digests.of(tables["sentences"])
                later = [name for next_wave in waves[number + 1:] for name in next_wave]
                tables_of, writing = run_side_by_side(todo, store, keys, meanwhile=early_parts(later))
                results.update(tables_of)
                still_writing.append(writing)
            else:  # at most one stage of the wave left to compute
                for name, job in todo.items():
                    run_here(name, job)
        for name, _ in ANALYSES:
            tables.update(results.get(name, {}))
        for writing in still_writing:
            writing.settle()
    except BaseException:
        for child in forked_first.values():
            child.stop()
        for writing in still_writing:  # the stages computed before the error are kept
            writing.settle(quiet=True)
        raise
    finally:
        if store:
            store.flush()
    return Corpus(tables, stages=("corpus", *(name for name, _ in ANALYSES if name in wanted)))


def stage_data(names: Sequence[str], data_dir: Path) -> str:
    """A fingerprint of what a stage (or its early part) reads besides tables: the reporter's data
    files ``names`` in ``data_dir`` (:data:`STAGE_DATA_FILES`) and the chosen embedding backend. A
    stage's cache key holds it, with the keys of the stages whose tables it reads
    (:data:`STAGE_INPUTS`)."""
    return fingerprint(files_fingerprint([data_dir / name for name in names]), os.environ.get(BACKEND_ENV, ""))


def stored_corpus(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The corpus stage's tables as read back from the store, as the stage computed them: the
    sentiment stage's scored ``sentences`` (the same rows, with columns added) replace the
    corpus's in the output folder, and their extra columns would change the per-document cache
    key of every article for every stage (:func:`toolkit.engine.doc_keys`)."""
    return {**tables, "sentences": tables["sentences"][SENTENCE_COLUMNS]}


def stage_waves(wanted: Sequence[str]) -> list[list[str]]:
    """The ``wanted`` analysis stages grouped into waves, in pipeline order: each wave holds the
    stages whose inputs (:data:`STAGE_INPUTS` among ``wanted``) earlier waves produce, so the
    stages of one wave can run side by side."""
    remaining = [name for name, _ in ANALYSES if name in wanted]
    done: set[str] = set()
    waves = []
    while remaining:
        wave = [n for n in remaining if all(d in done or d not in wanted for d in STAGE_INPUTS[n])]
        waves.append(wave)
        done.update(wave)
        remaining = [n for n in remaining if n not in done]
    return waves


def stage_tables(corpus: Mapping[str, pd.DataFrame], results: Mapping[str, Mapping[str, pd.DataFrame]],
                 name: str) -> dict[str, pd.DataFrame]:
    """What stage ``name`` reads: the corpus tables plus the tables of the stages it depends on
    (:data:`STAGE_INPUTS`) that ran, in pipeline order. The same whether stages run one after
    another or side by side, so both orders give the same tables."""
    tables = dict(corpus)
    for stage in STAGE_INPUTS[name]:
        tables.update(results.get(stage, {}))
    return tables


def run_side_by_side(jobs: Mapping[str, Mapping | ForkedTables], store: StageStore, keys: Mapping[str, str], *,
                     meanwhile: Callable[[], AbstractContextManager[Callable[[], None]]] | None = None,
                     ) -> tuple[dict[str, dict[str, pd.DataFrame]], StillWriting]:
    """Run several stages at once, those of :data:`STAGES_ON_TORCH` in this process and each
    other one in a forked process (:class:`toolkit.engine.ForkedTables`); return their tables and
    the forked stages still writing their Parquet files (:class:`StillWriting`).

    ``jobs`` maps a stage name to its :func:`run_stage` arguments, in pipeline order, or to the
    :class:`~toolkit.engine.ForkedTables` of a stage forked already (:data:`SEGMENTED_READERS`). GNU
    OpenMP, torch's thread pool, cannot be used again in a process forked after its parent used
    it: on a development branch that forked topics, a topics stage forked from a test process
    that had embedded before waited forever inside torch's ``index_select`` (py-spy: blocked in
    libgomp), although ``after_fork`` had set torch to one thread. So the stages that run torch
    run here, one after another, while the forked ones (actors with spaCy, sentiment with VADER)
    never call it: topics beside actors, framing beside sentiment. Each child hands its stage's
    tables to this process (:meth:`ForkedTables.tables`; a table that extends one of the stage's
    inputs, as its added columns) with the warnings it met, then writes
    them into ``store``'s folder while this process goes on; this process re-issues the
    children's warnings stage by stage in ``jobs`` order and records each stage under its key in
    ``keys`` once its files are written (the stages run here now, the forked ones by
    :meth:`StillWriting.settle`). The stages run here write their Parquet files in a thread while
    this process goes on to ``meanwhile``'s work and waits for the children (framing's 2.2 s of
    writing at 10,000 articles had this process busy while the sentiment stage's process ran); a
    stage run here starts only once the tables before it are written, since it may fork a process
    pool, and no fork may happen while another thread holds a lock. A stage's exception is raised
    here with a note naming the stage (and a child's traceback); the first failing stage in
    ``jobs`` order wins, the stages before it are recorded (once written), and the other children
    are stopped. ``meanwhile``: other work for this process, a context manager entered once the
    children are forked, before the stages run here (it may fork processes of its own then, never
    later), whose function runs after those stages, before waiting for the children (an exception
    it raises stops them). So work it forks starts with the wave, not after the stages run here:
    a wave ends when its slowest process does.
    """
    here = [name for name, job in jobs.items() if name in STAGES_ON_TORCH and not isinstance(job, ForkedTables)]
    children: dict[str, ForkedTables] = {}
    outcomes: dict[str, tuple[list[str], BaseException | None, list[tuple]]] = {}
    results: dict[str, dict[str, pd.DataFrame]] = {}
    written: dict[str, Future] = {}
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsangle-stage-writer")
    try:
        try:
            for name, job in jobs.items():
                if isinstance(job, ForkedTables):
                    children[name] = job
                elif name not in here:
                    children[name] = ForkedTables(run_stage, {**job, "arrow_tables": True}, store.folder,
                                                  label=f"the {name} stage", extends=job["tables"])
            with meanwhile() if meanwhile is not None else nullcontext(lambda: None) as finish:
                for name in here:
                    for pending in written.values():  # a stage here may fork a process pool: not while writing
                        pending.exception()
                    try:
                        results[name] = run_stage(**jobs[name])
                        written[name] = writer.submit(store.write_tables, results[name])
                        outcomes[name] = (sorted(results[name]), None, [])
                    except Exception as exc:  # raised below, once the stages before it in jobs order are recorded
                        exc.add_note(f"(raised in the {name} stage, run in this process beside the others)")
                        outcomes[name] = ([], exc, [])
                finish()
            for name, child in children.items():
                outcomes[name] = child.outcome()
                if outcomes[name][1] is None:
                    results[name] = child.tables(outcomes[name][0])
                child.release()
        except BaseException:
            for child in children.values():
                child.stop()
            raise
    finally:
        writer.shutdown(wait=True)
    writing = StillWriting(store, keys)
    try:
        for name in jobs:
            names, error, caught = outcomes[name]
            reissue(caught)
            if error is None and name in written:
                error = written[name].exception()
                if error is not None:
                    error.add_note(f"(raised writing the {name} stage's tables, run in this process)")
            if error is not None:
                writing.settle()
                raise error
            if name in children:
                writing.add(name, children.pop(name), names)
            else:
                store.record(name, keys[name], names)
    finally:
        for child in children.values():
            child.stop()
    return results, writing


class StillWriting:
    """Stages whose tables this process already has while forked processes still write the
    Parquet files (:func:`run_side_by_side`, :func:`write_beside`): :meth:`settle` waits for them
    and records each stage in ``store`` under its key in ``keys``."""

    def __init__(self, store: StageStore, keys: Mapping[str, str]):
        self.store, self.keys = store, keys
        self._children: dict[str, tuple[ForkedTables, list[str]]] = {}

    def add(self, name: str, child: ForkedTables, tables: list[str]) -> None:
        """Stage ``name`` is written by ``child``, which handed over ``tables``."""
        self._children[name] = (child, tables)

    def settle(self, *, quiet: bool = False) -> None:
        """Wait for each child in the order added and record its stage; raise the first error a
        child met writing (the stages before it stay recorded, the children after it are stopped).
        ``quiet`` (while another error is raised): each such error is a warning, the other stages
        are still recorded."""
        try:
            while self._children:
                name = next(iter(self._children))
                child, tables = self._children.pop(name)
                error = child.written()
                if error is None:
                    self.store.record(name, self.keys[name], tables)
                elif quiet:
                    warnings.warn(f"the {name} stage's tables were not kept: {error}", RuntimeWarning, stacklevel=2)
                else:
                    raise error
        finally:
            self.stop()

    def stop(self) -> None:
        """End the children not settled yet, recording nothing."""
        for child, _ in self._children.values():
            child.stop()
        self._children.clear()


def write_beside(store: StageStore, stage: str, key: str, tables: Mapping[str, pd.DataFrame]) -> StillWriting:
    """Write ``tables``, the output of ``stage`` computed under ``key``, to ``store`` in a forked
    process (:class:`toolkit.engine.ForkedTables`) while this one goes on; the stage is recorded
    when the returned :class:`StillWriting` settles. The corpus stage's tables (100 MB of
    Parquet at 10,000 articles) took 1.3 s to write, and the store's writer thread must be done
    before the analysis stages fork, so this process waited for them."""
    child = ForkedTables(dict, tables, store.folder, label=f"writing the {stage} stage's tables", hand_over=False)
    names, error, caught = child.outcome()
    reissue(caught)
    if error is not None:
        raise error
    writing = StillWriting(store, {stage: key})
    writing.add(stage, child, names)
    return writing


def load_corpus(
    paths: str | Path | Iterable[str | Path] | None = None,
    *,
    manifest: str | Path | None = None,
    out: str | Path | None = None,
    limits: LoadLimits = LoadLimits(),
    engine: Engine = Engine(),
) -> Corpus:
    """Load and clean a corpus without running any analysis (``analyze(..., stages=[])``)."""
    return analyze(paths, manifest=manifest, stages=[], out=out, limits=limits, engine=engine)


def figures(corpus: Corpus) -> list:
    """Every chart of the analysed corpus, as :class:`toolkit.charts.Figure` objects, in a stable order.

    Only stages that ran contribute charts.
    """
    return _figures_of(corpus.tables, [module for stage, module in CHART_MODULES if stage in corpus.stages])


def _figures_of(tables: Mapping[str, pd.DataFrame], module_names: Sequence[str]) -> list:
    return [fig for name in module_names for fig in importlib.import_module(name).figures(tables)]


def _prepared_charts(tables: Mapping[str, pd.DataFrame], module_names: Sequence[str]) -> pd.DataFrame:
    """:func:`toolkit.export.prepared` of the figures of each of ``module_names``, with a ``module``
    column naming the module of each row."""
    from .export import PREPARED_COLUMNS, prepared

    parts = [prepared(_figures_of(tables, [name])).assign(module=name) for name in module_names]
    return pd.concat([part for part in parts if len(part)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=[*PREPARED_COLUMNS, "module"])


#: Chart modules whose figures :func:`export_charts` builds in a forked process: the actors'
#: networks, about half of the figures' building time at 10,000 articles.
CHARTS_BESIDE: frozenset[str] = frozenset({"toolkit.charts.actors"})


def export_charts(corpus: Corpus, outdir: str | Path, *, title: str, fork: bool = False) -> tuple[Path, int]:
    """Every chart of :func:`figures` exported into ``outdir`` (:func:`toolkit.export.export_all`);
    returns the index page's path and the number of charts.

    With ``fork`` (the pipeline's :meth:`Engine.forks_beside` for the corpus), the charts of
    :data:`CHARTS_BESIDE` are built and prepared in a forked process while this one builds the
    others (:func:`toolkit.engine.beside`): building and preparing the figures took 4 s of the 8 s
    of exporting a 10,000-article corpus's charts, all on one core. The files are the same either
    way; the forked process's warnings are issued here after this process's own.
    """
    from .export import PREPARED_COLUMNS, export_prepared

    names = [module for stage, module in CHART_MODULES if stage in corpus.stages]
    theirs = [name for name in names if name in CHARTS_BESIDE] if fork else []
    with beside(_prepared_charts, corpus.tables, theirs, fork=bool(theirs)) as prepared_beside:
        charts = _prepared_charts(corpus.tables, [name for name in names if name not in theirs])
        if theirs:
            charts = pd.concat([charts, prepared_beside()], ignore_index=True)
    order = {name: position for position, name in enumerate(names)}
    charts = charts.sort_values("module", key=lambda column: column.map(order), kind="stable")
    return export_prepared(charts[PREPARED_COLUMNS], outdir, title=title), len(charts)

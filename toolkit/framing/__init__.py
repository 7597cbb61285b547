"""Framing: how each outlet frames the same story.

Five analyses over the ``sentences`` table, each returning tidy tables with evidence keys
(doc_id, sent_id) back to the sentences behind every figure:

- frames (:mod:`.frames`): codebook frames per sentence (``data/frames.yml``: Semetko &
  Valkenburg's generic frames and the Policy Frames Codebook) and frame shares per outlet;
- distinctive language (:mod:`.distinctive`): Monroe et al.'s log-odds with informative prior;
- naming choices (:mod:`.naming`): ``data/naming.yml`` concepts and automatic candidates;
- attribution (:mod:`.attribution`): speakers, reporting verbs and their groups;
- rewrite comparison (:mod:`.rewrite`): what a rewrite added, dropped and re-worded.

:func:`run` is the pipeline stage.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from toolkit.corpus import fill_unknown_outlets
from toolkit.engine import Digests, DocumentStep, Engine, beside, doc_keys
from toolkit.framing.attribution import (
    ATTRIBUTION_COLUMNS,
    BY_OUTLET_COLUMNS,
    VERB_GROUPS,
    attribute_sentences,
    attribution_by_outlet,
)
from toolkit.framing.datafile import DataFileError
from toolkit.framing.distinctive import DISTINCTIVE_COLUMNS, distinctive_terms, log_odds_dirichlet, sentence_tokens
from toolkit.framing.frames import (
    FRAMES_COLUMNS,
    SHARES_COLUMNS,
    Frame,
    frame_shares,
    load_codebook,
    match_cues,
    score_frames,
)
from toolkit.framing.naming import (
    CANDIDATE_COLUMNS,
    HIT_COLUMNS,
    NAMING_COLUMNS,
    Concept,
    candidates_table,
    find_variants,
    load_naming,
    name_tokens,
    naming_candidates,
    naming_table,
    quoted_terms,
)
from toolkit.framing.rewrite import REWRITE_COLUMNS, rewrite_changes, word_changes
from toolkit.models import backend_for
from toolkit.models import embed as model_embed
from toolkit.store import Kept, fingerprint, frame_of

__all__ = [
    "DataFileError", "Frame", "Concept", "VERB_GROUPS", "attribute_sentences", "attribution_by_outlet",
    "distinctive_terms", "log_odds_dirichlet", "frame_shares", "load_codebook", "match_cues", "score_frames",
    "find_variants", "load_naming", "naming_candidates", "naming_table", "rewrite_changes", "word_changes",
    "empty_tables", "run",
]

TABLE_COLUMNS: dict[str, list[str]] = {
    "frames": FRAMES_COLUMNS,
    "frame_shares": SHARES_COLUMNS,
    "distinctive_terms": DISTINCTIVE_COLUMNS,
    "naming": NAMING_COLUMNS,
    "naming_candidates": CANDIDATE_COLUMNS,
    "attribution": ATTRIBUTION_COLUMNS,
    "attribution_by_outlet": BY_OUTLET_COLUMNS,
    "rewrite_changes": REWRITE_COLUMNS,
}


def empty_tables() -> dict[str, pd.DataFrame]:
    """Every table of this stage, empty but with its columns."""
    return {name: pd.DataFrame(columns=cols) for name, cols in TABLE_COLUMNS.items()}


#: Tables :func:`document_step` (every one of :data:`DOCUMENT_STEPS` in one call) reads and writes.
DOCUMENT_INPUTS: tuple[str, ...] = ("sentences", "mentions")
DOCUMENT_OUTPUTS: tuple[str, ...] = ("frames", "attribution", "naming_hits")
#: Tables :func:`early_document_step` reads and writes: the per-document part of :func:`early`,
#: which reads the sentences alone (not the actors' mentions).
EARLY_INPUTS: tuple[str, ...] = ("sentences",)
EARLY_OUTPUTS: tuple[str, ...] = ("quoted_terms", "name_tokens", "term_tokens")
#: The tables :func:`early` makes.
EARLY_TABLES: tuple[str, ...] = ("naming_candidates", "distinctive_terms", "rewrite_changes")


#: Above this many sentences in the corpus the pipeline scores frames by cues alone (see
#: :func:`document_options`).
EMBED_MAX_SENTENCES = 20_000
#: ``min_score`` of cue-only scoring: keeps a frame for one weight-1 cue (cue score 0.63),
#: not for one weight-0.5 cue (0.39).
CUE_ONLY_MIN_SCORE = 0.5


def document_options(tables: Mapping[str, pd.DataFrame]) -> dict[str, object]:
    """Options of :func:`document_step` chosen from the size of the whole corpus (the pipeline's hook).

    Embedding every sentence with all-MiniLM-L6-v2 runs at 45-200 short sentences per second
    per core on a laptop: minutes for a few hundred articles, hours for 10,000 (about 430,000
    sentences). 59% of news sentences carry a cue word, so embedding only those would not
    change the order of magnitude. Above :data:`EMBED_MAX_SENTENCES` sentences frames are
    therefore scored by cues alone with ``min_score`` :data:`CUE_ONLY_MIN_SCORE`. Measured
    against full cue + embedding labels on 2,395 sentences of 60 AllSides articles: label
    precision 0.71, recall 0.96, F1 0.82, identical label set for 78% of sentences (at
    ``min_score`` 0.35: F1 0.75; at 0.7: precision 1.00, recall 0.66). Cue-only labels are a
    superset-like approximation: embeddings mostly veto weak single-cue matches. Below that, the
    embedding backend follows the corpus size (:func:`toolkit.models.backend_for`: full precision
    for small corpora, whose frames must not change with the CPU).
    """
    sentences = tables.get("sentences")
    n_sentences = 0 if sentences is None else len(sentences)
    if n_sentences > EMBED_MAX_SENTENCES:
        return {"use_embeddings": False, "min_score": CUE_ONLY_MIN_SCORE}
    return {"embed_backend": backend_for(n_sentences)}


def _embedder(cache_dir: Path | str | None, backend: str):
    def embed(texts: list[str]):
        return model_embed(texts, cache_dir=cache_dir, backend=backend)

    return embed


def document_step(frames: Mapping[str, pd.DataFrame], *, data_dir: Path | str = Path("data"),
                  **options: object) -> dict[str, pd.DataFrame]:
    """The per-document part of the stage that reads the actors' mentions or the data files, in
    one call: the three :data:`DOCUMENT_STEPS` (the pipeline caches each on its own).

    It depends only on a document's own sentences and mentions (and the data files), so the
    pipeline may cache it per document and run it on any partition; :func:`run` then only
    aggregates. Returns ``frames`` (:func:`frames_step`), ``attribution``
    (:func:`attribution_step`) and ``naming_hits`` (:func:`naming_step`).
    """
    return {name: table for step in DOCUMENT_STEPS.values()
            for name, table in step.function(frames, data_dir=data_dir, **options).items()}


def _reading_order(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return frames["sentences"].sort_values(["doc_id", "sent_id"]).reset_index(drop=True)


def frames_step(frames: Mapping[str, pd.DataFrame], *, data_dir: Path | str = Path("data"),
                use_embeddings: bool = True, min_score: float = 0.35, max_frames: int = 3,
                embed_backend: str | None = None, **_other_stage_options: object) -> dict[str, pd.DataFrame]:
    """``frames``: :func:`score_frames` of some documents' sentences with ``frames.yml`` (empty
    without the file). ``embed_backend``: the embedding backend :func:`document_options` chose
    for the whole corpus (``None``: chosen from the sentences of this call)."""
    sentences = _reading_order(frames)
    frames_path = Path(data_dir) / "frames.yml"
    scored = pd.DataFrame(columns=FRAMES_COLUMNS)
    if frames_path.exists() and not sentences.empty:
        embed = _embedder(None, embed_backend or backend_for(len(sentences))) if use_embeddings else None
        scored = score_frames(sentences, load_codebook(frames_path), embed=embed, min_score=min_score,
                              max_frames=max_frames)
    return {"frames": scored}


def attribution_step(frames: Mapping[str, pd.DataFrame], **_stage_options: object) -> dict[str, pd.DataFrame]:
    """``attribution``: :func:`attribute_sentences` of some documents' sentences, linked to their
    ``mentions`` when given (spaCy's parser: most of the per-document time, and no data file)."""
    return {"attribution": attribute_sentences(_reading_order(frames), frames.get("mentions"))}


def naming_step(frames: Mapping[str, pd.DataFrame], *, data_dir: Path | str = Path("data"),
                **_stage_options: object) -> dict[str, pd.DataFrame]:
    """``naming_hits``: :func:`find_variants` of ``naming.yml`` in some documents' sentences
    (empty without the file)."""
    naming_path = Path(data_dir) / "naming.yml"
    hits = find_variants(_reading_order(frames), load_naming(naming_path)) if naming_path.exists() \
        else pd.DataFrame(columns=HIT_COLUMNS)
    return {"naming_hits": hits}


#: The per-document steps, each cached on its own by the pipeline, with the data file it reads:
#: editing ``frames.yml`` re-scores frames without parsing every sentence again for attribution.
DOCUMENT_STEPS: dict[str, DocumentStep] = {
    "frames": DocumentStep(frames_step, ("sentences",), ("frames",), ("frames.yml",)),
    "attribution": DocumentStep(attribution_step, ("sentences", "mentions"), ("attribution",), ()),
    "naming": DocumentStep(naming_step, ("sentences",), ("naming_hits",), ("naming.yml",)),
}


def early_document_step(frames: Mapping[str, pd.DataFrame], **_stage_options: object) -> dict[str, pd.DataFrame]:
    """The per-document part of :func:`early`, from a document's sentences alone: ``quoted_terms``
    (:func:`quoted_terms`), ``name_tokens`` (:func:`name_tokens`) and ``term_tokens``
    (:func:`sentence_tokens`)."""
    sentences = frames["sentences"].sort_values(["doc_id", "sent_id"]).reset_index(drop=True)
    return {"quoted_terms": quoted_terms(sentences), "name_tokens": name_tokens(sentences),
            "term_tokens": sentence_tokens(sentences)}


def _inputs(tables: Mapping[str, pd.DataFrame], *, warn: bool) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Sentences (in reading order) and articles (unknown outlets filled) of ``tables``, or None
    when there are no sentences to analyse; ``warn``: say so, and name articles without an outlet."""
    sentences, articles = tables.get("sentences"), tables.get("articles")
    if sentences is None or articles is None or sentences.empty:
        if warn:
            warnings.warn("framing: no sentences to analyse; every framing table is empty.", stacklevel=3)
        return None
    sentences = sentences.sort_values(["doc_id", "sent_id"]).reset_index(drop=True)
    if articles["outlet"].isna().any():
        if warn:
            warnings.warn(f"framing: {int(articles['outlet'].isna().sum())} article(s) without an outlet are "
                          "each compared as their own '(unknown: <doc_id>)' outlet.", stacklevel=3)
        articles = fill_unknown_outlets(articles)
    return sentences, articles


@contextmanager
def early_started(tables: Mapping[str, pd.DataFrame], *, top_terms: int = 20,
                  precomputed: Mapping[str, pd.DataFrame] | None = None, engine: Engine | None = None,
                  before_fork: Callable[[], None] | None = None, cache_dir: Path | str | None = None,
                  salt: str = "", digests: Digests | None = None,
                  **_stage_options: object) -> Iterator[Callable[[], dict[str, pd.DataFrame]]]:
    """:func:`early` in two steps: entering starts it, the function it yields finishes it and
    returns its tables, so the caller can do other work between the two.

    With an ``engine`` that forks beside this process for a corpus of this size
    (:meth:`Engine.forks_beside`), entering forks a process computing the naming candidates
    (the larger half of the early part: 7 s at 10,000 articles) and the function computes the
    rest here, then waits for them (:func:`toolkit.engine.beside`; ``before_fork`` runs before the
    fork). The pipeline starts it before the stage it runs in its own process beside the actors
    stage (topics), so the candidates' process starts with the wave instead of after that stage;
    the tables are the same. Leaving the block stops a process still running.

    With a ``cache_dir``, the plain uses of quoted terms, the naming candidates and each outlet's
    n-gram counts are kept there for the next run, which searches only the documents that changed
    (:func:`toolkit.framing.naming.plain_uses`), when documents were only added computes only
    the candidates they touch (:func:`toolkit.framing.naming.naming_candidates`), and counts the
    n-grams of the outlets whose documents changed (:func:`distinctive_terms`); each document is
    known by :func:`toolkit.engine.doc_keys` of its sentences with ``salt`` and the run's ``digests``.
    """
    out = {name: pd.DataFrame(columns=TABLE_COLUMNS[name]) for name in EARLY_TABLES}
    inputs = _inputs(tables, warn=False)
    if inputs is None:
        yield lambda: out
        return
    sentences, articles = inputs
    precomputed = precomputed or {}
    fork = engine is not None and engine.forks_beside(len(articles))
    known = kept = counts = None
    if cache_dir is not None:
        keys = doc_keys({"sentences": tables["sentences"]}, pd.unique(sentences["doc_id"]).tolist(),
                        fingerprint(salt, "plain uses"), digests=digests)
        known = Kept(Path(cache_dir) / "plain-uses.arrow", keys)
        kept = Kept(Path(cache_dir) / "naming-candidates.arrow", keys)
        counts = Kept(Path(cache_dir) / "outlet-ngrams", keys)
    with beside(candidates_table, sentences, articles, quoted=precomputed.get("quoted_terms"),
                tokens=precomputed.get("name_tokens"), known=known, kept=kept, fork=fork,
                before_fork=before_fork) as candidates:

        def finish() -> dict[str, pd.DataFrame]:
            out["distinctive_terms"] = distinctive_terms(sentences, articles, top_k=top_terms,
                                                         tokens=precomputed.get("term_tokens"), kept=counts)
            if "derived_from" in articles:
                out["rewrite_changes"] = rewrite_changes(articles, sentences, diff=tables.get("rewrite_diff"))
            out["naming_candidates"] = frame_of(candidates())
            return out

        yield finish


def early(tables: Mapping[str, pd.DataFrame], *, top_terms: int = 20,
          precomputed: Mapping[str, pd.DataFrame] | None = None, engine: Engine | None = None,
          before_fork: Callable[[], None] | None = None, **_stage_options: object) -> dict[str, pd.DataFrame]:
    """The tables of :func:`run` that read the corpus tables alone (sentences, articles,
    rewrite_diff), not the actors' mentions: ``naming_candidates``, ``distinctive_terms`` and
    ``rewrite_changes`` (:data:`EARLY_TABLES`; empty with their columns when there are no
    sentences). The pipeline computes them while the actors stage still runs and hands them to
    :func:`run` (through :func:`early_started`). ``precomputed``: :func:`early_document_step`'s
    output for every document. ``engine`` and ``before_fork``: see :func:`early_started`.
    """
    with early_started(tables, top_terms=top_terms, precomputed=precomputed, engine=engine,
                       before_fork=before_fork) as finish:
        return finish()


def run(tables: Mapping[str, pd.DataFrame], *, data_dir: Path | str = Path("data"), cache_dir: Path | str | None = None,
        use_embeddings: bool = True, min_score: float = 0.35, max_frames: int = 3, top_terms: int = 20,
        embed_backend: str | None = None, precomputed: Mapping[str, pd.DataFrame] | None = None,
        early_tables: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The framing stage: every framing table for a corpus.

    Reads ``tables["sentences"]`` (doc_id, para_id, sent_id, start, end, text), ``tables["articles"]``
    (doc_id, outlet, derived_from) and, when the actors stage ran, ``tables["mentions"]`` (to link
    speakers to canonical actors). Reads ``frames.yml`` and ``naming.yml`` from ``data_dir``
    (a missing file gives a warning and empty tables for that analysis; a malformed one raises
    :class:`DataFileError` naming the line). ``cache_dir`` is the sentence-embedding cache;
    ``use_embeddings=False`` scores frames by cues alone; ``embed_backend`` names the embedding
    backend (``None``: :func:`toolkit.models.backend_for` the number of sentences).
    ``min_score``/``max_frames`` go to :func:`score_frames`, ``top_terms`` to :func:`distinctive_terms`.

    Returns frames, frame_shares, distinctive_terms, naming, naming_candidates, attribution,
    attribution_by_outlet and rewrite_changes (columns in ``TABLE_COLUMNS``). Comparisons that a
    corpus cannot support (one outlet) warn and return their table empty, with its columns.
    ``precomputed``: the output of :func:`document_step` (and of :func:`early_document_step`) for
    every document (the pipeline's engine computes them per document, cached); ``early_tables``:
    :func:`early`'s tables, computed beforehand. Whatever they lack is computed here.
    """
    out = empty_tables()
    precomputed = precomputed or {}
    inputs = _inputs(tables, warn=True)
    if inputs is None:
        return out
    sentences, articles = inputs
    if early_tables is None:
        early_tables = early(tables, top_terms=top_terms, precomputed=precomputed)
    out.update({name: early_tables[name] for name in EARLY_TABLES})
    data_dir = Path(data_dir)
    frames_path, naming_path = data_dir / "frames.yml", data_dir / "naming.yml"
    if frames_path.exists():
        codebook = load_codebook(frames_path)
        if "frames" in precomputed:
            out["frames"] = precomputed["frames"]
        else:
            embed = _embedder(cache_dir, embed_backend or backend_for(len(sentences))) if use_embeddings else None
            out["frames"] = score_frames(sentences, codebook, embed=embed, min_score=min_score, max_frames=max_frames)
        out["frame_shares"] = frame_shares(out["frames"], sentences, articles, codebook)
    else:
        warnings.warn(f"framing: no frame codebook at {frames_path}; frames are not scored.", stacklevel=2)
    if naming_path.exists():
        out["naming"] = naming_table(sentences, articles, load_naming(naming_path), hits=precomputed.get("naming_hits"))
    else:
        warnings.warn(f"framing: no naming list at {naming_path}; only automatic candidates are listed.", stacklevel=2)
    if "attribution" in precomputed:
        out["attribution"] = precomputed["attribution"]
    else:
        out["attribution"] = attribute_sentences(sentences, tables.get("mentions"))
    out["attribution_by_outlet"] = attribution_by_outlet(out["attribution"], articles, sentences)
    return out

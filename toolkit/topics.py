"""What does each outlet talk about: BERTopic over paragraphs, from five articles to thousands.

Units are body paragraphs (``paragraphs`` minus headings and paragraphs shorter than
``TopicConfig.min_words`` words, each skip recorded in ``topics_skipped``), so every topic traces
back to ``doc_id``/``para_id`` and outlet shares are computed from paragraph assignments.

Embeddings come from :func:`toolkit.models.embed` (packaged all-MiniLM-L6-v2, offline, disk cache;
full precision below 2,000 embedded paragraphs and int8 from there, see
:func:`toolkit.models.backend_for`; a TF-IDF + SVD fallback with a warning when torch is unavailable). BERTopic always receives the
loaded embedding model and the precomputed embeddings, so it never reaches for the hub.

Adaptive configuration (``N`` = number of paragraphs modelled; every cell can be overridden through
:class:`TopicConfig`):

=========  ==============================  ===========================================  ====================
N          reduction                       clustering                                   outliers (topic -1)
=========  ==============================  ===========================================  ====================
0-1        none                            none: a warning; the unit stays unassigned   kept
2-1999     none (the 384-d embeddings,     Ward agglomerative clustering (scikit-       none by construction
``small``  ``BaseDimensionalityReduction``)  learn), k by cosine silhouette over
                                           3..min(8, N-1) (k = 1 when N = 2, 2 when 3)
>= 2000    seeded UMAP, cosine,            HDBSCAN with *leaf* cluster selection,       reassigned to the
``large``  n_neighbors 15, 5 components,   min_cluster_size = m times max(10,           nearest topic
           min_dist 0, 200 epochs          round(sqrt(N)/2)), m of 1, 1.5, 2, 3, 4      embedding
                                           chosen by topic coherence                    (``reduce_outliers``)
                                           (:class:`CoherentHDBSCAN`; N = 5,000 ->
                                           35..140), min_samples = half of it; no cap
                                           on the number of topics
>= 8000    ``sampled``: the 5,000 distinct paragraphs with the smallest text hashes are embedded    same (sample)
           and fitted as a ``large`` corpus; every other paragraph is assigned by a TF-IDF
           (1-2 grams) + LinearSVC classifier trained on the sample's topics (no embedding,
           probability NaN). The fit and the assignments are stored under ``cache_dir``.
=========  ==============================  ===========================================  ====================

Small corpora (under 2,000 paragraphs) are usually one story read by a few outlets: up to 8
sub-themes a reporter can compare; large corpora span many stories.

Why Ward and not UMAP + HDBSCAN below 2,000 paragraphs: at this size UMAP + HDBSCAN (BERTopic's
pipeline, which this class used before) is chaotic. UMAP's stochastic layout amplifies the
last-bit float differences between two CPUs' kernels, so the bundled corpus gave 7 topics on an
Intel Xeon and 4 on an AMD EPYC with the same code and seed. Ward linkage has no random state and
no iterative layout; it moves only where two merges are near-ties. Measured by
``benchmarks/topics_stability.py`` (Gaussian noise of 1e-6 added to the embeddings, five draws,
more than CPU rounding; NMI of each paragraph's topic against its article's AllSides label):

=============================  ==========================  ==========================
corpus                         Ward: identical / NMI       UMAP + HDBSCAN: identical /
                                                           NMI (topics under noise)
=============================  ==========================  ==========================
bundled, 68 paragraphs         5/5 (4 topics)              0/5 (4-7 topics)
AllSides 40, 5 labels          5/5, 0.703                  1/5, 0.665
AllSides 150, 5 labels         5/5, 0.234                  0/5, 0.276
AllSides 600, 5 labels         5/5, 0.153                  0/5, 0.141 (2-7)
AllSides 1500, 5 labels        5/5, 0.244                  4/5, 0.001 (2-7)
AllSides 40, 10 labels         5/5, 0.788                  0/5, 0.747
AllSides 150, 10 labels        5/5, 0.557                  0/5, 0.395
AllSides 600, 10 labels        5/5, 0.281                  0/5, 0.329
AllSides 1500, 10 labels       5/5, 0.265                  0/5, 0.303 (2-7)
=============================  ==========================  ==========================

So Ward is as close to the labels overall (better in four samples, worse in four) and the only one
of the two whose topics survive rounding. The silhouette search starts at k = 3 (``k_min``):
cosine silhouettes of sentence embeddings are nearly flat (0.03-0.10), and their maximum at
k = 2 split off a small group (AllSides 150 and 600 paragraphs, 10 labels: NMI 0.18 and 0.14 at
k = 2 against 0.56 and 0.28 at the k chosen from 3).

Large corpora keep UMAP + HDBSCAN, where clusters are big enough for the result to be stable in
substance; it is reproducible on one machine but not bit-identical across CPU models.
Measured on 10,000 AllSides paragraphs (``benchmarks/topics_bench.py``): HDBSCAN's default
"eom" selection with min_cluster_size >= 25 returned one cluster holding 99 % of the paragraphs,
while "leaf" selection gave 32 homogeneous topics (NMI 0.44 against AllSides labels on the
clustered paragraphs; BERTopic's defaults, 10/10 eom: 114 topics, NMI 0.40).
When HDBSCAN finds no cluster at all, the small-corpus Ward clustering is used instead
(``topic_run`` says so).

Why ``sampled``: 10,000 articles hold about 200,000 modelled paragraphs and MiniLM embeds 30-80
paragraphs/s on a 2-core laptop, so embedding them all takes over an hour; the sample bounds the
neural cost at ``sample_size`` paragraphs (about 1-2 minutes) whatever the corpus size, and the
lexical classifier assigns the rest in seconds. It starts at 8,000 paragraphs (about 350 AllSides
articles): a 500-article corpus (11,000 paragraphs) took 6 minutes to embed in full and refitted
on every run that added an article, for the quality difference measured below. The sample is bottom-k by text hash (no order or
seed dependence), so adding an article changes it by at most that article's paragraphs: a warm run
reuses the stored fit when the stored sample still covers ``reuse_overlap`` (98 %) of the new one,
and only classifies paragraphs it has never seen. Quality cost, measured by
``benchmarks/topics_bench.py --sampled 2000 5000`` on 10,000 labelled AllSides paragraphs (2,018
articles, 10 labels; NMI against the AllSides ``topic`` label, per paragraph and per article by
majority topic; agreement = NMI / adjusted Rand index between the two assignments; measured again
in session 19 with the current clustering and :func:`unit_keys`):

=====================  ======  ===================  =====================  ==========================
approach               topics  NMI paragraphs       NMI articles           agreement with full
=====================  ======  ===================  =====================  ==========================
full (all embedded)    10      0.328                0.423                  -
sampled, 5,000         10      0.294                0.419                  NMI 0.54, ARI 0.42
sampled, 2,000         7       0.253                0.371                  NMI 0.40, ARI 0.28
=====================  ======  ===================  =====================  ==========================

So at the default 5,000 agreement with the labels drops by 0.034 per paragraph and hardly per
article (0.004), while the partition itself is a different one (agreement with the full run is
moderate); at 2,000 both drop. Paragraphs the classifier assigned agree with the full run less
than the whole does (NMI 0.45 vs 0.54 at 5,000). Which paragraphs are sampled matters about as
much: the samples drawn by the SHA-256 keys used before (another random draw of the same sizes)
scored 0.295 / 0.424 with 9 topics at 5,000 and 0.270 / 0.411 with 14 topics at 2,000. Not
measured: how much two full runs with different seeds agree.

Topic terms are c-TF-IDF over ``CountVectorizer(stop_words=..., token_pattern=TERM_PATTERN)``:
unigrams and bigrams of words of two or more letters (numbers gave terms such as "19" or "000");
the stopwords are scikit-learn's and spaCy's English lists, the fragments the token pattern leaves
of contractions ("don", "ve"), ``NEWS_FURNITURE`` (reporting verbs, agency and photo credits),
every word of the corpus's outlet names (so "Al Mayadeen" or "CNN" are not topics) and
``TopicConfig.extra_stopwords``. From 2,000 modelled paragraphs (and in the sampled
class), ``top_terms`` are the topic's 30 best c-TF-IDF terms in :func:`coherence_order` (the best
term first, then each next the one with the highest mean NPMI, over the modelled paragraphs, to
those already listed), cut to ``top_n_words``; smaller corpora keep the c-TF-IDF order, because
NPMI over a few dozen paragraphs rewards words that met once ("need", "week" among the first
terms of the bundled corpus's topics instead of "putin", "troops"). The readable label is the first
three distinct terms of BERTopic's ``KeyBERTInspired`` representation (which embeds candidate
words with the same offline model).

Granularity: from 2,000 paragraphs, :class:`CoherentHDBSCAN` clusters the UMAP output at each
candidate min_cluster_size (HDBSCAN on 5 dimensions takes about a second) and keeps the one
whose topics are the most coherent: the mean NPMI, over the modelled paragraphs, of each
topic's first ten terms in :func:`coherence_order` (:func:`clustering_coherence`). HDBSCAN's
own criterion (cluster stability) does not see words, and the size-derived setting alone gave 25-32
topics on 8,000 AllSides paragraphs where 9-14 were both more coherent and as close to the labels.
Coarser clusterings score higher on this corpus (0.24 at 1x to 0.32 at 4x, and higher still at
6x with 6-7 topics that merged labels: NMI 0.34-0.39); the steps stop at 4x, so a sample of 5,000
paragraphs gives at least 9 topics.

Coherence, measured with ``benchmarks/topics_bench.py --seeds 0 1 2 3 4`` (gensim-exact c_npmi
over 10-token windows, OCTIS preprocessing; each seed a different sample of about 8,000
paragraphs of 1,615 AllSides articles, 10 labels, fitted on 80 % of the articles; the reference
corpus is 2,225 held-out articles, or the training paragraphs for the paper's in-sample
protocol; NMI of held-out articles' majority topic against the labels; this machine's int8
embeddings; mean of five samples, range in brackets):

============================================  =======================  =======================  ===================
topic terms and clustering                    NPMI held-out            NPMI in-sample           NMI articles
============================================  =======================  =======================  ===================
c-TF-IDF order, 1x, scikit-learn stopwords    0.078 (seed 0)           0.123 (seed 0)           0.474 (seed 0)
coherence order, 1x, scikit-learn stopwords   0.118 (0.100-0.134)      0.148 (0.129-0.168)      0.429 (0.379-0.474)
  (seeds 0-2)
coherence order, 1x                           0.139 (0.114-0.161)      0.144 (0.129-0.166)      0.430 (0.379-0.475)
coherence order, chosen granularity           **0.170** (0.156-0.183)  0.171 (0.164-0.178)      0.432 (0.385-0.490)
============================================  =======================  =======================  ===================

The last row is the default (three of the five samples reach 0.167 alone); the chosen sizes were
140, 70, 135, 180, 180 (9-14 topics). The first two rows are from before spaCy's stopwords were
added. BERTopic's published figure is 0.167 on BBC News (MPNet, in-sample, a mean over runs; five
far-apart categories, where AllSides' ten are all US politics). What keeps the held-out figure down is clusters of commentary rather than
subject ("trump, donald, fake, reporters, think, fact": held-out NPMI 0.015), whose words the
reference corpus does not use together. Tried and not kept: co-occurrence in 10-token windows
instead of paragraphs (seed 0 held-out 0.091 against 0.100 with paragraphs), 50 candidates
instead of 30 (0.097), candidates in under 0.5 % of paragraphs placed last (0.087), words in over
39 % of the training articles removed from the terms (seed 1: 0.143 against 0.148); before the
coherence order, unigrams only, ``reduce_frequent_words``, BM25 weighting and ``min_df`` moved
held-out NPMI by at most ±0.004. Fitting on OCTIS-lemmatised text, as the paper's harness did
(``--octis-fit``), gave 0.139 held-out and 0.159 in-sample at 1x, but its terms are lemmas
("justice" for "justices"), which is not what a reader of the stage's tables should see.

UMAP's nearest neighbours are exact (cosine, brute force) up to :data:`EXACT_NEIGHBOURS_MAX` units:
UMAP itself is exact below 4,096 points, and above that its NNDescent index spent about 35 s per
process compiling numba code, so the 5,000-paragraph sample took 43 s in UMAP with NNDescent and
9 s with exact neighbours computed in 1 s (measured by ``benchmarks/topics_bench.py``).

Determinism: small corpora's clustering (Ward) has no random state and does not move under
rounding differences (above); the UMAP and KeyBERTInspired seeds are fixed (``TopicConfig.seed``);
seeded UMAP runs single-threaded (``benchmarks/topics_bench.py`` measures the cost). Topics are renumbered
by size (largest = 0), ties broken by first appearance in reading order. In the ``sampled`` class
the tables also depend on the fit stored under ``cache_dir``: a run that reuses it (``topic_run``'s
clustering ends with "stored fit reused") keeps the stored topics, so it can differ from a cold run
of the same corpus whose sample moved by less than ``1 - reuse_overlap``.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.metrics import silhouette_score

from toolkit import models
from toolkit.stats import wilson_interval
from toolkit.store import read_table, write_table

log = logging.getLogger(__name__)

NEWS_FURNITURE: frozenset[str] = frozenset(
    """said says say saying told tells according reported reports reporting report mr mrs ms
    reuters ap afp upi getty images image photo photos file caption video watch read click
    subscribe newsletter advertisement share comments comment follow twitter facebook instagram
    telegram whatsapp copyright rights reserved percent""".split()
)
"""Words of news-page furniture and attribution that are never what a topic is about."""

CONTRACTION_FRAGMENTS: frozenset[str] = frozenset(
    "don doesn didn isn wasn weren aren hasn haven hadn couldn shouldn wouldn ve ll re".split())
"""What :data:`TERM_PATTERN` leaves of contractions ("don't" gives "don", "we've" gives "ve")."""

TERM_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
"""Tokens of topic terms: two or more letters, no digits or underscores ("covid-19" gives "covid";
numbers such as "19" or "000" are never terms)."""

UNASSIGNED = -1
"""Topic id of paragraphs no topic holds (BERTopic's outlier topic)."""
UMAP_EXACT_BELOW = 4096
"""UMAP computes exact nearest neighbours itself below this many points (umap-learn's threshold)."""
EXACT_NEIGHBOURS_MAX = 20_000
"""Largest number of units whose UMAP nearest neighbours are computed exactly (see the module text)."""

UNASSIGNED_LABEL = "(unassigned)"
COHERENCE_WORDS = 10
"""Words per topic that :class:`CoherentHDBSCAN` scores (topic coherence is reported over each
topic's first ten words, BERTopic's paper included), however many ``top_terms`` are listed."""

TOPICS_COLUMNS = ["doc_id", "para_id", "outlet", "topic", "topic_label", "probability"]
TOPIC_INFO_COLUMNS = ["topic", "topic_label", "top_terms", "size", "articles", "outlets",
                      "single_outlet", "doc_id", "para_id", "example"]
TOPIC_OUTLETS_COLUMNS = ["topic", "topic_label", "outlet", "paragraphs", "articles", "n", "share",
                         "ci_low", "ci_high", "single_outlet"]
SKIPPED_COLUMNS = ["doc_id", "para_id", "reason"]
RUN_COLUMNS = ["n_units", "n_skipped", "size_class", "reduction", "clustering", "n_topics",
               "outliers_found", "outliers_left", "embedding", "seed"]


@dataclass(frozen=True)
class TopicConfig:
    """Settings of the topic stage; ``None`` means "chosen from corpus size" (module table).

    Attributes:
        min_words: paragraphs with fewer words are skipped (recorded as ``short``).
        size_class: force ``"small"`` or ``"large"`` instead of choosing from N.
        large_from: N from which the corpus is ``large`` (below, ``small``).
        n_topics: Ward k for small corpora (instead of the silhouette choice).
        k_min, k_max: smallest and largest k the silhouette search tries (module text: why not 2).
        n_neighbors, n_components, min_dist, n_epochs: UMAP settings (large corpora).
        min_cluster_size, min_samples: HDBSCAN settings (large corpora).
        reduce_outliers: reassign HDBSCAN outliers to the nearest topic embedding.
        outlier_threshold: minimum cosine similarity for that reassignment.
        max_topics: merge a large corpus's topics down to this many (BERTopic ``nr_topics``);
            ``None``: no cap (small corpora have at most ``k_max`` by construction).
        top_n_words: terms per topic in ``top_terms``.
        candidate_terms: c-TF-IDF terms per topic that :func:`coherence_order` orders; the first
            ``top_n_words`` of that order are ``top_terms`` (0: plain c-TF-IDF order).
        coherence_from: fewest modelled units for that order (below, co-occurrence counts are
            too small to estimate NPMI and the c-TF-IDF order is kept).
        cluster_size_steps: multiples of the size-derived HDBSCAN min_cluster_size that
            :class:`CoherentHDBSCAN` chooses from by topic coherence (large corpora from
            ``coherence_from`` units, when ``min_cluster_size`` is not set; one step: no choice).
        label_words: KeyBERTInspired words in ``topic_label``.
        extra_stopwords: further words to drop from topic terms (e.g. a corpus's section names).
        embedding: ``"auto"`` (MiniLM, fallback when torch is missing), ``"minilm"`` or ``"tfidf"``.
        batch_size: embedding batch size.
        seed: seed of UMAP and KeyBERTInspired (and of the sampled class's classifier).
        sample_from: N from which the corpus is ``sampled`` (module table).
        sample_size: units embedded and clustered in the ``sampled`` class.
        reuse_overlap: share of the current sample a stored fit's sample must cover for a
            ``sampled`` run to reuse that fit instead of refitting.
    """

    min_words: int = 8
    size_class: str | None = None
    large_from: int = 2000
    n_topics: int | None = None
    k_min: int = 3
    k_max: int = 8
    n_neighbors: int = 15
    n_components: int = 5
    min_dist: float = 0.0
    n_epochs: int = 200
    min_cluster_size: int | None = None
    min_samples: int | None = None
    reduce_outliers: bool = True
    outlier_threshold: float = 0.0
    max_topics: int | None = None
    top_n_words: int = 10
    candidate_terms: int = 30
    coherence_from: int = 2000
    cluster_size_steps: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0)
    label_words: int = 3
    extra_stopwords: tuple[str, ...] = field(default_factory=tuple)
    embedding: str = "auto"
    batch_size: int = 64
    seed: int = 0
    sample_from: int = 8_000
    sample_size: int = 5_000
    reuse_overlap: float = 0.98


@dataclass(frozen=True)
class TopicFit:
    """Result of :func:`fit_topics`: one topic per unit, plus what was run.

    Attributes:
        topics: topic id per unit (``-1`` = unassigned), renumbered by size.
        probability: HDBSCAN membership strength per unit; NaN where the clusterer gives none
            (Ward, units reassigned from the outlier topic).
        terms: topic id -> c-TF-IDF terms, best first.
        labels: topic id -> readable label.
        settings: one row of ``topic_run`` (size class, reduction, clustering, outlier counts).
        model: the fitted BERTopic model (``None`` when no model could be fitted).
    """

    topics: np.ndarray
    probability: np.ndarray
    terms: dict[int, list[str]]
    labels: dict[int, str]
    settings: dict[str, Any]
    model: Any


def select_units(paragraphs: pd.DataFrame, articles: pd.DataFrame, *,
                 min_words: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``paragraphs`` into the units to model and the skipped ones.

    Input columns: ``paragraphs``: doc_id, para_id, text, is_heading; ``articles``: doc_id, outlet.
    Returns ``(units, skipped)``: ``units`` has doc_id, para_id, outlet, text (sorted by doc_id,
    para_id; outlet ``"(unknown)"`` when missing); ``skipped`` has doc_id, para_id, reason
    (``heading``, ``short``: fewer than ``min_words`` words, ``empty``).
    """
    paras = paragraphs[["doc_id", "para_id", "text", "is_heading"]].copy()
    paras["text"] = paras["text"].fillna("").astype(str).str.strip()
    # whether a paragraph has min_words words, reading only its first min_words (splitting
    # every paragraph into words made lists of millions of strings)
    long_enough = paras["text"].str.match(rf"(?:\S+\s+){{{max(min_words, 1) - 1}}}\S")
    reason = pd.Series(pd.NA, index=paras.index, dtype="object")
    reason[~long_enough] = "short"
    reason[paras["text"] == ""] = "empty"
    reason[paras["is_heading"].fillna(False).astype(bool)] = "heading"
    outlets = articles.drop_duplicates("doc_id").set_index("doc_id")["outlet"]
    paras["outlet"] = paras["doc_id"].map(outlets).fillna("(unknown)").astype(str)
    order = ["doc_id", "para_id"]
    units = paras[reason.isna()].sort_values(order)[["doc_id", "para_id", "outlet", "text"]]
    skipped = paras[reason.notna()].assign(reason=reason[reason.notna()]).sort_values(order)
    return units.reset_index(drop=True), skipped[SKIPPED_COLUMNS].reset_index(drop=True)


def stopwords_for(outlets: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """English stopwords (scikit-learn's and spaCy's lists, which OCTIS and so BERTopic's own
    evaluation use; spaCy adds "just", "really", "make", "did") + :data:`CONTRACTION_FRAGMENTS`
    + ``NEWS_FURNITURE`` + the words of outlet names + ``extra``, sorted."""
    models.import_spacy()  # the stop words' package imports spaCy
    from spacy.lang.en.stop_words import STOP_WORDS

    outlet_words = {w for name in outlets for w in re.findall(r"[a-z0-9]+", str(name).lower())}
    return sorted(set(ENGLISH_STOP_WORDS) | STOP_WORDS | CONTRACTION_FRAGMENTS | NEWS_FURNITURE | outlet_words
                  | {w.lower() for w in extra})


def size_class(n_units: int, config: TopicConfig) -> str:
    """``"none"`` (< 2 units), ``"small"``, ``"large"`` or ``"sampled"`` (module table)."""
    if n_units < 2:
        return "none"
    if config.size_class is not None:
        return config.size_class
    if n_units >= config.sample_from:
        return "sampled"
    return "small" if n_units < config.large_from else "large"


def choose_k(embeddings: np.ndarray, *, k_min: int = 3, k_max: int = 8) -> int:
    """Ward k with the best cosine silhouette over min(k_min, N-1)..min(k_max, N-1); 1 when N < 3.

    Ties go to the smaller k. The Ward tree is built once and cut at each k.
    """
    from scipy.cluster.hierarchy import cut_tree, ward

    n = len(embeddings)
    if n < 3:
        return 1
    ks = list(range(max(2, min(k_min, n - 1)), min(k_max, n - 1) + 1))
    cuts = cut_tree(ward(np.asarray(embeddings, dtype=np.float64)), n_clusters=ks)
    best_k, best = 2, -math.inf
    for k, labels in zip(ks, cuts.T):
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(embeddings, labels, metric="cosine")
        if score > best + 1e-12:
            best_k, best = k, score
    return best_k


def _umap_settings(n: int, config: TopicConfig) -> dict[str, Any]:
    """UMAP keyword arguments for a large corpus of ``n`` units."""
    return {"n_neighbors": min(config.n_neighbors, n - 1), "n_components": min(config.n_components, n - 2),
            "min_dist": config.min_dist, "metric": "cosine", "n_epochs": config.n_epochs,
            "random_state": config.seed, "low_memory": True}


def _hdbscan_settings(n: int, config: TopicConfig) -> dict[str, Any]:
    """HDBSCAN keyword arguments for a large corpus of ``n`` units."""
    size = config.min_cluster_size or max(10, round(math.sqrt(n) / 2))
    samples = config.min_samples or max(2, size // 2)
    return {"min_cluster_size": size, "min_samples": samples, "metric": "euclidean",
            "cluster_selection_method": "leaf", "prediction_data": False}


def _hdbscan_candidates(n: int, config: TopicConfig) -> list[dict[str, Any]]:
    """HDBSCAN settings :class:`CoherentHDBSCAN` chooses from: the size-derived min_cluster_size
    times each of ``config.cluster_size_steps``, for large corpora of at least
    ``config.coherence_from`` units whose cluster size is not set; else the one setting."""
    base = _hdbscan_settings(n, config)
    if n < config.coherence_from or not config.candidate_terms or config.min_cluster_size:
        return [base]
    sizes = dict.fromkeys(max(2, round(base["min_cluster_size"] * step)) for step in config.cluster_size_steps)
    return [{**base, "min_cluster_size": size, "min_samples": config.min_samples or max(2, size // 2)}
            for size in sizes]


def _representation(config: TopicConfig) -> dict[str, Any]:
    """BERTopic representation models: c-TF-IDF stays "Main", KeyBERTInspired gives labels."""
    from bertopic.representation import KeyBERTInspired

    return {"KeyBERT": KeyBERTInspired(top_n_words=max(10, config.label_words), nr_candidate_words=30,
                                       random_state=config.seed)}


@lru_cache(maxsize=1)
def _cached_embedder_class() -> type:
    """BERTopic embedding backend over :func:`toolkit.models.embed` (class built on first use,
    because importing bertopic costs seconds that corpus loading should not pay)."""
    from bertopic.backend import BaseEmbedder

    class CachedEmbedder(BaseEmbedder):
        """Embeds through ``toolkit.models.embed``, so BERTopic's own calls (KeyBERTInspired's
        candidate words and representative paragraphs) hit the same disk cache."""

        def __init__(self, model: Any, model_id: str | None, cache_dir: Path | str | None,
                     batch_size: int) -> None:
            super().__init__(embedding_model=model)
            self.model_id, self.cache_dir, self.batch_size = model_id, cache_dir, batch_size

        def embed(self, documents: Sequence[str], verbose: bool = False) -> np.ndarray:
            return models.embed(documents, cache_dir=self.cache_dir if self.model_id else None,
                                batch_size=self.batch_size, model=self.embedding_model,
                                model_id=self.model_id)

    return CachedEmbedder


def bertopic_embedder(model: Any, *, model_id: str | None = None, cache_dir: Path | str | None = None,
                      batch_size: int = 64) -> Any:
    """A BERTopic embedding backend (``bertopic.backend.BaseEmbedder``) embedding with ``model``
    through :func:`toolkit.models.embed` (disk cache when ``model_id`` and ``cache_dir`` are set)."""
    return _cached_embedder_class()(model, model_id, cache_dir, batch_size)


def npmi_matrix(terms: Sequence[str], texts: Sequence[str], analyzer: Any) -> np.ndarray:
    """Normalised pointwise mutual information of every pair of ``terms`` over ``texts``, each
    text one window (a term occurs in a text when ``analyzer(text)`` yields it): NPMI(a, b) =
    log(P(a, b) / (P(a) P(b))) / -log P(a, b), -1 for terms never seen together, 1 for terms in
    every text; the diagonal is 1.

    >>> npmi_matrix(["a", "b", "c"], ["a b", "a b", "c", "a"], str.split).round(3).tolist()
    [[1.0, 0.415, -1.0], [0.415, 1.0, -1.0], [-1.0, -1.0, 1.0]]
    """
    vectorizer = CountVectorizer(vocabulary={t: i for i, t in enumerate(terms)}, analyzer=analyzer, binary=True)
    return _npmi(vectorizer.transform(texts))


def _npmi(present: Any) -> np.ndarray:
    """:func:`npmi_matrix` of the columns of ``present`` (texts x terms, sparse, nonzero where
    the term occurs in the text)."""
    present = (present > 0).tocsc().astype(np.float64)
    n = max(present.shape[0], 1)
    joint = (present.T @ present).toarray() / n
    single = np.diag(joint).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        npmi = np.log(joint / np.outer(single, single)) / -np.log(joint)
    npmi[joint == 0] = -1.0
    npmi[joint >= 1] = 1.0
    np.fill_diagonal(npmi, 1.0)
    return npmi


def _singular(word: str) -> str:
    """``word`` without a final plural "s" ("justices" and "justice" count as one word in
    :func:`coherence_order`); crude, but it only decides which candidates repeat a placed word."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def coherence_order(candidates: Sequence[Sequence[str]], texts: Sequence[str], analyzer: Any) -> list[list[str]]:
    """Each topic's candidate terms (its c-TF-IDF terms, best first) in an order that keeps the
    first terms coherent: the best c-TF-IDF term first, then repeatedly the candidate with the
    highest mean :func:`npmi_matrix` to the terms already placed (ties: better c-TF-IDF rank).
    A candidate sharing a word with a placed term ("white house" after "house", "justices" after
    "justice") goes after every other candidate, so the first terms are not the same word twice.

    c-TF-IDF ranks words by how distinctive they are of a topic, not by whether they occur
    together; a reader scanning ten terms looks for the latter, and topic coherence (NPMI, the
    measure BERTopic is evaluated by) scores exactly that. Co-occurrence is counted over the
    modelled units (``texts``, each one window), so a held-out measurement stays held out.
    Hand-written: BERTopic's representation models (MMR, KeyBERTInspired) rank by embedding
    similarity, not co-occurrence.

    >>> coherence_order([["a", "c", "b"]], ["a b", "a b", "c", "a"], str.split)
    [['a', 'b', 'c']]
    """
    vocabulary = sorted({t for terms in candidates for t in terms})
    if not vocabulary:
        return [list(terms) for terms in candidates]
    return _ordered(candidates, npmi_matrix(vocabulary, texts, analyzer), vocabulary)


def _ordered(candidates: Sequence[Sequence[str]], npmi: np.ndarray, vocabulary: Sequence[str]) -> list[list[str]]:
    """:func:`coherence_order` given the NPMI matrix over ``vocabulary`` (every candidate in it)."""
    index = {t: i for i, t in enumerate(vocabulary)}
    ordered = []
    for terms in candidates:
        terms = list(dict.fromkeys(terms))
        if not terms:
            ordered.append([])
            continue
        codes = np.array([index[t] for t in terms])
        words = [{_singular(w) for w in t.split()} for t in terms]
        placed, left, used = [0], list(range(1, len(terms))), set(words[0])
        total = npmi[codes[0], codes].copy()
        while left:
            fresh = [i for i in left if not words[i] & used]
            best = max(fresh or left, key=lambda i: (total[i] / len(placed), -i))
            placed.append(best)
            left.remove(best)
            used |= words[best]
            total += npmi[codes[best], codes]
        ordered.append([terms[i] for i in placed])
    return ordered


def clustering_coherence(labels: np.ndarray, counts: Any, terms: Sequence[str], *, top_n_words: int = 10,
                         candidate_terms: int = 30) -> tuple[float, int]:
    """Mean topic coherence of a clustering and its number of topics (label ``-1`` is no topic).

    ``counts``: texts x terms counts (a fitted ``CountVectorizer``'s matrix, ``terms`` its
    feature names), one row per label. Each topic's ``candidate_terms`` best c-TF-IDF terms
    (BERTopic's ``ClassTfidfTransformer`` over the summed counts of each label, -1 included as
    BERTopic does) are put in :func:`coherence_order`; the topic's coherence is the mean NPMI
    (over the texts, each one window) of every pair of its first ``top_n_words``, and the
    clustering's is the unweighted mean over topics (as topic coherence is reported). ``-inf``
    with fewer than two topics, where there is nothing to compare.
    """
    from bertopic.vectorizers import ClassTfidfTransformer
    from scipy import sparse

    classes, codes = np.unique(np.asarray(labels), return_inverse=True)
    topics_ = np.flatnonzero(classes != UNASSIGNED)
    if len(topics_) < 2:
        return -math.inf, len(topics_)
    member = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))),
                               shape=(len(classes), len(codes)))
    weights = ClassTfidfTransformer().fit_transform(sparse.csr_matrix(member @ counts)).toarray()
    best = [np.argsort(-weights[row], kind="stable")[:candidate_terms] for row in topics_]
    best = [cols[weights[row, cols] > 0] for row, cols in zip(topics_, best)]
    columns = np.unique(np.concatenate(best))
    vocabulary = [terms[c] for c in columns]
    npmi = _npmi(counts[:, columns])
    ordered = _ordered([[terms[c] for c in cols] for cols in best], npmi, vocabulary)
    where = {t: i for i, t in enumerate(vocabulary)}
    scores = []
    for words in ordered:
        codes_ = [where[t] for t in words[:top_n_words]]
        block = npmi[np.ix_(codes_, codes_)]
        pairs = len(codes_) * (len(codes_) - 1)
        scores.append((block.sum() - len(codes_)) / pairs if pairs else 0.0)
    return float(np.mean(scores)), len(topics_)


class CoherentHDBSCAN:
    """HDBSCAN at the cluster size, of several, whose topics are the most coherent.

    ``fit`` clusters with each of ``candidates`` (HDBSCAN keyword arguments, finest first), scores
    each clustering with :func:`clustering_coherence` over ``texts`` (the units being modelled, in
    the order of the embeddings BERTopic clusters) and keeps the best (ties: the finer); the
    scores stay in ``scores_`` ((min_cluster_size, topics, coherence) per candidate). It offers
    what BERTopic reads of a clusterer: ``fit``, ``labels_`` and ``probabilities_``.
    Hand-written: neither BERTopic nor HDBSCAN chooses a granularity by topic coherence.
    """

    def __init__(self, candidates: Sequence[Mapping[str, Any]], texts: Sequence[str], vectorizer: Any, *,
                 top_n_words: int = 10, candidate_terms: int = 30) -> None:
        self.candidates, self.texts, self.vectorizer = [dict(c) for c in candidates], list(texts), vectorizer
        self.top_n_words, self.candidate_terms = top_n_words, candidate_terms

    def fit(self, X: np.ndarray, y: Any = None) -> "CoherentHDBSCAN":
        from hdbscan import HDBSCAN
        from sklearn.base import clone

        vectorizer = clone(self.vectorizer)
        counts = vectorizer.fit_transform(self.texts).tocsc()
        terms = vectorizer.get_feature_names_out().tolist()
        self.scores_, best, fitted = [], -math.inf, None
        for kwargs in self.candidates:
            clusterer = HDBSCAN(**kwargs).fit(X)
            score, n_topics = clustering_coherence(clusterer.labels_, counts, terms, top_n_words=self.top_n_words,
                                                   candidate_terms=self.candidate_terms)
            self.scores_.append((kwargs["min_cluster_size"], n_topics, score))
            if fitted is None or score > best + 1e-12:
                best, fitted, self.chosen_ = score, clusterer, kwargs
        self.labels_, self.probabilities_ = fitted.labels_, fitted.probabilities_
        return self

    def describe(self) -> str:
        """The chosen settings and every candidate's score, for ``topic_run.clustering``."""
        tried = "; ".join(f"{size}: {topics_} topics, {score:.3f}" for size, topics_, score in self.scores_)
        return ("HDBSCAN(min_cluster_size={min_cluster_size}, min_samples={min_samples}, "
                "{cluster_selection_method})".format(**self.chosen_)
                + f", the most coherent of min_cluster_size {tried}")


def _label(words: Sequence[str], n_words: int) -> str:
    """First ``n_words`` words sharing no token with a word already chosen, comma-joined."""
    chosen: list[str] = []
    seen: set[str] = set()
    for word in words:
        tokens = set(word.split())
        if not word or tokens & seen:
            continue
        chosen.append(word)
        seen |= tokens
        if len(chosen) == n_words:
            break
    return ", ".join(chosen)


def exact_neighbours(embeddings: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray, None]:
    """UMAP's ``precomputed_knn`` for ``embeddings``: the exact ``n_neighbors`` nearest rows by
    cosine distance (each row first, at distance 0), with no search index (so the reducer cannot
    ``transform`` new data; BERTopic only calls ``fit_transform``)."""
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=n_neighbors, metric="cosine", algorithm="brute").fit(embeddings)
    distances, indices = search.kneighbors(embeddings)
    return indices, distances.astype(np.float32), None


def _build_model(cls: str, texts: Sequence[str], k: int | None, embedder: Any, stop_words: list[str],
                 config: TopicConfig, embeddings: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """A configured, unfitted BERTopic (c-TF-IDF representation only) and its settings;
    ``texts`` and ``embeddings`` are those the model will be fitted on (for UMAP's exact
    neighbours and :class:`CoherentHDBSCAN`)."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction

    n = len(texts)
    vectorizer = CountVectorizer(stop_words=stop_words, ngram_range=(1, 2), token_pattern=TERM_PATTERN)
    if cls == "small":
        reducer = BaseDimensionalityReduction()
        clusterer = AgglomerativeClustering(n_clusters=k, linkage="ward")
        settings = {"reduction": "none", "clustering": f"Ward(k={k})"}
    else:
        from hdbscan import HDBSCAN
        from umap import UMAP

        umap_kw, candidates = _umap_settings(n, config), _hdbscan_candidates(n, config)
        hdb_kw = candidates[0]
        exact = UMAP_EXACT_BELOW <= n <= EXACT_NEIGHBOURS_MAX  # below, UMAP is exact by itself
        knn = exact_neighbours(embeddings, umap_kw["n_neighbors"]) if exact else (None,) * 3
        reducer = UMAP(**umap_kw, precomputed_knn=knn)
        clusterer = HDBSCAN(**hdb_kw) if len(candidates) == 1 else CoherentHDBSCAN(
            candidates, texts, vectorizer, top_n_words=COHERENCE_WORDS, candidate_terms=config.candidate_terms)
        settings = {
            "reduction": "UMAP(n_neighbors={n_neighbors}, n_components={n_components}, "
                         "n_epochs={n_epochs})".format(**umap_kw),
            "clustering": "HDBSCAN(min_cluster_size={min_cluster_size}, min_samples={min_samples}, "
                          "{cluster_selection_method})".format(**hdb_kw),
        }
    cap = config.max_topics if cls != "small" else None
    if cap:
        settings["clustering"] += f", merged to <= {cap} topics"
    model = BERTopic(embedding_model=embedder, umap_model=reducer, hdbscan_model=clusterer,
                     vectorizer_model=vectorizer, top_n_words=config.top_n_words, nr_topics=cap,
                     calculate_probabilities=False, verbose=False)
    return model, settings


def _renumber(topics: np.ndarray) -> dict[int, int]:
    """Old topic id -> new id, by size descending then first position; -1 stays -1."""
    ids = [t for t in dict.fromkeys(topics.tolist()) if t != UNASSIGNED]
    sizes = {t: int((topics == t).sum()) for t in ids}
    ordered = sorted(ids, key=lambda t: (-sizes[t], ids.index(t)))
    return {UNASSIGNED: UNASSIGNED, **{old: new for new, old in enumerate(ordered)}}


def fit_topics(texts: Sequence[str], embeddings: np.ndarray, *, embedder: Any,
               stop_words: Sequence[str], config: TopicConfig | None = None) -> TopicFit:
    """Fit BERTopic with the size-adapted configuration (module table) and read its topics.

    ``embeddings`` (one row per text) must come from ``embedder`` (see :func:`bertopic_embedder`),
    which BERTopic also uses for the KeyBERTInspired labels. Clustering runs with c-TF-IDF only;
    once the final assignment is known (after outlier reduction) ``update_topics`` computes the
    terms and the KeyBERTInspired representation once. Needs at least two texts.
    """
    config = config or TopicConfig()
    texts = list(texts)
    n = len(texts)
    cls = size_class(n, config)
    if cls == "none":
        raise ValueError(f"fit_topics needs at least 2 texts, got {n}")
    k = (config.n_topics or choose_k(embeddings, k_min=config.k_min, k_max=config.k_max)) if cls == "small" else None
    model, settings = _build_model(cls, texts, min(k, n) if k else None, embedder, list(stop_words), config, embeddings)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        topics, probs = model.fit_transform(texts, embeddings=embeddings)
    topics = np.asarray(topics)
    if isinstance(model.hdbscan_model, CoherentHDBSCAN):
        settings["clustering"] = model.hdbscan_model.describe()
    found = int((topics == UNASSIGNED).sum())
    if cls != "small" and found == n:
        log.info("HDBSCAN found no cluster in %d units; using Ward instead", n)
        k = config.n_topics or choose_k(embeddings, k_min=config.k_min, k_max=config.k_max)
        model, settings = _build_model("small", texts, min(k, n), embedder, list(stop_words), config, embeddings)
        settings["clustering"] += " (HDBSCAN found no cluster)"
        topics, probs = model.fit_transform(texts, embeddings=embeddings)
        topics, found = np.asarray(topics), 0
    probability = np.full(n, np.nan) if probs is None else np.asarray(probs, dtype=float).reshape(n, -1)[:, 0]
    if found and config.reduce_outliers and cls != "small":
        reassigned = np.asarray(model.reduce_outliers(texts, topics.tolist(), strategy="embeddings",
                                                      embeddings=embeddings,
                                                      threshold=config.outlier_threshold))
        probability[(topics == UNASSIGNED) & (reassigned != UNASSIGNED)] = np.nan
        topics = reassigned
    pool = config.candidate_terms if n >= config.coherence_from else 0  # candidates for coherence_order
    bertopic_log = logging.getLogger("BERTopic")
    level = bertopic_log.level
    bertopic_log.setLevel(logging.ERROR)  # its warning about custom assignments is expected here
    try:
        model.update_topics(texts, topics=topics.tolist(), top_n_words=max(config.top_n_words, pool),
                            vectorizer_model=model.vectorizer_model,
                            representation_model=_representation(config))
    finally:
        bertopic_log.setLevel(level)
    mapping = _renumber(topics)
    new_topics = np.array([mapping[t] for t in topics.tolist()], dtype=int)
    terms: dict[int, list[str]] = {}
    labels: dict[int, str] = {}
    keybert = model.topic_aspects_.get("KeyBERT", {})
    candidates = {new: [w for w, _ in model.get_topic(old) or [] if w] for old, new in mapping.items()
                  if new != UNASSIGNED}
    if pool:
        candidates = dict(zip(candidates, coherence_order(list(candidates.values()), texts,
                                                          model.vectorizer_model.build_analyzer())))
    for old, new in mapping.items():
        if new == UNASSIGNED:
            continue
        terms[new] = candidates[new][: config.top_n_words]
        label_source = [w for w, _ in keybert.get(old, [])] + terms[new]
        labels[new] = _label(label_source, config.label_words) or f"topic {new}"
    labels = _unique_labels(labels)
    settings.update({"size_class": cls, "n_topics": len(terms), "outliers_found": found,
                     "outliers_left": int((new_topics == UNASSIGNED).sum())})
    return TopicFit(new_topics, probability, terms, labels, settings, model)



SAMPLED_FIT_DIR = "topics-fit"
"""Folder under ``cache_dir`` holding the fit of the ``sampled`` class (``fit.joblib``) and the
assignments it made (``assignments.parquet``: key, topic, probability), and the last fit of a
smaller corpus (``whole.joblib``, see :func:`fit_whole`)."""


UNIT_KEY_SALT = "newsangle-topic1"
"""The 16-character SipHash key of :func:`unit_keys`."""


def unit_keys(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit key per text (unsigned): pandas' vectorised SipHash of its UTF-8 bytes
    (``pd.util.hash_array`` with a fixed key), the same on every run and machine.

    What :func:`fit_sampled` samples by and looks stored assignments up by: hashing each of
    200,000 paragraphs with SHA-256 in a Python loop (:func:`toolkit.models.text_key`, the
    embedding cache's key) took about a second of every warm run. Two different texts share a key
    with probability about n²/2⁶⁵ (10⁻⁹ for 200,000 paragraphs); the second would then be
    sampled as the first and get its topic.

    >>> bool(unit_keys(["a", "b", "a"])[0] == unit_keys(["a"])[0] != unit_keys(["b"])[0])
    True
    """
    return pd.util.hash_array(np.asarray(texts, dtype=object), hash_key=UNIT_KEY_SALT, categorize=False)


def sample_rows(keys: Sequence[Any], size: int) -> np.ndarray:
    """Rows of the ``size`` distinct texts with the smallest keys (bottom-k hashing), sorted.

    ``keys``: one per unit (:func:`unit_keys`); a text that occurs more than once is sampled at
    its first row. Bottom-k is a seed-free, order-free sample: adding one article changes it by
    at most that article's paragraphs, which is what lets a warm run keep the previous fit.
    """
    _, first = np.unique(np.asarray(keys), return_index=True)
    return np.sort(first[:size])


def _assigner(texts: Sequence[str], topics: np.ndarray, stop_words: Sequence[str], seed: int) -> Any:
    """TF-IDF (unigrams + bigrams, sublinear) + linear SVM trained on the sample's topics.

    Assigns non-sampled paragraphs without a neural embedding: a sparse dot product per
    paragraph. With a single topic there is nothing to learn; the "classifier" is a constant.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    single = len(set(topics.tolist())) < 2
    classifier = DummyClassifier(strategy="most_frequent") if single else LinearSVC(C=0.5, random_state=seed)
    vectorizer = TfidfVectorizer(stop_words=list(stop_words), ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    return make_pipeline(vectorizer, classifier).fit(list(texts), topics)


def _fit_signature(config: TopicConfig, n_embedded: int) -> str:
    """What besides the texts a stored fit depends on (settings, the embedding backend for
    ``n_embedded`` texts, this module's code)."""
    from toolkit.store import fingerprint

    fields = {k: v for k, v in vars(config).items() if k not in {"reuse_overlap", "batch_size"}}
    backend = models.backend_for(n_embedded) if config.embedding != "tfidf" else "tfidf"
    return fingerprint(sorted(fields.items(), key=lambda kv: kv[0]), backend, Path(__file__).read_bytes())


def _load_fit(folder: Path | None, signature: str, name: str = "fit.joblib") -> dict[str, Any] | None:
    """The fit stored as ``name`` in ``folder`` with this signature, or None."""
    if folder is None or not (folder / name).is_file():
        return None
    import joblib

    try:
        stored = joblib.load(folder / name)
    except (OSError, EOFError, ValueError, KeyError):
        log.warning("topics: unreadable stored fit in %s; refitting", folder)
        return None
    return stored if stored.get("signature") == signature else None


def _fit_sample(units: pd.DataFrame, keys: list[int], rows: np.ndarray, stop_words: list[str],
                config: TopicConfig, cache_dir: Path | str | None) -> dict[str, Any]:
    """Embed and fit the sample rows; the stored form of a ``sampled`` fit."""
    texts = units["text"].to_numpy()[rows].tolist()
    model, embedding_name = _embedder(config, texts)
    model_id = embedding_name if embedding_name != "tfidf-svd" else None
    embedder = bertopic_embedder(model, model_id=model_id, cache_dir=cache_dir, batch_size=config.batch_size)
    embeddings = embedder.embed(texts)
    fit = fit_topics(texts, embeddings, embedder=embedder, stop_words=stop_words,
                     config=replace(config, size_class=None, sample_from=len(texts) + 1))
    examples = {}
    for topic in sorted(set(fit.topics.tolist()) - {UNASSIGNED}):
        members = np.flatnonzero(fit.topics == topic)
        vectors = embeddings[members]
        examples[topic] = keys[rows[members[int(np.argmax(vectors @ vectors.mean(axis=0)))]]]
    return {"sample_keys": frozenset(keys[r] for r in rows),
            "sample": dict(zip((keys[r] for r in rows), zip(fit.topics.tolist(), fit.probability.tolist()))),
            "assigner": _assigner(texts, fit.topics, stop_words, config.seed),
            "terms": fit.terms, "labels": fit.labels, "examples": examples,
            "settings": fit.settings, "embedding": embedding_name}


def fit_whole(texts: Sequence[str], embeddings: np.ndarray, *, embedder: Any, stop_words: Sequence[str],
              config: TopicConfig, cache_dir: Path | str | None = None) -> TopicFit:
    """:func:`fit_topics` of a corpus below the ``sampled`` class, reusing the last stored fit
    when the texts (in order), stopwords, settings, embedding backend and code are the same.

    Fitting is deterministic, so the stored fit is the one a refit would give; what it saves is
    UMAP, HDBSCAN and the representation (seconds to minutes), when a run changes something
    other than the paragraphs, such as the reporter's ``frames.yml``, or a notebook runs the
    stage again. The fit is kept without its BERTopic model in ``cache_dir/topics-fit/whole.joblib``
    (one fit, replaced by the next).
    """
    from toolkit.store import fingerprint

    keys = [models.text_key(t, models.DEFAULT_MODEL_ID) for t in texts]
    signature = fingerprint(_fit_signature(config, len(texts)), sorted(stop_words), keys)
    folder = Path(cache_dir) / SAMPLED_FIT_DIR if cache_dir is not None else None
    stored = _load_fit(folder, signature, "whole.joblib")
    if stored is not None:
        return stored["fit"]
    fit = fit_topics(texts, embeddings, embedder=embedder, stop_words=stop_words, config=config)
    fit = replace(fit, model=None)
    if folder is not None:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"signature": signature, "fit": fit}, folder / "whole.joblib")
    return fit


def fit_sampled(units: pd.DataFrame, stop_words: Sequence[str], config: TopicConfig, *,
                cache_dir: Path | str | None = None) -> tuple[TopicFit, dict[int, int]]:
    """Topics of a corpus too large to embed: fit a sample, assign the rest lexically.

    ``units``: doc_id, para_id, outlet, text (as from :func:`select_units`). The
    ``config.sample_size`` distinct paragraphs with the smallest keys (:func:`unit_keys`, :func:`sample_rows`)
    are embedded and fitted with :func:`fit_topics` (the ``large`` settings); every other paragraph
    gets the topic a TF-IDF + linear SVM classifier trained on the sample predicts (probability
    NaN). Returns the fit over all units (topics renumbered by size over the whole corpus) and
    topic -> row of ``units`` of its example (the sample paragraph closest to the mean embedding
    of the topic's sampled paragraphs; missing when that paragraph left the corpus).

    With ``cache_dir``, the fit and its assignments (by key) are stored under
    ``cache_dir/topics-fit``. A later run reuses them when the settings, model and code are the
    same and the stored sample covers at least ``config.reuse_overlap`` of the new sample: only
    paragraphs never assigned before go through the classifier, nothing is embedded. Otherwise
    the sample is refitted and the store replaced.
    """
    hashed = unit_keys(units["text"])
    keys = hashed.tolist()
    rows = sample_rows(hashed, config.sample_size)
    signature = _fit_signature(config, len(rows))
    folder = Path(cache_dir) / SAMPLED_FIT_DIR if cache_dir is not None else None
    stored = _load_fit(folder, signature)
    current = {keys[r] for r in rows}
    covered = len(current & stored["sample_keys"]) / len(current) if stored else 0.0
    reused = covered >= config.reuse_overlap
    if reused:
        # read by path: pandas.read_parquet hands pyarrow a file object, after which 1 in 10 processes
        # aborted at exit (apache/arrow#50482; measured with pandas 2.3 and pyarrow 26 on this machine)
        known = read_table(folder / "assignments.parquet") if (folder / "assignments.parquet").is_file() \
            else pd.DataFrame({"key": pd.Series(dtype=np.uint64), "topic": pd.Series(dtype=int),
                               "probability": pd.Series(dtype=float)})
    else:
        stored = _fit_sample(units, keys, rows, list(stop_words), config, cache_dir)
        stored["signature"] = signature
        known = pd.DataFrame({"key": np.array(list(stored["sample"]), dtype=np.uint64),
                              "topic": [t for t, _ in stored["sample"].values()],
                              "probability": [p for _, p in stored["sample"].values()]})
    known = known.drop_duplicates("key").set_index("key")
    unique_keys, first = np.unique(hashed, return_index=True)
    new_rows = np.sort(first[~pd.Index(unique_keys).isin(known.index)])  # in order of first use
    if len(new_rows):
        predicted = stored["assigner"].predict(units["text"].to_numpy()[new_rows].tolist())
        known = pd.concat([known, pd.DataFrame({"topic": predicted.astype(int), "probability": np.nan},
                                               index=pd.Index(hashed[new_rows], name="key"))])
    if folder is not None and not reused:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(stored, folder / "fit.joblib")
    if folder is not None and (len(new_rows) or not reused):  # a reused fit is on disk as it was loaded
        write_table(known.rename_axis("key").reset_index(), folder / "assignments.parquet")
    fitted = known.reindex(hashed)
    mapping = _renumber(fitted["topic"].to_numpy(dtype=int))
    topics = np.array([mapping[t] for t in fitted["topic"].astype(int).tolist()], dtype=int)
    row_of = {k: i for i, k in reversed(list(enumerate(keys)))}
    examples = {mapping[t]: row_of[k] for t, k in stored["examples"].items() if k in row_of and t in mapping}
    settings = dict(stored["settings"])
    n_sample = len(stored["sample_keys"])
    settings.update({
        "size_class": "sampled", "embedding": stored["embedding"], "n_topics": len(set(topics.tolist()) - {UNASSIGNED}),
        "outliers_left": int((topics == UNASSIGNED).sum()),
        "clustering": f"{settings['clustering']}; fitted on {n_sample} sampled paragraphs, the others "
                      f"assigned by TF-IDF + LinearSVC" + ("; stored fit reused" if reused else ""),
    })
    terms = {mapping[t]: words for t, words in stored["terms"].items() if t in mapping}
    labels = _unique_labels({mapping[t]: lab for t, lab in stored["labels"].items() if t in mapping})
    fit = TopicFit(topics, fitted["probability"].to_numpy(dtype=float), terms, labels, settings, None)
    return fit, examples


def _unique_labels(labels: dict[int, str]) -> dict[int, str]:
    """Labels with duplicates disambiguated by their topic number."""
    counts = pd.Series(list(labels.values())).value_counts()
    return {t: (f"{lab} ({t})" if counts[lab] > 1 else lab) for t, lab in labels.items()}


def topic_outlets(topics: pd.DataFrame) -> pd.DataFrame:
    """Topic shares by outlet over the full topic x outlet grid (zero cells included).

    Input: ``topics`` (doc_id, para_id, outlet, topic, topic_label). Output columns:
    topic, topic_label, outlet, paragraphs (the outlet's paragraphs in the topic), articles (its
    articles with at least one such paragraph), n (the outlet's paragraphs modelled),
    share = paragraphs / n, ci_low, ci_high (95 % Wilson), single_outlet (True when exactly one
    outlet has paragraphs in the topic). Sorted by topic, then outlet.
    """
    if topics.empty:
        return pd.DataFrame(columns=TOPIC_OUTLETS_COLUMNS)
    labels = topics.drop_duplicates("topic").set_index("topic")["topic_label"]
    counts = topics.groupby(["topic", "outlet"]).agg(paragraphs=("para_id", "size"),
                                                     articles=("doc_id", "nunique"))
    grid = pd.MultiIndex.from_product([sorted(labels.index), sorted(topics["outlet"].unique())],
                                      names=["topic", "outlet"])
    table = counts.reindex(grid, fill_value=0).reset_index()
    table["n"] = table["outlet"].map(topics.groupby("outlet").size()).astype(int)
    table["share"] = table["paragraphs"] / table["n"]
    table["ci_low"], table["ci_high"] = wilson_interval(table["paragraphs"], table["n"])
    covering = table[table["paragraphs"] > 0].groupby("topic")["outlet"].nunique()
    table["single_outlet"] = table["topic"].map(covering).eq(1)
    table["topic_label"] = table["topic"].map(labels)
    return table[TOPIC_OUTLETS_COLUMNS].sort_values(["topic", "outlet"]).reset_index(drop=True)


def topic_info(topics: pd.DataFrame, units: pd.DataFrame, embeddings: np.ndarray | None,
               terms: Mapping[int, Sequence[str]], *, examples: Mapping[int, int] | None = None) -> pd.DataFrame:
    """One row per topic with its terms, size, reach and most representative paragraph.

    Inputs: ``topics`` aligned row for row with ``units`` (doc_id, para_id, outlet, text) and
    ``embeddings``. Output columns: topic, topic_label, top_terms (comma-separated c-TF-IDF
    terms), size (paragraphs), articles, outlets (how many outlets have paragraphs in it),
    single_outlet (that outlet's name when only one does, else missing), doc_id, para_id, example
    (the paragraph closest, by cosine, to the mean embedding of the topic). Sorted by topic.
    ``examples`` (topic -> row of ``units``) gives the example rows instead (``embeddings`` is then
    not read); a topic missing from it shows its first paragraph.
    """
    rows = []
    for topic, members in topics.groupby("topic", sort=True):
        idx = members.index.to_numpy()
        if examples is not None:
            best = examples.get(int(topic), idx[0])
        else:
            vectors = embeddings[idx]
            best = idx[int(np.argmax(vectors @ vectors.mean(axis=0)))]
        outlets = sorted(members["outlet"].unique())
        rows.append({
            "topic": int(topic), "topic_label": members["topic_label"].iloc[0],
            "top_terms": ", ".join(terms.get(int(topic), [])), "size": len(members),
            "articles": members["doc_id"].nunique(), "outlets": len(outlets),
            "single_outlet": outlets[0] if len(outlets) == 1 else None,
            "doc_id": units.at[best, "doc_id"], "para_id": int(units.at[best, "para_id"]),
            "example": units.at[best, "text"],
        })
    return pd.DataFrame(rows, columns=TOPIC_INFO_COLUMNS)


def _embedder(config: TopicConfig, texts: list[str]) -> tuple[Any, str]:
    """The embedding model for this run and its name in ``topic_run`` (the packaged model on
    :func:`toolkit.models.backend_for` the number of texts: full precision for small corpora)."""
    if config.embedding == "tfidf" or (config.embedding == "auto" and not models.has_torch()):
        if config.embedding == "auto":
            warnings.warn("torch / sentence-transformers unavailable: topics use the TF-IDF + SVD "
                          "fallback embedding (lexical; expect coarser topics).", RuntimeWarning, stacklevel=3)
        return models.fallback_embedder(texts, random_state=config.seed), "tfidf-svd"
    return models.packaged_embedder(models.backend_for(len(texts)))


def run(tables: Mapping[str, pd.DataFrame], *, cache_dir: Path | str | None = None,
        config: TopicConfig | None = None, data_dir: Path | str | None = None,
        **options: Any) -> dict[str, pd.DataFrame]:
    """Topics of a corpus's paragraphs, per outlet.

    Parameters
    ----------
    tables:
        Needs ``paragraphs`` (doc_id, para_id, text, is_heading) and ``articles`` (doc_id, outlet).
    cache_dir:
        Embedding cache folder (see :func:`toolkit.models.embed`); ``None``: no cache.
    config:
        :class:`TopicConfig`; ``options`` override single fields (``run(t, min_words=5)``).
    data_dir:
        The reporter's data folder, which the pipeline passes to every stage; topics read
        no data file from it.

    Returns
    -------
    dict with
        ``topics``: doc_id, para_id, outlet, topic, topic_label, probability (one row per
        modelled paragraph, sorted by doc_id, para_id);
        ``topic_info``: see :func:`topic_info` (includes topic -1, "(unassigned)", when any);
        ``topic_outlets``: see :func:`topic_outlets`;
        ``topics_skipped``: doc_id, para_id, reason;
        ``topic_run``: one row: n_units, n_skipped, size_class, reduction, clustering, n_topics,
        outliers_found, outliers_left, embedding, seed.
    """
    config = replace(config or TopicConfig(), **options)
    models.prepare_model_imports()
    units, skipped = select_units(tables["paragraphs"], tables["articles"], min_words=config.min_words)
    texts = units["text"].tolist()
    examples: dict[int, int] | None = None
    settings: dict[str, Any] = {"size_class": "none", "reduction": "none", "clustering": "none",
                                "n_topics": 0, "outliers_found": len(units), "outliers_left": len(units)}
    if len(units) < 2:
        warnings.warn(f"topics: {len(units)} paragraph(s) left after skipping headings and paragraphs "
                      f"under {config.min_words} words; at least 2 are needed, so no topics were "
                      f"modelled.", UserWarning, stacklevel=2)
        embedding_name = "none"
        embeddings = np.zeros((len(units), 1), dtype=np.float32)
        assigned = np.full(len(units), UNASSIGNED)
        probability = np.full(len(units), np.nan)
        terms: dict[int, list[str]] = {}
        labels: dict[int, str] = {}
    elif size_class(len(units), config) == "sampled":
        stop_words = stopwords_for(tables["articles"]["outlet"].dropna().unique(), config.extra_stopwords)
        fit, examples = fit_sampled(units, stop_words, config, cache_dir=cache_dir)
        assigned, probability, terms, labels = fit.topics, fit.probability, fit.terms, fit.labels
        settings.update(fit.settings)
        embedding_name, embeddings = fit.settings["embedding"], None
    else:
        model, embedding_name = _embedder(config, texts)
        model_id = embedding_name if embedding_name != "tfidf-svd" else None
        embedder = bertopic_embedder(model, model_id=model_id, cache_dir=cache_dir,
                                     batch_size=config.batch_size)
        embeddings = embedder.embed(texts)
        stop_words = stopwords_for(tables["articles"]["outlet"].dropna().unique(), config.extra_stopwords)
        fit = fit_whole(texts, embeddings, embedder=embedder, stop_words=stop_words, config=config,
                        cache_dir=cache_dir)
        assigned, probability, terms, labels = fit.topics, fit.probability, fit.terms, fit.labels
        settings.update(fit.settings)
    labels = {UNASSIGNED: UNASSIGNED_LABEL, **labels}
    topics = units[["doc_id", "para_id", "outlet"]].assign(
        topic=assigned, topic_label=[labels[t] for t in assigned], probability=probability)
    info = topic_info(topics, units, embeddings, terms, examples=examples)
    run_row = {"n_units": len(units), "n_skipped": len(skipped), **settings,
               "embedding": embedding_name, "seed": config.seed}
    return {
        "topics": topics[TOPICS_COLUMNS].reset_index(drop=True),
        "topic_info": info,
        "topic_outlets": topic_outlets(topics),
        "topics_skipped": skipped,
        "topic_run": pd.DataFrame([run_row], columns=RUN_COLUMNS),
    }

"""Duplicates and rewrites across outlets: ``derived_from`` and a sentence-level diff.

Three relations, from cheapest to dearest:

- **exact duplicates**: the same normalised text (hash equality);
- **near-duplicates**: high Jaccard similarity of word 5-shingles (MinHash + LSH from
  datasketch, so no all-pairs comparison of articles is ever built);
- **rewrites**: another outlet's paraphrase (reworded, reordered, trimmed). Candidates
  come from a second, permissive MinHash LSH over content-word sets; each candidate pair
  is then confirmed by aligning sentences (TF-IDF cosine, greedy one-to-one) and asking
  that a large share of the shorter article's sentences be matched.

The direction of a pair (which article is the source) is decided by evidence in this
order: an explicit source credit naming the other article's outlet ("Source: …"), then
the earlier publication date, then the article that is not the shorter one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .engine import Digests

ALIGN_COLUMNS = ["status", "source_sent_id", "derived_sent_id", "similarity", "source_text", "derived_text"]
PAIR_COLUMNS = ["doc_id", "derived_from", "relation", "similarity_to_source", "coverage"]

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class DedupConfig:
    """Thresholds of the three relations.

    ``near_jaccard``: MinHash Jaccard of word 5-shingles above which two texts are
    near-duplicates. ``candidate_jaccard``: LSH threshold on content-word sets for rewrite
    candidates. ``kept``/``reworded``: sentence cosine similarities for a sentence to count
    as kept verbatim or reworded. ``min_coverage``: share of the shorter article's
    sentences that must align for a rewrite.
    """

    near_jaccard: float = 0.8
    candidate_jaccard: float = 0.2
    kept: float = 0.9
    reworded: float = 0.25
    min_coverage: float = 0.3
    num_perm: int = 128
    seed: int = 1


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _minhash(tokens: set[str], config: DedupConfig):
    from datasketch import MinHash

    m = MinHash(num_perm=config.num_perm, seed=config.seed)
    m.update_batch(t.encode("utf-8") for t in sorted(tokens))
    return m


def _shingles(text: str, k: int = 5) -> set[str]:
    words = _normalise(text).split()
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def _content_words(text: str) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {w for w in _normalise(text).split() if w not in ENGLISH_STOP_WORDS and len(w) > 2}


SIGNATURE_COLUMNS = ["doc_id", "text_hash", "words", "shingles"]


def signatures(articles: pd.DataFrame, *, config: DedupConfig = DedupConfig()) -> pd.DataFrame:
    """Per-article fingerprints that every relation is decided from.

    Input columns: ``doc_id``, ``text``. Output (:data:`SIGNATURE_COLUMNS`): ``doc_id``,
    ``text_hash`` (SHA-1 of the normalised text: equal for exact duplicates), ``words``
    (MinHash hash values of the content-word set; empty when the article has none),
    ``shingles`` (MinHash hash values of the word 5-shingles). One article's row depends
    on that article only, so the pipeline computes it per document, in parallel, and
    caches it: adding an article to a corpus hashes that article alone.
    """
    import hashlib

    rows = []
    for doc_id, text in zip(articles["doc_id"], articles["text"]):
        words = _content_words(text)
        rows.append((
            doc_id,
            hashlib.sha1(_normalise(text).encode("utf-8")).hexdigest(),
            _minhash(words, config).hashvalues if words else np.zeros(0, dtype=np.uint64),
            _minhash(_shingles(text), config).hashvalues,
        ))
    return pd.DataFrame(rows, columns=SIGNATURE_COLUMNS)


def candidate_pairs(articles: pd.DataFrame, *, config: DedupConfig = DedupConfig(),
                    precomputed: pd.DataFrame | None = None, only: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Pairs of ``doc_id`` whose content-word sets have a Jaccard of at least ``config.candidate_jaccard``.

    Input columns: ``doc_id``, ``text``; ``precomputed``: their :func:`signatures` (computed
    here when not given). Locality-sensitive hashing proposes pairs without comparing all
    of them: the MinHash values are cut into the bands datasketch's ``MinHashLSH`` chooses
    for the threshold, and two articles are proposed when any band is identical — exactly
    the proposals ``MinHashLSH.query`` would return. Each proposal is then kept only when
    the MinHash estimate of its Jaccard reaches the threshold (at a threshold as permissive
    as 0.2, about one proposal in 450 passes on the AllSides scale corpus).

    The banding is done here over the whole signature matrix with numpy rather than with
    ``MinHashLSH.insert``/``query``, whose per-article Python calls took 5 s per 2,000
    articles; the result is the same set of pairs. ``only``: doc_ids; when given, only
    pairs with at least one of them are returned (the new articles of a growing corpus).
    Returns sorted ``(a, b)`` pairs with ``a < b``. Memory and time grow with the number of articles and of proposals, never
    with the number of all pairs.
    """
    from datasketch import MinHashLSH

    sigs = precomputed if precomputed is not None else signatures(articles, config=config)
    lookup = dict(zip(sigs["doc_id"], sigs["words"]))
    ids = [d for d in articles["doc_id"] if len(lookup[d])]
    if len(ids) < 2:
        return []
    matrix = np.stack([np.asarray(lookup[d], dtype=np.uint64) for d in ids])
    focus = None if only is None else np.isin(np.asarray(ids, dtype=object), list(only))
    lsh = MinHashLSH(threshold=config.candidate_jaccard, num_perm=config.num_perm)
    bands = [np.ascontiguousarray(matrix[:, b * lsh.r:(b + 1) * lsh.r]) for b in range(lsh.b)]
    codes = np.unique(np.concatenate([
        _band_proposals(np.unique(rows.view(np.dtype((np.void, rows.itemsize * lsh.r))).ravel(),
                                  return_inverse=True)[1].ravel(), focus)
        for rows in bands
    ]))
    first, second = codes // len(ids), codes % len(ids)
    values = matrix.astype(np.uint32)  # MinHash values are below 2**32 (datasketch's max_hash)
    need = int(np.ceil(config.candidate_jaccard * config.num_perm - 1e-9))
    keep = np.zeros(len(codes), dtype=bool)
    for lo in range(0, len(codes), 50_000):  # bounded memory: 50,000 x num_perm comparisons at a time
        part = slice(lo, lo + 50_000)
        keep[part] = (values[first[part]] == values[second[part]]).sum(axis=1) >= need
    return sorted(tuple(sorted((ids[a], ids[b]))) for a, b in zip(first[keep], second[keep]))


def _band_proposals(bucket: np.ndarray, focus: np.ndarray | None) -> np.ndarray:
    """Row pairs sharing a bucket in one band, as codes ``low * n + high``.

    ``focus``: a boolean per row; when given, only pairs with at least one focused row.
    Pairs are generated with numpy from the rows sorted by bucket (no per-row Python).
    """
    n = len(bucket)
    order = np.argsort(bucket, kind="stable")
    sorted_buckets = bucket[order]
    starts = np.flatnonzero(np.r_[True, sorted_buckets[1:] != sorted_buckets[:-1]])
    sizes = np.diff(np.r_[starts, n])
    if focus is not None:
        focused = np.add.reduceat(focus[order].astype(np.int64), starts) > 0
        starts, sizes = starts[focused], sizes[focused]
    starts, sizes = starts[sizes > 1], sizes[sizes > 1]
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    # every (i, j) with i < j inside each group, for all groups of one size at a time
    firsts, seconds = [], []
    for size in np.unique(sizes):
        members = order[starts[sizes == size][:, None] + np.arange(size)]  # groups x size rows
        i, j = np.triu_indices(size, 1)
        firsts.append(members[:, i].ravel())
        seconds.append(members[:, j].ravel())
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    if focus is not None:
        wanted = focus[a] | focus[b]
        a, b = a[wanted], b[wanted]
    return np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)


def align_sentences(source: pd.DataFrame, derived: pd.DataFrame, *, config: DedupConfig = DedupConfig()) -> pd.DataFrame:
    """Align the sentences of a rewrite with those of its source.

    Inputs: two ``sentences`` tables (columns ``sent_id``, ``text``), one per article.
    Similarity is the cosine of TF-IDF vectors of content words (English stopwords
    removed, sublinear term frequency, fitted on the two articles): a paraphrase keeps
    its names, numbers and key nouns while changing the words around them. On the
    bundled rewrite pair this separates paraphrased sentences (cosine ≥ 0.25) from
    same-topic sentences of other articles (median 0.1) as well as MiniLM embeddings do,
    without a neural model in the corpus stage. Matching is greedy one-to-one by
    descending similarity, so a reordered rewrite aligns as well as an ordered one.

    Returns one row per sentence of either article: ``status`` (``kept``: similarity ≥
    ``config.kept``; ``reworded``: ≥ ``config.reworded``; ``added``: a derived sentence
    with no match; ``dropped``: a source sentence with no match), ``source_sent_id``,
    ``derived_sent_id`` (missing on the side that has none), ``similarity``,
    ``source_text``, ``derived_text``; ordered by derived sentence, then dropped source
    sentences in source order.
    """
    side = _sides(pd.concat([source.assign(doc_id="source"), derived.assign(doc_id="derived")], ignore_index=True))
    return _align(side("source"), side("derived"), config)


@lru_cache(maxsize=1)
def _sentence_analyzer() -> Callable[[str], list[str]]:
    """scikit-learn's word analyzer with English stopwords: the tokens :func:`align_sentences` weighs."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words="english").build_analyzer()


class Side(NamedTuple):
    """One article's sentences for alignment, analysed once however many pairs it is in.

    ``terms``, ``counts``: each sentence's distinct tokens (as codes of a vocabulary shared by
    the articles compared) and how often each occurs, sentence after sentence, each
    sentence's tokens in order of first occurrence; ``rows``: the sentence of each entry.
    """

    sent_ids: list[int]
    texts: list[str]
    rows: np.ndarray
    terms: np.ndarray
    counts: np.ndarray


def _tfidf_cosine(source: Side, derived: Side) -> np.ndarray:
    """Cosine similarities (derived x source) of sentence TF-IDF vectors fitted on the two articles.

    The same weighting as ``TfidfVectorizer(sublinear_tf=True)`` (smoothed idf, l2 norm),
    computed from the sides' pre-analysed token codes: sentence pairs are aligned for
    thousands of article pairs, and re-running the vectoriser's tokenisation, or counting
    tokens, for every pair cost most of the time, while an article is analysed once and
    reused for every pair it is in. The pair's columns are its tokens in order of first
    occurrence (source sentences first), as the vectoriser's vocabulary would number them.
    """
    n_source, n_docs = len(source.texts), len(source.texts) + len(derived.texts)
    if not (len(source.terms) + len(derived.terms)) or not source.texts or not derived.texts:
        return np.zeros((len(derived.texts), n_source))
    from scipy.sparse import csr_matrix

    rows = np.concatenate([source.rows, derived.rows + n_source])
    cols, vocabulary = pd.factorize(np.concatenate([source.terms, derived.terms]))
    idf = np.log((1 + n_docs) / (1 + np.bincount(cols, minlength=len(vocabulary)))) + 1.0
    weights = (1.0 + np.log(np.concatenate([source.counts, derived.counts]))) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=weights ** 2, minlength=n_docs))
    weights /= norms[rows]
    matrix = csr_matrix((weights, (rows, cols)), shape=(n_docs, len(vocabulary)))
    return (matrix[n_source:] @ matrix[:n_source].T).toarray()


def _matches(sim: np.ndarray, config: DedupConfig) -> dict[int, tuple[int, float]]:
    """Greedy one-to-one matching by descending similarity (``sim``: derived x source) down to
    ``config.reworded``: derived sentence → (source sentence, similarity)."""
    order = np.argsort(-sim, axis=None, kind="stable")
    matched: dict[int, tuple[int, float]] = {}
    used: set[int] = set()
    for flat in order:
        d, s = divmod(int(flat), sim.shape[1])
        value = float(sim[d, s])
        if value < config.reworded:
            break
        if d in matched or s in used:
            continue
        matched[d] = (s, value)
        used.add(s)
    return matched


def _align(source: Side, derived: Side, config: DedupConfig) -> pd.DataFrame:
    """:func:`align_sentences` on pre-analysed sides."""
    sim = _tfidf_cosine(source, derived)
    return _alignment_frame(source, derived, sim, _matches(sim, config), config)


def _alignment_frame(source: Side, derived: Side, sim: np.ndarray, match_d: Mapping[int, tuple[int, float]],
                     config: DedupConfig) -> pd.DataFrame:
    """The rows of :func:`align_sentences` from the similarities and their matching."""
    src_ids, src_texts, der_ids, der_texts = source.sent_ids, source.texts, derived.sent_ids, derived.texts
    used_s = {s for s, _ in match_d.values()}
    rows = []
    for d in range(len(der_ids)):
        if d in match_d:
            s, value = match_d[d]
            status = "kept" if value >= config.kept else "reworded"
            rows.append((status, src_ids[s], der_ids[d], round(value, 6), src_texts[s], der_texts[d]))
        else:
            best = float(sim[d].max()) if sim.shape[1] else 0.0
            rows.append(("added", None, der_ids[d], round(best, 6), None, der_texts[d]))
    for s in range(len(src_ids)):
        if s not in used_s:
            best = float(sim[:, s].max()) if sim.shape[0] else 0.0
            rows.append(("dropped", src_ids[s], None, round(best, 6), src_texts[s], None))
    status, source_sent, derived_sent, similarity, source_text, derived_text = zip(*rows) if rows else ([],) * 6
    return pd.DataFrame({
        "status": list(status),
        "source_sent_id": pd.array(list(source_sent), dtype="Int64"),
        "derived_sent_id": pd.array(list(derived_sent), dtype="Int64"),
        "similarity": np.asarray(similarity, dtype="float64"),
        "source_text": list(source_text),
        "derived_text": list(derived_text),
    }, columns=ALIGN_COLUMNS)


def _published(value: Any) -> pd.Timestamp:
    """An article's ``published`` value as a timestamp (NaT when it is not a date)."""
    return pd.to_datetime(value, errors="coerce")


def _direction(a: Mapping[str, Any], b: Mapping[str, Any],
               published: Callable[[Any], pd.Timestamp] = _published) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Return ``(source, derived)`` for two article rows (see the module docstring);
    ``published``: :func:`_published` or a memo of it."""

    def credits(x: Mapping[str, Any], y: Mapping[str, Any]) -> bool:
        credit = x.get("source_credit")
        outlet = y.get("outlet")
        if not isinstance(credit, str) or not isinstance(outlet, str) or not outlet.strip():
            return False
        return outlet.strip().lower() in credit.lower()

    if credits(b, a) and not credits(a, b):
        return a, b
    if credits(a, b) and not credits(b, a):
        return b, a
    da, db = published(a.get("published")), published(b.get("published"))
    if pd.notna(da) and pd.notna(db) and da != db:
        return (a, b) if da < db else (b, a)
    if len(a["text"]) != len(b["text"]):
        return (a, b) if len(a["text"]) > len(b["text"]) else (b, a)
    return (a, b) if a["doc_id"] < b["doc_id"] else (b, a)


EVALUATION_COLUMNS = ["pair_key", "source", "derived", "relation", "similarity_to_source", "coverage"]
"""One row per candidate pair (see :func:`evaluate_pairs`); ``relation`` is "" for a rejected pair."""
KNOWN_ALIGNMENT_COLUMNS = ["pair_key", *ALIGN_COLUMNS]


def pair_content_keys(articles: pd.DataFrame, sentences: pd.DataFrame, *, config: DedupConfig = DedupConfig(),
                      digests: Digests | None = None) -> dict[str, str]:
    """A key per article naming everything a pair evaluation reads of it.

    That is the article's ``outlet``, ``published``, ``source_credit`` and ``text`` (the
    direction of a pair), its rows of ``sentences`` (the alignment reads their text and numbers;
    all their columns are hashed, so the pipeline hashes the corpus's sentences once per run for
    these keys and every stage's: ``digests``, see :func:`toolkit.engine.doc_keys`) and
    ``config``. Two articles whose keys are unchanged give the same evaluation, so it can be
    reused across runs.
    """
    from .engine import doc_keys

    fields = articles.reindex(columns=["doc_id", "outlet", "published", "source_credit", "text"]).astype(object)
    return doc_keys({"articles": fields, "sentences": sentences}, articles["doc_id"].tolist(), repr(config),
                    digests=digests)


def _evaluate(a: Mapping[str, Any], b: Mapping[str, Any], sig: pd.DataFrame, side: Callable[[str], Side],
              config: DedupConfig, published: Callable[[Any], pd.Timestamp] = _published) -> tuple[tuple, pd.DataFrame | None]:
    """Relation of one candidate pair: (source, derived, relation, similarity, coverage) and the
    alignment (its rows are built only for a related pair: most candidates are not)."""
    src, der = _direction(a, b, published)
    source, derived = side(src["doc_id"]), side(der["doc_id"])
    sim = _tfidf_cosine(source, derived)
    matched = _matches(sim, config)
    if sig.at[a["doc_id"], "text_hash"] == sig.at[b["doc_id"], "text_hash"]:
        return (src["doc_id"], der["doc_id"], "duplicate", 1.0, 1.0), _alignment_frame(source, derived, sim, matched,
                                                                                        config)
    shorter = min(len(source.sent_ids), len(derived.sent_ids))
    coverage = float(len(matched) / shorter if shorter else 0.0)
    jac = float(np.mean(np.asarray(sig.at[a["doc_id"], "shingles"]) == np.asarray(sig.at[b["doc_id"], "shingles"])))
    if jac >= config.near_jaccard:
        relation = "near-duplicate"
    elif coverage >= config.min_coverage:
        relation = "rewrite"
    else:
        return (src["doc_id"], der["doc_id"], "", 0.0, round(coverage, 4)), None
    aligned = _alignment_frame(source, derived, sim, matched, config)
    on_derived = aligned[aligned["derived_sent_id"].notna()]
    similarity = float(on_derived["similarity"].where(on_derived["status"] != "added", 0.0).mean()) \
        if len(on_derived) else 0.0
    return (src["doc_id"], der["doc_id"], relation, round(similarity, 4), round(coverage, 4)), aligned


def _sides(sentences: pd.DataFrame) -> Callable[[str], Side]:
    """doc_id -> its :class:`Side`, for every article of ``sentences`` (columns ``doc_id``,
    ``sent_id``, ``text``; an article's sentences in their order in the table).

    All sentences are analysed in one pass and their tokens coded and counted with pandas and
    numpy (a count per sentence in Python was most of the time of rewrite detection at 10,000
    articles); the codes are shared by all sides.
    """
    docs, doc_names = pd.factorize(sentences["doc_id"])
    order = np.argsort(docs, kind="stable")
    texts = sentences["text"].astype(str).to_numpy(dtype=object)[order].tolist()
    sent_ids = sentences["sent_id"].to_numpy(dtype=np.int64)[order].tolist()
    bounds = np.searchsorted(docs[order], np.arange(len(doc_names) + 1))
    analyze = _sentence_analyzer()
    tokens = [analyze(text) for text in texts]
    row = np.repeat(np.arange(len(texts), dtype=np.int64), [len(t) for t in tokens])
    terms, vocabulary = pd.factorize(np.asarray(list(chain.from_iterable(tokens)), dtype=object))
    # distinct (sentence, term) in order of first occurrence: sentence by sentence, as counted
    width = max(len(vocabulary), 1)
    cells, distinct = pd.factorize(row * width + terms)
    counts = np.bincount(cells, minlength=len(distinct)).astype(np.float64)
    cell_row, cell_term = distinct // width, distinct % width
    cell_bounds = np.searchsorted(cell_row, bounds)
    position = {name: i for i, name in enumerate(doc_names)}

    def side(doc_id: str) -> Side:
        i = position.get(doc_id)
        if i is None:
            return Side([], [], *(np.zeros(0, dtype=dtype) for dtype in (np.int64, np.int64, np.float64)))
        lo, hi, first, last = bounds[i], bounds[i + 1], cell_bounds[i], cell_bounds[i + 1]
        return Side(sent_ids[lo:hi], texts[lo:hi], cell_row[first:last] - lo, cell_term[first:last],
                    counts[first:last])

    return side


@dataclass(frozen=True)
class PairCache:
    """What rewrite detection keeps between runs (see :func:`evaluate_pairs`).

    ``evaluations``: one row per candidate pair (:data:`EVALUATION_COLUMNS`; ``relation`` ""
    for an unrelated pair), sorted by ``pair_key``; ``alignments``: the sentence alignment of
    every related pair (``pair_key`` plus :func:`align_sentences` columns, derived article
    against its source); ``documents``: column ``key``, the :func:`pair_content_keys` of
    every article the candidate search covered.
    """

    evaluations: pd.DataFrame
    alignments: pd.DataFrame
    documents: pd.DataFrame

    TABLES = ("evaluations", "alignments", "documents")


def evaluate_pairs(articles: pd.DataFrame, sentences: pd.DataFrame, *, config: DedupConfig = DedupConfig(),
                   precomputed: pd.DataFrame | None = None, known: PairCache | None = None,
                   digests: Digests | None = None) -> PairCache:
    """Decide every candidate pair of :func:`candidate_pairs`: duplicate, near-duplicate, rewrite or none.

    Inputs as :func:`find_derivations`. ``known``: what an earlier call returned. Whether two
    articles are candidates, and how their pair is decided, depends on those two articles
    only (their :func:`pair_content_keys`), so with ``known`` the candidate search runs only
    for articles whose key is new, pairs of unchanged articles are taken from
    ``known.evaluations``, and only new pairs are aligned. The result equals a call without
    ``known``; adding one article to ten thousand costs one article's LSH lookups and its
    pairs' alignments. ``digests``: see :func:`pair_content_keys`.
    """
    sigs = precomputed if precomputed is not None else signatures(articles, config=config)
    keys = pair_content_keys(articles, sentences, config=config, digests=digests)
    current = {key: doc_id for doc_id, key in keys.items()}
    if known is not None:
        seen = set(known.documents["key"])
        fresh = [doc_id for doc_id, key in keys.items() if key not in seen]
        old = known.evaluations
        width = len(next(iter(keys.values()), ""))
        reused = old[old["pair_key"].str[:width].isin(current) & old["pair_key"].str[width:].isin(current)]
        pairs = sorted({tuple(sorted((current[k[:width]], current[k[width:]]))) for k in reused["pair_key"]}
                       | set(candidate_pairs(articles, config=config, precomputed=sigs, only=fresh) if fresh else []))
        done = {row[0]: row for row in reused[EVALUATION_COLUMNS].itertuples(index=False)}
    else:
        pairs = candidate_pairs(articles, config=config, precomputed=sigs)
        done = {}
    # the articles of the pairs to evaluate: with ``known``, those of the new pairs only
    involved = {d for a, b in pairs if keys[a] + keys[b] not in done for d in (a, b)}
    fields = articles.loc[articles["doc_id"].isin(involved)].reindex(
        columns=["doc_id", "outlet", "published", "source_credit", "text"]).astype(object)
    rows_of = {row["doc_id"]: row for row in fields.where(fields.notna(), None).to_dict("records")}
    sig = sigs.set_index("doc_id")
    side = _sides(sentences[sentences["doc_id"].isin(involved)])
    # an article is in many pairs, and parsing a date string costs a millisecond
    published = lru_cache(maxsize=None)(_published)
    evaluations, alignments = [], []
    for a_id, b_id in pairs:
        key = keys[a_id] + keys[b_id]
        if key in done:
            evaluations.append(tuple(done[key]))
            continue
        result, aligned = _evaluate(rows_of[a_id], rows_of[b_id], sig, side, config, published)
        evaluations.append((key, *result))
        if aligned is not None:
            alignments.append(aligned.assign(pair_key=key))
    evaluated = pd.DataFrame(evaluations, columns=EVALUATION_COLUMNS).sort_values("pair_key", kind="stable")
    related = set(evaluated.loc[evaluated["relation"] != "", "pair_key"])
    if known is not None and len(known.alignments):
        alignments.insert(0, known.alignments[known.alignments["pair_key"].isin(related)])
    aligned_all = pd.concat(alignments, ignore_index=True) if alignments else pd.DataFrame(columns=KNOWN_ALIGNMENT_COLUMNS)
    aligned_all = aligned_all.reindex(columns=KNOWN_ALIGNMENT_COLUMNS).sort_values("pair_key", kind="stable")
    return PairCache(evaluated.reset_index(drop=True), aligned_all.reset_index(drop=True),
                     pd.DataFrame({"key": sorted(keys.values())}))


def derivations_from(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The derivations table from :func:`evaluate_pairs`: each derived article's best source.

    Returns one row per derived article (:data:`PAIR_COLUMNS`), the source with the highest
    ``similarity_to_source`` (ties: the first by source doc_id), sorted by ``doc_id``.
    """
    related = evaluations[evaluations["relation"] != ""]
    if related.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    best = related.sort_values(["derived", "similarity_to_source", "source"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("derived").rename(columns={"derived": "doc_id", "source": "derived_from"})
    best = best.astype({"similarity_to_source": "float64", "coverage": "float64"})
    return best[PAIR_COLUMNS].sort_values("doc_id").reset_index(drop=True)


def find_derivations(articles: pd.DataFrame, sentences: pd.DataFrame, *, config: DedupConfig = DedupConfig(),
                     precomputed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Detect duplicates and rewrites.

    Inputs: ``articles`` (``doc_id``, ``outlet``, ``published``, ``text``,
    ``source_credit``) and ``sentences`` (``doc_id``, ``sent_id``, ``text``).
    Returns one row per derived article: ``doc_id``, ``derived_from``, ``relation``
    (``duplicate``, ``near-duplicate``, ``rewrite``), ``similarity_to_source`` (mean
    aligned-sentence similarity over the derived article's sentences, 1.0 for exact
    duplicates), ``coverage`` (share of the shorter article's sentences aligned). Each
    article has at most one source: its best-scoring one. ``precomputed``: the articles'
    :func:`signatures` (computed here when not given). :func:`evaluate_pairs` is the
    incremental form.
    """
    return derivations_from(evaluate_pairs(articles, sentences, config=config, precomputed=precomputed).evaluations)


def mark_derivations(articles: pd.DataFrame, derivations: pd.DataFrame) -> pd.DataFrame:
    """Fill ``derived_from`` and ``similarity_to_source`` of ``articles`` from :func:`find_derivations`."""
    out = articles.copy()
    link = derivations.set_index("doc_id")
    out["derived_from"] = out["doc_id"].map(link["derived_from"]).astype(object).where(lambda s: s.notna(), None)
    out["similarity_to_source"] = out["doc_id"].map(link["similarity_to_source"]).astype("float64")
    return out


def rewrite_diff(sentences: pd.DataFrame, articles: pd.DataFrame, *, config: DedupConfig = DedupConfig(),
                 pairs: PairCache | None = None) -> pd.DataFrame:
    """The sentence-level diff of every rewrite against its source.

    Returns :func:`align_sentences` rows for each article with ``derived_from``, with
    ``doc_id`` (the derived article) and ``source_doc_id`` columns in front, by ``doc_id``.
    ``pairs``: what :func:`evaluate_pairs` returned for these articles; a (source, derived)
    pair aligned there is taken from its ``alignments`` (selected for all pairs at once,
    not pair by pair: a corpus of 10,000 articles has hundreds of rewrites), not aligned again.
    """
    derived = articles.loc[articles["derived_from"].notna(), ["doc_id", "derived_from"]].sort_values("doc_id")
    if derived.empty:
        return pd.DataFrame(columns=["doc_id", "source_doc_id", *ALIGN_COLUMNS])
    wanted = pd.DataFrame({"doc_id": derived["doc_id"].to_numpy(dtype=object),
                           "source_doc_id": derived["derived_from"].to_numpy(dtype=object),
                           "position": np.arange(len(derived))})
    parts = []
    if pairs is not None and len(pairs.alignments):
        stored = _stored_alignments(pairs, wanted)
        wanted = wanted[~wanted["position"].isin(stored["position"])]
        parts.append(stored)
    side = _sides(sentences[sentences["doc_id"].isin(set(wanted["doc_id"]) | set(wanted["source_doc_id"]))])
    parts += [_align(side(row.source_doc_id), side(row.doc_id), config).assign(
        doc_id=row.doc_id, source_doc_id=row.source_doc_id, position=row.position) for row in wanted.itertuples()]
    diff = pd.concat([part for part in parts if len(part)], ignore_index=True).sort_values("position", kind="stable")
    return diff[["doc_id", "source_doc_id", *ALIGN_COLUMNS]].reset_index(drop=True).astype(
        {"source_sent_id": "Int64", "derived_sent_id": "Int64", "similarity": "float64"})


def _stored_alignments(pairs: PairCache, wanted: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``pairs.alignments`` for the (``source_doc_id``, ``doc_id``) pairs of
    ``wanted``, each pair's rows in their stored order, with ``wanted``'s columns."""
    evaluated = pairs.evaluations[["pair_key", "source", "derived"]].rename(
        columns={"source": "source_doc_id", "derived": "doc_id"})
    position = evaluated.merge(wanted, on=["source_doc_id", "doc_id"]).set_index("pair_key")["position"]
    stored = pairs.alignments.assign(position=pairs.alignments["pair_key"].map(position))
    stored = stored[stored["position"].notna()].astype({"position": np.int64})
    return stored.drop(columns=["pair_key"]).merge(wanted, on="position", how="left", sort=False)

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
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
                    precomputed: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """Pairs of ``doc_id`` whose content-word sets have a Jaccard of at least ``config.candidate_jaccard``.

    Input columns: ``doc_id``, ``text``; ``precomputed``: their :func:`signatures` (computed
    here when not given). MinHash LSH proposes pairs without comparing all of them, then
    each proposal is kept only when the MinHash estimate of its Jaccard reaches the
    threshold: at a threshold as permissive as 0.2, LSH banding proposes ~40 pairs per
    article on the first 1,000 articles of the AllSides scale corpus, of which about one in
    450 passes, and every proposal left in would cost a sentence alignment.
    Returns sorted ``(a, b)`` pairs with ``a < b``. Memory and time grow with the number
    of articles and of proposals, never with the number of all pairs.
    """
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    sigs = precomputed if precomputed is not None else signatures(articles, config=config)
    lookup = dict(zip(sigs["doc_id"], sigs["words"]))
    lsh = MinHashLSH(threshold=config.candidate_jaccard, num_perm=config.num_perm)
    pairs: set[tuple[str, str]] = set()
    scheme = MinHash(num_perm=1, seed=config.seed).scheme  # the hashing scheme signatures() used
    for doc_id in articles["doc_id"]:
        values = np.asarray(lookup[doc_id], dtype=np.uint64)
        if not values.size:
            continue
        m = LeanMinHash(seed=config.seed, hashvalues=values, scheme=scheme)
        others = lsh.query(m)
        if others:
            estimate = (np.stack([lookup[o] for o in others]) == values).mean(axis=1)
            for other, jaccard in zip(others, estimate):
                if jaccard >= config.candidate_jaccard:
                    pairs.add(tuple(sorted((doc_id, other))))
        lsh.insert(doc_id, m)
    return sorted(pairs)


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
    from sklearn.feature_extraction.text import TfidfVectorizer

    src = source.reset_index(drop=True)
    der = derived.reset_index(drop=True)
    if src.empty or der.empty:
        sim = np.zeros((len(der), len(src)))
    else:
        vec = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        matrix = vec.fit_transform(pd.concat([src["text"], der["text"]]).tolist())
        sim = (matrix[len(src) :] @ matrix[: len(src)].T).toarray()
    order = np.argsort(-sim, axis=None, kind="stable")
    match_d: dict[int, tuple[int, float]] = {}
    used_s: set[int] = set()
    for flat in order:
        d, s = divmod(int(flat), sim.shape[1])
        value = float(sim[d, s])
        if value < config.reworded:
            break
        if d in match_d or s in used_s:
            continue
        match_d[d] = (s, value)
        used_s.add(s)
    rows = []
    for d in range(len(der)):
        if d in match_d:
            s, value = match_d[d]
            status = "kept" if value >= config.kept else "reworded"
            rows.append((status, int(src.at[s, "sent_id"]), int(der.at[d, "sent_id"]), round(value, 6), src.at[s, "text"], der.at[d, "text"]))
        else:
            best = float(sim[d].max()) if sim.shape[1] else 0.0
            rows.append(("added", None, int(der.at[d, "sent_id"]), round(best, 6), None, der.at[d, "text"]))
    for s in range(len(src)):
        if s not in used_s:
            best = float(sim[:, s].max()) if sim.shape[0] else 0.0
            rows.append(("dropped", int(src.at[s, "sent_id"]), None, round(best, 6), src.at[s, "text"], None))
    out = pd.DataFrame(rows, columns=ALIGN_COLUMNS)
    return out.astype({"source_sent_id": "Int64", "derived_sent_id": "Int64", "similarity": "float64"})


def _direction(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return ``(source, derived)`` for two article rows (see the module docstring)."""

    def credits(x: pd.Series, y: pd.Series) -> bool:
        credit = x.get("source_credit")
        outlet = y.get("outlet")
        if not isinstance(credit, str) or not isinstance(outlet, str) or not outlet.strip():
            return False
        return outlet.strip().lower() in credit.lower()

    if credits(b, a) and not credits(a, b):
        return a, b
    if credits(a, b) and not credits(b, a):
        return b, a
    da, db = pd.to_datetime(a.get("published"), errors="coerce"), pd.to_datetime(b.get("published"), errors="coerce")
    if pd.notna(da) and pd.notna(db) and da != db:
        return (a, b) if da < db else (b, a)
    if len(a["text"]) != len(b["text"]):
        return (a, b) if len(a["text"]) > len(b["text"]) else (b, a)
    return (a, b) if a["doc_id"] < b["doc_id"] else (b, a)


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
    :func:`signatures` (computed here when not given).
    """
    rows = articles.set_index("doc_id", drop=False)
    sigs = precomputed if precomputed is not None else signatures(articles, config=config)
    sig = sigs.set_index("doc_id")
    by_doc = {k: g for k, g in sentences.groupby("doc_id", sort=False)}
    empty = sentences.iloc[0:0]
    found: dict[str, tuple] = {}
    for a_id, b_id in candidate_pairs(articles, config=config, precomputed=sigs):
        a, b = rows.loc[a_id], rows.loc[b_id]
        src, der = _direction(a, b)
        if sig.at[a_id, "text_hash"] == sig.at[b_id, "text_hash"]:
            relation, sim, coverage = "duplicate", 1.0, 1.0
        else:
            jac = float(np.mean(np.asarray(sig.at[a_id, "shingles"]) == np.asarray(sig.at[b_id, "shingles"])))
            aligned = align_sentences(by_doc.get(src["doc_id"], empty), by_doc.get(der["doc_id"], empty), config=config)
            matched = aligned["status"].isin(["kept", "reworded"]).sum()
            shorter = min((aligned["source_sent_id"].notna()).sum(), (aligned["derived_sent_id"].notna()).sum())
            coverage = matched / shorter if shorter else 0.0
            if jac >= config.near_jaccard:
                relation = "near-duplicate"
            elif coverage >= config.min_coverage:
                relation = "rewrite"
            else:
                continue
            on_derived = aligned[aligned["derived_sent_id"].notna()]
            sim = float(on_derived["similarity"].where(on_derived["status"] != "added", 0.0).mean()) if len(on_derived) else 0.0
        key = der["doc_id"]
        candidate = (key, src["doc_id"], relation, round(sim, 4), round(float(coverage), 4))
        if key not in found or candidate[3] > found[key][3]:
            found[key] = candidate
    out = pd.DataFrame(sorted(found.values()), columns=PAIR_COLUMNS)
    return out


def mark_derivations(articles: pd.DataFrame, derivations: pd.DataFrame) -> pd.DataFrame:
    """Fill ``derived_from`` and ``similarity_to_source`` of ``articles`` from :func:`find_derivations`."""
    out = articles.copy()
    link = derivations.set_index("doc_id")
    out["derived_from"] = out["doc_id"].map(link["derived_from"]).astype(object).where(lambda s: s.notna(), None)
    out["similarity_to_source"] = out["doc_id"].map(link["similarity_to_source"]).astype("float64")
    return out


def rewrite_diff(sentences: pd.DataFrame, articles: pd.DataFrame, *, config: DedupConfig = DedupConfig()) -> pd.DataFrame:
    """The sentence-level diff of every rewrite against its source.

    Returns :func:`align_sentences` rows for each article with ``derived_from``, with
    ``doc_id`` (the derived article) and ``source_doc_id`` columns in front.
    """
    parts = []
    by_doc = {k: g for k, g in sentences.groupby("doc_id", sort=False)}
    empty = sentences.iloc[0:0]
    for row in articles[articles["derived_from"].notna()].sort_values("doc_id").itertuples():
        aligned = align_sentences(by_doc.get(row.derived_from, empty), by_doc.get(row.doc_id, empty), config=config)
        aligned.insert(0, "source_doc_id", row.derived_from)
        aligned.insert(0, "doc_id", row.doc_id)
        parts.append(aligned)
    if not parts:
        return pd.DataFrame(columns=["doc_id", "source_doc_id", *ALIGN_COLUMNS])
    return pd.concat(parts, ignore_index=True)

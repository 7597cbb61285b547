"""Distinctive language per outlet: the log-odds ratio with an informative Dirichlet prior.

Monroe, Colaresi & Quinn (2008), "Fightin' Words: Lexical Feature Selection and Evaluation for
Identifying the Content of Political Conflict", Political Analysis 16(4), section 3.5. No
installed library implements it (scikit-learn only counts), so the estimator is written out
here in a few vectorised lines over scikit-learn's document-term matrix.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

DISTINCTIVE_COLUMNS = ["outlet", "term", "log_odds", "z", "count", "count_rest", "n_tokens", "n_tokens_rest",
                       "example", "example_doc_id", "example_sent_id"]

TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
EXTRA_STOPWORDS = frozenset({"said", "says", "say", "mr", "ms", "mrs", "also", "just", "like", "s", "t", "’s", "'s"})


def ngram_analyzer(stopwords: frozenset[str], max_n: int = 3):
    """A CountVectorizer analyzer: lowercase word 1..max_n-grams that neither start nor end with a
    stopword (so "coalition of the willing" survives inside a longer n-gram, "of the" never counts),
    with possessive endings removed and digits ignored."""

    def analyze(text: str) -> list[str]:
        tokens = [re.sub(r"['’]s$", "", t.lower()) for t in TOKEN.findall(text)]
        grams = []
        for n in range(1, max_n + 1):
            for i in range(len(tokens) - n + 1):
                if tokens[i] in stopwords or tokens[i + n - 1] in stopwords:
                    continue
                grams.append(" ".join(tokens[i:i + n]))
        return grams

    return analyze


def outlet_name_words(outlets: Iterable[str]) -> frozenset[str]:
    """Lowercase words of the outlets' own names (self-references like "Al Mayadeen" are not
    framing and would top every list)."""
    return frozenset(w for o in outlets for w in TOKEN.findall(str(o).lower()))


def log_odds_dirichlet(counts_a: np.ndarray, counts_b: np.ndarray, prior: np.ndarray, *,
                       totals: tuple[float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds ratio of each term in group a vs group b with Dirichlet prior ``prior`` and its z-score.

    ``totals``: ``(n_a, n_b, α_0)`` when the arrays hold only some terms of the vocabulary
    (default: their sums).

    δ_w = log((y_aw + α_w) / (n_a + α_0 − y_aw − α_w)) − log((y_bw + α_w) / (n_b + α_0 − y_bw − α_w)),
    Var(δ_w) ≈ 1/(y_aw + α_w) + 1/(y_bw + α_w), z = δ / √Var (Monroe et al. 2008, eq. 16–22).

    >>> d, z = log_odds_dirichlet(np.array([5., 1.]), np.array([1., 5.]), np.array([1., 1.]))
    >>> bool(d[0] > 0 > d[1]) and bool(abs(z[0] + z[1]) < 1e-9)
    True
    """
    n_a, n_b, a0 = totals if totals is not None else (counts_a.sum(), counts_b.sum(), prior.sum())
    delta = (np.log((counts_a + prior) / (n_a + a0 - counts_a - prior))
             - np.log((counts_b + prior) / (n_b + a0 - counts_b - prior)))
    variance = 1.0 / (counts_a + prior) + 1.0 / (counts_b + prior)
    return delta, delta / np.sqrt(variance)


def distinctive_terms(sentences: pd.DataFrame, articles: pd.DataFrame, *, top_k: int = 20, min_count: int = 3,
                      min_z: float = 1.96, prior_scale: float = 0.05, max_n: int = 3,
                      exclude_words: Iterable[str] = ()) -> pd.DataFrame:
    """Terms (1–``max_n``-grams) each outlet over- and under-uses relative to all other outlets.

    Inputs: ``sentences`` (doc_id, sent_id, text), ``articles`` (doc_id, outlet). Counts are per
    outlet over its sentences (n-grams never cross sentences). The informative prior is the
    pooled corpus frequency, α_w = ``prior_scale`` × corpus count of w, which shrinks rare terms
    toward no difference. English stopwords (scikit-learn's list plus "said"-type words), the
    outlets' own names and ``exclude_words`` are removed; names of people and places are kept
    (who an outlet names is part of its language; the actors stage covers them in depth).

    Returns ``distinctive_terms``: outlet, term, log_odds, z (positive: the outlet uses the term
    more than the rest), count (in the outlet), count_rest, n_tokens, n_tokens_rest (n-gram
    totals), example / example_doc_id / example_sent_id (first sentence using the term on that
    side: the outlet's for z > 0, the others' for z < 0). Per outlet the ``top_k`` terms on each
    side with |z| >= ``min_z`` and at least ``min_count`` uses on that side; sorted by outlet,
    descending z. With fewer than two outlets a warning is issued and the table is empty.
    """
    outlet_of = articles.set_index("doc_id")["outlet"]
    sents = sentences.assign(outlet=sentences["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    sents = sents.sort_values(["doc_id", "sent_id"]).reset_index(drop=True)
    outlets = sorted(sents["outlet"].unique())
    if len(outlets) < 2:
        warnings.warn(f"distinctive terms compare an outlet with the others; the corpus has {len(outlets)} "
                      f"outlet(s) ({', '.join(map(str, outlets)) or 'none'}), so the table is empty.", stacklevel=2)
        return pd.DataFrame(columns=DISTINCTIVE_COLUMNS)
    stopwords = frozenset(ENGLISH_STOP_WORDS) | EXTRA_STOPWORDS | outlet_name_words(outlets) | {
        w.lower() for w in exclude_words}
    vectorizer = CountVectorizer(analyzer=ngram_analyzer(stopwords, max_n))
    try:
        matrix = vectorizer.fit_transform(sents["text"].astype(str)).tocsc()
    except ValueError:
        warnings.warn("distinctive terms: no countable words in the sentences.", stacklevel=2)
        return pd.DataFrame(columns=DISTINCTIVE_COLUMNS)
    codes = pd.Categorical(sents["outlet"], categories=outlets).codes
    membership = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(outlets), len(codes)))
    by_outlet = (membership @ matrix).tocsr()
    n_tokens = np.asarray(by_outlet.sum(axis=1)).ravel()
    full_total = np.asarray(by_outlet.sum(axis=0)).ravel()
    a0 = prior_scale * full_total.sum()
    # a term used fewer than min_count times in all can pass on neither side: leave it out of
    # the per-outlet arrays (n-gram vocabularies are mostly such terms), keeping the full totals
    kept = np.flatnonzero(full_total >= min_count)
    terms = vectorizer.get_feature_names_out()[kept]
    by_outlet, matrix = by_outlet[:, kept], matrix[:, kept]
    total = full_total[kept]
    prior = prior_scale * total
    rows = []
    for k, outlet in enumerate(outlets):
        own = by_outlet[k].toarray().ravel()
        rest = total - own
        delta, z = log_odds_dirichlet(own, rest, prior,
                                      totals=(n_tokens[k], n_tokens.sum() - n_tokens[k], a0))
        for side, count in ((1, own), (-1, rest)):
            ok = np.flatnonzero((side * z >= min_z) & (count >= min_count))
            for t in ok[np.lexsort((terms[ok], -side * z[ok]))][:top_k]:
                column = matrix[:, t]
                hits = column.indices[(codes[column.indices] == k) == (side == 1)]
                first = int(hits.min())
                rows.append((outlet, terms[t], round(float(delta[t]), 4), round(float(z[t]), 4), int(own[t]),
                             int(rest[t]), int(n_tokens[k]), int(n_tokens.sum() - n_tokens[k]),
                             sents.at[first, "text"], sents.at[first, "doc_id"], int(sents.at[first, "sent_id"])))
    out = pd.DataFrame(rows, columns=DISTINCTIVE_COLUMNS)
    return out.sort_values(["outlet", "z", "term"], ascending=[True, False, True]).reset_index(drop=True)

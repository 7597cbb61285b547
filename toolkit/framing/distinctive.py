"""Distinctive language per outlet: the log-odds ratio with an informative Dirichlet prior.

Monroe, Colaresi & Quinn (2008), "Fightin' Words: Lexical Feature Selection and Evaluation for
Identifying the Content of Political Conflict", Political Analysis 16(4), section 3.5. No
installed library implements it (scikit-learn only counts), so the estimator is written out
here in a few vectorised lines. N-grams are counted with numpy over integer token codes (the
same n-grams as :func:`ngram_analyzer` produces for scikit-learn's ``CountVectorizer``, which
spent minutes in its Python analyzer at 10,000 articles).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from toolkit.store import Kept, fingerprint, read_kept, write_kept

TOKENS_COLUMNS = ["doc_id", "sent_id", "tokens"]
DISTINCTIVE_COLUMNS = ["outlet", "term", "log_odds", "z", "count", "count_rest", "n_tokens", "n_tokens_rest",
                       "example", "example_doc_id", "example_sent_id"]

TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
EXTRA_STOPWORDS = frozenset({"said", "says", "say", "mr", "ms", "mrs", "also", "just", "like", "s", "t", "’s", "'s"})


def normalise_tokens(text: str) -> list[str]:
    """Lowercase word tokens of a text (letters, with inner apostrophes and hyphens), possessive
    endings removed, digits ignored."""
    return [t[:-2] if t.endswith(("'s", "’s")) else t for t in (w.lower() for w in TOKEN.findall(text))]


def sentence_tokens(sentences: pd.DataFrame) -> pd.DataFrame:
    """:func:`normalise_tokens` of every sentence, space-joined: doc_id, sent_id, tokens (the
    per-document part of :func:`distinctive_terms`; stopwords are removed later, since the
    outlets' names among them depend on the whole corpus)."""
    return pd.DataFrame({"doc_id": sentences["doc_id"].to_numpy(), "sent_id": sentences["sent_id"].to_numpy(),
                         "tokens": [" ".join(normalise_tokens(str(t))) for t in sentences["text"]]},
                        columns=TOKENS_COLUMNS)


def ngram_analyzer(stopwords: frozenset[str], max_n: int = 3):
    """A CountVectorizer analyzer: lowercase word 1..max_n-grams that neither start nor end with a
    stopword (so "coalition of the willing" survives inside a longer n-gram, "of the" never counts),
    with possessive endings removed and digits ignored."""

    def analyze(text: str) -> list[str]:
        tokens = normalise_tokens(text)
        grams = []
        for n in range(1, max_n + 1):
            for i in range(len(tokens) - n + 1):
                if tokens[i] in stopwords or tokens[i + n - 1] in stopwords:
                    continue
                grams.append(" ".join(tokens[i:i + n]))
        return grams

    return analyze


def ngram_occurrences(tokens: Sequence[str], stopwords: frozenset[str],
                      max_n: int = 3) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], pa.Array]]:
    """Every n-gram occurrence of :func:`ngram_analyzer` in token strings as :func:`sentence_tokens`
    writes them (tokens joined by single spaces; "" for none), vectorised.

    Returns ``rows`` (the position in ``tokens`` of each occurrence; ascending within each n),
    ``keys`` (an integer code per occurrence: 0..n_terms-1, each code used by one n only, in
    order of first occurrence within each n) and ``spell`` (codes → their n-grams, an Arrow
    string array built in Arrow, so millions of them cost no Python strings).
    Tokens are split and coded by Arrow (a hash table in C instead of a Python list of ten
    million words)."""
    texts = pa.array(tokens, type=pa.large_string())
    words = pc.split_pattern(pc.if_else(pc.equal(texts, ""), None, texts), " ")
    row = pc.list_parent_indices(words).to_numpy()
    coded = pc.dictionary_encode(pc.list_flatten(words))
    ids = coded.indices.to_numpy().astype(np.int64)
    uniques = np.asarray(coded.dictionary.to_pylist(), dtype=object)
    countable = ~np.fromiter((u in stopwords for u in uniques), dtype=bool, count=len(uniques))[ids]
    rows, keys, first_start, length = [], [], [], []
    n_terms = 0
    for n in range(1, max_n + 1):
        end = len(ids) - n + 1
        start = np.flatnonzero((row[:end] == row[n - 1:]) & countable[:end] & countable[n - 1:])
        key = ids[start]
        for j in range(1, n):
            if (int(key.max(initial=0)) + 1) * len(uniques) >= 2 ** 63:
                key = pd.factorize(key)[0].astype(np.int64)
            key = key * len(uniques) + ids[start + j]
        key = pd.factorize(key)[0]
        first = np.flatnonzero(key > np.maximum.accumulate(np.r_[-1, key[:-1]]))
        rows.append(row[start])
        keys.append(key + n_terms)
        first_start.append(start[first])
        length.append(np.full(len(first), n))
        n_terms += len(first)
    starts, lengths = np.concatenate(first_start), np.concatenate(length)
    dictionary = coded.dictionary

    def spell(selected: np.ndarray) -> pa.Array:
        first, n = starts[selected], lengths[selected]
        words = [dictionary.take(pa.array(ids[np.where(n > j, first + j, first)], mask=n <= j)) for j in range(max_n)]
        return pc.binary_join_element_wise(*words, pa.scalar(" ", type=pa.large_string()), null_handling="skip")

    return np.concatenate(rows), np.concatenate(keys), spell


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


def top_terms(candidates: np.ndarray, score: np.ndarray, terms: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` candidates (indices into ``score``/``terms``) with the highest score, ties broken
    by term, best first. Only candidates scoring at least the k-th best are sorted (a corpus
    has hundreds of thousands of terms; comparing their strings is the slow part).

    >>> top_terms(np.arange(4), np.array([1., 3., 3., 2.]), np.array(["d", "c", "b", "a"]), 2).tolist()
    [2, 1]
    """
    if len(candidates) > k > 0:
        candidates = candidates[score[candidates] >= -np.partition(-score[candidates], k - 1)[k - 1]]
    return candidates[np.lexsort((terms[candidates], -score[candidates]))][:k]


def _unused_candidates(by_total: np.ndarray, ranked: np.ndarray, used: np.ndarray, n_used: int, k: int) -> np.ndarray:
    """The terms an outlet does not use (``used`` False) that can be among its ``k`` most
    under-used: those whose corpus count is at least the ``k``-th largest among its unused terms.

    ``by_total``: the terms by descending corpus count; ``ranked``: minus those counts, in that
    order (ascending); ``n_used``: how many terms the outlet uses. For a term the outlet never
    uses, the z-score of :func:`log_odds_dirichlet` with the pooled prior α = s·T (T the term's
    corpus count, s > 0) depends on T alone and falls as T rises:
    δ = log(s/(1+s)) + log(n_b + α₀ − (1+s)T) − log(n_a + α₀ − sT) is negative and decreasing in
    T (its derivative is negative exactly when (1+s)·n_a + α₀ > s·n_b, which holds since
    α₀ = s·(n_a + n_b)), and z = δ·√T / √(1/s + 1/(1+s)).
    So scoring these candidates instead of the whole vocabulary (hundreds of thousands of
    n-grams, for each of hundreds of outlets) picks the same terms.

    >>> by_total, ranked = np.array([2, 0, 3, 1]), -np.array([9., 7., 7., 1.])
    >>> _unused_candidates(by_total, ranked, np.array([False, False, True, False]), 1, 1).tolist()
    [0, 3]
    """
    if k <= 0:
        return by_total[:0]
    unused = np.flatnonzero(~used[by_total[:k + n_used]])
    if len(unused) < k:  # fewer than k unused terms in the vocabulary: all of them
        return by_total[~used[by_total]]
    # every term counted at least as often as the k-th unused one (ties score alike)
    reach = np.searchsorted(ranked, ranked[unused[k - 1]], side="right")
    head = by_total[:reach]
    return head[~used[head]]


CELL_SCHEMA = pa.schema([("term", pa.string()), ("count", pa.int32()), ("doc", pa.int32()), ("sent_id", pa.int32())])
KEPT_COUNTS_METADATA = b"newsangle.outlet_ngrams"


class _Cells(NamedTuple):
    """N-gram counts per outlet: one row per (outlet, term) used, with the outlet's code,
    the term (text), how often the outlet uses it and its first sentence there (``doc``: the
    document's place among the outlet's documents in reading order, and ``sent_id``);
    ``n_tokens``: the n-gram occurrences of each outlet."""

    outlet: np.ndarray
    table: pa.Table
    n_tokens: np.ndarray


class _Docs(NamedTuple):
    """The documents of sentences sorted by doc_id, sent_id: ``ids`` in reading order, the
    document of each sentence (``of_row``), and each outlet's documents in reading order
    (``by_outlet[offsets[k]:offsets[k + 1]]``, ``place``: each document's position there)."""

    ids: np.ndarray
    of_row: np.ndarray
    by_outlet: np.ndarray
    offsets: np.ndarray
    place: np.ndarray

    @classmethod
    def of(cls, doc_ids: np.ndarray, codes: np.ndarray, n_outlets: int) -> _Docs:
        new = np.r_[True, doc_ids[1:] != doc_ids[:-1]] if len(doc_ids) else np.zeros(0, dtype=bool)
        starts = np.flatnonzero(new)
        by_outlet = np.argsort(codes[starts], kind="stable")
        offsets = np.searchsorted(codes[starts][by_outlet], np.arange(n_outlets + 1))
        place = np.empty(len(starts), dtype=np.int64)
        place[by_outlet] = np.arange(len(starts)) - np.repeat(offsets[:-1], np.diff(offsets))
        return cls(doc_ids[starts], np.cumsum(new) - 1, by_outlet, offsets, place)


def _counted(sents: pd.DataFrame, rows: np.ndarray, tokens: list[str], outlet: np.ndarray, docs: _Docs,
             stopwords: frozenset[str], max_n: int) -> _Cells:
    """:class:`_Cells` of the sentences ``rows`` of ``sents`` (sorted by doc_id, sent_id;
    ``tokens``: their :func:`sentence_tokens`; ``outlet``: the outlet code of each; ``docs``: the
    documents of ``sents``), by outlet then term (code)."""
    n_outlets = len(docs.offsets) - 1
    empty = _Cells(np.zeros(0, dtype=np.int64), CELL_SCHEMA.empty_table(), np.zeros(n_outlets, dtype=np.int64))
    if not tokens:
        return empty
    at, keys, spell = ngram_occurrences(tokens, stopwords, max_n)
    n_tokens = np.bincount(outlet[at], minlength=n_outlets)
    if not len(keys):
        return empty._replace(n_tokens=n_tokens)
    # keys of one n are coded in order of first use and their rows ascend, so a cell's first
    # occurrence is its first sentence
    width = int(keys.max()) + 1
    cell_code, cells = pd.factorize(outlet[at].astype(np.int64) * width + keys)
    first = np.flatnonzero(cell_code > np.maximum.accumulate(np.r_[-1, cell_code[:-1]]))
    count = np.bincount(cell_code)
    order = np.argsort(cells, kind="stable")
    first_row = rows[at[first][order]]
    return _Cells(cells[order] // width, pa.table({
        "term": spell(cells[order] % width).cast(pa.string()),
        "count": pa.array(count[order], type=pa.int32()),
        "doc": pa.array(docs.place[docs.of_row[first_row]], type=pa.int32()),
        "sent_id": pa.array(sents["sent_id"].to_numpy()[first_row], type=pa.int32())}, schema=CELL_SCHEMA), n_tokens)


def _outlet_file(folder: Path, outlet: str) -> Path:
    """Where ``outlet``'s counts are kept in ``folder`` (named by a hash: outlet names are free text)."""
    return folder / f"{hashlib.blake2b(outlet.encode('utf-8'), digest_size=12).hexdigest()}.arrow"


def _kept_cells(sents: pd.DataFrame, tokens: pd.DataFrame | None, outlets: list[str], codes: np.ndarray, docs: _Docs,
                stopwords: frozenset[str], max_n: int, kept: Kept | None) -> _Cells:
    """:class:`_Cells` of the corpus. With ``kept``, each outlet's cells are kept in a file of
    the folder ``kept.path`` with the keys of its documents and the stopwords, and only the outlets
    whose documents changed are counted again (adding one article to 10,000 counts the n-grams of
    its outlet instead of all 8 million); files of outlets no longer in the corpus are removed."""
    n_outlets = len(outlets)
    wanted = np.ones(n_outlets, dtype=bool)
    found: dict[int, tuple[pa.Table, int]] = {}
    states: list[dict] = []
    if kept is not None:
        folder = Path(kept.path)
        folder.mkdir(parents=True, exist_ok=True)
        words = fingerprint(sorted(stopwords))
        for k, outlet in enumerate(outlets):
            own = docs.ids[docs.by_outlet[docs.offsets[k]:docs.offsets[k + 1]]]
            state = {"outlet": outlet, "max_n": max_n, "stopwords": words,
                     "documents": fingerprint([(d, kept.keys.get(d)) for d in own])}
            states.append(state)
            previous = read_kept(_outlet_file(folder, outlet), KEPT_COUNTS_METADATA)
            if previous is not None and previous[1].get("state") == state and previous[0].schema.equals(CELL_SCHEMA):
                found[k] = (previous[0], int(previous[1]["n_tokens"]))
                wanted[k] = False
        current = {_outlet_file(folder, o).name for o in outlets}
        for stale in folder.glob("*.arrow"):
            if stale.name not in current:
                stale.unlink()
    redo = np.flatnonzero(wanted[codes])
    counted = _counted(sents, redo, _tokens_of(sents.iloc[redo], tokens), codes[redo], docs, stopwords, max_n)
    bounds = np.searchsorted(counted.outlet, np.arange(n_outlets + 1))
    tables, outlet_parts, n_tokens = [], [], counted.n_tokens.copy()
    for k in range(n_outlets):
        if k in found:
            table, n_tokens[k] = found[k]
        else:
            table = counted.table.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k]))
            if kept is not None:
                write_kept(_outlet_file(Path(kept.path), outlets[k]), table, KEPT_COUNTS_METADATA,
                           {"state": states[k], "n_tokens": int(n_tokens[k])})
        tables.append(table)
        outlet_parts.append(np.full(table.num_rows, k, dtype=np.int64))
    return _Cells(np.concatenate(outlet_parts), pa.concat_tables(tables), n_tokens)


def _tokens_of(sents: pd.DataFrame, tokens: pd.DataFrame | None) -> list[str]:
    """The :func:`sentence_tokens` of ``sents``: looked up in ``tokens`` when given (computed otherwise)."""
    if sents.empty:
        return []
    if tokens is None:
        return sentence_tokens(sents)["tokens"].tolist()
    joined = sents[["doc_id", "sent_id"]].merge(tokens.astype({"sent_id": int}), how="left", on=["doc_id", "sent_id"])
    return joined["tokens"].fillna("").tolist()


def distinctive_terms(sentences: pd.DataFrame, articles: pd.DataFrame, *, top_k: int = 20, min_count: int = 3,
                      min_z: float = 1.96, prior_scale: float = 0.05, max_n: int = 3,
                      exclude_words: Iterable[str] = (), tokens: pd.DataFrame | None = None,
                      kept: Kept | None = None) -> pd.DataFrame:
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
    ``tokens``: the :func:`sentence_tokens` table of ``sentences`` (computed when not given).
    ``kept``: where each outlet's n-gram counts are kept for the next run, with this run's document
    keys (:class:`toolkit.store.Kept`): only outlets whose documents changed are counted again, and
    the table equals the one computed from scratch.
    """
    if min_count < 1:
        raise ValueError(f"distinctive terms: min_count must be at least 1 (a term is used on its side), not {min_count}")
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
    codes = pd.Categorical(sents["outlet"], categories=outlets).codes.astype(np.int64)
    docs = _Docs.of(sents["doc_id"].to_numpy(), codes, len(outlets))
    cells = _kept_cells(sents, tokens, outlets, codes, docs, stopwords, max_n, kept)
    if not cells.table.num_rows:
        warnings.warn("distinctive terms: no countable words in the sentences.", stacklevel=2)
        return pd.DataFrame(columns=DISTINCTIVE_COLUMNS)
    return _scored(sents, outlets, docs, cells, top_k=top_k, min_count=min_count, min_z=min_z, prior_scale=prior_scale)


def _sentence_rows(sents: pd.DataFrame, docs: _Docs, outlet: np.ndarray, place: np.ndarray,
                   sent_id: np.ndarray) -> np.ndarray:
    """The row of ``sents`` (sorted by doc_id, sent_id; ``docs``: its documents) of each sentence
    ``sent_id`` of the ``place``-th document of ``outlet``."""
    doc = docs.by_outlet[docs.offsets[outlet] + place]
    width = int(max(sents["sent_id"].max(), sent_id.max(initial=0))) + 1
    packed = docs.of_row * width + sents["sent_id"].to_numpy()
    return np.searchsorted(packed, doc * width + sent_id)


def _scored(sents: pd.DataFrame, outlets: list[str], docs: _Docs, cells: _Cells, *, top_k: int, min_count: int,
            min_z: float, prior_scale: float) -> pd.DataFrame:
    """The :func:`distinctive_terms` table from the corpus's :class:`_Cells`."""
    n_outlets = len(outlets)
    encoded = pc.dictionary_encode(cells.table.column("term")).combine_chunks()
    keys = encoded.indices.to_numpy().astype(np.int64)
    counts = cells.table.column("count").to_numpy()
    full_total = np.bincount(keys, weights=counts, minlength=len(encoded.dictionary)).astype(np.int64)
    n_tokens = cells.n_tokens.astype(float)
    a0 = prior_scale * full_total.sum()
    # a term used fewer than min_count times in all can pass on neither side: leave it out of
    # the per-outlet arrays (n-gram vocabularies are mostly such terms), keeping the full totals
    kept = np.flatnonzero(full_total >= min_count)
    column = np.full(len(full_total), -1)
    column[kept] = np.arange(len(kept))
    hit = column[keys] >= 0
    cell_outlet, cell_term, cell_count = cells.outlet[hit], column[keys[hit]], counts[hit]
    first_row = _sentence_rows(sents, docs, cell_outlet, cells.table.column("doc").to_numpy()[hit],
                               cells.table.column("sent_id").to_numpy()[hit])
    order = np.lexsort((first_row, cell_term))
    runs = np.flatnonzero(np.diff(cell_term[order], prepend=-1) != 0)
    best_outlet = np.full(len(kept), -1)
    best_row, second_row = np.full(len(kept), -1), np.full(len(kept), -1)
    best_outlet[cell_term[order][runs]] = cell_outlet[order][runs]
    best_row[cell_term[order][runs]] = first_row[order][runs]
    has_second = runs + 1 < len(order)
    seconds = runs[has_second] + 1
    same_term = cell_term[order][seconds] == cell_term[order][runs[has_second]]
    second_row[cell_term[order][seconds[same_term]]] = first_row[order][seconds[same_term]]
    # each outlet's cells (the terms it uses), in term order
    by_cell = np.lexsort((cell_term, cell_outlet))
    cell_outlet, cell_term, cell_count, first_row = (a[by_cell] for a in (cell_outlet, cell_term, cell_count, first_row))
    bounds = np.searchsorted(cell_outlet, np.arange(n_outlets + 1))
    terms = encoded.dictionary.take(pa.array(kept)).to_numpy(zero_copy_only=False)
    total = full_total[kept].astype(float)
    prior = prior_scale * total
    by_total = np.argsort(-total, kind="stable")
    ranked = -total[by_total]
    used = np.zeros(len(kept), dtype=bool)
    n_rest = n_tokens.sum() - n_tokens
    out_rows = []
    for k, outlet in enumerate(outlets):
        mine = cell_term[bounds[k]:bounds[k + 1]]
        used[mine] = True
        cand = np.concatenate([mine, _unused_candidates(by_total, ranked, used, len(mine), top_k)])
        used[mine] = False
        own = np.zeros(len(cand))
        own[:len(mine)] = cell_count[bounds[k]:bounds[k + 1]]
        rest = total[cand] - own
        delta, z = log_odds_dirichlet(own, rest, prior[cand], totals=(n_tokens[k], n_rest[k], a0))
        names = terms[cand]
        for side, count in ((1, own), (-1, rest)):
            ok = np.flatnonzero((side * z >= min_z) & (count >= min_count))
            for i in top_terms(ok, side * z, names, top_k):
                t = cand[i]
                first = int(first_row[bounds[k] + i] if side == 1 else best_row[t] if best_outlet[t] != k
                            else second_row[t])
                out_rows.append((outlet, names[i], round(float(delta[i]), 4), round(float(z[i]), 4), int(own[i]),
                                 int(rest[i]), int(n_tokens[k]), int(n_rest[k]),
                                 sents.at[first, "text"], sents.at[first, "doc_id"], int(sents.at[first, "sent_id"])))
    out = pd.DataFrame(out_rows, columns=DISTINCTIVE_COLUMNS)
    return out.sort_values(["outlet", "z", "term"], ascending=[True, False, True]).reset_index(drop=True)

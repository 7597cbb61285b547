"""Sentence-level tone with VADER, who is speaking, and honest aggregates.

VADER (Hutto & Gilbert, ICWSM 2014) is a lexicon-and-rules scorer built for
*sentences*: on New York Times editorial sentences its compound score correlates
with human ratings at about r = 0.49, and on whole articles the compound score
saturates towards ±1. So this module scores every sentence, never an article, and
builds every outlet/article/actor figure as a mean of sentence scores with its
``n`` and a 95 % confidence interval (Student-t by default, a seeded bootstrap
on request).

Limits a reporter should know:

* VADER scores the words, not the stance: "the strikes killed 40 civilians" is
  negative whoever wrote it and whatever they think of it.
* Actor tone is the tone of *sentences that mention the actor*, not sentiment
  directed at the actor (VADER has no notion of targets).
* A quoted angry official is not an angry outlet: :func:`mark_voice` separates
  quoted/reported speech from the outlet's own voice so both can be compared.

Public functions: :func:`score_sentences`, :func:`mark_voice`,
:func:`aggregate`, :func:`group_intervals`, :func:`bootstrap_ci`,
:func:`evidence`, :func:`distribution`, :func:`run`.

Corpus-level cost: :func:`aggregate`, :func:`evidence` and :func:`distribution`
are vectorised (``np.bincount`` over group codes, one ``np.lexsort`` per
ordering, index lookups instead of merges), so a warm re-run over 10,000
articles takes seconds (benchmarks/sentiment_bench.py ``--tables``).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import t as scipy_t
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SCORE_COLUMNS: tuple[str, ...] = ("neg", "neu", "pos", "compound")
VOICES: tuple[str, ...] = ("all", "own", "quoted")
LEVELS: tuple[str, ...] = ("outlet", "article", "actor", "outlet_actor")
SENTIMENT_BY_COLUMNS: tuple[str, ...] = (
    "level", "outlet", "actor", "doc_id", "voice", "mean_compound", "ci_low",
    "ci_high", "share_negative", "share_positive", "n", "n_articles", "small_n",
)
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "level", "outlet", "actor", "side", "rank", "doc_id", "sent_id", "compound",
    "voice", "text", "title",
)

#: VADER's documented thresholds: compound >= 0.05 positive, <= -0.05 negative.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

#: Below this many sentences ``n_jobs=None`` scores in-process: VADER scores
#: ~10,000 twenty-word news sentences per second on one core, and starting the
#: worker pool costs 2-3 s (benchmarks/sentiment_bench.py), so only large
#: corpora gain from it.
PARALLEL_MIN_SENTENCES = 100_000
#: Each worker gets this many chunks, so uneven sentence lengths even out.
CHUNKS_PER_WORKER = 4

#: Bootstrap statistics held in memory at once (float64 values: 32 MB).
BOOTSTRAP_BATCH = 4_000_000

#: A sentence whose share of quoted characters reaches this is ``quoted``.
QUOTED_SHARE_THRESHOLD = 0.5

# --- markup removal (scoring input only; the ``text`` column is never changed) --

_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,500}>")
# Zero-width space, word joiner, BOM and soft hyphen are invisible formatting
# debris from HTML pages. The zero-width *joiner* (U+200D) is kept: it glues
# emoji sequences that VADER's emoji lexicon reads.
_INVISIBLE_RE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_SPACE_RE = re.compile(r"\s+")


def strip_markup(text: str) -> str:
    """Remove markup artefacts from one sentence, keeping everything VADER reads.

    Removed, in this order: HTML/XML tags (``<b>``, ``</a>``, ``<br/>``), then
    character entities are decoded (``&amp;`` -> ``&``, ``&#8220;`` -> ``“``),
    then invisible format characters (zero-width space U+200B, word joiner
    U+2060, byte-order mark U+FEFF, soft hyphen U+00AD), then whitespace runs
    (including non-breaking spaces and newlines) become one space and the ends are
    trimmed. Capitals, punctuation, emoticons and emoji are left untouched
    because VADER uses them to grade intensity.

    Parameters
    ----------
    text : str
        One sentence as written.

    Returns
    -------
    str
        The text VADER scores.
    """
    if (text.isprintable() and "<" not in text and "&" not in text and "  " not in text
            and not text.startswith(" ") and not text.endswith(" ")):
        # Nothing to strip (the common case), so skip the four passes below: the only
        # whitespace a printable str holds is the plain space, and invisible characters
        # are format characters, never printable.
        return text
    text = _TAG_RE.sub(" ", text)
    text = html.unescape(text)
    text = _INVISIBLE_RE.sub("", text)
    return _SPACE_RE.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """Return this process's VADER analyzer, built on first use (lexicon load ~0.1 s)."""
    return SentimentIntensityAnalyzer()


def _score_texts(texts: Sequence[str]) -> np.ndarray:
    """Score texts with VADER; return a float array of shape (len(texts), 4).

    Columns are neg, neu, pos, compound. Module-level so worker processes can
    receive it by reference.
    """
    analyzer = _analyzer()
    out = np.empty((len(texts), len(SCORE_COLUMNS)), dtype=float)
    for i, text in enumerate(texts):
        s = analyzer.polarity_scores(strip_markup(text))
        out[i] = (s["neg"], s["neu"], s["pos"], s["compound"])
    return out


def _resolve_jobs(n_jobs: int | None, n_texts: int) -> int:
    """Number of processes to use: None = all cores above the size threshold."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores if n_texts >= PARALLEL_MIN_SENTENCES else 1
    if n_jobs == -1:
        return cores
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int, -1 or None, got {n_jobs}")
    return n_jobs


def _chunks(texts: list[str], n_chunks: int) -> list[list[str]]:
    """Split texts into ``n_chunks`` contiguous, nearly equal, non-empty lists."""
    bounds = np.linspace(0, len(texts), n_chunks + 1).round().astype(int)
    return [texts[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def score_sentences(sentences: pd.DataFrame, *, n_jobs: int | None = None) -> pd.DataFrame:
    """Add VADER scores to every sentence.

    Each sentence is scored as written after :func:`strip_markup` (tags,
    entities, invisible characters, whitespace runs); VADER's own use of
    capitals, punctuation and emoji is kept. Scoring is deterministic, and the
    parallel path returns exactly the serial result: texts are cut into
    contiguous chunks, joblib's ``loky`` process pool (workers are reused
    between calls and safe to start from notebooks and scripts) scores them
    with one analyzer per worker, and chunks are reassembled in their order.

    Parameters
    ----------
    sentences : DataFrame
        Needs ``text``; all other columns are kept as they are. Missing text
        scores as the empty string (all zeros).
    n_jobs : int or None
        ``None`` (default): one process below ``PARALLEL_MIN_SENTENCES``
        sentences, all cores above. ``-1``: all cores. ``1``: in-process.
        ``k > 1``: ``k`` worker processes whatever the size.

    Returns
    -------
    DataFrame
        A copy of ``sentences`` with float columns ``neg``, ``neu``, ``pos``
        (proportions of the text, summing to ~1) and ``compound`` (normalised
        sum in [-1, 1]), replacing any existing columns of those names.
    """
    texts = sentences["text"].fillna("").astype(str).tolist()
    jobs = min(_resolve_jobs(n_jobs, len(texts)), max(len(texts), 1))
    if jobs == 1:
        scores = _score_texts(texts)
    else:
        chunks = _chunks(texts, jobs * CHUNKS_PER_WORKER)
        parts = Parallel(n_jobs=jobs, backend="loky")(delayed(_score_texts)(c) for c in chunks)
        scores = np.vstack(parts)
    out = sentences.copy()
    for j, col in enumerate(SCORE_COLUMNS):
        out[col] = scores[:, j]
    return out


# --- voice -----------------------------------------------------------------------

_DOUBLE_MARKS = "\"“”„‟«»"
_SINGLE_MARKS = "'‘’‚‛"
_MARK_RE = re.compile(f"[{re.escape(_DOUBLE_MARKS + _SINGLE_MARKS)}]")
_OPENING_GLYPHS = "“„‟«"
_CLOSING_GLYPHS = "”»"
# Characters after which a quote mark can open a quotation.
_BEFORE_OPEN = set("([{—–-:/") | set(_DOUBLE_MARKS) | set(_SINGLE_MARKS)
# Characters before which a quote mark can close a quotation.
_AFTER_CLOSE = set(".,;:!?)]}—–-…") | set(_DOUBLE_MARKS) | set(_SINGLE_MARKS)
# Leading elisions written with an apostrophe that looks like an opening quote.
_ELISIONS = frozenset({"em", "til", "cause", "cos", "tis", "twas", "n", "bout", "round"})
_WORD_RE = re.compile(r"[^\W\d_]*")

#: Reported-speech cues (case-insensitive, whole words): "according to", or one
#: of these speech verbs anywhere in the sentence. Forms that news uses mostly
#: as adjectives or for non-speech acts ("alleged", "stressed", "declared
#: bankruptcy") are left out.
SPEECH_VERBS: tuple[str, ...] = (
    "said", "says", "saying", "told", "tells", "telling", "added", "adds",
    "stated", "claimed", "claims", "claiming", "argued", "argues", "insisted",
    "insists", "warned", "warns", "alleges",
    "wrote", "writes", "tweeted", "asserted", "asserts", "noted", "explained", "explains", "acknowledged", "admitted", "admits",
    "denied", "denies", "vowed", "vows", "urged", "urges", "reiterated", "reiterates",
    "remarked", "quoted", "quoting",
)
_SPEECH_VERB_SET = frozenset(SPEECH_VERBS)
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_ACCORDING_RE = re.compile(r"\baccording\s+to\b")


def has_speech_cue(text: str) -> bool:
    """Whether ``text`` carries a reported-speech cue (see ``SPEECH_VERBS``).

    A word-set test rather than one big regex alternation: several times faster
    on long corpora.
    """
    lower = text.lower()
    if "according" in lower and _ACCORDING_RE.search(lower):
        return True
    return not _SPEECH_VERB_SET.isdisjoint(_LETTERS_RE.findall(lower))


def _flanks(text: str, i: int) -> tuple[bool, bool]:
    """Whether the mark at ``text[i]`` can open and whether it can close a quote.

    Opening: at the start or after whitespace/opening punctuation, and followed
    by a non-space. Closing: after a non-space, and at the end or followed by
    whitespace/closing punctuation.
    """
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    can_open = (before.isspace() or before in _BEFORE_OPEN) and not after.isspace()
    can_close = not before.isspace() and (after.isspace() or after in _AFTER_CLOSE)
    return can_open, can_close


def _role(text: str, i: int) -> str:
    """Classify the quote mark at ``text[i]`` as 'open', 'close', 'toggle' or 'none'.

    Position decides first (see :func:`_flanks`); when position is ambiguous
    the glyph decides (curly/angled marks have a direction, a straight double
    quote toggles). A single mark with letters or digits on both sides is an
    apostrophe (``don't``, ``it’s``), and one before a digit or a known
    elision (``'90s``, ``’em``, ``'til``) is not a quote either.
    """
    mark = text[i]
    can_open, can_close = _flanks(text, i)
    if mark in _SINGLE_MARKS:
        following = text[i + 1 : i + 2]
        word = _WORD_RE.match(text, i + 1).group().lower()
        if can_open and not can_close:
            if following.isdigit() or word in _ELISIONS:
                return "none"
            return "open"
        if can_close and not can_open:
            return "close"
        return "none"
    if can_open != can_close:
        return "open" if can_open else "close"
    if mark in _OPENING_GLYPHS:
        return "open"
    if mark in _CLOSING_GLYPHS:
        return "close"
    return "toggle"


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of direct quotations in one paragraph.

    Hand-written because no installed library marks quotations (spaCy has no
    quote annotator); the rule, exactly:

    1. Double quotes (straight ``"``, curly ``“ ”``, ``„ ‟``, guillemets
       ``« »``) are classified by :func:`_role`. An opening mark starts a
       quotation unless one is already open (then it is ignored: nested or a
       missing closer); a closing mark ends the open quotation (ignored when
       none is open); a toggling mark does whichever applies.
    2. Single quotes (``' ‘ ’``) count only outside double quotes, only when a
       single-quote closer follows later in the paragraph, and never as
       apostrophes or elisions (see :func:`_role`). A closer ends the open
       single quotation at its first occurrence.
    3. A quotation still open at the end of the paragraph runs to the end of
       the paragraph (news style opens every paragraph of a long quotation
       but closes only the last one).

    The marks themselves belong to the span.

    Parameters
    ----------
    text : str
        A paragraph (or any run of sentences).

    Returns
    -------
    list of (int, int)
        Non-overlapping spans in reading order.
    """
    marks = [(m.start(), m.group()) for m in _MARK_RE.finditer(text)]
    roles = [_role(text, i) for i, _ in marks]
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    open_kind = ""
    for k, ((i, mark), role) in enumerate(zip(marks, roles)):
        kind = "double" if mark in _DOUBLE_MARKS else "single"
        if open_at is None:
            if role in ("open", "toggle") and kind == "double":
                open_at, open_kind = i, kind
            elif role == "open" and any(
                r == "close" and m in _SINGLE_MARKS for (_, m), r in zip(marks[k + 1 :], roles[k + 1 :])
            ):
                open_at, open_kind = i, kind
        elif kind == open_kind and role in ("close", "toggle"):
            spans.append((open_at, i + 1))
            open_at = None
    if open_at is not None:
        spans.append((open_at, len(text)))
    return spans


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> int:
    """Number of characters of ``[start, end)`` inside any of ``spans``."""
    return sum(max(0, min(end, b) - max(start, a)) for a, b in spans)


def mark_voice(sentences: pd.DataFrame) -> pd.DataFrame:
    """Mark each sentence as the outlet's own voice or quoted/reported speech.

    Sentences of one paragraph (same ``doc_id``, ``para_id``), in ``sent_id``
    order, are joined with single spaces and :func:`quote_spans` finds the
    direct quotations in that paragraph text, so a quotation opened in one
    sentence and closed two sentences later covers all three. Then, per sentence:

    * ``quoted_share`` = characters of the sentence inside quotation spans
      (marks included) / characters of the sentence (0 for empty text);
    * ``voice`` = ``"quoted"`` when ``quoted_share >= QUOTED_SHARE_THRESHOLD``
      (0.5) **or** the sentence carries a reported-speech cue ("according to",
      or a speech verb from ``SPEECH_VERBS`` such as *said*, *told*, *claimed*,
      *warned*, *denied*, as a whole word, any case); otherwise ``"own"``.

    So a sentence that only puts a word or two in scare quotes stays in the
    outlet's own voice, and "X said that ..." counts as X's speech even without
    quotation marks. The cue rule is deliberately simple: a speech verb in a
    subordinate clause also marks the sentence as reported.

    Parameters
    ----------
    sentences : DataFrame
        Needs ``doc_id``, ``para_id``, ``sent_id``, ``text``.

    Returns
    -------
    DataFrame
        A copy of ``sentences`` (same row order and index) with ``voice`` (str)
        and ``quoted_share`` (float in [0, 1]).
    """
    texts = sentences["text"].fillna("").astype(str).to_numpy()
    order = np.lexsort((sentences["sent_id"].to_numpy(), sentences["para_id"].to_numpy(),
                        sentences["doc_id"].astype(str).to_numpy()))
    para_key = list(zip(sentences["doc_id"].to_numpy()[order], sentences["para_id"].to_numpy()[order]))
    share = np.zeros(len(texts))
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and para_key[stop] == para_key[start]:
            stop += 1
        rows = order[start:stop]
        paragraph = " ".join(texts[rows])
        spans = quote_spans(paragraph) if _MARK_RE.search(paragraph) else []
        pos = 0
        for row in rows:
            length = len(texts[row])
            if length and spans:
                share[row] = _covered(spans, pos, pos + length) / length
            pos += length + 1
        start = stop
    cue = np.array([has_speech_cue(text) for text in texts], dtype=bool)
    out = sentences.copy()
    out["quoted_share"] = share.round(6)
    out["voice"] = np.where((share >= QUOTED_SHARE_THRESHOLD) | cue, "quoted", "own")
    return out


# --- aggregation -------------------------------------------------------------------


def bootstrap_ci(
    values: np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    clusters: np.ndarray | None = None,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval for the mean of ``values`` (one group).

    :func:`group_intervals` with ``method="bootstrap"`` for a single group.

    Parameters
    ----------
    values : ndarray
        Finite floats.
    n_boot : int
        Number of bootstrap resamples.
    seed : int
        Base seed; the resampling pattern is drawn from ``default_rng([seed, units])``.
    clusters : ndarray, optional
        Cluster label per value (e.g. ``doc_id``): whole clusters are resampled.
    level : float
        Confidence level.

    Returns
    -------
    (float, float)
        ``(low, high)``; ``(nan, nan)`` with fewer than 3 resampling units.
    """
    values = np.asarray(values, dtype=float)
    groups = np.zeros(len(values), dtype=np.int64)
    low, high = group_intervals(
        values, groups, 1, method="bootstrap", n_boot=n_boot, seed=seed, clusters=clusters, level=level
    )[0]
    return float(low), float(high)


def _resample_counts(units: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each of ``units`` positions is drawn in each of ``n_boot`` resamples, as floats.

    Shape ``(units, n_boot)``, C-ordered, ready to multiply a ``(groups, units)``
    matrix of unit sums. The draws come from ``numpy.random.default_rng([seed,
    units])``: one stream per unit count, shared by every group with that many units.
    """
    draw = np.random.default_rng([seed, units]).integers(0, units, size=(n_boot, units), dtype=np.int64)
    draw += np.arange(n_boot, dtype=np.int64)[:, None] * units
    counts = np.bincount(draw.ravel(), minlength=n_boot * units).reshape(n_boot, units)
    return np.ascontiguousarray(counts.T, dtype=float)


def _percentiles(stats: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Row-wise percentiles of ``stats`` with numpy's default (linear) interpolation.

    Sorting the rows and interpolating is about twice as fast as
    ``np.quantile(..., axis=1)``. Returns shape ``(rows, len(quantiles))``.
    """
    ordered = np.sort(stats, axis=1)
    position = (ordered.shape[1] - 1) * np.asarray(quantiles, dtype=float)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, ordered.shape[1] - 1)
    return ordered[:, below] + (position - below) * (ordered[:, above] - ordered[:, below])


def group_intervals(
    values: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    *,
    method: Literal["t", "bootstrap"] = "t",
    n_boot: int = 2000,
    seed: int = 0,
    clusters: np.ndarray | None = None,
    level: float = 0.95,
) -> np.ndarray:
    """Confidence intervals for the mean of every group at once.

    The resampling unit is one value, or with ``clusters`` one cluster (e.g. an
    article, with its values' sum ``s_i`` and count ``c_i``); the statistic is
    ``r = Σs_i / Σc_i`` (the plain mean without clusters). Groups with fewer than
    3 units get ``(nan, nan)``.

    ``method="t"`` (the default; O(values), no randomness): Student-t interval
    ``r ± t(u−1) · sqrt(u/(u−1) · Σ(s_i − r·c_i)²) / Σc_i`` with ``u`` units —
    without clusters exactly ``mean ± t(n−1) · sd/√n`` (sample sd); with clusters
    the cluster-robust (CR1) standard error of a ratio. The bounds are clipped to
    the group's smallest and largest value, the range any mean of those values can
    take (a t interval for three far-apart sentences would otherwise run past ±1).

    ``method="bootstrap"``: seeded percentile bootstrap with ``n_boot``
    resamples. Every group with ``u`` units uses the same resampling pattern
    (:func:`_resample_counts`, drawn from ``default_rng([seed, u])``), so the
    bootstrap statistics of all groups of one size are one matrix product; a
    group's interval depends only on its own values (in their order), ``seed``
    and ``n_boot`` (up to floating-point rounding of that product). Its cost
    still grows with ``n_boot`` × groups (every group needs ``n_boot``
    statistics, sorted), which is why it is not the default.

    Hand-written rather than ``scipy.stats.bootstrap``/``scipy.stats.t.interval``
    per group because this runs for hundreds of thousands of groups, where
    per-call overhead dominates, and the cluster version needs a ratio statistic.

    Parameters
    ----------
    values : ndarray
        Finite floats.
    groups : ndarray of int
        Group code of each value, in ``0 .. n_groups - 1``.
    n_groups : int
        Number of groups (groups without values get NaN).
    method : {"t", "bootstrap"}
        Interval method (see above).
    n_boot, seed
        Resamples and base seed of the bootstrap (unused by ``"t"``).
    clusters : ndarray, optional
        Cluster label per value.
    level : float
        Confidence level.

    Returns
    -------
    ndarray
        Shape ``(n_groups, 2)``: low and high bound per group.
    """
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    if clusters is None:
        order = np.argsort(groups, kind="stable")
        unit_group, sums, counts = groups[order], values[order], np.ones(len(values))
    else:
        frame = pd.DataFrame({"group": groups, "cluster": np.asarray(clusters), "value": values})
        per_unit = frame.groupby(["group", "cluster"], sort=True)["value"].agg(["sum", "size"])
        unit_group = per_unit.index.get_level_values("group").to_numpy(dtype=np.int64)
        sums, counts = per_unit["sum"].to_numpy(dtype=float), per_unit["size"].to_numpy(dtype=float)
    units = np.bincount(unit_group, minlength=n_groups)
    out = np.full((n_groups, 2), np.nan)
    alpha = (1 - level) / 2
    ok = units >= 3
    if method == "t":
        total = np.bincount(unit_group, weights=sums, minlength=n_groups)
        weight = np.bincount(unit_group, weights=counts, minlength=n_groups)
        ratio = total / np.where(weight > 0, weight, 1)
        resid = np.bincount(unit_group, weights=(sums - ratio[unit_group] * counts) ** 2, minlength=n_groups)
        dof = np.maximum(units - 1, 1)
        half = scipy_t.ppf(1 - alpha, dof) * np.sqrt(units / dof * resid) / np.where(weight > 0, weight, 1)
        lowest = pd.Series(values).groupby(groups).min().reindex(range(n_groups)).to_numpy()
        highest = pd.Series(values).groupby(groups).max().reindex(range(n_groups)).to_numpy()
        out[ok, 0] = np.maximum(ratio - half, lowest)[ok]
        out[ok, 1] = np.minimum(ratio + half, highest)[ok]
        return out
    if method != "bootstrap":
        raise ValueError(f"method must be 't' or 'bootstrap', not {method!r}")
    starts = np.concatenate([[0], np.cumsum(units)[:-1]])
    chosen = np.flatnonzero(ok)
    step_rows = max(1, BOOTSTRAP_BATCH // n_boot)
    for size in np.unique(units[chosen]):
        members = chosen[units[chosen] == size]
        resample = _resample_counts(int(size), n_boot, seed)
        index = starts[members][:, None] + np.arange(size)
        for b in range(0, len(members), step_rows):
            rows = index[b : b + step_rows]
            stats = sums[rows] @ resample
            stats /= size if clusters is None else counts[rows] @ resample
            out[members[b : b + step_rows]] = _percentiles(stats, [alpha, 1 - alpha])
    return out


def _summarise(
    data: pd.DataFrame, keys: list[str], *, interval_options: Mapping[str, object]
) -> pd.DataFrame:
    """Summary rows of one level: every group of ``data`` by ``keys`` × every voice.

    Vectorised: group codes come from one pandas ``groupby(...).ngroup()``; each
    (group, voice) pair is a slot ``3 * group + voice`` (``all``, ``own``,
    ``quoted``); counts, shares and article counts are ``np.bincount`` over the
    slots, means one pandas grouped mean over them. A sentence of voice ``own`` or ``quoted`` counts in its voice's
    slot and in ``all``. Voices a group lacks get ``n = 0`` and NaN figures.
    Intervals come from :func:`group_intervals` with ``interval_options``.

    Parameters
    ----------
    data : DataFrame
        ``keys`` columns, ``doc_id``, ``compound``, ``voice``.
    keys : list of str
        Grouping columns (missing values form their own group).
    interval_options : mapping
        Keyword arguments of :func:`group_intervals` (``method``, ``n_boot``,
        ``seed``) plus ``resample`` (``"sentence"`` or ``"article"``).

    Returns
    -------
    DataFrame
        ``keys``, ``voice``, ``mean_compound``, ``ci_low``, ``ci_high``,
        ``share_negative``, ``share_positive``, ``n``, ``n_articles``; one row
        per group and voice, sorted by ``keys`` (as :func:`_sort`) then voice.
    """
    grouped = data.groupby(keys, sort=False, dropna=False)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    n_slots = 3 * grouped.ngroups
    first = np.unique(codes, return_index=True)[1]
    voice = data["voice"].map({v: i for i, v in enumerate(VOICES)}).fillna(0).to_numpy(dtype=np.int64)
    voiced = voice > 0
    slots = np.concatenate([3 * codes, (3 * codes + voice)[voiced]])
    compound = data["compound"].to_numpy(dtype=float)
    values = np.concatenate([compound, compound[voiced]])
    docs = pd.factorize(data["doc_id"])[0].astype(np.int64)
    docs = np.concatenate([docs, docs[voiced]])

    n = np.bincount(slots, minlength=n_slots)
    # pandas' grouped mean (compensated summation) rather than a bincount sum: the same bits as
    # a plain ``groupby(keys).mean()``.
    mean = pd.Series(values).groupby(slots).mean().reindex(range(n_slots)).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share_negative = np.bincount(slots, weights=values <= NEGATIVE_THRESHOLD, minlength=n_slots) / n
        share_positive = np.bincount(slots, weights=values >= POSITIVE_THRESHOLD, minlength=n_slots) / n
    pairs = pd.unique(slots * (int(docs.max(initial=0)) + 1) + docs)
    n_articles = np.bincount(pairs // (int(docs.max(initial=0)) + 1), minlength=n_slots)
    options = dict(interval_options)
    resample = options.pop("resample")
    bounds = group_intervals(
        values, slots, n_slots, clusters=docs if resample == "article" else None, **options
    )
    table = data[keys].iloc[first].reset_index(drop=True)
    slot = (3 * np.lexsort(_sort_keys(table, keys)[::-1])[:, None] + np.arange(3)).ravel()
    out = table.iloc[slot // 3].reset_index(drop=True)
    return out.assign(
        voice=np.array(VOICES, dtype=object)[slot % 3],
        mean_compound=mean[slot],
        ci_low=bounds[slot, 0],
        ci_high=bounds[slot, 1],
        share_negative=share_negative[slot],
        share_positive=share_positive[slot],
        n=n[slot],
        n_articles=n_articles[slot],
    )


def _with_outlet(
    sentences: pd.DataFrame, articles: pd.DataFrame, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Sentences (only ``columns`` of them, if given) with their article's ``outlet`` and ``title``.

    A lookup by ``doc_id`` (the first article row per ``doc_id``), found once for both columns;
    sentences of unknown documents get missing values.
    """
    meta = articles.drop_duplicates("doc_id")
    frame = sentences[list(columns)] if columns is not None else sentences.drop(columns=["outlet", "title"], errors="ignore")
    rows = pd.Index(meta["doc_id"]).get_indexer(frame["doc_id"])
    return frame.assign(**{
        col: pd.Series(meta[col].array.take(rows, allow_fill=True), index=frame.index) for col in ("outlet", "title")
    })


def _actor_sentences(sentences: pd.DataFrame, mentions: pd.DataFrame) -> pd.DataFrame:
    """One row per (sentence, actor) pair: a sentence counts once per actor it mentions.

    Rows follow ``sentences`` order, then the order of first mention; the same
    rows and order as an inner merge on (``doc_id``, ``sent_id``), found with one
    index lookup instead (sentences are unique per ``doc_id``, ``sent_id``).
    """
    pairs = mentions[["doc_id", "sent_id", "actor"]].dropna()
    docs, _ = pd.factorize(pd.concat([sentences["doc_id"], pairs["doc_id"]], ignore_index=True))
    sent_ids = np.concatenate(
        [sentences["sent_id"].to_numpy(dtype=np.int64), pairs["sent_id"].to_numpy(dtype=np.int64)]
    )
    keys = docs.astype(np.int64) * (int(sent_ids.max(initial=0)) + 1) + sent_ids
    sentence_keys, mention_keys = keys[: len(sentences)], keys[len(sentences) :]
    actors = pd.factorize(pairs["actor"])[0]
    first = ~pd.DataFrame({"key": mention_keys, "actor": actors}).duplicated().to_numpy()
    position = pd.Index(sentence_keys).get_indexer(mention_keys[first])
    found = position >= 0
    order = np.argsort(position[found], kind="stable")
    rows = position[found][order]
    return sentences.iloc[rows].reset_index(drop=True).assign(
        actor=pairs["actor"].to_numpy()[first][found][order]
    )


def aggregate(
    sentences: pd.DataFrame,
    *,
    articles: pd.DataFrame,
    mentions: pd.DataFrame | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    min_n: int = 30,
    resample: Literal["sentence", "article"] = "sentence",
    interval: Literal["t", "bootstrap"] = "t",
) -> pd.DataFrame:
    """Mean sentence tone per outlet, article, actor and outlet × actor (``sentiment_by``).

    For every group and each voice (``all``, ``own``, ``quoted``): the mean
    compound score, a 95 % confidence interval (Student-t by default, or a seeded
    percentile bootstrap; see :func:`group_intervals`), the shares of negative
    (compound <= -0.05) and positive (>= 0.05) sentences and
    ``n``. Groups are never dropped: a voice with no sentences gets a row with
    ``n = 0`` and NaN figures, and ``small_n`` flags groups with fewer than
    ``min_n`` sentences.

    Actor levels use the sentences in which ``mentions`` places the actor (a
    sentence mentioning an actor twice counts once); they measure the tone of
    those sentences, not sentiment aimed at the actor.

    The interval describes the uncertainty of the mean over these sentences
    (``resample="sentence"``). Sentences of one article are not independent; with
    several articles per outlet, ``resample="article"`` takes whole articles as
    the units (cluster-robust) and gives wider, more honest intervals for the outlet's coverage (NaN with
    fewer than 3 articles).

    Parameters
    ----------
    sentences : DataFrame
        ``doc_id``, ``sent_id``, ``compound``, ``voice`` (from
        :func:`score_sentences` and :func:`mark_voice`).
    articles : DataFrame
        ``doc_id``, ``outlet``, ``title``.
    mentions : DataFrame, optional
        ``doc_id``, ``sent_id``, ``actor`` (the actors stage's table). Without
        it the ``actor`` and ``outlet_actor`` levels are skipped.
    n_boot : int
        Bootstrap resamples per figure (``interval="bootstrap"`` only).
    seed : int
        Base seed of the bootstrap; the resampling pattern of a group with ``u``
        units is drawn from ``default_rng([seed, u])`` (see :func:`group_intervals`).
    min_n : int
        Groups (per voice) with fewer sentences are flagged ``small_n``.
    resample : {"sentence", "article"}
        Unit of the interval: sentences, or articles (clusters).
    interval : {"t", "bootstrap"}
        Interval method. ``"t"`` costs O(sentences) and is the default; the
        bootstrap's cost grows with ``n_boot`` × groups (tens of seconds from a
        few thousand articles up).

    Returns
    -------
    DataFrame
        Columns ``level``, ``outlet``, ``actor``, ``doc_id``, ``voice``,
        ``mean_compound``, ``ci_low``, ``ci_high``, ``share_negative``,
        ``share_positive``, ``n``, ``n_articles``, ``small_n``. ``outlet`` is
        missing on ``actor`` rows, ``actor`` on ``outlet``/``article`` rows,
        ``doc_id`` everywhere but ``article`` rows. Sorted by level (in
        ``LEVELS`` order), outlet, actor, doc_id, voice (``all``, ``own``,
        ``quoted``).
    """
    frame = _with_outlet(sentences, articles, ["doc_id", "sent_id", "compound", "voice"])
    plans: list[tuple[str, pd.DataFrame, list[str]]] = [
        ("outlet", frame, ["outlet"]),
        ("article", frame, ["outlet", "doc_id"]),
    ]
    if mentions is not None:
        by_actor = _actor_sentences(frame, mentions)
        plans += [("actor", by_actor, ["actor"]), ("outlet_actor", by_actor, ["outlet", "actor"])]
    options = {"method": interval, "n_boot": n_boot, "seed": seed, "resample": resample}
    out = pd.concat(
        [_summarise(data, keys, interval_options=options).assign(level=level) for level, data, keys in plans],
        ignore_index=True,
    ).reindex(columns=list(SENTIMENT_BY_COLUMNS))
    for col in ("outlet", "actor", "doc_id"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    out["n"] = out["n"].astype(int)
    out["n_articles"] = out["n_articles"].astype(int)
    out["small_n"] = out["n"] < min_n
    return out


def _sort(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Stable sort with ``level``, ``voice`` and ``side`` in their documented order.

    Text columns sort as text with missing values first (as the empty string);
    numeric columns ascending, missing last. One ``np.lexsort`` over integer codes
    (``pd.factorize(..., sort=True)`` for text), which matches pandas' stable
    multi-column ``sort_values`` and is several times faster on large tables.
    """
    return frame.iloc[np.lexsort(_sort_keys(frame, by)[::-1])] if len(frame) else frame


def _sort_keys(frame: pd.DataFrame, by: Sequence[str]) -> list[np.ndarray]:
    """One sortable array per column of ``by`` for :func:`_sort` (most significant first)."""
    order = {"level": LEVELS, "voice": VOICES, "side": ("negative", "positive")}
    keys = []
    for col in by:
        series = frame[col]
        if col in order:
            keys.append(series.map({v: i for i, v in enumerate(order[col])}).to_numpy())
        elif series.dtype == object:
            keys.append(pd.factorize(series.fillna("").astype(str), sort=True)[0])
        else:
            keys.append(series.to_numpy())
    return keys


# --- evidence ----------------------------------------------------------------------


def evidence(
    sentences: pd.DataFrame,
    articles: pd.DataFrame,
    mentions: pd.DataFrame | None = None,
    k: int = 3,
) -> pd.DataFrame:
    """The sentences behind the numbers (``sentiment_evidence``).

    For every outlet (and, with ``mentions``, every outlet × actor): the ``k``
    most negative sentences among those with compound <= -0.05 and the ``k``
    most positive among those with compound >= 0.05, so a side has fewer than
    ``k`` rows (or none) when the group has fewer sentences of that polarity.
    Ties are broken by ``doc_id`` then ``sent_id``.

    Parameters
    ----------
    sentences : DataFrame
        ``doc_id``, ``sent_id``, ``text``, ``compound``, ``voice``.
    articles : DataFrame
        ``doc_id``, ``outlet``, ``title``.
    mentions : DataFrame, optional
        ``doc_id``, ``sent_id``, ``actor``.
    k : int
        Sentences per side.

    Returns
    -------
    DataFrame
        ``level`` (``outlet`` or ``outlet_actor``), ``outlet``, ``actor``
        (missing on outlet rows), ``side`` (``negative``/``positive``),
        ``rank`` (1 = most extreme), ``doc_id``, ``sent_id``, ``compound``,
        ``voice``, ``text``, ``title``; sorted by level, outlet, actor, side, rank.
    """
    frame = _with_outlet(sentences, articles, ["doc_id", "sent_id", "compound", "voice"])
    frame["_row"] = np.arange(len(frame))
    plans = [("outlet", frame.assign(actor=None))]
    if mentions is not None:
        plans.append(("outlet_actor", _actor_sentences(frame, mentions)))
    doc_rank = pd.factorize(frame["doc_id"].astype(str), sort=True)[0]
    parts = []
    for level, data in plans:
        groups = data.groupby(["outlet", "actor"], sort=False, dropna=False).ngroup().to_numpy()
        compound = data["compound"].to_numpy(dtype=float)
        tie_keys = (data["sent_id"].to_numpy(), doc_rank[data["_row"].to_numpy()])
        for side, mask, sign in (
            ("negative", compound <= NEGATIVE_THRESHOLD, 1.0),
            ("positive", compound >= POSITIVE_THRESHOLD, -1.0),
        ):
            order = np.lexsort((*tie_keys, sign * compound))
            order = order[mask[order]]
            rank = pd.Series(groups[order]).groupby(groups[order], sort=False).cumcount().to_numpy()
            top = data.iloc[order[rank < k]]
            parts.append(top.assign(rank=rank[rank < k] + 1, level=level, side=side))
    out = pd.concat(parts, ignore_index=True)
    rows = out["_row"].to_numpy()
    out["text"] = sentences["text"].to_numpy()[rows]
    out["title"] = out["doc_id"].map(articles.drop_duplicates("doc_id").set_index("doc_id")["title"])
    out = out.reindex(columns=list(EVIDENCE_COLUMNS))
    out["actor"] = out["actor"].astype(object).where(out["actor"].notna(), None)
    out["rank"] = out["rank"].astype(int)
    return _sort(out, ["level", "outlet", "actor", "side", "rank"]).reset_index(drop=True)


DISTRIBUTION_COLUMNS: tuple[str, ...] = (
    "outlet", "bin_low", "bin_high", "n", "share", "outlet_n", "doc_id", "sent_id", "text", "title",
)


def distribution(sentences: pd.DataFrame, articles: pd.DataFrame, *, bins: int = 20) -> pd.DataFrame:
    """Histogram of sentence compound scores per outlet (``sentiment_distribution``).

    The range [-1, 1] is cut into ``bins`` equal bins, closed on the left (the
    last bin also holds 1.0), so 0.0 — a sentence with no sentiment words, the
    most common VADER score in news — falls in the bin starting at 0. Every
    bin of every outlet is listed, empty ones with ``n = 0``. Each non-empty bin
    carries one example sentence: the one nearest the bin's centre, ties
    broken by ``doc_id`` and ``sent_id``.

    Parameters
    ----------
    sentences : DataFrame
        ``doc_id``, ``sent_id``, ``text``, ``compound``.
    articles : DataFrame
        ``doc_id``, ``outlet``, ``title``.
    bins : int
        Number of bins.

    Returns
    -------
    DataFrame
        ``outlet``, ``bin_low``, ``bin_high``, ``n`` (sentences in the bin),
        ``share`` (n / outlet_n), ``outlet_n`` (the outlet's sentences),
        ``doc_id``, ``sent_id``, ``text``, ``title`` (the example; missing for
        empty bins); sorted by outlet and bin.
    """
    frame = _with_outlet(sentences, articles, ["doc_id", "sent_id", "compound"])
    edges = np.linspace(-1.0, 1.0, bins + 1).round(10)
    frame["bin"] = np.clip(np.searchsorted(edges, frame["compound"].to_numpy(), side="right") - 1, 0, bins - 1)
    centre = (edges[frame["bin"]] + edges[frame["bin"] + 1]) / 2
    frame["_distance"] = np.abs(frame["compound"].to_numpy() - centre)
    frame["_row"] = np.arange(len(frame))
    examples = _sort(frame, ["outlet", "bin", "_distance", "doc_id", "sent_id"]).drop_duplicates(["outlet", "bin"])
    examples = examples.assign(text=sentences["text"].to_numpy()[examples["_row"].to_numpy()])
    counts = frame.groupby(["outlet", "bin"]).size().rename("n")
    grid = pd.MultiIndex.from_product([sorted(frame["outlet"].dropna().unique()), range(bins)], names=["outlet", "bin"])
    out = counts.reindex(grid, fill_value=0).reset_index()
    out["outlet_n"] = out.groupby("outlet")["n"].transform("sum")
    out["share"] = out["n"] / out["outlet_n"]
    out["bin_low"] = edges[out["bin"]].round(6)
    out["bin_high"] = edges[out["bin"] + 1].round(6)
    out = out.merge(examples[["outlet", "bin", "doc_id", "sent_id", "text", "title"]], on=["outlet", "bin"], how="left")
    out["sent_id"] = out["sent_id"].astype("Int64")
    return out.sort_values(["outlet", "bin"], kind="stable")[list(DISTRIBUTION_COLUMNS)].reset_index(drop=True)


# --- stage entry point ------------------------------------------------------------


#: Tables :func:`document_step` reads and writes (the pipeline's per-document protocol).
DOCUMENT_INPUTS: tuple[str, ...] = ("sentences",)
DOCUMENT_OUTPUTS: tuple[str, ...] = ("sentences",)


def document_step(frames: Mapping[str, pd.DataFrame], **_stage_options) -> dict[str, pd.DataFrame]:
    """The per-document part of the stage: scores and voice of some documents' sentences.

    Depends only on each document's own sentences, so the pipeline may cache it per
    document and run it on any partition. Returns ``{"sentences": ...}`` with the
    columns added by :func:`score_sentences` and :func:`mark_voice` (one process).
    """
    return {"sentences": mark_voice(score_sentences(frames["sentences"], n_jobs=1))}


def run(tables: Mapping[str, pd.DataFrame], **options) -> dict[str, pd.DataFrame]:
    """Sentiment stage: score and voice-mark sentences, aggregate, pick evidence.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Needs ``sentences`` and ``articles``; uses ``mentions`` when present.
    **options
        ``n_jobs`` (for :func:`score_sentences`); ``n_boot``, ``seed``,
        ``min_n``, ``resample``, ``interval`` (for :func:`aggregate`); ``k`` (for
        :func:`evidence`); ``precomputed``: the output of :func:`document_step`
        for every document (the pipeline's engine computes it per document). ``data_dir`` and ``cache_dir``, which the pipeline
        passes to every stage, are accepted and unused: this stage reads no
        data files and caches nothing. Other options raise ``TypeError``.

    Returns
    -------
    dict
        ``sentences`` (input columns plus ``neg``, ``neu``, ``pos``,
        ``compound``, ``quoted_share``, ``voice``), ``sentiment_by``,
        ``sentiment_evidence``, ``sentiment_distribution``.
    """
    allowed = {"n_jobs", "n_boot", "seed", "min_n", "resample", "interval", "k", "data_dir", "cache_dir", "precomputed"}
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"sentiment.run got unknown options: {sorted(unknown)}")
    agg_options = {key: options[key] for key in ("n_boot", "seed", "min_n", "resample", "interval") if key in options}
    articles = tables["articles"]
    mentions = tables.get("mentions")
    if options.get("precomputed") is not None:
        voiced = options["precomputed"]["sentences"]
    else:
        voiced = mark_voice(score_sentences(tables["sentences"], n_jobs=options.get("n_jobs")))
    return {
        "sentences": voiced,
        "sentiment_by": aggregate(voiced, articles=articles, mentions=mentions, **agg_options),
        "sentiment_evidence": evidence(voiced, articles, mentions, k=options.get("k", 3)),
        "sentiment_distribution": distribution(voiced, articles),
    }

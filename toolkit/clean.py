"""Turn whole-page plain-text dumps into articles, accounting for every removed line.

A page dump is what a browser's "select all, copy" gives: menus, tickers, the
headline, dek, byline, the article, captions, teasers of other stories, donation
boxes and footers, one block per line. :func:`clean_page` keeps the article body
(paragraphs, sub-headings marked) and puts every other non-blank line in
``removed`` with a reason from :data:`REASONS`.

How it works (no library does boilerplate removal on *text* rather than HTML;
jusText and trafilatura need the DOM, so the line logic is hand-written, in the
spirit of jusText's good/bad/near-good classification with context smoothing):

0. Stopword densities use the jusText stoplist of the page's language
   (detected from the page's frequent words; English unless clearly not).
1. Pattern rules tag lines that are furniture wherever they stand (calls to
   action, share bars, newsletter and donation boxes, image credits,
   copyright, tag lists, teaser blocks after "Related"/"Most read" headers),
   lines repeated across pages of the corpus (:func:`furniture_lines`), and
   everything from a comments header below the first three body sentences.
2. A two-stage logistic regression (numpy-only inference, JSON weights in
   ``resources/``, trained by ``scripts/train_line_classifier.py``) gives each
   line a body probability from its shape (length, jusText stopword density,
   terminal punctuation, capitalisation, bullets, a jusText-like prose score)
   and its neighbours', then from the stage-1 probabilities around it.
3. Near-good sentences next to body lines are kept (jusText's propagation);
   the article is contiguous, so small blocks cut off by furniture beyond the
   main block (teaser ledes) and everything after a comments header go.
4. Lines above the first body sentence yield title, dek, byline, date and
   source credit; the rest above/below the article get positional reasons.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

#: File name of the line-classifier weights under ``toolkit/resources``.
MODEL_FILE = "clean_line_model.json"

#: Every reason a line can be removed for, with what it means.
REASONS: dict[str, str] = {
    "title": "the article's headline (or a repeat of it)",
    "dek": "the standfirst / summary line under the headline",
    "byline": "author line (By …)",
    "date": "publication date or date/time-only line",
    "source-credit": "credit to the original publisher (Source: …)",
    "menu": "navigation, section labels, breadcrumbs, bullet lists of links",
    "ticker": "run of headlines of other stories before the article (breaking-news ticker, trending)",
    "teaser": "headline or lede of another story after the article (related, most read, read next)",
    "caption": "image caption or photo/image credit",
    "cta": "call to action (keep reading, show more, read more, click here, donate, follow us)",
    "share": "share/social buttons and comment counters",
    "newsletter": "newsletter or subscription box",
    "donation": "appeal for donations or memberships",
    "tags": "tag or topic list",
    "comments": "reader comments (everything after a comments header that follows the article)",
    "ad": "advertisement marker",
    "footer": "copyright, legal and site-information lines",
    "repeated-across-pages": "line that recurs on other pages of the corpus (site furniture)",
    "before-article-start": "other line above the article",
    "after-article-end": "other line below the article",
    "boilerplate": "short non-prose line inside the article run that is not a sub-heading",
}


@dataclass(frozen=True)
class Paragraph:
    """One body paragraph; ``is_heading`` marks a sub-heading."""

    text: str
    is_heading: bool


@dataclass(frozen=True)
class RemovedLine:
    """A non-blank input line that is not body text; ``line_no`` is 1-based."""

    line_no: int
    text: str
    reason: str


@dataclass(frozen=True)
class CleanedPage:
    """The article extracted from one page dump, and the account of what was removed."""

    title: str | None
    dek: str | None
    byline: str | None
    published: str | None
    outlet: str | None
    source_credit: str | None
    paragraphs: tuple[Paragraph, ...]
    removed: tuple[RemovedLine, ...]

    @property
    def body(self) -> str:
        """The paragraphs joined by a blank line (no title, dek, byline or captions)."""
        return "\n\n".join(p.text for p in self.paragraphs)


# ----------------------------------------------------------------------------- patterns

_BULLET_RE = re.compile(r"^\s*(?:[•·▪►◦‣∙*\-–—]\s*)+")
_WORD_RE = re.compile(r"\w+(?:['’]\w+)*")
_DIGIT_RE = re.compile(r"\d")
_TERMINAL_RE = re.compile(r"[.!?…][\"'”’»)\]]*$")
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{_MONTH_ALT})\.?,?\s+(?P<y>(?:19|20)\d\d)\b", re.I),
    re.compile(rf"\b(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)\b", re.I),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>(?:19|20)\d\d)\b"),
)
_TIME_RE = re.compile(r"\b\d{1,2}[:.]\d\d(?:\s*[ap]\.?m\.?)?\b|\b\d{1,2}\s*[ap]\.?m\.?\b", re.I)
_DATE_NOISE_RE = re.compile(
    r"\b(?:published|updated|posted|last|modified|on|at|am|pm|gmt|utc|[ecmp][sd]t|bst|cet|"
    r"mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"min|mins|minute|minutes|read|hours?|ago)\b",
    re.I,
)
_BYLINE_RE = re.compile(r"^(?:written\s+|reported\s+|words\s+|story\s+)?by\s+\S|^authors?:\s*\S", re.I)
_SOURCE_RE = re.compile(r"^(?:source|via|originally published (?:by|in|at))\s*:?\s+\S", re.I)
_CAPTION_RE = re.compile(
    r"^(?:top\s+)?(?:image|photo|picture|photograph|video|illustration|graphic|lead image|featured image)"
    r"(?:\s+credits?)?\s*[:|]"
    r"|^(?:credits?|photo credits?|image credits?)\s*[:|]"
    r"|^above:\s|^pictured(?:\s+above)?:|\((?:photo|image|picture)(?:\s+by)?:?[^)]*\)$"
    r"|^(?:[A-Z][\w.\-]*\s?){1,4}/(?:\s?[A-Z][\w.\-]*){1,4}$"
    r"|\b(?:getty images|shutterstock|afp via getty|ap photo|reuters/|/reuters|istock|alamy)\b",
    re.I,
)
_CTA_RE = re.compile(
    r"\b(?:keep reading|read more|show (?:more|less)|continue reading)|"
    r"\b(?:read next|read the original|"
    r"click here|tap here|learn more|see more|load more|view (?:all|more)|more stories|"
    r"donate|support (?:us|our|independent)|become a (?:member|subscriber|patron)|"
    r"follow us|like us on|sign in|log ?in|register|create (?:an|a free) account|download (?:the|our) app|"
    r"skip to (?:main )?content|back to top|scroll to|jump to)\b",
    re.I,
)
_NEWSLETTER_RE = re.compile(
    r"\b(?:newsletters?|subscribe|subscription|sign up|signup|inbox|e-?mail address|your email|"
    r"unsubscribe|mailing list)\b",
    re.I,
)
_SHARE_RE = re.compile(
    r"^(?:share|tweet|email|e-mail|print|copy link|copy|save|comments?|reply|like|pin|"
    r"facebook|twitter|x|linkedin|whatsapp|reddit|pinterest|telegram|flipboard|messenger|"
    r"instagram|youtube|tiktok|rss|google\+?|share (?:this|on \w+)(?: article| story| page)?|"
    r"\d+\s+(?:comments?|shares?|replies|likes)|share this:?|follow)\W*$",
    re.I,
)
_AD_RE = re.compile(r"^(?:advertisement|advertising|sponsored(?: content)?|ad|paid content|promoted)\W*$", re.I)
_FOOTER_RE = re.compile(
    r"©|\(c\)\s*(?:19|20)\d\d|\ball rights reserved\b|\bprivacy policy\b|\bterms (?:of (?:use|service)|and conditions|& conditions)\b|"
    r"\bcookie (?:policy|settings|preferences)\b",
    re.I,
)
_TAGS_RE = re.compile(r"^(?:tags?|topics?|tagged|filed under|related topics|categories|keywords)\s*:?", re.I)
_TEASER_HEADER_RE = re.compile(
    r"^(?:related(?: news| articles| stories| content| posts| coverage)?|read next|most read|most popular|"
    r"popular(?: posts| now| stories)?|trending(?: now| stories)?|latest(?: news| stories| posts)?|"
    r"more (?:from|on|in|stories|news)\b.*|recommended(?: for you| stories)?|you may (?:also )?like.*|"
    r"you might (?:also )?like.*|up next|what to read next|editor'?s picks|top stories|also read.*|"
    r"see also|further reading|in other news|around the web|from around the web|more news)\W*$",
    re.I,
)
_DONATION_RE = re.compile(
    r"\btax[- ](?:exempt|deductible)\b|\b(?:make|making) a (?:[\w-]+,?\s){0,3}(?:contribution|donation|gift)\b"
    r"|\bdonate (?:now|today)\b|\bsupport (?:our|independent) journalism\b|\breaders like you\b",
    re.I,
)
_COMMENTS_HEADER_RE = re.compile(
    r"^\[?\s*(?:\d+\s+)?(?:top rated |reader |readers'? |all |latest |show )?comments?(?:\s*\(\d+\))?\s*\]?\W*$"
    r"|^(?:leave|post|add|write|submit) (?:a|your) (?:comment|reply)\b|^join the (?:conversation|discussion)\b"
    r"|^(?:discussion|conversation|what do you think\??)$",
    re.I,
)
_SITE_WORDS_RE = re.compile(r"\b(?:english|news|times|post|daily|herald|tribune|journal|media|press|gazette)\b", re.I)


@lru_cache(maxsize=1)
def _stoplists() -> dict[str, frozenset[str]]:
    """jusText's stoplists (the lists its paragraph classifier uses), by language name."""
    import justext

    return {lang: frozenset(justext.get_stoplist(lang)) for lang in sorted(justext.get_stoplists())}


def _page_stopwords(counts: Counter[str]) -> frozenset[str]:
    """The jusText stoplist of a page's language, from its lower-cased word ``counts``.

    jusText needs the language given; pages come in many languages (a dump of
    a Portuguese page measured with English stopwords looks like a menu). The
    stoplists are scored by the tokens of the page's 150 most frequent words
    (stopwords are the frequent ones) they cover. English is kept unless another
    list covers more than twice as many: several of jusText's large lists
    (Uzbek, Finnish, Marathi, …) contain common English words.
    """
    frequent = counts.most_common(150)
    words = frozenset(w for w, _ in frequent)
    lists = _stoplists()
    english = sum(counts[w] for w in words.intersection(lists["English"]))
    if 2 * english >= sum(c for _, c in frequent):
        return lists["English"]
    best, best_n = "English", 2 * english
    for lang, stops in lists.items():
        n = sum(counts[w] for w in words.intersection(stops))
        if n > best_n:
            best, best_n = lang, n
    return lists[best]


# ----------------------------------------------------------------------------- line shape


def _strip_bullet(text: str) -> tuple[str, bool]:
    """Return the line without leading bullets/whitespace and whether it had a bullet."""
    m = _BULLET_RE.match(text)
    if m and m.end() < len(text):
        return text[m.end():].strip(), True
    return text.strip(), False


@dataclass(frozen=True)
class _Line:
    no: int
    raw: str
    text: str
    bullet: bool
    words: int
    stop_density: float
    terminal: bool
    cap_ratio: float
    key: str
    date: str | None


def _make_line(no: int, raw: str, words: list[str], stops: frozenset[str]) -> _Line:
    """A line's shape from its raw text, its word tokens and the page's stoplist."""
    text, bullet = _strip_bullet(raw)
    n = len(words)
    n_stop = sum(1 for w in words if w.lower() in stops)
    alpha = [w for w in words if w[0].isalpha()]
    caps = sum(1 for w in alpha if w[0].isupper())
    return _Line(
        no=no,
        raw=raw,
        text=text,
        bullet=bullet,
        words=n,
        stop_density=n_stop / n if n else 0.0,
        terminal=bool(_TERMINAL_RE.search(text)),
        cap_ratio=caps / len(alpha) if alpha else 1.0,
        key=" ".join(text.lower().split()),
        date=_parse_date(text) if _DIGIT_RE.search(text) else None,
    )


def _prose_score(line: _Line) -> float:
    """Content score of one line from its shape: > 0 looks like article prose.

    Long lines dense in stopwords that end like sentences score high; short,
    capitalised, unpunctuated lines (menus, headlines) score low.
    """
    if line.words == 0:
        return -3.0
    s = min(line.words, 60) / 12.0 - 1.0
    s += 4.0 * (line.stop_density - 0.3)
    s += 0.8 if line.terminal else -0.6
    if line.words >= 4:
        s -= 1.5 * max(0.0, line.cap_ratio - 0.6)
    if line.bullet:
        s -= 0.5
    return s


def _is_headline_shape(line: _Line) -> bool:
    """Headline-like: 3–30 words, no sentence-final period, not a date/byline/credit."""
    return (
        3 <= line.words <= 30
        and not line.text.endswith(".")
        and not _BYLINE_RE.search(line.text)
        and line.date is None
    )


# ----------------------------------------------------------------------------- metadata


def _parse_date(text: str) -> str | None:
    """First date in ``text`` as ISO ``YYYY-MM-DD``, or None."""
    for pat in _DATE_PATTERNS:
        m = pat.search(text)
        if not m:
            continue
        g = m.groupdict()
        month = int(g["m"]) if g.get("m") else _MONTHS[g["mon"].lower().rstrip(".")]
        try:
            return date(int(g["y"]), month, int(g["d"])).isoformat()
        except ValueError:
            continue
    return None


def _is_date_line(line: _Line) -> bool:
    """True when the line is a date/time stamp with little else (≤ 3 other words)."""
    if line.date is None and not _TIME_RE.search(line.text):
        return False
    rest = line.text
    for pat in _DATE_PATTERNS:
        rest = pat.sub(" ", rest)
    rest = _DATE_NOISE_RE.sub(" ", _TIME_RE.sub(" ", rest))
    return len(_WORD_RE.findall(rest)) <= 3


def _rule_reason(line: _Line) -> str | None:
    """Reason for lines that are furniture wherever they stand, else None."""
    t = line.text
    if _AD_RE.match(t):
        return "ad"
    if _SHARE_RE.match(t):
        return "share"
    if line.words <= 80 and _CAPTION_RE.search(t):
        return "caption"
    if line.words <= 40 and _FOOTER_RE.search(t):
        return "footer"
    if line.words <= 25 and _TAGS_RE.match(t):
        return "tags"
    if line.words <= 150 and _DONATION_RE.search(t):
        return "donation"
    if line.words <= 60 and _NEWSLETTER_RE.search(t) and (line.words <= 25 and line.stop_density < 0.6 or _NEWSLETTER_RE.match(t)):
        return "newsletter"
    if line.words <= 8 and " | " in t:
        return "menu"
    if line.words <= 15 and _CTA_RE.search(t):
        return "cta"
    if line.words <= 8 and _TEASER_HEADER_RE.match(t):
        return "teaser"
    return None


# ----------------------------------------------------------------------------- line classifier


def _best_span(scores: np.ndarray) -> tuple[int, int]:
    """Maximum-sum contiguous segment ``[i, j)`` of ``scores`` (Kadane); (0, 0) if all ≤ 0."""
    best, best_i, best_j = 0.0, 0, 0
    cur, cur_i = 0.0, 0
    for k, s in enumerate(scores.tolist()):
        if cur <= 0:
            cur, cur_i = s, k
        else:
            cur += s
        if cur > best:
            best, best_i, best_j = cur, cur_i, k + 1
    return best_i, best_j


def _shift(x: np.ndarray, k: int, fill: float) -> np.ndarray:
    """``x`` shifted so that row i holds x[i - k] (k > 0: previous lines), padded with ``fill``."""
    out = np.full_like(x, fill)
    if k > 0:
        out[k:] = x[:-k]
    elif k < 0:
        out[:k] = x[-k:]
    else:
        out[:] = x
    return out


def _window_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean of ``x`` over a window of ``radius`` lines either side (truncated at the edges)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(len(x))
    lo, hi = np.maximum(idx - radius, 0), np.minimum(idx + radius + 1, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


_RULE_GROUPS = (("caption",), ("cta", "share", "ad"), ("newsletter", "footer", "tags"), ("teaser",), ("repeated-across-pages",),
                ("comments",))


def _line_features(lines: list[_Line], rules: list[str | None]) -> np.ndarray:
    """Per-line shape features plus the same features of neighbouring lines (stage 1).

    Columns: word-count bins, log length, stopword density, terminal/colon
    endings, capitalisation, bullets, digits, headline/date/byline shape, rule
    groups, duplicates within the page, relative position, jusText-like prose
    score of the line and of its neighbours (±1, ±2, window means ±3/±8), and
    membership of / distance to the maximum-sum prose run.
    """
    n = len(lines)
    counts = Counter(l.key for l in lines)
    words = np.array([l.words for l in lines], dtype=float)
    prose = np.array([(-2.0 if r is not None else _prose_score(l)) for l, r in zip(lines, rules)])
    start, end = _best_span(np.convolve(prose, [0.2, 0.6, 0.2], mode="same"))
    idx = np.arange(n)
    dist = np.where(idx < start, start - idx, np.where(idx >= end, idx - end + 1, 0))
    meta = [l.words <= 12 and (_is_date_line(l) or bool(_BYLINE_RE.search(l.text))) for l in lines]
    opens = [rules[k] is None and _is_sentence(l) and any(meta[max(0, k - 4):k]) for k, l in enumerate(lines)]
    anchor = opens.index(True) if any(opens) else n
    cols = [
        words <= 3, (words > 3) & (words <= 8), (words > 8) & (words <= 15), (words > 15) & (words <= 30), words > 30,
        np.log1p(words),
        [l.stop_density for l in lines],
        [l.terminal for l in lines],
        [l.text.endswith(":") for l in lines],
        [l.cap_ratio if l.words >= 3 else 0.5 for l in lines],
        [l.bullet for l in lines],
        [len(_DIGIT_RE.findall(l.text)) / max(1, len(l.text)) for l in lines],
        [_is_headline_shape(l) for l in lines],
        [l.words <= 12 and _is_date_line(l) for l in lines],
        [l.words <= 12 and bool(_BYLINE_RE.search(l.text)) for l in lines],
        [l.text[:1].islower() for l in lines],
        [l.text[:1] in "\"“‘'(" for l in lines],
        [min(len(re.findall(r"[.!?][\"”’)]?\s+[A-Z“\"]", l.text)), 5) / 5 for l in lines],
        [counts[l.key] > 1 for l in lines],
        *[[r in g for r in rules] for g in _RULE_GROUPS],
        idx / max(1, n - 1),
        prose,
        _shift(prose, 1, -3.0), _shift(prose, -1, -3.0), _shift(prose, 2, -3.0), _shift(prose, -2, -3.0),
        _window_mean(prose, 3), _window_mean(prose, 8),
        _shift(np.log1p(words), 1, 0.0), _shift(np.log1p(words), -1, 0.0),
        (idx >= start) & (idx < end),
        np.minimum(dist, 20) / 20,
        np.maximum.accumulate(np.array([bool(_COMMENTS_HEADER_RE.match(l.text)) for l in lines], dtype=float)),
        words / max(1.0, words.max(initial=0.0)),
        prose - prose.max(initial=0.0),
        _window_mean(prose, 3) - _window_mean(prose, 3).max(initial=0.0),
        opens,
        idx == anchor,
        np.clip((idx - anchor) / 20, -1.0, 1.0) if anchor < n else np.zeros(n),
    ]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols]) if n else np.zeros((0, len(cols)))


#: Stage-1 feature columns passed through to stage 2: the anchor features (last three columns).
_PASS_THROUGH = slice(-3, None)


def _context_features(p: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Stage-2 features from stage-1 probabilities: the line's own logit, neighbours,
    window means, where the line sits relative to the page's content mass, and the
    stage-1 anchor features (first sentence after the byline/date) from ``x1``."""
    logit = np.log(np.clip(p, 1e-4, 1 - 1e-4) / np.clip(1 - p, 1e-4, 1))
    mass = np.cumsum(p) / max(p.sum(), 1e-9)
    start, end = _best_span(np.convolve(p - 0.5, [0.25, 0.5, 0.25], mode="same"))
    idx = np.arange(len(p))
    dist = np.where(idx < start, start - idx, np.where(idx >= end, idx - end + 1, 0))
    cols = [
        logit,
        _shift(p, 1, 0.0), _shift(p, -1, 0.0), _shift(p, 2, 0.0), _shift(p, -2, 0.0), _shift(p, 3, 0.0), _shift(p, -3, 0.0),
        _window_mean(p, 2), _window_mean(p, 5), _window_mean(p, 12),
        mass, mass * (1 - mass),
        p / max(p.max(initial=0.0), 1e-3),
        _window_mean(p, 2) / max(_window_mean(p, 2).max(initial=0.0), 1e-3),
        (idx >= start) & (idx < end),
        np.minimum(dist, 10) / 10,
    ]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols] + [x1[:, _PASS_THROUGH]])


@lru_cache(maxsize=1)
def _model() -> dict:
    """The trained line classifier (JSON written by scripts/train_line_classifier.py), compiled."""
    path = Path(__file__).with_name("resources") / MODEL_FILE
    return _compile_model(json.loads(path.read_text(encoding="utf-8")))


def _compile_model(raw: dict) -> dict:
    """JSON model weights (both stages and the threshold) as numpy arrays."""
    return {"stage1": _compile_stage(raw["stage1"]), "stage2": _compile_stage(raw["stage2"]), "threshold": raw["threshold"]}


def _compile_stage(stage: dict) -> dict:
    """A stage's JSON logistic-regression weights (mean, scale, coef, intercept) as numpy arrays."""
    return {"mean": np.asarray(stage["mean"]), "scale": np.asarray(stage["scale"]),
            "coef": np.asarray(stage["coef"]), "intercept": float(stage["intercept"])}


def _predict(stage: dict, x: np.ndarray) -> np.ndarray:
    """Logistic-regression probabilities from one compiled stage (standardise, dot, sigmoid)."""
    z = ((x - stage["mean"]) / stage["scale"]) @ stage["coef"] + stage["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


def _content_probabilities(lines: list[_Line], rules: list[str | None], model: dict) -> np.ndarray:
    """Probability that each line is article body (two-stage stacked logistic regression)."""
    if not lines:
        return np.zeros(0)
    x1 = _line_features(lines, rules)
    p1 = _predict(model["stage1"], x1)
    return _predict(model["stage2"], _context_features(p1, x1))


# ----------------------------------------------------------------------------- public API


def furniture_lines(texts: Iterable[str], min_pages: int = 2) -> frozenset[str]:
    """Lines that recur on at least ``min_pages`` of the given page dumps (site furniture).

    Returns normalised keys (bullets, case and spacing ignored). Long prose lines
    (15+ words ending like a sentence) are never furniture: rewrites and wire
    copies share real paragraphs across outlets.
    """
    counts: Counter[str] = Counter()
    for text in texts:
        keys = set()
        for line in _page_lines(text):
            if line.words >= 15 and line.terminal and _rule_reason(line) is None:
                continue
            keys.add(line.key)
        counts.update(keys)
    return frozenset(k for k, c in counts.items() if c >= min_pages and k)


def _page_lines(text: str) -> list[_Line]:
    """The non-blank lines of a page dump, with their 1-based line numbers."""
    rows = [(i + 1, raw, _WORD_RE.findall(raw)) for i, raw in enumerate(text.split("\n")) if raw.strip()]
    stops = _page_stopwords(Counter(_WORD_RE.findall(text.lower())))
    return [_make_line(no, raw, words, stops) for no, raw, words in rows]


def _rule_reasons(lines: list[_Line], furniture: frozenset[str]) -> list[str | None]:
    """Pattern-rule reason of each line, ``repeated-across-pages`` for corpus furniture.

    After a teaser header inside the page ("Related News", "Most Read", …) the
    following short unpunctuated lines are teasers until the next sentence.
    """
    out: list[str | None] = []
    in_teasers = False
    counts = Counter(l.key for l in lines)
    for line in lines:
        r = _rule_reason(line)
        if r is None and line.words <= 5 and counts[line.key] >= 3:
            r = "menu"
        if r is None and line.key in furniture:
            r = "repeated-across-pages"
        if r is None and in_teasers and 4 <= line.words <= 20 and not line.terminal:
            r = "teaser"
        in_teasers = r == "teaser" or (in_teasers and r is not None)
        out.append(r)
    cut = _comments_header(lines, out)
    return out[:cut] + ["comments"] * (len(lines) - cut)


def _comments_header(lines: list[_Line], rules: list[str | None]) -> int:
    """Index of the first comments header below at least three body-shaped sentences (else ``len(lines)``).

    Reader comments are prose too, and on busy pages outweigh the article, so
    they are cut before classification. A bare "Comments" next to share
    buttons is a share bar, not a header.
    """
    sentences = 0
    for k, line in enumerate(lines):
        if rules[k] is None and _is_sentence(line):
            sentences += 1
        elif sentences >= 3 and _COMMENTS_HEADER_RE.match(line.text):
            bar = any(rules[j] == "share" and _SHARE_RE.match(lines[j].text) for j in (k - 1, k + 1) if 0 <= j < len(lines))
            if not (bar and rules[k] == "share"):
                return k
    return len(lines)


def clean_page(text: str, *, furniture: frozenset[str] = frozenset()) -> CleanedPage:
    """Extract the article from one page dump.

    ``furniture`` holds keys from :func:`furniture_lines`; matching lines are
    removed as ``repeated-across-pages`` unless pattern rules give a more
    specific reason. Every non-blank input line ends up in exactly one of
    ``paragraphs`` or ``removed``.
    """
    lines = _page_lines(text)
    return _clean_lines(lines, _rule_reasons(lines, furniture), _model())


#: Body probability above which a prose-like kept line opens the article even when it is not
#: sentence-shaped (short articles often start with an unpunctuated line); other kept lines
#: above the first sentence are taken as captions or standfirsts.
_SURE_BODY = 0.75


def _is_lede_shape(line: _Line) -> bool:
    """Prose-like opening line: 8+ words, stopword-dense, not ending in a photo credit ``(…)``
    or a question mark (headlines)."""
    return line.words >= 8 and line.stop_density >= 0.3 and not line.text.endswith((")", "?"))


def _clean_lines(lines: list[_Line], rules: list[str | None], model: dict) -> CleanedPage:
    """:func:`clean_page` on a page's lines and rule reasons under a compiled ``model``
    (the training script calls it with fold models to cross-validate the whole cleaner)."""
    p = _content_probabilities(lines, rules, model)
    kept, cut = _select(lines, rules, p, model["threshold"])
    reasons: dict[int, str] = {k: r for k, r in enumerate(rules) if r is not None}
    reasons.update({k: "comments" for k in range(cut, len(lines))})
    counts = Counter(line.key for line in lines)
    prose_start = next((k for k in kept if _is_sentence(lines[k])
                        or p[k] >= _SURE_BODY and counts[lines[k].key] == 1 and _is_lede_shape(lines[k])),
                       kept[0] if kept else len(lines))
    meta = _metadata(lines, prose_start, reasons)
    for k in kept:
        if k < prose_start and (lines[k].bullet or not lines[k].terminal):
            reasons.setdefault(k, "caption" if lines[k].words > 14 else "before-article-start")
    kept = [k for k in kept if k not in reasons]
    start, end = (kept[0], kept[-1] + 1) if kept else (len(lines), len(lines))
    kept_set = set(kept)
    body = {k: _is_heading(lines[k], lines[nxt]) for k, nxt in zip(kept, kept[1:]) if nxt - k <= 8}
    body.update({k: False for k in kept if k not in body})
    for k in range(start, end):
        if k not in kept_set:
            reasons.setdefault(k, "boilerplate")
    for k in range(end, len(lines)):
        reasons.setdefault(k, _after_reason(lines[k]))
    for k in range(0, start):
        reasons.setdefault(k, _before_reason(lines[k]))
    paragraphs = tuple(Paragraph(lines[k].text, body[k]) for k in sorted(body))
    removed = tuple(RemovedLine(lines[k].no, lines[k].raw, reasons[k]) for k in sorted(reasons))
    return CleanedPage(paragraphs=paragraphs, removed=removed, **meta)


_BREAKING_REASONS = frozenset({"cta", "caption", "teaser", "newsletter", "donation", "share", "tags", "footer"})


def _select(lines: list[_Line], rules: list[str | None], p: np.ndarray, threshold: float) -> tuple[list[int], int]:
    """Body lines and the index where the comments section starts (``len(lines)`` if none).

    Body lines have probability ≥ threshold, no rule reason, and sit above the
    comments; like jusText's near-good lines, a sentence-shaped line rich in
    stopwords with probability ≥ 0.2 is kept when a kept line is within two lines. The article is contiguous: kept lines are grouped into blocks
    separated by furniture (a call to action, caption, teaser header, …) or by
    more than eight dropped lines; going outwards from the block with the most
    words, blocks are kept until the first one with under a quarter of its words
    (teaser ledes, tickers).
    """
    keep = [bool(p[k] >= threshold and rules[k] is None) for k in range(len(lines))]
    near_good = [k for k, line in enumerate(lines) if not keep[k] and rules[k] is None and p[k] >= 0.2
                 and line.stop_density >= 0.3 and _is_sentence(line)]
    changed = True
    while changed:
        changed = False
        for k in near_good:
            if not keep[k] and any(keep[j] for j in range(max(0, k - 2), min(len(lines), k + 3))):
                keep[k] = changed = True
    kept = [k for k in range(len(lines)) if keep[k]]
    cut = _comments_start(lines, kept)
    kept = [k for k in kept if k < cut]
    if not kept:
        return kept, cut
    blocks: list[list[int]] = [[kept[0]]]
    for prev, k in zip(kept, kept[1:]):
        if k - prev > 8 or any(rules[j] in _BREAKING_REASONS for j in range(prev + 1, k)):
            blocks.append([])
        blocks[-1].append(k)
    weights = [sum(lines[k].words for k in b) for b in blocks]
    main = int(np.argmax(weights))
    lo = hi = main
    while hi + 1 < len(blocks) and weights[hi + 1] >= 0.25 * weights[main]:
        hi += 1
    while lo > 0 and weights[lo - 1] >= 0.25 * weights[main]:
        lo -= 1
    return [k for b in blocks[lo:hi + 1] for k in b], cut


def _comments_start(lines: list[_Line], kept: list[int]) -> int:
    """Index of the first comments header preceded by at least 3 kept prose lines (else len(lines))."""
    prose_before = 0
    kept_set = set(kept)
    for k, line in enumerate(lines):
        if k in kept_set and line.words >= 10:
            prose_before += 1
        elif prose_before >= 3 and _COMMENTS_HEADER_RE.match(line.text):
            return k
    return len(lines)


def _is_sentence(line: _Line) -> bool:
    """Body-sentence shape: long, or 8+ words ending like a sentence but not like a headline."""
    return line.words >= 30 or (line.words >= 8 and line.terminal and not _is_headline_shape(line))


def _is_heading(line: _Line, nxt: _Line) -> bool:
    """A kept line is a sub-heading when it is short, unpunctuated (a question only if very short)
    and the next kept line is a sentence."""
    question_ok = not line.text.endswith("?") or line.words <= 8
    return 1 <= line.words <= 14 and not line.text.endswith((".", ",", ";", "…")) and question_ok and _is_sentence(nxt)


def _before_reason(line: _Line) -> str:
    if line.bullet or line.words <= 3:
        return "menu"
    if _is_headline_shape(line):
        return "ticker"
    return "before-article-start"


def _after_reason(line: _Line) -> str:
    if line.bullet and line.words <= 4:
        return "tags"
    if _is_date_line(line):
        return "date"
    if line.words <= 3:
        return "menu"
    return "teaser"


def _metadata(lines: list[_Line], start: int, reasons: dict[int, str]) -> dict:
    """Title, dek, byline, date, source credit and outlet from the lines above the article body.

    ``start`` is the index of the first body sentence; the lines used are
    marked in ``reasons``. The title is the last headline-shaped line above the
    body that the page repeats (headline plus breadcrumb or page title), else
    the last headline-shaped line; when a shorter headline-shaped line sits
    right above it, that one is the title and the longer one the dek.
    """
    window = range(max(0, start - 30), start)
    byline = published = source = dek = None
    for k in window:
        line = lines[k]
        if k in reasons:
            continue
        if byline is None and line.words <= 12 and _BYLINE_RE.search(line.text):
            byline = re.sub(r"^(?:written\s+|reported\s+)?by\s+|^authors?:\s*", "", line.text, flags=re.I).strip()
            reasons[k] = "byline"
        elif source is None and line.words <= 12 and _SOURCE_RE.search(line.text):
            source = line.text
            reasons[k] = "source-credit"
        elif line.words <= 12 and _is_date_line(line):
            published = published or line.date
            reasons[k] = "date"
    counts = Counter(l.key for l in lines)
    cands = [k for k in window if k not in reasons and not lines[k].bullet and lines[k].words >= 4
             and _is_headline_shape(lines[k])]
    repeated = [k for k in cands if counts[lines[k].key] >= 2]
    title_k = repeated[-1] if repeated else (cands[-1] if cands else None)
    if title_k is not None and not repeated and len(cands) >= 2:
        prev = cands[-2]
        between = [j for j in range(prev + 1, title_k) if j not in reasons and lines[j].words > 3]
        if not between and lines[prev].words < lines[title_k].words:
            dek_k, title_k = title_k, prev
            dek = lines[dek_k].text
            reasons[dek_k] = "dek"
    title = None
    if title_k is not None:
        title = lines[title_k].text
        tkey = lines[title_k].key
        for k in window:
            nk = lines[k].key
            if k not in reasons and nk == tkey:
                reasons[k] = "title"
            elif k not in reasons and nk.endswith(tkey):
                reasons[k] = "menu"
        if dek is None:
            nxt = next((j for j in range(title_k + 1, start) if j not in reasons and lines[j].words > 3), None)
            if nxt is not None and 6 <= lines[nxt].words <= 60:
                dek = lines[nxt].text
                reasons[nxt] = "dek"
    return {
        "title": title,
        "dek": dek,
        "byline": byline,
        "published": published,
        "outlet": _guess_outlet(lines, byline),
        "source_credit": source,
    }


def _guess_outlet(lines: list[_Line], byline: str | None) -> str | None:
    """Outlet name: a byline naming the site, a short line repeated at page top and bottom, or ©."""
    if not lines:
        return None
    counts = Counter(l.key for l in lines)
    if byline and counts.get(byline.lower(), 0) >= 1 and _SITE_WORDS_RE.search(byline):
        return byline
    first = lines[0]
    if 1 <= first.words <= 5 and counts[first.key] >= 2 and _rule_reason(first) is None:
        return first.text
    for line in lines:
        m = re.search(r"©\s*(?:(?:19|20)\d\d\s*)?([A-Z][\w&.' -]{2,40}?)(?:\.|,|\s+all rights|$)", line.text, re.I)
        if m:
            return m.group(1).strip()
    return None


def _split_paragraphs(text: str) -> tuple[Paragraph, ...]:
    """Paragraphs of already-extracted text: blocks separated by blank lines."""
    blocks = re.split(r"\n\s*\n", text or "")
    return tuple(Paragraph(" ".join(b.split()), False) for b in blocks if b.strip())


def _meta_value(row: pd.Series, col: str) -> str | None:
    v = row.get(col)
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA or v is pd.NaT:
        return None
    s = str(v).strip()
    return s or None


def clean_documents(
    documents: pd.DataFrame, *, furniture: frozenset[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clean every document into articles, removed lines and paragraphs.

    Input ``documents``: doc_id, format, raw_text (plus source_path, encoding,
    n_bytes) and optional title, outlet, published, url, author. Rows with
    format ``txt``/``md`` are page dumps cleaned with :func:`clean_page`, using
    ``furniture`` (keys from :func:`furniture_lines`, e.g. computed once over a
    whole corpus cleaned in chunks) or, when it is None, furniture computed over
    all page dumps of the call; other formats are already-extracted text split
    into paragraphs at blank lines. Given ``furniture``, each document's rows
    depend only on its own text.

    Returns ``(articles, removed, paragraphs)``:

    - articles: doc_id, outlet, title, dek, byline, published, url,
      source_credit, text, n_words (one row per document, input order; source
      metadata columns win over guesses).
    - removed: doc_id, line_no, text, reason.
    - paragraphs: doc_id, para_id, text, is_heading, start, end (character
      offsets into the article text).
    """
    is_dump = documents["format"].isin(["txt", "md"]) if len(documents) else pd.Series([], dtype=bool)
    if furniture is None:
        furniture = furniture_lines(documents.loc[is_dump, "raw_text"].fillna("")) if is_dump.any() else frozenset()
    art_rows, rem_rows, par_rows = [], [], []
    for (_, row), dump in zip(documents.iterrows(), is_dump):
        doc_id = str(row["doc_id"])
        raw = row.get("raw_text")
        raw = "" if raw is None or (isinstance(raw, float) and pd.isna(raw)) else str(raw)
        if dump:
            page = clean_page(raw, furniture=furniture)
        else:
            page = CleanedPage(None, None, None, None, None, None, _split_paragraphs(raw), ())
        text = page.body
        pos = 0
        for pid, para in enumerate(page.paragraphs):
            start = text.index(para.text, pos)
            end = start + len(para.text)
            par_rows.append((doc_id, pid, para.text, para.is_heading, start, end))
            pos = end
        for r in page.removed:
            rem_rows.append((doc_id, r.line_no, r.text, r.reason))
        published = _meta_value(row, "published")
        if published is not None:
            published = _parse_date(published) or published
        art_rows.append(
            {
                "doc_id": doc_id,
                "outlet": _meta_value(row, "outlet") or page.outlet,
                "title": _meta_value(row, "title") or page.title,
                "dek": page.dek,
                "byline": _meta_value(row, "author") or page.byline,
                "published": published or page.published,
                "url": _meta_value(row, "url"),
                "source_credit": page.source_credit,
                "text": text,
                "n_words": len(_WORD_RE.findall(text)),
            }
        )
    articles = pd.DataFrame(
        art_rows,
        columns=["doc_id", "outlet", "title", "dek", "byline", "published", "url", "source_credit", "text", "n_words"],
    )
    articles["n_words"] = articles["n_words"].astype("int64")
    removed = pd.DataFrame(rem_rows, columns=["doc_id", "line_no", "text", "reason"]).astype({"line_no": "int64"})
    paragraphs = pd.DataFrame(par_rows, columns=["doc_id", "para_id", "text", "is_heading", "start", "end"]).astype(
        {"para_id": "int64", "is_heading": bool, "start": "int64", "end": "int64"}
    )
    return articles, removed, paragraphs

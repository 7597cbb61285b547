"""Naming choices: which outlet calls a thing by which name, with evidence.

Two sources: ``data/naming.yml`` (concepts with competing variants, edited by reporters) and
automatic candidates (short quoted terms that look like scare quotes; spellings of the same name
that differ between outlets).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals
from rapidfuzz import fuzz

from toolkit.framing import datafile
from toolkit.runs import join_runs, run_ranks, run_starts
from toolkit.store import Kept, arrow_table, frame_of, read_kept, write_kept

NAMING_COLUMNS = ["concept", "variant", "outlet", "count", "doc_ids", "sent_keys", "concept_count", "share",
                  "articles", "example", "example_doc_id", "example_sent_id"]
CANDIDATE_COLUMNS = ["kind", "key", "variant", "outlet", "count", "doc_ids", "sent_keys", "example",
                     "example_doc_id", "example_sent_id"]
HIT_COLUMNS = ["concept", "variant", "doc_id", "sent_id", "start", "end"]
QUOTED_TERM_COLUMNS = ["doc_id", "sent_id", "term"]
NAME_TOKEN_COLUMNS = ["doc_id", "sent_id", "variant"]
EVIDENCE_COLUMNS = ["count", "doc_ids", "sent_keys", "example", "example_doc_id", "example_sent_id"]
MAX_CANDIDATE_KEYS = 20
"""Sentence keys a naming candidate lists (its ``count`` has all its uses): the plain uses of a
word quoted somewhere run to tens of thousands at 10,000 articles, and listing every one made
the candidates table half a gigabyte to compute, write and read back on each run."""

#: Longest quoted term (words) a scare-quote candidate may be.
MAX_QUOTED_WORDS = 3
#: rapidfuzz ratio (case-insensitive) a spelling needs to its group's most frequent one.
MIN_SPELLING_SIMILARITY = 75

OPEN_QUOTES = "“\"‘'«„"
CLOSE_QUOTES = "”\"’'»“"
QUOTE_PAIRS = {"“": "”", '"': '"', "‘": "’", "'": "'", "«": "»", "„": "“"}
QUOTED_TERM = re.compile(
    r"(?:^|(?<=[\s(\[—–\-/]))(?P<open>[“\"‘'«„])(?P<term>[^\W\d_][^“”\"‘’'«»„.,;:!?\n]{0,40}?)(?P<close>[”\"’'»“])(?![^\W\d_])")
NAME_TOKEN = re.compile(r"(?<![\w’'\-])[A-Z][^\W\d_]{3,}(?![\w\-])")
VOWELS = "aeiou"
WORD = re.compile(r"[^\W_]+")
WORD_RUN = re.compile(r"[\w\-]+")
WHITESPACE = re.compile(r"\s+")
KNOWN_USES_METADATA = b"newsangle.known_uses"
KNOWN_CANDIDATES_METADATA = b"newsangle.known_candidates"



@dataclass(frozen=True)
class Variant:
    """One way of naming a concept: compiled patterns and a quoting requirement (None: any).

    ``triggers``: per pattern, the lowercase word every match of it starts with
    (:func:`form_trigger`), or None when no such word is known (regular expressions)."""

    name: str
    patterns: tuple[re.Pattern[str], ...]
    quoted: bool | None
    triggers: tuple[str | None, ...]


@dataclass(frozen=True)
class Concept:
    """A thing that outlets name differently; ``exclude`` spans (e.g. "Cold War") never count."""

    name: str
    variants: tuple[Variant, ...]
    exclude: tuple[re.Pattern[str], ...]


def form_pattern(form: str, flags: int) -> re.Pattern[str]:
    """A literal form as a word-bounded regex with flexible whitespace (``Kyiv`` ≠ ``Kyivan``)."""
    body = r"\s+".join(re.escape(w) for w in form.split())
    return re.compile(rf"(?<![\w\-]){body}(?![\w\-])", flags)


def form_trigger(form: str) -> str | None:
    """The lowercase first ``[^\\W_]+`` run of a literal form, when the form starts with one.

    A match of :func:`form_pattern` is preceded by neither a word character nor a hyphen and
    reproduces the form's characters, so the matched text's lowercase word runs include this
    run: a sentence without it cannot hold the form (up to exotic case foldings such as "ſ").

    >>> form_trigger("full-scale invasion"), form_trigger("(Kyiv)")
    ('full', None)
    """
    found = WORD.match(form.lower())
    return found.group(0) if found else None


def load_naming(path: Path | str) -> list[Concept]:
    """Read and validate a naming list (format documented at the top of ``data/naming.yml``).

    Raises :class:`toolkit.framing.datafile.DataFileError` naming the file and line for syntax
    errors, missing or unknown keys, repeated concept names, concepts with fewer than two
    variants, variants without ``forms`` or ``regex``, and invalid regular expressions.
    """
    root = datafile.mapping(path, datafile.compose(path), "the file", required=("concepts",))
    concepts: list[Concept] = []
    seen: set[str] = set()
    for node in datafile.sequence(path, root["concepts"], "'concepts'", min_len=1):
        entry = datafile.mapping(path, node, "a concept", required=("concept", "variants"),
                                 allowed=("concept", "description", "case_sensitive", "exclude", "variants"))
        name = datafile.text(path, entry["concept"], "'concept'")
        if name in seen:
            raise datafile.fail(path, entry["concept"], f"concept '{name}' appears twice")
        seen.add(name)
        concept_case = datafile.flag(path, entry["case_sensitive"], "'case_sensitive'") if "case_sensitive" in entry else False
        exclude = tuple(datafile.regex(path, n, f"an exclude pattern of '{name}'", re.IGNORECASE)
                        for n in datafile.sequence(path, entry["exclude"], "'exclude'")) if "exclude" in entry else ()
        variants = []
        for vnode in datafile.sequence(path, entry["variants"], f"variants of '{name}'", min_len=2):
            v = datafile.mapping(path, vnode, f"a variant of '{name}'", required=("variant",),
                                 allowed=("variant", "forms", "regex", "quoted", "case_sensitive"))
            vname = datafile.text(path, v["variant"], "'variant'")
            case = datafile.flag(path, v["case_sensitive"], "'case_sensitive'") if "case_sensitive" in v else concept_case
            flags = 0 if case else re.IGNORECASE
            forms = [datafile.text(path, f, "a form")
                     for f in (datafile.sequence(path, v["forms"], "'forms'", min_len=1) if "forms" in v else [])]
            patterns = [form_pattern(f, flags) for f in forms]
            patterns += [datafile.regex(path, r, "a regex", flags)
                         for r in (datafile.sequence(path, v["regex"], "'regex'", min_len=1) if "regex" in v else [])]
            triggers = [form_trigger(f) for f in forms] + [None] * (len(patterns) - len(forms))
            if not patterns:
                raise datafile.fail(path, vnode, f"variant '{vname}' needs 'forms' or 'regex'")
            quoted = datafile.flag(path, v["quoted"], "'quoted'") if "quoted" in v else None
            variants.append(Variant(vname, tuple(patterns), quoted, tuple(triggers)))
        concepts.append(Concept(name, tuple(variants), exclude))
    return concepts


def is_quoted(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` sits directly between an opening and a closing quote mark
    (curly or straight; an apostrophe followed by a letter, as in "Israel's", is not a quote)."""
    if start == 0 or end >= len(text) or text[start - 1] not in OPEN_QUOTES or text[end] not in CLOSE_QUOTES:
        return False
    return not (end + 1 < len(text) and text[end + 1].isalpha())


def _concept_hits(concept: Concept, text: str) -> list[tuple[str, int, int]]:
    """(variant, start, end) of every counted occurrence of a concept's variants in one text."""
    claimed = [m.span() for p in concept.exclude for m in p.finditer(text)]
    found = []
    for variant in concept.variants:
        for pattern in variant.patterns:
            for m in pattern.finditer(text):
                s, e = m.span()
                if any(s < ce and cs < e for cs, ce in claimed):
                    continue
                if variant.quoted is not None and is_quoted(text, s, e) != variant.quoted:
                    continue
                claimed.append((s, e))
                found.append((variant.name, s, e))
    return found


def find_variants(sentences: pd.DataFrame, concepts: Sequence[Concept]) -> pd.DataFrame:
    """Every occurrence of every variant: concept, variant, doc_id, sent_id, start, end (in the sentence).

    Within a concept, variants are tried in file order and a span claimed by an earlier variant
    (or by an ``exclude`` pattern) is not counted again, so list specific variants first. A
    concept's patterns run only on sentences holding one of its forms' trigger words
    (:func:`form_trigger`) or matching one of its regular expressions, which skips most of
    the work on real news without changing the result.
    """
    gates = [(frozenset(t for v in c.variants for t in v.triggers if t is not None),
              tuple(p for v in c.variants for p, t in zip(v.patterns, v.triggers) if t is None)) for c in concepts]
    rows = []
    for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False):
        text = str(text)
        words = set(WORD.findall(text.lower()))
        for concept, (triggers, untriggered) in zip(concepts, gates):
            if words.isdisjoint(triggers) and not any(p.search(text) for p in untriggered):
                continue
            rows += [(concept.name, variant, doc_id, int(sent_id), s, e)
                     for variant, s, e in _concept_hits(concept, text)]
    return pd.DataFrame(rows, columns=HIT_COLUMNS)






def _sentence_labels(names: np.ndarray, doc: np.ndarray, sent: np.ndarray) -> list[str]:
    """"doc:sent" of each (``names[doc[i]]``, ``sent[i]``), each distinct one formatted once.

    >>> _sentence_labels(np.array(["a", "b"], dtype=object), np.array([1, 0, 1]), np.array([2, 0, 2]))
    ['b:2', 'a:0', 'b:2']
    """
    low, span = sent.min(), np.ptp(sent) + 1
    label_of, sentence = pd.factorize(doc * span + (sent - low))
    labels = [f"{names[d]}:{s + low}" for d, s in zip((sentence // span).tolist(), (sentence % span).tolist())]
    return np.asarray(labels, dtype=object)[label_of].tolist()


def sorted_group_codes(frame: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """``frame.groupby(by, sort=True, observed=True).ngroup()`` for keys without missing values:
    categorical columns grouped in category order, others in sorted order.

    One integer per row from the columns' codes, numbered by hashing (the groups, not the rows,
    are sorted): half of pandas' time on the millions of naming-candidate hits.

    >>> frame = pd.DataFrame({"a": pd.Categorical(["y", "x", "y"], categories=["y", "x"]), "b": [2, 1, 1]})
    >>> sorted_group_codes(frame, ["a", "b"]).tolist()
    [1, 2, 0]
    """
    codes, sizes = [], []
    for column in by:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            code, size = values.cat.codes.to_numpy(), len(values.cat.categories)
        else:
            code, uniques = pd.factorize(values, sort=True)
            size = len(uniques)
        codes.append(code.astype(np.int64))
        sizes.append(max(size, 1))
    key, groups = pd.factorize(np.ravel_multi_index(codes, sizes) if codes else np.zeros(len(frame), dtype=np.int64))
    rank = np.empty(len(groups), dtype=np.int64)
    rank[np.argsort(groups)] = np.arange(len(groups))
    return rank[key]


def evidence(hits: pd.DataFrame, by: list[str], sentences: pd.DataFrame, *,
             max_keys: int | None = None) -> pd.DataFrame:
    """The evidence columns of each group of hits, computed for all groups at once.

    Input ``hits``: the ``by`` columns, doc_id (str), sent_id, one row per hit (any of them may
    be categorical); ``sentences``: doc_id, sent_id, text. Returns one row per group (sorted by
    ``by``): the ``by`` columns (not categorical), count (hits), doc_ids (sorted, ", "-joined),
    sent_keys ("doc:sent" in reading order, "; "-joined, each sentence once; only the first
    ``max_keys`` when given), example (text of the first sentence) / example_doc_id /
    example_sent_id.

    Groups, documents and sentences are sorted as integer codes and each "doc:sent" label is
    built once per sentence, since a corpus has millions of hits (plain uses of quoted words).
    """
    if hits.empty:
        return pd.DataFrame(columns=by + EVIDENCE_COLUMNS)
    group = sorted_group_codes(hits, by)
    doc_ids = hits["doc_id"].astype("category")
    names = np.asarray(sorted(doc_ids.cat.categories), dtype=object)
    doc = doc_ids.cat.set_categories(names).cat.codes.to_numpy().astype(np.int64)
    sent = hits["sent_id"].to_numpy().astype(np.int64)
    # one integer key per hit (ravel_multi_index raises rather than overflow); hits mostly
    # arrive in reading order, which a stable sort (timsort) exploits
    key = np.ravel_multi_index((group, doc, sent - sent.min()), (group.max() + 1, len(names), np.ptp(sent) + 1))
    order = np.argsort(key, kind="stable")
    out = hits[by].iloc[order[run_starts(group[order])]].reset_index(drop=True)
    out = out.astype({c: out[c].cat.categories.dtype for c in by if isinstance(out[c].dtype, pd.CategoricalDtype)})
    out["count"] = np.bincount(group)
    group, doc, sent = group[order], doc[order], sent[order]
    distinct = run_starts(group, doc, sent)
    group, doc, sent = group[distinct], doc[distinct], sent[distinct]
    new_group = run_starts(group)
    shown = slice(None) if max_keys is None else run_ranks(new_group) < max_keys
    out["sent_keys"] = join_runs(_sentence_labels(names, doc[shown], sent[shown]), new_group[shown], "; ")
    new_doc = run_starts(group, doc)
    out["doc_ids"] = join_runs(names[doc[new_doc]].tolist(), new_group[new_doc], ", ")
    out["example_doc_id"], out["example_sent_id"] = names[doc[new_group]], sent[new_group]
    texts = sentences.loc[sentences["doc_id"].isin(out["example_doc_id"]), ["doc_id", "sent_id", "text"]]
    texts = texts.set_axis(["example_doc_id", "example_sent_id", "example"], axis=1)
    out = out.merge(texts, on=["example_doc_id", "example_sent_id"], how="left")
    out["example"] = out["example"].fillna("").astype(str)
    out["example_sent_id"] = out["example_sent_id"].astype(int)
    return out[by + EVIDENCE_COLUMNS]


def naming_table(sentences: pd.DataFrame, articles: pd.DataFrame, concepts: Sequence[Concept], *,
                 hits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts of each variant per outlet, for every concept found at least once in the corpus.

    Inputs: ``sentences`` (doc_id, sent_id, text), ``articles`` (doc_id, outlet), ``hits``: the
    :func:`find_variants` table of these sentences and concepts (computed when not given). All
    variants × all outlets of a found concept are listed, zeros included (not using a name is a
    choice too). Columns: concept, variant, outlet, count, doc_ids (comma-separated), sent_keys
    ("doc:sent" joined by "; "), concept_count (the outlet's uses of any variant of the concept),
    share (count / concept_count; NaN when the outlet never names the concept), articles
    (articles of the outlet), example / example_doc_id / example_sent_id. Sorted by concept and
    variant in file order, then outlet.
    """
    if hits is None:
        hits = find_variants(sentences, concepts)
    outlet_of = articles.set_index("doc_id")["outlet"]
    hits = hits.assign(outlet=hits["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    found = set(hits["concept"])
    grid = pd.DataFrame([(c.name, v.name) for c in concepts if c.name in found for v in c.variants],
                        columns=["concept", "variant"])
    if grid.empty:
        return pd.DataFrame(columns=NAMING_COLUMNS)
    grid = grid.merge(pd.DataFrame({"outlet": sorted(articles["outlet"].dropna().unique())}), how="cross")
    out = grid.merge(evidence(hits, ["concept", "variant", "outlet"], sentences), how="left",
                     on=["concept", "variant", "outlet"])
    totals = hits.groupby(["concept", "outlet"]).size().rename("concept_count").reset_index()
    out = out.merge(totals, how="left", on=["concept", "outlet"])
    out = out.fillna({"count": 0, "doc_ids": "", "sent_keys": "", "example": "", "example_doc_id": "",
                      "example_sent_id": -1, "concept_count": 0})
    for column in ("count", "concept_count", "example_sent_id"):
        out[column] = out[column].astype(int)
    out["share"] = (out["count"] / out["concept_count"]).where(out["concept_count"] > 0)
    out["articles"] = out["outlet"].map(articles.groupby("outlet")["doc_id"].nunique()).fillna(0).astype(int)
    return out[NAMING_COLUMNS]


def skeleton(word: str) -> str:
    """A spelling-insensitive key for a name: lowercase, y→i, doubled letters collapsed, vowels
    after the first letter dropped (Kyiv, Kiev → "kv"; Zelensky, Zelenskyy, Zelenskiy → "zlnsk")."""
    w = re.sub(r"(.)\1+", r"\1", word.lower().replace("y", "i"))
    return w[0] + "".join(c for c in w[1:] if c not in VOWELS)




def name_tokens(sentences: pd.DataFrame) -> pd.DataFrame:
    """Capitalised words of 4+ letters that do not open their sentence: doc_id, sent_id, variant
    (the word), in reading order (the per-document part of :func:`spelling_candidates`)."""
    rows = []
    for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False):
        text = str(text)
        lead = len(text) - len(text.lstrip())
        rows += [(doc_id, int(sent_id), m.group(0)) for m in NAME_TOKEN.finditer(text) if m.start() > lead]
    return pd.DataFrame(rows, columns=NAME_TOKEN_COLUMNS)


def spelling_candidates(sentences: pd.DataFrame, outlet_of: pd.Series, *,
                        min_similarity: float = MIN_SPELLING_SIMILARITY, tokens: pd.DataFrame | None = None,
                        only_in: Collection[str] | None = None) -> pd.DataFrame:
    """Capitalised words (not sentence-initial, 4+ letters) spelled differently by different outlets.

    Words are grouped by :func:`skeleton` and kept when at least two spellings exist, each within
    ``min_similarity`` (rapidfuzz ratio, case-insensitive) of the group's most frequent spelling,
    and the outlets do not all use the same set of spellings. ``tokens``: the
    :func:`name_tokens` table of ``sentences`` (computed when not given). Returns candidate
    rows (``CANDIDATE_COLUMNS``, kind ``spelling`` or ``case``), sorted by key, variant, outlet.
    ``only_in``: only the groups with a word in these documents (see :func:`naming_candidates`).
    """
    return _spellings(sentences, outlet_of, min_similarity=min_similarity, tokens=tokens, only_in=only_in)[0]


def _spellings(sentences: pd.DataFrame, outlet_of: pd.Series, *, min_similarity: float,
               tokens: pd.DataFrame | None, only_in: Collection[str] | None) -> tuple[pd.DataFrame, set[str]]:
    """:func:`spelling_candidates` and, with ``only_in``, the skeletons of the groups it computed.

    Every step decides within one skeleton group (its spellings, their counts, its most frequent
    spelling, its outlets' sets of spellings), so the rows of the groups with a word in ``only_in``
    are those of the whole computation."""
    words = name_tokens(sentences) if tokens is None else tokens
    words = words.assign(outlet=words["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    if words.empty:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), set()
    # spellings are coded once (a million capitalised words at 10,000 articles), then handled per spelling
    coded = pd.Categorical(words["variant"])
    spellings = np.asarray(coded.categories, dtype=object)
    keys = np.array([skeleton(v) for v in spellings], dtype=object)
    words = words.assign(variant=coded, key=keys[coded.codes])
    counts = pd.DataFrame({"key": keys, "variant": spellings, "uses": np.bincount(coded.codes, minlength=len(keys))})
    touched = set()
    if only_in is not None:
        touched = set(words.loc[words["doc_id"].isin(only_in), "key"])
        counts = counts[counts["key"].isin(touched)]
    counts = counts.sort_values(["key", "variant"]).reset_index(drop=True)
    counts = counts[(counts.groupby("key")["variant"].transform("size") >= 2) & (counts["key"].str.len() >= 2)]
    top = counts.sort_values(["key", "uses", "variant"], ascending=[True, False, True]).drop_duplicates("key")
    counts = counts.merge(top[["key", "variant"]].rename(columns={"variant": "top"}), on="key")
    similar = np.fromiter((fuzz.ratio(v.lower(), t.lower()) >= min_similarity
                           for v, t in zip(counts["variant"], counts["top"])), dtype=bool, count=len(counts))
    counts = counts[similar]
    counts = counts[counts.groupby("key")["variant"].transform("size") >= 2]
    tops = counts.set_index("variant")["top"].reindex(spellings).to_numpy()
    words = words.assign(top=tops[coded.codes]).dropna(subset=["top"])
    usage = words[["key", "outlet", "variant"]].drop_duplicates().sort_values(["key", "outlet", "variant"])
    # each outlet's set of spellings of a name as one string: a name stays when outlets' sets differ
    new = run_starts(usage["key"].to_numpy(), usage["outlet"].to_numpy())
    sets = pd.DataFrame({"key": usage["key"].to_numpy()[new],
                         "spellings": join_runs(usage["variant"].tolist(), new, "\x1f")})
    n_sets = sets.drop_duplicates().groupby("key").size()
    words = words[words["key"].isin(n_sets.index[n_sets >= 2])]
    spelled = words[["top", "variant"]].drop_duplicates()
    n_lower = spelled.assign(lower=spelled["variant"].str.lower()).groupby("top")["lower"].nunique()
    out = evidence(words, ["top", "variant", "outlet"], sentences, max_keys=MAX_CANDIDATE_KEYS).rename(
        columns={"top": "key"})
    out.insert(0, "kind", out["key"].map(n_lower.eq(1).map({True: "case", False: "spelling"})))
    return out[CANDIDATE_COLUMNS], touched


def quoted_terms(sentences: pd.DataFrame, *, max_words: int = MAX_QUOTED_WORDS) -> pd.DataFrame:
    """Short terms (≤ ``max_words`` words) between matching quote marks, curly or straight:
    doc_id, sent_id, term, in reading order (the per-document part of
    :func:`scare_quote_candidates`)."""
    rows = []
    for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False):
        for m in QUOTED_TERM.finditer(str(text)):
            term = m.group("term").strip()
            if QUOTE_PAIRS.get(m.group("open")) == m.group("close") and term and len(term.split()) <= max_words:
                rows.append((doc_id, int(sent_id), term))
    return pd.DataFrame(rows, columns=QUOTED_TERM_COLUMNS)


def _code_points(text: str) -> np.ndarray:
    """The characters of ``text`` as uint32 code points (element i is ``text[i]``)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _char_test(points: np.ndarray, test: Callable[[str], bool]) -> np.ndarray:
    """``test`` (a one-character predicate such as ``str.isalpha``) of every code point of a
    :func:`_code_points` array, evaluated once per distinct character: ASCII through a table
    indexed by each code point's low byte (a view, no copy), the rest through :func:`numpy.unique`."""
    out = np.array([test(chr(c)) for c in range(256)])[points.view(np.uint8)[::4]]
    wide = np.flatnonzero(points >= 128)
    distinct, inverse = np.unique(points[wide], return_inverse=True)
    out[wide] = np.fromiter((test(chr(c)) for c in distinct), dtype=bool, count=len(distinct))[inverse]
    return out


@dataclass(frozen=True)
class _Runs:
    """The maximal ``[\\w-]+`` runs of a list of texts, found in one pass over the texts joined by
    "\\x00" (neither whitespace, nor ``[\\w-]``, nor a quote mark: every text edge behaves as in
    the text alone). Offsets are characters of the joined text, whose code points are
    ``points``; per text: ``text_start``/``text_end``; per run: ``row`` (its text),
    ``start``/``end`` and ``gap_end`` (the end of the non-word stretch after it, cut at the end
    of its text)."""

    points: np.ndarray
    text_start: np.ndarray
    text_end: np.ndarray
    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    gap_end: np.ndarray

    def pieces(self) -> tuple[pa.LargeBinaryArray, np.ndarray, np.ndarray]:
        """Each run's text and the text after it up to the next run (into the following texts,
        or to the end), dictionary-coded: the distinct strings (UTF-32), the code of each run and
        of each gap. One Arrow dictionary encoding over the buffer of ``points``: runs cost no
        Python string each."""
        bounds = np.empty(2 * len(self.start) + 2, dtype=np.int64)
        bounds[0], bounds[1:-1:2], bounds[2:-1:2], bounds[-1] = 0, self.start, self.end, len(self.points)
        bounds *= self.points.itemsize
        pieces = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(bounds) - 1,
                                                  [None, pa.py_buffer(bounds), pa.py_buffer(self.points)])
        coded = pieces.dictionary_encode()
        codes = coded.indices.to_numpy()
        return coded.dictionary, codes[1::2], codes[2::2]

    def quoted(self, row: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """:func:`is_quoted` of many spans, each within text ``row``, vectorised."""
        last = len(self.points) - 1
        quoted = (start > self.text_start[row]) & (end < self.text_end[row])
        quoted &= np.isin(self.points[np.maximum(start - 1, 0)], [ord(c) for c in OPEN_QUOTES])
        quoted &= np.isin(self.points[np.minimum(end, last)], [ord(c) for c in CLOSE_QUOTES])
        maybe = np.flatnonzero(quoted)
        after = end[maybe] + 1
        letter_next = _char_test(self.points[np.minimum(after, last)], str.isalpha)
        letter_next &= after < self.text_end[row[maybe]]
        quoted[maybe[letter_next]] = False
        return quoted


def _word_runs(texts: Sequence[str]) -> _Runs:
    """:class:`_Runs` of ``texts``: numpy over their code points instead of a regex per text."""
    points = _code_points("\x00".join(texts))
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    text_start = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    word = _char_test(points, lambda c: c.isalnum() or c in "_-")
    start = np.flatnonzero(word[1:] & ~word[:-1]) + 1
    end = np.flatnonzero(word[:-1] & ~word[1:]) + 1
    start, end = (np.r_[0, start] if word[:1].any() else start), (np.r_[end, len(word)] if word[-1:].any() else end)
    row = np.repeat(np.arange(len(texts)), np.diff(np.searchsorted(start, text_start), append=len(start)))
    text_end = text_start + lengths
    gap_end = np.minimum(np.append(start[1:], len(points))[:len(start)], text_end[row])
    return _Runs(points, text_start, text_end, row, start, end, gap_end)


def _term_parts(term: str) -> tuple[list[str], list[str], str]:
    """A term as :func:`form_pattern` reads it: its maximal ``[\\w-]+`` runs, the gaps between
    them (whitespace runs as one space: the pattern's ``\\s+`` matches any) and the text after
    the last run.

    >>> _term_parts("U.S.  troops")
    (['U', 'S', 'troops'], ['.', '. '], '')
    """
    pieces = WORD_RUN.split(term)
    if pieces[0] or len(pieces) < 2:
        raise ValueError(f"a quoted term starts with a letter, not {term!r}")
    return WORD_RUN.findall(term), [WHITESPACE.sub(" ", g) for g in pieces[1:-1]], pieces[-1]


@dataclass(frozen=True)
class _PrefixTree:
    """A prefix tree over sequences of run codes (0..``n_runs``-1) with a gap code
    (0..``n_gaps``-1) between consecutive runs, as arrays for vectorised walks. Nodes are
    numbered from 1; ``roots``: the node of each first run (-1: none); ``keys``: :meth:`key` of
    every later step, ``children``: the node it leads to; ``final``: each sequence's last node;
    ``is_final``/``is_parent``: per node, whether a sequence ends there / a step leaves it."""

    roots: np.ndarray
    keys: pd.Index
    children: np.ndarray
    final: np.ndarray
    is_final: np.ndarray
    is_parent: np.ndarray
    n_gaps: int
    n_runs: int

    @classmethod
    def of(cls, sequences: Sequence[tuple[Sequence[int], Sequence[int]]], n_gaps: int, n_runs: int) -> _PrefixTree:
        """The tree of (run codes, gap codes) sequences."""
        child: dict[tuple[int, int, int], int] = {}
        final = []
        for runs, gaps in sequences:
            node = 0
            for gap, run in zip([-1, *gaps], runs):
                node = child.setdefault((node, gap, run), len(child) + 1)
            final.append(node)
        steps = np.array(list(child), dtype=np.int64).reshape(-1, 3)
        nodes = np.fromiter(child.values(), dtype=np.int64, count=len(child))
        root = steps[:, 0] == 0
        roots = np.full(n_runs, -1)
        roots[steps[root, 2]] = nodes[root]
        is_final, is_parent = np.zeros(len(child) + 1, dtype=bool), np.zeros(len(child) + 1, dtype=bool)
        is_final[final] = True
        is_parent[steps[~root, 0]] = True
        return cls(roots, pd.Index(cls.key(steps[~root, 0], steps[~root, 1], steps[~root, 2], n_gaps, n_runs)),
                   nodes[~root], np.array(final, dtype=np.int64), is_final, is_parent, n_gaps, n_runs)

    @staticmethod
    def key(node: np.ndarray, gap: np.ndarray, run: np.ndarray, n_gaps: int, n_runs: int) -> np.ndarray:
        """One int64 per step (node, gap code, run code)."""
        return (node * n_gaps + gap) * n_runs + run

    def walk(self, run_code: np.ndarray, gap_code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (first run, last run, final node) where runs first..last of one text spell a
        sequence: one vectorised step per run of the longest sequence, following only runs that
        continue some sequence.

        ``run_code``/``gap_code``: per run, the code of its text and of the gap after it (-1: in
        no sequence; the gap code is also -1 when no run follows in the same text)."""
        last = np.flatnonzero(run_code >= 0)
        node = self.roots[run_code[last]]
        last = first = last[node >= 0]
        node = node[node >= 0]
        found = [(first[:0], last[:0], node[:0])]
        while len(last):
            ends = self.is_final[node]
            found.append((first[ends], last[ends], node[ends]))
            go = self.is_parent[node] & (gap_code[last] >= 0)
            first, last, node = first[go], last[go], node[go]
            go = run_code[last + 1] >= 0
            first, last, node = first[go], last[go], node[go]
            step = self.keys.get_indexer(self.key(node, gap_code[last], run_code[last + 1], self.n_gaps, self.n_runs))
            go = step >= 0
            first, last, node = first[go], last[go] + 1, self.children[step[go]]
        return tuple(np.concatenate(column) for column in zip(*found))

    def ends(self, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(i, sequence) for every sequence ending at ``node[i]`` (several sequences can share a
        path), ordered by i."""
        order = np.argsort(self.final, kind="stable")
        bounds = np.searchsorted(self.final[order], np.arange(len(self.is_final) + 1))
        low, count = bounds[node], bounds[node + 1] - bounds[node]
        i = np.repeat(np.arange(len(node)), count)
        within = np.arange(len(i)) - np.repeat(np.cumsum(count) - count, count)
        return i, order[low[i] + within]


def _tail_lengths(gaps: Sequence[str], tails: Sequence[str]) -> np.ndarray:
    """Length of the match of each tail (the text after a term's last run, :func:`_term_parts`) at
    the start of the gap after a run, as :func:`form_pattern` matches it (-1: no match)."""
    patterns = {t: re.compile(r"\s+".join(map(re.escape, WHITESPACE.split(t)))) for t in set(tails)}
    return np.array([m.end() if (m := patterns[t].match(g)) else -1 for g, t in zip(gaps, tails)], dtype=np.int64)


def _finditer_choice(group: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Which candidate matches ``re.finditer`` reports, for candidates sorted by group and start:
    each that starts at or after the end of the last reported one of its group. Overlapping
    candidates are rare (a term like "ha ha" in "ha ha ha"), so only groups with one are walked
    in Python."""
    keep = np.ones(len(start), dtype=bool)
    clashes = np.flatnonzero((group[1:] == group[:-1]) & (start[1:] < end[:-1])) + 1
    for g in np.unique(group[clashes]):
        reached = -1
        for i in range(*np.searchsorted(group, [g, g + 1])):
            keep[i] = start[i] >= reached
            reached = end[i] if keep[i] else reached
    return keep


@dataclass(frozen=True)
class _TermSet:
    """Terms compiled for :meth:`matches`: their runs (UTF-32, a run's code is its position) and
    gaps (:func:`_term_parts`), a :class:`_PrefixTree` of their code sequences, each one's tail."""

    runs: pa.LargeBinaryArray
    gap_index: dict[str, int]
    tree: _PrefixTree
    tails: np.ndarray

    @classmethod
    def of(cls, terms: Sequence[str]) -> _TermSet:
        """The compiled set of ``terms`` (each starting with a letter)."""
        parts = [_term_parts(t) for t in terms]
        run_vocab, gap_vocab = sorted({r for p in parts for r in p[0]}), sorted({g for p in parts for g in p[1]})
        run_index, gap_index = {r: i for i, r in enumerate(run_vocab)}, {g: i for i, g in enumerate(gap_vocab)}
        tree = _PrefixTree.of([([run_index[r] for r in rs], [gap_index[g] for g in gs]) for rs, gs, _ in parts],
                              len(gap_vocab), len(run_vocab))
        runs = pa.array([r.encode("utf-32-le", "surrogatepass") for r in run_vocab], type=pa.large_binary())
        return cls(runs, gap_index, tree, np.array([tail for _, _, tail in parts], dtype=object))

    def matches(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(term, text) of every unquoted match in ``texts``, sorted by term, then reading order."""
        runs = _word_runs(texts)
        strings, run_piece, gap_piece = runs.pieces()
        run_code = pc.index_in(strings, value_set=self.runs).fill_null(-1).to_numpy()[run_piece]
        # gaps are compared in Python, with whitespace runs as one space: few distinct ones
        gap_text, canonical = np.full(len(strings), "", dtype=object), np.full(len(strings), -1)
        used = np.flatnonzero(np.bincount(gap_piece, minlength=len(strings)))
        gap_text[used] = [g.decode("utf-32-le", "surrogatepass") for g in strings.take(used).to_pylist()]
        canonical[used] = [self.gap_index.get(WHITESPACE.sub(" ", g), -1) for g in gap_text[used]]
        reaches_end = runs.gap_end == runs.text_end[runs.row]
        first, last, node = self.tree.walk(run_code, np.where(reaches_end, -1, canonical[gap_piece]))
        path, term = self.tree.ends(node)
        first, last = first[path], last[path]
        tail = np.zeros(len(term), dtype=np.int64)
        has_tail = np.flatnonzero(self.tails[term] != "")
        pairs, pair = np.unique(np.column_stack([gap_piece[last[has_tail]], term[has_tail]]), axis=0,
                                return_inverse=True)
        tail[has_tail] = _tail_lengths(gap_text[pairs[:, 0]], self.tails[pairs[:, 1]])[pair.ravel()]
        # the gap string may run into the next text; a tail taking all of the text's part of the
        # gap is followed by the next run (no match) or by the text's end
        room = runs.gap_end[last] - runs.end[last]
        fits = (tail >= 0) & ((tail < room) | ((tail == room) & reaches_end[last]))
        term, first, start, end = term[fits], first[fits], runs.start[first[fits]], runs.end[last[fits]] + tail[fits]
        # a term's matches all have its number of runs, so they come from one walk step, in
        # reading order: a stable sort by term (radix for small integer types) orders them fully
        order = np.argsort(term.astype(np.min_scalar_type(len(self.tails))), kind="stable")
        term, first, start, end = term[order], first[order], start[order], end[order]
        keep = _finditer_choice(term, start, end)
        keep[keep] = ~runs.quoted(runs.row[first[keep]], start[keep], end[keep])
        return term[keep], runs.row[first[keep]]


def _plain_uses(sentences: pd.DataFrame, terms: Sequence[str], *, chunk: int = 20_000) -> pd.DataFrame:
    """Unquoted occurrences of each term (matches of :func:`form_pattern`, case-sensitive, that are
    not :func:`is_quoted`): term, doc_id (both categorical), sent_id, one row per occurrence,
    sorted by term (in the order of ``terms``) and reading order. Terms start with a letter
    (as :func:`quoted_terms`') and are distinct.

    The matches of each term's pattern over every sentence, found without a regex per term
    (15,000 terms over 470,000 sentences took 40 s that way): a match is a sequence of maximal
    ``[\\w-]+`` runs of the text equal to the term's runs, separated by gaps equal to the term's
    up to whitespace, then the term's tail. So the sentences are cut into runs
    (:func:`_word_runs`), runs and gaps are looked up by hash in Arrow, and all terms are followed
    at once through a prefix tree of their runs (:class:`_TermSet`). Sentences go ``chunk`` at a
    time, which keeps the arrays small enough to reuse memory (fresh memory is slow)."""
    texts = sentences["text"].astype(str).tolist()
    compiled = _TermSet.of(terms)
    found = [compiled.matches(texts[i: i + chunk]) for i in range(0, len(texts), chunk)]
    term = np.concatenate([np.zeros(0, dtype=np.int64), *(t for t, _ in found)])
    row = np.concatenate([np.zeros(0, dtype=np.int64), *(r + i * chunk for i, (_, r) in enumerate(found))])
    order = np.argsort(term.astype(np.min_scalar_type(len(terms))), kind="stable")
    return _uses(sentences, terms, term[order], row[order])


def _read_known(path: Path) -> tuple[pd.DataFrame, pd.Index, dict[str, str]] | None:
    """The uses (term, doc_id categorical; sent_id), terms and document keys :func:`_write_known`
    kept at ``path``; None when there is no such file or it cannot be read (it is then rebuilt)."""
    kept = read_kept(path, KNOWN_USES_METADATA)
    if kept is None:
        return None
    try:
        uses = kept[0].to_pandas()
        terms, keys = pd.Index(kept[1]["terms"], dtype=object), dict(kept[1]["keys"])
    except (TypeError, KeyError, ValueError, pa.ArrowException):
        return None
    if list(uses.columns) != ["term", "doc_id", "sent_id"] or not all(
            isinstance(uses[c].dtype, pd.CategoricalDtype) for c in ("term", "doc_id")):
        return None
    return uses, terms, keys


def _write_known(path: Path, uses: pd.DataFrame, terms: pd.Index, keys: Mapping[str, str]) -> None:
    """Keep ``uses`` (:func:`_plain_uses` of the corpus for ``terms``) and the documents' ``keys``
    at ``path`` (:func:`~toolkit.store.write_kept`)."""
    write_kept(path, arrow_table(uses), KNOWN_USES_METADATA, {"terms": list(terms), "keys": dict(keys)})


def _first_runs_in(texts: Sequence[str], terms: Sequence[str]) -> np.ndarray:
    """Whether each text holds the first ``[\\w-]+`` run of any of ``terms`` (one RE2 pass in Arrow):
    a text without it holds no match of any of them."""
    if not len(texts):
        return np.zeros(0, dtype=bool)
    pattern = "|".join(sorted({re.escape(WORD_RUN.match(t).group(0)) for t in terms}))
    return pc.match_substring_regex(pa.array(texts, type=pa.large_string()), pattern).to_numpy(zero_copy_only=False)


def plain_uses(sentences: pd.DataFrame, terms: Sequence[str], *, known: Kept | None = None) -> pd.DataFrame:
    """:func:`_plain_uses` of ``sentences`` for ``terms``; with ``known``, found
    again only where something changed since the run that kept them, and kept for the next run.

    A document whose key is unchanged keeps its uses of the terms still wanted; documents new or
    changed are searched for every term, and the unchanged ones for the terms new to the corpus
    only, and only in sentences holding one of those terms' first words (:func:`_first_runs_in`).
    Adding one article to 10,000 thus searches that article, plus a few sentences for the terms it
    quotes first, instead of every sentence for 15,000 terms (2.5 s). The result equals
    :func:`_plain_uses`' when ``sentences`` are sorted by doc_id and sent_id (otherwise only its
    order differs); the kept file is rebuilt when it is missing or unreadable.
    """
    terms = pd.Index(terms, dtype=object)
    previous = _read_known(known.path) if known is not None else None
    if previous is None:
        uses = _plain_uses(sentences, terms)
    else:
        uses = _updated_uses(sentences, terms, known.keys, *previous)
    if known is not None:
        _write_known(known.path, uses, terms, known.keys)
    return uses


def _updated_uses(sentences: pd.DataFrame, terms: pd.Index, keys: Mapping[str, str], kept: pd.DataFrame,
                  kept_terms: pd.Index, kept_keys: Mapping[str, str]) -> pd.DataFrame:
    """The uses of :func:`plain_uses` from those kept (``kept``, found for ``kept_terms`` in the
    documents of ``kept_keys``) and the search of what changed."""
    doc_ids = sentences["doc_id"].to_numpy()
    unchanged_docs = pd.Index([d for d in pd.unique(doc_ids) if d in keys and kept_keys.get(d) == keys[d]],
                              dtype=object)
    in_unchanged = unchanged_docs.get_indexer(doc_ids) >= 0
    added = terms[~terms.isin(kept_terms)]
    reused = kept[kept["doc_id"].isin(unchanged_docs) & kept["term"].isin(terms)]
    pieces = [reused, _plain_uses(sentences[~in_unchanged], terms)]
    if len(added):
        unchanged = sentences[in_unchanged]
        holds = _first_runs_in(unchanged["text"].astype(str).tolist(), added)
        pieces.append(_plain_uses(unchanged[holds], added))
    doc_codes = pd.Categorical(sentences["doc_id"])
    term = np.concatenate([_recoded(p["term"], terms) for p in pieces]).astype(np.int64)
    doc = np.concatenate([_recoded(p["doc_id"], doc_codes.categories) for p in pieces])
    sent = np.concatenate([p["sent_id"].to_numpy().astype(np.int64) for p in pieces])
    # every (term, sentence) comes from one piece, in the order the search found it: a stable
    # sort by term, then reading order, gives the order of a search over the whole corpus. Each
    # piece is already in that order (terms and documents are coded in sorted order), so the
    # sort (timsort, on one integer key) merges a few sorted runs
    low = sent.min(initial=0)
    key = np.ravel_multi_index((term, doc, sent - low), (max(len(terms), 1), max(len(doc_codes.categories), 1),
                                                         int(sent.max(initial=low)) - low + 1))
    order = np.argsort(key, kind="stable")
    return pd.DataFrame({"term": pd.Categorical.from_codes(term[order], categories=terms),
                         "doc_id": pd.Categorical.from_codes(doc[order], dtype=doc_codes.dtype),
                         "sent_id": sent[order]})


def _recoded(column: pd.Series, categories: pd.Index) -> np.ndarray:
    """The codes of a categorical ``column`` (no missing values) under ``categories``, which hold
    all of its values: its categories are looked up, not its millions of rows."""
    return categories.get_indexer(column.cat.categories)[column.cat.codes.to_numpy()]


def _uses(sentences: pd.DataFrame, terms: Sequence[str], term: np.ndarray, row: np.ndarray) -> pd.DataFrame:
    """term, doc_id (both categorical), sent_id of ``terms[term[i]]`` used in sentence ``row[i]``."""
    doc_ids = pd.Categorical(sentences["doc_id"])
    return pd.DataFrame({"term": pd.Categorical.from_codes(term, categories=pd.Index(terms, dtype=object)),
                         "doc_id": pd.Categorical.from_codes(doc_ids.codes[row], dtype=doc_ids.dtype),
                         "sent_id": sentences["sent_id"].to_numpy()[row].astype(int)})


def scare_quote_candidates(sentences: pd.DataFrame, outlet_of: pd.Series, *, max_words: int = MAX_QUOTED_WORDS,
                           quoted: pd.DataFrame | None = None, known: Kept | None = None,
                           only_in: Collection[str] | None = None) -> pd.DataFrame:
    """Short terms (≤ ``max_words`` words) in matching quote marks, curly or straight, that name
    something (every word capitalised) or that the corpus also uses without quotes in another
    outlet; each comes with its quoted and unquoted uses per outlet (variants ``“term”``, ``term``).

    ``quoted``: the :func:`quoted_terms` table of ``sentences`` for ``max_words`` (computed when
    not given); ``known``: where the plain uses of the last run are kept (:func:`plain_uses`).
    Returns candidate rows (``CANDIDATE_COLUMNS``, kind ``scare_quote``), sorted by
    key, variant, outlet. The hits (millions at 10,000 articles: plain uses of common quoted
    words) are categorical, so grouping them compares integer codes. ``only_in``: only the terms
    quoted or used in these documents (see :func:`naming_candidates`).
    """
    return _scare_quotes(sentences, outlet_of, max_words=max_words, quoted=quoted, known=known, only_in=only_in)[0]


def _scare_quotes(sentences: pd.DataFrame, outlet_of: pd.Series, *, max_words: int, quoted: pd.DataFrame | None,
                  known: Kept | None, only_in: Collection[str] | None) -> tuple[pd.DataFrame, set[str]]:
    """:func:`scare_quote_candidates` and, with ``only_in``, the terms it computed. A term's rows
    depend on its own hits alone (whether it is kept, its evidence per variant and outlet)."""
    quoted = quoted_terms(sentences, max_words=max_words) if quoted is None else quoted
    terms = pd.Index(sorted(quoted["term"].unique()), dtype=object)
    plain = plain_uses(sentences, terms, known=known)
    in_quotes = np.repeat([True, False], [len(quoted), len(plain)])
    term = np.concatenate([terms.get_indexer(quoted["term"]), plain["term"].cat.codes]).astype(np.int64)
    shown = pd.Index(["“" + t + "”" for t in terms] + list(terms), dtype=object)
    variants = pd.Index(sorted(shown), dtype=object)
    variant = variants.get_indexer(shown)[term + np.where(in_quotes, 0, len(terms))]
    doc = union_categoricals([pd.Categorical(quoted["doc_id"]), plain["doc_id"].array], sort_categories=True)
    outlets = pd.Categorical(pd.Series(doc.categories, dtype=object).map(outlet_of))
    outlet = outlets.codes[doc.codes].astype(np.int64)
    # a term stays when every word is capitalised or when some outlet uses it only without quotes
    found = outlet >= 0
    pair = term * len(outlets.categories) + outlet
    only_plain = np.setdiff1d(pd.unique(pair[found & ~in_quotes]), pd.unique(pair[found & in_quotes]))
    keep = np.array([all(w[:1].isupper() for w in t.split()) for t in terms], dtype=bool)
    keep[only_plain // len(outlets.categories)] = True
    chosen = found & keep[term]
    touched = set()
    if only_in is not None:
        wanted = np.zeros(len(terms), dtype=bool)
        wanted[term[pd.Index(doc.categories).isin(list(only_in))[doc.codes]]] = True
        chosen &= wanted[term]
        touched = set(terms[wanted])
    hits = pd.DataFrame({"term": pd.Categorical.from_codes(term[chosen], categories=terms),
                         "variant": pd.Categorical.from_codes(variant[chosen], categories=variants),
                         "outlet": pd.Categorical.from_codes(outlet[chosen], categories=outlets.categories),
                         "doc_id": pd.Categorical.from_codes(doc.codes[chosen], categories=doc.categories),
                         "sent_id": np.concatenate([quoted["sent_id"], plain["sent_id"]])[chosen]})
    out = evidence(hits, ["term", "variant", "outlet"], sentences, max_keys=MAX_CANDIDATE_KEYS)
    return out.rename(columns={"term": "key"}).assign(kind="scare_quote")[CANDIDATE_COLUMNS], touched


def _read_candidates(path: Path) -> tuple[pa.Table, dict[str, str], dict[str, str | None]] | None:
    """The table (memory-mapped), document keys and outlets :func:`_write_candidates` kept at
    ``path``; None when there is no such file or it cannot be read (everything is then computed)."""
    kept = read_kept(path, KNOWN_CANDIDATES_METADATA)
    if kept is None:
        return None
    table, state = kept
    try:
        keys, outlets = dict(state["keys"]), dict(state["outlets"])
    except (TypeError, KeyError, ValueError):
        return None
    if table.column_names != CANDIDATE_COLUMNS or state.get("max_keys") != MAX_CANDIDATE_KEYS:
        return None
    return table, keys, outlets


def _write_candidates(path: Path, candidates: pa.Table, keys: Mapping[str, str],
                      outlets: Mapping[str, str | None]) -> None:
    """Keep ``candidates`` with the ``keys`` and ``outlets`` of the documents they were computed
    from at ``path`` (:func:`~toolkit.store.write_kept`)."""
    write_kept(path, candidates, KNOWN_CANDIDATES_METADATA,
                {"keys": dict(keys), "outlets": dict(outlets), "max_keys": MAX_CANDIDATE_KEYS})


def _added_documents(previous: tuple[pa.Table, dict[str, str], dict[str, str | None]] | None,
                     keys: Mapping[str, str], outlets: Mapping[str, str | None],
                     docs: Sequence[str]) -> list[str] | None:
    """The documents of ``docs`` (those with sentences) added since the kept table was computed,
    when nothing else changed: each has a key, every document the table was computed from is still
    here with the same key and outlet, and it compared at least two outlets (with one, spellings
    were not compared at all). None otherwise."""
    if previous is None or any(d not in keys for d in docs):
        return None
    _, kept_keys, kept_outlets = previous
    if len(set(kept_outlets.values()) - {None}) < 2 or any(
            keys.get(d) != k or outlets.get(d) != kept_outlets.get(d) for d, k in kept_keys.items()):
        return None
    return [d for d in docs if d not in kept_keys]


def _arrow_rows(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """``frame`` as an Arrow table without pandas' metadata (cast to ``schema`` when given)."""
    table = arrow_table(frame).replace_schema_metadata(None)
    return table if schema is None else table.cast(schema)


def _recomputed_rows(old: pa.Table, terms: set[str], names: set[str]) -> np.ndarray:
    """Whether each row of the kept table ``old`` belongs to a term (scare quotes) or name group
    (skeleton of the key, for spellings) that was computed again."""
    key = old.column("key")
    is_scare = pc.equal(old.column("kind"), "scare_quote")
    spelled = pc.filter(key, pc.invert(is_scare)).unique().to_pylist()
    again_spelled = pa.array([k for k in spelled if skeleton(k) in names], type=pa.string())
    recomputed = pc.if_else(is_scare, pc.is_in(key, pa.array(sorted(terms), type=pa.string())),
                            pc.is_in(key, again_spelled))
    return recomputed.to_numpy(zero_copy_only=False)


def _order_keys(tables: Sequence[pa.Table], by: Sequence[str]) -> list[np.ndarray] | None:
    """For each table, an integer per row that orders its rows, and the rows of the other tables,
    as sorting by the columns ``by`` does (Arrow's order: strings by their UTF-8 bytes); None when
    those integers would not fit in 64 bits. Each column's values are ranked among the distinct
    values of all tables, and the ranks combined."""
    codes: list[list[np.ndarray]] = [[] for _ in tables]
    sizes = []
    for column in by:
        values = pa.chunked_array([chunk for t in tables for chunk in t.column(column).chunks],
                                  type=tables[0].schema.field(column).type)
        distinct = pc.unique(values)
        ranked = distinct.take(pc.sort_indices(distinct))
        for i, t in enumerate(tables):
            codes[i].append(pc.index_in(t.column(column), value_set=ranked).to_numpy().astype(np.int64))
        sizes.append(max(len(ranked), 1))
    if float(np.prod(np.asarray(sizes, dtype=float))) >= 2.0 ** 63:
        return None
    return [np.ravel_multi_index(c, sizes) if len(c[0]) else np.zeros(0, dtype=np.int64) for c in codes]


def merge_sorted(old: pa.Table, drop: np.ndarray, new: pa.Table, by: Sequence[str]) -> pa.Table:
    """The rows of ``old`` (sorted by the columns ``by``) where ``drop`` is False and all rows
    of ``new``, sorted by ``by``: what ``sort_by`` on their concatenation gives when no two
    rows share their ``by`` values and none is missing (otherwise it is that sort).

    Hand-written because Arrow has no merge of sorted tables: ``sort_by`` compares the strings of
    every row and then gathers every row of the result in a new order. Here the ``by`` values are
    ranked (:func:`_order_keys`), each new row is placed among the kept ones by a binary search
    on those ranks, and the kept rows are copied as they lie, in the runs between new ones. For
    one article added to 10,000 (22,000 new rows among 330,000 kept ones) the sort and gather
    took 3.4 s.

    >>> old = pa.table({"k": ["a", "c", "e"], "v": [1, 3, 5]})
    >>> merge_sorted(old, np.array([False, True, False]), pa.table({"k": ["d", "b"], "v": [4, 2]}), ["k"]).to_pydict()
    {'k': ['a', 'b', 'd', 'e'], 'v': [1, 2, 4, 5]}
    """
    keys = None if any(t.column(c).null_count for t in (old, new) for c in by) else _order_keys([old, new], by)
    kept = np.flatnonzero(~drop)
    if keys is not None:
        kept_keys, order = keys[0][kept], np.argsort(keys[1], kind="stable")
        new_keys = keys[1][order]
        at = np.searchsorted(kept_keys, new_keys)
        clash = kept_keys[np.minimum(at, len(kept) - 1)] == new_keys if len(kept) else np.zeros(len(new), dtype=bool)
        if not (clash.any() or (np.diff(kept_keys) <= 0).any() or (np.diff(new_keys) <= 0).any()):
            rows = np.insert(kept, at, len(old) + np.arange(len(new)))
            both = pa.concat_tables([old, new.take(order)])
            starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)
            lengths = np.diff(np.r_[starts, len(rows)])
            runs = (both.slice(int(rows[s]), int(n)) for s, n in zip(starts, lengths))
            return pa.concat_tables([both.slice(0, 0), *runs]).combine_chunks()
    whole = pa.concat_tables([old.filter(pa.array(~drop)), new])
    return whole.sort_by([(column, "ascending") for column in by]).combine_chunks()


def naming_candidates(sentences: pd.DataFrame, articles: pd.DataFrame, *, quoted: pd.DataFrame | None = None,
                      tokens: pd.DataFrame | None = None, known: Kept | None = None,
                      kept: Kept | None = None) -> pd.DataFrame:
    """Naming choices found without a list: scare quotes and spellings that differ between outlets.

    Returns ``naming_candidates``: kind (``scare_quote``, ``spelling``, ``case``), key (the term,
    or the most frequent spelling of a group), variant, outlet, count, doc_ids, sent_keys (the
    first :data:`MAX_CANDIDATE_KEYS` sentences in reading order), example / example_doc_id /
    example_sent_id; sorted by kind, key, variant, outlet. Spelling
    candidates need two outlets (a warning says so when there is one). ``quoted`` and
    ``tokens``: the :func:`quoted_terms` and :func:`name_tokens` tables of ``sentences``, when
    already computed per document; ``known``: see :func:`plain_uses`.

    ``kept``: where the last run's table is kept, and this run's document keys. When the corpus
    is that run's plus new documents (none changed, removed or moved to another outlet), only the
    terms quoted or used in the new documents and the name groups with a word in them are
    computed, the other rows are the kept ones: each term's and each name group's rows depend on
    their own uses alone (:func:`scare_quote_candidates`, :func:`spelling_candidates`), and the
    others' uses are those of the last run. The table equals the whole computation's; any other
    change computes everything. At 10,000 articles the evidence of every row (millions of plain
    uses of quoted words) was most of the 10 s this step took for one added article.
    """
    return frame_of(candidates_table(sentences, articles, quoted=quoted, tokens=tokens, known=known, kept=kept))


def candidates_table(sentences: pd.DataFrame, articles: pd.DataFrame, *, quoted: pd.DataFrame | None = None,
                     tokens: pd.DataFrame | None = None, known: Kept | None = None,
                     kept: Kept | None = None) -> pd.DataFrame | pa.Table:
    """:func:`naming_candidates`, as an Arrow table when ``kept`` is given: the kept rows (330,000
    at 10,000 articles, 210 MB of text) are merged with the new ones in Arrow (:func:`merge_sorted`)
    and handed to the pipeline's other process in that form, never converted to Python strings and
    back here."""
    outlet_of = articles.set_index("doc_id")["outlet"]
    several = articles["outlet"].nunique() >= 2
    previous, added, outlets, names = None, None, {}, set()
    if kept is not None:
        known_outlets = outlet_of.reindex(list(kept.keys))
        outlets = dict(zip(kept.keys, known_outlets.astype(object).where(known_outlets.notna(), None)))
        previous = _read_candidates(kept.path) if several else None
        added = _added_documents(previous, kept.keys, outlets, pd.unique(sentences["doc_id"]).tolist())
    if added == []:
        return previous[0]
    scare, terms = _scare_quotes(sentences, outlet_of, max_words=MAX_QUOTED_WORDS, quoted=quoted, known=known,
                                 only_in=added)
    parts = [scare]
    if not several:
        warnings.warn("naming candidates: spelling variants are compared between outlets; the corpus has one "
                      "outlet, so only scare quotes are listed.", stacklevel=3)
    else:
        spelled, names = _spellings(sentences, outlet_of, min_similarity=MIN_SPELLING_SIMILARITY, tokens=tokens,
                                    only_in=added)
        parts.append(spelled)
    parts = [p for p in parts if not p.empty]
    order = [(column, "ascending") for column in ("kind", "key", "variant", "outlet")]
    if added is not None:
        old = previous[0]
        # UTF-8 bytes sort as code points, so Arrow's order is pandas' order of the same strings
        new = pa.concat_tables([_arrow_rows(p, old.schema) for p in parts]) if parts else old.slice(0, 0)
        out = merge_sorted(old, _recomputed_rows(old, terms, names), new, [column for column, _ in order])
    else:
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CANDIDATE_COLUMNS)
        out = out.sort_values(["kind", "key", "variant", "outlet"]).reset_index(drop=True)
        if kept is None:
            return out
        out = _arrow_rows(out)
    _write_candidates(kept.path, out, kept.keys, outlets)
    return out

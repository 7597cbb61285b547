"""Naming choices: which outlet calls a thing by which name, with evidence.

Two sources: ``data/naming.yml`` (concepts with competing variants, edited by reporters) and
automatic candidates (short quoted terms that look like scare quotes; spellings of the same name
that differ between outlets).
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from toolkit.framing import datafile

NAMING_COLUMNS = ["concept", "variant", "outlet", "count", "doc_ids", "sent_keys", "concept_count", "share",
                  "articles", "example", "example_doc_id", "example_sent_id"]
CANDIDATE_COLUMNS = ["kind", "key", "variant", "outlet", "count", "doc_ids", "sent_keys", "example",
                     "example_doc_id", "example_sent_id"]
HIT_COLUMNS = ["concept", "variant", "doc_id", "sent_id", "start", "end"]
QUOTED_TERM_COLUMNS = ["doc_id", "sent_id", "term"]
NAME_TOKEN_COLUMNS = ["doc_id", "sent_id", "variant"]
EVIDENCE_COLUMNS = ["count", "doc_ids", "sent_keys", "example", "example_doc_id", "example_sent_id"]

OPEN_QUOTES = "“\"‘'«„"
CLOSE_QUOTES = "”\"’'»“"
QUOTE_PAIRS = {"“": "”", '"': '"', "‘": "’", "'": "'", "«": "»", "„": "“"}
QUOTED_TERM = re.compile(
    r"(?:^|(?<=[\s(\[—–\-/]))(?P<open>[“\"‘'«„])(?P<term>[^\W\d_][^“”\"‘’'«»„.,;:!?\n]{0,40}?)(?P<close>[”\"’'»“])(?![^\W\d_])")
NAME_TOKEN = re.compile(r"(?<![\w’'\-])[A-Z][^\W\d_]{3,}(?![\w\-])")
VOWELS = "aeiou"
WORD = re.compile(r"[^\W_]+")
WORD_RUN = re.compile(r"[\w\-]+")



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


def evidence(hits: pd.DataFrame, by: list[str], sentences: pd.DataFrame) -> pd.DataFrame:
    """The evidence columns of each group of hits, computed for all groups at once.

    Input ``hits``: the ``by`` columns, doc_id, sent_id (one row per hit); ``sentences``:
    doc_id, sent_id, text. Returns one row per group (sorted by ``by``): the ``by`` columns,
    count (hits), doc_ids (sorted, ", "-joined), sent_keys ("doc:sent" in reading order,
    "; "-joined, each sentence once), example (text of the first sentence) /
    example_doc_id / example_sent_id.
    """
    if hits.empty:
        return pd.DataFrame(columns=by + EVIDENCE_COLUMNS)
    counts = hits.groupby(by, sort=True).size().rename("count").reset_index()
    keys = hits[by + ["doc_id", "sent_id"]].drop_duplicates()
    keys = keys.assign(doc_id=keys["doc_id"].astype(str), sent_id=keys["sent_id"].astype(int))
    keys["group"] = keys.groupby(by, sort=True).ngroup()
    keys = keys.sort_values(["group", "doc_id", "sent_id"]).reset_index(drop=True)
    labels = (keys["doc_id"] + ":" + keys["sent_id"].astype(str)).tolist()
    starts = np.flatnonzero(np.diff(keys["group"].to_numpy(), prepend=-1) != 0)
    bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), len(keys)]))
    docs = keys["doc_id"].tolist()
    counts["doc_ids"] = [", ".join(dict.fromkeys(docs[s:e])) for s, e in bounds]
    counts["sent_keys"] = ["; ".join(labels[s:e]) for s, e in bounds]
    counts["example_doc_id"] = keys["doc_id"].to_numpy()[starts]
    counts["example_sent_id"] = keys["sent_id"].to_numpy()[starts]
    texts = sentences[["doc_id", "sent_id", "text"]].rename(columns={"doc_id": "example_doc_id",
                                                                     "sent_id": "example_sent_id",
                                                                     "text": "example"})
    out = counts.merge(texts.assign(example_doc_id=texts["example_doc_id"].astype(str)),
                       on=["example_doc_id", "example_sent_id"], how="left")
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


def spelling_candidates(sentences: pd.DataFrame, outlet_of: pd.Series, *, min_similarity: float = 75,
                        tokens: pd.DataFrame | None = None) -> pd.DataFrame:
    """Capitalised words (not sentence-initial, 4+ letters) spelled differently by different outlets.

    Words are grouped by :func:`skeleton` and kept when at least two spellings exist, each within
    ``min_similarity`` (rapidfuzz ratio, case-insensitive) of the group's most frequent spelling,
    and the outlets do not all use the same set of spellings. ``tokens``: the
    :func:`name_tokens` table of ``sentences`` (computed when not given). Returns candidate
    rows (``CANDIDATE_COLUMNS``, kind ``spelling`` or ``case``), sorted by key, variant, outlet.
    """
    words = name_tokens(sentences) if tokens is None else tokens
    words = words.assign(outlet=words["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    if words.empty:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    spellings = pd.Series(words["variant"].unique())
    words["key"] = words["variant"].map(pd.Series(spellings.map(skeleton).to_numpy(), index=spellings))
    counts = words.groupby(["key", "variant"]).size().rename("uses").reset_index()
    counts = counts[(counts.groupby("key")["variant"].transform("size") >= 2) & (counts["key"].str.len() >= 2)]
    top = counts.sort_values(["key", "uses", "variant"], ascending=[True, False, True]).drop_duplicates("key")
    counts = counts.merge(top[["key", "variant"]].rename(columns={"variant": "top"}), on="key")
    similar = np.fromiter((fuzz.ratio(v.lower(), t.lower()) >= min_similarity
                           for v, t in zip(counts["variant"], counts["top"])), dtype=bool, count=len(counts))
    counts = counts[similar]
    counts = counts[counts.groupby("key")["variant"].transform("size") >= 2]
    words = words.merge(counts[["key", "variant", "top"]], on=["key", "variant"])
    usage = words[["key", "outlet", "variant"]].drop_duplicates().sort_values(["key", "outlet", "variant"])
    usage = usage.groupby(["key", "outlet"])["variant"].agg("\x1f".join).groupby(level="key").nunique()
    words = words[words["key"].isin(usage.index[usage >= 2])]
    spelled = words[["top", "variant"]].drop_duplicates()
    n_lower = spelled.assign(lower=spelled["variant"].str.lower()).groupby("top")["lower"].nunique()
    out = evidence(words, ["top", "variant", "outlet"], sentences).rename(columns={"top": "key"})
    out.insert(0, "kind", out["key"].map(n_lower.eq(1).map({True: "case", False: "spelling"})))
    return out[CANDIDATE_COLUMNS]


def quoted_terms(sentences: pd.DataFrame, *, max_words: int = 3) -> pd.DataFrame:
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


def _plain_uses(sentences: pd.DataFrame, terms: Sequence[str]) -> pd.DataFrame:
    """Unquoted occurrences of each term (:func:`form_pattern`, case-sensitive): term, doc_id, sent_id.

    Every maximal ``[\\w-]+`` run of a term is also a maximal run of the text it matches (a match
    is bounded by non-word characters, and its words by spaces or by the term's own
    punctuation), so each term is only tried on the sentences holding all of its runs: one
    pass over the corpus builds that index instead of one pass per term."""
    runs = {term: WORD_RUN.findall(term) for term in terms}
    needed = set().union(*runs.values())
    having: dict[str, set[int]] = defaultdict(set)
    texts = sentences["text"].astype(str).tolist()
    for i, text in enumerate(texts):
        for run in needed.intersection(WORD_RUN.findall(text)):
            having[run].add(i)
    doc_ids, sent_ids = sentences["doc_id"].tolist(), sentences["sent_id"].tolist()
    rows = []
    for term in terms:
        pattern = form_pattern(term, 0)
        where = set.intersection(*sorted((having[r] for r in runs[term]), key=len))
        rows += [(term, doc_ids[i], int(sent_ids[i])) for i in sorted(where)
                 for m in pattern.finditer(texts[i]) if not is_quoted(texts[i], *m.span())]
    return pd.DataFrame(rows, columns=["term", "doc_id", "sent_id"])


def scare_quote_candidates(sentences: pd.DataFrame, outlet_of: pd.Series, *, max_words: int = 3,
                           quoted: pd.DataFrame | None = None) -> pd.DataFrame:
    """Short terms (≤ ``max_words`` words) in matching quote marks, curly or straight, that name
    something (every word capitalised) or that the corpus also uses without quotes in another
    outlet; each comes with its quoted and unquoted uses per outlet (variants ``“term”``, ``term``).

    ``quoted``: the :func:`quoted_terms` table of ``sentences`` for ``max_words`` (computed when
    not given). Returns candidate rows (``CANDIDATE_COLUMNS``, kind ``scare_quote``), sorted by
    key, variant, outlet.
    """
    quoted = quoted_terms(sentences, max_words=max_words) if quoted is None else quoted
    terms = sorted(quoted["term"].unique())
    plain = _plain_uses(sentences, terms)
    hits = pd.concat([quoted[["term", "doc_id", "sent_id"]].assign(variant="“" + quoted["term"] + "”"),
                      plain.assign(variant=plain["term"])], ignore_index=True)
    hits["outlet"] = hits["doc_id"].map(outlet_of)
    hits = hits.dropna(subset=["outlet"])
    is_plain = hits["variant"] == hits["term"]
    plain_outlets = hits.loc[is_plain, ["term", "outlet"]].drop_duplicates()
    quoted_outlets = hits.loc[~is_plain, ["term", "outlet"]].drop_duplicates()
    elsewhere = plain_outlets.merge(quoted_outlets, how="left", indicator=True)
    keep = set(elsewhere.loc[elsewhere["_merge"] == "left_only", "term"])
    keep |= {term for term in terms if all(w[:1].isupper() for w in term.split())}
    out = evidence(hits[hits["term"].isin(keep)], ["term", "variant", "outlet"], sentences)
    return out.rename(columns={"term": "key"}).assign(kind="scare_quote")[CANDIDATE_COLUMNS]


def naming_candidates(sentences: pd.DataFrame, articles: pd.DataFrame, *, quoted: pd.DataFrame | None = None,
                      tokens: pd.DataFrame | None = None) -> pd.DataFrame:
    """Naming choices found without a list: scare quotes and spellings that differ between outlets.

    Returns ``naming_candidates``: kind (``scare_quote``, ``spelling``, ``case``), key (the term,
    or the most frequent spelling of a group), variant, outlet, count, doc_ids, sent_keys,
    example / example_doc_id / example_sent_id; sorted by kind, key, variant, outlet. Spelling
    candidates need two outlets (a warning says so when there is one). ``quoted`` and
    ``tokens``: the :func:`quoted_terms` and :func:`name_tokens` tables of ``sentences``, when
    already computed per document.
    """
    outlet_of = articles.set_index("doc_id")["outlet"]
    parts = [scare_quote_candidates(sentences, outlet_of, quoted=quoted)]
    if articles["outlet"].nunique() < 2:
        warnings.warn("naming candidates: spelling variants are compared between outlets; the corpus has one "
                      "outlet, so only scare quotes are listed.", stacklevel=2)
    else:
        parts.append(spelling_candidates(sentences, outlet_of, tokens=tokens))
    out = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) \
        else pd.DataFrame(columns=CANDIDATE_COLUMNS)
    return out.sort_values(["kind", "key", "variant", "outlet"]).reset_index(drop=True)

"""Naming choices: which outlet calls a thing by which name, with evidence.

Two sources: ``data/naming.yml`` (concepts with competing variants, edited by reporters) and
automatic candidates (short quoted terms that look like scare quotes; spellings of the same name
that differ between outlets).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz

from toolkit.framing import datafile

NAMING_COLUMNS = ["concept", "variant", "outlet", "count", "doc_ids", "sent_keys", "concept_count", "share",
                  "articles", "example", "example_doc_id", "example_sent_id"]
CANDIDATE_COLUMNS = ["kind", "key", "variant", "outlet", "count", "doc_ids", "sent_keys", "example",
                     "example_doc_id", "example_sent_id"]

OPEN_QUOTES = "“\"‘'«„"
CLOSE_QUOTES = "”\"’'»“"
QUOTE_PAIRS = {"“": "”", '"': '"', "‘": "’", "'": "'", "«": "»", "„": "“"}
QUOTED_TERM = re.compile(
    r"(?:^|(?<=[\s(\[—–\-/]))(?P<open>[“\"‘'«„])(?P<term>[^\W\d_][^“”\"‘’'«»„.,;:!?\n]{0,40}?)(?P<close>[”\"’'»“])(?![^\W\d_])")
NAME_TOKEN = re.compile(r"(?<![\w’'\-])[A-Z][^\W\d_]{3,}(?![\w\-])")
VOWELS = "aeiou"


@dataclass(frozen=True)
class Variant:
    """One way of naming a concept: compiled patterns and a quoting requirement (None: any)."""

    name: str
    patterns: tuple[re.Pattern[str], ...]
    quoted: bool | None


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
            patterns = [form_pattern(datafile.text(path, f, "a form"), flags)
                        for f in (datafile.sequence(path, v["forms"], "'forms'", min_len=1) if "forms" in v else [])]
            patterns += [datafile.regex(path, r, "a regex", flags)
                         for r in (datafile.sequence(path, v["regex"], "'regex'", min_len=1) if "regex" in v else [])]
            if not patterns:
                raise datafile.fail(path, vnode, f"variant '{vname}' needs 'forms' or 'regex'")
            quoted = datafile.flag(path, v["quoted"], "'quoted'") if "quoted" in v else None
            variants.append(Variant(vname, tuple(patterns), quoted))
        concepts.append(Concept(name, tuple(variants), exclude))
    return concepts


def is_quoted(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` sits directly between an opening and a closing quote mark
    (curly or straight; an apostrophe followed by a letter, as in "Israel's", is not a quote)."""
    if start == 0 or end >= len(text) or text[start - 1] not in OPEN_QUOTES or text[end] not in CLOSE_QUOTES:
        return False
    return not (end + 1 < len(text) and text[end + 1].isalpha())


def find_variants(sentences: pd.DataFrame, concepts: Sequence[Concept]) -> pd.DataFrame:
    """Every occurrence of every variant: concept, variant, doc_id, sent_id, start, end (in the sentence).

    Within a concept, variants are tried in file order and a span claimed by an earlier variant
    (or by an ``exclude`` pattern) is not counted again, so list specific variants first.
    """
    rows = []
    for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False):
        text = str(text)
        for concept in concepts:
            claimed = [m.span() for p in concept.exclude for m in p.finditer(text)]
            for variant in concept.variants:
                for pattern in variant.patterns:
                    for m in pattern.finditer(text):
                        s, e = m.span()
                        if any(s < ce and cs < e for cs, ce in claimed):
                            continue
                        if variant.quoted is not None and is_quoted(text, s, e) != variant.quoted:
                            continue
                        claimed.append((s, e))
                        rows.append((concept.name, variant.name, doc_id, int(sent_id), s, e))
    return pd.DataFrame(rows, columns=["concept", "variant", "doc_id", "sent_id", "start", "end"])


def _evidence(hits: pd.DataFrame, texts: pd.Series) -> dict:
    """count, doc_ids, sent_keys and the first example of a group of hits (doc_id, sent_id)."""
    keys = hits[["doc_id", "sent_id"]].drop_duplicates().sort_values(["doc_id", "sent_id"])
    first = keys.iloc[0] if len(keys) else None
    return {
        "count": len(hits),
        "doc_ids": ", ".join(sorted(hits["doc_id"].astype(str).unique())),
        "sent_keys": "; ".join(f"{d}:{s}" for d, s in keys.itertuples(index=False)),
        "example": "" if first is None else str(texts.get((first["doc_id"], first["sent_id"]), "")),
        "example_doc_id": "" if first is None else str(first["doc_id"]),
        "example_sent_id": -1 if first is None else int(first["sent_id"]),
    }


def naming_table(sentences: pd.DataFrame, articles: pd.DataFrame, concepts: Sequence[Concept]) -> pd.DataFrame:
    """Counts of each variant per outlet, for every concept found at least once in the corpus.

    Inputs: ``sentences`` (doc_id, sent_id, text), ``articles`` (doc_id, outlet). All variants ×
    all outlets of a found concept are listed, zeros included (not using a name is a choice too).
    Columns: concept, variant, outlet, count, doc_ids (comma-separated), sent_keys ("doc:sent"
    joined by "; "), concept_count (the outlet's uses of any variant of the concept), share
    (count / concept_count; NaN when the outlet never names the concept), articles (articles of
    the outlet), example / example_doc_id / example_sent_id. Sorted by concept and variant in
    file order, then outlet.
    """
    outlet_of = articles.set_index("doc_id")["outlet"]
    hits = find_variants(sentences, concepts)
    hits["outlet"] = hits["doc_id"].map(outlet_of)
    hits = hits.dropna(subset=["outlet"])
    texts = sentences.set_index(["doc_id", "sent_id"])["text"]
    n_articles = articles.groupby("outlet")["doc_id"].nunique()
    outlets = sorted(articles["outlet"].dropna().unique())
    rows = []
    for concept in concepts:
        found = hits[hits["concept"] == concept.name]
        if found.empty:
            continue
        for variant in concept.variants:
            for outlet in outlets:
                group = found[(found["variant"] == variant.name) & (found["outlet"] == outlet)]
                total = int((found["outlet"] == outlet).sum())
                rows.append({"concept": concept.name, "variant": variant.name, "outlet": outlet,
                             **_evidence(group, texts), "concept_count": total,
                             "share": len(group) / total if total else float("nan"),
                             "articles": int(n_articles.get(outlet, 0))})
    return pd.DataFrame(rows, columns=NAMING_COLUMNS)


def skeleton(word: str) -> str:
    """A spelling-insensitive key for a name: lowercase, y→i, doubled letters collapsed, vowels
    after the first letter dropped (Kyiv, Kiev → "kv"; Zelensky, Zelenskyy, Zelenskiy → "zlnsk")."""
    w = re.sub(r"(.)\1+", r"\1", word.lower().replace("y", "i"))
    return w[0] + "".join(c for c in w[1:] if c not in VOWELS)


def _candidate_rows(kind: str, key: str, hits: pd.DataFrame, texts: pd.Series) -> list[dict]:
    """One candidates row per variant and outlet of a group of hits (variant, outlet, doc_id, sent_id)."""
    return [{"kind": kind, "key": key, "variant": variant, "outlet": outlet, **_evidence(group, texts)}
            for (variant, outlet), group in hits.groupby(["variant", "outlet"], sort=True)]


def spelling_candidates(sentences: pd.DataFrame, outlet_of: pd.Series, *, min_similarity: float = 75) -> list[dict]:
    """Capitalised words (not sentence-initial, 4+ letters) spelled differently by different outlets.

    Words are grouped by :func:`skeleton` and kept when at least two spellings exist, each within
    ``min_similarity`` (rapidfuzz ratio, case-insensitive) of the group's most frequent spelling,
    and the outlets do not all use the same set of spellings.
    """
    rows = []
    for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False):
        for m in NAME_TOKEN.finditer(str(text)):
            if m.start() > 0 and str(text)[: m.start()].strip():
                rows.append((skeleton(m.group(0)), m.group(0), doc_id, int(sent_id)))
    words = pd.DataFrame(rows, columns=["key", "variant", "doc_id", "sent_id"])
    words["outlet"] = words["doc_id"].map(outlet_of)
    texts = sentences.set_index(["doc_id", "sent_id"])["text"]
    out = []
    for key, group in words.dropna(subset=["outlet"]).groupby("key", sort=True):
        counts = group["variant"].value_counts()
        if len(counts) < 2 or len(key) < 2:
            continue
        top = sorted(counts.index, key=lambda v: (-counts[v], v))[0]
        similar = [v for v in counts.index if fuzz.ratio(v.lower(), top.lower()) >= min_similarity]
        group = group[group["variant"].isin(similar)]
        if group["variant"].nunique() < 2:
            continue
        usage = group.groupby("outlet")["variant"].agg(frozenset)
        if usage.nunique() < 2:
            continue
        kind = "case" if group["variant"].str.lower().nunique() == 1 else "spelling"
        out += _candidate_rows(kind, top, group, texts)
    return out


WORD_RUN = re.compile(r"[\w\-]+")


def _sentences_with_words(rows: Sequence[tuple], words: set[str]) -> dict[str, list[int]]:
    """For each of ``words``, the positions (ascending) of the rows whose text has it as a whole
    ``[\\w-]+`` run: the only rows where :func:`form_pattern` of a term starting with that word
    can match. Looking terms up here instead of scanning every sentence per term keeps the
    scare-quote search linear in the corpus (it was terms × sentences)."""
    having: dict[str, list[int]] = {w: [] for w in words}
    for i, row in enumerate(rows):
        for word in set(WORD_RUN.findall(str(row[2]))) & words:
            having[word].append(i)
    return having


def scare_quote_candidates(sentences: pd.DataFrame, outlet_of: pd.Series, *, max_words: int = 3) -> list[dict]:
    """Short terms (≤ ``max_words`` words) in matching quote marks, curly or straight, that name
    something (every word capitalised) or that the corpus also uses without quotes in another
    outlet; each comes with its quoted and unquoted uses per outlet (variants ``“term”``, ``term``)."""
    quoted = []
    for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False):
        for m in QUOTED_TERM.finditer(str(text)):
            term = m.group("term").strip()
            if QUOTE_PAIRS.get(m.group("open")) == m.group("close") and term and len(term.split()) <= max_words:
                quoted.append((term, doc_id, int(sent_id), m.start("term"), m.end("term")))
    if not quoted:
        return []
    quoted_df = pd.DataFrame(quoted, columns=["term", "doc_id", "sent_id", "start", "end"])
    texts = sentences.set_index(["doc_id", "sent_id"])["text"]
    rows = list(sentences[["doc_id", "sent_id", "text"]].itertuples(index=False))
    having = _sentences_with_words(rows, {term.split()[0] for term in quoted_df["term"]})
    out = []
    for term, group in quoted_df.groupby("term", sort=True):
        pattern = form_pattern(term, 0)
        first = term.split()[0]
        where = having[first] if WORD_RUN.fullmatch(first) else range(len(rows))
        plain = [(rows[i].doc_id, int(rows[i].sent_id)) for i in where
                 for m in pattern.finditer(str(rows[i].text)) if not is_quoted(str(rows[i].text), *m.span())]
        hits = pd.concat([group[["doc_id", "sent_id"]].assign(variant=f"“{term}”"),
                          pd.DataFrame(plain, columns=["doc_id", "sent_id"]).assign(variant=term)])
        hits["outlet"] = hits["doc_id"].map(outlet_of)
        hits = hits.dropna(subset=["outlet"])
        quoted_outlets = set(hits.loc[hits["variant"] != term, "outlet"])
        plain_outlets = set(hits.loc[hits["variant"] == term, "outlet"])
        name_like = all(w[:1].isupper() for w in term.split())
        if name_like or plain_outlets - quoted_outlets:
            out += _candidate_rows("scare_quote", term, hits, texts)
    return out


def naming_candidates(sentences: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """Naming choices found without a list: scare quotes and spellings that differ between outlets.

    Returns ``naming_candidates``: kind (``scare_quote``, ``spelling``, ``case``), key (the term,
    or the most frequent spelling of a group), variant, outlet, count, doc_ids, sent_keys,
    example / example_doc_id / example_sent_id; sorted by kind, key, variant, outlet. Spelling
    candidates need two outlets (a warning says so when there is one).
    """
    outlet_of = articles.set_index("doc_id")["outlet"]
    rows = scare_quote_candidates(sentences, outlet_of)
    if articles["outlet"].nunique() < 2:
        warnings.warn("naming candidates: spelling variants are compared between outlets; the corpus has one "
                      "outlet, so only scare quotes are listed.", stacklevel=2)
    else:
        rows += spelling_candidates(sentences, outlet_of)
    out = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    return out.sort_values(["kind", "key", "variant", "outlet"]).reset_index(drop=True)

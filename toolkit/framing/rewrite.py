"""Rewrite comparison: what a derived article (``articles.derived_from``) changed in its source.

Sentences are aligned by :func:`toolkit.dedup.align_sentences`; aligned pairs that differ are
diffed word by word with :mod:`difflib` so that short substitutions ("Kyiv" → "Kiev",
"reassurance force" → "peacekeeping force") show their direction.
"""

from __future__ import annotations

import difflib
import re

import pandas as pd

from toolkit.dedup import align_sentences

REWRITE_COLUMNS = ["doc_id", "source_doc_id", "change", "before", "after", "source_sent_id", "derived_sent_id",
                   "similarity", "source_text", "derived_text"]
WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]")


def word_changes(before: str, after: str, *, max_words: int = 3) -> list[tuple[str, str, str]]:
    """Short word-level edits turning ``before`` into ``after``: (change, old words, new words)
    with change in replaced / inserted / deleted; edits longer than ``max_words`` words on
    either side are rephrasing, not word choice, and are left out, as are punctuation-only edits.

    >>> word_changes("Talks in Kyiv went on.", "Talks in Kiev went on.")
    [('replaced', 'Kyiv', 'Kiev')]
    """
    a, b = WORD.findall(before), WORD.findall(after)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        old, new = a[i1:i2], b[j1:j2]
        if op == "equal" or len(old) > max_words or len(new) > max_words:
            continue
        if not any(re.match(r"\w", w) for w in old + new):
            continue
        change = {"replace": "replaced", "insert": "inserted", "delete": "deleted"}[op]
        out.append((change, " ".join(old), " ".join(new)))
    return out


def rewrite_changes(articles: pd.DataFrame, sentences: pd.DataFrame, *, max_words: int = 3,
                    diff: pd.DataFrame | None = None) -> pd.DataFrame:
    """Added and dropped sentences and short word changes of every rewrite against its source.

    Inputs: ``articles`` (doc_id, derived_from) and ``sentences`` (doc_id, sent_id, text).
    Returns ``rewrite_changes``: doc_id (the derived article), source_doc_id, change
    (``added_sentence``, ``dropped_sentence``, ``replaced``, ``inserted``, ``deleted``), before,
    after (the sentence, or the words before and after the edit), source_sent_id,
    derived_sent_id (-1 where there is none), similarity (of the aligned sentences), source_text,
    derived_text. Ordered by article, then as :func:`toolkit.dedup.align_sentences` orders
    sentences, then edit position. ``diff``: the corpus's ``rewrite_diff`` table
    (:func:`toolkit.dedup.rewrite_diff`, the same alignment); pairs found there are not
    aligned again.
    """
    rows = []
    pairs = articles.loc[articles["derived_from"].notna(), ["doc_id", "derived_from"]].sort_values("doc_id")
    involved = sentences[sentences["doc_id"].isin(set(pairs["doc_id"]) | set(pairs["derived_from"]))]
    by_doc = {k: g.sort_values("sent_id") for k, g in involved.groupby("doc_id", sort=False)}
    empty = sentences.iloc[0:0]
    known = {k: g for k, g in diff.groupby(["doc_id", "source_doc_id"], sort=False)} if diff is not None and len(diff) else {}
    for doc_id, source_id in pairs.itertuples(index=False):
        aligned = known.get((doc_id, source_id))
        if aligned is None:
            aligned = align_sentences(by_doc.get(source_id, empty), by_doc.get(doc_id, empty))
        for r in aligned.itertuples(index=False):
            src = -1 if pd.isna(r.source_sent_id) else int(r.source_sent_id)
            der = -1 if pd.isna(r.derived_sent_id) else int(r.derived_sent_id)
            base = (src, der, float(r.similarity), r.source_text or "", r.derived_text or "")
            if r.status == "added":
                rows.append((doc_id, source_id, "added_sentence", "", r.derived_text, *base))
            elif r.status == "dropped":
                rows.append((doc_id, source_id, "dropped_sentence", r.source_text, "", *base))
            else:
                rows += [(doc_id, source_id, change, old, new, *base)
                         for change, old, new in word_changes(r.source_text, r.derived_text, max_words=max_words)]
    return pd.DataFrame(rows, columns=REWRITE_COLUMNS)

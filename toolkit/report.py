"""Descriptive tables of the corpus stage: what was loaded, by outlet, and what was removed.

These are the counts the corpus notebook and charts show; they live here so charts never
compute them.
"""

from __future__ import annotations

import pandas as pd

def outlet_summary(articles: pd.DataFrame, sentences: pd.DataFrame) -> pd.DataFrame:
    """One row per outlet: ``outlet``, ``articles``, ``words``, ``sentences``, sorted by outlet."""
    outlet = articles.set_index("doc_id")["outlet"]
    out = (
        articles.groupby("outlet", sort=True)
        .agg(articles=("doc_id", "size"), words=("n_words", "sum"))
        .reset_index()
    )
    n_sent = sentences["doc_id"].map(outlet).value_counts()
    out["sentences"] = out["outlet"].map(n_sent).fillna(0).astype("int64")
    return out


def removed_by_reason(removed: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """Removed page lines per article and reason, with the first such line as an example.

    Columns: ``doc_id``, ``title``, ``outlet``, ``reason``, ``lines``, ``example``; sorted by
    ``doc_id`` then descending ``lines`` then ``reason``.
    """
    cols = ["doc_id", "title", "outlet", "reason", "lines", "example"]
    if removed.empty:
        return pd.DataFrame(columns=cols)
    grouped = (
        removed.sort_values(["doc_id", "line_no"], kind="stable")
        .groupby(["doc_id", "reason"], sort=True)
        .agg(lines=("line_no", "size"), example=("text", "first"))
        .reset_index()
    )
    meta = articles.set_index("doc_id")
    grouped["title"] = grouped["doc_id"].map(meta["title"])
    grouped["outlet"] = grouped["doc_id"].map(meta["outlet"])
    out = grouped.sort_values(["doc_id", "lines", "reason"], ascending=[True, False, True], kind="stable")
    return out[cols].reset_index(drop=True)


def removal_reasons(removed: pd.DataFrame) -> pd.DataFrame:
    """Removed page lines per reason over the corpus: ``reason``, ``lines``, ``articles``, ``example``.

    ``example`` is the first removed line with that reason (by ``doc_id``, ``line_no``).
    Sorted by reason.
    """
    cols = ["reason", "lines", "articles", "example"]
    if removed.empty:
        return pd.DataFrame(columns=cols)
    ordered = removed.sort_values(["doc_id", "line_no"], kind="stable")
    out = (
        ordered.groupby("reason", sort=True)
        .agg(lines=("line_no", "size"), articles=("doc_id", "nunique"), example=("text", "first"))
        .reset_index()
    )
    return out[cols]

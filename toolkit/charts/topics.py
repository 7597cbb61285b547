"""Topic charts: topic x outlet heatmap, topic sizes, top terms per topic.

Every number drawn comes from the tables of :mod:`toolkit.topics` (``topic_info``,
``topic_outlets``); this module only reshapes them for encoding (splitting the comma-separated
``top_terms`` into ranked rows, joining the example paragraph for tooltips). The heatmap is
composed here from Altair because the chart core offers no heatmap builder.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from toolkit.charts.core import (
    DEFAULT_MIN_N,
    FADED_OPACITY,
    MAX_OUTLETS,
    SEQUENTIAL_SCHEME,
    Figure,
    bar_chart,
    finish,
    select_outlets,
    small_n_note,
    source_line,
)

EXAMPLE_CHARS = 240
"""Length at which tooltip example paragraphs are cut (with an ellipsis)."""


def _short(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _topic_order(info: pd.DataFrame) -> list[str]:
    """Topic labels in topic order (largest topic first, unassigned last)."""
    ranked = info.assign(_last=info["topic"] < 0).sort_values(["_last", "topic"])
    return ranked["topic_label"].tolist()


def _source(assigned: pd.DataFrame) -> str:
    """Credit line: articles and outlets whose paragraphs were modelled (``topics`` table)."""
    return source_line(assigned["doc_id"].nunique(), assigned["outlet"].nunique())


def heatmap_figure(info: pd.DataFrame, outlets: pd.DataFrame, source: str, *, articles: pd.DataFrame | None = None,
                   min_n: int = DEFAULT_MIN_N, max_outlets: int = MAX_OUTLETS) -> Figure:
    """Share of each outlet's paragraphs in each topic; columns labelled with the outlet's n.

    With more than ``max_outlets`` outlets, the columns are the outlets with the most
    ``articles`` (:func:`~toolkit.charts.core.select_outlets`) and a footnote says what is left
    out; the figure's data (the CSV) holds every outlet.
    """
    examples = info.set_index("topic")["example"].map(_short)
    data = outlets.assign(
        outlet_n=outlets["outlet"] + " (n=" + outlets["n"].astype(str) + ")",
        example=outlets["topic"].map(examples),
        only_outlet=outlets["single_outlet"].map({True: "yes", False: "no"}),
    )
    order = _topic_order(info)
    selection = select_outlets(articles if articles is not None else data.drop_duplicates("outlet"),
                               data["outlet"], limit=max_outlets)
    drawn = data[data["outlet"].isin(selection.shown)]
    columns = drawn.drop_duplicates("outlet").sort_values("outlet")["outlet_n"].tolist()
    base = alt.Chart(drawn).encode(
        x=alt.X("outlet_n:N", sort=columns, title=None, axis=alt.Axis(labelAngle=-30, orient="top")),
        y=alt.Y("topic_label:N", sort=order, title=None),
    )
    faded = alt.when(alt.datum["n"] < min_n).then(alt.value(FADED_OPACITY)).otherwise(alt.value(1.0))
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme=SEQUENTIAL_SCHEME, domain=[0, 1]),
                        title="Share", legend=alt.Legend(format=".0%")),
        opacity=faded,
        tooltip=[
            alt.Tooltip("topic_label:N", title="topic"), alt.Tooltip("outlet:N"),
            alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("ci_low:Q", format=".0%", title="95% CI low"),
            alt.Tooltip("ci_high:Q", format=".0%", title="95% CI high"),
            alt.Tooltip("paragraphs:Q"), alt.Tooltip("articles:Q"), alt.Tooltip("n:Q", title="n (paragraphs)"),
            alt.Tooltip("only_outlet:N", title="only this outlet covers it"),
            alt.Tooltip("example:N", title="example paragraph"),
        ],
    )
    labels = base.mark_text(fontSize=12).encode(
        text=alt.Text("share:Q", format=".0%"),
        color=alt.when(alt.datum["share"] > 0.5).then(alt.value("black")).otherwise(alt.value("white")),
        opacity=faded,
    )
    chart = alt.layer(cells, labels, width=alt.Step(90), height=alt.Step(30))
    top = drawn.loc[drawn["share"].idxmax()]
    alt_text = (f"Heatmap of the share of each outlet's paragraphs in each of {len(order)} topics, for "
                f"{selection.counted()}. The largest share is {top['share']:.0%} of {top['outlet']}'s "
                f"{top['n']} paragraphs, on the topic \"{top['topic_label']}\".")
    chart = finish(chart, title="What each outlet writes about",
                   subtitle="Share of each outlet's paragraphs per topic (n = paragraphs modelled)",
                   source=source, notes=[small_n_note(drawn, "n", min_n, "paragraphs"), selection.note()])
    return Figure(name="topics-by-outlet", chart=chart, data=data, alt_text=alt_text)


def sizes_figure(info: pd.DataFrame, source: str) -> Figure:
    """Paragraphs per topic, with reach (articles, outlets) and an example in the tooltip."""
    data = info.assign(example=info["example"].map(_short))[
        ["topic", "topic_label", "size", "articles", "outlets", "top_terms", "example", "doc_id", "para_id"]]
    chart = bar_chart(
        data, category="topic_label", value="size", n_col=None,
        tooltip=["articles", "outlets", "top_terms", "example", "doc_id"],
        value_title="Paragraphs", category_title=None, value_format="d", n_label="paragraphs",
        title="How big each topic is", subtitle="Paragraphs assigned to each topic",
        source=source,
    )
    top = data.sort_values(["size", "topic"], ascending=[False, True]).iloc[0]
    alt_text = (f"Bar chart of the number of paragraphs in each of {len(data)} topics. The largest, "
                f"\"{top['topic_label']}\", holds {top['size']} of {int(data['size'].sum())} paragraphs.")
    return Figure(name="topic-sizes", chart=chart, data=data, alt_text=alt_text)


def terms_figure(info: pd.DataFrame, source: str) -> Figure:
    """The c-TF-IDF terms of each topic, best first, as a grid of words (one row per topic)."""
    rows = [{"topic": r.topic, "topic_label": r.topic_label, "rank": rank, "term": term}
            for r in info.itertuples() for rank, term in enumerate(str(r.top_terms).split(", "), start=1) if term]
    data = pd.DataFrame(rows, columns=["topic", "topic_label", "rank", "term"])
    chart = alt.Chart(data).mark_text(align="left", fontSize=13).encode(
        x=alt.X("rank:O", title="Term rank (1 = most distinctive of the topic)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("topic_label:N", sort=_topic_order(info), title=None),
        text="term:N",
        tooltip=[alt.Tooltip("topic_label:N", title="topic"), "rank:O", "term:N"],
    ).properties(width=alt.Step(95), height=alt.Step(26))
    first = data[data["rank"] == 1]
    alt_text = (f"Table of the most distinctive terms (c-TF-IDF) of {info['topic'].nunique()} topics; "
                f"the top terms are " + ", ".join(f"\"{t}\"" for t in first["term"].head(5)) + ".")
    chart = finish(chart, title="Words that define each topic",
                   subtitle="Terms most distinctive of each topic's paragraphs, best first",
                   source=source)
    return Figure(name="topic-terms", chart=chart, data=data, alt_text=alt_text)


def figures(tables: Mapping[str, pd.DataFrame]) -> list[Figure]:
    """Topic figures from ``topic_info``, ``topic_outlets`` and ``topics`` (none without topics).

    Returns the topic x outlet heatmap (``topics-by-outlet``), topic sizes (``topic-sizes``) and
    top terms per topic (``topic-terms``).
    """
    info, outlets, assigned = (tables.get(name) for name in ("topic_info", "topic_outlets", "topics"))
    if any(t is None or t.empty for t in (info, outlets, assigned)) or not (info["topic"] >= 0).any():
        return []
    source = _source(assigned)
    return [heatmap_figure(info, outlets, source, articles=tables.get("articles")), sizes_figure(info, source),
            terms_figure(info, source)]

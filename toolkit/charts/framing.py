"""Charts of the framing stage: frame shares, distinctive terms, naming choices, quoted voices.

Every number drawn here comes from the framing tables (``frame_shares``, ``distinctive_terms``,
``naming``, ``attribution_by_outlet``); this module only selects rows and encodes them. The core
has no interval, diverging-bar or stacked-bar builder, so those are composed from Altair here
with the core's pieces (outlet colours, faded small-n marks, :func:`~toolkit.charts.core.finish`).
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from toolkit.charts.core import (
    DIVERGING_COLORS,
    FADED_OPACITY,
    MAX_OUTLET_PANELS,
    Figure,
    finish,
    outlet_scale,
    select_outlets,
    source_line,
)

#: Sentences below which a frame share is drawn faded.
MIN_SENTENCES = 30
#: Frames shown in the frame-share chart (highest share in any outlet first).
TOP_FRAMES = 10
#: Speakers per outlet in the attribution chart (most attributions first).
TOP_SPEAKERS = 8
VERB_GROUP_COLORS = {"neutral": "#999999", "emphatic": "#0072B2", "doubting": "#D55E00"}


def _source(tables: Mapping[str, pd.DataFrame]) -> str:
    """The credit line from the ``articles`` table."""
    articles = tables.get("articles", pd.DataFrame(columns=["outlet"]))
    return source_line(len(articles), articles["outlet"].nunique())


def _outlets(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """All outlets of the corpus (for stable colours)."""
    articles = tables.get("articles", pd.DataFrame(columns=["outlet"]))
    return sorted(articles["outlet"].dropna().astype(str).unique())


def frame_share_figure(shares: pd.DataFrame, outlets: list[str], source: str, articles: pd.DataFrame) -> Figure:
    """Dot-and-interval chart: share of each outlet's sentences carrying each frame (top frames).

    Draws the outlets with the most ``articles`` (:func:`~toolkit.charts.core.select_outlets`),
    one 12-px band per outlet within each frame; the figure's data holds every outlet.
    """
    top = (shares.groupby("label")["share"].max().sort_values(ascending=False, kind="stable")
           .head(TOP_FRAMES).index.tolist())
    data = shares[shares["label"].isin(top)].copy()
    selection = select_outlets(articles, data["outlet"])
    drawn = data[data["outlet"].isin(selection.shown)]
    y = alt.Y("label:N", sort=top, title=None)
    faded = alt.when(alt.datum.n < MIN_SENTENCES).then(alt.value(FADED_OPACITY)).otherwise(alt.value(1.0))
    color = alt.Color("outlet:N", scale=outlet_scale(outlets), title="Outlet", legend=selection.legend())
    tooltip = [alt.Tooltip("outlet:N"), alt.Tooltip("label:N", title="frame"),
               alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("ci_low:Q", format=".0%", title="95% CI low"),
               alt.Tooltip("ci_high:Q", format=".0%", title="95% CI high"),
               alt.Tooltip("sentences:Q", title="sentences with frame"), alt.Tooltip("n:Q", title="n sentences"),
               alt.Tooltip("articles:Q"), alt.Tooltip("example:N", title="example")]
    base = alt.Chart(drawn).encode(y=y, yOffset=alt.YOffset("outlet:N"), color=color, opacity=faded, tooltip=tooltip)
    rules = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q", title="Share of sentences",
                                                         axis=alt.Axis(format="%")), x2="ci_high:Q")
    chart = alt.layer(rules, base.mark_point(filled=True, size=70).encode(x="share:Q")) \
        .properties(width=460, height=alt.Step(12))
    lead = drawn.sort_values(["share", "outlet", "label"], ascending=[False, True, True]).iloc[0]
    notes = [f"Lines are 95% Wilson intervals; faded marks rest on fewer than {MIN_SENTENCES} sentences.",
             selection.note()]
    chart = finish(chart, title="How each outlet frames the story",
                   subtitle="Share of sentences carrying each frame (codebook cues + similarity to prototypes)",
                   source=source, notes=notes)
    alt_text = (f"Dot chart with 95% intervals of the share of each outlet's sentences carrying each of the "
                f"{len(top)} most frequent frames. Highest: {lead['label']} in {lead['outlet']} "
                f"({lead['share']:.0%} of {int(lead['n'])} sentences).")
    return Figure("framing-frame-shares", chart, data.reset_index(drop=True), alt_text)


def distinctive_figure(terms: pd.DataFrame, source: str, articles: pd.DataFrame, per_side: int = 10) -> Figure:
    """Diverging bars of z-scores: terms each outlet over-uses (right) and under-uses (left).

    One panel per outlet for the ``MAX_OUTLET_PANELS`` outlets with the most ``articles``; the
    figure's data holds every outlet.
    """
    data = terms.assign(side=terms["z"].gt(0).map({True: "used more by this outlet", False: "used more by the others"}))
    data = data.sort_values(["outlet", "z"], ascending=[True, False])
    data = pd.concat([data[data["z"] > 0].groupby("outlet").head(per_side),
                      data[data["z"] < 0].groupby("outlet").tail(per_side)]).sort_values(["outlet", "z"], ascending=[True, False])
    selection = select_outlets(articles, data["outlet"], limit=MAX_OUTLET_PANELS)
    drawn = data[data["outlet"].isin(selection.shown)]
    chart = alt.Chart(drawn).mark_bar().encode(
        x=alt.X("z:Q", title="z-score of the log-odds ratio (informative Dirichlet prior)"),
        y=alt.Y("term:N", sort="-x", title=None),
        color=alt.Color("side:N", scale=alt.Scale(domain=["used more by the others", "used more by this outlet"],
                                                  range=list(DIVERGING_COLORS)), title=None),
        tooltip=[alt.Tooltip("outlet:N"), alt.Tooltip("term:N"), alt.Tooltip("z:Q", format=".2f"),
                 alt.Tooltip("log_odds:Q", format=".2f"), alt.Tooltip("count:Q", title="uses in outlet"),
                 alt.Tooltip("count_rest:Q", title="uses in other outlets"), alt.Tooltip("example:N")],
    ).properties(width=300, height=alt.Step(16)).facet(
        facet=alt.Facet("outlet:N", title=None), columns=2).resolve_scale(y="independent")
    top = drawn.sort_values(["z", "outlet", "term"], ascending=[False, True, True]).iloc[0]
    chart = finish(chart, title="Words that set each outlet apart",
                   subtitle="Terms and phrases an outlet uses more (right) or less (left) than all other outlets",
                   source=source, notes=["Only terms with |z| ≥ 1.96 are shown (Monroe, Colaresi & Quinn 2008).",
                                         selection.note()])
    alt_text = (f"Diverging bar chart of the most distinctive terms per outlet against all others "
                f"(z-scores of a log-odds ratio). Most distinctive: \"{top['term']}\" for {top['outlet']} "
                f"(z = {top['z']:.1f}, {int(top['count'])} uses vs {int(top['count_rest'])} elsewhere).")
    return Figure("framing-distinctive-terms", chart, data.reset_index(drop=True), alt_text)


def naming_figure(naming: pd.DataFrame, outlets: list[str], source: str, articles: pd.DataFrame) -> Figure:
    """Grouped bars: how often each outlet uses each variant of each concept (variants used at least once).

    Bars for the outlets with the most ``articles``; the figure's data holds every outlet.
    """
    used = naming.groupby(["concept", "variant"])["count"].transform("sum") > 0
    data = naming[used].reset_index(drop=True)
    selection = select_outlets(articles, data["outlet"])
    chart = alt.Chart(data[data["outlet"].isin(selection.shown)]).mark_bar().encode(
        x=alt.X("count:Q", title="Uses", stack=None),
        y=alt.Y("variant:N", title=None, sort=None),
        yOffset=alt.YOffset("outlet:N"),
        color=alt.Color("outlet:N", scale=outlet_scale(outlets), title="Outlet", legend=selection.legend()),
        tooltip=[alt.Tooltip("concept:N"), alt.Tooltip("variant:N"), alt.Tooltip("outlet:N"),
                 alt.Tooltip("count:Q"), alt.Tooltip("share:Q", format=".0%", title="share of the concept's uses"),
                 alt.Tooltip("articles:Q", title="outlet's articles"), alt.Tooltip("doc_ids:N"),
                 alt.Tooltip("example:N")],
    ).properties(width=300, height=alt.Step(8)).facet(
        facet=alt.Facet("concept:N", title=None, sort=list(dict.fromkeys(data["concept"]))), columns=2
    ).resolve_scale(y="independent")
    split = (data[data["count"] > 0].groupby("concept")["variant"].nunique() > 1)
    contested = split[split].index.tolist()
    chart = finish(chart, title="What each outlet calls it",
                   subtitle="Uses of competing names for the same thing (data/naming.yml)", source=source,
                   notes=[selection.note()])
    alt_text = (f"Grouped bar chart of how often each outlet uses each variant of {data['concept'].nunique()} "
                f"concepts; {len(contested)} of them are named in more than one way"
                + (f", e.g. {contested[0]}." if contested else "."))
    return Figure("framing-naming", chart, data, alt_text)


def attribution_figure(by_outlet: pd.DataFrame, outlets: list[str], source: str, articles: pd.DataFrame) -> Figure:
    """Stacked bars: each outlet's most quoted speakers, split by reporting-verb group.

    One panel per outlet for the ``MAX_OUTLET_PANELS`` outlets with the most ``articles``; the
    figure's data holds every outlet.
    """
    totals = by_outlet.groupby(["outlet", "speaker"])["count"].sum().reset_index()
    totals = totals.sort_values(["outlet", "count", "speaker"], ascending=[True, False, True])
    keep = totals.groupby("outlet").head(TOP_SPEAKERS)[["outlet", "speaker"]]
    data = by_outlet.merge(keep, on=["outlet", "speaker"]).reset_index(drop=True)
    selection = select_outlets(articles, data["outlet"], limit=MAX_OUTLET_PANELS)
    drawn = data[data["outlet"].isin(selection.shown)]
    chart = alt.Chart(drawn).mark_bar().encode(
        x=alt.X("count:Q", title="Attributions (quotes and paraphrases)"),
        y=alt.Y("speaker:N", sort="-x", title=None),
        color=alt.Color("verb_group:N", title="Reporting verb",
                        scale=alt.Scale(domain=list(VERB_GROUP_COLORS), range=list(VERB_GROUP_COLORS.values()))),
        order=alt.Order("verb_group:N"),
        tooltip=[alt.Tooltip("outlet:N"), alt.Tooltip("speaker:N"), alt.Tooltip("verb_group:N"),
                 alt.Tooltip("count:Q"), alt.Tooltip("n:Q", title="all attributions in outlet"),
                 alt.Tooltip("verbs:N"), alt.Tooltip("without_evidence:Q", title="'without evidence'"),
                 alt.Tooltip("example:N")],
    ).properties(width=300, height=alt.Step(18)).facet(
        facet=alt.Facet("outlet:N", title=None), columns=2).resolve_scale(y="independent")
    lead = drawn.sort_values(["count", "outlet", "speaker"], ascending=[False, True, True]).iloc[0]
    chart = finish(chart, title="Whose voices each outlet carries",
                   subtitle="Speakers quoted or paraphrased, by reporting verb: neutral (said), emphatic (insisted), "
                            "doubting (claimed)", source=source, notes=[selection.note()])
    alt_text = (f"Stacked bar chart of the most quoted speakers per outlet by reporting-verb group. "
                f"Largest: {lead['speaker']} in {lead['outlet']} ({int(lead['count'])} {lead['verb_group']} "
                f"attributions of {int(lead['n'])}).")
    return Figure("framing-attribution", chart, data, alt_text)


def figures(tables: Mapping[str, pd.DataFrame]) -> list[Figure]:
    """The framing figures for which the tables have rows, in a fixed order: frame shares,
    distinctive terms, naming choices, attribution."""
    outlets, source = _outlets(tables), _source(tables)
    articles = tables.get("articles", pd.DataFrame(columns=["outlet"]))
    out = []
    shares = tables.get("frame_shares")
    if shares is not None and not shares.empty and shares["sentences"].sum() > 0:
        out.append(frame_share_figure(shares, outlets, source, articles))
    terms = tables.get("distinctive_terms")
    if terms is not None and not terms.empty:
        out.append(distinctive_figure(terms, source, articles))
    naming = tables.get("naming")
    if naming is not None and not naming.empty and naming["count"].sum() > 0:
        out.append(naming_figure(naming, outlets, source, articles))
    by_outlet = tables.get("attribution_by_outlet")
    if by_outlet is not None and not by_outlet.empty:
        out.append(attribution_figure(by_outlet, outlets, source, articles))
    return out

"""Charts of the actors stage: who appears, and with whom, by outlet.

Every number drawn here comes from the actors tables (``actors``, ``comentions``,
``actor_prominence``); this module selects rows, joins the evidence sentence's article
title and encodes them. The one thing computed is geometry: node positions of the
co-mention network (networkx spring layout, seeded), shared by the all-outlet network
and the per-outlet small multiples so an actor sits in the same place in every panel.
The core has no network, heatmap or dot-and-interval builder yet, so those are composed
from Altair here with the core's pieces (outlet colours, faded small-n marks,
:func:`~toolkit.charts.core.finish`); the ego view uses the core's ``bar_chart``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import networkx as nx
import pandas as pd

from toolkit.actors import evidence_text, first_evidence
from toolkit.charts.core import (
    FADED_OPACITY,
    MAX_OUTLET_PANELS,
    MUTED_INK,
    SEQUENTIAL_SCHEME,
    Figure,
    bar_chart,
    finish,
    outlet_scale,
    select_outlets,
    source_line,
)

TOP_NODES = 20
"""Actors (most mentioned first) drawn in the networks."""
TOP_MATRIX = 12
"""Actors in the co-mention matrix."""
TOP_EGO = 10
"""Partners shown in the ego view."""
TOP_PROMINENCE = 10
"""Actors in the prominence chart."""
MIN_UNITS = 3
"""Pairs named together in fewer sentences, and shares resting on fewer sentences, are faded."""
LEVEL = "sentence"
"""Co-mention level drawn (``comentions.level``)."""
TYPE_COLORS = {"person": "#332288", "country": "#E69F00", "organization": "#44AA99", "place": "#999933",
               "group": "#CC6677"}
NOTE = f"Faded marks rest on fewer than {MIN_UNITS} sentences; read them with caution."


def _faded(column: str) -> alt.Opacity:
    return alt.when(alt.datum[column] < MIN_UNITS).then(alt.value(FADED_OPACITY)).otherwise(alt.value(1.0))


def _with_evidence(frame: pd.DataFrame, articles: pd.DataFrame, sentences: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame`` plus ``evidence_title``, title of the article of the first ``evidence`` key, and,
    when ``frame`` has none (co-mentions carry keys only), ``evidence_text`` from ``sentences``."""
    titles = articles.drop_duplicates("doc_id").set_index("doc_id")["title"] if "title" in articles else pd.Series(dtype=str)
    frame = frame.assign(evidence_title=first_evidence(frame)[0].map(titles).fillna(""))
    if "evidence_text" not in frame:
        frame["evidence_text"] = evidence_text(frame, sentences)
    return frame


def _evidence_tooltip() -> list[alt.Tooltip]:
    return [alt.Tooltip("evidence_text:N", title="Example sentence"),
            alt.Tooltip("evidence_title:N", title="… in article")]


def layout(nodes: Sequence[str], edges: pd.DataFrame) -> pd.DataFrame:
    """Seeded spring-layout positions (columns ``actor``, ``x``, ``y``) of ``nodes`` linked by ``edges``
    (``actor_a``, ``actor_b``, ``units`` as weight)."""
    graph = nx.Graph()
    graph.add_nodes_from(sorted(nodes))
    graph.add_weighted_edges_from(edges[["actor_a", "actor_b", "units"]].itertuples(index=False, name=None),
                                  weight="units")
    positions = nx.spring_layout(graph, seed=0, weight="units")
    return pd.DataFrame([(a, round(float(p[0]), 4), round(float(p[1]), 4)) for a, p in sorted(positions.items())],
                        columns=["actor", "x", "y"])


def _network_layers(size: str, *, max_size: int, max_units: float, max_nodes: float
                    ) -> tuple[alt.Chart, alt.Chart, alt.Chart]:
    """The three layers of :func:`_network_chart`, without data: edges (width = ``units``), nodes
    (area = ``size``) and their labels, axes hidden. Built once for all the panels of a small
    multiple (building Altair encodings was a quarter of the actors' charts' time).

    Edges fade with ``strokeOpacity``, not ``opacity``: a rule is a stroke alone, so both look the
    same (PNG pixels within 8/255), but an SVG element with ``opacity`` is drawn into a layer of
    its own and composited, which made rasterising the per-outlet small multiples (1,600 edges at
    10,000 articles) take 2.5 s instead of 0.6 s.
    """
    axis = {"axis": None}
    edge_layer = alt.Chart().mark_rule(color=MUTED_INK).encode(
        x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis), x2="x2:Q", y2="y2:Q",
        strokeWidth=alt.StrokeWidth("units:Q", scale=alt.Scale(domain=[0, max_units], range=[0, 9]), legend=None),
        strokeOpacity=alt.when(alt.datum.units < MIN_UNITS).then(alt.value(0.15)).otherwise(alt.value(0.6)),
        tooltip=[alt.Tooltip("actor_a:N", title="Actor"), alt.Tooltip("actor_b:N", title="with"),
                 alt.Tooltip("units:Q", title="Sentences together"), alt.Tooltip("articles:Q", title="Articles"),
                 alt.Tooltip("pmi:Q", format=".2f", title="PMI"), *_evidence_tooltip()],
    )
    node_base = alt.Chart().encode(x=alt.X("x:Q", **axis), y=alt.Y("y:Q", **axis))
    node_layer = node_base.mark_circle(opacity=0.9, stroke="white").encode(
        size=alt.Size(f"{size}:Q", scale=alt.Scale(domain=[0, max_nodes], range=[0, max_size]), legend=None),
        color=alt.Color("actor_type:N", scale=alt.Scale(domain=list(TYPE_COLORS), range=list(TYPE_COLORS.values())),
                        title="Type"),
        tooltip=[alt.Tooltip("actor:N", title="Actor"), alt.Tooltip("actor_type:N", title="Type"),
                 alt.Tooltip(f"{size}:Q", title="Sentences" if size == "sentences" else "Mentions")],
    )
    labels = node_base.mark_text(dy=-12, fontSize=11, color="#222222").encode(text="actor:N")
    return edge_layer, node_layer, labels


def _network_chart(nodes: pd.DataFrame, edges: pd.DataFrame, layers: tuple[alt.Chart, alt.Chart, alt.Chart], *,
                   width: int, title: str | None = None) -> alt.LayerChart:
    """:func:`_network_layers` drawn with ``edges`` and ``nodes``, ``width`` wide (height 3/4 of it)."""
    edge_layer, node_layer, labels = layers
    return alt.layer(edge_layer.properties(data=edges), node_layer.properties(data=nodes),
                     labels.properties(data=nodes), width=width, height=width * 0.75,
                     title=alt.Undefined if title is None else title)


def _edges_with_positions(edges: pd.DataFrame, positions: pd.DataFrame) -> pd.DataFrame:
    pos = positions.set_index("actor")
    return edges.assign(x=edges["actor_a"].map(pos["x"]), y=edges["actor_a"].map(pos["y"]),
                        x2=edges["actor_b"].map(pos["x"]), y2=edges["actor_b"].map(pos["y"]))


def network_figures(actors: pd.DataFrame, pairs: pd.DataFrame, prominence: pd.DataFrame, articles: pd.DataFrame,
                    sentences: pd.DataFrame, source: str) -> list[Figure]:
    """The all-outlet co-mention network and the per-outlet small multiples (same node positions)."""
    top = actors.head(TOP_NODES)
    names = set(top["actor"])
    inside = pairs[pairs["actor_a"].isin(names) & pairs["actor_b"].isin(names)]
    overall = _with_evidence(inside[inside["outlet"] == "ALL"], articles, sentences)
    if overall.empty:
        return []
    positions = layout(sorted(names), overall)
    nodes = top[["actor", "actor_type", "mentions"]].merge(positions, on="actor")
    edges = _edges_with_positions(overall, positions)
    strongest = overall.iloc[0]
    figs = [Figure(
        name="actors-network",
        chart=finish(
            _network_chart(nodes, edges, _network_layers("mentions", max_size=1600, max_units=float(edges["units"].max()),
                                                         max_nodes=float(nodes["mentions"].max())), width=560),
            title="Who is named with whom",
            subtitle=f"The {len(nodes)} most-named actors; circle area = mentions, line width = sentences naming both",
            source=source, notes=[NOTE if (edges["units"] < MIN_UNITS).any() else None],
        ),
        data=edges[["actor_a", "actor_b", "units", "articles", "pmi", "jaccard", "evidence", "evidence_text"]],
        alt_text=(f"Network chart of the {len(nodes)} most-named actors across all outlets, linked when named in the "
                  f"same sentence; the strongest link is {strongest['actor_a']} and {strongest['actor_b']}, "
                  f"named together in {int(strongest['units'])} sentences."),
    )]
    outlets = sorted(o for o in inside["outlet"].unique() if o != "ALL")
    if len(outlets) < 2:
        return figs
    selection = select_outlets(articles, outlets, limit=MAX_OUTLET_PANELS)
    outlets = sorted(selection.shown)
    per_outlet = _with_evidence(inside[inside["outlet"] != "ALL"], articles, sentences)
    drawn = per_outlet[per_outlet["outlet"].isin(outlets)]
    sizes = prominence[prominence["actor"].isin(names) & (prominence["outlet"] != "ALL")]
    max_units = float(drawn["units"].max())
    max_nodes = float(sizes[sizes["outlet"].isin(outlets)]["sentences"].max())
    layers = _network_layers("sentences", max_size=700, max_units=max_units, max_nodes=max_nodes)
    panels = []
    for outlet in outlets:
        outlet_nodes = sizes[sizes["outlet"] == outlet][["actor", "actor_type", "sentences"]].merge(positions, on="actor")
        outlet_edges = _edges_with_positions(drawn[drawn["outlet"] == outlet], positions)
        panels.append(_network_chart(outlet_nodes, outlet_edges, layers, width=300, title=outlet))
    busiest = drawn.sort_values(["units", "outlet"], ascending=[False, True]).iloc[0]
    figs.append(Figure(
        name="actors-network-by-outlet",
        chart=finish(
            alt.concat(*panels, columns=3),
            title="Which actors each outlet puts side by side",
            subtitle="Same positions in every panel; circle area = sentences naming the actor, "
                     "line width = sentences naming both",
            source=source,
            notes=[NOTE if (drawn["units"] < MIN_UNITS).any() else None, selection.note()],
        ),
        data=per_outlet[["outlet", "actor_a", "actor_b", "units", "articles", "pmi", "evidence", "evidence_text"]],
        alt_text=(f"Small-multiple network charts, one per outlet for {selection.counted()}; the strongest "
                  f"outlet-level link is {busiest['actor_a']} and {busiest['actor_b']} in {busiest['outlet']}, "
                  f"{int(busiest['units'])} sentences."),
    ))
    return figs


def matrix_figure(actors: pd.DataFrame, pairs: pd.DataFrame, articles: pd.DataFrame, sentences: pd.DataFrame,
                  source: str) -> Figure | None:
    """Heatmap of sentences naming both actors, for the most-named actors (all outlets)."""
    order = actors.head(TOP_MATRIX)["actor"].tolist()
    overall = pairs[(pairs["outlet"] == "ALL") & pairs["actor_a"].isin(order) & pairs["actor_b"].isin(order)]
    if overall.empty:
        return None
    overall = _with_evidence(overall, articles, sentences)
    mirrored = pd.concat([overall, overall.rename(columns={"actor_a": "actor_b", "actor_b": "actor_a"})],
                         ignore_index=True)
    base = alt.Chart(mirrored).encode(
        x=alt.X("actor_a:N", sort=order, title=None, axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("actor_b:N", sort=order, title=None),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("units:Q", scale=alt.Scale(scheme=SEQUENTIAL_SCHEME, reverse=True), title="Sentences"),
        opacity=_faded("units"),
        tooltip=[alt.Tooltip("actor_a:N", title="Actor"), alt.Tooltip("actor_b:N", title="with"),
                 alt.Tooltip("units:Q", title="Sentences together"), alt.Tooltip("articles:Q", title="Articles"),
                 alt.Tooltip("jaccard:Q", format=".2f", title="Jaccard"), alt.Tooltip("pmi:Q", format=".2f", title="PMI"),
                 *_evidence_tooltip()],
    )
    text = base.mark_text(fontSize=10, color="white").encode(text="units:Q")
    top = overall.iloc[0]
    return Figure(
        name="actors-comention-matrix",
        chart=finish(alt.layer(cells, text, width=alt.Step(34), height=alt.Step(26)),
                     title="How often the main actors are named together",
                     subtitle="Sentences naming both actors, all outlets", source=source,
                     notes=[NOTE if (overall["units"] < MIN_UNITS).any() else None]),
        data=overall[["actor_a", "actor_b", "units", "articles", "jaccard", "pmi", "evidence", "evidence_text"]],
        alt_text=(f"Matrix of the {len(order)} most-named actors showing how many sentences name each pair; "
                  f"{top['actor_a']} and {top['actor_b']} are named together most, in {int(top['units'])} sentences."),
    )


def ego_figure(actors: pd.DataFrame, pairs: pd.DataFrame, articles: pd.DataFrame, sentences: pd.DataFrame,
               outlets: list[str], source: str) -> Figure | None:
    """Who appears with the most-named person, by outlet (bars = sentences naming both)."""
    people = actors[actors["actor_type"] == "person"]
    if people.empty:
        return None
    ego = people.iloc[0]["actor"]
    around = pairs[(pairs["actor_a"] == ego) | (pairs["actor_b"] == ego)]
    around = around.assign(partner=around["actor_b"].where(around["actor_a"] == ego, around["actor_a"]))
    partners = around[around["outlet"] == "ALL"].head(TOP_EGO)["partner"].tolist()
    data = _with_evidence(around[(around["outlet"] != "ALL") & around["partner"].isin(partners)], articles, sentences)
    if data.empty:
        return None
    top = around[around["outlet"] == "ALL"].iloc[0]
    selection = select_outlets(articles, data["outlet"], limit=MAX_OUTLET_PANELS)
    return Figure(
        name="actors-ego",
        chart=bar_chart(data[data["outlet"].isin(selection.shown)], category="partner", value="units", n_col="articles", color="outlet", outlets=outlets,
                        tooltip=["evidence_text", "evidence_title"], value_title="Sentences naming both",
                        value_format=",.0f", n_label="articles", min_n=2, facet="outlet", category_title=None,
                        title=f"Who appears with {ego}, by outlet",
                        subtitle=f"Sentences naming {ego} and each actor (n = articles); the {len(partners)} most "
                                 "frequent partners across all outlets", source=source, notes=[selection.note()]),
        data=data[["outlet", "partner", "units", "articles", "pmi", "evidence", "evidence_text"]],
        alt_text=(f"Bar charts, one per outlet, of the actors named in the same sentence as {ego}; across all "
                  f"outlets {top['partner']} appears with {ego} most often, in {int(top['units'])} sentences."),
    )


def prominence_figure(prominence: pd.DataFrame, articles: pd.DataFrame, outlets: list[str], source: str
                      ) -> Figure | None:
    """Share of each outlet's sentences naming each of the most prominent actors, with 95% intervals."""
    overall = prominence[prominence["outlet"] == "ALL"]
    order = overall.head(TOP_PROMINENCE)["actor"].tolist()
    data = prominence[(prominence["outlet"] != "ALL") & prominence["actor"].isin(order)]
    if data.empty:
        return None
    data = _with_evidence(data, articles)
    selection = select_outlets(articles, data["outlet"])
    drawn = data[data["outlet"].isin(selection.shown)]
    y = alt.Y("actor:N", sort=order, title=None)
    color = alt.Color("outlet:N", scale=outlet_scale(outlets), title="Outlet", legend=selection.legend())
    base = alt.Chart(drawn).encode(y=y, yOffset=alt.YOffset("outlet:N", sort=outlets), color=color,
                                  opacity=_faded("sentences"))
    rules = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q", title="Share of the outlet's sentences",
                                                         axis=alt.Axis(format="%")), x2="ci_high:Q")
    dots = base.mark_circle(size=70).encode(
        x="share:Q",
        tooltip=[alt.Tooltip("outlet:N"), alt.Tooltip("actor:N"), alt.Tooltip("share:Q", format=".1%"),
                 alt.Tooltip("ci_low:Q", format=".1%", title="95% CI from"), alt.Tooltip("ci_high:Q", format=".1%", title="to"),
                 alt.Tooltip("sentences:Q", title="Sentences naming the actor"),
                 alt.Tooltip("n_sentences_outlet:Q", title="Sentences of the outlet"), *_evidence_tooltip()],
    )
    lead = overall.iloc[0]
    return Figure(
        name="actors-prominence",
        chart=finish(alt.layer(rules, dots, width=460, height=alt.Step(14)),
                     title="How prominent each actor is, by outlet",
                     subtitle="Share of each outlet's sentences naming the actor, with 95% intervals",
                     source=source,
                     notes=[NOTE if (drawn["sentences"] < MIN_UNITS).any() else None, selection.note()]),
        data=data[["outlet", "actor", "sentences", "n_sentences_outlet", "share", "ci_low", "ci_high", "evidence",
                   "evidence_text"]],
        alt_text=(f"Dot chart with 95% intervals of the share of each outlet's sentences naming the {len(order)} "
                  f"most prominent actors; across all outlets {lead['actor']} is named in {lead['share']:.0%} of "
                  f"sentences ({int(lead['sentences'])} of {int(lead['n_sentences_outlet'])})."),
    )


def figures(tables: Mapping[str, pd.DataFrame]) -> list[Figure]:
    """Co-mention network, per-outlet networks, co-mention matrix, ego view, prominence by outlet.

    Reads ``actors``, ``comentions`` (level ``sentence``), ``actor_prominence``, ``articles``
    (outlet, title) and ``sentences`` (the text of each co-mention's first evidence key). Returns
    no figure for a table that is empty.
    """
    articles = tables["articles"]
    outlets = sorted(articles["outlet"].fillna("unknown").astype(str).unique())
    source = source_line(len(articles), len(outlets))
    actors, prominence = tables["actors"], tables["actor_prominence"]
    pairs = tables["comentions"]
    pairs = pairs[pairs["level"] == LEVEL]
    if actors.empty:
        return []
    sentences = tables["sentences"]
    figs = network_figures(actors, pairs, prominence, articles, sentences, source)
    figs += [f for f in (matrix_figure(actors, pairs, articles, sentences, source),
                         ego_figure(actors, pairs, articles, sentences, outlets, source),
                         prominence_figure(prominence, articles, outlets, source)) if f is not None]
    return figs

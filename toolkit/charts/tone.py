"""Charts of the tone stage: outlet tone with intervals, tone around actors, score distributions.

Every number drawn here comes from the sentiment tables (``sentiment_by``,
``sentiment_evidence``, ``sentiment_distribution``); this module only joins the
evidence sentences onto the figures they illustrate and encodes them. The core
has no interval (dot-and-whisker), heatmap or small-multiple histogram builder
yet, so those three are composed from Altair here with the core's theme pieces
(outlet colours and shapes, faded small-n marks, :func:`~toolkit.charts.core.finish`).
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from toolkit.charts.core import (
    DIVERGING_SCHEME,
    FADED_OPACITY,
    MAX_OUTLET_PANELS,
    MUTED_INK,
    Figure,
    finish,
    outlet_scale,
    select_outlets,
    source_line,
)

#: How many actors (most sentences first) the actor chart shows.
TOP_ACTORS = 12
VOICE_LABELS = {"all": "All sentences", "own": "Outlet's own voice", "quoted": "Quoted / reported"}
SMALL_N_NOTE = (
    "Faded marks are flagged small-n: too few sentences for a stable mean; hover for n. "
    "Tone is VADER's sentence score (-1 to +1), not stance."
)


def _opacity() -> alt.Opacity:
    """Fade rows whose ``small_n`` flag (set by the analysis) is true."""
    return alt.when(alt.datum.small_n).then(alt.value(FADED_OPACITY)).otherwise(alt.value(1.0))


def _examples(evidence: pd.DataFrame | None, level: str, keys: list[str]) -> pd.DataFrame:
    """The rank-1 negative and positive evidence sentence per group, one row per group.

    Columns: ``keys`` + ``most_negative``, ``most_negative_title``,
    ``most_positive``, ``most_positive_title`` (missing where a side has none).
    """
    columns = keys + ["most_negative", "most_negative_title", "most_positive", "most_positive_title"]
    if evidence is None or evidence.empty:
        return pd.DataFrame(columns=columns)
    top = evidence[(evidence["level"] == level) & (evidence["rank"] == 1)]
    out = None
    for side in ("negative", "positive"):
        part = top[top["side"] == side][keys + ["text", "title"]].rename(
            columns={"text": f"most_{side}", "title": f"most_{side}_title"}
        )
        out = part if out is None else out.merge(part, on=keys, how="outer")
    return out.reindex(columns=columns)


def _tooltip(extra: list[alt.Tooltip]) -> list[alt.Tooltip]:
    """Shared tooltip tail: evidence sentences and their article titles."""
    return [
        *extra,
        alt.Tooltip("most_negative:N", title="Most negative sentence"),
        alt.Tooltip("most_negative_title:N", title="… in article"),
        alt.Tooltip("most_positive:N", title="Most positive sentence"),
        alt.Tooltip("most_positive_title:N", title="… in article"),
    ]


def tone_by_outlet(
    sentiment_by: pd.DataFrame,
    evidence: pd.DataFrame | None,
    *,
    outlets: list[str],
    source: str,
    articles: pd.DataFrame,
) -> Figure | None:
    """Dot-and-interval plot: mean sentence tone per outlet, all sentences vs own voice.

    Reads ``sentiment_by`` rows with ``level == "outlet"`` and voice ``all``/``own``
    (``mean_compound``, ``ci_low``, ``ci_high``, ``n``, ``n_articles``,
    ``small_n``) and the outlet-level rank-1 evidence sentences. Outlets are
    ordered by their all-sentence mean, most negative on top. Draws the outlets
    with the most ``articles`` (:func:`~toolkit.charts.core.select_outlets`); the
    figure's data holds every outlet.
    """
    rows = sentiment_by[(sentiment_by["level"] == "outlet") & sentiment_by["voice"].isin(["all", "own"])]
    rows = rows[rows["n"] > 0]
    if rows.empty:
        return None
    data = rows[["outlet", "voice", "mean_compound", "ci_low", "ci_high", "n", "n_articles", "small_n"]].merge(
        _examples(evidence, "outlet", ["outlet"]), on="outlet", how="left"
    )
    data["voice_label"] = data["voice"].map(VOICE_LABELS)
    data = data.sort_values(["outlet", "voice"]).reset_index(drop=True)
    selection = select_outlets(articles, data["outlet"])
    drawn = data[data["outlet"].isin(selection.shown)]
    overall = drawn[drawn["voice"] == "all"].sort_values(["mean_compound", "outlet"])
    order = overall["outlet"].tolist()

    y = alt.Y("outlet:N", sort=order, title=None)
    offset = alt.YOffset("voice_label:N", sort=[VOICE_LABELS["all"], VOICE_LABELS["own"]])
    color = alt.Color("outlet:N", scale=outlet_scale(outlets), legend=None)
    tooltip = _tooltip([
        alt.Tooltip("outlet:N", title="Outlet"),
        alt.Tooltip("voice_label:N", title="Sentences"),
        alt.Tooltip("mean_compound:Q", title="Mean tone", format="+.2f"),
        alt.Tooltip("ci_low:Q", title="95% interval from", format="+.2f"),
        alt.Tooltip("ci_high:Q", title="95% interval to", format="+.2f"),
        alt.Tooltip("n:Q", title="n sentences"),
        alt.Tooltip("n_articles:Q", title="n articles"),
    ])
    base = alt.Chart(drawn).encode(y=y, yOffset=offset, opacity=_opacity())
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color=MUTED_INK, strokeDash=[3, 3]).encode(x="x:Q")
    whiskers = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q"), x2="ci_high:Q", color=color)
    dots = base.mark_point(size=90, filled=True).encode(
        x=alt.X("mean_compound:Q", title="Mean sentence tone (VADER compound, 95% interval)"),
        color=color,
        shape=alt.Shape(
            "voice_label:N",
            scale=alt.Scale(domain=[VOICE_LABELS["all"], VOICE_LABELS["own"]], range=["circle", "diamond"]),
            title=None,
            legend=alt.Legend(orient="bottom"),
        ),
        tooltip=tooltip,
    )
    labels = base.mark_text(align="left", dx=6, fontSize=11, color=MUTED_INK).transform_calculate(
        _x="isValid(datum.ci_high) ? datum.ci_high : datum.mean_compound", _label="'n=' + datum.n"
    ).encode(x="_x:Q", text="_label:N")
    chart = alt.layer(zero, whiskers, dots, labels, width=460, height=alt.Step(22))
    notes = [SMALL_N_NOTE if drawn["small_n"].any() else None, selection.note()]
    worst, best = overall.iloc[0], overall.iloc[-1]
    alt_text = (
        f"Dot plot of the mean VADER tone of sentences for {selection.counted()}, with 95% "
        f"intervals, for all sentences and for the outlet's own voice (quotes and reported speech removed). "
        f"Most negative overall: {worst['outlet']} ({worst['mean_compound']:+.2f}, n={int(worst['n'])}); "
        f"most positive: {best['outlet']} ({best['mean_compound']:+.2f}, n={int(best['n'])})."
    )
    return Figure(
        name="tone-by-outlet",
        chart=finish(
            chart,
            title="Tone of coverage by outlet",
            subtitle="Mean sentence tone, all sentences (circle) and the outlet's own voice (diamond)",
            source=source,
            notes=notes,
        ),
        data=data,
        alt_text=alt_text,
    )


def tone_toward_actors(
    sentiment_by: pd.DataFrame,
    evidence: pd.DataFrame | None,
    *,
    source: str,
    articles: pd.DataFrame,
    top: int = TOP_ACTORS,
) -> Figure | None:
    """Heatmap: mean tone of sentences mentioning each top actor, per outlet, n in each cell.

    Reads ``sentiment_by`` rows with ``level`` ``actor`` (to pick the ``top``
    actors with most sentences, ties by name) and ``outlet_actor`` (voice
    ``all``), plus the outlet × actor rank-1 evidence sentences. Rows are the
    outlets with the most ``articles``; the figure's data holds every outlet.
    """
    actors = sentiment_by[(sentiment_by["level"] == "actor") & (sentiment_by["voice"] == "all")]
    if actors.empty:
        return None
    chosen = actors.sort_values(["n", "actor"], ascending=[False, True])["actor"].head(top).tolist()
    rows = sentiment_by[
        (sentiment_by["level"] == "outlet_actor")
        & (sentiment_by["voice"] == "all")
        & sentiment_by["actor"].isin(chosen)
    ]
    data = rows[["outlet", "actor", "mean_compound", "ci_low", "ci_high", "n", "small_n"]].merge(
        _examples(evidence, "outlet_actor", ["outlet", "actor"]), on=["outlet", "actor"], how="left"
    ).sort_values(["outlet", "actor"]).reset_index(drop=True)
    selection = select_outlets(articles, data["outlet"])
    drawn = data[data["outlet"].isin(selection.shown)]
    extent = max(0.1, round(float(drawn["mean_compound"].abs().max()) + 0.05, 1))
    x = alt.X("actor:N", sort=chosen, title=None, axis=alt.Axis(labelAngle=-35))
    y = alt.Y("outlet:N", sort="ascending", title=None)
    tooltip = _tooltip([
        alt.Tooltip("outlet:N", title="Outlet"),
        alt.Tooltip("actor:N", title="Actor"),
        alt.Tooltip("mean_compound:Q", title="Mean tone", format="+.2f"),
        alt.Tooltip("ci_low:Q", title="95% interval from", format="+.2f"),
        alt.Tooltip("ci_high:Q", title="95% interval to", format="+.2f"),
        alt.Tooltip("n:Q", title="n sentences"),
    ])
    base = alt.Chart(drawn).encode(x=x, y=y)
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(
            "mean_compound:Q",
            scale=alt.Scale(scheme=DIVERGING_SCHEME, reverse=True, domain=[-extent, extent], domainMid=0),
            title="Mean tone",
            legend=alt.Legend(orient="right", gradientLength=120),
        ),
        opacity=_opacity(),
        tooltip=tooltip,
    )
    counts = base.mark_text(fontSize=11).encode(text="n:Q")
    chart = alt.layer(cells, counts, width=alt.Step(48), height=alt.Step(30))
    lowest = drawn.sort_values(["mean_compound", "outlet", "actor"]).iloc[0]
    alt_text = (
        f"Heatmap of the mean VADER tone of sentences mentioning each of the {len(chosen)} most-mentioned "
        f"actors, {f'for {selection.counted()}' if selection.hidden else 'per outlet'}, with the number of "
        f"sentences in each cell. Darkest pairing: "
        f"{lowest['outlet']} on {lowest['actor']} ({lowest['mean_compound']:+.2f}, n={int(lowest['n'])})."
    )
    return Figure(
        name="tone-toward-actors",
        chart=finish(
            chart,
            title="Tone around the main actors, by outlet",
            subtitle="Mean tone of sentences that mention the actor (not sentiment aimed at them); number = sentences",
            source=source,
            notes=[SMALL_N_NOTE if drawn["small_n"].any() else None, selection.note()],
        ),
        data=data,
        alt_text=alt_text,
    )


def tone_distribution(
    distribution: pd.DataFrame,
    sentiment_by: pd.DataFrame,
    *,
    outlets: list[str],
    source: str,
    articles: pd.DataFrame,
) -> Figure | None:
    """Small-multiple histograms of sentence tone, one panel per outlet (share of its sentences).

    Reads ``sentiment_distribution`` (``bin_low``, ``bin_high``, ``n``,
    ``share``, ``outlet_n`` and the example sentence per bin: already binned, so
    the chart embeds 20 rows per outlet whatever the corpus size) and the outlet
    ``small_n`` flag from ``sentiment_by`` (voice ``all``). Panels are drawn for
    the ``MAX_OUTLET_PANELS`` outlets with the most ``articles``; the figure's
    data holds every outlet.
    """
    if distribution is None or distribution.empty:
        return None
    flags = sentiment_by[(sentiment_by["level"] == "outlet") & (sentiment_by["voice"] == "all")]
    data = distribution.merge(flags[["outlet", "small_n"]], on="outlet", how="left")
    data["small_n"] = data["small_n"].fillna(True).astype(bool)
    selection = select_outlets(articles, data["outlet"], limit=MAX_OUTLET_PANELS)
    drawn = data[data["outlet"].isin(selection.shown)]
    bars = alt.Chart(drawn).mark_bar().encode(
        x=alt.X("bin_low:Q", bin="binned", title="Sentence tone (VADER compound)", scale=alt.Scale(domain=[-1, 1])),
        x2="bin_high:Q",
        y=alt.Y("share:Q", title=None, axis=alt.Axis(format="%", tickCount=3)),
        color=alt.Color("outlet:N", scale=outlet_scale(outlets), legend=None),
        opacity=_opacity(),
        tooltip=[
            alt.Tooltip("outlet:N", title="Outlet"),
            alt.Tooltip("bin_low:Q", title="Tone from", format="+.1f"),
            alt.Tooltip("bin_high:Q", title="Tone to", format="+.1f"),
            alt.Tooltip("n:Q", title="n sentences"),
            alt.Tooltip("share:Q", title="Share", format=".0%"),
            alt.Tooltip("outlet_n:Q", title="Outlet's sentences"),
            alt.Tooltip("text:N", title="Example sentence"),
            alt.Tooltip("title:N", title="… in article"),
        ],
    ).properties(width=360, height=90)
    header = alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start", labelAlign="left")
    chart = bars.facet(row=alt.Row("outlet:N", title=None, sort="ascending", header=header))
    modes = drawn.sort_values(["outlet", "share", "bin_low"], ascending=[True, False, True]).drop_duplicates("outlet")
    alt_text = (
        f"Histograms of VADER sentence tone for {selection.counted()}, as shares of each outlet's "
        f"sentences. Most common range per outlet: "
        + "; ".join(f"{r.outlet} {r.bin_low:+.1f} to {r.bin_high:+.1f} ({r.share:.0%})" for r in modes.itertuples())
        + "."
    )
    return Figure(
        name="tone-distribution",
        chart=finish(
            chart,
            title="How sentence tone is spread, by outlet",
            subtitle="Share of each outlet's sentences per tone band; the band from 0 holds neutral sentences",
            source=source,
            notes=[SMALL_N_NOTE if drawn["small_n"].any() else None, selection.note()],
        ),
        data=data,
        alt_text=alt_text,
    )


def figures(tables: Mapping[str, pd.DataFrame]) -> list[Figure]:
    """The tone figures for a corpus, in story order.

    Reads ``articles`` (outlet palette and source line), ``sentiment_by``,
    ``sentiment_evidence`` and ``sentiment_distribution``; figures whose rows
    are absent (no actors, no sentences) are left out.
    """
    articles = tables["articles"]
    outlets = sorted(articles["outlet"].dropna().astype(str).unique())
    source = source_line(len(articles), len(outlets))
    by = tables["sentiment_by"]
    evidence = tables.get("sentiment_evidence")
    candidates = [
        tone_by_outlet(by, evidence, outlets=outlets, source=source, articles=articles),
        tone_toward_actors(by, evidence, source=source, articles=articles),
        tone_distribution(tables.get("sentiment_distribution"), by, outlets=outlets, source=source, articles=articles),
    ]
    return [fig for fig in candidates if fig is not None]

"""Chart core: the ``Figure`` record, the newsroom theme, outlet colours and generic builders.

Every analysis has its own chart module (``toolkit/charts/tone.py``, ``actors.py``, …) that turns
its tidy tables into :class:`Figure` objects with the builders below. The builders only *encode*
columns they are given: means, shares, confidence intervals and counts come from the analysis
tables. The one thing computed here is layout (the network's node positions), which is geometry,
not a statistic.

Conventions shared by all builders
----------------------------------
- ``n_col`` (default ``"n"``) names the column holding how many sentences/articles stand behind a
  mark. Marks with ``n < min_n`` are drawn faded and a footnote says so (only when such marks exist).
- ``tooltip`` lists extra columns (evidence: an example sentence, its article title, outlet) that are
  appended to the builder's own tooltip fields.
- ``title``, ``subtitle`` and ``source`` decorate the chart: the title and subtitle on top, the source
  line (see :func:`source_line`) and footnotes below, in the chart itself so they survive export.
- Colours for outlets come from :func:`outlet_scale`, so an outlet has the same colour in every
  chart of a corpus as long as the chart modules pass the corpus's full outlet list.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import networkx as nx
import pandas as pd

THEME_NAME = "newsangle"

#: Colour-blind-safe categorical palette (colours from Okabe & Ito and Paul Tol's "muted" scheme),
#: chosen so every pair also differs in lightness by at least 7 CIE L* units and stays apart when
#: printed in greyscale. Ordered so the first colours are the most different in lightness:
#: L* = 22, 71, 46, 79, 32, 64, 54.
OUTLET_PALETTE: tuple[str, ...] = (
    "#332288",  # indigo
    "#E69F00",  # orange
    "#0072B2",  # blue
    "#88CCEE",  # sky
    "#882255",  # wine
    "#44AA99",  # teal
    "#D55E00",  # vermillion
)

#: Shapes that accompany outlet colours in point charts (a second, colour-free channel).
OUTLET_SHAPES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle-up",
    "diamond",
    "cross",
    "triangle-down",
    "wedge",
)

#: Diverging scheme (colour-blind safe, light in the middle) for tone and other signed values.
DIVERGING_SCHEME = "blueorange"
#: Sequential scheme with monotonic lightness (reads in greyscale) for heatmaps.
SEQUENTIAL_SCHEME = "viridis"
#: Two colours for the sides of a diverging bar: negative, positive (ends of ``blueorange``).
DIVERGING_COLORS: tuple[str, str] = ("#D55E00", "#0072B2")

FONT = "Helvetica Neue, Arial, Liberation Sans, sans-serif"
INK = "#222222"
MUTED_INK = "#666666"
FADED_OPACITY = 0.3


@dataclass(frozen=True)
class Figure:
    """One story-ready chart and everything needed to export it.

    Attributes:
        name: file-name slug (see :func:`toolkit.export.slugify`), unique within a corpus's figures.
        chart: the Altair chart.
        data: the tidy table behind the chart, exported as CSV for graphics desks.
        alt_text: one or two sentences generated from the data: chart type, what is measured and the
            main finding.
    """

    name: str
    chart: alt.TopLevelMixin
    data: pd.DataFrame
    alt_text: str


def _theme() -> alt.theme.ThemeConfig:
    """The newsroom theme: large readable type, no chart border, light grid, left-aligned titles."""
    return {
        "config": {
            "font": FONT,
            "background": "white",
            "padding": 12,
            "view": {"stroke": None, "continuousWidth": 480, "continuousHeight": 300},
            "title": {
                "anchor": "start",
                "fontSize": 20,
                "fontWeight": "bold",
                "color": INK,
                "subtitleFontSize": 14,
                "subtitleColor": MUTED_INK,
                "subtitlePadding": 6,
                "offset": 14,
                "font": FONT,
                "subtitleFont": FONT,
            },
            "axis": {
                "labelFontSize": 13,
                "titleFontSize": 13,
                "titleFontWeight": "normal",
                "titleColor": MUTED_INK,
                "labelColor": INK,
                "labelLimit": 260,
                "gridColor": "#E6E6E6",
                "domainColor": "#999999",
                "tickColor": "#999999",
                "labelFont": FONT,
                "titleFont": FONT,
            },
            "legend": {
                "labelFontSize": 13,
                "titleFontSize": 13,
                "titleFontWeight": "normal",
                "orient": "top",
                "labelLimit": 260,
                "labelFont": FONT,
                "titleFont": FONT,
            },
            "header": {
                "labelFontSize": 14,
                "labelFontWeight": "bold",
                "titleFontSize": 14,
                "labelFont": FONT,
                "titleFont": FONT,
                "labelAnchor": "start",
            },
            "text": {"fontSize": 12, "font": FONT, "color": INK},
            "range": {"category": list(OUTLET_PALETTE), "diverging": {"scheme": DIVERGING_SCHEME}},
            "bar": {"color": OUTLET_PALETTE[2]},
            "point": {"size": 80, "filled": True},
            "circle": {"size": 80},
            "concat": {"spacing": 8},
        }
    }


alt.theme.register(THEME_NAME, enable=False)(_theme)


def enable_theme() -> None:
    """Enable the newsroom theme for charts rendered or saved from now on (process-wide)."""
    alt.theme.enable(THEME_NAME)


def outlet_colors(outlets: Sequence[str]) -> dict[str, str]:
    """Map each outlet to one colour, the same whatever order the outlets come in.

    Outlets are de-duplicated and sorted; the i-th sorted outlet gets ``OUTLET_PALETTE[i]``. Beyond
    the palette's size the colours repeat (with a warning): a chart with more outlets than colours
    should rely on axis labels or facets, not on colour alone.

    >>> outlet_colors(["b", "a"])
    {'a': '#332288', 'b': '#E69F00'}
    """
    ordered = sorted({str(o) for o in outlets})
    if len(ordered) > len(OUTLET_PALETTE):
        warnings.warn(
            f"{len(ordered)} outlets but {len(OUTLET_PALETTE)} distinct colours; colours repeat",
            stacklevel=2,
        )
    return {o: OUTLET_PALETTE[i % len(OUTLET_PALETTE)] for i, o in enumerate(ordered)}


def outlet_scale(outlets: Sequence[str]) -> alt.Scale:
    """An ``alt.Scale`` fixing the domain and range of :func:`outlet_colors` for a colour channel."""
    colors = outlet_colors(outlets)
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def outlet_shape_scale(outlets: Sequence[str]) -> alt.Scale:
    """An ``alt.Scale`` giving each outlet a stable point shape (sorted outlets → ``OUTLET_SHAPES``)."""
    ordered = sorted({str(o) for o in outlets})
    return alt.Scale(
        domain=ordered, range=[OUTLET_SHAPES[i % len(OUTLET_SHAPES)] for i in range(len(ordered))]
    )


def source_line(n_articles: int, n_outlets: int) -> str:
    """The credit line printed under every chart.

    >>> source_line(1, 1)
    'Source: newsangle analysis of 1 article from 1 outlet'
    >>> source_line(12, 3)
    'Source: newsangle analysis of 12 articles from 3 outlets'
    """
    articles = "article" if n_articles == 1 else "articles"
    outlets = "outlet" if n_outlets == 1 else "outlets"
    return f"Source: newsangle analysis of {n_articles:,} {articles} from {n_outlets:,} {outlets}"


# --------------------------------------------------------------------------------------------
# Shared pieces of the builders
# --------------------------------------------------------------------------------------------

DEFAULT_MIN_N = 10


def _js(value: object) -> str:
    """``value`` as a Vega expression literal (JSON quoting), so no caller text becomes code."""
    return json.dumps(value)


def _tooltip(fields: Sequence[alt.Tooltip], extra: Sequence[str]) -> list[alt.Tooltip]:
    """The builder's own tooltip fields followed by the caller's evidence columns (no duplicates)."""
    seen = {f.to_dict()["field"] for f in fields}
    return [*fields, *(alt.Tooltip(f"{c}:N") for c in extra if c not in seen)]


def _faded(n_col: str | None, min_n: int) -> Any:
    """An opacity encoding fading marks whose ``n_col`` is below ``min_n`` (plain opacity if no n)."""
    if n_col is None:
        return alt.value(1.0)
    return alt.when(alt.datum[n_col] < min_n).then(alt.value(FADED_OPACITY)).otherwise(alt.value(1.0))


def small_n_note(data: pd.DataFrame, n_col: str | None, min_n: int, n_label: str) -> str | None:
    """The footnote explaining faded marks, or ``None`` when no row has ``n_col < min_n``."""
    if n_col is None or data.empty or not (data[n_col] < min_n).any():
        return None
    return f"Faded marks rest on fewer than {min_n} {n_label}; read them with caution."


def _color(column: str | None, outlets: Sequence[str] | None, data: pd.DataFrame, title: str | None) -> Any:
    """A nominal colour encoding; outlet columns get the corpus-stable :func:`outlet_scale`."""
    if column is None:
        return alt.Undefined
    domain = outlets if outlets is not None else data[column].dropna().astype(str).unique().tolist()
    return alt.Color(f"{column}:N", scale=outlet_scale(domain), title=title, legend=None)


def finish(
    chart: alt.TopLevelMixin,
    *,
    title: str | None = None,
    subtitle: str | None = None,
    source: str | None = None,
    notes: Sequence[str | None] = (),
) -> alt.TopLevelMixin:
    """Add the headline (title and subtitle, on top) and the footer (notes, then source line).

    The footer is the bottom-oriented title of a one-chart ``vconcat``, so it is part of the
    rendered chart (PNG, SVG, HTML) rather than page text. Without title, subtitle, source and
    notes the chart is returned unchanged.
    """
    if title or subtitle:
        chart = chart.properties(
            title=alt.TitleParams(text=title or "", subtitle=subtitle or alt.Undefined)
        )
    footer = [line for line in (*notes, source) if line]
    if not footer:
        return chart
    return alt.vconcat(chart).properties(
        title=alt.TitleParams(
            text=footer,
            orient="bottom",
            anchor="start",
            fontSize=12,
            fontWeight="normal",
            color=MUTED_INK,
            offset=12,
            lineHeight=16,
        )
    )


def _facet(chart: alt.TopLevelMixin, facet: str | None, columns: int, independent_y: bool) -> alt.TopLevelMixin:
    """Facet ``chart`` by the ``facet`` column (one panel per value, sorted), if given."""
    if facet is None:
        return chart
    faceted = chart.facet(facet=alt.Facet(f"{facet}:N", title=None, sort="ascending"), columns=columns)
    return faceted.resolve_scale(y="independent") if independent_y else faceted


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


def bar_chart(
    data: pd.DataFrame,
    *,
    category: str,
    value: str,
    n_col: str | None = "n",
    color: str | None = None,
    outlets: Sequence[str] | None = None,
    tooltip: Sequence[str] = (),
    value_title: str | None = None,
    category_title: str | None = None,
    value_format: str = ".2f",
    n_label: str = "sentences",
    min_n: int = DEFAULT_MIN_N,
    facet: str | None = None,
    columns: int = 3,
    width: int = 420,
    title: str | None = None,
    subtitle: str | None = None,
    source: str | None = None,
) -> alt.TopLevelMixin:
    """Ranked horizontal bar chart, largest value on top, each bar labelled with value and n.

    Input columns: ``category`` (bar label), ``value`` (bar length, already computed), ``n_col``
    (how many sentences/articles stand behind it; bars below ``min_n`` fade), optionally ``color``
    (e.g. ``outlet``; coloured with the corpus palette given by ``outlets``), ``facet`` and the
    ``tooltip`` evidence columns.
    """
    base = alt.Chart(data)
    label = f"format(datum[{_js(value)}], {_js(value_format)})"
    if n_col is not None:
        label += f" + '  n=' + datum[{_js(n_col)}]"
    y = alt.Y(f"{category}:N", sort="-x", title=category_title)
    x = alt.X(f"{value}:Q", title=value_title or value, axis=alt.Axis(format=value_format))
    own = [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=value_format)]
    if n_col is not None:
        own.append(alt.Tooltip(f"{n_col}:Q", title="n"))
    bars = base.mark_bar().encode(
        x=x,
        y=y,
        color=_color(color, outlets, data, None),
        opacity=_faded(n_col, min_n),
        tooltip=_tooltip(own, tooltip),
    )
    labels = (
        base.mark_text(align="left", dx=4, color=MUTED_INK)
        .transform_calculate(_label=label)
        .encode(x=x, y=y, text="_label:N", opacity=_faded(n_col, min_n))
    )
    chart = alt.layer(bars, labels).properties(width=width, height=alt.Step(26))
    chart = _facet(chart, facet, columns, independent_y=True)
    return finish(
        chart, title=title, subtitle=subtitle, source=source, notes=[small_n_note(data, n_col, min_n, n_label)]
    )

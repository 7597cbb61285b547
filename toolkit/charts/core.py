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

import hashlib
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
                "orient": "bottom",
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


#: Most outlets one chart draws as rows, bars or offsets; with more, the outlets with the most
#: articles are drawn and a footnote says how many are left out (every outlet stays in the CSV).
#: A chart of 264 outlets is ~7,000 px tall and takes seconds to render; 20 keep it readable.
MAX_OUTLETS = 20
#: Most outlets drawn as separate panels (small multiples, facets): a panel is far bigger than a
#: row, and each adds a sub-chart to the spec.
MAX_OUTLET_PANELS = 12


@dataclass(frozen=True)
class OutletSelection:
    """The outlets a chart draws and the ones it leaves out.

    Attributes:
        shown: the drawn outlets, most articles first (ties by name).
        hidden: the left-out outlets, most articles first (ties by name).
    """

    shown: tuple[str, ...]
    hidden: tuple[str, ...]

    def counted(self) -> str:
        """``"4 outlets"``, or ``"the 20 outlets with the most articles (of 264)"`` when some are left out."""
        shown = len(self.shown)
        if not self.hidden:
            return f"{shown} outlet{'s' if shown != 1 else ''}"
        return f"the {shown} outlets with the most articles (of {shown + len(self.hidden)})"

    def legend(self) -> Any:
        """An outlet colour legend: Altair's default when every outlet is drawn, else one listing only
        the drawn outlets, by name, in four columns (the scale keeps every outlet, so colours stay
        stable across charts)."""
        return alt.Legend(values=sorted(self.shown), columns=4) if self.hidden else alt.Undefined

    def note(self) -> str | None:
        """The footnote naming what is left out, or ``None`` when every outlet is drawn.

        Up to three left-out outlets are named; more are counted. Either way the note points to
        the CSV file, which holds every outlet.
        """
        if not self.hidden:
            return None
        if len(self.hidden) <= 3:
            return (f"Not shown (fewer articles): {', '.join(self.hidden)}; "
                    "their figures are in the CSV file.")
        return (f"Showing the {len(self.shown)} outlets with the most articles; "
                f"the other {len(self.hidden)} are in the CSV file.")


def select_outlets(articles: pd.DataFrame, present: Sequence[str] | None = None, *,
                   limit: int = MAX_OUTLETS) -> OutletSelection:
    """The ``limit`` outlets with the most articles, among those ``present`` in a chart's data.

    Input: ``articles`` with an ``outlet`` column (one row per article); ``present``, the outlets
    the chart's table holds (default: every outlet of ``articles``). Outlets are ranked by their
    number of articles, ties by name, so every chart of a corpus draws the same outlets in the same
    order. Outlets in ``present`` but not in ``articles`` rank last. Counting articles per outlet
    is selection (which rows to draw), not a statistic the chart reports.

    >>> arts = pd.DataFrame({"outlet": ["B", "A", "B", "C", "C", "C"]})
    >>> select_outlets(arts, limit=2)
    OutletSelection(shown=('C', 'B'), hidden=('A',))
    """
    counts = articles["outlet"].dropna().astype(str).value_counts()
    pool = counts.index.tolist() if present is None else sorted({str(o) for o in present if pd.notna(o)})
    ranked = sorted(pool, key=lambda o: (-int(counts.get(o, 0)), o))
    return OutletSelection(shown=tuple(ranked[:limit]), hidden=tuple(ranked[limit:]))


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
    return alt.vconcat(
        chart,
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
    notes: Sequence[str | None] = (),
) -> alt.TopLevelMixin:
    """Ranked horizontal bar chart, largest value on top, each bar labelled with value and n.

    Input columns: ``category`` (bar label), ``value`` (bar length, already computed), ``n_col``
    (how many sentences/articles stand behind it; bars below ``min_n`` fade), optionally ``color``
    (e.g. ``outlet``; coloured with the corpus palette given by ``outlets``), ``facet`` and the
    ``tooltip`` evidence columns. ``notes`` are extra footnotes (e.g. :meth:`OutletSelection.note`),
    printed after the small-n note.
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
    chart = alt.layer(bars, labels, width=width, height=alt.Step(26))
    chart = _facet(chart, facet, columns, independent_y=True)
    return finish(
        chart, title=title, subtitle=subtitle, source=source,
        notes=[small_n_note(data, n_col, min_n, n_label), *notes],
    )


def dot_ci_chart(
    data: pd.DataFrame,
    *,
    category: str,
    value: str,
    ci_low: str,
    ci_high: str,
    n_col: str | None = "n",
    color: str | None = "outlet",
    outlets: Sequence[str] | None = None,
    tooltip: Sequence[str] = (),
    value_title: str | None = None,
    category_title: str | None = None,
    value_format: str = ".2f",
    reference: float | None = None,
    n_label: str = "sentences",
    min_n: int = DEFAULT_MIN_N,
    facet: str | None = None,
    columns: int = 3,
    width: int = 420,
    title: str | None = None,
    subtitle: str | None = None,
    source: str | None = None,
) -> alt.TopLevelMixin:
    """Dot plot with confidence-interval bars: one row per ``category``, sorted by ``value``.

    Input columns: ``category`` (row label, e.g. outlet), ``value`` (the estimate), ``ci_low`` and
    ``ci_high`` (its interval, from the analysis), ``n_col`` (rows below ``min_n`` fade), optionally
    ``color`` (outlet colour and shape, stable across the corpus via ``outlets``), ``facet`` and the
    ``tooltip`` evidence columns. ``reference`` draws a vertical rule (e.g. 0 for tone).
    """
    base = alt.Chart(data)
    y = alt.Y(f"{category}:N", sort=alt.EncodingSortField(field=value, order="descending"), title=category_title)
    x_scale = alt.Scale(zero=False)
    own = [
        alt.Tooltip(f"{category}:N"),
        alt.Tooltip(f"{value}:Q", format=value_format),
        alt.Tooltip(f"{ci_low}:Q", format=value_format, title="CI low"),
        alt.Tooltip(f"{ci_high}:Q", format=value_format, title="CI high"),
    ]
    if n_col is not None:
        own.append(alt.Tooltip(f"{n_col}:Q", title="n"))
    tips = _tooltip(own, tooltip)
    rules = base.mark_rule(strokeWidth=2, color="#888888").encode(
        x=alt.X(f"{ci_low}:Q", scale=x_scale, title=value_title or value, axis=alt.Axis(format=value_format)),
        x2=f"{ci_high}:Q",
        y=y,
        opacity=_faded(n_col, min_n),
        tooltip=tips,
    )
    shape = alt.Undefined
    if color is not None:
        domain = outlets if outlets is not None else data[color].dropna().astype(str).unique().tolist()
        shape = alt.Shape(f"{color}:N", scale=outlet_shape_scale(domain), legend=None)
    dots = base.mark_point(size=110, filled=True).encode(
        x=alt.X(f"{value}:Q", scale=x_scale),
        y=y,
        color=_color(color, outlets, data, None) if color is not None else alt.value(OUTLET_PALETTE[0]),
        shape=shape,
        opacity=_faded(n_col, min_n),
        tooltip=tips,
    )
    layers = [rules, dots]
    if reference is not None:
        layers.insert(0, base.mark_rule(color="#444444", strokeDash=[4, 3]).encode(x=alt.datum(reference)))
    chart = alt.layer(*layers, width=width, height=alt.Step(28))
    chart = _facet(chart, facet, columns, independent_y=True)
    return finish(
        chart, title=title, subtitle=subtitle, source=source, notes=[small_n_note(data, n_col, min_n, n_label)]
    )


def heatmap(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str,
    n_col: str | None = "n",
    text: str | None = None,
    tooltip: Sequence[str] = (),
    value_title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    value_format: str = ".2f",
    diverging: bool = False,
    n_label: str = "sentences",
    min_n: int = DEFAULT_MIN_N,
    cell: int = 34,
    title: str | None = None,
    subtitle: str | None = None,
    source: str | None = None,
) -> alt.TopLevelMixin:
    """Matrix of ``value`` by ``x`` and ``y`` with the count written in every cell.

    Input columns: ``x`` and ``y`` (the two categories, e.g. outlet × frame), ``value`` (the cell
    colour, already computed), ``n_col`` (written in the cell unless ``text`` names another column;
    cells below ``min_n`` fade) and the ``tooltip`` evidence columns. ``diverging=True`` uses the
    diverging scheme centred on 0 (signed values such as tone); otherwise the sequential scheme,
    whose lightness rises monotonically so it reads in greyscale. Cell text switches to white on the
    darker half of the scale so it stays legible.
    """
    base = alt.Chart(data)
    label_col = text or n_col
    scale = (
        alt.Scale(scheme=DIVERGING_SCHEME, domainMid=0)
        if diverging
        else alt.Scale(scheme=SEQUENTIAL_SCHEME, reverse=True)
    )
    own = [alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{value}:Q", format=value_format)]
    if n_col is not None:
        own.append(alt.Tooltip(f"{n_col}:Q", title="n"))
    tips = _tooltip(own, tooltip)
    enc_x = alt.X(f"{x}:N", title=x_title, axis=alt.Axis(labelAngle=-40, orient="top"))
    enc_y = alt.Y(f"{y}:N", title=y_title)
    rects = base.mark_rect(stroke="white", strokeWidth=1).encode(
        x=enc_x,
        y=enc_y,
        color=alt.Color(f"{value}:Q", scale=scale, title=value_title or value, legend=alt.Legend(format=value_format)),
        opacity=_faded(n_col, min_n),
        tooltip=tips,
    )
    layers = [rects]
    if label_col is not None:
        values = data[value].dropna()
        if values.empty:
            dark = alt.value(INK)
        elif diverging:
            cut = values.abs().max() / 2
            dark = alt.when(f"abs(datum[{_js(value)}]) > {_js(float(cut))}").then(alt.value("white")).otherwise(alt.value(INK))
        else:
            cut = (values.min() + values.max()) / 2
            dark = alt.when(f"datum[{_js(value)}] > {_js(float(cut))}").then(alt.value("white")).otherwise(alt.value(INK))
        layers.append(base.mark_text(fontSize=11).encode(x=enc_x, y=enc_y, text=f"{label_col}:N", color=dark, tooltip=tips))
    chart = alt.layer(*layers, width=alt.Step(cell), height=alt.Step(cell))
    notes = [small_n_note(data, n_col, min_n, n_label)]
    if label_col is not None and label_col == n_col:
        notes.insert(0, f"Numbers in cells: {n_label}.")
    return finish(chart, title=title, subtitle=subtitle, source=source, notes=notes)


def diverging_bar(
    data: pd.DataFrame,
    *,
    category: str,
    value: str,
    n_col: str | None = "n",
    ci_low: str | None = None,
    ci_high: str | None = None,
    tooltip: Sequence[str] = (),
    negative_label: str = "more negative",
    positive_label: str = "more positive",
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
    """Bars growing left or right from zero, coloured by sign, sorted by ``value``.

    Input columns: ``category`` (bar label), ``value`` (signed, already computed, e.g. mean tone or
    a log-odds), ``n_col`` (bars below ``min_n`` fade), optional ``ci_low``/``ci_high`` (drawn as
    whiskers), ``facet`` and the ``tooltip`` evidence columns. The colour legend names the sides with
    ``negative_label`` and ``positive_label``.
    """
    side = f"datum[{_js(value)}] < 0 ? {_js(negative_label)} : {_js(positive_label)}"
    base = alt.Chart(data).transform_calculate(_side=side)
    y = alt.Y(f"{category}:N", sort=alt.EncodingSortField(field=value, order="descending"), title=category_title)
    x = alt.X(f"{value}:Q", title=value_title or value, axis=alt.Axis(format=value_format))
    own = [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=value_format)]
    if ci_low and ci_high:
        own += [
            alt.Tooltip(f"{ci_low}:Q", format=value_format, title="CI low"),
            alt.Tooltip(f"{ci_high}:Q", format=value_format, title="CI high"),
        ]
    if n_col is not None:
        own.append(alt.Tooltip(f"{n_col}:Q", title="n"))
    tips = _tooltip(own, tooltip)
    bars = base.mark_bar().encode(
        x=x,
        y=y,
        color=alt.Color(
            "_side:N",
            scale=alt.Scale(domain=[negative_label, positive_label], range=list(DIVERGING_COLORS)),
            title=None,
        ),
        opacity=_faded(n_col, min_n),
        tooltip=tips,
    )
    layers = [bars, base.mark_rule(color=INK).encode(x=alt.datum(0))]
    if ci_low and ci_high:
        layers.append(
            base.mark_rule(color=INK, strokeWidth=1.5).encode(
                x=f"{ci_low}:Q", x2=f"{ci_high}:Q", y=y, opacity=_faded(n_col, min_n), tooltip=tips
            )
        )
    chart = alt.layer(*layers, width=width, height=alt.Step(26))
    chart = _facet(chart, facet, columns, independent_y=True)
    return finish(
        chart, title=title, subtitle=subtitle, source=source, notes=[small_n_note(data, n_col, min_n, n_label)]
    )


def distribution_chart(
    data: pd.DataFrame,
    *,
    value: str,
    group: str = "outlet",
    summary: pd.DataFrame | None = None,
    mean: str = "mean",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    n_col: str = "n",
    outlets: Sequence[str] | None = None,
    tooltip: Sequence[str] = (),
    value_title: str | None = None,
    value_format: str = ".2f",
    reference: float | None = None,
    n_label: str = "sentences",
    min_n: int = DEFAULT_MIN_N,
    width: int = 460,
    title: str | None = None,
    subtitle: str | None = None,
    source: str | None = None,
) -> alt.TopLevelMixin:
    """Strip chart of per-sentence ``value`` by ``group``: one tick per sentence, no jitter.

    Input: ``data`` with one row per sentence — ``value`` (e.g. VADER compound), ``group`` (e.g.
    outlet) and the ``tooltip`` evidence columns (the sentence text, article title). Optional
    ``summary`` with one row per group — ``group``, ``mean``, ``ci_low``, ``ci_high``, ``n_col`` —
    drawn as a black dot with its interval on each strip; groups whose ``n_col`` is below ``min_n``
    fade. Ticks are semi-transparent so piles of identical values show as darker ticks. No
    quartiles or densities are computed here; pass them in ``summary`` if wanted.
    """
    y = alt.Y(f"{group}:N", title=None, sort="ascending")
    x_enc = alt.X(f"{value}:Q", title=value_title or value, axis=alt.Axis(format=value_format))
    domain = outlets if outlets is not None else data[group].dropna().astype(str).unique().tolist()
    ticks = alt.Chart(data).mark_tick(opacity=0.35, thickness=1.5, size=22).encode(
        x=x_enc,
        y=y,
        color=alt.Color(f"{group}:N", scale=outlet_scale(domain), legend=None),
        tooltip=_tooltip([alt.Tooltip(f"{group}:N"), alt.Tooltip(f"{value}:Q", format=value_format)], tooltip),
    )
    layers: list[alt.Chart] = [ticks]
    if reference is not None:
        layers.insert(0, alt.Chart(data).mark_rule(color="#444444", strokeDash=[4, 3]).encode(x=alt.datum(reference)))
    note = None
    if summary is not None:
        tips = [
            alt.Tooltip(f"{group}:N"),
            alt.Tooltip(f"{mean}:Q", format=value_format),
            alt.Tooltip(f"{ci_low}:Q", format=value_format, title="CI low"),
            alt.Tooltip(f"{ci_high}:Q", format=value_format, title="CI high"),
            alt.Tooltip(f"{n_col}:Q", title="n"),
        ]
        sbase = alt.Chart(summary)
        layers.append(
            sbase.mark_rule(color=INK, strokeWidth=2.5).encode(
                x=f"{ci_low}:Q", x2=f"{ci_high}:Q", y=y, opacity=_faded(n_col, min_n), tooltip=tips
            )
        )
        layers.append(
            sbase.mark_point(filled=True, size=90, color=INK, stroke="white", strokeWidth=1).encode(
                x=f"{mean}:Q", y=y, opacity=_faded(n_col, min_n), tooltip=tips
            )
        )
        note = small_n_note(summary, n_col, min_n, n_label)
    chart = alt.layer(*layers, width=width, height=alt.Step(34))
    notes = ["Each tick is one sentence; black dots and bars: mean and its confidence interval."] if summary is not None else ["Each tick is one sentence."]
    return finish(chart, title=title, subtitle=subtitle, source=source, notes=[*notes, note])


def small_multiples(data: pd.DataFrame, *, kind: str, facet: str = "outlet", columns: int = 3, **options: Any) -> alt.TopLevelMixin:
    """One panel per value of ``facet`` (default: outlet), each drawn by the builder named ``kind``.

    ``kind`` is ``"bar"`` (:func:`bar_chart`), ``"dot_ci"`` (:func:`dot_ci_chart`) or
    ``"diverging"`` (:func:`diverging_bar`); ``options`` are that builder's keyword arguments and
    the expected columns are that builder's plus ``facet``. Panels share the value axis so they
    can be compared; each panel ranks its own categories.
    """
    builders = {"bar": bar_chart, "dot_ci": dot_ci_chart, "diverging": diverging_bar}
    if kind not in builders:
        raise ValueError(f"kind must be one of {sorted(builders)}, not {kind!r}")
    return builders[kind](data, facet=facet, columns=columns, **options)


def network_layout(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    node: str = "actor",
    source: str = "actor_a",
    target: str = "actor_b",
    weight: str | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node positions from networkx's force-directed ``spring_layout`` with a fixed seed.

    Input: ``nodes`` with a ``node`` column (unique ids) and any other columns; ``edges`` with
    ``source`` and ``target`` columns holding node ids, optionally a positive ``weight`` column
    (heavier edges pull harder). Edges whose ends are not in ``nodes`` are dropped.

    Output: ``nodes`` sorted by ``node`` with added ``x``, ``y``; ``edges`` sorted by
    (``source``, ``target``) with added ``x``, ``y`` (source end) and ``x2``, ``y2`` (target end).
    Positions are rounded to 4 decimals and the graph is built in sorted order, so the same tables
    give the same picture byte for byte.
    """
    node_tab = nodes.drop_duplicates(node).sort_values(node, kind="stable").reset_index(drop=True)
    ids = set(node_tab[node])
    edge_tab = (
        edges[edges[source].isin(ids) & edges[target].isin(ids)]
        .sort_values([source, target], kind="stable")
        .reset_index(drop=True)
    )
    graph = nx.Graph()
    graph.add_nodes_from(node_tab[node])
    for row in edge_tab.itertuples(index=False):
        attrs = {"weight": float(getattr(row, weight))} if weight else {}
        graph.add_edge(getattr(row, source), getattr(row, target), **attrs)
    k = 1.5 / math.sqrt(max(len(node_tab), 1))
    pos = nx.spring_layout(graph, seed=seed, weight="weight" if weight else None, k=k) if len(node_tab) else {}
    node_tab = node_tab.assign(
        x=[round(float(pos[i][0]), 4) for i in node_tab[node]],
        y=[round(float(pos[i][1]), 4) for i in node_tab[node]],
    )
    edge_tab = edge_tab.assign(
        x=[round(float(pos[i][0]), 4) for i in edge_tab[source]],
        y=[round(float(pos[i][1]), 4) for i in edge_tab[source]],
        x2=[round(float(pos[i][0]), 4) for i in edge_tab[target]],
        y2=[round(float(pos[i][1]), 4) for i in edge_tab[target]],
    )
    return node_tab, edge_tab


def network_chart(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    node: str = "actor",
    source: str = "actor_a",
    target: str = "actor_b",
    weight: str = "sentences",
    size: str = "n",
    color: str | None = None,
    n_col: str | None = None,
    node_tooltip: Sequence[str] = (),
    edge_tooltip: Sequence[str] = (),
    n_label: str = "sentences",
    min_n: int = DEFAULT_MIN_N,
    seed: int = 0,
    width: int = 560,
    height: int = 440,
    title: str | None = None,
    subtitle: str | None = None,
    source_text: str | None = None,
) -> alt.TopLevelMixin:
    """Node–link diagram: circles sized by ``size``, links as lines whose width shows ``weight``.

    Input: ``nodes`` with ``node`` (id and label), ``size`` (e.g. mentions) and optionally
    ``color`` (a category such as ``actor_type``) and ``node_tooltip`` columns; ``edges`` with
    ``source``, ``target``, ``weight`` (e.g. sentences in which both appear), optionally ``n_col``
    (links below ``min_n`` fade) and ``edge_tooltip`` columns (e.g. an example sentence). Layout by
    :func:`network_layout` with ``seed`` (layout, not statistics); axes are hidden because
    positions carry no units. ``source_text`` is the source line (``source`` names the column).
    """
    node_tab, edge_tab = network_layout(nodes, edges, node=node, source=source, target=target, weight=weight, seed=seed)
    hidden = alt.Axis(title=None, labels=False, ticks=False, domain=False, grid=False)
    pad = 0.15
    xs = [*node_tab["x"], -1.0, 1.0]
    ys = [*node_tab["y"], -1.0, 1.0]
    x_scale = alt.Scale(domain=[min(xs) - pad, max(xs) + pad], nice=False, zero=False)
    y_scale = alt.Scale(domain=[min(ys) - pad, max(ys) + pad], nice=False, zero=False)
    edge_tips = [alt.Tooltip(f"{source}:N"), alt.Tooltip(f"{target}:N"), alt.Tooltip(f"{weight}:Q")]
    if n_col is not None and n_col != weight:
        edge_tips.append(alt.Tooltip(f"{n_col}:Q", title="n"))
    links = alt.Chart(edge_tab).mark_rule(color="#8A8A8A", strokeCap="round").encode(
        x=alt.X("x:Q", scale=x_scale, axis=hidden),
        y=alt.Y("y:Q", scale=y_scale, axis=hidden),
        x2="x2:Q",
        y2="y2:Q",
        strokeWidth=alt.StrokeWidth(f"{weight}:Q", scale=alt.Scale(range=[0.75, 7]), title=weight),
        # strokeOpacity, not opacity: the same look for a stroke, but an SVG element with opacity is
        # drawn into a layer of its own, which made rasterising large networks about 4x slower
        strokeOpacity=_faded(n_col, min_n) if n_col is not None else alt.value(0.8),
        tooltip=_tooltip(edge_tips, edge_tooltip),
    )
    node_tips = _tooltip([alt.Tooltip(f"{node}:N"), alt.Tooltip(f"{size}:Q")], node_tooltip)
    circles = alt.Chart(node_tab).mark_circle(opacity=1, stroke="white", strokeWidth=1.5).encode(
        x=alt.X("x:Q", scale=x_scale, axis=hidden),
        y=alt.Y("y:Q", scale=y_scale, axis=hidden),
        size=alt.Size(f"{size}:Q", scale=alt.Scale(range=[60, 1400]), title=size),
        color=alt.Color(f"{color}:N", title=None) if color else alt.value(OUTLET_PALETTE[2]),
        tooltip=node_tips,
    )
    labels = alt.Chart(node_tab).mark_text(align="left", dx=12, dy=-8, fontSize=12, fontWeight="bold", color=INK).encode(
        x=alt.X("x:Q", scale=x_scale, axis=hidden),
        y=alt.Y("y:Q", scale=y_scale, axis=hidden),
        text=f"{node}:N",
        tooltip=node_tips,
    )
    chart = alt.layer(links, circles, labels, width=width, height=height)
    notes = [f"Circle size: {size}; line width: {weight}. Positions come from a force layout and carry no meaning beyond closeness."]
    notes.append(small_n_note(edge_tab, n_col, min_n, n_label))
    return finish(chart, title=title, subtitle=subtitle, source=source_text, notes=notes)


# --------------------------------------------------------------------------------------------
# Notebook rendering
# --------------------------------------------------------------------------------------------

RENDERER_NAME = "newsangle"


def vl_version() -> str:
    """The Vega-Lite version string vl-convert expects for the installed Altair (e.g. ``"6.4"``)."""
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def spec_fingerprint(spec: dict[str, Any]) -> str:
    """A short, stable text naming a chart spec: its title and a SHA-256 of the sorted-key JSON.

    Any change in data, encoding or theme changes the hash; rendering details (fonts, anti-aliasing,
    vl-convert version) do not, which is what notebook output comparison should see.
    """
    text = json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    title = spec_title(spec)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"<newsangle chart {title!r} spec sha256:{digest}>"


def spec_title(spec: dict[str, Any]) -> str:
    """The headline of a spec; for :func:`finish`'s one-chart ``vconcat`` wrapper, the inner title."""
    inner = spec.get("vconcat", ())
    node = inner[0] if len(inner) == 1 else spec
    title = node.get("title", "")
    if isinstance(title, dict):
        title = title.get("text", "")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    return str(title)


def _notebook_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    """Altair renderer: an SVG drawn offline by vl-convert plus a deterministic text fingerprint."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec, vl_version=vl_version(), allowed_base_urls=[])
    return {"image/svg+xml": svg, "text/plain": spec_fingerprint(spec)}


alt.renderers.register(RENDERER_NAME, _notebook_renderer)


def enable_notebook_rendering() -> None:
    """Render charts in notebooks offline and comparably under strict ``pytest --nbval``.

    Enables the newsroom theme and the ``newsangle`` renderer, whose output is
    ``image/svg+xml`` (drawn by vl-convert, no browser, no CDN: shows in JupyterLab offline and on
    GitHub) plus ``text/plain`` from :func:`spec_fingerprint`. Also lifts Altair's 5,000-row limit,
    because sentence-level strip charts embed one row per sentence. Interactive tooltips are only
    in the exported HTML files (see :mod:`toolkit.export`).
    """
    enable_theme()
    alt.renderers.enable(RENDERER_NAME)
    alt.data_transformers.disable_max_rows()

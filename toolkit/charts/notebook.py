"""Showing charts in notebooks: offline in JupyterLab, stable under strict nbval.

Altair's default renderer loads Vega from a CDN (no chart offline) and embeds a random
``altair-viz-<hex>`` element id in every output (strict nbval would fail on each run);
its ``mimetype`` renderer breaks nbformat validation under Altair 6. The ``svg`` renderer
draws the chart with vl-convert inside the kernel and stores plain SVG text: it renders
in JupyterLab with no network, it is identical run after run for the same data (so nbval
compares it strictly), and it shows what the exported ``.svg`` will look like.
Interactive tooltips live in the exported offline HTML files (``toolkit.export``).
"""

from __future__ import annotations

import altair as alt

from toolkit.charts.core import enable_theme


def enable_notebook_rendering() -> None:
    """Use the newsroom theme and the offline, deterministic ``svg`` renderer in this kernel."""
    enable_theme()
    alt.renderers.enable("svg")

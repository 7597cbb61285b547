"""Altair charts for newsangle: the shared core (theme, outlet colours, builders, ``Figure``).

Analysis chart modules live next to this file (``toolkit.charts.tone``, ``actors``, ``framing``,
``topics``) and each expose ``figures(tables) -> list[Figure]``.
"""

from toolkit.charts.core import (
    DIVERGING_SCHEME,
    OUTLET_PALETTE,
    OUTLET_SHAPES,
    SEQUENTIAL_SCHEME,
    THEME_NAME,
    Figure,
    enable_theme,
    outlet_colors,
    outlet_scale,
    outlet_shape_scale,
    source_line,
)

__all__ = [
    "DIVERGING_SCHEME",
    "OUTLET_PALETTE",
    "OUTLET_SHAPES",
    "SEQUENTIAL_SCHEME",
    "THEME_NAME",
    "Figure",
    "enable_theme",
    "outlet_colors",
    "outlet_scale",
    "outlet_shape_scale",
    "source_line",
]

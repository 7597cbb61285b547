"""Drawing one chart with vl-convert: its SVG (with stable ids) and its PNG.

This module imports nothing but the standard library and vl-convert, so that
:mod:`toolkit.export` can also run it as a script (``python -I toolkit/drawing.py``, reading a JSON
list of :func:`draw` arguments from stdin) in a second process, which starts in a fraction of a
second. vl-convert draws one chart at a time in a process: conversions started from two threads
ran one after the other (2.4 s either way for the 16 charts of a 10,000-article corpus), so a
second process is the only way to draw on a second core.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import vl_convert

#: Scale of the PNG files (2: sharp on high-density screens and in print).
PNG_SCALE = 2

_VEGA_SVG_ID = re.compile(r'(?<=id=")(?:gradient_|clip)\d+(?=")|(?<=url\(#)(?:gradient_|clip)\d+(?=\))')


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text with ``\\n`` line endings on every platform."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return path


def stable_svg_ids(svg: str, slug: str) -> str:
    """``svg`` with Vega's gradient and clip-path ids renamed ``<slug>-<n>``, n counting from 0 in
    order of appearance.

    Vega numbers them with counters that run across every chart one process draws, so the same
    chart got other ids from one export to the next (``gradient_1`` or ``gradient_4``) depending on
    what was drawn before it in that process. Renamed under the chart's file name, its SVG is the
    same bytes every time and its ids stay unique when several charts are inlined in one page.

    >>> stable_svg_ids('<linearGradient id="gradient_7"/><path fill="url(#gradient_7)"/>', "tone")
    '<linearGradient id="tone-0"/><path fill="url(#tone-0)"/>'
    """
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{slug}-{len(names)}")

    return _VEGA_SVG_ID.sub(rename, svg)


def draw(spec_text: str, svg_path: str, png_path: str, vl_version: str) -> None:
    """Write the SVG and the PNG (at :data:`PNG_SCALE`) of a Vega-Lite spec given as JSON text.

    Vega runs once: the PNG is rasterised from the SVG (``vl_convert.svg_to_png``, byte-identical
    to ``vegalite_to_png`` and about 2.5 times faster). The SVG's ids are renamed after its file
    name (:func:`stable_svg_ids`). No network access is allowed, so a chart cannot fetch data.
    """
    svg_file = Path(svg_path)
    svg = vl_convert.vegalite_to_svg(json.loads(spec_text), vl_version=vl_version, allowed_base_urls=[])
    svg = stable_svg_ids(svg, svg_file.name.removesuffix(".svg"))
    write_text(svg_file, svg)
    Path(png_path).write_bytes(vl_convert.svg_to_png(svg, scale=PNG_SCALE))


def main() -> None:
    """Draw every chart of a JSON list of :func:`draw` argument lists read from stdin."""
    for job in json.load(sys.stdin):
        draw(*job)


if __name__ == "__main__":
    main()

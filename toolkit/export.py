"""Writing charts out of the notebook: PNG, SVG, offline HTML, Datawrapper-ready CSV, alt text, spec.

For every chart, :func:`export` writes into ``outdir``:

- ``name.png`` (2× scale) and ``name.svg``, drawn by vl-convert (no browser, no Node, no network);
- ``name.html``, a standalone page with Vega inlined, so it opens offline;
- ``name.csv``, the tidy data behind the chart (UTF-8, one header row, ISO dates, plain numbers,
  no index column), with spreadsheet formulas neutralised in text cells;
- ``name.txt``, the alt text;
- ``name.vl.json``, the Vega-Lite spec with sorted keys, for byte-for-byte comparison of runs.

:func:`export_all` does this for a list of :class:`toolkit.charts.core.Figure` and writes an
``index.html`` listing every chart with its alt text, thumbnail and files. Everything that may come
from scraped text (titles, names, alt text, cell values) is escaped in HTML, neutralised in CSV and
slugified in file names.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import vl_convert

from toolkit import drawing
from toolkit.charts.core import THEME_NAME, Figure, spec_title, vl_version
from toolkit.drawing import write_text

#: Leading characters that make Excel, LibreOffice or Google Sheets treat a cell as a formula
#: (OWASP "CSV injection"): ``=``, ``+``, ``-``, ``@``, tab and carriage return.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_SLUG_LENGTH = 80
SUFFIXES = ("png", "svg", "html", "csv", "txt", "vl.json")


def slugify(text: str, *, max_length: int = MAX_SLUG_LENGTH) -> str:
    """A safe file-name stem: lowercase ASCII letters, digits and single hyphens, never empty.

    Accents are folded to ASCII (``"Región"`` → ``"region"``), every other run of characters —
    including ``/``, ``\\``, ``.`` and spaces — becomes one hyphen, and the result is cut to
    ``max_length`` characters, so no title can leave the output folder or hide an extension.

    >>> slugify("../../etc/passwd")
    'etc-passwd'
    >>> slugify("<script>alert(1)</script>")
    'script-alert-1-script'
    >>> slugify("...")
    'chart'
    """
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or "chart"


def unique_slugs(names: Iterable[str]) -> list[str]:
    """Slugify ``names`` and make them unique in order: repeats get ``-2``, ``-3``, … appended.

    >>> unique_slugs(["Tone", "tone", "Tone!", "tone-2"])
    ['tone', 'tone-2', 'tone-3', 'tone-2-2']
    """
    taken: set[str] = set()
    out = []
    for name in names:
        base = slugify(name)
        slug, i = base, 1
        while slug in taken:
            i += 1
            suffix = f"-{i}"
            slug = base[: MAX_SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
        taken.add(slug)
        out.append(slug)
    return out


def neutralise_cell(value: Any) -> Any:
    """Prefix a text cell with ``'`` if a spreadsheet would read it as a formula; other values as is.

    >>> neutralise_cell('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> neutralise_cell(-5)
    -5
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value


def _text_cell(value: Any) -> Any:
    """One text-column cell for the CSV: dates in ISO form, sequences joined by ``"; "``, text neutralised."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, np.ndarray)):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, str):
        return neutralise_cell(value)
    return value


def tidy_csv(table: pd.DataFrame) -> str:
    """The CSV text for ``table`` (the input is unchanged): one header row, no index, ``\\n`` endings.

    Numeric and boolean columns are kept as they are (a genuine ``-3`` stays a number). Datetime
    columns become ISO 8601 text (``2024-05-01`` when every value is at midnight, otherwise
    ``2024-05-01T14:30:00``). In text (object/string/category) columns, dates become ISO text,
    lists are joined with ``"; "`` and cells starting with a formula character get a leading
    ``'``. Header names are neutralised the same way.
    """
    out = table.copy()
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            midnight = series.dropna().eq(series.dropna().dt.normalize()).all()
            fmt = "%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S"
            out[col] = series.dt.strftime(fmt)
        elif isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[col] = series.astype(object).map(_text_cell)
    return out.to_csv(index=False, lineterminator="\n")


def script_json(value: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` (only ever inside JSON strings) and the JavaScript line separators
    U+2028/U+2029 are written as ``\\uXXXX`` escapes, so scraped text such as
    ``</script><script>…`` in a title or a data cell cannot close the script and run as code.
    Keys are sorted for byte-stable output.
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def bundle_cache_dir() -> Path:
    """Folder of the Vega bundles kept between runs: ``$XDG_CACHE_HOME/newsangle/vega``, else
    ``~/.cache/newsangle/vega`` (created on demand)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsangle" / "vega"


@functools.lru_cache(maxsize=4)
def _vega_bundle(version: str) -> str:
    """vl-convert's bundle of Vega, Vega-Lite and vega-embed (sets ``window.vegaEmbed``), ~0.9 MB.

    Building it takes vl-convert about 3 s per process, so it is kept on disk
    (:func:`bundle_cache_dir`), named by the vl-convert and Vega-Lite versions that determine it;
    an unreadable or unwritable cache only costs the rebuild.
    """
    path = bundle_cache_dir() / f"vl-convert-{importlib.metadata.version('vl-convert-python')}-vl-{version}.js"
    try:
        bundle = path.read_text(encoding="utf-8")
    except OSError:
        bundle = vl_convert.javascript_bundle(vl_version=version)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            write_text(tmp, bundle)
            os.replace(tmp, path)
        except OSError:
            pass
    if "</script" in bundle.lower():
        raise RuntimeError("the Vega bundle contains '</script' and cannot be inlined")
    return bundle


def offline_html(spec: dict[str, Any], version: str) -> str:
    """A standalone page drawing ``spec`` with Vega inlined: opens with no network.

    Written here rather than with ``vl_convert.vegalite_to_html`` because that function embeds the
    spec as raw JSON in a ``<script>``, where a scraped title containing ``</script>`` would become
    live code; here the spec goes through :func:`script_json` and the page title is HTML-escaped.
    """
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(spec_title(spec) or 'newsangle chart')}</title>\n"
        "<style>body { margin: 16px; font-family: Helvetica Neue, Arial, Liberation Sans, sans-serif; }</style>\n"
        f"<script>\n{_vega_bundle(version)}\n</script>\n</head>\n<body>\n<div id=\"vis\"></div>\n<script>\n"
        f"const spec = {script_json(spec)};\n"
        "vegaEmbed(\"#vis\", spec, {renderer: \"svg\", actions: false}).catch((err) => {\n"
        "  document.getElementById(\"vis\").textContent = \"Chart failed to render: \" + err;\n});\n"
        "</script>\n</body>\n</html>\n"
    )


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec with the newsroom theme applied and no row limit.

    Altair's JSON-schema validation is skipped: it does not change the spec, it takes about half
    of ``to_dict``'s time on multi-panel charts, and the chart modules' tests build every chart
    with validation on.
    """
    with alt.theme.enable(THEME_NAME), alt.data_transformers.enable("default", max_rows=None):
        return chart.to_dict(validate=False)


def export(
    chart: alt.TopLevelMixin,
    table: pd.DataFrame,
    name: str,
    outdir: str | Path,
    *,
    alt_text: str,
) -> dict[str, Path]:
    """Write ``chart`` and the tidy ``table`` behind it as PNG, SVG, HTML, CSV, TXT and spec JSON.

    ``name`` is slugified (see :func:`slugify`); files are ``outdir/<slug>.<suffix>`` for the
    suffixes ``png``, ``svg``, ``html``, ``csv``, ``txt``, ``vl.json``. ``outdir`` is created.
    Returns the written paths keyed by suffix. Conversion runs with no network access allowed, so a
    chart cannot fetch remote data; Vega runs once per chart (:func:`toolkit.drawing.draw`). Every
    output is deterministic. When every file exists and the spec file already holds this exact
    spec (same data, same encodings), the rendering is skipped: a re-run of the main job only
    redraws charts that changed.
    """
    chart_prepared = prepared([Figure(name=name, chart=chart, data=table, alt_text=alt_text)]).iloc[0]
    return _draw([_Pending.of(chart_prepared["spec"], chart_prepared["csv"], chart_prepared["alt_text"],
                              slugify(name), outdir)])[0]


#: Columns of :func:`prepared`: what exporting a chart needs once it is built.
PREPARED_COLUMNS = ["name", "spec", "csv", "alt_text"]


def prepared(figures: Sequence[Figure]) -> pd.DataFrame:
    """What exporting each figure needs, computed without writing anything, one row per figure in
    order (:data:`PREPARED_COLUMNS`): name, spec (the :func:`chart_spec` as JSON text, sorted keys),
    csv (:func:`tidy_csv` of its data) and alt_text. A table, so a forked process can build and
    prepare some of the charts and hand them over (:func:`toolkit.pipeline.export_charts`)."""
    return pd.DataFrame([(fig.name, json.dumps(chart_spec(fig.chart), sort_keys=True, indent=2, ensure_ascii=False)
                          + "\n", tidy_csv(fig.data), fig.alt_text) for fig in figures],
                        columns=PREPARED_COLUMNS)


@dataclass(frozen=True)
class _Pending:
    """A chart whose CSV and alt text are written and whose spec is known: what :func:`_draw` needs."""

    paths: dict[str, Path]
    spec_text: str
    unchanged: bool

    @classmethod
    def of(cls, spec_text: str, csv: str, alt_text: str, slug: str, outdir: str | Path) -> _Pending:
        """Write the CSV and alt text of a :func:`prepared` chart as ``outdir/<slug>.*``."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {suffix: out / f"{slug}.{suffix}" for suffix in SUFFIXES}
        write_text(paths["csv"], csv)
        write_text(paths["txt"], alt_text.strip() + "\n")
        unchanged = all(p.is_file() for p in paths.values()) and \
            paths["vl.json"].read_text(encoding="utf-8") == spec_text
        return cls(paths, spec_text, unchanged)


#: The command of the second drawing process (:func:`_draw_all`): :mod:`toolkit.drawing` run as a
#: script by this interpreter, isolated (``-I``: no script folder on ``sys.path``, so the package's
#: module names cannot shadow the standard library's).
DRAW_WORKER = [sys.executable, "-I", drawing.__file__]


def _draw_all(jobs: Sequence[tuple[str, str, str, str]]) -> None:
    """:func:`toolkit.drawing.draw` every job (spec text, SVG path, PNG path, Vega-Lite version).

    With more than one core and job, a share of the charts goes to a second process
    (:data:`DRAW_WORKER`), balanced by spec size (the better proxy for drawing time), while this
    process draws the rest: vl-convert draws one chart at a time per process, and drawing was
    the largest part of exporting a 10,000-article corpus's charts. Should the worker fail, its
    share is drawn here with a warning: the files are the same either way.
    """
    mine: list[tuple[str, str, str, str]] = []
    theirs: list[tuple[str, str, str, str]] = []
    if len(jobs) > 1 and (os.cpu_count() or 1) > 1:
        load = [0, 0]
        for job in sorted(jobs, key=lambda job: -len(job[0])):  # greedy balance, largest first
            side = int(load[1] < load[0])
            (theirs if side else mine).append(job)
            load[side] += len(job[0])
    else:
        mine = list(jobs)
    worker = None
    if theirs:
        worker = subprocess.Popen(DRAW_WORKER, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8")
        try:
            worker.stdin.write(json.dumps(theirs, ensure_ascii=False))
            worker.stdin.close()
        except OSError:
            pass
    for job in mine:
        drawing.draw(*job)
    if worker is not None:
        errors = worker.stderr.read()
        worker.stderr.close()
        if worker.wait():
            warnings.warn(f"export: the second drawing process failed ({(errors or '').strip().splitlines()[-1:]}); "
                          "drawing its charts here.", RuntimeWarning, stacklevel=3)
            for job in theirs:
                drawing.draw(*job)


def _draw(pending: Sequence[_Pending]) -> list[dict[str, Path]]:
    """Draw every changed chart of ``pending``: SVGs and PNGs (:func:`_draw_all`), then HTML pages
    and, last, the spec files, so that an interrupted export leaves a chart to be redrawn rather
    than marked as done."""
    todo = [p for p in pending if not p.unchanged]
    version = vl_version()
    _draw_all([(item.spec_text, str(item.paths["svg"]), str(item.paths["png"]), version) for item in todo])
    for item in todo:
        # from the spec as read back from its JSON text, as drawn, so a chart prepared in another
        # process is drawn from the same spec as one prepared here
        write_text(item.paths["html"], offline_html(json.loads(item.spec_text), version))
        write_text(item.paths["vl.json"], item.spec_text)
    return [p.paths for p in pending]


def export_figure(fig: Figure, outdir: str | Path) -> dict[str, Path]:
    """:func:`export` for a :class:`~toolkit.charts.core.Figure` (its name, chart, data and alt text)."""
    return export(fig.chart, fig.data, fig.name, outdir, alt_text=fig.alt_text)


INDEX_STYLE = """
body { font-family: Helvetica Neue, Arial, Liberation Sans, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.8rem; }
li { list-style: none; margin: 0 0 2.5rem; padding: 0 0 1.5rem; border-bottom: 1px solid #ddd; }
h2 { font-size: 1.2rem; font-family: monospace; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
p.alt { font-size: 1rem; line-height: 1.4; }
nav a { margin-right: 1rem; }
"""


def index_html(entries: Sequence[tuple[str, str]], *, title: str) -> str:
    """The index page for ``(slug, alt_text)`` entries: thumbnail, alt text and links per chart.

    Every piece of text is HTML-escaped (quotes included); the page loads nothing from the
    network, only the PNG files next to it.
    """
    esc = html.escape
    items = []
    for slug, alt_text in entries:
        links = " ".join(f'<a href="{esc(slug)}.{s}">{s.upper()}</a>' for s in SUFFIXES)
        items.append(
            f'<li id="{esc(slug)}">\n<h2>{esc(slug)}</h2>\n'
            f'<a href="{esc(slug)}.html"><img src="{esc(slug)}.png" alt="{esc(alt_text)}"></a>\n'
            f'<p class="alt">{esc(alt_text)}</p>\n<nav>{links}</nav>\n</li>'
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{esc(title)}</title>\n<style>{INDEX_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<p>{len(entries)} chart{'s' if len(entries) != 1 else ''}. "
        "Each opens offline; CSV files hold the data behind each chart.</p>\n<ul>\n"
        + "\n".join(items)
        + "\n</ul>\n</body>\n</html>\n"
    )


def export_all(figures: Sequence[Figure], outdir: str | Path, *, title: str = "newsangle charts") -> Path:
    """Export every figure into ``outdir`` and write ``outdir/index.html``; return the index path.

    Figure names are slugified and made unique in order (see :func:`unique_slugs`), so two figures
    can never overwrite each other's files.
    """
    return export_prepared(prepared(figures), outdir, title=title)


def export_prepared(charts: pd.DataFrame, outdir: str | Path, *, title: str = "newsangle charts") -> Path:
    """:func:`export_all` for charts already :func:`prepared` (rows in order)."""
    out = Path(outdir)
    slugs = unique_slugs(charts["name"])
    _draw([_Pending.of(spec, csv, alt_text, slug, out)
           for slug, spec, csv, alt_text in zip(slugs, charts["spec"], charts["csv"], charts["alt_text"], strict=True)])
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    write_text(index, index_html(list(zip(slugs, charts["alt_text"], strict=True)), title=title))
    return index

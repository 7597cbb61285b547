"""Exports for stories: every format written, offline HTML, safe names, neutralised CSV, stable bytes."""

import hashlib
import json
import re
import sys
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from toolkit.charts.core import Figure
from toolkit import export as export_module
from toolkit.export import export, export_all, export_figure, neutralise_cell, slugify, tidy_csv, unique_slugs

HOSTILE = ["<script>alert(1)</script>", '=HYPERLINK("http://x")', "../../etc/passwd"]


def hostile_figure() -> Figure:
    data = pd.DataFrame({
        "outlet": HOSTILE,
        "share": [0.25, -0.5, 0.125],
        "n": [4, 12, 30],
        "published": pd.to_datetime(["2025-09-10", "2025-09-11", None]),
    })
    chart = alt.Chart(data).mark_bar().encode(x="share:Q", y="outlet:N").properties(title=HOSTILE[0])
    return Figure(name=HOSTILE[2], chart=chart, data=data, alt_text=f"Bar chart of {HOSTILE[0]} by outlet.")


def test_slugs_are_safe_file_stems():
    assert [slugify(t) for t in HOSTILE] == ["script-alert-1-script", "hyperlink-http-x", "etc-passwd"]
    assert slugify("Tone by outlet — Élysée") == "tone-by-outlet-elysee"
    assert slugify("///") == "chart"
    assert len(slugify("x" * 500)) == 80
    assert unique_slugs(["A b", "a-b", "a b"]) == ["a-b", "a-b-2", "a-b-3"]


def test_csv_neutralises_formulas_but_keeps_numbers_and_iso_dates():
    text = tidy_csv(hostile_figure().data)
    assert text.splitlines() == [
        "outlet,share,n,published",
        "<script>alert(1)</script>,0.25,4,2025-09-10",
        "\"'=HYPERLINK(\"\"http://x\"\")\",-0.5,12,2025-09-11",
        "../../etc/passwd,0.125,30,",
    ]
    assert [neutralise_cell(v) for v in ["-5 dead", "+1", "@x", "\tx", "\rx", "ok", -5]] == [
        "'-5 dead", "'+1", "'@x", "'\tx", "'\rx", "ok", -5,
    ]


def test_every_format_is_written_inside_outdir_and_html_is_offline(tmp_path):
    fig = hostile_figure()
    paths = export(fig.chart, fig.data, fig.name, tmp_path / "out", alt_text=fig.alt_text)
    assert sorted(p.name for p in paths.values()) == [
        "etc-passwd.csv", "etc-passwd.html", "etc-passwd.png", "etc-passwd.svg", "etc-passwd.txt", "etc-passwd.vl.json",
    ]
    assert all(p.parent == tmp_path / "out" for p in paths.values())
    page = paths["html"].read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in page and "<script src=" not in page
    assert "vegaEmbed" in page
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert paths["svg"].read_text(encoding="utf-8").startswith("<svg")
    assert paths["txt"].read_text(encoding="utf-8") == "Bar chart of <script>alert(1)</script> by outlet.\n"


def test_index_escapes_scraped_text_and_links_every_file(tmp_path):
    index = export_all([hostile_figure(), hostile_figure()], tmp_path, title="<b>Story</b>")
    page = index.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Story&lt;/b&gt;" in page
    for stem in ("etc-passwd", "etc-passwd-2"):
        for ext in ("html", "png", "svg", "csv", "txt", "vl.json"):
            assert f'href="{stem}.{ext}"' in page
            assert (tmp_path / f"{stem}.{ext}").is_file()


def test_two_exports_are_byte_identical(tmp_path):
    def digests(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    export_all([hostile_figure()], tmp_path / "a")
    export_all([hostile_figure()], tmp_path / "b")
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_script_breaking_text_stays_data_in_the_html(tmp_path):
    bad = "</script><script>alert(1)</script>"
    data = pd.DataFrame({"outlet": [bad, "ok & <b>"], "v": [1, 2]})
    chart = alt.Chart(data).mark_bar().encode(x="v:Q", y="outlet:N").properties(title=bad)
    page = export(chart, data, bad, tmp_path, alt_text=bad)["html"].read_text(encoding="utf-8")
    assert page.count("</script>") == 2  # the closing tags of the page's own two scripts
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page
    markup = re.sub(r"<script>.*?</script>", "<script></script>", page, flags=re.S)
    assert markup.count("<script></script>") == 2
    assert "src=" not in markup and "href=" not in markup  # the page fetches nothing


def test_csv_text_cells_lists_headers_and_times():
    table = pd.DataFrame({
        "=cmd": ["-2 killed", "@user", "plain"],
        "delta": [-1.5, 0.0, 2.0],
        "doc_ids": [["000", "001"], [], ["002"]],
        "at": pd.to_datetime(["2025-09-10 14:30", "2025-09-11 00:00", "2025-09-12 00:00"]),
    })
    assert tidy_csv(table).splitlines() == [
        "'=cmd,delta,doc_ids,at",
        "'-2 killed,-1.5,000; 001,2025-09-10T14:30:00",
        "'@user,0.0,,2025-09-11T00:00:00",
        "plain,2.0,002,2025-09-12T00:00:00",
    ]
    assert list(table.columns) == ["=cmd", "delta", "doc_ids", "at"]


def test_spec_file_is_sorted_json_with_the_theme(tmp_path):
    fig = hostile_figure()
    text = export_figure(fig, tmp_path)["vl.json"].read_text(encoding="utf-8")
    spec = json.loads(text)
    assert text == json.dumps(spec, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert spec["config"]["title"]["fontSize"] == 20


def test_unchanged_charts_are_not_redrawn_and_changed_ones_are(tmp_path):
    from toolkit.export import export

    chart = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_bar().encode(x="x:Q")
    first = export(chart, pd.DataFrame({"x": [1, 2]}), "c", tmp_path, alt_text="A.")
    stamp = first["png"].stat().st_mtime_ns
    export(chart, pd.DataFrame({"x": [1, 2]}), "c", tmp_path, alt_text="A.")
    assert first["png"].stat().st_mtime_ns == stamp
    changed = alt.Chart(pd.DataFrame({"x": [1, 3]})).mark_bar().encode(x="x:Q")
    export(changed, pd.DataFrame({"x": [1, 3]}), "c", tmp_path, alt_text="A.")
    assert first["png"].stat().st_mtime_ns != stamp
    assert '"x": 3' in first["vl.json"].read_text(encoding="utf-8")


def small_multiples() -> list[Figure]:
    figs = []
    for i in range(3):
        data = pd.DataFrame({"x": list(range(5 + 20 * i)), "y": [(j * 7 + i) % 11 for j in range(5 + 20 * i)]})
        chart = alt.Chart(data).mark_point().encode(x="x:Q", y="y:Q").properties(title=f"Chart {i}")
        figs.append(Figure(name=f"chart {i}", chart=chart, data=data, alt_text=f"Chart {i}."))
    return figs


def test_charts_drawn_together_equal_charts_drawn_one_by_one(tmp_path):
    """export_all draws some charts in a second process as well as here; the files are the same."""
    export_all(small_multiples(), tmp_path / "together")
    for fig in small_multiples():
        export_figure(fig, tmp_path / "alone")
    for path in sorted((tmp_path / "alone").iterdir()):
        assert path.read_bytes() == (tmp_path / "together" / path.name).read_bytes(), path.name


def test_a_failing_drawing_process_is_reported_and_its_charts_drawn_here(tmp_path, monkeypatch):
    export_all(small_multiples(), tmp_path / "ok")
    monkeypatch.setattr(export_module, "DRAW_WORKER", [sys.executable, "-c", "import sys; sys.exit('no renderer here')"])
    with pytest.warns(RuntimeWarning, match="no renderer here"):
        export_all(small_multiples(), tmp_path / "fallback")
    for path in sorted((tmp_path / "ok").iterdir()):
        assert path.read_bytes() == (tmp_path / "fallback" / path.name).read_bytes(), path.name


def gradient_figure() -> Figure:
    data = pd.DataFrame({"outlet": ["A", "B", "C"], "share": [0.1, 0.5, 0.9]})
    chart = alt.Chart(data).mark_bar().encode(x="share:Q", y="outlet:N", color="share:Q")
    return Figure(name="shares", chart=chart, data=data, alt_text="Bar chart of shares by outlet.")


def test_a_chart_with_a_gradient_legend_is_the_same_svg_however_many_charts_were_drawn_before(tmp_path):
    """Vega numbers gradients across every chart a process draws; the exported SVG does not show it."""
    export_all([gradient_figure()], tmp_path / "first")
    export_all([gradient_figure(), gradient_figure()], tmp_path / "later")
    first = (tmp_path / "first" / "shares.svg").read_text()
    assert 'id="shares-0"' in first and "url(#shares-0)" in first and "gradient_" not in first
    assert (tmp_path / "later" / "shares.svg").read_text() == first
    assert 'id="shares-2-0"' in (tmp_path / "later" / "shares-2.svg").read_text()

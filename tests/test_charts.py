"""Chart core: outlet colours, theme, source line, builders that only encode given columns, layout."""

import itertools
import json
import warnings

import altair as alt
import pandas as pd
import pytest

from toolkit.charts import core

OUTLETS = ["Reuters", "Al Mayadeen", "BBC"]


def lightness(hex_colour: str) -> float:
    """CIE L* of an sRGB colour: what is left of it in greyscale."""
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return 116 * y ** (1 / 3) - 16 if y > 0.008856 else 903.3 * y


def spec(chart: alt.TopLevelMixin) -> dict:
    with alt.theme.enable(core.THEME_NAME):
        return chart.to_dict()


def tone_table() -> pd.DataFrame:
    return pd.DataFrame({
        "outlet": OUTLETS,
        "mean_compound": [-0.05, -0.2, 0.12],
        "ci_low": [-0.08, -0.3, 0.0],
        "ci_high": [-0.02, -0.1, 0.24],
        "n": [300, 80, 6],
        "example": ["It was a tense day.", "Aggression continues.", "Talks went well."],
    })


def test_outlet_colours_are_sorted_palette_order_whatever_the_input_order():
    expected = {"Al Mayadeen": "#332288", "BBC": "#E69F00", "Reuters": "#0072B2"}
    for order in itertools.permutations(OUTLETS):
        assert core.outlet_colors(list(order)) == expected
    assert core.outlet_colors(OUTLETS + ["BBC"]) == expected
    scale = core.outlet_scale(OUTLETS).to_dict()
    assert scale == {"domain": ["Al Mayadeen", "BBC", "Reuters"], "range": ["#332288", "#E69F00", "#0072B2"]}


def test_palette_stays_apart_in_greyscale():
    levels = sorted(lightness(c) for c in core.OUTLET_PALETTE)
    assert min(b - a for a, b in itertools.pairwise(levels)) >= 7


def test_more_outlets_than_colours_warns_and_repeats():
    outlets = [f"outlet {i}" for i in range(len(core.OUTLET_PALETTE) + 1)]
    with pytest.warns(UserWarning, match="colours repeat"):
        colours = core.outlet_colors(outlets)
    assert colours["outlet 7"] == core.OUTLET_PALETTE[0]
    assert len(set(colours.values())) == len(core.OUTLET_PALETTE)


def test_source_line_counts_singular_and_plural():
    assert core.source_line(1, 1) == "Source: newsangle analysis of 1 article from 1 outlet"
    assert core.source_line(1200, 5) == "Source: newsangle analysis of 1,200 articles from 5 outlets"


def test_theme_is_registered_and_enabled_on_request():
    assert core.THEME_NAME in alt.theme.names()
    config = spec(alt.Chart(pd.DataFrame({"a": [1]})).mark_bar().encode(x="a:Q"))["config"]
    assert config["title"]["fontSize"] == 20 and config["axis"]["labelFontSize"] == 13
    assert config["range"]["category"] == list(core.OUTLET_PALETTE)


def test_bar_chart_encodes_given_values_fades_small_n_and_carries_evidence():
    table = tone_table()
    s = spec(core.bar_chart(table, category="outlet", value="mean_compound", color="outlet",
                            tooltip=["example"], title="Tone", source=core.source_line(3, 3)))
    assert list(s["datasets"].values())[0] == json.loads(table.to_json(orient="records"))
    assert s["title"]["text"] == ["Faded marks rest on fewer than 10 sentences; read them with caution.",
                                  "Source: newsangle analysis of 3 articles from 3 outlets"]
    bars = s["vconcat"][0]["layer"][0]
    assert bars["encoding"]["opacity"]["condition"] == [{"test": "(datum['n'] < 10)", "value": core.FADED_OPACITY}]
    assert [t["field"] for t in bars["encoding"]["tooltip"]] == ["outlet", "mean_compound", "n", "example"]
    assert bars["encoding"]["color"]["scale"]["domain"] == ["Al Mayadeen", "BBC", "Reuters"]
    assert s["vconcat"][0]["title"]["text"] == "Tone"


def test_no_small_n_note_when_every_mark_is_large_enough():
    s = spec(core.bar_chart(tone_table().assign(n=50), category="outlet", value="mean_compound", source="Source: x"))
    assert s["title"]["text"] == ["Source: x"]


def test_dot_ci_chart_draws_interval_and_outlet_shape():
    s = spec(core.dot_ci_chart(tone_table(), category="outlet", value="mean_compound", ci_low="ci_low",
                               ci_high="ci_high", reference=0, outlets=OUTLETS + ["CNN"]))
    rule, whisker, dots = s["vconcat"][0]["layer"]
    assert rule["encoding"]["x"] == {"datum": 0}
    assert (whisker["encoding"]["x"]["field"], whisker["encoding"]["x2"]["field"]) == ("ci_low", "ci_high")
    assert dots["encoding"]["shape"]["scale"]["domain"] == ["Al Mayadeen", "BBC", "CNN", "Reuters"]


def test_heatmap_writes_n_in_cells_and_switches_text_colour_on_dark_cells():
    table = pd.DataFrame({"outlet": ["A", "A", "B", "B"], "frame": ["x", "y", "x", "y"],
                          "share": [0.0, 0.2, 0.4, 0.8], "n": [1, 20, 30, 40]})
    s = spec(core.heatmap(table, x="frame", y="outlet", value="share"))
    text = s["vconcat"][0]["layer"][1]["encoding"]
    assert text["text"]["field"] == "n"
    assert text["color"]["condition"] == [{"test": 'datum["share"] > 0.4', "value": "white"}]


def test_small_multiples_facets_one_panel_per_outlet():
    table = tone_table().assign(topic="war")
    s = spec(core.small_multiples(table, kind="bar", category="topic", value="mean_compound"))
    assert s["vconcat"][0]["facet"]["field"] == "outlet"
    with pytest.raises(ValueError, match="kind must be one of"):
        core.small_multiples(table, kind="pie", category="topic", value="mean_compound")


def test_diverging_bar_names_sides_without_turning_labels_into_code():
    s = spec(core.diverging_bar(tone_table(), category="outlet", value="mean_compound",
                                negative_label="'); alert(1); ('", positive_label="warmer"))
    assert s["vconcat"][0]["layer"][0]["transform"][0]["calculate"] == (
        'datum["mean_compound"] < 0 ? "\'); alert(1); (\'" : "warmer"'
    )


def test_distribution_chart_draws_one_tick_per_sentence_and_given_summary():
    sentences = pd.DataFrame({"outlet": ["A", "A", "B"], "compound": [0.5, -0.5, 0.1], "text": ["a", "b", "c"]})
    summary = pd.DataFrame({"outlet": ["A", "B"], "mean": [0.0, 0.1], "ci_low": [-0.9, 0.1],
                            "ci_high": [0.9, 0.1], "n": [2, 1]})
    s = spec(core.distribution_chart(sentences, value="compound", summary=summary, tooltip=["text"]))
    layers = s["vconcat"][0]["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["tick", "rule", "point"]
    assert len(s["datasets"]) == 2


def test_network_layout_is_seeded_order_free_and_drops_dangling_edges():
    nodes = pd.DataFrame({"actor": ["NATO", "Russia", "Ukraine"], "n": [4, 8, 6]})
    edges = pd.DataFrame({"actor_a": ["NATO", "Russia", "Iran"], "actor_b": ["Russia", "Ukraine", "NATO"],
                          "sentences": [3, 5, 1]})
    n1, e1 = core.network_layout(nodes, edges, weight="sentences", seed=3)
    n2, e2 = core.network_layout(nodes.iloc[::-1], edges.iloc[::-1], weight="sentences", seed=3)
    pd.testing.assert_frame_equal(n1, n2)
    pd.testing.assert_frame_equal(e1, e2)
    assert list(e1["actor_a"]) == ["NATO", "Russia"]
    assert (e1.loc[0, ["x2", "y2"]].to_list() == n1.loc[n1.actor == "Russia", ["x", "y"]].iloc[0].to_list())
    assert all(round(v, 4) == v for v in n1["x"])
    s = spec(core.network_chart(nodes, edges, title="Who with whom"))
    assert [layer["mark"]["type"] for layer in s["vconcat"][0]["layer"]] == ["rule", "circle", "text"]
    # links fade by stroke opacity: an SVG element with plain opacity is rasterised in a layer of its own
    links = s["vconcat"][0]["layer"][0]["encoding"]
    assert "strokeOpacity" in links and "opacity" not in links


def test_notebook_renderer_gives_svg_and_a_stable_fingerprint():
    chart = core.bar_chart(tone_table(), category="outlet", value="mean_compound", title="Tone", source="S")
    first, second = spec(chart), spec(chart)
    assert core.spec_fingerprint(first) == core.spec_fingerprint(second)
    assert core.spec_fingerprint(first).startswith("<newsangle chart 'Tone' spec sha256:")
    bundle = core._notebook_renderer(first)
    assert sorted(bundle) == ["image/svg+xml", "text/plain"]
    assert bundle["image/svg+xml"].startswith("<svg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = spec(core.bar_chart(tone_table().assign(n=99), category="outlet", value="mean_compound", title="Tone"))
    assert core.spec_fingerprint(other) != core.spec_fingerprint(first)

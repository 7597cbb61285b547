"""Charts of corpora with many outlets: only the top outlets are drawn, the rest are named or counted."""

import warnings

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert

from toolkit import sentiment
from toolkit.charts import core, corpus, framing, tone, topics
from toolkit.export import chart_spec, export


def many_outlet_articles(n_outlets: int) -> pd.DataFrame:
    """Outlet ``o00`` has 1 article, ``o01`` 2, …: more articles for later outlets."""
    rows = [(f"o{i:02d}-a{j}", f"o{i:02d}", f"Title {i} {j}") for i in range(n_outlets) for j in range(i + 1)]
    return pd.DataFrame(rows, columns=["doc_id", "outlet", "title"])


def spec(chart: alt.TopLevelMixin) -> dict:
    with alt.theme.enable(core.THEME_NAME), alt.data_transformers.enable("default", max_rows=None):
        return chart.to_dict()


def footer(s: dict) -> list[str]:
    return s["title"]["text"]


def drawn_outlets(s: dict) -> set[str]:
    return {row["outlet"] for rows in s["datasets"].values() for row in rows if "outlet" in row}


def test_select_outlets_ranks_by_articles_then_name_among_present():
    articles = pd.DataFrame({"outlet": ["B", "A", "B", "C", "C", "C", "D"]})
    assert core.select_outlets(articles, limit=2) == core.OutletSelection(shown=("C", "B"), hidden=("A", "D"))
    assert core.select_outlets(articles, ["A", "D", "Z"], limit=2).shown == ("A", "D")
    everything = core.select_outlets(articles)
    assert everything.hidden == () and everything.note() is None and everything.legend() is alt.Undefined
    assert everything.counted() == "4 outlets"


def test_selection_note_names_a_few_and_counts_many():
    few = core.OutletSelection(shown=("A",), hidden=("B", "C"))
    assert few.note() == "Not shown (fewer articles): B, C; their figures are in the CSV file."
    many = core.OutletSelection(shown=("A", "B"), hidden=("C", "D", "E", "F"))
    assert many.note() == "Showing the 2 outlets with the most articles; the other 4 are in the CSV file."
    assert many.counted() == "the 2 outlets with the most articles (of 6)"
    assert many.legend().to_dict() == {"columns": 4, "values": ["A", "B"]}


def scored_sentences(articles: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    docs = np.repeat(articles["doc_id"].to_numpy(), 4)
    return pd.DataFrame({
        "doc_id": docs,
        "para_id": 0,
        "sent_id": np.tile(np.arange(4), len(articles)),
        "text": [f"sentence {i}" for i in range(len(docs))],
        "compound": rng.uniform(-1, 1, len(docs)).round(4),
        "voice": np.where(rng.uniform(size=len(docs)) < 0.3, "quoted", "own"),
    })


def test_tone_charts_draw_the_top_outlets_and_keep_all_in_the_data():
    articles = many_outlet_articles(30)
    sentences = scored_sentences(articles)
    tables = {
        "articles": articles,
        "sentiment_by": sentiment.aggregate(sentences, articles=articles),
        "sentiment_evidence": sentiment.evidence(sentences, articles),
        "sentiment_distribution": sentiment.distribution(sentences, articles),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # more outlets than palette colours
        by_outlet, dist = tone.figures(tables)
    top20 = {f"o{i:02d}" for i in range(10, 30)}
    s = spec(by_outlet.chart)
    assert drawn_outlets(s) == top20
    assert by_outlet.data["outlet"].nunique() == 30
    assert "Showing the 20 outlets with the most articles; the other 10 are in the CSV file." in footer(s)
    assert "the 20 outlets with the most articles (of 30)" in by_outlet.alt_text
    s = spec(dist.chart)
    assert drawn_outlets(s) == {f"o{i:02d}" for i in range(18, 30)}
    assert sum(len(rows) for rows in s["datasets"].values()) == core.MAX_OUTLET_PANELS * 20  # 20 bins each
    assert dist.data["outlet"].nunique() == 30


def test_corpus_outlet_bars_are_capped_and_small_corpora_unchanged():
    articles = many_outlet_articles(25)
    summary = articles.groupby("outlet").size().rename("articles").reset_index().assign(words=100, sentences=10)
    reasons = pd.DataFrame({"reason": ["menu"], "lines": [3], "articles": [2], "example": ["Home"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = corpus.figures({"articles": articles, "outlet_summary": summary, "removal_reasons": reasons})[0]
    s = spec(fig.chart)
    assert len(drawn_outlets(s)) == core.MAX_OUTLETS and len(fig.data) == 25
    assert footer(s)[-2] == "Showing the 20 outlets with the most articles; the other 5 are in the CSV file."
    small = corpus.figures({"articles": articles[articles["outlet"] < "o03"], "outlet_summary": summary.head(3),
                            "removal_reasons": reasons})[0]
    assert not any("CSV file" in line for line in footer(spec(small.chart)))


def test_frame_share_chart_gives_each_outlet_a_12px_band():
    articles = many_outlet_articles(22)
    shares = pd.DataFrame([
        {"outlet": o, "frame": "c", "label": "Conflict", "sentences": 1, "n": 40, "share": 0.1, "ci_low": 0.0,
         "ci_high": 0.2, "articles": 1, "example": "x"}
        for o in articles["outlet"].unique()
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = framing.frame_share_figure(shares, sorted(articles["outlet"].unique()), "Source", articles)
    s = spec(fig.chart)
    inner = s["vconcat"][0]
    assert inner["height"] == {"step": 12}
    assert len(drawn_outlets(s)) == core.MAX_OUTLETS and len(fig.data) == 22
    assert inner["layer"][0]["encoding"]["color"]["legend"]["values"] == sorted(
        core.select_outlets(articles).shown
    )


def test_export_rasterises_the_svg_exactly_like_vegalite_to_png(tmp_path):
    table = pd.DataFrame({"outlet": ["A", "B"], "n": [3, 5]})
    chart = alt.Chart(table).mark_bar().encode(x="n:Q", y="outlet:N").properties(title="Bars")
    paths = export(chart, table, "bars", tmp_path, alt_text="Bars.")
    expected = vl_convert.vegalite_to_png(chart_spec(chart), vl_version=core.vl_version(), scale=2)
    assert paths["png"].read_bytes() == expected


@pytest.mark.parametrize("n_outlets", [3, 40])
def test_outlet_count_never_changes_how_many_outlets_a_chart_draws_beyond_the_cap(n_outlets):
    articles = many_outlet_articles(n_outlets)
    selection = core.select_outlets(articles)
    assert len(selection.shown) == min(n_outlets, core.MAX_OUTLETS)
    assert len(selection.shown) + len(selection.hidden) == n_outlets


def test_topic_heatmap_draws_the_top_outlets_and_keeps_all_in_the_data():
    articles = many_outlet_articles(23)
    outlets = sorted(articles["outlet"].unique())
    info = pd.DataFrame({"topic": [0, 1], "topic_label": ["talks, ceasefire", "energy, gas"],
                         "top_terms": ["talks, ceasefire", "energy, gas"], "size": [30, 20], "articles": [9, 7],
                         "outlets": [23, 23], "single_outlet": [False, False], "doc_id": ["o00-a0", "o01-a0"],
                         "para_id": [0, 0], "example": ["Talks resumed.", "Gas prices rose."]})
    shares = pd.DataFrame([(t, label, o, 1, 1, 2, 0.5, 0.1, 0.9, False) for t, label in enumerate(info["topic_label"])
                           for o in outlets], columns=["topic", "topic_label", "outlet", "paragraphs", "articles", "n",
                                                       "share", "ci_low", "ci_high", "single_outlet"])
    fig = topics.heatmap_figure(info, shares, "Source: test", articles=articles)
    s = spec(fig.chart)
    assert drawn_outlets(s) == {f"o{i:02d}" for i in range(3, 23)} and len(fig.data) == 46
    assert "Not shown (fewer articles): o02, o01, o00; their figures are in the CSV file." in footer(s)

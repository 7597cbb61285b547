"""Specification of toolkit.sentiment: VADER scoring, voice marking, aggregates, evidence."""

import math

import numpy as np
import pandas as pd
import pytest

from toolkit import sentiment
from toolkit.sentiment import (
    aggregate,
    bootstrap_ci,
    distribution,
    evidence,
    mark_voice,
    quote_spans,
    run,
    score_sentences,
    strip_markup,
)


def _sentences(texts, doc_id="d1", para_ids=None):
    """A sentences table for one document, one paragraph per sentence unless told."""
    para_ids = list(range(len(texts))) if para_ids is None else para_ids
    return pd.DataFrame({
        "doc_id": doc_id,
        "para_id": para_ids,
        "sent_id": range(len(texts)),
        "start": 0,
        "end": 0,
        "text": texts,
    })


# --- scoring -----------------------------------------------------------------------

# Computed once with vaderSentiment 3.3.2 and pinned.
PINNED = [
    ("The talks collapsed and the ministry called the strikes a brutal, senseless massacre.",
     (0.465, 0.535, 0.0, -0.8271)),
    ("Negotiators praised the ceasefire as a great and hopeful step!", (0.0, 0.391, 0.609, 0.8977)),
    ("The delegation arrived in Paris on Tuesday.", (0.0, 1.0, 0.0, 0.0)),
    ("This is GREAT!!! 😀", (0.0, 0.268, 0.732, 0.8485)),
]


def test_score_sentences_pins_vader_values_and_keeps_columns():
    table = _sentences([text for text, _ in PINNED])
    scored = score_sentences(table)
    assert list(scored.columns) == list(table.columns) + ["neg", "neu", "pos", "compound"]
    got = scored[["neg", "neu", "pos", "compound"]].to_numpy()
    assert got.tolist() == [list(values) for _, values in PINNED]
    assert table.columns.tolist() == ["doc_id", "para_id", "sent_id", "start", "end", "text"]


def test_markup_is_removed_but_emphasis_kept():
    assert strip_markup("The deal is <b>terrible</b> &amp; unfair.\u200b") == "The deal is terrible & unfair."
    assert strip_markup("GREAT!!!\u00a0:)") == "GREAT!!! :)"
    scored = score_sentences(_sentences(["The deal is <b>terrible</b> &amp; unfair.", "The deal is terrible & unfair."]))
    assert scored["compound"].tolist() == [-0.7351, -0.7351]
    assert scored["text"].iloc[0] == "The deal is <b>terrible</b> &amp; unfair."


def test_missing_and_empty_text_score_zero():
    scored = score_sentences(_sentences(["", None]))
    assert scored[["neg", "neu", "pos", "compound"]].to_numpy().tolist() == [[0.0] * 4, [0.0] * 4]
    empty = score_sentences(_sentences([]))
    assert len(empty) == 0 and "compound" in empty.columns


def test_parallel_equals_serial_in_order():
    texts = [text for text, _ in PINNED] * 25 + ["Awful, awful news.", "Fine."]
    table = _sentences(texts)
    serial = score_sentences(table, n_jobs=1)
    parallel = score_sentences(table, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_n_jobs_validation():
    with pytest.raises(ValueError):
        score_sentences(_sentences(["x"]), n_jobs=0)


# --- voice -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("“This is a disgrace,” the minister said.", ["“This is a disgrace,”"]),
        ('He said "no" to it.', ['"no"']),
        ('Officials left "forever chemicals” in the soil.', ['"forever chemicals”']),
        ("It's the players' union; don't forget the '90s.", []),
        ("Rock ’n’ roll, ’til dawn, they’re singing.", []),
        ("‘We will not give up,’ she said, ‘never.’", ["‘We will not give up,’", "‘never.’"]),
        ("“It aims to ‘promote peace’ today,” the letter says.", ["“It aims to ‘promote peace’ today,”"]),
        ("She said: «Enough.»", ["«Enough.»"]),
        ("He told them: “We will fight on.", ["“We will fight on."]),
    ],
)
def test_quote_spans(text, quoted):
    assert [text[a:b] for a, b in quote_spans(text)] == quoted


def test_mark_voice_quote_across_sentences_and_paragraph_reset():
    table = _sentences(
        [
            "“We will fight.",
            "We will never surrender.",
            "They will pay,” he added.",
            "The weather was nice.",
            "“Our plan is working.",
            "The economy grew in spring.",
        ],
        para_ids=[0, 0, 0, 1, 2, 3],
    )
    out = mark_voice(table)
    assert out["voice"].tolist() == ["quoted", "quoted", "quoted", "own", "quoted", "own"]
    assert out["quoted_share"].tolist() == [1.0, 1.0, round(15 / 25, 6), 0.0, 1.0, 0.0]


def test_mark_voice_reported_speech_and_scare_quotes():
    out = mark_voice(_sentences([
        "According to the ministry, the strike killed 12 people.",
        "The minister said that the attack was a cowardly crime.",
        "The so-called “coalition of the willing” met in Paris.",
        "Prices rose sharply in March.",
        "Israel DENIES the report.",
    ]))
    assert out["voice"].tolist() == ["quoted", "quoted", "own", "own", "quoted"]
    assert out.loc[2, "quoted_share"] == round(len("“coalition of the willing”") / len(out.loc[2, "text"]), 6)


def test_mark_voice_ignores_input_order_and_keeps_index():
    table = _sentences(["“Stop this war.", "It is madness,” she said.", "Rain fell."], para_ids=[0, 0, 1])
    shuffled = table.iloc[[2, 0, 1]].set_axis([10, 11, 12])
    out = mark_voice(shuffled)
    assert out.index.tolist() == [10, 11, 12]
    assert out["voice"].tolist() == ["own", "quoted", "quoted"]


# --- aggregation -------------------------------------------------------------------


def _scored(compounds, doc_ids, voices):
    return pd.DataFrame({
        "doc_id": doc_ids,
        "sent_id": [int(i) for i in pd.Series(doc_ids).groupby(doc_ids).cumcount()],
        "text": [f"s{i}" for i in range(len(compounds))],
        "compound": compounds,
        "voice": voices,
    })


ARTICLES = pd.DataFrame({"doc_id": ["a1", "a2", "b1"], "outlet": ["A", "A", "B"], "title": ["T1", "T2", "T3"]})


def test_aggregate_exact_n_means_and_shares():
    sentences = _scored(
        [0.5, -0.5, 0.0, 0.9, -0.2, 0.3, -0.8],
        ["a1", "a1", "a1", "a2", "a2", "b1", "b1"],
        ["own", "quoted", "own", "own", "own", "quoted", "own"],
    )
    table = aggregate(sentences, articles=ARTICLES, n_boot=500, min_n=3)
    assert list(table.columns) == list(sentiment.SENTIMENT_BY_COLUMNS)
    outlet = table[table["level"] == "outlet"].set_index(["outlet", "voice"])
    assert outlet.loc[("A", "all"), "n"] == 5
    assert outlet.loc[("A", "all"), "mean_compound"] == pytest.approx(0.14)
    assert outlet.loc[("A", "own"), "n"] == 4
    assert outlet.loc[("A", "own"), "mean_compound"] == pytest.approx(0.3)
    assert outlet.loc[("A", "all"), "share_negative"] == pytest.approx(0.4)
    assert outlet.loc[("A", "all"), "share_positive"] == pytest.approx(0.4)
    assert outlet.loc[("A", "all"), "n_articles"] == 2
    assert outlet.loc[("B", "all"), "small_n"] and not outlet.loc[("A", "all"), "small_n"]
    assert outlet.loc[("B", "quoted"), "n"] == 1
    assert math.isnan(outlet.loc[("B", "quoted"), "ci_low"])
    assert math.isnan(outlet.loc[("B", "all"), "ci_high"])  # n = 2
    article = table[table["level"] == "article"]
    assert article["doc_id"].tolist() == ["a1"] * 3 + ["a2"] * 3 + ["b1"] * 3
    assert article["voice"].tolist() == ["all", "own", "quoted"] * 3
    a2_quoted = article[(article["doc_id"] == "a2") & (article["voice"] == "quoted")].iloc[0]
    assert a2_quoted["n"] == 0 and math.isnan(a2_quoted["mean_compound"])
    assert table.loc[table["level"] == "outlet", "doc_id"].isna().all()
    assert set(table["level"]) == {"outlet", "article"}


def test_aggregate_t_interval_exact():
    values = [0.5, -0.5, 0.0, 0.9, -0.2]
    sentences = _scored(values, ["a1"] * 3 + ["a2"] * 2, ["own"] * 5)
    table = aggregate(sentences, articles=ARTICLES)
    row = table[(table["level"] == "outlet") & (table["voice"] == "all")].iloc[0]
    half = 2.7764451051977987 * np.std(values, ddof=1) / math.sqrt(5)  # t(0.975, 4) * sd / sqrt(n)
    assert 0.14 - half < -0.5  # below the smallest value: clipped to it
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-0.5, 0.14 + half))
    clustered = aggregate(sentences, articles=ARTICLES, resample="article")
    assert clustered[clustered["level"] == "outlet"]["ci_low"].isna().all()  # 2 articles < 3 units


def test_t_interval_is_clipped_to_the_values_range():
    intervals = sentiment.group_intervals(np.array([0.9, 0.95, -0.9, 0.2, 0.2, 0.2]), np.array([0, 0, 0, 1, 1, 1]), 3)
    assert intervals[0].tolist() == [-0.9, 0.95]
    assert intervals[1].tolist() == pytest.approx([0.2, 0.2])
    assert np.isnan(intervals[2]).all()


def test_clustered_t_interval_is_the_cr1_ratio_interval():
    values = np.array([0.1, 0.3, -0.2, 0.5, 0.4, 0.0, -0.6])
    clusters = np.array(["a", "a", "b", "c", "c", "c", "d"])
    low, high = sentiment.group_intervals(values, np.zeros(7, dtype=int), 1, clusters=clusters)[0]
    sums, counts = np.array([0.4, -0.2, 0.9, -0.6]), np.array([2, 1, 3, 1])
    ratio = sums.sum() / counts.sum()
    se = math.sqrt(4 / 3 * ((sums - ratio * counts) ** 2).sum()) / counts.sum()
    half = 3.182446305284263 * se  # t(0.975, 3)
    assert (low, high) == pytest.approx((max(ratio - half, -0.6), min(ratio + half, 0.5)))


def test_grouped_bootstrap_equals_single_group_bootstrap():
    rng = np.random.default_rng(5)
    values = rng.uniform(-1, 1, 30).round(4)
    groups = np.repeat([0, 1, 2], 10)
    together = sentiment.group_intervals(values, groups, 3, method="bootstrap", n_boot=300, seed=2)
    for g in range(3):
        assert together[g] == pytest.approx(bootstrap_ci(values[groups == g], n_boot=300, seed=2), abs=1e-12)
    with pytest.raises(ValueError):
        sentiment.group_intervals(values, groups, 3, method="wild")


def test_aggregate_ci_properties_and_seeding():
    rng = np.random.default_rng(1)
    compounds = rng.uniform(-1, 1, 40).round(4).tolist()
    sentences = _scored(compounds, ["a1"] * 20 + ["a2"] * 20, ["own"] * 40)
    first = aggregate(sentences, articles=ARTICLES, n_boot=400, seed=3, interval="bootstrap")
    again = aggregate(sentences, articles=ARTICLES, n_boot=400, seed=3, interval="bootstrap")
    other = aggregate(sentences, articles=ARTICLES, n_boot=400, seed=4, interval="bootstrap")
    pd.testing.assert_frame_equal(first, again)
    assert not first["ci_low"].equals(other["ci_low"])
    finite = first[first["n"] >= 3]
    assert (finite["ci_low"] <= finite["mean_compound"]).all()
    assert (finite["mean_compound"] <= finite["ci_high"]).all()
    assert (finite["ci_low"] < finite["ci_high"]).all()


def test_group_interval_does_not_depend_on_other_groups():
    sentences = _scored([0.1, -0.4, 0.6, 0.2, -0.9, 0.3], ["a1"] * 3 + ["b1"] * 3, ["own"] * 6)
    pick = lambda t: t[(t["level"] == "outlet") & (t["outlet"] == "A")].reset_index(drop=True)
    for interval in ("t", "bootstrap"):
        both = aggregate(sentences, articles=ARTICLES, n_boot=300, interval=interval)
        alone = aggregate(sentences[sentences["doc_id"] == "a1"], articles=ARTICLES, n_boot=300, interval=interval)
        pd.testing.assert_frame_equal(pick(both), pick(alone))


def test_bootstrap_ci_small_and_clustered():
    assert all(math.isnan(x) for x in bootstrap_ci(np.array([0.3])))
    assert all(math.isnan(x) for x in bootstrap_ci(np.array([0.3, 0.5])))
    assert bootstrap_ci(np.array([0.2, 0.2, 0.2])) == pytest.approx((0.2, 0.2))
    values = np.array([0.1, 0.2, -0.3, 0.4, 0.5, -0.6])
    assert all(math.isnan(x) for x in bootstrap_ci(values, clusters=np.array(["a", "a", "a", "b", "b", "b"])))
    low, high = bootstrap_ci(values, clusters=np.array(list("aabbcc")), n_boot=500)
    assert low <= values.mean() <= high


MENTIONS = pd.DataFrame({
    "doc_id": ["a1", "a1", "a1", "a2", "b1"],
    "sent_id": [0, 0, 1, 0, 1],
    "actor": ["Kim", "Kim", "Trump", "Kim", "Kim"],
    "actor_type": "person",
    "surface": ["Kim", "he", "Trump", "Kim", "Kim"],
    "start": 0,
    "end": 3,
})


def test_aggregate_actor_levels_count_each_sentence_once():
    sentences = _scored(
        [0.5, -0.5, 0.0, 0.9, -0.2, 0.3, -0.8],
        ["a1", "a1", "a1", "a2", "a2", "b1", "b1"],
        ["own", "quoted", "own", "own", "own", "quoted", "own"],
    )
    table = aggregate(sentences, articles=ARTICLES, mentions=MENTIONS, n_boot=200)
    actor = table[(table["level"] == "actor") & (table["voice"] == "all")].set_index("actor")
    assert actor.loc["Kim", "n"] == 3
    assert actor.loc["Kim", "mean_compound"] == pytest.approx((0.5 + 0.9 - 0.8) / 3)
    assert actor["outlet"].isna().all()
    pair = table[(table["level"] == "outlet_actor") & (table["voice"] == "all")]
    assert pair[["outlet", "actor", "n"]].values.tolist() == [["A", "Kim", 2], ["A", "Trump", 1], ["B", "Kim", 1]]
    assert table["level"].drop_duplicates().tolist() == ["outlet", "article", "actor", "outlet_actor"]


# --- evidence ----------------------------------------------------------------------


def test_evidence_extremes_with_stable_ties():
    sentences = _scored(
        [-0.6, -0.6, 0.7, 0.0, -0.9, 0.2, 0.04],
        ["a1", "a1", "a1", "a2", "a2", "b1", "b1"],
        ["own", "quoted", "own", "own", "own", "quoted", "own"],
    )
    ev = evidence(sentences, ARTICLES, MENTIONS, k=2)
    assert list(ev.columns) == list(sentiment.EVIDENCE_COLUMNS)
    a_neg = ev[(ev["level"] == "outlet") & (ev["outlet"] == "A") & (ev["side"] == "negative")]
    assert a_neg[["doc_id", "sent_id", "rank", "compound"]].values.tolist() == [["a2", 1, 1, -0.9], ["a1", 0, 2, -0.6]]
    b = ev[(ev["level"] == "outlet") & (ev["outlet"] == "B")]
    assert b[["side", "sent_id", "title", "voice"]].values.tolist() == [["positive", 0, "T3", "quoted"]]
    kim_a = ev[(ev["level"] == "outlet_actor") & (ev["outlet"] == "A") & (ev["actor"] == "Kim")]
    assert kim_a[["side", "doc_id", "sent_id", "compound"]].values.tolist() == [["negative", "a1", 0, -0.6]]


def test_distribution_bins_counts_and_examples():
    sentences = _scored([-1.0, -0.95, 0.0, 0.0, 0.04, 1.0], ["a1"] * 4 + ["b1"] * 2, ["own"] * 6)
    dist = distribution(sentences, ARTICLES, bins=4)
    assert list(dist.columns) == list(sentiment.DISTRIBUTION_COLUMNS)
    a = dist[dist["outlet"] == "A"]
    assert a["bin_low"].tolist() == [-1.0, -0.5, 0.0, 0.5]
    assert a["n"].tolist() == [2, 0, 2, 0]
    assert a["share"].tolist() == [0.5, 0.0, 0.5, 0.0]
    assert a["sent_id"].tolist()[0] == 1  # -0.95 is nearer the bin centre -0.75 than -1.0
    assert a["sent_id"].tolist()[2] == 2  # tie between two 0.0 scores: lower sent_id
    assert pd.isna(a["text"].iloc[1])
    b = dist[dist["outlet"] == "B"]
    assert b["n"].tolist() == [0, 0, 1, 1] and (b["outlet_n"] == 2).all()


def test_run_returns_its_tables():
    tables = {
        "articles": ARTICLES,
        "sentences": _sentences(["“This is a terrible crime,” he said.", "Peace talks went well."], doc_id="a1"),
    }
    out = run(tables, n_boot=100, k=1, data_dir="data", cache_dir=None)
    assert set(out) == {"sentences", "sentiment_by", "sentiment_evidence", "sentiment_distribution"}
    assert out["sentences"]["voice"].tolist() == ["quoted", "own"]
    assert {"neg", "neu", "pos", "compound", "quoted_share"} <= set(out["sentences"].columns)
    with pytest.raises(TypeError):
        run(tables, bogus=1)


def test_tone_figures_from_run_tables():
    from toolkit.charts import tone

    texts = ["“This is a terrible crime,” Kim said.", "Peace talks went well for Kim.", "Kim smiled.", "Rain fell."]
    sentences = pd.concat(
        [_sentences(texts, doc_id="a1"), _sentences(texts[:2], doc_id="b1")], ignore_index=True
    )
    mentions = MENTIONS[MENTIONS["doc_id"].isin(["a1", "b1"])]
    tables = {"articles": ARTICLES, "sentences": sentences, "mentions": mentions}
    tables.update(run(tables, n_boot=100))
    figs = tone.figures(tables)
    assert [f.name for f in figs] == ["tone-by-outlet", "tone-toward-actors", "tone-distribution"]
    by_outlet = figs[0].data
    assert by_outlet[["outlet", "voice", "n"]].values.tolist() == [["A", "all", 4], ["A", "own", 3], ["B", "all", 2], ["B", "own", 1]]
    assert by_outlet["small_n"].all()
    assert by_outlet.loc[0, "most_negative"] == "“This is a terrible crime,” Kim said."
    assert "small-n" in str(figs[0].chart.to_dict())
    for fig in figs:
        assert fig.alt_text and fig.chart.to_dict()

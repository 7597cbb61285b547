"""Specification of toolkit.topics on small made-up corpora (TF-IDF fallback unless stated)."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from toolkit import models, topics
from toolkit.stats import wilson_interval

ROOT = Path(__file__).resolve().parents[1]

THEMES = {
    "ceasefire": [
        "Negotiators in Cairo discussed a ceasefire and the release of hostages held in Gaza.",
        "The ceasefire proposal would free hostages and pause the fighting in Gaza for six weeks.",
        "Hostages' families urged negotiators to accept the ceasefire deal before the deadline.",
        "Mediators said the Gaza ceasefire talks on hostages would resume in Cairo next week.",
    ],
    "pipeline": [
        "The gas pipeline from Siberia to China will carry fifty billion cubic metres a year.",
        "Europe lost Russian gas when the pipeline shut, and China became the main buyer.",
        "Pipeline gas prices in Europe rose after the Siberia deal with China was signed.",
        "Engineers said the new gas pipeline to China needs pumping stations across Siberia.",
    ],
    "election": [
        "Voters queued for hours as polling stations stayed open late in the election.",
        "The election commission counted ballots overnight and turnout reached a record.",
        "Observers said the election ballots were counted fairly at most polling stations.",
        "Turnout in the election was highest among young voters at urban polling stations.",
    ],
}
OUTLETS = ["Daily Planet", "Globe Wire", "Harbor Times"]


def corpus(n: int | None = None) -> dict[str, pd.DataFrame]:
    """Three outlets' articles; round r puts theme j's r-th paragraph in article (r + j) % 3."""
    rows = [(f"doc{(r + j) % 3}", texts[r]) for r in range(4) for j, texts in enumerate(THEMES.values())]
    paragraphs = pd.DataFrame(rows[:n], columns=["doc_id", "text"])
    paragraphs.insert(1, "para_id", paragraphs.groupby("doc_id").cumcount())
    paragraphs["is_heading"] = False
    articles = pd.DataFrame({"doc_id": ["doc0", "doc1", "doc2"], "outlet": OUTLETS})
    return {"paragraphs": paragraphs, "articles": articles}


def run_tfidf(tables: dict[str, pd.DataFrame], **options) -> dict[str, pd.DataFrame]:
    return topics.run(tables, embedding="tfidf", **options)


def test_tables_and_columns():
    out = run_tfidf(corpus())
    assert list(out["topics"].columns) == ["doc_id", "para_id", "outlet", "topic", "topic_label", "probability"]
    assert list(out["topic_info"].columns) == topics.TOPIC_INFO_COLUMNS
    assert list(out["topic_outlets"].columns) == topics.TOPIC_OUTLETS_COLUMNS
    assert list(out["topics_skipped"].columns) == ["doc_id", "para_id", "reason"]
    assert list(out["topic_run"].columns) == topics.RUN_COLUMNS
    assert len(out["topics"]) == 12
    assert out["topic_run"].at[0, "size_class"] == "small"
    assert out["topic_run"].at[0, "embedding"] == "tfidf-svd"


def test_small_corpus_recovers_made_up_themes_and_tables_agree():
    out = run_tfidf(corpus())
    t = out["topics"]
    merged = t.merge(corpus()["paragraphs"], on=["doc_id", "para_id"])
    theme_of = {text: name for name, texts in THEMES.items() for text in texts}
    merged["theme"] = merged["text"].map(theme_of)
    assert merged.groupby("theme")["topic"].nunique().eq(1).all()
    assert merged.groupby("topic")["theme"].nunique().eq(1).all()
    info = out["topic_info"].set_index("topic")
    assert info["size"].tolist() == [4, 4, 4]
    assert set(info["outlets"]) == {3}
    assert info["single_outlet"].isna().all()
    for topic, row in info.iterrows():
        example = merged.query("doc_id == @row.doc_id and para_id == @row.para_id")
        assert example["topic"].item() == topic
        assert example["text"].item() == row.example
    by_topic = dict(zip(merged["theme"], merged["topic_label"]))
    assert "ceasefire" in by_topic["ceasefire"] or "hostages" in by_topic["ceasefire"]


def test_outlet_names_are_not_topic_terms():
    out = run_tfidf(corpus())
    terms = " ".join(out["topic_info"]["top_terms"]).split(", ")
    for word in ("daily", "planet", "globe", "wire", "harbor", "times"):
        assert word not in " ".join(terms).split()


def test_term_tokens_are_words_of_two_or_more_letters():
    assert re.findall(topics.TERM_PATTERN, "Covid-19 hit G7 in 2024, a 000 x_y élan") == ["Covid", "hit", "in", "élan"]


def test_numbers_are_never_topic_terms_or_labels():
    tables = corpus()
    tables["paragraphs"] = tables["paragraphs"].assign(
        text=lambda p: p["text"] + " Figures for 2024: 19 of 000, Covid-19.")
    out = run_tfidf(tables)
    info = out["topic_info"]
    assert not any(ch.isdigit() for text in info["top_terms"] + info["topic_label"] for ch in text)


def test_same_input_same_tables():
    first, second = run_tfidf(corpus()), run_tfidf(corpus())
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


@pytest.mark.parametrize("n", [2, 5])
def test_few_paragraphs_use_ward_without_crashing(n):
    out = run_tfidf(corpus(n))
    run = out["topic_run"].iloc[0]
    assert run["size_class"] == "small"
    assert run["clustering"] == "Ward(k=1)" if n == 2 else run["clustering"].startswith("Ward(k=")
    assert len(out["topics"]) == n
    assert (out["topics"]["topic"] >= 0).all()
    assert out["topics"]["probability"].isna().all()


def test_without_torch_the_fallback_is_used_with_a_warning(monkeypatch):
    monkeypatch.setattr(models, "has_torch", lambda: False)
    with pytest.warns(RuntimeWarning, match="TF-IDF"):
        out = topics.run(corpus())
    assert out["topic_run"].at[0, "embedding"] == "tfidf-svd"
    assert len(out["topics"]) == 12


def test_one_paragraph_warns_and_leaves_it_unassigned():
    with pytest.warns(UserWarning, match="at least 2 are needed"):
        out = run_tfidf(corpus(1))
    assert out["topics"][["topic", "topic_label"]].values.tolist() == [[-1, "(unassigned)"]]
    assert out["topic_info"][["topic", "size"]].values.tolist() == [[-1, 1]]
    assert out["topic_run"].at[0, "size_class"] == "none"
    assert out["topic_outlets"][["outlet", "paragraphs", "n", "share"]].values.tolist() == [["Daily Planet", 1, 1, 1.0]]


def test_no_paragraphs_gives_empty_tables():
    tables = corpus()
    tables["paragraphs"] = tables["paragraphs"].assign(is_heading=True)
    with pytest.warns(UserWarning):
        out = run_tfidf(tables)
    assert out["topics"].empty and out["topic_info"].empty and out["topic_outlets"].empty
    assert len(out["topics_skipped"]) == 12


def test_headings_short_and_empty_paragraphs_are_skipped_and_recorded():
    paragraphs = pd.DataFrame({
        "doc_id": ["a", "a", "a", "a", "b"],
        "para_id": [0, 1, 2, 3, 0],
        "text": ["A Heading About The Story In Eight Words Here", "Too short to model.", "  ",
                 "This paragraph has clearly more than eight words in it.", "Another paragraph long enough to be modelled here."],
        "is_heading": [True, False, False, False, False],
    })
    articles = pd.DataFrame({"doc_id": ["a"], "outlet": ["Outlet A"]})
    units, skipped = topics.select_units(paragraphs, articles, min_words=8)
    assert skipped.values.tolist() == [["a", 0, "heading"], ["a", 1, "short"], ["a", 2, "empty"]]
    assert units[["doc_id", "para_id", "outlet"]].values.tolist() == [["a", 3, "Outlet A"], ["b", 0, "(unknown)"]]


def test_topic_outlets_full_grid_shares_and_single_outlet_flag():
    assigned = pd.DataFrame({
        "doc_id": ["a1", "a1", "a2", "b1", "b1"],
        "para_id": [0, 1, 0, 0, 1],
        "outlet": ["A", "A", "A", "B", "B"],
        "topic": [0, 1, 0, 0, 0],
        "topic_label": ["war", "gas", "war", "war", "war"],
    })
    table = topics.topic_outlets(assigned)
    assert table[["topic", "outlet", "paragraphs", "articles", "n"]].values.tolist() == [
        [0, "A", 2, 2, 3], [0, "B", 2, 1, 2], [1, "A", 1, 1, 3], [1, "B", 0, 0, 2]]
    np.testing.assert_allclose(table["share"], [2 / 3, 1.0, 1 / 3, 0.0])
    assert table["single_outlet"].tolist() == [False, False, True, True]
    assert (table["ci_low"] <= table["share"]).all() and (table["share"] <= table["ci_high"]).all()
    assert table.groupby("outlet")["share"].sum().tolist() == [1.0, 1.0]


def test_wilson_interval_known_values():
    low, high = wilson_interval(np.array([0, 5]), np.array([10, 10]))
    np.testing.assert_allclose(low, [0.0, 0.2366], atol=1e-4)
    np.testing.assert_allclose(high, [0.2775, 0.7634], atol=1e-4)


def test_choose_k_finds_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16) * 10
    points = np.vstack([c + rng.normal(scale=0.1, size=(6, 16)) for c in centres])
    assert topics.choose_k(points, k_max=6) == 3
    assert topics.choose_k(points[:12], k_min=2) == 2  # two groups
    assert topics.choose_k(points[:12]) >= 3  # the search starts at k_min = 3 by default
    assert topics.choose_k(points[:3]) == 2 and topics.choose_k(points[:2]) == 1


def test_size_class_table():
    config = topics.TopicConfig()
    assert [topics.size_class(n, config) for n in (0, 1, 2, 1999, 2000, 7999, 8000)] == [
        "none", "none", "small", "small", "large", "large", "sampled"]
    assert topics.size_class(30, topics.TopicConfig(size_class="large")) == "large"


def test_real_model_on_a_tiny_corpus(tmp_path):
    if not models.has_torch():
        pytest.skip("torch / sentence-transformers not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = topics.run(corpus(), cache_dir=tmp_path)
    assert out["topic_run"].at[0, "embedding"] == models.backend_model_id(models.backend_for(12))
    assert out["topic_info"]["size"].sum() == 12
    assert out["topic_info"]["topic_label"].str.len().gt(0).all()
    again = topics.run(corpus(), cache_dir=tmp_path)
    pd.testing.assert_frame_equal(out["topics"], again["topics"])


def test_sample_rows_is_bottom_k_by_key_over_distinct_texts():
    assert topics.sample_rows(["c", "a", "b", "a", "d"], 3).tolist() == [0, 1, 2]
    assert topics.sample_rows(["c", "a", "b", "a", "d"], 2).tolist() == [1, 2]
    assert topics.sample_rows(["b", "a"], 5).tolist() == [0, 1]


SAMPLED = {"sample_from": 10, "sample_size": 9, "n_topics": 3}


def test_sampled_class_fits_a_sample_and_classifies_the_rest():
    out = run_tfidf(corpus(), **SAMPLED)
    run = out["topic_run"].iloc[0]
    assert run["size_class"] == "sampled"
    assert "fitted on 9 sampled paragraphs" in run["clustering"]
    assert run["n_topics"] == 3
    table = out["topics"].merge(corpus()["paragraphs"], on=["doc_id", "para_id"])
    theme_of = {text: theme for theme, texts in THEMES.items() for text in texts}
    by_theme = table.groupby(table["text"].map(theme_of))["topic"].agg(set)
    assert sorted(len(s) for s in by_theme) == [1, 1, 1] and len(set().union(*by_theme)) == 3
    classified = np.ones(len(table), dtype=bool)
    classified[topics.sample_rows(topics.unit_keys(table["text"]), 9)] = False
    assert table.loc[classified, "probability"].isna().all() and classified.sum() == 3
    assert out["topic_info"]["size"].sum() == 12
    assert out["topic_info"]["size"].is_monotonic_decreasing
    assert set(out["topic_info"]["example"]) <= set(table["text"])


def test_sampled_warm_run_reuses_the_stored_fit_and_assigns_new_paragraphs(tmp_path):
    cold = run_tfidf(corpus(), cache_dir=tmp_path, **SAMPLED)
    assert (tmp_path / topics.SAMPLED_FIT_DIR / "fit.joblib").is_file()
    warm = run_tfidf(corpus(), cache_dir=tmp_path, **SAMPLED)
    assert warm["topic_run"].at[0, "clustering"].endswith("; stored fit reused")
    for name in ("topics", "topic_info", "topic_outlets", "topics_skipped"):
        pd.testing.assert_frame_equal(cold[name], warm[name])
    grown = corpus()
    extra = "Negotiators said the hostages deal and a Gaza ceasefire could be signed in Cairo soon."
    grown["paragraphs"] = pd.concat([grown["paragraphs"], pd.DataFrame(
        {"doc_id": ["doc3"], "para_id": [0], "text": [extra], "is_heading": [False]})], ignore_index=True)
    grown["articles"] = pd.concat([grown["articles"], pd.DataFrame({"doc_id": ["doc3"], "outlet": ["Daily Planet"]})])
    stored_fit = (tmp_path / topics.SAMPLED_FIT_DIR / "fit.joblib").stat().st_mtime_ns
    more = run_tfidf(grown, cache_dir=tmp_path, reuse_overlap=0.5, **SAMPLED)
    assert more["topic_run"].at[0, "clustering"].endswith("; stored fit reused")
    assert (tmp_path / topics.SAMPLED_FIT_DIR / "fit.joblib").stat().st_mtime_ns == stored_fit  # not written again
    topic_of = more["topics"].merge(grown["paragraphs"], on=["doc_id", "para_id"]).set_index("text")["topic"]
    assert topic_of[extra] == topic_of[THEMES["ceasefire"][0]]


def test_sampled_refits_when_the_sample_changes_materially(tmp_path):
    options = {**SAMPLED, "sample_size": 12}
    run_tfidf(corpus(), cache_dir=tmp_path, **options)
    changed = corpus()
    changed["paragraphs"].loc[0, "text"] = "Voters in the election queued at polling stations before dawn to cast ballots."
    out = run_tfidf(changed, cache_dir=tmp_path, **options)
    assert "reused" not in out["topic_run"].at[0, "clustering"]
    assert len(out["topics"]) == 12


def test_umap_gets_exact_neighbours_where_it_would_build_an_nndescent_index():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(topics.UMAP_EXACT_BELOW, 8)).astype(np.float32)
    model, _ = topics._build_model("large", ["text"] * len(embeddings), None, None, [], topics.TopicConfig(), embeddings)
    indices, distances, index = model.umap_model.precomputed_knn
    assert indices.shape == distances.shape == (len(embeddings), 15) and index is None
    assert (indices[:, 0] == np.arange(len(embeddings))).all() and np.allclose(distances[:, 0], 0, atol=1e-6)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    exact = np.argsort(-(unit[:50] @ unit.T), axis=1, kind="stable")[:, :15]
    assert (indices[:50] == exact).all()
    smaller = embeddings[: topics.UMAP_EXACT_BELOW - 1]
    model, _ = topics._build_model("large", ["text"] * len(smaller), None, None, [], topics.TopicConfig(), smaller)
    assert model.umap_model.precomputed_knn == (None, None, None)


def test_npmi_counts_each_text_as_one_window() -> None:
    texts = ["a b", "a b", "c", "a"]
    npmi = topics.npmi_matrix(["a", "b", "c"], texts, str.split)
    # P(a) = 3/4, P(b) = 1/2, P(a, b) = 1/2: log(0.5 / 0.375) / -log(0.5)
    assert npmi[0, 1] == pytest.approx(math.log(0.5 / 0.375) / -math.log(0.5))
    assert npmi[0, 2] == npmi[1, 2] == -1.0 and npmi.diagonal().tolist() == [1.0, 1.0, 1.0]
    assert topics.npmi_matrix(["a"], ["a", "a"], str.split).tolist() == [[1.0]]


def test_coherence_order_keeps_the_best_term_then_follows_co_occurrence() -> None:
    texts = ["court ruling judge", "court judge", "court ruling", "court vote", "vote senate", "vote senate"]
    order = topics.coherence_order([["court", "vote", "judge", "ruling", "senate"]], texts, str.split)
    # judge and ruling only occur with court; vote never with judge, ruling or court's neighbours
    assert order == [["court", "judge", "ruling", "vote", "senate"]]


def test_coherence_order_puts_terms_repeating_a_placed_word_last() -> None:
    texts = ["white house staff", "white house staff", "house vote"]
    analyzer = CountVectorizer(ngram_range=(1, 2)).build_analyzer()
    order = topics.coherence_order([["white house", "house", "white", "staff", "vote"]], texts, analyzer)
    assert order[0][:3] == ["white house", "staff", "vote"] and sorted(order[0][3:]) == ["house", "white"]
    assert topics.coherence_order([[], ["x"]], ["x"], str.split) == [[], ["x"]]


def test_units_need_min_words_whitespace_separated_words() -> None:
    texts = ["", "   ", "one", "a b c d e f g", "a b c d e f g h", " a\u00a0b c d e f g h ", "a\tb\nc d e f g h", None]
    paragraphs = pd.DataFrame({"doc_id": "d", "para_id": range(len(texts)), "text": texts, "is_heading": False})
    units, skipped = topics.select_units(paragraphs, pd.DataFrame({"doc_id": ["d"], "outlet": ["X"]}))
    assert units["para_id"].tolist() == [4, 5, 6]
    assert dict(zip(skipped["para_id"], skipped["reason"])) == {0: "empty", 1: "empty", 2: "short", 3: "short",
                                                                 7: "empty"}
    units, _ = topics.select_units(paragraphs, pd.DataFrame({"doc_id": ["d"], "outlet": ["X"]}), min_words=0)
    assert units["para_id"].tolist() == [2, 3, 4, 5, 6]


def test_small_corpora_keep_the_c_tf_idf_order_of_topic_terms() -> None:
    default = run_tfidf(corpus())["topic_info"]
    plain = run_tfidf(corpus(), candidate_terms=0)["topic_info"]
    ordered = run_tfidf(corpus(), coherence_from=0)["topic_info"]
    assert default["top_terms"].tolist() == plain["top_terms"].tolist()
    assert ordered["top_terms"].tolist() != plain["top_terms"].tolist()
    assert [t.split(", ")[0] for t in ordered["top_terms"]] == [t.split(", ")[0] for t in plain["top_terms"]]


def test_coherence_order_counts_a_plural_as_the_same_word() -> None:
    texts = ["court justice justices", "court justice justices", "court ruling", "vote"]
    # "justices" always comes with "justice" (NPMI 1) and "ruling" never does (-1), yet it waits
    order = topics.coherence_order([["court", "justice", "justices", "ruling"]], texts, str.split)
    assert order == [["court", "justice", "ruling", "justices"]]
    assert [topics._singular(w) for w in ("justices", "news", "us", "congress", "bus")] == [
        "justice", "new", "us", "congress", "bus"]


def _counts(texts: list[str]) -> tuple[object, list[str]]:
    vectorizer = CountVectorizer(token_pattern=topics.TERM_PATTERN)
    return vectorizer.fit_transform(texts).tocsc(), vectorizer.get_feature_names_out().tolist()


def test_clustering_coherence_is_the_mean_npmi_of_each_topics_words() -> None:
    texts = ["court judge", "court judge", "vote ballot", "vote ballot"]
    counts, terms = _counts(texts)
    # each topic's two words always meet (NPMI 1); words of weight 0 in a topic are not its terms
    assert topics.clustering_coherence(np.array([0, 0, 1, 1]), counts, terms, top_n_words=4) == (1.0, 2)
    # mixed topics: of the 6 pairs of ballot, court, judge, vote, 2 always meet and 4 never do
    score, n = topics.clustering_coherence(np.array([0, 1, 0, 1]), counts, terms, top_n_words=4)
    assert (n, score) == (2, pytest.approx((2 * 1 + 4 * -1) / 6))
    # one topic (outliers are no topic) leaves nothing to compare
    assert topics.clustering_coherence(np.array([0, 0, -1, -1]), counts, terms) == (-math.inf, 1)


def _four_blobs() -> tuple[np.ndarray, list[str]]:
    """Two far-apart groups, each of two nearby blobs of 50 points, each blob with its own words."""
    rng = np.random.default_rng(0)
    centres = [(0, 0), (0, 3), (20, 0), (20, 3)]
    points = np.vstack([rng.normal(c, 0.3, size=(50, 2)) for c in centres])
    words = ["court judge", "vote ballot", "rain snow", "goal match"]
    return points, [words[i // 50] for i in range(200)]


def test_coherent_hdbscan_keeps_the_cluster_size_whose_topics_are_most_coherent() -> None:
    points, texts = _four_blobs()
    leaf = {"min_samples": 5, "cluster_selection_method": "leaf", "metric": "euclidean"}
    candidates = [{**leaf, "min_cluster_size": 60}, {**leaf, "min_cluster_size": 10}]
    vectorizer = CountVectorizer(token_pattern=topics.TERM_PATTERN)
    clusterer = topics.CoherentHDBSCAN(candidates, texts, vectorizer).fit(points)
    # 60 joins each group's two blobs (mixed words, 2 topics); 10 finds the four blobs (NPMI 1)
    assert [(size, n) for size, n, _ in clusterer.scores_] == [(60, 2), (10, 4)]
    assert clusterer.scores_[1][2] == 1.0 > clusterer.scores_[0][2]
    assert clusterer.chosen_["min_cluster_size"] == 10
    assert len(set(clusterer.labels_.tolist()) - {-1}) == 4 and len(clusterer.probabilities_) == 200
    assert clusterer.describe().startswith("HDBSCAN(min_cluster_size=10, min_samples=5, leaf), the most "
                                           "coherent of min_cluster_size 60: 2 topics, ")
    # equal scores: the first candidate (the finest, as the stage lists them) is kept
    same = topics.CoherentHDBSCAN([candidates[1], {**leaf, "min_cluster_size": 12}], texts, vectorizer).fit(points)
    assert same.scores_[0][2] == same.scores_[1][2] and same.chosen_["min_cluster_size"] == 10


def test_large_corpora_choose_among_multiples_of_the_size_derived_cluster_size() -> None:
    config = topics.TopicConfig()
    sizes = [c["min_cluster_size"] for c in topics._hdbscan_candidates(5000, config)]
    assert sizes == [35, 52, 70, 105, 140]  # round(sqrt(5000) / 2) = 35, times 1, 1.5, 2, 3, 4
    assert [c["min_samples"] for c in topics._hdbscan_candidates(5000, config)] == [17, 26, 35, 52, 70]
    # no choice below coherence_from or when the size is set
    assert len(topics._hdbscan_candidates(1999, config)) == 1
    assert topics._hdbscan_candidates(5000, topics.TopicConfig(min_cluster_size=80)) == [
        topics._hdbscan_settings(5000, topics.TopicConfig(min_cluster_size=80))]
    assert len(topics._hdbscan_candidates(5000, topics.TopicConfig(cluster_size_steps=(1.0,)))) == 1


def test_topic_terms_leave_out_stopwords_and_contraction_fragments() -> None:
    words = set(topics.stopwords_for(["Fox News"]))
    assert {"just", "really", "don", "ve", "the", "said", "fox", "news"} <= words
    assert not {"court", "won", "vote"} & words


def test_a_rerun_on_the_same_paragraphs_reuses_the_stored_fit(tmp_path, monkeypatch):
    cold = run_tfidf(corpus(), cache_dir=tmp_path)
    assert (tmp_path / topics.SAMPLED_FIT_DIR / "whole.joblib").is_file()
    fits = []
    real = topics.fit_topics
    monkeypatch.setattr(topics, "fit_topics", lambda *a, **k: fits.append(1) or real(*a, **k))
    warm = run_tfidf(corpus(), cache_dir=tmp_path)
    assert fits == []
    for name in cold:
        pd.testing.assert_frame_equal(cold[name], warm[name])
    # other paragraphs, other settings or other outlet names (stopwords): fitted again
    run_tfidf(corpus(11), cache_dir=tmp_path)
    run_tfidf(corpus(11), cache_dir=tmp_path, n_topics=2)
    renamed = corpus(11)
    renamed["articles"] = renamed["articles"].assign(outlet=["One", "Two", "Three"])
    run_tfidf(renamed, cache_dir=tmp_path)
    assert fits == [1, 1, 1]


def test_small_corpus_topics_do_not_move_when_embeddings_are_rounded_differently():
    """Two CPUs embed the same text with float differences in the last bits; the bundled corpus
    must get the same topics on both (UMAP + HDBSCAN gave 7 topics on one CPU and 4 on another)."""
    if not models.has_torch():
        pytest.skip("torch / sentence-transformers not installed")
    from toolkit import load_corpus

    corpus_ = load_corpus(ROOT / "data" / "raw")
    units, _ = topics.select_units(corpus_.paragraphs, corpus_.articles)
    texts = units["text"].tolist()
    model, model_id = models.packaged_embedder(models.backend_for(len(texts)))
    embedder = topics.bertopic_embedder(model, model_id=model_id)
    embeddings = embedder.embed(texts)
    stop_words = topics.stopwords_for(corpus_.articles["outlet"].unique())
    fit = topics.fit_topics(texts, embeddings, embedder=embedder, stop_words=stop_words)
    assert fit.settings["size_class"] == "small" and fit.settings["outliers_found"] == 0
    rng = np.random.default_rng(0)
    for _ in range(3):
        noisy = embeddings + rng.normal(scale=1e-6, size=embeddings.shape).astype(np.float32)
        again = topics.fit_topics(texts, noisy, embedder=embedder, stop_words=stop_words)
        assert again.topics.tolist() == fit.topics.tolist()
        assert again.terms == fit.terms

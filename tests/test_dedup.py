"""Duplicates and rewrites: derived_from, similarity, and the sentence-level diff."""

import pandas as pd

from toolkit.dedup import (
    PairCache,
    align_sentences,
    candidate_pairs,
    derivations_from,
    evaluate_pairs,
    find_derivations,
    mark_derivations,
    rewrite_diff,
)


def sentences_of(doc_id, texts):
    return pd.DataFrame({"doc_id": doc_id, "sent_id": range(len(texts)), "text": texts})


SOURCE = [
    "European leaders met in Paris to discuss a reassurance force for Ukraine.",
    "Twenty-six countries pledged troops for deployment after a ceasefire.",
    "Moscow rejected the plan and warned of escalation.",
    "Analysts doubt the force will ever deploy.",
]
REWRITE = [
    "Twenty-six countries reportedly pledged troops for deployment after any ceasefire.",
    "In Paris, European leaders discussed a reassurance force for Ukraine.",
    "Moscow rejected the plan and warned of escalation.",
    "The rewrite adds a paragraph about energy prices in Germany.",
]


def test_alignment_labels_kept_reworded_added_dropped_across_reordering():
    out = align_sentences(sentences_of("s", SOURCE), sentences_of("d", REWRITE))
    assert out[["status", "source_sent_id", "derived_sent_id"]].astype(str).values.tolist() == [
        ["reworded", "1", "0"],
        ["reworded", "0", "1"],
        ["kept", "2", "2"],
        ["added", "<NA>", "3"],
        ["dropped", "3", "<NA>"],
    ]
    assert out.loc[2, "similarity"] == 1.0


def articles_table(rows):
    return pd.DataFrame(rows, columns=["doc_id", "outlet", "published", "text", "source_credit"])


def test_rewrite_is_derived_from_the_credited_outlet_and_unrelated_article_is_not():
    other = ["Oil prices rose sharply on Monday.", "Traders cited supply worries in Asia.", "Stocks fell in Tokyo."]
    articles = articles_table([
        ["a", "Daily Source", None, " ".join(SOURCE), None],
        ["b", "Rewriter", "2025-09-10", " ".join(REWRITE), "Source: Daily Source"],
        ["c", "Markets", None, " ".join(other), None],
    ])
    sents = pd.concat([sentences_of("a", SOURCE), sentences_of("b", REWRITE), sentences_of("c", other)])
    found = find_derivations(articles, sents)
    assert found[["doc_id", "derived_from", "relation"]].values.tolist() == [["b", "a", "rewrite"]]
    assert found.loc[0, "coverage"] == 0.75
    marked = mark_derivations(articles, found)
    assert marked["derived_from"].tolist() == [None, "a", None]
    assert marked["similarity_to_source"].notna().tolist() == [False, True, False]
    diff = rewrite_diff(sents, marked)
    assert set(diff["doc_id"]) == {"b"} and set(diff["source_doc_id"]) == {"a"}


def test_exact_duplicate_points_to_the_earlier_article():
    text = "The same wire story, word for word, about the summit in Anchorage."
    articles = articles_table([
        ["late", "Paper B", "2025-09-11", text, None],
        ["early", "Paper A", "2025-09-10", text, None],
    ])
    found = find_derivations(articles, pd.concat([sentences_of("late", [text]), sentences_of("early", [text])]))
    assert found[["doc_id", "derived_from", "relation", "similarity_to_source"]].values.tolist() == [["late", "early", "duplicate", 1.0]]


def test_candidate_pairs_skip_unrelated_texts():
    articles = pd.DataFrame({"doc_id": ["x", "y"], "text": ["Cats purr softly at night.", "Quarterly earnings beat forecasts."]})
    assert candidate_pairs(articles) == []


def test_adding_an_article_reuses_known_pairs_and_equals_a_fresh_search():
    other = ["Oil prices rose sharply on Monday.", "Traders cited supply worries in Asia.", "Stocks fell in Tokyo."]
    copy = REWRITE[:3]
    articles = articles_table([
        ["a", "Daily Source", None, " ".join(SOURCE), None],
        ["b", "Rewriter", "2025-09-10", " ".join(REWRITE), "Source: Daily Source"],
        ["c", "Markets", None, " ".join(other), None],
        ["d", "Aggregator", "2025-09-11", " ".join(copy), None],
    ])
    sents = pd.concat([sentences_of("a", SOURCE), sentences_of("b", REWRITE), sentences_of("c", other),
                       sentences_of("d", copy)])
    before = evaluate_pairs(articles.iloc[:3], sents[sents["doc_id"] != "d"])
    after = evaluate_pairs(articles, sents, known=before)
    fresh = evaluate_pairs(articles, sents)
    for name in PairCache.TABLES:
        pd.testing.assert_frame_equal(getattr(after, name), getattr(fresh, name))
    assert set(before.evaluations["pair_key"]) < set(after.evaluations["pair_key"])
    assert candidate_pairs(articles, only=["d"]) == [p for p in candidate_pairs(articles) if "d" in p]
    assert derivations_from(after.evaluations)["doc_id"].tolist() == ["b", "d"]
    marked = mark_derivations(articles, derivations_from(after.evaluations))
    pd.testing.assert_frame_equal(rewrite_diff(sents, marked, pairs=after), rewrite_diff(sents, marked))


def test_pair_keys_hash_the_sentences_once_for_the_run_and_change_with_any_of_their_columns(monkeypatch):
    import toolkit.engine
    from toolkit.dedup import pair_content_keys
    from toolkit.engine import Digests, doc_keys

    articles = articles_table([["a", "Daily Source", None, " ".join(SOURCE), None],
                               ["b", "Rewriter", "2025-09-10", " ".join(REWRITE), "Source: Daily Source"]])
    sents = pd.concat([sentences_of("a", SOURCE), sentences_of("b", REWRITE)], ignore_index=True).assign(para_id=0)
    hashed = []
    frame_digests = toolkit.engine._frame_digests
    monkeypatch.setattr(toolkit.engine, "_frame_digests", lambda frame: hashed.append(frame) or frame_digests(frame))
    digests = Digests()
    keys = pair_content_keys(articles, sents, digests=digests)
    assert keys == pair_content_keys(articles, sents)
    evaluate_pairs(articles, sents, digests=digests)
    doc_keys({"sentences": sents}, ["a", "b"], "a stage", digests=digests)  # as the analysis stages do
    assert sum(frame is sents for frame in hashed) == 2  # once for the run, once without the run's digests
    regrouped = pair_content_keys(articles, sents.assign(para_id=(sents["doc_id"] == "b").astype(int)))
    assert regrouped["a"] == keys["a"] and regrouped["b"] != keys["b"]


def test_the_rewrite_diff_takes_stored_alignments_and_aligns_only_the_pairs_not_stored():
    copy = REWRITE[:3]
    articles = articles_table([
        ["a", "Daily Source", None, " ".join(SOURCE), None],
        ["b", "Rewriter", "2025-09-10", " ".join(REWRITE), "Source: Daily Source"],
        ["d", "Aggregator", "2025-09-11", " ".join(copy), None],
    ])
    sents = pd.concat([sentences_of("a", SOURCE), sentences_of("b", REWRITE), sentences_of("d", copy)])
    before = evaluate_pairs(articles.iloc[:2], sents[sents["doc_id"] != "d"])
    marked = mark_derivations(articles, derivations_from(evaluate_pairs(articles, sents).evaluations))
    assert marked["derived_from"].tolist() == [None, "a", "b"]
    fresh = rewrite_diff(sents, marked)
    assert fresh["doc_id"].drop_duplicates().tolist() == ["b", "d"]
    # (a, b) is stored in ``before``, (b, d) is not: the mix equals aligning both
    pd.testing.assert_frame_equal(rewrite_diff(sents, marked, pairs=before), fresh)
    # and a stored alignment is what the diff shows, row for row
    marked_similarity = before.alignments.assign(similarity=0.5)
    shown = rewrite_diff(sents, marked, pairs=PairCache(before.evaluations, marked_similarity, before.documents))
    assert shown.loc[shown["doc_id"] == "b", "similarity"].tolist() == [0.5] * len(before.alignments)
    assert shown.loc[shown["doc_id"] == "d", "similarity"].tolist() == fresh.loc[fresh["doc_id"] == "d", "similarity"].tolist()


def test_sentence_similarities_are_scikit_learns_sublinear_tfidf_cosines_fitted_on_the_two_articles():
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from toolkit.dedup import _sides, _tfidf_cosine

    source, derived = sentences_of("s", SOURCE + ["Ukraine, Ukraine and again Ukraine."]), sentences_of("d", REWRITE)
    side = _sides(pd.concat([derived, source]))
    ours = _tfidf_cosine(side("s"), side("d"))
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(
        source["text"].tolist() + derived["text"].tolist())
    expected = (matrix[len(source):] @ matrix[:len(source)].T).toarray()
    assert ours.shape == (4, 5)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_adding_an_article_analyses_only_the_sentences_of_its_new_pairs(monkeypatch):
    import toolkit.dedup as dedup

    wire = ["Oil prices rose sharply on Monday.", "Traders cited supply worries in Asia.", "Stocks fell in Tokyo."]
    articles = articles_table([
        ["a", "Daily Source", None, " ".join(SOURCE), None],
        ["e", "Markets", "2025-09-09", " ".join(wire), None],
        ["f", "Wire Copy", "2025-09-10", " ".join(wire), None],
        ["d", "Aggregator", "2025-09-11", " ".join(REWRITE[:3]), None],
    ])
    sents = pd.concat([sentences_of("a", SOURCE), sentences_of("e", wire), sentences_of("f", wire),
                       sentences_of("d", REWRITE[:3])])
    before = evaluate_pairs(articles.iloc[:3], sents[sents["doc_id"] != "d"])
    assert before.evaluations[["source", "derived", "relation"]].values.tolist() == [["e", "f", "duplicate"]]
    analysed = []
    analyze = dedup._sentence_analyzer()
    monkeypatch.setattr(dedup, "_sentence_analyzer", lambda: lambda text: analysed.append(text) or analyze(text))
    after = evaluate_pairs(articles, sents, known=before)
    assert sorted(analysed) == sorted(SOURCE + REWRITE[:3])  # the known pair e-f is not analysed again
    pd.testing.assert_frame_equal(after.evaluations, evaluate_pairs(articles, sents).evaluations)

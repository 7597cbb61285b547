"""Sentence splitting: abbreviations, quotes and ellipses survive; offsets point into the article."""

import pandas as pd

from toolkit.segment import SENTENCE_COLUMNS, split_sentences


def paragraphs(*texts, headings=()):
    rows, start = [], 0
    for i, t in enumerate(texts):
        rows.append({"doc_id": "d", "para_id": i, "text": t, "is_heading": i in headings, "start": start, "end": start + len(t)})
        start += len(t) + 2
    return pd.DataFrame(rows), "\n\n".join(texts)


def test_news_abbreviations_quotes_and_ellipses_do_not_split():
    paras, article = paragraphs(
        "The U.S. envoy met Gen. Smith on Nov. 20 in Washington, D.C. on Tuesday. "
        "“We will not back down,” he said… Then he left. “Is this it?” she asked."
    )
    out = split_sentences(paras)
    assert out["text"].tolist() == [
        "The U.S. envoy met Gen. Smith on Nov. 20 in Washington, D.C. on Tuesday.",
        "“We will not back down,” he said… Then he left.",
        "“Is this it?” she asked.",
    ]


def test_offsets_index_the_article_text_and_ids_run_per_document():
    paras, article = paragraphs("A heading", "First sentence here. Second one follows.", "  Third, padded.  ", headings=(0,))
    out = split_sentences(paras)
    assert list(out.columns) == SENTENCE_COLUMNS
    assert out["sent_id"].tolist() == [0, 1, 2, 3]
    assert out["para_id"].tolist() == [0, 1, 1, 2]
    assert out["is_heading"].tolist() == [True, False, False, False]
    for row in out.itertuples():
        assert article[row.start : row.end] == row.text
    assert out["text"].iloc[-1] == "Third, padded."


def test_sentences_never_span_paragraphs():
    paras, _ = paragraphs("No final stop here", "Next paragraph.")
    assert split_sentences(paras)["text"].tolist() == ["No final stop here", "Next paragraph."]

"""The attribution parse rules only the tokens it reads (``toolkit.framing.attribution.rule``):
every attribute it reads must equal what spaCy's full pipeline (attribute ruler and lemmatizer
enabled on every token) gives."""

from __future__ import annotations

from pathlib import Path

import spacy

from toolkit.corpus import load_documents
from toolkit.framing.attribution import SPACY_MODEL, lemma, parse, reporting_prefilter, rule
from toolkit.segment import split_sentences
from toolkit.clean import clean_documents

ROOT = Path(__file__).resolve().parents[1]

MADE_UP = [
    "Officials said they were gonna  leave, according to a statement.",
    "“We will not back down,” the minister told reporters, adding that talks had failed.",
    "There is no evidence, the spokesman claimed, and y'all ain't seen it either.",
    "He did it, she said; I told you so, and it is what it is.",
    "Let's go, the activists urged as police warned \t that the march was illegal.",
]


def bundled_sentences() -> list[str]:
    documents, _ = load_documents([ROOT / "data" / "raw"])
    _, _, paragraphs = clean_documents(documents)
    return split_sentences(paragraphs)["text"].tolist()


def test_ruling_a_token_alone_gives_the_full_pipelines_tags_morphology_lemma_and_dependency():
    texts = MADE_UP + [t for t in bundled_sentences() if reporting_prefilter().search(t)]
    full = spacy.load(SPACY_MODEL, exclude=["ner"])
    compared = 0
    for mine, theirs in zip(parse(texts), full.pipe(texts)):
        assert [t.text for t in mine] == [t.text for t in theirs]
        for a, b in zip(mine, theirs):
            rule(a)
            assert (a.pos_, str(a.morph), a.tag_, a.dep_, lemma(a)) == (b.pos_, str(b.morph), b.tag_, b.dep_, b.lemma_), \
                (a.doc.text, a.i)
            compared += 1
    assert compared > 2_000


def test_ruling_twice_changes_nothing():
    doc = next(parse(["Officials said they were gonna leave."]))
    for token in doc:
        rule(token)
    first = [(t.pos_, str(t.morph), t.lemma_, t.dep_) for t in doc]
    for token in doc:
        rule(token)
    assert [(t.pos_, str(t.morph), t.lemma_, t.dep_) for t in doc] == first

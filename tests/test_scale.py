"""Scale work keeps results: cached fingerprints, pruned vocabularies, corpus-size options, partitions."""

from collections import Counter
from itertools import product

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from toolkit import framing, models
from toolkit.dedup import candidate_pairs, find_derivations, signatures
from toolkit.engine import Engine
from toolkit.framing.distinctive import (
    EXTRA_STOPWORDS,
    distinctive_terms,
    log_odds_dirichlet,
    ngram_analyzer,
    outlet_name_words,
    top_terms,
)
from toolkit.framing.frames import Frame, score_frames

BASE = ("European leaders met in Paris on Thursday to discuss a reassurance force for Ukraine after a "
        "ceasefire, and twenty six countries pledged troops while Moscow rejected the plan and warned.")


def articles(texts):
    return pd.DataFrame({"doc_id": [f"d{i}" for i in range(len(texts))], "outlet": [f"o{i}" for i in range(len(texts))],
                         "published": None, "text": texts, "source_credit": None})


def test_signatures_of_one_article_do_not_depend_on_the_others():
    texts = [BASE, BASE + " Analysts doubt it.", "Oil prices rose sharply on Monday in Asian trading."]
    alone = signatures(articles(texts).iloc[[2]])
    together = signatures(articles(texts))
    assert alone["text_hash"].iloc[0] == together["text_hash"].iloc[2]
    assert np.array_equal(alone["shingles"].iloc[0], together["shingles"].iloc[2])
    assert together["words"].map(len).tolist() == [128, 128, 128]


def test_candidate_pairs_keep_only_pairs_whose_estimated_jaccard_passes():
    texts = [BASE, BASE.replace("Thursday", "Friday"), "Oil prices rose sharply on Monday in Asian trading today."]
    arts = articles(texts)
    sigs = signatures(arts)
    assert candidate_pairs(arts) == candidate_pairs(arts, precomputed=sigs) == [("d0", "d1")]
    sentences = pd.DataFrame({"doc_id": arts["doc_id"], "sent_id": 0, "text": arts["text"]})
    assert find_derivations(arts, sentences, precomputed=sigs).equals(find_derivations(arts, sentences))


def test_distinctive_terms_equal_the_unpruned_estimate():
    texts = ["the ceasefire talks stalled", "ceasefire talks resumed", "ceasefire talks stalled again",
             "troops crossed the border", "troops crossed the river", "troops crossed again"]
    sentences = pd.DataFrame({"doc_id": ["a", "a", "a", "b", "b", "b"], "sent_id": [0, 1, 2, 0, 1, 2], "text": texts})
    arts = pd.DataFrame({"doc_id": ["a", "b"], "outlet": ["Left", "Right"]})
    out = distinctive_terms(sentences, arts, min_count=2, min_z=0.5)
    stop = frozenset(ENGLISH_STOP_WORDS) | EXTRA_STOPWORDS | outlet_name_words(["Left", "Right"])
    grams = [Counter(g for t in texts[k:k + 3] for g in ngram_analyzer(stop)(t)) for k in (0, 3)]
    vocab = sorted(set(grams[0]) | set(grams[1]))  # every term, including those used once
    a = np.array([grams[0][t] for t in vocab], float)
    b = np.array([grams[1][t] for t in vocab], float)
    delta, z = log_odds_dirichlet(a, b, 0.05 * (a + b))
    left = out[out["outlet"] == "Left"].set_index("term")
    assert "ceasefire" in left.index and left.loc["ceasefire", "n_tokens"] == int(a.sum())
    for term in left.index:
        assert left.loc[term, "z"] == round(float(z[vocab.index(term)]), 4)
        assert left.loc[term, "log_odds"] == round(float(delta[vocab.index(term)]), 4)


def test_distinctive_terms_select_what_scoring_every_term_of_the_vocabulary_selects():
    # eight outlets drawing words with their own Zipf preferences: each leaves many words of the
    # vocabulary unused, among which the under-used side's candidates are pruned by corpus count
    rng = np.random.default_rng(7)
    vocab = [w for w in ("".join(p) for p in product("bdfgklmnprstvz", "aeiou", "bdgklmnprst"))
             if w not in ENGLISH_STOP_WORDS][:300]
    rows, outlets = [], [f"Outlet {name}" for name in "ABCDEFGH"]
    for k, outlet in enumerate(outlets):
        weights = 1 / (1 + rng.permutation(len(vocab))) ** 1.2
        for d in range(4):
            for s in range(6):
                rows.append((f"{outlet}-{d}", s, " ".join(rng.choice(vocab, 8, p=weights / weights.sum()))))
    sentences = pd.DataFrame(rows, columns=["doc_id", "sent_id", "text"])
    arts = pd.DataFrame({"doc_id": sentences["doc_id"].unique()})
    arts["outlet"] = arts["doc_id"].str.rsplit("-", n=1).str[0]
    top_k, min_count, min_z = 4, 2, 1.0
    out = distinctive_terms(sentences, arts, top_k=top_k, min_count=min_count, min_z=min_z)

    stop = frozenset(ENGLISH_STOP_WORDS) | EXTRA_STOPWORDS | outlet_name_words(outlets)
    grams = {o: Counter(g for t in sentences.loc[sentences["doc_id"].str.startswith(o + "-"), "text"]
                        for g in ngram_analyzer(stop)(t)) for o in outlets}
    every = sorted(set().union(*grams.values()))
    total = np.array([sum(grams[o][t] for o in outlets) for t in every], float)
    terms = np.array(every, dtype=object)
    expected = []
    for o in outlets:
        own = np.array([grams[o][t] for t in every], float)
        rest = total - own
        delta, z = log_odds_dirichlet(own, rest, 0.05 * total,
                                      totals=(own.sum(), total.sum() - own.sum(), 0.05 * total.sum()))
        for side, count in ((1, own), (-1, rest)):
            ok = np.flatnonzero((side * z >= min_z) & (count >= min_count))
            expected += [(o, terms[t], round(float(z[t]), 4), int(own[t])) for t in top_terms(ok, side * z, terms, top_k)]
    got = list(out[["outlet", "term", "z", "count"]].itertuples(index=False, name=None))
    assert (out["count"] == 0).sum() > 8  # under-used terms the outlet never uses were selected
    assert sorted(got) == sorted(expected)


def test_large_corpora_score_frames_by_cues_alone():
    many = pd.DataFrame({"doc_id": "d", "sent_id": range(framing.EMBED_MAX_SENTENCES + 1), "text": "x"})
    assert framing.document_options({"sentences": many}) == {"use_embeddings": False,
                                                             "min_score": framing.CUE_ONLY_MIN_SCORE}
    assert framing.document_options({"sentences": many.head(10)}) == {"embed_backend": models.backend_for(10)}
    assert framing.document_options({"sentences": many.head(models.PRECISE_BELOW)}) == {
        "embed_backend": models.backend_for(models.PRECISE_BELOW)}
    frames = [Frame("conflict.war", "conflict", "War", "", {"war": 1.0, "strike": 0.5}, ())]
    sents = pd.DataFrame({"doc_id": "d", "sent_id": [0, 1], "text": ["The war goes on.", "A strike hit."]})
    cue_only = score_frames(sents, frames, embed=None, min_score=framing.CUE_ONLY_MIN_SCORE)
    assert cue_only["sent_id"].tolist() == [0]  # one weight-1 cue passes, one weight-0.5 cue does not


def test_partitions_give_every_worker_several_chunks():
    assert Engine(n_jobs=2, chunk_docs=200).chunk_size(300) == 38
    assert Engine(n_jobs=2, chunk_docs=200).chunk_size(10_000) == 200
    assert Engine(n_jobs=2).chunk_size(1) == 1

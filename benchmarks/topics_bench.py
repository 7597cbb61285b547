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
  NPMI (Bouma 2009; as in Röder et al. 2015 / gensim ``c_npmi``): per topic the first 10 distinct
  words of its c-TF-IDF terms (bigrams split into words), probabilities estimated over windows
  of the held-out paragraphs tokenised with the stage's own analyzer (stopwords removed):
  (a) each paragraph is one window, (b) sliding windows of 10 tokens (gensim's default for
  c_npmi, used by BERTopic's paper). Printed for the held-out paragraphs and, as in the BERTopic
  paper (reference corpus = the modelled corpus), for the training paragraphs. NPMI of a pair that never co-occurs is -1. The figure is
  the mean over word pairs, then over topics.
  NMI (sklearn ``normalized_mutual_info_score``, arithmetic mean) between the AllSides label and
  (a) the article's majority topic over its held-out paragraphs, (b) each held-out paragraph's
  topic (paragraphs inherit their article's label).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import sys
import tempfile
import time
from collections import Counter
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


def prefix(tables: dict[str, pd.DataFrame], n: int) -> dict[str, pd.DataFrame]:
    """The first ``n`` paragraphs and their articles."""
    paragraphs = tables["paragraphs"].head(n)
    return {"paragraphs": paragraphs, "articles": tables["articles"][tables["articles"]["doc_id"].isin(paragraphs["doc_id"])]}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def npmi(topic_words: list[list[str]], windows: list[set[str]]) -> float:
    """Mean NPMI over topics of the mean NPMI over word pairs (see module docstring)."""
    vocab = {w for words in topic_words for w in words}
    needed = {tuple(sorted(p)) for words in topic_words for p in itertools.combinations(words, 2)}
    singles: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for window in windows:
        present = sorted(window & vocab)
        singles.update(present)
        pairs.update(p for p in itertools.combinations(present, 2) if p in needed)
    total = len(windows)
    scores = []
    for words in topic_words:
        values = []
        for a, b in itertools.combinations(words, 2):
            p_ab = pairs[tuple(sorted((a, b)))] / total
            if p_ab == 0:
                values.append(-1.0)
                continue
            p_a, p_b = singles[a] / total, singles[b] / total
            values.append(1.0 if p_ab == 1 else math.log(p_ab / (p_a * p_b)) / -math.log(p_ab))
        if values:
            scores.append(float(np.mean(values)))
    return float(np.mean(scores))


def topic_words(info: pd.DataFrame, n: int = 10) -> list[list[str]]:
    """First ``n`` distinct words of each assigned topic's c-TF-IDF terms (bigrams split)."""
    words = []
    for terms in info.loc[info["topic"] >= 0, "top_terms"]:
        flat = list(dict.fromkeys(w for term in terms.split(", ") for w in term.split()))
        words.append(flat[:n])
    return words


def windows_of(texts: list[str], analyzer, size: int | None) -> list[set[str]]:
    """Token windows: whole texts (``size=None``) or sliding windows of ``size`` tokens."""
    out = []
    for text in texts:
        tokens = analyzer(text)
        if size is None or len(tokens) <= size:
            out.append(set(tokens))
        else:
            out.extend(set(tokens[i:i + size]) for i in range(len(tokens) - size + 1))
    return out


def quality(tables: dict[str, pd.DataFrame], cache: Path, seed: int) -> None:
    """Fit on 80 % of articles, score NPMI and NMI on the held-out 20 % (module docstring)."""
    articles = tables["articles"].sample(frac=1.0, random_state=seed)
    test_ids = set(articles["doc_id"].iloc[: len(articles) // 5])
    paras = tables["paragraphs"]
    train = {"paragraphs": paras[~paras["doc_id"].isin(test_ids)], "articles": tables["articles"]}
    test = paras[paras["doc_id"].isin(test_ids)].reset_index(drop=True)
    out, seconds = timed(topics.run, train, cache_dir=cache)
    run = out["topic_run"].iloc[0]
    print(f"quality: fitted on {run.n_units} paragraphs of {len(articles) - len(test_ids)} articles in "
          f"{seconds:.1f} s; {run.n_topics} topics; {run.size_class}: {run.reduction}; {run.clustering}")
    info = out["topic_info"]
    words = topic_words(info)
    stop = topics.stopwords_for(tables["articles"]["outlet"].unique())
    analyzer = CountVectorizer(stop_words=stop).build_analyzer()
    texts = test["text"].tolist()
    for name, ref in (("held-out", texts), ("training (as in the BERTopic paper)", train["paragraphs"]["text"].tolist())):
        print(f"NPMI on {len(ref)} {name} paragraphs: paragraph windows "
              f"{npmi(words, windows_of(ref, analyzer, None)):.3f}; sliding 10-token windows "
              f"{npmi(words, windows_of(ref, analyzer, 10)):.3f} (BERTopic paper, BBC News, MPNet: 0.167)")
    train_units = train["paragraphs"].merge(out["topics"], on=["doc_id", "para_id"])
    train_vecs = models.embed(train_units["text"].tolist(), cache_dir=cache)
    assigned = train_units["topic"].to_numpy()
    ids = sorted(t for t in set(assigned.tolist()) if t >= 0)
    centroids = np.stack([train_vecs[assigned == t].mean(axis=0) for t in ids])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    test_vecs = models.embed(texts, cache_dir=cache)
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
    print(info.loc[info["topic"] >= 0, ["topic", "topic_label", "size"]].head(15).to_string(index=False))


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

    full, full_s = timed(topics.run, tables, cache_dir=cache)
    full_topics, text = scores(full)
    print(f"full (large class, {len(full_topics)} paragraphs embedded): {full_s:.1f} s, "
          f"{full['topic_run'].at[0, 'n_topics']} topics; {text}")
    keys = [models.text_key(t, models.DEFAULT_MODEL_ID) for t in
            topics.select_units(tables["paragraphs"], tables["articles"])[0]["text"]]
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
    """Seconds of the stage's UMAP with and without a seed (see module docstring)."""
    from umap import UMAP

    kwargs = topics._umap_settings(len(embeddings), topics.size_class(len(embeddings), topics.TopicConfig()),
                                   topics.TopicConfig())
    UMAP(**{**kwargs, "n_epochs": 5}).fit_transform(embeddings[:300])  # compile numba once
    seeded = timed(UMAP(**kwargs).fit_transform, embeddings)[1]
    parallel = timed(UMAP(**{**kwargs, "random_state": None, "n_jobs": -1}).fit_transform, embeddings)[1]
    print(f"UMAP on {len(embeddings)} paragraphs: seeded {seeded:.1f} s (single-threaded), "
          f"unseeded parallel {parallel:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--labels", type=int, default=10)
    parser.add_argument("--per-article", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-umap", action="store_true")
    parser.add_argument("--skip-timing", action="store_true", help="only the UMAP cost and quality parts")
    parser.add_argument("--cache-dir", type=Path, help="embedding cache for the UMAP and quality parts")
    parser.add_argument("--sampled", type=int, nargs="*", metavar="SAMPLE_SIZE",
                        help="only compare the sampled class (these sample sizes) with the full approach")
    args = parser.parse_args()
    if not SCALE.exists():
        print(f"skipped: {SCALE} not found")
        return
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    tables = load_sample(max(args.sizes), args.labels, args.per_article, args.seed)
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
            same = all(cold[k].equals(warm[k]) for k in cold)
            run = cold["topic_run"].iloc[0]
            print(f"{n} paragraphs: cold {cold_s:.1f} s, warm {warm_s:.1f} s ({cold_s / warm_s:.1f}x), "
                  f"identical tables: {same}; {run.n_topics} topics, {run.size_class}: {run.clustering}; "
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
            quality(tables, big, args.seed)


if __name__ == "__main__":
    main()

"""Benchmark: are small corpora's topics stable, and how close are they to known labels?

Run: ``.venv/bin/python benchmarks/topics_stability.py [--sizes 40 150 600 1500] [--labels 5 10]``.

The same corpus can give slightly different embeddings on two CPUs (their float kernels round
differently, in the last bits of float32). A topic method whose result jumps under such rounding
gives a reporter different topics on a colleague's laptop, and fails strict notebook checks. This
script measures, for the topic stage's ``small`` class (Ward on the embeddings, k by silhouette)
and for the UMAP + HDBSCAN configuration it replaced (seeded UMAP, n_neighbors clip(N/10, 5, 15),
500 epochs; HDBSCAN eom, min_cluster_size max(3, round(sqrt(N)/3)); merged to at most 8 topics;
outliers reassigned), BERTopic's usual pipeline:

- stability: the adjusted Rand index between the topics of the embeddings and of the embeddings
  plus Gaussian noise of standard deviation 1e-6 (five draws; "identical" counts ARI = 1). The
  noise is larger than CPU rounding differences (components of unit 384-d vectors are about 0.05;
  float32 rounds them at about 4e-9).
- quality: NMI between each paragraph's topic and its article's AllSides ``topic`` label, on
  samples drawn as ``topics_bench.py`` draws them (the ``--labels`` most frequent labels, the
  first 4 paragraphs of at least 8 words per article).
- the bundled corpus (``data/raw``), stability only (it has no labels).

Prints one line per (corpus, method). Reads ``../shared/scale/allsides-10k.jsonl.gz`` when it
exists; writes only to a temporary folder (the embedding cache).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from toolkit import models, topics  # noqa: E402
from toolkit.pipeline import load_corpus  # noqa: E402
from topics_bench import SCALE, load_sample, prefix  # noqa: E402

NOISE = 1e-6
DRAWS = 5


def umap_hdbscan_labels(texts: list[str], embeddings: np.ndarray, embedder, stop_words: list[str]) -> np.ndarray:
    """Topics of the replaced UMAP + HDBSCAN configuration (module text), through BERTopic."""
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    n = len(texts)
    size = max(3, round(math.sqrt(n) / 3))
    model = BERTopic(
        embedding_model=embedder,
        umap_model=UMAP(n_neighbors=min(int(np.clip(n // 10, 5, 15)), n - 1), n_components=5, min_dist=0.0,
                        metric="cosine", n_epochs=500, random_state=0),
        hdbscan_model=HDBSCAN(min_cluster_size=size, min_samples=max(2, size // 2), prediction_data=False),
        vectorizer_model=CountVectorizer(stop_words=stop_words, token_pattern=topics.TERM_PATTERN),
        nr_topics=8, calculate_probabilities=False)
    labels, _ = model.fit_transform(texts, embeddings=embeddings)
    labels = np.asarray(labels)
    if (labels == -1).any() and (labels != -1).any():
        labels = np.asarray(model.reduce_outliers(texts, labels.tolist(), strategy="embeddings", embeddings=embeddings))
    return labels


def stage_labels(texts: list[str], embeddings: np.ndarray, embedder, stop_words: list[str]) -> np.ndarray:
    """Topics of the stage's ``small`` class (:func:`toolkit.topics.fit_topics`)."""
    config = replace(topics.TopicConfig(), size_class="small")
    return topics.fit_topics(texts, embeddings, embedder=embedder, stop_words=stop_words, config=config).topics


METHODS = {"small (Ward)": stage_labels, "UMAP + HDBSCAN": umap_hdbscan_labels}


def measure(name: str, texts: list[str], labels: np.ndarray | None, embedder, stop_words: list[str]) -> None:
    embeddings = embedder.embed(texts)
    for method, fit in METHODS.items():
        start = time.perf_counter()
        base = fit(texts, embeddings, embedder, stop_words)
        seconds = time.perf_counter() - start
        rng = np.random.default_rng(1)
        aris, counts = [], [len(set(base.tolist()))]
        for _ in range(DRAWS):
            noisy = fit(texts, embeddings + rng.normal(scale=NOISE, size=embeddings.shape).astype(np.float32),
                        embedder, stop_words)
            aris.append(adjusted_rand_score(base, noisy))
            counts.append(len(set(noisy.tolist())))
        quality = f"NMI {normalized_mutual_info_score(labels, base):.3f}" if labels is not None else "NMI -"
        print(f"{name:28s} {method:15s} topics {counts[0]:2d} (with noise: {min(counts)}-{max(counts)}); "
              f"identical under noise {sum(a == 1.0 for a in aris)}/{DRAWS}, min ARI {min(aris):.3f}; "
              f"{quality}; fit {seconds:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 150, 600, 1500])
    parser.add_argument("--labels", type=int, nargs="+", default=[5, 10])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    models.prepare_model_imports()
    model, model_id = models.packaged_embedder("torch")
    with tempfile.TemporaryDirectory() as tmp:
        embedder = topics.bertopic_embedder(model, model_id=model_id, cache_dir=tmp)
        corpus = load_corpus(ROOT.parent / "data" / "raw")
        units, _ = topics.select_units(corpus.paragraphs, corpus.articles)
        measure(f"bundled corpus, {len(units)} paragraphs", units["text"].tolist(), None, embedder,
                topics.stopwords_for(corpus.articles["outlet"].dropna().unique()))
        if not SCALE.exists():
            print(f"AllSides samples skipped: {SCALE} not found")
            return
        for n_labels in args.labels:
            tables = load_sample(max(args.sizes), n_labels, 4, 0)
            for n in args.sizes:
                part = prefix(tables, n)
                units, _ = topics.select_units(part["paragraphs"], part["articles"])
                labels = units.merge(part["articles"][["doc_id", "label"]], on="doc_id")["label"].to_numpy()
                measure(f"AllSides {len(units)}, {n_labels} labels", units["text"].tolist(), labels, embedder,
                        topics.stopwords_for(part["articles"]["outlet"].unique()))


if __name__ == "__main__":
    main()

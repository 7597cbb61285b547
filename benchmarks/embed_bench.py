"""Embedding backends compared: PyTorch fp32 vs int8 ONNX Runtime, speed and quality cost.

On a seeded sample of paragraphs of ``../shared/scale/allsides-10k.jsonl.gz`` (articles'
``text`` split on blank lines; paragraphs of at least ``MIN_WORDS`` words, distinct; skipped
with a message when the file is absent) this prints:

- the time to export the int8 model from the installed weights (into a fresh temporary cache);
- throughput (paragraphs/s) of each backend with 1 and 2 threads, model cost only (no disk
  cache). The paragraphs are cut into chunks and the backends take turns on each chunk, so
  a change in the load of this shared machine hits both alike;
- quality cost on the AllSides ``topic`` label: cosine between the fp32 and int8 vector of
  each paragraph; k-NN (k=10, cosine) accuracy of the topic of held-out paragraphs (80/20
  split grouped by article, so no test paragraph has a sibling from its own article among
  the training paragraphs; seeded) for both backends, with the majority-class baseline and
  the number of test paragraphs whose prediction differs; and the agreement of the neighbour
  lists (recall@10: share of a test paragraph's 10 fp32 nearest training paragraphs that are
  also among its 10 int8 ones).

Usage: ``nice -n 10 .venv/bin/python benchmarks/embed_bench.py [--n 2000] [--chunk 250] [--seed 0]``
(a few minutes per 1,000 paragraphs on 2 shared cores). Never run by the tests.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "scale" / "allsides-10k.jsonl.gz"
MIN_WORDS = 5
K = 10


def load_paragraphs(path: Path, n: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """``n`` distinct paragraphs drawn at random (seeded) from the whole file, with the id and
    AllSides topic of their article: (texts, article ids, topics)."""
    seen: set[str] = set()
    rows: list[tuple[str, str, str]] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            for paragraph in str(record.get("text") or "").split("\n\n"):
                paragraph = paragraph.strip()
                if len(paragraph.split()) >= MIN_WORDS and paragraph not in seen:
                    seen.add(paragraph)
                    rows.append((paragraph, str(record["id"]), str(record["topic"])))
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(rows), size=min(n, len(rows)), replace=False))
    texts, ids, topics = zip(*(rows[i] for i in picked))
    return list(texts), list(ids), list(topics)


def throughput(encoders: dict, texts: list[str], threads: int, chunk: int) -> tuple[dict, dict]:
    """Paragraphs/s of each encoder at ``threads`` torch threads, taking turns chunk by chunk,
    and the vectors each produced (in input order)."""
    import torch

    torch.set_num_threads(threads)
    seconds = dict.fromkeys(encoders, 0.0)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    for encoder in encoders.values():
        encoder.encode(texts[:16], batch_size=64, normalize_embeddings=True)
    for start in range(0, len(texts), chunk):
        batch = texts[start:start + chunk]
        for name, encoder in encoders.items():
            began = time.perf_counter()
            parts[name].append(np.asarray(encoder.encode(batch, batch_size=64, normalize_embeddings=True)))
            seconds[name] += time.perf_counter() - began
    return ({name: len(texts) / s for name, s in seconds.items()},
            {name: np.concatenate(p) for name, p in parts.items()})


def neighbours(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the ``k`` most cosine-similar training rows of each test row (unit rows)."""
    similarity = test @ train.T
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def knn_predict(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """k-NN (cosine) labels of the test rows, via scikit-learn's KNeighborsClassifier."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(train, labels).predict(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="paragraphs (default 2000)")
    parser.add_argument("--chunk", type=int, default=250, help="paragraphs per turn (default 250)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not CORPUS.is_file():
        print(f"skipped: {CORPUS} not found")
        return

    from sklearn.model_selection import GroupShuffleSplit

    from toolkit import models

    texts, ids, topics = load_paragraphs(CORPUS, args.n, args.seed)
    words = np.array([len(t.split()) for t in texts])
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print("versions: " + ", ".join(f"{p} {importlib.metadata.version(p)}" for p in
                                   ("torch", "sentence-transformers", "onnxruntime", "onnx")))
    print(f"paragraphs: {len(texts)} from {len(set(ids))} articles, {len(set(topics))} topics, "
          f"{words.mean():.0f} words on average (median {np.median(words):.0f})")

    with tempfile.TemporaryDirectory() as cache_root:
        began = time.perf_counter()
        onnx_file = models.onnx_model_file(cache_root=cache_root)
        print(f"int8 export from the installed weights: {time.perf_counter() - began:.1f} s, "
              f"{onnx_file.stat().st_size / 1e6:.1f} MB (reused afterwards)")
        reference = models.embedding_model()
        rates, vectors = {}, {}
        for threads in (1, 2):
            encoders = {"torch fp32": reference,
                        "onnx int8": models.OnnxEncoder(reference, onnx_file, threads=threads)}
            rates[threads], vectors[threads] = throughput(encoders, texts, threads, args.chunk)

    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print("\nthroughput (paragraphs/s)   1 thread   2 threads")
    for name in ("torch fp32", "onnx int8"):
        print(f"  {name:<25} {rates[1][name]:8.1f}   {rates[2][name]:9.1f}")
    for threads in (1, 2):
        print(f"  int8 / fp32 at {threads} thread(s): {rates[threads]['onnx int8'] / rates[threads]['torch fp32']:.2f}x")

    fp32, int8 = vectors[2]["torch fp32"], vectors[2]["onnx int8"]
    print(f"largest difference between int8 vectors at 1 and 2 threads: "
          f"{np.abs(vectors[1]['onnx int8'] - int8).max():.2e} (fp32: "
          f"{np.abs(vectors[1]['torch fp32'] - fp32).max():.2e})")
    cosine = (fp32 * int8).sum(axis=1)
    print(f"\ncosine fp32 vs int8 per paragraph: mean {cosine.mean():.4f}, 5th percentile "
          f"{np.percentile(cosine, 5):.4f}, min {cosine.min():.4f}")
    labels = np.array(topics)
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=args.seed)
    train, test = next(split.split(fp32, labels, groups=np.array(ids)))
    majority = max(set(labels[train].tolist()), key=labels[train].tolist().count)
    print(f"k-NN topic accuracy (k={K}, cosine; {len(train)} train / {len(test)} test paragraphs, "
          f"split by article; majority baseline {np.mean(labels[test] == majority):.3f}):")
    predictions = {}
    for name, matrix in (("torch fp32", fp32), ("onnx int8", int8)):
        predictions[name] = knn_predict(matrix[train], labels[train], matrix[test], K)
        print(f"  {name:<12} {np.mean(predictions[name] == labels[test]):.3f}")
    differ = int(np.sum(predictions["torch fp32"] != predictions["onnx int8"]))
    print(f"  predictions differ on {differ} of {len(test)} test paragraphs")
    near_fp32 = neighbours(fp32[train], fp32[test], K)
    near_int8 = neighbours(int8[train], int8[test], K)
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(near_fp32, near_int8)])
    print(f"neighbour agreement: recall@{K} of fp32 neighbours among int8 neighbours {recall:.3f}")


if __name__ == "__main__":
    main()

"""Benchmark of toolkit.sentiment: scoring throughput and agreement with human ratings.

Run: ``.venv/bin/python benchmarks/sentiment_bench.py [--max-sentences N] [--ratings PATH ...]``

1. Throughput (sentences/s) on sentences of ``../shared/scale/allsides-10k.jsonl.gz``
   (split with a simple punctuation splitter: spaCy's sentence recogniser would
   dominate the run time and is not what is measured here): a raw
   ``SentimentIntensityAnalyzer.polarity_scores`` loop, then ``score_sentences``
   on one process, on all cores from a cold worker pool, and again warm.
2. Pearson r between VADER's compound score and human ratings for each ratings
   file: a CSV with ``rating`` and ``text`` columns (default: the hand-rated
   ``benchmarks/data/tone_rated_sentences.csv``), or a tab-separated file in the
   layout of VADER's published ground-truth files (``id<TAB>mean rating<TAB>text``,
   no header). No third-party ratings are stored in this repository; pass them
   by path.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import time
from pathlib import Path

import pandas as pd
from scipy.stats import pearsonr
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from toolkit.sentiment import score_sentences

ROOT = Path(__file__).resolve().parents[1]
SCALE = ROOT.parent / "shared" / "scale" / "allsides-10k.jsonl.gz"
DEFAULT_RATINGS = ROOT / "benchmarks" / "data" / "tone_rated_sentences.csv"
SPLIT_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z0-9])")


def load_scale_sentences(path: Path, limit: int) -> list[str]:
    """Sentences of the scale corpus in file order, at most ``limit``."""
    out: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            for para in text.split("\n\n"):
                out.extend(s for s in SPLIT_RE.split(para.strip()) if s)
            if len(out) >= limit:
                break
    return out[:limit]


def load_ratings(path: Path) -> pd.DataFrame:
    """Human ratings as a DataFrame with ``rating`` and ``text``."""
    if path.suffix == ".csv":
        return pd.read_csv(path)[["rating", "text"]]
    rows = [line.rstrip("\n").split("\t", 2) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pd.DataFrame([(float(r[1]), r[2]) for r in rows if len(r) == 3], columns=["rating", "text"])


def timed(label: str, n: int, func) -> None:
    """Run ``func`` once and print its throughput."""
    start = time.perf_counter()
    func()
    elapsed = time.perf_counter() - start
    print(f"  {label:<44} {elapsed:7.2f} s  {n / elapsed:>9,.0f} sentences/s")


def throughput(limit: int) -> None:
    """Print scoring throughput on scale-corpus sentences."""
    if limit <= 0:
        print("throughput: skipped (--max-sentences 0)")
        return
    if not SCALE.exists():
        print(f"throughput: skipped ({SCALE} not found)")
        return
    texts = load_scale_sentences(SCALE, limit)
    table = pd.DataFrame({"text": texts})
    words = sum(len(t.split()) for t in texts) / len(texts)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"throughput on {len(texts):,} sentences ({words:.1f} words on average), "
        f"{os.cpu_count()} cores, load average before the run {load} (other jobs share these cores):"
    )
    analyzer = SentimentIntensityAnalyzer()
    timed("raw vaderSentiment loop", len(texts), lambda: [analyzer.polarity_scores(t) for t in texts])
    timed("score_sentences, n_jobs=1", len(texts), lambda: score_sentences(table, n_jobs=1))
    timed("score_sentences, all cores (cold worker pool)", len(texts), lambda: score_sentences(table, n_jobs=-1))
    timed("score_sentences, all cores (warm worker pool)", len(texts), lambda: score_sentences(table, n_jobs=-1))


def correlation(paths: list[Path]) -> None:
    """Print Pearson r of compound vs human rating for each ratings file."""
    for path in paths:
        ratings = load_ratings(path)
        scored = score_sentences(ratings, n_jobs=1)
        r, p = pearsonr(scored["compound"], scored["rating"])
        print(f"correlation on {path.name}: n = {len(ratings):,}, Pearson r = {r:.3f} (p = {p:.2g})")


def main() -> None:
    """Parse arguments and print all figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-sentences", type=int, default=200_000)
    parser.add_argument("--ratings", type=Path, nargs="*", default=[DEFAULT_RATINGS])
    args = parser.parse_args()
    throughput(args.max_sentences)
    correlation(args.ratings)


if __name__ == "__main__":
    main()

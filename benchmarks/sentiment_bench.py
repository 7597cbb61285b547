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
3. With ``--tables DIR`` (a folder of a full run's Parquet tables: ``sentences``
   with scores and voice, ``articles``, ``mentions``; optionally ``--copies K``
   to stack K copies with renamed documents, outlets and actors, a pessimistic
   stand-in for a K-times larger corpus): wall and CPU time of the corpus-level
   functions ``aggregate`` (t and bootstrap intervals), ``evidence`` and
   ``distribution``, and how the t intervals compare with the bootstrap ones
   (width ratio and centre shift by group size).
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

from toolkit.sentiment import aggregate, distribution, evidence, score_sentences
from toolkit.store import read_table

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


def load_tables(folder: Path, copies: int) -> dict[str, pd.DataFrame]:
    """``sentences``, ``articles`` and ``mentions`` from ``folder``, stacked ``copies`` times.

    Copy ``i`` gets ``_i`` appended to every ``doc_id``, outlet and actor, so groups multiply
    rather than grow.
    """
    tables = {name: read_table(folder / f"{name}.parquet") for name in ("sentences", "articles", "mentions")}
    if copies <= 1:
        return tables
    renamed = {"sentences": ("doc_id",), "articles": ("doc_id", "outlet"), "mentions": ("doc_id", "actor")}
    return {
        name: pd.concat(
            [table.assign(**{col: table[col] + f"_{i}" for col in renamed[name]}) for i in range(copies)],
            ignore_index=True,
        )
        for name, table in tables.items()
    }


def corpus_level(folder: Path, copies: int) -> None:
    """Print timings of the corpus-level functions and the t-versus-bootstrap interval comparison."""
    tables = load_tables(folder, copies)
    s, a, m = tables["sentences"], tables["articles"], tables["mentions"]
    print(f"corpus-level functions on {len(a):,} articles, {len(s):,} sentences, {len(m):,} mentions:")
    results = {}
    for label, func in (
        ("aggregate (t intervals)", lambda: aggregate(s, articles=a, mentions=m)),
        ("aggregate (bootstrap, n_boot=2000)", lambda: aggregate(s, articles=a, mentions=m, interval="bootstrap")),
        ("evidence", lambda: evidence(s, a, m)),
        ("distribution", lambda: distribution(s, a)),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        results[label] = func()
        print(f"  {label:<36} {time.perf_counter() - wall:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU")
    t_table, boot = results["aggregate (t intervals)"], results["aggregate (bootstrap, n_boot=2000)"]
    finite = boot["ci_low"].notna()
    width_boot = boot["ci_high"] - boot["ci_low"]
    ratio = (t_table["ci_high"] - t_table["ci_low"]) / width_boot.where(width_boot > 0)
    shift = ((t_table["ci_low"] + t_table["ci_high"]) - (boot["ci_low"] + boot["ci_high"])).abs() / 2 / width_boot
    print("  t interval vs bootstrap, by sentences per group: width ratio (median) and centre shift / width:")
    for low, high in ((3, 10), (10, 30), (30, 200), (200, None)):
        rows = finite & (boot["n"] >= low) & ((boot["n"] < high) if high else True)
        print(f"    n {low:>3}-{high or '':<4} groups {int(rows.sum()):>7,}  width x{ratio[rows].median():.3f}  "
              f"shift {shift[rows].median():.3f}")


def main() -> None:
    """Parse arguments and print all figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-sentences", type=int, default=200_000)
    parser.add_argument("--ratings", type=Path, nargs="*", default=[DEFAULT_RATINGS])
    parser.add_argument("--tables", type=Path, help="folder of a run's Parquet tables (corpus-level timings)")
    parser.add_argument("--copies", type=int, default=1, help="stack this many renamed copies of --tables")
    args = parser.parse_args()
    throughput(args.max_sentences)
    correlation(args.ratings)
    if args.tables is not None:
        corpus_level(args.tables, args.copies)


if __name__ == "__main__":
    main()

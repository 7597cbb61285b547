"""Throughput of the framing stage on real news sentences (AllSides scale corpus).

Run: ``.venv/bin/python benchmarks/framing_bench.py [--articles 2000] [--embed-sentences 5000]``.
Reads ``../shared/scale/allsides-10k.jsonl.gz`` (skips with a message when absent), splits the
first ``--articles`` articles into sentences with a simple regex (the benchmark measures framing,
not segmentation) and prints sentences per second for: cue matching, embedding + scoring (on the
first ``--embed-sentences`` sentences; the cost is the model), attribution (prefilter + spaCy
parse), the per-document naming and token tables, and the corpus-level aggregations (naming,
naming candidates, distinctive terms, attribution by outlet). Loading models is timed separately.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.framing import (  # noqa: E402
    attribute_sentences,
    attribution_by_outlet,
    distinctive_terms,
    find_variants,
    load_codebook,
    load_naming,
    match_cues,
    naming_candidates,
    naming_table,
    score_frames,
)
from toolkit.framing.attribution import parser  # noqa: E402
from toolkit.framing.distinctive import sentence_tokens  # noqa: E402
from toolkit.framing.naming import name_tokens, quoted_terms  # noqa: E402
from toolkit.models import embed  # noqa: E402

SCALE = ROOT.parent / "shared" / "scale" / "allsides-10k.jsonl.gz"
SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][”\"’']))\s+(?=[“\"‘']?[A-Z])")


def load(n_articles: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sentences`` (doc_id, para_id, sent_id, start, end, text) and ``articles`` (doc_id, outlet)."""
    rows, arts = [], []
    with gzip.open(SCALE, "rt", encoding="utf-8") as fh:
        for line in fh:
            if len(arts) >= n_articles:
                break
            rec = json.loads(line)
            arts.append((rec["id"], rec["outlet"]))
            sent_id, offset = 0, 0
            for para_id, para in enumerate(p for p in rec["text"].split("\n\n") if p.strip()):
                for sent in SENTENCE_END.split(para.strip()):
                    rows.append((rec["id"], para_id, sent_id, offset, offset + len(sent), sent))
                    sent_id += 1
                    offset += len(sent) + 1
    sentences = pd.DataFrame(rows, columns=["doc_id", "para_id", "sent_id", "start", "end", "text"])
    return sentences, pd.DataFrame(arts, columns=["doc_id", "outlet"])


def timed(label: str, n: int, func):
    """Run ``func`` once, print sentences/s, return its result."""
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {n:>8,} sentences {seconds:8.1f} s {n / seconds:10,.0f} sentences/s")
    return result


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--articles", type=int, default=2000)
    args.add_argument("--embed-sentences", type=int, default=5000)
    opts = args.parse_args()
    if not SCALE.exists():
        print(f"skipped: {SCALE} not found")
        return
    warnings.simplefilter("ignore")
    sentences, articles = load(opts.articles)
    print(f"{len(articles):,} articles, {articles['outlet'].nunique()} outlets, {len(sentences):,} sentences, "
          f"{sentences['text'].str.split().str.len().sum():,} words")
    codebook = load_codebook(ROOT / "data" / "frames.yml")
    concepts = load_naming(ROOT / "data" / "naming.yml")
    start = time.perf_counter()
    embed(["warm up"])
    parser()
    print(f"model loading (MiniLM + spaCy)     {time.perf_counter() - start:.1f} s")
    n = len(sentences)
    texts = sentences["text"].tolist()
    timed("cue matching (19 frames)", n, lambda: match_cues(texts, codebook))
    timed("score_frames, cues only", n, lambda: score_frames(sentences, codebook, embed=None))
    sample = sentences.head(opts.embed_sentences)
    frames = timed("score_frames, cues + embeddings", len(sample), lambda: score_frames(sample, codebook, embed=embed))
    print(f"  frames per sentence (sample): {len(frames) / len(sample):.2f}; "
          f"sentences with a frame: {frames[['doc_id', 'sent_id']].drop_duplicates().shape[0] / len(sample):.0%}")
    att = timed("attribution (prefilter + parse)", n, lambda: attribute_sentences(sentences))
    print(f"  attributions: {len(att):,} ({len(att) / n:.2f} per sentence)")
    print("per-document parts (cached per article by the pipeline):")
    hits = timed("  naming hits (find_variants)", n, lambda: find_variants(sentences, concepts))
    quoted = timed("  quoted terms", n, lambda: quoted_terms(sentences))
    tokens = timed("  name tokens", n, lambda: name_tokens(sentences))
    terms = timed("  sentence tokens", n, lambda: sentence_tokens(sentences))
    print("corpus-level aggregation (what a warm re-run repeats):")
    timed("  naming table", n, lambda: naming_table(sentences, articles, concepts, hits=hits))
    timed("  naming candidates", n, lambda: naming_candidates(sentences, articles, quoted=quoted, tokens=tokens))
    timed("  distinctive terms", n, lambda: distinctive_terms(sentences, articles, tokens=terms))
    timed("  attribution by outlet", n, lambda: attribution_by_outlet(att, articles, sentences))


if __name__ == "__main__":
    main()

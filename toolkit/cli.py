"""``python -m toolkit``: the command line, a thin front end over :mod:`toolkit.pipeline`.

Commands
--------
``run``    the main job: every stage on a corpus, tables to ``--out`` as Parquet, charts
           to ``--exports`` (PNG, SVG, offline HTML, CSV, alt text, ``index.html``).
``clean``  page dumps in, article bodies out: ``DIR/X.txt`` for each input ``X.txt``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from tqdm import tqdm

from .clean import clean_page
from .corpus import load_documents
from .engine import Engine
from .pipeline import ANALYSES, analyze, export_charts, project_root


def _one_line_warnings() -> None:
    """Print warnings as one line each (``warning: <file>: <reason>``), never as tracebacks."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def _cmd_clean(args: argparse.Namespace) -> int:
    documents, rejects = load_documents(args.paths)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dumps = documents[documents["format"].isin(["txt", "md"])]
    for doc_id, source, raw in zip(dumps["doc_id"], dumps["source_path"], dumps["raw_text"]):
        page = clean_page(raw)
        (out / f"{Path(source).stem}.txt").write_text(page.body + "\n", encoding="utf-8")
    skipped = len(documents) - len(dumps)
    print(f"cleaned {len(dumps)} page dump(s) into {out}; {len(rejects)} rejected"
          + (f"; {skipped} non-dump input(s) skipped" if skipped else ""))
    return 0 if len(dumps) else 1


def _cmd_run(args: argparse.Namespace) -> int:
    root = project_root()
    corpus_path = Path(args.corpus) if args.corpus else root / "data" / "raw"
    manifest = Path(args.manifest) if args.manifest else root / "data" / "corpus.csv"
    out = Path(args.out) if args.out else root / "data" / "processed"
    exports = Path(args.exports) if args.exports else root / "exports"
    stages = [s for s, _ in ANALYSES] if args.stages is None else [s for s in args.stages.split(",") if s]
    started = time.perf_counter()
    bar = tqdm(total=1 + len(stages), desc="newsangle", unit="stage", file=sys.stderr)

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        if name != "corpus":
            bar.update(1)

    engine = Engine(kind=args.engine, n_jobs=args.jobs, scheduler=args.scheduler)
    corpus = analyze(corpus_path, manifest=manifest if manifest.is_file() else None,
                     data_dir=args.data_dir, stages=stages, out=out, engine=engine, progress=step)
    bar.set_postfix_str("charts")
    index, n_charts = export_charts(corpus, exports, title="newsangle: story kit",
                                    fork=engine.forks_beside(len(corpus.articles)))
    bar.update(1)
    bar.close()
    arts = corpus.articles
    print(f"{len(arts)} article(s) from {arts['outlet'].nunique()} outlet(s); "
          f"{len(corpus.sentences)} sentences; {len(corpus.removed)} page lines removed as furniture")
    if len(corpus.rejects):
        print(f"{len(corpus.rejects)} input(s) rejected (see {out / 'rejects.parquet'}):")
        for row in corpus.rejects.itertuples():
            print(f"  {row.source_path}: {row.reason}")
    print(f"tables: {out}/*.parquet")
    print(f"charts: {n_charts} in {exports} (open {index})")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m toolkit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every stage and export tables and charts")
    run.add_argument("--corpus", help="folder, glob or file of inputs (default: data/raw)")
    run.add_argument("--manifest", help="per-file overrides (default: data/corpus.csv)")
    run.add_argument("--out", help="folder for Parquet tables and the cache (default: data/processed)")
    run.add_argument("--exports", help="folder for charts (default: exports)")
    run.add_argument("--data-dir", help="folder with actors.yml, frames.yml, naming.yml (default: data)")
    run.add_argument("--stages", help=f"comma-separated analysis stages (default: {','.join(s for s, _ in ANALYSES)})")
    run.add_argument("--engine", choices=["local", "dask"], default="local",
                     help="where per-document work runs: local processes, or a Dask cluster")
    run.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786); default: a LocalCluster")
    run.add_argument("--jobs", type=int, help="worker processes (default: all cores)")
    run.set_defaults(func=_cmd_run)
    clean = sub.add_parser("clean", help="write the article body of each page dump")
    clean.add_argument("paths", nargs="+", help="page dumps, folders or globs")
    clean.add_argument("--out", required=True, help="output folder")
    clean.set_defaults(func=_cmd_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m toolkit`` and the ``newsangle`` script."""
    _one_line_warnings()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

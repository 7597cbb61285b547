"""The corpus stage end to end on the bundled corpus: accounting, rewrites, determinism, cache."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import toolkit
from toolkit.pipeline import export_charts, project_root

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


@pytest.fixture(scope="module")
def corpus():
    return toolkit.load_corpus(RAW, manifest=ROOT / "data" / "corpus.csv")


def test_every_input_is_a_document_or_a_reject(corpus):
    assert len(corpus.documents) + len(corpus.rejects) == len(list(RAW.iterdir()))
    assert corpus.articles["doc_id"].tolist() == corpus.documents["doc_id"].tolist()


def test_manifest_metadata_reaches_the_articles(corpus):
    arts = corpus.articles.set_index("doc_id")
    assert arts.loc["001_5fb1e9cc04ceade5", ["outlet", "published"]].tolist() == ["Al Mayadeen English", "2025-09-10"]
    assert arts.loc["000_a1fb5527ba674ec0", "outlet"] == "Responsible Statecraft"
    assert arts.loc["003_b63af3b6e6b2829a", "byline"] == "Anatol Lieven"


def test_only_the_al_mayadeen_rewrite_is_derived(corpus):
    arts = corpus.articles.set_index("doc_id")
    derived = arts[arts["derived_from"].notna()]
    assert derived["derived_from"].to_dict() == {"001_5fb1e9cc04ceade5": "000_a1fb5527ba674ec0"}
    assert 0 < derived.loc["001_5fb1e9cc04ceade5", "similarity_to_source"] < 1
    diff = corpus.rewrite_diff
    assert {"reworded", "added", "dropped"} <= set(diff["status"])
    assert (diff["status"] == "reworded").sum() >= 10


def test_sentence_offsets_point_into_article_text(corpus):
    text = corpus.articles.set_index("doc_id")["text"]
    for row in corpus.sentences.itertuples():
        assert text[row.doc_id][row.start : row.end] == row.text


def test_two_runs_write_byte_identical_parquet_and_the_second_reuses_the_cache(tmp_path):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}

    toolkit.load_corpus(RAW, out=tmp_path / "a")
    toolkit.load_corpus(RAW, out=tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.parquet")}
    toolkit.load_corpus(RAW, out=tmp_path / "a")
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.parquet")} == before


def test_a_rerun_with_one_more_article_gives_the_framing_tables_of_a_run_from_scratch(tmp_path):
    """framing keeps corpus-level work for the next run (the plain uses of quoted terms, the naming
    candidates) and updates it for the article added: the tables equal those of a run without any
    cache."""
    raw = tmp_path / "raw"
    raw.mkdir()
    files = sorted(p for p in RAW.iterdir() if p.is_file())
    for path in files[:-1]:
        (raw / path.name).write_bytes(path.read_bytes())
    stages = ["actors", "framing"]
    toolkit.analyze(raw, manifest="", stages=stages, out=tmp_path / "out")
    for kept in ("plain-uses.arrow", "naming-candidates.arrow"):
        assert (tmp_path / "out" / "cache" / "framing-early" / kept).is_file()
    (raw / files[-1].name).write_bytes(files[-1].read_bytes())
    again = toolkit.analyze(raw, manifest="", stages=stages, out=tmp_path / "out")
    scratch = toolkit.analyze(raw, manifest="", stages=stages)
    for name in ("naming_candidates", "distinctive_terms", "naming"):
        pd.testing.assert_frame_equal(again[name], scratch[name])
    assert again["naming_candidates"]["doc_ids"].str.contains(files[-1].stem).any()


def test_editing_a_data_file_recomputes_the_stages_that_read_it_and_reuses_every_other_article_cache(
        tmp_path, monkeypatch):
    """A stage's cache key holds the data files it reads (STAGE_DATA_FILES) and the keys of the stages
    whose tables it reads; the corpus stage read back from the output folder keys every article
    as when it was computed."""
    import shutil

    import toolkit.actors
    import toolkit.framing
    import toolkit.sentiment

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("raw"))
    stages, out = ["actors", "sentiment", "framing"], tmp_path / "out"

    def analysed():
        toolkit.analyze(RAW, manifest="", data_dir=data, stages=stages, out=out)
        return {name: entry["key"] for name, entry in json.loads((out / "_stages.json").read_text()).items()}

    def not_again(*args, **kwargs):
        raise AssertionError("computed again")

    first = analysed()
    (data / "frames.yml").write_text((data / "frames.yml").read_text() + "\n# a reporter's note\n")
    monkeypatch.setattr(toolkit.actors, "extract_entities", not_again)
    monkeypatch.setattr(toolkit.sentiment, "document_step", not_again)
    monkeypatch.setattr(toolkit.framing, "early_document_step", not_again)  # framing's early part reads no data file
    monkeypatch.setattr(toolkit.framing, "attribute_sentences", not_again)  # nor its attribution step (the parser)
    second = analysed()
    assert [name for name in first if first[name] != second[name]] == ["framing"]
    # actors.yml changes the actors' tables, so the stages reading them run again; the sentiment
    # of each article is read from its cache
    monkeypatch.undo()
    monkeypatch.setattr(toolkit.sentiment, "document_step", not_again)
    (data / "actors.yml").write_text((data / "actors.yml").read_text() + "\n# a reporter's note\n")
    third = analysed()
    assert sorted(name for name in first if second[name] != third[name]) == ["actors", "framing", "sentiment"]


def test_project_root_is_found_from_the_notebooks_folder():
    assert project_root(ROOT / "notebooks") == ROOT


def test_dask_engine_on_two_workers_gives_the_local_tables():
    pytest.importorskip("distributed")
    from toolkit.engine import Engine

    local = toolkit.analyze(RAW, stages=["sentiment"])
    dask = toolkit.analyze(RAW, stages=["sentiment"], engine=Engine(kind="dask", n_jobs=2, chunk_docs=2))
    assert sorted(local.tables) == sorted(dask.tables)
    for name in local.tables:
        pd.testing.assert_frame_equal(local[name], dask[name], check_dtype=False, obj=name)


def test_stages_that_read_each_other_run_in_later_waves():
    from toolkit.pipeline import stage_waves

    assert stage_waves(["actors", "sentiment", "framing", "topics"]) == [["actors", "topics"], ["sentiment", "framing"]]
    assert stage_waves(["framing", "sentiment"]) == [["sentiment", "framing"]]
    assert stage_waves(["topics"]) == [["topics"]]


def _parquet_digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def test_stages_side_by_side_write_the_tables_of_stages_one_after_another(tmp_path):
    from toolkit.engine import Engine

    stages = ["actors", "sentiment", "framing"]
    one_by_one = []
    toolkit.analyze(RAW, stages=stages, out=tmp_path / "serial", progress=one_by_one.append, engine=Engine(n_jobs=1))
    assert one_by_one == ["corpus", "actors", "sentiment", "framing"]
    # side-by-side stages hand their tables over as Arrow files: compare with the stored Parquet ones
    serial = toolkit.analyze(RAW, stages=stages, out=tmp_path / "serial", engine=Engine(n_jobs=1))
    started = []
    side = toolkit.analyze(RAW, stages=stages, out=tmp_path / "side", progress=started.append,
                           engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert started == ["corpus", "actors", "sentiment+framing"]
    assert sorted(side.tables) == sorted(serial.tables)
    for name in serial.tables:
        pd.testing.assert_frame_equal(side[name], serial[name], obj=name)
    assert _parquet_digests(tmp_path / "side") == _parquet_digests(tmp_path / "serial")
    assert (tmp_path / "side" / "_stages.json").read_text() == (tmp_path / "serial" / "_stages.json").read_text()


def test_a_stage_failing_in_its_own_process_raises_here_naming_it_and_keeps_its_warnings(tmp_path, monkeypatch):
    import toolkit.framing
    import toolkit.sentiment
    from toolkit.engine import Engine

    scored = toolkit.sentiment.run

    def warn_then_score(tables, **options):
        import warnings

        warnings.warn("sentiment saw something odd", UserWarning)
        return scored(tables, **options)

    def fail(tables, **options):
        raise ValueError("framing broke")

    monkeypatch.setattr(toolkit.sentiment, "run", warn_then_score)
    monkeypatch.setattr(toolkit.framing, "run", fail)
    with pytest.warns(UserWarning, match="sentiment saw something odd"), \
            pytest.raises(ValueError, match="framing broke") as raised:
        toolkit.analyze(RAW, stages=["sentiment", "framing"], out=tmp_path, engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert any("framing stage" in note for note in raised.value.__notes__)
    recorded = json.loads((tmp_path / "_stages.json").read_text())
    assert "sentiment" in recorded and "framing" not in recorded  # the stage that finished is kept


def test_a_forked_stage_is_recorded_only_once_its_parquet_files_are_written(tmp_path, monkeypatch):
    """A forked stage hands its tables over first and writes its Parquet files while this process
    goes on; a failure while writing them is raised here, naming the stage, and the stage is not
    recorded, so the next run computes it again instead of reading a missing or stale file."""
    import toolkit.engine
    from toolkit.engine import Engine

    engine = Engine(n_jobs=2, min_parallel_docs=1)
    write_table = toolkit.engine.write_table

    def disk_full(table, path):
        """One of the sentiment stage's tables fails to be written."""
        if path == tmp_path / "sentiment_by.parquet":
            raise OSError(f"no space left to write {path.name}")
        write_table(table, path)

    monkeypatch.setattr(toolkit.engine, "write_table", disk_full)  # the forked child writes with it
    with pytest.raises(OSError, match="no space left to write") as raised:
        toolkit.analyze(RAW, stages=["sentiment", "framing"], out=tmp_path, engine=engine)
    assert any("the sentiment stage" in note for note in raised.value.__notes__)
    recorded = json.loads((tmp_path / "_stages.json").read_text())
    assert "corpus" in recorded and "framing" in recorded and "sentiment" not in recorded
    monkeypatch.undo()
    again = toolkit.analyze(RAW, stages=["sentiment", "framing"], out=tmp_path, engine=engine)
    assert sorted(json.loads((tmp_path / "_stages.json").read_text())) == ["corpus", "framing", "sentiment"]
    stored = toolkit.analyze(RAW, stages=["sentiment", "framing"], out=tmp_path, engine=engine)
    pd.testing.assert_frame_equal(stored["sentiment_by"], again["sentiment_by"])


def test_a_stage_run_here_is_recorded_only_once_its_parquet_files_are_written(tmp_path, monkeypatch):
    """A stage run in this process beside a forked one writes its Parquet files in a thread while
    this process waits for the other; a failure while writing them is raised here, naming the
    stage, and the stage is not recorded, while the forked stage that finished is."""
    from toolkit.engine import Engine
    from toolkit.store import StageStore

    write_tables = StageStore.write_tables

    def disk_full(store, tables):
        """The framing stage's tables fail to be written."""
        if "frames" in tables:
            raise OSError("no space left to write frames.parquet")
        write_tables(store, tables)

    monkeypatch.setattr(StageStore, "write_tables", disk_full)
    started = []
    with pytest.raises(OSError, match="no space left to write") as raised:
        toolkit.analyze(RAW, stages=["sentiment", "framing"], out=tmp_path, progress=started.append,
                        engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert started == ["corpus", "sentiment+framing"]
    assert any("writing the framing stage's tables" in note for note in raised.value.__notes__)
    assert sorted(json.loads((tmp_path / "_stages.json").read_text())) == ["corpus", "sentiment"]


def test_a_run_hashes_the_corpus_sentences_once_for_all_the_stages_that_read_them(tmp_path, monkeypatch):
    """actors, sentiment, framing and framing's early part each key their per-document cache by
    the rows of the corpus's sentences; one run hashes that table once (toolkit.engine.Digests)."""
    import toolkit.engine
    from toolkit.engine import Engine
    from toolkit.segment import SENTENCE_COLUMNS

    hashed = []
    frame_digests = toolkit.engine._frame_digests

    def counting(frame):
        hashed.append(list(frame.columns))
        return frame_digests(frame)

    monkeypatch.setattr(toolkit.engine, "_frame_digests", counting)
    toolkit.analyze(RAW, stages=["actors", "sentiment", "framing"], out=tmp_path, engine=Engine(n_jobs=1))
    assert hashed.count(SENTENCE_COLUMNS) == 1


def test_a_wave_with_one_stage_left_to_compute_runs_it_here(tmp_path):
    from toolkit.engine import Engine

    engine = Engine(n_jobs=2, min_parallel_docs=1)
    first = toolkit.analyze(RAW, stages=["sentiment"], out=tmp_path, engine=engine)
    started = []
    both = toolkit.analyze(RAW, stages=["sentiment", "framing"], out=tmp_path, engine=engine, progress=started.append)
    assert started == ["corpus", "sentiment+framing"]
    pd.testing.assert_frame_equal(both["sentiment_by"], first["sentiment_by"])
    assert {"frames", "frame_shares"} <= set(both.tables)
    assert sorted(json.loads((tmp_path / "_stages.json").read_text())) == ["corpus", "framing", "sentiment"]


def test_side_by_side_stages_that_run_torch_stay_in_this_process(tmp_path, monkeypatch):
    """GNU OpenMP (torch's thread pool) hangs in a process forked after its parent used it, so
    topics and framing run here while actors and sentiment run in forked processes."""
    import os

    import toolkit.actors
    import toolkit.topics
    from toolkit.engine import Engine

    pids = tmp_path / "pids"
    pids.mkdir()

    def recording(module):
        real = module.run

        def run(tables, **options):
            (pids / module.__name__).write_text(str(os.getpid()))
            return real(tables, **options)
        return run

    for module in (toolkit.actors, toolkit.topics):
        monkeypatch.setattr(module, "run", recording(module))
    started = []
    toolkit.analyze(RAW, stages=["actors", "topics"], out=tmp_path / "out", progress=started.append,
                    engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert started == ["corpus", "actors+topics"]
    assert (pids / "toolkit.topics").read_text() == str(os.getpid())
    assert (pids / "toolkit.actors").read_text() != str(os.getpid())


def test_the_actors_stage_runs_while_rewrites_are_detected(tmp_path, monkeypatch):
    """The actors stage reads the sentences and each article's outlet only, so when it is forked
    beside topics it starts as soon as the articles are segmented: rewrite detection here waits
    for it to have started, which it could not if it were forked after the corpus tables."""
    import time

    import toolkit.actors
    import toolkit.pipeline
    from toolkit.engine import Engine

    marker, real_run, real_pairs = tmp_path / "actors-running", toolkit.actors.run, toolkit.pipeline.evaluate_pairs

    def run(tables, **options):
        marker.write_text(",".join(sorted(tables["articles"].columns)))
        return real_run(tables, **options)

    def evaluate_pairs(*args, **kwargs):
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "rewrite detection ran before the actors stage started"
        return real_pairs(*args, **kwargs)

    monkeypatch.setattr(toolkit.actors, "run", run)
    monkeypatch.setattr(toolkit.pipeline, "evaluate_pairs", evaluate_pairs)
    stages = ["actors", "topics"]
    side = toolkit.analyze(RAW, stages=stages, out=tmp_path / "side", engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert marker.read_text() == "doc_id,outlet"
    monkeypatch.undo()
    serial = toolkit.analyze(RAW, stages=stages, out=tmp_path / "serial", engine=Engine(n_jobs=1))
    for name in serial.tables:
        pd.testing.assert_frame_equal(side[name], serial[name], obj=name)
    assert _parquet_digests(tmp_path / "side") == _parquet_digests(tmp_path / "serial")


def test_framing_words_are_counted_while_the_actors_stage_runs_and_give_the_same_tables(tmp_path, monkeypatch):
    """Framing's early part (naming candidates, distinctive terms, rewrite changes) reads the corpus
    tables alone, so it runs in this process while actors runs beside topics, not after; once,
    and not at all when framing's tables are cached."""
    import os

    import toolkit.framing
    from toolkit.engine import Engine

    stages = ["actors", "framing", "topics"]
    serial = toolkit.analyze(RAW, stages=stages, out=tmp_path / "serial", engine=Engine(n_jobs=1))
    real, calls, started = toolkit.framing.early_started, [], []

    def recording(tables, **options):
        calls.append((os.getpid(), list(started)))
        return real(tables, **options)

    monkeypatch.setattr(toolkit.framing, "early_started", recording)
    side = toolkit.analyze(RAW, stages=stages, out=tmp_path / "side", progress=started.append,
                           engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert started == ["corpus", "actors+topics", "framing"]
    assert calls == [(os.getpid(), ["corpus", "actors+topics"])]
    for name in serial.tables:
        pd.testing.assert_frame_equal(side[name], serial[name], obj=name)
    assert _parquet_digests(tmp_path / "side") == _parquet_digests(tmp_path / "serial")
    toolkit.analyze(RAW, stages=stages, out=tmp_path / "side", engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert len(calls) == 1


def test_an_early_part_failing_beside_an_earlier_stage_raises_naming_its_stage(tmp_path, monkeypatch):
    import toolkit.framing
    from toolkit.engine import Engine

    def fail(tables, **options):
        raise ValueError("no words")

    monkeypatch.setattr(toolkit.framing, "early_started", fail)
    with pytest.raises(ValueError, match="no words") as raised:
        toolkit.analyze(RAW, stages=["actors", "framing", "topics"], out=tmp_path,
                        engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert any("framing stage's early part" in note for note in raised.value.__notes__)
    recorded = json.loads((tmp_path / "_stages.json").read_text())
    assert "framing" not in recorded and "corpus" in recorded  # the corpus tables, written beside, are kept


def test_a_stage_failing_in_a_later_wave_keeps_the_tables_of_the_stages_before_it(tmp_path, monkeypatch):
    """Forked stages write their Parquet files while the next wave runs; when that wave fails, they
    are still waited for and recorded, so the next run reads them instead of computing again."""
    import toolkit.framing
    from toolkit.engine import Engine

    def fail(tables, **options):
        raise ValueError("framing broke")

    monkeypatch.setattr(toolkit.framing, "run", fail)
    with pytest.raises(ValueError, match="framing broke"):
        toolkit.analyze(RAW, out=tmp_path, engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert sorted(json.loads((tmp_path / "_stages.json").read_text())) == ["actors", "corpus", "sentiment", "topics"]


def test_framing_early_part_starts_before_topics_and_finishes_after_it(tmp_path, monkeypatch):
    """The early part's forked process (naming candidates) starts with the wave, so it runs beside
    topics instead of after it: entered before topics runs in this process, finished after."""
    from contextlib import contextmanager

    import toolkit.framing
    import toolkit.topics
    from toolkit.engine import Engine

    events = []
    real_started, real_topics = toolkit.framing.early_started, toolkit.topics.run

    @contextmanager
    def started(tables, **options):
        with real_started(tables, **options) as finish:
            events.append("early started")

            def finishing():
                events.append("early finished")
                return finish()

            yield finishing

    def topics(tables, **options):
        events.append("topics")
        return real_topics(tables, **options)

    monkeypatch.setattr(toolkit.framing, "early_started", started)
    monkeypatch.setattr(toolkit.topics, "run", topics)
    toolkit.analyze(RAW, stages=["actors", "framing", "topics"], out=tmp_path,
                    engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert events == ["early started", "topics", "early finished"]


def test_charts_built_partly_in_a_forked_process_are_the_files_of_charts_built_here(tmp_path):
    """export_charts builds the actors' charts in a forked process when asked to; every file is the
    same as when all are built here, the order and the count too."""
    from toolkit.export import export_all
    from toolkit.pipeline import figures

    corpus = toolkit.analyze(RAW, manifest=ROOT / "data" / "corpus.csv", stages=["actors"])

    here, n_here = export_charts(corpus, tmp_path / "here", title="Story")
    forked, n_forked = export_charts(corpus, tmp_path / "forked", title="Story", fork=True)
    export_all(figures(corpus), tmp_path / "plain", title="Story")
    assert n_here == n_forked == len(figures(corpus)) > 0
    assert here.read_text() == forked.read_text() == (tmp_path / "plain" / "index.html").read_text()

    def files(folder):
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    assert files(tmp_path / "here") == files(tmp_path / "forked") == files(tmp_path / "plain")


def test_charts_of_a_corpus_without_the_stages_drawn_beside_are_all_drawn_here(corpus, tmp_path):
    index, n_charts = export_charts(corpus, tmp_path, title="Story", fork=True)
    assert n_charts == len(toolkit.figures(corpus)) >= 1
    assert index == tmp_path / "index.html" and (tmp_path / "corpus-outlets.png").is_file()


def test_edited_package_source_gives_another_code_fingerprint(tmp_path):
    """The stored tables are keyed by the package's source: an edit to any module must change
    the key, or a run after an upgrade would reuse tables the old code computed."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "toolkit", tmp_path / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))

    def code_fingerprint() -> str:
        program = "import toolkit.pipeline as p; print(p._code_fingerprint())"
        return subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)},
                              capture_output=True, text=True, check=True).stdout.strip()

    before = code_fingerprint()
    assert before == code_fingerprint()
    with (tmp_path / "toolkit" / "sentiment.py").open("a", encoding="utf-8") as module:
        module.write("\n# an edit\n")
    assert code_fingerprint() != before

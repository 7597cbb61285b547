"""Per-document mapping: same tables from every engine, and only changed documents recomputed."""

import tempfile

import pandas as pd
import pytest

from toolkit.engine import PART_SUFFIX, Digests, Engine, beside, doc_keys, map_documents
from toolkit.store import read_handoff


def word_counts(frames, *, tag):
    """A per-document function: one row per sentence with its word count, and the call's tag."""
    s = frames["sentences"]
    words = s.assign(words=s["text"].str.split().str.len(), tag=tag)[["doc_id", "sent_id", "words", "tag"]]
    long = words[words["words"] > 3][["doc_id", "sent_id"]]
    return {"words": words, "long": long}


def corpus(n_docs):
    rows = [(f"d{i:03d}", j, " ".join(["w"] * (i % 5 + j + 1))) for i in range(n_docs) for j in range(3)]
    return pd.DataFrame(rows, columns=["doc_id", "sent_id", "text"])


def run(sentences, engine=Engine(n_jobs=1), cache_dir=None, tag="first"):
    doc_ids = list(dict.fromkeys(sentences["doc_id"]))
    return map_documents(word_counts, {"sentences": sentences}, outputs=["words", "long"], doc_ids=doc_ids,
                         salt="test-v1", cache_dir=cache_dir, engine=engine, options={"tag": tag})


def test_process_pool_gives_the_same_tables_in_the_same_order():
    sentences = corpus(60)
    serial = run(sentences)
    parallel = run(sentences, engine=Engine(n_jobs=2, chunk_docs=7, min_parallel_docs=1))
    for name in serial:
        pd.testing.assert_frame_equal(serial[name], parallel[name])
    assert serial["words"]["doc_id"].iloc[:3].tolist() == ["d000"] * 3


def test_adding_one_document_computes_only_that_document(tmp_path):
    sentences = corpus(10)
    run(sentences, cache_dir=tmp_path)
    grown = pd.concat([sentences, pd.DataFrame([("new", 0, "a b c d e")], columns=sentences.columns)], ignore_index=True)
    out = run(grown, cache_dir=tmp_path, tag="second")
    assert out["words"].groupby("doc_id")["tag"].first().to_dict() == {**{f"d{i:03d}": "first" for i in range(10)}, "new": "second"}
    assert out["long"]["doc_id"].iloc[-1] == "new"


def test_changed_and_removed_documents_are_recomputed_or_forgotten(tmp_path):
    sentences = corpus(4)
    run(sentences, cache_dir=tmp_path)
    edited = sentences[sentences["doc_id"] != "d003"].copy()
    edited.loc[edited["doc_id"] == "d001", "text"] = "changed text here now"
    out = run(edited, cache_dir=tmp_path, tag="second")
    assert out["words"].groupby("doc_id")["tag"].first().to_dict() == {"d000": "first", "d001": "second", "d002": "first"}
    run(sentences[sentences["doc_id"] == "d000"], cache_dir=tmp_path, tag="third")  # 1 live of 5 stored: merged
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.glob("part-*")).name]
    assert set(read_handoff(next(tmp_path.glob("part-*")) / f"words{PART_SUFFIX}")["doc_id"]) == {"d000"}


def test_a_warm_run_writes_only_the_new_documents(tmp_path):
    sentences = corpus(10)
    run(sentences, cache_dir=tmp_path)
    grown = pd.concat([sentences, pd.DataFrame([("new", 0, "a b c d e")], columns=sentences.columns)], ignore_index=True)
    run(grown, cache_dir=tmp_path, tag="second")
    written = {p.name: set(read_handoff(p / f"_documents{PART_SUFFIX}")["doc_id"]) for p in tmp_path.glob("part-*")}
    assert sorted(map(len, written.values())) == [1, 10] and {"new"} in written.values()
    again = run(grown, cache_dir=tmp_path, tag="third")
    assert len(list(tmp_path.glob("part-*"))) == 2 and set(again["words"]["tag"]) == {"first", "second"}


def test_documents_of_an_unreadable_cached_part_are_computed_again(tmp_path):
    sentences = corpus(10)
    first = run(sentences, cache_dir=tmp_path)
    grown = pd.concat([sentences, pd.DataFrame([("new", 0, "a b c d e")], columns=sentences.columns)], ignore_index=True)
    (next(tmp_path.glob("part-*")) / f"long{PART_SUFFIX}").write_bytes(b"not arrow")  # its document list still reads
    out = run(grown, cache_dir=tmp_path, tag="second")
    assert set(out["words"]["tag"]) == {"second"}
    pd.testing.assert_frame_equal(out["long"].iloc[:-1], first["long"])
    assert out["words"]["doc_id"].drop_duplicates().tolist() == [f"d{i:03d}" for i in range(10)] + ["new"]


def test_parts_of_an_older_format_are_computed_again_and_removed(tmp_path):
    sentences = corpus(3)
    old = tmp_path / "part-old"
    old.mkdir()
    stale = run(sentences, tag="stale")
    for name, table in {**stale, "_documents": pd.DataFrame({"doc_id": ["d000"], "_doc_key": ["k"]})}.items():
        table.to_parquet(old / f"{name}.parquet")
    out = run(sentences, cache_dir=tmp_path, tag="second")
    assert set(out["words"]["tag"]) == {"second"}
    (part,) = tmp_path.iterdir()
    assert part.name != "part-old" and sorted(p.name for p in part.iterdir()) == [
        f"{name}{PART_SUFFIX}" for name in ("_documents", "long", "words")]


def test_documents_without_output_rows_are_still_cached(tmp_path):
    sentences = pd.DataFrame({"doc_id": ["a", "b"], "sent_id": [0, 0], "text": ["short", "also short"]})
    first = run(sentences, cache_dir=tmp_path)
    assert first["long"].empty
    second = run(sentences, cache_dir=tmp_path, tag="second")
    assert second["words"]["tag"].tolist() == ["first", "first"]


def test_empty_corpus_gives_empty_tables_with_columns():
    out = run(corpus(0))
    assert list(out["words"].columns) == ["doc_id", "sent_id", "words", "tag"] and out["words"].empty


def test_dask_engine_on_a_two_worker_local_cluster_equals_the_local_engine():
    pytest.importorskip("distributed")
    sentences = corpus(30)
    local = run(sentences)
    dask = run(sentences, engine=Engine(kind="dask", n_jobs=2, chunk_docs=8))
    for name in local:
        pd.testing.assert_frame_equal(local[name], dask[name])


def test_the_before_pool_hook_runs_once_before_a_process_pool_and_never_without_one():
    sentences, calls = corpus(20), []
    doc_ids = list(dict.fromkeys(sentences["doc_id"]))
    for engine in (Engine(n_jobs=2, chunk_docs=5, min_parallel_docs=1), Engine(n_jobs=1)):
        map_documents(word_counts, {"sentences": sentences}, outputs=["words", "long"], doc_ids=doc_ids,
                      salt="hook", engine=engine, options={"tag": "x"}, before_pool=lambda: calls.append(engine))
    assert calls == [Engine(n_jobs=2, chunk_docs=5, min_parallel_docs=1)]


def test_a_document_key_changes_with_its_own_rows_only():
    base = pd.DataFrame({"doc_id": ["a", "a", "b"], "sent_id": [0, 1, 0], "text": ["One two", "three", "Other"],
                         "tags": [("x",), (), ("y", "z")], "note": ["n", None, "m"]})
    keys = doc_keys({"s": base}, ["a", "b", "c"], "salt")
    assert len(set(keys.values())) == 3  # "c" has no rows, and still its own key

    def key_a(frame, salt="salt"):
        return doc_keys({"s": frame}, ["a"], salt)["a"]

    interleaved = base.iloc[[0, 2, 1]]
    assert doc_keys({"s": interleaved}, ["a", "b"], "salt") == {k: keys[k] for k in ("a", "b")}
    assert key_a(base[base["doc_id"] == "a"]) == keys["a"]  # other documents do not matter
    assert key_a(base, salt="other") != keys["a"]
    assert key_a(base.iloc[[1, 0, 2]]) != keys["a"]  # row order within a document counts
    assert key_a(base.assign(text=["One", "two three", "Other"])) != keys["a"]  # so does a moved boundary
    assert key_a(base.assign(note=["n", "", "m"])) != keys["a"]  # a missing value is not an empty string
    assert key_a(base.assign(text=["One tw", "three", "Other"], note=["on", None, "m"])) != keys["a"]  # nor "o" moved
    assert key_a(base.assign(tags=[("x",), ("w",), ("y", "z")])) != keys["a"]
    assert key_a(base.assign(sent_id=[0, 2, 0])) != keys["a"]
    assert doc_keys({"s": base}, ["b"], "salt")["b"] == doc_keys({"s": base.assign(text=["1", "2", "Other"])},
                                                               ["b"], "salt")["b"]


def _shout(frame, *, suffix):
    """A corpus-level step for :func:`beside`: one table from a table."""
    import warnings

    warnings.warn(f"shouting {len(frame)} rows", UserWarning)
    return frame.assign(text=frame["text"].str.upper() + suffix)


def _broken(frame):
    raise ValueError(f"cannot read {len(frame)} rows")


def test_a_step_beside_this_process_gives_the_table_and_warnings_of_the_same_step_here():
    import os

    def leftovers():
        return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("newsangle-handoff-")}

    sentences = corpus(5)
    before = leftovers()
    with pytest.warns(UserWarning, match="shouting 15 rows"):
        with beside(_shout, sentences, suffix="!", fork=False) as here:
            expected = here()
    with pytest.warns(UserWarning, match="shouting 15 rows"):
        with beside(_shout, sentences, suffix="!", fork=True) as forked:
            got = forked()
    pd.testing.assert_frame_equal(got, expected)
    assert got["text"].iloc[0] == "W!"
    assert leftovers() == before  # the child's file is removed


def test_a_step_failing_beside_this_process_raises_here_naming_the_step():
    with pytest.raises(ValueError, match="cannot read 15 rows") as raised:
        with beside(_broken, corpus(5), fork=True) as forked:
            forked()
    assert any("raised in _broken, run in its own process" in note for note in raised.value.__notes__)


def test_steps_fork_beside_only_for_a_local_engine_on_several_cores_and_a_large_corpus():
    assert Engine(n_jobs=2, min_parallel_docs=10).forks_beside(10)
    assert not Engine(n_jobs=2, min_parallel_docs=10).forks_beside(9)
    assert not Engine(n_jobs=1, min_parallel_docs=0).forks_beside(10)
    assert not Engine(kind="dask", n_jobs=2, min_parallel_docs=0).forks_beside(10)


def test_digests_kept_for_a_run_give_the_same_keys_and_hash_each_frame_once(monkeypatch):
    import toolkit.engine

    sentences = corpus(6)
    hashed = []
    frame_digests = toolkit.engine._frame_digests
    monkeypatch.setattr(toolkit.engine, "_frame_digests", lambda frame: hashed.append(frame) or frame_digests(frame))
    ids = sentences["doc_id"].unique().tolist()
    digests = Digests()
    first = doc_keys({"sentences": sentences}, ids, "stage a", digests=digests)
    second = doc_keys({"sentences": sentences}, ids, "stage b", digests=digests)
    assert len(hashed) == 1
    assert first == doc_keys({"sentences": sentences}, ids, "stage a")
    assert second == doc_keys({"sentences": sentences}, ids, "stage b")
    copy = sentences.copy()
    assert doc_keys({"sentences": copy}, ids, "stage a", digests=digests) == first
    assert len(hashed) == 4 and hashed[-1] is copy  # another frame is another frame, even when equal


def _scored(sentences: pd.DataFrame, *, edit: bool) -> dict[str, pd.DataFrame]:
    """A stage returning its input table, copied, with columns of its own (and with ``edit`` one
    of the input's values changed), and a table of its own."""
    out = sentences.copy()
    if edit:
        out.loc[3, "text"] = "edited"
    out = out.assign(words=out["text"].str.split().str.len(), voice=["own", None, "quoted"] * (len(out) // 3))
    return {"sentences": out, "counts": out.groupby("doc_id", as_index=False)["words"].sum()}


def test_a_forked_stage_hands_over_only_the_columns_it_adds_to_an_input_table(tmp_path):
    from toolkit.engine import ForkedTables
    from toolkit.store import read_table

    sentences = corpus(4).assign(note=["n", None, "m"] * 4)
    for edit in (False, True):
        folder = tmp_path / f"edit-{edit}"
        child = ForkedTables(_scored, {"sentences": sentences, "edit": edit}, folder, label="a scoring stage",
                             extends={"sentences": sentences})
        names, error, _ = child.outcome()
        assert error is None and names == ["counts", "sentences"]
        handed = read_handoff(child._handoff / "sentences.arrow")
        got = child.tables(names)
        assert child.written() is None
        child.release()
        expected = _scored(sentences, edit=edit)
        for name in names:
            pd.testing.assert_frame_equal(got[name], expected[name])
            pd.testing.assert_frame_equal(read_table(folder / f"{name}.parquet"), expected[name])
        # an input table changed is handed over whole
        assert list(handed.columns) == (list(expected["sentences"].columns) if edit else ["words", "voice"])


def _start_a_worker_and_wait(pid_file: str) -> dict[str, pd.DataFrame]:
    """A stage that starts a process of its own (as a stage's process pool does) and never ends."""
    import multiprocessing
    import time

    worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,), daemon=False)
    worker.start()
    with open(pid_file, "w") as f:
        f.write(str(worker.pid))
    time.sleep(600)
    return {}


def test_stopping_a_forked_step_also_ends_the_processes_it_started(tmp_path):
    import time

    from toolkit.engine import ForkedTables

    pid_file = tmp_path / "worker.pid"
    child = ForkedTables(_start_a_worker_and_wait, {"pid_file": str(pid_file)}, None, label="a stuck stage")
    deadline = time.monotonic() + 60
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the forked step never started its worker"
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    child.stop()

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ", 1)[1][0] != "Z"  # a zombie has ended, waiting to be reaped
        except FileNotFoundError:
            return False

    while alive(worker):
        assert time.monotonic() < deadline, "the forked step's worker outlived it"
        time.sleep(0.05)

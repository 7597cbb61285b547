"""Mapping per-document functions over a corpus: locally in processes, or on a Dask cluster.

A *per-document function* takes tables restricted to some documents (every input table has
a ``doc_id`` column) and returns tables about those documents only, such that its output
for a document never depends on which other documents share the call. Such functions can
be cached per document and run in any partitioning — that is the whole contract.

:func:`map_documents` then

1. hashes each document's input rows (plus a stage key naming the code, options and data
   files), so a document is recomputed only when its inputs changed;
2. takes unchanged documents' outputs from a per-stage cache of Arrow files (:func:`write_part`),
   kept as parts (one per run that computed something), so a run writes only the documents it
   computed;
3. runs the function on the remaining documents in partitions of ``chunk_docs`` documents,
   serially, in a local process pool, or as a ``dask.bag`` on a ``distributed`` cluster
   (the *same* function, so the engines cannot drift);
4. returns outputs in the documents' input order, row order within a document preserved.

Hand-written because the per-document cache and the engine-independent ordering are the
point; the parallel execution itself is ``concurrent.futures`` or Dask.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from .models import after_fork
from .store import arrow_table, fingerprint, read_handoff, write_handoff, write_table

DOC_KEY = "_doc_key"
DOCS_TABLE = "_documents"


@dataclass(frozen=True)
class Engine:
    """Where per-document work runs.

    ``kind``: ``"local"`` (a process pool of ``n_jobs`` workers; ``n_jobs=1`` runs in the
    calling process) or ``"dask"`` (a ``distributed`` client: ``scheduler`` is the address
    of an existing cluster, or ``None`` for a ``LocalCluster`` of ``n_jobs`` workers).
    ``chunk_docs``: largest number of documents per partition (see :meth:`chunk_size`). ``min_parallel_docs``: below this many
    documents to compute, work stays in the calling process (process start-up would cost
    more than it saves); a corpus with fewer documents also runs its analysis stages one after
    another rather than side by side (see :func:`toolkit.pipeline.analyze`).
    """

    kind: str = "local"
    n_jobs: int | None = None
    scheduler: str | None = None
    chunk_docs: int = 200
    min_parallel_docs: int = 400

    def workers(self) -> int:
        """Number of worker processes this engine uses."""
        return self.n_jobs or os.cpu_count() or 1

    def forks_beside(self, n_docs: int) -> bool:
        """Whether corpus-level work on ``n_docs`` documents runs in forked processes beside this
        one (analysis stages side by side, :func:`beside`): the local engine on several cores, a
        corpus of at least ``min_parallel_docs`` documents, and a platform that can fork."""
        return self.kind == "local" and self.workers() > 1 and n_docs >= self.min_parallel_docs \
            and "fork" in mp.get_all_start_methods()

    def chunk_size(self, n_docs: int) -> int:
        """Documents per partition: at most ``chunk_docs``, and small enough that every worker
        gets about four partitions (so one slow partition does not leave the others idle)."""
        return max(1, min(self.chunk_docs, -(-n_docs // (4 * self.workers()))))


def doc_keys(frames: Mapping[str, pd.DataFrame], doc_ids: list[str], salt: str, *,
             digests: Digests | None = None) -> dict[str, str]:
    """A content key per document: hash of ``salt`` and the document's rows, in order, in every frame.

    Each frame is reduced to bytes once (:func:`_row_bytes`: each text column's UTF-8 bytes back
    to back, and a fixed-width record per row of its numbers, booleans, text lengths and missing
    values) and each document's key hashes the slices its rows occupy, so reordering, moving a
    boundary between two strings or changing one value changes the key. Hand-written because
    the pandas route (a row hash of every row, then a per-document combination) hashed each
    sentence's text through Python objects: 1.5 s for the 468,000 sentences of 10,000 articles,
    paid by every stage of every run. ``digests`` keeps each frame's per-document digests for
    the stages after this one (:class:`Digests`).
    """
    digest = digests.of if digests is not None else _frame_digests
    per_frame = [(name, digest(frames[name])) for name in sorted(frames)]
    empty = ("", 0)
    return {doc_id: fingerprint(salt, doc_id, *[(name, *digests.get(doc_id, empty)) for name, digests in per_frame])
            for doc_id in doc_ids}


class DocumentStep(NamedTuple):
    """One per-document step of a stage that splits its per-document work (a stage module's
    ``DOCUMENT_STEPS``, see :func:`toolkit.pipeline.run_stage`): ``function(frames, **options)``
    reads the tables ``inputs`` and returns ``outputs``, and its results depend on the reporter's
    ``data_files`` (names in the data folder) besides its input rows."""

    function: Callable[..., dict[str, pd.DataFrame]]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    data_files: tuple[str, ...]


class Digests:
    """The per-document digests :func:`doc_keys` computes, kept for the length of a run, so the
    stages that read the same table hash it once: every analysis stage reads ``sentences``. A
    frame is known by identity and kept alive here, so it must not change while the run lasts
    (stages return new tables, never modify their inputs). A process forked later inherits the
    digests known when it starts."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[pd.DataFrame, dict[str, tuple[str, int]]]] = {}

    def of(self, frame: pd.DataFrame) -> dict[str, tuple[str, int]]:
        """doc_id -> (digest of that document's rows, number of rows) of ``frame``."""
        known = self._known.get(id(frame))
        if known is None or known[0] is not frame:
            known = self._known[id(frame)] = (frame, _frame_digests(frame))
        return known[1]


def _frame_digests(frame: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """doc_id -> (digest of that document's rows, number of rows) for one frame: per document, one
    hash call per text column and one for the fixed-width records, over its slices of
    :func:`_row_bytes` (hashing each column's pieces apart, as before, made 370,000 calls for
    10,000 documents' 11 columns)."""
    codes, uniques = pd.factorize(frame["doc_id"], sort=False)
    bounds = np.r_[0, np.cumsum(np.bincount(codes[codes >= 0], minlength=len(uniques)))]
    # rows grouped by document, in order; rows without a doc_id belong to no document
    if len(codes) and not (codes.min() >= 0 and (codes[1:] >= codes[:-1]).all()):
        order = np.argsort(codes, kind="stable")
        frame = frame.iloc[order[codes[order] >= 0]]
    layout, texts, records = _row_bytes(frame.drop(columns="doc_id"))
    start = hashlib.blake2b(layout, digest_size=16)
    out = {}
    for code, doc_id in enumerate(uniques):
        lo, hi = int(bounds[code]), int(bounds[code + 1])
        h = start.copy()
        for data, offsets in texts:
            h.update(data[offsets[lo] : offsets[hi]])
        h.update(records[lo:hi])
        out[doc_id] = (h.hexdigest(), hi - lo)
    return out


def _row_bytes(frame: pd.DataFrame) -> tuple[bytes, list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """``frame``'s rows as bytes: (layout, texts, records).

    ``texts``: per text column, the UTF-8 bytes of its values back to back and the offset where
    each row's value starts (and the end), as Arrow holds them. ``records``: one fixed-width row
    of bytes per row (C order, so the rows of a slice are contiguous): the values of numeric,
    boolean and date columns, the byte length of each text value and whether it is missing, and
    for any other column (tuples, mixed objects) pandas' 64-bit row hash. ``layout`` names the
    columns and how each was read, so the same bytes under another schema differ."""
    n = len(frame)
    texts: list[tuple[np.ndarray, np.ndarray]] = []
    fixed: list[np.ndarray] = []
    layout = []
    for name in frame.columns:
        column = frame[name]
        values = column.to_numpy()
        kind = "hash"
        if values.dtype.kind in "biufcmM":
            kind = f"raw:{values.dtype.str}"
            fixed.append(np.ascontiguousarray(values).view(np.uint8).reshape(n, values.dtype.itemsize))
        elif values.dtype == object:
            try:
                text = pa.array(values, type=pa.large_string(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                text = None
            if text is not None:
                kind = "text"
                offsets = np.frombuffer(text.buffers()[1], dtype=np.int64, count=n + 1, offset=text.offset * 8)
                data = text.buffers()[2]
                texts.append((np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8),
                              offsets))
                fixed.append(np.diff(offsets).view(np.uint8).reshape(n, 8))
                fixed.append(np.asarray(text.is_null()).view(np.uint8).reshape(n, 1))
        if kind == "hash":
            fixed.append(pd.util.hash_pandas_object(column, index=False).to_numpy().view(np.uint8).reshape(n, 8))
        layout.append(f"{name}={kind}")
    records = np.ascontiguousarray(np.concatenate(fixed, axis=1)) if fixed else np.zeros((n, 0), dtype=np.uint8)
    return "\x1f".join(layout).encode("utf-8"), texts, records


def _subset(frames: Mapping[str, pd.DataFrame], ids: list[str]) -> dict[str, pd.DataFrame]:
    wanted = set(ids)
    return {name: frame[frame["doc_id"].isin(wanted)] for name, frame in frames.items()}


def _chunked(doc_ids: list[str], engine: Engine) -> list[list[str]]:
    """``doc_ids`` in partitions of :meth:`Engine.chunk_size` documents."""
    size = engine.chunk_size(len(doc_ids))
    return [doc_ids[i : i + size] for i in range(0, len(doc_ids), size)]


def _runs_here(engine: Engine, n_docs: int, n_chunks: int) -> bool:
    """Whether :func:`_run_chunks` computes ``n_docs`` documents in ``n_chunks`` partitions in
    this process (no process pool, no cluster)."""
    return engine.kind == "local" and (engine.workers() == 1 or n_docs < engine.min_parallel_docs or n_chunks == 1)


def _run_chunks(func, frames, chunks: list[list[str]], options: dict, engine: Engine,
                before_pool: Callable[[], None] | None = None) -> list[dict[str, pd.DataFrame]]:
    n_docs = sum(len(c) for c in chunks)
    if engine.kind == "dask":
        import dask.bag as db
        from distributed import Client, LocalCluster

        parts = [_subset(frames, ids) for ids in chunks]
        if engine.scheduler:
            client = Client(engine.scheduler)
            cluster = None
        else:
            cluster = LocalCluster(n_workers=engine.workers(), threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            bag = db.from_sequence(parts, npartitions=len(parts)).map(lambda part: func(part, **options))
            return bag.compute(scheduler=client.get)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if engine.kind != "local":
        raise ValueError(f"unknown engine '{engine.kind}' (expected 'local' or 'dask')")
    if _runs_here(engine, n_docs, len(chunks)):
        return [func(_subset(frames, ids), **options) for ids in chunks]
    parts = [_subset(frames, ids) for ids in chunks]
    if before_pool is not None:
        before_pool()
    with ProcessPoolExecutor(max_workers=engine.workers(), initializer=after_fork) as pool:
        return list(pool.map(_apply_options, [func] * len(parts), parts, [options] * len(parts)))


def _apply_options(func: Callable, part: Mapping[str, pd.DataFrame], options: dict) -> dict[str, pd.DataFrame]:
    return func(part, **options)


class ForkedTables:
    """``func(**kwargs)``, a dict of tables, computed in a forked process while this process goes
    on; the child hands each table to this process (:meth:`tables`) as an Arrow IPC file
    (:func:`~toolkit.store.write_handoff`), which reads back in a third of the time, and then
    writes it to ``folder/<name>.parquet`` (:func:`~toolkit.store.write_table`; ``folder`` None:
    no Parquet) while this process goes on with the tables.

    The child inherits the arguments instead of receiving a pickled copy (gigabytes of tables at
    10,000 articles) and starts with :func:`~toolkit.models.after_fork`; it must not use torch,
    whose GNU OpenMP pool hangs in a process forked after its parent used it. :meth:`outcome`
    waits for the tables, :meth:`written` for the Parquet files; :meth:`stop` ends a child still
    running. ``hand_over`` False: the child reports the tables' names and writes the Parquet
    files only (tables this process already has, written while it goes on). ``extends``: tables
    this process has (a stage's inputs), by name; a table the child returns under one of those
    names that holds that table's columns unchanged, row for row, plus columns of its own (the
    sentiment stage's scored ``sentences``) is handed over as those columns alone and put back
    together here (:func:`_extended`): at 10,000 articles the scored sentences took 0.5-1 s to
    convert to Arrow in the child before it could hand them over, and 0.4-1 s to read back here,
    mostly their text, which this process had all along. The child still converts the whole
    table for its Parquet file, but after handing over. Hand-written because process pools pickle their arguments and their
    workers may not start the per-document process pools of a pipeline stage.
    """

    def __init__(self, func: Callable[..., Mapping[str, pd.DataFrame]], kwargs: Mapping[str, object],
                 folder: Path | None, *, label: str, hand_over: bool = True,
                 extends: Mapping[str, pd.DataFrame] | None = None):
        self.label = label
        self._extends = dict(extends or {})
        self._columns: dict[str, list[str]] = {}
        context = mp.get_context("fork")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child would write out this process's unflushed output again
        self._receive, send = context.Pipe(duplex=False)
        self._handoff = Path(tempfile.mkdtemp(prefix="newsangle-handoff-")) if hand_over else None
        self._child = context.Process(target=_forked_body, name=f"newsangle-{label}",
                                      args=(send, func, kwargs, Path(folder) if folder is not None else None,
                                            self._handoff, self._extends))
        self._child.start()
        _own_group(self._child.pid)  # here as well as in the child, so stop() finds the group either way
        send.close()

    def _reply(self) -> tuple[str, object, str, list[tuple]]:
        try:
            return self._receive.recv()
        except EOFError:
            return "error", RuntimeError(f"{self.label}'s process ended without a result"), "", []

    def _failed(self, error: BaseException, trace: str) -> BaseException:
        self._child.join()
        error.add_note(f"(raised in {self.label}, run in its own process)\n{trace}".rstrip())
        return error

    def outcome(self) -> tuple[list[str], BaseException | None, list[tuple]]:
        """Wait for the child's tables: (names of the tables it handed over, its exception or None,
        the warnings it met as (category, message, filename, lineno)). The exception carries a
        note naming ``label`` and the child's traceback."""
        status, payload, trace, caught = self._reply()
        if status == "error":
            return [], self._failed(payload, trace), caught
        names, self._columns = payload
        return names, None, caught

    def written(self) -> BaseException | None:
        """After :meth:`outcome` reported the tables: wait until the child has written their
        Parquet files and ended; None, or the exception writing raised (with a note as for
        :meth:`outcome`)."""
        status, payload, trace, _ = self._reply()
        if status == "error":
            return self._failed(payload, trace)
        self._child.join()
        return None

    def tables(self, names: Iterable[str]) -> dict[str, pd.DataFrame]:
        """The tables ``names`` the child handed over (after :meth:`outcome` reported them)."""
        out = {}
        for name in names:
            table = read_handoff(self._handoff / f"{name}.arrow")
            columns = self._columns.get(name)
            out[name] = table if columns is None else _extended(self._extends[name], table, columns)
        return out

    def stop(self) -> None:
        """End the child if it is still running, with the processes it started (a stage's process
        pool: terminated alone, the child would leave its workers waiting forever for work), and
        remove the tables it handed over."""
        if self._child.is_alive():
            try:
                os.killpg(self._child.pid, signal.SIGTERM)
            except OSError:  # the group is gone already, or was never made
                self._child.terminate()
            self._child.join()
        self.release()

    def release(self) -> None:
        """Remove the tables the child handed over (once read), leaving the child running."""
        if self._handoff is not None:
            shutil.rmtree(self._handoff, ignore_errors=True)


def _forked_body(send, func: Callable[..., Mapping[str, pd.DataFrame]], kwargs: Mapping[str, object],
                 folder: Path | None, handoff: Path | None, extends: Mapping[str, pd.DataFrame]) -> None:
    """Body of a :class:`ForkedTables` child: compute, hand the tables over (unless ``handoff``
    is None; a table extending one of ``extends`` as its added columns), report back, then write
    the Parquet files and report again."""
    _own_group(0)
    after_fork()
    tables: dict[str, pd.DataFrame | pa.Table] = {}
    with warnings.catch_warnings(record=True) as caught:
        try:
            tables = dict(func(**kwargs))
            columns: dict[str, list[str]] = {}
            for name, table in tables.items():
                if handoff is None:
                    continue
                if name in extends and _extends_table(table, extends[name]):
                    columns[name] = list(table.columns)
                    added = [column for column in table.columns if column not in extends[name].columns]
                    write_handoff(arrow_table(table[added]), handoff / f"{name}.arrow")
                else:
                    tables[name] = table if isinstance(table, pa.Table) else arrow_table(table)
                    write_handoff(tables[name], handoff / f"{name}.arrow")
            reply = ("ok", (sorted(tables), columns), "")
        except Exception as exc:  # reported to the parent, which raises it
            reply = ("error", exc, traceback.format_exc())
    _send(send, reply, [(w.category, str(w.message), w.filename, w.lineno) for w in caught])
    if reply[0] == "ok":
        try:
            for name, table in tables.items() if folder is not None else ():
                write_table(table, folder / f"{name}.parquet")
            reply = ("written", None, "")
        except Exception as exc:
            reply = ("error", exc, traceback.format_exc())
        _send(send, reply, [])
    send.close()


def _extends_table(table: pd.DataFrame | pa.Table, base: pd.DataFrame) -> bool:
    """Whether ``table`` holds every column of ``base`` first, with the same dtype and equal
    values row for row. A column with a missing float value (not equal to itself) or values that
    do not compare as scalars is taken as changed: the table is then handed over whole."""
    if not isinstance(table, pd.DataFrame) or len(table) != len(base) \
            or list(table.columns[: len(base.columns)]) != list(base.columns) or table.columns.has_duplicates:
        return False
    try:
        return all(table[column].dtype == base[column].dtype
                   and np.array_equal(_values(table[column]), _values(base[column])) for column in base.columns)
    except (TypeError, ValueError):
        return False


def _values(column: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``column``'s values without a copy: its numpy array, or its extension array (``Int64``,
    categorical), which numpy would turn into objects."""
    return column.array if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) else column.to_numpy()


def _extended(base: pd.DataFrame, added: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The table a child handed over as the columns ``added`` to ``base`` (:func:`_extends_table`),
    with ``columns`` in order and a fresh index, as its own hand-over would read back."""
    return pd.DataFrame({column: _values(added[column] if column in added.columns else base[column])
                         for column in columns})


def _own_group(pid: int) -> None:
    """Make process ``pid`` (0: this one) the leader of a process group of its own, which the
    processes it forks join, so :meth:`ForkedTables.stop` ends them all with one signal."""
    try:
        os.setpgid(pid, 0)
    except OSError:  # the child has ended already
        pass


def _send(send, reply: tuple[str, object, str], notes: list[tuple]) -> None:
    try:
        send.send((*reply, notes))
    except Exception:  # an exception that does not pickle: its type and message do
        send.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}"), reply[2], notes))


def reissue(caught: list[tuple]) -> None:
    """Issue here the warnings a forked process met (as :meth:`ForkedTables.outcome` gives them)."""
    for category, message, filename, lineno in caught:
        warnings.warn_explicit(message, category, filename, lineno)


def _one_table(func: Callable[..., pd.DataFrame | pa.Table], args: tuple, kwargs: Mapping[str, object]
               ) -> dict[str, pd.DataFrame | pa.Table]:
    return {"table": func(*args, **kwargs)}


@contextmanager
def beside(func: Callable[..., pd.DataFrame], /, *args: object, fork: bool,
           before_fork: Callable[[], None] | None = None, **kwargs: object) -> Iterator[Callable[[], pd.DataFrame]]:
    """``func(*args, **kwargs)``, one table, computed in a forked process while the ``with`` block
    goes on (``fork``; see :meth:`Engine.forks_beside`), or in this process when asked for.

    Yields a function returning the table: through Arrow (:meth:`ForkedTables.tables`), so with
    the dtypes the pipeline's stored tables have (a ``func`` returning an Arrow table has it handed
    over as it is, unconverted; without a fork, the function returns what ``func`` returns). The
    child's warnings are issued here and its exception raised here (with a note naming ``func``).
    ``before_fork`` runs first (e.g. waiting for background writes: a fork while another thread
    holds a lock can leave the child stuck on it). Leaving the block stops a child still running
    and removes its files. ``func`` must not use torch (see :class:`ForkedTables`).
    """
    if not fork:
        yield lambda: func(*args, **kwargs)
        return
    if before_fork is not None:
        before_fork()
    child = ForkedTables(_one_table, {"func": func, "args": args, "kwargs": kwargs}, None,
                         label=getattr(func, "__name__", "a corpus-level step"))

    def result() -> pd.DataFrame:
        names, error, caught = child.outcome()
        reissue(caught)
        if error is not None:
            raise error
        return child.tables(names)["table"]

    try:
        yield result
    finally:
        child.stop()


def map_documents(
    func: Callable[..., dict[str, pd.DataFrame]],
    frames: Mapping[str, pd.DataFrame],
    *,
    outputs: list[str],
    doc_ids: list[str],
    salt: str,
    cache_dir: Path | None = None,
    engine: Engine = Engine(),
    options: Mapping[str, object] | None = None,
    before_pool: Callable[[], None] | None = None,
    digests: Digests | None = None,
) -> dict[str, pd.DataFrame]:
    """Run a per-document function over every document, reusing cached outputs.

    ``func(frames_subset, **options)`` must return a dict with every name in ``outputs``,
    each a table with a ``doc_id`` column. ``doc_ids`` fixes the output order. ``salt``
    names everything besides the input rows that the output depends on (stage, code,
    options, data files). With ``cache_dir``, outputs are kept as *parts*
    (:func:`part_folders`, :func:`write_part`): each run writes one part with the documents it
    computed, so adding one article to ten thousand writes that article's rows only; parts
    are merged into one when there are more than :data:`MAX_PARTS` or when more than half of
    the stored documents are no longer in the corpus, so the cache does not grow without bound.
    ``before_pool`` is called before a local process pool starts (workers are forked, and a
    fork while another thread holds a lock can leave the child stuck on it: the pipeline waits
    for its background writes there). ``digests``: the run's :class:`Digests` (see :func:`doc_keys`).
    """
    options = dict(options or {})
    cache = Path(cache_dir) if cache_dir is not None else None
    folders = part_folders(cache, outputs) if cache is not None else []
    # each part's document list is small: read here, it tells which documents to compute before
    # the parts' tables are read
    listed = {folder: _read_or_none(folder / f"{DOCS_TABLE}{PART_SUFFIX}") for folder in folders}
    keys = doc_keys(frames, doc_ids, salt, digests=digests)
    stored = {key for table in listed.values() if table is not None for key in table[DOC_KEY]}
    todo = [d for d in doc_ids if keys[d] not in stored]
    chunks = _chunked(todo, engine)
    folders = [folder for folder in folders if listed[folder] is not None]
    if chunks and folders and _runs_here(engine, len(todo), len(chunks)):
        # the few documents a re-run computes, computed here while a thread reads the cached parts
        # (Parquet decoding releases the GIL); no process is forked meanwhile
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsangle-parts") as reader:
            reading = reader.submit(_read_parts_of, folders, outputs, listed)
            fresh = _run_chunks(func, frames, chunks, options, engine, before_pool)
            parts = reading.result()
    else:
        parts = _read_parts_of(folders, outputs, listed)
        fresh = _run_chunks(func, frames, chunks, options, engine, before_pool) if chunks else []
    done = {key for part in parts for key in part[DOCS_TABLE][DOC_KEY]}
    hit_keys = {k for k in keys.values() if k in done}
    # documents of a part that turned out unreadable are computed now
    computed = set(todo)
    late = [d for d in doc_ids if keys[d] not in hit_keys and d not in computed]
    if late:
        fresh += _run_chunks(func, frames, _chunked(late, engine), options, engine, before_pool)
        todo += late
    if not fresh and not parts:
        fresh = [func(_subset(frames, []), **options)]  # no documents: the function gives the empty tables
    fresh_tables = {
        name: pd.concat([part[name].assign(**{DOC_KEY: part[name]["doc_id"].map(keys)}) for part in fresh],
                        ignore_index=True) if fresh else None
        for name in outputs
    }
    order = pd.Series(np.arange(len(doc_ids)), index=pd.Index(doc_ids, dtype=object))
    result = {}
    for name in outputs:
        remaining = set(hit_keys)
        pieces = [_live(part[name], part[DOCS_TABLE], remaining) for part in parts]
        if fresh_tables[name] is not None:
            pieces.append(fresh_tables[name])
        table = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
        # documents in input order, rows of a document in their order: one stable sort, one copy
        position = order.reindex(table["doc_id"].to_numpy()).to_numpy()
        if len(position) > 1 and not (position[1:] >= position[:-1]).all():
            table = table.take(np.argsort(position, kind="stable"))
            table.index = pd.RangeIndex(len(table))
        result[name] = table
    if cache is not None:
        stored = sum(len(part[DOCS_TABLE]) for part in parts)
        if len(parts) + 1 > MAX_PARTS or stored > 2 * len(hit_keys):
            write_part(cache, {**result, DOCS_TABLE: _keys_table(doc_ids, keys)}, replace=True)
        elif todo:
            write_part(cache, {**fresh_tables, DOCS_TABLE: _keys_table(todo, keys)})
    for table in result.values():
        del table[DOC_KEY]  # in place: the tables are this call's own, and copying them cost seconds at 10,000 articles
    return result


MAX_PARTS = 16
"""Most cache parts a stage keeps before they are merged into one."""


def _keys_table(doc_ids: list[str], keys: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": doc_ids, DOC_KEY: [keys[d] for d in doc_ids]})


def _live(table: pd.DataFrame, documents: pd.DataFrame, remaining: set[str]) -> pd.DataFrame:
    """Rows of a cached part whose document key is in ``remaining``, which loses those keys
    (a key stored in two parts, a document removed and added again, is taken once)."""
    wanted = set(documents[DOC_KEY]) & remaining
    remaining -= wanted
    return table[table[DOC_KEY].isin(wanted)]


PART_SUFFIX = ".arrow"
"""The file suffix of a part's tables (:func:`write_part`)."""


def part_folders(cache: Path, outputs: list[str]) -> list[Path]:
    """The complete parts under ``cache`` (``part-*/`` folders holding each output and
    ``_documents``, :data:`PART_SUFFIX` files), oldest first."""
    folders = sorted(cache.glob("part-*"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [folder for folder in folders
            if all((folder / f"{name}{PART_SUFFIX}").is_file() for name in (*outputs, DOCS_TABLE))]


def _read_or_none(path: Path) -> pd.DataFrame | None:
    try:
        return read_handoff(path)
    except (OSError, ValueError):
        return None


def _read_parts_of(folders: list[Path], outputs: list[str], listed: Mapping[Path, pd.DataFrame]
                   ) -> list[dict[str, pd.DataFrame]]:
    """The tables of each part in ``folders``, by name, oldest first, with its document table
    from ``listed`` (already read, by folder); a part with an unreadable table is left out."""
    parts = []
    for folder in folders:
        part = {name: _read_or_none(folder / f"{name}{PART_SUFFIX}") for name in outputs}
        if all(table is not None for table in part.values()):
            parts.append({**part, DOCS_TABLE: listed[folder]})
    return parts


def write_part(cache: Path, tables: Mapping[str, pd.DataFrame], *, replace: bool = False) -> None:
    """Write one part (atomically: a temporary folder renamed into place); ``replace`` removes
    every other part afterwards (the merge). Parts of an older format (tables without
    :data:`PART_SUFFIX`, which :func:`part_folders` does not list) are removed too.

    Each table is a zstd-compressed Arrow IPC file (:func:`~toolkit.store.write_handoff`), read
    back by :func:`~toolkit.store.read_handoff` without Parquet's decoding (pages, dictionaries,
    run lengths): a warm run reads every stage's cached documents, and at 10,000 articles four of
    those tables (articles, paragraphs, sentences, framing's term tokens) read in 3.3 s against
    4.5 s from Parquet with zstd, in about the same space (31 against 28 MB for the sentences).
    Uncompressed files read in 2.4 s, but took 3.7 times the space, and end to end (warm runs
    with one article added, alternating) the two were not told apart, so the cache stays
    compact. The output tables stay Parquet."""
    name = "part-" + fingerprint(*tables[DOCS_TABLE][DOC_KEY].tolist())
    final = cache / name
    tmp = cache / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for table_name, table in tables.items():
        write_handoff(arrow_table(table), tmp / f"{table_name}{PART_SUFFIX}", compression="zstd")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for other in cache.glob("part-*"):
        if other != final and (replace or not (other / f"{DOCS_TABLE}{PART_SUFFIX}").is_file()):
            shutil.rmtree(other, ignore_errors=True)

"""Runs of equal values in sorted arrays: the group-by that the corpus-level steps do on integer
codes instead of pandas' per-group machinery (actors' co-mentions and prominence, framing's
naming evidence).

Hand-written because numpy has no run-length primitives and pandas' ``groupby`` over millions of
rows with a Python-level join per group was the slow part of those steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def run_starts(*columns: np.ndarray) -> np.ndarray:
    """For rows sorted by ``columns``: whether each row starts a run of equal values (differs
    from the row before in some column).

    >>> run_starts(np.array([1, 1, 2, 2]), np.array([0, 1, 1, 1])).tolist()
    [True, True, True, False]
    """
    new = np.ones(len(columns[0]), dtype=bool)
    if len(new) > 1:
        new[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in columns])
    return new


def run_lengths(new: np.ndarray) -> np.ndarray:
    """Length of each run, from the run starts of :func:`run_starts`."""
    return np.diff(np.r_[np.flatnonzero(new), len(new)])


def run_ranks(new: np.ndarray) -> np.ndarray:
    """Rank of each row in its run, from the run starts of :func:`run_starts`."""
    starts = np.flatnonzero(new)
    return np.arange(len(new)) - np.repeat(starts, np.diff(np.r_[starts, len(new)]))


def join_runs(texts: Sequence[str] | np.ndarray, new: np.ndarray, sep: str,
              codes: np.ndarray | None = None) -> np.ndarray:
    """``sep``-joined texts of each run (``new``: run starts, see :func:`run_starts`), one per
    run, in order; the texts of the rows are ``texts[codes]`` (``texts`` itself without codes).

    A run of one row keeps its text; the runs of ``k`` rows are joined together, ``map`` of
    ``str.join`` over their first, second, ... texts zipped (several times faster than pandas'
    per-group ``agg(sep.join)`` or a comprehension over run boundaries) when there are at least
    ``k`` of them, else one slice per run (zipping ``k`` arrays of a few rows costs ``k`` numpy
    calls: the few runs of tens of thousands of rows, such as the plain uses of a common word,
    took 7 s of a 10,000-article framing run that way).

    >>> join_runs(["a", "b", "c"], np.array([True, False, True]), ";").tolist()
    ['a;b', 'c']
    """
    texts = np.asarray(texts, dtype=object)
    codes = np.arange(len(texts)) if codes is None else codes
    starts = np.flatnonzero(new)
    lengths = run_lengths(new)
    out = texts[codes[starts]]
    for size in np.unique(lengths[lengths > 1]).tolist():
        rows = np.flatnonzero(lengths == size)
        if len(rows) >= size:
            out[rows] = np.fromiter(map(sep.join, zip(*(texts[codes[starts[rows] + i]] for i in range(size)))),
                                    dtype=object, count=len(rows))
        else:
            for row, start in zip(rows.tolist(), starts[rows].tolist()):
                out[row] = sep.join(texts[codes[start : start + size]].tolist())
    return out

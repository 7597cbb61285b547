"""The stage store: deterministic Parquet, keyed stage outputs, writes in the background."""

import json

import pandas as pd
import pytest

from toolkit.store import StageStore, read_table


def tables(n: int) -> dict[str, pd.DataFrame]:
    return {"counts": pd.DataFrame({"doc_id": [f"d{i}" for i in range(n)], "n": list(range(n))})}


def test_background_writes_end_as_plain_writes(tmp_path):
    plain, later = StageStore(tmp_path / "plain"), StageStore(tmp_path / "later")
    plain.put("a", "k1", tables(3))
    plain.put("b", "k2", {"other": tables(2)["counts"]})
    later.put_later("a", "k1", tables(3))
    later.put_later("b", "k2", {"other": tables(2)["counts"]})
    later.flush()
    for name in ("_stages.json", "counts.parquet", "other.parquet"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "later" / name).read_bytes()
    assert json.loads((tmp_path / "later" / "_stages.json").read_text())["b"] == {"key": "k2", "tables": ["other"]}


def test_get_waits_for_a_pending_write_of_that_stage(tmp_path):
    store = StageStore(tmp_path)
    store.put_later("a", "k1", tables(50_000))
    got = store.get("a", "k1")
    assert got is not None and len(got["counts"]) == 50_000 and store.get("a", "other key") is None
    store.flush()
    assert read_table(tmp_path / "counts.parquet")["n"].iloc[-1] == 49_999


def test_flush_raises_what_a_background_write_met(tmp_path):
    store = StageStore(tmp_path)
    store.put_later("bad", "k", {"broken": pd.DataFrame({"x": [object()]})})
    with pytest.raises(ValueError, match="Conversion failed for column x"):
        store.flush()
    store.flush()  # nothing left pending
    assert not (tmp_path / "broken.parquet").exists() and not (tmp_path / "_stages.json").exists()


def test_a_handed_over_table_reads_back_as_its_parquet_file_does(tmp_path):
    import numpy as np

    from toolkit.store import arrow_table, read_handoff, write_handoff, write_table

    table = pd.DataFrame({
        "text": ["a", None, "ç€"], "count": np.array([1, 2, 3], dtype=np.int64), "share": [0.5, np.nan, 1.0],
        "flag": [True, False, True], "outlet": pd.Categorical(["x", "y", "x"]), "small": np.array([1, 2, 3], np.int32),
        "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]), "empty": [None, None, None],
    }, index=[5, 6, 7])
    write_table(table, tmp_path / "t.parquet")
    write_handoff(arrow_table(table), tmp_path / "t.arrow")
    handed = read_handoff(tmp_path / "t.arrow")
    pd.testing.assert_frame_equal(handed, read_table(tmp_path / "t.parquet"))
    assert handed.index.equals(pd.RangeIndex(3)) and handed["text"].tolist() == ["a", None, "ç€"]

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

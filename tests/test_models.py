"""Specification of toolkit.models: offline model loading, deterministic embeddings, the disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import models


class CountingModel:
    """A stand-in sentence model: 4-d vectors from character counts; records what it embedded."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("a") + 1, t.count("e"), 1.0] for t in texts], dtype=np.float32)

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]


def test_embed_rows_are_unit_float32_in_input_order():
    model = CountingModel()
    vectors = models.embed(["banana", "apple", "banana"], model=model)
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert model.embedded == ["banana", "apple"]  # the duplicate is embedded once


def test_cache_second_call_embeds_nothing_and_added_text_embeds_one(tmp_path):
    model = CountingModel()
    first = models.embed(["alpha", "beta", "gamma"], cache_dir=tmp_path, model=model, model_id="fake")
    assert model.embedded == ["alpha", "beta", "gamma"]
    again = models.embed(["gamma", "alpha", "beta"], cache_dir=tmp_path, model=model, model_id="fake")
    assert model.embedded == ["alpha", "beta", "gamma"]
    np.testing.assert_array_equal(again, first[[2, 0, 1]])
    models.embed(["alpha", "beta", "gamma", "delta"], cache_dir=tmp_path, model=model, model_id="fake")
    assert model.calls[-1] == ["delta"]
    assert len(model.embedded) == 4


def test_cache_is_keyed_by_model_id(tmp_path):
    model = CountingModel()
    models.embed(["alpha"], cache_dir=tmp_path, model=model, model_id="one")
    models.embed(["alpha"], cache_dir=tmp_path, model=model, model_id="two")
    assert model.embedded == ["alpha", "alpha"]
    assert models.text_key("alpha", "one") != models.text_key("alpha", "two")


def test_cache_compacts_many_shards_without_losing_vectors(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "MAX_SHARDS", 3)
    model = CountingModel()
    words = [f"word{i}" for i in range(6)]
    for word in words:
        models.embed([word], cache_dir=tmp_path, model=model, model_id="fake")
    shards = list(tmp_path.glob("*/*.parquet"))
    assert 1 <= len(shards) <= 3
    models.embed(words, cache_dir=tmp_path, model=model, model_id="fake")
    assert model.embedded == words


def test_custom_model_needs_model_id_to_cache(tmp_path):
    with pytest.raises(ValueError, match="model_id"):
        models.embed(["x"], cache_dir=tmp_path, model=CountingModel())


def test_empty_input_gives_empty_array():
    assert models.embed([], model=CountingModel()).shape[0] == 0


def test_fallback_embedder_is_deterministic_and_normalised():
    texts = ["Ceasefire talks resumed in Cairo.", "Gas prices rose again in Europe.",
             "Talks on a ceasefire stalled.", "European gas storage is full."]
    a = models.embed(texts, model=models.fallback_embedder(texts))
    b = models.embed(texts, model=models.fallback_embedder(texts))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    assert a.shape == (4, 3)  # n_components capped at n_texts - 1


def test_fallback_embedder_handles_a_single_text():
    pipe = models.fallback_embedder(["Only one paragraph here."])
    assert pipe.transform(["Only one paragraph here."]).shape[0] == 1


def test_packaged_model_loads_offline_and_embeds_deterministically(tmp_path):
    if not models.has_torch():
        pytest.skip("torch / sentence-transformers not installed")
    model = models.embedding_model()
    assert models.embedding_model() is model  # loaded once per process
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    texts = ["The ministers met in Brussels.", "Troops crossed the border at dawn."]
    cold = models.embed(texts, cache_dir=tmp_path)
    warm = models.embed(texts, cache_dir=tmp_path)
    assert cold.shape == (2, 384)
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_array_equal(cold, models.embed(texts))

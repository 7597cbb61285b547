"""Specification of toolkit.models: offline model loading, deterministic embeddings, the disk cache,
the int8 ONNX backend (exported once, reused, close to fp32, cached apart from it)."""

from __future__ import annotations

import os
import socket
import threading
import time

import numpy as np
import pytest

from toolkit import models

SENTENCES = ["The ministers met in Brussels on Tuesday to discuss the gas price cap.",
             "Troops crossed the border at dawn, according to local officials.",
             "The central bank raised interest rates for the third time this year.",
             "Fans queued overnight for tickets to the final.",
             "Ceasefire talks resumed in Cairo."]

MIN_COSINE = 0.97
"""Lowest fp32-vs-int8 cosine accepted per sentence: benchmarks/embed_bench.py measured a mean of
0.992 and a minimum of 0.97 over 2,000 real news paragraphs."""


def _no_network(*args, **kwargs):
    raise OSError("network access attempted during an offline model operation")


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory):
    """The int8 export made once for the session in a temporary model cache, with sockets blocked."""
    if not (models.has_torch() and models.has_onnxruntime()):
        pytest.skip("torch / onnxruntime not installed")
    root = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        with pytest.raises(OSError, match="network access"):
            socket.create_connection(("127.0.0.1", 9))
        path = models.onnx_model_file(cache_root=root)
        encoder = models.onnx_embedding_model(cache_root=str(root))
        vectors = encoder.encode(SENTENCES, normalize_embeddings=True)
    return {"root": root, "path": path, "mtime": path.stat().st_mtime_ns, "encoder": encoder, "vectors": vectors}


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
    assert models.embedding_model(str(models.default_model_path())) is model
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    texts = ["The ministers met in Brussels.", "Troops crossed the border at dawn."]
    cold = models.embed(texts, cache_dir=tmp_path, backend="torch")
    warm = models.embed(texts, cache_dir=tmp_path, backend="torch")
    assert cold.shape == (2, 384)
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_array_equal(cold, models.embed(texts, backend="torch"))


def test_onnx_export_lives_in_its_keyed_folder_and_is_reused(onnx_export, monkeypatch):
    root, path = onnx_export["root"], onnx_export["path"]
    assert path == models.onnx_export_dir(cache_root=root) / models.ONNX_FILE
    assert sorted(p.name for p in path.parent.iterdir()) == ["export.json", models.ONNX_FILE]
    assert not [p for p in (root / "onnx").iterdir() if p.name.startswith(".")]  # no staging left

    def no_second_export(*args, **kwargs):
        raise AssertionError("the export was made again")

    monkeypatch.setattr(models, "_export_int8", no_second_export)
    assert models.onnx_model_file(cache_root=root) == path
    assert path.stat().st_mtime_ns == onnx_export["mtime"]
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_export_folder_is_keyed_by_model_path_and_package_versions(tmp_path, monkeypatch):
    first = models.onnx_export_dir(tmp_path / "model-a", cache_root=tmp_path)
    assert first.parent == tmp_path / "onnx"
    assert first == models.onnx_export_dir(tmp_path / "model-a", cache_root=tmp_path)
    assert first != models.onnx_export_dir(tmp_path / "model-b", cache_root=tmp_path)
    monkeypatch.setattr(models.importlib.metadata, "version", lambda package: "0.0-other")
    assert first != models.onnx_export_dir(tmp_path / "model-a", cache_root=tmp_path)


def test_concurrent_first_use_exports_once(tmp_path, monkeypatch):
    calls = []

    def slow_export(model_path, out_dir):
        calls.append(model_path)
        time.sleep(0.3)
        (out_dir / models.ONNX_FILE).write_bytes(b"onnx")

    monkeypatch.setattr(models, "_export_int8", slow_export)
    results = []
    workers = [threading.Thread(target=lambda: results.append(
        models.onnx_model_file(tmp_path / "model", cache_root=tmp_path))) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(calls) == 1
    assert len(results) == 4 and len(set(results)) == 1
    assert results[0].read_bytes() == b"onnx"
    assert [p.name for p in (tmp_path / "onnx").iterdir() if p.is_dir()] == [results[0].parent.name]


def test_onnx_and_torch_vectors_have_the_same_shape_and_nearly_the_same_direction(onnx_export):
    int8 = onnx_export["vectors"]
    fp32 = models.embed(SENTENCES, backend="torch")
    assert int8.shape == fp32.shape == (len(SENTENCES), 384)
    assert int8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, rtol=1e-5)
    cosine = (int8 * fp32).sum(axis=1)
    assert cosine.min() > MIN_COSINE
    assert not np.array_equal(int8, fp32)  # really a different backend
    assert onnx_export["encoder"].encode([]).shape == (0, 384)


def test_onnx_vector_depends_on_its_text_only_not_on_its_batch_mates(onnx_export):
    encoder, vectors = onnx_export["encoder"], onnx_export["vectors"]
    np.testing.assert_array_equal(encoder.encode(SENTENCES[::-1], normalize_embeddings=True), vectors[::-1])
    np.testing.assert_array_equal(encoder.encode(SENTENCES[3:4], normalize_embeddings=True), vectors[3:4])


def test_embedding_cache_keys_differ_by_backend(onnx_export, tmp_path, monkeypatch):
    monkeypatch.setenv(models.MODEL_CACHE_ENV, str(onnx_export["root"]))
    assert models.backend_model_id("torch") == models.DEFAULT_MODEL_ID
    assert models.backend_model_id("onnx-int8") != models.backend_model_id("torch")
    assert models.text_key("x", models.backend_model_id("onnx-int8")) != models.text_key("x", models.backend_model_id("torch"))
    fp32 = models.embed(SENTENCES, cache_dir=tmp_path, backend="torch")
    int8 = models.embed(SENTENCES, cache_dir=tmp_path, backend="onnx-int8")
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2  # one cache folder per backend
    np.testing.assert_array_equal(models.embed(SENTENCES, cache_dir=tmp_path, backend="torch"), fp32)
    np.testing.assert_array_equal(models.embed(SENTENCES, cache_dir=tmp_path, backend="onnx-int8"), int8)
    np.testing.assert_allclose(int8, onnx_export["vectors"], atol=1e-6)


def test_small_jobs_embed_at_full_precision_unless_a_backend_is_named(monkeypatch):
    """int8 vectors change with the CPU's integer kernels; small corpora must not."""
    monkeypatch.delenv(models.BACKEND_ENV, raising=False)
    assert models.backend_for(0) == "torch"
    assert models.backend_for(models.PRECISE_BELOW - 1) == "torch"
    assert models.backend_for(models.PRECISE_BELOW) == models.resolve_backend()
    assert models.backend_for(10, "onnx-int8") == "onnx-int8"
    monkeypatch.setenv(models.BACKEND_ENV, "onnx-int8")
    assert models.backend_for(10) == "onnx-int8"


def test_backend_is_chosen_by_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(models.BACKEND_ENV, raising=False)
    expected_default = models.DEFAULT_BACKEND if models.has_onnxruntime() else "torch"
    assert models.resolve_backend() == expected_default
    monkeypatch.setenv(models.BACKEND_ENV, "torch")
    assert models.resolve_backend() == "torch"
    assert models.resolve_backend("torch") == "torch"
    with pytest.raises(ValueError, match="fp16"):
        models.resolve_backend("fp16")
    monkeypatch.setenv(models.BACKEND_ENV, "tpu")
    with pytest.raises(ValueError, match="tpu"):
        models.resolve_backend()
    with pytest.raises(ValueError, match="backend"):
        models.embed(["x"], model=CountingModel(), backend="torch")


def _embed_in_forked_child(backend: str, cache_root: str | None) -> str:
    """Embed SENTENCES in a child forked the way the pipeline forks ("ok", "hung" or the error)."""
    import multiprocessing as mp

    def child(send):
        try:
            models.after_fork()
            model = models.embedding_model() if backend == "torch" else models.onnx_embedding_model(cache_root=cache_root)
            model.encode(SENTENCES)
            send.send("ok")
        except Exception as exc:
            send.send(repr(exc))

    context = mp.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=child, args=(send,))
    process.start()
    answer = receive.recv() if receive.poll(120) else "hung"
    process.kill()
    process.join()
    return answer


def test_models_used_here_still_embed_in_a_forked_process(onnx_export):
    models.embedding_model().encode(SENTENCES)  # torch's thread pool and an ONNX session exist here
    assert _embed_in_forked_child("onnx", str(onnx_export["root"])) == "ok"
    assert _embed_in_forked_child("torch", None) == "ok"
    assert models.onnx_embedding_model(cache_root=str(onnx_export["root"])) is onnx_export["encoder"]

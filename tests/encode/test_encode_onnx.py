"""The onnx-int8 backend: export once, cache atomically, agree with PyTorch."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from encode_helpers import (
    assert_ranks_relevant_first,
    assert_unit_rows,
    cosine_rows,
    make_tiny_model,
)

from podsearch.encode import load_encoder
from podsearch.encode.onnx import CONFIG_FILE, FP32_MODEL_FILE, MODEL_FILE, OnnxEncoder

TEXTS = [
    "How to stay healthy over Christmas: a doctor on holiday dinners.",
    "Cómo mantenerse sano en Navidad.",
    "Baking sourdough bread with a master baker, episode 12.",
    "Schwarze Löcher: wie Astronomen sie fotografieren.",
    "",
]


def test_tiny_model_export_is_cached_and_agrees_with_torch(
    tmp_path: Path, isolated_cache: Path
) -> None:
    src = make_tiny_model(tmp_path / "tiny-bert")
    onnx_enc = load_encoder(str(src), backend="onnx-int8", max_seq_length=32)
    assert isinstance(onnx_enc, OnnxEncoder)
    (entry,) = (isolated_cache / "models").iterdir()
    assert entry.name.startswith("tiny-bert-") and entry.name.endswith("-onnx-int8")
    assert (entry / MODEL_FILE).is_file()
    assert not list(entry.glob("model_fp32*")) and not list(entry.glob("model_fused*"))
    cfg = json.loads((entry / CONFIG_FILE).read_text())
    assert cfg["pooling"] == "mean" and cfg["dim"] == 32
    assert [p.name for p in (isolated_cache / "models").iterdir()] == [entry.name]  # no temp left

    torch_enc = load_encoder(str(src), backend="torch", max_seq_length=32)
    docs = ["how to stay healthy over christmas", "sourdough bread baker", "black hole"]
    a, b = torch_enc.encode_documents(docs), onnx_enc.encode_documents(docs)
    assert_unit_rows(b, 32, 3)
    assert cosine_rows(a, b).min() > 0.97
    assert onnx_enc.encode_queries([]).shape == (0, 32)

    mtime = (entry / MODEL_FILE).stat().st_mtime
    again = load_encoder(str(src), backend="onnx-int8")  # reuses the cache: no re-export
    assert (entry / MODEL_FILE).stat().st_mtime == mtime
    np.testing.assert_allclose(again.encode_documents(docs), b, atol=1e-6)


# Dynamic int8 costs MiniLM more (2 tokens of an empty text); retrieval is unchanged
# (bench/results/encode_throughput.md). Measured on an AVX-512 VNNI host: me5-small worst
# 0.990 / mean 0.996, minilm worst 0.968 / mean 0.987. ONNX Runtime picks other int8 kernels
# on other CPUs (AVX2 without VNNI is less exact), so the floors sit well below those values;
# a broken export or wrong pooling lands far lower (cosine < 0.9).
@pytest.mark.integration
@pytest.mark.parametrize(
    ("alias", "worst", "mean"), [("me5-small", 0.97, 0.985), ("minilm", 0.93, 0.97)]
)
def test_onnx_int8_agrees_with_torch(alias: str, worst: float, mean: float) -> None:
    torch_enc = load_encoder(alias, backend="torch")
    onnx_enc = load_encoder(alias, backend="onnx-int8")
    assert onnx_enc.name == torch_enc.name == alias
    assert onnx_enc.dim == torch_enc.dim == 384
    for encode in ("encode_documents", "encode_queries"):
        a = getattr(torch_enc, encode)(TEXTS)
        b = getattr(onnx_enc, encode)(TEXTS)
        assert_unit_rows(b, 384, len(TEXTS))
        cos = cosine_rows(a, b)
        assert cos.min() > worst and cos.mean() > mean, (alias, encode, cos)
    assert_ranks_relevant_first(onnx_enc)


@pytest.mark.integration
def test_onnx_int8_loads_fast_from_the_cache() -> None:
    load_encoder("me5-small", backend="onnx-int8")  # export on first use
    t = time.perf_counter()
    enc = load_encoder("me5-small", backend="onnx-int8")
    assert time.perf_counter() - t < 30  # no re-export (that takes a minute or more)
    assert enc.encode_queries(["a query"]).shape == (1, 384)


def test_fp32_export_gives_the_torch_vectors(tmp_path: Path, isolated_cache: Path) -> None:
    """The default backend (onnx, fp32): its own cache entry, the same vectors as PyTorch."""
    src = make_tiny_model(tmp_path / "tiny-bert")
    enc = load_encoder(str(src), backend="onnx", max_seq_length=32)
    assert isinstance(enc, OnnxEncoder) and enc.backend == "onnx"
    (entry,) = (isolated_cache / "models").iterdir()
    assert entry.name.endswith("-onnx") and (entry / FP32_MODEL_FILE).is_file()
    assert not (entry / MODEL_FILE).exists()
    torch_enc = load_encoder(str(src), backend="torch", max_seq_length=32)
    docs = ["how to stay healthy over christmas", "sourdough bread baker", "black hole"]
    assert cosine_rows(torch_enc.encode_documents(docs), enc.encode_documents(docs)).min() > 0.9999
    int8 = load_encoder(str(src), backend="onnx-int8", max_seq_length=32)
    assert int8.backend == "onnx-int8"  # a second, separate cache entry
    assert len(list((isolated_cache / "models").iterdir())) == 2


def test_token_budget_batches_give_each_text_its_own_vector(
    tmp_path: Path, isolated_cache: Path
) -> None:
    """Length-bucketed batches: longest first, at most max_batch_tokens padded tokens (fewer
    long texts per batch), and the same vectors as encoding every text alone."""
    src = make_tiny_model(tmp_path / "tiny-bert")
    enc = load_encoder(str(src), backend="onnx", max_seq_length=32)
    assert isinstance(enc, OnnxEncoder)
    enc.max_batch_tokens = 64
    rng = np.random.default_rng(3)
    words = ["health", "sleep", "bread", "baker", "marathon", "coral", "black", "hole"]
    docs = [" ".join(rng.choice(words, size=int(rng.integers(1, 40)))) for _ in range(60)]
    items = [enc.passage_prefix + d for d in docs]
    plan = enc._plan([len(t) for t in enc._token_ids(items)], 16)
    assert sorted(np.concatenate(plan).tolist()) == list(range(60))
    lengths = [len(enc._full_tokenizer().encode(t).ids) for t in items]
    for idx in plan:
        longest = max(lengths[i] for i in idx)
        assert len(idx) == 1 or len(idx) * longest <= 64
        assert len(idx) <= 16
    assert lengths[plan[0][0]] == max(lengths) and len(plan[0]) < len(plan[-1])
    alone = np.concatenate([enc.encode_documents([d]) for d in docs])
    np.testing.assert_allclose(enc.encode_documents(docs, batch_size=16), alone, atol=1e-5)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_optimised_graph_is_saved_once_and_gives_identical_outputs(
    tmp_path: Path, isolated_cache: Path, backend: str
) -> None:
    """The first session saves its optimised graph; later ones load it (fast start) and give
    bit-identical outputs to a session optimised from the source model as before."""
    import onnxruntime as ort

    from podsearch.encode.onnx import open_session, optimized_dir

    src = make_tiny_model(tmp_path / "tiny-bert")
    enc = load_encoder(str(src), backend=backend, max_seq_length=32)
    assert isinstance(enc, OnnxEncoder)
    model = enc.model_dir / (FP32_MODEL_FILE if backend == "onnx" else MODEL_FILE)
    saved = optimized_dir(model)
    assert sorted(p.name for p in saved.iterdir()) == ["model.onnx", "weights.bin"]
    assert not [p for p in enc.model_dir.iterdir() if p.name.startswith(".")]  # no temp left
    mtime = (saved / "weights.bin").stat().st_mtime_ns

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 29, size=(3, 9)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[2, 6:] = 0
    feed = {"input_ids": ids, "attention_mask": mask}

    def outputs(reuse: bool, level: Any = None) -> np.ndarray:
        opts = ort.SessionOptions()
        session = open_session(model, opts, reuse_optimized=reuse)
        if level is not None:  # the path before the saved graph: optimised in memory
            opts = ort.SessionOptions()
            opts.graph_optimization_level = level
            session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return session.run(None, {k: feed[k] for k in names})[0]

    before = outputs(False, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    fast = outputs(True)
    np.testing.assert_array_equal(fast, before)
    np.testing.assert_array_equal(outputs(False), before)
    assert (saved / "weights.bin").stat().st_mtime_ns == mtime  # loaded, not written again

    docs = ["how to stay healthy over christmas", "sourdough bread baker", "black hole"]
    again = load_encoder(str(src), backend=backend, max_seq_length=32)
    np.testing.assert_array_equal(again.encode_documents(docs), enc.encode_documents(docs))


def test_a_damaged_optimised_graph_is_rebuilt(tmp_path: Path, isolated_cache: Path) -> None:
    from podsearch.encode.onnx import optimized_dir

    src = make_tiny_model(tmp_path / "tiny-bert")
    enc = load_encoder(str(src), backend="onnx", max_seq_length=32)
    want = enc.encode_queries(["black hole"])
    saved = optimized_dir(enc.model_dir / FP32_MODEL_FILE)
    (saved / "model.onnx").write_bytes(b"not a model")
    again = load_encoder(str(src), backend="onnx", max_seq_length=32)
    np.testing.assert_array_equal(again.encode_queries(["black hole"]), want)
    assert (saved / "model.onnx").read_bytes() != b"not a model"  # saved anew

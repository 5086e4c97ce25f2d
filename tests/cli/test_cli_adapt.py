"""querygen / train / eval / adapt commands: wiring and clear errors (fake encoder, no LLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run


@pytest.fixture
def index(tmp_path: Path, tiny_catalog: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    ix = tmp_path / "ix"
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))[0] == 0
    assert run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")[0] == 0
    return ix


def test_querygen_titles_only(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "pairs.jsonl"
    code, stdout, err = run(
        capsys, "querygen", "--index", str(index), "--out", str(out), "--generator", "none",
        "--filter-k", "3", "--json",
    )  # fmt: skip
    assert code == 0, err
    rep = json.loads(stdout)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert rep["pairs"] == len(lines) == rep["title_pairs"] and rep["raw"] == 0
    assert rep["title_pairs"] + rep["title_dropped"] == 8
    assert all(x["generator"] == "title" and x["rank"] <= 3 for x in lines)


def test_querygen_needs_an_index(tmp_path: Path, tiny_catalog: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ix = tmp_path / "raw"
    run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))
    code, _, err = run(
        capsys, "querygen", "--index", str(ix), "--out", str(tmp_path / "p.jsonl"), "-g", "none"
    )
    assert code != 0 and "podsearch index" in err and "Traceback" not in err
    assert not (tmp_path / "p.jsonl").exists()
    empty = tmp_path / "empty"
    code, _, err = run(capsys, "querygen", "--index", str(empty), "--out", str(tmp_path / "q"))
    assert code == 3 and "no index at" in err and not empty.exists()  # issue 14: never created


def test_eval_and_train_errors_are_one_line(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "eval", "--index", str(index), "--model", str(tmp_path / "nope"))
    assert code != 0 and "No model directory" in err and "Traceback" not in err
    code, _, err = run(capsys, "eval", "--index", str(index))
    assert code != 0 and "--model" in err
    code, _, err = run(
        capsys, "train", "--pairs", str(tmp_path / "none.jsonl"), "--index", str(index),
        "--out", str(tmp_path / "m"),
    )  # fmt: skip
    assert code != 0 and "podsearch querygen" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.train
@pytest.mark.integration
def test_adapt_end_to_end_titles_only(tmp_path: Path, tiny_catalog: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The whole chain on 8 episodes with minilm and title pairs (no LLM): every step runs,
    the model is usable by index/search, and a second run resumes instead of redoing."""
    out = tmp_path / "work"
    queries = tmp_path / "curated.jsonl"
    queries.write_text(
        '{"qid": "c1", "query": "wild yeast bread", "episode_id": "e4", "corpus": "tiny"}\n'
        '{"qid": "c2", "query": "photos of black holes", "episode_id": "e8", "corpus": "tiny"}\n'
    )
    args = [
        "adapt", "--catalog", str(tiny_catalog), "--out", str(out), "--base", "minilm",
        "--generator", "none", "--batch-size", "4", "--split", "0.5,0.25,0.25",
        "--filter-k", "8", "--queries", f"{queries}:tiny", "--quiet", "--keep-tuned",
    ]  # fmt: skip
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    for f in ("pairs.jsonl", "model/podsearch-card.json", "model/splits/test.jsonl",
              "report/report.html", "report/report.md", "report/metrics.png",
              "adapt-times.json"):  # fmt: skip
        assert (out / f).exists(), f
    report = json.loads((out / "report" / "report.json").read_text())
    assert report["n_queries"] == {"curated queries (curated, tiny)": 2}
    assert set(report["sets"]["curated queries (curated, tiny)"]) == {
        "base (dense)", "fine-tuned (dense)", "BM25", "hybrid (base)", "hybrid (fine-tuned)",
    }  # fmt: skip
    card = json.loads((out / "model" / "podsearch-card.json").read_text())
    assert card["base_model"] == "minilm" and card["steps"] >= 1
    assert "## podsearch fine-tuning" in (out / "model" / "README.md").read_text()
    code, stdout, err = run(
        capsys, "search", "sourdough", "--index", str(out / "index-tuned"), "--json"
    )
    assert code == 0, err
    assert json.loads(stdout)["hits"][0]["episode_id"] == "e4"
    mtime = (out / "model" / "podsearch-card.json").stat().st_mtime
    assert run(capsys, *args)[0] == 0
    assert (out / "model" / "podsearch-card.json").stat().st_mtime == mtime


def test_eval_recommend_wiring(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # 8 episodes are too few for synthetic listeners: a clear one-line error, no report.
    code, _, err = run(
        capsys, "eval", "--recommend", "--index", str(index), "--out", str(tmp_path / "r")
    )
    assert code != 0 and "at least 20" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "recommend.md").exists()


@pytest.mark.train
@pytest.mark.integration
def test_adapt_keeps_the_base_when_the_tuned_model_loses(  # type: ignore[no-untyped-def]
    tmp_path: Path, tiny_catalog: Path, capsys, monkeypatch
) -> None:
    """Training that wrecks the model (weights replaced by noise after fine-tuning): the
    held-out check sees the tuned model lose, adapt says it kept the base, builds no tuned
    index, and the card records why."""
    import torch

    import podsearch.train.pipeline as pipeline

    real = pipeline.finetune

    def wrecking_finetune(*a, **kw):  # type: ignore[no-untyped-def]
        rep = real(*a, **kw)
        torch.manual_seed(0)
        with torch.no_grad():
            for p in kw["model"].parameters():
                p.copy_(torch.randn_like(p))
        return rep

    monkeypatch.setattr(pipeline, "finetune", wrecking_finetune)
    out = tmp_path / "work"
    queries = tmp_path / "curated.jsonl"
    queries.write_text(
        '{"qid": "c1", "query": "wild yeast bread", "episode_id": "e4", "corpus": "tiny"}\n'
        '{"qid": "c2", "query": "photos of black holes", "episode_id": "e8", "corpus": "tiny"}\n'
    )
    args = [
        "adapt", "--catalog", str(tiny_catalog), "--out", str(out), "--base", "minilm",
        "--generator", "none", "--batch-size", "4", "--split", "0.5,0.25,0.25",
        "--filter-k", "8", "--queries", f"{queries}:tiny", "--quiet",
    ]  # fmt: skip
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    card = json.loads((out / "model" / "podsearch-card.json").read_text())
    check = card["heldout_check"]
    assert check["curated_queries"] == 2 and check["queries"] >= 2
    assert check["groups"]["curated"] == {"queries": 2, "counted": False}  # too few to guard
    assert check["tuned_mrr@30"] < check["base_mrr@30"], check
    assert card["kept"] == "base" and not check["forced"]
    assert "kept the base model minilm" in " ".join(stdout.split())
    assert not (out / "index-tuned").exists() and not (out / "report").exists()

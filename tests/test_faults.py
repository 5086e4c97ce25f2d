"""kill -9 in the middle of every long job, then restart it.

Each test runs a real job in a child process (the CLI, or for query generation and fine-tuning a
small script calling the same functions the CLI does), kills it with SIGKILL at a point where it
has written part of its work, and then checks what an operator would: the index it left still
serves exactly what it served before, ``PRAGMA integrity_check`` is ``ok``, the job run again
finishes, and the row accounting shows nothing lost or doubled.

Fast (fake encoder, no model) except fine-tuning, which loads the packaged MiniLM (``slow``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podsearch.engine import Podsearch

SRC = str(Path(__file__).resolve().parents[1] / "src")
QUERIES = ("sourdough bread baking", "Schlaf Gesundheit", "marathon running plan")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "podsearch.cli", *args],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _kill_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 120
) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; fails if it exits or times out first."""
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the job ended (rc {proc.returncode}) before the kill point: {out}{err}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail("the job never reached the kill point")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _sql(index: Path, query: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{index / 'catalog.sqlite'}?mode=ro", uri=True, timeout=0.05)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def _integrity(index: Path) -> str:
    return str(_sql(index, "PRAGMA integrity_check")[0][0])


def _writer_in_transaction(index: Path) -> bool:
    """True while another connection holds the catalog's write lock (a write transaction)."""
    con = sqlite3.connect(index / "catalog.sqlite", timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as e:
        return "locked" in str(e)
    finally:
        con.close()


def _snapshot(index: Path) -> dict[str, object]:
    """What a fresh reader of the index answers: counts and the hits of a few queries."""
    with Podsearch(index, model="fake", create=False) as ps:
        st = ps.stats()
        hits = {
            f"{mode}:{q}": [h.episode_id for h in ps.search(q, k=5, mode=mode).hits]
            for q in QUERIES
            for mode in ("dense", "keyword", "hybrid")
        }
        return {
            "episodes": st["episodes"],
            "indexed": st["indexed"],
            "vectors": len(ps.vector_index()),
            "keyword_docs": len(ps.keyword_index()),
            "hits": hits,
        }


def _synthetic_jsonl(path: Path, n: int, prefix: str = "big") -> Path:
    """``n`` distinct episodes in 50 shows (words vary so that keyword and dense differ)."""
    words = ["river", "castle", "guitar", "comet", "harvest", "winter", "market", "engine"]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            w = words[i % len(words)]
            row = {
                "episode_id": f"{prefix}{i:06d}",
                "show_id": f"{prefix}-show{i % 50}",
                "show_title": f"Synthetic show {i % 50}",
                "title": f"Episode {i} about the {w} number {i * 7 % 1000}",
                "description": f"A talk about {w}s, item {i}, with guests from town {i % 97}.",
                "language": "en",
                "pub_date": f"20{10 + i % 10}-0{1 + i % 9}-1{i % 9}",
            }
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def base_index(tmp_path: Path, tiny_catalog: Path) -> Path:
    index = tmp_path / "index"
    _cli("ingest", "--index", str(index), "--catalog", str(tiny_catalog))
    _cli("index", "--index", str(index), "--model", "fake", "--quiet")
    return index


def test_kill_during_ingest_keeps_the_index_and_a_rerun_imports_every_row(
    base_index: Path, tmp_path: Path
) -> None:
    before = _snapshot(base_index)
    n = 8_000
    catalog = _synthetic_jsonl(tmp_path / "big.jsonl", n)
    proc = _start(["-m", "podsearch.cli", "ingest", "-i", str(base_index), "-c", str(catalog)])
    # The ingest writes every row in one transaction: kill while it holds the write lock (for
    # two polls in a row: opening the store also takes it, for a few milliseconds).
    held = [0]

    def in_ingest_transaction() -> bool:
        held[0] = held[0] + 1 if _writer_in_transaction(base_index) else 0
        time.sleep(0.01)
        return held[0] >= 2

    _kill_when(proc, in_ingest_transaction)
    assert _integrity(base_index) == "ok"
    # The transaction died with the process: nothing half-imported, the index serves as before.
    assert _snapshot(base_index) == before
    report = json.loads(
        _cli("ingest", "-i", str(base_index), "-c", str(catalog), "--json").splitlines()[-1]
    )
    assert report["read"] == n and report["imported"] == n
    assert report["updated"] == report["unchanged"] == 0 and report["skipped"] == 0
    _cli("index", "--index", str(base_index), "--quiet")
    after = _snapshot(base_index)
    assert after["episodes"] == after["indexed"] == after["vectors"] == after["keyword_docs"]
    assert after["episodes"] == before["episodes"] + n  # type: ignore[operator]
    assert _integrity(base_index) == "ok"


def test_kill_during_index_build_serves_the_old_index_and_resumes(
    base_index: Path, tmp_path: Path
) -> None:
    n = 7_000  # four commit chunks of 2,048
    catalog = _synthetic_jsonl(tmp_path / "more.jsonl", n)
    _cli("ingest", "-i", str(base_index), "-c", str(catalog))
    before = _snapshot(base_index)
    assert before["indexed"] == 8 and before["episodes"] == 8 + n
    proc = _start(["-m", "podsearch.cli", "index", "-i", str(base_index), "--quiet"])

    def one_chunk_committed() -> bool:
        try:
            return int(_sql(base_index, "SELECT count(*) FROM episodes "
                                        "WHERE indexed_hash IS NOT NULL")[0][0]) > 8  # fmt: skip
        except sqlite3.OperationalError:  # busy: the writer is committing
            return False

    _kill_when(proc, one_chunk_committed)
    assert _integrity(base_index) == "ok"
    mid = _snapshot(base_index)
    done_before_kill = int(mid["indexed"]) - 8  # type: ignore[call-overload]
    assert 0 < done_before_kill < n
    # Everything committed before the kill is served: the old episodes exactly as before.
    assert mid["episodes"] == before["episodes"]
    hits: dict[str, list[str]] = mid["hits"]  # type: ignore[assignment]
    was: dict[str, list[str]] = before["hits"]  # type: ignore[assignment]
    for q in QUERIES:
        # Dense scores of old episodes do not change: they keep their order among the hits.
        old = [i for i in hits[f"dense:{q}"] if not i.startswith("big")]
        assert old == was[f"dense:{q}"][: len(old)]
        assert len(hits[f"hybrid:{q}"]) == 5
    assert hits["keyword:sourdough bread baking"] == was["keyword:sourdough bread baking"]
    # A vector or keyword document may exist for a chunk not yet marked indexed (killed
    # between the index commit and the catalog's); never fewer than what the catalog says.
    assert int(mid["vectors"]) >= int(mid["indexed"])  # type: ignore[call-overload]
    assert int(mid["keyword_docs"]) >= int(mid["indexed"])  # type: ignore[call-overload]
    report = json.loads(_cli("index", "-i", str(base_index), "--json", "--quiet").splitlines()[-1])
    # The rerun encodes only what was not committed, and ends with every episode once.
    assert report["encoded"] == n - done_before_kill and not report["rebuilt"]
    after = _snapshot(base_index)
    assert after["episodes"] == after["indexed"] == after["vectors"] == after["keyword_docs"]
    assert after["episodes"] == 8 + n
    assert after["hits"]["dense:sourdough bread baking"][0] == "e4"  # type: ignore[index]
    assert _integrity(base_index) == "ok"


QUERYGEN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from podsearch.engine import Podsearch
    from podsearch.querygen.pipeline import generate_for_index

    class SlowWords:
        '''Queries made of each episode's description words; ``delay`` s per batch.'''
        name = "words"
        def __init__(self, delay):
            self.delay = delay
        def generate(self, episodes, n, *, seed):
            time.sleep(self.delay)
            out = []
            for e in episodes:
                w = e.description.lower().rstrip(".").replace(",", "").split()
                out.append([" ".join(w[i : i + 5]) for i in range(n)])
            return out

    index, out, delay = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    with Podsearch(index, model="fake", create=False) as ps:
        r = generate_for_index(ps, out, generator=SlowWords(delay), per_episode=2, titles=True,
                               filter_k=None, seed=0, batch_size=16)
    print(r.pairs, r.resumed)
    """
)


def test_kill_during_querygen_resumes_without_losing_or_doubling_pairs(
    base_index: Path, tmp_path: Path
) -> None:
    catalog = _synthetic_jsonl(tmp_path / "qg.jsonl", 400, prefix="qg")
    _cli("ingest", "-i", str(base_index), "-c", str(catalog))
    _cli("index", "-i", str(base_index), "--quiet")
    before = _snapshot(base_index)
    script = tmp_path / "querygen_job.py"
    script.write_text(QUERYGEN_SCRIPT)
    # The same job uninterrupted, for reference.
    ref = tmp_path / "ref.jsonl"
    done = subprocess.run([sys.executable, str(script), str(base_index), str(ref), "0"],
                          env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "pairs.jsonl"
    proc = _start([str(script), str(base_index), str(out), "0.05"])
    done_file = out.with_name(out.name + ".done")

    def some_batches_done() -> bool:
        return done_file.exists() and len(done_file.read_text().splitlines()) >= 64

    _kill_when(proc, some_batches_done)
    assert not out.exists()  # only the finished file is renamed into place
    killed_after = len(done_file.read_text().splitlines())
    done = subprocess.run([sys.executable, str(script), str(base_index), str(out), "0"],
                          env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "True"  # it resumed rather than starting over
    got = [json.loads(x) for x in out.read_text().splitlines()]
    want = [json.loads(x) for x in ref.read_text().splitlines()]
    key = lambda p: (p["episode_id"], p["query"])  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, want))  # none lost, none twice
    assert len(got) == len(set(map(key, got)))
    assert 0 < killed_after < 408
    assert _snapshot(base_index) == before  # query generation only reads the index
    assert _integrity(base_index) == "ok"


FINETUNE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from podsearch.models import Episode
    from podsearch.querygen.base import Pair
    from podsearch.train.finetune import TrainSettings, finetune

    words = ["sourdough", "marathon", "coral", "bitcoin", "insomnia", "jazz", "chess", "tomato"]
    eps, pairs = {}, []
    for i, w in enumerate(words):
        for j in range(8):
            eid = f"{w}-{j}"
            eps[eid] = Episode(eid, f"s{i}", f"Episode {j}", f"all about {w}, part {j}. zq{w}{j}")
            pairs.append(Pair(f"zq{w}{j} {w}", eid, "test"))
    out, epochs = Path(sys.argv[1]), float(sys.argv[2])
    settings = TrainSettings(base="minilm", batch_size=8, epochs=epochs, max_seq_length=32)
    rep = finetune(pairs, eps, out, settings)
    print(rep.steps)
    """
)


@pytest.mark.slow
@pytest.mark.train
@pytest.mark.integration
def test_kill_during_finetune_leaves_no_half_model_and_a_rerun_finishes(
    base_index: Path, tmp_path: Path
) -> None:
    before = _snapshot(base_index)
    script = tmp_path / "finetune_job.py"
    script.write_text(FINETUNE_SCRIPT)
    models = tmp_path / "models"
    out = models / "tuned"
    proc = _start([str(script), str(out), "200"])  # far more steps than it gets to run

    def training() -> bool:  # the scratch directory is made once the model is loaded
        if not any(models.glob(".tuned.tmp-*")):
            return False
        time.sleep(3.0)  # some training steps
        return True

    _kill_when(proc, training, timeout=240)
    assert not out.exists()  # no half-written model where a user would load it from
    done = subprocess.run([sys.executable, str(script), str(out), "1"],
                          env=_env(), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == 8  # 64 pairs / batch 8, one epoch
    from podsearch.encode import load_encoder

    vec = load_encoder(str(out), backend="torch").encode_queries(["zqjazz3 jazz"])
    assert vec.shape == (1, 384)
    # The killed run's scratch directory is gone: a rerun cleans up after a crash.
    assert sorted(p.name for p in models.iterdir()) == ["tuned"]
    assert _snapshot(base_index) == before
    assert _integrity(base_index) == "ok"

"""Indexing runs measured from outside: peak RSS, CPU-ms per episode and episodes/s of one
``podsearch index`` process (plus, for distributed builds, the Ray processes it starts).

Each run indexes a copy of the four-corpora catalog (var/bench/index-onnx/catalog.sqlite, as
ingested by var/bench/build-onnx.sh) reset to "ingested, not indexed", optionally cut to the
first N episodes of a fixed shuffle. Stages cache their result, so a report can be made from
runs taken under the heavy lock one at a time:

    flock /work/heavy.lock python bench/index_runs.py run --name base --src OLD/src -n 5000
    flock /work/heavy.lock python bench/index_runs.py run --name new -n 5000
    python bench/index_runs.py report --out index_memory --runs base new -n 5000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, load_snapshot, machine_facts, now_iso  # noqa: E402

SOURCE = Path(os.environ.get("PODSEARCH_BENCH_CATALOG", "/work/main/var/bench/index-onnx"))
WORK = REPO / "var" / "index-runs"


def make_catalog(dest: Path, n: int | None) -> int:
    """A copy of the ingested catalog with nothing indexed (first ``n`` of a fixed shuffle)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    src = sqlite3.connect(f"file:{SOURCE / 'catalog.sqlite'}?mode=ro", uri=True)
    db = sqlite3.connect(dest / "catalog.sqlite")
    src.backup(db)
    src.close()
    db.execute("DELETE FROM meta WHERE key != 'schema_version'")
    db.execute("DELETE FROM hubness")
    db.execute("DELETE FROM tombstones")
    if n:
        db.execute(
            "DELETE FROM episodes WHERE rowid NOT IN "
            "(SELECT rowid FROM episodes ORDER BY (rowid * 7919) % 100003 LIMIT ?)",
            (n,),
        )
    db.execute("UPDATE episodes SET indexed_hash = NULL")
    db.commit()
    count = int(db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])
    db.execute("VACUUM")
    db.close()
    return count


class TreeSampler:
    """Peak summed RSS and total CPU of a process and all its descendants (Ray starts a
    raylet, a GCS and workers beside the driver)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_tree = self.peak_root = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                total += rss
                if p.pid == self.root.pid:
                    self.peak_root = max(self.peak_root, rss)
                self.cpu[p.pid] = t.user + t.system
            self.peak_tree = max(self.peak_tree, total)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def run(args: argparse.Namespace) -> None:
    tag = f"{args.name}-{args.episodes or 'all'}"
    index = WORK / tag
    n = make_catalog(index, args.episodes)
    src = Path(args.src).resolve() if args.src else REPO / "src"
    cmd = [sys.executable, "-m", "podsearch.cli", "index", "-i", str(index), "--json", "-q",
           "--backend", "onnx", *args.extra]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    sampler.stop()
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"{cmd} failed ({status}): {out}")
    report = json.loads(out.strip().splitlines()[-1])
    driver_cpu = ru.ru_utime + ru.ru_stime
    others = sum(c for pid, c in sampler.cpu.items() if pid != proc.pid)
    result = {
        "name": args.name,
        "episodes": n,
        "command": " ".join(cmd),
        "src": str(src),
        "date": now_iso(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(wall, 1),
        "episodes_per_s_wall": round(n / wall, 2),
        "episodes_per_s_encode": report["episodes_per_second"],
        "cpu_s_driver": round(driver_cpu, 1),
        "cpu_s_other_processes": round(others, 1),
        "cpu_ms_per_episode": round(1000 * (driver_cpu + others) / n, 1),
        "peak_rss_mib_driver": round(ru.ru_maxrss / 1024, 1),
        "peak_rss_mib_all_processes": round(sampler.peak_tree / 2**20, 1),
        "report": report,
    }
    (WORK / f"{tag}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def vectors(index: Path) -> dict[str, np.ndarray]:
    from podsearch import Podsearch

    ps = Podsearch(index, create=False)
    try:
        pairs = ps.vector_index().iter_vectors()
        return {i: v for ids, vecs in pairs for i, v in zip(ids, vecs, strict=True)}
    finally:
        ps.close()


def report(args: argparse.Namespace) -> None:
    tag = args.episodes or "all"
    runs = [json.loads((WORK / f"{r}-{tag}.json").read_text()) for r in args.runs]
    base = runs[0]
    ref = vectors(WORK / f"{base['name']}-{tag}")
    for r in runs:
        r["ratio_to_first"] = {
            k: round(r[k] / base[k], 3) if base[k] else None
            for k in ("peak_rss_mib_driver", "peak_rss_mib_all_processes",
                      "cpu_ms_per_episode", "episodes_per_s_wall")
        }  # fmt: skip
        got = vectors(WORK / f"{r['name']}-{tag}")
        common = sorted(set(ref) & set(got))
        cos = np.array([float(ref[i] @ got[i]) for i in common])
        diff = max((float(np.abs(ref[i] - got[i]).max()) for i in common), default=0.0)
        r["vectors_vs_first"] = {
            "same_ids": set(ref) == set(got),
            "min_cosine": round(float(cos.min()), 7) if len(cos) else None,
            "max_abs_diff": diff,
        }
    doc = {
        "command": "bench/index_runs.py " + " ".join(sys.argv[1:]),
        "date": now_iso(),
        "machine": machine_facts(["onnxruntime", "numpy", "faiss-cpu", "tantivy", "ray"]),
        "load_at_report": load_snapshot(),
        "runs": runs,
    }
    out = REPO / "bench" / "results" / args.out
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2))
    cols = ("name", "episodes", "wall_s", "episodes_per_s_wall", "episodes_per_s_encode",
            "cpu_ms_per_episode", "peak_rss_mib_driver", "peak_rss_mib_all_processes")  # fmt: skip
    lines = [f"# {args.title}", "", f"Command: `{doc['command']}` (runs: `run` stages below).",
             f"Date {doc['date']}.", "", "| " + " | ".join(cols) + " | load (1 min) before/after |",
             "|" + "---|" * (len(cols) + 1)]  # fmt: skip
    for r in runs:
        lines.append("| " + " | ".join(str(r[c]) for c in cols)
                     + f" | {r['load_before'][0]} / {r['load_after'][0]} |")  # fmt: skip
    lines += ["", "Ratios to the first run and vectors compared with it:", ""]
    for r in runs:
        lines.append(f"- {r['name']}: {r['ratio_to_first']}; {r['vectors_vs_first']}; "
                     f"`{r['command']}`")  # fmt: skip
    if args.notes:
        lines += ["", Path(args.notes).read_text(encoding="utf-8").rstrip()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--src", help="a src/ folder to run (default: this checkout's)")
    r.add_argument("-n", "--episodes", type=int, default=0, help="0: all")
    r.add_argument("extra", nargs="*", help="more `podsearch index` options (after --)")
    p = sub.add_parser("report")
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="Indexing runs")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("-n", "--episodes", type=int, default=0)
    p.add_argument("--notes", help="a Markdown file appended to the report (the analysis)")
    args = ap.parse_args()
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()

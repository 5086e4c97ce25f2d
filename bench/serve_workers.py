"""One server process (searches answered from its thread pool) against several worker
processes: which serves concurrent searches better on this machine?

For each server layout and each number of concurrent clients, a fresh ``podsearch serve``
(so the query cache starts empty) answers every distinct benchmark query once (the TREC
Podcasts topics, the curated queries and the hand-written ones), sent by C asyncio clients
over httpx on 127.0.0.1: throughput, latency percentiles, errors, server memory, load.

    flock /work/heavy.lock env PYTHONPATH=src HF_HUB_OFFLINE=1 .venv/bin/python \\
        bench/serve_workers.py --index var/bench-index

Writes bench/results/serve_workers.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO,
    benchmark_queries,
    load_snapshot,
    log,
    machine_facts,
    now_iso,
)

# (label, workers, encoder threads per process; None: every CPU)
LAYOUTS: tuple[tuple[str, int, int | None], ...] = (
    ("1 process, encoder on all cores", 1, None),
    ("2 workers, 1 encoder thread each", 2, 1),
    ("2 workers, encoder on all cores each", 2, None),
)
CLIENTS = (1, 8, 32)


def all_queries() -> list[str]:
    qs, _ = benchmark_queries(10_000)
    curated = REPO / "eval" / "queries" / "curated.jsonl"
    seen = dict.fromkeys(qs)
    for line in curated.read_text(encoding="utf-8").splitlines():
        if line.strip():
            seen.setdefault(json.loads(line)["query"], None)
    return list(seen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(index: Path, workers: int, threads: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    env.pop("PODSEARCH_THREADS", None)
    if threads is not None:
        env["PODSEARCH_THREADS"] = str(threads)
    cmd = [sys.executable, "-c", "from podsearch.cli import main; main()", "serve",
           "--index", str(index), "--port", str(port), "--workers", str(workers)]  # fmt: skip
    # The access log (stderr) goes to a file: a pipe nobody reads would stall the server.
    fd, errlog = tempfile.mkstemp(prefix="serve-workers-", suffix=".log")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=fd)
    os.close(fd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    ready = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(Path(errlog).read_text(errors="replace")[-3000:])
        try:
            # Every worker must have loaded its model: ask until `workers` answers came fast.
            r = httpx.get(f"{url}/api/search", params={"q": "warm up", "k": 1}, timeout=60)
            if r.status_code == 200:
                ready += 1
                if ready >= 4 * workers:
                    return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not start")


def tree_rss(proc: subprocess.Popen) -> int:
    p = psutil.Process(proc.pid)
    return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)])


async def drive(url: str, queries: list[str], clients: int) -> dict[str, Any]:
    todo: asyncio.Queue[str] = asyncio.Queue()
    for q in queries:
        todo.put_nowait(q)
    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:

        async def client() -> None:
            nonlocal errors
            while True:
                try:
                    q = todo.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                try:
                    r = await http.get("/api/search", params={"q": q, "k": 10})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - t0
    a = np.asarray(lat)
    return {
        "clients": clients,
        "requests": len(lat),
        "errors": errors,
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p90_ms": round(float(np.percentile(a, 90)), 1),
        "p99_ms": round(float(np.percentile(a, 99)), 1),
        "max_ms": round(float(a.max()), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=REPO / "var" / "bench-index")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve_workers")
    ap.add_argument(
        "--reverse",
        action="store_true",
        help="layouts in reverse order (a second pass, to see "
        "how much the order and the neighbours' load moved the figures)",
    )
    args = ap.parse_args()
    queries = all_queries()
    log(f"{len(queries)} distinct queries")
    runs = []
    for label, workers, threads in reversed(LAYOUTS) if args.reverse else LAYOUTS:
        for clients in CLIENTS:
            before = os.getloadavg()[0]
            proc, url = start_server(args.index, workers, threads)
            try:
                result = asyncio.run(drive(url, queries, clients))
                result["server_rss_mib"] = round(tree_rss(proc) / 2**20)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            result.update(layout=label, workers=workers, threads=threads)
            result["load_1min_before"] = round(before, 2)
            result["load_1min_after"] = round(os.getloadavg()[0], 2)
            log(json.dumps(result))
            runs.append(result)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    report = {
        "command": " ".join(sys.argv),
        "date": now_iso(),
        "commit": commit,
        "index": str(args.index),
        "queries": len(queries),
        "machine": machine_facts(["onnxruntime", "uvicorn", "fastapi"]),
        "load_after": load_snapshot(),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# One server process or several workers (`bench/serve_workers.py`)",
        "",
        f"{report['date']}, commit {commit}, {len(queries)} distinct queries (each once per run,"
        f" fresh server per run), `GET /api/search?k=10` hybrid over `{args.index.name}`.",
        "",
        "| layout | clients | req/s | p50 ms | p90 ms | p99 ms | errors | RSS MiB "
        "| load before/after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['layout']} | {r['clients']} | {r['throughput_rps']} | {r['p50_ms']} | "
            f"{r['p90_ms']} | {r['p99_ms']} | {r['errors']} | {r['server_rss_mib']} | "
            f"{r['load_1min_before']} / {r['load_1min_after']} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    log(f"wrote {args.out}.json/.md")


if __name__ == "__main__":
    main()

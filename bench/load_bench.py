"""Load through the HTTP server: concurrent clients, throughput, latency percentiles, errors.

``podsearch serve`` runs on 127.0.0.1 over a copy of the four-corpora index; a load generator
in a separate process (a bounded asyncio httpx script: N clients, each sends its next request
when the previous one is answered) sends distinct real queries, cycling the modes hybrid,
dense and keyword. No query text repeats within a phase and the server is restarted for every
phase, so the server's query-vector cache never hides encoding: the TREC Podcasts topics and
descriptions, the curated and benchmark queries come first, then (when more are needed) real
episode titles from the catalog, as known-item queries.

Phases: 1, 4, 8 and 32 clients x ``--duration`` s each; then a write phase in which 8 clients
search while ``podsearch ingest`` adds the Spotify sample (750 episodes, ids ``live:...``) to
the served index and ``podsearch index`` encodes them. Every response is checked: status 200,
exactly k hits, each hit whole (id, title, show); after the write phase every ``live:`` hit seen
is compared field by field with the catalog row the server returns for it.

    flock /work/heavy.lock .venv/bin/python bench/load_bench.py --duration 60

Per-phase results are cached in ``--work`` (rerun with ``--phases`` to redo some).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EXTRA_QUERIES, REPO, SHARED_DATA, load_snapshot, machine_facts  # noqa: E402

MODES = ("hybrid", "dense", "keyword")
K = 10
WRITE_CATALOG = SHARED_DATA / "spotify-podcasts-metadata-sample" / "metadata.tsv"
WRITE_PREFIX = "live:"
POOL_NAMES = {
    "trec_query": "TREC Podcasts topic queries",
    "curated": "curated queries (eval/queries/curated.jsonl)",
    "bench_extra": "benchmark queries (bench/common.py)",
    "trec_description": "TREC topic descriptions",
    "episode_title": "episode titles (shuffled, seed 0)",
}


# -- the query pool ---------------------------------------------------------------------
def trec_texts(folder: Path) -> tuple[list[str], list[str]]:
    import xml.etree.ElementTree as ET

    queries: list[str] = []
    descriptions: list[str] = []
    for xml in sorted(folder.glob("*topics*.xml")):
        for topic in ET.parse(xml).getroot().iter("topic"):
            queries.append((topic.findtext("query") or "").strip())
            descriptions.append((topic.findtext("description") or "").strip())
    return queries, descriptions


def query_pool(index: Path, curated: Path, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    """Distinct real query texts: human-written ones first, then shuffled episode titles."""
    trec_q, trec_d = trec_texts(SHARED_DATA / "trec-podcasts")
    cur = [json.loads(x)["query"] for x in curated.read_text().splitlines() if x.strip()]
    kinds: dict[str, list[str]] = {
        "trec_query": trec_q,
        "curated": cur,
        "bench_extra": list(EXTRA_QUERIES),
        "trec_description": trec_d,
    }
    con = sqlite3.connect(f"file:{index / 'catalog.sqlite'}?mode=ro", uri=True)
    titles = [t for (t,) in con.execute("SELECT title FROM episodes") if t and len(t) >= 8]
    con.close()
    random.Random(seed).shuffle(titles)
    kinds["episode_title"] = titles
    pool: dict[str, None] = {}
    counts: dict[str, int] = {}
    for kind, texts in kinds.items():
        before = len(pool)
        for t in texts:
            t = " ".join(t.split())[:300]
            if t:
                pool.setdefault(t, None)
        counts[kind] = len(pool) - before
    return list(pool), counts


def write_titles() -> list[str]:
    with open(WRITE_CATALOG, encoding="utf-8", newline="") as f:
        return [r["episode_name"] for r in csv.DictReader(f, delimiter="\t") if r["episode_name"]]


# -- the load generator (a separate process) ----------------------------------------------
def hit_problem(hit: dict[str, Any]) -> str | None:
    for field in ("episode_id", "title", "show_id"):
        if not hit.get(field):
            return f"hit without {field}: {hit.get('episode_id')}"
    return None


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    queries = json.loads(Path(args.pool).read_text())
    nxt = 0
    stop_at = time.monotonic() + args.max_duration
    stop_file = Path(args.stop_file) if args.stop_file else None
    records: list[tuple[float, float, int, str, int]] = []  # start, ms, status, mode, hits
    problems: list[str] = []
    live_hits: dict[str, dict[str, Any]] = {}
    t_origin = time.time()

    def stopping() -> bool:
        if time.monotonic() >= stop_at:
            return True
        return stop_file is not None and stop_file.exists()

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal nxt
        while not stopping():
            n = nxt
            nxt += 1
            # Past the end, the pool starts over: a text seen more than 2,048 distinct queries
            # ago has left the server's query-vector cache (an LRU of 2,048).
            i = n % len(queries)
            mode = MODES[n % len(MODES)]
            t0 = time.perf_counter()
            start = time.time() - t_origin
            try:
                r = await c.get("/api/search", params={"q": queries[i], "mode": mode, "k": K})
                status = r.status_code
                body = r.json() if status == 200 else None
            except (httpx.HTTPError, ValueError) as e:
                status, body = 0, None
                problems.append(f"{type(e).__name__}: {e}")
            ms = (time.perf_counter() - t0) * 1000.0
            hits = body["hits"] if body else []
            if status != 200:
                problems.append(f"status {status} for mode={mode} q={queries[i][:60]!r}")
            elif len(hits) != K and mode != "keyword":  # few documents may hold the words
                problems.append(f"{len(hits)} hits instead of {K}: mode={mode} q={queries[i]!r}")
            for h in hits:
                p = hit_problem(h)
                if p:
                    problems.append(p)
                if str(h.get("episode_id", "")).startswith(WRITE_PREFIX):
                    live_hits.setdefault(h["episode_id"], h)
            records.append((start, ms, status, mode, len(hits)))

    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=timeout) as c:
        await asyncio.gather(*(client(c) for _ in range(args.clients)))
    return {
        "t_origin": t_origin,
        "records": records,
        "problems": problems,
        "live_hits": live_hits,
        "queries_used": nxt,
        "client_cpu_s": round(time.process_time(), 2),
    }


# -- the orchestrator ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("HF_HUB_OFFLINE", "1")
    return e


class Server:
    def __init__(self, index: Path, log: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        cmd = [sys.executable, "-m", "podsearch.cli", "serve", "--index", str(index)]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            env={**env(), **(extra_env or {})},
            stdout=self.log,
            stderr=self.log,
        )
        self.health = self._wait()

    def _wait(self) -> dict[str, Any]:
        import httpx

        t0 = time.monotonic()
        while time.monotonic() - t0 < 300:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: see {self.log.name}")
            try:
                r = httpx.get(self.url + "/api/health", timeout=2)
                if r.status_code == 200:
                    return dict(r.json())
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("the server did not answer within 300 s")

    def get(self, path: str) -> Any:
        import httpx

        return httpx.get(self.url + path, timeout=30)

    def cpu_s(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run_generator(url: str, pool: Path, clients: int, seconds: float, stop_file: Path | None,
                  out: Path) -> subprocess.Popen[bytes]:  # fmt: skip
    cmd = [sys.executable, __file__, "--generate", "--url", url, "--pool", str(pool),
           "--clients", str(clients), "--max-duration", str(seconds),
           "--gen-out", str(out)]  # fmt: skip
    if stop_file is not None:
        cmd += ["--stop-file", str(stop_file)]
    return subprocess.Popen(cmd, env=env())


def pct(xs: list[float], p: float) -> float | None:
    return round(float(np.percentile(np.asarray(xs), p)), 1) if xs else None


def summarise(records: list[list[Any]], t0: float, t1: float) -> dict[str, Any]:
    """Requests that started in [t0, t1) (seconds from the generator's start)."""
    rs = [r for r in records if t0 <= r[0] < t1]
    ok = [r[1] for r in rs if r[2] == 200]
    out: dict[str, Any] = {
        "requests": len(rs),
        "errors": sum(1 for r in rs if r[2] != 200),
        "seconds": round(t1 - t0, 1),
        "throughput_rps": round(len(rs) / (t1 - t0), 1) if t1 > t0 else None,
        "p50_ms": pct(ok, 50),
        "p95_ms": pct(ok, 95),
        "p99_ms": pct(ok, 99),
        "max_ms": round(max(ok), 1) if ok else None,
    }
    out["per_mode_p50_p99_ms"] = {
        m: [pct(xs, 50), pct(xs, 99)]
        for m in MODES
        if (xs := [r[1] for r in rs if r[3] == m and r[2] == 200])
    }
    return out


def cpu_sample() -> tuple[float, float]:
    import psutil

    t = psutil.cpu_times()
    return float(t.user + t.system + getattr(t, "nice", 0.0)), time.monotonic()


def run_phase(
    args: argparse.Namespace, name: str, clients: int, pool: Path, spin: bool = False
) -> dict[str, Any]:
    """One read-only phase on a fresh server over the base index copy. ``spin``: the server's
    ONNX Runtime threads spin-wait (the behaviour before this benchmark: the baseline)."""
    extra = {"PODSEARCH_ONNX_SPIN": "1"} if spin else {}
    server = Server(args.work / "index", args.work / f"server-{name}.log", extra)
    try:
        out = args.work / f"gen-{name}.json"
        up0, cpu0, wall0 = os.getloadavg(), *cpu_sample()
        srv0 = server.cpu_s()
        gen = run_generator(server.url, pool, clients, args.duration, None, out)
        gen.wait()
        cpu1, wall1 = cpu_sample()
        srv1 = server.cpu_s()
        data = json.loads(out.read_text())
    finally:
        server.stop()
    wall = wall1 - wall0
    res = summarise(data["records"], 0.0, args.duration)
    res.update(
        command=_command(),
        clients=clients,
        onnx_spin_wait=spin,
        problems=data["problems"][:20],
        problem_count=len(data["problems"]),
        queries_used=data["queries_used"],
        machine_cpu_busy=round((cpu1 - cpu0) / (wall * (os.cpu_count() or 1)), 2),
        server_cpu_s=round(srv1 - srv0, 1),
        server_cpu_ms_per_request=round(1000 * (srv1 - srv0) / max(1, res["requests"]), 1),
        client_cpu_s=data["client_cpu_s"],
        load_average_start=[round(x, 2) for x in up0],
        load_average_end=[round(x, 2) for x in os.getloadavg()],
    )
    return res


def run_write_phase(args: argparse.Namespace, pool: Path) -> dict[str, Any]:
    """8 clients search while ingest + index add the Spotify sample to the served index."""
    index = args.work / "write-index"
    if index.exists():
        shutil.rmtree(index)
    shutil.copytree(args.work / "index", index)
    server = Server(index, args.work / "server-write.log")
    stop = args.work / "stop-write"
    stop.unlink(missing_ok=True)
    out = args.work / "gen-write.json"
    writer_log = (args.work / "writer.log").open("w")
    try:
        before = server.health
        up0, cpu0, wall0 = os.getloadavg(), *cpu_sample()
        gen = run_generator(server.url, pool, args.write_clients, 1800, stop, out)
        t_gen = time.time()
        time.sleep(args.write_lead)
        cli = [sys.executable, "-m", "podsearch.cli"]
        t_w0 = time.time()
        ingest = subprocess.run(
            [*cli, "ingest", "-c", str(WRITE_CATALOG), "--id-prefix", WRITE_PREFIX,
             "-i", str(index), "--json"], env=env(), stdout=subprocess.PIPE, stderr=writer_log,
            text=True, check=True,
        )  # fmt: skip
        t_w1 = time.time()
        indexed = subprocess.run(
            [*cli, "index", "-i", str(index), "--json", "-q"], env=env(),
            stdout=subprocess.PIPE, stderr=writer_log, text=True, check=True,
        )  # fmt: skip
        t_w2 = time.time()
        time.sleep(args.write_lead)
        stop.touch()
        gen.wait()
        cpu1, wall1 = cpu_sample()
        data = json.loads(out.read_text())
        # After the writes: the server's counts, and every live hit against its catalog row.
        time.sleep(2.0)
        after = server.get("/api/health").json()
        mismatched = []
        for eid, hit in data["live_hits"].items():
            ep = server.get(f"/api/episodes/{eid}")
            row = ep.json() if ep.status_code == 200 else {}
            for field in ("title", "show_title", "show_id", "language"):
                if row.get(field) != hit.get(field):
                    mismatched.append(
                        f"{eid} {field}: hit {hit.get(field)!r} row {row.get(field)!r}"
                    )
        probe = write_titles()[0]
        dense = server.get("/api/search?" + _qs(probe, "dense")).json()
    finally:
        server.stop()
        writer_log.close()
    origin = data["t_origin"]
    end = max(r[0] for r in data["records"]) if data["records"] else 0.0
    w0, w1, w2 = t_w0 - origin, t_w1 - origin, t_w2 - origin
    ing = json.loads(ingest.stdout.strip().splitlines()[-1])
    idx = json.loads(indexed.stdout.strip().splitlines()[-1])
    return {
        "command": _command(),
        "clients": args.write_clients,
        "generator_started_s_before_writer": round(t_w0 - t_gen, 1),
        "whole_run": summarise(data["records"], 0.0, end),
        "before_writes": summarise(data["records"], 0.0, w0),
        "during_ingest": summarise(data["records"], w0, w1),
        "during_index_build": summarise(data["records"], w1, w2),
        "after_writes": summarise(data["records"], w2, end + 1e-9),
        "ingest_seconds": round(t_w1 - t_w0, 1),
        "index_seconds": round(t_w2 - t_w1, 1),
        "ingest_report": ing,
        "index_report": {k: idx.get(k) for k in ("encoded", "total_indexed", "seconds")},
        "health_before": {k: before.get(k) for k in ("episodes", "indexed", "generation")},
        "health_after": {k: after.get(k) for k in ("episodes", "indexed", "generation")},
        "problems": data["problems"][:20],
        "problem_count": len(data["problems"]),
        "live_episodes_seen_in_hits": len(data["live_hits"]),
        "live_hits_differing_from_catalog": mismatched[:20],
        "dense_probe_after": {
            "query": probe,
            "top_id": dense["hits"][0]["episode_id"] if dense.get("hits") else None,
        },
        "machine_cpu_busy": round((cpu1 - cpu0) / ((wall1 - wall0) * (os.cpu_count() or 1)), 2),
        "load_average_start": [round(x, 2) for x in up0],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


def _command() -> str:
    return " ".join([".venv/bin/python", "bench/load_bench.py", *sys.argv[1:]])


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def _qs(q: str, mode: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": q, "mode": mode, "k": K})


def write_pool(args: argparse.Namespace) -> tuple[Path, Path, dict[str, int]]:
    qs, counts = query_pool(args.work / "index", args.queries)
    read_pool = args.work / "pool.json"
    read_pool.write_text(json.dumps(qs))
    # The write phase: every other query is the title of an episode being added.
    live = write_titles()
    mixed: list[str] = []
    for i, q in enumerate(qs):
        mixed.append(q)
        if i < len(live):
            mixed.append(live[i])
    mixed = list(dict.fromkeys(mixed))
    write_pool_path = args.work / "pool-write.json"
    write_pool_path.write_text(json.dumps(mixed))
    return read_pool, write_pool_path, counts


def report(args: argparse.Namespace, res: dict[str, Any]) -> None:
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    md = [
        "# Load through the HTTP server (distinct real queries, cold query cache)",
        "",
        f"Command: `{res['command']}`  ",
        f"Date: {res['date']}; commit {res['commit']}; machine: {res['machine']}.  ",
        f"Index: {res['index_episodes']} episodes ({res['index']}); `podsearch serve` "
        f"(encoder backend {res['encoder_backend']}) on 127.0.0.1, the load generator in another "
        f"process on the same {os.cpu_count()} CPUs. Each phase: a fresh server, then N "
        "clients for the duration, each sending its next GET /api/search (k=10; modes cycling "
        "hybrid, dense, keyword) when the last was answered; no query text repeats within 2,048 "
        "requests (the server's query-vector cache), and none at all in a read phase.",
        f"Query pool: {res['query_pool']}.",
        "",
        "| clients | ONNX threads | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors "
        "| bad responses | server CPU ms/req | machine CPU busy | load avg start → end |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for ph in res["phases"].values():
        md.append(
            f"| {ph['clients']} | {'spin (baseline)' if ph.get('onnx_spin_wait') else 'sleep'} "
            f"| {ph['requests']} | {ph['throughput_rps']} | {ph['p50_ms']} | "
            f"{ph['p95_ms']} | {ph['p99_ms']} | {ph['max_ms']} | {ph['errors']} | "
            f"{ph['problem_count']} | {ph['server_cpu_ms_per_request']} | "
            f"{ph['machine_cpu_busy']:.0%} | {ph['load_average_start'][0]} → "
            f"{ph['load_average_end'][0]} |"
        )
    md += ["", "p50 / p99 ms per mode:", ""]
    for ph in res["phases"].values():
        modes = ", ".join(f"{m} {v[0]} / {v[1]}" for m, v in ph["per_mode_p50_p99_ms"].items())
        spin = " (baseline: spin-waiting)" if ph.get("onnx_spin_wait") else ""
        md.append(f"- {ph['clients']} clients{spin}: {modes}")
    bad = [(ph, p) for ph in res["phases"].values() for p in ph["problems"]]
    if bad:
        md += ["", "Errors and bad responses (first ones per phase):", ""]
        md += [f"- {ph['clients']} clients: {p}" for ph, p in bad]
    w = res.get("write_phase")
    if w:
        md += [
            "",
            f"## Searching while the index is written ({w['clients']} clients)",
            "",
            f"Command: `{w.get('command', res['command'])}`",
            "",
            f"`podsearch ingest` of the Spotify sample ({w['ingest_report'].get('read')} rows, "
            f"ids `{WRITE_PREFIX}...`) into the served index took {w['ingest_seconds']} s, then "
            f"`podsearch index` encoded {w['index_report']['encoded']} episodes in "
            f"{w['index_seconds']} s, while the clients searched (every other query the title "
            "of an episode being added). Health before: "
            f"{w['health_before']}; after: {w['health_after']}.",
            "",
            "| window | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for key in ("before_writes", "during_ingest", "during_index_build", "after_writes"):
            s = w[key]
            md.append(
                f"| {key.replace('_', ' ')} | {s['requests']} | {s['throughput_rps']} | "
                f"{s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} | {s['errors']} |"
            )
        md += [
            "",
            f"Responses with a status other than 200, fewer than 10 hits or a hit without id, "
            f"title or show: {w['problem_count']}. New episodes seen in hits during the run: "
            f"{w['live_episodes_seen_in_hits']}; of those differing from the catalog row the "
            f"server returns for them afterwards: {len(w['live_hits_differing_from_catalog'])}. "
            "Dense search for a new title afterwards: top hit "
            f"`{w['dense_probe_after']['top_id']}`. "
            f"Machine CPU busy {w['machine_cpu_busy']:.0%}; load average "
            f"{w['load_average_start'][0]} → {w['load_average_end'][0]}.",
        ]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("/work/main/var/bench/index"))
    ap.add_argument("--work", type=Path, default=Path("var/load-bench"))
    ap.add_argument("--queries", type=Path, default=REPO / "eval/queries/curated.jsonl")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    ap.add_argument("--clients", default="1,4,8,32")
    ap.add_argument("--write-clients", type=int, default=8)
    ap.add_argument(
        "--spin-clients", default="1,8", help="baseline phases: ONNX threads spin-waiting"
    )
    ap.add_argument("--write-lead", type=float, default=10.0, help="s of load around writes")
    ap.add_argument(
        "--phases",
        default="read,write",
        help="what to run now (read, write, c8, c8-spin, ...); the others come from the cache",
    )
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/load_bench")
    # The load generator's own options (it runs as a separate process).
    ap.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--pool", help=argparse.SUPPRESS)
    ap.add_argument("--max-duration", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--stop-file", help=argparse.SUPPRESS)
    ap.add_argument("--gen-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        args.clients = int(args.clients)
        res = asyncio.run(generate(args))
        Path(args.gen_out).write_text(json.dumps(res))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    if not (args.work / "index").exists():  # the server writes (locks, WAL): use a copy
        shutil.copytree(args.index, args.work / "index")
    read_pool, write_pool_path, counts = write_pool(args)
    cache = args.work / "phases.json"
    done: dict[str, Any] = json.loads(cache.read_text()) if cache.exists() else {}
    wanted = set(args.phases.split(","))
    # Each baseline phase right after its counterpart, so both see the same machine load.
    spin_at = {int(x) for x in args.spin_clients.split(",") if x}
    plan = [(n, spin) for n in (int(x) for x in args.clients.split(",")) for spin in (False, True)]
    for n, spin in plan:
        name = f"c{n}-spin" if spin else f"c{n}"
        if (not spin or n in spin_at) and ("read" in wanted or name in wanted):
            done[name] = run_phase(args, name, n, read_pool, spin=spin)
            cache.write_text(json.dumps(done, indent=1))
            print(name, {k: done[name][k] for k in ("throughput_rps", "p50_ms", "p99_ms")})
    if "write" in wanted:
        done["write"] = run_write_phase(args, write_pool_path)
        cache.write_text(json.dumps(done, indent=1))
    con = sqlite3.connect(f"file:{args.work / 'index' / 'catalog.sqlite'}?mode=ro", uri=True)
    episodes = con.execute("SELECT count(*) FROM episodes").fetchone()[0]
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    con.close()
    res = {
        # The commands that measured the phases (stages may run apart; see --phases).
        "command": "; ".join(
            dict.fromkeys(str(v.get("command") or _command()) for v in done.values())
        ),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(),
        "machine": f"{os.uname().machine}, {os.cpu_count()} CPUs",
        "machine_facts": machine_facts(["onnxruntime", "uvicorn", "fastapi", "httpx"]),
        "load_when_report_written": load_snapshot(),
        "index": str(args.index),
        "index_episodes": episodes,
        "encoder_backend": "onnx (default)",
        "model": meta.get("model"),
        "duration_s": args.duration,
        "query_pool": ", ".join(f"{n} {POOL_NAMES[k]}" for k, n in counts.items()),
        "phases": {k: v for k, v in done.items() if k.startswith("c")},
        "write_phase": done.get("write"),
    }
    report(args, res)


if __name__ == "__main__":
    main()

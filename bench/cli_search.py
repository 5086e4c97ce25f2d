"""Wall time of one CLI search from a cold process on the four-corpora index: this checkout's
code side by side with a baseline commit's (today's path), per encoder runtime.

Median of 5 fresh ``python -m podsearch.cli search ... --json`` processes per (code, runtime),
alternating, default mode (hybrid), the real me5-small model, over ``var/bench/index`` (18,791
episodes): what a user waits for at the shell. Issue 14's target: <= 1.5 s. The baseline's
sources come from ``git archive BASELINE src`` into a temporary folder (PYTHONPATH), so both
run with the same interpreter and packages. One untimed run of each first fills the page cache
and makes the caches the new code keeps (optimised ONNX graph, unpacked language model); the
OS page cache stays warm (dropping it needs root), as for a user's second search.

A per-stage breakdown (imports, index open, encoder load, first search: wall and CPU ms,
median of ``--breakdown-runs`` processes) is measured the same way for both.

    .venv/bin/python bench/cli_search.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

QUERIES = (
    "gut doctor's advice for staying healthy over the christmas holidays",
    "how to tell if you're a night owl or an early bird",
    "en sångerska som växte upp på landet",
    "entrevista con un músico de jazz",
    "the history of the roman republic",
)
ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers", "fastapi", "pandas", "pyarrow")

# One process: times each stage of what `podsearch search` does, prints JSON.
STAGES = r"""
import json, sys, time
from pathlib import Path
marks = [("start", time.perf_counter(), time.process_time())]
def mark(name):
    marks.append((name, time.perf_counter(), time.process_time()))
import numpy, typer
mark("import numpy+typer")
import podsearch.cli
from podsearch.cli.settings import open_index
mark("import podsearch.cli")
try:  # what the search command does for one query (this commit's code only)
    from podsearch.encode.onnx import prefer_quick_start
    prefer_quick_start()
except ImportError:
    pass
ps = open_index(Path(sys.argv[1]), backend=sys.argv[2])
ps.keyword_index()
mark("open catalog+keyword index")
ps._vector_index_for_search()
mark("open vector index")
ps.encoder()
mark("load encoder (tokenizer+ORT)")
ps.search(sys.argv[3])
mark("first search (query language model, encode, search)")
out = {n: [round(1000 * (w - pw), 1), round(1000 * (c - pc), 1)]
       for (_, pw, pc), (n, w, c) in zip(marks, marks[1:])}
out["heavy_modules"] = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[4:]))
print(json.dumps(out))
"""


def baseline_src(ref: str, into: Path) -> Path:
    """``src/`` of commit ``ref`` (git archive), unpacked under ``into``."""
    raw = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(raw)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def commit_of(ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument(
        "--baseline", default=None, help="git ref of today's path (default: merge base with main)"
    )
    ap.add_argument("--backends", default="onnx,onnx-int8", help="comma-separated")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--breakdown-runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/cli_search"))
    ap.add_argument("--note", default="", help="a line for the report (e.g. how it was run)")
    args = ap.parse_args()
    if args.baseline is None:
        args.baseline = subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
    backends = args.backends.split(",")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    tmp = Path(tempfile.mkdtemp(prefix="cli-search-bench-"))
    srcs = {"before": baseline_src(args.baseline, tmp), "after": ROOT / "src"}

    def run(code: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        e = dict(env, PYTHONPATH=str(srcs[code]))
        return subprocess.run(argv, check=True, capture_output=True, text=True, env=e)

    usage: dict[str, list[tuple[float, float]]] = {}  # (CPU s, peak RSS MiB) per process

    def search(code: str, backend: str, query: str) -> float:
        cmd = [sys.executable, "-m", "podsearch.cli", "search", query, "--index", str(args.index)]
        e = dict(env, PYTHONPATH=str(srcs[code]))
        t = time.perf_counter()
        p = subprocess.Popen(
            [*cmd, "--backend", backend, "--json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e,
        )  # fmt: skip
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            raise SystemExit(f"{code}/{backend}: exit {p.returncode}")
        cpu = ru.ru_utime + ru.ru_stime
        usage.setdefault(f"{code}/{backend}", []).append((cpu, ru.ru_maxrss / 1024))
        return wall

    hits: dict[str, dict[str, object]] = {}
    for code in srcs:  # untimed: page cache, and the new code's caches
        for backend in backends:
            cmd = [sys.executable, "-m", "podsearch.cli", "search", QUERIES[0]]
            out = run(code, [*cmd, "--index", str(args.index), "--backend", backend, "--json"])
            res = json.loads(out.stdout)
            hits[f"{code}/{backend}"] = {
                "hits": [(h["episode_id"], h["score"]) for h in res["hits"]]
            }
    same = {b: hits[f"before/{b}"] == hits[f"after/{b}"] for b in backends}

    times: dict[str, list[float]] = {f"{c}/{b}": [] for b in backends for c in srcs}
    for i in range(args.runs):
        for key in times:
            code, backend = key.split("/")
            times[key].append(search(code, backend, QUERIES[i % len(QUERIES)]))

    stages: dict[str, dict[str, list[float]]] = {}
    heavy: dict[str, list[str]] = {}
    for i in range(args.breakdown_runs):
        for code in srcs:
            argv = [sys.executable, "-c", STAGES, str(args.index), backends[0]]
            out = json.loads(run(code, [*argv, QUERIES[i % len(QUERIES)], *HEAVY]).stdout)
            heavy[code] = out.pop("heavy_modules")
            for stage, (wall, cpu) in out.items():
                stages.setdefault(code, {}).setdefault(stage, []).append(wall)
                stages[code].setdefault(stage + " (cpu)", []).append(cpu)
    shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    med = {k: round(statistics.median(v), 2) for k, v in times.items()}
    breakdown = {
        c: {s: round(statistics.median(v)) for s, v in d.items()} for c, d in stages.items()
    }
    cmd_line = " ".join([".venv/bin/python", "bench/cli_search.py", *sys.argv[1:]])
    res = {
        "command": cmd_line,
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "commit": commit_of("HEAD"),
        "baseline": commit_of(args.baseline),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}",
        "load_average_end": load,
        "median_wall_s": med,
        "all_wall_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "speedup": {b: round(med[f"before/{b}"] / med[f"after/{b}"], 2) for b in backends},
        "same_hits_and_scores": same,
        "breakdown_ms": breakdown,
        "median_process_cpu_s": {
            k: round(statistics.median(c for c, _ in v), 2) for k, v in usage.items()
        },
        "median_peak_rss_mib": {
            k: round(statistics.median(m for _, m in v)) for k, v in usage.items()
        },
        "heavy_modules_imported": heavy,
        "note": args.note,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = [
        "# One CLI search from a cold process (19k index, hybrid, me5-small)",
        "",
        f"Command: `{cmd_line}`  ",
        f"Date: {res['date']}; commit {res['commit']} vs baseline {res['baseline']}; "
        f"{res['machine']}; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f}. Median of {args.runs} fresh processes per row, alternating; page "
        "cache warm." + (f" {args.note}" if args.note else ""),
        "",
        "| --backend | wall s: today / this commit | speed-up | process CPU s | peak RSS MiB "
        "| same hits | runs (this commit) |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    cpu_s, rss = res["median_process_cpu_s"], res["median_peak_rss_mib"]
    for b in backends:
        runs = ", ".join(f"{x:.2f}" for x in times[f"after/{b}"])
        bk, ak = f"before/{b}", f"after/{b}"
        md.append(
            f"| {b} | {med[bk]} / **{med[ak]}** | {res['speedup'][b]}x | {cpu_s[bk]} / {cpu_s[ak]} "
            f"| {rss[bk]} / {rss[ak]} | {'yes' if same[b] else 'NO'} | {runs} |"
        )
    md += [
        "",
        f"Where the time goes (`--backend {backends[0]}`, median of {args.breakdown_runs} "
        "processes, ms wall / ms CPU):",
        "",
        "| stage | today | this commit |",
        "|---|---:|---:|",
    ]
    for stage in stages.get("before", {}):
        if stage.endswith("(cpu)"):
            continue
        b, a = breakdown["before"], breakdown["after"]
        md.append(
            f"| {stage} | {b[stage]} / {b[stage + ' (cpu)']} | {a[stage]} / {a[stage + ' (cpu)']} |"
        )
    tot = {
        c: (sum(v for k, v in d.items() if not k.endswith("(cpu)")),
            sum(v for k, v in d.items() if k.endswith("(cpu)")))
        for c, d in breakdown.items()
    }  # fmt: skip
    md.append(
        f"| total in-process | {tot['before'][0]} / {tot['before'][1]} | "
        f"{tot['after'][0]} / {tot['after'][1]} |"
    )
    md += ["", f"Heavy libraries imported by a search: {heavy}"]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

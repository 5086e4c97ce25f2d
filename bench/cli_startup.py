"""Cold-start wall time of ``podsearch`` commands: old sources vs new, side by side.

Each command runs ``--repeat`` times in a fresh interpreter per source tree; the table gives
the median. The index is the bundled demo catalog (172 episodes) encoded with the fake
encoder, so the numbers are the CLI's own start-up cost, not a model's load time.

    python bench/cli_startup.py --old /work/main/src --new src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "tantivy", "fastapi")
RUN = (
    "import sys\nfrom podsearch.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
)
HEAVY_PROBE = RUN + (
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or '-', file=sys.stderr)"
)


def podsearch(src: Path, args: list[str], probe: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    code = HEAVY_PROBE if probe else RUN
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )


def timed(src: Path, args: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        podsearch(src, args)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, default=Path("/work/main/src"))
    ap.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    demo = args.new / "podsearch" / "data" / "demo"
    with tempfile.TemporaryDirectory() as tmp:
        ix = str(Path(tmp) / "ix")
        podsearch(args.new, ["ingest", "--catalog", str(demo), "--index", ix, "--json"])
        podsearch(args.new, ["index", "--index", ix, "--model", "fake", "-q"])
        commands = {
            "--help": ["--help"],
            "stats": ["stats", "--index", ix],
            "keyword search": ["search", "christmas food", "--mode", "keyword", "--index", ix],
            "hybrid search (fake encoder)": ["search", "christmas food", "--index", ix],
        }
        rows = []
        for label, cmd in commands.items():
            row: dict[str, object] = {"command": label}
            srcs = {"old": args.old, "new": args.new}
            times: dict[str, list[float]] = {which: [] for which in srcs}
            for src in srcs.values():
                podsearch(src, cmd)  # warm the file cache and the .pyc files
            for _ in range(args.repeat):  # interleaved, so load on a shared machine hits both
                for which, src in srcs.items():
                    times[which] += timed(src, cmd, 1)
            for which, src in srcs.items():
                heavy = podsearch(src, cmd, probe=True).stderr.strip().splitlines()[-1]
                row[which] = {
                    "median_s": round(statistics.median(times[which]), 3),
                    "runs_s": [round(t, 3) for t in times[which]],
                    "heavy_modules": heavy,
                }
            rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": sys.version.split()[0],
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    (args.out / "cli_startup.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        f"# CLI cold start (wall time, median of {args.repeat} fresh processes)",
        "",
        "Demo catalog (172 episodes) indexed with the fake encoder; `old` = main before "
        "issue 14, `new` = this branch. Heavy modules: which of "
        f"{', '.join(HEAVY)} the command imported. Old and new runs alternate; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine: differences "
        "of a few tenths of a second are noise).",
        "",
        "| command | old (s) | new (s) | old heavy modules | new heavy modules |",
        "|---|---:|---:|---|---|",
    ]
    for r in rows:
        o, n = r["old"], r["new"]
        lines.append(
            f"| {r['command']} | {o['median_s']:.2f} | {n['median_s']:.2f} | "  # type: ignore[index]
            f"{o['heavy_modules']} | {n['heavy_modules']} |"  # type: ignore[index]
        )
    (args.out / "cli_startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

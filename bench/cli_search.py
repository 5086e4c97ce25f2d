"""Wall time of one CLI search from a cold process on the four-corpora index, per encoder runtime.

Median of 5 fresh `podsearch search` processes per runtime (alternating), default mode
(hybrid), the real me5-small model, over `var/bench/index` (18,791 episodes): what a user
waits for at the shell. Issue 14's target: <= 1.5 s.

    .venv/bin/python bench/cli_search.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

QUERIES = (
    "gut doctor's advice for staying healthy over the christmas holidays",
    "how to tell if you're a night owl or an early bird",
    "en sångerska som växte upp på landet",
    "entrevista con un músico de jazz",
    "the history of the roman republic",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/results/cli_search"))
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("podsearch"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    times: dict[str, list[float]] = {"torch": [], "onnx": [], "onnx-int8": []}
    for i in range(args.runs):
        for backend in times:
            cmd = [exe, "search", QUERIES[i % len(QUERIES)], "--index", str(args.index)]
            cmd += ["--backend", backend, "--json"]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            times[backend].append(time.perf_counter() - t)
    load = os.getloadavg()
    rows = {b: round(statistics.median(v), 2) for b, v in times.items()}
    cmd_line = " ".join([".venv/bin/python", "bench/cli_search.py", *sys.argv[1:]])
    res = {
        "command": cmd_line,
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "load_average_end": load,
        "median_wall_s": rows,
        "all_wall_s": {b: [round(x, 2) for x in v] for b, v in times.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = [
        "# One CLI search from a cold process (19k index, hybrid, me5-small)",
        "",
        f"Command: `{cmd_line}`  ",
        f"Date: {res['date']}; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (2 shared cores). Median of {args.runs} fresh processes per runtime.",
        "",
        "| --backend | median wall s | runs |",
        "|---|---:|---|",
    ]
    for b, v in times.items():
        md.append(f"| {b} | {rows[b]} | {', '.join(f'{x:.2f}' for x in v)} |")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

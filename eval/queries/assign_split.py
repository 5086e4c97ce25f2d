"""Set the `split` field of every query in curated.jsonl (in place, order kept).

Rule (deterministic, see README.md):
- c001-c099, the original queries, were already used for tuning: split = "tune".
- c100-c172 (second batch): sort by (corpus, kind, qid) and alternate along that
  list, starting with "tune": tune, heldout, tune, heldout, ...
  Every corpus x kind stratum is therefore split evenly (odd strata differ by one),
  and the two halves differ by at most one query overall.
- c173 and later (third batch): all "heldout". They were written after tuning had
  stopped, so nothing was ever tuned on them.

Each batch has its own rule, so re-running this on the grown file leaves the
earlier assignments unchanged.

Usage: python eval/queries/assign_split.py [path/to/curated.jsonl]
"""
import json
import sys
from pathlib import Path

FIRST_NEW = 100
FIRST_HELDOUT_ONLY = 173


def qnum(qid):
    return int(qid.lstrip("c"))


def assign(rows):
    new = sorted((r for r in rows if FIRST_NEW <= qnum(r["qid"]) < FIRST_HELDOUT_ONLY),
                 key=lambda r: (r["corpus"], r["kind"], qnum(r["qid"])))
    for i, r in enumerate(new):
        r["split"] = "tune" if i % 2 == 0 else "heldout"
    for r in rows:
        if qnum(r["qid"]) < FIRST_NEW:
            r["split"] = "tune"
        elif qnum(r["qid"]) >= FIRST_HELDOUT_ONLY:
            r["split"] = "heldout"
    return rows


def main():
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("curated.jsonl"))
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    assign(rows)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{path}: {sum(r['split'] == 'tune' for r in rows)} tune, "
          f"{sum(r['split'] == 'heldout' for r in rows)} heldout")


if __name__ == "__main__":
    main()

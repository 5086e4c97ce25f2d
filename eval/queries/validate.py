"""Validate eval/queries/curated.jsonl against the real data.

Checks: every line parses as a JSON object; required fields are present and of the
right type; qids are unique and look like c###; corpus, kind and split take known
values; kind == "cross-lingual" exactly when query_language != episode_language;
every episode_id and also_relevant id exists in its corpus; no target is listed in
its own also_relevant; and every same-corpus episode with an identical title or an
identical description longer than 40 characters is listed in also_relevant
(the README's duplicate check). Prints counts by corpus x kind x split.

Standalone: Python stdlib plus pandas (and pyarrow for the Taddy parquet file).
Usage (from the repository root):
    python eval/queries/validate.py [--data ../shared/data] [--queries eval/queries/curated.jsonl]
Exits 1 if any problem is found, 2 if the data folder is missing.
"""
import argparse
import collections
import json
import re
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
REQUIRED = {
    "qid": str, "query": str, "corpus": str, "episode_id": str, "query_language": str,
    "episode_language": str, "kind": str, "note": str, "split": str,
}
CORPORA = ("listennotes", "taddy", "spotify", "sommar")
KINDS = {"paraphrase", "topical", "vague", "cross-lingual"}
SPLITS = {"tune", "heldout"}


def load_corpora(data: Path):
    """Return {corpus: DataFrame with columns id, title, desc} (all strings)."""
    ln = pd.read_csv(data / "listennotes-2017-12-sample/episodes.csv", dtype=str)
    ta = pd.read_parquet(data / "taddy-episodes-sample/podcastepisode.parquet",
                         columns=["uuid", "name", "description"])
    sp = pd.read_csv(data / "spotify-podcasts-metadata-sample/metadata.tsv", sep="\t", dtype=str)
    so = pd.read_csv(data / "sommar-i-p1/episodes.csv", dtype=str)
    frames = {
        "listennotes": (ln, "id", "title", "description"),
        "taddy": (ta, "uuid", "name", "description"),
        "spotify": (sp, "episode_uri", "episode_name", "episode_description"),
        "sommar": (so, "sr_episode_id", "source_title", "short_summary"),
    }
    out = {}
    for corpus, (df, i, t, d) in frames.items():
        out[corpus] = pd.DataFrame({
            "id": df[i].astype(str),
            "title": df[t].fillna("").astype(str).str.strip(),
            "desc": df[d].fillna("").astype(str).str.strip(),
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"),
                    help="data folder (default: ../shared/data relative to the repo root)")
    ap.add_argument("--queries", default=str(Path(__file__).with_name("curated.jsonl")))
    args = ap.parse_args()

    data = Path(args.data)
    if not data.is_dir():
        print(f"data folder not found: {data}", file=sys.stderr)
        return 2

    problems = []
    rows = []
    for n, line in enumerate(Path(args.queries).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            problems.append(f"line {n}: empty line")
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not JSON ({e})")
            continue
        if not isinstance(r, dict):
            problems.append(f"line {n}: not a JSON object")
            continue
        rows.append(r)
        q = r.get("qid", f"line {n}")
        for field, typ in REQUIRED.items():
            if not isinstance(r.get(field), typ) or not r.get(field):
                problems.append(f"{q}: field {field!r} missing, empty or not {typ.__name__}")
        if not re.fullmatch(r"c\d{3,}", str(r.get("qid", ""))):
            problems.append(f"{q}: qid should look like c123")
        if r.get("corpus") not in CORPORA:
            problems.append(f"{q}: unknown corpus {r.get('corpus')!r}")
        if r.get("kind") not in KINDS:
            problems.append(f"{q}: unknown kind {r.get('kind')!r}")
        if r.get("split") not in SPLITS:
            problems.append(f"{q}: split must be tune or heldout, not {r.get('split')!r}")
        cross = r.get("query_language") != r.get("episode_language")
        if cross != (r.get("kind") == "cross-lingual"):
            problems.append(f"{q}: kind is {r.get('kind')!r} but languages are "
                            f"{r.get('query_language')}->{r.get('episode_language')}")
        also = r.get("also_relevant", [])
        if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
            problems.append(f"{q}: also_relevant must be a list of strings")
            r["also_relevant"] = []
        unknown = set(r) - set(REQUIRED) - {"also_relevant"}
        if unknown:
            problems.append(f"{q}: unknown fields {sorted(unknown)}")

    dup_qids = [q for q, c in collections.Counter(r.get("qid") for r in rows).items() if c > 1]
    if dup_qids:
        problems.append(f"duplicate qids: {dup_qids}")

    corpora = load_corpora(data)
    index = {c: df.set_index("id", drop=False) for c, df in corpora.items()}
    by_title = {c: df.groupby("title")["id"].apply(set).to_dict() for c, df in corpora.items()}
    by_desc = {c: df[df.desc.str.len() > 40].groupby("desc")["id"].apply(set).to_dict()
               for c, df in corpora.items()}
    for r in rows:
        c, q, eid = r.get("corpus"), r.get("qid"), r.get("episode_id")
        if c not in index:
            continue
        if eid not in index[c].index:
            problems.append(f"{q}: episode_id {eid!r} not in {c}")
            continue
        also = set(r.get("also_relevant", []))
        for a in also:
            if a not in index[c].index:
                problems.append(f"{q}: also_relevant id {a!r} not in {c}")
        if eid in also:
            problems.append(f"{q}: target listed in its own also_relevant")
        ep = index[c].loc[eid]
        if isinstance(ep, pd.DataFrame):  # id repeated in the source file
            problems.append(f"{q}: episode_id {eid!r} occurs {len(ep)} times in {c}")
            ep = ep.iloc[0]
        dups = set(by_title[c].get(ep["title"], set()))
        if len(ep["desc"]) > 40:
            dups |= by_desc[c].get(ep["desc"], set())
        missing = dups - {eid} - also
        if missing:
            problems.append(f"{q}: same-corpus duplicates (identical title or description) "
                            f"not in also_relevant: {sorted(missing)}")

    # summary
    counts = collections.Counter((r.get("corpus"), r.get("kind"), r.get("split")) for r in rows)
    splits = collections.Counter(r.get("split") for r in rows)
    print(f"{len(rows)} queries; split: " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items(), key=str)))
    print(f"{'corpus':<12} {'kind':<14} {'tune':>5} {'heldout':>8}")
    for c in CORPORA:
        for k in sorted(KINDS):
            t, h = counts[(c, k, "tune")], counts[(c, k, "heldout")]
            if t or h:
                print(f"{c:<12} {k:<14} {t:>5} {h:>8}")
    cl = collections.Counter(r.get("split") for r in rows if r.get("kind") == "cross-lingual")
    print("cross-lingual: " + ", ".join(f"{k} {v}" for k, v in sorted(cl.items(), key=str)))

    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train / eval / test splits by episode: no episode's pairs land in two splits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podsearch.errors import QueryError
from podsearch.models import Episode
from podsearch.querygen.base import Pair

DEFAULT_FRACTIONS = (0.8, 0.01, 0.19)  # the walkthrough's


@dataclass
class Splits:
    train: list[Pair]
    eval: list[Pair]
    test: list[Pair]
    report: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("train", "eval", "test"):
            lines = [json.dumps(p.to_dict(), ensure_ascii=False) for p in getattr(self, name)]
            (folder / f"{name}.jsonl").write_text("".join(x + "\n" for x in lines), "utf-8")
        (folder / "splits.json").write_text(json.dumps(self.report, indent=2), "utf-8")


def _key(seed: int, episode_id: str) -> float:
    h = hashlib.sha1(f"{seed}\x1f{episode_id}".encode()).hexdigest()
    return int(h[:12], 16) / float(1 << 48)


def _norm_text(ep: Episode) -> str:
    return re.sub(r"\W+", " ", f"{ep.title} {ep.description}".lower()).strip()


def split_pairs(
    pairs: Sequence[Pair],
    episodes: Mapping[str, Episode],
    *,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Splits:
    """Assign each episode (with all its pairs) to train, eval or test.

    Episodes with generated queries and episodes with only title pairs are split separately,
    so every split gets its share of both. Eval and test drop episodes whose text duplicates
    another episode's (re-uploads, segments with one shared description): a duplicate in train
    would leak the answer, and a duplicate anywhere makes the known item ambiguous.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise QueryError(f"split fractions must be 3 numbers >= 0 summing to 1: {fractions}")
    unknown = sorted({p.episode_id for p in pairs if p.episode_id not in episodes})
    if unknown:
        raise QueryError(
            f"{len(unknown)} pairs name episodes that are not in the catalog "
            f"(first: {unknown[:5]}): generate pairs from the same index"
        )
    by_ep: dict[str, list[Pair]] = {}
    for p in pairs:
        by_ep.setdefault(p.episode_id, []).append(p)
    if not by_ep:
        raise QueryError("No pairs to split")
    text_count: dict[str, int] = {}
    for ep in episodes.values():
        t = _norm_text(ep)
        text_count[t] = text_count.get(t, 0) + 1

    out: dict[str, list[Pair]] = {"train": [], "eval": [], "test": []}
    eps_in: dict[str, int] = {"train": 0, "eval": 0, "test": 0}
    dropped_dupes = 0
    generated = sorted(e for e, ps in by_ep.items() if any(p.generator != "title" for p in ps))
    title_only = sorted(set(by_ep) - set(generated))
    for group in (generated, title_only):
        ordered = sorted(group, key=lambda e: _key(seed, e))
        n = len(ordered)
        n_train = round(n * fractions[0])
        n_eval = round(n * fractions[1])
        for i, eid in enumerate(ordered):
            split = "train" if i < n_train else "eval" if i < n_train + n_eval else "test"
            if split != "train" and text_count.get(_norm_text(episodes[eid]), 0) > 1:
                dropped_dupes += 1
                continue
            out[split] += by_ep[eid]
            eps_in[split] += 1
    report = {
        "fractions": list(fractions),
        "seed": seed,
        "episodes": eps_in,
        "pairs": {k: len(v) for k, v in out.items()},
        "generated_episodes": len(generated),
        "title_only_episodes": len(title_only),
        "eval_test_duplicates_dropped": dropped_dupes,
    }
    return Splits(out["train"], out["eval"], out["test"], report)

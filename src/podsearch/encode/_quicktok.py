"""Tokenize a few texts without loading the whole Unigram vocabulary (a fast first query).

Loading XLM-R's ``tokenizer.json`` (250,002 Unigram pieces) costs ~0.6 s of CPU, most of a
command-line search, because the tokenizers library builds a trie of every piece. A Unigram
tokenizer's Viterbi lattice for a word only holds pieces that are substrings of that word, so
a tokenizer holding just those pieces (same scores, same normaliser and pre-tokeniser, the
vocabulary's lowest score kept for the unknown-piece penalty, the special tokens at their ids)
gives the same pieces; its ids map back to the full vocabulary's. Building one for a query
takes a few milliseconds. Texts holding a special token's text (``<s>``, ``<mask>`` ...)
take the full tokenizer. tests/encode/test_encode_quicktok.py compares both on real titles.

The pieces and scores are unpacked once into ``quick-tokenizer/`` beside the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from podsearch.encode._cache import _remove_stale_temps

DIR = "quick-tokenizer"
_FORMAT = 1
_SEP = "\n"


class QuickTokenizer:
    """Per-call Unigram tokenizers restricted to the pieces the texts can use."""

    def __init__(self, folder: Path, max_length: int, pad_id: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self._shell: dict[str, Any] = json.loads((folder / "shell.json").read_text("utf-8"))
        self._pieces = (folder / "pieces.txt").read_text(encoding="utf-8").split(_SEP)
        self._scores = np.load(folder / "scores.npy")
        self._index = {p: i for i, p in enumerate(self._pieces)}
        self._keep = sorted({*meta["keep"]})  # special pieces (ids unchanged) + lowest score
        self._max_piece = int(meta["max_piece"])
        self._specials = [str(s) for s in meta["specials"]]
        self._max_length, self._pad_id, self._pad_token = max_length, pad_id, pad_token
        # Normaliser and pre-tokeniser only: the shell with just the special pieces.
        self._splitter = Tokenizer.from_str(json.dumps(self._with_vocab(self._keep)))

    def usable(self, texts: Sequence[str]) -> bool:
        return not any(s in t for t in texts for s in self._specials)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input ids, attention mask) as the full tokenizer gives them, padded to the longest."""
        from tokenizers import Tokenizer

        normalizer = self._splitter.normalizer
        pre = self._splitter.pre_tokenizer
        ids = set(self._keep)
        for text in texts:
            norm = normalizer.normalize_str(text) if normalizer is not None else text
            words = [w for w, _ in pre.pre_tokenize_str(norm)] if pre is not None else [norm]
            # Each word gives at least one token, so tokens past the first max_length words
            # are truncated away: their pieces are not needed.
            for w in words[: self._max_length]:
                for i in range(len(w)):
                    for j in range(i + 1, min(len(w), i + self._max_piece) + 1):
                        k = self._index.get(w[i:j])
                        if k is not None:
                            ids.add(k)
        order = sorted(ids)
        tok = Tokenizer.from_str(json.dumps(self._with_vocab(order)))
        tok.enable_truncation(self._max_length)
        tok.enable_padding(pad_id=self._pad_id, pad_token=self._pad_token)
        back = np.asarray(order, dtype=np.int64)
        encodings = tok.encode_batch(list(texts))
        local = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        # Added tokens (padding) keep their own ids; pieces map back to the full vocabulary.
        inside = local < len(back)
        return np.where(inside, back[np.minimum(local, len(back) - 1)], local), mask

    def _with_vocab(self, ids: Sequence[int]) -> dict[str, Any]:
        vocab = [[self._pieces[i], float(self._scores[i])] for i in ids]
        return {**self._shell, "model": {**self._shell["model"], "vocab": vocab}}


def prepare(model_dir: Path) -> Path | None:
    """``model_dir/quick-tokenizer``, unpacked from tokenizer.json first if needed; None when
    the tokenizer is not one this applies to (not Unigram, byte fallback, special pieces out
    of place) or the folder cannot be written."""
    target = model_dir / DIR
    source = model_dir / "tokenizer.json"
    stamp = {
        "format": _FORMAT,
        "size": source.stat().st_size,
        "mtime_ns": source.stat().st_mtime_ns,
    }
    try:
        if json.loads((target / "meta.json").read_text(encoding="utf-8"))["stamp"] == stamp:
            return target
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not os.access(model_dir, os.W_OK):  # a read-only cache: the full tokenizer, as before
        return None
    js = json.loads(source.read_text(encoding="utf-8"))
    model = js.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        return None
    vocab = model["vocab"]
    pieces = [str(p) for p, _ in vocab]
    specials = {int(t["id"]): str(t["content"]) for t in js.get("added_tokens") or []}
    # A special piece must sit at its own id in the restricted vocabulary: ids 0..n-1 only.
    low = [i for i in sorted(specials) if i < len(pieces) and pieces[i] == specials[i]]
    keep = [i for i in low if i == low.index(i)]
    unk = model.get("unk_id")
    if any(_SEP in p for p in pieces) or (unk is not None and unk not in keep):
        return None
    scores = np.asarray([float(s) for _, s in vocab], dtype=np.float64)
    keep.append(int(np.argmin(scores)))  # the unknown-piece penalty is relative to it
    meta = {
        "stamp": stamp,
        "keep": keep,
        "specials": sorted(set(specials.values())),
        "max_piece": max(len(p) for p in pieces),
    }
    try:
        _remove_stale_temps(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{DIR}.tmp-{os.getpid()}-", dir=model_dir))
    except OSError:
        return None
    try:
        (tmp / "pieces.txt").write_text(_SEP.join(pieces), encoding="utf-8")
        np.save(tmp / "scores.npy", scores)
        (tmp / "shell.json").write_text(
            json.dumps({**js, "model": {**model, "vocab": []}}), encoding="utf-8"
        )
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        if target.exists():  # outdated
            shutil.rmtree(target, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process may have made it first
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target if (target / "meta.json").is_file() else None

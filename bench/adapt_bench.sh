#!/usr/bin/env bash
# Adaptation benchmark on all ~19k real episodes (issue 3). Needs the bench index built by
# bench/search_bench.py (var/bench/index: Listen Notes, Taddy, Spotify, Sommar; me5-small).
# Steps: generate queries for 300 sampled English Listen Notes episodes with the packaged
# SmolLM2 generator (+ title pairs for every episode, round-trip filtered), fine-tune me5-small
# on up to 3,000 pairs, encode all episodes with the tuned model, and compare base / tuned /
# BM25 / hybrid on synthetic test queries and the curated human queries.
# Results: bench/results/adapt/ (report.md/html/json, plots) and var/adapt-bench/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${ADAPT_WORK:-var/adapt-bench}
OUT=${ADAPT_OUT:-bench/results/adapt}
mkdir -p "$W" "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ps() { .venv/bin/podsearch "$@"; }
stamp() { date +%s; }
t0=$(stamp)
ps querygen --index var/bench/index --out "$W/pairs.jsonl" --sample "${SAMPLE:-300}" \
    --id-prefix ln: --lang en --seed 0 --batch-size 8 --json > "$W/querygen.json"
t1=$(stamp)
ps train --pairs "$W/pairs.jsonl" --index var/bench/index --out "$W/model" --overwrite \
    --max-pairs "${MAX_PAIRS:-3000}" --max-seq-length 128 --batch-size 64 --json > "$W/train.json"
t2=$(stamp)
ps eval --index var/bench/index --model "$W/model" --tuned-index "$W/index-tuned" --out "$OUT" \
    --queries 'eval/queries/curated.jsonl:*:listennotes=ln:,taddy=taddy:,spotify=spotify:,sommar=sommar:' \
    --json > "$W/eval.json"
t3=$(stamp)
printf '{"querygen_s": %d, "train_s": %d, "tuned_index_and_eval_s": %d, "load_end": "%s"}\n' \
    $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) "$(cut -d' ' -f1-3 /proc/loadavg)" > "$OUT/times.json"
cat "$OUT/times.json"

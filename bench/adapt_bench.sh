#!/usr/bin/env bash
# Adaptation benchmark on the 19k four-corpora index (issue 13), every stage resumable:
#   1. bench/adapt_generate.py: 3 CTranslate2 SmolLM2 queries for N episodes drawn per corpus
#      (descriptions >= 5 words, hubs skipped), cleaned, not filtered;
#   2. bench/adapt_train.py: split by episode, round-trip filter the train split only,
#      fine-tune (frozen word embeddings), held-out check, WiSE-FT alphas;
#   3. bench/adapt_eval.py: index all episodes with the tuned model (ONNX), full retrieval on
#      synthetic test + curated queries with paired significance;
#   4. bench/adapt_report.py: bench/results/adapt_bench.{md,json}.
# Needs a writable copy of the bench index: cp -r var/bench/index var/index (the main checkout's
# is shared and read-only). Long on a shared 2-core CPU: run it in the background, niced:
#   nice -n 19 ionice -c3 bash bench/adapt_bench.sh > var/adapt/bench.log 2>&1 &
# WAIT_PID=<pid> waits for an already running stage-1 process before going on.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${ADAPT_WORK:-var/adapt}
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$W"
if [[ -n "${WAIT_PID:-}" ]]; then
    while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 30; done
fi
# Stage 1 is finished when the pairs file exists and no .done list is left beside it.
if [[ ! -f "$W/generated.jsonl" || -f "$W/generated.jsonl.done" ]]; then
    "$PY" bench/adapt_generate.py --index "${INDEX:-var/index}" --out "$W/generated.jsonl" \
        --episodes "${EPISODES:-5000}" >> "$W/generate.log" 2>&1
fi
if [[ ! -f "$W/model/podsearch-card.json" ]]; then
    "$PY" bench/adapt_train.py --index "${INDEX:-var/index}" --pairs "$W/generated.jsonl" \
        --out "$W/model" ${TRAIN_ARGS:-} >> "$W/train.log" 2>&1
fi
if [[ ! -f "$W/report/report.json" ]]; then
    "$PY" bench/adapt_eval.py --index "${INDEX:-var/index}" --model "$W/model" \
        --out "$W/report" >> "$W/eval.log" 2>&1
fi
"$PY" bench/adapt_report.py --work "$W" --model "$W/model" --report "$W/report"

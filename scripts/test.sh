#!/usr/bin/env bash
# The second README command: install what the tests need (Debian packages included) and run
# them. Unit tests use a fake encoder; tests marked `integration` load the real packaged models,
# `browser` drives Debian's headless Chromium, `voice` transcribes espeak-ng speech with the
# packaged whisper-base, `realdata` reads ../shared/data when present.
# Lint, format check and type check (mypy on src/, configured in pyproject.toml) run first.
# Extra arguments go to pytest (e.g. -m "not integration" for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium for the browser tests, espeak-ng to speak the spoken-query (`voice`) tests' queries.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "${missing[*]} missing and this is not root: their tests will be skipped" >&2
    fi
fi
bash scripts/setup.sh "onnx,test"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy src
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Server backends (issue 10): as root on Linux, install and start the throw-away PostgreSQL +
# pgvector and the Milvus 2.3.5 standalone server (scripts/servers.sh) for the `server` tests. A
# failed start stops the run, and PODSEARCH_TEST_REQUIRE_SERVERS makes a missing URL fail the
# tests, never skip them. Both live in the servers' network namespace: PostgreSQL's Unix socket
# reaches it from here; Milvus' TCP port only from inside, so its tests run there (below).
servers=0
if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ] && [ "${PODSEARCH_SKIP_SERVERS:-}" != 1 ]; then
    servers=1
    bash scripts/servers.sh install pg
    bash scripts/servers.sh start pg
    # started here: stop them
    trap 'bash scripts/servers.sh stop pg >/dev/null 2>&1 || true; bash scripts/servers.sh stop milvus >/dev/null 2>&1 || true' EXIT
    if [ "${PODSEARCH_SKIP_MILVUS:-}" != 1 ]; then
        bash scripts/servers.sh install milvus
        bash scripts/servers.sh start milvus
    fi
    pg_env="$(bash scripts/servers.sh env)"
    eval "$pg_env"
    export PODSEARCH_TEST_PG_URL="$PODSEARCH_TEST_PG_SOCKET_URL" PODSEARCH_TEST_REQUIRE_SERVERS=1
    milvus_uri="${PODSEARCH_TEST_MILVUS_URI:-}"
    unset PODSEARCH_TEST_MILVUS_URI  # not reachable from this namespace
elif [ "${CI:-}" = true ]; then
    echo "test.sh: not root on Linux: the PostgreSQL (server) tests will be skipped" >&2
fi
rc=0
.venv/bin/python -m pytest -m "not slow" "$@" || rc=$?
# The Milvus standalone server's tests (engine and congruence suite), inside its namespace.
if [ "$servers" = 1 ] && [ -n "${milvus_uri:-}" ]; then
    PODSEARCH_TEST_MILVUS_URI="$milvus_uri" bash scripts/servers.sh exec -- \
        .venv/bin/python -m pytest tests/index/test_milvus.py tests/index/test_congruence.py \
        -m server -k milvus "$@" || rc=$?
fi
exit "$rc"

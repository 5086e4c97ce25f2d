#!/usr/bin/env bash
# Installs, starts and stops the real server engines that podsearch's server backends are tested
# and benchmarked against: PostgreSQL 15 + pgvector (built from Debian trixie's source package)
# and the Milvus 2.3.5 standalone server from PyPI. Both are throw-away instances under a state
# directory, and both run inside a network namespace of our own, so nothing they open is reachable
# from outside this machine (Milvus binds every interface) and load / fault tests only ever hit
# that namespace's loopback. See docs/SERVERS.md.
#
#   bash scripts/servers.sh install [pg|milvus|all]   apt + pgvector build, Milvus venv (root)
#   bash scripts/servers.sh start   [pg|milvus|all]   netns, initdb/pg_ctl, milvus-server; waits
#   bash scripts/servers.sh stop    [pg|milvus|all]   pg_ctl stop -m fast; Milvus by PID (+SIGKILL)
#   bash scripts/servers.sh status  [pg|milvus|all]   one line per server; exit 0 only if all up
#   bash scripts/servers.sh env                      export lines: eval "$(bash scripts/servers.sh env)"
#   bash scripts/servers.sh exec -- CMD...           CMD inside the namespace, with the env set
#   bash scripts/servers.sh clean                    stop, delete data/logs and the namespace
#
# Environment:
#   PODSEARCH_SERVERS_DIR   state directory (default: <repo>/var/servers)
#   PODSEARCH_NETNS         network namespace name (default: podsearch). Set it to the empty
#                           string to run in the current namespace instead, e.g. inside
#                           `unshare -n`; the script then refuses to start Milvus if that
#                           namespace has any interface besides lo.
#   PODSEARCH_PG_PORT       preferred PostgreSQL port (default 54329; the next free one is used)
#   PODSEARCH_WAIT_S        seconds to wait for a server to come up (default 120)
#   PODSEARCH_MILVUS_GRACE_S  seconds between SIGTERM and SIGKILL on stop (default 10)
#   PODSEARCH_MILVUS_SESSION_TTL  Milvus' etcd session TTL in seconds (default 10, Milvus' own: 30)
#   PODSEARCH_MILVUS_FRESH=1  start Milvus on an empty data directory (default: keep its data)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${PODSEARCH_SERVERS_DIR:-$ROOT/var/servers}"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac
NETNS="${PODSEARCH_NETNS-podsearch}"
WAIT_S="${PODSEARCH_WAIT_S:-120}"

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_CONFIG="$PG_BIN/pg_config"
PG_DIR="$STATE/pg"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgresql.log"
PG_PORT_FILE="$PG_DIR/port"
PG_PASS_FILE="$PG_DIR/password"
PG_USER=podsearch
PG_DB=podsearch
PG_PORT_DEFAULT="${PODSEARCH_PG_PORT:-54329}"

MILVUS_VERSION=2.3.5
MILVUS_VENV="$STATE/milvus-venv"
MILVUS_DATA="$STATE/milvus"
MILVUS_LOG="$STATE/milvus.log"
MILVUS_PID_FILE="$STATE/milvus.pid"
MILVUS_PORT=19530
MILVUS_HEALTH_PORT=9091
MILVUS_GRACE_S="${PODSEARCH_MILVUS_GRACE_S:-10}"
# Milvus registers its components in its embedded etcd under leases of this many seconds; after an
# unclean stop (SIGKILL), a restart on the same data can wait for the old leases to expire
# (Milvus' default is 30 s). A shorter TTL keeps such restarts quick.
MILVUS_SESSION_TTL="${PODSEARCH_MILVUS_SESSION_TTL:-10}"

TRIXIE_SOURCES=/etc/apt/sources.list.d/podsearch-trixie-src.sources

say() { printf 'servers: %s\n' "$*"; }
die() { printf 'servers: ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------- network namespace
netns_exists() { [ -n "$NETNS" ] && [ -e "/run/netns/$NETNS" ]; }

# Runs a command inside the namespace (or here when PODSEARCH_NETNS is empty).
in_ns() {
    if [ -n "$NETNS" ]; then
        netns_exists || die "network namespace '$NETNS' does not exist (run: bash scripts/servers.sh start)"
        ip netns exec "$NETNS" "$@"
    else
        "$@"
    fi
}

ensure_netns() {
    if [ -z "$NETNS" ]; then
        # The caller made the namespace (e.g. `unshare -n`): make sure it really is a private one.
        local others
        others="$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -vx lo || true)"
        [ -z "$others" ] || die "PODSEARCH_NETNS is empty but this network namespace has interfaces besides lo ($(echo $others)); Milvus binds all interfaces: run inside 'unshare -n' or leave PODSEARCH_NETNS unset"
        ip link set lo up 2>/dev/null || true
        ip -o link show lo | grep -q 'UP' || die "loopback is down in this namespace and cannot be raised (need CAP_NET_ADMIN)"
        no_time_wait
        return
    fi
    is_root || die "creating network namespace '$NETNS' needs root (or set PODSEARCH_NETNS= inside 'unshare -rn')"
    if ! netns_exists; then
        say "netns: creating '$NETNS' (loopback only)"
        ip netns add "$NETNS" || die "ip netns add $NETNS failed"
    fi
    ip netns exec "$NETNS" ip link set lo up || die "cannot bring up lo in netns $NETNS"
    no_time_wait
}

# milvus-server picks its ports by test-binding them without SO_REUSEADDR, so a TIME-WAIT socket
# left by the previous run's connections moves it silently to 19531 / 9092 and clients miss it.
# In our private namespace (loopback only) TIME-WAIT protects nothing: switch it off there.
no_time_wait() {
    in_ns sysctl -q -w net.ipv4.tcp_max_tw_buckets=0 >/dev/null 2>&1 \
        || say "netns: could not set net.ipv4.tcp_max_tw_buckets=0 (a quick Milvus restart may wait for TIME-WAIT)"
}

port_in_use() { in_ns ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------- PostgreSQL + pgvector
pg_ext_dir() { echo "$("$PG_CONFIG" --sharedir)/extension"; }
pg_installed() { [ -x "$PG_BIN/initdb" ] && [ -x "$PG_CONFIG" ] && [ -f "$(pg_ext_dir)/vector.control" ]; }

pg_install() {
    is_root || die "install needs root (apt-get)"
    local t0=$SECONDS
    if pg_installed; then
        say "pg: PostgreSQL $PG_MAJOR and pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$(pg_ext_dir)/vector.control") already installed, skipping"
        return
    fi
    # Source packages from trixie only: a deb-src entry never offers binaries to apt, so nothing
    # on the system can be upgraded from trixie. Same URI and keyring as the system's own list.
    if [ ! -f "$TRIXIE_SOURCES" ]; then
        local uri="http://deb.debian.org/debian"
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            uri="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
        elif [ -f /etc/apt/sources.list ]; then
            uri="$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)"
        fi
        [ -n "$uri" ] || uri="http://deb.debian.org/debian"
        local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        [ -f "$keyring" ] || die "Debian archive keyring $keyring missing (apt-get install debian-archive-keyring)"
        say "pg: adding deb-src (source only) for trixie from $uri in $TRIXIE_SOURCES"
        cat >"$TRIXIE_SOURCES" <<EOF
# Added by podsearch scripts/servers.sh: trixie SOURCE packages only (to build pgvector for
# PostgreSQL $PG_MAJOR). deb-src entries give apt no binary packages, so nothing is upgraded from it.
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: $keyring
EOF
    fi
    say "pg: apt-get update"
    timeout 600 apt-get update -q >/dev/null || die "apt-get update failed"
    local pkgs=() p
    for p in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR dpkg-dev make gcc; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
    done
    if [ ${#pkgs[@]} -gt 0 ]; then
        say "pg: apt-get install ${pkgs[*]}"
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"$STATE/apt-install.log" 2>&1 \
            || die "apt-get install failed, see $STATE/apt-install.log"
    fi
    local work
    work="$(mktemp -d /tmp/podsearch-pgvector.XXXXXX)"
    chmod 755 "$work"
    id _apt >/dev/null 2>&1 && chown _apt "$work"   # so apt downloads sandboxed, without a warning
    say "pg: apt-get source --download-only pgvector (trixie) into $work"
    (cd "$work" && timeout 300 apt-get source -q --download-only pgvector >"$work/source.log" 2>&1) \
        || die "apt-get source pgvector failed, see $work/source.log"
    local dsc
    dsc="$(ls "$work"/pgvector_*.dsc | head -n1)"
    say "pg: dpkg-source -x $(basename "$dsc")"
    (cd "$work" && dpkg-source -x "$dsc" src >"$work/extract.log" 2>&1) || die "dpkg-source -x failed, see $work/extract.log"
    say "pg: building pgvector against $PG_CONFIG (OPTFLAGS=\"\" for a portable build)"
    (cd "$work/src" && nice timeout 900 make OPTFLAGS="" PG_CONFIG="$PG_CONFIG" >"$work/build.log" 2>&1) \
        || die "pgvector build failed, see $work/build.log"
    (cd "$work/src" && make install PG_CONFIG="$PG_CONFIG" >>"$work/build.log" 2>&1) \
        || die "pgvector make install failed, see $work/build.log"
    pg_installed || die "pgvector installed but $(pg_ext_dir)/vector.control is missing"
    rm -rf "$work"
    say "pg: installed PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}') + pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$(pg_ext_dir)/vector.control") in $((SECONDS - t0)) s"
}

# Runs a PostgreSQL binary as the cluster's owner (postgres refuses to run as root): as_pg in
# the namespace (for what opens TCP sockets), as_pg_here where it does not matter (Unix socket,
# pg_ctl status/stop), so that stop also works when the namespace is gone.
PG_SUPER=postgres
is_root || PG_SUPER="$(id -un)"
as_pg() {
    if is_root; then in_ns runuser -u postgres -- "$@"; else in_ns "$@"; fi
}
as_pg_here() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_port() { cat "$PG_PORT_FILE" 2>/dev/null || true; }
pg_running() { [ -f "$PG_DATA/PG_VERSION" ] && as_pg_here "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_password() { cat "$PG_PASS_FILE"; }

pg_psql_admin() {   # superuser psql over the Unix socket
    as_pg_here "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$(pg_port)" -U "$PG_SUPER" "$@"
}

pg_start() {
    pg_installed || die "PostgreSQL $PG_MAJOR + pgvector not installed (run: bash scripts/servers.sh install pg)"
    local t0=$SECONDS
    if pg_running; then
        say "pg: already running on 127.0.0.1:$(pg_port) in netns '${NETNS:-<current>}'"
        return
    fi
    mkdir -p "$PG_DIR" "$PG_SOCK"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "system user 'postgres' missing (apt-get install postgresql-$PG_MAJOR)"
        chown postgres:postgres "$PG_DIR" "$PG_SOCK"
        runuser -u postgres -- test -w "$PG_DIR" \
            || die "user postgres cannot reach $PG_DIR (a parent directory is not traversable): set PODSEARCH_SERVERS_DIR to e.g. /var/tmp/podsearch-servers"
    fi
    chmod 700 "$PG_DIR"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        # A throw-away cluster: peer auth for the superuser on the socket, passwords on TCP.
        say "pg: initdb $PG_DATA"
        rm -rf "$PG_DATA"
        as_pg_here "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPER" --auth-local=peer --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || die "initdb failed, see $PG_DIR/initdb.log"
        head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PG_PASS_FILE"
        chmod 600 "$PG_PASS_FILE"
        rm -f "$PG_PORT_FILE"
    fi
    # Peer auth for the superuser on the socket; passwords for everyone else, on the socket too
    # (so the socket URL from `env` works from any namespace) and on TCP (127.0.0.1 only).
    printf '# written by scripts/servers.sh\n%s\n%s\n%s\n' \
        "local  all  $PG_SUPER              peer" \
        "local  all  all                    scram-sha-256" \
        "host   all  all   127.0.0.1/32     scram-sha-256" >"$PG_DATA/pg_hba.conf"
    if is_root; then chown postgres:postgres "$PG_DATA/pg_hba.conf"; fi
    chmod 600 "$PG_DATA/pg_hba.conf"
    # Port: the recorded one if still free, else the first free one from the preferred port up.
    local port
    port="$(pg_port)"
    if [ -z "$port" ] || port_in_use "$port"; then
        port="$PG_PORT_DEFAULT"
        while port_in_use "$port"; do
            port=$((port + 1))
            [ "$port" -lt $((PG_PORT_DEFAULT + 50)) ] || die "no free port in $PG_PORT_DEFAULT..$((port)) in netns '${NETNS:-<current>}'"
        done
        echo "$port" >"$PG_PORT_FILE"
    fi
    say "pg: pg_ctl start on 127.0.0.1:$port (netns '${NETNS:-<current>}', socket dir $PG_SOCK)"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT_S" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_SOCK -c fsync=off -c full_page_writes=off" start >/dev/null \
        || die "pg_ctl start failed, see $PG_LOG"
    local deadline=$((SECONDS + WAIT_S))
    until in_ns "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 5; do
        [ $SECONDS -lt $deadline ] || die "pg_isready: no answer on 127.0.0.1:$port after ${WAIT_S}s, see $PG_LOG"
        sleep 0.5
    done
    # Role, database (owned by the role) and the extension; idempotent.
    local pass
    pass="$(pg_password)"
    pg_psql_admin -d postgres -v pass="$pass" -v role="$PG_USER" <<'SQL' || die "creating role $PG_USER failed"
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pass')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'pass') \gexec
SQL
    pg_psql_admin -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1 \
        || pg_psql_admin -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_USER" || die "CREATE DATABASE $PG_DB failed"
    # vector is not a trusted extension: the superuser creates it; template1 too, so databases
    # that tests create (CREATEDB) have it as well.
    pg_psql_admin -d "$PG_DB" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector" || die "CREATE EXTENSION vector failed"
    pg_psql_admin -d template1 -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector" || die "CREATE EXTENSION vector (template1) failed"
    # Check as the client will connect: TCP, password auth.
    local ver
    ver="$(PGPASSWORD="$pass" in_ns "$PG_BIN/psql" -X -tA -h 127.0.0.1 -p "$port" -U "$PG_USER" -d "$PG_DB" \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")" || die "cannot connect as $PG_USER over TCP, see $PG_LOG"
    [ -n "$ver" ] || die "extension vector not present in $PG_DB"
    say "pg: ready on 127.0.0.1:$port, database $PG_DB, pgvector $ver ($((SECONDS - t0)) s)"
}

pg_stop() {
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        say "pg: no cluster in $PG_DATA, nothing to stop"
        return
    fi
    if ! pg_running; then
        say "pg: not running"
        return
    fi
    say "pg: pg_ctl stop -m fast"
    as_pg_here "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed, see $PG_LOG"
    say "pg: stopped"
}

pg_status() {
    if ! pg_installed; then
        say "pg: not installed"; return 1
    elif [ -n "$NETNS" ] && ! netns_exists; then
        say "pg: stopped (netns '$NETNS' absent)"; return 1
    elif pg_running && in_ns "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(pg_port)" -t 5; then
        say "pg: running on 127.0.0.1:$(pg_port) in netns '${NETNS:-<current>}' (data $PG_DATA)"
    else
        say "pg: stopped"; return 1
    fi
}

# ---------------------------------------------------------------- Milvus standalone
milvus_installed() { [ -x "$MILVUS_VENV/bin/milvus-server" ]; }

milvus_install() {
    if milvus_installed && "$MILVUS_VENV/bin/python" -c "import importlib.metadata as m; assert m.version('milvus') == '$MILVUS_VERSION'" 2>/dev/null; then
        say "milvus: milvus==$MILVUS_VERSION already installed in $MILVUS_VENV, skipping"
        return
    fi
    local t0=$SECONDS py="${PYTHON:-python3}"
    command -v "$py" >/dev/null || die "$py not found (set PYTHON)"
    mkdir -p "$STATE"
    if [ ! -x "$MILVUS_VENV/bin/python" ]; then
        say "milvus: creating venv $MILVUS_VENV"
        "$py" -m venv "$MILVUS_VENV" || die "python -m venv failed (apt-get install python3-venv)"
    fi
    say "milvus: pip install milvus==$MILVUS_VERSION"
    timeout 900 "$MILVUS_VENV/bin/pip" install -q "milvus==$MILVUS_VERSION" >"$STATE/milvus-pip.log" 2>&1 \
        || die "pip install milvus==$MILVUS_VERSION failed, see $STATE/milvus-pip.log"
    say "milvus: installed in $((SECONDS - t0)) s"
}

milvus_pid() {   # the recorded PID, if that process is still our milvus-server
    local pid
    pid="$(cat "$MILVUS_PID_FILE" 2>/dev/null || true)"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q milvus-server && echo "$pid"
}

milvus_healthy() {
    in_ns curl -fsS -m 3 "http://127.0.0.1:$MILVUS_HEALTH_PORT/healthz" >/dev/null 2>&1
}

milvus_start() {
    milvus_installed || die "Milvus not installed (run: bash scripts/servers.sh install milvus)"
    command -v curl >/dev/null || die "curl is needed for the health check (apt-get install curl)"
    local t0=$SECONDS pid
    if pid="$(milvus_pid)"; then
        if milvus_healthy; then
            say "milvus: already running (pid $pid) on 127.0.0.1:$MILVUS_PORT in netns '${NETNS:-<current>}'"
            return
        fi
        die "milvus: pid $pid is running but not healthy; run: bash scripts/servers.sh stop milvus"
    fi
    local p
    for p in "$MILVUS_PORT" "$MILVUS_HEALTH_PORT"; do
        port_in_use "$p" && die "port $p is already taken in netns '${NETNS:-<current>}' (another Milvus? set PODSEARCH_NETNS to another name)"
    done
    # Any socket still on these ports (TIME-WAIT) would make milvus-server pick other ports.
    local tw_deadline=$((SECONDS + 70))
    while in_ns ss -Htan "( sport = :$MILVUS_PORT or sport = :$MILVUS_HEALTH_PORT )" | grep -q .; do
        [ $SECONDS -lt $tw_deadline ] || die "sockets on ports $MILVUS_PORT/$MILVUS_HEALTH_PORT did not clear within 70 s"
        [ -n "${tw_said:-}" ] || { say "milvus: waiting for old connections on $MILVUS_PORT/$MILVUS_HEALTH_PORT to clear (TIME-WAIT, up to 60 s)"; tw_said=1; }
        sleep 1
    done
    # Data is kept across stop/start (restart on old data measured 6-10 s, also after SIGKILL);
    # PODSEARCH_MILVUS_FRESH=1 starts an empty server instead.
    if [ "${PODSEARCH_MILVUS_FRESH:-0}" = 1 ] && [ -d "$MILVUS_DATA/data" ]; then
        say "milvus: PODSEARCH_MILVUS_FRESH=1: removing the previous run's data and logs in $MILVUS_DATA"
        rm -rf "$MILVUS_DATA/data" "$MILVUS_DATA/logs" "$MILVUS_DATA/run"
    fi
    mkdir -p "$MILVUS_DATA/run" /run/milvus
    say "milvus: starting milvus-server --data $MILVUS_DATA (netns '${NETNS:-<current>}', log $MILVUS_LOG)"
    # setsid: its own session and process group, so stop can signal the whole tree; the shell
    # records its own PID and then becomes milvus-server (exec), so the PID is the server's.
    # unshare -m + bind mount: Milvus locks the fixed path /run/milvus/standalone.pid, which would
    # let only one instance run per machine; each instance gets its own /run/milvus instead.
    rm -f "$MILVUS_PID_FILE"
    : >"$MILVUS_LOG"
    # A simple command (not the in_ns function) so that no helper subshell stays behind as parent.
    local ns_prefix=()
    [ -z "$NETNS" ] || ns_prefix=(ip netns exec "$NETNS")
    "${ns_prefix[@]}" setsid unshare -m --propagation private bash -c \
        'mount --bind "$1" /run/milvus || exit 97; echo $$ >"$2"; shift 2; exec "$@"' _ \
        "$MILVUS_DATA/run" "$MILVUS_PID_FILE" \
        "$MILVUS_VENV/bin/milvus-server" --data "$MILVUS_DATA" \
        --extra-config "common.session.ttl=$MILVUS_SESSION_TTL" >>"$MILVUS_LOG" 2>&1 </dev/null &
    local deadline=$((SECONDS + WAIT_S))
    until milvus_healthy; do
        if ! milvus_pid >/dev/null && [ $((SECONDS - t0)) -gt 2 ]; then
            tail -n 20 "$MILVUS_LOG" >&2 || true
            die "milvus-server exited during start-up, see $MILVUS_LOG"
        fi
        if [ $SECONDS -ge $deadline ]; then
            milvus_stop || true
            die "milvus: /healthz did not answer within ${WAIT_S}s, see $MILVUS_LOG and $MILVUS_DATA/logs/"
        fi
        sleep 1
    done
    if ! port_in_use "$MILVUS_PORT"; then
        milvus_stop || true
        die "milvus: healthy, but nothing listens on $MILVUS_PORT (milvus-server chose other ports, see $MILVUS_DATA/configs/milvus.yaml)"
    fi
    say "milvus: healthy on 127.0.0.1:$MILVUS_PORT (pid $(milvus_pid), $((SECONDS - t0)) s)"
}

descendants() {   # all descendant PIDs of $1, deepest first
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        descendants "$c"
        echo "$c"
    done
}

milvus_stop() {
    local pid
    if ! pid="$(milvus_pid)"; then
        say "milvus: not running"
        rm -f "$MILVUS_PID_FILE"
        return
    fi
    # The wrapper and its `milvus run standalone` child; collected before signalling because a
    # child whose parent died is re-parented and no longer found under it.
    local pids
    pids="$(descendants "$pid") $pid"
    say "milvus: stopping pid $pid and children ($(echo $pids | wc -w) processes), SIGKILL after ${MILVUS_GRACE_S}s"
    kill -TERM -- "-$pid" 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    local deadline=$((SECONDS + MILVUS_GRACE_S)) alive
    while :; do
        alive=""
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -n "$alive" ] || break
        if [ $SECONDS -ge $deadline ]; then
            say "milvus: still alive after ${MILVUS_GRACE_S}s:$alive; sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || true
            # shellcheck disable=SC2086
            kill -KILL $alive 2>/dev/null || true
            deadline=$((SECONDS + 10))
            local t_kill=$SECONDS
            while :; do
                alive=""
                for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
                [ -n "$alive" ] || break
                [ $((SECONDS - t_kill)) -lt 10 ] || die "milvus: processes$alive survived SIGKILL"
                sleep 0.2
            done
            break
        fi
        sleep 0.2
    done
    rm -f "$MILVUS_PID_FILE"
    # Wait until the ports are released, so an immediate start does not fail.
    deadline=$((SECONDS + 20))
    while { [ -z "$NETNS" ] || netns_exists; } && { port_in_use "$MILVUS_PORT" || port_in_use "$MILVUS_HEALTH_PORT"; }; do
        [ $SECONDS -lt $deadline ] || die "milvus: ports $MILVUS_PORT/$MILVUS_HEALTH_PORT still in use 20 s after stop"
        sleep 0.5
    done
    say "milvus: stopped"
}

milvus_status() {
    local pid
    if ! milvus_installed; then
        say "milvus: not installed"; return 1
    elif ! pid="$(milvus_pid)"; then
        say "milvus: stopped"; return 1
    elif milvus_healthy; then
        say "milvus: running (pid $pid) on 127.0.0.1:$MILVUS_PORT in netns '${NETNS:-<current>}' (data $MILVUS_DATA)"
    else
        say "milvus: pid $pid alive but /healthz does not answer (starting, or hung: see $MILVUS_LOG)"; return 1
    fi
}

# ---------------------------------------------------------------- env / exec
print_env() {
    local have_pg=0 have_milvus=0
    [ -f "$PG_PASS_FILE" ] && [ -n "$(pg_port)" ] && have_pg=1
    milvus_pid >/dev/null && have_milvus=1   # only a started Milvus: its tests then must run
    [ $have_pg = 1 ] || [ $have_milvus = 1 ] || die "no PostgreSQL cluster or Milvus server yet (run: bash scripts/servers.sh start)"
    echo "export PODSEARCH_TEST_NETNS='$NETNS'"
    if [ $have_pg = 1 ]; then
        local pass port
        pass="$(pg_password)"
        port="$(pg_port)"
        echo "export PODSEARCH_TEST_PG_URL='postgresql://$PG_USER:$pass@127.0.0.1:$port/$PG_DB'"
        # The Unix socket is a file, reachable from any network namespace (e.g. psql on the host).
        echo "export PODSEARCH_TEST_PG_SOCKET_URL='postgresql://$PG_USER:$pass@/$PG_DB?host=$PG_SOCK&port=$port'"
    fi
    [ $have_milvus = 0 ] || echo "export PODSEARCH_TEST_MILVUS_URI='http://127.0.0.1:$MILVUS_PORT'"
    if [ -n "$NETNS" ]; then
        echo "# TCP endpoints above live in netns '$NETNS': run clients with  ip netns exec $NETNS CMD"
        echo "#   or  bash scripts/servers.sh exec -- CMD"
    fi
}

run_exec() {
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || die "usage: servers.sh exec -- CMD [ARGS...]"
    eval "$(print_env | grep '^export')"
    if [ -n "$NETNS" ]; then
        netns_exists || die "network namespace '$NETNS' does not exist (run: bash scripts/servers.sh start)"
        exec ip netns exec "$NETNS" "$@"
    fi
    exec "$@"
}

# ---------------------------------------------------------------- main
usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
what="${1:-all}"
case "$cmd" in
    install|start|stop|status)
        case "$what" in pg|milvus|all) ;; *) die "unknown server '$what' (pg, milvus or all)" ;; esac ;;
esac
do_pg() { [ "$what" = pg ] || [ "$what" = all ]; }
do_milvus() { [ "$what" = milvus ] || [ "$what" = all ]; }

case "$cmd" in
    install)
        mkdir -p "$STATE"
        if do_pg; then pg_install; fi
        if do_milvus; then milvus_install; fi
        say "install: done" ;;
    start)
        mkdir -p "$STATE"
        ensure_netns
        if do_pg; then pg_start; fi
        if do_milvus; then milvus_start; fi
        say "start: done; clients: eval \"\$(bash scripts/servers.sh env)\" then ${NETNS:+ip netns exec $NETNS }CMD" ;;
    stop)
        if do_milvus; then milvus_stop; fi
        if do_pg; then pg_stop; fi
        say "stop: done" ;;
    clean)
        # Stops both, deletes their data, logs and the namespace; keeps the installed Milvus venv
        # (rm -rf the state directory to drop that too).
        what=all
        milvus_stop
        pg_stop
        say "clean: removing $PG_DIR $MILVUS_DATA and logs"
        rm -rf "$PG_DIR" "$MILVUS_DATA" "$MILVUS_LOG" "$MILVUS_PID_FILE"
        if [ -n "$NETNS" ] && netns_exists; then
            left="$(ip netns pids "$NETNS" 2>/dev/null | tr '\n' ' ')"
            [ -z "$left" ] || die "netns '$NETNS' still has processes ($left); not deleting it"
            say "clean: ip netns del $NETNS"
            ip netns del "$NETNS"
        fi
        say "clean: done" ;;
    status)
        rc=0
        if do_pg; then pg_status || rc=1; fi
        if do_milvus; then milvus_status || rc=1; fi
        exit $rc ;;
    env) print_env ;;
    exec) run_exec "$@" ;;
    ""|-h|--help|help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
esac

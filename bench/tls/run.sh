#!/usr/bin/env bash
# SIP over TLS benchmark: memory per idle TLS connection and TLS handshakes
# per second, against the release build of this repository on loopback.
#
#   bench/tls/run.sh [connections=2000] [seconds=10] [concurrency=8]
#
# Starts switchboard on 127.0.0.1 (SIP 16060, TLS 16061; override with
# SB_TLS_BENCH_PORT) with its self-signed certificate, then runs
# runtime-tokio/examples/tls_load.rs: `idle` opens N TLS connections and
# reads the server's VmRSS before/with them/after closing; `handshakes`
# runs full TLS 1.3 handshakes (no resumption) from `concurrency` tasks.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-2000}"
SECS="${2:-10}"
CONC="${3:-8}"
PORT="${SB_TLS_BENCH_PORT:-16061}"
SIP_PORT=$((PORT - 1))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { echo "[tls-bench] $*" >&2; }

log "building switchboard and tls_load (release)"
(cd "$ROOT" && cargo build --release -p switchboard --bin switchboard --example tls_load --quiet)
SB="$CARGO_TARGET_DIR/release/switchboard"
LOAD="$CARGO_TARGET_DIR/release/examples/tls_load"

DIR="$(mktemp -d /tmp/sb-tls-bench.XXXXXX)"
cat >"$DIR/switchboard.toml" <<TOML
[service]
sip_domain = "bench.test"
listen = ["127.0.0.1"]
sip_port = $SIP_PORT
max_tcp_connections = 20000
[logging]
level = "errors"
directory = "$DIR/logs"
[storage]
data_dir = "$DIR/data"
[tls]
port = $PORT
TOML
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true
"$SB" -c "$DIR/switchboard.toml" >"$DIR/stdout" 2>"$DIR/stderr" </dev/null &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 150); do
    grep -q '^ready:' "$DIR/stdout" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$DIR/stderr" >&2; exit 1; }
    sleep 0.1
done
grep -q '^ready:' "$DIR/stdout" || { log "server not ready"; cat "$DIR/stderr" >&2; exit 1; }
log "$(grep '^tls certificate' "$DIR/stdout" || true)"
CA="$DIR/data/tls-selfsigned.crt"
# Warm up: the first handshakes allocate the server's long-lived pools.
"$LOAD" idle "127.0.0.1:$PORT" bench.test "$CA" "$PID" 50 >/dev/null
"$LOAD" idle "127.0.0.1:$PORT" bench.test "$CA" "$PID" "$N"
"$LOAD" handshakes "127.0.0.1:$PORT" bench.test "$CA" "$PID" "$SECS" "$CONC"

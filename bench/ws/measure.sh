#!/usr/bin/env bash
# Memory per idle WebSocket connection (issue 5 "Speed and size"): starts the
# release server with WS and WSS on loopback, opens N idle clients with
# `runtime-tokio/examples/ws_idle.rs` (handshake with the `sip` subprotocol,
# one REGISTER each, then idle answering pings), and reports the server's RSS
# growth per connection, for WSS and for WS. Then the clients vanish and the
# RSS and the stats line after the cleanup are shown.
#
# Usage: bench/ws/measure.sh [N=2000]   (ports 17060, 17080, 17443 on 127.0.0.1)
#        ROUNDS=3 bench/ws/measure.sh 2000   (then 2 more rounds of N clients that come and
#        vanish; the RSS after each round shows whether churn grows the server)
set -euo pipefail
N=${1:-2000}
ROUNDS=${ROUNDS:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -q -p switchboard --bin switchboard --example ws_idle
BIN=$CARGO_TARGET_DIR/release/switchboard
IDLE=$CARGO_TARGET_DIR/release/examples/ws_idle
DIR=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat > "$DIR/switchboard.toml" <<TOML
[service]
sip_domain = "bench.test"
listen = ["127.0.0.1"]
sip_port = 17060
save_registrations = false
[security]
sip_authentication = false
[websocket]
ws_port = 17080
wss_port = 17443
max_connections = 100000
[logging]
level = "sessions"
directory = "$DIR/logs"
[storage]
data_dir = "$DIR/data"
TOML
for i in $(seq 0 $((N - 1))); do echo "u$i,pw-bench-$i"; done > "$DIR/users.csv"
"$BIN" -c "$DIR/switchboard.toml" ext import "$DIR/users.csv" > /dev/null
ulimit -n 65536 2>/dev/null || true
# A fresh server per kind, so memory freed by one run is not reused by the next.
start_server() {
  "$BIN" -c "$DIR/switchboard.toml" > "$DIR/out" 2> "$DIR/err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q '^ready' "$DIR/out" 2>/dev/null && break; sleep 0.1; done
}
SERVER=
rss() { awk '/VmRSS/ {print $2}' /proc/$SERVER/status; }
stats() { kill -USR1 $SERVER; sleep 0.5; grep 'stats:' "$DIR/err" | tail -1 | sed 's/.*stats: //'; }
# Warm up allocator and TLS paths with a few connections first.
exec 3< <(sleep 600)
for kind in wss ws; do
  port=17443; [ $kind = ws ] && port=17080
  rm -f "$DIR/out"
  start_server
  "$IDLE" $kind 127.0.0.1:$port 50 register < /dev/null > /dev/null 2>&1 || true
  sleep 1
  before=$(rss)
  mkfifo "$DIR/in.$kind"
  "$IDLE" $kind 127.0.0.1:$port "$N" register < "$DIR/in.$kind" > "$DIR/idle.$kind" 2>&1 &
  CLIENT=$!
  exec 4> "$DIR/in.$kind"
  for _ in $(seq 600); do grep -q '^ready' "$DIR/idle.$kind" 2>/dev/null && break; sleep 0.1; done
  sleep 2
  after=$(rss)
  echo "$kind: $N idle registered connections: server RSS $before -> $after KiB: $(( (after - before) * 1024 / N )) bytes per connection"
  echo "  $(stats)"
  exec 4>&-   # the clients end (stdin closed): the sockets close
  wait $CLIENT || true
  sleep 4
  echo "  after they left: RSS $(rss) KiB; $(stats)"
  # Churn: more rounds of N clients that register and vanish (no close frame).
  for round in $(seq 2 "$ROUNDS"); do
    rm -f "$DIR/idle.$kind"
    "$IDLE" $kind 127.0.0.1:$port "$N" register < "$DIR/in.$kind" > "$DIR/idle.$kind" 2>&1 &
    CLIENT=$!
    exec 4> "$DIR/in.$kind"
    for _ in $(seq 600); do grep -q '^ready' "$DIR/idle.$kind" 2>/dev/null && break; sleep 0.1; done
    peak=$(rss)
    exec 4>&-
    wait $CLIENT || true
    sleep 4
    echo "  round $round: RSS with $N clients $peak KiB, after they left $(rss) KiB; $(stats)"
  done
  kill $SERVER; wait $SERVER 2>/dev/null || true
done

#!/usr/bin/env bash
# bench/tls/compare.sh — SIP over TLS: Switchboard vs Kamailio's tls module (OpenSSL), one run.
#
# Not part of the tests; run by hand on a quiet machine:
#
#     bash bench/tls/compare.sh
#     STEP_SECS=5 REG_RATES="500 1000 2000" bash bench/tls/compare.sh     # quicker
#
# What it measures, for each server, on 127.0.0.1 with the same ECDSA P-256 certificate:
#   1. authenticated REGISTER over one long-lived TLS connection: the rate is stepped up
#      (STEP_SECS per step) until more than 0.1 % fail or the rate is not sustained; the server's
#      CPU time (utime+stime of all its processes) per REGISTER at each step. Debian's sipp has no
#      TLS, so sipp speaks TCP to a local socat that holds the TLS connection to the server
#      (socat's CPU is not the server's and is not counted);
#   2. full TLS handshakes: `openssl s_time -new` for HS_SECS seconds (each connection a full
#      handshake, no resumption); handshakes/s seen by the client and the server's CPU per
#      handshake (the client is on the same 2 cores, so the CPU figure is the comparable one);
#   3. memory per idle TLS connection: IDLE_CONNS connections opened and held by
#      bench/tls/idle_conns.py; (RSS after - RSS before) / N for Switchboard, PSS for Kamailio
#      (its workers share memory).
# Results are printed as a markdown table (and written to $WORK/results.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STEP_SECS=${STEP_SECS:-8}
REG_RATES=${REG_RATES:-"500 1000 2000 3000 4000 6000 8000"}
HS_SECS=${HS_SECS:-8}
IDLE_CONNS=${IDLE_CONNS:-2000}
USERS=${USERS:-10000}
IP=127.0.0.1
SB_UDP=${SB_UDP:-16060}
SB_TLS=${SB_TLS:-16061}
KAM_UDP=${KAM_UDP:-16070}
KAM_TLS=${KAM_TLS:-16071}
RELAY_PORT=${RELAY_PORT:-16080}
SIPP_PORT=${SIPP_PORT:-16081}
WORK=${WORK:-$(mktemp -d /tmp/tls-bench.XXXXXX)}
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SB_BIN="$CARGO_TARGET_DIR/release/switchboard"
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

wait_tcp() { # $1 port, $2 pid
    local i
    for i in $(seq 1 300); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        kill -0 "$2" 2>/dev/null || die "server exited during start-up"
        sleep 0.05
    done
    die "nothing listens on TCP $1 after 15 s"
}

# ---------------------------------------------------------------- prerequisites
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v kamailio >/dev/null || need+=(kamailio)
[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so ] || need+=(kamailio-tls-modules)
command -v socat >/dev/null || need+=(socat)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building switchboard (release)"
    (cd "$ROOT" && cargo build --release -p switchboard --quiet) || die "cargo build failed"
fi

# ---------------------------------------------------------------- certificate, users
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$IP" -addext "subjectAltName=IP:$IP" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || die "openssl req failed"
python3 - "$USERS" "$WORK/users.csv" "$WORK/import.csv" "$WORK/htable" "$IP" <<'EOF'
import hashlib, sys
n, csv, imp, ht, realm = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
with open(csv, "w") as f, open(imp, "w") as g, open(ht, "w") as h:
    f.write("SEQUENTIAL\n")
    h.write("id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n")
    for i in range(n):
        u = 10000 + i
        f.write(f"{u};[authentication username={u} password=pw{u}]\n")
        g.write(f"{u},pw{u}\n")
        ha1 = hashlib.md5(f"{u}:{realm}:pw{u}".encode()).hexdigest()
        h.write(f"{i + 1}:{u}:0:0:{ha1}:0\n")
EOF

# ---------------------------------------------------------------- servers
SERVER_PID=
start_switchboard() {
    local d=$WORK/switchboard
    mkdir -p "$d"
    cat >"$d/switchboard.toml" <<EOF
[service]
sip_domain = "$IP"
transport = "udp"
sip_port = $SB_UDP
listen = ["$IP"]
save_registrations = false

[tls]
port = $SB_TLS
certificate = "$WORK/cert.pem"
private_key = "$WORK/key.pem"

[websocket]
ws_port = 0
wss_port = 0

[security]
digest_algorithms = ["MD5"]

[logging]
level = "errors"
directory = "$d/logs"

[storage]
data_dir = "$d/data"
EOF
    "$SB_BIN" -c "$d/switchboard.toml" ext import "$WORK/import.csv" >"$d/import.log" 2>&1 ||
        { cat "$d/import.log" >&2; die "ext import failed"; }
    "$SB_BIN" -c "$d/switchboard.toml" >"$d/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_tcp "$SB_TLS" "$SERVER_PID"
    TLS_PORT=$SB_TLS
    MEM=VmRSS
}
start_kamailio() {
    local d=$WORK/kamailio
    mkdir -p "$d/db" "$d/run"
    printf 'table_name(str) table_version(int)\nhtable:2\n' >"$d/db/version"
    cp "$WORK/htable" "$d/db/htable"
    cat >"$d/tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = $WORK/cert.pem
private_key = $WORK/key.pem
EOF
    kamailio -f "$ROOT/bench/sipp/kamailio.cfg" -DD -E -x tlsf -m 256 -M 8 -n "$NCPU" \
        -l "udp:$IP:$KAM_UDP" -l "tls:$IP:$KAM_TLS" -A WITH_TLS -A "TLS_CFG=\"$d/tls.cfg\"" \
        -A "HTABLE_DB_URL=\"text://$d/db\"" -A "BENCH_REALM=\"$IP\"" \
        -P "$d/run/kamailio.pid" -Y "$d/run" >"$d/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_tcp "$KAM_TLS" "$SERVER_PID"
    sleep 0.5
    TLS_PORT=$KAM_TLS
    MEM=Pss
}

# ---------------------------------------------------------------- 1. REGISTER over TLS
register_steps() { # $1 target
    local target=$1 rate calls c0 c1 ok fail wall t0 t1 relay best=0
    socat "TCP-LISTEN:$RELAY_PORT,bind=$IP,reuseaddr,fork" \
        "OPENSSL:$IP:$TLS_PORT,verify=0" 2>"$WORK/$target.socat.log" &
    relay=$!
    PIDS+=("$relay")
    sleep 0.3
    for rate in $REG_RATES; do
        calls=$((rate * STEP_SECS))
        c0=$(cpu_ticks "$SERVER_PID")
        t0=$(date +%s.%N)
        timeout $((STEP_SECS + 40)) sipp "$IP:$RELAY_PORT" -sf "$HERE/register_tls.xml" \
            -inf "$WORK/users.csv" -key srvport "$TLS_PORT" -auth_uri "$IP:$TLS_PORT;transport=tls" \
            -i "$IP" -p "$SIPP_PORT" -t t1 -r "$rate" -rp 1000 -m "$calls" -l $((rate * 2 + 2000)) \
            -recv_timeout 8000 -nostdin -trace_stat -stf "$WORK/$target.$rate.csv" -fd 60 \
            >"$WORK/$target.$rate.log" 2>&1 </dev/null || true
        t1=$(date +%s.%N)
        c1=$(cpu_ticks "$SERVER_PID")
        read -r ok fail < <(python3 - "$WORK/$target.$rate.csv" "$calls" <<'EOF'
import sys
ok = fail = 0
try:
    rows = [l.rstrip("\n;").split(";") for l in open(sys.argv[1]) if l.strip()]
    col = {h: i for i, h in enumerate(rows[0])}
    ok, fail = int(rows[-1][col["SuccessfulCall(C)"]]), int(rows[-1][col["FailedCall(C)"]])
except Exception:
    pass
print(ok, max(fail, int(sys.argv[2]) - ok))
EOF
        )
        wall=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
        printf '%s\tregister\t%s\t%s\t%s\t%s\t%s\n' "$target" "$rate" "$ok" "$fail" "$wall" \
            $((c1 - c0)) >>"$WORK/steps.tsv"
        log "$target REGISTER/TLS $rate/s: $ok ok, $fail failed, ${wall}s, server cpu $(((c1 - c0) * 1000 / CLK_TCK)) ms"
        if [ $((fail * 1000)) -gt "$calls" ] ||
            [ "$(python3 -c "print(int($t1 - $t0 > $STEP_SECS * 1.05 + 1.5))")" = 1 ]; then
            break
        fi
        best=$rate
        sleep 1
    done
    printf '%s\tregister-best\t%s\n' "$target" "$best" >>"$WORK/best.tsv"
    stop_pid "$relay"
}

# ---------------------------------------------------------------- 2. handshakes
handshakes() { # $1 target
    local target=$1 c0 c1 out n
    c0=$(cpu_ticks "$SERVER_PID")
    out=$(timeout $((HS_SECS + 20)) openssl s_time -connect "$IP:$TLS_PORT" -new -time "$HS_SECS" 2>&1 || true)
    c1=$(cpu_ticks "$SERVER_PID")
    n=$(grep -o '^[0-9]* connections in [0-9.]*s' <<<"$out" | head -1 | awk '{print $1}')
    [ -n "$n" ] || { echo "$out" >&2; die "openssl s_time gave no count"; }
    printf '%s\thandshakes\t%s\t%s\t%s\n' "$target" "$n" "$HS_SECS" $((c1 - c0)) >>"$WORK/steps.tsv"
    log "$target: $n full handshakes in ${HS_SECS}s, server cpu $(((c1 - c0) * 1000 / CLK_TCK)) ms"
}

# ---------------------------------------------------------------- 3. idle connections
idle() { # $1 target
    local target=$1 m0 m1 holder
    m0=$(mem_kib "$SERVER_PID" "$MEM")
    python3 "$HERE/idle_conns.py" "$IP" "$TLS_PORT" "$IDLE_CONNS" "$WORK/$target.idle.ready" \
        >"$WORK/$target.idle.log" 2>&1 &
    holder=$!
    PIDS+=("$holder")
    local i
    for i in $(seq 1 600); do
        [ -f "$WORK/$target.idle.ready" ] && break
        kill -0 "$holder" 2>/dev/null || { cat "$WORK/$target.idle.log" >&2; die "idle_conns.py failed"; }
        sleep 0.1
    done
    sleep 3
    m1=$(mem_kib "$SERVER_PID" "$MEM")
    printf '%s\tidle\t%s\t%s\t%s\t%s\n' "$target" "$IDLE_CONNS" "$m0" "$m1" "$MEM" >>"$WORK/steps.tsv"
    log "$target: $IDLE_CONNS idle TLS connections: $MEM $m0 -> $m1 KiB"
    stop_pid "$holder"
}

: >"$WORK/steps.tsv"
: >"$WORK/best.tsv"
START_TS=$(date -u +%Y-%m-%dT%H:%MZ)
ulimit -n 65536 2>/dev/null || true
for target in ${TARGETS:-switchboard kamailio}; do
    log "== $target"
    "start_$target"
    register_steps "$target"
    handshakes "$target"
    idle "$target"
    stop_pid "$SERVER_PID"
done

python3 "$HERE/report.py" "$WORK" "$STEP_SECS" "$CLK_TCK" "$START_TS" \
    "$(cd "$ROOT" && git rev-parse --short HEAD)" "$(kamailio -v 2>/dev/null | head -1)" >"$WORK/results.md"
cat "$WORK/results.md"
log "raw data in $WORK"

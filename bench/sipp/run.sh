#!/usr/bin/env bash
# bench/sipp/run.sh — Switchboard vs Kamailio over real sockets, with sipp, in one run.
#
# Not part of the tests; run by hand from anywhere in the repository:
#
#     bash bench/sipp/run.sh                 # everything, ~15 min on 2 cores
#     STEP_SECS=5 EXTRAS=0 bash bench/sipp/run.sh   # quicker, no start-up / 100k-contact runs
#     STEP_SECS=2 EXTRAS=0 SCENARIOS=routed CALL_RATES="250 500" UPDATE_BENCHMARKS=0 \
#         bash bench/sipp/run.sh                  # a smoke run of one scenario
#
# Targets, in this order, each on 127.0.0.1 with UDP:
#   direct     sipp UAC -> sipp UAS, no server: the machine's ceiling
#   switchboard  the release build of this repository (runtime-tokio, binary `switchboard`)
#   kamailio   Debian's kamailio 5.6 with bench/sipp/kamailio.cfg (-x tlsf, htable credentials,
#              children = nproc, usrloc in memory, tm, record-route, a static prefix route for (c))
# Scenarios:
#   (a) register.xml  digest-authenticated REGISTER of USERS distinct users (injection CSV)
#   (b) call_uac.xml / call_uas.xml  INVITE(407, ACK) INVITE/100/180/200/ACK/BYE/200 between two
#       registered users, proxy-authenticated, record-routed, transaction-stateful
#   (c) call_uac.xml / call_uas.xml  the same call to ROUTED_NUMBER (00…): a prefix route sends it
#       to a sipp UAS "gateway" on GW_IP:GW_PORT with 00 replaced by + (Switchboard: `dest add`
#       --remove-prefix 00 --add-prefix + and `route add 00`; Kamailio: strip(2), prefix("+"),
#       rewritehostport, t_relay). The direct target has no (c): its ceiling is (b)'s.
# SCENARIOS (default "register call routed") selects the scenarios stepped.
# For each target and scenario the rate is stepped up (STEP_SECS seconds per step) until more
# than 0.1 % of the calls fail or the rate is not sustained. Every step records the server's CPU
# time (utime+stime of the server and all its processes/threads, /proc/<pid>/stat, before and
# after). Peak RSS is VmHWM from /proc. Results are written to $WORK/results.md and replace the
# section "Over sockets: Switchboard vs Kamailio (sipp)" of BENCHMARKS.md (UPDATE_BENCHMARKS=0
# leaves it alone).
#
# Extras (EXTRAS=1): Switchboard start-up to the first answered OPTIONS with USERS extensions in
# the database, and RSS with BIG_USERS (100,000) registered contacts.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STEP_SECS=${STEP_SECS:-10}
REG_RATES=${REG_RATES:-"500 1000 2000 3000 4000 6000 8000 12000 16000"}
CALL_RATES=${CALL_RATES:-"250 500 1000 1500 2000 3000 4000 6000 8000"}
USERS=${USERS:-10000}
BIG_USERS=${BIG_USERS:-100000}
EXTRAS=${EXTRAS:-1}
UPDATE_BENCHMARKS=${UPDATE_BENCHMARKS:-1}
SCENARIOS=${SCENARIOS:-"register call routed"}
ROUTED_RATES=${ROUTED_RATES:-$CALL_RATES}
MAX_FAIL_PPM=${MAX_FAIL_PPM:-1000} # 0.1 %
IP=127.0.0.1
SB_PORT=${SB_PORT:-15060}
KAM_PORT=${KAM_PORT:-15070}
DIRECT_PORT=${DIRECT_PORT:-15080}
UAS_PORT=${UAS_PORT:-15090}
UAC_PORT=${UAC_PORT:-15091}
REG_PORT=${REG_PORT:-15092}
# (c)'s gateway: not on 127.0.0.1, because Switchboard trusts requests from a destination's
# gateway address (no proxy challenge) and the callers are on 127.0.0.1
GW_IP=${GW_IP:-127.0.0.2}
GW_PORT=${GW_PORT:-15093}
ROUTED_NUMBER=${ROUTED_NUMBER:-00442079460000}
CALLER=10000 # first user; its password is pw10000
CALLEE=10001
BUFF=4194304 # sipp socket buffers (the kernel caps them at net.core.[rw]mem_max)
WORK=${WORK:-$(mktemp -d /tmp/sipp-bench.XXXXXX)}
mkdir -p "$WORK"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SB_BIN="$CARGO_TARGET_DIR/release/switchboard"
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

port_free() { ! ss -Hlnu "sport = :$1" | grep -q .; }

# Waits (bounded) until $1 prints "ready:" in log $2.
wait_ready() {
    local pid=$1 logf=$2 pat=$3 i
    for i in $(seq 1 300); do
        grep -q "$pat" "$logf" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$logf" >&2; die "server exited during start-up"; }
        sleep 0.05
    done
    cat "$logf" >&2
    die "server not ready after 15 s"
}

nprocs() { tree_pids "$1" | wc -l; }

# ---------------------------------------------------------------- prerequisites
need_pkgs=()
command -v sipp >/dev/null || need_pkgs+=(sip-tester)
command -v kamailio >/dev/null || need_pkgs+=(kamailio)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    # htable, auth, db_text, tm, usrloc, registrar are all in Debian's main kamailio package
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >&2
fi
command -v python3 >/dev/null || die "python3 is needed"
for p in $SB_PORT $KAM_PORT $DIRECT_PORT $UAS_PORT $UAC_PORT $REG_PORT $GW_PORT; do
    port_free "$p" || die "UDP port $p is in use (set *_PORT variables)"
done

log "building switchboard (release) into $CARGO_TARGET_DIR"
(cd "$ROOT" && cargo build --release -p switchboard --quiet) || die "cargo build failed"
[ -x "$SB_BIN" ] || die "no binary at $SB_BIN"

# ---------------------------------------------------------------- users
# Users 10000 .. 10000+USERS-1, password "pw<user>"; realm = the SIP domain = 127.0.0.1.
# sipp injection lines: "user;[authentication username=user password=pw<user>]".
make_users() { # $1 = count, $2 = file (sipp injection CSV)
    python3 - "$1" "$2" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n):
        u = 10000 + i
        f.write(f"{u};[authentication username={u} password=pw{u}]\n")
EOF
}
make_users "$USERS" "$WORK/users.csv"
auth_csv() { printf 'SEQUENTIAL\n%s;[authentication username=%s password=pw%s]\n' "$1" "$1" "$1"; }
auth_csv "$CALLER" >"$WORK/caller.csv"
auth_csv "$CALLEE" >"$WORK/callee.csv"

# Switchboard settings: UDP on 127.0.0.1 only, the domain/realm 127.0.0.1, logging errors only,
# registrations in memory only (like Kamailio's usrloc db_mode 0). Call records are still
# written to SQLite by the storage worker (Switchboard's accounting; Kamailio does none here).
sb_settings() { # $1 = dir, $2 = save_registrations
    mkdir -p "$1"
    cat >"$1/switchboard.toml" <<EOF
[service]
sip_domain = "$IP"
transport = "udp"
sip_port = $SB_PORT
listen = ["$IP"]
save_registrations = $2

[security]
# MD5 only, like Kamailio's challenge: sipp 3.6.1 answers only the first challenge and only MD5
digest_algorithms = ["MD5"]

[logging]
level = "errors"
directory = "$1/logs"

[storage]
data_dir = "$1/data"
EOF
}

# Provisions extensions 10000.. into a Switchboard database: `switchboard ext import` when this
# build has it, else one `ext add` (creates the database and shows the stored HA1 form) and a
# bulk insert of the rest in one SQLite transaction, checked against that first row.
sb_provision() { # $1 = dir, $2 = count
    local dir=$1 n=$2
    python3 - "$n" "$dir/import.csv" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        u = 10000 + i
        f.write(f"{u},pw{u}\n")
EOF
    if "$SB_BIN" ext import --help >/dev/null 2>&1; then
        "$SB_BIN" -c "$dir/switchboard.toml" ext import "$dir/import.csv" >"$dir/import.log" 2>&1 ||
            { cat "$dir/import.log" >&2; die "ext import failed"; }
        return
    fi
    echo "pw10000" | "$SB_BIN" -c "$dir/switchboard.toml" ext add 10000 --password-stdin >"$dir/import.log" 2>&1 ||
        { cat "$dir/import.log" >&2; die "ext add failed"; }
    python3 - "$dir/data/switchboard.db" "$n" "$IP" <<'EOF' || die "bulk provisioning failed"
import hashlib, sqlite3, sys
db, n, realm = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def ha1(u, p):
    s = f"{u}:{realm}:{p}".encode()
    return hashlib.md5(s).hexdigest(), hashlib.sha256(s).hexdigest()
con = sqlite3.connect(db)
row = con.execute("SELECT realm, ha1_md5, ha1_sha256 FROM extensions WHERE username='10000'").fetchone()
if row != (realm, *ha1("10000", "pw10000")):
    sys.exit(f"stored HA1 form differs from md5/sha256 hex of user:realm:password: {row}")
with con:
    con.executemany(
        "INSERT OR REPLACE INTO extensions (username, realm, ha1_md5, ha1_sha256, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, unixepoch(), unixepoch())",
        ((str(u), realm, *ha1(str(u), f"pw{u}")) for u in range(10001, 10000 + n)))
print(con.execute("SELECT count(*) FROM extensions").fetchone()[0], "extensions", file=sys.stderr)
EOF
}

# Kamailio credentials: a db_text table "htable" (key = username, value = HA1 MD5) that the
# htable module loads into memory once at start.
kam_provision() { # $1 = dir, $2 = count
    mkdir -p "$1/db"
    printf 'table_name(str) table_version(int)\nhtable:2\n' >"$1/db/version"
    python3 - "$2" "$1/db/htable" "$IP" <<'EOF'
import hashlib, sys
n, path, realm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, "w") as f:
    f.write("id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n")
    for i in range(n):
        u = 10000 + i
        ha1 = hashlib.md5(f"{u}:{realm}:pw{u}".encode()).hexdigest()
        f.write(f"{i + 1}:{u}:0:0:{ha1}:0\n")
EOF
}

# ---------------------------------------------------------------- servers
SERVER_PID=
start_switchboard() { # $1 = dir
    local dir=$1
    "$SB_BIN" -c "$dir/switchboard.toml" >"$dir/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_ready "$SERVER_PID" "$dir/server.log" '^ready:'
    SERVER_PORT=$SB_PORT
}
start_kamailio() { # $1 = dir
    local dir=$1
    mkdir -p "$dir/run"
    kamailio -f "$HERE/kamailio.cfg" -DD -E -x tlsf -m 256 -M 8 -n "$NCPU" \
        -l "udp:$IP:$KAM_PORT" -A "HTABLE_DB_URL=\"text://$dir/db\"" -A "BENCH_REALM=\"$IP\"" \
        -A "BENCH_GW=\"$GW_IP:$GW_PORT\"" \
        -P "$dir/run/kamailio.pid" -Y "$dir/run" >"$dir/server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    # Kamailio prints nothing at debug=1 when it is up: wait for its UDP socket and workers.
    local i
    for i in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/server.log" >&2; die "kamailio exited"; }
        ss -Hlnu "sport = :$KAM_PORT" | grep -q . && [ "$(nprocs "$SERVER_PID")" -gt "$NCPU" ] && break
        sleep 0.05
    done
    sleep 0.5
    SERVER_PORT=$KAM_PORT
}

# ---------------------------------------------------------------- sipp runs
# UDP does not keep order and Kamailio's worker processes relay a 180 and the 200 right behind it
# in parallel, so a 180 may arrive after the 200 (even after the ACK): an unexpected message does
# not abort the call (-abortunexp); a call that does not get what it waits for fails by
# -recv_timeout (8 s) and is counted.
# One sipp UAC run: rate $1/s for $2 calls; prints "ok fail retrans wall_s" (parsed from the
# statistics file sipp writes at exit).
sipp_uac() { # $1 rate, $2 calls, $3 scenario, $4 injection csv, $5 local port, $6 remote port, $7 out prefix, [$8 service, $9... more sipp options]
    local rate=$1 calls=$2 sf=$3 inf=$4 lport=$5 rport=$6 out=$7 svc=${8:-none}
    local extra=("${@:9}")
    local limit=$((rate * 2 > 2000 ? rate * 2 : 2000))
    local t0 t1 rc=0
    rm -f "$out.stat.csv"
    t0=$(date +%s.%N)
    timeout $((calls / rate + 40)) sipp "$IP:$rport" -sf "$HERE/$sf" -inf "$inf" -s "$svc" \
        -i "$IP" -p "$lport" -mp $((lport + 1000)) -t u1 -r "$rate" -rp 1000 -m "$calls" -l "$limit" \
        -buff_size "$BUFF" -recv_timeout 8000 -nostdin -default_behaviors all,-abortunexp \
        -trace_stat -stf "$out.stat.csv" -fd 60 -trace_err -error_file "$out.err.log" "${extra[@]}" \
        >"$out.screen.log" 2>&1 </dev/null || rc=$?
    t1=$(date +%s.%N)
    python3 - "$out.stat.csv" "$t0" "$t1" "$calls" "$rc" <<'EOF'
import sys
path, t0, t1, calls, rc = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ok = fail = retr = 0
try:
    lines = [l.rstrip("\n;").split(";") for l in open(path) if l.strip()]
    head, last = lines[0], lines[-1]
    col = {h: i for i, h in enumerate(head)}
    ok = int(last[col["SuccessfulCall(C)"]])
    fail = int(last[col["FailedCall(C)"]])
    retr = int(last[col["Retransmissions(C)"]])
except Exception as e:  # no statistics: count every call as failed
    print(f"no statistics from sipp (exit {rc}): {e}", file=sys.stderr)
fail = max(fail, calls - ok)
print(ok, fail, retr, f"{t1 - t0:.2f}")
EOF
}

# Background sipp UAS on $1 with scenario $2 (on address $4, default $IP); sets UAS_PID.
start_uas() {
    local port=$1 sf=$2 out=$3 ip=${4:-$IP}
    sipp -sf "$HERE/$sf" -i "$ip" -p "$port" -mp $((port + 1000)) -t u1 -buff_size "$BUFF" -nostdin \
        -default_behaviors all -trace_err -error_file "$out.err.log" >"$out.screen.log" 2>&1 </dev/null &
    UAS_PID=$!
    PIDS+=("$UAS_PID")
    sleep 0.3
    kill -0 "$UAS_PID" 2>/dev/null || { cat "$out.screen.log" >&2; die "sipp UAS did not start"; }
}

# One registration of user $2 (csv $2) from local port $1 against the server (so the contact is
# that port): used to register the callee at the UAS's port and the caller at the UAC's port.
register_one() { # $1 local port, $2 csv, $3 out prefix
    local r
    r=$(sipp_uac 10 1 register.xml "$2" "$1" "$SERVER_PORT" "$3")
    [ "${r%% *}" = 1 ] || die "registration from port $1 failed ($r); see $3.*"
}

# Steps a scenario's rate up. Appends rows "target scenario rate ok fail retrans wall cpu_ticks"
# to $WORK/steps.tsv and prints the highest passing rate (0 if none).
step_up() { # $1 target, $2 scenario (register|call|routed), $3 server pid (or "" for direct), $4 remote port
    local target=$1 scen=$2 spid=$3 rport=$4 best=0 rate calls r ok fail retr wall c0 c1 ppm sustained
    local rates sf inf lport svc extra=()
    [[ " $SCENARIOS " == *" $scen "* ]] || return 0
    case $scen in
        register) rates=$REG_RATES sf=register.xml inf=$WORK/users.csv lport=$REG_PORT svc=none ;;
        call) rates=$CALL_RATES sf=call_uac.xml inf=$WORK/caller.csv lport=$UAC_PORT svc=$CALLEE ;;
        routed) rates=$ROUTED_RATES sf=call_uac.xml inf=$WORK/caller.csv lport=$UAC_PORT svc=$ROUTED_NUMBER ;;
        *) die "unknown scenario $scen" ;;
    esac
    if [ "$scen" != register ]; then
        # sipp's digest uri defaults to sip:<remote ip>:<port>; it must be the Request-URI
        # (RFC 2617 §3.2.2.5; Switchboard checks it, Kamailio does not)
        extra=(-auth_uri "$svc@$IP:$rport")
    fi
    for rate in $rates; do
        calls=$((rate * STEP_SECS))
        c0=0; [ -n "$spid" ] && c0=$(cpu_ticks "$spid")
        r=$(sipp_uac "$rate" "$calls" "$sf" "$inf" "$lport" "$rport" "$WORK/$target.$scen.$rate" "$svc" "${extra[@]}")
        c1=0; [ -n "$spid" ] && c1=$(cpu_ticks "$spid")
        read -r ok fail retr wall <<<"$r"
        ppm=$((fail * 1000000 / calls))
        # sustained: every call done within the step time plus 1.5 s (start-up, last calls)
        sustained=$(python3 -c "print(1 if $wall <= $STEP_SECS * 1.05 + 1.5 else 0)")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$scen" "$rate" "$ok" "$fail" "$retr" "$wall" \
            $((c1 - c0)) >>"$WORK/steps.tsv"
        log "$target $scen $rate/s: $ok ok, $fail failed, $retr retransmissions, ${wall}s, server cpu $(((c1 - c0) * 1000 / CLK_TCK)) ms"
        if [ "$ppm" -ge "$MAX_FAIL_PPM" ] || [ "$sustained" != 1 ]; then
            break
        fi
        best=$rate
        sleep 1
    done
    printf '%s\t%s\t%s\n' "$target" "$scen" "$best" >>"$WORK/best.tsv"
}

# ---------------------------------------------------------------- the run
: >"$WORK/steps.tsv"
: >"$WORK/best.tsv"
: >"$WORK/mem.tsv"
: >"$WORK/extras.tsv"
START_TS=$(date -u +%Y-%m-%dT%H:%MZ)
T_START=$(date +%s)
log "work directory $WORK; $NCPU cores; steps of $STEP_SECS s"

# 1. direct: sipp UAC -> sipp UAS (the ceiling)
log "== direct (sipp -> sipp)"
start_uas "$DIRECT_PORT" register_uas.xml "$WORK/direct.reg-uas"
step_up direct register "" "$DIRECT_PORT"
stop_pid "$UAS_PID"
sleep 0.5
start_uas "$DIRECT_PORT" call_uas_direct.xml "$WORK/direct.call-uas"
step_up direct call "" "$DIRECT_PORT"
stop_pid "$UAS_PID"

# 2. Switchboard
log "== switchboard"
SBD=$WORK/switchboard
sb_settings "$SBD" false
sb_provision "$SBD" "$USERS"
# (c): a destination for the gateway that turns 00 into +, and the route for 00 (the routing
# table is loaded at start; a running server would pick changes up within a second)
"$SB_BIN" -c "$SBD/switchboard.toml" dest add gateway --gateway "$GW_IP" --port "$GW_PORT" \
    --remove-prefix 00 --add-prefix + >"$SBD/routing.log" 2>&1 &&
    "$SB_BIN" -c "$SBD/switchboard.toml" route add 00 gateway >>"$SBD/routing.log" 2>&1 ||
    { cat "$SBD/routing.log" >&2; die "dest/route add failed"; }
start_switchboard "$SBD"
step_up switchboard register "$SERVER_PID" "$SERVER_PORT"
register_one "$UAS_PORT" "$WORK/callee.csv" "$WORK/switchboard.reg-callee"
register_one "$UAC_PORT" "$WORK/caller.csv" "$WORK/switchboard.reg-caller"
start_uas "$UAS_PORT" call_uas.xml "$WORK/switchboard.call-uas"
step_up switchboard call "$SERVER_PID" "$SERVER_PORT"
stop_pid "$UAS_PID"
start_uas "$GW_PORT" call_uas.xml "$WORK/switchboard.gw-uas" "$GW_IP"
step_up switchboard routed "$SERVER_PID" "$SERVER_PORT"
printf 'switchboard\t%s\t%s\t%s\t%s\n' "$(hwm_kib "$SERVER_PID")" "$(rss_kib "$SERVER_PID")" \
    "$(pss_kib "$SERVER_PID")" "$(nprocs "$SERVER_PID")" >>"$WORK/mem.tsv"
stop_pid "$UAS_PID"
stop_pid "$SERVER_PID"

# 3. Kamailio
log "== kamailio"
KAMD=$WORK/kamailio
kam_provision "$KAMD" "$USERS"
start_kamailio "$KAMD"
step_up kamailio register "$SERVER_PID" "$SERVER_PORT"
register_one "$UAS_PORT" "$WORK/callee.csv" "$WORK/kamailio.reg-callee"
register_one "$UAC_PORT" "$WORK/caller.csv" "$WORK/kamailio.reg-caller"
start_uas "$UAS_PORT" call_uas.xml "$WORK/kamailio.call-uas"
step_up kamailio call "$SERVER_PID" "$SERVER_PORT"
stop_pid "$UAS_PID"
start_uas "$GW_PORT" call_uas.xml "$WORK/kamailio.gw-uas" "$GW_IP"
step_up kamailio routed "$SERVER_PID" "$SERVER_PORT"
printf 'kamailio\t%s\t%s\t%s\t%s\n' "$(hwm_kib "$SERVER_PID")" "$(rss_kib "$SERVER_PID")" \
    "$(pss_kib "$SERVER_PID")" "$(nprocs "$SERVER_PID")" >>"$WORK/mem.tsv"
stop_pid "$UAS_PID"
stop_pid "$SERVER_PID"

# 4. extras
if [ "$EXTRAS" = 1 ]; then
    # 4a. start to the first answered OPTIONS with USERS extensions in the database (3 tries)
    for i in 1 2 3; do
        out=$(cd "$SBD" && python3 "$HERE/first_options.py" "$IP" "$SB_PORT" 10 -- \
            "$SB_BIN" -c "$SBD/switchboard.toml") || die "no OPTIONS answer from switchboard"
        pid=$(awk '{print $4}' <<<"$out")
        PIDS+=("$pid")
        printf 'first-options\tswitchboard\t%s\n' "$(awk '{print $2}' <<<"$out")" >>"$WORK/extras.tsv"
        log "switchboard start to first OPTIONS answer: $out"
        stop_pid "$pid"
        sleep 0.3
    done
    for i in 1 2 3; do
        out=$(cd "$KAMD" && python3 "$HERE/first_options.py" "$IP" "$KAM_PORT" 10 -- \
            kamailio -f "$HERE/kamailio.cfg" -DD -E -x tlsf -m 256 -M 8 -n "$NCPU" \
            -l "udp:$IP:$KAM_PORT" -A "HTABLE_DB_URL=\"text://$KAMD/db\"" -A "BENCH_REALM=\"$IP\"" \
            -P "$KAMD/run/kamailio.pid" -Y "$KAMD/run") || die "no OPTIONS answer from kamailio"
        pid=$(awk '{print $4}' <<<"$out")
        PIDS+=("$pid")
        printf 'first-options\tkamailio\t%s\n' "$(awk '{print $2}' <<<"$out")" >>"$WORK/extras.tsv"
        log "kamailio start to first OPTIONS answer: $out"
        stop_pid "$pid"
        sleep 0.3
    done

    # 4b. RSS with BIG_USERS registered contacts (registrations saved: the default)
    big_rate=$(awk -F'\t' '$1=="switchboard" && $2=="register"{print $3}' "$WORK/best.tsv")
    kbig_rate=$(awk -F'\t' '$1=="kamailio" && $2=="register"{print $3}' "$WORK/best.tsv")
    big_rate=$(( big_rate < kbig_rate ? big_rate : kbig_rate ))
    big_rate=$(( big_rate > 4000 ? 4000 : big_rate ))
    [ "$big_rate" -lt 500 ] && big_rate=500
    make_users "$BIG_USERS" "$WORK/big.csv"

    BIGD=$WORK/switchboard-100k
    sb_settings "$BIGD" true
    sb_provision "$BIGD" "$BIG_USERS"
    start_switchboard "$BIGD"
    rss0=$(rss_kib "$SERVER_PID")
    r=$(sipp_uac "$big_rate" "$BIG_USERS" register.xml "$WORK/big.csv" "$REG_PORT" "$SERVER_PORT" "$WORK/switchboard.big")
    sleep 2
    rss1=$(rss_kib "$SERVER_PID")
    sleep 34 # completed REGISTER transactions are kept for Timer J (64*T1 = 32 s) over UDP
    printf 'big\tswitchboard\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$big_rate" "$r" "$rss0" "$rss1" \
        "$(hwm_kib "$SERVER_PID")" "$(pss_kib "$SERVER_PID")" "$(rss_kib "$SERVER_PID")" >>"$WORK/extras.tsv"
    log "switchboard with $BIG_USERS contacts at $big_rate/s: $r; RSS $(rss_kib "$SERVER_PID") KiB"
    stop_pid "$SERVER_PID"

    BIGK=$WORK/kamailio-100k
    kam_provision "$BIGK" "$BIG_USERS"
    start_kamailio "$BIGK"
    rss0=$(pss_kib "$SERVER_PID")
    r=$(sipp_uac "$big_rate" "$BIG_USERS" register.xml "$WORK/big.csv" "$REG_PORT" "$SERVER_PORT" "$WORK/kamailio.big")
    sleep 2
    rss1=$(rss_kib "$SERVER_PID")
    sleep 34
    printf 'big\tkamailio\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$big_rate" "$r" "$rss0" "$rss1" \
        "$(hwm_kib "$SERVER_PID")" "$(pss_kib "$SERVER_PID")" "$(rss_kib "$SERVER_PID")" >>"$WORK/extras.tsv"
    log "kamailio with $BIG_USERS contacts at $big_rate/s: $r; PSS $(pss_kib "$SERVER_PID") KiB"
    stop_pid "$SERVER_PID"
fi
T_END=$(date +%s)

# ---------------------------------------------------------------- report
python3 "$HERE/report.py" --work "$WORK" --step-secs "$STEP_SECS" --users "$USERS" \
    --big-users "$BIG_USERS" --date "$START_TS" --minutes $(((T_END - T_START + 59) / 60)) \
    --clk-tck "$CLK_TCK" --max-fail-ppm "$MAX_FAIL_PPM" \
    --kamailio-version "$(kamailio -v 2>/dev/null | head -1)" \
    --sipp-version "$(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -1)" \
    --switchboard-commit "$(cd "$ROOT" && git rev-parse --short HEAD)" >"$WORK/results.md"
cat "$WORK/results.md"
if [ "$UPDATE_BENCHMARKS" = 1 ]; then
    python3 "$HERE/report.py" --splice "$ROOT/BENCHMARKS.md" "$WORK/results.md"
    log "BENCHMARKS.md updated"
fi
log "done in $(((T_END - T_START) / 60)) min $(((T_END - T_START) % 60)) s; raw data in $WORK"

#!/usr/bin/env bash
# Interoperability suite: the real `switchboard` binary against third-party SIP
# software on loopback (issue 3, "tests"):
#   sipp_register_1000  digest-authenticated REGISTER of 1,000 distinct extensions (sipp, UDP)
#   sipp_register_tcp   the same for 100 of them over TCP
#   sipp_calls_200      200 calls 2000 -> 2001 between two sipp endpoints registered
#                       as extensions, through the proxy, with proxy authentication
#                       (INVITE/407/ACK/INVITE/100/180/200/ACK/BYE/200)
#   baresip_call        two baresip instances register and one calls the other,
#                       RTP both ways end to end
#   baresip_register_tls  baresip registers with digest over SIP/TLS (issue 5), trusting the
#                       server's generated self-signed certificate (Debian's sipp is built
#                       without OpenSSL, so `sipp -t l1` is not available here)
#   server_shutdown     SIGTERM stops the server cleanly (exit 0), no panic logged
#   kamailio_upstream_register    the server registers a trunk account (destination
#                       with register=yes) to Kamailio as an upstream registrar with
#                       digest (issue 4); kamailio_upstream_unregister: the graceful
#                       stop un-REGISTERs it (Expires: 0)
#   kamailio_upstream_inbound_call  a sipp caller at the provider dials the registered
#                       account with extension 2004 in To; Kamailio looks up the account's
#                       location and relays the INVITE (record-routed) to the server, which
#                       delivers it to the sipp phone registered as 2004; ACK and BYE pass
#                       both proxies (issue 4)
#   route_prefix_failover  destinations and a prefix route added with `switchboard dest/route
#                       add` while the server runs; a registered extension dials 0044…: the
#                       first sipp "carrier gateway" answers 503, the call fails over to the
#                       second with Request-URI +44… and completes with BYE (issue 4)
#   dns_srv_and_enum    with dnsmasq as the DNS server: a destination named by host only is
#                       reached through its SRV record (RFC 3263), and a number with an ENUM
#                       NAPTR (RFC 6116) is answered 302 with the NAPTR's SIP URI as Contact
#   browser_*           JsSIP and SIP.js in headless Chromium register over WebSocket with
#                       digest, call a sipp UDP extension and are called by one, and make a
#                       real WebRTC call to each other (issue 5): tests/interop/web/run.sh
#                       against a second server it starts in a private network namespace.
#                       The browser's large INVITE to the UDP-only sipp phone also checks
#                       the fall back from TCP to UDP (RFC 3261 §18.1.1).
#
# usage: bash tests/interop/run.sh        (from anywhere; needs sipp, baresip, python3,
#        kamailio, dnsmasq)
# env:   SWITCHBOARD_BIN (default: $CARGO_TARGET_DIR or target, /debug/switchboard;
#        built with `cargo build -p switchboard` when missing), INTEROP_PORT (5070),
#        INTEROP_TLS_PORT (INTEROP_PORT + 1),
#        INTEROP_DNS_PORT (15353, dnsmasq on 127.0.0.1; below the ephemeral port range, so no
#        client socket can be holding it), INTEROP_KEEP=1 keeps the
#        temporary directory for inspection.
# Prints one line per test and, last, "N passed, M failed"; exits 1 if any failed.
# Every wait is bounded; everything started here is stopped on exit.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/interop
PORT=${INTEROP_PORT:-5070}
DNS_PORT=${INTEROP_DNS_PORT:-15353}
TLS_PORT=${INTEROP_TLS_PORT:-$((PORT + 1))}
REG=127.0.0.1:$PORT
BIN=${SWITCHBOARD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/switchboard}
STARTED=$(date +%s)

for tool in sipp baresip python3 kamailio dnsmasq; do
  command -v "$tool" > /dev/null || { echo "interop: $tool is not installed (see .ci/run)" >&2; exit 1; }
done
if [ ! -x "$BIN" ]; then
  echo "interop: building $BIN"
  (cd "$ROOT" && cargo build -p switchboard) || exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/sb-interop.XXXXXX")
pids=()
SERVER=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  [ -n "$SERVER" ] && kill "$SERVER" 2> /dev/null
  if [ -n "${INTEROP_KEEP:-}" ]; then echo "interop: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
# run_test NAME FUNCTION: runs it, times it, counts it.
run_test() {
  local name=$1 t0 t1 rc
  t0=$(date +%s.%N)
  "$2" > "$T/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  if [ $rc = 0 ]; then
    passed=$((passed + 1)); echo "PASS $name (${secs} s)"
  else
    failed=$((failed + 1)); echo "FAIL $name (${secs} s), rc=$rc; its output:"
    sed 's/^/    /' "$T/$name.log" | tail -60
  fi
}

# sipp_stats OUTPUT WANT: sipp's final screen shows cumulative counters; require
# WANT successful calls and no failed one.
sipp_stats() {
  local ok bad
  ok=$(grep -a 'Successful call' "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  bad=$(grep -a 'Failed call' "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  echo "sipp: ${ok:-?} successful, ${bad:-?} failed (want $2 and 0)"
  [ "${ok:-}" = "$2" ] && [ "${bad:-}" = 0 ]
}

# sipp_run NAME ARGS...: sipp against the server, in $T, at most 120 s.
sipp_run() {
  local name=$1; shift
  (cd "$T" && timeout 120 sipp "$REG" -i 127.0.0.1 -nostdin -trace_err \
    -error_file "$T/$name.errors" "$@" > "$T/$name.sipp" 2>&1)
  local rc=$?
  [ $rc = 0 ] || { echo "sipp $name exited $rc"; tail -5 "$T/$name.errors" 2> /dev/null; echo; }
  return $rc
}

# register_one USER PASS PORT: registers USER with Contact 127.0.0.1:PORT from
# that port (the proxy sends to the REGISTER's source address, so the endpoint
# that will take the calls must register from its own port).
register_one() {
  printf 'SEQUENTIAL\n%s;[authentication username=%s password=%s];127.0.0.1:%s\n' \
    "$1" "$1" "$2" "$3" > "$T/reg-$1.csv"
  sipp_run "reg-$1" -sf "$HERE/sipp/register.xml" -inf "$T/reg-$1.csv" -m 1 -p "$3" &&
    sipp_stats "$T/reg-$1.sipp" 1
}

# --- the server ------------------------------------------------------------
cat > "$T/switchboard.toml" << EOF2
[service]
sip_domain = "127.0.0.1"
listen = ["127.0.0.1"]
sip_port = $PORT
transport = "udp+tcp"
save_registrations = true
# The routing cases: dnsmasq below answers SRV for gw.test and ENUM under e164.arpa.
dns_servers = ["127.0.0.1:$DNS_PORT"]
enum_enabled = true

[security]
# sipp 3.6 and baresip 1.0 (Debian 12) give up on a SHA-256 challenge instead of
# answering the MD5 one after it, so offer MD5 only (RFC 8760 §2.4 allows the
# choice; the default is SHA-256 then MD5).
digest_algorithms = ["MD5"]

[logging]
level = "sessions"
directory = "$T/logs"

[storage]
data_dir = "$T/data"

[tls]
port = $TLS_PORT
EOF2
{
  for n in $(seq 1000 1999); do echo "$n,pw$n"; done
  echo "2000,pw2000,sipp caller"
  echo "2001,pw2001,sipp callee"
  echo "3001,pw3001,baresip caller"
  echo "3002,pw3002,baresip callee"
  echo "3003,pw3003,baresip over TLS"
  echo "2003,pw2003,routing caller"
} > "$T/extensions.csv"
"$BIN" -c "$T/switchboard.toml" ext import "$T/extensions.csv" || { echo "interop: ext import failed"; exit 1; }

# The upstream provider (issue 4): Kamailio as a registrar with digest on
# 127.0.0.2:5085 (not 127.0.0.1: requests from a destination's gateway address are
# trusted, and the callers below use 127.0.0.1), and a destination that registers to it.
mkdir -p "$T/kam"
kamailio -f "$HERE/kamailio/upstream.cfg" -DD -E -P "$T/kam/kam.pid" -Y "$T/kam" \
  > "$T/kam.log" 2>&1 < /dev/null &
pids+=("$!")
echo secret | "$BIN" -c "$T/switchboard.toml" dest add upstream --gateway 127.0.0.2 --port 5085 \
  --username trunk1 --password-stdin --register --expires 60 > /dev/null ||
  { echo "interop: dest add failed"; exit 1; }

# DNS for the routing cases (issue 4): only names under test. and e164.arpa. exist
# (everything else there is NXDOMAIN, nothing is forwarded): gw.test has an SRV record
# for SIP over UDP only (no NAPTR: RFC 3263 §4.1 falls back to SRV), and the ENUM name of
# +15550123 a NAPTR E2U+sip. Every other number's ENUM lookup is a quick miss.
dnsmasq --keep-in-foreground --log-facility=- --log-queries --conf-file=/dev/null \
  --no-resolv --no-hosts --no-poll --port="$DNS_PORT" --listen-address=127.0.0.1 \
  --bind-interfaces --pid-file="$T/dnsmasq.pid" --local=/test/ --local=/e164.arpa/ \
  --host-record=sip.gw.test,127.0.0.3 \
  --srv-host=_sip._udp.gw.test,sip.gw.test,5099,0,0 \
  '--naptr-record=3.2.1.0.5.5.5.1.e164.arpa,100,10,U,E2U+sip,!^.*$!sip:alice@enum.test!' \
  > "$T/dnsmasq.log" 2>&1 < /dev/null &
DNSMASQ=$!
pids+=("$DNSMASQ")

# Create the output files first: `tail -f` below must not race the redirection.
: > "$T/server.out"; : > "$T/server.err"
"$BIN" -c "$T/switchboard.toml" > "$T/server.out" 2> "$T/server.err" &
SERVER=$!
# Readiness: the "ready:" line on stdout, at most 15 s; stops early if the server dies.
if ! timeout 15 grep -m1 -q '^ready:' <(tail -n +1 --pid="$SERVER" -f "$T/server.out"); then
  echo "interop: the server did not become ready; its stderr:"; tail -20 "$T/server.err"
  echo "0 passed, 1 failed"; exit 1
fi
echo "interop: $(grep -a -m1 "^ready:" "$T/server.out")"

# --- the tests ---------------------------------------------------------------
t_sipp_register_1000() {
  { echo SEQUENTIAL
    for n in $(seq 1000 1999); do echo "$n;[authentication username=$n password=pw$n];127.0.0.1:5090"; done
  } > "$T/reg1000.csv"
  sipp_run register_1000 -sf "$HERE/sipp/register.xml" -inf "$T/reg1000.csv" \
    -m 1000 -r 200 -p 5090 || return 1
  sipp_stats "$T/register_1000.sipp" 1000
}

t_sipp_register_tcp() {
  { echo SEQUENTIAL
    for n in $(seq 1000 1099); do echo "$n;[authentication username=$n password=pw$n];127.0.0.1:5094"; done
  } > "$T/regtcp.csv"
  sipp_run register_tcp -t t1 -sf "$HERE/sipp/register.xml" -inf "$T/regtcp.csv" \
    -m 100 -r 100 -p 5094 || return 1
  sipp_stats "$T/register_tcp.sipp" 100
}

t_sipp_calls_200() {
  local calls=200
  register_one 2001 pw2001 5091 || return 1
  register_one 2000 pw2000 5092 || return 1
  # The callee: answers $calls calls, then exits (with its own statistics).
  (cd "$T" && exec timeout 120 sipp -sf "$HERE/sipp/uas.xml" -i 127.0.0.1 -p 5091 -m $calls \
    -nostdin -trace_err -error_file "$T/uas.errors" > "$T/uas.sipp" 2>&1) &
  local uas=$!
  pids+=("$uas")
  printf 'SEQUENTIAL\n2000;[authentication username=2000 password=pw2000];2001\n' > "$T/caller.csv"
  # The digest uri must be the Request-URI (RFC 3261 §22.4); sipp 3.6 uses
  # remote_ip:remote_port unless told (-auth_uri).
  sipp_run calls_200 -sf "$HERE/sipp/uac_auth.xml" -inf "$T/caller.csv" \
    -auth_uri "2001@$REG" -m $calls -r 20 -l 40 -p 5092 || return 1
  sipp_stats "$T/calls_200.sipp" $calls || return 1
  # The callee exits about 2 s after the last BYE (its timewait).
  wait "$uas"; local urc=$?
  echo "callee sipp exited $urc"
  sipp_stats "$T/uas.sipp" $calls && [ $urc = 0 ]
}

t_baresip_call() {
  bash "$HERE/baresip/call-test.sh" "$T/baresip" "$REG" 3001 pw3001 3002 pw3002
}

t_baresip_register_tls() {
  bash "$HERE/baresip/register-tls.sh" "$T/baresip-tls" "127.0.0.1:$TLS_PORT" 3003 pw3003 \
    "$T/data/tls-selfsigned.crt"
}

t_server_shutdown() {
  kill -TERM "$SERVER"
  local rc
  # Bounded: the server finishes in-flight transactions within 5 s.
  for _ in $(seq 1 100); do kill -0 "$SERVER" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER" 2> /dev/null; then
    echo "still running 10 s after SIGTERM"; kill -KILL "$SERVER"; wait "$SERVER"; SERVER=; return 1
  fi
  wait "$SERVER"; rc=$?; SERVER=
  echo "server exited $rc"; tail -3 "$T/server.err"
  if grep -a -n 'panicked' "$T/server.err"; then return 1; fi
  [ $rc = 0 ]
}

# wait_for FILE PATTERN SECS: until FILE has a line matching PATTERN.
wait_for() {
  for _ in $(seq 1 $(($3 * 10))); do grep -a -q -E "$2" "$1" && return 0; sleep 0.1; done
  echo "no line matching '$2' in $1 after $3 s; its tail:"; tail -8 "$1"; return 1
}

t_kamailio_upstream_register() {
  wait_for "$T/kam.log" 'REGISTERED sip:trunk1@127.0.0.2:5085 expires=60' 10 &&
    wait_for "$T/server.err" 'upstream registration to upstream: Registered \(200' 5
}

t_kamailio_upstream_unregister() {
  wait_for "$T/kam.log" 'REGISTERED sip:trunk1@127.0.0.2:5085 expires=0' 5 &&
    grep -a 'upstream registration to upstream: Unregistered' "$T/server.err"
}

# sb ARGS...: the switchboard CLI on the suite's settings (database shared with the server).
sb() { "$BIN" -c "$T/switchboard.toml" "$@"; }

# wait_after FILE N PATTERN SECS: until a line after the first N lines of FILE matches
# PATTERN (a line this test caused, not an earlier one).
wait_after() {
  for _ in $(seq 1 $(($4 * 10))); do
    tail -n +$(($2 + 1)) "$1" | grep -a -q -E "$3" && return 0; sleep 0.1
  done
  echo "no new line matching '$3' in $1 after $4 s; its tail:"; tail -8 "$1"; return 1
}

# gateway NAME IP PORT SCENARIO: a sipp UAS ("carrier gateway") for one call on IP:PORT,
# every message it sends or receives traced to $T/NAME.msg; sets GW_PID once its socket is up.
gateway() {
  (cd "$T" && exec timeout 30 sipp -sf "$HERE/sipp/$4" -i "$2" -p "$3" -m 1 -nostdin \
    -trace_msg -message_file "$T/$1.msg" -trace_err -error_file "$T/$1.errors" \
    > "$T/$1.sipp" 2>&1) &
  GW_PID=$!
  pids+=("$GW_PID")
  for _ in $(seq 1 50); do ss -Hlnu "src $2:$3" | grep -q . && return 0; sleep 0.1; done
  echo "gateway $1 is not listening on $2:$3"; return 1
}

# A registered extension (added here, --allow-external) dials 0044…; route 00 hunts two
# destinations that strip 00 and add +: carrier-a answers 503, carrier-b answers, the BYE
# goes to carrier-b along the Record-Route.
t_route_prefix_failover() {
  local n0 dial=00442079460000 g1 g2 rc1 rc2
  n0=$(wc -l < "$T/server.err")
  sb dest add carrier-a --gateway 127.0.0.3 --port 5096 --remove-prefix 00 --add-prefix + &&
    sb dest add carrier-b --gateway 127.0.0.4 --port 5097 --remove-prefix 00 --add-prefix + &&
    sb route add 00 carrier-a && sb route add 00 carrier-b &&
    echo pw2002 | sb ext add 2002 --password-stdin --allow-external || return 1
  # The running server picks all of it up (it polls the database twice a second).
  wait_after "$T/server.err" "$n0" 'routing: 3 destinations, 2 routes in force' 5 &&
    wait_after "$T/server.err" "$n0" 'extension 2002 changed' 5 || return 1
  gateway carrier-a 127.0.0.3 5096 gw_503.xml || return 1
  g1=$GW_PID
  gateway carrier-b 127.0.0.4 5097 uas.xml || return 1
  g2=$GW_PID
  register_one 2002 pw2002 5098 || return 1
  printf 'SEQUENTIAL\n2002;[authentication username=2002 password=pw2002];%s\n' "$dial" \
    > "$T/failover.csv"
  sipp_run route_failover -sf "$HERE/sipp/uac_auth.xml" -inf "$T/failover.csv" \
    -auth_uri "$dial@$REG" -m 1 -p 5098 || return 1
  sipp_stats "$T/route_failover.sipp" 1 || return 1
  wait "$g1"; rc1=$?
  wait "$g2"; rc2=$?
  echo "carrier-a (503) exited $rc1, carrier-b (200) exited $rc2; the INVITEs they got:"
  grep -a -h '^INVITE ' "$T/carrier-a.msg" "$T/carrier-b.msg" | sort -u
  grep -a -q -E '^INVITE sip:\+442079460000@127\.0\.0\.3:5096 SIP/2\.0' "$T/carrier-a.msg" &&
    grep -a -q -E '^INVITE sip:\+442079460000@127\.0\.0\.4:5097 SIP/2\.0' "$T/carrier-b.msg" &&
    grep -a -q '^BYE ' "$T/carrier-b.msg" && [ "$rc1" = 0 ] && [ "$rc2" = 0 ] || return 1
  # ENUM is on, but 0044… is a dialing form, not E.164: no NAPTR lookup delays it.
  if grep -a -E 'query\[NAPTR\] [0-9.]*\.0\.0\.e164\.arpa' "$T/dnsmasq.log"; then
    echo "the 00 number was looked up in ENUM"; return 1
  fi
}

# dnsmasq (started with the server) serves SRV for gw.test and an ENUM NAPTR for +15550123.
t_dns_srv_and_enum() {
  local n0 g rc
  kill -0 "$DNSMASQ" 2> /dev/null || { echo "dnsmasq is not running:"; tail -5 "$T/dnsmasq.log"; return 1; }
  # (i) a destination named by host only: NAPTR (none) → SRV _sip._udp.gw.test → 127.0.0.3:5099.
  n0=$(wc -l < "$T/server.err")
  sb dest add dns-carrier --gateway gw.test && sb route add 77 dns-carrier || return 1
  wait_after "$T/server.err" "$n0" 'routing: 4 destinations, 3 routes in force' 5 || return 1
  gateway dns-carrier 127.0.0.3 5099 uas.xml || return 1
  g=$GW_PID
  printf 'SEQUENTIAL\n2003;[authentication username=2003 password=pw2003];771234\n' > "$T/srv.csv"
  sipp_run dns_srv -sf "$HERE/sipp/uac_auth.xml" -inf "$T/srv.csv" -auth_uri "771234@$REG" \
    -m 1 -p 5088 || return 1
  sipp_stats "$T/dns_srv.sipp" 1 || return 1
  wait "$g"; rc=$?
  echo "dns-carrier exited $rc; it got: $(grep -a -m1 '^INVITE ' "$T/dns-carrier.msg")"
  grep -a -q -E '^INVITE sip:771234@gw\.test SIP/2\.0' "$T/dns-carrier.msg" && [ "$rc" = 0 ] ||
    return 1
  grep -a -q 'query\[SRV\] _sip._udp.gw.test' "$T/dnsmasq.log" || { echo "no SRV query"; return 1; }
  # (ii) ENUM: +15550123 has a NAPTR !^.*$!sip:alice@enum.test! → 302 with that Contact.
  printf 'SEQUENTIAL\n2003;[authentication username=2003 password=pw2003];+15550123\n' \
    > "$T/enum.csv"
  sipp_run enum_302 -sf "$HERE/sipp/uac_auth_302.xml" -inf "$T/enum.csv" \
    -auth_uri "+15550123@$REG" -m 1 -p 5087 -trace_msg -message_file "$T/enum_302.msg" ||
    return 1
  sipp_stats "$T/enum_302.sipp" 1 || return 1
  echo "the 302's Contact: $(grep -a -A12 '^SIP/2.0 302' "$T/enum_302.msg" | grep -a -i -m1 '^Contact')"
  grep -a -A12 '^SIP/2.0 302' "$T/enum_302.msg" | grep -a -q -i -E '^Contact: *<sip:alice@enum\.test>'
}

# A call from the upstream provider for the account registered there (trunk1): a sipp
# caller sends INVITE sip:trunk1@127.0.0.2:5085 with To <sip:2004@…> (the dialed number,
# as providers send it) to Kamailio, which looks up trunk1's location (the server's
# Contact sip:trunk1@127.0.0.1:5070) and relays it, record-routed. The account is not an
# extension, so the server delivers the call to the To user, extension 2004 (registered by
# a sipp phone on 5084); the request comes from the destination's gateway address, so it
# is not challenged. ACK and BYE go back along both Record-Routes.
t_kamailio_upstream_inbound_call() {
  local n0 g rc grc
  n0=$(wc -l < "$T/server.err")
  echo pw2004 | sb ext add 2004 --password-stdin || return 1
  wait_after "$T/server.err" "$n0" 'extension 2004 changed' 5 || return 1
  wait_for "$T/server.err" 'upstream registration to upstream: Registered \(200' 10 || return 1
  register_one 2004 pw2004 5084 || return 1
  gateway inbound-phone 127.0.0.1 5084 uas.xml || return 1
  g=$GW_PID
  printf 'SEQUENTIAL\ntrunk1;2004\n' > "$T/inbound.csv"
  (cd "$T" && timeout 30 sipp 127.0.0.2:5085 -i 127.0.0.1 -p 5086 -nostdin \
    -sf "$HERE/sipp/uac_inbound.xml" -inf "$T/inbound.csv" -m 1 \
    -trace_msg -message_file "$T/inbound-caller.msg" -trace_err \
    -error_file "$T/inbound-caller.errors" > "$T/inbound-caller.sipp" 2>&1)
  rc=$?
  wait "$g"; grc=$?
  echo "caller sipp exited $rc, phone sipp exited $grc"
  echo "kamailio: $(grep -a -c 'REQ ' "$T/kam.log") requests; $(grep -a 'RELAY INVITE' "$T/kam.log" | tail -1)"
  echo "the phone got: $(grep -a -h -E '^(INVITE|ACK|BYE) ' "$T/inbound-phone.msg" | tr '\n' ' ')"
  sipp_stats "$T/inbound-caller.sipp" 1 && sipp_stats "$T/inbound-phone.sipp" 1 &&
    [ "$rc" = 0 ] && [ "$grc" = 0 ] || return 1
  # Kamailio relayed to the server's registered Contact, and saw the ACK and the BYE.
  grep -a -q 'RELAY INVITE to sip:trunk1@127.0.0.1:5070' "$T/kam.log" &&
    grep -a -q -E 'REQ ACK sip:2004@127\.0\.0\.1:5084|REQ ACK sip:127\.0\.0\.1:5084' "$T/kam.log" &&
    grep -a -q -E 'REQ BYE sip:(2004@)?127\.0\.0\.1:5084' "$T/kam.log" || {
    echo "kamailio did not relay INVITE, ACK and BYE:"; grep -a -E 'REQ|RELAY' "$T/kam.log" | tail -8
    return 1
  }
  # The phone got the call for 2004 at its registered contact, and its ACK and BYE.
  grep -a -q -E '^INVITE sip:2004@127\.0\.0\.1:5084[ ;]' "$T/inbound-phone.msg" &&
    grep -a -q '^ACK ' "$T/inbound-phone.msg" && grep -a -q '^BYE ' "$T/inbound-phone.msg"
}

run_test sipp_register_1000 t_sipp_register_1000
run_test sipp_register_tcp t_sipp_register_tcp
run_test sipp_calls_200 t_sipp_calls_200
run_test baresip_call t_baresip_call
run_test baresip_register_tls t_baresip_register_tls
run_test kamailio_upstream_register t_kamailio_upstream_register
run_test kamailio_upstream_inbound_call t_kamailio_upstream_inbound_call
run_test route_prefix_failover t_route_prefix_failover
run_test dns_srv_and_enum t_dns_srv_and_enum
run_test server_shutdown t_server_shutdown
run_test kamailio_upstream_unregister t_kamailio_upstream_unregister

# --- browser phones (issue 5) -------------------------------------------------------------
# tests/interop/web/run.sh starts its own Switchboard ($BIN, a fresh data directory, UDP 5060,
# the extensions it needs) inside `unshare` network and PID namespaces with only lo, so WebRTC
# ICE sees only 127.0.0.1 and nothing collides with the server above; it needs chromium and
# `npm ci && npm run bundle` in tests/interop/web (both done by .ci/run).
# BROWSER_WS_TOML: the settings lines appended to that server's switchboard.toml to enable
# its WebSocket listener on ws://127.0.0.1:$BROWSER_WS_PORT ("\n" = line break).
# (WS on $BROWSER_WS_PORT, WSS off.) Should `check-config` ever show no [websocket] table the
# cases are skipped with a SKIP line; an empty BROWSER_WS_TOML is a failure.
BROWSER_WS_PORT=${BROWSER_WS_PORT:-5066}
BROWSER_WS_TOML=${BROWSER_WS_TOML:-"[websocket]\nws_port = $BROWSER_WS_PORT\nwss_port = 0"}
skipped=0
t_browser_phones() {
  local ws_keys out rc
  out=$(sb check-config 2>&1) ||
    { failed=$((failed + 1)); echo "FAIL browser_phones: check-config failed: $out"; return; }
  ws_keys=$(printf '%s\n' "$out" |
    awk '/^\[websocket\]/ { f = 1; next } /^\[/ { f = 0 } f && /=/ { print $1 }' | xargs)
  if [ -z "$ws_keys" ]; then
    skipped=$((skipped + 1))
    echo "SKIP browser_phones: Switchboard has no WebSocket listener yet (check-config shows an" \
      "empty [websocket] table); set BROWSER_WS_TOML in tests/interop/run.sh once it has one"
    return
  fi
  if [ -z "$BROWSER_WS_TOML" ]; then
    failed=$((failed + 1))
    echo "FAIL browser_phones: [websocket] has keys ($ws_keys) but BROWSER_WS_TOML is empty:" \
      "set it in tests/interop/run.sh to the lines that enable WS on port $BROWSER_WS_PORT"
    return
  fi
  out=$(SERVER=switchboard SWITCHBOARD_BIN="$BIN" SB_WS_PORT="$BROWSER_WS_PORT" \
    SB_WS_TOML="$BROWSER_WS_TOML" bash "$HERE/web/run.sh" 2>&1)
  rc=$?
  # Its PASS/FAIL lines (and the log lines under a FAIL) count here as browser_<case>.
  printf '%s\n' "$out" | sed -E 's/^(PASS|FAIL) /\1 browser_/' | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
  passed=$((passed + $(printf '%s\n' "$out" | grep -c '^PASS ')))
  failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
  # A setup failure (no chromium, no bundle, the server did not start) has no FAIL line.
  if [ $rc != 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
    failed=$((failed + 1)); echo "FAIL browser_phones: tests/interop/web/run.sh exited $rc"
  fi
}
# The suite's server is stopped by now; check-config only reads the settings and database.
t_browser_phones

echo "interop: $(($(date +%s) - STARTED)) s in all"
if [ "$skipped" = 0 ]; then echo "$passed passed, $failed failed"
else echo "$passed passed, $failed failed, $skipped skipped"; fi
[ "$failed" = 0 ]

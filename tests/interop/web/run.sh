#!/usr/bin/env bash
# Browser-phone interop (issue 5): JsSIP 3.13 and SIP.js 0.21 pages (phone.html) in headless
# Debian Chromium, driven by playwright-core (drive.mjs), against a SIP server with a
# WebSocket listener (RFC 7118), with sipp as the UDP extension. The cases:
#   jssip_register       JsSIP registers over WS with digest (401, then 200)
#   sipjs_register       SIP.js the same
#   jssip_calls_udp      JsSIP calls a UDP extension (sipp uas_webrtc.xml, which answers with
#   sipjs_calls_udp      a WebRTC-form SDP but sends no media): 200, ACK, the browser's BYE, 200
#   udp_calls_jssip      a UDP extension (sipp uac_webrtc.xml, with proxy digest) calls a
#   udp_calls_sipjs      browser that auto-answers: 200, ACK, sipp's BYE reaches it over its WS
#   webrtc_jssip_sipjs   a real WebRTC audio call JsSIP -> SIP.js (fake microphone, DTLS-SRTP,
#   webrtc_sipjs_jssip   ICE): RTP both ways (getStats() counts > 0), the nominated candidate
#                        pair on 127.0.0.1 at both ends; then SIP.js -> JsSIP
# Everything (the server, sipp, Chromium) runs in private network and PID namespaces
# (`unshare`) where only `lo` is up, so ICE can only find loopback candidates, nothing
# collides with servers on the host's loopback, and no process outlives the run.
#
# usage: tests/interop/web/run.sh [WS-URL [DOMAIN [UDP-HOST:PORT]]]
#   WS-URL          the server's WebSocket URL (default per SERVER, below); for a wss:// URL
#                   Chromium accepts any server certificate (a test's self-signed one)
#   DOMAIN          the SIP domain of the users (default 127.0.0.1)
#   UDP-HOST:PORT   where sipp sends its REGISTER and INVITE (default per SERVER)
# env:
#   SERVER=kamailio     (default) start web/kamailio-ws.cfg: UDP 127.0.0.1:5080, WS 5081,
#                       every user's password "secret" (needs kamailio and
#                       kamailio-websocket-modules)
#   SERVER=switchboard  start $SWITCHBOARD_BIN (default target/debug/switchboard) with a
#                       temporary data directory, UDP 127.0.0.1:5060, MD5 digest, the
#                       users below added with `switchboard ext add`, and the TOML lines in
#                       $SB_WS_TOML appended to its settings (they enable the WS listener;
#                       "\n" is a line break), WS URL ws://127.0.0.1:$SB_WS_PORT (5066)
#   SERVER=external     run $SERVER_CMD (a shell command that starts the server in the
#                       foreground) inside the namespace; the users must exist there
#   SIP_PASS            every user's password (default secret)
#   CASES               the cases to run, space-separated (default: all, in the order above)
#   CASE_SECS           the limit for each case (default 40)
#   CHROMIUM            the browser (default /usr/bin/chromium)
#   WEB_KEEP=1          keep the temporary directory (logs, sipp traces)
# Users: the browsers are 1001..1010 (each case its own, so no stale binding from an earlier
# case is ever forked to), the sipp extensions 2003..2006.
# Prints "PASS name (s)" or "FAIL name (s)" with the case's log, then "N passed, M failed";
# the exit code is the number of failed cases (64 for a usage or setup error).
# Needs: chromium, node (with `npm ci && npm run bundle` done here; done on demand), sipp,
# util-linux unshare, iproute2 ip, ss.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SERVER=${SERVER:-kamailio}
SB_WS_PORT=${SB_WS_PORT:-5066}
case $SERVER in
  kamailio) def_ws=ws://127.0.0.1:5081 def_udp=127.0.0.1:5080 ;;
  switchboard) def_ws=ws://127.0.0.1:$SB_WS_PORT def_udp=127.0.0.1:5060 ;;
  external) def_ws=ws://127.0.0.1:$SB_WS_PORT def_udp=127.0.0.1:5060 ;;
  *) echo "web: SERVER must be kamailio, switchboard or external (not '$SERVER')" >&2; exit 64 ;;
esac
WS_URL=${1:-$def_ws}
DOMAIN=${2:-127.0.0.1}
UDP_ADDR=${3:-$def_udp}
SIP_PASS=${SIP_PASS:-secret}
CASE_SECS=${CASE_SECS:-40}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ALL_CASES="jssip_register sipjs_register jssip_calls_udp sipjs_calls_udp udp_calls_jssip
  udp_calls_sipjs webrtc_jssip_sipjs webrtc_sipjs_jssip"
CASES=${CASES:-$ALL_CASES}
SWITCHBOARD_BIN=${SWITCHBOARD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/switchboard}
SIPP_DIR=$ROOT/tests/interop/sipp

# --- outside the namespaces: check the tools, bundle the libraries, re-enter -----------------
if [ -z "${WEB_IN_NETNS:-}" ]; then
  for tool in node sipp unshare ip ss timeout; do
    command -v "$tool" > /dev/null || { echo "web: $tool is not installed (see .ci/run)" >&2; exit 64; }
  done
  [ -x "$CHROMIUM" ] || { echo "web: no browser at $CHROMIUM (apt-get install chromium)" >&2; exit 64; }
  case $SERVER in
    kamailio)
      if ! command -v kamailio > /dev/null ||
        [ ! -e /usr/lib/x86_64-linux-gnu/kamailio/modules/websocket.so ]; then
        echo "web: needs kamailio and kamailio-websocket-modules" >&2; exit 64
      fi ;;
    switchboard)
      [ -x "$SWITCHBOARD_BIN" ] || { echo "web: no $SWITCHBOARD_BIN (cargo build -p switchboard)" >&2; exit 64; } ;;
    external)
      [ -n "${SERVER_CMD:-}" ] || { echo "web: SERVER=external needs SERVER_CMD" >&2; exit 64; } ;;
  esac
  if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    echo "web: npm ci"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || exit 64
  fi
  if [ ! -s "$HERE/build/jssip.js" ] || [ ! -s "$HERE/build/sipjs.js" ]; then
    (cd "$HERE" && npm run -s bundle) || exit 64
  fi
  # New network namespace (only lo), new PID namespace (when this script's shell, its
  # init, exits, the kernel kills whatever is left in it), its own /proc.
  export WEB_IN_NETNS=1 SERVER SB_WS_PORT SIP_PASS CASE_SECS CHROMIUM CASES SWITCHBOARD_BIN
  export SB_WS_TOML=${SB_WS_TOML:-} SERVER_CMD=${SERVER_CMD:-} WEB_KEEP=${WEB_KEEP:-}
  exec unshare --net --pid --fork --mount-proc --kill-child bash "$0" "$WS_URL" "$DOMAIN" "$UDP_ADDR"
fi

# --- inside: only lo -----------------------------------------------------------------------
ip link set lo up || { echo "web: cannot bring lo up in the namespace" >&2; exit 64; }
T=$(mktemp -d "${TMPDIR:-/tmp}/sb-web.XXXXXX")
SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2> /dev/null && wait "$SRV" 2> /dev/null
  if [ -n "$WEB_KEEP" ]; then echo "web: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
STARTED=$(date +%s)
WS_PORT=${WS_URL##*:}; WS_PORT=${WS_PORT%%/*}
UDP_PORT=${UDP_ADDR##*:}

# listening PROTO(t|u) PORT: something listens on 127.0.0.1:PORT (or any address).
listening() { ss -Hln"$1" "sport = :$2" | grep -q .; }
# wait_listening PROTO PORT SECS: at most SECS, and only while the server (if any) runs.
wait_listening() {
  for _ in $(seq 1 $(($3 * 10))); do
    listening "$1" "$2" && return 0
    [ -n "${SRV:-}" ] && ! kill -0 "$SRV" 2> /dev/null && return 1
    sleep 0.1
  done
  return 1
}

start_server() {
  case $SERVER in
    kamailio)
      mkdir -p "$T/kam"
      kamailio -f "$HERE/kamailio-ws.cfg" -DD -E -P "$T/kam/kam.pid" -Y "$T/kam" \
        > "$T/server.log" 2>&1 < /dev/null &
      SRV=$! ;;
    switchboard)
      {
        printf '[service]\nsip_domain = "%s"\nlisten = ["127.0.0.1"]\nsip_port = %s\n' "$DOMAIN" "$UDP_PORT"
        # A browser's INVITE (a WebRTC offer, about 2.5 kB) is over RFC 3261 §18.1.1's UDP
        # limit: Switchboard first tries the sipp extension over TCP, where sipp (UDP only)
        # refuses the connection, and then falls back to UDP — the default settings, as a
        # UDP-only desk phone would meet them.
        printf 'transport = "udp+tcp"\n\n'
        # sipp 3.6 answers only an MD5 challenge; JsSIP and SIP.js know only MD5 too.
        printf '[security]\ndigest_algorithms = ["MD5"]\n\n'
        printf '[logging]\nlevel = "sessions"\ndirectory = "%s/logs"\n\n' "$T"
        printf '[storage]\ndata_dir = "%s/data"\n\n' "$T"
        printf '%b\n' "$SB_WS_TOML"
      } > "$T/switchboard.toml"
      local u
      for u in 1001 1002 1003 1004 1005 1006 1007 1008 1009 1010 2003 2004 2005 2006; do
        echo "$SIP_PASS" | "$SWITCHBOARD_BIN" -c "$T/switchboard.toml" ext add "$u" --password-stdin \
          > /dev/null || { echo "web: switchboard ext add $u failed"; return 1; }
      done
      "$SWITCHBOARD_BIN" -c "$T/switchboard.toml" > "$T/server.log" 2>&1 < /dev/null &
      SRV=$! ;;
    external)
      bash -c "$SERVER_CMD" > "$T/server.log" 2>&1 < /dev/null &
      SRV=$! ;;
  esac
  if ! wait_listening t "$WS_PORT" 15 || ! wait_listening u "$UDP_PORT" 5; then
    echo "web: the $SERVER server is not listening on WS $WS_PORT and UDP $UDP_PORT after 15 s; its log:"
    tail -25 "$T/server.log"
    return 1
  fi
}

# --- the case helpers (run in a child bash under `timeout`: exported) -------------------------
# page LIB USER [QUERY]: the query string of one phone.html page.
page() { echo "lib=$1&user=$2&pass=$SIP_PASS&domain=$DOMAIN&ws=$WS_URL${3:+&$3}"; }
# drive NAME=QUERY...: the browser part, at most CASE_SECS - 2 s.
drive() { node "$HERE/drive.mjs" $((CASE_SECS - 2)) "$@"; }
# sipp_reg USER PORT: registers USER (digest) with Contact 127.0.0.1:PORT from that port.
sipp_reg() {
  printf 'SEQUENTIAL\n%s;[authentication username=%s password=%s];127.0.0.1:%s\n' \
    "$1" "$1" "$SIP_PASS" "$2" > "$T/reg-$1.csv"
  (cd "$T" && timeout 15 sipp "$UDP_ADDR" -i 127.0.0.1 -p "$2" -sf "$SIPP_DIR/register.xml" \
    -inf "$T/reg-$1.csv" -m 1 -nostdin -trace_err -error_file "$T/reg-$1.err" > "$T/reg-$1.sipp" 2>&1)
  local rc=$?
  [ $rc = 0 ] || { echo "sipp REGISTER of $1 exited $rc:"; tail -5 "$T/reg-$1.err"; }
  return $rc
}
# sipp_result NAME RC: sipp's verdict and, on failure, its error log.
sipp_result() {
  echo "sipp $1 exited $2 ($(grep -a -m1 -o 'Successful call.*' "$T/$1.sipp" | tr -s ' '))"
  [ "$2" = 0 ] || { tail -20 "$T/$1.err" 2> /dev/null; return 1; }
}
# ladder NAME: the SIP messages sipp saw (first lines), from its -trace_msg file.
ladder() { grep -a -E '^(SIP/2\.0 [0-9]+|[A-Z]+ sip:)' "$T/$1.msg" | sed 's/^/  sipp: /'; }
# short_ladder NAME: the same on one line, methods and status codes only.
short_ladder() {
  grep -a -E '^(SIP/2\.0 [0-9]+|[A-Z]+ sip:)' "$T/$1.msg" | awk '{ print ($1 == "SIP/2.0") ? $2 : $1 }' | xargs
}

# A browser calls a sipp UDP extension that answers (uas_webrtc.xml); the browser hangs up.
browser_calls_udp() {
  local lib=$1 user=$2 ext=$3 port=$4 uas rc
  sipp_reg "$ext" "$port" || return 1
  (cd "$T" && exec timeout $((CASE_SECS - 5)) sipp -sf "$SIPP_DIR/uas_webrtc.xml" -i 127.0.0.1 \
    -p "$port" -m 1 -nostdin -trace_msg -message_file "$T/uas-$ext.msg" \
    -trace_err -error_file "$T/uas-$ext.err" > "$T/uas-$ext.sipp" 2>&1) &
  uas=$!
  wait_listening u "$port" 5 || { echo "sipp uas is not listening on $port"; return 1; }
  drive "$user=$(page "$lib" "$user" "call=$ext&media=0&hold=1")"
  rc=$?
  wait "$uas"; local urc=$?
  ladder "uas-$ext"
  echo "SUMMARY sipp $ext saw: $(short_ladder "uas-$ext")"
  sipp_result "uas-$ext" $urc && [ $rc = 0 ]
}

# A sipp UDP extension (uac_webrtc.xml, proxy digest) calls a browser that auto-answers;
# sipp hangs up.
udp_calls_browser() {
  local lib=$1 user=$2 ext=$3 port=$4 drv rc
  drive "$user=$(page "$lib" "$user" "answer=1&media=0&hold=1")" > "$T/drive-$user.out" 2>&1 &
  drv=$!
  for _ in $(seq 1 $(((CASE_SECS - 10) * 10))); do
    grep -q -E '^(ALL-REGISTERED|RESULT|driver)' "$T/drive-$user.out" && break
    sleep 0.1
  done
  if ! grep -q '^ALL-REGISTERED' "$T/drive-$user.out"; then
    kill "$drv" 2> /dev/null; wait "$drv"; cat "$T/drive-$user.out"; return 1
  fi
  printf 'SEQUENTIAL\n%s;[authentication username=%s password=%s];%s\n' \
    "$ext" "$ext" "$SIP_PASS" "$user" > "$T/uac-$ext.csv"
  (cd "$T" && timeout $((CASE_SECS - 10)) sipp "$UDP_ADDR" -i 127.0.0.1 -p "$port" \
    -sf "$SIPP_DIR/uac_webrtc.xml" -inf "$T/uac-$ext.csv" -auth_uri "$user@$UDP_ADDR" -m 1 \
    -nostdin -trace_msg -message_file "$T/uac-$ext.msg" -trace_err -error_file "$T/uac-$ext.err" \
    > "$T/uac-$ext.sipp" 2>&1)
  local urc=$?
  wait "$drv"; rc=$?
  cat "$T/drive-$user.out"
  ladder "uac-$ext"
  echo "SUMMARY sipp $ext saw: $(short_ladder "uac-$ext")"
  sipp_result "uac-$ext" $urc && [ $rc = 0 ]
}

# browser_registers LIB USER: REGISTER, 401 with a challenge, REGISTER with Authorization,
# 200 (RFC 3261 §22.4), as seen on the page's WebSocket; the page says "registered".
browser_registers() {
  drive "$2=$(page "$1" "$2")" > "$T/reg-$2.out" 2>&1
  local rc=$?
  cat "$T/reg-$2.out"
  [ $rc = 0 ] || return 1
  grep -E '^\[[0-9]+\] ws(<|>) (REGISTER|SIP/2.0)' "$T/reg-$2.out" | sed -E 's/^\[[0-9]+\] //; s/ \+[0-9]+ ms$//' |
    tr '\n' '|' > "$T/reg-$2.ladder"
  echo "the exchange: $(cat "$T/reg-$2.ladder")"
  echo "SUMMARY $(sed -E 's/ sip:[^ |]* SIP\/2.0//g; s/ (Unauthorized|OK)//g; s/\|$//; s/\|/, /g' "$T/reg-$2.ladder")"
  grep -q -E '^ws> REGISTER [^|]*\|ws< SIP/2.0 401 [^|]*\[WWW-Authenticate\]\|ws> REGISTER [^|]*\[Authorization\]\|ws< SIP/2.0 200 ' \
    "$T/reg-$2.ladder" || { echo "not a digest-authenticated REGISTER"; return 1; }
}
t_jssip_register() { browser_registers jssip 1001; }
t_sipjs_register() { browser_registers sipjs 1002; }
t_jssip_calls_udp() { browser_calls_udp jssip 1003 2003 5093; }
t_sipjs_calls_udp() { browser_calls_udp sipjs 1004 2004 5094; }
t_udp_calls_jssip() { udp_calls_browser jssip 1005 2005 5095; }
t_udp_calls_sipjs() { udp_calls_browser sipjs 1006 2006 5096; }
# The callee reads its stats 1.5 s after answering, the caller 2.5 s after its ACK and then
# hangs up.
webrtc_call() {
  drive "$1" "$2" > "$T/webrtc-$3.out" 2>&1
  local rc=$?
  cat "$T/webrtc-$3.out"
  # "SUMMARY": RTP packets sent/received and the ICE pair, per page, for the PASS line.
  echo "SUMMARY $(sed -n -E 's/^RESULT ([0-9]+) .*"sent":([0-9]+),"recv":([0-9]+),"pair":"([^"]*)".*/\1 sent \2 recv \3 on \4;/p' \
    "$T/webrtc-$3.out" | xargs)"
  return $rc
}
t_webrtc_jssip_sipjs() {
  webrtc_call "1008=$(page sipjs 1008 'answer=1&hold=1.5')" "1007=$(page jssip 1007 'call=1008&hold=2.5')" a
}
t_webrtc_sipjs_jssip() {
  webrtc_call "1010=$(page jssip 1010 'answer=1&hold=1.5')" "1009=$(page sipjs 1009 'call=1010&hold=2.5')" b
}

# A wss:// server (RFC 7118 §5) in a test usually has a self-signed certificate.
WEB_INSECURE=0
case $WS_URL in wss://*) WEB_INSECURE=1 ;; esac
export HERE T SIPP_DIR DOMAIN WS_URL UDP_ADDR SIP_PASS CASE_SECS CHROMIUM WEB_INSECURE
export -f page drive browser_registers sipp_reg sipp_result ladder short_ladder listening wait_listening browser_calls_udp \
  udp_calls_browser webrtc_call t_jssip_register t_sipjs_register t_jssip_calls_udp t_sipjs_calls_udp \
  t_udp_calls_jssip t_udp_calls_sipjs t_webrtc_jssip_sipjs t_webrtc_sipjs_jssip

passed=0 failed=0
# run_case NAME: t_NAME in a child bash, killed (with its process group) after CASE_SECS.
run_case() {
  local name=$1 t0 rc
  if ! declare -F "t_$name" > /dev/null; then
    failed=$((failed + 1)); echo "FAIL $name (no such case; the cases: $(echo $ALL_CASES))"; return
  fi
  t0=$(date +%s%N)
  timeout -k 5 "$CASE_SECS" bash -c "set -uo pipefail; t_$name" > "$T/$name.log" 2>&1
  rc=$?
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  [ $rc = 124 ] && echo "case limit of $CASE_SECS s reached" >> "$T/$name.log"
  if [ $rc = 0 ]; then
    local sum
    sum=$(sed -n 's/^SUMMARY //p' "$T/$name.log" | head -1)
    passed=$((passed + 1)); echo "PASS $name (${secs} s)${sum:+: $sum}"
  else
    failed=$((failed + 1)); echo "FAIL $name (${secs} s), rc=$rc; its log:"
    sed 's/^/    /' "$T/$name.log" | tail -60
  fi
}

echo "web: server $SERVER, WS $WS_URL, UDP $UDP_ADDR, domain $DOMAIN, $(chromium --version 2> /dev/null || "$CHROMIUM" --version)"
if ! start_server; then
  echo "0 passed, 1 failed"; exit 1
fi
for c in $CASES; do run_case "$c"; done

# No browser may outlive its case (drive.mjs closes it on every path); the PID namespace
# would end any that did, but say so.
left=$(pgrep -c -f "$CHROMIUM" 2> /dev/null || true)
if [ "${left:-0}" != 0 ]; then
  echo "FAIL no_browser_left_behind: $left Chromium processes still running"; failed=$((failed + 1))
fi
echo "web: $(($(date +%s) - STARTED)) s in all"
echo "$passed passed, $failed failed"
exit "$failed"

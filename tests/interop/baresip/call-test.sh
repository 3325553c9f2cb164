#!/usr/bin/env bash
# baresip interop: two baresip instances register (digest) with the registrar,
# the first calls the second (who auto-answers), the call holds 3 s and hangs
# up, and RTP must have flowed both ways (each side's "packets: <tx> <rx>").
#
# usage: call-test.sh WORKDIR REGISTRAR(host:port) CALLER PASS CALLEE PASS
# exit 0 = both registered, call established and closed, RTP both ways.
#
# Adapted from the project's peer-test kit (shared/peers/baresip/call-test.sh,
# 2026-11-27; no licence header): configs are generated here, every wait has a
# limit, and what it starts it stops by pid.
# Ports: caller SIP 5062 (+5063, baresip binds sip_listen+1 for TLS), ctrl 4444,
# RTP 10000-10098; callee SIP 5064 (+5065), ctrl 4445, RTP 10100-10198.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
W=$1 REG=$2 U1=$3 P1=$4 U2=$5 P2=$6
mkdir -p "$W"
[ -s "$W/tone8k.wav" ] || python3 "$HERE/make-tone.py" "$W/tone8k.wav" || exit 1

config() { # user sip_port ctrl_port rtp_range
  local d="$W/$1"; mkdir -p "$d"; : > "$d/contacts"
  cat > "$d/config" <<CFG
# baresip 1.0.0 headless config (no sound card): aufile plays the tone as the
# microphone, aubridge serves as a null sink (aufile has no player in 1.0.0).
poll_method		epoll
sip_listen		127.0.0.1:$2
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		4
audio_path		/usr/share/baresip
audio_source		aufile,$W/tone8k.wav
audio_player		aubridge,nullsink$1
audio_alert		aubridge,nullalert$1
audio_level		no
rtp_ports		$4
rtp_stats		yes
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$3
CFG
}
config "$U1" 5062 4444 10000-10098
config "$U2" 5064 4445 10100-10198
echo "<sip:$U1@$REG;transport=udp>;auth_user=$U1;auth_pass=$P1;answermode=auto;regint=300;audio_codecs=pcmu,pcma" > "$W/$U1/accounts"
echo "<sip:$U2@$REG;transport=udp>;auth_user=$U2;auth_pass=$P2;answermode=auto;regint=300;audio_codecs=pcmu,pcma" > "$W/$U2/accounts"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT
for u in "$U2" "$U1"; do
  setsid baresip -f "$W/$u" < /dev/null > "$W/b$u.log" 2>&1 &
  pids+=($!)
done

rc=1
registered=no
for _ in $(seq 1 100); do # up to 10 s for both registrations
  if grep -qa '200 OK' "$W/b$U1.log" && grep -qa '200 OK' "$W/b$U2.log"; then
    registered=yes; break
  fi
  sleep 0.1
done
echo "registered: $registered"
if [ $registered = yes ] &&
  python3 "$HERE/bsctl.py" 4444 -c "dial sip:$U2@$REG" -w CALL_ESTABLISHED -t 10 > "$W/ctl.out"; then
  sleep 3 # let RTP flow for a while
  python3 "$HERE/bsctl.py" 4444 -c hangup -w CALL_CLOSED -t 5 >> "$W/ctl.out" && rc=0
fi
python3 "$HERE/bsctl.py" 4444 -c quit -t 3 > /dev/null
python3 "$HERE/bsctl.py" 4445 -c quit -t 3 > /dev/null
for _ in $(seq 1 30); do # up to 6 s for both to exit
  alive=no
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=yes; done
  [ $alive = no ] && break
  sleep 0.2
done
cleanup

# RTP check: the "packets: <tx> <rx>" summary printed when the call ends. A 3 s
# call at 20 ms per packet sends about 150; require at least 50 each way.
for u in "$U1" "$U2"; do
  pk=$(grep -a '^packets:' "$W/b$u.log" | tail -1)
  echo "$u: $(grep -a -m1 -oE '\{0/UDP/v4\} [0-9]+ [A-Za-z ]+' "$W/b$u.log") | ${pk:-no call summary}"
  set -- $pk
  [ "${2:-0}" -ge 50 ] && [ "${3:-0}" -ge 50 ] || rc=1
done
if [ $rc != 0 ]; then
  echo "--- control"; cat "$W/ctl.out" 2>/dev/null
  for u in "$U1" "$U2"; do echo "--- baresip $u (last lines)"; tail -25 "$W/b$u.log"; done
fi
echo "baresip call-test rc=$rc"
exit $rc

#!/usr/bin/env bash
# baresip over SIP/TLS: one baresip instance registers (digest) with the
# registrar over TLS (`transport=tls`, the server's self-signed certificate as
# its CA file) and must get 200 OK on a TLS flow ("{0/TLS/v4} 200 OK").
#
# usage: register-tls.sh WORKDIR REGISTRAR-TLS(host:port) USER PASS CAFILE
# Ports: SIP 5066 (+5067 TLS, baresip binds sip_listen+1), ctrl 4446.
set -u
W=$1 REG=$2 U=$3 P=$4 CA=$5
d="$W/$U"; mkdir -p "$d"; : > "$d/contacts"
cat > "$d/config" <<CFG
poll_method		epoll
sip_listen		127.0.0.1:5066
sip_cafile		$CA
net_interface		127.0.0.1
audio_level		no
module_path		/usr/lib/baresip/modules
module			g711.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:4446
CFG
echo "<sip:$U@$REG;transport=tls>;auth_user=$U;auth_pass=$P;regint=300" > "$d/accounts"
setsid baresip -f "$d" < /dev/null > "$W/b$U-tls.log" 2>&1 &
pid=$!
rc=1
for _ in $(seq 1 100); do # up to 10 s
  if grep -qa -E '\{0/TLS/v4\} 200 OK' "$W/b$U-tls.log"; then rc=0; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
echo "$U: $(grep -a -m1 -oE '\{0/TLS/v4\} [0-9]+ [A-Za-z ]+' "$W/b$U-tls.log" || echo 'no TLS registration')"
[ $rc = 0 ] || tail -20 "$W/b$U-tls.log"
exit $rc

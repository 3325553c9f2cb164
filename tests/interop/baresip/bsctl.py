#!/usr/bin/env python3
# Copied unchanged from the project's peer-test kit (shared/peers/baresip/bsctl.py,
# 2026-11-27), which carries no licence header.
"""Tiny client for baresip's ctrl_tcp module (netstring-framed JSON).

usage: bsctl.py PORT [-c 'dial sip:1002@127.0.0.1:5080'] ... [-w CALL_ESTABLISHED] ... [-t 15]

Sends each -c command ("<command> <params>") in order, prints every
response/event as one JSON line, and exits 0 once every -w event type has
been seen (or right after the responses if no -w given); exit 1 on
timeout, 2 if a command answered ok=false.
"""
import argparse, json, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("-H", "--host", default="127.0.0.1")
ap.add_argument("-c", "--cmd", action="append", default=[])
ap.add_argument("-w", "--wait", action="append", default=[])
ap.add_argument("-t", "--timeout", type=float, default=15.0)
a = ap.parse_args()

s = socket.create_connection((a.host, a.port), timeout=a.timeout)
buf = b""


def send(obj):
    data = json.dumps(obj).encode()
    s.sendall(str(len(data)).encode() + b":" + data + b",")


def frames():
    global buf
    while True:
        i = buf.find(b":")
        if i < 0:
            return
        n = int(buf[:i])
        if len(buf) < i + 1 + n + 1:
            return
        yield json.loads(buf[i + 1:i + 1 + n])
        buf = buf[i + 1 + n + 1:]


pending = set()
for k, c in enumerate(a.cmd):
    cmd, _, params = c.partition(" ")
    tok = "t%d" % k
    send({"command": cmd, "params": params, "token": tok})
    pending.add(tok)

want = set(a.wait)
bad = False
deadline = time.time() + a.timeout
while time.time() < deadline and (pending or want):
    s.settimeout(max(0.05, deadline - time.time()))
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
    for m in frames():
        print(json.dumps(m), flush=True)
        if m.get("response"):
            pending.discard(m.get("token"))
            if not m.get("ok", True):
                bad = True
        if m.get("event"):
            want.discard(m.get("type"))
s.close()
if want or pending:
    print("TIMEOUT waiting for %s" % sorted(want | pending), file=sys.stderr)
    sys.exit(1)
sys.exit(2 if bad else 0)

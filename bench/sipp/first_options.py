#!/usr/bin/env python3
"""Time from exec of a SIP server to its first answered OPTIONS (RFC 3261 §11).

Usage: first_options.py HOST PORT TIMEOUT_S -- COMMAND...

Starts COMMAND (its stdout/stderr go to ./first_options.server.log), then
sends an OPTIONS every 2 ms from one UDP socket until any final response with
a matching Call-ID arrives, or TIMEOUT_S passes. Prints one line:
"first-options-ms <ms> pid <pid>" (the server keeps running; the caller stops it).
Exit status 0 on an answer, 1 on timeout or if the server exited first.
"""
import os
import socket
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    cmd = sys.argv[5:]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    lport = sock.getsockname()[1]
    sock.settimeout(0.002)
    call_id = f"first-options-{os.getpid()}@{host}"
    log = open("first_options.server.log", "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    n = 0
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            print(f"server exited with {proc.returncode} before answering", file=sys.stderr)
            return 1
        n += 1
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK-fo-{n}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{host}>;tag=fo{os.getpid()}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {n} OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        try:
            sock.sendto(msg, (host, port))
        except OSError:
            pass
        try:
            data, _ = sock.recvfrom(65535)
        except (socket.timeout, ConnectionRefusedError, OSError):
            continue
        if call_id.encode() in data and data.startswith(b"SIP/2.0 ") and data[8:9] in b"23456":
            ms = (time.monotonic() - t0) * 1000.0
            status = data.split(b"\r\n", 1)[0].decode(errors="replace")
            print(f"first-options-ms {ms:.1f} pid {proc.pid} status {status!r}")
            return 0
    print(f"no answer within {limit} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

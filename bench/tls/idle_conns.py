#!/usr/bin/env python3
"""Opens N TLS connections to HOST:PORT, completes each handshake (and, with --ws PATH, a
WebSocket upgrade with the `sip` subprotocol), then holds them idle until killed.
Writes READY_FILE when all are open, so the caller can measure the server's memory.

    python3 idle_conns.py HOST PORT N READY_FILE [--ws /]

Used by bench/tls/compare.sh; no SIP is sent (an idle phone between registrations)."""
import base64, os, socket, ssl, sys, time

def main():
    host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    ws = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--ws" else None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = []
    t0 = time.monotonic()
    for i in range(n):
        raw = socket.create_connection((host, port), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname=host)
        if ws is not None:
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET {ws} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    sys.exit(f"connection {i}: closed during the upgrade")
                head += chunk
            if not head.startswith(b"HTTP/1.1 101"):
                sys.exit(f"connection {i}: upgrade refused: {head[:80]!r}")
        held.append(s)
    print(f"{n} connections open in {time.monotonic() - t0:.1f}s", flush=True)
    with open(ready, "w") as f:
        f.write(str(n))
    while True:
        time.sleep(3600)

if __name__ == "__main__":
    main()

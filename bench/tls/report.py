#!/usr/bin/env python3
"""Turns bench/tls/compare.sh's steps.tsv into the markdown table for BENCHMARKS.md.

    python3 report.py WORK STEP_SECS CLK_TCK DATE COMMIT KAMAILIO_VERSION"""
import sys

work, step_secs, clk, date, commit, kam = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:7]
reg, hs, idle = {}, {}, {}
for line in open(f"{work}/steps.tsv"):
    f = line.rstrip("\n").split("\t")
    t, kind = f[0], f[1]
    if kind == "register":
        rate, ok, fail, wall, ticks = int(f[2]), int(f[3]), int(f[4]), float(f[5]), int(f[6])
        reg.setdefault(t, []).append((rate, ok, fail, wall, ticks))
    elif kind == "handshakes":
        hs[t] = (int(f[2]), int(f[3]), int(f[4]))
    elif kind == "idle":
        idle[t] = (int(f[2]), int(f[3]), int(f[4]), f[5])
best = {}
for line in open(f"{work}/best.tsv"):
    t, _, b = line.split()
    best[t] = int(b)

def us_per(ticks, n):
    return ticks * 1e6 / clk / n if n else float("nan")

print(f"Run {date}, commit {commit}, {kam}, steps of {step_secs} s, 127.0.0.1, one ECDSA P-256 certificate.\n")
print("| measure | Switchboard | Kamailio | ratio |")
print("|---|---|---|---|")
sb, km = "switchboard", "kamailio"
print(f"| max sustained REGISTER/s over one TLS connection | {best.get(sb, 0)} | {best.get(km, 0)} | |")
rates = sorted({r for t in reg for (r, *_ ) in reg[t]})
for r in rates:
    row = {}
    for t in (sb, km):
        for (rate, ok, fail, wall, ticks) in reg.get(t, []):
            if rate == r and ok:
                row[t] = us_per(ticks, ok)
    if sb in row and km in row:
        print(f"| CPU per REGISTER at {r}/s (µs) | {row[sb]:.0f} | {row[km]:.0f} | {row[sb] / row[km]:.2f}x |")
if sb in hs and km in hs:
    (n1, s1, t1), (n2, s2, t2) = hs[sb], hs[km]
    c1, c2 = us_per(t1, n1), us_per(t2, n2)
    print(f"| full handshakes/s (openssl s_time -new, client on the same cores) | {n1 / s1:.0f} | {n2 / s2:.0f} | |")
    print(f"| server CPU per full handshake (µs) | {c1:.0f} | {c2:.0f} | {c1 / c2:.2f}x |")
if sb in idle and km in idle:
    (n1, a1, b1, m1), (n2, a2, b2, m2) = idle[sb], idle[km]
    k1, k2 = (b1 - a1) / n1, (b2 - a2) / n2
    print(f"| memory per idle TLS connection (kB; {m1} / {m2}) | {k1:.1f} | {k2:.1f} | {k1 / k2:.2f}x |")

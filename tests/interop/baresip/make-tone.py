#!/usr/bin/env python3
"""Write a 30 s, 440 Hz sine, 8 kHz mono s16 WAV: the audio source baresip sends as RTP.

usage: make-tone.py OUT.wav

Adapted from the project's peer-test kit (shared/peers/make-tone.py, 2026-11-27),
which carries no licence header; only the output path became an argument.
"""
import math, struct, sys, wave

out = sys.argv[1] if len(sys.argv) > 1 else "tone8k.wav"
w = wave.open(out, "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * 30)))
w.close()

#!/usr/bin/env python3
"""WAV helpers for the agent's end-to-end tests (standard library only).

  wavtool.py compose OUT.wav RATE ITEM...   ITEM: silence:SECONDS | wav:PATH | tone:HZ:SECONDS
  wavtool.py segments IN.wav [THRESHOLD_DBFS [MIN_GAP_S]]
      prints one line per stretch of sound: "START END" in seconds (20 ms frames above the
      threshold, default -45 dBFS; stretches closer than MIN_GAP_S, default 0.3, are joined)
  wavtool.py level IN.wav START END
      prints the RMS level in dBFS of [START, END) seconds
  wavtool.py tone IN.wav HZ START END
      prints the share (0..1) of the energy of [START, END) at HZ (+-3%, Goertzel over 20 ms frames)
"""
import math
import struct
import sys
import wave


def read(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"{path}: want 16-bit mono, got {w.getsampwidth() * 8}-bit x{w.getnchannels()}")
        rate = w.getframerate()
        data = w.readframes(w.getnframes())
    return rate, list(struct.unpack(f"<{len(data) // 2}h", data))


def write(path, rate, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def resample(samples, src, dst):
    if src == dst:
        return samples
    n = int(len(samples) * dst / src)
    out = []
    for i in range(n):
        x = i * src / dst
        j = int(x)
        f = x - j
        a = samples[j] if j < len(samples) else 0
        b = samples[j + 1] if j + 1 < len(samples) else a
        out.append(int(a + (b - a) * f))
    return out


def dbfs(frame):
    if not frame:
        return -120.0
    e = sum(s * s for s in frame) / len(frame)
    return 10 * math.log10(e / (32768.0 * 32768.0)) if e > 0 else -120.0


def compose(out, rate, items):
    samples = []
    for item in items:
        kind, _, rest = item.partition(":")
        if kind == "silence":
            samples += [0] * int(float(rest) * rate)
        elif kind == "wav":
            r, s = read(rest)
            samples += resample(s, r, rate)
        elif kind == "tone":
            hz, secs = rest.split(":")
            n = int(float(secs) * rate)
            samples += [int(8000 * math.sin(2 * math.pi * float(hz) * i / rate)) for i in range(n)]
        else:
            sys.exit(f"unknown item {item}")
    write(out, rate, samples)
    print(f"{out} seconds={len(samples) / rate:.2f}")


def segments(path, threshold=-45.0, min_gap=0.3):
    rate, s = read(path)
    step = rate // 50
    active = []
    for i in range(0, len(s) - step + 1, step):
        if dbfs(s[i:i + step]) > threshold:
            t = i / rate
            if active and t - active[-1][1] <= min_gap:
                active[-1][1] = t + 0.02
            else:
                active.append([t, t + 0.02])
    return active


def window(path, start, end):
    rate, s = read(path)
    return rate, s[int(start * rate):int(end * rate)]


def goertzel_share(rate, s, hz):
    step = rate // 50
    total = 0.0
    at = 0.0
    for i in range(0, len(s) - step + 1, step):
        f = s[i:i + step]
        e = sum(x * x for x in f)
        if e == 0:
            continue
        best = 0.0
        for k in (0.97, 1.0, 1.03):
            w = 2 * math.pi * hz * k / rate
            c = 2 * math.cos(w)
            q1 = q2 = 0.0
            for x in f:
                q0 = c * q1 - q2 + x
                q2, q1 = q1, q0
            p = q1 * q1 + q2 * q2 - c * q1 * q2
            best = max(best, 2 * p / len(f))
        total += e
        at += min(best, e)
    return at / total if total > 0 else 0.0


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd = argv[1]
    if cmd == "compose":
        compose(argv[2], int(argv[3]), argv[4:])
    elif cmd == "segments":
        th = float(argv[3]) if len(argv) > 3 else -45.0
        gap = float(argv[4]) if len(argv) > 4 else 0.3
        for a, b in segments(argv[2], th, gap):
            print(f"{a:.2f} {b:.2f}")
    elif cmd == "level":
        rate, s = window(argv[2], float(argv[3]), float(argv[4]))
        print(f"{dbfs(s):.1f}")
    elif cmd == "tone":
        rate, s = window(argv[2], float(argv[4]), float(argv[5]))
        print(f"{goertzel_share(rate, s, float(argv[3])):.2f}")
    else:
        sys.exit(f"unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Writes a periodic ±J spin glass on an L^d torus (d = 2 or 3) in pbit's instance format.

  gen_spinglass.py L D SEED > FILE

Couplings are ±1 with probability 1/2 each, from Python's Mersenne Twister seeded with SEED, so
the same arguments always give the same file. Site (x, y[, z]) is p-bit 1 + x + L*y (+ L*L*z).
"""
import random
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    l, d, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if d not in (2, 3) or l < 3:
        sys.exit("need L >= 3 and D in {2, 3}")
    rng = random.Random(seed)
    n = l**d
    edges = []
    for v in range(n):
        coords = [(v // l**k) % l for k in range(d)]
        for k in range(d):
            c = list(coords)
            c[k] = (c[k] + 1) % l
            w = sum(c[m] * l**m for m in range(d))
            edges.append((min(v, w), max(v, w), rng.choice((-1, 1))))
    edges.sort()
    print(f"# {l}^{d} periodic +-J spin glass (p = 1/2), seed {seed}: bench/gen_spinglass.py {l} {d} {seed}")
    print(n, len(edges))
    for i, j, v in edges:
        print(i + 1, j + 1, v)


if __name__ == "__main__":
    main()

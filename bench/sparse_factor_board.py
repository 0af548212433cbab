#!/usr/bin/env python3
"""Time to solution on a board for the factoring runs of bench/sparse_factor.sh, counted (issue 13)
as sweeps x clocks per sweep / clock + link time, from target/bench/sparse_factor.jsonl.

  bench/sparse_factor_board.py [PBIT] [JSONL] [--clock-mhz 25] [--lanes L]

Per semiprime N, the machines of N's width classes are read from the notes `pbit` prints (one
short run per machine kind): n, edges and colours C of each (sparsified) class machine; the
largest of each over the classes is used (an upper bound: the 10 x 10-bit class is the widest).
- sparse gateware (docs/hdl.md): a sweep is C clocks with one cell per p-bit, or
  sum over colours of ceil(|colour| / L) with L lanes (|colour| <= n / C taken as ceil(n / C));
  each of the 32 schedule steps adds 1 + 129 clocks (its lookup and the page copy), per read.
- dense gateware: n clocks per sweep (one update per clock).
- link (both): UART at 1 Mbaud, 97.5 kB/s of payload (docs/benchmarks.md, "Link"). Per read
  (Driver::anneal): the generator seeds (n words), state and clamps (n/32 words each) written,
  the best state (n/32 words) and ~64 bytes of run/status/energy frames. Per round (the search
  changes class every round, so the instance is reloaded): J (dense: n rows of n words; sparse:
  one word per edge) and h (n words), and the 32 schedule pages (dense: 2,048 words each, the
  upper half of a 4,096-entry page; sparse: 128 thresholds, taken as 128 words). Per-round loads
  are an upper bound: a caching bus skips words that did not change.
Reads of 1,000 sweeps and rounds of 16 reads (the defaults).
"""
import json, math, re, subprocess, sys, statistics

args = [a for a in sys.argv[1:]]
clock = 25.0
lanes = None
if "--clock-mhz" in args:
    k = args.index("--clock-mhz"); clock = float(args[k + 1]); del args[k:k + 2]
if "--lanes" in args:
    k = args.index("--lanes"); lanes = int(args[k + 1]); del args[k:k + 2]
pbit = args[0] if args else "target/release/pbit"
path = args[1] if len(args) > 1 else "target/bench/sparse_factor.jsonl"
rows = [json.loads(l) for l in open(path)]
RATE = 97.5e3
SWEEPS, READS, STEPS = 1000, 16, 32


def machines(n, flags):
    run = subprocess.run([pbit, "--threads", "1", *flags, "factor", str(n), "--seed", "1",
                          "--max-sweeps", "1000000"], capture_output=True, text=True)
    ms = re.findall(r"sparse machine: n (\d+), (\d+) edges, max degree \d+, (\d+) colours", run.stderr)
    ms = [tuple(map(int, m)) for m in ms]
    return max(m[0] for m in ms), max(m[1] for m in ms), max(m[2] for m in ms)


def link_s(n, j_words, page_words, sweeps):
    reads = sweeps / SWEEPS
    rounds = reads / READS
    per_read = 4 * n + 3 * 4 * math.ceil(n / 32) + 64
    per_round = 4 * (j_words + n) + 4 * STEPS * page_words
    return (reads * per_read + rounds * per_round) / RATE


out = []
cache = {}
for r in rows:
    if r["sweeps"] is None:
        out.append((r["n"], r["machine"], None, None, None, None)); continue
    m = r["machine"]
    if m == "dense":
        key = (r["n"], "sparse")
        if key not in cache:
            cache[key] = machines(r["n"], ["--machine", "sparse"])
        n, e, c = cache[key]
        cps = n
        comp = r["sweeps"] * cps / (clock * 1e6)
        link = link_s(n, n * n, 2048, r["sweeps"])
    else:
        d = m.split("-D")[1] if "-D" in m else None
        flags = ["--machine", "sparse"] + (["--max-degree", d] if d else [])
        key = (r["n"], m)
        if key not in cache:
            cache[key] = machines(r["n"], flags)
        n, e, c = cache[key]
        cps = c if lanes is None else c * math.ceil(math.ceil(n / c) / lanes)
        reads = r["sweeps"] / SWEEPS
        comp = (r["sweeps"] * cps + reads * STEPS * 130) / (clock * 1e6)
        link = link_s(n, e, 128, r["sweeps"])
    out.append((r["n"], m, cps, r["sweeps"], comp, link))
    print(json.dumps({"n": r["n"], "machine": m, "pbits": n, "clocks_per_sweep": cps,
                      "sweeps": r["sweeps"], "compute_s": comp, "link_s": link}), file=sys.stderr)

print(f"| machine | found | clocks per sweep | median sweeps | median compute s | median link s | median time to solution s |")
print("|---|---|---|---|---|---|---|")
for m in dict.fromkeys(o[1] for o in out):
    os_ = [o for o in out if o[1] == m]
    f = [o for o in os_ if o[3] is not None]
    if not f:
        print(f"| {m} | 0 of {len(os_)} | – | – | – | – | – |"); continue
    med = lambda k: statistics.median(o[k] for o in f)
    cps = sorted(set(o[2] for o in f))
    print(f"| {m} | {len(f)} of {len(os_)} | {'–'.join(map(str, [cps[0], cps[-1]])) if len(cps) > 1 else cps[0]} | "
          f"{med(3):,.0f} | {med(4):.2f} | {med(5):.1f} | {statistics.median(o[4] + o[5] for o in f):.1f} |")

#!/usr/bin/env bash
# Factoring 20 balanced 20-bit semiprimes (both factors 10-bit primes) on the dense machine, the
# sparse machine (model, no degree limit) and the sparse machine sparsified to D = 8 (copy
# p-bits on ferromagnetic chains), seed = N: sweeps to the answer and whole-process CPU time.
#
#   bench/sparse_factor.sh [COUNT] [D]   (defaults 20, 8) -> target/bench/sparse_factor.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-20}
D=${2:-8}
OUT=target/bench
mkdir -p "$OUT"
cargo build --release -q -p pbit-cli --bin pbit
python3 - target/release/pbit "$COUNT" "$D" > "$OUT/sparse_factor.jsonl" <<'PYEOF'
import json, random, resource, subprocess, sys
pbit, count, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
primes = [p for p in range(512, 1024) if all(p % k for k in range(2, 32))]
rng = random.Random(20)
ns = set()
while len(ns) < count:
    p, q = rng.choice(primes), rng.choice(primes)
    if p != q and (p * q).bit_length() == 20:
        ns.add(p * q)
for n in sorted(ns):
    for name, flags in (("dense", []), ("sparse", ["--machine", "sparse"]),
                        (f"sparse-D{d}", ["--machine", "sparse", "--max-degree", d])):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([pbit, *flags, "factor", str(n), "--seed", str(n), "--json"],
                             capture_output=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = json.loads(out)
        print(json.dumps({"n": n, "machine": name, "factors": r["factors"], "sweeps": r["sweeps"],
                          "process_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}),
              flush=True)
PYEOF
python3 - "$OUT/sparse_factor.jsonl" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| machine | semiprimes | mean sweeps | median sweeps | max sweeps | mean process CPU s |")
print("|---|---|---|---|---|---|")
for m in dict.fromkeys(r["machine"] for r in rows):
    rs = [r for r in rows if r["machine"] == m]
    s = [r["sweeps"] for r in rs]
    print(f"| {m} | {len(rs)} | {statistics.mean(s):,.0f} | {statistics.median(s):,.0f} | {max(s):,} | {statistics.mean(r['process_cpu_s'] for r in rs):.2f} |")
PYEOF

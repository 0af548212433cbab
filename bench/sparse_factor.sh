#!/usr/bin/env bash
# Factoring balanced 20-bit semiprimes (both factors 10-bit primes) on the dense machine, the
# sparse machine (model, no degree limit) and the sparse machine sparsified to D (copy p-bits on
# ferromagnetic chains), seed = N: sweeps to the answer and whole-process CPU time. A run that
# exceeds BUDGET sweeps is recorded as not found. D is a comma-separated list of maximum degrees
# (0: the sparse machine without a degree limit), each run as its own machine.
#
# SKIP=k leaves out the first k semiprimes and appends to the results (to resume a run).
#
#   bench/sparse_factor.sh [COUNT] [D] [BUDGET]   (defaults 20, 0,12, 5e7) -> target/bench/sparse_factor.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-20}
D=${2:-0,12}
BUDGET=${3:-50000000}
OUT=target/bench
mkdir -p "$OUT"
cargo build --release -q -p pbit-cli --bin pbit
SKIP=${SKIP:-0}
[ "$SKIP" = 0 ] && : > "$OUT/sparse_factor.jsonl"
python3 - target/release/pbit "$COUNT" "$D" "$BUDGET" "$SKIP" >> "$OUT/sparse_factor.jsonl" <<'PYEOF'
import json, random, resource, subprocess, sys
pbit, count, d, budget, skip = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
primes = [p for p in range(512, 1024) if all(p % k for k in range(2, 32))]
rng = random.Random(20)
ns = set()
while len(ns) < count:
    p, q = rng.choice(primes), rng.choice(primes)
    if p != q and (p * q).bit_length() == 20:
        ns.add(p * q)
for n in sorted(ns)[skip:]:
    machines = [("dense", [])] + [
        ("sparse", ["--machine", "sparse"]) if k == "0" else
        (f"sparse-D{k}", ["--machine", "sparse", "--max-degree", k]) for k in d.split(",")]
    for name, flags in machines:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run([pbit, "--threads", "1", *flags, "factor", str(n), "--seed", str(n), "--json",
                              "--max-sweeps", budget], capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = json.loads(run.stdout) if run.returncode == 0 else {"factors": None, "sweeps": None}
        print(json.dumps({"n": n, "machine": name, "factors": r["factors"], "sweeps": r["sweeps"],
                          "process_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}),
              flush=True)
PYEOF
python3 - "$OUT/sparse_factor.jsonl" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| machine | semiprimes | found | mean sweeps (found) | median sweeps (found) | mean process CPU s (all) |")
print("|---|---|---|---|---|---|")
for m in dict.fromkeys(r["machine"] for r in rows):
    rs = [r for r in rows if r["machine"] == m]
    s = [r["sweeps"] for r in rs if r["sweeps"] is not None]
    mean = f"{statistics.mean(s):,.0f}" if s else "–"
    med = f"{statistics.median(s):,.0f}" if s else "–"
    print(f"| {m} | {len(rs)} | {len(s)} | {mean} | {med} | {statistics.mean(r['process_cpu_s'] for r in rs):.2f} |")
PYEOF

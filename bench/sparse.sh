#!/usr/bin/env bash
# The sparse machine's CPU bar (issue 13): whole-process CPU time of
#   pbit --machine sparse anneal FILE --reads R --threads 1 --sweeps 4000
# against dwave-samplers' SimulatedAnnealingSampler (Gibbs) at the same sweeps and reads, on a
# 64×64 ±J lattice and a 16³ ±J spin glass, plus the dense machine for reference.
#
#   bench/sparse.sh [SWEEPS]     (default 4000) -> target/bench/sparse.jsonl and a table
#
# Environment: INSTANCES (default /work/shared/instances), REPEAT (best of, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEPS=${1:-4000}
INSTANCES=${INSTANCES:-/work/shared/instances}
REPEAT=${REPEAT:-5}
VENV=target/bench-venv
OUT=target/bench
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import dwave.samplers" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q dwave-samplers==1.8.0
fi
PY="$VENV/bin/python"
cargo build --release -q -p pbit-cli --bin pbit
PBIT=target/release/pbit
python3 bench/gen_spinglass.py 16 3 1 > "$OUT/sg3d_16_pbc.txt"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
RESULTS="$OUT/sparse.jsonl"
: > "$RESULTS"
echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for file in "$INSTANCES/sg2d_64x64_pbc.txt" "$OUT/sg3d_16_pbc.txt"; do
    for reads in 1 8; do
        for machine in sparse dense; do
            # whole-process CPU time (user + system of the child), best of REPEAT
            python3 - "$PBIT" "$machine" "$file" "$reads" "$SWEEPS" "$REPEAT" >> "$RESULTS" <<'PYEOF'
import json, os, resource, subprocess, sys
pbit, machine, file, reads, sweeps, repeat = sys.argv[1:]
best, report = float("inf"), None
for _ in range(int(repeat)):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([pbit, "--machine", machine, "anneal", file, "--reads", reads,
                          "--threads", "1", "--sweeps", sweeps, "--json"],
                         check=True, capture_output=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if cpu < best:
        best, report = cpu, json.loads(out)
e = report["energies"]
print(json.dumps({"solver": f"pbit-{machine}", "instance": os.path.basename(file), "reads": int(reads),
                  "sweeps": int(sweeps), "process_cpu_s": best,
                  "mean_best_energy": sum(e) / len(e), "min_best_energy": min(e)}))
PYEOF
        done
        read -r a b < <("$PY" bench/peers.py beta-range "$file")
        "$PY" bench/peers.py run "$file" --solver dwave --sweeps "$SWEEPS" --reads "$reads" \
            --beta-start "$a" --beta-end "$b" --repeat "$REPEAT" >> "$RESULTS"
    done
done
python3 - "$RESULTS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["instance"], r["reads"]), {})[r["solver"]] = r
print("| instance | reads | pbit sparse process CPU s | pbit dense process CPU s | dwave Gibbs call CPU s | **dwave / pbit sparse** | mean best E: sparse | dense | dwave |")
print("|---|---|---|---|---|---|---|---|---|")
for (inst, reads), d in by.items():
    s, dn, dw = d["pbit-sparse"], d["pbit-dense"], d["dwave"]
    print(f"| {inst} | {reads} | {s['process_cpu_s']:.3f} | {dn['process_cpu_s']:.3f} | {dw['cpu_s']:.3f} | "
          f"**{dw['cpu_s'] / s['process_cpu_s']:.1f}×** | {s['mean_best_energy']:.1f} | {dn['mean_best_energy']:.1f} | {dw['mean_best_energy']:.1f} |")
PYEOF

#!/usr/bin/env bash
# CPU benchmark: pbit's kernel against dwave-samplers (Gibbs) and OpenJij, one core each, same
# instances, sweeps, reads and beta range (dwave's default range for the instance, geometric).
#
#   bench/cpu.sh [SWEEPS]      (default 1000) -> target/bench/results.jsonl and a markdown table
#
# Environment: INSTANCES (default /work/shared/instances), READS (default "1 8"), REPEAT (3).
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEPS=${1:-1000}
INSTANCES=${INSTANCES:-/work/shared/instances}
READS=${READS:-"1 8"}
REPEAT=${REPEAT:-3}
VENV=target/bench-venv
OUT=target/bench
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import dwave.samplers, openjij" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q dwave-samplers==1.8.0 openjij==0.12.2
fi
PY="$VENV/bin/python"
cargo build --release -q -p pbit-model --example bench
BENCH=target/release/examples/bench

echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; pbit kernel: see \"variant\"; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# single-threaded peers (OpenJij/numpy could otherwise start thread pools)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
for spec in "sg2d_64x64_pbc.txt" "gset/G1.txt --maxcut" "sk_256.txt"; do
    file="$INSTANCES/${spec%% *}"
    flags=""
    [[ "$spec" == *--maxcut* ]] && flags="--maxcut"
    read -r B0 B1 < <("$PY" bench/peers.py beta-range "$file" $flags)
    for r in $READS; do
        common=(--sweeps "$SWEEPS" --reads "$r" --beta-start "$B0" --beta-end "$B1" $flags)
        "$BENCH" "$file" "${common[@]}" --threads 1 --repeat "$REPEAT" | tee -a "$RESULTS" >&2
        "$PY" bench/peers.py run "$file" --solver dwave "${common[@]}" --repeat "$REPEAT" | tee -a "$RESULTS" >&2
        "$PY" bench/peers.py run "$file" --solver openjij "${common[@]}" --repeat "$REPEAT" | tee -a "$RESULTS" >&2
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PY" bench/peers.py table "$RESULTS"

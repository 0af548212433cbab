#!/usr/bin/env bash
# The speed bar as users meet it: whole-process CPU time of `pbit anneal` (`pbit maxcut` for
# G1) with default options, and with `--threads 1`, against dwave-samplers' Gibbs SA (one core,
# net of its per-call setup) at the same sweeps and reads, measured in the same run.
#
#   bench/process.sh [SWEEPS] [READS]      (default 4000 8) -> markdown table on stdout
#
# pbit runs twice per setting: with its own default β range (what `pbit anneal` does) and with
# dwave's default range for the instance (the same schedule range as the peer).
# Environment: INSTANCES (default /work/shared/instances), REPEAT (5), PBIT (a pbit binary to
# measure instead of building this tree's, e.g. another commit's for a before/after pair).
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEPS=${1:-4000}
READS=${2:-8}
INSTANCES=${INSTANCES:-/work/shared/instances}
REPEAT=${REPEAT:-5}
VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import dwave.samplers" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q dwave-samplers==1.8.0
fi
PY="$VENV/bin/python"
if [ -z "${PBIT:-}" ]; then
    cargo build --release -q -p pbit-cli --bin pbit
    PBIT=target/release/pbit
    BUILD=$(git rev-parse --short HEAD)
else
    BUILD="$PBIT"
fi
export OMP_NUM_THREADS=1
echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores, $BUILD; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
OUT=$(mktemp)
for spec in "$INSTANCES/sg2d_64x64_pbc.txt" "examples/G1.txt" "examples/G1.txt --maxcut"; do
    file="${spec%% *}"
    flags=""
    [[ "$spec" == *--maxcut* ]] && flags="--maxcut"
    read -r B0 B1 < <("$PY" bench/peers.py beta-range "$file" $flags)
    "$PY" bench/peers.py run "$file" --solver dwave --sweeps "$SWEEPS" --reads "$READS" \
        --beta-start "$B0" --beta-end "$B1" $flags --repeat "$REPEAT" | tee -a "$OUT" >&2
    for threads in "" 1; do
        t=()
        [ -n "$threads" ] && t=(--threads "$threads")
        "$PY" bench/peers.py process "$file" --pbit "$PBIT" --sweeps "$SWEEPS" --reads "$READS" \
            "${t[@]}" $flags --repeat "$REPEAT" | tee -a "$OUT" >&2
        "$PY" bench/peers.py process "$file" --pbit "$PBIT" --sweeps "$SWEEPS" --reads "$READS" \
            "${t[@]}" --beta-start "$B0" --beta-end "$B1" $flags --repeat "$REPEAT" | tee -a "$OUT" >&2
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PY" - "$OUT" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| command | β range | wall s | CPU s | dwave net CPU s | **dwave / pbit CPU** |")
print("|---|---|---|---|---|---|")
dw = None
for r in rows:
    if r["solver"] == "dwave":
        dw = r
        net = r["cpu_s"] - r["call_overhead_cpu_s"]
        continue
    same = "--beta-start" in r["command"]
    rng = f"{r['beta_start']:.3g}→{r['beta_end']:.3g}" + (" (dwave's)" if same else " (pbit's default)")
    cmd = r["command"].replace(" --json", "").split(" --beta-start")[0]
    print(f"| `pbit {cmd}` | {rng} | {r['wall_s']:.3f} | {r['cpu_s']:.3f} | {net:.3f} | **{net / r['cpu_s']:.1f}×** |")
PYEOF
rm -f "$OUT"

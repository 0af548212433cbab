#!/usr/bin/env bash
# Annealing quality of the sparse machine against dwave-samplers (Gibbs) at equal sweeps and β
# range (dwave's default range for each instance, geometric): toroidal G-set graphs (Max-Cut) and
# 3D ±J spin glasses (energy). Mean and best of 8 reads.
#
#   bench/sparse_quality.sh [SWEEPS...]    (default "1000 10000") -> target/bench/sparse_quality.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEPS=${*:-"1000 10000"}
INSTANCES=${INSTANCES:-/work/shared/instances}
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
# G48-like: G48 is a 3000-node toroidal grid with unit weights (bipartite: the best cut is all
# 6000 edges); this is a 60 × 50 torus of the same kind
python3 - > "$OUT/g48like.txt" <<'PYEOF'
rows, cols = 60, 50
edges = []
for r in range(rows):
    for c in range(cols):
        v = r * cols + c
        for w in (r * cols + (c + 1) % cols, ((r + 1) % rows) * cols + c):
            edges.append((min(v, w), max(v, w)))
edges.sort()
print(f"# G48-like: {rows}x{cols} toroidal grid, unit weights; best cut {len(edges)} (bipartite)")
print(rows * cols, len(edges))
for i, j in edges:
    print(i + 1, j + 1, 1)
PYEOF
python3 bench/gen_spinglass.py 8 3 1 > "$OUT/sg3d_8_pbc.txt"
python3 bench/gen_spinglass.py 16 3 1 > "$OUT/sg3d_16_pbc.txt"
RESULTS="$OUT/sparse_quality.jsonl"
: > "$RESULTS"
export OMP_NUM_THREADS=1
for spec in "$OUT/g48like.txt maxcut" "$INSTANCES/gset/G67.txt maxcut" "$INSTANCES/gset/G81.txt maxcut" \
            "$OUT/sg3d_8_pbc.txt anneal" "$OUT/sg3d_16_pbc.txt anneal"; do
    set -- $spec
    file=$1 cmd=$2
    flag=""; [ "$cmd" = maxcut ] && flag="--maxcut"
    read -r a b < <("$PY" bench/peers.py beta-range "$file" $flag)
    for sweeps in $SWEEPS; do
        "$PBIT" --machine sparse "$cmd" "$file" --sweeps "$sweeps" --reads 8 --threads 2 \
            --beta-start "$a" --beta-end "$b" --seed 1 --json |
            python3 -c "
import json, sys, os
d = json.load(sys.stdin)
e = d['energies']
out = {'solver': 'pbit-sparse', 'instance': os.path.basename('$file'), 'sweeps': $sweeps, 'reads': 8,
       'mean_best_energy': sum(e) / len(e), 'min_best_energy': min(e), 'seconds': d['seconds']}
if d.get('total_weight') is not None:
    w = d['total_weight']
    out['mean_best_cut'] = (w - out['mean_best_energy']) / 2
    out['max_best_cut'] = (w - out['min_best_energy']) / 2
print(json.dumps(out))" >> "$RESULTS"
        "$PY" bench/peers.py run "$file" --solver dwave --sweeps "$sweeps" --reads 8 \
            --beta-start "$a" --beta-end "$b" --repeat 1 $flag >> "$RESULTS"
    done
done
python3 - "$RESULTS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["instance"], r["sweeps"]), {})[r["solver"]] = r
print("| instance | sweeps | pbit sparse mean / best | dwave Gibbs mean / best |")
print("|---|---|---|---|")
for (inst, sweeps), d in by.items():
    def f(r):
        if "mean_best_cut" in r:
            return f"cut {r['mean_best_cut']:.1f} / {r['max_best_cut']:.0f}"
        return f"E {r['mean_best_energy']:.1f} / {r['min_best_energy']:.0f}"
    print(f"| {inst} | {sweeps} | {f(d['pbit-sparse'])} | {f(d['dwave'])} |")
PYEOF

#!/usr/bin/env python3
"""The Python speed bar (issue 14, docs/benchmarks.md "Python"): on G-set G1 as a Max-Cut BQM,
PBitSampler().sample(bqm, num_reads=8, num_sweeps=1000) against dwave-samplers'
SimulatedAnnealingSampler with proposal_acceptance_criteria="Gibbs", same arguments, in the same
process, alternating, each `--repeats` times with seeds 1..repeats.

Prints the median wall time of each, the ratio, the mean best energy of each (mean over all
reads of all repeats; a read's energy is the sample it returns), and the share of PBitSampler's
wall time spent outside the Rust sampling call (conversion in and out, SampleSet). Needs pbit,
dimod, dwave-samplers (the venv scripts/test-all.sh makes has them).

    python bench/python_g1.py [--graph examples/G1.txt] [--repeats 5]
"""

import argparse
import pathlib
import statistics
import time

import dimod
from dwave.samplers import SimulatedAnnealingSampler

from pbit import PBitSampler


def maxcut_bqm(path):
    """Max-Cut as an Ising model: minimise Σ w_ij s_i s_j (cut = (W − E)/2)."""
    lines = [l.split() for l in pathlib.Path(path).read_text().splitlines() if l.strip() and not l.startswith("#")]
    n, m = int(lines[0][0]), int(lines[0][1])
    bqm = dimod.BinaryQuadraticModel({i: 0.0 for i in range(n)}, {}, 0.0, dimod.SPIN)
    for i, j, w in lines[1 : 1 + m]:
        bqm.add_interaction(int(i) - 1, int(j) - 1, float(w))
    return bqm


def main():
    ap = argparse.ArgumentParser()
    here = pathlib.Path(__file__).resolve().parents[1]
    ap.add_argument("--graph", default=str(here / "examples" / "G1.txt"))
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    bqm = maxcut_bqm(a.graph)
    kw = dict(num_reads=8, num_sweeps=1000)
    pbit_s, sa_s, pbit_e, sa_e, outside = [], [], [], [], []
    pbit_sampler, sa_sampler = PBitSampler(), SimulatedAnnealingSampler()
    pbit_sampler.sample(bqm, seed=0, **kw)  # warm-up (thread pool, page faults)
    for seed in range(1, a.repeats + 1):
        t = time.perf_counter()
        ss = pbit_sampler.sample(bqm, seed=seed, **kw)
        pbit_s.append(time.perf_counter() - t)
        pbit_e.extend(ss.record.energy)
        timing = ss.info["timing"]
        outside.append((pbit_s[-1] - timing["sampling_s"]) / pbit_s[-1])
        t = time.perf_counter()
        ss = sa_sampler.sample(bqm, seed=seed, proposal_acceptance_criteria="Gibbs", **kw)
        sa_s.append(time.perf_counter() - t)
        sa_e.extend(ss.record.energy)
    pt, st = statistics.median(pbit_s), statistics.median(sa_s)
    pe, se = statistics.fmean(pbit_e), statistics.fmean(sa_e)
    print(f"graph {a.graph}: {len(bqm)} variables, {bqm.num_interactions} interactions; {a.repeats} repeats of 8 reads x 1000 sweeps")
    print(f"PBitSampler          median {pt:.4f} s  (all: {' '.join(f'{x:.4f}' for x in pbit_s)})")
    print(f"SA Gibbs (dwave)     median {st:.4f} s  (all: {' '.join(f'{x:.4f}' for x in sa_s)})")
    print(f"speed-up (wall)      {st / pt:.2f}x")
    print(f"mean best energy     pbit {pe:.2f}  SA {se:.2f}  (pbit/SA − 1 = {100 * (pe / se - 1):+.3f}%)")
    print(f"outside the Rust run median {100 * statistics.median(outside):.2f}% of PBitSampler's wall time (max {100 * max(outside):.2f}%)")


if __name__ == "__main__":
    main()

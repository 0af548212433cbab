//! The sparse machine in Verilator against the sparse reference model (`pbit_model::sparse`),
//! bit for bit: whole sample streams (state and energy of every sample), anneal reads (best and
//! final energy, best state) and the generators after a run, over random configurations on
//! several generated machines (each graph is its own Verilator build, cached by graph hash);
//! and the clocks a sweep takes, from the machine's busy-clock counter.
//!
//! Needs verilator and g++.

use pbit_hdl::sparse::SparseOptions;
use pbit_model::run::{Pages, SampleSpec};
use pbit_model::sparse::{run, Phases, SparseMachine, MODEL_FORMAT};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_sim::VerilatedMachine;
use pbit_spec::sparse::SparseGraph;
use pbit_spec::{Beta, ThresholdPage};

/// A deterministic generator for the test's choices.
/// Test-case generator: the host's generator (`pbit_spec::rng::HostRng`).
type Gen = pbit_spec::rng::HostRng;

/// A random graph of n nodes with degrees ≤ d: random pairs, kept while both ends have room.
fn random_edges(g: &mut Gen, n: u32, d: u32, tries: usize) -> Vec<(u32, u32)> {
    let mut deg = vec![0u32; n as usize];
    let mut pairs = Vec::new();
    for _ in 0..tries {
        let (a, b) = (g.below(n as u64) as u32, g.below(n as u64) as u32);
        if a == b || pairs.contains(&(a.min(b), a.max(b))) {
            continue;
        }
        if deg[a as usize] < d && deg[b as usize] < d {
            deg[a as usize] += 1;
            deg[b as usize] += 1;
            pairs.push((a.min(b), a.max(b)));
        }
    }
    SparseGraph::canonical_edges(pairs)
}

/// First-fit colouring in a random node order: a proper colouring, often with more colours
/// than DSATUR's (so machines with many phases are tested too).
fn random_colouring(g: &mut Gen, n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        order.swap(k, g.below(k as u64 + 1) as usize);
    }
    let mut col = vec![u32::MAX; n];
    for &i in &order {
        let used: Vec<u32> = edges
            .iter()
            .filter_map(|&(a, b)| {
                if a as usize == i {
                    Some(col[b as usize])
                } else if b as usize == i {
                    Some(col[a as usize])
                } else {
                    None
                }
            })
            .collect();
        col[i] = (0..).find(|c| !used.contains(c)).unwrap();
    }
    col
}

/// The periodic lattice of side l in `dims` dimensions: node Σ c_k·l^k, each joined to its
/// successor along every axis (l ≥ 3).
fn periodic_lattice(l: u32, dims: u32) -> Vec<(u32, u32)> {
    let mut p = Vec::new();
    for i in 0..l.pow(dims) {
        let mut stride = 1;
        for _ in 0..dims {
            let c = (i / stride) % l;
            p.push((i, i - c * stride + (c + 1) % l * stride));
            stride *= l;
        }
    }
    SparseGraph::canonical_edges(p)
}

/// The periodic lattice (l even), coloured by the model (2 colours).
fn bipartite_lattice(l: u32, dims: u32) -> SparseGraph {
    let e = periodic_lattice(l, dims);
    let n = l.pow(dims) as usize;
    let c = pbit_model::colour::colour(n, &e);
    SparseGraph::new(n, e, c.colours).unwrap()
}

/// The generated machines: (name, graph, built maximum degree).
fn machines() -> Vec<(&'static str, SparseGraph, usize)> {
    let mut g = Gen::new(0x5EED_5A4E);
    let mut out = Vec::new();
    // a ring: bipartite, 2 colours
    let ring = SparseGraph::canonical_edges((0..12u32).map(|i| (i, (i + 1) % 12)));
    let c = pbit_model::colour::colour(12, &ring);
    out.push(("ring12", SparseGraph::new(12, ring, c.colours).unwrap(), 2));
    // random graphs, DSATUR
    for (name, n, d) in [("random24-d3", 24u32, 3u32), ("random40-d6", 40, 6)] {
        let e = random_edges(&mut g, n, d, 6 * n as usize);
        let c = pbit_model::colour::colour(n as usize, &e);
        out.push((
            name,
            SparseGraph::new(n as usize, e, c.colours).unwrap(),
            d as usize,
        ));
    }
    // a random graph, random first-fit colouring (more colours); built for a larger D than used
    let e = random_edges(&mut g, 30, 5, 200);
    let col = random_colouring(&mut g, 30, &e);
    out.push((
        "random30-d5-firstfit",
        SparseGraph::new(30, e, col).unwrap(),
        8,
    ));
    // a 4×4 torus coloured 0 and 2: colour 1 is an empty phase
    let e = periodic_lattice(4, 2);
    let col: Vec<u32> = (0..16u32).map(|i| 2 * ((i % 4 + i / 4) % 2)).collect();
    out.push(("torus4-gap", SparseGraph::new(16, e, col).unwrap(), 4));
    // no edges: one colour, two clocks per phase
    out.push((
        "edgeless5",
        SparseGraph::new(5, vec![], vec![0; 5]).unwrap(),
        1,
    ));
    out
}

/// A random instance on (a prefix of) the graph: couplings on a random subset of its edges,
/// often at the format's extremes (±255/16 and ±1023/16), or small.
fn instance(g: &mut Gen, graph: &SparseGraph) -> FixedIsing {
    let n = if g.below(4) == 0 {
        1 + g.below(graph.n() as u64) as usize
    } else {
        graph.n()
    };
    let extreme = g.below(3) == 0;
    let mut ising = Ising::new(n);
    for &(i, j) in graph.edges() {
        if (j as usize) < n && g.below(5) != 0 {
            let raw = if extreme {
                [-255i64, 255, -254, 1, -1][g.below(5) as usize]
            } else {
                g.below(65) as i64 - 32
            };
            if raw != 0 {
                ising.add_coupling(i as usize, j as usize, raw as f64 / 16.0);
            }
        }
    }
    for i in 0..n {
        let raw = if extreme && g.below(2) == 0 {
            [-1023i64, 1023][g.below(2) as usize]
        } else {
            g.below(129) as i64 - 64
        };
        ising.h[i] = raw as f64 / 16.0;
    }
    FixedIsing::new(&ising, MODEL_FORMAT, Scaling::Exact).unwrap()
}

fn beta(g: &mut Gen) -> Beta {
    let b = [0.05, 0.3, 0.7, 1.0, 1.6, 4.0, 16.0][g.below(7) as usize];
    Beta::from_f64(b).unwrap()
}

/// ≥ 100 random configurations over 6 generated machines: sample streams, generators after
/// the run and anneal reads equal the model's. A mismatch names the machine, the
/// configuration's seed and the first differing sample.
#[test]
fn sparse_machines_match_the_model() {
    let mut configs = 0;
    for (name, graph, d) in machines() {
        configs += check_machine(name, &graph, d, None, false, 20);
    }
    assert!(configs >= 100);
}

/// The same over time-multiplexed builds: L update lanes, a colour's p-bits L at a time, with
/// L dividing no colour's size (torus, random graphs), dividing them (the ring at L = 6: each
/// lane serves one p-bit of each colour), L = 1 (a fully sequential sweep) and empty colours.
#[test]
fn lane_machines_match_the_model() {
    let all = machines();
    let pick = |name: &str| all.iter().find(|m| m.0 == name).unwrap().clone();
    let mut configs = 0;
    for (name, lanes) in [
        ("random40-d6", 3),
        ("random30-d5-firstfit", 4),
        ("torus4-gap", 3),
        ("ring12", 6),
        ("ring12", 1),
        ("edgeless5", 2),
    ] {
        let (_, graph, d) = pick(name);
        configs += check_machine(name, &graph, d, Some(lanes), false, 8);
    }
    assert!(configs >= 48);
    // two-stage lanes (≥ pbit_hdl::sparse::PIPELINE_MIN_LANES): the 12×12 torus in 18 lanes
    // (4 slots a colour, ordered so no slot reads the two before it, no bubble); the 8×8
    // torus in 16 (2 slots a colour: no such order, so the one-ahead order with the reads of
    // the slot two before forwarded, and its bubbles: 6 clocks, was 8 with two-ahead
    // bubbles); the 8×8×8 lattice in 86 (the ULX3S bar build's machine: 3 slots a colour,
    // forwarded, no bubble); the 12×12 torus and the 8×8 one with their couplings in
    // block-RAM banks too (`SparseOptions::coupling_banks`: 2 banks a pair of lanes at D = 4)
    for (name, graph, d, lanes, slots, banks) in [
        (
            "torus12-L18",
            bipartite_lattice(12, 2),
            4,
            18usize,
            8u32,
            false,
        ),
        (
            "torus12-L18-banks",
            bipartite_lattice(12, 2),
            4,
            18,
            8,
            true,
        ),
        ("torus8-L16-banks", bipartite_lattice(8, 2), 4, 16, 6, true),
        ("lattice8-L86", bipartite_lattice(8, 3), 6, 86, 6, false),
    ] {
        let m =
            VerilatedMachine::build_sparse_opts(&graph, &verilator_options(d, Some(lanes), banks))
                .unwrap();
        let info = m.sparse_info().unwrap().clone();
        assert_eq!(
            (info.lane_stages, info.clocks_per_sweep),
            (2, slots),
            "{name}"
        );
        drop(m);
        configs += check_machine(name, &graph, d, Some(lanes), banks, 6);
    }
    assert!(configs >= 66);
}

/// `count` random configurations on the machine built for `graph` (with `lanes`), each
/// compared with the model; the number run.
/// The options of a Verilator build (`VerilatedMachine::build_sparse_with`'s), with or without
/// coupling banks.
fn verilator_options(d: usize, lanes: Option<usize>, coupling_banks: bool) -> SparseOptions {
    SparseOptions {
        max_degree: d,
        readback: true,
        lanes,
        stats: Some(pbit_hdl::sparse_stats::DEFAULT_STATS_BITS),
        coupling_banks,
    }
}

fn check_machine(
    name: &str,
    graph: &SparseGraph,
    d: usize,
    lanes: Option<usize>,
    banks: bool,
    count: usize,
) -> usize {
    let graph = graph.clone();
    let mut configs = 0;
    {
        let mut m =
            VerilatedMachine::build_sparse_opts(&graph, &verilator_options(d, lanes, banks))
                .unwrap();
        let mut gen = Gen::new(graph.hash() ^ lanes.unwrap_or(0) as u64);
        for k in 0..count {
            let seed = gen.next_u64();
            let mut g = Gen::new(seed);
            let problem = instance(&mut g, &graph);
            let phases = Phases::new(&problem, &graph).unwrap();
            let n = problem.n;
            let mut clamps = Vec::new();
            for _ in 0..g.below(4) {
                let i = g.below(n as u64) as usize;
                if !clamps.iter().any(|&(j, _)| j == i) {
                    clamps.push((i, g.below(2) == 1));
                }
            }
            let page = ThresholdPage::build(&problem.format, beta(&mut g));
            let spec = SampleSpec {
                burn_in: g.below(6),
                sweeps: 5 + g.below(30),
                every: 1 + g.below(4),
            };
            let mut want = Vec::new();
            run::sample(&problem, &phases, &clamps, &page, seed, spec, |s, e| {
                want.push((s.to_vec(), e))
            });
            let mut got = Vec::new();
            m.driver()
                .sample(&problem, &clamps, &page, seed, spec, &mut |s, e| {
                    got.push((s.to_vec(), e))
                })
                .unwrap();
            let ctx = format!(
                "machine {name} (graph {:016x}, lanes {lanes:?}), configuration {k}, seed {seed:#x}, n = {n}, clamps {clamps:?}, {spec:?}",
                graph.hash()
            );
            if let Some(t) = (0..want.len().max(got.len())).find(|&t| want.get(t) != got.get(t)) {
                panic!(
                    "{ctx}: sample {t} differs: model {:?}, Verilator {:?}",
                    want.get(t),
                    got.get(t)
                );
            }
            assert_eq!(want.len() as u64, spec.sweeps / spec.every, "{ctx}");
            // the generators and fields after the run
            let mut model = SparseMachine::new(&problem, &phases, seed, 0);
            model.set_clamps(&clamps);
            for _ in 0..spec.burn_in + spec.sweeps {
                model.sweep(&page);
            }
            for i in 0..n {
                assert_eq!(
                    m.rng_state(i),
                    model.rng_states()[i],
                    "{ctx}: generator {i}"
                );
                assert_eq!(m.field(i), model.fields()[i], "{ctx}: field {i}");
            }
            // an anneal of three steps (pages change between steps; one repeats), two reads
            if k % 3 == 0 {
                let steps: Vec<(ThresholdPage, u64)> = (0..3)
                    .map(|s| {
                        let b = Beta::from_f64(0.2 + 0.5 * s as f64).unwrap();
                        (ThresholdPage::build(&problem.format, b), 1 + g.below(12))
                    })
                    .collect();
                let pages = Pages { steps };
                for read in 0..2 {
                    let want = run::anneal_read(&problem, &phases, &clamps, &pages, seed, read);
                    let (got, _) = m
                        .driver()
                        .anneal_read(&problem, &clamps, &pages, seed, read)
                        .unwrap();
                    assert_eq!(got, want, "{ctx}: anneal read {read}");
                }
            }
            configs += 1;
        }
    }
    configs
}

/// updates per clock = n / (colours × clocks per phase), from the busy-clock counter over
/// 10⁴ and 2·10⁴ sweeps, with and without lanes: their difference is exactly 10⁴ sweeps ×
/// clocks per sweep (= C × clocks per phase when the phases are equal; the
/// fixed costs — recompute, step, page copy, pipeline drain — cancel), and over 10⁴ sweeps the
/// fixed costs are under 200 clocks: the recompute, the final sample's wait and the end's drain
/// each ≤ latency + 2 clocks (the recompute a clock per slot more), the step and its lookup
/// clock 2, page copy 130 (129 with one state word).
#[test]
fn updates_per_clock_from_the_busy_counter() {
    let torus8 = bipartite_lattice(8, 2);
    let edgeless3 = SparseGraph::new(3, vec![], vec![0; 3]).unwrap();
    let cases = [
        ("torus8", torus8.clone(), 4usize, None),
        ("edgeless3", edgeless3.clone(), 1, None),
        // 2 colours of 32: ⌈32 / 5⌉ = 7 clocks a phase, 14 a sweep; 32 lanes: 2 a sweep
        ("torus8-L5", torus8.clone(), 4, Some(5)),
        ("torus8-L32", torus8, 4, Some(32)),
        // two-stage lanes: 2 colours of 128 in 32 lanes, 8 clocks a sweep (no bubble)
        ("torus16-L32", bipartite_lattice(16, 2), 4, Some(32)),
        // one colour of 3 in 2 lanes: 2 clocks a sweep
        ("edgeless3-L2", edgeless3, 1, Some(2)),
    ];
    for (name, graph, d, lanes) in cases {
        let mut m = VerilatedMachine::build_sparse_with(&graph, d, lanes).unwrap();
        let info = m.sparse_info().unwrap().clone();
        // clocks per sweep from the colour classes: one per colour without lanes (2 for a
        // single clock), Σ ⌈|colour| / L⌉ with L lanes
        let mut sizes = vec![0usize; info.colours as usize];
        for &c in graph.colours() {
            sizes[c as usize] += 1;
        }
        let slots: usize = match lanes {
            None => sizes.len(),
            Some(l) => sizes.iter().map(|s| s.div_ceil(l).max(1)).sum(),
        };
        let per_sweep = if slots == 1 { 2 } else { slots as u64 };
        assert_eq!(info.clocks_per_sweep as u64, per_sweep, "{name}");
        let phase: Vec<usize> = sizes
            .iter()
            .map(|&s| lanes.map_or(1, |l| s.div_ceil(l).max(1)))
            .collect();
        if slots > 1 && phase.iter().all(|&p| p == phase[0]) {
            // uniform phases: n / (colours × clocks per phase)
            assert_eq!(
                info.updates_per_clock(),
                graph.n() as f64 / (info.colours * info.clocks_per_phase) as f64,
                "{name}"
            );
        }
        let mut g = Gen::new(7);
        let problem = instance(&mut g, &graph);
        let problem = if problem.n == graph.n() {
            problem
        } else {
            // all p-bits active
            let mut ising = Ising::new(graph.n());
            for &(i, j) in graph.edges() {
                ising.add_coupling(i as usize, j as usize, 1.0);
            }
            FixedIsing::new(&ising, MODEL_FORMAT, Scaling::Exact).unwrap()
        };
        let page = ThresholdPage::build(&problem.format, Beta::from_f64(0.5).unwrap());
        let mut clocks = Vec::new();
        for sweeps in [10_000u64, 20_000] {
            let spec = SampleSpec {
                burn_in: 0,
                sweeps,
                every: sweeps,
            };
            let c = m
                .driver()
                .sample(&problem, &[], &page, 3, spec, &mut |_, _| {})
                .unwrap();
            clocks.push(c);
        }
        assert_eq!(
            clocks[1] - clocks[0],
            10_000 * per_sweep,
            "{name}: {clocks:?}"
        );
        let upc = (10_000 * graph.n() as u64) as f64 / clocks[0] as f64;
        let want = info.updates_per_clock();
        assert_eq!(want, graph.n() as f64 / per_sweep as f64);
        // the recompute takes a clock per slot
        let fixed = 3 * (info.latency as u64 + 2) + per_sweep + 2 + 130;
        assert!(fixed < 200);
        let floor = want * (10_000 * per_sweep) as f64 / (10_000 * per_sweep + fixed) as f64;
        assert!(
            upc <= want && upc >= floor,
            "{name}: {upc} updates/clock, want {want}"
        );
        eprintln!(
            "{name}: {upc:.4} updates/clock over 10^4 sweeps (n / clocks per sweep = {want})"
        );
    }
}

//! The sparse machine's on-chip statistics in Verilator against the model: the sums the device
//! forms (ones per p-bit, agreements per edge, the sample count) equal
//! `pbit_spec::sparse_map::StatsSums` of the model's sample stream, over random graphs, lane
//! builds, instances, clamps, burn-in and intervals; forming them never changes the stream; a
//! clear restarts them; narrow counters saturate with the overflow flag and never wrap; a
//! machine built without them is refused with its error.
//!
//! Needs verilator and g++. Each graph is one Verilator build (cached by its Verilog).

use pbit_driver::DriverError;
use pbit_hdl::sparse::SparseOptions;
use pbit_model::run::SampleSpec;
use pbit_model::sparse::{run, Phases, MODEL_FORMAT};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_sim::VerilatedMachine;
use pbit_spec::sparse::SparseGraph;
use pbit_spec::sparse_map::{self as sm, StatsSums};
use pbit_spec::{Beta, ThresholdPage};

type Gen = pbit_spec::rng::HostRng;

/// A random graph of n nodes with degrees ≤ d, coloured by the host's colouring.
fn random_graph(g: &mut Gen, n: u32, d: u32) -> SparseGraph {
    let mut deg = vec![0u32; n as usize];
    let mut pairs = Vec::new();
    for _ in 0..6 * n {
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
    let e = SparseGraph::canonical_edges(pairs);
    let c = pbit_model::colour::colour(n as usize, &e);
    SparseGraph::new(n as usize, e, c.colours).unwrap()
}

fn ring(n: u32) -> SparseGraph {
    let e = SparseGraph::canonical_edges((0..n).map(|i| (i, (i + 1) % n)));
    let c = pbit_model::colour::colour(n as usize, &e);
    SparseGraph::new(n as usize, e, c.colours).unwrap()
}

/// A random instance on (a prefix of) the graph: couplings on most edges, biases, sometimes at
/// the format's extremes.
fn instance(g: &mut Gen, graph: &SparseGraph) -> FixedIsing {
    let n = if g.below(4) == 0 {
        1 + g.below(graph.n() as u64) as usize
    } else {
        graph.n()
    };
    let extreme = g.below(4) == 0;
    let mut ising = Ising::new(n);
    for &(i, j) in graph.edges() {
        if (j as usize) < n && g.below(5) != 0 {
            let raw = if extreme {
                [-255i64, 255, 1, -1][g.below(4) as usize]
            } else {
                g.below(49) as i64 - 24
            };
            if raw != 0 {
                ising.add_coupling(i as usize, j as usize, raw as f64 / 16.0);
            }
        }
    }
    for i in 0..n {
        ising.h[i] = (g.below(65) as i64 - 32) as f64 / 16.0;
    }
    FixedIsing::new(&ising, MODEL_FORMAT, Scaling::Exact).unwrap()
}

/// One random configuration: instance, clamps, page, seed, sampling.
struct Config {
    problem: FixedIsing,
    clamps: Vec<(usize, bool)>,
    page: ThresholdPage,
    seed: u64,
    spec: SampleSpec,
}

fn config(seed: u64, graph: &SparseGraph) -> Config {
    let mut g = Gen::new(seed);
    let problem = instance(&mut g, graph);
    let mut clamps = Vec::new();
    for _ in 0..g.below(4) {
        let i = g.below(problem.n as u64) as usize;
        if !clamps.iter().any(|&(j, _)| j == i) {
            clamps.push((i, g.below(2) == 1));
        }
    }
    let b = [0.1, 0.4, 0.8, 1.5, 5.0][g.below(5) as usize];
    let page = ThresholdPage::build(&problem.format, Beta::from_f64(b).unwrap());
    let spec = SampleSpec {
        burn_in: g.below(7),
        sweeps: 1 + g.below(60),
        every: 1 + g.below(5),
    };
    Config {
        problem,
        clamps,
        page,
        seed,
        spec,
    }
}

/// The model's sample stream of a configuration (spins of the built graph's n p-bits: those
/// beyond the instance stay -1, as the device's inactive p-bits hold their reset state only
/// if never written — so the comparison below uses the instance's own p-bits and edges).
fn model_stream(c: &Config, graph: &SparseGraph) -> Vec<(Vec<bool>, i64)> {
    let phases = Phases::new(&c.problem, graph).unwrap();
    let mut v = Vec::new();
    run::sample(
        &c.problem,
        &phases,
        &c.clamps,
        &c.page,
        c.seed,
        c.spec,
        |s, e| v.push((s.to_vec(), e)),
    );
    v
}

/// The reference sums of a stream, over the instance's p-bits (the first `n`) and the edges
/// between them; `bits`-wide counters.
fn reference(graph: &SparseGraph, n: usize, stream: &[(Vec<bool>, i64)], bits: u32) -> StatsSums {
    let mut s = StatsSums::new(graph, bits);
    for (spins, _) in stream {
        let mut full = spins.clone();
        full.resize(graph.n(), false);
        s.add(graph, &full);
    }
    restrict(graph, n, &s)
}

/// The sums of the instance's p-bits 0..n and of the edges inside them (the device's other
/// p-bits are inactive: they hold whatever state they were last given).
fn restrict(graph: &SparseGraph, n: usize, s: &StatsSums) -> StatsSums {
    StatsSums {
        count_bits: s.count_bits,
        samples: s.samples,
        overflow: s.overflow,
        ones: s.ones[..n].to_vec(),
        agreements: graph
            .edges()
            .iter()
            .zip(&s.agreements)
            .filter(|(&(_, j), _)| (j as usize) < n)
            .map(|(_, &a)| a)
            .collect(),
    }
}

/// Sums over ≥ 40 random configurations on five generated machines (three with update lanes,
/// two of them with lane memories, one of those in two-stage lanes) equal the model's: each configuration runs twice, once
/// quiet (`Driver::sample_sums`: only the sums come back) and once streaming every sample with
/// the sums formed beside it — that stream must equal the model's (the walk only stalls the
/// sweep), and without a clear in between the second run's sums add to the first's.
#[test]
fn on_chip_sums_equal_the_models_stream() {
    let mut gen = Gen::new(0x57A7_5EED);
    let machines = [
        ("ring10", ring(10), None),
        ("random18-d3", random_graph(&mut gen, 18, 3), None),
        ("random20-d4-L3", random_graph(&mut gen, 20, 4), Some(3)),
        ("random16-d5-L8", random_graph(&mut gen, 16, 5), Some(8)),
        // ≥ pbit_hdl::sparse::PIPELINE_MIN_LANES lanes: two-stage
        ("ring64-L16", ring(64), Some(16)),
    ];
    let mut configs = 0;
    for (name, graph, lanes) in &machines {
        let d = graph.max_degree().max(1);
        let mut m = VerilatedMachine::build_sparse_with(graph, d, *lanes).unwrap();
        for k in 0..10 {
            let seed = gen.next_u64();
            let c = config(seed, graph);
            let n = c.problem.n;
            let ctx = format!(
                "machine {name} (graph {:016x}), configuration {k}, seed {seed:#x}, n = {n}, clamps {:?}, {:?}",
                graph.hash(),
                c.clamps,
                c.spec
            );
            let stream = model_stream(&c, graph);
            let want = reference(graph, n, &stream, 32);
            let mut drv = m.driver();
            let (got, _) = drv
                .sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(restrict(graph, n, &got), want, "{ctx}: quiet run's sums");
            assert_eq!(got.samples, c.spec.sweeps / c.spec.every, "{ctx}");
            // the same run streaming its samples, the sums formed beside it, without a clear:
            // the stream is the model's and the sums are twice the run's
            drv.stats_control(sm::STATS_ACCUMULATE).unwrap();
            let mut streamed = Vec::new();
            drv.sample(
                &c.problem,
                &c.clamps,
                &c.page,
                c.seed,
                c.spec,
                &mut |s, e| streamed.push((s.to_vec(), e)),
            )
            .unwrap();
            drv.stats_control(0).unwrap();
            if let Some(t) =
                (0..stream.len().max(streamed.len())).find(|&t| stream.get(t) != streamed.get(t))
            {
                panic!(
                    "{ctx}: with sums formed, sample {t} differs: model {:?}, Verilator {:?}",
                    stream.get(t),
                    streamed.get(t)
                );
            }
            let twice = restrict(graph, n, &drv.read_stats().unwrap());
            let double = |v: &[u64]| v.iter().map(|x| 2 * x).collect::<Vec<_>>();
            assert_eq!(
                twice.samples,
                2 * want.samples,
                "{ctx}: count after two runs"
            );
            assert_eq!(twice.ones, double(&want.ones), "{ctx}: ones after two runs");
            assert_eq!(
                twice.agreements,
                double(&want.agreements),
                "{ctx}: agreements after two runs"
            );
            configs += 1;
        }
    }
    assert!(configs >= 40);
}

/// A clear zeroes the count and makes the region read 0 at once (the counters still hold the
/// old sums: the next walk overwrites them), and the next run's sums are that run's alone.
#[test]
fn a_clear_restarts_the_sums() {
    let graph = ring(10);
    let mut m = VerilatedMachine::build_sparse(&graph, 2).unwrap();
    let c = config(11, &graph);
    let stream = model_stream(&c, &graph);
    let mut drv = m.driver();
    drv.sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec)
        .unwrap();
    drv.stats_control(sm::STATS_CLEAR).unwrap();
    let cleared = drv.read_stats().unwrap();
    assert_eq!(cleared.samples, 0);
    assert!(!cleared.overflow);
    assert!(cleared.words().iter().all(|&w| w == 0), "{cleared:?}");
    // accumulate after the clear: this run's sums only
    drv.stats_control(sm::STATS_ACCUMULATE).unwrap();
    drv.sample(
        &c.problem,
        &c.clamps,
        &c.page,
        c.seed,
        c.spec,
        &mut |_, _| {},
    )
    .unwrap();
    drv.stats_control(0).unwrap();
    let got = restrict(&graph, c.problem.n, &drv.read_stats().unwrap());
    assert_eq!(got, reference(&graph, c.problem.n, &stream, 32));
}

/// Counters of 3 bits hold 7 samples: an eighth is not added and sets the overflow flag (the
/// sums stay those of the first 7, nothing wraps); the driver refuses a run of more samples
/// than that before it writes anything, and reports an overflow it finds as an error.
#[test]
fn narrow_counters_saturate_with_the_flag() {
    let graph = ring(8);
    let opts = SparseOptions {
        max_degree: 2,
        readback: true,
        lanes: None,
        stats: Some(3),
        coupling_banks: false,
    };
    let mut m = VerilatedMachine::build_sparse_opts(&graph, &opts).unwrap();
    let mut c = config(5, &graph);
    c.spec = SampleSpec {
        burn_in: 2,
        sweeps: 10,
        every: 1,
    };
    let stream = model_stream(&c, &graph);
    let mut drv = m.driver();
    assert_eq!(drv.stats_bits().unwrap(), 3);
    match drv.sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec) {
        Err(DriverError::Limit {
            value: 10, max: 7, ..
        }) => {}
        other => panic!("expected the limit of 7 samples, got {other:?}"),
    }
    // past the driver's check: ten samples into counters of seven
    drv.stats_control(sm::STATS_ACCUMULATE | sm::STATS_CLEAR)
        .unwrap();
    drv.sample(
        &c.problem,
        &c.clamps,
        &c.page,
        c.seed,
        c.spec,
        &mut |_, _| {},
    )
    .unwrap();
    drv.stats_control(0).unwrap();
    let got = drv.read_stats().unwrap();
    let want = reference(&graph, c.problem.n, &stream, 3);
    assert!(want.overflow && want.samples == 7);
    assert_eq!(restrict(&graph, c.problem.n, &got), want);
    // exactly seven fit
    c.spec.sweeps = 7;
    let (got, _) = drv
        .sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec)
        .unwrap();
    assert_eq!(
        restrict(&graph, c.problem.n, &got),
        reference(&graph, c.problem.n, &model_stream(&c, &graph), 3)
    );
}

/// A machine built without statistics (a board's default) reports none, and the driver refuses
/// to read sums from it with its error; its stats region is not on the map.
#[test]
fn a_machine_without_statistics_is_refused() {
    let graph = ring(6);
    let opts = SparseOptions {
        max_degree: 2,
        readback: true,
        lanes: None,
        stats: None,
        coupling_banks: false,
    };
    let mut m = VerilatedMachine::build_sparse_opts(&graph, &opts).unwrap();
    let mut drv = m.driver();
    assert_eq!(drv.stats_bits().unwrap(), 0);
    assert!(matches!(drv.read_stats(), Err(DriverError::NoStats)));
    let c = config(3, &graph);
    let e = drv
        .sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec)
        .unwrap_err();
    assert!(e.to_string().contains("--stats"), "{e}");
    assert!(drv.geometry().check_read(sm::stats_addr(0), 1).is_err());
}

/// What forming the sums costs: a walk of ⌈(n + edges) / B⌉ + 2 clocks after each sample (B
/// banks, `pbit_hdl::sparse_stats::walk_clocks`), overlapping the sweeps; a sample due before the
/// walk ends waits for it. Busy clocks of 2,000 sweeps on a 256-ring (512 counters in 16 banks:
/// a walk of 34 clocks, 2 clocks a sweep) sampled every 1, 4 and 20 sweeps, with and without
/// the sums: the stall is at most what the walk leaves after the sweeps, identical runs take
/// identical clocks (the stall is deterministic), sampling every sweep does stall, the sums
/// are the stream's, and the stream with the sums formed beside it is the stream without.
#[test]
fn the_walk_stalls_only_what_it_must() {
    let graph = ring(256);
    let mut m = VerilatedMachine::build_sparse(&graph, 2).unwrap();
    let cps = m.sparse_info().unwrap().clocks_per_sweep;
    let counters = graph.n() + graph.edges().len();
    let walk = pbit_hdl::sparse_stats::walk_clocks(counters, cps) as u64;
    assert_eq!((cps, walk), (2, 34));
    let mut c = config(9, &graph);
    c.clamps.clear();
    for every in [1u64, 4, 20] {
        c.spec = SampleSpec {
            burn_in: 3,
            sweeps: 2000,
            every,
        };
        let mut drv = m.driver();
        let (sums, with) = drv
            .sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec)
            .unwrap();
        let (_, again) = drv
            .sample_sums(&c.problem, &c.clamps, &c.page, c.seed, c.spec)
            .unwrap();
        assert_eq!(
            with, again,
            "every {every}: identical runs, identical clocks"
        );
        let mut plain = Vec::new();
        let without = drv
            .sample(
                &c.problem,
                &c.clamps,
                &c.page,
                c.seed,
                c.spec,
                &mut |s, e| plain.push((s.to_vec(), e)),
            )
            .unwrap();
        drv.stats_control(sm::STATS_ACCUMULATE | sm::STATS_CLEAR)
            .unwrap();
        let mut summed = Vec::new();
        drv.sample(
            &c.problem,
            &c.clamps,
            &c.page,
            c.seed,
            c.spec,
            &mut |s, e| summed.push((s.to_vec(), e)),
        )
        .unwrap();
        drv.stats_control(0).unwrap();
        assert!(
            plain == summed,
            "every {every}: the sums changed the stream"
        );
        assert_eq!(
            restrict(&graph, c.problem.n, &sums),
            reference(&graph, c.problem.n, &plain, 32),
            "every {every}: sums of stalled walks"
        );
        let samples = 2000 / every;
        println!(
            "every {every}: {samples} samples, busy clocks {with} with on-chip sums, {without} streaming without ({:.2} clocks a sample more; walk {walk} clocks, {cps} a sweep)",
            (with as f64 - without as f64) / samples as f64
        );
        // a sample's walk runs beside the next `every` sweeps: the stall per sample is at most
        // the walk's excess over them, and the run's end waits for the last walk
        let excess = walk.saturating_sub(cps as u64 * every);
        assert!(
            with <= without + samples * excess + walk,
            "every {every}: {with} clocks with sums, {without} without"
        );
        if every == 1 {
            // a sample every sweep (2 clocks) and a walk of 34 clocks each: the walks run one
            // after another, so the run takes at least samples × walk clocks (a machine that
            // did not wait for the walk would take ≈ 2 × 2000)
            assert!(
                with >= samples * walk,
                "every sweep: the walk must stall ({with} clocks)"
            );
        }
    }
}

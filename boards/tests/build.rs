//! Real builds with the open toolchain (installed by scripts/test-all.sh; a missing tool
//! fails the test with the message naming its install command).
//!
//! In CI: the iCEBreaker at N = 32 (Debian's yosys + nextpnr-ice40, under a minute of CPU) to
//! a bitstream with timing met (5,247 of 5,280 LCs: a change that grows the machine shows
//! here first, see docs/boards.md); the ULX3S at N = 32 (Debian's yosys,
//! yowasp's nextpnr-ecp5 and ecppack, a few minutes of CPU) to a bitstream with timing met.
//! Slower, `cargo test --release -p pbit-boards -- --ignored`: the ULX3S at its profile's N
//! (tens of minutes).

use pbit_boards::{board, BuildError, BuildOptions, BuildPlan, Report};
use std::path::PathBuf;

fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pbit-boards-{name}"))
}

fn build(name: &str, n: usize) -> Result<Report, BuildError> {
    let b = board(name).unwrap();
    let mut options = BuildOptions::defaults(b, out_dir(&format!("{name}-n{n}")));
    options.n = n;
    let plan = BuildPlan::new(b, options).unwrap_or_else(|e| panic!("{e}"));
    let script = plan.script();
    assert!(
        script.contains("--timing-allow-fail") && script.contains("--freq"),
        "{script}"
    );
    plan.run(&mut |_| {})
}

fn check_report(r: &Report) {
    assert!(r.luts > 0 && r.ffs > 0, "{r:?}");
    assert!(r.fmax_mhz > 0.0, "{r:?}");
    // nextpnr's verdict and its figures agree (two readings of the log, either can be wrong)
    assert_eq!(r.timing_met, r.fmax_mhz >= r.clock_mhz, "{r:?}");
    assert_eq!(r.timing_met, r.slack >= 0.0, "{r:?}");
    assert!(r.bitstream.as_ref().unwrap().metadata().unwrap().len() > 0);
    assert_eq!(
        r.updates_per_clock,
        pbit_boards::report::updates_per_clock(r.n)
    );
    assert!(
        r.updates_per_clock > 0.99 && r.updates_per_clock < 1.0,
        "{r:?}"
    );
    assert!(
        (r.updates_per_s - r.clock_mhz * 1e6 * r.updates_per_clock).abs() < 1e-6 * r.updates_per_s
    );
}

#[test]
fn icebreaker_small_build_runs_end_to_end() {
    let r = build("icebreaker", 32).unwrap_or_else(|e| match e {
        BuildError::DoesNotFit { report, .. } => panic!("N = 32 no longer fits: {report:?}"),
        e => panic!("{e}"),
    });
    check_report(&r);
    assert!(
        r.luts <= r.luts_available && r.brams <= r.brams_available,
        "{r:?}"
    );
    assert!(r.timing_met, "{r:?}");
}

#[test]
fn ulx3s_small_build_meets_timing() {
    let r = build("ulx3s", 32).unwrap_or_else(|e| panic!("{e}"));
    check_report(&r);
    assert!(r.timing_met, "{r:?}");
}

#[test]
#[ignore = "full-size ECP5 build (N = 256): ~10 min of CPU, 30-40 min wall on a loaded 2-core machine"]
fn ulx3s_profile_build_meets_timing() {
    let b = board("ulx3s").unwrap();
    let r = build("ulx3s", b.default_n).unwrap_or_else(|e| panic!("{e}"));
    check_report(&r);
    assert!(r.timing_met, "{r:?}");
}

/// A ring of `size` p-bits (2 colours) or a periodic 8 × `size` torus (degree 4, 2 colours;
/// `size` even). The sparse core top's link takes n a multiple of 32.
fn sparse_graph(kind: &str, size: u32) -> pbit_spec::sparse::SparseGraph {
    use pbit_spec::sparse::SparseGraph;
    let (n, pairs, colours): (u32, Vec<(u32, u32)>, Vec<u32>) = match kind {
        "ring" => (
            size,
            (0..size).map(|i| (i, (i + 1) % size)).collect(),
            (0..size).map(|i| i % 2).collect(),
        ),
        _ => {
            let id = |x: u32, y: u32| (x % 8) + 8 * (y % size);
            let mut p = Vec::new();
            for x in 0..8 {
                for y in 0..size {
                    p.push((id(x, y), id(x + 1, y)));
                    p.push((id(x, y), id(x, y + 1)));
                }
            }
            let c = (0..8 * size).map(|i| (i % 8 + i / 8) % 2).collect();
            (8 * size, p, c)
        }
    };
    SparseGraph::new(n as usize, SparseGraph::canonical_edges(pairs), colours).unwrap()
}

/// A small sparse machine to a bitstream: timing met, the report's rates from its clocks per
/// sweep (n / (colours × ⌈|colour| / L⌉)).
/// With `clock_mhz`, the core runs on the board's PLL at the nearest frequency it makes.
fn sparse_build(
    name: &str,
    graph: pbit_spec::sparse::SparseGraph,
    lanes: usize,
    clock_mhz: Option<f64>,
) -> Report {
    let b = board(name).unwrap();
    let pll = clock_mhz.map_or(String::new(), |f| format!("-pll{f}"));
    let mut options = BuildOptions::defaults(
        b,
        out_dir(&format!("{name}-sparse-{}-l{lanes}{pll}", graph.n())),
    );
    options.n = graph.n();
    options.clock_mhz = clock_mhz;
    let d = graph.max_degree();
    options.sparse = Some((graph.clone(), d));
    options.lanes = Some(lanes);
    let plan = BuildPlan::new(b, options).unwrap_or_else(|e| panic!("{e}"));
    // the report's clock is the plan's: the oscillator, or what the PLL's dividers make
    let clock = plan.clock;
    let r = plan.run(&mut |_| {}).unwrap_or_else(|e| match e {
        BuildError::DoesNotFit { report, .. } => panic!("does not fit: {report:?}"),
        e => panic!("{e}"),
    });
    assert_eq!(r.machine, "sparse");
    assert_eq!(
        (r.n, r.colours, r.max_degree),
        (graph.n(), Some(2), Some(d))
    );
    assert_eq!(r.lanes, Some(lanes));
    let per_sweep = 2 * (graph.n() / 2).div_ceil(lanes);
    assert_eq!(r.clocks_per_sweep, Some(per_sweep as u32), "{r:?}");
    assert_eq!(r.updates_per_clock, graph.n() as f64 / per_sweep as f64);
    assert!((r.flips_per_ns - r.updates_per_clock * r.clock_mhz / 1000.0).abs() < 1e-9);
    assert!(r.fmax_mhz > 0.0 && r.bitstream.as_ref().unwrap().metadata().unwrap().len() > 0);
    assert_eq!(r.timing_met, r.fmax_mhz >= r.clock_mhz, "{r:?}");
    assert!(r.timing_met, "{r:?}");
    assert!(
        r.luts <= r.luts_available && r.brams <= r.brams_available,
        "{r:?}"
    );
    assert_eq!(r.clock_mhz, clock.mhz);
    match clock.pll {
        None => assert_eq!(r.clock_mhz, b.clock_mhz()),
        Some(pll) => {
            assert_eq!(r.clock_mhz, pll.out_mhz());
            // the PLL is in the placed netlist: one of the device's PLL sites used
            let used = r
                .utilisation
                .iter()
                .find(|u| Some(u.cell.as_str()) == b.pll_primitive);
            assert_eq!(used.map(|u| u.used), Some(1), "{:?}", r.utilisation);
        }
    }
    // nextpnr timed the core clock at this clock (its log's two decimals), and passed it
    let core = r.clocks.iter().find(|c| c.fmax_mhz == r.fmax_mhz).unwrap();
    assert!((core.target_mhz - r.clock_mhz).abs() <= 0.0051, "{r:?}");
    assert_eq!(r.timing_met, core.pass);
    assert!((r.slack - (1e3 / r.clock_mhz - 1e3 / r.fmax_mhz)).abs() < 1e-9);
    r
}

/// The smallest sparse machine the link takes (n = 32: a ring) fits the UP5K in two lanes with
/// lane memories (generators, biases and couplings in block RAM, the page store in an SPRAM;
/// 5,056 of 5,280 LCs and 21 of 30 RAM4K when measured): a bitstream meeting timing at the
/// board's 12 MHz, 16 clocks a sweep. (In 4 lanes with per-p-bit flip-flops it was 10,678 LCs.)
#[test]
fn icebreaker_small_sparse_build_meets_timing() {
    let r = sparse_build("icebreaker", sparse_graph("ring", 32), 2, None);
    assert_eq!(r.clocks_per_sweep, Some(16));
}

#[test]
fn ulx3s_small_sparse_build_meets_timing() {
    // an 8 × 4 torus (degree 4) in 4 lanes: 8 clocks a sweep
    sparse_build("ulx3s", sparse_graph("torus", 4), 4, None);
}

/// The same machine on the ULX3S's PLL at 40 MHz (25 × 8 / 5, exact; its Fmax at the 25 MHz
/// oscillator was 51.6 MHz): the EHXPLLL is placed, clock_mhz is the PLL's 40 MHz, timing
/// is nextpnr's verdict at 40 MHz, and flips/ns = updates per clock × 40 / 1000.
#[test]
fn ulx3s_small_sparse_pll_build_meets_timing() {
    let r = sparse_build("ulx3s", sparse_graph("torus", 4), 4, Some(40.0));
    assert_eq!(r.clock_mhz, 40.0);
    let pll = r.pll.as_ref().expect("a PLL build reports its PLL");
    assert_eq!((pll.requested_mhz, pll.vco_mhz), (40.0, 600.0));
    assert_eq!(r.flips_per_ns, r.updates_per_clock * 40.0 / 1000.0);
    // the core inside is generated for the PLL's clock (its UART divisor, 40 clocks a bit at
    // 1 Mbaud, and its HELLO's clock), not the oscillator's
    let core =
        std::fs::read_to_string(r.bitstream.as_ref().unwrap().with_file_name("core.v")).unwrap();
    let graph = sparse_graph("torus", 4);
    let opts = pbit_hdl::sparse::SparseOptions {
        max_degree: graph.max_degree(),
        readback: false,
        lanes: Some(4),
        stats: None,
        coupling_banks: false,
    };
    let emit = |hz| {
        pbit_hdl::core_top::emit_sparse_core_top(&graph, &opts, hz, r.baud)
            .unwrap()
            .0
    };
    assert!(
        core == emit(40_000_000),
        "core.v is not the 40 MHz core top"
    );
    assert!(core != emit(25_000_000));
}

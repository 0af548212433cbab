//! Co-simulation: the Verilated machine against the reference model, whole sample streams
//! and annealing results, bit for bit. Needs Verilator (`apt-get install verilator`).

use pbit_model::run::{self, Pages, SampleSpec};
use pbit_model::schedule::{Schedule, Shape};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_sim::VerilatedMachine;
use pbit_spec::{Beta, Format, ThresholdPage};
use std::sync::{Mutex, OnceLock};

/// The machine size most tests build (instances of 2..=N p-bits run on it).
const N: usize = 64;
/// The largest machine generated, checked on fewer cases.
const N_LARGE: usize = 256;

fn build(n: usize) -> Mutex<VerilatedMachine> {
    match VerilatedMachine::build(n) {
        Ok(m) => Mutex::new(m),
        Err(e) => panic!("cannot build the Verilated machine of {n} p-bits: {e}"),
    }
}

fn machine() -> &'static Mutex<VerilatedMachine> {
    static M: OnceLock<Mutex<VerilatedMachine>> = OnceLock::new();
    M.get_or_init(|| build(N))
}

fn large_machine() -> &'static Mutex<VerilatedMachine> {
    static M: OnceLock<Mutex<VerilatedMachine>> = OnceLock::new();
    M.get_or_init(|| build(N_LARGE))
}

/// Test-case generator: the host's generator (`pbit_spec::rng::HostRng`).
type Gen = pbit_spec::rng::HostRng;

/// One random case: instance, clamps, β.
struct Case {
    problem: FixedIsing,
    clamps: Vec<(usize, bool)>,
    beta: f64,
    desc: String,
}

fn random_case(case_seed: u64, machine_n: usize) -> Case {
    let mut g = Gen::new(case_seed);
    // sizes: the extremes often, anything between otherwise
    let n = match g.below(5) {
        0 => 2,
        1 => machine_n,
        _ => 2 + g.below(machine_n as u64 - 1) as usize,
    };
    let density = [1.0, 0.5, 0.1, 0.02][g.below(4) as usize];
    let extreme = g.below(3) == 0;
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if (g.below(1000) as f64) < density * 1000.0 {
                let raw = if extreme {
                    if g.below(2) == 0 {
                        255
                    } else {
                        -255
                    }
                } else {
                    g.below(511) as i64 - 255
                };
                ising.add_coupling(i, j, raw as f64 / 16.0);
            }
        }
        let h = if extreme {
            [1023, -1023, 0][g.below(3) as usize]
        } else {
            g.below(2047) as i64 - 1023
        };
        ising.h[i] = h as f64 / 16.0;
    }
    // the machine's format, or the model's standard one (pages are then clipped by the driver)
    let format = if g.below(2) == 0 {
        Format::for_machine(machine_n)
    } else {
        Format::STANDARD
    };
    let problem = FixedIsing::new(&ising, format, Scaling::Exact).expect("instance fits");
    let clamps: Vec<(usize, bool)> = match g.below(4) {
        0 => vec![],
        1 => {
            let mut v = Vec::new();
            for i in 0..n {
                if g.below(4) == 0 {
                    v.push((i, g.below(2) == 0));
                }
            }
            v
        }
        2 => (1..n).map(|i| (i, g.below(2) == 0)).collect(),
        _ => vec![(g.below(n as u64) as usize, g.below(2) == 0)],
    };
    let beta = [0.01, 0.1, 0.5, 1.0, 3.0, 40.0][g.below(6) as usize];
    let desc = format!(
        "n={n} density={density} extreme={extreme} field_bits={} clamps={} beta={beta}",
        format.field_bits,
        clamps.len()
    );
    Case {
        problem,
        clamps,
        beta,
        desc,
    }
}

/// Runs `cases` random sampling cases on `m`; panics with the case seed and the first differing
/// sample on a mismatch. Returns (samples compared, machine clocks).
/// A sampling job on the machine gives exactly the model's stream.
fn assert_sample_stream_is_the_models(
    m: &mut VerilatedMachine,
    case: &Case,
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
) {
    let mut want = Vec::new();
    run::sample(&case.problem, &case.clamps, page, seed, spec, |s, e| {
        want.push((s.to_vec(), e))
    });
    let mut got = Vec::new();
    m.driver()
        .sample(
            &case.problem,
            &case.clamps,
            page,
            seed,
            spec,
            &mut |s, e| got.push((s.to_vec(), e)),
        )
        .unwrap();
    assert_eq!(got, want, "{}", case.desc);
}

fn sample_cases(m: &mut VerilatedMachine, first_case: u64, cases: u64) -> (usize, u64) {
    let mut total_samples = 0usize;
    let mut clocks = 0u64;
    for c in 0..cases {
        let case_seed = first_case + c;
        let case = random_case(case_seed, m.n());
        let mut g = Gen::new(case_seed ^ 0xABCD);
        let seed = g.next_u64();
        let spec = SampleSpec {
            burn_in: g.below(6),
            sweeps: 1 + g.below(40),
            every: 1 + g.below(3),
        };
        let page = ThresholdPage::build(&case.problem.format, Beta::from_f64(case.beta).unwrap());
        let mut want: Vec<(Vec<bool>, i64)> = Vec::new();
        run::sample(&case.problem, &case.clamps, &page, seed, spec, |s, e| {
            want.push((s.to_vec(), e))
        });
        let mut got: Vec<(Vec<bool>, i64)> = Vec::new();
        clocks += m
            .driver()
            .sample(
                &case.problem,
                &case.clamps,
                &page,
                seed,
                spec,
                &mut |s, e| got.push((s.to_vec(), e)),
            )
            .unwrap_or_else(|e| panic!("case {case_seed:#x}: {e}"));
        if let Some(k) = (0..want.len().max(got.len())).find(|&k| want.get(k) != got.get(k)) {
            panic!(
                "case seed {case_seed:#x} ({}), seed {seed}, {spec:?}: first differing sample {k} of {}/{}\n model:   {:?}\n machine: {:?}",
                case.desc,
                want.len(),
                got.len(),
                want.get(k).map(|(s, e)| (pbit_model::spins_to_string(s), e)),
                got.get(k).map(|(s, e)| (pbit_model::spins_to_string(s), e)),
            );
        }
        total_samples += want.len();
    }
    (total_samples, clocks)
}

#[test]
fn cosim_sample_streams_match_model() {
    let mut m = machine().lock().unwrap();
    let cases = 120;
    let (samples, clocks) = sample_cases(&mut m, 0xC051_0000, cases);
    eprintln!("N={N}: {cases} cases, {samples} samples identical, {clocks} machine clocks");
}

#[test]
fn cosim_large_machine_sample_streams_match_model() {
    let mut m = large_machine().lock().unwrap();
    let cases = 8;
    let (samples, clocks) = sample_cases(&mut m, 0x1A26_0000, cases);
    eprintln!("N={N_LARGE}: {cases} cases, {samples} samples identical, {clocks} machine clocks");
}

#[test]
fn cosim_anneal_matches_model() {
    let mut m = machine().lock().unwrap();
    for c in 0..40u64 {
        let case_seed = 0xA22E_0000 + c;
        let case = random_case(case_seed, N);
        let mut g = Gen::new(case_seed ^ 0x1234);
        let seed = g.next_u64();
        let read = g.below(8);
        let sweeps = 1 + g.below(60);
        let max_steps = 1 + g.below(32) as usize;
        let shape = if g.below(2) == 0 {
            Shape::Linear
        } else {
            Shape::Geometric
        };
        let schedule =
            Schedule::anneal(0.05, case.beta.max(0.1) * 4.0, sweeps, shape, max_steps).unwrap();
        let pages = Pages::build(&case.problem, &schedule);
        let want = run::anneal_read(&case.problem, &case.clamps, &pages, seed, read, &|_| {});
        let (got, clocks) = m
            .driver()
            .anneal_read(&case.problem, &case.clamps, &pages, seed, read)
            .unwrap_or_else(|e| panic!("case {case_seed:#x}: {e}"));
        assert_eq!(
            got,
            want,
            "case seed {case_seed:#x} ({}), seed {seed}, read {read}, {} steps",
            case.desc,
            pages.steps.len()
        );
        // one update per clock: recompute 2n + 2, each step 3 (2 if it has no sweeps), n per
        // sweep — the formula board reports take their update rate from
        let n = case.problem.n as u64;
        let steps: Vec<u64> = pages.steps.iter().map(|(_, k)| *k).collect();
        let want_clocks = pbit_hdl::scheduler::run_clocks(n, &steps);
        assert_eq!(clocks, want_clocks, "case seed {case_seed:#x}");
    }
}

#[test]
fn machine_reports_its_size_format_and_spec_hash() {
    let m = machine().lock().unwrap();
    assert_eq!(m.n(), N);
    assert_eq!(
        m.spec_hash(),
        pbit_spec::hash::spec_hash(&Format::for_machine(N))
    );
}

/// Writes beyond the machine (p-bit N, page 32, step 32, J row or column N) change nothing:
/// a run after them still equals the model. The sample counter counts every sample.
#[test]
fn out_of_range_writes_are_ignored() {
    use pbit_spec::memory_map as mm;
    let mut m = machine().lock().unwrap();
    let case = random_case(0x0BAD_0001, N);
    let page = ThresholdPage::build(&case.problem.format, Beta::from_f64(case.beta).unwrap());
    let spec = SampleSpec {
        burn_in: 1,
        sweeps: 12,
        every: 2,
    };
    let mut want: Vec<(Vec<bool>, i64)> = Vec::new();
    run::sample(&case.problem, &case.clamps, &page, 5, spec, |s, e| {
        want.push((s.to_vec(), e))
    });
    // a first run writes the instance; junk follows; the second run must be unchanged
    let before = m.samples_emitted();
    m.driver()
        .sample(&case.problem, &case.clamps, &page, 5, spec, &mut |_, _| {})
        .unwrap();
    let junk = 0x5555_5555;
    let n = N as u32;
    for i in 0..n.min(case.problem.n as u32) {
        m.write(mm::j_addr(i, n), junk);
        m.write(mm::j_addr(n, i), junk);
        m.write(mm::j_addr(i, mm::J_ROW_STRIDE - 1), junk);
    }
    m.write(mm::region_addr(mm::REGION_H, n), junk);
    m.write(mm::page_addr(mm::MAX_PAGES, 0), junk);
    m.write(mm::schedule_sweeps_addr(mm::MAX_STEPS), junk);
    m.write(mm::schedule_page_addr(mm::MAX_STEPS), junk);
    let mut got: Vec<(Vec<bool>, i64)> = Vec::new();
    m.driver()
        .sample(&case.problem, &case.clamps, &page, 5, spec, &mut |s, e| {
            got.push((s.to_vec(), e))
        })
        .unwrap();
    assert_eq!(got, want, "{}", case.desc);
    assert_eq!(m.samples_emitted() - before, 2 * want.len() as u32);
}

/// Several reads with J, h and pages loaded once equal the model's reads one by one.
#[test]
fn cosim_anneal_reads_match_model() {
    let mut m = machine().lock().unwrap();
    for c in 0..6u64 {
        let case_seed = 0xA2EA_0000 + c;
        let case = random_case(case_seed, N);
        let schedule = Schedule::anneal(0.1, 3.0, 20 + c, Shape::Geometric, 8).unwrap();
        let pages = Pages::build(&case.problem, &schedule);
        let reads = 1 + c % 4;
        let want: Vec<_> = (0..reads)
            .map(|r| run::anneal_read(&case.problem, &case.clamps, &pages, c, r, &|_| {}))
            .collect();
        let (got, _) = m
            .driver()
            .anneal(&case.problem, &case.clamps, &pages, c, reads, &|_| {})
            .unwrap();
        assert_eq!(got, want, "case seed {case_seed:#x} ({})", case.desc);
    }
}

/// The host's relax job (write state, clamp on it, run) equals its definition on the model.
#[test]
fn cosim_relax_matches_model() {
    let mut m = machine().lock().unwrap();
    for c in 0..10u64 {
        let case_seed = 0x2E1A_0000 + c;
        let case = random_case(case_seed, N);
        let n = case.problem.n;
        let mut g = Gen::new(case_seed);
        let clamped: Vec<usize> = (0..n).filter(|_| g.below(3) == 0).collect();
        let initial: Vec<Vec<bool>> = (0..3)
            .map(|_| (0..n).map(|_| g.below(2) == 1).collect())
            .collect();
        let sweeps = g.below(12);
        let first_read = g.below(100);
        let page = ThresholdPage::build(&case.problem.format, Beta::from_f64(case.beta).unwrap());
        let mut got = Vec::new();
        m.driver()
            .relax(
                &case.problem,
                &clamped,
                &page,
                c,
                first_read,
                &initial,
                sweeps,
                &mut |k, s| got.push((k, s.to_vec())),
            )
            .unwrap();
        for (k, init) in initial.iter().enumerate() {
            let mut model = pbit_model::Machine::new(&case.problem, c, first_read + k as u64);
            let clamps: Vec<(usize, bool)> = clamped.iter().map(|&i| (i, init[i])).collect();
            model.set_clamps(&clamps);
            model.set_spins(init);
            for _ in 0..sweeps {
                model.sweep(&page);
            }
            assert_eq!(
                got[k],
                (k, model.spins().to_vec()),
                "case {case_seed:#x} chain {k}"
            );
        }
    }
}

/// An instance of no p-bits gives what the model gives (the machine does not run).
#[test]
fn empty_instance_matches_model() {
    let mut m = machine().lock().unwrap();
    let problem = FixedIsing::new(&Ising::new(0), Format::for_machine(N), Scaling::Exact).unwrap();
    let page = ThresholdPage::build(&problem.format, Beta::from_f64(1.0).unwrap());
    let spec = SampleSpec {
        burn_in: 2,
        sweeps: 7,
        every: 3,
    };
    let mut want = Vec::new();
    run::sample(&problem, &[], &page, 1, spec, |s, e| {
        want.push((s.to_vec(), e))
    });
    let mut got = Vec::new();
    m.driver()
        .sample(&problem, &[], &page, 1, spec, &mut |s, e| {
            got.push((s.to_vec(), e))
        })
        .unwrap();
    assert_eq!(got, want);
    let pages = Pages::build(
        &problem,
        &Schedule::constant(Beta::from_f64(1.0).unwrap(), 5),
    );
    let want = run::anneal_read(&problem, &[], &pages, 1, 3, &|_| {});
    assert_eq!(
        m.driver()
            .anneal_read(&problem, &[], &pages, 1, 3)
            .unwrap()
            .0,
        want
    );
}

/// `CTRL_STOP` ends a run at once; the machine then runs the next job like the model.
#[test]
fn stop_ends_a_run_and_the_next_job_is_exact() {
    use pbit_spec::memory_map as mm;
    let mut m = machine().lock().unwrap();
    let case = random_case(0x5709_0001, N);
    let page = ThresholdPage::build(&case.problem.format, Beta::from_f64(case.beta).unwrap());
    m.driver()
        .load_instance(&case.problem, &case.clamps, 3, 0)
        .unwrap();
    m.driver().write_page(0, &page).unwrap();
    m.driver().write_schedule(&[(0, 1_000_000)]).unwrap();
    // a sample every sweep, never read: the machine stalls on the first, then is stopped
    m.write(mm::reg(mm::REG_EVERY), 1);
    m.write(mm::reg(mm::REG_CTRL), mm::CTRL_RUN);
    m.tick(500);
    assert_ne!(m.read(mm::reg(mm::REG_STATUS)) & mm::STATUS_BUSY, 0);
    m.write(mm::reg(mm::REG_CTRL), mm::CTRL_STOP);
    assert_eq!(m.read(mm::reg(mm::REG_STATUS)) & mm::STATUS_BUSY, 0);
    let spec = SampleSpec {
        burn_in: 0,
        sweeps: 9,
        every: 1,
    };
    assert_sample_stream_is_the_models(&mut m, &case, &page, 8, spec);
}

/// The other generated sizes (32 and 128 p-bits) are bit-exact too, on a few cases each.
#[test]
fn cosim_other_sizes_match_model() {
    for n in pbit_hdl::SUPPORTED_N
        .iter()
        .copied()
        .filter(|&k| k != N && k != N_LARGE)
    {
        let m = build(n);
        let mut m = m.lock().unwrap();
        let (samples, _) = sample_cases(&mut m, 0x5123_0000 + n as u64 * 0x100, 6);
        eprintln!("N={n}: 6 cases, {samples} samples identical");
    }
}

// ---- the batch engine

mod batch {
    use super::*;
    use pbit_driver::pack_bits;
    use pbit_spec::memory_map as mm;

    /// A batch: user seed, first read, sweeps per chain, clamped p-bits, initial states.
    struct Batch {
        seed: u64,
        r0: u64,
        k: u64,
        clamped: Vec<usize>,
        initial: Vec<Vec<bool>>,
    }

    /// A random instance of `n` p-bits in the machine's format.
    fn instance(g: &mut Gen, n: usize, machine_n: usize) -> FixedIsing {
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                if g.below(3) == 0 {
                    ising.add_coupling(i, j, (g.below(511) as i64 - 255) as f64 / 16.0);
                }
            }
            ising.h[i] = (g.below(511) as i64 - 255) as f64 / 16.0;
        }
        FixedIsing::new(&ising, Format::for_machine(machine_n), Scaling::Exact).unwrap()
    }

    /// What the model gives: chain c = `Machine::new(problem, seed, r0 + c)`, clamps and
    /// state from its initial state, k sweeps; the finals and the sums.
    fn model_batch(p: &FixedIsing, page: &ThresholdPage, b: &Batch) -> (Vec<Vec<bool>>, Vec<i64>) {
        let mut finals = Vec::new();
        for (c, init) in b.initial.iter().enumerate() {
            let mut m = pbit_model::Machine::new(p, b.seed, b.r0 + c as u64);
            let clamps: Vec<(usize, bool)> = b.clamped.iter().map(|&i| (i, init[i])).collect();
            m.set_clamps(&clamps);
            m.set_spins(init);
            for _ in 0..b.k {
                m.sweep(page);
            }
            finals.push(m.spins().to_vec());
        }
        let sums = pbit_model::run::correlation_sums(&finals, p.n);
        (finals, sums)
    }

    fn wait_idle(m: &VerilatedMachine, limit: u64) -> u64 {
        let t0 = m.sim_clocks();
        while m.read(mm::reg(mm::REG_STATUS)) & mm::STATUS_BUSY != 0 {
            m.tick(16);
            assert!(m.sim_clocks() - t0 < limit, "the batch did not end");
        }
        m.sim_clocks() - t0
    }

    /// Loads instance, page, schedule and clamps (once per instance).
    fn load(
        m: &mut VerilatedMachine,
        p: &FixedIsing,
        page: &ThresholdPage,
        k: u64,
        clamped: &[usize],
    ) {
        m.driver().load_problem(p).unwrap();
        m.driver().write_page(3, page).unwrap();
        m.driver().write_schedule(&[(3, k)]).unwrap();
        m.write(mm::reg(mm::REG_EVERY), 0);
        let mask: Vec<bool> = (0..m.n()).map(|i| clamped.contains(&i)).collect();
        for (w, &x) in pack_bits(&mask, m.n() / 32).iter().enumerate() {
            m.write(mm::region_addr(mm::REGION_CLAMPS, w as u32), x);
        }
    }

    /// Starts a batch (chain states written first unless `keep`); returns the clocks until
    /// STATUS shows idle.
    fn run(m: &mut VerilatedMachine, n: usize, b: &Batch, keep: bool) -> u64 {
        let nw = n.div_ceil(32);
        if !keep {
            for (c, s) in b.initial.iter().enumerate() {
                for (w, &x) in pack_bits(s, nw).iter().enumerate() {
                    m.write(mm::chain_addr(c as u32, w as u32), x);
                }
            }
        }
        m.write(mm::reg(mm::REG_BATCH_SEED_LO), b.seed as u32);
        m.write(mm::reg(mm::REG_BATCH_SEED_HI), (b.seed >> 32) as u32);
        m.write(mm::reg(mm::REG_BATCH_READ_LO), b.r0 as u32);
        m.write(mm::reg(mm::REG_BATCH_READ_HI), (b.r0 >> 32) as u32);
        m.write(mm::reg(mm::REG_BATCH_CHAINS), b.initial.len() as u32);
        m.write(mm::reg(mm::REG_CTRL), mm::CTRL_BATCH);
        wait_idle(m, 100_000_000)
    }

    /// Every final state in the buffer and (n ≤ the sums limit) every sum equals the model's.
    fn check(
        m: &VerilatedMachine,
        n: usize,
        b: &Batch,
        want: &(Vec<Vec<bool>>, Vec<i64>),
        what: &str,
    ) {
        let nw = n.div_ceil(32);
        assert_eq!(
            m.read(mm::reg(mm::REG_BATCH_DONE)),
            b.initial.len() as u32,
            "{what}"
        );
        for (c, f) in want.0.iter().enumerate() {
            let got: Vec<u32> = (0..nw)
                .map(|w| m.read(mm::chain_addr(c as u32, w as u32)))
                .collect();
            assert_eq!(got, pack_bits(f, nw), "{what}: chain {c}");
        }
        let sn = (m.read(mm::reg(mm::REG_BATCH_CAPS)) >> 16) as usize;
        if n <= sn {
            let got: Vec<i64> = (0..want.1.len() as u32)
                .map(|k| m.read(mm::region_addr(mm::REGION_SUMS, k)) as i32 as i64)
                .collect();
            assert_eq!(got, want.1, "{what}: sums");
        }
    }

    /// 300 chains of 17 p-bits (two clamped), 5 sweeps each, then a second batch that
    /// continues from the finals the first wrote back: finals and sums equal the model's.
    #[test]
    fn cosim_batch_matches_model() {
        let mut m = machine().lock().unwrap();
        assert_eq!(m.read(mm::reg(mm::REG_BATCH_CAPS)), 1024 | 64 << 16);
        let mut g = Gen::new(0xBA7C_0001);
        let n = 17;
        let p = instance(&mut g, n, N);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.7).unwrap());
        let mut b = Batch {
            seed: g.next_u64(),
            r0: g.next_u64() >> 1,
            k: 5,
            clamped: vec![3, 11],
            initial: (0..300)
                .map(|_| (0..n).map(|_| g.below(2) == 1).collect())
                .collect(),
        };
        load(&mut m, &p, &page, b.k, &b.clamped);
        let want = model_batch(&p, &page, &b);
        let clocks = run(&mut m, n, &b, false);
        check(&m, n, &b, &want, "first batch");
        eprintln!(
            "n = 17, k = 5: {:.0} clocks per chain",
            clocks as f64 / 300.0
        );
        // the next batch starts from the finals in the buffer
        b.r0 += 300;
        b.initial = want.0.clone();
        let want = model_batch(&p, &page, &b);
        run(&mut m, n, &b, true);
        check(&m, n, &b, &want, "second batch");
        // one sweep per chain, for the clocks per chain
        b.k = 1;
        m.driver().write_schedule(&[(3, 1)]).unwrap();
        let want = model_batch(&p, &page, &b);
        let clocks = run(&mut m, n, &b, false);
        check(&m, n, &b, &want, "k = 1");
        eprintln!(
            "n = 17, k = 1: {:.0} clocks per chain",
            clocks as f64 / 300.0
        );
    }

    /// n = 64 (the sums limit) on the 64-p-bit machine, and n = 100 on the 256-p-bit machine
    /// (no sums, four state words per chain): finals (and sums) equal the model's.
    #[test]
    fn cosim_batch_sizes_match_model() {
        let mut g = Gen::new(0xBA7C_0002);
        for (machine_n, n, chains, k) in [(N, 64, 12, 2), (N_LARGE, 100, 40, 3)] {
            let mut m = if machine_n == N {
                machine()
            } else {
                large_machine()
            }
            .lock()
            .unwrap();
            let p = instance(&mut g, n, machine_n);
            let page = ThresholdPage::build(&p.format, Beta::from_f64(0.4).unwrap());
            let b = Batch {
                seed: g.next_u64(),
                r0: g.next_u64(),
                k,
                clamped: vec![0, n - 1],
                initial: (0..chains)
                    .map(|_| (0..n).map(|_| g.below(2) == 1).collect())
                    .collect(),
            };
            load(&mut m, &p, &page, b.k, &b.clamped);
            let want = model_batch(&p, &page, &b);
            // the chains are written before the batch starts: count from the start
            let nw = n.div_ceil(32);
            for (c, s) in b.initial.iter().enumerate() {
                for (w, &x) in pack_bits(s, nw).iter().enumerate() {
                    m.write(mm::chain_addr(c as u32, w as u32), x);
                }
            }
            let clocks = run(&mut m, n, &b, true);
            check(&m, n, &b, &want, &format!("N = {machine_n}, n = {n}"));
            eprintln!(
                "N = {machine_n}, n = {n}, k = {k}: {:.1} clocks per chain (3n + kn + 3⌈n/32⌉ + 23 = {})",
                clocks as f64 / chains as f64,
                3 * n + k as usize * n + 3 * nw + 23
            );
        }
    }

    /// Random cases (sizes 2..=64 with the extremes often, densities, formats, clamp
    /// patterns, β, 0–4 sweeps, 1–40 chains): finals and sums equal the model's.
    #[test]
    fn cosim_batch_random_cases_match_model() {
        let mut m = machine().lock().unwrap();
        for case_seed in 0xBA7C_1000..0xBA7C_1008u64 {
            let case = random_case(case_seed, N);
            let n = case.problem.n;
            let mut g = Gen::new(case_seed ^ 0x5EED);
            let page =
                ThresholdPage::build(&case.problem.format, Beta::from_f64(case.beta).unwrap());
            let b = Batch {
                seed: g.next_u64(),
                r0: g.next_u64(),
                k: g.below(5),
                clamped: case.clamps.iter().map(|&(i, _)| i).collect(),
                initial: (0..1 + g.below(40))
                    .map(|_| (0..n).map(|_| g.below(2) == 1).collect())
                    .collect(),
            };
            load(&mut m, &case.problem, &page, b.k, &b.clamped);
            let want = model_batch(&case.problem, &page, &b);
            run(&mut m, n, &b, false);
            check(
                &m,
                n,
                &b,
                &want,
                &format!("case {case_seed:#x}: {}", case.desc),
            );
        }
    }

    /// A STOP ends a batch (STATUS idle, fewer chains done, the done chains' finals in the
    /// buffer); the machine then runs the next job like the model.
    #[test]
    fn stop_ends_a_batch_and_the_next_job_is_exact() {
        let mut m = machine().lock().unwrap();
        let mut g = Gen::new(0xBA7C_0003);
        let n = 30;
        let p = instance(&mut g, n, N);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(1.0).unwrap());
        let b = Batch {
            seed: g.next_u64(),
            r0: 0,
            k: 50,
            clamped: vec![],
            initial: (0..1000)
                .map(|_| (0..n).map(|_| g.below(2) == 1).collect())
                .collect(),
        };
        load(&mut m, &p, &page, b.k, &b.clamped);
        for (c, s) in b.initial.iter().enumerate() {
            m.write(mm::chain_addr(c as u32, 0), pack_bits(s, 1)[0]);
        }
        m.write(mm::reg(mm::REG_BATCH_SEED_LO), b.seed as u32);
        m.write(mm::reg(mm::REG_BATCH_SEED_HI), (b.seed >> 32) as u32);
        m.write(mm::reg(mm::REG_BATCH_READ_LO), 0);
        m.write(mm::reg(mm::REG_BATCH_READ_HI), 0);
        m.write(mm::reg(mm::REG_BATCH_CHAINS), 1000);
        m.write(mm::reg(mm::REG_CTRL), mm::CTRL_BATCH);
        m.tick(20_000);
        assert_ne!(m.read(mm::reg(mm::REG_STATUS)) & mm::STATUS_BUSY, 0);
        // writes other than REG_CTRL are ignored during a batch
        m.write(mm::reg(mm::REG_BATCH_CHAINS), 7);
        assert_eq!(m.read(mm::reg(mm::REG_BATCH_CHAINS)), 1000);
        assert_eq!(
            m.read(mm::chain_addr(0, 0)),
            0,
            "buffer reads give 0 during a batch"
        );
        m.write(mm::reg(mm::REG_CTRL), mm::CTRL_STOP);
        wait_idle(&m, 10_000);
        let done = m.read(mm::reg(mm::REG_BATCH_DONE)) as usize;
        assert!(done > 0 && done < 1000, "done {done}");
        let (finals, _) = model_batch(
            &p,
            &page,
            &Batch {
                initial: b.initial[..done].to_vec(),
                clamped: vec![],
                ..b
            },
        );
        for (c, f) in finals.iter().enumerate() {
            assert_eq!(
                m.read(mm::chain_addr(c as u32, 0)),
                pack_bits(f, 1)[0],
                "chain {c}"
            );
        }
        // the next job: a sample stream, exactly the model's
        let case = random_case(0x5709_0002, N);
        let page = ThresholdPage::build(&case.problem.format, Beta::from_f64(case.beta).unwrap());
        let spec = SampleSpec {
            burn_in: 1,
            sweeps: 9,
            every: 2,
        };
        assert_sample_stream_is_the_models(&mut m, &case, &page, 8, spec);
    }
}

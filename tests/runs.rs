//! Co-simulation of what runs do beyond one schedule step, on the 32-p-bit Verilated machine
//! (the iCEBreaker's size): multi-step schedules while sampling, a run of 50,000 sweeps, and
//! STOP then RUN again (of a run and of a batch), each against the model: whole sample streams,
//! final states, energies, best, generators and counters, bit for bit. The contract they check
//! is docs/spec.md's "STOP and resume". Needs Verilator.

use pbit_driver::{pack_bits, unpack_bits};
use pbit_model::run::{self, Pages, RunEnd, Sampling};
use pbit_model::schedule::{Schedule, Shape};
use pbit_model::{ChainState, FixedIsing, Ising, Machine, Scaling};
use pbit_sim::VerilatedMachine;
use pbit_spec::memory_map as mm;
use pbit_spec::rng::{splitmix64, xorshift32_step};
use pbit_spec::{pbit_seed, Beta, Format, ThresholdPage};
use std::sync::{Mutex, OnceLock};

/// The machine these tests build (the iCEBreaker's N).
const N: usize = 32;

fn machine() -> std::sync::MutexGuard<'static, VerilatedMachine> {
    static M: OnceLock<Mutex<VerilatedMachine>> = OnceLock::new();
    M.get_or_init(|| match VerilatedMachine::build(N) {
        Ok(m) => Mutex::new(m),
        Err(e) => panic!("cannot build the Verilated machine of {N} p-bits: {e}"),
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = splitmix64(self.0);
        self.0
    }
    fn below(&mut self, k: u64) -> u64 {
        self.next() % k
    }
}

type Stream = Vec<(Vec<bool>, i64)>;

/// A job: instance, clamps, generators of (seed, read), a multi-step schedule and sampling.
struct Job {
    problem: FixedIsing,
    clamps: Vec<(usize, bool)>,
    seed: u64,
    read: u64,
    pages: Pages,
    sampling: Sampling,
    desc: String,
}

impl Job {
    fn n(&self) -> usize {
        self.problem.n
    }
    fn steps(&self) -> Vec<u64> {
        self.pages.steps.iter().map(|s| s.1).collect()
    }
    fn total_sweeps(&self) -> u64 {
        self.pages.total_sweeps()
    }
    fn clamp_mask(&self) -> Vec<bool> {
        let mut m = vec![false; self.n()];
        for &(i, _) in &self.clamps {
            m[i] = true;
        }
        m
    }
    /// The model's machine at the job's start.
    fn start(&self) -> Machine<'_> {
        let mut m = Machine::new(&self.problem, self.seed, self.read);
        m.set_clamps(&self.clamps);
        m
    }
}

/// A random job: n in 2..=N (the extremes often), densities, extreme values, both formats,
/// clamp patterns; 1..=`max_steps` steps of 0..=`max_sweeps` sweeps at random β; burn-in
/// 0..=6 and a sample every 0 (none), 1, 2 or 3 sweeps.
fn random_job(case: u64, max_steps: u64, max_sweeps: u64) -> Job {
    let mut g = Gen(case);
    let n = match g.below(4) {
        0 => 2,
        1 => N,
        _ => 2 + g.below(N as u64 - 1) as usize,
    };
    let density = [1.0, 0.5, 0.1][g.below(3) as usize];
    let extreme = g.below(3) == 0;
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if (g.below(1000) as f64) < density * 1000.0 {
                let raw = if extreme {
                    [255, -255][g.below(2) as usize]
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
    let format = if g.below(2) == 0 {
        Format::for_machine(N)
    } else {
        Format::STANDARD
    };
    let problem = FixedIsing::new(&ising, format, Scaling::Exact).expect("instance fits");
    let clamps: Vec<(usize, bool)> = match g.below(3) {
        0 => vec![],
        1 => (0..n)
            .filter(|_| g.below(4) == 0)
            .collect::<Vec<_>>()
            .into_iter()
            .map(|i| (i, g.below(2) == 0))
            .collect(),
        _ => vec![(g.below(n as u64) as usize, g.below(2) == 0)],
    };
    let n_steps = if g.below(8) == 0 {
        32
    } else {
        1 + g.below(max_steps)
    };
    let pages = Pages {
        steps: (0..n_steps)
            .map(|_| {
                let beta = [0.01, 0.1, 0.3, 0.7, 1.5, 4.0, 40.0][g.below(7) as usize];
                let page = ThresholdPage::build(&format, Beta::from_f64(beta).unwrap());
                let sweeps = if g.below(6) == 0 {
                    0
                } else {
                    1 + g.below(max_sweeps)
                };
                (page, sweeps)
            })
            .collect(),
    };
    let sampling = Sampling {
        burn_in: g.below(7),
        every: g.below(4),
    };
    let desc = format!(
        "case {case:#x}: n={n} density={density} extreme={extreme} field_bits={} clamps={} \
         steps={:?} {sampling:?}",
        format.field_bits,
        clamps.len(),
        pages.steps.iter().map(|s| s.1).collect::<Vec<_>>()
    );
    Job {
        problem,
        clamps,
        seed: g.next(),
        read: g.below(1000),
        pages,
        sampling,
        desc,
    }
}

/// Loads a job: instance, generators and state of (seed, read), clamps, page s at slot s,
/// the steps, the sampling registers. The fields are then stale (the run recomputes them).
fn load(m: &mut VerilatedMachine, job: &Job) {
    let mut d = m.driver();
    d.load_instance(&job.problem, &job.clamps, job.seed, job.read)
        .unwrap();
    d.load_schedule(&job.pages).unwrap();
    d.write_sampling(job.sampling.burn_in as u32, job.sampling.every as u32)
        .unwrap();
}

/// The device's sweep and sample counters.
fn counters(m: &VerilatedMachine) -> (u32, u32) {
    (
        m.read(mm::reg(mm::REG_SWEEPS)),
        m.read(mm::reg(mm::REG_SAMPLES)),
    )
}

/// What the device holds of the chain (read back over the bus), with its energy and fields.
struct Readback {
    chain: ChainState,
    energy: i64,
    fields: Vec<i32>,
    stale: bool,
}

fn read_back(m: &mut VerilatedMachine, job: &Job) -> Readback {
    let n = job.n();
    let chain = m.driver().read_chain(n).unwrap();
    assert_eq!(chain.clamped, job.clamp_mask(), "{}: clamps", job.desc);
    Readback {
        chain,
        energy: m.energy_raw(),
        fields: (0..n).map(|i| m.field(i)).collect(),
        stale: m.read(mm::reg(mm::REG_STATUS)) & mm::STATUS_STALE != 0,
    }
}

/// The device's chain equals the model's: spins, generators, best, energy and fields.
fn assert_same_chain(got: &Readback, want: &Machine, what: &str) {
    let w = want.chain_state();
    assert_eq!(got.chain.rngs, w.rngs, "{what}: generators");
    assert_eq!(
        pbit_model::spins_to_string(&got.chain.spins),
        pbit_model::spins_to_string(&w.spins),
        "{what}: state"
    );
    assert!(!got.stale, "{what}: fields stale");
    assert_eq!(got.energy, want.energy_raw(), "{what}: energy");
    assert_eq!(got.fields, want.fields(), "{what}: fields");
    assert_eq!(got.chain.best, w.best, "{what}: best (energy, state)");
}

/// Panics with the first differing sample unless the streams are equal.
fn assert_same_stream(got: &[(Vec<bool>, i64)], want: &[(Vec<bool>, i64)], what: &str) {
    if let Some(k) = (0..want.len().max(got.len())).find(|&k| want.get(k) != got.get(k)) {
        panic!(
            "{what}: first differing sample {k} of {} (model) / {} (machine)\n model:   {:?}\n machine: {:?}",
            want.len(),
            got.len(),
            want.get(k).map(|(s, e)| (pbit_model::spins_to_string(s), e)),
            got.get(k).map(|(s, e)| (pbit_model::spins_to_string(s), e)),
        );
    }
}

/// The model's run of `job` from `m`: its stream and what it did.
fn model_run(m: &mut Machine, job: &Job, stop_after: Option<u64>) -> (Stream, RunEnd) {
    let mut s = Vec::new();
    let end = run::run_schedule(m, &job.pages, job.sampling, stop_after, |x, e| {
        s.push((x.to_vec(), e))
    });
    (s, end)
}

/// Runs the loaded schedule to its end on the device (`CTRL_RUN`, every sample read and
/// acknowledged): the stream, the busy clocks, and the counters' moves.
fn device_run(m: &mut VerilatedMachine, n: usize) -> (Stream, u64, (u32, u32)) {
    let before = counters(m);
    let mut got = Vec::new();
    let clocks = m
        .driver()
        .run(n, &mut |s, e| got.push((s.to_vec(), e)))
        .unwrap();
    let after = counters(m);
    (
        got,
        clocks,
        (
            after.0.wrapping_sub(before.0),
            after.1.wrapping_sub(before.1),
        ),
    )
}

/// (a) Multi-step schedules (up to 32 steps, steps of no sweeps among them) while sampling
/// (burn-in and sample interval counted across steps): the whole stream, the final chain and
/// the counters equal the model's, on random jobs.
#[test]
fn multi_step_schedules_while_sampling_match_model() {
    let mut m = machine();
    let (mut samples, mut sweeps) = (0, 0);
    let cases = 100;
    for case in 0..cases {
        let job = random_job(0x5C4E_D000 + case, 8, 6);
        load(&mut m, &job);
        let mut model = job.start();
        let (want, end) = model_run(&mut model, &job, None);
        let (got, clocks, moved) = device_run(&mut m, job.n());
        assert_same_stream(&got, &want, &job.desc);
        assert_same_chain(&read_back(&mut m, &job), &model, &job.desc);
        assert_eq!(
            moved,
            (end.sweeps as u32, end.samples as u32),
            "{}: sweeps and samples counted",
            job.desc
        );
        // one update per clock, plus the clocks the machine waited for the reader
        let formula = pbit_hdl::scheduler::run_clocks(job.n() as u64, &job.steps());
        assert!(clocks >= formula, "{}: {clocks} < {formula}", job.desc);
        if job.sampling.every == 0 {
            assert_eq!(clocks, formula, "{}", job.desc);
        }
        samples += want.len();
        sweeps += end.sweeps;
    }
    eprintln!("{cases} jobs: {sweeps} sweeps, {samples} samples identical");
}

/// A dense random instance of N p-bits in the machine's format.
fn dense_instance(g: &mut Gen) -> FixedIsing {
    let mut ising = Ising::new(N);
    for i in 0..N {
        for j in i + 1..N {
            ising.add_coupling(i, j, (g.below(511) as i64 - 255) as f64 / 16.0);
        }
        ising.h[i] = (g.below(511) as i64 - 255) as f64 / 16.0;
    }
    FixedIsing::new(&ising, Format::for_machine(N), Scaling::Exact).unwrap()
}

/// (b) 50,000 sweeps of a dense 32-p-bit instance, a geometric anneal over 7 steps, sampled
/// every 499 sweeps after 1,000 of burn-in: all 98 samples, the final chain, the counters and
/// the busy clocks (the formula: no sample ever waits) equal the model's.
#[test]
fn fifty_thousand_sweeps_match_model() {
    let mut m = machine();
    let mut g = Gen(0x10_0000);
    let problem = dense_instance(&mut g);
    let sweeps = 50_000;
    let schedule = Schedule::anneal(0.02, 0.8, sweeps, Shape::Geometric, 7).unwrap();
    let job = Job {
        pages: Pages::build(&problem, &schedule),
        problem,
        clamps: vec![(5, true)],
        seed: g.next(),
        read: 3,
        sampling: Sampling {
            burn_in: 1000,
            every: 499,
        },
        desc: "N = 32, 50,000 sweeps".into(),
    };
    load(&mut m, &job);
    let t0 = std::time::Instant::now();
    let mut model = job.start();
    let (want, end) = model_run(&mut model, &job, None);
    let (got, clocks, moved) = device_run(&mut m, N);
    assert_eq!(want.len(), 98);
    assert_same_stream(&got, &want, &job.desc);
    assert_same_chain(&read_back(&mut m, &job), &model, &job.desc);
    assert_eq!(moved, (sweeps as u32, 98));
    assert_eq!(end.sweeps, sweeps);
    assert_eq!(
        clocks,
        pbit_hdl::scheduler::run_clocks(N as u64, &job.steps())
    );
    eprintln!(
        "{sweeps} sweeps of {N} p-bits, {} samples identical, {clocks} clocks, {:.2} s",
        want.len(),
        t0.elapsed().as_secs_f64()
    );
}

/// How many times each generator stepped from its seed (None past `max` steps).
fn steps_taken(job: &Job, rngs: &[u32], max: u64) -> Vec<Option<u64>> {
    rngs.iter()
        .enumerate()
        .map(|(i, &r)| {
            let mut x = pbit_seed(job.seed, job.read, i as u64);
            (0..=max).find(|_| {
                let hit = x == r;
                x = xorshift32_step(x);
                hit
            })
        })
        .collect()
}

/// Where a STOP fell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopped {
    InRecompute,
    MidSweep,
    AtSweepEnd,
    Waiting,
    AfterEnd,
}

/// Loads `job`, runs it for `stop_at` clocks (reading samples if `reader`), STOPs, checks the
/// stopped chain against the model after the updates its generators show, then RUNs again
/// without reloading and checks the whole resumed run against the model continuing from the
/// chain read back. Panics naming the job, the clock and the first difference.
fn stop_and_resume(m: &mut VerilatedMachine, job: &Job, stop_at: u64, reader: bool) -> Stopped {
    let n = job.n() as u64;
    let total = job.total_sweeps();
    let expected = pbit_hdl::scheduler::run_clocks(n, &job.steps());
    load(m, job);
    let before = counters(m);
    let mut got: Stream = Vec::new();
    m.write(mm::reg(mm::REG_CTRL), mm::CTRL_RUN);
    m.tick(1);
    if reader {
        m.run_for(stop_at, &mut |e, w| {
            got.push((unpack_bits(w, n as usize), e as i64))
        });
    } else {
        m.tick(stop_at);
    }
    m.write(mm::reg(mm::REG_CTRL), mm::CTRL_STOP);
    let status = m.read(mm::reg(mm::REG_STATUS));
    assert_eq!(status & mm::STATUS_BUSY, 0, "{}: idle after STOP", job.desc);
    // a sample pending at the STOP stays readable until the next RUN
    if status & mm::STATUS_SAMPLE_VALID != 0 {
        let w: Vec<u32> = (0..mm::state_words(n as u32))
            .map(|w| m.read(mm::region_addr(mm::REGION_SAMPLE, w)))
            .collect();
        let e = m.read(mm::reg(mm::REG_SAMPLE_ENERGY)) as i32 as i64;
        got.push((unpack_bits(&w, n as usize), e));
    }
    let moved = {
        let a = counters(m);
        (a.0.wrapping_sub(before.0), a.1.wrapping_sub(before.1))
    };
    let back = read_back(m, job);
    let what = format!("{} stop at {stop_at} of {expected} clocks", job.desc);

    // the updates made: generators show a prefix of the run's update order
    let taken = steps_taken(job, &back.chain.rngs, total + 1);
    let taken: Vec<u64> = taken
        .iter()
        .enumerate()
        .map(|(i, t)| t.unwrap_or_else(|| panic!("{what}: generator {i} is not its seed's")))
        .collect();
    let b = taken[n as usize - 1];
    let j = taken.iter().take_while(|&&t| t == b + 1).count() as u64;
    assert!(
        taken[j as usize..].iter().all(|&t| t == b),
        "{what}: generators stepped {taken:?} times: not a prefix of a sweep"
    );
    let k = b * n + j;
    let mut model = job.start();
    let (want, end) = model_run(&mut model, job, Some(k));
    assert_eq!(end.updates, k, "{what}");
    // a STOP while the machine waits to hand over a due sample: that sweep's updates are
    // made, it has not ended (not counted) and its sample is never taken
    let stalled = j == 0
        && k > 0
        && got.len() + 1 == want.len()
        && job.sampling.records(b)
        && moved.0 as u64 + 1 == end.sweeps;
    let want_prefix = if stalled {
        &want[..want.len() - 1]
    } else {
        &want[..]
    };
    assert_same_stream(&got, want_prefix, &format!("{what}: stopped run"));
    assert_eq!(moved.1 as usize, got.len(), "{what}: samples counted");
    if !stalled {
        assert_eq!(moved.0 as u64, end.sweeps, "{what}: sweeps counted");
    }
    if back.stale {
        // stopped in the recomputation: no update made, the fields are recomputed again
        assert_eq!(k, 0, "{what}: stale after updates");
        assert_eq!(back.chain.spins, model.spins(), "{what}: state");
    } else {
        assert_same_chain(&back, &model, &format!("{what}: stopped chain"));
    }
    let stopped = if back.stale {
        Stopped::InRecompute
    } else if stalled {
        Stopped::Waiting
    } else if k == total * n {
        Stopped::AfterEnd
    } else if j != 0 {
        Stopped::MidSweep
    } else {
        Stopped::AtSweepEnd
    };

    // resume: RUN without reloading, against the model from the read-back chain
    let mut chain = back.chain.clone();
    if back.stale {
        chain.best = None;
    }
    let mut resumed = Machine::from_state(&job.problem, &chain);
    let (want, end) = model_run(&mut resumed, job, None);
    let (got, _, moved) = device_run(m, n as usize);
    let what = format!("{what}, resumed after {k} updates");
    assert_same_stream(&got, &want, &what);
    assert_same_chain(&read_back(m, job), &resumed, &what);
    assert_eq!(moved, (end.sweeps as u32, end.samples as u32), "{what}");
    stopped
}

/// (c) STOP at a random clock of a run (in the recomputation, mid-sweep, at a step change,
/// while the machine waits for the reader, or after the end), then RUN without reloading:
/// * the stopped chain is the model's after exactly k updates, for the k its generators show
///   (p-bits 0..j stepped b + 1 times, the others b: no generator ahead of its update); its
///   samples are the model's first ones; the sweep counter moved by the sweeps ended;
/// * the resumed run's whole stream and final chain equal the model continuing from the chain
///   read back (spins, generators, best; fields recomputed), the schedule from its first step.
#[test]
fn stop_then_resume_a_run_matches_model() {
    let mut m = machine();
    let cases = 150;
    let mut seen = Vec::new();
    for case in 0..cases {
        let job = random_job(0x5709_E000 + case, 5, 12);
        let mut g = Gen(0x5709 ^ case);
        let expected = pbit_hdl::scheduler::run_clocks(job.n() as u64, &job.steps());
        let stop_at = g.below(expected + expected / 8 + 1);
        // a quarter of the runs never read a sample: the machine waits at the first due one
        let reader = g.below(4) != 0;
        seen.push(stop_and_resume(&mut m, &job, stop_at, reader));
    }
    let count = |s: Stopped| seen.iter().filter(|&&x| x == s).count();
    eprintln!(
        "{cases} runs stopped and resumed: {} mid-sweep, {} at a sweep's end, {} in the \
         recomputation, {} waiting for the reader, {} after the end",
        count(Stopped::MidSweep),
        count(Stopped::AtSweepEnd),
        count(Stopped::InRecompute),
        count(Stopped::Waiting),
        count(Stopped::AfterEnd)
    );
    assert!(count(Stopped::MidSweep) >= cases as usize / 3);
    assert!(count(Stopped::Waiting) > 0 && count(Stopped::InRecompute) > 0);
}

/// A long run stopped in its middle: 20,000 sweeps of 32 p-bits over 4 steps, sampled every
/// 250 sweeps, stopped at a random clock of its second half, then resumed to its end.
#[test]
fn stop_then_resume_a_long_run_matches_model() {
    let mut m = machine();
    let mut job = random_job(0x1_5709, 1, 1);
    let problem = dense_instance(&mut Gen(0x1_5709));
    let schedule = Schedule::anneal(0.05, 1.0, 20_000, Shape::Linear, 4).unwrap();
    job.pages = Pages::build(&problem, &schedule);
    job.problem = problem;
    job.clamps = vec![(0, false)];
    job.sampling = Sampling {
        burn_in: 100,
        every: 250,
    };
    job.desc = "N = 32, 20,000 sweeps".into();
    let expected = pbit_hdl::scheduler::run_clocks(N as u64, &job.steps());
    let stop_at = expected / 2 + Gen(7).below(expected / 2);
    let t0 = std::time::Instant::now();
    let s = stop_and_resume(&mut m, &job, stop_at, true);
    assert_eq!(s, Stopped::MidSweep);
    eprintln!(
        "stopped at clock {stop_at} of {expected} and resumed: identical, {:.2} s",
        t0.elapsed().as_secs_f64()
    );
}

/// (c) STOP during a batch, then the rest of it: the done chains' finals and sums are the
/// model's; the host resubmits chains done..C (from its own copy of their initial states, with
/// first read r₀ + done) and gets the model's finals and sums, which with the first part's
/// give the whole batch's sums.
#[test]
fn stop_then_resume_a_batch_matches_model() {
    let mut m = machine();
    assert_eq!(
        m.read(mm::reg(mm::REG_BATCH_CAPS)) >> 16,
        N as u32,
        "sums of N"
    );
    let mut g = Gen(0xBA7C_5709);
    for case in 0..3 {
        let n = [20, 32, 7][case];
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                if g.below(3) == 0 {
                    ising.add_coupling(i, j, (g.below(511) as i64 - 255) as f64 / 16.0);
                }
            }
            ising.h[i] = (g.below(511) as i64 - 255) as f64 / 16.0;
        }
        let p = FixedIsing::new(&ising, Format::for_machine(N), Scaling::Exact).unwrap();
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.6).unwrap());
        let (chains, k) = (150usize, 4u64);
        let clamped = [1usize];
        let seed = g.next();
        let r0 = g.next() >> 1;
        let initial: Vec<Vec<bool>> = (0..chains)
            .map(|_| (0..n).map(|_| g.below(2) == 1).collect())
            .collect();
        let model_chain = |c: usize| -> Vec<bool> {
            let mut x = Machine::new(&p, seed, r0 + c as u64);
            x.set_clamps(
                &clamped
                    .iter()
                    .map(|&i| (i, initial[c][i]))
                    .collect::<Vec<_>>(),
            );
            x.set_spins(&initial[c]);
            for _ in 0..k {
                x.sweep(&page);
            }
            x.spins().to_vec()
        };
        let finals: Vec<Vec<bool>> = (0..chains).map(model_chain).collect();

        m.driver().load_problem(&p).unwrap();
        m.driver().write_page(3, &page).unwrap();
        m.driver().write_schedule(&[(3, k)]).unwrap();
        m.write(mm::reg(mm::REG_EVERY), 0);
        let mask: Vec<bool> = (0..N).map(|i| clamped.contains(&i)).collect();
        m.write(
            mm::region_addr(mm::REGION_CLAMPS, 0),
            pack_bits(&mask, 1)[0],
        );
        let start = |m: &VerilatedMachine, first: usize, r: u64| {
            for (c, s) in initial[first..].iter().enumerate() {
                m.write(mm::chain_addr(c as u32, 0), pack_bits(s, 1)[0]);
            }
            m.write(mm::reg(mm::REG_BATCH_SEED_LO), seed as u32);
            m.write(mm::reg(mm::REG_BATCH_SEED_HI), (seed >> 32) as u32);
            m.write(mm::reg(mm::REG_BATCH_READ_LO), r as u32);
            m.write(mm::reg(mm::REG_BATCH_READ_HI), (r >> 32) as u32);
            m.write(mm::reg(mm::REG_BATCH_CHAINS), (chains - first) as u32);
            m.write(mm::reg(mm::REG_CTRL), mm::CTRL_BATCH);
        };
        let wait_idle = |m: &VerilatedMachine| {
            let t0 = m.sim_clocks();
            while m.read(mm::reg(mm::REG_STATUS)) & mm::STATUS_BUSY != 0 {
                m.tick(16);
                assert!(m.sim_clocks() - t0 < 50_000_000, "the batch did not end");
            }
        };
        let check = |m: &VerilatedMachine, first: usize, done: usize, what: &str| {
            for c in 0..done {
                let got = m.read(mm::chain_addr(c as u32, 0));
                assert_eq!(
                    got,
                    pack_bits(&finals[first + c], 1)[0],
                    "{what}: chain {}",
                    first + c
                );
            }
            let sums: Vec<i64> = (0..mm::sums_len(n as u32))
                .map(|x| m.read(mm::region_addr(mm::REGION_SUMS, x)) as i32 as i64)
                .collect();
            let want = run::correlation_sums(&finals[first..first + done], n);
            assert_eq!(sums, want, "{what}: sums");
            sums
        };
        // per chain about 3n + kn + 26 clocks: stop somewhere in the first two thirds
        let per_chain = (3 * n + k as usize * n + 26) as u64;
        let stop_at = per_chain + g.below(per_chain * chains as u64 * 2 / 3);
        start(&m, 0, r0);
        m.tick(stop_at);
        m.write(mm::reg(mm::REG_CTRL), mm::CTRL_STOP);
        wait_idle(&m);
        let done = m.read(mm::reg(mm::REG_BATCH_DONE)) as usize;
        let what = format!("batch {case}: n {n}, stop at {stop_at}, {done} of {chains} done");
        assert!(done > 0 && done < chains, "{what}");
        let first_sums = check(&m, 0, done, &what);
        // the rest of the batch
        start(&m, done, r0 + done as u64);
        wait_idle(&m);
        assert_eq!(
            m.read(mm::reg(mm::REG_BATCH_DONE)) as usize,
            chains - done,
            "{what}"
        );
        let rest_sums = check(&m, done, chains - done, &format!("{what}, resumed"));
        let whole = run::correlation_sums(&finals, n);
        let added: Vec<i64> = first_sums
            .iter()
            .zip(&rest_sums)
            .map(|(a, b)| a + b)
            .collect();
        assert_eq!(added, whole, "{what}: the two parts' sums are the batch's");
        eprintln!("{what}: both parts equal the model's");
    }
}

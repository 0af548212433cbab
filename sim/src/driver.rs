//! The Rust driver of the Verilated machine: loads instances through the bus of
//! [`pbit_spec::memory_map`] and runs the model's jobs.

use crate::SimError;
use libloading::{Library, Symbol};
use pbit_model::run::{Pages, ReadResult, SampleSpec};
use pbit_model::FixedIsing;
use pbit_spec::memory_map as mm;
use pbit_spec::{initial_spin, pbit_seed, Format, ThresholdPage};
use std::ffi::c_void;
use std::time::Instant;

type NewFn = unsafe extern "C" fn() -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type WriteFn = unsafe extern "C" fn(*mut c_void, u32, u32);
type ReadFn = unsafe extern "C" fn(*mut c_void, u32) -> u32;
type AckFn = unsafe extern "C" fn(*mut c_void);
type RunFn = unsafe extern "C" fn(*mut c_void, u64) -> i32;
type TickFn = unsafe extern "C" fn(*mut c_void, u64);
type ClocksFn = unsafe extern "C" fn(*mut c_void) -> u64;

struct Api {
    new: NewFn,
    free: FreeFn,
    write: WriteFn,
    read: ReadFn,
    ack: AckFn,
    run: RunFn,
    tick: TickFn,
    clocks: ClocksFn,
}

/// A clock budget that no valid job reaches: jobs are bounded by their sweep counts.
const MAX_CLOCKS_PER_CALL: u64 = u64::MAX;

/// The Verilated machine of N p-bits.
pub struct VerilatedMachine {
    handle: *mut c_void,
    api: Api,
    n: usize,
    format: Format,
    // keeps the code of `api` loaded; dropped last
    _lib: Library,
}

// The model behind `handle` is owned by this value and used from one thread at a time.
unsafe impl Send for VerilatedMachine {}

impl Drop for VerilatedMachine {
    fn drop(&mut self) {
        unsafe { (self.api.free)(self.handle) }
    }
}

impl VerilatedMachine {
    /// Builds (or takes from the cache) the machine of `n` p-bits and instantiates it.
    pub fn build(n: usize) -> Result<Self, SimError> {
        let format = pbit_hdl::machine_format(n);
        let verilog = pbit_hdl::emit_verilog(n, &format)?;
        let so = crate::build::build_shared_object(&verilog)?;
        Self::load(&so, n, format)
    }

    fn load(so: &std::path::Path, n: usize, format: Format) -> Result<Self, SimError> {
        let lib = unsafe { Library::new(so) }
            .map_err(|e| SimError::Load(format!("{}: {e}", so.display())))?;
        fn sym<T: Copy>(lib: &Library, name: &[u8]) -> Result<T, SimError> {
            unsafe {
                let s: Symbol<T> = lib.get(name).map_err(|e| SimError::Load(e.to_string()))?;
                Ok(*s)
            }
        }
        let api = Api {
            new: sym(&lib, b"pbit_sim_new")?,
            free: sym(&lib, b"pbit_sim_free")?,
            write: sym(&lib, b"pbit_sim_write")?,
            read: sym(&lib, b"pbit_sim_read")?,
            ack: sym(&lib, b"pbit_sim_ack_sample")?,
            run: sym(&lib, b"pbit_sim_run")?,
            tick: sym(&lib, b"pbit_sim_tick")?,
            clocks: sym(&lib, b"pbit_sim_clocks")?,
        };
        let handle = unsafe { (api.new)() };
        let m = VerilatedMachine {
            handle,
            api,
            n,
            format,
            _lib: lib,
        };
        let magic = m.read(mm::reg(mm::REG_MAGIC));
        let got_n = m.read(mm::reg(mm::REG_N));
        if magic != mm::MAGIC || got_n as usize != n {
            return Err(SimError::BadDevice {
                got: magic,
                n: got_n,
                want: n,
            });
        }
        Ok(m)
    }

    /// Number of p-bits of the machine.
    pub fn n(&self) -> usize {
        self.n
    }
    /// The machine's format ([`Format::for_machine`] of N).
    pub fn format(&self) -> Format {
        self.format
    }

    /// One bus write (one clock).
    pub fn write(&self, addr: u32, data: u32) {
        unsafe { (self.api.write)(self.handle, addr, data) }
    }
    /// One bus read (one clock).
    pub fn read(&self, addr: u32) -> u32 {
        unsafe { (self.api.read)(self.handle, addr) }
    }
    /// Runs `clocks` clocks.
    pub fn tick(&self, clocks: u64) {
        unsafe { (self.api.tick)(self.handle, clocks) }
    }
    /// Clocks simulated since the machine was instantiated (bus cycles included).
    pub fn sim_clocks(&self) -> u64 {
        unsafe { (self.api.clocks)(self.handle) }
    }
    /// Clocks the machine spent busy (recomputing or running), from its counter.
    pub fn busy_clocks(&self) -> u64 {
        let lo = self.read(mm::reg(mm::REG_CLOCKS_LO)) as u64;
        let hi = self.read(mm::reg(mm::REG_CLOCKS_HI)) as u64;
        hi << 32 | lo
    }
    /// The spec hash the machine reports.
    pub fn spec_hash(&self) -> u64 {
        let lo = self.read(mm::reg(mm::REG_SPEC_HASH_LO)) as u64;
        let hi = self.read(mm::reg(mm::REG_SPEC_HASH_HI)) as u64;
        hi << 32 | lo
    }

    fn read_bits(&self, region: u32, n: usize) -> Vec<bool> {
        let mut out = Vec::with_capacity(n);
        for w in 0..mm::state_words(n as u32) {
            let word = self.read(mm::region_addr(region, w));
            for b in 0..32 {
                if out.len() < n {
                    out.push(word >> b & 1 == 1);
                }
            }
        }
        out
    }

    fn write_bits(&self, region: u32, bits: &[bool]) {
        for w in 0..mm::state_words(self.n as u32) {
            let mut word = 0u32;
            for b in 0..32 {
                let i = (w * 32 + b) as usize;
                if i < bits.len() && bits[i] {
                    word |= 1 << b;
                }
            }
            self.write(mm::region_addr(region, w), word);
        }
    }

    fn check_problem(
        &self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
    ) -> Result<(), SimError> {
        if problem.n > self.n {
            return Err(SimError::TooLarge {
                n: problem.n,
                machine_n: self.n,
            });
        }
        let (f, g) = (problem.format, self.format);
        if f.frac_bits != g.frac_bits
            || f.j_bits != g.j_bits
            || f.h_bits != g.h_bits
            || f.rng_bits != g.rng_bits
        {
            return Err(SimError::FormatMismatch { got: f, want: g });
        }
        if let Some(&(index, _)) = clamps.iter().find(|c| c.0 >= problem.n) {
            return Err(SimError::BadClamp {
                index,
                n: problem.n,
            });
        }
        Ok(())
    }

    /// Writes the instance: the active count n, J (the n×n block) and h. Marks the fields
    /// stale (they are recomputed when the next run starts).
    pub fn load_problem(&self, problem: &FixedIsing) -> Result<(), SimError> {
        self.check_problem(problem, &[])?;
        let n = problem.n;
        self.write(mm::reg(mm::REG_N_ACTIVE), n as u32);
        let mut row = vec![0i32; n];
        for i in 0..n {
            row.iter_mut().for_each(|v| *v = 0);
            let (nb, jv) = problem.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                row[j as usize] = v;
            }
            for (j, &v) in row.iter().enumerate() {
                self.write(mm::j_addr(i as u32, j as u32), v as u32);
            }
            self.write(
                mm::region_addr(mm::REGION_H, i as u32),
                problem.h_raw[i] as u32,
            );
        }
        Ok(())
    }

    /// Writes the generators of read `read` (`pbit_seed(seed, read, i)`), the state
    /// `spins` (the first n p-bits) and the clamp mask (`clamped[i]`); clamped p-bits keep the
    /// value `spins` gives them.
    pub fn load_chain(&self, n: usize, seed: u64, read: u64, spins: &[bool], clamped: &[bool]) {
        for i in 0..n {
            self.write(
                mm::region_addr(mm::REGION_RNG, i as u32),
                pbit_seed(seed, read, i as u64),
            );
        }
        self.write_bits(mm::REGION_STATE, &spins[..n]);
        self.write_bits(mm::REGION_CLAMPS, &clamped[..n]);
    }

    /// Writes the generators and state of (seed, read) and the clamps: with the instance
    /// loaded, the machine is then in the state of the model's `Machine::new(problem, seed,
    /// read)` followed by `set_clamps(clamps)`.
    pub fn load_read(
        &self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        seed: u64,
        read: u64,
    ) -> Result<(), SimError> {
        self.check_problem(problem, clamps)?;
        let n = problem.n;
        let mut spins: Vec<bool> = (0..n).map(|i| initial_spin(seed, read, i as u64)).collect();
        let mut mask = vec![false; n];
        for &(i, v) in clamps {
            spins[i] = v;
            mask[i] = true;
        }
        self.load_chain(n, seed, read, &spins, &mask);
        Ok(())
    }

    /// [`Self::load_problem`] then [`Self::load_read`].
    pub fn load_instance(
        &self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        seed: u64,
        read: u64,
    ) -> Result<(), SimError> {
        self.load_problem(problem)?;
        self.load_read(problem, clamps, seed, read)
    }

    /// Writes page `slot`: the upper half of `page`, clipped to the machine's field range
    /// (a clipped threshold lies beyond every field an instance of ≤ N p-bits reaches, so
    /// clipping never changes a decision).
    pub fn write_page(&self, slot: u32, page: &ThresholdPage) -> Result<(), SimError> {
        if slot >= mm::MAX_PAGES {
            return Err(SimError::Limit {
                what: "page slot",
                value: slot as u64,
                max: mm::MAX_PAGES as u64 - 1,
            });
        }
        let (lo, hi) = (self.format.field_min_raw(), self.format.field_max_raw());
        for (u, &a) in page.upper_half().iter().enumerate() {
            self.write(mm::page_addr(slot, u as u32), a.clamp(lo, hi) as u32);
        }
        Ok(())
    }

    /// Writes the schedule: step s runs `sweeps` sweeps at page slot `page`.
    pub fn write_schedule(&self, steps: &[(u32, u64)]) -> Result<(), SimError> {
        if steps.is_empty() || steps.len() > mm::MAX_STEPS as usize {
            return Err(SimError::Limit {
                what: "schedule steps",
                value: steps.len() as u64,
                max: mm::MAX_STEPS as u64,
            });
        }
        for (s, &(page, sweeps)) in steps.iter().enumerate() {
            if sweeps > u32::MAX as u64 {
                return Err(SimError::Limit {
                    what: "sweeps in one step",
                    value: sweeps,
                    max: u32::MAX as u64,
                });
            }
            self.write(mm::schedule_sweeps_addr(s as u32), sweeps as u32);
            self.write(mm::schedule_page_addr(s as u32), page);
        }
        self.write(mm::reg(mm::REG_N_STEPS), steps.len() as u32);
        Ok(())
    }

    /// Starts the schedule and calls `on_sample(spins, energy)` for each sample until the
    /// machine is idle. Returns the clocks the machine was busy.
    fn run(&self, n: usize, mut on_sample: impl FnMut(&[bool], i64)) -> Result<u64, SimError> {
        let before = self.busy_clocks();
        self.write(mm::reg(mm::REG_CTRL), mm::CTRL_RUN);
        // the harness registers the bus inputs: the core sees the write one clock later
        self.tick(1);
        loop {
            match unsafe { (self.api.run)(self.handle, MAX_CLOCKS_PER_CALL) } {
                0 => break,
                1 => {
                    let spins = self.read_bits(mm::REGION_SAMPLE, n);
                    let e = self.read(mm::reg(mm::REG_SAMPLE_ENERGY)) as i32 as i64;
                    unsafe { (self.api.ack)(self.handle) };
                    on_sample(&spins, e);
                }
                _ => {
                    return Err(SimError::Timeout {
                        clocks: MAX_CLOCKS_PER_CALL,
                    })
                }
            }
        }
        Ok(self.busy_clocks() - before)
    }

    /// [`pbit_model::run::sample`] on the machine: one chain (read 0) at one page; calls
    /// `record(spins, energy_raw)` for each recorded sample. Returns the clocks run.
    pub fn sample(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        page: &ThresholdPage,
        seed: u64,
        spec: SampleSpec,
        mut record: impl FnMut(&[bool], i64),
    ) -> Result<u64, SimError> {
        if problem.n == 0 {
            // no p-bit to run: the model records the empty state (energy 0) as usual
            if spec.every != 0 {
                for t in 1..=spec.sweeps {
                    if t % spec.every == 0 {
                        record(&[], 0);
                    }
                }
            }
            return Ok(0);
        }
        if spec.burn_in > u32::MAX as u64 || spec.every > u32::MAX as u64 {
            return Err(SimError::Limit {
                what: "burn-in or sample interval",
                value: spec.burn_in.max(spec.every),
                max: u32::MAX as u64,
            });
        }
        self.load_instance(problem, clamps, seed, 0)?;
        self.write_page(0, page)?;
        self.write_schedule(&[(0, spec.burn_in + spec.sweeps)])?;
        self.write(mm::reg(mm::REG_BURN_IN), spec.burn_in as u32);
        self.write(mm::reg(mm::REG_EVERY), spec.every as u32);
        self.run(problem.n, record)
    }

    fn load_schedule(&self, pages: &Pages) -> Result<(), SimError> {
        if pages.steps.len() > mm::MAX_STEPS as usize {
            return Err(SimError::Limit {
                what: "schedule steps",
                value: pages.steps.len() as u64,
                max: mm::MAX_STEPS as u64,
            });
        }
        let mut steps = Vec::new();
        for (s, (page, sweeps)) in pages.steps.iter().enumerate() {
            self.write_page(s as u32, page)?;
            steps.push((s as u32, *sweeps));
        }
        if steps.is_empty() {
            steps.push((0, 0));
        }
        self.write_schedule(&steps)?;
        self.write(mm::reg(mm::REG_BURN_IN), 0);
        self.write(mm::reg(mm::REG_EVERY), 0);
        Ok(())
    }

    fn read_result(&self, n: usize, read: u64) -> ReadResult {
        if n == 0 {
            return ReadResult {
                read,
                best_energy_raw: 0,
                best_spins: Vec::new(),
                final_energy_raw: 0,
            };
        }
        ReadResult {
            read,
            best_energy_raw: self.read(mm::reg(mm::REG_BEST_ENERGY)) as i32 as i64,
            best_spins: self.read_bits(mm::REGION_BEST_STATE, n),
            final_energy_raw: self.read(mm::reg(mm::REG_ENERGY)) as i32 as i64,
        }
    }

    /// [`pbit_model::run::anneal_read`] on the machine. Returns the result and the clocks run.
    pub fn anneal_read(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        pages: &Pages,
        seed: u64,
        read: u64,
    ) -> Result<(ReadResult, u64), SimError> {
        self.check_problem(problem, clamps)?;
        if problem.n == 0 {
            return Ok((self.read_result(0, read), 0));
        }
        self.load_schedule(pages)?;
        self.load_instance(problem, clamps, seed, read)?;
        let clocks = self.run(problem.n, |_, _| {})?;
        Ok((self.read_result(problem.n, read), clocks))
    }

    /// `anneal_read` for reads `0..reads`, in read order, loading J, h and the pages once;
    /// `progress(k)` reports k more sweeps done. Returns the results and the clocks run.
    pub fn anneal(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        pages: &Pages,
        seed: u64,
        reads: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Vec<ReadResult>, u64), SimError> {
        self.check_problem(problem, clamps)?;
        if problem.n == 0 {
            let empty = (0..reads).map(|read| self.read_result(0, read)).collect();
            return Ok((empty, 0));
        }
        self.load_schedule(pages)?;
        self.load_problem(problem)?;
        let mut results = Vec::with_capacity(reads as usize);
        let mut clocks = 0;
        for read in 0..reads {
            // a chain write marks the fields stale: each read recomputes from its own state
            self.load_read(problem, clamps, seed, read)?;
            clocks += self.run(problem.n, |_, _| {})?;
            results.push(self.read_result(problem.n, read));
            progress(pages.total_sweeps());
        }
        Ok((results, clocks))
    }

    /// The host's relax job: for each chain c, generators of read `first_read + c`, clamps on
    /// `clamped` (to chain c's values), state `initial[c]`, `sweeps` sweeps at `page`; calls
    /// `out(c, final_state)`. Equals `Machine::new`, `set_clamps`, `set_spins`, `sweep`×k of
    /// the model. Returns the clocks run.
    #[allow(clippy::too_many_arguments)]
    pub fn relax(
        &mut self,
        problem: &FixedIsing,
        clamped: &[usize],
        page: &ThresholdPage,
        seed: u64,
        first_read: u64,
        initial: &[Vec<bool>],
        sweeps: u64,
        mut out: impl FnMut(usize, &[bool]),
    ) -> Result<u64, SimError> {
        let n = problem.n;
        self.check_problem(problem, &[])?;
        if let Some(&index) = clamped.iter().find(|&&i| i >= n) {
            return Err(SimError::BadClamp { index, n });
        }
        if let Some(s) = initial.iter().find(|s| s.len() != n) {
            return Err(SimError::Limit {
                what: "initial state length",
                value: s.len() as u64,
                max: n as u64,
            });
        }
        if n == 0 {
            for c in 0..initial.len() {
                out(c, &[]);
            }
            return Ok(0);
        }
        self.write_page(0, page)?;
        self.write_schedule(&[(0, sweeps)])?;
        self.write(mm::reg(mm::REG_BURN_IN), 0);
        self.write(mm::reg(mm::REG_EVERY), 0);
        self.load_problem(problem)?;
        let mut mask = vec![false; n];
        for &i in clamped {
            mask[i] = true;
        }
        let mut clocks = 0;
        for (c, spins) in initial.iter().enumerate() {
            self.load_chain(n, seed, first_read + c as u64, spins, &mask);
            clocks += self.run(n, |_, _| {})?;
            out(c, &self.spins(n));
        }
        Ok(clocks)
    }

    /// The current state of the first `n` p-bits.
    pub fn spins(&self, n: usize) -> Vec<bool> {
        self.read_bits(mm::REGION_STATE, n)
    }
    /// Raw local field of p-bit i (valid while idle).
    pub fn field(&self, i: usize) -> i32 {
        self.read(mm::region_addr(mm::REGION_FIELD, i as u32)) as i32
    }
    /// Generator state of p-bit i.
    pub fn rng_state(&self, i: usize) -> u32 {
        self.read(mm::region_addr(mm::REGION_RNG, i as u32))
    }
    /// Samples the machine has emitted since it was instantiated.
    pub fn samples_emitted(&self) -> u32 {
        self.read(mm::reg(mm::REG_SAMPLES))
    }
    /// The running raw energy.
    pub fn energy_raw(&self) -> i64 {
        self.read(mm::reg(mm::REG_ENERGY)) as i32 as i64
    }

    /// Measures simulation speed: runs `sweeps` sweeps of all N p-bits on a random dense
    /// instance. Rates are per second of this thread's CPU time (Linux: from
    /// `/proc/thread-self/schedstat`, so other jobs on the machine do not skew them) and of
    /// wall time.
    pub fn measure_speed(&mut self, sweeps: u64) -> Result<Speed, SimError> {
        let n = self.n;
        let mut ising = pbit_model::Ising::new(n);
        let mut x = 0x1234_5678_9abc_def1u64;
        for i in 0..n {
            for j in i + 1..n {
                x = pbit_spec::rng::splitmix64(x);
                ising.add_coupling(i, j, ((x % 31) as f64 - 15.0) / 16.0);
            }
        }
        let problem = FixedIsing::new(&ising, self.format, pbit_model::Scaling::Exact)
            .map_err(|e| SimError::Io(e.to_string()))?;
        let page = ThresholdPage::build(
            &self.format,
            pbit_spec::Beta::from_f64(1.0).expect("1.0 is a valid beta"),
        );
        self.load_instance(&problem, &[], 1, 0)?;
        self.write_page(0, &page)?;
        self.write_schedule(&[(0, sweeps)])?;
        self.write(mm::reg(mm::REG_BURN_IN), 0);
        self.write(mm::reg(mm::REG_EVERY), 0);
        let c0 = self.sim_clocks();
        let cpu0 = thread_cpu_seconds();
        let t0 = Instant::now();
        self.run(n, |_, _| {})?;
        let wall_s = t0.elapsed().as_secs_f64();
        let cpu_s = match (cpu0, thread_cpu_seconds()) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => wall_s,
        };
        Ok(Speed {
            clocks: self.sim_clocks() - c0,
            updates: sweeps * n as u64,
            cpu_s,
            wall_s,
        })
    }
}

/// What [`VerilatedMachine::measure_speed`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Speed {
    /// Clocks simulated (the run, its recomputation and a few bus clocks).
    pub clocks: u64,
    /// p-bit updates made (sweeps × N).
    pub updates: u64,
    /// CPU time of the simulating thread, and wall time.
    pub cpu_s: f64,
    pub wall_s: f64,
}

impl Speed {
    pub fn clocks_per_cpu_s(&self) -> f64 {
        self.clocks as f64 / self.cpu_s
    }
    pub fn updates_per_cpu_s(&self) -> f64 {
        self.updates as f64 / self.cpu_s
    }
    pub fn clocks_per_wall_s(&self) -> f64 {
        self.clocks as f64 / self.wall_s
    }
}

/// CPU time of the calling thread in seconds (Linux), None elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

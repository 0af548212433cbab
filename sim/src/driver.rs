//! The Verilated machine: its bus port (one word per clock) and a [`pbit_driver::Bus`] over it;
//! the model's jobs run on it through [`VerilatedMachine::driver`] (the same programming
//! sequence a board gets over its UART link).

use crate::build::symbol;
use crate::SimError;
use libloading::Library;
use pbit_driver::{Bus, Driver, DriverError};
use pbit_hdl::sparse::{SparseInfo, SparseOptions};
use pbit_model::FixedIsing;
use pbit_spec::memory_map as mm;
use pbit_spec::sparse::{MachineKind, SparseGraph};
use pbit_spec::{Format, ThresholdPage};
use std::ffi::c_void;
use std::time::Instant;

type NewFn = unsafe extern "C" fn() -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type WriteFn = unsafe extern "C" fn(*mut c_void, u32, u32);
type ReadFn = unsafe extern "C" fn(*mut c_void, u32, u32) -> u32;
type AckFn = unsafe extern "C" fn(*mut c_void);
type RunFn = unsafe extern "C" fn(*mut c_void, u64) -> i32;
type TickFn = unsafe extern "C" fn(*mut c_void, u64);
type ClocksFn = unsafe extern "C" fn(*mut c_void) -> u64;
type TraceOpenFn = unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char, u64) -> i32;

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
    /// The built graph of a sparse machine (None: the dense machine).
    graph: Option<SparseGraph>,
    info: Option<SparseInfo>,
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
        Self::build_with(n, None)
    }

    /// [`Self::build`], writing a waveform of the machine's first `trace.clocks` clocks (from
    /// its instantiation: bus cycles and runs alike) to `trace.path`. The traced machine is a
    /// build of its own (Verilator `--trace`/`--trace-fst`, cached separately), so machines
    /// built without a trace carry no tracing code.
    pub fn build_with(n: usize, trace: Option<&crate::build::Trace>) -> Result<Self, SimError> {
        let format = pbit_hdl::machine_format(n);
        let verilog = pbit_hdl::emit_verilog(n, &format)?;
        let so = crate::build::build_shared_object_with(&verilog, trace.map(|t| t.format))?;
        Self::load(&so, n, format, trace, None)
    }

    /// Builds (or takes from the cache, keyed by the Verilog and so by the graph's hash) the
    /// sparse machine for `graph` with maximum degree `max_degree` and instantiates it. Every
    /// region is readable (the RNG and field regions too).
    pub fn build_sparse(graph: &SparseGraph, max_degree: usize) -> Result<Self, SimError> {
        Self::build_sparse_with(graph, max_degree, None)
    }

    /// [`Self::build_sparse`] with `lanes` time-multiplexed update lanes (None: one update
    /// cell per p-bit).
    pub fn build_sparse_with(
        graph: &SparseGraph,
        max_degree: usize,
        lanes: Option<usize>,
    ) -> Result<Self, SimError> {
        Self::build_sparse_options(graph, max_degree, lanes, None)
    }

    /// [`Self::build_sparse_with`], traced as [`Self::build_sparse_traced`] if `trace` is given.
    pub fn build_sparse_options(
        graph: &SparseGraph,
        max_degree: usize,
        lanes: Option<usize>,
        trace: Option<&crate::build::Trace>,
    ) -> Result<Self, SimError> {
        let opts = SparseOptions {
            max_degree,
            readback: true,
            lanes,
            // Verilator builds keep the on-chip statistics
            stats: Some(pbit_hdl::sparse_stats::DEFAULT_STATS_BITS),
            coupling_banks: false,
        };
        Self::build_sparse_traced(graph, &opts, trace)
    }

    /// [`Self::build_sparse`] with every option given (tests build narrow statistics counters
    /// to reach their overflow).
    pub fn build_sparse_opts(graph: &SparseGraph, opts: &SparseOptions) -> Result<Self, SimError> {
        Self::build_sparse_traced(graph, opts, None)
    }

    /// [`Self::build_sparse_opts`], writing a waveform of the machine's first `trace.clocks`
    /// clocks to `trace.path` (a traced build of its own, as [`Self::build_with`]'s).
    pub fn build_sparse_traced(
        graph: &SparseGraph,
        opts: &SparseOptions,
        trace: Option<&crate::build::Trace>,
    ) -> Result<Self, SimError> {
        let (verilog, info) = pbit_hdl::sparse::emit_sparse_verilog(graph, opts)?;
        let so = crate::build::build_shared_object_with(&verilog, trace.map(|t| t.format))?;
        let mut m = Self::load(&so, graph.n(), info.format, trace, Some(graph.clone()))?;
        let id = pbit_driver::identify_sparse(&mut m).map_err(|e| match e {
            pbit_driver::DriverError::Bus(e) => e,
            e => SimError::Io(e.to_string()),
        })?;
        if id.graph_hash != graph.hash() || id.kind != MachineKind::Sparse {
            return Err(SimError::Io(format!(
                "the built sparse machine reports graph {:016x} ({}), not {:016x}",
                id.graph_hash,
                id.kind,
                graph.hash()
            )));
        }
        m.info = Some(info);
        Ok(m)
    }

    /// The sparse machine's description (None for the dense machine).
    pub fn sparse_info(&self) -> Option<&SparseInfo> {
        self.info.as_ref()
    }
    /// The sparse machine's graph (None for the dense machine).
    pub fn graph(&self) -> Option<&SparseGraph> {
        self.graph.as_ref()
    }

    fn load(
        so: &std::path::Path,
        n: usize,
        format: Format,
        trace: Option<&crate::build::Trace>,
        graph: Option<SparseGraph>,
    ) -> Result<Self, SimError> {
        let lib = crate::build::load_library(so)?;
        let api = Api {
            new: symbol(&lib, b"pbit_sim_new")?,
            free: symbol(&lib, b"pbit_sim_free")?,
            write: symbol(&lib, b"pbit_sim_write")?,
            read: symbol(&lib, b"pbit_sim_read")?,
            ack: symbol(&lib, b"pbit_sim_ack_sample")?,
            run: symbol(&lib, b"pbit_sim_run")?,
            tick: symbol(&lib, b"pbit_sim_tick")?,
            clocks: symbol(&lib, b"pbit_sim_clocks")?,
        };
        let handle = unsafe { (api.new)() };
        if let Some(t) = trace {
            let open: TraceOpenFn = symbol(&lib, b"pbit_sim_trace_open")?;
            let path =
                std::ffi::CString::new(t.path.as_os_str().as_encoded_bytes()).map_err(|_| {
                    SimError::Io(format!("trace file {}: NUL in the name", t.path.display()))
                })?;
            // SAFETY: `handle` is the model just created; the shim copies nothing it keeps
            // beyond the call but the open file
            let r = unsafe { open(handle, path.as_ptr(), t.clocks) };
            if r != 0 {
                unsafe { (api.free)(handle) };
                return Err(SimError::Io(format!(
                    "trace file {}: {}",
                    t.path.display(),
                    if r == 1 {
                        "cannot be opened for writing"
                    } else {
                        "this build has no tracing"
                    }
                )));
            }
        }
        let m = VerilatedMachine {
            handle,
            api,
            n,
            format,
            graph,
            info: None,
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
        unsafe { (self.api.read)(self.handle, addr, pbit_spec::regmap::BUS_READ_CLOCKS) }
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

    /// The [`pbit_driver::Driver`] of this machine over this port: every job (load an
    /// instance, sample, anneal, relax, batches) is the driver's, the same sequence a board
    /// gets over its UART link.
    pub fn driver(&mut self) -> Driver<&mut VerilatedMachine> {
        let (n, format) = (self.n, self.format);
        match self.graph.clone() {
            Some(g) => Driver::sparse(self, g, format),
            None => Driver::new(self, n, format),
        }
    }

    /// The current state of the first `n` p-bits.
    pub fn spins(&self, n: usize) -> Vec<bool> {
        let words: Vec<u32> = (0..mm::state_words(n as u32))
            .map(|w| self.read(mm::region_addr(mm::REGION_STATE, w)))
            .collect();
        pbit_driver::unpack_bits(&words, n)
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

    /// Runs a started run for at most `clocks` more clocks, reading and acknowledging each
    /// sample as [`Bus::run`] does (`on_sample(energy, state words)`; the reads take clocks of
    /// the budget too). Returns true once the machine is idle, false when the budget ran out
    /// with the run still going: a test then writes `CTRL_STOP` at that clock.
    pub fn run_for(&mut self, clocks: u64, on_sample: &mut dyn FnMut(i32, &[u32])) -> bool {
        let end = self.sim_clocks() + clocks;
        let words =
            mm::state_words(VerilatedMachine::read(self, mm::reg(mm::REG_N_ACTIVE))) as usize;
        let mut state = vec![0u32; words];
        loop {
            let now = self.sim_clocks();
            if now >= end {
                return false;
            }
            match unsafe { (self.api.run)(self.handle, end - now) } {
                0 => return true,
                1 => {
                    for (w, word) in state.iter_mut().enumerate() {
                        *word = VerilatedMachine::read(
                            self,
                            mm::region_addr(mm::REGION_SAMPLE, w as u32),
                        );
                    }
                    let e = VerilatedMachine::read(self, mm::reg(mm::REG_SAMPLE_ENERGY)) as i32;
                    unsafe { (self.api.ack)(self.handle) };
                    on_sample(e, &state);
                }
                _ => return false,
            }
        }
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
        let mut m = self.driver();
        m.load_instance(&problem, &[], 1, 0)
            .and_then(|()| m.write_page(0, &page))
            .and_then(|()| m.write_schedule(&[(0, sweeps)]))
            .map_err(|e| match e {
                DriverError::Bus(e) => e,
                e => SimError::Io(e.to_string()),
            })?;
        Bus::write(self, mm::reg(mm::REG_BURN_IN), &[0, 0])?;
        let c0 = self.sim_clocks();
        let cpu0 = thread_cpu_seconds();
        let t0 = Instant::now();
        Bus::run(self, &mut |_, _, _| {})?;
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

/// The direct port: words one clock each; a run polls the harness for samples.
impl Bus for VerilatedMachine {
    type Error = SimError;

    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), SimError> {
        for (k, &w) in words.iter().enumerate() {
            VerilatedMachine::write(self, addr.wrapping_add(k as u32), w);
        }
        Ok(())
    }

    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, SimError> {
        Ok((0..count)
            .map(|k| VerilatedMachine::read(self, addr.wrapping_add(k as u32)))
            .collect())
    }

    fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), SimError> {
        let active = VerilatedMachine::read(self, mm::reg(mm::REG_N_ACTIVE));
        let words = mm::state_words(active) as usize;
        VerilatedMachine::write(self, mm::reg(mm::REG_CTRL), mm::CTRL_RUN);
        // the harness registers the bus inputs: the core sees the write one clock later
        self.tick(1);
        let mut number = 0u32;
        let mut state = vec![0u32; words];
        loop {
            match unsafe { (self.api.run)(self.handle, MAX_CLOCKS_PER_CALL) } {
                0 => return Ok(()),
                1 => {
                    for (w, word) in state.iter_mut().enumerate() {
                        *word = VerilatedMachine::read(
                            self,
                            mm::region_addr(mm::REGION_SAMPLE, w as u32),
                        );
                    }
                    let e = VerilatedMachine::read(self, mm::reg(mm::REG_SAMPLE_ENERGY)) as i32;
                    unsafe { (self.api.ack)(self.handle) };
                    on_sample(number, e, &state);
                    number = number.wrapping_add(1);
                }
                _ => {
                    return Err(SimError::Timeout {
                        clocks: MAX_CLOCKS_PER_CALL,
                    })
                }
            }
        }
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

//! pbit-driver: one way to program a pbit machine, whatever carries its bus.
//!
//! The machine is a memory map ([`pbit_spec::memory_map`]) plus "run the schedule". A [`Bus`]
//! moves words to and from that map and runs the schedule; [`Driver`] turns the model's jobs
//! (sample, anneal, relax) into the sequence of writes, runs and reads that make the machine
//! give the model's results bit for bit. The Verilated machine (pbit-sim, a direct port) and a
//! board on a UART link (pbit-host, the wire protocol) are both buses, so both run exactly the
//! same sequence.
//!
//! Beside the jobs (this file): the cache policy ([`Cached`], `cache.rs`), the batch timing
//! formula ([`batch_clocks`], `timing.rs`) and how a batch is waited for (`poll.rs`).

mod cache;
mod poll;
mod timing;

pub use cache::{CacheStats, Cached, MERGE_GAP};
pub use poll::HUNG_WINDOW;
pub use timing::batch_clocks;

use pbit_model::run::{Pages, ReadResult, SampleSpec};
use pbit_model::{ChainState, FixedIsing};
use pbit_spec::memory_map as mm;
use pbit_spec::sparse::{MachineKind, SparseGraph};
use pbit_spec::sparse_map as sm;
use pbit_spec::{initial_spin, pbit_seed, Format, ThresholdPage};

/// What carries the machine's bus.
pub trait Bus {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Writes `words` to `addr`, `addr + 1`, … (any length; empty is a no-op).
    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), Self::Error>;
    /// Reads `count` words from `addr`, `addr + 1`, ….
    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, Self::Error>;
    /// Starts the loaded schedule (`CTRL_RUN`) and calls `on_sample(number, energy_raw,
    /// state_words)` for every sample of the run, numbers counting from 0, until the machine is
    /// idle. A bus that loses a sample returns an error: it never skips one silently.
    fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), Self::Error>;
    /// [`Bus::run`] of a schedule that records exactly `samples` (≥ 1) samples, the last one at
    /// its last sweep. The machine is idle once it has handed over that sample (it stops after
    /// its last sweep and only the sample waits), so a bus may end the run when the last
    /// sample has arrived instead of asking the device whether it is over: a link saves a
    /// STATUS round trip per run. Samples still arrive numbered from 0 or the run fails.
    fn run_expecting(
        &mut self,
        samples: u32,
        on_sample: &mut dyn FnMut(u32, i32, &[u32]),
    ) -> Result<(), Self::Error> {
        let _ = samples;
        self.run(on_sample)
    }
    /// Lets the device run for about `clocks` of its clock before the next request (a batch
    /// of known length: a link waits instead of polling STATUS meanwhile). Buses without a
    /// clock of their own (the Verilated machine runs only while it is driven) ignore it.
    fn pause(&mut self, clocks: u64) -> Result<(), Self::Error> {
        let _ = clocks;
        Ok(())
    }
    /// How long, on the host's clock, the device may take to run `clocks` of its own clock,
    /// margin included: the driver reports a batch still busy after that as hung
    /// ([`DriverError::BatchHung`]), seconds after it should have ended. None (the default):
    /// the device has no clock of its own and advances only while the bus drives it (the
    /// Verilated machine: every bus read is a clock), so the driver bounds its waits in
    /// polls, each at least a clock.
    fn run_budget(&self, clocks: u64) -> Option<std::time::Duration> {
        let _ = clocks;
        None
    }
    /// Forgets whatever the bus believes the device holds (a [`Cached`] bus's copy of J, h,
    /// pages, …): called when the device may have changed behind the host's back (a reset, a
    /// failed request, another host). Buses that remember nothing ignore it.
    fn invalidate(&mut self) {}
}

impl<B: Bus + ?Sized> Bus for &mut B {
    type Error = B::Error;
    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), Self::Error> {
        (**self).write(addr, words)
    }
    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, Self::Error> {
        (**self).read(addr, count)
    }
    fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), Self::Error> {
        (**self).run(on_sample)
    }
    fn run_expecting(
        &mut self,
        samples: u32,
        on_sample: &mut dyn FnMut(u32, i32, &[u32]),
    ) -> Result<(), Self::Error> {
        (**self).run_expecting(samples, on_sample)
    }
    fn pause(&mut self, clocks: u64) -> Result<(), Self::Error> {
        (**self).pause(clocks)
    }
    fn run_budget(&self, clocks: u64) -> Option<std::time::Duration> {
        (**self).run_budget(clocks)
    }
    fn invalidate(&mut self) {
        (**self).invalidate()
    }
}

/// Words of the counter block the driver reads around every job: `REG_CLOCKS_LO`,
/// `REG_CLOCKS_HI`, `REG_SWEEPS` (neighbours).
pub const COUNTER_WORDS: usize = 3;

/// The machine's counters: clocks busy and sweeps completed since reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub clocks: u64,
    pub sweeps: u32,
}

/// Why a job could not be programmed or run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Bus(E),
    #[error("not sent: the machine would refuse it: {0}")]
    Refused(pbit_spec::regmap::Refusal),
    #[error(
        "the device answered magic {magic:#010x} and N = {n}: not a pbit machine (magic {:#010x})",
        mm::MAGIC
    )]
    BadDevice { magic: u32, n: u32 },
    #[error("the instance has {n} p-bits; this machine has {machine_n}")]
    TooLarge { n: usize, machine_n: usize },
    #[error("the instance's format ({got}) does not run on this machine ({want}): J, h, frac and rng widths must match")]
    FormatMismatch { got: Format, want: Format },
    #[error("{what}: {value} is more than the machine's limit {max}")]
    Limit {
        what: &'static str,
        value: u64,
        max: u64,
    },
    #[error("clamp of p-bit {index} is outside the instance's {n} p-bits")]
    BadClamp { index: usize, n: usize },
    #[error("sample stream: expected sample {expected}, got {got} (a sample was lost)")]
    SampleGap { expected: u32, got: u32 },
    #[error("the machine's sweep counter moved by {got} in a job of {expected} sweeps: it was reset or driven by someone else meanwhile (the host's copy of its memory is dropped; run the job again)")]
    Desync { expected: u64, got: u64 },
    #[error("a run of {sweeps} sweeps sampling every {sweeps}-th sent {got} samples, not 1")]
    FinalSample { sweeps: u64, got: usize },
    #[error("a batch of {chains} chains ended after {done} (stopped or reset meanwhile)")]
    BatchIncomplete { chains: u32, done: u32 },
    #[error("a batch of {chains} chains was still busy after {polls} status polls")]
    BatchTimeout { chains: u32, polls: u64 },
    #[error("a batch of {chains} chains was still busy {waited_s:.1} s after it started; it takes about {expected_clocks} clocks, {budget_s:.1} s with margin at the device's clock: the device hung or was stopped")]
    BatchHung {
        chains: u32,
        expected_clocks: u64,
        budget_s: f64,
        waited_s: f64,
    },
    #[error("{0}")]
    Sparse(#[from] pbit_model::sparse::SparseError),
    #[error("{0}")]
    Mismatch(#[from] pbit_spec::sparse::MachineMismatch),
    #[error("on-chip statistics are the sparse machine's; this is a dense machine")]
    StatsNotSparse,
    #[error("this sparse machine was built without on-chip statistics (REG_STATS_CAPS reads 0): build it with `pbit hdl build --machine sparse --stats`, or read every sample")]
    NoStats,
    #[error("the on-chip sums overflowed: a sample came when {max} (2^{bits} − 1) were added, and was dropped; ask for at most {max} samples")]
    StatsOverflow { max: u64, bits: u32 },
    #[error("on-chip statistics: {what}: expected {expected}, the device has {got}")]
    StatsMismatch {
        what: &'static str,
        expected: u64,
        got: u64,
    },
    #[error("sample {number} has {words} state words; {n} p-bits need {need}")]
    ShortSample {
        number: u32,
        words: usize,
        n: usize,
        need: usize,
    },
}

/// What the batch engine offers ([`mm::REG_BATCH_CAPS`]); all zero on a machine without one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchCaps {
    /// Chains the chain buffer holds (a batch's most).
    pub chains: usize,
    /// The most active p-bits whose correlation sums the engine forms.
    pub sums_n: usize,
}

impl BatchCaps {
    pub fn from_reg(v: u32) -> BatchCaps {
        BatchCaps {
            chains: (v & 0xFFFF) as usize,
            sums_n: (v >> 16) as usize,
        }
    }
    pub fn present(&self) -> bool {
        self.chains > 0
    }
}

/// What [`Driver::relax_batch`] returns: the chains' final states and/or their correlation
/// sums ([`pbit_model::run::correlation_sums`]'s layout), as asked, and the busy clocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchResult {
    pub finals: Option<Vec<Vec<bool>>>,
    pub sums: Option<Vec<i64>>,
    pub clocks: u64,
    /// Whether the device's batch engine ran it (else chain by chain from the host).
    pub on_device: bool,
}

/// Reads the machine's description from its registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub n: usize,
    pub format: Format,
    pub pages: u32,
    pub spec_hash: u64,
}

/// The driver of a machine of `n` p-bits in `format` behind a bus: it runs the model's jobs on
/// the machine as bus writes, runs and reads.
pub struct Driver<B> {
    bus: B,
    n: usize,
    format: Format,
    /// The built graph of a sparse machine: J goes to its edge region
    /// ([`pbit_spec::sparse_map::REGION_EDGES`]), and an instance must fit the graph.
    graph: Option<SparseGraph>,
    /// The batch engine's capabilities once known ([`Self::batch_caps`], or a batch's
    /// `caps`): until then its registers and regions are not the host's to write.
    caps: Option<BatchCaps>,
    /// A sparse machine's statistics counter width once read ([`Self::stats_bits`]; 0: none):
    /// until then the stats region is not the host's to read.
    stats_bits: Option<u32>,
}

/// What a sparse device reports beyond [`Identity`]: its kind, colours, maximum degree and graph
/// hash ([`pbit_spec::sparse_map`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseIdentity {
    pub kind: MachineKind,
    pub colours: u32,
    pub max_degree: u32,
    pub graph_hash: u64,
}

/// Reads the sparse identity registers (a dense machine reads kind dense, hash 0).
pub fn identify_sparse<B: Bus>(bus: &mut B) -> Result<SparseIdentity, DriverError<B::Error>> {
    let r = bus
        .read(mm::reg(sm::REG_MACHINE), 3)
        .map_err(DriverError::Bus)?;
    let (kind, colours, max_degree) =
        sm::decode_machine_word(r[0]).unwrap_or((MachineKind::Dense, 0, 0));
    Ok(SparseIdentity {
        kind,
        colours,
        max_degree,
        graph_hash: (r[2] as u64) << 32 | r[1] as u64,
    })
}

/// The width of a sparse machine's statistics counters (`REG_STATS_CAPS`; 0: built without
/// them).
pub fn read_stats_bits<B: Bus>(bus: &mut B) -> Result<u32, DriverError<B::Error>> {
    let r = bus
        .read(mm::reg(sm::REG_STATS_CAPS), 1)
        .map_err(DriverError::Bus)?;
    Ok(sm::decode_stats_caps(r[0]))
}

/// Packs the first `n` spins into state words (bit b of word w = p-bit 32w+b).
pub fn pack_bits(bits: &[bool], words: usize) -> Vec<u32> {
    (0..words)
        .map(|w| {
            (0..32)
                .filter(|&b| bits.get(w * 32 + b).copied().unwrap_or(false))
                .fold(0u32, |acc, b| acc | 1 << b)
        })
        .collect()
}

/// Unpacks the first `n` spins of state words.
pub fn unpack_bits(words: &[u32], n: usize) -> Vec<bool> {
    (0..n).map(|i| words[i / 32] >> (i % 32) & 1 == 1).collect()
}

/// Reads the identification registers of whatever sits behind `bus`.
pub fn identify<B: Bus>(bus: &mut B) -> Result<Identity, DriverError<B::Error>> {
    let r = bus
        .read(mm::reg(mm::REG_MAGIC), 6)
        .map_err(DriverError::Bus)?;
    let (magic, n) = (r[0], r[1]);
    if magic != mm::MAGIC {
        return Err(DriverError::BadDevice { magic, n });
    }
    let f = r[2];
    let f2 = r[3];
    Ok(Identity {
        n: n as usize,
        format: Format {
            frac_bits: f & 0xFF,
            j_bits: f >> 8 & 0xFF,
            h_bits: f >> 16 & 0xFF,
            field_bits: f >> 24 & 0xFF,
            rng_bits: f2 & 0xFF,
        },
        pages: f2 >> 8 & 0xFF,
        spec_hash: (r[5] as u64) << 32 | r[4] as u64,
    })
}

impl<B: Bus> Driver<B> {
    /// The driver of a machine of `n` p-bits in `format` behind `bus` (as the device reports them).
    pub fn new(bus: B, n: usize, format: Format) -> Self {
        Driver {
            bus,
            n,
            format,
            graph: None,
            caps: None,
            stats_bits: None,
        }
    }
    /// The driver of a sparse machine built for `graph`, in `format` (as the device reports it).
    pub fn sparse(bus: B, graph: SparseGraph, format: Format) -> Self {
        Driver {
            bus,
            n: graph.n(),
            format,
            graph: Some(graph),
            caps: None,
            stats_bits: None,
        }
    }
    /// The built graph of a sparse machine.
    pub fn graph(&self) -> Option<&SparseGraph> {
        self.graph.as_ref()
    }

    /// The machine's dimensions as far as the host knows them: what
    /// [`pbit_spec::regmap::Geometry::check_write`] checks every write against before it is
    /// sent (the host never sends a write the device would refuse).
    pub fn geometry(&self) -> pbit_spec::regmap::Geometry {
        pbit_spec::regmap::Geometry {
            n: self.n as u32,
            format: self.format,
            pages: mm::MAX_PAGES,
            steps: mm::MAX_STEPS,
            batch: self
                .caps
                .filter(|c| c.present())
                .map(|c| pbit_spec::regmap::BatchGeometry {
                    chains: c.chains as u32,
                    sums_n: c.sums_n as u32,
                }),
            // the built graph's edges (the table's `sparse` rows)
            sparse: self
                .graph
                .as_ref()
                .map(|g| pbit_spec::regmap::SparseGeometry {
                    edges: g.edges().len() as u32,
                    colours: g.colour_count(),
                    max_degree: g.max_degree() as u32,
                    graph_hash: g.hash(),
                    stats_bits: self.stats_bits.unwrap_or(0),
                    stats_counters: match self.stats_bits {
                        Some(b) if b > 0 => (g.n() + g.edges().len()) as u32,
                        _ => 0,
                    },
                }),
        }
    }
    pub fn n(&self) -> usize {
        self.n
    }
    pub fn format(&self) -> Format {
        self.format
    }
    pub fn bus(&mut self) -> &mut B {
        &mut self.bus
    }
    pub fn into_bus(self) -> B {
        self.bus
    }

    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), DriverError<B::Error>> {
        self.geometry()
            .check_write(addr, words)
            .map_err(DriverError::Refused)?;
        self.bus.write(addr, words).map_err(DriverError::Bus)
    }
    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, DriverError<B::Error>> {
        self.bus.read(addr, count).map_err(DriverError::Bus)
    }
    fn write_reg(&mut self, r: u32, value: u32) -> Result<(), DriverError<B::Error>> {
        self.write(mm::reg(r), &[value])
    }

    /// Clocks the machine spent busy, from its counter.
    pub fn busy_clocks(&mut self) -> Result<u64, DriverError<B::Error>> {
        Ok(self.counters()?.clocks)
    }

    /// The busy-clock and sweep counters (one read of [`COUNTER_WORDS`] words).
    pub fn counters(&mut self) -> Result<Counters, DriverError<B::Error>> {
        let r = self.read(mm::reg(mm::REG_CLOCKS_LO), COUNTER_WORDS)?;
        Ok(Counters {
            clocks: (r[1] as u64) << 32 | r[0] as u64,
            sweeps: r[2],
        })
    }

    /// Ends a job that started at counters `before` and ran `sweeps` sweeps in all: returns
    /// the clocks it took, or [`DriverError::Desync`] (and drops the bus's copy of the
    /// device) when the sweep counter did not move by exactly `sweeps` — the machine was reset
    /// or driven by someone else during the job, so its results cannot be trusted.
    fn finish_job(&mut self, before: Counters, sweeps: u64) -> Result<u64, DriverError<B::Error>> {
        let after = self.counters()?;
        let got = after.sweeps.wrapping_sub(before.sweeps) as u64;
        if got != sweeps & u32::MAX as u64 {
            self.bus.invalidate();
            return Err(DriverError::Desync {
                expected: sweeps,
                got,
            });
        }
        Ok(after.clocks.wrapping_sub(before.clocks))
    }

    fn read_bits(&mut self, region: u32, n: usize) -> Result<Vec<bool>, DriverError<B::Error>> {
        let words = self.read(
            mm::region_addr(region, 0),
            mm::state_words(n as u32) as usize,
        )?;
        Ok(unpack_bits(&words, n))
    }

    fn write_bits(&mut self, region: u32, bits: &[bool]) -> Result<(), DriverError<B::Error>> {
        let words = pack_bits(bits, mm::state_words(self.n as u32) as usize);
        self.write(mm::region_addr(region, 0), &words)
    }

    fn check_problem(
        &self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
    ) -> Result<(), DriverError<B::Error>> {
        if problem.n > self.n {
            return Err(DriverError::TooLarge {
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
            return Err(DriverError::FormatMismatch { got: f, want: g });
        }
        if let Some(&(index, _)) = clamps.iter().find(|c| c.0 >= problem.n) {
            return Err(DriverError::BadClamp {
                index,
                n: problem.n,
            });
        }
        Ok(())
    }

    /// Writes the instance: the active count n, J (the n×n block, row by row) and h. Marks the
    /// fields stale (they are recomputed when the next run starts).
    pub fn load_problem(&mut self, problem: &FixedIsing) -> Result<(), DriverError<B::Error>> {
        self.check_problem(problem, &[])?;
        let n = problem.n;
        if let Some(graph) = &self.graph {
            // size and couplings only on edges, each named in the error
            pbit_model::sparse::Phases::new(problem, graph)?;
            // every edge, those outside the instance 0: no coupling of an earlier instance stays
            let mut edges = vec![0u32; graph.edges().len()];
            for i in 0..n {
                let (nb, jv) = problem.row(i);
                for (&j, &v) in nb.iter().zip(jv) {
                    if (j as usize) > i {
                        let e = graph
                            .edge_index(i as u32, j)
                            .expect("Phases::new checked every coupling is an edge");
                        edges[e] = v as u32;
                    }
                }
            }
            self.write_reg(mm::REG_N_ACTIVE, n as u32)?;
            if !edges.is_empty() {
                // the edge region is the table's (capability sparse): checked like any write
                self.write(sm::edge_addr(0), &edges)?;
            }
            let h: Vec<u32> = problem.h_raw[..n].iter().map(|&v| v as u32).collect();
            return self.write(mm::region_addr(mm::REGION_H, 0), &h);
        }
        self.write_reg(mm::REG_N_ACTIVE, n as u32)?;
        let mut row = vec![0u32; n];
        for i in 0..n {
            row.iter_mut().for_each(|v| *v = 0);
            let (nb, jv) = problem.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                row[j as usize] = v as u32;
            }
            self.write(mm::j_addr(i as u32, 0), &row)?;
        }
        let h: Vec<u32> = problem.h_raw[..n].iter().map(|&v| v as u32).collect();
        self.write(mm::region_addr(mm::REGION_H, 0), &h)
    }

    /// Writes the generators of read `read` (`pbit_seed(seed, read, i)`), the state `spins`
    /// (the first n p-bits) and the clamp mask (`clamped[i]`); clamped p-bits keep the value
    /// `spins` gives them.
    pub fn load_chain(
        &mut self,
        n: usize,
        seed: u64,
        read: u64,
        spins: &[bool],
        clamped: &[bool],
    ) -> Result<(), DriverError<B::Error>> {
        let seeds: Vec<u32> = (0..n).map(|i| pbit_seed(seed, read, i as u64)).collect();
        self.write(mm::region_addr(mm::REGION_RNG, 0), &seeds)?;
        self.write_bits(mm::REGION_STATE, &spins[..n])?;
        self.write_bits(mm::REGION_CLAMPS, &clamped[..n])
    }

    /// Writes the generators and state of (seed, read) and the clamps: with the instance
    /// loaded, the machine is then in the state of the model's `Machine::new(problem, seed,
    /// read)` followed by `set_clamps(clamps)`.
    pub fn load_read(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        seed: u64,
        read: u64,
    ) -> Result<(), DriverError<B::Error>> {
        self.check_problem(problem, clamps)?;
        let n = problem.n;
        let mut spins: Vec<bool> = (0..n).map(|i| initial_spin(seed, read, i as u64)).collect();
        let mut mask = vec![false; n];
        for &(i, v) in clamps {
            spins[i] = v;
            mask[i] = true;
        }
        self.load_chain(n, seed, read, &spins, &mask)
    }

    /// [`Self::load_problem`] then [`Self::load_read`].
    pub fn load_instance(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        seed: u64,
        read: u64,
    ) -> Result<(), DriverError<B::Error>> {
        self.load_problem(problem)?;
        self.load_read(problem, clamps, seed, read)
    }

    /// Writes page `slot`: the upper half of `page`, clipped to the machine's field range
    /// (a clipped threshold lies beyond every field an instance of ≤ N p-bits reaches, so
    /// clipping never changes a decision).
    pub fn write_page(
        &mut self,
        slot: u32,
        page: &ThresholdPage,
    ) -> Result<(), DriverError<B::Error>> {
        if slot >= mm::MAX_PAGES {
            return Err(DriverError::Limit {
                what: "page slot",
                value: slot as u64,
                max: mm::MAX_PAGES as u64 - 1,
            });
        }
        let (lo, hi) = (self.format.field_min_raw(), self.format.field_max_raw());
        let words: Vec<u32> = page
            .upper_half()
            .iter()
            .map(|&a| a.clamp(lo, hi) as u32)
            .collect();
        self.write(mm::page_addr(slot, 0), &words)
    }

    /// Writes the schedule: step s runs `sweeps` sweeps at page slot `page`.
    pub fn write_schedule(&mut self, steps: &[(u32, u64)]) -> Result<(), DriverError<B::Error>> {
        if steps.is_empty() || steps.len() > mm::MAX_STEPS as usize {
            return Err(DriverError::Limit {
                what: "schedule steps",
                value: steps.len() as u64,
                max: mm::MAX_STEPS as u64,
            });
        }
        let mut words = Vec::with_capacity(2 * steps.len());
        for &(page, sweeps) in steps {
            if sweeps > u32::MAX as u64 {
                return Err(DriverError::Limit {
                    what: "sweeps in one step",
                    value: sweeps,
                    max: u32::MAX as u64,
                });
            }
            words.extend([sweeps as u32, page]);
        }
        self.write(mm::schedule_sweeps_addr(0), &words)?;
        self.write_reg(mm::REG_N_STEPS, steps.len() as u32)
    }

    /// Sets the sampling registers: samples start after `burn_in` sweeps, every `every`-th
    /// sweep (0: none).
    pub fn write_sampling(
        &mut self,
        burn_in: u32,
        every: u32,
    ) -> Result<(), DriverError<B::Error>> {
        self.write(mm::reg(mm::REG_BURN_IN), &[burn_in, every])
    }

    /// Starts the schedule and calls `on_sample(spins, energy)` for each sample until the
    /// machine is idle. Sample numbers must run 0, 1, 2, …. Returns the clocks the machine was
    /// busy.
    pub fn run(
        &mut self,
        n: usize,
        on_sample: &mut dyn FnMut(&[bool], i64),
    ) -> Result<u64, DriverError<B::Error>> {
        let before = self.busy_clocks()?;
        self.run_samples(n, on_sample)?;
        Ok(self.busy_clocks()?.wrapping_sub(before))
    }

    /// [`Self::run`] without reading the clock counter (jobs read the counters once around
    /// all their runs: two reads per run are round trips on a link).
    fn run_samples(
        &mut self,
        n: usize,
        on_sample: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), DriverError<B::Error>> {
        self.run_samples_expecting(n, None, on_sample)
    }

    /// [`Self::run_samples`]; with `Some(k)`, the schedule records exactly k samples, the last
    /// at its last sweep ([`Bus::run_expecting`]).
    fn run_samples_expecting(
        &mut self,
        n: usize,
        expect: Option<u32>,
        on_sample: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), DriverError<B::Error>> {
        let need = mm::state_words(n as u32) as usize;
        let mut expected = 0u32;
        let mut error: Option<DriverError<B::Error>> = None;
        let mut take = |number: u32, energy: i32, words: &[u32]| {
            if error.is_some() {
                return;
            }
            if number != expected {
                error = Some(DriverError::SampleGap {
                    expected,
                    got: number,
                });
                return;
            }
            if words.len() < need {
                error = Some(DriverError::ShortSample {
                    number,
                    words: words.len(),
                    n,
                    need,
                });
                return;
            }
            expected = expected.wrapping_add(1);
            on_sample(&unpack_bits(words, n), energy as i64);
        };
        match expect {
            Some(k) => self.bus.run_expecting(k, &mut take),
            None => self.bus.run(&mut take),
        }
        .map_err(DriverError::Bus)?;
        if let Some(e) = error {
            return Err(e);
        }
        Ok(())
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
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<u64, DriverError<B::Error>> {
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
        let (before, total) = self.load_sampling(problem, clamps, page, seed, spec)?;
        self.run_samples(problem.n, record)?;
        self.finish_job(before, total)
    }

    /// Checks a sampling run's limits and loads it as one schedule step of burn-in + sweeps:
    /// the instance, page 0, the step and the sampling registers. Returns the counters read
    /// before anything was written and the step's sweeps.
    fn load_sampling(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        page: &ThresholdPage,
        seed: u64,
        spec: SampleSpec,
    ) -> Result<(Counters, u64), DriverError<B::Error>> {
        if spec.burn_in > u32::MAX as u64 || spec.every > u32::MAX as u64 {
            return Err(DriverError::Limit {
                what: "burn-in or sample interval",
                value: spec.burn_in.max(spec.every),
                max: u32::MAX as u64,
            });
        }
        // the sum is checked, never wrapped (a wrapped sum would pass the step's u32 check as
        // a tiny schedule)
        let total = match spec.burn_in.checked_add(spec.sweeps) {
            Some(t) if t <= u32::MAX as u64 => t,
            _ => {
                return Err(DriverError::Limit {
                    what: "burn-in + sweeps (one schedule step)",
                    value: spec.burn_in.saturating_add(spec.sweeps),
                    max: u32::MAX as u64,
                })
            }
        };
        // the counters first: if they moved since this host's last job, a caching bus drops
        // its copy before any write is elided
        let before = self.counters()?;
        self.load_instance(problem, clamps, seed, 0)?;
        self.write_page(0, page)?;
        self.write_schedule(&[(0, total)])?;
        self.write_sampling(spec.burn_in as u32, spec.every as u32)?;
        Ok((before, total))
    }

    /// The width of a sparse machine's statistics counters (`REG_STATS_CAPS`; 0: built without
    /// them), read once.
    pub fn stats_bits(&mut self) -> Result<u32, DriverError<B::Error>> {
        if self.graph.is_none() {
            return Err(DriverError::StatsNotSparse);
        }
        if let Some(b) = self.stats_bits {
            return Ok(b);
        }
        let w = self.read(mm::reg(sm::REG_STATS_CAPS), 1)?[0];
        let b = sm::decode_stats_caps(w);
        self.stats_bits = Some(b);
        Ok(b)
    }

    /// Reads the on-chip sums of a sparse machine ([`sm::StatsSums`]: the sample count, the
    /// overflow flag, ones per p-bit and agreements per edge) and checks them: no counter may
    /// exceed the sample count.
    pub fn read_stats(&mut self) -> Result<sm::StatsSums, DriverError<B::Error>> {
        let bits = self.stats_bits()?;
        if bits == 0 {
            return Err(DriverError::NoStats);
        }
        let graph = self.graph.as_ref().expect("stats_bits checked a graph");
        let (n, edges) = (graph.n(), graph.edges().len());
        let r = self.read(mm::reg(sm::REG_STATS_SAMPLES), 2)?;
        let samples = r[0] as u64;
        let overflow = r[1] & sm::STATS_OVERFLOW != 0;
        let words = self.read(sm::stats_addr(0), n + edges)?;
        if let Some(&w) = words.iter().find(|&&w| w as u64 > samples) {
            return Err(DriverError::StatsMismatch {
                what: "a counter beyond the sample count",
                expected: samples,
                got: w as u64,
            });
        }
        Ok(sm::StatsSums {
            count_bits: bits,
            samples,
            overflow,
            ones: words[..n].iter().map(|&w| w as u64).collect(),
            agreements: words[n..].iter().map(|&w| w as u64).collect(),
        })
    }

    /// Writes `REG_STATS_CTRL`: `accumulate`, `quiet`, `clear` ([`sm::STATS_ACCUMULATE`], …).
    pub fn stats_control(&mut self, bits: u32) -> Result<(), DriverError<B::Error>> {
        if self.stats_bits()? == 0 {
            return Err(DriverError::NoStats);
        }
        self.write_reg(sm::REG_STATS_CTRL, bits)
    }

    /// [`Self::sample`] with the sums formed on the device instead of every sample sent: the
    /// sums are cleared, the run's samples are only added to them (quiet), and they are read
    /// back and checked once: the count must be the schedule's (burn-in, every), never an
    /// overflow. Returns the sums and the clocks run. A run whose samples would not fit the
    /// counters is refused before anything is written ([`DriverError::Limit`]).
    pub fn sample_sums(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        page: &ThresholdPage,
        seed: u64,
        spec: SampleSpec,
    ) -> Result<(sm::StatsSums, u64), DriverError<B::Error>> {
        let bits = self.stats_bits()?;
        if bits == 0 {
            return Err(DriverError::NoStats);
        }
        let expected = spec.sweeps.checked_div(spec.every).unwrap_or(0);
        let max = sm::max_stats_samples(bits);
        if expected > max {
            return Err(DriverError::Limit {
                what: "samples one run of on-chip sums holds (--sweeps / --every)",
                value: expected,
                max,
            });
        }
        let (before, total) = self.load_sampling(problem, clamps, page, seed, spec)?;
        self.stats_control(sm::STATS_ACCUMULATE | sm::STATS_QUIET | sm::STATS_CLEAR)?;
        let mut sent = 0u64;
        let run = self.run_samples(problem.n, &mut |_, _| sent += 1);
        // sampling as before for whatever runs next, even after a failed run
        let off = self.stats_control(0);
        run?;
        off?;
        if sent != 0 {
            return Err(DriverError::StatsMismatch {
                what: "samples sent by a run that only sums them",
                expected: 0,
                got: sent,
            });
        }
        let clocks = self.finish_job(before, total)?;
        let sums = self.read_stats()?;
        if sums.overflow {
            return Err(DriverError::StatsOverflow { max, bits });
        }
        if sums.samples != expected {
            return Err(DriverError::StatsMismatch {
                what: "samples added",
                expected,
                got: sums.samples,
            });
        }
        Ok((sums, clocks))
    }

    /// Writes a schedule's pages (page s at slot s) and steps, with sampling off.
    pub fn load_schedule(&mut self, pages: &Pages) -> Result<(), DriverError<B::Error>> {
        if pages.steps.len() > mm::MAX_STEPS as usize {
            return Err(DriverError::Limit {
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
        self.write_sampling(0, 0)
    }

    /// The best and final energy and the best state of the last run, as read `read`.
    pub fn read_result(
        &mut self,
        n: usize,
        read: u64,
    ) -> Result<ReadResult, DriverError<B::Error>> {
        if n == 0 {
            return Ok(ReadResult {
                read,
                best_energy_raw: 0,
                best_spins: Vec::new(),
                final_energy_raw: 0,
            });
        }
        // REG_ENERGY and REG_BEST_ENERGY are neighbours: one read
        let e = self.read(mm::reg(mm::REG_ENERGY), 2)?;
        Ok(ReadResult {
            read,
            best_energy_raw: e[1] as i32 as i64,
            best_spins: self.read_bits(mm::REGION_BEST_STATE, n)?,
            final_energy_raw: e[0] as i32 as i64,
        })
    }

    /// [`pbit_model::run::anneal_read`] on the machine. Returns the result and the clocks run.
    pub fn anneal_read(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        pages: &Pages,
        seed: u64,
        read: u64,
    ) -> Result<(ReadResult, u64), DriverError<B::Error>> {
        self.check_problem(problem, clamps)?;
        if problem.n == 0 {
            return Ok((self.read_result(0, read)?, 0));
        }
        let before = self.counters()?; // first: see `sample`
        self.load_schedule(pages)?;
        self.load_instance(problem, clamps, seed, read)?;
        self.run_samples(problem.n, &mut |_, _| {})?;
        let clocks = self.finish_job(before, pages.total_sweeps())?;
        Ok((self.read_result(problem.n, read)?, clocks))
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
    ) -> Result<(Vec<ReadResult>, u64), DriverError<B::Error>> {
        self.check_problem(problem, clamps)?;
        if problem.n == 0 {
            let mut empty = Vec::new();
            for read in 0..reads {
                empty.push(self.read_result(0, read)?);
            }
            return Ok((empty, 0));
        }
        let before = self.counters()?; // first: see `sample`
        self.load_schedule(pages)?;
        self.load_problem(problem)?;
        let mut results = Vec::with_capacity(reads.min(1 << 20) as usize);
        for read in 0..reads {
            // a chain write marks the fields stale: each read recomputes from its own state
            self.load_read(problem, clamps, seed, read)?;
            self.run_samples(problem.n, &mut |_, _| {})?;
            results.push(self.read_result(problem.n, read)?);
            progress(pages.total_sweeps());
        }
        let clocks = self.finish_job(before, reads.wrapping_mul(pages.total_sweeps()))?;
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
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<u64, DriverError<B::Error>> {
        let n = problem.n;
        self.check_relax(problem, clamped, initial)?;
        if n == 0 {
            for c in 0..initial.len() {
                out(c, &[]);
            }
            return Ok(0);
        }
        let before = self.counters()?; // first: see `sample`
        self.write_page(0, page)?;
        self.write_schedule(&[(0, sweeps)])?;
        // The final state comes back as the run's one sample (burn-in 0, every `sweeps`-th
        // sweep: recorded after sweep `sweeps` only, which is the state the run ends in), so a
        // chain costs no READ; zero sweeps record nothing and read the state instead.
        let every = if sweeps > 0 { sweeps as u32 } else { 0 };
        self.write_sampling(0, every)?;
        // Chains are packed side by side: copy k of the instance on p-bits k·n..(k+1)·n, no
        // couplings between copies, so one run relaxes `copies` chains. A p-bit's update
        // depends only on its own generator, the page and its field, and its field only on its
        // own copy: each copy runs exactly the sweeps a machine of n p-bits would (the
        // sequential order within a copy is unchanged), so every chain's final state is the
        // model's. Round trips and frame overheads are shared by the copies.
        let copies = (self.n / n).clamp(1, initial.len().max(1));
        let active = copies * n;
        self.load_packed(problem, copies)?;
        let mut mask = vec![false; active];
        for k in 0..copies {
            for &i in clamped {
                mask[k * n + i] = true;
            }
        }
        let mut runs = 0u64;
        let mut seeds = Vec::with_capacity(active);
        let mut spins = vec![false; active];
        for (group, chunk) in initial.chunks(copies).enumerate() {
            let first = group * copies;
            seeds.clear();
            for (k, state) in chunk.iter().enumerate() {
                let read = first_read + (first + k) as u64;
                seeds.extend((0..n).map(|i| pbit_seed(seed, read, i as u64)));
                spins[k * n..(k + 1) * n].copy_from_slice(state);
            }
            // the copies of a short last group keep their old generators and state: they
            // run, and are not read
            self.write(mm::region_addr(mm::REGION_RNG, 0), &seeds)?;
            self.write_bits(mm::REGION_STATE, &spins)?;
            self.write_bits(mm::REGION_CLAMPS, &mask)?;
            runs += 1;
            let state = if sweeps == 0 {
                self.run_samples(active, &mut |_, _| {})?;
                self.spins(active)?
            } else {
                let mut last: Option<Vec<bool>> = None;
                let mut got = 0;
                self.run_samples_expecting(active, Some(1), &mut |s, _| {
                    got += 1;
                    last = Some(s.to_vec());
                })?;
                match last {
                    Some(state) if got == 1 => state,
                    _ => return Err(DriverError::FinalSample { sweeps, got }),
                }
            };
            for k in 0..chunk.len() {
                out(first + k, &state[k * n..(k + 1) * n]);
            }
        }
        self.finish_job(before, sweeps.wrapping_mul(runs))
    }

    /// Checks a relax job's shape: the instance fits, clamps and initial states are n long.
    fn check_relax(
        &self,
        problem: &FixedIsing,
        clamped: &[usize],
        initial: &[Vec<bool>],
    ) -> Result<(), DriverError<B::Error>> {
        let n = problem.n;
        self.check_problem(problem, &[])?;
        if let Some(&index) = clamped.iter().find(|&&i| i >= n) {
            return Err(DriverError::BadClamp { index, n });
        }
        if let Some(s) = initial.iter().find(|s| s.len() != n) {
            return Err(DriverError::Limit {
                what: "initial state length",
                value: s.len() as u64,
                max: n as u64,
            });
        }
        Ok(())
    }

    /// The batch engine's capabilities (one register read).
    pub fn batch_caps(&mut self) -> Result<BatchCaps, DriverError<B::Error>> {
        let v = self.read(mm::reg(mm::REG_BATCH_CAPS), 1)?[0];
        let caps = BatchCaps::from_reg(v);
        self.caps = Some(caps);
        Ok(caps)
    }

    /// A relax job ([`Self::relax`]'s arguments and chains, exactly) that returns the final
    /// states if `want_finals` and their correlation sums if `want_sums`. With a batch engine
    /// (`caps` from [`Self::batch_caps`]) the device runs the chains itself — seeding each
    /// chain's generators, loading its state from the chain buffer, forming the sums — so the
    /// link carries the initial states (none when they are the last batch's finals, read back,
    /// through a [`Cached`] bus), a few registers, and what is asked for: the sums
    /// (n(n+1)/2 words) rather than C states when only the sums are wanted. Without an engine
    /// (or for zero sweeps) it is [`Self::relax`], the sums formed on the host. Either way the
    /// results are the model's.
    #[allow(clippy::too_many_arguments)]
    pub fn relax_batch(
        &mut self,
        caps: BatchCaps,
        problem: &FixedIsing,
        clamped: &[usize],
        page: &ThresholdPage,
        seed: u64,
        first_read: u64,
        initial: &[Vec<bool>],
        sweeps: u64,
        want_finals: bool,
        want_sums: bool,
    ) -> Result<BatchResult, DriverError<B::Error>> {
        self.caps = Some(caps);
        let n = problem.n;
        let engine = caps.present() && n > 0 && sweeps > 0 && sweeps <= u32::MAX as u64;
        if !engine {
            let mut finals = vec![Vec::new(); initial.len()];
            let clocks = self.relax(
                problem,
                clamped,
                page,
                seed,
                first_read,
                initial,
                sweeps,
                &mut |c, s| finals[c] = s.to_vec(),
            )?;
            let sums = want_sums.then(|| pbit_model::run::correlation_sums(&finals, n));
            return Ok(BatchResult {
                finals: want_finals.then_some(finals),
                sums,
                clocks,
                on_device: false,
            });
        }
        self.check_relax(problem, clamped, initial)?;
        let before = self.counters()?; // first: see `sample`
        self.load_problem(problem)?;
        self.write_page(0, page)?;
        self.write_schedule(&[(0, sweeps)])?;
        self.write_sampling(0, 0)?;
        let mut mask = vec![false; n];
        for &i in clamped {
            mask[i] = true;
        }
        self.write_bits(mm::REGION_CLAMPS, &mask)?;
        // sums on the device when only they are wanted and it forms them for n p-bits; else
        // from the finals, read back anyway
        let device_sums = want_sums && !want_finals && n <= caps.sums_n;
        let read_finals = want_finals || (want_sums && !device_sums);
        let planes = mm::state_words(n as u32) as usize;
        let mut finals = Vec::with_capacity(if read_finals { initial.len() } else { 0 });
        let mut sums = vec![0i64; mm::sums_len(n as u32) as usize];
        let mut sweeps_done = 0u64;
        for (k, chunk) in initial.chunks(caps.chains).enumerate() {
            let first = (k * caps.chains) as u64;
            let read0 = first_read.wrapping_add(first);
            let chains = chunk.len() as u32;
            self.write(
                mm::reg(mm::REG_BATCH_SEED_LO),
                &[
                    seed as u32,
                    (seed >> 32) as u32,
                    read0 as u32,
                    (read0 >> 32) as u32,
                    chains,
                ],
            )?;
            let packed: Vec<Vec<u32>> = chunk.iter().map(|s| pack_bits(s, planes)).collect();
            for w in 0..planes {
                let plane: Vec<u32> = packed.iter().map(|p| p[w]).collect();
                self.write(mm::chain_addr(0, w as u32), &plane)?;
            }
            self.write_reg(mm::REG_CTRL, mm::CTRL_BATCH)?;
            let expected = batch_clocks(n, sweeps, chains, n <= caps.sums_n);
            let started = std::time::Instant::now();
            self.bus.pause(expected).map_err(DriverError::Bus)?;
            sweeps_done += sweeps * chains as u64;
            let wait = poll::BatchWait {
                before,
                sweeps_done,
                chains,
                expected_clocks: expected,
                started,
                budget: self.bus.run_budget(expected),
            };
            self.wait_batch(&wait, n, sweeps)?;
            if device_sums {
                let words = self.read(mm::region_addr(mm::REGION_SUMS, 0), sums.len())?;
                for (s, &w) in sums.iter_mut().zip(&words) {
                    *s += w as i32 as i64;
                }
            }
            if read_finals {
                let mut words = vec![vec![0u32; planes]; chunk.len()];
                for w in 0..planes {
                    let plane = self.read(mm::chain_addr(0, w as u32), chunk.len())?;
                    for (chain, &v) in words.iter_mut().zip(&plane) {
                        chain[w] = v;
                    }
                }
                finals.extend(words.iter().map(|ws| unpack_bits(ws, n)));
            }
        }
        let clocks = self.finish_job(before, sweeps_done)?;
        let sums = match (want_sums, device_sums) {
            (false, _) => None,
            (true, true) => Some(sums),
            (true, false) => Some(pbit_model::run::correlation_sums(&finals, n)),
        };
        Ok(BatchResult {
            finals: want_finals.then_some(finals),
            sums,
            clocks,
            on_device: true,
        })
    }

    /// Writes `copies` copies of the instance side by side (copy k on p-bits k·n..(k+1)·n,
    /// no couplings between copies) and the active count copies·n.
    fn load_packed(
        &mut self,
        problem: &FixedIsing,
        copies: usize,
    ) -> Result<(), DriverError<B::Error>> {
        if copies == 1 {
            return self.load_problem(problem);
        }
        let n = problem.n;
        let active = copies * n;
        if active > self.n {
            return Err(DriverError::TooLarge {
                n: active,
                machine_n: self.n,
            });
        }
        self.write_reg(mm::REG_N_ACTIVE, active as u32)?;
        let mut row = vec![0u32; active];
        for k in 0..copies {
            for i in 0..n {
                row.iter_mut().for_each(|v| *v = 0);
                let (nb, jv) = problem.row(i);
                for (&j, &v) in nb.iter().zip(jv) {
                    row[k * n + j as usize] = v as u32;
                }
                self.write(mm::j_addr((k * n + i) as u32, 0), &row)?;
            }
        }
        let h: Vec<u32> = (0..active).map(|p| problem.h_raw[p % n] as u32).collect();
        self.write(mm::region_addr(mm::REGION_H, 0), &h)
    }

    /// The current state of the first `n` p-bits.
    pub fn spins(&mut self, n: usize) -> Result<Vec<bool>, DriverError<B::Error>> {
        self.read_bits(mm::REGION_STATE, n)
    }

    /// The chain the (dense) machine holds for p-bits 0..n — state, generators, clamps and
    /// best — read back while it is idle, e.g. after a STOP. A RUN with no write in between
    /// continues exactly this chain, as [`pbit_model::Machine::from_state`] of it does on the
    /// model (docs/spec.md, "STOP and resume"). `best` is None while the fields are stale
    /// (the next run recomputes them and restarts the best).
    pub fn read_chain(&mut self, n: usize) -> Result<ChainState, DriverError<B::Error>> {
        let status = self.read(mm::reg(mm::REG_STATUS), 1)?[0];
        let spins = self.read_bits(mm::REGION_STATE, n)?;
        let rngs = self.read(mm::region_addr(mm::REGION_RNG, 0), n)?;
        let clamped = self.read_bits(mm::REGION_CLAMPS, n)?;
        let best = if status & mm::STATUS_STALE != 0 {
            None
        } else {
            let e = self.read(mm::reg(mm::REG_BEST_ENERGY), 1)?[0] as i32 as i64;
            Some((e, self.read_bits(mm::REGION_BEST_STATE, n)?))
        };
        Ok(ChainState {
            spins,
            rngs,
            clamped,
            best,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word memory as a bus, logging every write; fails the next operation on cue.
    #[derive(Default)]
    struct Mem {
        words: std::collections::HashMap<u32, u32>,
        writes: Vec<(u32, Vec<u32>)>,
        fail_next: bool,
        runs: u32,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("bus failed")]
    struct Failed;

    impl Bus for Mem {
        type Error = Failed;
        fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), Failed> {
            if std::mem::take(&mut self.fail_next) {
                return Err(Failed);
            }
            self.writes.push((addr, words.to_vec()));
            for (k, &w) in words.iter().enumerate() {
                self.words.insert(addr + k as u32, w);
            }
            Ok(())
        }
        fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, Failed> {
            if std::mem::take(&mut self.fail_next) {
                return Err(Failed);
            }
            Ok((0..count as u32)
                .map(|k| self.words.get(&(addr + k)).copied().unwrap_or(0))
                .collect())
        }
        fn run(&mut self, _: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), Failed> {
            self.runs += 1;
            // a run moves the counters (as the machine's do)
            *self.words.entry(mm::reg(mm::REG_SWEEPS)).or_default() += 1;
            Ok(())
        }
    }

    #[test]
    fn cached_bus_writes_only_what_changed() {
        let mut c = Cached::new(Mem::default());
        let row: Vec<u32> = (0..40).collect();
        let j = mm::j_addr(2, 0);
        c.write(j, &row).unwrap();
        c.write(j, &row).unwrap();
        assert_eq!(c.inner().writes.len(), 1, "the same row again is not sent");
        assert_eq!((c.stats.writes_skipped, c.stats.words_skipped), (1, 40));
        // words 3 and 5 change (merged across a gap of one), and word 30 (a run of its own)
        let mut row2 = row.clone();
        row2[3] = 100;
        row2[5] = 101;
        row2[30] = 102;
        c.write(j, &row2).unwrap();
        let w = &c.inner().writes;
        assert_eq!(w[1], (j + 3, vec![100, 4, 101]));
        assert_eq!(w[2], (j + 30, vec![102]));
        assert_eq!(c.inner().words[&(j + 5)], 101);
        // the state and the generators are written every time: runs change them
        let st = mm::region_addr(mm::REGION_STATE, 0);
        c.write(st, &[7]).unwrap();
        c.write(st, &[7]).unwrap();
        c.write(mm::reg(mm::REG_CTRL), &[mm::CTRL_RUN]).unwrap();
        c.write(mm::reg(mm::REG_CTRL), &[mm::CTRL_RUN]).unwrap();
        assert_eq!(c.inner().writes.len(), 7);
        // configuration registers are cached, a write spanning other registers is not
        c.write(mm::reg(mm::REG_BURN_IN), &[0, 5]).unwrap();
        c.write(mm::reg(mm::REG_BURN_IN), &[0, 5]).unwrap();
        assert_eq!(c.inner().writes.len(), 8);
    }

    #[test]
    fn cached_bus_forgets_on_errors_and_on_foreign_runs() {
        let mut c = Cached::new(Mem::default());
        let h = mm::region_addr(mm::REGION_H, 0);
        c.write(h, &[1, 2, 3]).unwrap();
        // a failed write may or may not have landed: everything is sent again afterwards
        c.inner().fail_next = true;
        assert!(c.write(h, &[1, 2, 4]).is_err());
        c.write(h, &[1, 2, 3]).unwrap();
        assert_eq!(c.inner().writes.len(), 2);
        assert_eq!(c.stats.invalidations, 1);
        // a failed read too
        c.inner().fail_next = true;
        assert!(c.read(mm::reg(mm::REG_N), 1).is_err());
        c.write(h, &[1, 2, 3]).unwrap();
        assert_eq!(c.inner().writes.len(), 3);
        // the counters read twice with no run of ours between: equal keeps the copy ...
        let counters = mm::reg(mm::REG_CLOCKS_LO);
        c.read(counters, COUNTER_WORDS).unwrap();
        c.read(counters, COUNTER_WORDS).unwrap();
        c.write(h, &[1, 2, 3]).unwrap();
        assert_eq!(c.inner().writes.len(), 3);
        // ... but if they moved (someone else ran the machine, or it was reset) it is dropped
        c.inner().words.insert(mm::reg(mm::REG_SWEEPS), 99);
        c.read(counters, COUNTER_WORDS).unwrap();
        c.write(h, &[1, 2, 3]).unwrap();
        assert_eq!(c.inner().writes.len(), 4);
        // our own run moves them legitimately
        c.run(&mut |_, _, _| {}).unwrap();
        c.read(counters, COUNTER_WORDS).unwrap();
        c.write(h, &[1, 2, 3]).unwrap();
        assert_eq!(c.inner().writes.len(), 4);
        // and invalidate() drops it on demand
        c.invalidate();
        c.write(h, &[1, 2, 3]).unwrap();
        assert_eq!(c.inner().writes.len(), 5);
    }

    #[test]
    fn a_job_whose_sweeps_do_not_add_up_is_an_error_and_drops_the_copy() {
        // the Mem bus counts one sweep per run whatever the schedule
        let mut m = Driver::new(Cached::new(Mem::default()), 32, Format::for_machine(32));
        let mut ising = pbit_model::Ising::new(3);
        ising.add_coupling(0, 1, 1.0);
        let p = FixedIsing::new(&ising, Format::STANDARD, pbit_model::Scaling::Exact).unwrap();
        let page = ThresholdPage::build(&p.format, pbit_spec::Beta::from_f64(1.0).unwrap());
        let init = vec![vec![true, false, true]; 2];
        let e = m
            .relax(&p, &[], &page, 1, 0, &init, 0, &mut |_, _| {})
            .err();
        // zero sweeps: the counter must not move, but the run (both chains side by side on
        // the 32 p-bits) moves it by one
        assert!(
            matches!(
                e,
                Some(DriverError::Desync {
                    expected: 0,
                    got: 1
                })
            ),
            "{e:?}"
        );
        assert!(m.bus().stats.invalidations >= 1);
    }

    #[test]
    fn bits_pack_and_unpack() {
        let bits: Vec<bool> = (0..70).map(|i| i % 3 == 0 || i == 69).collect();
        let words = pack_bits(&bits, 3);
        assert_eq!(words.len(), 3);
        assert_eq!(words[0] & 1, 1);
        assert_eq!(unpack_bits(&words, 70), bits);
        assert_eq!(pack_bits(&[], 2), vec![0, 0]);
    }

    /// A batch engine behind a bus with a clock of its own: a batch ends `finish_after` after
    /// its start (never if None), its counters moving meanwhile if `progress`.
    struct Engine {
        mem: Mem,
        budget: std::time::Duration,
        finish_after: Option<std::time::Duration>,
        progress: bool,
        started: Option<(std::time::Instant, u32)>,
    }

    impl Engine {
        fn new(budget_ms: u64, finish_after_ms: Option<u64>, progress: bool) -> Engine {
            let mut mem = Mem::default();
            mem.words.insert(mm::reg(mm::REG_BATCH_CAPS), 8 | 64 << 16);
            Engine {
                mem,
                budget: std::time::Duration::from_millis(budget_ms),
                finish_after: finish_after_ms.map(std::time::Duration::from_millis),
                progress,
                started: None,
            }
        }
    }

    impl Bus for Engine {
        type Error = Failed;
        fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), Failed> {
            if addr == mm::reg(mm::REG_CTRL) && words == [mm::CTRL_BATCH] {
                let sweeps = self
                    .mem
                    .words
                    .get(&mm::reg(mm::REG_SWEEPS))
                    .copied()
                    .unwrap_or(0);
                self.started = Some((std::time::Instant::now(), sweeps));
            }
            self.mem.write(addr, words)
        }
        fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, Failed> {
            if let Some((at, sweeps0)) = self.started {
                let chains = self.mem.words[&mm::reg(mm::REG_BATCH_CHAINS)];
                let per_chain = self.mem.words[&mm::schedule_sweeps_addr(0)];
                let w = &mut self.mem.words;
                let over = self.finish_after.is_some_and(|d| at.elapsed() >= d);
                let done = if over {
                    self.started = None;
                    chains
                } else if self.progress {
                    // one chain per 300 ms, never all of them before the end
                    (at.elapsed().as_millis() / 300).min(chains as u128 - 1) as u32
                } else {
                    0
                };
                w.insert(mm::reg(mm::REG_BATCH_DONE), done);
                w.insert(mm::reg(mm::REG_SWEEPS), sweeps0 + done * per_chain);
                w.insert(
                    mm::reg(mm::REG_STATUS),
                    if over { 0 } else { mm::STATUS_BUSY },
                );
            }
            self.mem.read(addr, count)
        }
        fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), Failed> {
            self.mem.run(on_sample)
        }
        fn run_budget(&self, _clocks: u64) -> Option<std::time::Duration> {
            Some(self.budget)
        }
    }

    fn batch_on(
        engine: Engine,
    ) -> (
        Result<BatchResult, DriverError<Failed>>,
        std::time::Duration,
    ) {
        let mut m = Driver::new(engine, 32, Format::for_machine(32));
        let p = FixedIsing::new(
            &pbit_model::Ising::new(3),
            Format::for_machine(32),
            pbit_model::Scaling::Exact,
        )
        .unwrap();
        let page = ThresholdPage::build(&p.format, pbit_spec::Beta::from_f64(1.0).unwrap());
        let init = vec![vec![true, false, true]; 8];
        let caps = m.batch_caps().unwrap();
        let start = std::time::Instant::now();
        let r = m.relax_batch(caps, &p, &[], &page, 1, 0, &init, 5, true, false);
        (r, start.elapsed())
    }

    /// A device that never finishes a batch is reported hung once its run budget and then
    /// HUNG_WINDOW of standing counters have passed — seconds, not millions of polls.
    #[test]
    fn a_hung_batch_is_reported_in_seconds() {
        let (r, took) = batch_on(Engine::new(100, None, false));
        assert!(
            matches!(r, Err(DriverError::BatchHung { chains: 8, .. })),
            "{r:?}"
        );
        let least = std::time::Duration::from_millis(100) + HUNG_WINDOW;
        assert!(
            took >= least && took < least + std::time::Duration::from_secs(2),
            "{took:?}"
        );
        // the same device finishing within its budget is no error
        let (r, took) = batch_on(Engine::new(1000, Some(50), false));
        assert!(r.is_ok(), "{r:?}");
        assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    }

    /// A device slower than its clock (a simulated board) keeps its counters moving past the
    /// budget and is waited for: it finishes after budget + HUNG_WINDOW and is no error.
    #[test]
    fn a_slow_batch_that_progresses_is_waited_for() {
        let finish = std::time::Duration::from_millis(100)
            + HUNG_WINDOW
            + std::time::Duration::from_millis(300);
        let (r, took) = batch_on(Engine::new(100, Some(finish.as_millis() as u64), true));
        assert!(r.is_ok(), "{r:?}");
        assert!(took >= finish, "{took:?}");
        // the same device with its counters still is hung
        let (r, _) = batch_on(Engine::new(100, Some(finish.as_millis() as u64), false));
        assert!(matches!(r, Err(DriverError::BatchHung { .. })), "{r:?}");
    }
}

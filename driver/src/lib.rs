//! pbit-driver: one way to program a pbit machine, whatever carries its bus.
//!
//! The machine is a memory map ([`pbit_spec::memory_map`]) plus "run the schedule". A [`Bus`]
//! moves words to and from that map and runs the schedule; [`Machine`] turns the model's jobs
//! (sample, anneal, relax) into the sequence of writes, runs and reads that make the machine
//! give the model's results bit for bit. The Verilated machine (pbit-sim, a direct port) and a
//! board on a UART link (pbit-host, the wire protocol) are both buses, so both run exactly the
//! same sequence.

use pbit_model::run::{Pages, ReadResult, SampleSpec};
use pbit_model::FixedIsing;
use pbit_spec::memory_map as mm;
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
}

/// Why a job could not be programmed or run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Bus(E),
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
    #[error("sample {number} has {words} state words; {n} p-bits need {need}")]
    ShortSample {
        number: u32,
        words: usize,
        n: usize,
        need: usize,
    },
}

/// Reads the machine's description from its registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub n: usize,
    pub format: Format,
    pub pages: u32,
    pub spec_hash: u64,
}

/// A machine of `n` p-bits in `format` behind a bus.
pub struct Machine<B> {
    bus: B,
    n: usize,
    format: Format,
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

impl<B: Bus> Machine<B> {
    /// A machine of `n` p-bits in `format` behind `bus` (as the device reports them).
    pub fn new(bus: B, n: usize, format: Format) -> Self {
        Machine { bus, n, format }
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
        let r = self.read(mm::reg(mm::REG_CLOCKS_LO), 2)?;
        Ok((r[1] as u64) << 32 | r[0] as u64)
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
        let need = mm::state_words(n as u32) as usize;
        let mut expected = 0u32;
        let mut error: Option<DriverError<B::Error>> = None;
        self.bus
            .run(&mut |number, energy, words| {
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
            })
            .map_err(DriverError::Bus)?;
        if let Some(e) = error {
            return Err(e);
        }
        Ok(self.busy_clocks()?.wrapping_sub(before))
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
        if spec.burn_in > u32::MAX as u64 || spec.every > u32::MAX as u64 {
            return Err(DriverError::Limit {
                what: "burn-in or sample interval",
                value: spec.burn_in.max(spec.every),
                max: u32::MAX as u64,
            });
        }
        self.load_instance(problem, clamps, seed, 0)?;
        self.write_page(0, page)?;
        self.write_schedule(&[(0, spec.burn_in + spec.sweeps)])?;
        self.write_sampling(spec.burn_in as u32, spec.every as u32)?;
        self.run(problem.n, record)
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
        self.load_schedule(pages)?;
        self.load_instance(problem, clamps, seed, read)?;
        let clocks = self.run(problem.n, &mut |_, _| {})?;
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
        self.load_schedule(pages)?;
        self.load_problem(problem)?;
        let mut results = Vec::with_capacity(reads.min(1 << 20) as usize);
        let mut clocks = 0;
        for read in 0..reads {
            // a chain write marks the fields stale: each read recomputes from its own state
            self.load_read(problem, clamps, seed, read)?;
            clocks += self.run(problem.n, &mut |_, _| {})?;
            results.push(self.read_result(problem.n, read)?);
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
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<u64, DriverError<B::Error>> {
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
        if n == 0 {
            for c in 0..initial.len() {
                out(c, &[]);
            }
            return Ok(0);
        }
        self.write_page(0, page)?;
        self.write_schedule(&[(0, sweeps)])?;
        self.write_sampling(0, 0)?;
        self.load_problem(problem)?;
        let mut mask = vec![false; n];
        for &i in clamped {
            mask[i] = true;
        }
        let mut clocks = 0;
        for (c, spins) in initial.iter().enumerate() {
            self.load_chain(n, seed, first_read + c as u64, spins, &mask)?;
            clocks += self.run(n, &mut |_, _| {})?;
            let state = self.spins(n)?;
            out(c, &state);
        }
        Ok(clocks)
    }

    /// The current state of the first `n` p-bits.
    pub fn spins(&mut self, n: usize) -> Result<Vec<bool>, DriverError<B::Error>> {
        self.read_bits(mm::REGION_STATE, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_pack_and_unpack() {
        let bits: Vec<bool> = (0..70).map(|i| i % 3 == 0 || i == 69).collect();
        let words = pack_bits(&bits, 3);
        assert_eq!(words.len(), 3);
        assert_eq!(words[0] & 1, 1);
        assert_eq!(unpack_bits(&words, 70), bits);
        assert_eq!(pack_bits(&[], 2), vec![0, 0]);
    }
}

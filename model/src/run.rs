//! Jobs on the machine: sampling one chain and annealing many reads. These are the reference
//! implementations over [`Machine`]; [`crate::kernel`] runs the same jobs faster and must give
//! identical results.

use crate::fixed::FixedIsing;
use crate::machine::Machine;
use crate::schedule::Schedule;
use pbit_spec::ThresholdPage;
use std::sync::atomic::{AtomicBool, Ordering};

/// A schedule with its threshold pages built for the problem's format.
#[derive(Clone, Debug)]
pub struct Pages {
    /// (page, sweeps at that page), in order.
    pub steps: Vec<(ThresholdPage, u64)>,
}

impl Pages {
    pub fn build(problem: &FixedIsing, schedule: &Schedule) -> Pages {
        Pages {
            steps: schedule
                .steps
                .iter()
                .map(|s| (ThresholdPage::build(&problem.format, s.beta), s.sweeps))
                .collect(),
        }
    }
    pub fn total_sweeps(&self) -> u64 {
        self.steps.iter().map(|s| s.1).sum()
    }
}

/// What a sampling run records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleSpec {
    /// Sweeps run and discarded first.
    pub burn_in: u64,
    /// Sweeps run after the burn-in.
    pub sweeps: u64,
    /// Record the state after every `every`-th sweep after the burn-in (sweep t = 1..=sweeps is
    /// recorded iff t % every == 0).
    pub every: u64,
}

/// Runs one chain (read 0) at one page and calls `record(spins, energy_raw)` for each recorded
/// sample.
pub fn sample(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
    mut record: impl FnMut(&[bool], i64),
) {
    let mut m = Machine::new(problem, seed, 0);
    m.set_clamps(clamps);
    for _ in 0..spec.burn_in {
        m.sweep(page);
    }
    for t in 1..=spec.sweeps {
        m.sweep(page);
        if t % spec.every == 0 {
            record(m.spins(), m.energy_raw());
        }
    }
}

/// The outcome of one annealing read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    pub read: u64,
    pub best_energy_raw: i64,
    pub best_spins: Vec<bool>,
    pub final_energy_raw: i64,
}

/// Anneals one read through every step of `pages`; `progress(sweeps)` is called after each
/// sweep with the number of sweeps just done (1).
pub fn anneal_read(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    read: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadResult {
    anneal_read_from(problem, clamps, pages, seed, read, None, progress)
}

/// [`anneal_read`] from a given state: `Machine::new(problem, seed, read)`, `set_clamps`, then
/// `set_spins(initial)` (clamped p-bits keep their clamp value; the best starts there), then
/// the schedule. The generators are the read's own either way, so a read's random stream never
/// depends on where it starts.
pub fn anneal_read_from(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    read: u64,
    initial: Option<&[bool]>,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadResult {
    let mut m = Machine::new(problem, seed, read);
    m.set_clamps(clamps);
    if let Some(s) = initial {
        m.set_spins(s);
    }
    for (page, sweeps) in &pages.steps {
        for _ in 0..*sweeps {
            m.sweep(page);
            progress(1);
        }
    }
    ReadResult {
        read,
        best_energy_raw: m.best_energy_raw(),
        best_spins: m.best_spins().to_vec(),
        final_energy_raw: m.energy_raw(),
    }
}

/// The optional parts of an annealing job on the fast kernels
/// ([`crate::kernel::anneal_reads_from`], [`crate::sparse::kernel::anneal_reads_from`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnnealStart<'a> {
    /// The state each read starts from, in read order: read r of the job `first..end` starts
    /// from `initial[r − first]` (None: the state the seed gives, [`pbit_spec::initial_spin`]).
    pub initial: Option<&'a [Vec<bool>]>,
    /// Polled between sweeps; once it is set the job stops and returns [`Cancelled`]. This is
    /// how a caller (Ctrl-C in Python) stops a long run without killing a thread.
    pub cancel: Option<&'a AtomicBool>,
}

impl AnnealStart<'_> {
    /// Whether the cancel flag is set.
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Panics unless `initial` (if any) has one state of `n` spins per read of `reads`: the
    /// kernels index it by read, and callers check user input before (a programming error).
    pub fn check(&self, n: usize, reads: &std::ops::Range<u64>) {
        if let Some(states) = self.initial {
            assert_eq!(
                states.len() as u64,
                reads.end.saturating_sub(reads.start),
                "one initial state per read"
            );
            assert!(
                states.iter().all(|s| s.len() == n),
                "initial states of n spins"
            );
        }
    }
}

/// An annealing job stopped by its cancel flag ([`AnnealStart::cancel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled")]
pub struct Cancelled;

/// Index of the best read: lowest best energy, the first read on ties.
pub fn best_read(results: &[ReadResult]) -> Option<&ReadResult> {
    results.iter().min_by_key(|r| (r.best_energy_raw, r.read))
}

/// The correlation sums of a set of states (as the batch engine forms them on the device,
/// `pbit_spec::memory_map`'s sums region): for i < j < n, Σ m_i·m_j at
/// [`sums_index`](pbit_spec::memory_map::sums_index)`(n, i, j)`, then Σ m_i at
/// [`sums_single`](pbit_spec::memory_map::sums_single)`(n, i)`, over ±1 spins (true = +1).
/// Every state must have at least `n` spins.
pub fn correlation_sums(states: &[Vec<bool>], n: usize) -> Vec<i64> {
    let mut sums = vec![0i64; pbit_spec::memory_map::sums_len(n as u32) as usize];
    for s in states {
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                sums[k] += if s[i] == s[j] { 1 } else { -1 };
                k += 1;
            }
        }
        for (sum, &m) in sums[k..].iter_mut().zip(&s[..n]) {
            *sum += if m { 1 } else { -1 };
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_spec::memory_map::{sums_index, sums_single};

    #[test]
    fn correlation_sums_follow_the_memory_map_layout() {
        let states = vec![
            vec![true, false, true, true],
            vec![false, false, true, false],
            vec![true, true, true, false],
        ];
        let n = 4;
        let s = correlation_sums(&states, n);
        let pm = |b: bool| if b { 1i64 } else { -1 };
        for i in 0..n {
            for j in i + 1..n {
                let want: i64 = states.iter().map(|x| pm(x[i]) * pm(x[j])).sum();
                assert_eq!(s[sums_index(n as u32, i as u32, j as u32) as usize], want);
            }
            let want: i64 = states.iter().map(|x| pm(x[i])).sum();
            assert_eq!(s[sums_single(n as u32, i as u32) as usize], want);
        }
        assert_eq!(correlation_sums(&[], 3), vec![0; 6]);
    }
}

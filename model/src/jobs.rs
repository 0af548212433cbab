//! Jobs: what a sample, anneal or relax job means, on any backend. These are the contract
//! between the host and every machine: the model runs them by definition ([`relax_chain`] is
//! the relax job's reference), and a device must give the same results bit for bit.

use crate::backend::BackendError;
use crate::run::{Pages, SampleSpec};
use crate::{FixedIsing, Machine};
use pbit_spec::ThresholdPage;

/// A sampling job: one chain at one β.
pub struct SampleJob<'a> {
    pub problem: &'a FixedIsing,
    /// 0-based (index, value) pairs.
    pub clamps: &'a [(usize, bool)],
    pub page: &'a ThresholdPage,
    pub seed: u64,
    pub spec: SampleSpec,
}

/// An annealing job: reads `reads` through the schedule's pages.
pub struct AnnealJob<'a> {
    pub problem: &'a FixedIsing,
    pub clamps: &'a [(usize, bool)],
    pub pages: &'a Pages,
    pub seed: u64,
    pub reads: u64,
}

/// A relax job: "write state, then run". Chain c (0 ≤ c < `initial.len()`) is one read of the
/// machine, and every backend must run it exactly like this:
///
/// 1. The p-bits' generators are seeded for read `first_read + c`: p-bit i gets
///    `pbit_seed(seed, first_read + c, i)` (the seeded initial spins are not used).
/// 2. The clamp mask is written: every p-bit listed in `clamped` is clamped to the value
///    `initial[c]` gives it (so each chain has its own clamp values; the mask is shared).
/// 3. The state is written: `initial[c]` (true = +1) for every p-bit.
/// 4. `sweeps` sweeps run at `page` (sequential order; clamped p-bits step their generators
///    and keep their value, as in every run).
/// 5. The final state is returned.
///
/// In terms of [`crate::Machine`]: `Machine::new(problem, seed, first_read + c)`, then
/// `set_clamps` with `(i, initial[c][i])` for i in `clamped`, `set_spins(&initial[c])` and
/// `sweep(page)` `sweeps` times. Chains are independent, so results never depend on how a
/// backend batches or parallelises them. `sweeps = 0` returns the initial states (clamps
/// applied).
pub struct RelaxJob<'a> {
    pub problem: &'a FixedIsing,
    /// 0-based p-bits clamped in every chain, each to its value in that chain's initial state.
    pub clamped: &'a [usize],
    pub page: &'a ThresholdPage,
    pub seed: u64,
    /// Read number of chain 0; chain c is read `first_read + c`.
    pub first_read: u64,
    /// One initial state per chain, `problem.n` spins each.
    pub initial: &'a [Vec<bool>],
    pub sweeps: u64,
}

impl RelaxJob<'_> {
    /// Checks the job's shape (state lengths, clamp indices).
    pub fn validate(&self) -> Result<(), BackendError> {
        let n = self.problem.n;
        if let Some((c, s)) = self.initial.iter().enumerate().find(|(_, s)| s.len() != n) {
            return Err(BackendError::Other(format!(
                "relax: initial state of chain {c} has {} spins, the instance {n}",
                s.len()
            )));
        }
        if let Some(&i) = self.clamped.iter().find(|&&i| i >= n) {
            return Err(BackendError::Other(format!(
                "relax: clamped p-bit {i} (0-based) is out of range for {n} p-bits"
            )));
        }
        Ok(())
    }
}

/// Runs one chain of a relax job on the reference machine (the definition in [`RelaxJob`]).
pub fn relax_chain(job: &RelaxJob, c: usize) -> Vec<bool> {
    let initial = &job.initial[c];
    let mut m = Machine::new(job.problem, job.seed, job.first_read + c as u64);
    let clamps: Vec<(usize, bool)> = job.clamped.iter().map(|&i| (i, initial[i])).collect();
    m.set_clamps(&clamps);
    m.set_spins(initial);
    for _ in 0..job.sweeps {
        m.sweep(job.page);
    }
    m.spins().to_vec()
}

/// What a relax job's caller needs back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelaxWant {
    pub finals: bool,
    pub sums: bool,
}

/// A relax job's results, as asked for by [`RelaxWant`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Relaxed {
    /// One final state per chain.
    pub finals: Option<Vec<Vec<bool>>>,
    /// [`crate::run::correlation_sums`] of the final states.
    pub sums: Option<Vec<i64>>,
}

impl Relaxed {
    /// The results from the final states, the sums formed on the host.
    pub fn from_finals(finals: Vec<Vec<bool>>, n: usize, want: RelaxWant) -> Relaxed {
        Relaxed {
            sums: want
                .sums
                .then(|| crate::run::correlation_sums(&finals, n)),
            finals: want.finals.then_some(finals),
        }
    }

    /// Checks a backend's answer against the job: every asked part present, one state of n
    /// spins per chain, sums of the layout's length.
    pub fn check(&self, job: &RelaxJob, want: RelaxWant) -> Result<(), BackendError> {
        let n = job.problem.n;
        let bad = |m: String| Err(BackendError::Other(format!("relax: {m}")));
        match (&self.finals, want.finals) {
            (None, true) => return bad("the final states did not come back".into()),
            (Some(f), true) if f.len() != job.initial.len() => {
                return bad(format!(
                    "{} final states for {} chains",
                    f.len(),
                    job.initial.len()
                ))
            }
            (Some(f), true) => {
                if let Some((c, s)) = f.iter().enumerate().find(|(_, s)| s.len() != n) {
                    return bad(format!(
                        "chain {c} came back with {} spins (expected {n})",
                        s.len()
                    ));
                }
            }
            _ => {}
        }
        let len = pbit_spec::memory_map::sums_len(n as u32) as usize;
        match (&self.sums, want.sums) {
            (None, true) => bad("the sums did not come back".into()),
            (Some(s), true) if s.len() != len => {
                bad(format!("{} sums for {n} p-bits (expected {len})", s.len()))
            }
            _ => Ok(()),
        }
    }
}


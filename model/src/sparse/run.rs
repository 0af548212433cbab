//! Jobs on the sparse reference machine: the same jobs and the same record/read semantics as
//! [`crate::run`], with the chromatic sweep. [`super::kernel`] runs them fast and must give
//! identical results.

use super::{Phases, SparseMachine};
use crate::fixed::FixedIsing;
use crate::run::{Pages, ReadResult, SampleSpec};
use pbit_spec::ThresholdPage;

/// Runs one chain (read 0) at one page and calls `record(spins, energy_raw)` for each recorded
/// sample (sweep t after the burn-in is recorded iff t % every == 0).
pub fn sample(
    problem: &FixedIsing,
    phases: &Phases,
    clamps: &[(usize, bool)],
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
    mut record: impl FnMut(&[bool], i64),
) {
    let mut m = SparseMachine::new(problem, phases, seed, 0);
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

/// Anneals one read through every step of `pages`.
pub fn anneal_read(
    problem: &FixedIsing,
    phases: &Phases,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    read: u64,
) -> ReadResult {
    anneal_read_from(problem, phases, clamps, pages, seed, read, None)
}

/// [`anneal_read`] from a given state (`set_spins(initial)` after the clamps), as the dense
/// machine's [`crate::run::anneal_read_from`].
pub fn anneal_read_from(
    problem: &FixedIsing,
    phases: &Phases,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    read: u64,
    initial: Option<&[bool]>,
) -> ReadResult {
    let mut m = SparseMachine::new(problem, phases, seed, read);
    m.set_clamps(clamps);
    if let Some(s) = initial {
        m.set_spins(s);
    }
    for (page, sweeps) in &pages.steps {
        for _ in 0..*sweeps {
            m.sweep(page);
        }
    }
    ReadResult {
        read,
        best_energy_raw: m.best_energy_raw(),
        best_spins: m.best_spins().to_vec(),
        final_energy_raw: m.energy_raw(),
    }
}

/// One chain of a relax job ("write state, then run"), as the dense machine's: generators seeded
/// for `read`, the listed p-bits clamped to their values in `initial`, the state written,
/// `sweeps` sweeps at `page`; returns the final state.
#[allow(clippy::too_many_arguments)] // the relax job's fields, as the dense machine's
pub fn relax_chain(
    problem: &FixedIsing,
    phases: &Phases,
    clamped: &[usize],
    page: &ThresholdPage,
    seed: u64,
    read: u64,
    initial: &[bool],
    sweeps: u64,
) -> Vec<bool> {
    let mut m = SparseMachine::new(problem, phases, seed, read);
    let clamps: Vec<(usize, bool)> = clamped.iter().map(|&i| (i, initial[i])).collect();
    m.set_clamps(&clamps);
    m.set_spins(initial);
    for _ in 0..sweeps {
        m.sweep(page);
    }
    m.spins().to_vec()
}

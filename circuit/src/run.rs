//! Running a circuit with some ports clamped: forwards (inputs clamped), backwards (outputs
//! clamped) or anything between.
//!
//! Each sample is one annealing read (its own seeds) ending at β_end; the read's lowest-energy
//! state is the sample. Samples where every gate is consistent are counted by the values of the
//! unclamped ports; the most frequent assignment is the answer.

use crate::circuit::{CircuitError, Compiled};
use pbit_model::limits::{check_anneal, LimitError};
use pbit_model::run::Pages;
use pbit_model::schedule::{Shape, MAX_STEPS};
use pbit_model::Backend;
use pbit_model::{FixedIsing, QuantiseError, Scaling, Schedule};
use pbit_spec::BetaError;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

/// Why a circuit run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Circuit(#[from] CircuitError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("backend: {0}")]
    Backend(#[from] pbit_model::BackendError),
}

/// How to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    pub seed: u64,
    /// Samples (annealing reads).
    pub samples: u64,
    /// Sweeps per sample.
    pub sweeps: u64,
    /// β at the start and end of each read (gate energy gap 1).
    pub beta_start: f64,
    pub beta_end: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 0,
            samples: 100,
            sweeps: 1000,
            beta_start: 0.5,
            beta_end: 4.0,
        }
    }
}

/// One assignment of the unclamped ports and how often it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// (port, value) for every unclamped port, in port order.
    pub values: Vec<(String, u64)>,
    pub count: u64,
}

/// The outcome of `pbit circuit`.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// (port, value) as clamped.
    pub clamped: Vec<(String, u64)>,
    /// The most frequent consistent assignment of the unclamped ports (None if no sample was
    /// consistent).
    pub best: Option<Seen>,
    /// Up to 10 most frequent consistent assignments, most frequent first.
    pub assignments: Vec<Seen>,
    pub samples: u64,
    /// Samples in which every gate was consistent.
    pub consistent: u64,
    pub pbits: usize,
    pub gates: usize,
    pub sweeps: u64,
    pub seconds: f64,
    pub backend: &'static str,
}

/// Runs `compiled` with the ports in `clamps` (`name=value,…`) held.
pub fn run(
    backend: &mut dyn Backend,
    compiled: &Compiled,
    clamps: &str,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    check_anneal("--samples", opts.samples, opts.sweeps, compiled.ising.n)?;
    let start = Instant::now();
    let values = crate::circuit::parse_assignments(clamps)?;
    let clamp_list = compiled.clamps_from_text(clamps)?;
    let format = backend.format();
    let fixed = FixedIsing::new(&compiled.ising, format, Scaling::Exact)?;
    let schedule = Schedule::anneal(
        opts.beta_start / compiled.scale,
        opts.beta_end / compiled.scale,
        opts.sweeps,
        Shape::Geometric,
        MAX_STEPS,
    )?;
    let pages = Pages::build(&fixed, &schedule);
    let results = crate::anneal::anneal_reads(
        backend,
        &fixed,
        &clamp_list,
        &pages,
        opts.seed,
        opts.samples,
    )?;
    let free: Vec<&str> = compiled
        .circuit
        .ports()
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !values.iter().any(|(c, _)| c == n))
        .collect();
    let mut counts: HashMap<Vec<(String, u64)>, u64> = HashMap::new();
    let mut consistent = 0;
    for r in &results {
        if !compiled.consistent(&r.best_spins) {
            continue;
        }
        consistent += 1;
        let v = free
            .iter()
            .map(|&n| Ok((n.to_string(), compiled.port_value(&r.best_spins, n)?)))
            .collect::<Result<Vec<_>, CircuitError>>()?;
        *counts.entry(v).or_insert(0) += 1;
    }
    let mut seen: Vec<Seen> = counts
        .into_iter()
        .map(|(values, count)| Seen { values, count })
        .collect();
    // most frequent first; ties by value, so the report is deterministic
    seen.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.values.cmp(&b.values)));
    seen.truncate(10);
    Ok(RunReport {
        clamped: values,
        best: seen.first().cloned(),
        assignments: seen,
        samples: opts.samples,
        consistent,
        pbits: compiled.ising.n,
        gates: compiled.circuit.gates().len(),
        sweeps: opts.samples * opts.sweeps,
        seconds: start.elapsed().as_secs_f64(),
        backend: backend.name(),
    })
}

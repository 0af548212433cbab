//! The sparse, graph-coloured machine as backends (`--machine sparse`).
//!
//! * [`SparseModelBackend`]: the bit-exact model of the sparse machine (fast chromatic kernel).
//!   It runs an instance on the machine built for a given graph (`--graph`), or, without one,
//!   on the machine the host would build for the instance's own graph (coloured by
//!   `pbit_model::colour`). The model has no degree limit unless one is given (`--max-degree`).
//! * [`Sparsifying`]: wraps a sparse backend of maximum degree D for optimisation jobs: an
//!   instance whose degree exceeds D runs with copy p-bits on ferromagnetic chains
//!   (`pbit_model::sparse::sparsify`), and results name only the original p-bits (majority of
//!   copies, ties to the first). Sampling and relax jobs (which must sample the instance's own
//!   distribution) refuse such an instance with an error naming D.

use crate::cost::{Metered, MeteredBackend, Usage};
use pbit_model::backend::watched_reads;
use pbit_model::colour::{self, Colouring};
use pbit_model::jobs::{AnnealJob, RelaxJob, RelaxWant, Relaxed, SampleJob};
use pbit_model::run::ReadResult;
use pbit_model::sparse::machine::SparseMachine;
use pbit_model::sparse::sparsify::Sparsified;
use pbit_model::sparse::{check_degree, kernel, Phases, MODEL_FORMAT};
use pbit_model::FixedIsing;
use pbit_model::{Backend, BackendError, Watched};
use pbit_spec::sparse::SparseGraph;
use pbit_spec::Format;
use std::sync::Mutex;

/// What a sparse backend reports about the machine an instance ran on (for `note:` lines and
/// reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseMachineInfo {
    pub n: usize,
    pub edges: usize,
    pub max_degree: usize,
    pub colours: u32,
    /// "bipartite", "dsatur", "trivial" or "given" (a `--graph` machine).
    pub method: &'static str,
    pub graph_hash: u64,
}

impl std::fmt::Display for SparseMachineInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sparse machine: n {}, {} edges, max degree {}, {} colours ({}), graph {:016x}",
            self.n, self.edges, self.max_degree, self.colours, self.method, self.graph_hash
        )
    }
}

/// The machine for an instance: `graph` if given (checked against the instance), else the
/// instance's own graph, coloured; checked against `max_degree`.
pub fn machine_for(
    problem: &FixedIsing,
    graph: Option<&SparseGraph>,
    max_degree: Option<usize>,
) -> Result<(SparseGraph, SparseMachineInfo), BackendError> {
    let bad = |e: pbit_model::sparse::SparseError| BackendError::Other(e.to_string());
    let (g, method) = match graph {
        Some(g) => (g.clone(), "given"),
        None => {
            let (g, c): (SparseGraph, Colouring) = colour::build_graph(problem);
            (g, c.method.name())
        }
    };
    if let Some(d) = max_degree {
        check_degree(&g, d).map_err(bad)?;
    }
    let info = SparseMachineInfo {
        n: g.n(),
        edges: g.edges().len(),
        max_degree: g.max_degree(),
        colours: g.colour_count(),
        method,
        graph_hash: g.hash(),
    };
    Ok((g, info))
}

/// A hook told about each machine a [`SparseModelBackend`] builds.
pub type OnMachine = Box<dyn Fn(&SparseMachineInfo) + Send>;
/// A hook told about each job a [`Sparsifying`] backend sparsifies.
pub type OnSparsify = Box<dyn Fn(&SparsifyInfo) + Send>;

/// The bit-exact model of the sparse machine.
pub struct SparseModelBackend {
    pub threads: usize,
    /// The machine's maximum degree D (None: unlimited, the model's default).
    pub max_degree: Option<usize>,
    /// The built machine's graph (None: built for each instance from its own graph).
    pub graph: Option<SparseGraph>,
    pub isa: kernel::Isa,
    /// Called with the machine of the first job on each graph.
    pub on_machine: Option<OnMachine>,
    seen: Mutex<std::collections::HashSet<u64>>,
}

impl SparseModelBackend {
    pub fn new(threads: usize, max_degree: Option<usize>, graph: Option<SparseGraph>) -> Self {
        SparseModelBackend {
            threads,
            max_degree,
            graph,
            isa: kernel::Isa::Auto,
            on_machine: None,
            seen: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The machine and phases for a job's instance.
    fn phases(&self, problem: &FixedIsing) -> Result<Phases, BackendError> {
        let (g, info) = machine_for(problem, self.graph.as_ref(), self.max_degree)?;
        let phases = Phases::new(problem, &g).map_err(|e| BackendError::Other(e.to_string()))?;
        // once per graph (factor alternates between a few circuits)
        if self.seen.lock().unwrap().insert(info.graph_hash) {
            if let Some(f) = &self.on_machine {
                f(&info);
            }
        }
        Ok(phases)
    }
}

impl Metered for SparseModelBackend {}

impl Backend for SparseModelBackend {
    fn name(&self) -> &'static str {
        "model"
    }
    /// 32-bit fields whatever D: field width never changes a decision (see
    /// `pbit_model::sparse::MODEL_FORMAT`), and an instance beyond D must load before it is
    /// sparsified (its fields may exceed `sparse_format(D)`'s; its copies' never do).
    fn format(&self) -> Format {
        MODEL_FORMAT
    }
    fn capacity(&self) -> Option<usize> {
        self.graph.as_ref().map(|g| g.n())
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        let phases = self.phases(job.problem)?;
        kernel::sample(
            job.problem,
            &phases,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
            self.isa,
        );
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let phases = self.phases(job.problem)?;
        Ok(kernel::anneal_reads(
            job.problem,
            &phases,
            job.clamps,
            job.pages,
            job.seed,
            0..job.reads,
            self.threads,
            progress,
            self.isa,
        ))
    }
    /// The sparse reference machine (`SparseMachine`), read after read: the chromatic kernel is
    /// bit-identical to it.
    fn anneal_watched(
        &mut self,
        job: &AnnealJob,
        every: u64,
        watch: &mut dyn FnMut(&Watched),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let phases = self.phases(job.problem)?;
        Ok(watched_reads(job, every, watch, |read| {
            let mut m = SparseMachine::new(job.problem, &phases, job.seed, read);
            m.set_clamps(job.clamps);
            m
        }))
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let phases = self.phases(job.problem)?;
        let finals = kernel::relax_chains(
            job.problem,
            &phases,
            job.clamped,
            job.page,
            job.seed,
            job.first_read,
            job.initial,
            job.sweeps,
            self.threads,
            self.isa,
        );
        for (c, s) in finals.iter().enumerate() {
            out(c, s);
        }
        Ok(())
    }
}

/// What a sparsified job reports.
#[derive(Clone, Debug, PartialEq)]
pub struct SparsifyInfo {
    pub original_n: usize,
    pub n: usize,
    pub max_degree: usize,
    /// Copy strength in the instance's units (raw / 2^frac_bits, undoing any rescaling).
    pub strength: f64,
    pub strength_raw: i32,
    /// Broken chains in the best read's best state.
    pub broken_chains: usize,
}

impl std::fmt::Display for SparsifyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sparsified for max degree D = {}: {} p-bits + {} copies on ferromagnetic chains, copy strength {} ({} raw); {} broken chains in the best read; results name the {} original p-bits (majority of copies, ties to the first)",
            self.max_degree,
            self.original_n,
            self.n - self.original_n,
            self.strength,
            self.strength_raw,
            self.broken_chains,
            self.original_n
        )
    }
}

/// A sparse backend of maximum degree D for optimisation commands: instances beyond D run with
/// copy p-bits; sampling and relax jobs refuse them.
pub struct Sparsifying {
    pub inner: Box<dyn MeteredBackend>,
    pub max_degree: usize,
    /// Copy strength in raw units (None: the default, see `pbit_model::sparse::sparsify`).
    pub strength_raw: Option<i64>,
    /// Called after each sparsified job.
    pub on_sparsify: Option<OnSparsify>,
}

impl Sparsifying {
    fn too_high(&self, problem: &FixedIsing, job: &'static str) -> Result<(), BackendError> {
        let too_high = (0..problem.n)
            .find(|&i| problem.row(i).0.len() > self.max_degree)
            .map(|i| (i, problem.row(i).0.len()));
        match too_high {
            Some((i, d)) => Err(BackendError::Other(format!(
                "p-bit {} (1-based) has degree {d}, more than the sparse machine's maximum degree D = {}; {job} needs the instance's own distribution, which copy p-bits would change, so it does not sparsify (anneal, maxcut, factor, circuit and sat do)",
                i + 1,
                self.max_degree
            ))),
            None => Ok(()),
        }
    }
}

impl Backend for Sparsifying {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn format(&self) -> Format {
        self.inner.format()
    }
    /// Capacity is checked after sparsification (copies need room too), by the inner backend.
    fn capacity(&self) -> Option<usize> {
        None
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        self.too_high(job.problem, "sampling")?;
        self.inner.check_fits(job.problem.n)?;
        self.inner.sample(job, record)
    }
    fn sample_sums(
        &mut self,
        job: &SampleJob,
        pairs: &[(usize, usize)],
    ) -> Result<pbit_model::SampleSums, BackendError> {
        self.too_high(job.problem, "sampling")?;
        self.inner.check_fits(job.problem.n)?;
        self.inner.sample_sums(job, pairs)
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let s = Sparsified::new(job.problem, self.max_degree, self.strength_raw)
            .map_err(|e| BackendError::Other(e.to_string()))?;
        let Some(s) = s else {
            self.inner.check_fits(job.problem.n)?;
            return self.inner.anneal(job, progress);
        };
        self.inner.check_fits(s.problem.n)?;
        let clamps = s.expand_clamps(job.clamps);
        let inner = AnnealJob {
            problem: &s.problem,
            clamps: &clamps,
            pages: job.pages,
            seed: job.seed,
            reads: job.reads,
        };
        let results = self.inner.anneal(&inner, progress)?;
        // energies of the original p-bits' states; a read's best is the inner machine's best
        // state mapped back
        let mapped: Vec<ReadResult> = results
            .iter()
            .map(|r| {
                let spins = s.original_state(&r.best_spins);
                ReadResult {
                    read: r.read,
                    best_energy_raw: job.problem.energy_raw(&spins),
                    best_spins: spins,
                    // the sparsified machine's final energy (copy chains included): the final
                    // state is not kept
                    final_energy_raw: r.final_energy_raw,
                }
            })
            .collect();
        if let Some(f) = &self.on_sparsify {
            let best = results
                .iter()
                .zip(&mapped)
                .min_by_key(|(_, m)| (m.best_energy_raw, m.read))
                .map(|(r, _)| s.broken_chains(&r.best_spins))
                .unwrap_or(0);
            let p = job.problem;
            f(&SparsifyInfo {
                original_n: p.n,
                n: s.problem.n,
                max_degree: self.max_degree,
                strength: s.strength_raw as f64 / (p.format.one() as f64 * p.scale),
                strength_raw: s.strength_raw,
                broken_chains: best,
            });
        }
        Ok(mapped)
    }
    /// The inner machine's watched anneal; a sparsified instance's states are mapped back to the
    /// original p-bits (majority of copies) and their energies are the original instance's,
    /// the best so far being the lowest of those watched.
    fn anneal_watched(
        &mut self,
        job: &AnnealJob,
        every: u64,
        watch: &mut dyn FnMut(&Watched),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let s = Sparsified::new(job.problem, self.max_degree, self.strength_raw)
            .map_err(|e| BackendError::Other(e.to_string()))?;
        let Some(s) = s else {
            self.inner.check_fits(job.problem.n)?;
            return self.inner.anneal_watched(job, every, watch);
        };
        self.inner.check_fits(s.problem.n)?;
        let clamps = s.expand_clamps(job.clamps);
        let inner = AnnealJob {
            problem: &s.problem,
            clamps: &clamps,
            pages: job.pages,
            seed: job.seed,
            reads: job.reads,
        };
        let mut best: Option<(u64, i64)> = None;
        let results = self.inner.anneal_watched(&inner, every, &mut |w| {
            let spins = s.original_state(w.spins);
            let e = job.problem.energy_raw(&spins);
            let b = match best {
                Some((r, b)) if r == w.read => b.min(e),
                _ => e,
            };
            best = Some((w.read, b));
            watch(&Watched {
                read: w.read,
                sweep: w.sweep,
                spins: &spins,
                energy_raw: e,
                best_energy_raw: b,
            });
        })?;
        Ok(results
            .iter()
            .map(|r| {
                let spins = s.original_state(&r.best_spins);
                ReadResult {
                    read: r.read,
                    best_energy_raw: job.problem.energy_raw(&spins),
                    best_spins: spins,
                    final_energy_raw: r.final_energy_raw,
                }
            })
            .collect())
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        self.too_high(job.problem, "learning")?;
        self.inner.check_fits(job.problem.n)?;
        self.inner.relax(job, out)
    }
    fn relax_batch(&mut self, job: &RelaxJob, want: RelaxWant) -> Result<Relaxed, BackendError> {
        self.too_high(job.problem, "learning")?;
        self.inner.check_fits(job.problem.n)?;
        self.inner.relax_batch(job, want)
    }
}

/// The inner backend's link, if it has one.
impl Metered for Sparsifying {
    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_circuit::factor::{factor, FactorOptions};
    use std::sync::{Arc, Mutex};

    /// Factoring on a sparse machine of maximum degree 8: the 6 × 6- and 6 × 7-bit class
    /// multipliers (inputs of degree ≈ 2 × width) run with copy p-bits, and balanced 12-bit
    /// semiprimes factor with the defaults within a fixed budget. Deterministic (seed 1): the
    /// model is bit-exact, so this is a fixed run, not a statistical test; the budget is 20× the
    /// sweeps these runs take today (144k–160k), so it guards against copies freezing the search
    /// again (before gates were kept on one copy, 32,399 at D = 12 took > 5M sweeps).
    #[test]
    fn sparsified_factoring_within_a_budget() {
        for (n, p) in [(3127u64, 53u64), (4087, 61)] {
            let added = Arc::new(Mutex::new(0usize));
            let seen = added.clone();
            let mut b = Sparsifying {
                inner: Box::new(SparseModelBackend::new(1, Some(8), None)),
                max_degree: 8,
                strength_raw: None,
                on_sparsify: Some(Box::new(move |info: &SparsifyInfo| {
                    let mut a = seen.lock().unwrap();
                    *a = (*a).max(info.n - info.original_n);
                })),
            };
            let opts = FactorOptions {
                seed: 1,
                max_sweeps: 3_200_000,
                ..FactorOptions::default()
            };
            let r = factor(&mut b, n, &opts).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(r.factors, [p, n / p], "{n}");
            assert!(*added.lock().unwrap() > 0, "{n}: no copies were needed");
        }
    }
}

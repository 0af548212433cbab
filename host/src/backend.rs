//! Backends: the machine a job runs on. The model is the default and the reference; the
//! Verilated gateware and a board on a serial port implement the same trait, so every command
//! runs unchanged on each and must give byte-identical results.

use pbit_model::run::{Pages, ReadResult, SampleSpec};
use pbit_model::FixedIsing;
use pbit_spec::{Format, ThresholdPage};

/// Why a backend could not run a job.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the instance has {n} p-bits but the {backend} machine has {capacity}")]
    TooLarge {
        backend: &'static str,
        n: usize,
        capacity: usize,
    },
    #[error("{0}")]
    Other(String),
}

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

/// A machine that runs jobs.
pub trait Backend {
    /// Short name for reports ("model", "verilator", "serial").
    fn name(&self) -> &'static str;
    /// The fixed-point format the machine runs; instances are quantised to it.
    fn format(&self) -> Format;
    /// The most p-bits the machine holds (None: unbounded).
    fn capacity(&self) -> Option<usize>;
    /// Runs a sampling job, calling `record(spins, energy_raw)` for every recorded sample.
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError>;
    /// Runs an annealing job; `progress(k)` reports k more sweeps done (over all reads).
    /// Results in read order.
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError>;

    /// Checks that an instance fits.
    fn check_fits(&self, n: usize) -> Result<(), BackendError> {
        match self.capacity() {
            Some(capacity) if n > capacity => Err(BackendError::TooLarge {
                backend: self.name(),
                n,
                capacity,
            }),
            _ => Ok(()),
        }
    }
}

/// The bit-exact software model, on all cores.
pub struct ModelBackend {
    pub format: Format,
    pub threads: usize,
}

impl Default for ModelBackend {
    fn default() -> Self {
        ModelBackend {
            format: Format::STANDARD,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

impl Backend for ModelBackend {
    fn name(&self) -> &'static str {
        "model"
    }
    fn format(&self) -> Format {
        self.format
    }
    fn capacity(&self) -> Option<usize> {
        None
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        pbit_model::kernel::sample(
            job.problem,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
        );
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        Ok(pbit_model::kernel::anneal_reads(
            job.problem,
            job.clamps,
            job.pages,
            job.seed,
            0..job.reads,
            self.threads,
            progress,
        ))
    }
}

//! One backend for every device: a machine programmed by [`pbit_driver::Driver`] over a
//! [`pbit_driver::Bus`], whatever carries the bus (the Verilated gateware's direct port, a
//! board on the UART link). The jobs are written once here; a [`Device`] only says how to
//! reach a machine that holds an instance ([`crate::verilator::VerilatedDevice`],
//! [`crate::serial::SerialDevice`]). Results are the model's bit for bit.
//!
//! The same backend runs the sparse, graph-coloured machine (`--machine sparse`,
//! [`DeviceBackend::for_sparse`]): for each job it works out the machine the instance runs on (the
//! graph it was given, else the instance's own graph coloured as the sparse model colours it:
//! [`crate::sparse_backend::machine_for`]) and asks the device for that machine
//! ([`Device::sparse_driver`]): the Verilator device builds one per graph (cached by graph
//! hash), a device on a link checks that it is that machine (kind, graph hash, spec hash).

use crate::cost::Usage;
use crate::sparse_backend::{machine_for, OnMachine};
use pbit_driver::{BatchCaps, Bus, Driver, DriverError};
use pbit_model::backend::{sample_sums_streamed, Backend, BackendError, SampleSums};
use pbit_model::jobs::{AnnealJob, RelaxJob, RelaxWant, Relaxed, SampleJob};
use pbit_model::run::ReadResult;
use pbit_model::FixedIsing;
use pbit_spec::sparse::SparseGraph;
use pbit_spec::Format;
use std::collections::HashSet;

/// How a [`DeviceBackend`] reaches a machine.
pub trait Device {
    /// The bus the driver programs the machine over.
    type Bus: Bus;
    /// Short name for reports and errors ("verilator", "serial").
    fn name(&self) -> &'static str;
    /// The fixed-point format instances are quantised to.
    fn format(&self) -> Format;
    /// The most p-bits a machine of this device holds.
    fn capacity(&self) -> usize;
    /// The driver of a machine that holds `n` ≤ [`Device::capacity`] p-bits (built or reused).
    fn driver(&mut self, n: usize) -> Result<Driver<&mut Self::Bus>, BackendError>;
    /// The batch engine of the machine for `n` p-bits (a device may remember it).
    fn batch_caps(&mut self, n: usize) -> Result<BatchCaps, BackendError> {
        let name = self.name();
        self.driver(n)?
            .batch_caps()
            .map_err(|e| device_error(name, e))
    }
    /// The driver of the sparse machine built for `graph` with maximum degree `max_degree`
    /// (None: the graph's own): built or reused, or — a device that is one machine — checked to
    /// be it (kind, graph hash and spec hash, each mismatch an error naming both sides).
    fn sparse_driver(
        &mut self,
        graph: &SparseGraph,
        max_degree: Option<usize>,
    ) -> Result<Driver<&mut Self::Bus>, BackendError> {
        let _ = (graph, max_degree);
        Err(BackendError::Unsupported {
            backend: self.name(),
            job: "sparse-machine",
        })
    }
    /// The sparse machine the device is, if it is one fixed machine: its graph's n and
    /// maximum degree D (None: machines are built per graph).
    fn sparse_limits(&mut self) -> Result<Option<(usize, usize)>, BackendError> {
        Ok(None)
    }
    /// [`Device::sparse_limits`]'s n as far as it is known without asking the device.
    fn sparse_capacity(&self) -> Option<usize> {
        None
    }
    /// Whether the device is one machine already built (a board): its machine is checked
    /// against the one a job needs, never built for it.
    fn is_built(&self) -> bool {
        false
    }
    /// What the device has moved and run so far, given the machine's busy clocks (None: no
    /// link to count).
    fn usage(&self, machine_clocks: u64) -> Option<Usage> {
        let _ = machine_clocks;
        None
    }
}

/// A driver error as the backend reports it: "<device> backend: <error>".
pub fn device_error<E: std::error::Error>(name: &str, e: DriverError<E>) -> BackendError {
    BackendError::Other(format!("{name} backend: {e}"))
}

/// Which sparse machine a [`DeviceBackend`] runs jobs on (`--machine sparse`).
pub struct SparseTarget {
    /// The graph the machine is built for (`--graph`); None: each instance's own graph,
    /// coloured as the sparse model colours it.
    pub graph: Option<SparseGraph>,
    /// The machine's maximum degree D (None: the graph's own, or the device's).
    pub max_degree: Option<usize>,
    /// Called with the machine of the first job on each graph.
    pub on_machine: Option<OnMachine>,
    seen: HashSet<u64>,
}

impl SparseTarget {
    pub fn new(graph: Option<SparseGraph>, max_degree: Option<usize>) -> Self {
        SparseTarget {
            graph,
            max_degree,
            on_machine: None,
            seen: HashSet::new(),
        }
    }
}

/// A device as a [`Backend`].
pub struct DeviceBackend<D> {
    device: D,
    /// Clocks the machine ran for the jobs so far.
    pub clocks: u64,
    /// The sparse machine's jobs (None: the dense machine).
    sparse: Option<SparseTarget>,
}

impl<D: Device> DeviceBackend<D> {
    pub fn new(device: D) -> Self {
        DeviceBackend {
            device,
            clocks: 0,
            sparse: None,
        }
    }
    /// The device running the sparse machine `target` (`--machine sparse`). A device that is
    /// one sparse machine (a board) is checked against a given graph at once; else each job's
    /// machine is checked (or built) when it runs.
    pub fn for_sparse(mut device: D, target: SparseTarget) -> Result<Self, BackendError> {
        if let Some(g) = &target.graph {
            if let Some(d) = target.max_degree {
                pbit_model::sparse::check_degree(g, d)
                    .map_err(|e| BackendError::Other(format!("the machine's graph: {e}")))?;
            }
            if device.is_built() {
                device.sparse_driver(g, target.max_degree)?;
            }
        }
        Ok(DeviceBackend {
            device,
            clocks: 0,
            sparse: Some(target),
        })
    }
    /// This backend's device, running the sparse machine `target` ([`Self::for_sparse`]).
    pub fn into_sparse(self, target: SparseTarget) -> Result<Self, BackendError> {
        DeviceBackend::for_sparse(self.device, target)
    }
    /// The sparse machine's jobs, if this backend runs them.
    pub fn sparse_target(&self) -> Option<&SparseTarget> {
        self.sparse.as_ref()
    }
    pub fn device(&self) -> &D {
        &self.device
    }
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }
    /// The driver of the machine a job on `problem` runs on: the dense machine holding its n
    /// p-bits, or the sparse machine of its graph.
    fn driver(&mut self, problem: &FixedIsing) -> Result<Driver<&mut D::Bus>, BackendError> {
        self.check_fits(problem.n)?;
        let Some(target) = &mut self.sparse else {
            return self.device.driver(problem.n);
        };
        // a device that is one sparse machine bounds the degree with its own D
        let limit = match target.max_degree {
            Some(d) => Some(d),
            None => self.device.sparse_limits()?.map(|(_, d)| d),
        };
        let (g, info) = machine_for(problem, target.graph.as_ref(), limit)?;
        if target.graph.is_some() {
            // the instance on the given graph: its size and every coupling an edge, checked
            // before a machine is built or a word sent (the driver checks again at load)
            pbit_model::sparse::Phases::new(problem, &g)
                .map_err(|e| BackendError::Other(e.to_string()))?;
        }
        if target.seen.insert(info.graph_hash) {
            if let Some(f) = &target.on_machine {
                f(&info);
            }
        }
        let d = target.max_degree;
        self.device.sparse_driver(&g, d)
    }
    fn error(&self, e: DriverError<<D::Bus as Bus>::Error>) -> BackendError {
        device_error(self.device.name(), e)
    }
}

impl<D: Device> Backend for DeviceBackend<D> {
    fn name(&self) -> &'static str {
        self.device.name()
    }
    /// The device's format; the sparse machine's jobs are quantised as the sparse model's
    /// (the machine's fields are sized for its degree and hold every instance that fits it).
    fn format(&self) -> Format {
        match self.sparse {
            None => self.device.format(),
            Some(_) => pbit_model::sparse::MODEL_FORMAT,
        }
    }
    /// The sparse machine's capacity is its graph's n (a given graph, or the device's own);
    /// machines built per instance have none.
    fn capacity(&self) -> Option<usize> {
        match &self.sparse {
            None => Some(self.device.capacity()),
            Some(t) => match &t.graph {
                Some(g) => Some(g.n()),
                None => self.device.sparse_capacity(),
            },
        }
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        let r = self.driver(job.problem)?.sample(
            job.problem,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
        );
        self.clocks += r.map_err(|e| self.error(e))?;
        Ok(())
    }
    /// On a sparse machine with on-chip statistics the sums are formed on the device
    /// ([`Driver::sample_sums`]): only the counters cross the bus, and the energies' sum is
    /// the instance's energy summed over them (every coupling is an edge of the machine's
    /// graph). Otherwise — a dense machine, a machine built without statistics, a run of
    /// more samples than its counters hold, a pair that is not an edge — every sample is
    /// streamed and summed here; the sums are the same either way.
    fn sample_sums(
        &mut self,
        job: &SampleJob,
        pairs: &[(usize, usize)],
    ) -> Result<SampleSums, BackendError> {
        let p = job.problem;
        if self.sparse.is_none() || p.n == 0 || job.spec.every == 0 {
            return sample_sums_streamed(self, job, pairs);
        }
        let name = self.device.name();
        let mut drv = self.driver(p)?;
        let bits = drv.stats_bits().map_err(|e| device_error(name, e))?;
        let graph = drv.graph().expect("a sparse machine's driver").clone();
        let edge = |i: usize, j: usize| {
            let key = (i.min(j) as u32, i.max(j) as u32);
            graph.edges().binary_search(&key).ok()
        };
        let pair_edges: Option<Vec<usize>> = pairs.iter().map(|&(i, j)| edge(i, j)).collect();
        let fits =
            job.spec.sweeps / job.spec.every <= pbit_spec::sparse_map::max_stats_samples(bits);
        let Some(pair_edges) = pair_edges.filter(|_| bits > 0 && fits) else {
            drop(drv);
            return sample_sums_streamed(self, job, pairs);
        };
        let (s, clocks) = drv
            .sample_sums(p, job.clamps, job.page, job.seed, job.spec)
            .map_err(|e| device_error(name, e))?;
        self.clocks += clocks;
        let count = s.samples as i128;
        // E = −Σ_{i<j} J_ij m_i m_j − Σ h_i m_i, summed over the samples: Σ m_i m_j = 2·agreements
        // − count on edge (i, j), Σ m_i = 2·ones − count
        let mut energy: i128 = 0;
        for i in 0..p.n {
            let (nb, js) = p.row(i);
            for (&j, &raw) in nb.iter().zip(js) {
                if j as usize > i && raw != 0 {
                    let e = edge(i, j as usize).ok_or_else(|| {
                        BackendError::Other(format!(
                            "coupling ({}, {}) is not an edge of the machine's graph",
                            i + 1,
                            j + 1
                        ))
                    })?;
                    energy -= raw as i128 * (2 * s.agreements[e] as i128 - count);
                }
            }
            energy -= p.h_raw[i] as i128 * (2 * s.ones[i] as i128 - count);
        }
        Ok(SampleSums {
            samples: s.samples,
            ones: s.ones[..p.n].to_vec(),
            energy_raw_sum: energy,
            agreements: pair_edges.iter().map(|&e| s.agreements[e]).collect(),
        })
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let r = self.driver(job.problem)?.anneal(
            job.problem,
            job.clamps,
            job.pages,
            job.seed,
            job.reads,
            progress,
        );
        let (results, clocks) = r.map_err(|e| self.error(e))?;
        self.clocks += clocks;
        Ok(results)
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let r = self.driver(job.problem)?.relax(
            job.problem,
            job.clamped,
            job.page,
            job.seed,
            job.first_read,
            job.initial,
            job.sweeps,
            out,
        );
        self.clocks += r.map_err(|e| self.error(e))?;
        Ok(())
    }
    /// The whole job as device batches where the machine has the engine (chains seeded and
    /// sums formed on the device), else chain by chain with the sums formed here; only what
    /// `want` asks for crosses the bus.
    fn relax_batch(&mut self, job: &RelaxJob, want: RelaxWant) -> Result<Relaxed, BackendError> {
        job.validate()?;
        self.check_fits(job.problem.n)?;
        let caps = match self.sparse {
            None => self.device.batch_caps(job.problem.n)?,
            // the sparse machine's own registers (it has no batch engine today: chain by chain)
            Some(_) => {
                let name = self.device.name();
                self.driver(job.problem)?
                    .batch_caps()
                    .map_err(|e| device_error(name, e))?
            }
        };
        let r = self.driver(job.problem)?.relax_batch(
            caps,
            job.problem,
            job.clamped,
            job.page,
            job.seed,
            job.first_read,
            job.initial,
            job.sweeps,
            want.finals,
            want.sums,
        );
        let r = r.map_err(|e| self.error(e))?;
        self.clocks += r.clocks;
        Ok(Relaxed {
            finals: r.finals,
            sums: r.sums,
        })
    }
}

impl<D: Device> crate::cost::Metered for DeviceBackend<D> {
    fn usage(&self) -> Option<Usage> {
        self.device.usage(self.clocks)
    }
}

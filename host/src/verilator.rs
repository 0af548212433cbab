//! The Verilator backend: the gateware's Verilog, Verilated and compiled at run time
//! (pbit-sim), running every job bit-exactly as the model does.
//!
//! The machine is built for the smallest generated size that holds the instance (or a size the
//! user fixes), on first use, and kept while jobs fit it. Instances are quantised to the
//! standard format; the machine's narrower fields hold every instance that fits it, and pages
//! are clipped to its field range, which never changes a decision.

use crate::backend::{
    device_relax, device_relax_batch, AnnealJob, Backend, BackendError, RelaxJob, RelaxWant,
    Relaxed, SampleJob,
};
use pbit_driver::DriverError;
use pbit_model::run::ReadResult;
use pbit_sim::{SimError, VerilatedMachine};
use pbit_spec::Format;

impl From<SimError> for BackendError {
    fn from(e: SimError) -> Self {
        BackendError::Other(format!("verilator backend: {e}"))
    }
}

fn sim_error(e: DriverError<SimError>) -> BackendError {
    BackendError::Other(format!("verilator backend: {e}"))
}

/// The Verilated gateware as a backend.
pub struct VerilatorBackend {
    /// The machine size asked for (None: the smallest that fits each instance).
    pub machine_n: Option<usize>,
    machine: Option<VerilatedMachine>,
    /// Clocks the machine ran for the jobs so far.
    pub clocks: u64,
}

impl VerilatorBackend {
    /// A backend whose machine is built on first use. A fixed `machine_n` must be a size the
    /// generator supports.
    pub fn new(machine_n: Option<usize>) -> Result<VerilatorBackend, BackendError> {
        if let Some(n) = machine_n {
            if !pbit_hdl::SUPPORTED_N.contains(&n) {
                return Err(BackendError::Other(format!(
                    "the gateware is generated for N in {:?}, not {n}",
                    pbit_hdl::SUPPORTED_N
                )));
            }
        }
        Ok(VerilatorBackend {
            machine_n,
            machine: None,
            clocks: 0,
        })
    }

    /// The machine for an instance of `n` p-bits, built (or taken from the cache) if needed.
    fn machine_for(&mut self, n: usize) -> Result<&mut VerilatedMachine, BackendError> {
        self.check_fits(n)?;
        let size = match self.machine_n {
            Some(size) => size,
            None => pbit_hdl::machine_size_for(n.max(1)).unwrap_or(usize::MAX),
        };
        if self.machine.as_ref().map(|m| m.n()) != Some(size) {
            self.machine = Some(VerilatedMachine::build(size)?);
        }
        Ok(self.machine.as_mut().expect("built above"))
    }

    /// [`Self::machine_for`] as a [`pbit_driver::Machine`].
    fn driver(
        &mut self,
        n: usize,
    ) -> Result<pbit_driver::Machine<&mut VerilatedMachine>, BackendError> {
        let vm = self.machine_for(n)?;
        let (size, format) = (vm.n(), vm.format());
        Ok(pbit_driver::Machine::new(vm, size, format))
    }
}

impl Backend for VerilatorBackend {
    fn name(&self) -> &'static str {
        "verilator"
    }
    fn format(&self) -> Format {
        Format::STANDARD
    }
    fn capacity(&self) -> Option<usize> {
        Some(
            self.machine_n
                .unwrap_or_else(|| pbit_hdl::SUPPORTED_N.iter().copied().max().unwrap_or(0)),
        )
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        let m = self.machine_for(job.problem.n)?;
        let clocks = m.sample(
            job.problem,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
        )?;
        self.clocks += clocks;
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let m = self.machine_for(job.problem.n)?;
        let (results, clocks) = m.anneal(
            job.problem,
            job.clamps,
            job.pages,
            job.seed,
            job.reads,
            progress,
        )?;
        self.clocks += clocks;
        Ok(results)
    }
    fn relax_batch(&mut self, job: &RelaxJob, want: RelaxWant) -> Result<Relaxed, BackendError> {
        job.validate()?;
        let mut m = self.driver(job.problem.n)?;
        let caps = m.batch_caps().map_err(sim_error)?;
        let r = device_relax_batch(&mut m, caps, job, want).map_err(sim_error)?;
        self.clocks += r.clocks;
        Ok(r.into())
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let clocks = device_relax(&mut self.driver(job.problem.n)?, job, out).map_err(sim_error)?;
        self.clocks += clocks;
        Ok(())
    }
}

/// The Verilated sparse machine as a backend (`--machine sparse --backend verilator`): built
/// for the graph given, else for each instance's own graph (coloured as the model backend
/// colours it, [`crate::sparse_backend::machine_for`]), at the maximum degree given, else the
/// graph's; a new graph is a new build (cached by its Verilog, so by graph hash).
pub struct SparseVerilatorBackend {
    pub max_degree: Option<usize>,
    pub graph: Option<pbit_spec::sparse::SparseGraph>,
    machine: Option<VerilatedMachine>,
    /// Clocks the machine ran for the jobs so far.
    pub clocks: u64,
    /// Called with the machine of each job whose graph differs from the last one's.
    pub on_machine: Option<Box<dyn Fn(&crate::sparse_backend::SparseMachineInfo) + Send>>,
}

impl SparseVerilatorBackend {
    pub fn new(max_degree: Option<usize>, graph: Option<pbit_spec::sparse::SparseGraph>) -> Self {
        SparseVerilatorBackend {
            max_degree,
            graph,
            machine: None,
            clocks: 0,
            on_machine: None,
        }
    }

    fn machine_for(
        &mut self,
        problem: &pbit_model::FixedIsing,
    ) -> Result<&mut VerilatedMachine, BackendError> {
        let (g, info) =
            crate::sparse_backend::machine_for(problem, self.graph.as_ref(), self.max_degree)?;
        let built = self.machine.as_ref().and_then(|m| m.graph()).map(|x| x.hash());
        if built != Some(g.hash()) {
            let d = self.max_degree.unwrap_or_else(|| g.max_degree()).max(1);
            if let Some(f) = &self.on_machine {
                f(&info);
            }
            self.machine = Some(VerilatedMachine::build_sparse(&g, d)?);
        }
        Ok(self.machine.as_mut().expect("built above"))
    }
}

impl Backend for SparseVerilatorBackend {
    fn name(&self) -> &'static str {
        "verilator"
    }
    /// As the sparse model backend's: the device format of the degree bound if one is known,
    /// else 32-bit fields (decisions are the same: pages are clipped to the machine's fields).
    fn format(&self) -> Format {
        let d = self
            .max_degree
            .or_else(|| self.graph.as_ref().map(|g| g.max_degree()));
        match d {
            Some(d) => pbit_spec::sparse::sparse_format(d),
            None => pbit_model::sparse::MODEL_FORMAT,
        }
    }
    fn capacity(&self) -> Option<usize> {
        self.graph.as_ref().map(|g| g.n())
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        let m = self.machine_for(job.problem)?;
        let clocks = m.sample(
            job.problem,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
        )?;
        self.clocks += clocks;
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let m = self.machine_for(job.problem)?;
        let (results, clocks) = m.anneal(
            job.problem,
            job.clamps,
            job.pages,
            job.seed,
            job.reads,
            progress,
        )?;
        self.clocks += clocks;
        Ok(results)
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let m = self.machine_for(job.problem)?;
        let clocks = m.relax(
            job.problem,
            job.clamped,
            job.page,
            job.seed,
            job.first_read,
            job.initial,
            job.sweeps,
            |c, s| out(c, s),
        )?;
        self.clocks += clocks;
        Ok(())
    }
}

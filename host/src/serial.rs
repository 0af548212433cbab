//! The serial backend: a pbit device (a board, or the simulated board on a pseudo-terminal)
//! over the UART link. Jobs are programmed by [`pbit_driver::Machine`] over the [`Link`], the
//! same sequence the Verilator backend runs over its direct port, so results are the model's
//! bit for bit. A [`Cached`] bus sits between the driver and the link: what the device already
//! holds (J, h, pages, schedule, …) is not sent again, and the copy is dropped on any error.

use crate::backend::{
    device_relax, device_relax_batch, AnnealJob, Backend, BackendError, RelaxJob, RelaxWant,
    Relaxed, SampleJob,
};
use crate::link::{Link, LinkError};
use crate::transport::Transport;
use pbit_driver::{BatchCaps, CacheStats, Cached, DriverError, Machine};
use pbit_model::run::ReadResult;
use pbit_spec::protocol::Hello;
use pbit_spec::Format;

/// The link's default baud rate (divides both boards' clocks exactly).
pub const DEFAULT_BAUD: u32 = 1_000_000;

/// A device on a link, as a backend.
pub struct SerialBackend<T: Transport = Box<dyn Transport>> {
    bus: Cached<Link<T>>,
    hello: Hello,
    /// The device's batch engine (read at its first relax job).
    batch_caps: Option<BatchCaps>,
    /// Clocks the machine ran for the jobs so far.
    pub clocks: u64,
    /// A sparse device: its graph hash, and the graph it was built for if the host was given
    /// it (`--graph`); else each instance's own graph, which must hash the same.
    sparse: Option<(u64, Option<pbit_spec::sparse::SparseGraph>)>,
}

fn backend_error(e: DriverError<LinkError>) -> BackendError {
    BackendError::Other(format!("serial backend: {e}"))
}

#[cfg(feature = "serial")]
impl SerialBackend<Box<dyn Transport>> {
    /// Opens the serial port `path` at `baud` and connects (HELLO, version and spec checks).
    pub fn open(path: &str, baud: u32) -> Result<Self, BackendError> {
        let t = crate::transport::SerialTransport::open(path, baud)
            .map_err(|e| BackendError::Other(format!("serial backend: {e}")))?;
        SerialBackend::connect(Box::new(t) as Box<dyn Transport>)
    }
}

impl<T: Transport> SerialBackend<T> {
    /// Connects over `t` and checks the device: HELLO (version, spec hash) and its registers
    /// (magic, N).
    pub fn connect(t: T) -> Result<Self, BackendError> {
        let link = Link::connect(t).map_err(|e| backend_error(DriverError::Bus(e)))?;
        SerialBackend::from_link(link)
    }

    /// A backend on a connected link.
    pub fn from_link(mut link: Link<T>) -> Result<Self, BackendError> {
        let hello = match link.device() {
            Some(h) => h,
            None => link
                .hello()
                .map_err(|e| backend_error(DriverError::Bus(e)))?,
        };
        let id = pbit_driver::identify(&mut link).map_err(backend_error)?;
        if id.n != hello.n as usize || id.format != hello.format() {
            return Err(BackendError::Other(format!(
                "serial backend: the device's HELLO (N = {}, {}) and registers (N = {}, {}) disagree",
                hello.n,
                hello.format(),
                id.n,
                id.format
            )));
        }
        Ok(SerialBackend {
            bus: Cached::new(link),
            hello,
            batch_caps: None,
            clocks: 0,
            sparse: None,
        })
    }

    /// What the device reported.
    pub fn device(&self) -> Hello {
        self.hello
    }
    /// The link (its statistics; requests sent through it directly must be followed by
    /// [`SerialBackend::invalidate`]).
    pub fn link(&mut self) -> &mut Link<T> {
        self.bus.inner()
    }
    fn bus_link(&self) -> &Link<T> {
        self.bus.inner_ref()
    }
    /// What the cache saved.
    pub fn cache_stats(&self) -> CacheStats {
        self.bus.stats
    }
    /// Forgets what the device is believed to hold: the next job writes everything.
    pub fn invalidate(&mut self) {
        pbit_driver::Bus::invalidate(&mut self.bus)
    }

    fn machine(&mut self, n: usize) -> Result<Machine<&mut Cached<Link<T>>>, BackendError> {
        self.check_fits(n)?;
        let (machine_n, format) = (self.hello.n as usize, self.hello.format());
        Ok(Machine::new(&mut self.bus, machine_n, format))
    }

    /// Runs jobs as the sparse machine (`--machine sparse`): the device must be a sparse
    /// machine, built for `graph` if given (else for each instance's own graph, checked per
    /// job); an error names both graph hashes.
    pub fn use_sparse(
        &mut self,
        graph: Option<pbit_spec::sparse::SparseGraph>,
    ) -> Result<(), BackendError> {
        let id = pbit_driver::identify_sparse(&mut self.bus).map_err(backend_error)?;
        let expected = graph.as_ref();
        pbit_spec::sparse::check_machine(
            pbit_spec::sparse::MachineKind::Sparse,
            expected,
            id.kind,
            Some(id.graph_hash),
        )
        .map_err(|e| BackendError::Other(format!("serial backend: {e}")))?;
        if let Some(g) = &graph {
            self.check_sparse_spec(g)?;
        }
        self.sparse = Some((id.graph_hash, graph));
        Ok(())
    }

    /// The device's spec hash against the sparse machine of `graph` in the device's format.
    fn check_sparse_spec(&self, graph: &pbit_spec::sparse::SparseGraph) -> Result<(), BackendError> {
        let want = pbit_spec::sparse::sparse_spec_hash(&self.hello.format(), graph);
        if want != self.hello.spec_hash {
            return Err(BackendError::Other(format!(
                "serial backend: the sparse device's spec hash {:016x} is not this host's {want:016x} for graph {:016x} (another update order, generator or activation)",
                self.hello.spec_hash,
                graph.hash()
            )));
        }
        Ok(())
    }

    /// The machine for a job's instance: the dense machine, or the sparse one with its graph.
    fn machine_of(
        &mut self,
        problem: &pbit_model::FixedIsing,
    ) -> Result<Machine<&mut Cached<Link<T>>>, BackendError> {
        let Some((hash, graph)) = &self.sparse else {
            return self.machine(problem.n);
        };
        let (g, _) = crate::sparse_backend::machine_for(problem, graph.as_ref(), None)?;
        if g.hash() != *hash {
            return Err(BackendError::Other(format!(
                "serial backend: {}",
                pbit_spec::sparse::MachineMismatch::Graph {
                    expected: g.hash(),
                    found: *hash
                }
            )));
        }
        self.check_sparse_spec(&g)?;
        let format = self.hello.format();
        Ok(Machine::sparse(&mut self.bus, g, format))
    }
}

impl<T: Transport> Backend for SerialBackend<T> {
    fn name(&self) -> &'static str {
        "serial"
    }
    /// Instances are quantised as for the model (the standard format); the device's J, h,
    /// fraction and random-word widths must match it, its field is sized for its N.
    fn format(&self) -> Format {
        let d = self.hello.format();
        Format {
            field_bits: Format::STANDARD.field_bits.max(d.field_bits),
            ..d
        }
    }
    fn capacity(&self) -> Option<usize> {
        Some(self.hello.n as usize)
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        let clocks = self
            .machine_of(job.problem)?
            .sample(
                job.problem,
                job.clamps,
                job.page,
                job.seed,
                job.spec,
                record,
            )
            .map_err(backend_error)?;
        self.clocks += clocks;
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let (results, clocks) = self
            .machine_of(job.problem)?
            .anneal(
                job.problem,
                job.clamps,
                job.pages,
                job.seed,
                job.reads,
                progress,
            )
            .map_err(backend_error)?;
        self.clocks += clocks;
        Ok(results)
    }
    fn usage(&self) -> Option<crate::link::Usage> {
        let cache = self.bus.stats;
        Some(crate::link::Usage {
            traffic: self.bus_link().stats.traffic,
            machine_clocks: self.clocks,
            words_skipped: cache.words_skipped,
            writes_skipped: cache.writes_skipped,
            baud: self.hello.baud,
            clock_hz: self.hello.clock_hz,
        })
    }
    fn relax_batch(&mut self, job: &RelaxJob, want: RelaxWant) -> Result<Relaxed, BackendError> {
        job.validate()?;
        let caps = match self.batch_caps {
            Some(c) => c,
            None => {
                let c = self
                    .machine(job.problem.n)?
                    .batch_caps()
                    .map_err(backend_error)?;
                *self.batch_caps.insert(c)
            }
        };
        let r = device_relax_batch(&mut self.machine_of(job.problem)?, caps, job, want)
            .map_err(backend_error)?;
        self.clocks += r.clocks;
        Ok(r.into())
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let clocks =
            device_relax(&mut self.machine_of(job.problem)?, job, out).map_err(backend_error)?;
        self.clocks += clocks;
        Ok(())
    }
}

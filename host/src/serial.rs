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
    /// The device's batch engine (zero chains: none), read once.
    pub fn batch_caps(&mut self) -> Result<BatchCaps, BackendError> {
        if let Some(c) = self.batch_caps {
            return Ok(c);
        }
        let n = self.hello.n as usize;
        let c = self.machine(n)?.batch_caps().map_err(backend_error)?;
        Ok(*self.batch_caps.insert(c))
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
            .machine(job.problem.n)?
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
            .machine(job.problem.n)?
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
        self.check_fits(job.problem.n)?;
        let caps = self.batch_caps()?;
        let r = device_relax_batch(&mut self.machine(job.problem.n)?, caps, job, want)
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
            device_relax(&mut self.machine(job.problem.n)?, job, out).map_err(backend_error)?;
        self.clocks += clocks;
        Ok(())
    }
}

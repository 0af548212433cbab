//! A pbit device (a board, or the simulated board on a pseudo-terminal) over the UART link, as
//! a [`DeviceBackend`]: jobs are programmed by [`pbit_driver::Driver`] over the [`Link`], the
//! same sequence the Verilator backend runs over its direct port, so results are the model's
//! bit for bit. A [`Cached`] bus sits between the driver and the link: what the device already
//! holds (J, h, pages, schedule, …) is not sent again, and the copy is dropped on any error.

use crate::cost::Usage;
use crate::device::{device_error, Device, DeviceBackend};
use crate::link::{Link, LinkError};
use crate::transport::Transport;
use pbit_driver::{BatchCaps, CacheStats, Cached, Driver, DriverError, SparseIdentity};
use pbit_model::BackendError;
use pbit_spec::protocol::Hello;
use pbit_spec::sparse::{sparse_spec_hash, MachineMismatch, SparseGraph};
use pbit_spec::Format;

/// The link's default baud rate (divides both boards' clocks exactly).
pub const DEFAULT_BAUD: u32 = 1_000_000;

/// A device on a link: the driver's cache over the link, and what the device reported.
pub struct SerialDevice<T: Transport = Box<dyn Transport>> {
    bus: Cached<Link<T>>,
    hello: Hello,
    /// The device's batch engine (read at its first relax job).
    batch_caps: Option<BatchCaps>,
    /// A sparse device's identity (kind, colours, D, graph hash); None: a dense device.
    sparse: Option<SparseIdentity>,
}

/// A device on a link, as a backend.
pub type SerialBackend<T = Box<dyn Transport>> = DeviceBackend<SerialDevice<T>>;

fn link_error(e: LinkError) -> BackendError {
    device_error("serial", DriverError::Bus(e))
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
        SerialBackend::from_link(Link::connect(t).map_err(link_error)?)
    }

    /// A backend on a connected link.
    pub fn from_link(mut link: Link<T>) -> Result<Self, BackendError> {
        let hello = match link.device() {
            Some(h) => h,
            None => link.hello().map_err(link_error)?,
        };
        let id = pbit_driver::identify(&mut link).map_err(|e| device_error("serial", e))?;
        if id.n != hello.n as usize || id.format != hello.format() {
            return Err(BackendError::Other(format!(
                "serial backend: the device's HELLO (N = {}, {}) and registers (N = {}, {}) disagree",
                hello.n,
                hello.format(),
                id.n,
                id.format
            )));
        }
        // a device whose spec hash is not the dense machine's of its format is a sparse one
        // (Link::connect refuses any other); only then are the sparse identity registers read
        let sparse = if hello.spec_hash == pbit_spec::hash::spec_hash(&hello.format()) {
            None
        } else {
            let s =
                pbit_driver::identify_sparse(&mut link).map_err(|e| device_error("serial", e))?;
            (s.kind == pbit_spec::sparse::MachineKind::Sparse).then_some(s)
        };
        Ok(DeviceBackend::new(SerialDevice {
            bus: Cached::new(link),
            hello,
            batch_caps: None,
            sparse,
        }))
    }

    /// What the device reported.
    pub fn hello(&self) -> Hello {
        self.device().hello
    }
    /// A sparse device's identity (None: the device is a dense machine).
    pub fn sparse_identity(&self) -> Option<SparseIdentity> {
        self.device().sparse
    }
    /// The link (its statistics; requests sent through it directly must be followed by
    /// [`SerialBackend::invalidate`]).
    pub fn link(&mut self) -> &mut Link<T> {
        self.device_mut().bus.inner()
    }
    /// What the cache saved.
    pub fn cache_stats(&self) -> CacheStats {
        self.device().bus.stats
    }
    /// The device's batch engine (zero chains: none), read once.
    pub fn batch_caps(&mut self) -> Result<BatchCaps, BackendError> {
        let n = self.hello().n as usize;
        self.device_mut().batch_caps(n)
    }
    /// Forgets what the device is believed to hold: the next job writes everything.
    pub fn invalidate(&mut self) {
        pbit_driver::Bus::invalidate(&mut self.device_mut().bus)
    }
}

impl<T: Transport> Device for SerialDevice<T> {
    type Bus = Cached<Link<T>>;

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
    fn capacity(&self) -> usize {
        self.hello.n as usize
    }
    /// The dense machine: a sparse device is refused, naming both spec hashes.
    fn driver(&mut self, _n: usize) -> Result<Driver<&mut Self::Bus>, BackendError> {
        if let Some(id) = self.sparse {
            return Err(BackendError::Other(format!(
                "serial backend: the device is a sparse machine (n {}, max degree {}, {} colours, graph {:016x}; spec hash {:016x}), not the dense machine this job needs (spec hash {:016x} for its format); add --machine sparse",
                self.hello.n,
                id.max_degree,
                id.colours,
                id.graph_hash,
                self.hello.spec_hash,
                pbit_spec::hash::spec_hash(&self.hello.format()),
            )));
        }
        let (machine_n, format) = (self.hello.n as usize, self.hello.format());
        Ok(Driver::new(&mut self.bus, machine_n, format))
    }
    /// The device, checked to be the sparse machine of `graph`: a sparse device (else both
    /// spec hashes are named), built for that graph (both graph hashes), with the spec hash
    /// this host computes for that graph in the device's format. The device's own degree D
    /// is its build's; `max_degree` is not the device's to change.
    fn sparse_driver(
        &mut self,
        graph: &SparseGraph,
        _max_degree: Option<usize>,
    ) -> Result<Driver<&mut Self::Bus>, BackendError> {
        let format = self.hello.format();
        let want = sparse_spec_hash(&format, graph);
        let Some(id) = self.sparse else {
            return Err(BackendError::Other(format!(
                "serial backend: the device is a dense machine (N = {}, spec hash {:016x}), but --machine sparse needs the sparse machine of graph {:016x} (spec hash {want:016x}); serve or flash a sparse build of that graph (pbit sim serve --machine sparse --graph FILE, pbit hdl build --machine sparse --graph FILE), or drop --machine sparse",
                self.hello.n,
                self.hello.spec_hash,
                graph.hash(),
            )));
        };
        if id.graph_hash != graph.hash() {
            return Err(BackendError::Other(format!(
                "serial backend: {} (device spec hash {:016x}, this instance's machine {want:016x})",
                MachineMismatch::Graph {
                    expected: graph.hash(),
                    found: id.graph_hash
                },
                self.hello.spec_hash,
            )));
        }
        if want != self.hello.spec_hash {
            return Err(BackendError::Other(format!(
                "serial backend: the sparse device's spec hash {:016x} is not this host's {want:016x} for graph {:016x} in its format {format} (another update order, generator, activation or layout)",
                self.hello.spec_hash,
                graph.hash()
            )));
        }
        Ok(Driver::sparse(&mut self.bus, graph.clone(), format))
    }
    fn sparse_limits(&mut self) -> Result<Option<(usize, usize)>, BackendError> {
        Ok(self
            .sparse
            .map(|id| (self.hello.n as usize, id.max_degree as usize)))
    }
    fn sparse_capacity(&self) -> Option<usize> {
        self.sparse.map(|_| self.hello.n as usize)
    }
    fn is_built(&self) -> bool {
        true
    }
    /// Read once: every job after the first saves the round trip.
    fn batch_caps(&mut self, n: usize) -> Result<BatchCaps, BackendError> {
        if let Some(c) = self.batch_caps {
            return Ok(c);
        }
        let c = self
            .driver(n)?
            .batch_caps()
            .map_err(|e| device_error("serial", e))?;
        Ok(*self.batch_caps.insert(c))
    }
    fn usage(&self, machine_clocks: u64) -> Option<Usage> {
        let cache = self.bus.stats;
        Some(Usage {
            traffic: self.bus.inner_ref().stats.traffic,
            machine_clocks,
            words_skipped: cache.words_skipped,
            writes_skipped: cache.writes_skipped,
            baud: self.hello.baud,
            clock_hz: self.hello.clock_hz,
        })
    }
}

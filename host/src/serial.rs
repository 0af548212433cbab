//! A pbit device (a board, or the simulated board on a pseudo-terminal) over the UART link, as
//! a [`DeviceBackend`]: jobs are programmed by [`pbit_driver::Machine`] over the [`Link`], the
//! same sequence the Verilator backend runs over its direct port, so results are the model's
//! bit for bit. A [`Cached`] bus sits between the driver and the link: what the device already
//! holds (J, h, pages, schedule, …) is not sent again, and the copy is dropped on any error.

use crate::cost::Usage;
use crate::device::{device_error, Device, DeviceBackend};
use crate::link::{Link, LinkError};
use crate::transport::Transport;
use pbit_driver::{BatchCaps, CacheStats, Cached, DriverError, Machine};
use pbit_model::BackendError;
use pbit_spec::protocol::Hello;
use pbit_spec::Format;

/// The link's default baud rate (divides both boards' clocks exactly).
pub const DEFAULT_BAUD: u32 = 1_000_000;

/// A device on a link: the driver's cache over the link, and what the device reported.
pub struct SerialDevice<T: Transport = Box<dyn Transport>> {
    bus: Cached<Link<T>>,
    hello: Hello,
    /// The device's batch engine (read at its first relax job).
    batch_caps: Option<BatchCaps>,
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
        Ok(DeviceBackend::new(SerialDevice {
            bus: Cached::new(link),
            hello,
            batch_caps: None,
        }))
    }

    /// What the device reported.
    pub fn hello(&self) -> Hello {
        self.device().hello
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
    fn machine(&mut self, _n: usize) -> Result<Machine<&mut Self::Bus>, BackendError> {
        let (machine_n, format) = (self.hello.n as usize, self.hello.format());
        Ok(Machine::new(&mut self.bus, machine_n, format))
    }
    /// Read once: every job after the first saves the round trip.
    fn batch_caps(&mut self, n: usize) -> Result<BatchCaps, BackendError> {
        if let Some(c) = self.batch_caps {
            return Ok(c);
        }
        let c = self
            .machine(n)?
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

//! Transports: how bytes reach a device. The protocol client ([`crate::link`]) sees only the
//! [`Transport`] trait, so it runs unchanged over a serial port, a pseudo-terminal, an
//! in-memory pipe (unit tests), a wrapper that injects faults, or the simulated board in this
//! process ([`BoardTransport`], whose clock measures what the link costs a real board).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Why bytes could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[cfg(feature = "serial")]
    #[error("cannot open serial port {port}: {error}")]
    Open {
        port: String,
        error: serialport::Error,
    },
    #[cfg(feature = "serial")]
    #[error("serial port: {0}")]
    Serial(#[from] serialport::Error),
    #[error("link I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the other end of the link is closed")]
    Closed,
}

/// A byte pipe to a device.
pub trait Transport: Send {
    /// Writes all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
    /// Reads what has arrived into `buf`, waiting at most `timeout` for the first byte.
    /// Returns 0 if nothing arrived in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// The line rate in bits per second, if the transport has one (timeouts scale with it).
    fn baud(&self) -> Option<u32> {
        None
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        (**self).write_all(bytes)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        (**self).read(buf, timeout)
    }
    fn baud(&self) -> Option<u32> {
        (**self).baud()
    }
}

/// A serial port (or pseudo-terminal) in raw mode, 8N1, no flow control.
#[cfg(feature = "serial")]
pub struct SerialTransport {
    port: Box<dyn serialport::SerialPort>,
    baud: u32,
}

#[cfg(feature = "serial")]
impl SerialTransport {
    /// Opens `path` at `baud`, 8N1, raw.
    pub fn open(path: &str, baud: u32) -> Result<SerialTransport, TransportError> {
        let port = serialport::new(path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(10))
            .open()
            .map_err(|error| TransportError::Open {
                port: path.to_string(),
                error,
            })?;
        Ok(SerialTransport { port, baud })
    }

    /// Wraps an already open port (e.g. one end of `serialport::TTYPort::pair()`), setting
    /// 8N1 and `baud`.
    pub fn from_port(
        mut port: Box<dyn serialport::SerialPort>,
        baud: u32,
    ) -> Result<SerialTransport, TransportError> {
        port.set_baud_rate(baud)?;
        port.set_data_bits(serialport::DataBits::Eight)?;
        port.set_parity(serialport::Parity::None)?;
        port.set_stop_bits(serialport::StopBits::One)?;
        port.set_flow_control(serialport::FlowControl::None)?;
        Ok(SerialTransport { port, baud })
    }
}

#[cfg(feature = "serial")]
impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        std::io::Write::write_all(&mut self.port, bytes)?;
        std::io::Write::flush(&mut self.port)?;
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))?;
        match std::io::Read::read(&mut self.port, buf) {
            Ok(0) => Err(TransportError::Closed),
            Ok(k) => Ok(k),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
    fn baud(&self) -> Option<u32> {
        Some(self.baud)
    }
}

/// One direction of an in-memory pipe.
#[derive(Default)]
struct Pipe {
    bytes: Mutex<(VecDeque<u8>, bool)>,
    ready: Condvar,
}

/// One end of an in-memory byte pipe (see [`MemoryTransport::pair`]).
pub struct MemoryTransport {
    tx: Arc<Pipe>,
    rx: Arc<Pipe>,
    baud: Option<u32>,
}

impl MemoryTransport {
    /// Two connected ends: what one writes, the other reads.
    pub fn pair() -> (MemoryTransport, MemoryTransport) {
        let (a, b) = (Arc::new(Pipe::default()), Arc::new(Pipe::default()));
        (
            MemoryTransport {
                tx: a.clone(),
                rx: b.clone(),
                baud: None,
            },
            MemoryTransport {
                tx: b,
                rx: a,
                baud: None,
            },
        )
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        for pipe in [&self.tx, &self.rx] {
            if let Ok(mut g) = pipe.bytes.lock() {
                g.1 = true;
            }
            pipe.ready.notify_all();
        }
    }
}

impl Transport for MemoryTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let mut g = self.tx.bytes.lock().map_err(|_| TransportError::Closed)?;
        if g.1 {
            return Err(TransportError::Closed);
        }
        g.0.extend(bytes);
        self.tx.ready.notify_all();
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let deadline = Instant::now() + timeout;
        let mut g = self.rx.bytes.lock().map_err(|_| TransportError::Closed)?;
        loop {
            if !g.0.is_empty() {
                let k = buf.len().min(g.0.len());
                for (slot, b) in buf.iter_mut().zip(g.0.drain(..k)) {
                    *slot = b;
                }
                return Ok(k);
            }
            if g.1 {
                return Err(TransportError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            g = self
                .rx
                .ready
                .wait_timeout(g, deadline - now)
                .map_err(|_| TransportError::Closed)?
                .0;
        }
    }
    fn baud(&self) -> Option<u32> {
        self.baud
    }
}

/// Fault rates of a [`FaultyTransport`], per byte (0.0 ..= 1.0).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// A byte's value replaced by a random other value.
    pub corrupt: f64,
    /// A byte lost.
    pub drop: f64,
    /// A byte sent twice.
    pub duplicate: f64,
}

impl Faults {
    pub const NONE: Faults = Faults {
        corrupt: 0.0,
        drop: 0.0,
        duplicate: 0.0,
    };
}

/// What a [`FaultyTransport`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub corrupted: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// Bytes that passed through (either way).
    pub bytes: u64,
}

impl FaultCounts {
    pub fn total(&self) -> u64 {
        self.corrupted + self.dropped + self.duplicated
    }
}

/// A transport that corrupts, drops and duplicates bytes at seeded random positions, on the
/// way out (host → device) and on the way in (device → host) at separate rates.
pub struct FaultyTransport<T> {
    inner: T,
    /// Faults on written bytes.
    pub outgoing: Faults,
    /// Faults on read bytes.
    pub incoming: Faults,
    rng: u64,
    counts: Arc<Mutex<FaultCounts>>,
}

impl<T: Transport> FaultyTransport<T> {
    pub fn new(inner: T, seed: u64, outgoing: Faults, incoming: Faults) -> Self {
        FaultyTransport {
            inner,
            outgoing,
            incoming,
            rng: seed,
            counts: Arc::default(),
        }
    }
    /// A handle on the counts of faults made so far (shared: it stays valid after the
    /// transport moved into a link).
    pub fn counts(&self) -> Arc<Mutex<FaultCounts>> {
        self.counts.clone()
    }

    fn uniform(&mut self) -> f64 {
        self.rng = pbit_spec::rng::splitmix64(self.rng);
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn mangle(&mut self, bytes: &[u8], faults: Faults) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + 4);
        let mut c = FaultCounts::default();
        for &b in bytes {
            c.bytes += 1;
            if self.uniform() < faults.drop {
                c.dropped += 1;
                continue;
            }
            let mut v = b;
            if self.uniform() < faults.corrupt {
                self.rng = pbit_spec::rng::splitmix64(self.rng);
                v ^= (self.rng as u8).max(1);
                c.corrupted += 1;
            }
            out.push(v);
            if self.uniform() < faults.duplicate {
                out.push(v);
                c.duplicated += 1;
            }
        }
        if let Ok(mut g) = self.counts.lock() {
            g.corrupted += c.corrupted;
            g.dropped += c.dropped;
            g.duplicated += c.duplicated;
            g.bytes += c.bytes;
        }
        out
    }
}

impl<T: Transport> Transport for FaultyTransport<T> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let out = self.mangle(bytes, self.outgoing);
        self.inner.write_all(&out)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        // read into a smaller window so a duplicated byte still fits `buf`
        let half = (buf.len() / 2).max(1);
        let mut raw = vec![0u8; half];
        let k = self.inner.read(&mut raw, timeout)?;
        let out = self.mangle(&raw[..k], self.incoming);
        let k = out.len().min(buf.len());
        buf[..k].copy_from_slice(&out[..k]);
        Ok(k)
    }
    fn baud(&self) -> Option<u32> {
        self.inner.baud()
    }
}

/// The simulated board (pbit-sim's [`pbit_sim::board::Board`]: the core top in Verilator, its
/// UART pins driven bit by bit) in this process, run in simulated time: a read of `timeout`
/// simulates up to `timeout` of the board's clock and returns at the first byte the board
/// sends. The host's own time costs the board nothing, so [`BoardTransport::seconds`] is what
/// the same traffic takes on a real board with an ideal host and line (no USB-serial
/// latency): the line time of every byte, the device's handling of every request and the
/// machine's runs, exactly.
#[cfg(feature = "verilator")]
pub struct BoardTransport {
    board: pbit_sim::board::Board,
    rx: VecDeque<u8>,
}

#[cfg(feature = "verilator")]
impl BoardTransport {
    pub fn new(board: pbit_sim::board::Board) -> Self {
        BoardTransport {
            board,
            rx: VecDeque::new(),
        }
    }
    /// Simulated seconds since the board was built.
    pub fn seconds(&self) -> f64 {
        self.board.seconds()
    }
    pub fn board(&mut self) -> &mut pbit_sim::board::Board {
        &mut self.board
    }
}

#[cfg(feature = "verilator")]
impl Transport for BoardTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.board.write(bytes);
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.rx.is_empty() {
            let clocks = (timeout.as_secs_f64() * self.board.clock_hz() as f64).ceil() as u64;
            // a byte at a time: the host reacts when the byte it waits for has arrived
            self.rx.extend(self.board.run_until(clocks.max(1), 1));
        }
        let k = self.rx.len().min(buf.len());
        for (b, x) in buf.iter_mut().zip(self.rx.drain(..k)) {
            *b = x;
        }
        Ok(k)
    }
    fn baud(&self) -> Option<u32> {
        Some(self.board.baud())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_pair_moves_bytes_both_ways_and_times_out() {
        let (mut a, mut b) = MemoryTransport::pair();
        a.write_all(b"hello").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(b.read(&mut buf, Duration::from_millis(10)).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        let t = Instant::now();
        assert_eq!(b.read(&mut buf, Duration::from_millis(20)).unwrap(), 0);
        assert!(t.elapsed() >= Duration::from_millis(20));
        b.write_all(&[1, 2]).unwrap();
        assert_eq!(a.read(&mut buf, Duration::ZERO).unwrap(), 2);
        drop(b);
        assert!(matches!(
            a.read(&mut buf, Duration::from_millis(5)),
            Err(TransportError::Closed)
        ));
    }

    #[test]
    fn faults_are_seeded_and_counted() {
        let run = |seed| {
            let (a, mut b) = MemoryTransport::pair();
            let faults = Faults {
                corrupt: 0.05,
                drop: 0.05,
                duplicate: 0.05,
            };
            let mut f = FaultyTransport::new(a, seed, faults, Faults::NONE);
            let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
            f.write_all(&data).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let k = b.read(&mut buf, Duration::from_millis(5)).unwrap();
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
            let c = *f.counts().lock().unwrap();
            (got, c)
        };
        let (g1, c1) = run(7);
        let (g2, c2) = run(7);
        assert_eq!((g1.clone(), c1), (g2, c2));
        assert_eq!(c1.bytes, 2000);
        // ~100 of each at 5%
        for k in [c1.corrupted, c1.dropped, c1.duplicated] {
            assert!((50..200).contains(&k), "{c1:?}");
        }
        assert_eq!(g1.len() as u64, 2000 - c1.dropped + c1.duplicated);
        assert_ne!(run(8).0, g1);
    }
}

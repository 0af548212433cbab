//! The protocol client: a pbit device behind a [`Transport`], spoken to in the frames of
//! [`pbit_spec::frame`] with the requests of [`pbit_spec::protocol`].
//!
//! * One request in flight (the device's receive buffer holds one frame); bulk reads and
//!   writes are split into [`MAX_WORDS`]-word requests.
//! * Every new request gets a new sequence number. A request whose reply does not come within
//!   its timeout, or that the device answers with ERROR(bad frame), is sent again with the
//!   same sequence number: the device executes it at most once and repeats its cached reply.
//!   After [`MAX_ATTEMPTS`] sends the request fails with [`LinkError::Timeout`].
//! * Timeouts are [`REPLY_TIMEOUT`] plus [`WIRE_TIME_FACTOR`] times the time the request and
//!   its reply take on the wire at the link's baud rate; any frame from the device (a sample
//!   queued ahead of the reply) restarts the wait. A silent device gives a timeout, never a hang.
//! * A run streams SAMPLE frames numbered from 0. A gap, a duplicate that is not a repeat, or
//!   a final count that disagrees with the device's STATUS is an error, never a silent skip;
//!   after such an error the client stops the machine, so the next command finds it idle.
//! * On connect the client checks the protocol version and the device's spec hash against
//!   this host's [`pbit_spec::hash::spec_hash`] of the device's format, and refuses a
//!   mismatched board.

use crate::transport::{Transport, TransportError};
use pbit_spec::frame::{Deframer, FrameError, Message, MAX_PAYLOAD, OVERHEAD};
use pbit_spec::memory_map as mm;
use pbit_spec::protocol::{self as p, Hello, Status, MAX_WORDS, PROTOCOL_VERSION};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Time a device may take to turn a request around, on top of the bytes' time on the wire
/// (covers the FTDI latency timer, 16 ms by default, a loaded host, and the simulated board,
/// which runs slower than real time).
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(500);
/// Margin on the wire time of a request and its reply (the simulated board moves bytes up to
/// several times slower than the line rate it simulates).
pub const WIRE_TIME_FACTOR: u32 = 10;
/// Sends of one request before giving up.
pub const MAX_ATTEMPTS: u32 = 5;
/// Bits on the wire per byte (8N1).
pub const BITS_PER_BYTE: u32 = 10;
/// How long connect() discards stale bytes (a previous session's leftovers).
pub const DRAIN_TIME: Duration = Duration::from_millis(20);
/// Quiet time before the second STATUS poll of a run (the first follows RUN's reply at
/// once); doubles up to [`STATUS_POLL_MAX`].
pub const STATUS_POLL_MIN: Duration = Duration::from_millis(1);
pub const STATUS_POLL_MAX: Duration = Duration::from_millis(50);
/// A running machine whose sweep and sample counters stay still this long is hung.
pub const RUN_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Margin on a batch's expected run time before the device counts as hung
/// ([`pbit_driver::Bus::run_budget`]): the STATUS round trips after it ends (a few ms each
/// through a USB-serial bridge) and a host that was descheduled for a while.
pub const RUN_GRACE: Duration = Duration::from_secs(2);

/// Why the link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("no valid reply to {request} after {attempts} attempts ({timeout_ms} ms timeout each; {rejected} answered ERROR(bad frame)): is the device connected, powered, at this baud rate, and the line clean?")]
    Timeout {
        request: &'static str,
        attempts: u32,
        timeout_ms: u64,
        /// Sends the device reported as corrupted frames.
        rejected: u32,
    },
    #[error("the device refused {request}: {name} (code {code}, detail {detail:#x})")]
    Device {
        request: &'static str,
        code: u8,
        name: &'static str,
        detail: u32,
    },
    #[error("the device's reply to {request} is malformed: {reason}")]
    BadReply {
        request: &'static str,
        reason: String,
    },
    #[error("the device speaks protocol version {device}; this host speaks {host}")]
    Version { device: u16, host: u16 },
    #[error("spec mismatch: the device reports spec hash {device_hash:#018x} for its format ({format}), but this host's spec gives {host_hash:#018x} for that format: the gateware was built from another spec; rebuild it from this host's sources (or use the host that matches it)")]
    SpecMismatch {
        device_hash: u64,
        host_hash: u64,
        format: pbit_spec::Format,
    },
    #[error("sample stream: expected sample {expected}, got {got} ({corrupted} corrupted frame(s) since the last good sample): a sample was lost")]
    SampleGap {
        expected: u32,
        got: u32,
        corrupted: u32,
    },
    #[error("sample stream: the device sent {device} samples, {received} arrived intact ({corrupted} corrupted frame(s)): a sample was lost")]
    SampleLost {
        device: u32,
        received: u32,
        corrupted: u32,
    },
    #[error("sample {number} is malformed ({len} payload bytes)")]
    BadSample { number: u32, len: usize },
    #[error("the machine has made no progress for {seconds} s while busy (sweeps {sweeps}): hung")]
    Stalled { seconds: f64, sweeps: u32 },
}

/// Counters of what the link did (for tests, fault reports and throughput figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub requests: u64,
    /// Requests sent again (timeout or ERROR(bad frame)).
    pub retries: u64,
    /// Frames from the device that failed their CRC or framing check.
    pub bad_frames: u64,
    /// Replies to earlier requests (or earlier sends) that were ignored.
    pub stale_replies: u64,
    /// ERROR(bad frame) replies: the device saw a corrupted frame.
    pub device_bad_frames: u64,
    /// Repeated sample frames ignored (a sample already delivered).
    pub duplicate_samples: u64,
    /// Sample frames outside a run, ignored.
    pub stray_samples: u64,
    pub samples: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Payload bytes of requests sent and of frames received.
    pub payload_out: u64,
    pub payload_in: u64,
    /// The same traffic by kind of request (bytes and frames each way, round trips).
    pub traffic: Traffic,
}

/// What a frame on the link was for: requests by opcode, WRITE and READ by the region of
/// their address, and the device's SAMPLE frames. [`Traffic`] counts per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Hello,
    Status,
    Run,
    Stop,
    /// WRITE of registers (control, active count, steps, sampling).
    WriteRegs,
    WriteJ,
    WriteH,
    /// WRITE of the generators (RNG region).
    WriteRng,
    WriteState,
    WriteClamps,
    WritePages,
    WriteSchedule,
    /// WRITE of the batch engine's chain buffer (a batch's initial states).
    WriteChains,
    /// WRITE elsewhere (a read-only region: the device refuses it).
    WriteOther,
    ReadRegs,
    ReadState,
    ReadBest,
    /// READ of the chain buffer (a batch's final states).
    ReadChains,
    /// READ of the batch engine's correlation sums.
    ReadSums,
    /// READ of any other region (sample, field, generators, …).
    ReadOther,
    /// SAMPLE frames from the device (no request).
    Sample,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 21] = [
        Kind::Hello,
        Kind::Status,
        Kind::Run,
        Kind::Stop,
        Kind::WriteRegs,
        Kind::WriteJ,
        Kind::WriteH,
        Kind::WriteRng,
        Kind::WriteState,
        Kind::WriteClamps,
        Kind::WritePages,
        Kind::WriteSchedule,
        Kind::WriteChains,
        Kind::WriteOther,
        Kind::ReadRegs,
        Kind::ReadState,
        Kind::ReadBest,
        Kind::ReadChains,
        Kind::ReadSums,
        Kind::ReadOther,
        Kind::Sample,
    ];

    /// Short name for reports ("write_j", "sample", …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Status => "status",
            Kind::Run => "run",
            Kind::Stop => "stop",
            Kind::WriteRegs => "write_regs",
            Kind::WriteJ => "write_j",
            Kind::WriteH => "write_h",
            Kind::WriteRng => "write_rng",
            Kind::WriteState => "write_state",
            Kind::WriteClamps => "write_clamps",
            Kind::WritePages => "write_pages",
            Kind::WriteSchedule => "write_schedule",
            Kind::WriteChains => "write_chains",
            Kind::WriteOther => "write_other",
            Kind::ReadRegs => "read_regs",
            Kind::ReadState => "read_state",
            Kind::ReadBest => "read_best",
            Kind::ReadChains => "read_chains",
            Kind::ReadSums => "read_sums",
            Kind::ReadOther => "read_other",
            Kind::Sample => "sample",
        }
    }

    /// The kind of a request with `opcode` and `payload` (WRITE/READ by their address).
    pub fn of_request(opcode: u8, payload: &[u8]) -> Kind {
        let region = payload
            .get(..4)
            .and_then(|a| a.try_into().ok())
            .map(|a: [u8; 4]| u32::from_be_bytes(a) >> mm::REGION_SHIFT);
        match (opcode, region) {
            (p::HELLO, _) => Kind::Hello,
            (p::RUN, _) => Kind::Run,
            (p::STOP, _) => Kind::Stop,
            (p::WRITE, Some(mm::REGION_REGS)) => Kind::WriteRegs,
            (p::WRITE, Some(mm::REGION_J)) => Kind::WriteJ,
            (p::WRITE, Some(mm::REGION_H)) => Kind::WriteH,
            (p::WRITE, Some(mm::REGION_RNG)) => Kind::WriteRng,
            (p::WRITE, Some(mm::REGION_STATE)) => Kind::WriteState,
            (p::WRITE, Some(mm::REGION_CLAMPS)) => Kind::WriteClamps,
            (p::WRITE, Some(mm::REGION_PAGES)) => Kind::WritePages,
            (p::WRITE, Some(mm::REGION_SCHEDULE)) => Kind::WriteSchedule,
            (p::WRITE, Some(mm::REGION_CHAINS)) => Kind::WriteChains,
            (p::WRITE, _) => Kind::WriteOther,
            (p::READ, Some(mm::REGION_REGS)) => Kind::ReadRegs,
            (p::READ, Some(mm::REGION_STATE)) => Kind::ReadState,
            (p::READ, Some(mm::REGION_BEST_STATE)) => Kind::ReadBest,
            (p::READ, Some(mm::REGION_CHAINS)) => Kind::ReadChains,
            (p::READ, Some(mm::REGION_SUMS)) => Kind::ReadSums,
            (p::READ, _) => Kind::ReadOther,
            // STATUS, and anything else a caller might send
            _ => Kind::Status,
        }
    }
}

/// Traffic of one [`Kind`]: what went over the wire for it, both ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindStats {
    /// Requests made (round trips); for [`Kind::Sample`], samples delivered.
    pub requests: u64,
    /// Frames sent (requests plus their resends).
    pub frames_out: u64,
    /// Bytes sent on the wire (COBS frames with delimiters, resends included).
    pub bytes_out: u64,
    /// Good frames received for this kind (replies, errors, samples).
    pub frames_in: u64,
    /// Bytes of those frames on the wire.
    pub bytes_in: u64,
    /// Words carried: written (WRITE), read (READ) or state words (SAMPLE).
    pub words: u64,
}

impl KindStats {
    fn add(&mut self, o: &KindStats) {
        self.requests += o.requests;
        self.frames_out += o.frames_out;
        self.bytes_out += o.bytes_out;
        self.frames_in += o.frames_in;
        self.bytes_in += o.bytes_in;
        self.words += o.words;
    }
    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.bytes_out + self.bytes_in
    }
}

/// Per-kind traffic of a link (see [`Kind`]); subtract two snapshots for an interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub kinds: [KindStats; Kind::ALL.len()],
}

impl Traffic {
    pub fn get(&self, k: Kind) -> &KindStats {
        &self.kinds[k as usize]
    }
    fn get_mut(&mut self, k: Kind) -> &mut KindStats {
        &mut self.kinds[k as usize]
    }
    /// All kinds together.
    pub fn total(&self) -> KindStats {
        let mut t = KindStats::default();
        self.kinds.iter().for_each(|k| t.add(k));
        t
    }
    /// Round trips: requests answered (samples need none).
    pub fn round_trips(&self) -> u64 {
        self.total().requests - self.get(Kind::Sample).requests
    }
    /// `self − earlier`, kind by kind.
    pub fn since(&self, earlier: &Traffic) -> Traffic {
        let mut d = *self;
        for (a, b) in d.kinds.iter_mut().zip(&earlier.kinds) {
            a.requests -= b.requests;
            a.frames_out -= b.frames_out;
            a.bytes_out -= b.bytes_out;
            a.frames_in -= b.frames_in;
            a.bytes_in -= b.bytes_in;
            a.words -= b.words;
        }
        d
    }
    /// The kinds with any traffic, by name (for JSON reports).
    pub fn by_name(&self) -> std::collections::BTreeMap<&'static str, KindStats> {
        Kind::ALL
            .iter()
            .filter(|&&k| *self.get(k) != KindStats::default())
            .map(|&k| (k.name(), *self.get(k)))
            .collect()
    }
}

/// Bytes of `m` on the wire (COBS frame and delimiter): the encoding is deterministic, so this
/// is exactly what arrived for a good frame.
fn frame_bytes(m: &Message) -> u64 {
    m.encode().len() as u64
}

/// A run's sample stream in progress.
struct RunState<'a> {
    expected: u32,
    corrupted: u32,
    on_sample: &'a mut dyn FnMut(u32, i32, &[u32]),
    error: Option<LinkError>,
}

/// A device behind a transport.
pub struct Link<T> {
    t: T,
    seq: u8,
    deframer: Deframer,
    pending: VecDeque<Result<Message, FrameError>>,
    buf: Vec<u8>,
    hello: Option<Hello>,
    pub stats: LinkStats,
    /// How long a busy machine may make no progress ([`RUN_STALL_TIMEOUT`]).
    pub stall_timeout: Duration,
    /// Multiplies every reply timeout (1 for a board; more for a device slower than its line
    /// rate, such as a large simulated board at a low baud rate).
    pub timeout_scale: u32,
}

fn request_name(opcode: u8) -> &'static str {
    match opcode {
        p::HELLO => "HELLO",
        p::WRITE => "WRITE",
        p::READ => "READ",
        p::RUN => "RUN",
        p::STOP => "STOP",
        p::STATUS => "STATUS",
        _ => "request",
    }
}

/// Bytes on the wire of a frame of `payload` bytes, at most (COBS adds one per 254).
fn wire_len(payload: usize) -> usize {
    let raw = payload + OVERHEAD;
    raw + raw / 254 + 2
}

impl<T: Transport> Link<T> {
    /// A link without a handshake (see [`Link::connect`]).
    pub fn new(t: T) -> Link<T> {
        // start from a sequence number unlikely to be the one the device cached from a
        // previous session (a clash is detected anyway: see `transact`)
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Link {
            t,
            seq: (seed ^ seed >> 8 ^ seed >> 16) as u8,
            deframer: Deframer::new(),
            pending: VecDeque::new(),
            buf: vec![0; 4096],
            hello: None,
            stats: LinkStats::default(),
            stall_timeout: RUN_STALL_TIMEOUT,
            timeout_scale: 1,
        }
    }

    /// Opens the session: discards stale bytes, asks HELLO, checks the protocol version and
    /// the spec hash, and stops a run a previous session left going.
    pub fn connect(t: T) -> Result<Link<T>, LinkError> {
        Link::connect_scaled(t, 1)
    }

    /// [`Link::connect`] with every reply timeout multiplied by `timeout_scale`.
    pub fn connect_scaled(t: T, timeout_scale: u32) -> Result<Link<T>, LinkError> {
        let mut link = Link::new(t);
        link.timeout_scale = timeout_scale;
        link.drain(DRAIN_TIME)?;
        let hello = link.hello()?;
        if let Err(e) = check_hello(&hello) {
            // a sparse machine's spec hash names its graph: the sparse backend checks it
            // against the graph it runs (`SerialBackend::use_sparse`)
            let sparse = matches!(e, LinkError::SpecMismatch { .. })
                && pbit_driver::identify_sparse(&mut link)
                    .is_ok_and(|s| s.kind == pbit_spec::sparse::MachineKind::Sparse);
            if !sparse {
                return Err(e);
            }
        }
        let status = link.status()?;
        if status.status & mm::STATUS_BUSY != 0 {
            link.stop()?;
        }
        Ok(link)
    }

    /// What HELLO reported (after [`Link::connect`] or [`Link::hello`]).
    pub fn device(&self) -> Option<Hello> {
        self.hello
    }
    pub fn transport(&mut self) -> &mut T {
        &mut self.t
    }
    pub fn into_transport(self) -> T {
        self.t
    }

    /// Discards whatever arrives for `time`.
    pub fn drain(&mut self, time: Duration) -> Result<(), LinkError> {
        let deadline = Instant::now() + time;
        while let Some(_frame) = self.next_frame(deadline)? {}
        self.pending.clear();
        self.deframer = Deframer::new();
        Ok(())
    }

    /// Time to wait for the reply to a request of `request` payload bytes whose reply carries
    /// `reply` payload bytes.
    pub fn reply_timeout(&self, request: usize, reply: usize) -> Duration {
        let bytes = (wire_len(request) + wire_len(reply)) as u64;
        let wire = match self.t.baud() {
            Some(baud) if baud > 0 => Duration::from_micros(
                bytes * BITS_PER_BYTE as u64 * 1_000_000 * WIRE_TIME_FACTOR as u64 / baud as u64,
            ),
            _ => Duration::ZERO,
        };
        (REPLY_TIMEOUT + wire) * self.timeout_scale.max(1)
    }

    fn next_frame(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Result<Message, FrameError>>, LinkError> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Ok(Some(f));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let k = self.t.read(&mut self.buf, deadline - now)?;
            self.stats.bytes_in += k as u64;
            for i in 0..k {
                if let Some(r) = self.deframer.push(self.buf[i]) {
                    self.pending.push_back(r);
                }
            }
        }
    }

    /// Handles a SAMPLE frame.
    fn on_sample(&mut self, m: &Message, run: &mut Option<&mut RunState>) {
        let t = self.stats.traffic.get_mut(Kind::Sample);
        t.frames_in += 1;
        t.bytes_in += frame_bytes(m);
        let Some(run) = run.as_deref_mut() else {
            self.stats.stray_samples += 1;
            return;
        };
        if run.error.is_some() {
            return;
        }
        let Some(s) = p::Sample::decode(&m.payload) else {
            run.error = Some(LinkError::BadSample {
                number: run.expected,
                len: m.payload.len(),
            });
            return;
        };
        if s.number == run.expected {
            run.expected = run.expected.wrapping_add(1);
            run.corrupted = 0;
            self.stats.samples += 1;
            let t = self.stats.traffic.get_mut(Kind::Sample);
            t.requests += 1;
            t.words += s.state_words.len() as u64;
            (run.on_sample)(s.number, s.energy_raw, &s.state_words);
        } else if s.number < run.expected {
            self.stats.duplicate_samples += 1;
        } else {
            run.error = Some(LinkError::SampleGap {
                expected: run.expected,
                got: s.number,
                corrupted: run.corrupted,
            });
        }
    }

    /// Sends a request and returns its reply, retrying per the module's rules; SAMPLE frames
    /// that arrive meanwhile go to `run`.
    fn transact(
        &mut self,
        opcode: u8,
        payload: Vec<u8>,
        reply_len: usize,
        mut run: Option<&mut RunState>,
    ) -> Result<Message, LinkError> {
        let request = request_name(opcode);
        let kind = Kind::of_request(opcode, &payload);
        self.seq = self.seq.wrapping_add(1);
        self.stats.requests += 1;
        self.stats.traffic.get_mut(kind).requests += 1;
        let timeout = self.reply_timeout(payload.len(), reply_len);
        let payload_len = payload.len() as u64;
        let mut msg = Message {
            opcode,
            seq: self.seq,
            payload,
        };
        let mut wire = msg.encode();
        let mut rejected = 0;
        for attempt in 1..=MAX_ATTEMPTS {
            if attempt > 1 {
                self.stats.retries += 1;
            }
            self.t.write_all(&wire)?;
            self.stats.bytes_out += wire.len() as u64;
            self.stats.payload_out += payload_len;
            let t = self.stats.traffic.get_mut(kind);
            t.frames_out += 1;
            t.bytes_out += wire.len() as u64;
            let mut deadline = Instant::now() + timeout;
            'wait: loop {
                let frame = match self.next_frame(deadline)? {
                    None => break 'wait,
                    Some(f) => f,
                };
                let m = match frame {
                    Err(_) => {
                        // a reply or a sample: a lost sample shows as a gap, a lost reply as
                        // a timeout
                        self.stats.bad_frames += 1;
                        if let Some(r) = run.as_deref_mut() {
                            r.corrupted += 1;
                        }
                        continue;
                    }
                    Ok(m) => m,
                };
                self.stats.payload_in += m.payload.len() as u64;
                deadline = deadline.max(Instant::now() + timeout);
                if m.opcode == p::SAMPLE {
                    self.on_sample(&m, &mut run);
                    continue;
                }
                // replies, errors and stale replies: bytes this exchange cost
                let t = self.stats.traffic.get_mut(kind);
                t.frames_in += 1;
                t.bytes_in += frame_bytes(&m);
                if m.opcode == p::ERROR {
                    let code = m.payload.first().copied().unwrap_or(0);
                    let detail = m
                        .payload
                        .get(1..5)
                        .and_then(|d| d.try_into().ok())
                        .map(u32::from_be_bytes)
                        .unwrap_or(0);
                    if code == p::ERR_BAD_FRAME {
                        // the device saw a corrupted frame, perhaps this request: send again
                        self.stats.device_bad_frames += 1;
                        rejected += 1;
                        break 'wait;
                    }
                    if m.seq == msg.seq {
                        return Err(LinkError::Device {
                            request,
                            code,
                            name: p::error_name(code),
                            detail,
                        });
                    }
                    self.stats.stale_replies += 1;
                    continue;
                }
                if m.seq != msg.seq {
                    self.stats.stale_replies += 1;
                    continue;
                }
                if m.opcode != p::reply_opcode(opcode) {
                    // the device repeated a cached reply of another request that had this
                    // sequence number (a previous session's): it did not execute ours, so
                    // ours goes again under a new number
                    self.stats.stale_replies += 1;
                    self.seq = self.seq.wrapping_add(1);
                    msg.seq = self.seq;
                    wire = msg.encode();
                    break 'wait;
                }
                let words = match opcode {
                    p::WRITE => payload_len.saturating_sub(4) / 4,
                    p::READ => m.payload.len() as u64 / 4,
                    _ => 0,
                };
                self.stats.traffic.get_mut(kind).words += words;
                return Ok(m);
            }
        }
        Err(LinkError::Timeout {
            request,
            attempts: MAX_ATTEMPTS,
            timeout_ms: timeout.as_millis() as u64,
            rejected,
        })
    }

    /// HELLO: what the device is. Does not check it (see [`check_hello`]).
    pub fn hello(&mut self) -> Result<Hello, LinkError> {
        let m = self.transact(p::HELLO, Vec::new(), Hello::LEN, None)?;
        let h = Hello::decode(&m.payload).ok_or_else(|| LinkError::BadReply {
            request: "HELLO",
            reason: format!("{} bytes, expected {}", m.payload.len(), Hello::LEN),
        })?;
        self.hello = Some(h);
        Ok(h)
    }

    /// STATUS.
    pub fn status(&mut self) -> Result<Status, LinkError> {
        self.status_in(None)
    }

    fn status_in(&mut self, run: Option<&mut RunState>) -> Result<Status, LinkError> {
        let m = self.transact(p::STATUS, Vec::new(), Status::LEN, run)?;
        Status::decode(&m.payload).ok_or_else(|| LinkError::BadReply {
            request: "STATUS",
            reason: format!("{} bytes, expected {}", m.payload.len(), Status::LEN),
        })
    }

    /// STOP: ends a run at the end of the current update.
    pub fn stop(&mut self) -> Result<(), LinkError> {
        self.transact(p::STOP, Vec::new(), 0, None)?;
        Ok(())
    }

    /// Writes `words` at `addr`, `addr + 1`, … in requests of at most [`MAX_WORDS`] words.
    pub fn write_words(&mut self, addr: u32, words: &[u32]) -> Result<(), LinkError> {
        for (k, chunk) in words.chunks(MAX_WORDS).enumerate() {
            let a = addr.wrapping_add((k * MAX_WORDS) as u32);
            let m = self.transact(p::WRITE, p::write_payload(a, chunk), 2, None)?;
            let count = match m.payload[..] {
                [hi, lo] => u16::from_be_bytes([hi, lo]) as usize,
                _ => usize::MAX,
            };
            if count != chunk.len() {
                return Err(LinkError::BadReply {
                    request: "WRITE",
                    reason: format!(
                        "{} words acknowledged of {} (payload {:?})",
                        count,
                        chunk.len(),
                        m.payload
                    ),
                });
            }
        }
        Ok(())
    }

    /// Reads `count` words from `addr`, `addr + 1`, … in requests of at most [`MAX_WORDS`].
    pub fn read_words(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, LinkError> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let k = (count - out.len()).min(MAX_WORDS);
            let a = addr.wrapping_add(out.len() as u32);
            let m = self.transact(p::READ, p::read_payload(a, k as u16), 4 * k, None)?;
            match p::words(&m.payload) {
                Some(w) if w.len() == k => out.extend(w),
                _ => {
                    return Err(LinkError::BadReply {
                        request: "READ",
                        reason: format!("{} bytes for {k} words", m.payload.len()),
                    })
                }
            }
        }
        Ok(out)
    }

    /// Runs the loaded schedule and streams its samples to `on_sample(number, energy_raw,
    /// state_words)` until the machine is idle. Every sample arrives, in order, or the run
    /// fails (and the machine is stopped).
    pub fn run_stream(
        &mut self,
        on_sample: &mut dyn FnMut(u32, i32, &[u32]),
    ) -> Result<(), LinkError> {
        self.run_stream_expecting(None, on_sample)
    }

    /// [`Link::run_stream`] of a run that records exactly `expect` samples, the last at its
    /// last sweep (`Some`): the run is over when that sample has arrived, without a STATUS
    /// (the machine stops after its last sweep; only that sample was waiting, and it has been
    /// sent). If it does not come within a poll interval (a corrupted frame, a long run),
    /// STATUS is asked as usual and a lost sample is an error as always.
    pub fn run_stream_expecting(
        &mut self,
        expect: Option<u32>,
        on_sample: &mut dyn FnMut(u32, i32, &[u32]),
    ) -> Result<(), LinkError> {
        let mut run = RunState {
            expected: 0,
            corrupted: 0,
            on_sample,
            error: None,
        };
        let result = self.run_inner(&mut run, expect);
        let result = match (result, run.error.take()) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        };
        if result.is_err() {
            // leave the machine idle for the next command (best effort: the link may be down)
            let _ = self.stop();
            let _ = self.drain(DRAIN_TIME);
        }
        result
    }

    fn run_inner(&mut self, run: &mut RunState, expect: Option<u32>) -> Result<(), LinkError> {
        self.transact(p::RUN, Vec::new(), 0, Some(run))?;
        // The first STATUS goes right after RUN's reply: a short run (a relax chain: a few
        // hundred clocks) is over by then, and waiting for a quiet line first would cost every
        // run STATUS_POLL_MIN of idle wire. Later polls back off. A run whose samples are
        // known waits for them first, as long as for a reply (a device slower than real time,
        // like the simulated board, must not turn every such run into a STATUS poll); only a
        // lost sample or a long run gets to STATUS.
        let mut poll = match expect {
            Some(_) => self.reply_timeout(0, MAX_PAYLOAD),
            None => Duration::ZERO,
        };
        let done = |run: &RunState| expect.is_some_and(|k| run.expected == k);
        let mut progress = (Instant::now(), u32::MAX, u32::MAX);
        loop {
            if done(run) && run.error.is_none() {
                return Ok(());
            }
            // take the samples that stream, until the line is quiet for `poll`
            let mut quiet = true;
            loop {
                let deadline = Instant::now() + poll;
                match self.next_frame(deadline)? {
                    None => break,
                    Some(Err(_)) => {
                        self.stats.bad_frames += 1;
                        run.corrupted += 1;
                    }
                    Some(Ok(m)) => {
                        self.stats.payload_in += m.payload.len() as u64;
                        quiet = false;
                        if m.opcode == p::SAMPLE {
                            self.on_sample(&m, &mut Some(&mut *run));
                        } else {
                            self.stats.stale_replies += 1;
                        }
                    }
                }
                if run.error.is_some() || done(run) {
                    return Ok(());
                }
            }
            let status = self.status_in(Some(run))?;
            if run.error.is_some() {
                return Ok(());
            }
            // over when the machine is idle and its last sample was taken by the decoder
            if status.status & (mm::STATUS_BUSY | mm::STATUS_SAMPLE_VALID) == 0 {
                if status.samples > run.expected {
                    // the last samples may still be on the wire: wait one reply time
                    let deadline = Instant::now() + self.reply_timeout(0, MAX_PAYLOAD);
                    while run.expected < status.samples && run.error.is_none() {
                        match self.next_frame(deadline)? {
                            None => break,
                            Some(Err(_)) => {
                                self.stats.bad_frames += 1;
                                run.corrupted += 1;
                            }
                            Some(Ok(m)) if m.opcode == p::SAMPLE => {
                                self.on_sample(&m, &mut Some(&mut *run))
                            }
                            Some(Ok(_)) => self.stats.stale_replies += 1,
                        }
                    }
                }
                if run.error.is_none() && status.samples != run.expected {
                    return Err(LinkError::SampleLost {
                        device: status.samples,
                        received: run.expected,
                        corrupted: run.corrupted,
                    });
                }
                return Ok(());
            }
            if (status.sweeps, status.samples) != (progress.1, progress.2) {
                progress = (Instant::now(), status.sweeps, status.samples);
            } else if progress.0.elapsed() > self.stall_timeout {
                return Err(LinkError::Stalled {
                    seconds: self.stall_timeout.as_secs_f64(),
                    sweeps: status.sweeps,
                });
            }
            poll = if quiet {
                (poll * 2).clamp(STATUS_POLL_MIN, STATUS_POLL_MAX)
            } else {
                STATUS_POLL_MIN
            };
        }
    }
}

/// Checks a device's HELLO: the protocol version, and the spec hash against this host's spec
/// for the device's format.
pub fn check_hello(h: &Hello) -> Result<(), LinkError> {
    if h.version != PROTOCOL_VERSION {
        return Err(LinkError::Version {
            device: h.version,
            host: PROTOCOL_VERSION,
        });
    }
    let host_hash = pbit_spec::hash::spec_hash(&h.format());
    if host_hash != h.spec_hash {
        return Err(LinkError::SpecMismatch {
            device_hash: h.spec_hash,
            host_hash,
            format: h.format(),
        });
    }
    Ok(())
}

impl<T: Transport> pbit_driver::Bus for Link<T> {
    type Error = LinkError;
    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), LinkError> {
        self.write_words(addr, words)
    }
    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, LinkError> {
        self.read_words(addr, count)
    }
    /// Waits `clocks` of the device's clock (from its HELLO) on the line: frames arriving
    /// meanwhile are kept for the next request.
    fn pause(&mut self, clocks: u64) -> Result<(), LinkError> {
        let Some(hz) = self.hello.map(|h| h.clock_hz).filter(|&hz| hz > 0) else {
            return Ok(());
        };
        let wait = Duration::from_nanos(clocks.saturating_mul(1_000_000_000) / hz as u64);
        let deadline = Instant::now() + wait;
        // one read of the whole wait while nothing arrives (a simulated board's transport
        // simulates exactly the time asked for); on bytes, the rest of it
        let mut left = wait;
        while !left.is_zero() {
            let k = self.t.read(&mut self.buf, left)?;
            if k == 0 {
                break;
            }
            self.stats.bytes_in += k as u64;
            for i in 0..k {
                if let Some(r) = self.deframer.push(self.buf[i]) {
                    self.pending.push_back(r);
                }
            }
            left = deadline.saturating_duration_since(Instant::now());
        }
        Ok(())
    }
    /// The time `clocks` take at the device's clock (from its HELLO), plus a quarter and
    /// [`RUN_GRACE`] for the round trips around it, times the link's timeout scale (a
    /// simulated board runs slower than real time). None before HELLO or for a clock of 0.
    fn run_budget(&self, clocks: u64) -> Option<Duration> {
        let hz = self.hello.map(|h| h.clock_hz).filter(|&hz| hz > 0)?;
        let run = Duration::from_secs_f64(clocks as f64 / hz as f64);
        Some((run + run / 4 + RUN_GRACE) * self.timeout_scale.max(1))
    }
    fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), LinkError> {
        self.run_stream(on_sample)
    }
    fn run_expecting(
        &mut self,
        samples: u32,
        on_sample: &mut dyn FnMut(u32, i32, &[u32]),
    ) -> Result<(), LinkError> {
        self.run_stream_expecting(Some(samples), on_sample)
    }
}

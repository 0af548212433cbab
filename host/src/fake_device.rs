//! A scripted fake device (in the manner of probe-rs's fake probe): it speaks the wire
//! protocol over any [`Transport`] with a plain word memory behind it, and misbehaves on cue,
//! so the protocol client's handling of every fault can be tested without hardware.
//!
//! It implements the device's side of the contract: CRC check before acting, ERROR(bad frame)
//! for a corrupted frame, exactly-once execution (a repeated sequence number gets the cached
//! reply), and a run that streams SAMPLE frames numbered from 0 and reports its count in
//! STATUS. What it does to each new request, and to a run's samples, follows its script.

use crate::transport::Transport;
use pbit_spec::frame::{Deframer, Message};
use pbit_spec::memory_map as mm;
use pbit_spec::protocol::{self as p, Hello, Status};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the fake does with one new request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Execute and reply.
    Normal,
    /// Lose the request: neither execute nor reply.
    Lose,
    /// Execute, but the reply is lost.
    Silent,
    /// Execute, and corrupt one byte of the reply.
    CorruptReply,
    /// Execute and send the reply twice.
    DuplicateReply,
    /// Claim the frame was corrupted: ERROR(bad frame), no execution.
    BadFrame,
    /// Execute, but reply with a STATUS reply (a reply of the wrong kind).
    WrongReply,
    /// Refuse with ERROR(machine busy), no execution.
    Busy,
}

/// How a run's samples go out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunScript {
    /// Samples the run produces.
    pub samples: u32,
    /// STATUS polls that report busy before the run is over.
    pub busy_polls: u32,
    /// Sample numbers never sent (a gap).
    pub skip: Vec<u32>,
    /// Sample numbers whose frame gets a corrupted byte.
    pub corrupt: Vec<u32>,
    /// Sample numbers sent twice.
    pub duplicate: Vec<u32>,
    /// The machine never finishes (STATUS busy forever, counters still).
    pub hang: bool,
}

/// A fake device's configuration and counters.
pub struct FakeDevice {
    pub hello: Hello,
    pub mem: HashMap<u32, u32>,
    /// Actions for the next new requests, in order; `Normal` once it is empty.
    pub script: VecDeque<Action>,
    /// Scripts of the next runs; a run without one produces no sample.
    pub runs: VecDeque<RunScript>,
    /// State words in each sample.
    pub sample_words: usize,
    /// Requests executed, per opcode (exactly-once is checked against these).
    pub executed: HashMap<u8, u32>,
    /// Repeated sequence numbers answered from the cache.
    pub cache_hits: u32,
    /// Frames that failed their check.
    pub bad_frames: u32,
    /// Don't answer at all (a dead board).
    pub mute: bool,
    last: Option<(u8, Vec<u8>)>,
    run: Option<(RunScript, u32)>,
    sweeps: u32,
    run_start_sweeps: u32,
    samples_sent: u32,
    rng: u64,
}

impl FakeDevice {
    /// A device of `n` p-bits in `format`, reporting the right spec hash.
    pub fn new(n: u32, format: pbit_spec::Format) -> FakeDevice {
        FakeDevice {
            hello: Hello {
                version: p::PROTOCOL_VERSION,
                n,
                frac_bits: format.frac_bits as u8,
                j_bits: format.j_bits as u8,
                h_bits: format.h_bits as u8,
                field_bits: format.field_bits as u8,
                rng_bits: format.rng_bits as u8,
                spec_hash: pbit_spec::hash::spec_hash(&format),
                clock_hz: 25_000_000,
                baud: 1_000_000,
            },
            mem: HashMap::new(),
            script: VecDeque::new(),
            runs: VecDeque::new(),
            sample_words: mm::state_words(n) as usize,
            executed: HashMap::new(),
            cache_hits: 0,
            bad_frames: 0,
            mute: false,
            last: None,
            run: None,
            sweeps: 0,
            run_start_sweeps: 0,
            samples_sent: 0,
            rng: 0x5eed,
        }
    }

    /// The state words of sample `k` (a fixed pattern the tests recompute).
    pub fn sample_state(k: u32, words: usize) -> Vec<u32> {
        (0..words as u32)
            .map(|w| k.wrapping_mul(0x9E37_79B9) ^ w)
            .collect()
    }
    /// The energy of sample `k`.
    pub fn sample_energy(k: u32) -> i32 {
        -(k as i32) * 3
    }

    /// Sweeps of the loaded schedule (the steps' counts, wrapping like the device's counter).
    fn schedule_sweeps(&self) -> u32 {
        let steps = self
            .mem
            .get(&mm::reg(mm::REG_N_STEPS))
            .copied()
            .unwrap_or(0)
            .min(mm::MAX_STEPS);
        (0..steps)
            .map(|s| {
                self.mem
                    .get(&mm::schedule_sweeps_addr(s))
                    .copied()
                    .unwrap_or(0)
            })
            .fold(0u32, u32::wrapping_add)
    }

    fn executed(&mut self, opcode: u8) {
        *self.executed.entry(opcode).or_default() += 1;
    }

    /// Executes a request; returns the reply payload (or an error code and detail).
    fn execute(&mut self, m: &Message) -> Result<(u8, Vec<u8>), (u8, u32)> {
        self.executed(m.opcode);
        let busy = self.run.as_ref().is_some();
        match m.opcode {
            p::HELLO => Ok((p::reply_opcode(p::HELLO), self.hello.encode())),
            p::WRITE => {
                if m.payload.len() < 8 || !m.payload.len().is_multiple_of(4) {
                    return Err((p::ERR_BAD_LENGTH, m.payload.len() as u32));
                }
                if busy {
                    return Err((p::ERR_BUSY, 0));
                }
                let addr = u32::from_be_bytes(m.payload[..4].try_into().unwrap_or_default());
                let words = p::words(&m.payload[4..]).unwrap_or_default();
                for (k, w) in words.iter().enumerate() {
                    self.mem.insert(addr.wrapping_add(k as u32), *w);
                }
                Ok((
                    p::reply_opcode(p::WRITE),
                    (words.len() as u16).to_be_bytes().to_vec(),
                ))
            }
            p::READ => {
                if m.payload.len() != 6 {
                    return Err((p::ERR_BAD_LENGTH, m.payload.len() as u32));
                }
                let addr = u32::from_be_bytes(m.payload[..4].try_into().unwrap_or_default());
                let count = u16::from_be_bytes([m.payload[4], m.payload[5]]) as u32;
                let mut out = Vec::new();
                for k in 0..count {
                    let a = addr.wrapping_add(k);
                    let v = match a {
                        a if a == mm::reg(mm::REG_MAGIC) => mm::MAGIC,
                        a if a == mm::reg(mm::REG_N) => self.hello.n,
                        a if a == mm::reg(mm::REG_FORMAT) => {
                            let h = &self.hello;
                            u32::from_le_bytes([h.frac_bits, h.j_bits, h.h_bits, h.field_bits])
                        }
                        a if a == mm::reg(mm::REG_FORMAT2) => self.hello.rng_bits as u32 | 32 << 8,
                        a if a == mm::reg(mm::REG_SPEC_HASH_LO) => self.hello.spec_hash as u32,
                        a if a == mm::reg(mm::REG_SPEC_HASH_HI) => {
                            (self.hello.spec_hash >> 32) as u32
                        }
                        a if a == mm::reg(mm::REG_SAMPLES) => self.samples_sent,
                        a if a == mm::reg(mm::REG_SWEEPS) => self.sweeps,
                        _ => self.mem.get(&a).copied().unwrap_or(0),
                    };
                    out.extend_from_slice(&v.to_be_bytes());
                }
                Ok((p::reply_opcode(p::READ), out))
            }
            p::RUN => {
                if busy {
                    return Err((p::ERR_BUSY, 0));
                }
                self.run = Some((self.runs.pop_front().unwrap_or_default(), 0));
                self.run_start_sweeps = self.sweeps;
                self.samples_sent = 0;
                Ok((p::reply_opcode(p::RUN), Vec::new()))
            }
            p::STOP => {
                self.run = None;
                Ok((p::reply_opcode(p::STOP), Vec::new()))
            }
            p::STATUS => {
                let busy = match &mut self.run {
                    Some((script, polls)) => {
                        if script.hang {
                            true
                        } else if *polls < script.busy_polls {
                            *polls += 1;
                            self.sweeps += 1;
                            true
                        } else {
                            false
                        }
                    }
                    None => false,
                };
                if !busy {
                    if let Some((script, _)) = self.run.take() {
                        // a run that ended did its schedule's sweeps, as the machine counts them
                        if !script.hang {
                            self.sweeps =
                                self.run_start_sweeps.wrapping_add(self.schedule_sweeps());
                        }
                    }
                }
                let s = Status {
                    status: if busy { mm::STATUS_BUSY } else { 0 },
                    sweeps: self.sweeps,
                    samples: self.samples_sent,
                    energy_raw: 0,
                    best_energy_raw: 0,
                    clocks: 0,
                };
                Ok((p::reply_opcode(p::STATUS), s.encode()))
            }
            op => Err((p::ERR_UNKNOWN_OPCODE, op as u32)),
        }
    }

    fn corrupt(&mut self, frame: &mut [u8]) {
        self.rng = pbit_spec::rng::splitmix64(self.rng);
        let i = (self.rng % (frame.len() as u64 - 1)) as usize;
        frame[i] ^= 0x40;
        if frame[i] == 0 {
            frame[i] = 0x55;
        }
    }

    /// The SAMPLE frames of a run just started.
    fn stream(&mut self) -> Vec<u8> {
        let Some((script, _)) = self.run.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for k in 0..script.samples {
            self.samples_sent += 1;
            if script.skip.contains(&k) {
                continue;
            }
            let s = p::Sample {
                number: k,
                energy_raw: Self::sample_energy(k),
                state_words: Self::sample_state(k, self.sample_words),
            };
            let mut f = Message {
                opcode: p::SAMPLE,
                seq: k as u8,
                payload: s.encode(),
            }
            .encode();
            if script.corrupt.contains(&k) {
                self.corrupt(&mut f);
            }
            out.extend_from_slice(&f);
            if script.duplicate.contains(&k) {
                out.extend_from_slice(&f);
            }
        }
        out
    }

    /// Answers one frame; returns the bytes to send.
    fn answer(&mut self, frame: Result<Message, pbit_spec::frame::FrameError>) -> Vec<u8> {
        if self.mute {
            return Vec::new();
        }
        let m = match frame {
            Err(_) => {
                self.bad_frames += 1;
                let payload = [vec![p::ERR_BAD_FRAME], 0u32.to_be_bytes().to_vec()].concat();
                return Message {
                    opcode: p::ERROR,
                    seq: 0,
                    payload,
                }
                .encode();
            }
            Ok(m) => m,
        };
        if let Some((seq, reply)) = &self.last {
            if *seq == m.seq {
                self.cache_hits += 1;
                return reply.clone();
            }
        }
        let action = self.script.pop_front().unwrap_or(Action::Normal);
        match action {
            Action::Lose => return Vec::new(),
            Action::Busy => {
                let payload = [vec![p::ERR_BUSY], 0u32.to_be_bytes().to_vec()].concat();
                let wire = Message {
                    opcode: p::ERROR,
                    seq: m.seq,
                    payload,
                }
                .encode();
                self.last = Some((m.seq, wire.clone()));
                return wire;
            }
            Action::BadFrame => {
                self.bad_frames += 1;
                let payload = [vec![p::ERR_BAD_FRAME], 0u32.to_be_bytes().to_vec()].concat();
                return Message {
                    opcode: p::ERROR,
                    seq: 0,
                    payload,
                }
                .encode();
            }
            _ => {}
        }
        let starts_run = m.opcode == p::RUN && self.run.is_none();
        let reply = match self.execute(&m) {
            Ok((opcode, payload)) => Message {
                opcode,
                seq: m.seq,
                payload,
            },
            Err((code, detail)) => Message {
                opcode: p::ERROR,
                seq: m.seq,
                payload: [vec![code], detail.to_be_bytes().to_vec()].concat(),
            },
        };
        let reply = match action {
            Action::WrongReply => Message {
                opcode: p::reply_opcode(p::STATUS),
                ..reply
            },
            _ => reply,
        };
        let wire = reply.encode();
        self.last = Some((m.seq, wire.clone()));
        let mut out = match action {
            Action::Silent => Vec::new(),
            Action::CorruptReply => {
                let mut w = wire.clone();
                self.corrupt(&mut w);
                w
            }
            Action::DuplicateReply => [wire.clone(), wire].concat(),
            _ => wire,
        };
        if starts_run && self.run.is_some() {
            out.extend(self.stream());
            // like the machine, a run with nothing scripted to keep it busy is over once its
            // samples are out (a RUN may follow without a STATUS in between)
            if let Some((script, 0)) = &self.run {
                if script.busy_polls == 0 && !script.hang {
                    self.run = None;
                    self.sweeps = self.run_start_sweeps.wrapping_add(self.schedule_sweeps());
                }
            }
        }
        out
    }

    /// Serves `t` until `stop` is set or the other end closes; returns the device (with its
    /// counters).
    pub fn serve<T: Transport>(mut self, mut t: T, stop: Arc<AtomicBool>) -> FakeDevice {
        let mut d = Deframer::new();
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let k = match t.read(&mut buf, Duration::from_millis(5)) {
                Ok(k) => k,
                Err(_) => break,
            };
            for &b in &buf[..k] {
                if let Some(frame) = d.push(b) {
                    let out = self.answer(frame);
                    if !out.is_empty() && t.write_all(&out).is_err() {
                        return self;
                    }
                }
            }
        }
        self
    }

    /// Serves `t` on a thread; the handle stops it and returns the device.
    pub fn spawn<T: Transport + 'static>(self, t: T) -> FakeHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || self.serve(t, s));
        FakeHandle { stop, thread }
    }
}

/// A fake device serving on a thread.
pub struct FakeHandle {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<FakeDevice>,
}

impl FakeHandle {
    /// Stops the device and returns it.
    pub fn finish(self) -> FakeDevice {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.join() {
            Ok(d) => d,
            Err(e) => std::panic::resume_unwind(e),
        }
    }
}

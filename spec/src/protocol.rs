//! The wire protocol between a host and a pbit device, over the framing of [`crate::frame`].
//!
//! Written once here; the gateware's command decoder and the host's client both take their
//! opcodes, error codes, limits and payload layouts from this module. docs/protocol.md says the
//! same for someone writing their own host.
//!
//! * Requests (host → device) and their replies share a sequence number; a reply's opcode is the
//!   request's with bit 7 set ([`reply_opcode`]). Numbers are big-endian.
//! * The device acts on a request only after its frame passed the CRC. It remembers the
//!   sequence number and reply of the last request it executed; a request carrying that same
//!   sequence number again is not executed a second time, its reply is sent again. So a host
//!   that retries after a timeout or an error gets exactly-once execution, provided it uses a new
//!   sequence number for every new request.
//! * Flow control: the host keeps one request in flight (a window of one frame of at most
//!   [`crate::frame::MAX_PAYLOAD`] bytes, which the device's receive buffer holds whole), so it
//!   never overruns the device. Bulk writes are split into [`MAX_WORDS`]-word requests.
//! * Samples stream from the device as [`SAMPLE`] frames while a run records samples. Each
//!   carries a 32-bit sample number counting from 0 at every run, so a lost or corrupted sample
//!   is a gap the host detects. The machine stalls while the transmitter is busy: samples are
//!   never dropped by the device.
//! * A frame that fails its CRC or framing check is answered with an [`ERROR`] frame (code
//!   [`ERR_BAD_FRAME`], sequence number 0, since the frame's own cannot be trusted); the host
//!   resends its request.

/// Version the device reports in [`HELLO`]'s reply.
pub const PROTOCOL_VERSION: u16 = 2;

/// Request: who are you? Reply payload: [`Hello`].
pub const HELLO: u8 = 0x01;
/// Request: write words. Payload: address u32, then 1..=[`MAX_WORDS`] words u32 written to
/// address, address+1, … (the memory map's word addresses). Reply payload: word count u16.
pub const WRITE: u8 = 0x02;
/// Request: read words. Payload: address u32, count u16 (1..=[`MAX_WORDS`]). Reply payload:
/// the words.
pub const READ: u8 = 0x03;
/// Request: start the loaded schedule (as `CTRL_RUN`). Reply payload: empty. Samples follow as
/// [`SAMPLE`] frames; the run's end is seen in [`STATUS`].
pub const RUN: u8 = 0x04;
/// Request: stop a run at the end of the current update (as `CTRL_STOP`). Reply: empty.
pub const STOP: u8 = 0x05;
/// Request: status. Reply payload: [`Status`].
pub const STATUS: u8 = 0x06;

/// Device-initiated: one sample. Sequence byte: low 8 bits of the sample number. Payload:
/// sample number u32, raw energy i32, then the state words (bit b of word w = p-bit 32w+b).
pub const SAMPLE: u8 = 0x90;
/// Device → host: a request could not be executed. Payload: code u8, detail u32.
pub const ERROR: u8 = 0xFF;

/// Bit set in a reply's opcode.
pub const REPLY_BIT: u8 = 0x80;

/// The opcode of the reply to `request`.
pub const fn reply_opcode(request: u8) -> u8 {
    request | REPLY_BIT
}

/// Most words in one WRITE or READ (1 KiB of words, the frame's payload limit less headers).
pub const MAX_WORDS: usize = 240;

/// Error: a frame failed its CRC, COBS or length check (detail: 0).
pub const ERR_BAD_FRAME: u8 = 1;
/// Error: unknown opcode (detail: the opcode).
pub const ERR_UNKNOWN_OPCODE: u8 = 2;
/// Error: a payload of the wrong length for its opcode (detail: the length).
pub const ERR_BAD_LENGTH: u8 = 3;
/// Error: an address outside the memory map or beyond the machine (p-bit ≥ N, page ≥ the page
/// count, …), a read-only address written or a write-only one read (detail: the address of the
/// request; with the device's per-word checks, of the first refused word).
pub const ERR_BAD_ADDRESS: u8 = 4;
/// Error: a write other than STOP while the machine runs (detail: address).
pub const ERR_BUSY: u8 = 5;
/// Error: a value the addressed word cannot hold (`n_active` of 0 or above N, a page index
/// beyond the pages, a J wider than j_bits, …: [`crate::regmap`]'s value rules). Detail: the
/// address of the refused word. Nothing of the request was written. (Protocol version 2.)
pub const ERR_BAD_VALUE: u8 = 6;

/// Human-readable name of an error code.
pub fn error_name(code: u8) -> &'static str {
    match code {
        ERR_BAD_FRAME => "bad frame",
        ERR_UNKNOWN_OPCODE => "unknown opcode",
        ERR_BAD_LENGTH => "bad payload length",
        ERR_BAD_ADDRESS => "bad address",
        ERR_BUSY => "machine busy",
        ERR_BAD_VALUE => "bad value",
        _ => "unknown error",
    }
}

/// [`HELLO`]'s reply: what the device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    pub version: u16,
    /// p-bits of the machine.
    pub n: u32,
    /// The machine's format (`crate::Format` fields, one byte each).
    pub frac_bits: u8,
    pub j_bits: u8,
    pub h_bits: u8,
    pub field_bits: u8,
    pub rng_bits: u8,
    /// [`crate::hash::spec_hash`] of the device's format.
    pub spec_hash: u64,
    /// The machine's clock and the link's baud rate.
    pub clock_hz: u32,
    pub baud: u32,
}

impl Hello {
    pub const LEN: usize = 2 + 4 + 5 + 8 + 4 + 4;

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&self.version.to_be_bytes());
        v.extend_from_slice(&self.n.to_be_bytes());
        v.extend_from_slice(&[
            self.frac_bits,
            self.j_bits,
            self.h_bits,
            self.field_bits,
            self.rng_bits,
        ]);
        v.extend_from_slice(&self.spec_hash.to_be_bytes());
        v.extend_from_slice(&self.clock_hz.to_be_bytes());
        v.extend_from_slice(&self.baud.to_be_bytes());
        v
    }

    pub fn decode(p: &[u8]) -> Option<Hello> {
        if p.len() != Self::LEN {
            return None;
        }
        Some(Hello {
            version: u16::from_be_bytes([p[0], p[1]]),
            n: u32::from_be_bytes(p[2..6].try_into().ok()?),
            frac_bits: p[6],
            j_bits: p[7],
            h_bits: p[8],
            field_bits: p[9],
            rng_bits: p[10],
            spec_hash: u64::from_be_bytes(p[11..19].try_into().ok()?),
            clock_hz: u32::from_be_bytes(p[19..23].try_into().ok()?),
            baud: u32::from_be_bytes(p[23..27].try_into().ok()?),
        })
    }

    /// The device's format.
    pub fn format(&self) -> crate::Format {
        crate::Format {
            frac_bits: self.frac_bits as u32,
            j_bits: self.j_bits as u32,
            h_bits: self.h_bits as u32,
            field_bits: self.field_bits as u32,
            rng_bits: self.rng_bits as u32,
        }
    }
}

/// [`STATUS`]'s reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The machine's status register (`memory_map::STATUS_*` bits).
    pub status: u32,
    /// Sweeps completed since reset.
    pub sweeps: u32,
    /// Samples sent in the current run.
    pub samples: u32,
    pub energy_raw: i32,
    pub best_energy_raw: i32,
    /// Clocks busy since reset.
    pub clocks: u64,
}

impl Status {
    pub const LEN: usize = 4 * 5 + 8;

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        for w in [
            self.status,
            self.sweeps,
            self.samples,
            self.energy_raw as u32,
            self.best_energy_raw as u32,
        ] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(&self.clocks.to_be_bytes());
        v
    }

    pub fn decode(p: &[u8]) -> Option<Status> {
        if p.len() != Self::LEN {
            return None;
        }
        let w = |k: usize| u32::from_be_bytes([p[4 * k], p[4 * k + 1], p[4 * k + 2], p[4 * k + 3]]);
        Some(Status {
            status: w(0),
            sweeps: w(1),
            samples: w(2),
            energy_raw: w(3) as i32,
            best_energy_raw: w(4) as i32,
            clocks: u64::from_be_bytes(p[20..28].try_into().ok()?),
        })
    }
}

/// Payload of a [`WRITE`] request.
pub fn write_payload(address: u32, words: &[u32]) -> Vec<u8> {
    assert!(
        !words.is_empty() && words.len() <= MAX_WORDS,
        "{} words",
        words.len()
    );
    let mut v = Vec::with_capacity(4 + 4 * words.len());
    v.extend_from_slice(&address.to_be_bytes());
    for w in words {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v
}

/// Payload of a [`READ`] request.
pub fn read_payload(address: u32, count: u16) -> Vec<u8> {
    let mut v = address.to_be_bytes().to_vec();
    v.extend_from_slice(&count.to_be_bytes());
    v
}

/// Big-endian words of a payload (None if its length is not a multiple of 4).
pub fn words(p: &[u8]) -> Option<Vec<u32>> {
    if !p.len().is_multiple_of(4) {
        return None;
    }
    Some(
        p.chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// A decoded [`SAMPLE`] frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub number: u32,
    pub energy_raw: i32,
    pub state_words: Vec<u32>,
}

impl Sample {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + 4 * self.state_words.len());
        v.extend_from_slice(&self.number.to_be_bytes());
        v.extend_from_slice(&self.energy_raw.to_be_bytes());
        for w in &self.state_words {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    pub fn decode(p: &[u8]) -> Option<Sample> {
        if p.len() < 8 {
            return None;
        }
        Some(Sample {
            number: u32::from_be_bytes(p[0..4].try_into().ok()?),
            energy_raw: i32::from_be_bytes(p[4..8].try_into().ok()?),
            state_words: words(&p[8..])?,
        })
    }
}

/// The largest payload any message carries fits the frame limit.
const _: () = assert!(4 + 4 * MAX_WORDS <= crate::frame::MAX_PAYLOAD);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let h = Hello {
            version: PROTOCOL_VERSION,
            n: 256,
            frac_bits: 4,
            j_bits: 9,
            h_bits: 11,
            field_bits: 18,
            rng_bits: 12,
            spec_hash: 0x0123_4567_89ab_cdef,
            clock_hz: 25_000_000,
            baud: 1_000_000,
        };
        assert_eq!(Hello::decode(&h.encode()), Some(h));
        assert_eq!(h.encode().len(), Hello::LEN);
        let s = Status {
            status: 3,
            sweeps: 9,
            samples: 2,
            energy_raw: -5,
            best_energy_raw: -7,
            clocks: 1 << 40,
        };
        assert_eq!(Status::decode(&s.encode()), Some(s));
        let m = Sample {
            number: 7,
            energy_raw: -300,
            state_words: vec![1, 2, 0xffff_ffff],
        };
        assert_eq!(Sample::decode(&m.encode()), Some(m));
        assert_eq!(words(&write_payload(5, &[1, 2])[4..]), Some(vec![1, 2]));
        assert_eq!(Hello::decode(&[0; 3]), None);
        assert_eq!(Sample::decode(&[0; 9]), None);
    }

    #[test]
    fn opcodes_are_distinct_and_replies_do_not_collide() {
        let requests = [HELLO, WRITE, READ, RUN, STOP, STATUS];
        let mut all: Vec<u8> = requests.to_vec();
        all.extend(requests.iter().map(|&r| reply_opcode(r)));
        all.extend([SAMPLE, ERROR]);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
    }
}

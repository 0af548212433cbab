//! `pbit check` against the simulated board served on a pseudo-terminal (as a freshly flashed
//! board on USB-serial): it passes, and when the device's answers differ from the model's it
//! names the first difference. The differing device is the same board behind a transport that
//! rewrites one sample's state on the way in and recomputes the frame's CRC, so the link sees a
//! well-formed frame and only the comparison with the model can catch it. Needs verilator and
//! g++, like the other simulated-board tests.

use pbit_host::check::{check, CheckOptions};
use pbit_host::link::Link;
use pbit_host::transport::{SerialTransport, Transport, TransportError};
use pbit_spec::frame::{Message, DELIMITER};
use pbit_spec::protocol::{Sample, SAMPLE};
use pbit_tests::pbit_bin;
use std::collections::VecDeque;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The simulated board runs slower than real time: reply timeouts are stretched.
const TIMEOUT_SCALE: u32 = 20;
const BAUD: u32 = 1_000_000;

/// The simulated board (N = 32, batch engine) on a pty.
fn start_board() -> pbit_tests::SimBoard {
    pbit_tests::SimBoard::start(32, BAUD)
}

/// Passes bytes through, except the SAMPLE frame numbered `number` of every run, whose state
/// has bit `bit` of its first word flipped; the frame is re-encoded with a fresh CRC.
struct RewriteSample<T> {
    inner: T,
    number: u32,
    bit: u32,
    partial: Vec<u8>,
    out: VecDeque<u8>,
    rewritten: Arc<std::sync::atomic::AtomicU32>,
}

impl<T: Transport> Transport for RewriteSample<T> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.inner.write_all(bytes)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if self.out.is_empty() {
            let mut raw = [0u8; 512];
            let k = self.inner.read(&mut raw, timeout)?;
            for &b in &raw[..k] {
                if b != DELIMITER {
                    self.partial.push(b);
                    continue;
                }
                let frame = std::mem::take(&mut self.partial);
                let rewritten = match Message::decode(&frame) {
                    Ok(mut m) if m.opcode == SAMPLE => match Sample::decode(&m.payload) {
                        Some(mut s) if s.number == self.number && !s.state_words.is_empty() => {
                            s.state_words[0] ^= 1 << self.bit;
                            m.payload = s.encode();
                            self.rewritten.fetch_add(1, Ordering::SeqCst);
                            Some(m.encode())
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match rewritten {
                    Some(bytes) => self.out.extend(bytes),
                    None => {
                        self.out.extend(frame);
                        self.out.push_back(DELIMITER);
                    }
                }
            }
        }
        let k = self.out.len().min(buf.len());
        for (slot, b) in buf.iter_mut().zip(self.out.drain(..k)) {
            *slot = b;
        }
        Ok(k)
    }
    fn baud(&self) -> Option<u32> {
        self.inner.baud()
    }
}

#[test]
fn check_passes_on_the_simulated_board_and_names_the_first_difference() {
    let server = start_board();
    let open = || SerialTransport::open(&server.port(), BAUD).unwrap();

    // the board as it is: every job equals the model, byte for byte
    let link = Link::connect_scaled(open(), TIMEOUT_SCALE).unwrap();
    let r = check(link, &CheckOptions::default()).unwrap();
    assert!(r.pass, "{r:#?}");
    assert_eq!(r.first_difference, None);
    assert_eq!((r.n, r.device.n), (32, 32));
    assert!(r.device.spec_matches);
    assert_eq!(r.jobs.len(), 3);
    for j in &r.jobs {
        assert_eq!(j.result, "pass", "{j:?}");
        assert!(j.items > 0 && j.bytes > 0, "{j:?}");
    }
    let t = &r.throughput;
    assert!(t.echo_ok && t.words > 0 && t.write_bytes_per_s > 0.0 && t.read_bytes_per_s > 0.0);
    // payload can never beat the line (8N1: baud/10 bytes per second each way)
    assert!(t.write_bytes_per_s < t.line_bytes_per_s, "{t:?}");

    // sample 2 of the sampling run altered in flight, the CRC made good again: p-bit 6 of
    // sample 2 is the first difference (its state is compared before its energy)
    let rewritten = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let t = RewriteSample {
        inner: open(),
        number: 2,
        bit: 5,
        partial: Vec::new(),
        out: VecDeque::new(),
        rewritten: rewritten.clone(),
    };
    let link = Link::connect_scaled(t, TIMEOUT_SCALE).unwrap();
    let r = check(link, &CheckOptions::default()).unwrap();
    assert!(
        rewritten.load(Ordering::SeqCst) >= 1,
        "no sample frame was rewritten"
    );
    assert!(!r.pass);
    let d = r.first_difference.expect("a difference");
    assert_eq!(d.job, "sample with clamps");
    assert_eq!(d.item, "sample 2 state");
    // two samples of 32 state bytes and an 8-byte energy each come first, then p-bit 6
    assert_eq!(d.byte_offset, 2 * (32 + 8) + 5);
    assert!(d.detail.starts_with("p-bit 6 (1-based)"), "{}", d.detail);
    assert!(d.detail.contains("(1 of 32 p-bits differ)"), "{}", d.detail);
    assert_eq!(r.jobs[0].result, "differs");
    // the other jobs stream no samples through the rewriter and still pass
    assert_eq!(r.jobs[1].result, "pass");
    assert_eq!(r.jobs[2].result, "pass");

    // the command line: PASS and exit 0; JSON carries the same report
    let out = Command::new(pbit_bin())
        .args(["check", "--port", &server.port(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pass"], true);
    assert_eq!(v["device"]["n"], 32);
    assert_eq!(v["jobs"][2]["result"], "pass");
    let out = Command::new(pbit_bin())
        .args(["check", "--port", &server.port()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim_end().ends_with("PASS"),
        "{text}"
    );
    assert!(text.contains("spec hash"), "{text}");
    // an instance larger than the device is refused with a clear error
    let out = Command::new(pbit_bin())
        .args(["check", "--port", &server.port(), "--n", "33"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--n 33 is out of range"));
}

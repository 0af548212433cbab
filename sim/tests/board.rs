//! The core top's Verilog passes `verilator --lint-only -Wall` with only rust-hdl's waivers,
//! and the simulated board is reachable over a pseudo-terminal. Needs Verilator.

use pbit_sim::board::{lint_core_top, serve, ServeOptions};
use pbit_spec::frame::{Deframer, Message};
use pbit_spec::protocol::{self as p, Hello};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn core_top_lint_is_clean_for_every_size() {
    for &n in pbit_hdl::SUPPORTED_N {
        for batch in [false, true] {
            if let Err(e) = lint_core_top(n, 25_000_000, 1_000_000, batch) {
                panic!("N = {n}, batch engine {batch}: {e}");
            }
        }
    }
}

#[test]
fn serve_answers_hello_over_a_pty() {
    let stop = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let server = s.spawn(|| {
            serve(
                ServeOptions {
                    n: 32,
                    baud: 1_000_000,
                    clock_hz: 12_000_000,
                    batch: true,
                    sparse: None,
                    lanes: None,
                },
                &stop,
                |path| tx.send(path.to_path_buf()).unwrap(),
            )
        });
        let path = match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(p) => p,
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                panic!("serve did not start: {:?}", server.join());
            }
        };
        let mut tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut deframer = Deframer::new();
        let mut reply = None;
        for seq in [5u8, 6] {
            tty.write_all(&[0]).unwrap();
            tty.write_all(
                &Message {
                    opcode: p::HELLO,
                    seq,
                    payload: vec![],
                }
                .encode(),
            )
            .unwrap();
            let t0 = Instant::now();
            let mut buf = [0u8; 256];
            while reply.is_none() && t0.elapsed() < Duration::from_secs(20) {
                let k = tty.read(&mut buf).unwrap();
                for &b in &buf[..k] {
                    if let Some(Ok(m)) = deframer.push(b) {
                        reply = Some(m);
                    }
                }
            }
            assert!(reply.is_some(), "no reply over {}", path.display());
            let m = reply.take().unwrap();
            assert_eq!((m.opcode, m.seq), (p::reply_opcode(p::HELLO), seq));
            let h = Hello::decode(&m.payload).unwrap();
            assert_eq!((h.n, h.clock_hz, h.baud), (32, 12_000_000, 1_000_000));
        }
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
    });
}

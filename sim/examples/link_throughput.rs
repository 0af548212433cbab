//! Link throughput over the simulated board: payload bytes per second of simulated time
//! (clocks at the generation clock) for bulk WRITEs, bulk READs and a sample stream, against
//! the line rate (baud / 10 bytes per second for 8N1).
//!
//! `cargo run --release -p pbit-sim --example link_throughput -- [N] [CLOCK_HZ] [BAUD]`

use pbit_sim::board::Board;
use pbit_spec::frame::Message;
use pbit_spec::memory_map as mm;
use pbit_spec::protocol as p;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |k: usize, d: u64| args.get(k).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (n, clock_hz, baud) = (
        arg(0, 64) as usize,
        arg(1, 25_000_000) as u32,
        arg(2, 1_000_000) as u32,
    );
    let mut b = match Board::build(n, clock_hz, baud) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let line = baud as f64 / 10.0;
    let wall = std::time::Instant::now();
    let cpu0 = thread_cpu_seconds();
    let start_clocks = b.clocks();
    let secs = |c: u64| c as f64 / clock_hz as f64;
    let mut seq = 0u8;
    let mut call = |b: &mut Board, opcode: u8, payload: Vec<u8>| -> Message {
        seq = seq.wrapping_add(1);
        let m = Message {
            opcode,
            seq,
            payload,
        };
        loop {
            match b.request(&m, 50_000_000) {
                Ok(r) if r.opcode == p::reply_opcode(opcode) && r.seq == seq => return r,
                Ok(r) if r.opcode == p::SAMPLE => continue,
                other => panic!("{other:?}"),
            }
        }
    };
    println!("N = {n}, clock {clock_hz} Hz, {baud} baud: line rate {line:.0} bytes/s (8N1)");

    // bulk WRITE: 240-word requests to the page region, one in flight
    let requests = 20;
    let words: Vec<u32> = (0..p::MAX_WORDS as u32).collect();
    let c0 = b.clocks();
    for k in 0..requests {
        call(
            &mut b,
            p::WRITE,
            p::write_payload(mm::page_addr(0, (k * p::MAX_WORDS) as u32), &words),
        );
    }
    let t = secs(b.clocks() - c0);
    let payload = (requests * 4 * p::MAX_WORDS) as f64;
    println!(
        "WRITE 240 words x {requests}: {:.0} data bytes/s = {:.1}% of the line rate",
        payload / t,
        100.0 * payload / t / line
    );

    // bulk READ: 240-word requests of the generators and state region
    let c0 = b.clocks();
    for _ in 0..requests {
        call(
            &mut b,
            p::READ,
            p::read_payload(mm::region_addr(mm::REGION_RNG, 0), p::MAX_WORDS as u16),
        );
    }
    let t = secs(b.clocks() - c0);
    println!(
        "READ 240 words x {requests}: {:.0} data bytes/s = {:.1}% of the line rate",
        payload / t,
        100.0 * payload / t / line
    );

    // sample stream: every sweep sampled (the machine stalls on the link)
    let sweeps = 200u32;
    call(
        &mut b,
        p::WRITE,
        p::write_payload(mm::reg(mm::REG_N_ACTIVE), &[n as u32]),
    );
    call(
        &mut b,
        p::WRITE,
        p::write_payload(mm::schedule_sweeps_addr(0), &[sweeps, 0]),
    );
    call(
        &mut b,
        p::WRITE,
        p::write_payload(mm::reg(mm::REG_N_STEPS), &[1]),
    );
    call(
        &mut b,
        p::WRITE,
        p::write_payload(mm::reg(mm::REG_BURN_IN), &[0, 1]),
    );
    call(&mut b, p::RUN, vec![]);
    let c0 = b.clocks();
    let mut got = 0;
    let mut bytes = 0usize;
    while got < sweeps {
        let m = b.read_frame(50_000_000).expect("a sample frame");
        assert_eq!(m.opcode, p::SAMPLE);
        bytes += m.payload.len();
        got += 1;
    }
    let t = secs(b.clocks() - c0);
    let frame = Message {
        opcode: p::SAMPLE,
        seq: 0,
        payload: vec![1; 8 + 4 * n / 32],
    }
    .encode()
    .len();
    println!(
        "SAMPLE every sweep x {sweeps}: {:.0} samples/s, {:.0} payload bytes/s = {:.1}% of the \
         line rate ({frame} bytes on the line per {}-byte payload)",
        got as f64 / t,
        bytes as f64 / t,
        100.0 * bytes as f64 / t / line,
        8 + 4 * n / 32
    );
    let clocks = b.clocks() - start_clocks;
    let s = wall.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => s,
    };
    println!(
        "simulation: {clocks} clocks in {cpu:.1} s CPU ({s:.1} s wall) = {:.2e} clocks per CPU \
         second, {:.1}% of real time",
        clocks as f64 / cpu,
        100.0 * clocks as f64 / cpu / clock_hz as f64
    );
}

/// CPU time of the calling thread in seconds (Linux), None elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

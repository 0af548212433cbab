//! The core top (machine + UART + command decoder) in Verilator, spoken to over its UART pins
//! through the simulated board's byte pipe: the wire protocol of `pbit_spec::protocol`.
//! Needs Verilator (`apt-get install verilator`).

use pbit_model::run::{self, SampleSpec};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_sim::board::{Board, BoardError};
use pbit_spec::frame::Message;
use pbit_spec::memory_map as mm;
use pbit_spec::protocol::{self as p, Hello, Status};
use pbit_spec::rng::splitmix64;
use pbit_spec::{Beta, ThresholdPage};
use std::sync::{Mutex, OnceLock};

const N: usize = 32;
const CLOCK_HZ: u32 = 25_000_000;
const BAUD: u32 = 1_000_000;
/// Clocks to wait for a frame: a whole READ reply at 25 clocks per bit is ~250k clocks.
const TIMEOUT: u64 = 2_000_000;

fn board() -> &'static Mutex<Board> {
    static B: OnceLock<Mutex<Board>> = OnceLock::new();
    B.get_or_init(|| match Board::build(N, CLOCK_HZ, BAUD) {
        Ok(b) => Mutex::new(b),
        Err(e) => panic!("cannot build the simulated board: {e}"),
    })
}

fn lock() -> std::sync::MutexGuard<'static, Board> {
    board().lock().unwrap_or_else(|e| e.into_inner())
}

/// A minimal host over the byte pipe: one request in flight, fresh sequence numbers.
struct Client<'a> {
    board: &'a mut Board,
    seq: u8,
}

#[derive(Debug, thiserror::Error)]
enum ClientError {
    #[error(transparent)]
    Board(#[from] BoardError),
    #[error("device error {code} ({}) detail {detail:#x}", p::error_name(*code))]
    Device { code: u8, detail: u32 },
    #[error("unexpected frame {0:?}")]
    Unexpected(Message),
}

impl<'a> Client<'a> {
    fn new(board: &'a mut Board) -> Self {
        // a delimiter resynchronises whatever an earlier test left behind
        board.write(&[0]);
        let seq = (board.clocks() % 251) as u8;
        Client { board, seq }
    }

    fn next_seq(&mut self) -> u8 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends a request, returns its reply (sample frames before it are passed to `samples`).
    fn call_with(
        &mut self,
        opcode: u8,
        seq: u8,
        payload: Vec<u8>,
        samples: &mut dyn FnMut(Message),
    ) -> Result<Message, ClientError> {
        self.board.write(
            &Message {
                opcode,
                seq,
                payload,
            }
            .encode(),
        );
        loop {
            let m = self.board.read_frame(TIMEOUT)?;
            if m.opcode == p::SAMPLE {
                samples(m);
                continue;
            }
            if m.opcode == p::ERROR {
                let detail = u32::from_be_bytes(m.payload[1..5].try_into().unwrap());
                return Err(ClientError::Device {
                    code: m.payload[0],
                    detail,
                });
            }
            if m.opcode != p::reply_opcode(opcode) || m.seq != seq {
                return Err(ClientError::Unexpected(m));
            }
            return Ok(m);
        }
    }

    fn call(&mut self, opcode: u8, payload: Vec<u8>) -> Result<Message, ClientError> {
        let seq = self.next_seq();
        self.call_with(opcode, seq, payload, &mut |m| panic!("sample {m:?}"))
    }

    fn hello(&mut self) -> Result<Hello, ClientError> {
        let m = self.call(p::HELLO, vec![])?;
        Ok(Hello::decode(&m.payload).expect("HELLO payload"))
    }

    fn status(&mut self, samples: &mut dyn FnMut(Message)) -> Result<Status, ClientError> {
        let seq = self.next_seq();
        let m = self.call_with(p::STATUS, seq, vec![], samples)?;
        Ok(Status::decode(&m.payload).expect("STATUS payload"))
    }
}

impl pbit_driver::Bus for Client<'_> {
    type Error = ClientError;

    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), ClientError> {
        for (k, chunk) in words.chunks(p::MAX_WORDS).enumerate() {
            let a = addr + (k * p::MAX_WORDS) as u32;
            let m = self.call(p::WRITE, p::write_payload(a, chunk))?;
            assert_eq!(m.payload, (chunk.len() as u16).to_be_bytes());
        }
        Ok(())
    }

    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, ClientError> {
        let mut out = Vec::with_capacity(count);
        let mut done = 0;
        while done < count {
            let c = (count - done).min(p::MAX_WORDS);
            let m = self.call(p::READ, p::read_payload(addr + done as u32, c as u16))?;
            out.extend(p::words(&m.payload).expect("words"));
            done += c;
        }
        Ok(out)
    }

    fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), ClientError> {
        let got = std::cell::Cell::new(0u32);
        let mut take = |m: Message| {
            let s = p::Sample::decode(&m.payload).expect("SAMPLE payload");
            assert_eq!(m.seq, s.number as u8);
            on_sample(s.number, s.energy_raw, &s.state_words);
            got.set(got.get() + 1);
        };
        let seq = self.next_seq();
        self.call_with(p::RUN, seq, vec![], &mut take)?;
        loop {
            // wait for samples; when none come for a while, ask whether the run is over
            match self.board.read_frame(200 * self.board.byte_clocks()) {
                Ok(m) if m.opcode == p::SAMPLE => take(m),
                Ok(m) => return Err(ClientError::Unexpected(m)),
                Err(BoardError::Timeout { .. }) => {
                    let st = self.status(&mut take)?;
                    let idle = st.status & (mm::STATUS_BUSY | mm::STATUS_SAMPLE_VALID) == 0;
                    if idle && st.samples == got.get() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[test]
fn hello_reports_the_machine() {
    let mut b = lock();
    let mut c = Client::new(&mut b);
    let h = c.hello().unwrap();
    assert_eq!(h, pbit_hdl::core_top::hello_of(N, CLOCK_HZ, BAUD));
    assert_eq!(h.version, p::PROTOCOL_VERSION);
    assert_eq!(h.n, N as u32);
    assert_eq!(
        h.spec_hash,
        pbit_spec::hash::spec_hash(&pbit_hdl::machine_format(N))
    );
}

#[test]
fn write_read_and_status_round_trip() {
    use pbit_driver::Bus;
    let mut b = lock();
    let mut c = Client::new(&mut b);
    c.write(mm::reg(mm::REG_N_ACTIVE), &[5, 1, 7, 3]).unwrap();
    assert_eq!(
        c.read(mm::reg(mm::REG_N_ACTIVE), 4).unwrap(),
        vec![5, 1, 7, 3]
    );
    assert_eq!(c.read(mm::reg(mm::REG_MAGIC), 1).unwrap(), vec![mm::MAGIC]);
    c.write(mm::region_addr(mm::REGION_STATE, 0), &[0xDEAD_BEEF])
        .unwrap();
    assert_eq!(
        c.read(mm::region_addr(mm::REGION_STATE, 0), 1).unwrap(),
        vec![0xDEAD_BEEF]
    );
    let seeds: Vec<u32> = (0..N as u32).map(|i| 0x1000_0001 + 77 * i).collect();
    c.write(mm::region_addr(mm::REGION_RNG, 0), &seeds).unwrap();
    assert_eq!(
        c.read(mm::region_addr(mm::REGION_RNG, 0), N).unwrap(),
        seeds
    );
    // a frame with runs of more than 254 non-zero bytes (COBS code 0xFF blocks): 240 words
    // of non-zero bytes to the chain buffer, decoded whole (the reply counts them), and a
    // READ of MAX_WORDS words (the largest reply) gives them back
    let dense: Vec<u32> = (0..p::MAX_WORDS as u32)
        .map(|i| 0x1122_3344u32.wrapping_add(i * 0x0101_0101) | 0x0101_0101)
        .collect();
    let plane = mm::chain_addr(0, 0);
    let m = c.call(p::WRITE, p::write_payload(plane, &dense)).unwrap();
    assert_eq!(m.payload, (p::MAX_WORDS as u16).to_be_bytes());
    let m = c
        .call(p::READ, p::read_payload(plane, p::MAX_WORDS as u16))
        .unwrap();
    assert_eq!(p::words(&m.payload).unwrap(), dense);
    let st = c.status(&mut |m| panic!("{m:?}")).unwrap();
    assert_eq!(st.status & mm::STATUS_BUSY, 0);
    assert_eq!(
        st.status & mm::STATUS_STALE,
        mm::STATUS_STALE,
        "state written"
    );
}

#[test]
fn errors_are_reported_and_nothing_executes() {
    use pbit_driver::Bus;
    let mut b = lock();
    let mut c = Client::new(&mut b);
    let before = c.read(mm::reg(mm::REG_BURN_IN), 1).unwrap();
    let expect = |r: Result<Message, ClientError>, code: u8, detail: u32| match r {
        Err(ClientError::Device { code: c, detail: d }) => {
            assert_eq!((c, d), (code, detail), "{}", p::error_name(c))
        }
        other => panic!("expected error {code}, got {other:?}"),
    };
    expect(c.call(0x42, vec![]), p::ERR_UNKNOWN_OPCODE, 0x42);
    expect(c.call(p::HELLO, vec![1, 2]), p::ERR_BAD_LENGTH, 2);
    expect(c.call(p::READ, vec![0; 5]), p::ERR_BAD_LENGTH, 5);
    expect(c.call(p::READ, p::read_payload(0, 0)), p::ERR_BAD_LENGTH, 0);
    expect(
        c.call(p::READ, p::read_payload(0, 241)),
        p::ERR_BAD_LENGTH,
        241,
    );
    // the first region beyond the map
    let beyond = mm::region_addr(mm::LAST_REGION + 1, 0);
    expect(
        c.call(p::READ, p::read_payload(beyond, 1)),
        p::ERR_BAD_ADDRESS,
        beyond,
    );
    expect(
        c.call(p::READ, p::read_payload(0x04FF_FFFF, 2)),
        p::ERR_BAD_ADDRESS,
        0x04FF_FFFF,
    );
    // WRITE: odd lengths, read-only addresses, a run of registers past the writable ones
    expect(
        c.call(p::WRITE, vec![0, 0, 0, 0x0A, 1, 2, 3]),
        p::ERR_BAD_LENGTH,
        7,
    );
    expect(c.call(p::WRITE, vec![0; 4]), p::ERR_BAD_LENGTH, 4);
    let ro = mm::region_addr(mm::REGION_BEST_STATE, 0);
    expect(
        c.call(p::WRITE, p::write_payload(ro, &[1])),
        p::ERR_BAD_ADDRESS,
        ro,
    );
    expect(
        c.call(p::WRITE, p::write_payload(mm::reg(mm::REG_MAGIC), &[1])),
        p::ERR_BAD_ADDRESS,
        0,
    );
    let burn = mm::reg(mm::REG_BURN_IN);
    expect(
        c.call(p::WRITE, p::write_payload(burn, &[9, 9, 9])),
        p::ERR_BAD_ADDRESS,
        burn,
    );
    assert_eq!(c.read(burn, 1).unwrap(), before);
    // the sums are read-only; a run of registers from REG_EVERY into the batch engine's
    // read-only capabilities is refused
    let sums = mm::region_addr(mm::REGION_SUMS, 0);
    expect(
        c.call(p::WRITE, p::write_payload(sums, &[1])),
        p::ERR_BAD_ADDRESS,
        sums,
    );
    let every = mm::reg(mm::REG_EVERY);
    expect(
        c.call(p::WRITE, p::write_payload(every, &[0, 0, 0])),
        p::ERR_BAD_ADDRESS,
        every,
    );
    // and the device still answers
    assert_eq!(c.hello().unwrap().n, N as u32);
}

#[test]
fn bad_crc_frames_never_execute() {
    use pbit_driver::Bus;
    let mut b = lock();
    let addr = mm::region_addr(mm::REGION_CLAMPS, 0);
    {
        let mut c = Client::new(&mut b);
        c.write(addr, &[0x1234_5678]).unwrap();
    }
    let good = Message {
        opcode: p::WRITE,
        seq: 200,
        payload: p::write_payload(addr, &[0xFFFF_0000]),
    }
    .encode();
    // every single-bit flip of every byte but the delimiter: an ERROR (bad frame) or, when the
    // flip made a delimiter, errors for the pieces; never an execution
    let mut flips = 0;
    for pos in 0..good.len() - 1 {
        for bit in [0u8, 3, 7] {
            let mut bad = good.clone();
            bad[pos] ^= 1 << bit;
            b.write(&bad);
            let mut frames = Vec::new();
            // replies follow at most a few frames' time after the last byte
            loop {
                let wait = 40 * b.byte_clocks() + 20_000;
                match b.read_frame(wait) {
                    Ok(m) => frames.push(m),
                    Err(BoardError::Timeout { .. }) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(!frames.is_empty(), "pos {pos} bit {bit}: no answer");
            for m in &frames {
                assert_eq!(m.opcode, p::ERROR, "pos {pos} bit {bit}: {m:?}");
                assert_eq!(m.payload[0], p::ERR_BAD_FRAME);
                assert_eq!(m.seq, 0);
            }
            flips += 1;
        }
    }
    assert!(flips > 30);
    let mut c = Client::new(&mut b);
    assert_eq!(c.read(addr, 1).unwrap(), vec![0x1234_5678]);
}

#[test]
fn a_repeated_sequence_number_is_not_executed_twice() {
    use pbit_driver::Bus;
    let mut b = lock();
    let mut c = Client::new(&mut b);
    let addr = mm::region_addr(mm::REGION_STATE, 0);
    c.write(addr, &[1]).unwrap();
    let seq = c.next_seq();
    let first = c
        .call_with(p::WRITE, seq, p::write_payload(addr, &[2]), &mut |_| {})
        .unwrap();
    // the same sequence number again (even with another payload): the cached reply, no write
    let again = c
        .call_with(p::WRITE, seq, p::write_payload(addr, &[3, 4]), &mut |_| {})
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(c.read(addr, 1).unwrap(), vec![2]);
    // a READ retried gets its cached words even after the memory changed
    let rseq = c.next_seq();
    let r1 = c
        .call_with(p::READ, rseq, p::read_payload(addr, 1), &mut |_| {})
        .unwrap();
    let wseq = c.next_seq();
    c.call_with(p::WRITE, wseq, p::write_payload(addr, &[9]), &mut |_| {})
        .unwrap();
    let wagain = c
        .call_with(p::WRITE, wseq, p::write_payload(addr, &[9]), &mut |_| {})
        .unwrap();
    assert_eq!(wagain.payload, vec![0, 1]);
    let r2 = c
        .call_with(p::READ, rseq, p::read_payload(addr, 1), &mut |_| {})
        .unwrap();
    assert_eq!(p::words(&r2.payload).unwrap(), vec![9], "a new request");
    assert_eq!(p::words(&r1.payload).unwrap(), vec![2]);
    // errors are not remembered: a refused request executes when retried valid
    let eseq = c.next_seq();
    assert!(c.call_with(0x33, eseq, vec![], &mut |_| {}).is_err());
    let h = c.call_with(p::HELLO, eseq, vec![], &mut |_| {}).unwrap();
    assert_eq!(Hello::decode(&h.payload).unwrap().n, N as u32);
}

#[test]
fn random_bytes_and_corrupted_frames_never_hang_the_decoder() {
    let mut b = lock();
    let mut x = 0x5EED_u64;
    let hello = Message {
        opcode: p::HELLO,
        seq: 0,
        payload: vec![],
    };
    for round in 0..12 {
        let mut junk = Vec::new();
        for _ in 0..(50 + round * 40) {
            x = splitmix64(x);
            // zero bytes one time in 12, so frames of many lengths end
            junk.push(if x.is_multiple_of(12) {
                0
            } else {
                (x >> 8) as u8
            });
        }
        if round % 3 == 1 {
            // a long frame without delimiter (more than the frame buffer holds)
            junk.extend((0..1200).map(|i| (i % 250 + 1) as u8));
        }
        if round % 3 == 2 {
            // a valid frame truncated, and a valid frame with its middle dropped
            let mut m = Message {
                opcode: p::WRITE,
                seq: 7,
                payload: p::write_payload(mm::region_addr(mm::REGION_H, 0), &[1, 2, 3]),
            }
            .encode();
            junk.extend_from_slice(&m[..m.len() / 2]);
            junk.push(0);
            m.remove(m.len() / 2);
            junk.extend(m);
        }
        b.write(&junk);
        // let everything drain (errors answered, nothing stuck)
        let mut spent = 0;
        while b.pending() > 0 && spent < 100_000_000 {
            b.run(100_000);
            spent += 100_000;
        }
        let settle = 300 * b.byte_clocks();
        b.run(settle);
        // then the device answers HELLO correctly
        let mut seq = (round as u8).wrapping_mul(37).wrapping_add(3);
        let answer = {
            seq = seq.wrapping_add(1);
            b.write(&[0]);
            b.write(
                &Message {
                    seq,
                    ..hello.clone()
                }
                .encode(),
            );
            let mut found = None;
            for _ in 0..20 {
                match b.read_frame(TIMEOUT) {
                    Ok(m) if m.opcode == p::reply_opcode(p::HELLO) && m.seq == seq => {
                        found = Some(m);
                        break;
                    }
                    Ok(_) => continue,
                    Err(BoardError::Timeout { .. }) => break,
                    Err(BoardError::Frame(_)) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            found.unwrap_or_else(|| panic!("round {round}: no HELLO reply"))
        };
        assert_eq!(
            Hello::decode(&answer.payload),
            Some(pbit_hdl::core_top::hello_of(N, CLOCK_HZ, BAUD))
        );
    }
    assert_eq!(b.tx_framing_errors(), 0);
}

fn sample_stream_matches_model(board: &mut Board) {
    let mut x = 0xC0FFEE_u64;
    let n = 12;
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            x = splitmix64(x);
            if x.is_multiple_of(3) {
                ising.add_coupling(i, j, ((x >> 8) % 31) as f64 / 8.0 - 1.875);
            }
        }
        x = splitmix64(x);
        ising.h[i] = ((x >> 8) % 17) as f64 / 16.0 - 0.5;
    }
    let format = pbit_hdl::machine_format(N);
    let problem = FixedIsing::new(&ising, format, Scaling::Exact).unwrap();
    let page = ThresholdPage::build(&format, Beta::from_f64(0.7).unwrap());
    let clamps = [(3usize, true)];
    let spec = SampleSpec {
        burn_in: 2,
        sweeps: 30,
        every: 1,
    };
    let mut want: Vec<(Vec<bool>, i64)> = Vec::new();
    run::sample(&problem, &clamps, &page, 99, spec, |s, e| {
        want.push((s.to_vec(), e))
    });
    let mut got: Vec<(Vec<bool>, i64)> = Vec::new();
    let client = Client::new(board);
    let mut m = pbit_driver::Driver::new(client, N, format);
    m.sample(&problem, &clamps, &page, 99, spec, &mut |s, e| {
        got.push((s.to_vec(), e))
    })
    .unwrap();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    // a second run numbers its samples from 0 again (the driver checks the numbers)
    let mut again = Vec::new();
    m.sample(&problem, &clamps, &page, 99, spec, &mut |s, e| {
        again.push((s.to_vec(), e))
    })
    .unwrap();
    assert_eq!(again, want);
}

#[test]
fn sample_stream_matches_model_at_one_mbaud() {
    let mut b = lock();
    sample_stream_matches_model(&mut b);
}

#[test]
fn sample_stream_matches_model_at_eight_clocks_per_bit() {
    // 1.5 Mbaud from 12 MHz: the fastest the UART allows (8 clocks per bit)
    let mut b = match Board::build(N, 12_000_000, 1_500_000) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    sample_stream_matches_model(&mut b);
}

/// The device's answer to a one-word READ or WRITE: Ok, or the error's (code, detail).
fn answer(c: &mut Client, opcode: u8, payload: Vec<u8>) -> Result<(), (u8, u32)> {
    match c.call(opcode, payload) {
        Ok(_) => Ok(()),
        Err(ClientError::Device { code, detail }) => Err((code, detail)),
        Err(e) => panic!("{e}"),
    }
}

/// The decode of the core top equals the table's reference decode
/// (`Geometry::check_read`/`check_write`) at every probe address (each region's first and
/// last words, one beyond, each register index, far indices): indices beyond the machine
/// (p-bit ≥ N, page ≥ 32, step ≥ 32, chain ≥ 1024, sum ≥ 528, register ≥ 0x1A) and reads of
/// write-only words are `ERR_BAD_ADDRESS` with the word's address. Writes carry a value the
/// word accepts (the rule's low end; `REG_CTRL` gets 0, a no-op).
#[test]
fn every_address_is_checked_as_the_table_says() {
    let g = pbit_hdl::geometry(N, true);
    let mut b = lock();
    let mut c = Client::new(&mut b);
    let mut checked = 0;
    for a in pbit_spec::regmap::probe_addresses(&g) {
        let want = g.check_read(a, 1).map_err(|r| (r.code(), r.address()));
        assert_eq!(
            answer(&mut c, p::READ, p::read_payload(a, 1)),
            want,
            "READ {a:#010x}"
        );
        let v = (0..=u32::MAX >> 1)
            .step_by(1 << 20)
            .chain([u32::MAX, 1])
            .find(|&v| g.check_write(a, &[v]).is_ok())
            .unwrap_or(0);
        let v = if a == mm::reg(mm::REG_CTRL) { 0 } else { v };
        let want = g.check_write(a, &[v]).map_err(|r| (r.code(), r.address()));
        if matches!(want, Err((code, _)) if code == p::ERR_BAD_VALUE) {
            continue;
        }
        // the request-level check answers with the request's address (= the word's here)
        assert_eq!(
            answer(&mut c, p::WRITE, p::write_payload(a, &[v])),
            want,
            "WRITE {a:#010x} = {v:#x}"
        );
        checked += 1;
    }
    assert!(checked > 150, "{checked}");
}

/// Values a word cannot hold are `ERR_BAD_VALUE` with the word's address, and nothing of the
/// request is written: `n_active` 0 or above N, `n_steps` 0 or above 32, a schedule naming
/// page 32, `batch_chains` above the buffer's 1024, J and h beyond their widths, a page entry
/// beyond the field's width, control bits other than the machine's; each rule's edges
/// compared with the table's reference.
#[test]
fn bad_values_are_refused_and_nothing_is_written() {
    use pbit_driver::Bus;
    use pbit_spec::regmap::{Refusal, REGIONS, REGISTERS};
    let g = pbit_hdl::geometry(N, true);
    let mut b = lock();
    let mut c = Client::new(&mut b);
    // every rule's edges: lo − 1, lo, hi, hi + 1 (as the word reads them)
    let mut words: Vec<u32> = Vec::new();
    for r in REGISTERS
        .iter()
        .filter(|r| r.access.writable() && g.has(r.capability))
    {
        if r.index != mm::REG_CTRL {
            words.push(mm::reg(r.index));
        }
    }
    for r in REGIONS
        .iter()
        .filter(|r| r.access.writable() && r.id != mm::REGION_REGS)
    {
        if g.has(r.capability) {
            words.extend((0..r.values.len() as u32).map(|k| mm::region_addr(r.id, k)));
        }
    }
    let mut refused = 0;
    for &a in &words {
        let rule = g.check_write(a, &[0]).err();
        let (lo, hi) = match pbit_spec::regmap::REGISTERS
            .iter()
            .find(|r| mm::reg(r.index) == a)
        {
            Some(r) => {
                let (lo, hi, _) = r.value.bounds(&g);
                (lo, hi)
            }
            None => {
                let region = REGIONS.iter().find(|r| r.id == a >> 24).unwrap();
                let (lo, hi, _) =
                    region.values[(a & 0xFF_FFFF) as usize % region.values.len()].bounds(&g);
                (lo, hi)
            }
        };
        let _ = rule;
        for x in [lo - 1, lo, hi, hi + 1] {
            let v = x as u32;
            let want = g.check_write(a, &[v]).map_err(|r| (r.code(), r.address()));
            assert_eq!(
                answer(&mut c, p::WRITE, p::write_payload(a, &[v])),
                want,
                "WRITE {a:#010x} = {v:#x}"
            );
            if want.is_err() {
                refused += 1;
            }
        }
    }
    assert!(refused >= 10, "{refused}");
    for v in [9u32, 16, 0x8000_0000] {
        let a = mm::reg(mm::REG_CTRL);
        assert_eq!(
            answer(&mut c, p::WRITE, p::write_payload(a, &[v])),
            Err((p::ERR_BAD_VALUE, a))
        );
    }
    // a bad word anywhere refuses the whole request: nothing of it is written
    let na = mm::reg(mm::REG_N_ACTIVE);
    c.write(na, &[7, 3]).unwrap();
    assert_eq!(
        answer(&mut c, p::WRITE, p::write_payload(na, &[5, 0])),
        Err((p::ERR_BAD_VALUE, na + 1))
    );
    assert_eq!(
        answer(&mut c, p::WRITE, p::write_payload(na, &[0, 1])),
        Err((p::ERR_BAD_VALUE, na))
    );
    assert_eq!(c.read(na, 2).unwrap(), vec![7, 3]);
    let st = mm::region_addr(mm::REGION_STATE, 0);
    c.write(st, &[0x1234]).unwrap();
    // word 1 is beyond the 32-p-bit machine's one state word
    assert_eq!(
        answer(&mut c, p::WRITE, p::write_payload(st, &[0x5678, 1])),
        Err((p::ERR_BAD_ADDRESS, st + 1))
    );
    assert_eq!(c.read(st, 1).unwrap(), vec![0x1234]);
    // J row 0 from column 30: column 32 is beyond N; the values are checked per word too
    let j = mm::j_addr(0, 30);
    assert_eq!(
        answer(&mut c, p::WRITE, p::write_payload(j, &[1, 2, 3])),
        Err((p::ERR_BAD_ADDRESS, j + 2))
    );
    assert_eq!(
        answer(&mut c, p::WRITE, p::write_payload(j, &[1, 256])),
        Err((p::ERR_BAD_VALUE, j + 1))
    );
    assert_eq!(
        g.check_write(j, &[1, 256]),
        Err(Refusal::Value {
            address: j + 1,
            value: 256
        })
    );
    // a READ running off the machine is refused before any reply is built, and the
    // remembered reply of the last executed request survives it
    let seq = c.next_seq();
    let m = c
        .call_with(p::READ, seq, p::read_payload(na, 1), &mut |_| {})
        .unwrap();
    assert_eq!(
        answer(&mut c, p::READ, p::read_payload(mm::reg(0x18), 3)),
        Err((p::ERR_BAD_ADDRESS, mm::reg(0x1A)))
    );
    let again = c
        .call_with(p::READ, seq, p::read_payload(na, 1), &mut |_| {})
        .unwrap();
    assert_eq!(again, m);
}

#[test]
fn stop_ends_a_streaming_run_and_writes_while_busy_are_refused() {
    use pbit_driver::Bus;
    let mut b = lock();
    let mut c = Client::new(&mut b);
    c.write(mm::reg(mm::REG_N_ACTIVE), &[4]).unwrap();
    c.write(mm::schedule_sweeps_addr(0), &[1_000_000, 0])
        .unwrap();
    c.write(mm::reg(mm::REG_N_STEPS), &[1]).unwrap();
    c.write(mm::reg(mm::REG_BURN_IN), &[0, 1]).unwrap();
    let numbers = std::cell::RefCell::new(Vec::new());
    let mut take = |m: Message| {
        numbers
            .borrow_mut()
            .push(p::Sample::decode(&m.payload).unwrap().number)
    };
    let seq = c.next_seq();
    c.call_with(p::RUN, seq, vec![], &mut take).unwrap();
    let busy = |r: Result<Message, ClientError>| match r {
        Err(ClientError::Device { code, .. }) => assert_eq!(code, p::ERR_BUSY),
        other => panic!("expected busy, got {other:?}"),
    };
    let seq = c.next_seq();
    busy(c.call_with(
        p::WRITE,
        seq,
        p::write_payload(mm::region_addr(mm::REGION_STATE, 0), &[1]),
        &mut take,
    ));
    let seq = c.next_seq();
    busy(c.call_with(p::RUN, seq, vec![], &mut take));
    let seq = c.next_seq();
    c.call_with(p::STOP, seq, vec![], &mut take).unwrap();
    let st = loop {
        let seq = c.next_seq();
        let m = c.call_with(p::STATUS, seq, vec![], &mut take).unwrap();
        let st = Status::decode(&m.payload).unwrap();
        if st.status & (mm::STATUS_BUSY | mm::STATUS_SAMPLE_VALID) == 0 {
            break st;
        }
    };
    // samples already queued still arrive
    while (numbers.borrow().len() as u32) < st.samples {
        let m = c.board.read_frame(TIMEOUT).unwrap();
        take(m);
    }
    let numbers = numbers.into_inner();
    assert!(numbers.len() >= 2, "{numbers:?}");
    assert_eq!(numbers, (0..st.samples).collect::<Vec<u32>>());
    c.write(mm::region_addr(mm::REGION_STATE, 0), &[5]).unwrap();
    assert_eq!(
        c.read(mm::region_addr(mm::REGION_STATE, 0), 1).unwrap(),
        vec![5]
    );
}

/// A batch over the link: chain states, batch registers and `CTRL_BATCH` written with WRITE,
/// STATUS busy until the last chain, then the finals and the sums read back with READ equal
/// the model's.
#[test]
fn a_batch_runs_over_the_link() {
    use pbit_driver::Bus;
    let mut b = lock();
    let mut c = Client::new(&mut b);
    let (n, chains, k) = (6usize, 20usize, 3u32);
    let mut ising = Ising::new(n);
    let mut x = 0xBA7Cu64;
    for i in 0..n {
        for j in i + 1..n {
            x = splitmix64(x);
            ising.add_coupling(i, j, ((x % 255) as f64 - 127.0) / 16.0);
        }
    }
    let problem = FixedIsing::new(&ising, pbit_hdl::machine_format(N), Scaling::Exact).unwrap();
    let page = ThresholdPage::build(&problem.format, Beta::from_f64(0.5).unwrap());
    let initial: Vec<u32> = (0..chains as u64)
        .map(|c| splitmix64(c) as u32 & 0x3F)
        .collect();
    let (seed, r0) = (77u64, 5u64);
    // the model: chain c = Machine::new(seed, r0 + c) from its initial state, k sweeps
    let mut finals = Vec::new();
    let mut sums = vec![0i32; mm::sums_len(n as u32) as usize];
    for (ci, &w) in initial.iter().enumerate() {
        let mut m = pbit_model::Machine::new(&problem, seed, r0 + ci as u64);
        let init: Vec<bool> = (0..n).map(|i| w >> i & 1 == 1).collect();
        m.set_spins(&init);
        for _ in 0..k {
            m.sweep(&page);
        }
        let s = m.spins();
        let pm = |v: bool| if v { 1 } else { -1 };
        for i in 0..n {
            for j in i + 1..n {
                sums[mm::sums_index(n as u32, i as u32, j as u32) as usize] += pm(s[i]) * pm(s[j]);
            }
            sums[mm::sums_single(n as u32, i as u32) as usize] += pm(s[i]);
        }
        finals.push((0..n).filter(|&i| s[i]).map(|i| 1u32 << i).sum::<u32>());
    }
    let mut dense = vec![0u32; n];
    c.write(mm::reg(mm::REG_N_ACTIVE), &[n as u32]).unwrap();
    for i in 0..n {
        dense.iter_mut().for_each(|v| *v = 0);
        let (nb, jv) = problem.row(i);
        for (&j, &v) in nb.iter().zip(jv) {
            dense[j as usize] = v as u32;
        }
        c.write(mm::j_addr(i as u32, 0), &dense).unwrap();
    }
    let h: Vec<u32> = problem.h_raw.iter().map(|&v| v as u32).collect();
    c.write(mm::region_addr(mm::REGION_H, 0), &h).unwrap();
    c.write(mm::region_addr(mm::REGION_CLAMPS, 0), &[0])
        .unwrap();
    let (lo, hi) = (
        problem.format.field_min_raw(),
        problem.format.field_max_raw(),
    );
    let upper: Vec<u32> = page
        .upper_half()
        .iter()
        .map(|&a| a.clamp(lo, hi) as u32)
        .collect();
    for (part, chunk) in upper.chunks(p::MAX_WORDS).enumerate() {
        c.write(mm::page_addr(2, (part * p::MAX_WORDS) as u32), chunk)
            .unwrap();
    }
    c.write(mm::schedule_sweeps_addr(0), &[k, 2]).unwrap();
    c.write(mm::reg(mm::REG_N_STEPS), &[1, 0, 0]).unwrap();
    c.write(mm::chain_addr(0, 0), &initial).unwrap();
    c.write(
        mm::reg(mm::REG_BATCH_SEED_LO),
        &[
            seed as u32,
            (seed >> 32) as u32,
            r0 as u32,
            (r0 >> 32) as u32,
            chains as u32,
        ],
    )
    .unwrap();
    c.write(mm::reg(mm::REG_CTRL), &[mm::CTRL_BATCH]).unwrap();
    let mut polls = 0;
    while c.status(&mut |m| panic!("{m:?}")).unwrap().status & mm::STATUS_BUSY != 0 {
        polls += 1;
        assert!(polls < 1000, "the batch did not end");
    }
    assert_eq!(
        c.read(mm::reg(mm::REG_BATCH_DONE), 1).unwrap(),
        [chains as u32]
    );
    assert_eq!(c.read(mm::chain_addr(0, 0), chains).unwrap(), finals);
    let got: Vec<i32> = c
        .read(mm::region_addr(mm::REGION_SUMS, 0), sums.len())
        .unwrap()
        .iter()
        .map(|&v| v as i32)
        .collect();
    assert_eq!(got, sums);
}

//! The protocol client against the scripted fake device: over the in-memory transport, with
//! the fault-injecting wrapper, and across a real pseudo-terminal pair at several baud rates.
//! Every fault is detected, retried or failed with a clear error; no sample is lost silently;
//! the client recovers for the next command.

use pbit_host::fake_device::{Action, FakeDevice, FakeHandle, RunScript};
use pbit_host::link::{Kind, Link, LinkError, MAX_ATTEMPTS};
use pbit_host::transport::{Faults, FaultyTransport, MemoryTransport, SerialTransport, Transport};
use pbit_spec::memory_map as mm;
use pbit_spec::protocol as p;
use pbit_spec::Format;
use std::time::{Duration, Instant};

const N: u32 = 40;

fn device() -> FakeDevice {
    FakeDevice::new(N, Format::for_machine(N as usize))
}

/// A fake device on one end of an in-memory pipe, and the other end.
fn pipe(dev: FakeDevice) -> (FakeHandle, MemoryTransport) {
    let (a, b) = MemoryTransport::pair();
    (dev.spawn(b), a)
}

fn words(len: usize, salt: u32) -> Vec<u32> {
    (0..len as u32)
        .map(|i| i.wrapping_mul(0x01000193) ^ salt)
        .collect()
}

/// Runs and collects the stream.
fn run<T: Transport>(link: &mut Link<T>) -> Result<Vec<(u32, i32, Vec<u32>)>, LinkError> {
    let mut got = Vec::new();
    link.run_stream(&mut |k, e, w| got.push((k, e, w.to_vec())))?;
    Ok(got)
}

fn expected_samples(count: u32) -> Vec<(u32, i32, Vec<u32>)> {
    let w = mm::state_words(N) as usize;
    (0..count)
        .map(|k| {
            (
                k,
                FakeDevice::sample_energy(k),
                FakeDevice::sample_state(k, w),
            )
        })
        .collect()
}

#[test]
fn connect_then_bulk_write_and_read_are_chunked_and_exact() {
    let (dev, t) = pipe(device());
    let mut link = Link::connect(t).unwrap();
    assert_eq!(link.device().unwrap().n, N);
    let data = words(1000, 7);
    link.write_words(mm::j_addr(3, 0), &data).unwrap();
    assert_eq!(link.read_words(mm::j_addr(3, 0), 1000).unwrap(), data);
    let d = dev.finish();
    // 1000 words = 5 requests of at most MAX_WORDS each way; nothing retried
    assert_eq!(d.executed[&p::WRITE], 5);
    assert_eq!(d.executed[&p::READ], 5);
    assert_eq!(link.stats.retries, 0);
    assert_eq!(d.cache_hits, 0);
    // the traffic by kind: 5 J writes of 1000 words, 5 reads; every byte is attributed
    let t = &link.stats.traffic;
    let wj = t.get(Kind::WriteJ);
    assert_eq!(
        (wj.requests, wj.frames_out, wj.frames_in, wj.words),
        (5, 5, 5, 1000)
    );
    let r = t.get(Kind::ReadOther);
    assert_eq!((r.requests, r.words), (5, 1000));
    assert_eq!(t.get(Kind::Hello).requests, 1);
    assert_eq!(t.get(Kind::Status).requests, 1);
    assert_eq!(t.round_trips(), 12);
    assert_eq!(t.total().bytes_out, link.stats.bytes_out);
    assert_eq!(t.total().bytes_in, link.stats.bytes_in);
    // a 240-word WRITE is 968 bytes before COBS (opcode, seq, address, words, CRC): on the
    // wire one code byte per block of up to 254 bytes without a zero, and the delimiter
    let raw = 4 * (2 + 4 + 960 + 2) + (2 + 4 + 160 + 2);
    assert!(
        wj.bytes_out >= raw + 5 * 2 && wj.bytes_out <= raw + 5 * 2 + 4 * 3,
        "{wj:?}"
    );
    // the replies: opcode, seq, count u16, CRC: 6 bytes, 8 on the wire
    assert_eq!(wj.bytes_in, 5 * 8);
}

#[test]
fn lost_corrupted_and_duplicated_replies_are_retried_exactly_once() {
    let mut dev = device();
    // after HELLO and STATUS of connect: one fault per write request
    dev.script = [
        Action::Normal,
        Action::Normal,
        Action::Lose,
        Action::Silent,
        Action::CorruptReply,
        Action::DuplicateReply,
        Action::BadFrame,
    ]
    .into();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    let blocks: Vec<Vec<u32>> = (0..5).map(|k| words(10, k)).collect();
    for (k, b) in blocks.iter().enumerate() {
        link.write_words(mm::region_addr(mm::REGION_H, 100 * k as u32), b)
            .unwrap();
    }
    for (k, b) in blocks.iter().enumerate() {
        assert_eq!(
            &link
                .read_words(mm::region_addr(mm::REGION_H, 100 * k as u32), 10)
                .unwrap(),
            b
        );
    }
    let d = dev.finish();
    // five writes, each executed once (Lose and BadFrame did not execute; Silent and
    // CorruptReply were answered from the cache on the retry)
    assert_eq!(d.executed[&p::WRITE], 5);
    assert_eq!(d.cache_hits, 2);
    assert_eq!(link.stats.retries, 4);
    assert!(link.stats.stale_replies >= 1, "{:?}", link.stats);
    assert!(link.stats.bad_frames >= 1, "{:?}", link.stats);
}

#[test]
fn a_silent_device_is_a_timeout_not_a_hang_and_the_link_recovers() {
    let mut dev = device();
    dev.script = [Action::Normal, Action::Normal]
        .into_iter()
        .chain(std::iter::repeat_n(Action::Lose, MAX_ATTEMPTS as usize))
        .collect();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    let start = Instant::now();
    let e = link
        .write_words(mm::reg(mm::REG_BURN_IN), &[1, 2])
        .unwrap_err();
    let waited = start.elapsed();
    assert!(
        matches!(e, LinkError::Timeout { request: "WRITE", attempts, .. } if attempts == MAX_ATTEMPTS)
    );
    assert!(e.to_string().contains("no valid reply to WRITE"), "{e}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // the next command works
    link.write_words(mm::reg(mm::REG_BURN_IN), &[3, 4]).unwrap();
    assert_eq!(
        link.read_words(mm::reg(mm::REG_BURN_IN), 2).unwrap(),
        [3, 4]
    );
    dev.finish();

    // a dead board: connect fails with a timeout
    let mut mute = device();
    mute.mute = true;
    let (dev, t) = pipe(mute);
    let start = Instant::now();
    let e = Link::connect(t)
        .err()
        .expect("a mute device must not connect");
    assert!(
        matches!(
            e,
            LinkError::Timeout {
                request: "HELLO",
                ..
            }
        ),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    dev.finish();
}

#[test]
fn a_mismatched_board_is_refused_with_both_hashes() {
    let mut dev = device();
    dev.hello.spec_hash ^= 0xdead;
    let (right, wrong) = (dev.hello.spec_hash ^ 0xdead, dev.hello.spec_hash);
    let (dev, t) = pipe(dev);
    let e = Link::connect(t).err().expect("must refuse");
    let text = e.to_string();
    assert!(matches!(e, LinkError::SpecMismatch { .. }));
    assert!(text.contains(&format!("{wrong:#018x}")), "{text}");
    assert!(text.contains(&format!("{right:#018x}")), "{text}");
    assert!(text.contains("J s4.4"), "names the format: {text}");
    dev.finish();

    let mut dev = device();
    dev.hello.version = p::PROTOCOL_VERSION + 1;
    let (dev, t) = pipe(dev);
    let e = Link::connect(t).err().expect("must refuse");
    assert!(matches!(e, LinkError::Version { .. }), "{e}");
    dev.finish();
}

#[test]
fn a_cached_reply_of_another_request_is_not_taken_for_ours() {
    // a previous session's last request had the number our HELLO now uses: the device
    // repeats that request's reply; the client sends HELLO again under a new number
    let mut dev = device();
    dev.script = [Action::WrongReply].into();
    let (dev, t) = pipe(dev);
    let link = Link::connect(t).unwrap();
    assert_eq!(link.device().unwrap().n, N);
    assert_eq!(link.stats.stale_replies, 1);
    dev.finish();
}

#[test]
fn a_run_streams_every_sample_in_order_while_status_is_polled() {
    let mut dev = device();
    dev.runs = [
        RunScript {
            samples: 300,
            busy_polls: 4,
            ..RunScript::default()
        },
        RunScript {
            samples: 0,
            busy_polls: 2,
            ..RunScript::default()
        },
        RunScript {
            samples: 5,
            duplicate: vec![0, 2, 4],
            ..RunScript::default()
        },
    ]
    .into();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    assert_eq!(run(&mut link).unwrap(), expected_samples(300));
    assert_eq!(run(&mut link).unwrap(), expected_samples(0));
    // a repeated sample frame is dropped, once delivered
    assert_eq!(run(&mut link).unwrap(), expected_samples(5));
    assert_eq!(link.stats.duplicate_samples, 3);
    dev.finish();
}

#[test]
fn a_lost_or_corrupted_sample_is_an_error_and_the_next_run_works() {
    let mut dev = device();
    dev.runs = [
        RunScript {
            samples: 10,
            skip: vec![3],
            ..RunScript::default()
        },
        RunScript {
            samples: 10,
            corrupt: vec![6],
            ..RunScript::default()
        },
        RunScript {
            samples: 10,
            corrupt: vec![9],
            ..RunScript::default()
        },
        RunScript {
            samples: 10,
            skip: vec![9],
            ..RunScript::default()
        },
        RunScript {
            samples: 7,
            ..RunScript::default()
        },
    ]
    .into();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    let mut delivered = Vec::new();
    let e = link
        .run_stream(&mut |k, _, _| delivered.push(k))
        .unwrap_err();
    assert!(
        matches!(
            e,
            LinkError::SampleGap {
                expected: 3,
                got: 4,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(delivered, [0, 1, 2], "nothing after the gap is delivered");
    let e = run(&mut link).unwrap_err();
    assert!(
        matches!(
            e,
            LinkError::SampleGap {
                expected: 6,
                got: 7,
                corrupted: 1
            }
        ),
        "{e}"
    );
    // the last sample lost: seen against the device's count
    let e = run(&mut link).unwrap_err();
    assert!(
        matches!(
            e,
            LinkError::SampleLost {
                device: 10,
                received: 9,
                corrupted: 1
            }
        ),
        "{e}"
    );
    let e = run(&mut link).unwrap_err();
    assert!(
        matches!(
            e,
            LinkError::SampleLost {
                device: 10,
                received: 9,
                corrupted: 0
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("a sample was lost"));
    // the machine was stopped after each failure; the next run is whole
    assert_eq!(run(&mut link).unwrap(), expected_samples(7));
    assert_eq!(link.status().unwrap().status & mm::STATUS_BUSY, 0);
    let d = dev.finish();
    assert!(d.executed[&p::STOP] >= 4);
}

#[test]
fn a_hung_machine_is_reported() {
    let mut dev = device();
    dev.runs = [RunScript {
        samples: 2,
        hang: true,
        ..RunScript::default()
    }]
    .into();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    link.stall_timeout = Duration::from_millis(300);
    let start = Instant::now();
    let e = run(&mut link).unwrap_err();
    assert!(matches!(e, LinkError::Stalled { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // stopped: the next command works
    link.write_words(mm::reg(mm::REG_EVERY), &[1]).unwrap();
    dev.finish();
}

#[test]
fn device_errors_are_reported_with_their_name_and_not_retried() {
    let mut dev = device();
    dev.script = [Action::Normal, Action::Normal, Action::Busy].into();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    let e = link.write_words(mm::reg(mm::REG_EVERY), &[1]).unwrap_err();
    assert!(
        matches!(
            e,
            LinkError::Device {
                code: p::ERR_BUSY,
                request: "WRITE",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("machine busy"), "{e}");
    assert_eq!(link.stats.retries, 0);
    link.write_words(mm::reg(mm::REG_EVERY), &[1]).unwrap();
    dev.finish();
}

/// Writes, reads and runs through a link with faults injected both ways; every fault is
/// detected: data read back is exact, and a run either delivers every sample or fails.
fn faulty_session<T: Transport>(mut link: Link<T>, rounds: u32) -> (u32, u32, Link<T>) {
    let (mut ok_runs, mut failed_runs) = (0, 0);
    for r in 0..rounds {
        let data = words(300, r);
        let addr = mm::region_addr(mm::REGION_RNG, 0);
        link.write_words(addr, &data).unwrap();
        assert_eq!(link.read_words(addr, 300).unwrap(), data, "round {r}");
        match run(&mut link) {
            Ok(got) => {
                assert_eq!(got, expected_samples(50), "round {r}");
                ok_runs += 1;
            }
            Err(
                LinkError::SampleGap { .. }
                | LinkError::SampleLost { .. }
                | LinkError::BadSample { .. },
            ) => failed_runs += 1,
            Err(e) => panic!("round {r}: {e}"),
        }
    }
    (ok_runs, failed_runs, link)
}

#[test]
fn injected_byte_faults_are_all_detected_or_retried() {
    let mut dev = device();
    let script = RunScript {
        samples: 50,
        busy_polls: 1,
        ..RunScript::default()
    };
    dev.runs = std::iter::repeat_n(script, 40).collect();
    let (dev, t) = pipe(dev);
    let faults = Faults {
        corrupt: 2e-4,
        drop: 2e-4,
        duplicate: 2e-4,
    };
    let faulty = FaultyTransport::new(t, 42, faults, faults);
    let counts = faulty.counts();
    let link = Link::connect(faulty).unwrap();
    let (ok, failed, link) = faulty_session(link, 40);
    let c = *counts.lock().unwrap();
    let d = dev.finish();
    eprintln!(
        "faults {c:?}; runs ok {ok}, failed (detected) {failed}; link {:?}; device bad frames {}, cache hits {}",
        link.stats, d.bad_frames, d.cache_hits
    );
    assert!(c.total() >= 10, "too few faults to mean anything: {c:?}");
    assert!(link.stats.retries > 0);
    assert!(ok > 0);
}

/// The fake device on one end of a real pseudo-terminal pair, the client on the other.
#[cfg(unix)]
fn pty_session(baud: u32) {
    let (a, b) = serialport::TTYPort::pair().expect("a pseudo-terminal pair");
    let host = SerialTransport::from_port(Box::new(a), baud).unwrap();
    let board = SerialTransport::from_port(Box::new(b), baud).unwrap();
    let mut dev = device();
    dev.runs = [RunScript {
        samples: 200,
        busy_polls: 3,
        ..RunScript::default()
    }]
    .into();
    dev.script = [Action::Normal, Action::Normal, Action::CorruptReply].into();
    let dev = dev.spawn(board);
    let mut link = Link::connect(host).unwrap();
    let data = words(2000, baud);
    link.write_words(mm::j_addr(0, 0), &data).unwrap();
    assert_eq!(link.read_words(mm::j_addr(0, 0), 2000).unwrap(), data);
    assert_eq!(run(&mut link).unwrap(), expected_samples(200));
    assert_eq!(link.stats.retries, 1);
    drop(link);
    dev.finish();
}

#[cfg(unix)]
#[test]
fn the_client_talks_to_the_fake_across_a_pty_at_115200_baud() {
    pty_session(115_200);
}

#[cfg(unix)]
#[test]
fn the_client_talks_to_the_fake_across_a_pty_at_1_mbaud() {
    pty_session(1_000_000);
}

#[test]
fn the_serial_backend_identifies_the_device_and_runs_a_job_through_the_driver() {
    use pbit_model::jobs::SampleJob;
    use pbit_model::run::SampleSpec;
    use pbit_model::Backend;
    let mut dev = device();
    dev.runs = [RunScript {
        samples: 4,
        busy_polls: 1,
        ..RunScript::default()
    }]
    .into();
    let (dev, t) = pipe(dev);
    let mut b = pbit_host::serial::SerialBackend::connect(t).unwrap();
    assert_eq!(b.capacity(), Some(N as usize));
    let mut ising = pbit_model::Ising::new(33);
    ising.add_coupling(0, 32, 1.0);
    let problem =
        pbit_model::FixedIsing::new(&ising, b.format(), pbit_model::Scaling::Exact).unwrap();
    let page =
        pbit_spec::ThresholdPage::build(&problem.format, pbit_spec::Beta::from_f64(1.0).unwrap());
    let job = SampleJob {
        problem: &problem,
        clamps: &[(1, true)],
        page: &page,
        seed: 3,
        spec: SampleSpec {
            burn_in: 2,
            sweeps: 4,
            every: 1,
        },
    };
    let mut got = Vec::new();
    b.sample(&job, &mut |s, e| got.push((s.to_vec(), e)))
        .unwrap();
    // the fake's samples, unpacked to the instance's 33 p-bits
    let want: Vec<(Vec<bool>, i64)> = expected_samples(4)
        .into_iter()
        .map(|(_, e, w)| (pbit_driver::unpack_bits(&w, 33), e as i64))
        .collect();
    assert_eq!(got, want);
    let d = dev.finish();
    // the driver's writes landed: active count, J_0,32 both ways, the clamp, the schedule
    assert_eq!(d.mem[&mm::reg(mm::REG_N_ACTIVE)], 33);
    assert_eq!(d.mem[&mm::j_addr(0, 32)], 16);
    assert_eq!(d.mem[&mm::j_addr(32, 0)], 16);
    assert_eq!(d.mem[&mm::region_addr(mm::REGION_CLAMPS, 0)], 0b10);
    assert_eq!(d.mem[&mm::schedule_sweeps_addr(0)], 6);
    assert_eq!(d.mem[&mm::reg(mm::REG_BURN_IN)], 2);
}

/// `pbit info` against the fake on a pseudo-terminal.
#[cfg(unix)]
#[test]
fn pbit_info_prints_what_the_device_reports() {
    use serialport::SerialPort;
    let info = |dev: FakeDevice| {
        let (master, slave) = serialport::TTYPort::pair().expect("a pseudo-terminal pair");
        let path = slave.name().expect("the pty's name");
        let board = SerialTransport::from_port(Box::new(master), 115_200).unwrap();
        let dev = dev.spawn(board);
        let out = std::process::Command::new(pbit_tests::pbit_bin())
            .args(["info", "--port", &path, "--baud", "115200", "--json"])
            .output()
            .unwrap();
        drop(slave);
        dev.finish();
        out
    };
    let out = info(device());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n"], N);
    assert_eq!(v["protocol_version"], p::PROTOCOL_VERSION);
    assert_eq!(v["spec_matches"], true);
    assert_eq!(v["link_baud"], 115_200);
    let mut bad = device();
    bad.hello.spec_hash ^= 1;
    let out = info(bad);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["spec_matches"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("spec mismatch"));
}

/// A run whose samples are known ends when the last one arrives, without STATUS; a lost last
/// sample still falls back to STATUS and fails against the device's count.
#[test]
fn a_run_of_known_samples_ends_at_its_last_sample_and_still_sees_a_loss() {
    let mut dev = device();
    dev.runs = [
        RunScript {
            samples: 3,
            ..RunScript::default()
        },
        RunScript {
            samples: 1,
            corrupt: vec![0],
            ..RunScript::default()
        },
        RunScript {
            samples: 1,
            ..RunScript::default()
        },
    ]
    .into();
    let (dev, t) = pipe(dev);
    let mut link = Link::connect(t).unwrap();
    let status0 = link.stats.traffic.get(Kind::Status).requests;
    let mut got = Vec::new();
    link.run_stream_expecting(Some(3), &mut |k, e, w| got.push((k, e, w.to_vec())))
        .unwrap();
    assert_eq!(got, expected_samples(3));
    assert_eq!(
        link.stats.traffic.get(Kind::Status).requests,
        status0,
        "no STATUS asked"
    );
    // the one sample corrupted: the client asks STATUS, sees 1 sent and 0 received
    let e = link
        .run_stream_expecting(Some(1), &mut |_, _, _| {})
        .unwrap_err();
    assert!(
        matches!(
            e,
            LinkError::SampleLost {
                device: 1,
                received: 0,
                corrupted: 1
            }
        ),
        "{e}"
    );
    let mut got = Vec::new();
    link.run_stream_expecting(Some(1), &mut |k, e, w| got.push((k, e, w.to_vec())))
        .unwrap();
    assert_eq!(got, expected_samples(1));
    dev.finish();
}

/// A batch on a device that never finishes it (STATUS busy for ever, counters still) is
/// reported hung seconds after the time its clocks take at the device's clock — not after
/// millions of STATUS round trips — and a device that stops answering mid-job fails the job
/// within the link's reply timeouts.
#[test]
fn a_hung_or_silent_device_fails_a_batch_in_seconds() {
    use pbit_driver::Bus as _;
    use pbit_driver::{Driver, DriverError, HUNG_WINDOW};
    let n = 8usize;
    let problem = pbit_model::FixedIsing::new(
        &pbit_model::Ising::new(n),
        Format::for_machine(N as usize),
        pbit_model::Scaling::Exact,
    )
    .unwrap();
    let page =
        pbit_spec::ThresholdPage::build(&problem.format, pbit_spec::Beta::from_f64(1.0).unwrap());
    let initial = vec![vec![false; n]; 16];
    let engine = |dev: &mut FakeDevice| {
        dev.mem.insert(mm::reg(mm::REG_BATCH_CAPS), 64 | 64 << 16);
    };
    let batch = |link: Link<MemoryTransport>| {
        let mut m = Driver::new(link, N as usize, Format::for_machine(N as usize));
        let caps = m.batch_caps().unwrap();
        let start = Instant::now();
        let r = m.relax_batch(caps, &problem, &[], &page, 3, 0, &initial, 100, false, true);
        (r.map(|_| ()), start.elapsed(), m)
    };

    // hung: busy for ever
    let mut dev = device();
    engine(&mut dev);
    dev.mem.insert(mm::reg(mm::REG_STATUS), mm::STATUS_BUSY);
    let (dev, t) = pipe(dev);
    let link = Link::connect(t).unwrap();
    let clocks = pbit_driver::batch_clocks(n, 100, 16, true);
    let budget = link
        .run_budget(clocks)
        .expect("a device with a clock has a budget");
    // 16 chains × 100 sweeps of 8 p-bits at 25 MHz: ~0.5 ms, so the budget is the grace
    assert!(budget < Duration::from_secs(3), "{budget:?}");
    let (r, took, m) = batch(link);
    assert!(
        matches!(r, Err(DriverError::BatchHung { chains: 16, .. })),
        "{r:?}"
    );
    let least = budget + HUNG_WINDOW;
    assert!(
        took >= least && took < least + Duration::from_secs(3),
        "reported after {took:?}, budget {budget:?}"
    );
    eprintln!("hung batch reported after {took:?} (budget {budget:?})");
    drop(m);
    dev.finish();

    // silent: the device stops answering after a few requests
    let mut dev = device();
    engine(&mut dev);
    dev.script = std::iter::repeat_n(Action::Normal, 12)
        .chain(std::iter::repeat_n(Action::Lose, 10_000))
        .collect();
    let (dev, t) = pipe(dev);
    let link = Link::connect(t).unwrap();
    let (r, took, m) = batch(link);
    assert!(
        matches!(r, Err(DriverError::Bus(LinkError::Timeout { .. }))),
        "{r:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(m);
    dev.finish();
}

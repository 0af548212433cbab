//! `pbit check`: is a freshly flashed board the machine the model says it is?
//!
//! A fixed set of jobs runs on the device and on the model ([`ModelBackend`], one thread, in the
//! device's format): a sampling run with clamps, a short anneal of a few reads, and a batch of
//! relax chains with their correlation sums where the device has the batch engine. Each job's
//! results are written out in one canonical byte encoding ([`Item::bytes`]) and the device's
//! bytes must equal the model's, item for item; the first difference is reported with the job,
//! the item (sample, read, chain), the byte offset in the job's stream and what differs. The
//! instance is generated from a fixed seed and sized to the device (at most [`DEFAULT_MAX_N`]
//! p-bits unless asked), so every run of `pbit check` asks the same questions.
//!
//! The report also carries the device's identity (HELLO: protocol version, N, format, spec
//! hash, clock, baud) and the link's measured payload throughput: J rows written and read back
//! in whole requests, timed on the host's clock (the read-back must equal what was written).

use pbit_model::jobs::{AnnealJob, RelaxJob, RelaxWant, SampleJob};
use pbit_model::{Backend, BackendError, ModelBackend};
use crate::link::{Link, LinkError};
use crate::serial::SerialBackend;
use crate::transport::Transport;
use pbit_model::run::{Pages, SampleSpec};
use pbit_model::schedule::{Schedule, Shape};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_spec::memory_map as mm;
use pbit_spec::protocol::{Hello, MAX_WORDS};
use pbit_spec::{Beta, Format, ThresholdPage};
use serde::Serialize;
use std::time::Instant;

/// The largest instance the check loads by default: J is n² words on the link, and 64 p-bits
/// keep a check at 1 Mbaud under a second on a board.
pub const DEFAULT_MAX_N: usize = 64;

/// What to check.
#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// P-bits of the test instance (None: the device's N, at most [`DEFAULT_MAX_N`]).
    pub n: Option<usize>,
    /// Rounds of the throughput measurement (each writes and reads back one J row per
    /// request, up to [`MAX_WORDS`] words).
    pub throughput_rounds: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            n: None,
            throughput_rounds: 8,
        }
    }
}

/// Why the check could not run (a difference is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Link(#[from] LinkError),
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("--n {n} is out of range: the device has {device_n} p-bits (give 2..={device_n})")]
    BadN { n: usize, device_n: usize },
}

/// What the device says it is.
#[derive(Clone, Debug, Serialize)]
pub struct Identity {
    pub protocol_version: u16,
    pub n: u32,
    pub format: String,
    /// The device's spec hash, `0x` and 16 hex digits.
    pub spec_hash: String,
    /// The hash this host computes for the device's format.
    pub host_spec_hash: String,
    pub spec_matches: bool,
    pub clock_hz: u32,
    pub baud: u32,
}

impl Identity {
    pub fn of(h: &Hello) -> Identity {
        let host = pbit_spec::hash::spec_hash(&h.format());
        Identity {
            protocol_version: h.version,
            n: h.n,
            format: h.format().to_string(),
            spec_hash: format!("{:#018x}", h.spec_hash),
            host_spec_hash: format!("{host:#018x}"),
            spec_matches: host == h.spec_hash,
            clock_hz: h.clock_hz,
            baud: h.baud,
        }
    }
}

/// One job of the check.
#[derive(Clone, Debug, Serialize)]
pub struct JobOutcome {
    pub name: &'static str,
    /// "pass", "differs" or "skipped".
    pub result: &'static str,
    /// Why it was skipped (the device lacks what it needs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Items compared, and bytes in the canonical encoding.
    pub items: usize,
    pub bytes: usize,
    /// Host time of the job on the device.
    pub device_seconds: f64,
}

/// The first place the device and the model disagree.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Difference {
    pub job: &'static str,
    /// Which item: "sample 3", "read 1 best state", "chain 7 final state", "sums".
    pub item: String,
    /// Offset of the first differing byte in the job's canonical byte stream.
    pub byte_offset: usize,
    /// What differs, decoded ("p-bit 17: device +1, model −1", "device −12, model −14").
    pub detail: String,
}

/// The link's payload rate, measured.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Words written and read back (each way).
    pub words: u64,
    pub requests: u64,
    /// Payload bytes per second, host → device (WRITE) and device → host (READ).
    pub write_bytes_per_s: f64,
    pub read_bytes_per_s: f64,
    /// Bytes on the wire per second both ways, against the line's baud/10 each way.
    pub wire_bytes_per_s: f64,
    pub line_bytes_per_s: f64,
    /// Whether every word read back was the word written.
    pub echo_ok: bool,
}

/// What `pbit check` prints.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub pass: bool,
    pub device: Identity,
    /// P-bits of the test instance.
    pub n: usize,
    pub jobs: Vec<JobOutcome>,
    pub first_difference: Option<Difference>,
    pub throughput: Throughput,
}

/// One compared result.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Energy(i64),
    State(Vec<bool>),
    Sums(Vec<i64>),
}

/// A labelled result of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub label: String,
    pub value: Value,
}

impl Item {
    fn new(label: impl Into<String>, value: Value) -> Item {
        Item {
            label: label.into(),
            value,
        }
    }

    /// The canonical encoding: energies and sums as little-endian i64, states one byte per
    /// p-bit (1 for +1, 0 for −1).
    pub fn bytes(&self) -> Vec<u8> {
        match &self.value {
            Value::Energy(e) => e.to_le_bytes().to_vec(),
            Value::State(s) => s.iter().map(|&b| b as u8).collect(),
            Value::Sums(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

fn spin(b: bool) -> &'static str {
    if b {
        "+1"
    } else {
        "−1"
    }
}

/// The first difference between the device's items and the model's, if any.
pub fn first_difference(job: &'static str, device: &[Item], model: &[Item]) -> Option<Difference> {
    let mut offset = 0;
    for (k, m) in model.iter().enumerate() {
        let mb = m.bytes();
        let Some(d) = device.get(k) else {
            return Some(Difference {
                job,
                item: m.label.clone(),
                byte_offset: offset,
                detail: format!(
                    "the device returned {} items, the model {}",
                    device.len(),
                    model.len()
                ),
            });
        };
        let db = d.bytes();
        if d != m {
            let at = db
                .iter()
                .zip(&mb)
                .position(|(a, b)| a != b)
                .unwrap_or(db.len().min(mb.len()));
            let detail = match (&d.value, &m.value) {
                (Value::State(a), Value::State(b)) if a.len() == b.len() => {
                    let i = at;
                    let count = a.iter().zip(b).filter(|(x, y)| x != y).count();
                    format!(
                        "p-bit {} (1-based): device {}, model {} ({count} of {} p-bits differ)",
                        i + 1,
                        spin(a[i]),
                        spin(b[i]),
                        a.len()
                    )
                }
                (Value::Sums(a), Value::Sums(b)) if a.len() == b.len() => {
                    let i = at / 8;
                    format!("sum {i}: device {}, model {}", a[i], b[i])
                }
                (Value::Energy(a), Value::Energy(b)) => {
                    format!("energy (raw): device {a}, model {b}")
                }
                _ => format!("device {:?}, model {:?}", d.value, m.value),
            };
            return Some(Difference {
                job,
                item: m.label.clone(),
                byte_offset: offset + at,
                detail,
            });
        }
        offset += mb.len();
    }
    if device.len() > model.len() {
        return Some(Difference {
            job,
            item: device[model.len()].label.clone(),
            byte_offset: offset,
            detail: format!(
                "the device returned {} items, the model {}",
                device.len(),
                model.len()
            ),
        });
    }
    None
}

/// The check's instance: n p-bits, about a third of the pairs coupled, values small multiples
/// of 1/16 (exact in every format), a bias on every third p-bit; from a fixed generator.
pub fn test_instance(n: usize, format: Format) -> FixedIsing {
    let mut x = 0x70_6269_7463_6865_636b_u128 as u64; // fixed seed
    let mut next = || {
        x = pbit_spec::rng::splitmix64(x);
        x
    };
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if next() % 3 == 0 {
                let raw = (next() % 31) as i64 - 15;
                if raw != 0 {
                    ising.add_coupling(i, j, raw as f64 / 16.0);
                }
            }
        }
        if i % 3 == 0 {
            ising.h[i] = ((next() % 17) as i64 - 8) as f64 / 16.0;
        }
    }
    FixedIsing::new(&ising, format, Scaling::Exact)
        .expect("the check's instance is on every format's grid")
}

/// The jobs, run on one backend: (name, items) per job, or a note why a job does not apply.
struct Jobs {
    problem: FixedIsing,
    clamps: Vec<(usize, bool)>,
    page: ThresholdPage,
    pages: Pages,
    relax_initial: Vec<Vec<bool>>,
    relax_clamped: Vec<usize>,
}

const SEED: u64 = 0x5eed;
const SAMPLE_SPEC: SampleSpec = SampleSpec {
    burn_in: 5,
    sweeps: 60,
    every: 3,
};
const ANNEAL_SWEEPS: u64 = 64;
const ANNEAL_READS: u64 = 4;
const RELAX_CHAINS: usize = 24;
const RELAX_SWEEPS: u64 = 4;

impl Jobs {
    fn new(n: usize, format: Format) -> Jobs {
        let problem = test_instance(n, format);
        let clamps = vec![(0, true), (n / 2, false), (n - 1, true)];
        let page = ThresholdPage::build(&format, Beta::from_f64(0.7).expect("in range"));
        let schedule = Schedule::anneal(
            problem.machine_beta(0.2),
            problem.machine_beta(3.0),
            ANNEAL_SWEEPS,
            Shape::Geometric,
            8,
        )
        .expect("a valid schedule");
        let pages = Pages::build(&problem, &schedule);
        let mut x = 0x6368_6169_6e73u64;
        let relax_initial = (0..RELAX_CHAINS)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        x = pbit_spec::rng::splitmix64(x);
                        x & 1 == 1
                    })
                    .collect()
            })
            .collect();
        Jobs {
            problem,
            clamps,
            page,
            pages,
            relax_initial,
            relax_clamped: vec![1],
        }
    }

    fn sample(&self, b: &mut dyn Backend) -> Result<Vec<Item>, BackendError> {
        let mut items = Vec::new();
        let job = SampleJob {
            problem: &self.problem,
            clamps: &self.clamps,
            page: &self.page,
            seed: SEED,
            spec: SAMPLE_SPEC,
        };
        let mut k = 0;
        b.sample(&job, &mut |s, e| {
            items.push(Item::new(
                format!("sample {k} state"),
                Value::State(s.to_vec()),
            ));
            items.push(Item::new(format!("sample {k} energy"), Value::Energy(e)));
            k += 1;
        })?;
        Ok(items)
    }

    fn anneal(&self, b: &mut dyn Backend) -> Result<Vec<Item>, BackendError> {
        let job = AnnealJob {
            problem: &self.problem,
            clamps: &self.clamps[..1],
            pages: &self.pages,
            seed: SEED,
            reads: ANNEAL_READS,
        };
        let results = b.anneal(&job, &|_| {})?;
        let mut items = Vec::new();
        for r in results {
            let k = r.read;
            items.push(Item::new(
                format!("read {k} best state"),
                Value::State(r.best_spins),
            ));
            items.push(Item::new(
                format!("read {k} best energy"),
                Value::Energy(r.best_energy_raw),
            ));
            items.push(Item::new(
                format!("read {k} final energy"),
                Value::Energy(r.final_energy_raw),
            ));
        }
        Ok(items)
    }

    fn batch(&self, b: &mut dyn Backend) -> Result<Vec<Item>, BackendError> {
        let job = RelaxJob {
            problem: &self.problem,
            clamped: &self.relax_clamped,
            page: &self.page,
            seed: SEED,
            first_read: 100,
            initial: &self.relax_initial,
            sweeps: RELAX_SWEEPS,
        };
        let r = b.relax_batch(
            &job,
            RelaxWant {
                finals: true,
                sums: true,
            },
        )?;
        let mut items = Vec::new();
        for (c, s) in r.finals.unwrap_or_default().into_iter().enumerate() {
            items.push(Item::new(format!("chain {c} final state"), Value::State(s)));
        }
        items.push(Item::new("sums", Value::Sums(r.sums.unwrap_or_default())));
        Ok(items)
    }
}

/// Runs the check on the device behind a connected `link`.
pub fn check<T: Transport>(link: Link<T>, opts: &CheckOptions) -> Result<CheckReport, CheckError> {
    let mut device = SerialBackend::from_link(link)?;
    let hello = device.hello();
    let device_n = hello.n as usize;
    let n = opts.n.unwrap_or(device_n.min(DEFAULT_MAX_N));
    if !(2..=device_n).contains(&n) {
        return Err(CheckError::BadN { n, device_n });
    }
    let format = device.format();
    let mut model = ModelBackend { format, threads: 1 };
    let jobs = Jobs::new(n, format);
    let has_engine = device.batch_caps()?.chains >= RELAX_CHAINS;

    type Run = fn(&Jobs, &mut dyn Backend) -> Result<Vec<Item>, BackendError>;
    let plan: [(&'static str, Run, Option<String>); 3] = [
        ("sample with clamps", Jobs::sample, None),
        ("anneal", Jobs::anneal, None),
        (
            "batch (on-chip relax chains and sums)",
            Jobs::batch,
            (!has_engine).then(|| "the device has no batch engine".to_string()),
        ),
    ];
    let mut outcomes = Vec::new();
    let mut first = None;
    for (name, run, skip) in plan {
        if let Some(note) = skip {
            outcomes.push(JobOutcome {
                name,
                result: "skipped",
                note: Some(note),
                items: 0,
                bytes: 0,
                device_seconds: 0.0,
            });
            continue;
        }
        let t = Instant::now();
        let got = run(&jobs, &mut device)?;
        let device_seconds = t.elapsed().as_secs_f64();
        let want = run(&jobs, &mut model)?;
        let diff = first_difference(name, &got, &want);
        outcomes.push(JobOutcome {
            name,
            result: if diff.is_some() { "differs" } else { "pass" },
            note: None,
            items: want.len(),
            bytes: want.iter().map(|i| i.bytes().len()).sum(),
            device_seconds,
        });
        if first.is_none() {
            first = diff;
        }
    }
    let throughput = measure_throughput(&mut device, opts.throughput_rounds)?;
    Ok(CheckReport {
        pass: first.is_none() && throughput.echo_ok,
        device: Identity::of(&hello),
        n,
        jobs: outcomes,
        first_difference: first,
        throughput,
    })
}

/// Writes the generators' region (one 32-bit word per p-bit, read back as written) in whole
/// requests and reads it back: payload bytes per second each way. Every run writes its own
/// generators, so nothing a job relies on is disturbed; the cache's copy is dropped anyway.
fn measure_throughput<T: Transport>(
    device: &mut SerialBackend<T>,
    rounds: usize,
) -> Result<Throughput, CheckError> {
    let hello = device.hello();
    let words = (hello.n as usize).min(MAX_WORDS);
    let at = mm::region_addr(mm::REGION_RNG, 0);
    let link = device.link();
    let before = link.stats;
    let mut echo_ok = true;
    let (mut write_s, mut read_s) = (0.0, 0.0);
    for r in 0..rounds.max(1) {
        let data: Vec<u32> = (0..words)
            .map(|k| pbit_spec::rng::splitmix64((r * words + k) as u64) as u32 | 1)
            .collect();
        let t = Instant::now();
        link.write_words(at, &data)?;
        write_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = link.read_words(at, words)?;
        read_s += t.elapsed().as_secs_f64();
        echo_ok &= back == data;
    }
    let after = link.stats;
    // the device's J no longer holds what the cache believes
    device.invalidate();
    let total = (rounds.max(1) * words) as u64;
    let bytes = (total * 4) as f64;
    let wire = (after.bytes_out + after.bytes_in - before.bytes_out - before.bytes_in) as f64;
    Ok(Throughput {
        words: total,
        requests: after.requests - before.requests,
        write_bytes_per_s: bytes / write_s.max(1e-9),
        read_bytes_per_s: bytes / read_s.max(1e-9),
        wire_bytes_per_s: wire / (write_s + read_s).max(1e-9),
        line_bytes_per_s: hello.baud as f64 / 10.0,
        echo_ok,
    })
}

/// Opens the serial port `path` at `baud`, connects, and runs the check.
#[cfg(feature = "serial")]
pub fn check_port(path: &str, baud: u32, opts: &CheckOptions) -> Result<CheckReport, CheckError> {
    let t = crate::transport::SerialTransport::open(path, baud)
        .map_err(|e| CheckError::Link(LinkError::from(e)))?;
    check(Link::connect(t)?, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_names_item_offset_and_value() {
        let a = vec![
            Item::new("sample 0 state", Value::State(vec![true, false, true])),
            Item::new("sample 0 energy", Value::Energy(-4)),
        ];
        assert_eq!(first_difference("j", &a, &a), None);
        let mut b = a.clone();
        b[0].value = Value::State(vec![true, true, true]);
        let d = first_difference("j", &b, &a).unwrap();
        assert_eq!((d.item.as_str(), d.byte_offset), ("sample 0 state", 1));
        assert!(
            d.detail
                .starts_with("p-bit 2 (1-based): device +1, model −1"),
            "{}",
            d.detail
        );
        let mut c = a.clone();
        c[1].value = Value::Energy(-6);
        let d = first_difference("j", &c, &a).unwrap();
        // 3 state bytes, then the i64: -4 and -6 differ in the first byte
        assert_eq!((d.item.as_str(), d.byte_offset), ("sample 0 energy", 3));
        assert_eq!(d.detail, "energy (raw): device -6, model -4");
        let d = first_difference("j", &a[..1], &a).unwrap();
        assert_eq!(d.item, "sample 0 energy");
        assert!(first_difference("j", &a, &a[..1]).is_some());
    }

    #[test]
    fn the_instance_is_fixed_and_fits() {
        let p = test_instance(32, Format::STANDARD);
        assert_eq!(p, test_instance(32, Format::STANDARD));
        assert!(p.neighbors.len() > 32 * 31 / 4);
    }
}

//! What a device backend costs: its link's usage counters (traffic by request kind, the
//! machine's busy clocks, what the driver's cache kept off the wire) and their projection onto
//! a board's line rate, round-trip latency and clock; learning reports them per step.

use crate::link::{Traffic, BITS_PER_BYTE};
use pbit_model::{Backend, ModelBackend};
use serde::Serialize;

/// A backend that can say what its device has moved and run ([`Usage`]; None: no device, no
/// link, e.g. the model).
pub trait Metered {
    fn usage(&self) -> Option<Usage> {
        None
    }
}

/// The model has no link.
impl Metered for ModelBackend {}

/// A [`Backend`] that is [`Metered`]: what the CLI and learning hold (`Box<dyn
/// MeteredBackend>`); it is a `&mut dyn Backend` wherever a job only needs the machine.
pub trait MeteredBackend: Backend + Metered {}

impl<T: Backend + Metered + ?Sized> MeteredBackend for T {}

/// What a device backend has done so far: its link's traffic, the machine's busy clocks and
/// what its cache kept off the wire, with the line and clock it ran at. Subtract two snapshots
/// ([`Usage::since`]) for an interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub traffic: Traffic,
    /// Busy clocks of the machine (its counter, summed over jobs).
    pub machine_clocks: u64,
    /// Words the cache did not send (the device held them), and write calls it skipped.
    pub words_skipped: u64,
    pub writes_skipped: u64,
    /// The device's line rate and clock (from HELLO).
    pub baud: u32,
    pub clock_hz: u32,
}

impl Usage {
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            traffic: self.traffic.since(&earlier.traffic),
            machine_clocks: self.machine_clocks - earlier.machine_clocks,
            words_skipped: self.words_skipped - earlier.words_skipped,
            writes_skipped: self.writes_skipped - earlier.writes_skipped,
            ..*self
        }
    }

    /// The time this traffic and these clocks take on a board at `baud` with `latency` per
    /// round trip (the host's and a USB-serial bridge's turnaround: 0 for an ideal line; a
    /// bridge adds ≥ 1 ms, an FTDI chip's default latency timer up to 16 ms), the machine at
    /// `clock_hz`. One request is in flight at a time, so every byte's line time adds up
    /// (10 bits per byte, 8N1), every round trip waits `latency`, and the machine's busy
    /// clocks add (a relax chain's run is not overlapped with the link). The device's own
    /// request handling (a few clocks per word) is left out: docs/benchmarks.md compares this
    /// against the simulated board's clocks.
    pub fn project(&self, baud: u32, latency: f64, clock_hz: u32) -> Projection {
        let t = self.traffic.total();
        let wire_s = (t.bytes_out + t.bytes_in) as f64 * BITS_PER_BYTE as f64 / baud as f64;
        let latency_s = self.traffic.round_trips() as f64 * latency;
        let machine_s = self.machine_clocks as f64 / clock_hz.max(1) as f64;
        Projection {
            baud,
            latency_ms: latency * 1e3,
            clock_hz,
            wire_ms: wire_s * 1e3,
            latency_total_ms: latency_s * 1e3,
            machine_ms: machine_s * 1e3,
            total_ms: (wire_s + latency_s + machine_s) * 1e3,
        }
    }
}

/// Where the time of some link traffic goes on a board ([`Usage::project`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Projection {
    pub baud: u32,
    /// Turnaround assumed per round trip.
    pub latency_ms: f64,
    pub clock_hz: u32,
    /// Bytes on the line, both ways.
    pub wire_ms: f64,
    /// Round trips × latency.
    pub latency_total_ms: f64,
    /// The machine's busy clocks.
    pub machine_ms: f64,
    pub total_ms: f64,
}

/// Link traffic of some learning steps on a device backend, per step (means over `steps`).
#[derive(Clone, Debug, Serialize)]
pub struct StepUse {
    pub steps: u64,
    /// Round trips (requests answered), frames and bytes on the wire each way, per step.
    pub round_trips: f64,
    pub frames_out: f64,
    pub frames_in: f64,
    pub bytes_out: f64,
    pub bytes_in: f64,
    /// The machine's busy clocks per step.
    pub machine_clocks: f64,
    /// Words the driver's cache did not send (the device held them), per step.
    pub words_skipped: f64,
    /// Per kind of request: requests, frames and bytes each way, words, per step.
    pub kinds: std::collections::BTreeMap<&'static str, KindMean>,
    /// Wall time per step inside the backend's relax jobs, measured on this host.
    pub sampling_wall_ms: f64,
    /// The same traffic and clocks projected onto a board (see [`Usage::project`]).
    pub projected: Vec<Projection>,
}

/// One kind's traffic per step.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct KindMean {
    pub requests: f64,
    pub bytes_out: f64,
    pub bytes_in: f64,
    pub words: f64,
}

/// Baud rates and round-trip latencies the learn report projects onto: the device's own baud
/// and 3 Mbaud; an ideal line, a USB-serial bridge at 1 ms, an FTDI chip's default 16 ms.
pub const PROJECT_BAUDS: [u32; 2] = [1_000_000, 3_000_000];
pub const PROJECT_LATENCIES: [f64; 3] = [0.0, 1e-3, 16e-3];

impl StepUse {
    pub(crate) fn new(u: &Usage, steps: u64, sampling_s: f64) -> StepUse {
        let per = 1.0 / steps.max(1) as f64;
        let t = u.traffic.total();
        let mut bauds = vec![u.baud];
        bauds.extend(PROJECT_BAUDS.iter().filter(|&&b| b != u.baud));
        let projected = bauds
            .iter()
            .flat_map(|&b| {
                PROJECT_LATENCIES.iter().map(move |&l| {
                    let mut p = u.project(b, l, u.clock_hz);
                    p.wire_ms *= per;
                    p.latency_total_ms *= per;
                    p.machine_ms *= per;
                    p.total_ms *= per;
                    p
                })
            })
            .collect();
        StepUse {
            steps,
            round_trips: u.traffic.round_trips() as f64 * per,
            frames_out: t.frames_out as f64 * per,
            frames_in: t.frames_in as f64 * per,
            bytes_out: t.bytes_out as f64 * per,
            bytes_in: t.bytes_in as f64 * per,
            machine_clocks: u.machine_clocks as f64 * per,
            words_skipped: u.words_skipped as f64 * per,
            kinds: u
                .traffic
                .by_name()
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        KindMean {
                            requests: v.requests as f64 * per,
                            bytes_out: v.bytes_out as f64 * per,
                            bytes_in: v.bytes_in as f64 * per,
                            words: v.words as f64 * per,
                        },
                    )
                })
                .collect(),
            sampling_wall_ms: sampling_s * 1e3 * per,
            projected,
        }
    }
}

/// Where a device backend's time went while learning: the first step (it loads the pages,
/// the schedule and all of J) and the mean of the later ones.
#[derive(Clone, Debug, Serialize)]
pub struct LinkUse {
    pub baud: u32,
    pub clock_hz: u32,
    pub first_step: StepUse,
    pub later_steps: Option<StepUse>,
}


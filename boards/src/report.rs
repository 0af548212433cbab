//! The build report: nextpnr's log (Fmax per clock against its target, device utilisation)
//! and yosys's cell statistics, parsed into [`Report`].

use crate::board::{Board, Family};
use crate::pll::{CoreClock, Pll};
use serde::Serialize;
use std::path::PathBuf;

/// One clock's timing from nextpnr (the last figure the log gives, i.e. after routing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockTiming {
    pub clock: String,
    pub fmax_mhz: f64,
    pub target_mhz: f64,
    pub pass: bool,
}

/// One line of nextpnr's "Device utilisation": `DP16KD: 64/208`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Utilisation {
    pub cell: String,
    pub used: usize,
    pub available: usize,
}

/// What nextpnr's log says.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NextpnrLog {
    pub clocks: Vec<ClockTiming>,
    pub utilisation: Vec<Utilisation>,
    /// `ERROR:` lines (a design that does not fit says so here).
    pub errors: Vec<String>,
}

/// Parses nextpnr's log (any version that prints "Device utilisation" and
/// "Max frequency for clock"); later figures replace earlier ones.
pub fn parse_nextpnr_log(log: &str) -> NextpnrLog {
    let mut out = NextpnrLog::default();
    let mut in_util = false;
    for line in log.lines() {
        // nextpnr 0.11 prints a failing post-route Fmax as `Warning:`, the rest as `Info:`
        let t = line
            .trim_start_matches("Info:")
            .trim_start_matches("Warning:")
            .trim();
        if line.starts_with("ERROR:") {
            out.errors.push(line.trim().to_string());
        }
        if t.starts_with("Device utilisation") {
            in_util = true;
            continue;
        }
        if in_util {
            if let Some(u) = utilisation_line(t) {
                match out.utilisation.iter_mut().find(|x| x.cell == u.cell) {
                    Some(x) => *x = u,
                    None => out.utilisation.push(u),
                }
                continue;
            }
            in_util = false;
        }
        if let Some(c) = clock_line(t) {
            match out.clocks.iter_mut().find(|x| x.clock == c.clock) {
                Some(x) => *x = c,
                None => out.clocks.push(c),
            }
        }
    }
    out
}

fn utilisation_line(t: &str) -> Option<Utilisation> {
    let (cell, rest) = t.split_once(':')?;
    let (used, rest) = rest.split_once('/')?;
    let available = rest.split_whitespace().next()?;
    Some(Utilisation {
        cell: cell.trim().to_string(),
        used: used.trim().parse().ok()?,
        available: available.parse().ok()?,
    })
}

// `Max frequency for clock 'clk$glb_clk': 45.67 MHz (PASS at 25.00 MHz)`
fn clock_line(t: &str) -> Option<ClockTiming> {
    let rest = t.strip_prefix("Max frequency for clock")?.trim();
    let rest = rest.strip_prefix('\'')?;
    let (clock, rest) = rest.split_once("':")?;
    let mut w = rest.split_whitespace();
    let fmax_mhz = w.next()?.parse().ok()?;
    let _mhz = w.next()?;
    let verdict = w.next()?.trim_start_matches('(');
    let _at = w.next()?;
    let target_mhz = w.next()?.parse().ok()?;
    Some(ClockTiming {
        clock: clock.to_string(),
        fmax_mhz,
        target_mhz,
        pass: verdict == "PASS",
    })
}

/// Flip-flops in yosys's final `stat` (cells named `SB_DFF*` or `TRELLIS_FF`).
pub fn yosys_flip_flops(log: &str) -> Option<usize> {
    let start = log.rfind("Number of cells")?;
    let mut total = 0;
    let mut seen = false;
    for line in log[start..].lines().skip(1) {
        let mut w = line.split_whitespace();
        let (Some(name), Some(count)) = (w.next(), w.next()) else {
            if seen {
                break;
            }
            continue;
        };
        // yosys 0.23: `SB_DFF  12`; yosys 0.5x+: `12  SB_DFF` (count first)
        let (name, count) = match count.parse::<usize>() {
            Ok(c) => (name, c),
            Err(_) => match name.parse::<usize>() {
                Ok(c) => (count, c),
                Err(_) => continue,
            },
        };
        seen = true;
        if name.starts_with("SB_DFF") || name == "TRELLIS_FF" {
            total += count;
        }
    }
    Some(total)
}

/// The run a report's update rate is quoted for: this many sweeps of all N p-bits in one step.
pub const REFERENCE_SWEEPS: u64 = 1000;

/// p-bit updates per clock of a machine of `n` p-bits over the reference run.
pub fn updates_per_clock(n: usize) -> f64 {
    let n = n as u64;
    let clocks = pbit_hdl::scheduler::run_clocks(n, &[REFERENCE_SWEEPS]);
    (n * REFERENCE_SWEEPS) as f64 / clocks as f64
}

/// The PLL of a build with `--clock-mhz`: the request, the primitive and its dividers, the
/// VCO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PllReport {
    pub requested_mhz: f64,
    pub vco_mhz: f64,
    #[serde(flatten)]
    pub config: Pll,
}

/// The report of one build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub board: String,
    pub device: String,
    pub n: usize,
    pub baud: u32,
    /// The bitstream written (absent when the design did not fit or was not packed).
    pub bitstream: Option<PathBuf>,
    /// The clock the core runs at: the board's oscillator, or with `--clock-mhz` the
    /// frequency its PLL makes (never the Fmax).
    pub clock_mhz: f64,
    /// The PLL making `clock_mhz` (absent: the oscillator drives the core).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pll: Option<PllReport>,
    /// nextpnr's Fmax of the core clock after routing.
    pub fmax_mhz: f64,
    /// nextpnr's PASS for the core clock, at a target equal to `clock_mhz` (to the two
    /// decimals its log prints).
    pub timing_met: bool,
    /// Slack of the core clock in ns: period at `clock_mhz` minus the critical path.
    pub slack: f64,
    pub luts: usize,
    pub ffs: usize,
    pub brams: usize,
    pub dsps: usize,
    pub luts_available: usize,
    pub brams_available: usize,
    /// p-bit updates per clock of the machine over a reference run of
    /// [`REFERENCE_SWEEPS`] sweeps of all N p-bits in one schedule step, recomputation and
    /// step overhead included ([`pbit_hdl::scheduler::run_clocks`], checked against the
    /// Verilated machine): just under one.
    pub updates_per_clock: f64,
    /// updates per clock × clock.
    pub updates_per_s: f64,
    /// updates per clock × clock in MHz / 1000: p-bit updates per nanosecond.
    pub flips_per_ns: f64,
    /// Sparse machine: "sparse", its colours and maximum degree (dense: "dense", absent).
    pub machine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_degree: Option<usize>,
    /// Sparse machine: its update lanes (absent: one update cell per p-bit) and clocks per
    /// sweep (updates_per_clock = n / clocks_per_sweep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lanes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clocks_per_sweep: Option<u32>,
    /// Sparse machine: clocks of a lane's update (2: two-stage lanes, the field then the
    /// compare and write; pbit_hdl::sparse::PIPELINE_MIN_LANES).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane_stages: Option<usize>,
    /// Every clock nextpnr timed, and every utilisation line.
    pub clocks: Vec<ClockTiming>,
    pub utilisation: Vec<Utilisation>,
    /// Wall time of each build step, seconds.
    pub step_seconds: Vec<(String, f64)>,
}

impl Report {
    /// Describes a sparse machine: its n, colours, degree and updates per clock (and so the
    /// rates at the report's clock).
    pub fn set_sparse(
        &mut self,
        n: usize,
        colours: u32,
        max_degree: usize,
        updates_per_clock: f64,
    ) {
        self.machine = "sparse".into();
        self.n = n;
        self.colours = Some(colours);
        self.max_degree = Some(max_degree);
        self.updates_per_clock = updates_per_clock;
        self.updates_per_s = updates_per_clock * (self.clock_mhz * 1e6);
        self.flips_per_ns = updates_per_clock * self.clock_mhz / 1000.0;
    }

    /// A report from nextpnr's log (and yosys's, for the flip-flop count on iCE40).
    pub fn from_logs(
        board: &Board,
        n: usize,
        baud: u32,
        nextpnr: &NextpnrLog,
        yosys_log: &str,
    ) -> Report {
        let used = |cells: &[&str]| -> (usize, usize) {
            nextpnr
                .utilisation
                .iter()
                .filter(|u| cells.contains(&u.cell.as_str()))
                .fold((0, 0), |(a, b), u| (a + u.used, b + u.available))
        };
        let (luts, luts_available, ffs, brams, brams_available, dsps) = match board.family {
            Family::Ecp5 => {
                let (l, la) = used(&["TRELLIS_COMB"]);
                let (f, _) = used(&["TRELLIS_FF"]);
                let (b, ba) = used(&["DP16KD"]);
                (l, la, f, b, ba, used(&["MULT18X18D"]).0)
            }
            Family::Ice40 => {
                let (l, la) = used(&["ICESTORM_LC"]);
                let f = yosys_flip_flops(yosys_log).unwrap_or(0);
                let (b, ba) = used(&["ICESTORM_RAM"]);
                (l, la, f, b, ba, used(&["ICESTORM_DSP"]).0)
            }
        };
        let mut report = Report {
            board: board.name.to_string(),
            device: board.device.to_string(),
            n,
            baud,
            bitstream: None,
            clock_mhz: 0.0,
            pll: None,
            fmax_mhz: 0.0,
            timing_met: false,
            slack: f64::NEG_INFINITY,
            luts,
            ffs,
            brams,
            dsps,
            luts_available,
            brams_available,
            updates_per_clock: updates_per_clock(n),
            updates_per_s: 0.0,
            flips_per_ns: 0.0,
            machine: "dense".into(),
            colours: None,
            max_degree: None,
            lanes: None,
            clocks_per_sweep: None,
            lane_stages: None,
            clocks: nextpnr.clocks.clone(),
            utilisation: nextpnr.utilisation.clone(),
            step_seconds: Vec::new(),
        };
        report.set_core_clock(&CoreClock::oscillator(board));
        report
    }

    /// The report at the core clock `clock`: its frequency, PLL, the timing verdict and slack
    /// at it, and the rates (updates per clock × clock).
    pub fn set_core_clock(&mut self, clock: &CoreClock) {
        self.clock_mhz = clock.mhz;
        self.pll = clock.pll.map(|config| PllReport {
            requested_mhz: clock.requested_mhz.unwrap_or(clock.mhz),
            vco_mhz: config.vco_mhz(),
            config,
        });
        // the core clock: the slowest clock nextpnr timed (the shells have one); timing is met
        // when nextpnr says so (its PASS at the target frequency), not by recomputing it
        // here, and only if that target is this clock (its log prints two decimals)
        let core = self
            .clocks
            .iter()
            .min_by(|a, b| a.fmax_mhz.total_cmp(&b.fmax_mhz));
        self.fmax_mhz = core.map(|c| c.fmax_mhz).unwrap_or(0.0);
        self.slack = if self.fmax_mhz > 0.0 {
            1e3 / self.clock_mhz - 1e3 / self.fmax_mhz
        } else {
            f64::NEG_INFINITY
        };
        self.timing_met =
            core.is_some_and(|c| c.pass && (c.target_mhz - self.clock_mhz).abs() <= 0.0051);
        self.updates_per_s = self.updates_per_clock * (self.clock_mhz * 1e6);
        self.flips_per_ns = self.updates_per_clock * self.clock_mhz / 1000.0;
    }
}

//! The core clock of a board build: the oscillator itself, or a PLL's output when the build
//! asks for another frequency (`pbit hdl build --clock-mhz F`).
//!
//! The dividers are searched here, in Rust, and the shell instantiates the PLL with them
//! (`crate::shell::shell_verilog_for`); everything downstream (the UART divisor in the core
//! top, the HELLO's clock, nextpnr's `--freq`, the report's `clock_mhz`, slack and flips/ns)
//! takes the frequency the dividers actually make, [`CoreClock::mhz`], never the request.
//!
//! * ECP5 `EHXPLLL`, feedback from CLKOP (the rule of Project Trellis's `ecppll`):
//!   f_PFD = f_in / CLKI_DIV, f_out = f_PFD × CLKFB_DIV, f_VCO = f_out × CLKOP_DIV, with
//!   f_PFD in 3.125–400 MHz, f_VCO in 400–800 MHz, f_out in 10–400 MHz, CLKI_DIV and CLKOP_DIV
//!   1–128, CLKFB_DIV 1–80; CLKOP_CPHASE = ⌊CLKOP_DIV / 2⌋ (half a period, as Lattice's tools
//!   set it; with CLKOP fed back the output phase does not move the core's clock).
//! * iCE40 `SB_PLL40_PAD`, simple feedback (the rule of `icepll`): f_PFD = f_in / (DIVR + 1) in
//!   10–133 MHz, f_VCO = f_PFD × (DIVF + 1) in 533–1066 MHz, f_out = f_VCO / 2^DIVQ in
//!   16–275 MHz, DIVR 0–15, DIVF 0–127, DIVQ 1–6, FILTER_RANGE from f_PFD.
//!
//! The search takes the divider set whose output is nearest the request (an exact one if
//! there is), ties broken by the VCO nearest the middle of its range, then by the smallest
//! input divider (the highest comparison frequency).

use crate::board::{Board, Family};
use serde::Serialize;

/// Why a requested core clock cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClockError {
    #[error(
        "--clock-mhz {requested_mhz}: the {board}'s {pll} makes {min_mhz}–{max_mhz} MHz from \
         its {ref_mhz} MHz oscillator (leave --clock-mhz out to run the core on the oscillator)"
    )]
    OutOfRange {
        board: &'static str,
        pll: &'static str,
        requested_mhz: f64,
        ref_mhz: f64,
        min_mhz: f64,
        max_mhz: f64,
    },
    #[error(
        "--clock-mhz is not supported on the {board}: its shell has no PLL (the core runs on \
         the {ref_mhz} MHz oscillator)"
    )]
    NotSupported { board: &'static str, ref_mhz: f64 },
    #[error("--clock-mhz {requested_mhz}: give a positive finite frequency in MHz")]
    Invalid { requested_mhz: f64 },
}

/// Dividers of an ECP5 `EHXPLLL` with CLKOP fed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ecp5Pll {
    pub ref_hz: u32,
    pub clki_div: u32,
    pub clkfb_div: u32,
    pub clkop_div: u32,
    pub clkop_cphase: u32,
}

/// Limits of the ECP5 PLL (MHz), as Project Trellis's `ecppll` uses them.
pub mod ecp5 {
    pub const PFD_MIN: f64 = 3.125;
    pub const PFD_MAX: f64 = 400.0;
    pub const VCO_MIN: f64 = 400.0;
    pub const VCO_MAX: f64 = 800.0;
    pub const OUT_MIN: f64 = 10.0;
    pub const OUT_MAX: f64 = 400.0;
    pub const CLKI_DIV_MAX: u32 = 128;
    pub const CLKFB_DIV_MAX: u32 = 80;
    pub const CLKOP_DIV_MAX: u32 = 128;
}

impl Ecp5Pll {
    pub fn pfd_mhz(&self) -> f64 {
        self.ref_hz as f64 / 1e6 / self.clki_div as f64
    }
    /// The output: f_in × CLKFB_DIV / CLKI_DIV.
    pub fn out_mhz(&self) -> f64 {
        (self.ref_hz as f64 * self.clkfb_div as f64 / self.clki_div as f64) / 1e6
    }
    pub fn vco_mhz(&self) -> f64 {
        self.out_mhz() * self.clkop_div as f64
    }

    /// The dividers making the output nearest `target_mhz` from `ref_hz`, within the limits
    /// of [`ecp5`]; None if no divider set is within them (a request outside
    /// `OUT_MIN..=OUT_MAX` is refused before, by [`core_clock`]).
    pub fn search(ref_hz: u32, target_mhz: f64) -> Option<Ecp5Pll> {
        use ecp5::*;
        let mut best: Option<(f64, f64, Ecp5Pll)> = None;
        for clki_div in 1..=CLKI_DIV_MAX {
            let pfd = ref_hz as f64 / 1e6 / clki_div as f64;
            if !(PFD_MIN..=PFD_MAX).contains(&pfd) {
                continue;
            }
            for clkfb_div in 1..=CLKFB_DIV_MAX {
                for clkop_div in 1..=CLKOP_DIV_MAX {
                    let p = Ecp5Pll {
                        ref_hz,
                        clki_div,
                        clkfb_div,
                        clkop_div,
                        clkop_cphase: clkop_div / 2,
                    };
                    let (out, vco) = (p.out_mhz(), p.vco_mhz());
                    if !(VCO_MIN..=VCO_MAX).contains(&vco) || !(OUT_MIN..=OUT_MAX).contains(&out) {
                        continue;
                    }
                    let key = ((out - target_mhz).abs(), (vco - 600.0).abs());
                    if best.is_none_or(|(e, v, _)| key.0 < e || (key.0 == e && key.1 < v)) {
                        best = Some((key.0, key.1, p));
                    }
                }
            }
        }
        best.map(|(_, _, p)| p)
    }
}

/// Dividers of an iCE40 `SB_PLL40_PAD` with simple feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ice40Pll {
    pub ref_hz: u32,
    pub divr: u32,
    pub divf: u32,
    pub divq: u32,
    pub filter_range: u32,
}

/// Limits of the iCE40 PLL (MHz), as `icepll` uses them.
pub mod ice40 {
    pub const PFD_MIN: f64 = 10.0;
    pub const PFD_MAX: f64 = 133.0;
    pub const VCO_MIN: f64 = 533.0;
    pub const VCO_MAX: f64 = 1066.0;
    pub const OUT_MIN: f64 = 16.0;
    pub const OUT_MAX: f64 = 275.0;
}

impl Ice40Pll {
    pub fn pfd_mhz(&self) -> f64 {
        self.ref_hz as f64 / 1e6 / (self.divr + 1) as f64
    }
    pub fn vco_mhz(&self) -> f64 {
        self.ref_hz as f64 * (self.divf + 1) as f64 / (self.divr + 1) as f64 / 1e6
    }
    /// The output: f_in × (DIVF + 1) / ((DIVR + 1) × 2^DIVQ).
    pub fn out_mhz(&self) -> f64 {
        self.ref_hz as f64 * (self.divf + 1) as f64
            / ((self.divr + 1) as f64 * (1u32 << self.divq) as f64)
            / 1e6
    }

    /// The dividers making the output nearest `target_mhz`, within [`ice40`]'s limits.
    pub fn search(ref_hz: u32, target_mhz: f64) -> Option<Ice40Pll> {
        use ice40::*;
        let mut best: Option<(f64, f64, Ice40Pll)> = None;
        for divr in 0..=15 {
            let pfd = ref_hz as f64 / 1e6 / (divr + 1) as f64;
            if !(PFD_MIN..=PFD_MAX).contains(&pfd) {
                continue;
            }
            // the loop filter's range for this comparison frequency (icepll's table)
            let filter_range = match pfd {
                f if f < 17.0 => 1,
                f if f < 26.0 => 2,
                f if f < 44.0 => 3,
                f if f < 66.0 => 4,
                f if f < 101.0 => 5,
                _ => 6,
            };
            for divf in 0..=127 {
                for divq in 1..=6 {
                    let p = Ice40Pll {
                        ref_hz,
                        divr,
                        divf,
                        divq,
                        filter_range,
                    };
                    let (out, vco) = (p.out_mhz(), p.vco_mhz());
                    if !(VCO_MIN..=VCO_MAX).contains(&vco) || !(OUT_MIN..=OUT_MAX).contains(&out) {
                        continue;
                    }
                    let key = ((out - target_mhz).abs(), (vco - 800.0).abs());
                    if best.is_none_or(|(e, v, _)| key.0 < e || (key.0 == e && key.1 < v)) {
                        best = Some((key.0, key.1, p));
                    }
                }
            }
        }
        best.map(|(_, _, p)| p)
    }
}

/// A PLL's configuration, by family.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "primitive")]
pub enum Pll {
    #[serde(rename = "EHXPLLL")]
    Ecp5(Ecp5Pll),
    #[serde(rename = "SB_PLL40_PAD")]
    Ice40(Ice40Pll),
}

impl Pll {
    pub fn out_mhz(&self) -> f64 {
        match self {
            Pll::Ecp5(p) => p.out_mhz(),
            Pll::Ice40(p) => p.out_mhz(),
        }
    }
    pub fn vco_mhz(&self) -> f64 {
        match self {
            Pll::Ecp5(p) => p.vco_mhz(),
            Pll::Ice40(p) => p.vco_mhz(),
        }
    }
    pub fn primitive(&self) -> &'static str {
        match self {
            Pll::Ecp5(_) => "EHXPLLL",
            Pll::Ice40(_) => "SB_PLL40_PAD",
        }
    }
}

/// The clock the core runs at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoreClock {
    /// The frequency made (the PLL's achieved output, or the oscillator), MHz.
    pub mhz: f64,
    /// The frequency rounded to whole Hz: what the core top is generated for (the UART
    /// divisor, the HELLO's `clock_hz`).
    pub hz: u32,
    /// The frequency asked for (`--clock-mhz`), if any.
    pub requested_mhz: Option<f64>,
    /// The PLL and its dividers (None: the oscillator drives the core).
    pub pll: Option<Pll>,
}

impl CoreClock {
    /// The board's own clock: its oscillator, no PLL.
    pub fn oscillator(board: &Board) -> CoreClock {
        CoreClock {
            mhz: board.clock_mhz(),
            hz: board.clock_hz,
            requested_mhz: None,
            pll: None,
        }
    }
}

/// A frequency in MHz as text for a tool (nextpnr's `--freq`, the PLL's frequency
/// attributes): at most six decimals, no trailing zeros (25.0 → "25").
pub fn mhz_text(mhz: f64) -> String {
    let s = format!("{mhz:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The core clock of a build of `board` at `requested_mhz` (None: the oscillator, as
/// without `--clock-mhz`). A request outside what the board's PLL makes is an error naming
/// the range; inside it, the nearest frequency the dividers make.
pub fn core_clock(board: &Board, requested_mhz: Option<f64>) -> Result<CoreClock, ClockError> {
    let Some(req) = requested_mhz else {
        return Ok(CoreClock::oscillator(board));
    };
    if !(req.is_finite() && req > 0.0) {
        return Err(ClockError::Invalid { requested_mhz: req });
    }
    let ref_mhz = board.osc_hz as f64 / 1e6;
    let Some(kind) = board.pll_primitive else {
        return Err(ClockError::NotSupported {
            board: board.name,
            ref_mhz,
        });
    };
    let (min_mhz, max_mhz) = match board.family {
        Family::Ecp5 => (ecp5::OUT_MIN, ecp5::OUT_MAX),
        Family::Ice40 => (ice40::OUT_MIN, ice40::OUT_MAX),
    };
    let out_of_range = ClockError::OutOfRange {
        board: board.name,
        pll: kind,
        requested_mhz: req,
        ref_mhz,
        min_mhz,
        max_mhz,
    };
    if !(min_mhz..=max_mhz).contains(&req) {
        return Err(out_of_range);
    }
    let pll = match board.family {
        Family::Ecp5 => Ecp5Pll::search(board.osc_hz, req).map(Pll::Ecp5),
        Family::Ice40 => Ice40Pll::search(board.osc_hz, req).map(Pll::Ice40),
    }
    .ok_or(out_of_range)?;
    let mhz = pll.out_mhz();
    Ok(CoreClock {
        mhz,
        hz: (mhz * 1e6).round() as u32,
        requested_mhz: Some(req),
        pll: Some(pll),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecp5_within_limits(p: &Ecp5Pll) {
        use ecp5::*;
        assert!((PFD_MIN..=PFD_MAX).contains(&p.pfd_mhz()), "{p:?}");
        assert!((VCO_MIN..=VCO_MAX).contains(&p.vco_mhz()), "{p:?}");
        assert!((OUT_MIN..=OUT_MAX).contains(&p.out_mhz()), "{p:?}");
        assert!((1..=CLKI_DIV_MAX).contains(&p.clki_div));
        assert!((1..=CLKFB_DIV_MAX).contains(&p.clkfb_div));
        assert!((1..=CLKOP_DIV_MAX).contains(&p.clkop_div));
        assert_eq!(p.clkop_cphase, p.clkop_div / 2);
    }

    #[test]
    fn ecp5_search_is_exact_where_25_mhz_allows_it() {
        // 25 × CLKFB_DIV / CLKI_DIV: 50 = 25 × 2, 40 = 25 × 8 / 5, 37.5 = 25 × 3 / 2
        for (target, fb_over_ref) in [(50.0, 2.0), (40.0, 1.6), (37.5, 1.5), (100.0, 4.0)] {
            let p = Ecp5Pll::search(25_000_000, target).unwrap();
            ecp5_within_limits(&p);
            assert_eq!(p.out_mhz(), target, "{p:?}");
            assert_eq!(p.clkfb_div as f64 / p.clki_div as f64, fb_over_ref);
            // ties between divider sets go to the VCO nearest 600 MHz: each of these has one
            // at exactly 600 (600 / target is an integer)
            assert_eq!(p.vco_mhz(), 600.0, "{p:?}");
        }
        // 50 MHz: CLKI_DIV 1 (the highest comparison frequency), CLKFB_DIV 2, CLKOP_DIV 12
        let p = Ecp5Pll::search(25_000_000, 50.0).unwrap();
        assert_eq!(
            (p.clki_div, p.clkfb_div, p.clkop_div, p.clkop_cphase),
            (1, 2, 12, 6)
        );
    }

    #[test]
    fn ecp5_search_takes_the_nearest_frequency_made() {
        // a brute force over the same limits finds nothing nearer
        for target in [10.0, 33.3, 41.0, 47.123, 61.0, 123.4, 399.0] {
            let p = Ecp5Pll::search(25_000_000, target).unwrap();
            ecp5_within_limits(&p);
            let err = (p.out_mhz() - target).abs();
            for r in 1..=8u32 {
                for f in 1..=80u32 {
                    let out = 25.0 * f as f64 / r as f64;
                    let vco_ok = (1..=128).any(|d| (400.0..=800.0).contains(&(out * d as f64)));
                    if vco_ok && (10.0..=400.0).contains(&out) {
                        assert!((out - target).abs() >= err, "{target}: {out} beats {p:?}");
                    }
                }
            }
            // 25 MHz / CLKI_DIV ≥ 3.125 MHz, so CLKI_DIV ≤ 8 and the grid is at most 3.125 MHz
            // coarse: never more than half a step away
            assert!(err <= 25.0 / 8.0 / 2.0, "{target}: {p:?}");
        }
    }

    #[test]
    fn ice40_search_stays_in_its_limits() {
        for target in [16.0, 16.2, 24.0, 48.0, 100.0, 275.0] {
            let p = Ice40Pll::search(12_000_000, target).unwrap();
            assert!((10.0..=133.0).contains(&p.pfd_mhz()), "{p:?}");
            assert!((533.0..=1066.0).contains(&p.vco_mhz()), "{p:?}");
            assert!((16.0..=275.0).contains(&p.out_mhz()), "{p:?}");
            assert!(p.divr <= 15 && p.divf <= 127 && (1..=6).contains(&p.divq));
        }
        // 48 MHz = 12 × 64 / (1 × 2^4): exact
        let p = Ice40Pll::search(12_000_000, 48.0).unwrap();
        assert_eq!(p.out_mhz(), 48.0);
        assert_eq!(p.filter_range, 1, "12 MHz comparison frequency: range 1");
    }

    #[test]
    fn requests_outside_the_range_are_refused_with_it() {
        let ulx3s = &crate::board::ULX3S;
        for bad in [5.0, 401.0] {
            let e = core_clock(ulx3s, Some(bad)).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("10–400 MHz") && msg.contains("EHXPLLL") && msg.contains("ulx3s"),
                "{msg}"
            );
        }
        assert!(matches!(
            core_clock(ulx3s, Some(f64::NAN)),
            Err(ClockError::Invalid { .. })
        ));
        // without a request: the oscillator, exactly as before
        let c = core_clock(ulx3s, None).unwrap();
        assert_eq!((c.hz, c.mhz, c.pll), (25_000_000, 25.0, None));
        // with one: the achieved frequency, in MHz and whole Hz
        let c = core_clock(ulx3s, Some(41.0)).unwrap();
        let made = c.pll.unwrap().out_mhz();
        assert_eq!(c.mhz, made);
        assert_eq!(c.hz, (made * 1e6).round() as u32);
        assert_ne!(c.mhz, 41.0, "41 MHz is not a multiple of 25 / k for k ≤ 8");
    }
}

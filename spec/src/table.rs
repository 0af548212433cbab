//! β pages: the decision thresholds for one inverse temperature.
//!
//! The p-bit rule m = sgn(tanh(β·I) − r), r uniform in (−1, 1), is rewritten so the hardware's
//! decision is one integer compare: draw the page index u (the top `rng_bits` bits of the
//! p-bit's generator), take r_u = (2u + 1 − 2^k) / 2^k (odd multiples of 2^-k, never 0 or ±1),
//! and set m = +1 iff I > θ_u with θ_u = atanh(r_u)/β in raw field units. Because I is an
//! integer, `I > θ` equals `I > floor(θ)`, so a page stores `a_u = floor(atanh(r_u)·2^f/β)`.
//!
//! Symmetry: only the upper half (r > 0) is computed; the lower half is its mirror,
//! `a_{2^k−1−u} = −1 − a_u`. Then #{u: a_u < I} + #{u: a_u < −I} = 2^k for every integer I, so
//! P(+1 | I) = 1 − P(+1 | −I) exactly. P reaches exactly 0 and 1 for |β·I| beyond
//! atanh(1 − 2^-k) (≈ 4.5 for k = 12), so clamped circuits compute exactly.
//!
//! Entries are clipped to the field range; a clipped threshold lies beyond every field a valid
//! instance can produce, so clipping never changes a decision.

use crate::format::Format;
use std::fmt;

/// Fractional bits of β.
pub const BETA_FRAC_BITS: u32 = 16;

/// An inverse temperature in unsigned fixed point, `raw / 2^16`. Zero is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Beta {
    pub raw: u32,
}

/// A β that cannot be represented.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaError {
    pub beta: f64,
}

impl fmt::Display for BetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "beta {} is out of range: it must be finite and between {} and {}",
            self.beta,
            Beta::MIN.to_f64(),
            Beta::MAX.to_f64()
        )
    }
}
impl std::error::Error for BetaError {}

impl Beta {
    pub const MIN: Beta = Beta { raw: 1 };
    pub const MAX: Beta = Beta { raw: u32::MAX };

    /// Rounds a real β to the nearest representable value. β ≤ 0, NaN, or outside
    /// [2^-16, 65536) is an error.
    pub fn from_f64(beta: f64) -> Result<Beta, BetaError> {
        if !beta.is_finite() || beta <= 0.0 {
            return Err(BetaError { beta });
        }
        let raw = libm::round(beta * (1u64 << BETA_FRAC_BITS) as f64);
        if raw < 1.0 || raw > u32::MAX as f64 {
            return Err(BetaError { beta });
        }
        Ok(Beta { raw: raw as u32 })
    }

    pub fn to_f64(self) -> f64 {
        self.raw as f64 / (1u64 << BETA_FRAC_BITS) as f64
    }
}

impl fmt::Display for Beta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_f64())
    }
}

/// Builds pages of one format: atanh(r_u) of the upper half is the same for every β, so it is
/// computed once (2^(k−1) `libm::atanh` calls were most of a page's cost: 32 pages of G1's
/// schedule took 1.3 ms of a 50 ms `pbit anneal`). Each page is bit-identical to
/// [`ThresholdPage::build`]'s: `floor(atanh(r_u) · 2^f/β)`, the same product of the same values.
#[derive(Clone, Debug)]
pub struct PageBuilder {
    format: Format,
    /// atanh(r_u) for u in 2^(k−1)..2^k.
    atanh: Vec<f64>,
}

impl PageBuilder {
    pub fn new(format: &Format) -> PageBuilder {
        let len = 1usize << format.rng_bits;
        let atanh = (len / 2..len)
            .map(|u| {
                // r_u = (2u + 1 - 2^k) / 2^k, in (0, 1)
                let r = (2 * u + 1 - len) as f64 / len as f64;
                libm::atanh(r)
            })
            .collect();
        PageBuilder {
            format: *format,
            atanh,
        }
    }

    /// The page for `beta`.
    pub fn build(&self, beta: Beta) -> ThresholdPage {
        let format = &self.format;
        let len = 1usize << format.rng_bits;
        let half = len / 2;
        let mut thresholds = vec![0i32; len];
        let scale = format.one() as f64 / beta.to_f64();
        let (lo, hi) = (format.field_min_raw() as f64, format.field_max_raw() as f64);
        for (k, &atanh) in self.atanh.iter().enumerate() {
            let u = half + k;
            let theta = atanh * scale;
            let a = libm::floor(theta).clamp(lo, hi) as i32;
            thresholds[u] = a;
            thresholds[len - 1 - u] = -1 - a;
        }
        ThresholdPage { beta, thresholds }
    }
}

/// The thresholds of one β, all 2^rng_bits entries (the gateware stores the upper half and
/// mirrors it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdPage {
    pub beta: Beta,
    pub thresholds: Vec<i32>,
}

impl ThresholdPage {
    /// Builds the page for `beta` in `format`. Pure-Rust `libm` math: the same bits everywhere.
    /// To build several pages of one format, [`PageBuilder`] computes the atanh values once.
    pub fn build(format: &Format, beta: Beta) -> ThresholdPage {
        PageBuilder::new(format).build(beta)
    }

    /// The upper half (r > 0) that the gateware stores, index u − 2^(k−1).
    pub fn upper_half(&self) -> &[i32] {
        &self.thresholds[self.thresholds.len() / 2..]
    }

    /// The decision: +1 iff the field exceeds the threshold chosen by the random index.
    #[inline(always)]
    pub fn decide(&self, field_raw: i32, index: usize) -> bool {
        field_raw > self.thresholds[index]
    }

    /// P(m = +1 | I = field_raw) of this page: the fraction of entries below the field.
    pub fn p_up(&self, field_raw: i32) -> f64 {
        let below = self.thresholds.partition_point(|&a| a < field_raw);
        below as f64 / self.thresholds.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_atanh_pages_equal_pages_computed_alone() {
        // the formula of one page, atanh evaluated per entry (as before PageBuilder)
        fn alone(format: &Format, beta: Beta) -> Vec<i32> {
            let len = 1usize << format.rng_bits;
            let mut t = vec![0i32; len];
            let scale = format.one() as f64 / beta.to_f64();
            let (lo, hi) = (format.field_min_raw() as f64, format.field_max_raw() as f64);
            for u in len / 2..len {
                let r = (2 * u + 1 - len) as f64 / len as f64;
                let a = libm::floor(libm::atanh(r) * scale).clamp(lo, hi) as i32;
                t[u] = a;
                t[len - 1 - u] = -1 - a;
            }
            t
        }
        for rng_bits in [2, 7, 12, 16] {
            let f = Format {
                rng_bits,
                ..Format::STANDARD
            };
            let b = PageBuilder::new(&f);
            for raw in [1, 3, 330, 65536, 1 << 20, 0x1234_5678, u32::MAX] {
                let beta = Beta { raw };
                assert_eq!(
                    b.build(beta).thresholds,
                    alone(&f, beta),
                    "k={rng_bits} {beta}"
                );
                assert_eq!(b.build(beta), ThresholdPage::build(&f, beta));
            }
        }
    }

    #[test]
    fn pages_are_monotone_and_exactly_symmetric() {
        let f = Format::STANDARD;
        for beta in [0.05, 0.5, 1.0, 3.0, 40.0] {
            let page = ThresholdPage::build(&f, Beta::from_f64(beta).unwrap());
            assert!(page.thresholds.windows(2).all(|w| w[0] <= w[1]));
            for field in -2000..2000 {
                let s = page.p_up(field) + page.p_up(-field);
                assert_eq!(s, 1.0, "beta {beta} field {field}");
            }
        }
    }

    #[test]
    fn page_follows_tanh_within_its_resolution() {
        let f = Format::STANDARD;
        let beta = Beta::from_f64(0.75).unwrap();
        let page = ThresholdPage::build(&f, beta);
        for field in -200..=200 {
            let want = (1.0 + (beta.to_f64() * f.to_real(field as i64)).tanh()) / 2.0;
            let got = page.p_up(field);
            // r takes 2^k equally spaced values: P is off by at most one step of 2^-k
            assert!(
                (want - got).abs() <= 1.0 / f.page_len() as f64,
                "field {field}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn page_saturates_to_exact_certainty() {
        let f = Format::STANDARD;
        let page = ThresholdPage::build(&f, Beta::from_f64(1.0).unwrap());
        // atanh(1 - 2^-12) ≈ 4.5: beyond |I| = 5 (80 raw) the decision is certain
        assert_eq!(page.p_up(80), 1.0);
        assert_eq!(page.p_up(-80), 0.0);
        assert!(page.p_up(40) < 1.0);
    }

    #[test]
    fn beta_rejects_non_positive() {
        assert!(Beta::from_f64(0.0).is_err());
        assert!(Beta::from_f64(-1.0).is_err());
        assert!(Beta::from_f64(f64::NAN).is_err());
        assert!(Beta::from_f64(1e-9).is_err());
        assert_eq!(Beta::from_f64(1.0).unwrap().raw, 65536);
    }
}

//! Fixed-point formats.
//!
//! Couplings J, biases h and local fields I share one binary point: a raw integer `x` means
//! `x / 2^frac_bits` (1/16 in the standard format). Keeping one scale means a local field is a
//! plain integer sum of raw couplings and biases, and the decision `I > θ` is one integer compare.

use std::fmt;

/// The widths of every number the machine holds. A generation parameter of the gateware; the
/// device reports it and the model runs with the target's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    /// Fractional bits shared by J, h and the local field (4: a resolution of 1/16).
    pub frac_bits: u32,
    /// Width of a coupling J_ij in two's complement, sign included. Raw values are kept
    /// symmetric: `-(2^(j_bits-1) - 1) ..= 2^(j_bits-1) - 1`.
    pub j_bits: u32,
    /// Width of a bias h_i, sign included, symmetric like J.
    pub h_bits: u32,
    /// Width of a local field I_i, sign included. A valid instance never exceeds it (checked
    /// when it is loaded), so fields never saturate and an incrementally updated field equals
    /// the recomputed one bit for bit.
    pub field_bits: u32,
    /// Bits of each random word used by a decision: the index into a threshold page. P(+1)
    /// moves in steps of 2^-rng_bits.
    pub rng_bits: u32,
}

impl Format {
    /// The standard format: J in [-15.9375, 15.9375] and h in [-63.9375, 63.9375] at 1/16, 32-bit
    /// fields (the model's default; gateware sizes its fields from N with [`Format::for_machine`]),
    /// 12-bit random words.
    pub const STANDARD: Format = Format {
        frac_bits: 4,
        j_bits: 9,
        h_bits: 11,
        field_bits: 32,
        rng_bits: 12,
    };

    /// The standard J/h/rng widths with the narrowest field that can never saturate on a dense
    /// machine of `n` p-bits: |I| ≤ (n-1)·J_max + h_max.
    pub fn for_machine(n: usize) -> Format {
        let base = Format::STANDARD;
        let worst =
            (n.saturating_sub(1) as u64) * base.j_max_raw() as u64 + base.h_max_raw() as u64;
        let magnitude_bits = 64 - worst.leading_zeros();
        Format {
            field_bits: magnitude_bits + 1,
            ..base
        }
    }

    /// Checks that the widths are usable: raw values must fit an `i32` and the table a page.
    pub fn validate(&self) -> Result<(), FormatError> {
        let bad = |what: &'static str| Err(FormatError { what });
        if self.frac_bits > 12 {
            return bad("frac_bits must be at most 12");
        }
        if !(2..=24).contains(&self.j_bits) || !(2..=24).contains(&self.h_bits) {
            return bad("j_bits and h_bits must be 2..=24");
        }
        if !(2..=32).contains(&self.field_bits) {
            return bad("field_bits must be 2..=32");
        }
        if !(2..=16).contains(&self.rng_bits) {
            return bad("rng_bits must be 2..=16");
        }
        Ok(())
    }

    /// The number of raw units in 1.0 (16 in the standard format).
    pub fn one(&self) -> i64 {
        1 << self.frac_bits
    }
    /// Largest |J| in raw units.
    pub fn j_max_raw(&self) -> i32 {
        ((1i64 << (self.j_bits - 1)) - 1) as i32
    }
    /// Largest |h| in raw units.
    pub fn h_max_raw(&self) -> i32 {
        ((1i64 << (self.h_bits - 1)) - 1) as i32
    }
    /// Largest field value; the smallest is `field_min_raw() = -field_max_raw() - 1`.
    pub fn field_max_raw(&self) -> i32 {
        ((1i64 << (self.field_bits - 1)) - 1) as i32
    }
    /// Smallest field value (two's complement minimum).
    pub fn field_min_raw(&self) -> i32 {
        (-(1i64 << (self.field_bits - 1))) as i32
    }
    /// Number of entries in a full threshold page (2^rng_bits).
    pub fn page_len(&self) -> usize {
        1usize << self.rng_bits
    }
    /// Converts a raw value to a real number.
    pub fn to_real(&self, raw: i64) -> f64 {
        raw as f64 / self.one() as f64
    }
}

impl Default for Format {
    fn default() -> Self {
        Format::STANDARD
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "J s{}.{} h s{}.{} field s{}.{} rng {} bits",
            self.j_bits - 1 - self.frac_bits,
            self.frac_bits,
            self.h_bits - 1 - self.frac_bits,
            self.frac_bits,
            self.field_bits - 1 - self.frac_bits,
            self.frac_bits,
            self.rng_bits
        )
    }
}

/// A format whose widths the machine cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub what: &'static str,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid format: {}", self.what)
    }
}
impl std::error::Error for FormatError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_ranges_match_the_brief() {
        let f = Format::STANDARD;
        assert_eq!(f.to_real(f.j_max_raw() as i64), 15.9375);
        assert_eq!(f.to_real(f.h_max_raw() as i64), 63.9375);
        assert!(f.validate().is_ok());
    }

    #[test]
    fn machine_fields_never_saturate() {
        for n in [2usize, 8, 64, 256, 1024] {
            let f = Format::for_machine(n);
            let worst = (n as i64 - 1) * f.j_max_raw() as i64 + f.h_max_raw() as i64;
            assert!(worst <= f.field_max_raw() as i64, "n={n}");
            // and not wider than needed
            assert!(worst > (f.field_max_raw() as i64) / 2, "n={n}");
        }
        assert_eq!(Format::for_machine(256).field_bits, 18);
    }
}

//! An instance quantised to the machine's fixed-point format.
//!
//! Values the format holds exactly load as they are. Others are either rejected with the file,
//! line and field named ([`Scaling::Exact`]), or rescaled explicitly ([`Scaling::Rescale`]): all
//! of J and h are multiplied by the largest power of two that keeps them in range, rounded to the
//! grid, and the scale and the worst rounding error are reported. The machine then runs at β/s,
//! so the sampled distribution is the intended one up to the reported rounding.

use crate::ising::Ising;
use pbit_spec::Format;
use std::fmt;

/// What to do with values the format cannot hold exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scaling {
    /// Refuse them with an error naming the file, line and field.
    #[default]
    Exact,
    /// Rescale all values by a power of two and round; report it.
    Rescale,
}

/// Why an instance cannot run on the machine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantiseError {
    #[error("{source_name}:{line}: {field} {value} is not a multiple of {resolution} (the machine's resolution); use --rescale to scale and round all values explicitly")]
    OffGrid {
        source_name: String,
        line: usize,
        field: &'static str,
        value: f64,
        resolution: f64,
    },
    #[error("{source_name}:{line}: {field} {value} is outside the machine's range ±{max}; use --rescale to scale all values explicitly")]
    OutOfRange {
        source_name: String,
        line: usize,
        field: &'static str,
        value: f64,
        max: f64,
    },
    #[error("{source_name}: the local field of p-bit {pbit} can reach {bound} (raw), more than the {bits}-bit field holds")]
    FieldOverflow {
        source_name: String,
        pbit: usize,
        bound: i64,
        bits: u32,
    },
    #[error("{source_name}: every coupling and bias is zero and cannot be rescaled")]
    AllZero { source_name: String },
}

/// The explicit rescaling applied to an instance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rescaling {
    /// Machine values are `factor` times the file's values (a power of two).
    pub factor: f64,
    /// Largest |rounding error| over all values, in the file's units.
    pub max_abs_error: f64,
}

impl fmt::Display for Rescaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "values scaled by {} (beta by 1/{}), largest rounding error {}",
            self.factor, self.factor, self.max_abs_error
        )
    }
}

/// The machine's view of an instance: raw fixed-point J in compressed rows (both directions of
/// each pair), raw h, and the scale back to real units.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedIsing {
    pub n: usize,
    pub format: Format,
    /// Row i's neighbours are `neighbors[offsets[i]..offsets[i+1]]`, ascending.
    pub offsets: Vec<u32>,
    pub neighbors: Vec<u32>,
    /// Raw J for each entry of `neighbors`.
    pub j_raw: Vec<i32>,
    pub h_raw: Vec<i32>,
    /// Machine values = file values × `scale` × 2^frac_bits. `scale` is 1 unless rescaled.
    pub scale: f64,
    pub rescaling: Option<Rescaling>,
}

impl FixedIsing {
    /// Quantises `ising` to `format`.
    pub fn new(
        ising: &Ising,
        format: Format,
        scaling: Scaling,
    ) -> Result<FixedIsing, QuantiseError> {
        let one = format.one() as f64;
        let (jmax, hmax) = (format.j_max_raw() as f64, format.h_max_raw() as f64);
        let src = || ising.source.clone();

        let scale = match scaling {
            Scaling::Exact => 1.0,
            Scaling::Rescale => {
                // largest power of two s with |J|·s·one ≤ jmax and |h|·s·one ≤ hmax
                let ratio_j = ising
                    .couplings
                    .iter()
                    .map(|c| c.value.abs() * one / jmax)
                    .fold(0.0, f64::max);
                let ratio_h = ising
                    .h
                    .iter()
                    .map(|h| h.abs() * one / hmax)
                    .fold(0.0, f64::max);
                let ratio = ratio_j.max(ratio_h);
                if ratio == 0.0 {
                    return Err(QuantiseError::AllZero { source_name: src() });
                }
                libm::exp2(libm::floor(-libm::log2(ratio)))
            }
        };

        let mut max_err: f64 = 0.0;
        let mut convert = |value: f64,
                           line: usize,
                           field: &'static str,
                           max_raw: f64|
         -> Result<i32, QuantiseError> {
            let x = value * scale * one;
            let r = x.round();
            if r.abs() > max_raw {
                return Err(QuantiseError::OutOfRange {
                    source_name: src(),
                    line,
                    field,
                    value,
                    max: max_raw / one,
                });
            }
            if r != x {
                if scaling == Scaling::Exact {
                    return Err(QuantiseError::OffGrid {
                        source_name: src(),
                        line,
                        field,
                        value,
                        resolution: 1.0 / one,
                    });
                }
                max_err = max_err.max(((r - x) / (scale * one)).abs());
            }
            Ok(r as i32)
        };

        let n = ising.n;
        let mut raws = Vec::with_capacity(ising.couplings.len());
        let mut degree = vec![0u32; n];
        for c in &ising.couplings {
            let raw = convert(c.value, c.line, "coupling", jmax)?;
            if raw != 0 {
                degree[c.i] += 1;
                degree[c.j] += 1;
            }
            raws.push(raw);
        }
        let mut h_raw = Vec::with_capacity(n);
        for i in 0..n {
            h_raw.push(convert(ising.h[i], ising.h_lines[i], "bias", hmax)?);
        }
        // The CSR by counting, twice: rows in coupling order, then rebuilt by visiting those
        // rows in order (row r's entry (r, c) goes to row c, which receives its neighbours r in
        // increasing order). The couplings are symmetric, so that is every row, sorted by
        // neighbour, in linear time.
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for &d in &degree {
            offsets.push(offsets.last().unwrap() + d);
        }
        let mut next: Vec<u32> = offsets[..n].to_vec();
        let mut unsorted = vec![(0u32, 0i32); *offsets.last().unwrap() as usize];
        for (c, &raw) in ising.couplings.iter().zip(&raws) {
            if raw != 0 {
                unsorted[next[c.i] as usize] = (c.j as u32, raw);
                next[c.i] += 1;
                unsorted[next[c.j] as usize] = (c.i as u32, raw);
                next[c.j] += 1;
            }
        }
        next.copy_from_slice(&offsets[..n]);
        let mut neighbors = vec![0u32; unsorted.len()];
        let mut j_raw = vec![0i32; unsorted.len()];
        for r in 0..n {
            for &(c, v) in &unsorted[offsets[r] as usize..offsets[r + 1] as usize] {
                let at = next[c as usize] as usize;
                neighbors[at] = r as u32;
                j_raw[at] = v;
                next[c as usize] += 1;
            }
        }
        for i in 0..n {
            let row = &j_raw[offsets[i] as usize..offsets[i + 1] as usize];
            let bound: i64 =
                row.iter().map(|&v| v.abs() as i64).sum::<i64>() + h_raw[i].abs() as i64;
            if bound > format.field_max_raw() as i64 {
                return Err(QuantiseError::FieldOverflow {
                    source_name: src(),
                    pbit: i + 1,
                    bound,
                    bits: format.field_bits,
                });
            }
        }
        let rescaling = (scaling == Scaling::Rescale).then_some(Rescaling {
            factor: scale,
            max_abs_error: max_err,
        });
        Ok(FixedIsing {
            n,
            format,
            offsets,
            neighbors,
            j_raw,
            h_raw,
            scale,
            rescaling,
        })
    }

    /// Row i: (neighbour, raw J) pairs.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[i32]) {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (&self.neighbors[a..b], &self.j_raw[a..b])
    }

    /// Raw local fields I_i = Σ_j J_ij m_j + h_i of a state (true = +1).
    pub fn fields(&self, spins: &[bool]) -> Vec<i32> {
        (0..self.n)
            .map(|i| {
                let (nb, jv) = self.row(i);
                let s: i64 = nb
                    .iter()
                    .zip(jv)
                    .map(|(&j, &v)| {
                        if spins[j as usize] {
                            v as i64
                        } else {
                            -(v as i64)
                        }
                    })
                    .sum();
                (s + self.h_raw[i] as i64) as i32
            })
            .collect()
    }

    /// Raw energy E = −Σ_{i<j} J_ij m_i m_j − Σ h_i m_i in units of 2^-frac_bits.
    pub fn energy_raw(&self, spins: &[bool]) -> i64 {
        let sg = |b: bool| if b { 1i64 } else { -1 };
        let mut e = 0i64;
        for i in 0..self.n {
            let (nb, jv) = self.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                if (j as usize) > i {
                    e -= v as i64 * sg(spins[i]) * sg(spins[j as usize]);
                }
            }
            e -= self.h_raw[i] as i64 * sg(spins[i]);
        }
        e
    }

    /// Converts a raw energy to the file's units (undoing any rescaling).
    pub fn energy_real(&self, raw: i64) -> f64 {
        raw as f64 / (self.format.one() as f64 * self.scale)
    }

    /// The β the machine must run at for the file's β (β/s when rescaled).
    pub fn machine_beta(&self, beta: f64) -> f64 {
        beta / self.scale
    }

    /// Largest |I_i| any state can produce, raw.
    pub fn max_field_raw(&self) -> i64 {
        (0..self.n)
            .map(|i| {
                self.row(i).1.iter().map(|v| v.abs() as i64).sum::<i64>()
                    + self.h_raw[i].abs() as i64
            })
            .max()
            .unwrap_or(0)
    }

    /// Smallest non-zero |J| or |h|, raw (0 if all are zero).
    pub fn min_nonzero_raw(&self) -> i64 {
        self.j_raw
            .iter()
            .chain(&self.h_raw)
            .filter(|v| **v != 0)
            .map(|v| v.abs() as i64)
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_values_load_and_energy_agrees() {
        let ising = Ising::parse("3 3\n1 2 -1\n1 3 2\n2 3 0.0625\nh 1 -0.5\n", "t").unwrap();
        let f = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap();
        for bits in 0..8u32 {
            let s: Vec<bool> = (0..3).map(|k| bits >> k & 1 == 1).collect();
            assert_eq!(f.energy_real(f.energy_raw(&s)), ising.energy(&s));
        }
        assert_eq!(f.row(0), (&[1u32, 2][..], &[-16, 32][..]));
    }

    #[test]
    fn rows_are_every_neighbour_sorted_whatever_the_coupling_order() {
        // couplings in a shuffled order, either index first, some zero (left out of the rows):
        // row i must be exactly the non-zero J_ij of the dense matrix, by increasing j
        let n = 40;
        let mut g = pbit_spec::rng::HostRng::new(3);
        let mut pairs = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                if g.below(3) == 0 {
                    pairs.push((i, j, g.below(9) as i32 - 4));
                }
            }
        }
        for k in (1..pairs.len()).rev() {
            pairs.swap(k, g.below(k as u64 + 1) as usize);
        }
        let mut ising = Ising::new(n);
        for &(i, j, raw) in &pairs {
            let (a, b) = if g.below(2) == 0 { (i, j) } else { (j, i) };
            ising.add_coupling(a, b, raw as f64 / 16.0);
        }
        let f = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap();
        let mut dense = vec![vec![0i32; n]; n];
        for &(i, j, raw) in &pairs {
            dense[i][j] = raw;
            dense[j][i] = raw;
        }
        for (i, row) in dense.iter().enumerate() {
            let want: (Vec<u32>, Vec<i32>) = (0..n)
                .filter(|&j| row[j] != 0)
                .map(|j| (j as u32, row[j]))
                .unzip();
            let (nb, jv) = f.row(i);
            assert_eq!((nb.to_vec(), jv.to_vec()), want, "row {i}");
        }
    }

    #[test]
    fn off_grid_and_out_of_range_are_errors_naming_the_line() {
        let ising = Ising::parse("2 1\n1 2 0.1\n", "a.txt").unwrap();
        let e = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.txt:2: coupling 0.1 is not a multiple of 0.0625"),
            "{e}"
        );
        let ising = Ising::parse("2 1\n1 2 16\n", "b.txt").unwrap();
        let e = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap_err();
        assert!(
            matches!(e, QuantiseError::OutOfRange { line: 2, .. }),
            "{e}"
        );
        let ising = Ising::parse("2 0\nh 2 64\n", "c.txt").unwrap();
        let e = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap_err();
        assert!(
            matches!(
                e,
                QuantiseError::OutOfRange {
                    line: 2,
                    field: "bias",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn rescaling_is_a_power_of_two_and_reported() {
        let ising = Ising::parse("3 2\n1 2 100\n2 3 -25\n", "t").unwrap();
        let f = FixedIsing::new(&ising, Format::STANDARD, Scaling::Rescale).unwrap();
        // 100·s ≤ 15.9375 → s = 1/8: 12.5 and -3.125 are exact at 1/16
        assert_eq!(f.scale, 0.125);
        assert_eq!(f.rescaling.unwrap().max_abs_error, 0.0);
        assert_eq!(f.j_raw[0], 200);
        let ising = Ising::parse("2 1\n1 2 0.1\n", "t").unwrap();
        let f = FixedIsing::new(&ising, Format::STANDARD, Scaling::Rescale).unwrap();
        assert_eq!(f.scale, 128.0); // 0.1·128 = 12.8 ≤ 15.9375
        let r = f.rescaling.unwrap();
        assert!(r.max_abs_error > 0.0 && r.max_abs_error <= 0.5 / 16.0 / 128.0);
    }

    #[test]
    fn narrow_fields_refuse_instances_that_could_saturate() {
        let mut ising = Ising::new(5);
        for j in 1..5 {
            ising.add_coupling(0, j, 15.0);
        }
        let narrow = Format {
            field_bits: 10,
            ..Format::STANDARD
        };
        let e = FixedIsing::new(&ising, narrow, Scaling::Exact).unwrap_err();
        assert!(
            matches!(
                e,
                QuantiseError::FieldOverflow {
                    pbit: 1,
                    bound: 960,
                    ..
                }
            ),
            "{e}"
        );
    }
}

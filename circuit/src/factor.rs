//! Factoring by running a multiplier backwards.
//!
//! For N ≥ 4 the host first rules out what needs no search: 0 and 1 are units, primes are
//! reported as prime (deterministic Miller–Rabin). Otherwise it builds an array multiplier
//! p × q with widths that exclude the trivial 1 × N: p < 2^wp with wp = bits(⌊√N⌋) (the smaller
//! factor), q < 2^wq with wq = bits(⌊N/2⌋) (⌊N/3⌋ for odd N, whose factors are odd and at least
//! 3). The product's bits are clamped to N (bits above N's to 0); for odd N the factors'
//! lowest bits are the constant 1 (folded into the circuit). Reads are annealed in rounds of `reads`, each round with a new seed
//! ([`crate::anneal::round_seed`]), until a read's best state has p × q = N with p, q > 1, or
//! the sweep budget is spent. The machine tracks each read's lowest-energy state over every
//! update, so a read that passes through the solution at any point reports it.

use crate::anneal::{round_seed, Annealer};
use crate::arith::{add_multiplier, MultiplierWeights};
use crate::circuit::{Circuit, CircuitError, Compiled, Direction, Signal};
use pbit_model::run::Pages;
use pbit_model::schedule::{Shape, MAX_STEPS};
use pbit_model::{FixedIsing, QuantiseError, Scaling, Schedule};
use pbit_spec::BetaError;
use serde::Serialize;
use std::time::Instant;

/// Why factoring did not produce factors.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("{0} is prime")]
    Prime(u64),
    #[error("{0} is neither prime nor composite (0 and 1 have no factors)")]
    Unit(u64),
    #[error("no factors of {n} found within {sweeps} sweeps ({rounds} rounds of {reads} reads); raise --max-sweeps")]
    NotFound {
        n: u64,
        sweeps: u64,
        rounds: u64,
        reads: u64,
    },
    #[error("{0} is too large: this multiplier handles N < 2^62")]
    TooLarge(u64),
    #[error("{0} must be at least 1")]
    Option(&'static str),
    #[error(transparent)]
    Circuit(#[from] CircuitError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error("backend: {0}")]
    Backend(String),
}

/// How to search.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorOptions {
    pub seed: u64,
    /// Budget: total sweeps over all reads and rounds.
    pub max_sweeps: u64,
    /// Sweeps per read.
    pub sweeps: u64,
    /// Reads per round.
    pub reads: u64,
    /// β at the start and end of each read, for the unscaled circuit (energy gap 1).
    pub beta_start: f64,
    pub beta_end: f64,
    pub shape: Shape,
    pub weights: MultiplierWeights,
}

impl Default for FactorOptions {
    /// Defaults chosen by measurement (docs/benchmarks.md, "Factoring").
    fn default() -> Self {
        FactorOptions {
            seed: 0,
            max_sweeps: 2_000_000_000,
            sweeps: 1000,
            reads: 16,
            beta_start: 1.0,
            beta_end: 4.0,
            shape: Shape::Geometric,
            weights: MultiplierWeights::default(),
        }
    }
}

/// The outcome of `pbit factor`.
#[derive(Clone, Debug, Serialize)]
pub struct FactorReport {
    pub n: u64,
    /// [p, q] with p ≤ q and p × q = n.
    pub factors: [u64; 2],
    /// Sweeps run over all reads and rounds until found.
    pub sweeps: u64,
    pub seconds: f64,
    /// p-bits of the multiplier.
    pub pbits: usize,
    /// Widths of the multiplier's factors [wp, wq].
    pub widths: [usize; 2],
    pub rounds: u64,
    pub reads: u64,
    pub backend: &'static str,
    pub seed: u64,
}

/// (a · b) mod m without overflow.
fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

fn pow_mod(mut a: u64, mut e: u64, m: u64) -> u64 {
    let mut r = 1 % m;
    a %= m;
    while e > 0 {
        if e & 1 == 1 {
            r = mul_mod(r, a, m);
        }
        a = mul_mod(a, a, m);
        e >>= 1;
    }
    r
}

/// Deterministic Miller–Rabin for all u64 (bases: the first 12 primes).
pub fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n % p == 0 {
            return n == p;
        }
    }
    let mut d = n - 1;
    let mut s = 0;
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    'base: for a in BASES {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'base;
            }
        }
        return false;
    }
    true
}

/// ⌊√n⌋.
pub fn isqrt(n: u64) -> u64 {
    let sq = |r: u64| r.checked_mul(r).is_some_and(|x| x <= n);
    let mut r = ((n as f64).sqrt() as u64).min(u32::MAX as u64);
    while !sq(r) {
        r -= 1;
    }
    while sq(r + 1) {
        r += 1;
    }
    r
}

fn bits(n: u64) -> usize {
    (64 - n.leading_zeros()) as usize
}

/// The factor widths [wp, wq] for N (N composite, N ≥ 4).
pub fn widths(n: u64) -> [usize; 2] {
    let q_max = if n % 2 == 1 { n / 3 } else { n / 2 };
    [bits(isqrt(n)), bits(q_max)]
}

/// The multiplier for N, compiled, with its clamp list (the product's bits = N). For odd N
/// the factors' lowest bits are the constant 1, which folds away the partial products that
/// would only copy the other factor's bits.
pub fn factoring_problem(
    n: u64,
    weights: MultiplierWeights,
    format: &pbit_spec::Format,
) -> Result<(Compiled, Vec<(usize, bool)>), FactorError> {
    let [wp, wq] = widths(n);
    let mut c = Circuit::new();
    let factor_bits = |c: &mut Circuit, name: &str, w: usize| -> Vec<Signal> {
        (0..w)
            .map(|k| {
                if k == 0 && n % 2 == 1 {
                    Signal::Const(true)
                } else {
                    Signal::Net(c.net(&format!("{name}[{k}]")))
                }
            })
            .collect()
    };
    let a = factor_bits(&mut c, "a", wp);
    let b = factor_bits(&mut c, "b", wq);
    let p = add_multiplier(&mut c, &a, &b, weights);
    c.add_port("a", Direction::Input, a)?;
    c.add_port("b", Direction::Input, b)?;
    c.add_port("p", Direction::Output, p)?;
    let compiled = c.compile(format)?;
    let clamps = compiled.clamps(&[("p", n)])?;
    Ok((compiled, clamps))
}

/// The schedule of one read, as machine pages.
pub fn read_pages(
    fixed: &FixedIsing,
    scale: f64,
    opts: &FactorOptions,
) -> Result<Pages, FactorError> {
    let schedule = Schedule::anneal(
        opts.beta_start / scale,
        opts.beta_end / scale,
        opts.sweeps,
        opts.shape,
        MAX_STEPS,
    )?;
    Ok(Pages::build(fixed, &schedule))
}

/// Factors `n` on `annealer`.
pub fn factor(
    annealer: &mut dyn Annealer,
    n: u64,
    opts: &FactorOptions,
) -> Result<FactorReport, FactorError> {
    if n < 2 {
        return Err(FactorError::Unit(n));
    }
    if is_prime(n) {
        return Err(FactorError::Prime(n));
    }
    if n >= 1 << 62 {
        return Err(FactorError::TooLarge(n));
    }
    if opts.sweeps == 0 {
        return Err(FactorError::Option("--sweeps"));
    }
    if opts.reads == 0 {
        return Err(FactorError::Option("--reads"));
    }
    let start = Instant::now();
    let format = annealer.format();
    let (compiled, clamps) = factoring_problem(n, opts.weights, &format)?;
    let fixed = FixedIsing::new(&compiled.ising, format, Scaling::Exact)?;
    let pages = read_pages(&fixed, compiled.scale, opts)?;
    let per_round = opts.sweeps * opts.reads;
    let mut sweeps = 0u64;
    let mut round = 0u64;
    while sweeps + per_round <= opts.max_sweeps.max(per_round) {
        let results = annealer
            .anneal(
                &fixed,
                &clamps,
                &pages,
                round_seed(opts.seed, round),
                opts.reads,
            )
            .map_err(FactorError::Backend)?;
        sweeps += per_round;
        round += 1;
        for r in &results {
            let p = compiled.port_value(&r.best_spins, "a")?;
            let q = compiled.port_value(&r.best_spins, "b")?;
            if p > 1 && q > 1 && (p as u128) * (q as u128) == n as u128 {
                return Ok(FactorReport {
                    n,
                    factors: [p.min(q), p.max(q)],
                    sweeps,
                    seconds: start.elapsed().as_secs_f64(),
                    pbits: compiled.ising.n,
                    widths: widths(n),
                    rounds: round,
                    reads: opts.reads,
                    backend: annealer.name(),
                    seed: opts.seed,
                });
            }
        }
    }
    Err(FactorError::NotFound {
        n,
        sweeps,
        rounds: round,
        reads: opts.reads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primality_and_widths() {
        let primes: Vec<u64> = (0..100).filter(|&n| is_prime(n)).collect();
        assert_eq!(
            primes,
            [
                2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79,
                83, 89, 97
            ]
        );
        // trial division agrees on a range of larger numbers
        for n in (1u64 << 40)..(1u64 << 40) + 2000 {
            let trial = (2..=isqrt(n)).all(|d| n % d != 0);
            assert_eq!(is_prime(n), trial, "{n}");
        }
        assert!(is_prime(18446744073709551557)); // largest 64-bit prime
        assert_eq!(isqrt(143), 11);
        assert_eq!(isqrt(u64::MAX), 4294967295);
        // 143 = 11 × 13: p ≤ 11 (4 bits), q ≤ 47 (6 bits)
        assert_eq!(widths(143), [4, 6]);
        assert_eq!(widths(4), [2, 2]);
    }
}

//! Factoring by running a multiplier backwards.
//!
//! For N ≥ 4 the host first rules out what needs no search: 0 and 1 are units, primes are
//! reported as prime (deterministic Miller–Rabin). Otherwise it searches N's factor pairs
//! p ≤ q, p > 1 by **width class** ([`classes`]): p of exactly wp bits and q of exactly wq bits,
//! 2 ≤ wp ≤ wq, wp ≤ bits(⌊√N⌋), wp + wq ∈ {bits(N), bits(N) + 1}. Each class is its own
//! array multiplier ([`class_problem`]) with both factors' top bits the constant 1 (and, for
//! odd N, their bit 0), folded into the circuit, so the trivial 1 × N is excluded and the
//! multiplier is only as wide as the class. The product's bits are clamped to N. Rounds of
//! `reads` annealing reads go to the classes in turn (each round with a new seed,
//! [`crate::anneal::round_seed`]) until a read's best state has p × q = N with p, q > 1, or the
//! sweep budget is spent. The machine tracks each read's lowest-energy state over every
//! update, so a read that passes through the solution at any point reports it.
//!
//! Measured (docs/benchmarks.md, "Factoring"): against one multiplier over all widths
//! ([`factoring_problem`], p < 2^bits(⌊√N⌋), q < 2^bits(⌊N/3⌋)), the classes cut the median
//! sweeps to solution 14× at 14 bits, and the 16-bit p95 from 137M to 2.6M sweeps; every
//! semiprime below 2^16 factors with the defaults.

use crate::anneal::round_seed;
use crate::arith::{add_multiplier, MultiplierWeights};
use crate::circuit::{Circuit, CircuitError, Compiled, Direction, Signal};
use pbit_model::limits::{check_anneal, LimitError};
use pbit_model::run::Pages;
use pbit_model::schedule::{Shape, MAX_STEPS};
use pbit_model::Backend;
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
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("class bias must be between 0 and 4, got {0}")]
    ClassBias(f64),
    #[error(transparent)]
    Circuit(#[from] CircuitError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error("backend: {0}")]
    Backend(#[from] pbit_model::BackendError),
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
    /// Search the width classes of the factors in turn ([`classes`]); false: one multiplier
    /// over all factor widths ([`factoring_problem`]).
    pub classes: bool,
    /// Class [wp, wq] gets rounds in proportion to 2^(class_bias·(wp − 2)) (after one round
    /// each): balanced classes, whose anneals succeed less often, get more of the budget.
    pub class_bias: f64,
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
            classes: true,
            class_bias: 0.0,
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
    /// p-bits of the multiplier that found the factors.
    pub pbits: usize,
    /// Its width class [wp, wq] (the whole search's widths when `classes` is off).
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
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let mut d = n - 1;
    let mut s = 0;
    while d.is_multiple_of(2) {
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

/// A compiled multiplier and its clamp list (0-based p-bit, value).
pub type Problem = (Compiled, Vec<(usize, bool)>);

/// The width classes [wp, wq] of N's factor pairs p ≤ q with p > 1: p has exactly wp bits and
/// q exactly wq bits (top bits 1), so 2 ≤ wp ≤ wq, wp ≤ bits(⌊√N⌋) and wp + wq ∈ {bits(N),
/// bits(N) + 1} (a wp-bit times a wq-bit number has wp + wq − 1 or wp + wq bits). Every factor
/// pair lies in exactly one class; ordered by wp, then wq.
pub fn classes(n: u64) -> Vec<[usize; 2]> {
    let nb = bits(n);
    let mut out = Vec::new();
    for wp in 2..=bits(isqrt(n)) {
        for wq in [nb.saturating_sub(wp), nb + 1 - wp] {
            if wq >= wp && !out.contains(&[wp, wq]) {
                out.push([wp, wq]);
            }
        }
    }
    out
}

/// The multiplier of one width class for N, compiled, with its clamp list (the product's bits
/// = N, bits above N's 0). Both factors' top bits are the constant 1, and for odd N their bit 0
/// too; constants fold away the partial products and adder operands they make trivial. `None`
/// when the constants already contradict N (no factor pair in this class).
pub fn class_problem(
    n: u64,
    [wp, wq]: [usize; 2],
    weights: MultiplierWeights,
    format: &pbit_spec::Format,
) -> Result<Option<Problem>, FactorError> {
    let compiled = compile_multiplier(n, [wp, wq], true, weights, format)?;
    match compiled.clamps(&[("p", n)]) {
        Ok(clamps) => Ok(Some((compiled, clamps))),
        Err(CircuitError::Conflict { .. }) | Err(CircuitError::ValueTooWide { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The multiplier for N over all factors below the widths of [`widths`] (no top-bit
/// constants), compiled, with its clamp list (the product's bits = N). For odd N the factors'
/// lowest bits are the constant 1, which folds away the partial products that would only copy
/// the other factor's bits. (The single-class circuit of earlier versions; `factor` uses
/// [`class_problem`].)
pub fn factoring_problem(
    n: u64,
    weights: MultiplierWeights,
    format: &pbit_spec::Format,
) -> Result<Problem, FactorError> {
    let compiled = compile_multiplier(n, widths(n), false, weights, format)?;
    let clamps = compiled.clamps(&[("p", n)])?;
    Ok((compiled, clamps))
}

/// A wp × wq multiplier with input ports `a`, `b` and output port `p`, compiled. For odd N the
/// factors' bit 0 is the constant 1; with `top_bits_set` their top bits are too (a width class).
fn compile_multiplier(
    n: u64,
    [wp, wq]: [usize; 2],
    top_bits_set: bool,
    weights: MultiplierWeights,
    format: &pbit_spec::Format,
) -> Result<Compiled, FactorError> {
    let mut c = Circuit::new();
    let factor_bits = |c: &mut Circuit, name: &str, w: usize| -> Vec<Signal> {
        (0..w)
            .map(|k| {
                if (top_bits_set && k + 1 == w) || (k == 0 && n % 2 == 1) {
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
    Ok(c.compile(format)?)
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

/// Factors `n` on `backend`.
pub fn factor(
    backend: &mut dyn Backend,
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
    check_anneal("--reads", opts.reads, opts.sweeps, 0)?;
    if !(opts.class_bias.is_finite() && (0.0..=4.0).contains(&opts.class_bias)) {
        return Err(FactorError::ClassBias(opts.class_bias));
    }
    let start = Instant::now();
    let format = backend.format();
    // one (problem, clamps, pages, widths) per class the search visits
    let mut problems = Vec::new();
    if opts.classes {
        for w in classes(n) {
            if let Some((compiled, clamps)) = class_problem(n, w, opts.weights, &format)? {
                problems.push((compiled, clamps, w));
            }
        }
    } else {
        let (compiled, clamps) = factoring_problem(n, opts.weights, &format)?;
        problems.push((compiled, clamps, widths(n)));
    }
    let mut machines = Vec::with_capacity(problems.len());
    for (compiled, clamps, w) in problems {
        let fixed = FixedIsing::new(&compiled.ising, format, Scaling::Exact)?;
        let pages = read_pages(&fixed, compiled.scale, opts)?;
        machines.push((compiled, clamps, w, fixed, pages));
    }
    let pbits = machines.iter().map(|m| m.3.n).max().unwrap_or(0);
    let per_round = check_anneal("--reads", opts.reads, opts.sweeps, pbits)?;
    let mut sweeps = 0u64;
    let mut round = 0u64;
    let weight: Vec<f64> = machines
        .iter()
        .map(|m| (opts.class_bias * (m.2[0] as f64 - 2.0)).exp2())
        .collect();
    let mut visits = vec![0u64; machines.len()];
    while !machines.is_empty() && sweeps.saturating_add(per_round) <= opts.max_sweeps.max(per_round)
    {
        // the class least visited for its weight (the first such on ties): one round each
        // first, then rounds in proportion to the weights
        let c = (0..machines.len())
            .min_by(|&x, &y| {
                (visits[x] as f64 / weight[x])
                    .total_cmp(&(visits[y] as f64 / weight[y]))
                    .then(x.cmp(&y))
            })
            .expect("at least one class");
        visits[c] += 1;
        let (compiled, clamps, w, fixed, pages) = &machines[c];
        let results = crate::anneal::anneal_reads(
            backend,
            fixed,
            clamps,
            pages,
            round_seed(opts.seed, round),
            opts.reads,
        )?;
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
                    widths: *w,
                    rounds: round,
                    reads: opts.reads,
                    backend: backend.name(),
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

    fn bits_of(n: u64) -> usize {
        bits(n)
    }

    /// Every factor pair p ≤ q, p > 1 of every composite N < 2^12 lies in exactly one class,
    /// and every class is a valid pair of widths for N.
    #[test]
    fn classes_partition_the_factor_pairs() {
        for n in 4u64..1 << 12 {
            if is_prime(n) {
                continue;
            }
            let cl = classes(n);
            let nb = bits_of(n);
            for &[wp, wq] in &cl {
                assert!(
                    2 <= wp && wp <= wq && wp <= bits_of(isqrt(n)),
                    "{n}: {wp} {wq}"
                );
                assert!(wp + wq == nb || wp + wq == nb + 1, "{n}: {wp} {wq}");
            }
            for p in 2..=isqrt(n) {
                if n % p == 0 {
                    let w = [bits_of(p), bits_of(n / p)];
                    assert_eq!(cl.iter().filter(|&&c| c == w).count(), 1, "{n} = {p} × …");
                }
            }
        }
        assert_eq!(
            classes(143),
            [[2, 6], [2, 7], [3, 5], [3, 6], [4, 4], [4, 5]]
        );
    }

    /// Exhaustively, with the product clamped: a class circuit's consistent states (energy =
    /// the ground energy) are exactly N's factor pairs in that class, and a class without one
    /// has none (or is ruled out by its constants at build time).
    #[test]
    fn class_circuits_ground_states_are_the_factor_pairs() {
        let format = pbit_spec::Format::STANDARD;
        for n in [15u64, 21, 35, 45, 49, 63, 4, 6, 10, 12] {
            for w in classes(n) {
                let want: Vec<u64> = (2..=isqrt(n))
                    .filter(|&p| n % p == 0 && [bits_of(p), bits_of(n / p)] == w)
                    .collect();
                let Some((c, clamps)) =
                    class_problem(n, w, MultiplierWeights::default(), &format).unwrap()
                else {
                    assert!(want.is_empty(), "{n} {w:?}: ruled out but holds {want:?}");
                    continue;
                };
                let free: Vec<usize> = (0..c.ising.n)
                    .filter(|i| !clamps.iter().any(|&(k, _)| k == *i))
                    .collect();
                assert!(free.len() <= 20, "{n} {w:?}: {} free p-bits", free.len());
                let mut spins = vec![false; c.ising.n];
                for &(k, v) in &clamps {
                    spins[k] = v;
                }
                let mut found = Vec::new();
                for s in 0u64..1 << free.len() {
                    for (b, &i) in free.iter().enumerate() {
                        spins[i] = s >> b & 1 == 1;
                    }
                    let e = c.ising.energy(&spins);
                    assert!(e >= c.ground_energy - 1e-9, "{n} {w:?}: below ground");
                    if (e - c.ground_energy).abs() < 1e-9 {
                        let p = c.port_value(&spins, "a").unwrap();
                        let q = c.port_value(&spins, "b").unwrap();
                        assert_eq!(p * q, n, "{n} {w:?}");
                        found.push(p.min(q));
                    }
                }
                found.sort();
                found.dedup();
                assert_eq!(found, want, "{n} {w:?}");
            }
        }
    }
}

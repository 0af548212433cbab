//! Naive mean-field: the fixed point of m_i = tanh(β(Σ_j J_ij m_j + h_i)).
//!
//! Iteration: *parallel* (Jacobi) damped updates. Every sweep computes all fields from the
//! previous magnetisations, then m ← (1 − λ)·m + λ·tanh(β·field) for every i at once. Parallel
//! updates are independent of the p-bit order; the damping λ (0.5 by default) suppresses the
//! period-2 oscillation that undamped parallel updates show on antiferromagnetic couplings.
//! The iteration stops when the largest |Δm_i| of a sweep is at most the tolerance.
//!
//! Start: every m_i = [`MeanFieldOptions::start`] (0.1 by default), a documented deterministic
//! non-zero point: m = 0 is a fixed point when h = 0, so starting there would never break the
//! symmetry of a ferromagnet below its mean-field critical temperature.
//!
//! Free energy of the product distribution with magnetisations m (the naive mean-field, or
//! Gibbs–Bogoliubov, variational free energy):
//! F = E_MF − S/β, E_MF = −Σ_{i<j} J_ij m_i m_j − Σ_i h_i m_i,
//! S = −Σ_i [p_i ln p_i + (1 − p_i) ln(1 − p_i)], p_i = (1 + m_i)/2.
//! It is an upper bound on the exact F = −ln Z/β for any m.

use crate::ising::{Ising, IsingError};
use ndarray::Array1;

/// Options of [`mean_field`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanFieldOptions {
    /// Stop when max_i |Δm_i| of a sweep is at most this (> 0).
    pub tolerance: f64,
    /// Give up after this many sweeps (≥ 1); the result then has `converged = false`.
    pub max_iterations: usize,
    /// λ in m ← (1 − λ)m + λ·tanh(…), in (0, 1].
    pub damping: f64,
    /// Initial value of every m_i, in [−1, 1].
    pub start: f64,
}

impl Default for MeanFieldOptions {
    fn default() -> Self {
        MeanFieldOptions {
            tolerance: 1e-10,
            max_iterations: 10_000,
            damping: 0.5,
            start: 0.1,
        }
    }
}

/// The mean-field fixed point.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanField {
    /// m_i = ⟨m_i⟩ of the product distribution (an array, as for [`crate::exact::Exact`]).
    pub marginals: Array1<f64>,
    /// The naive mean-field free energy F = E_MF − S/β at `marginals`.
    pub free_energy: f64,
    /// E_MF = −Σ_{i<j} J_ij m_i m_j − Σ_i h_i m_i.
    pub energy: f64,
    /// S (nats).
    pub entropy: f64,
    /// Sweeps done.
    pub iterations: usize,
    /// Whether the last sweep changed no m_i by more than the tolerance.
    pub converged: bool,
}

/// Why mean-field cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeanFieldError {
    #[error("beta must be finite and positive, got {0}")]
    BadBeta(f64),
    #[error("invalid mean-field option: {0}")]
    BadOption(&'static str),
    #[error(transparent)]
    Invalid(#[from] IsingError),
}

/// Entropy of one spin with magnetisation m, in nats (0·ln 0 = 0).
fn spin_entropy(m: f64) -> f64 {
    let p = ((1.0 + m) / 2.0).clamp(0.0, 1.0);
    let q = 1.0 - p;
    let term = |x: f64| if x > 0.0 { -x * x.ln() } else { 0.0 };
    term(p) + term(q)
}

/// Iterates the naive mean-field equations of `ising` at `beta` to a fixed point.
pub fn mean_field(
    ising: &Ising,
    beta: f64,
    opts: &MeanFieldOptions,
) -> Result<MeanField, MeanFieldError> {
    if !beta.is_finite() || beta <= 0.0 {
        return Err(MeanFieldError::BadBeta(beta));
    }
    if !(opts.tolerance > 0.0 && opts.tolerance.is_finite()) {
        return Err(MeanFieldError::BadOption(
            "tolerance must be positive and finite",
        ));
    }
    if opts.max_iterations == 0 {
        return Err(MeanFieldError::BadOption(
            "max_iterations must be at least 1",
        ));
    }
    if !(opts.damping > 0.0 && opts.damping <= 1.0) {
        return Err(MeanFieldError::BadOption("damping must be in (0, 1]"));
    }
    if !(-1.0..=1.0).contains(&opts.start) {
        return Err(MeanFieldError::BadOption("start must be in [-1, 1]"));
    }
    ising.validate()?;
    let n = ising.n;
    // adjacency lists (both directions)
    let mut adj: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for c in &ising.couplings {
        adj[c.i].push((c.j, c.value));
        adj[c.j].push((c.i, c.value));
    }

    let lambda = opts.damping;
    let mut m = vec![opts.start; n];
    let mut next = vec![0.0; n];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < opts.max_iterations {
        iterations += 1;
        let mut change: f64 = 0.0;
        for i in 0..n {
            let field: f64 = adj[i].iter().map(|&(j, v)| v * m[j]).sum::<f64>() + ising.h[i];
            let target = (beta * field).tanh();
            let v = (1.0 - lambda) * m[i] + lambda * target;
            change = change.max((v - m[i]).abs());
            next[i] = v;
        }
        std::mem::swap(&mut m, &mut next);
        if change <= opts.tolerance {
            converged = true;
            break;
        }
    }

    let mut energy = 0.0;
    for c in &ising.couplings {
        energy -= c.value * m[c.i] * m[c.j];
    }
    for (i, &h) in ising.h.iter().enumerate() {
        energy -= h * m[i];
    }
    let entropy: f64 = m.iter().map(|&x| spin_entropy(x)).sum();
    Ok(MeanField {
        free_energy: energy - entropy / beta,
        energy,
        entropy,
        marginals: Array1::from_vec(m),
        iterations,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::exact;
    use std::path::Path;

    fn instance(name: &str) -> Ising {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/instances");
        Ising::read(&dir.join(name)).unwrap()
    }

    fn random_ising(n: usize, seed: u64, scale: f64) -> Ising {
        let mut x = seed;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            2.0 * ((x >> 11) as f64 / (1u64 << 53) as f64) - 1.0
        };
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                ising.add_coupling(i, j, scale * next());
            }
            ising.h[i] = next();
        }
        ising
    }

    #[test]
    fn single_spin_is_exact() {
        for (h, beta) in [(0.7, 1.0), (-2.0, 0.3), (0.0, 5.0), (3.0, 4.0)] {
            let mut ising = Ising::new(1);
            ising.h[0] = h;
            let mf = mean_field(&ising, beta, &MeanFieldOptions::default()).unwrap();
            assert!(mf.converged);
            assert!((mf.marginals[0] - (beta * h).tanh()).abs() < 1e-9, "h {h}");
            let f = -(2.0 * (beta * h).cosh()).ln() / beta;
            assert!(
                (mf.free_energy - f).abs() < 1e-9,
                "{} vs {f}",
                mf.free_energy
            );
        }
    }

    #[test]
    fn weak_couplings_at_high_temperature_match_exact_marginals() {
        // Naive MF drops the Onsager reaction term, whose size on m_i is about
        // β²·Σ_j J_ij²·(1 − m_j²)·m_i: here β = 0.2 and |J| ≤ 0.25 over 9 neighbours gives at most
        // 0.04·9·0.0625 ≈ 0.02; the observed error must stay below that bound.
        for seed in 1..4 {
            let ising = random_ising(10, seed, 0.25);
            let beta = 0.2;
            let mf = mean_field(&ising, beta, &MeanFieldOptions::default()).unwrap();
            let ex = exact(&ising, beta).unwrap();
            assert!(mf.converged);
            for (i, (a, b)) in mf.marginals.iter().zip(&ex.marginals).enumerate() {
                let bound: f64 = beta
                    * beta
                    * ising
                        .couplings
                        .iter()
                        .filter(|c| c.i == i || c.j == i)
                        .map(|c| c.value * c.value)
                        .sum::<f64>();
                assert!((a - b).abs() <= bound, "seed {seed} i {i}: {a} vs {b}");
            }
            // F_MF − F is, to leading order, the Plefka/TAP reaction term
            // (β/2)·Σ_{i<j} J_ij²(1 − m_i²)(1 − m_j²): check it is positive and within 20% of it
            let m = &mf.marginals;
            let tap: f64 = 0.5
                * beta
                * ising
                    .couplings
                    .iter()
                    .map(|c| c.value * c.value * (1.0 - m[c.i] * m[c.i]) * (1.0 - m[c.j] * m[c.j]))
                    .sum::<f64>();
            let gap = mf.free_energy - ex.free_energy;
            assert!(gap > 0.0 && (gap - tap).abs() < 0.2 * tap, "{gap} vs {tap}");
        }
    }

    #[test]
    fn free_energy_bounds_the_exact_one_from_above() {
        let mut cases: Vec<(Ising, f64)> = Vec::new();
        for name in [
            "and_gate.txt",
            "full_adder.txt",
            "ring8_ferro.txt",
            "sg2d_4x4_h.txt",
            "petersen_maxcut.txt",
        ] {
            for beta in [0.2, 1.0, 3.0] {
                cases.push((instance(name), beta));
            }
        }
        for seed in 10..14 {
            cases.push((random_ising(12, seed, 1.0), 0.5));
            cases.push((random_ising(12, seed, 1.0), 2.0));
        }
        for (ising, beta) in &cases {
            let mf = mean_field(ising, *beta, &MeanFieldOptions::default()).unwrap();
            let ex = exact(ising, *beta).unwrap();
            // the bound holds for any m; 1e-12 covers rounding
            assert!(
                mf.free_energy >= ex.free_energy - 1e-12 * ex.free_energy.abs().max(1.0),
                "{} beta {beta}: {} < {}",
                ising.source,
                mf.free_energy,
                ex.free_energy
            );
        }
    }

    #[test]
    fn ferromagnetic_ring_orders_only_below_the_mean_field_transition() {
        // z = 2 neighbours, J = 1: mean-field β_c = 1/2
        let ring = instance("ring8_ferro.txt");
        let hot = mean_field(&ring, 0.3, &MeanFieldOptions::default()).unwrap();
        assert!(hot.converged);
        assert!(hot.marginals.iter().all(|m| m.abs() < 1e-9));
        let cold = mean_field(&ring, 1.0, &MeanFieldOptions::default()).unwrap();
        assert!(cold.converged);
        // the start m = 0.1 selects the positive solution m = tanh(2m): m ≈ 0.9575
        for &m in &cold.marginals {
            assert!((m - (2.0 * m).tanh()).abs() < 1e-9 && m > 0.95);
        }
    }

    #[test]
    fn non_convergence_is_reported_and_options_are_checked() {
        let ising = random_ising(8, 3, 1.0);
        let opts = MeanFieldOptions {
            max_iterations: 2,
            ..Default::default()
        };
        let mf = mean_field(&ising, 1.0, &opts).unwrap();
        assert_eq!((mf.iterations, mf.converged), (2, false));
        let bad = |o: MeanFieldOptions| mean_field(&ising, 1.0, &o).unwrap_err();
        let d = MeanFieldOptions::default();
        assert!(matches!(
            bad(MeanFieldOptions { damping: 0.0, ..d }),
            MeanFieldError::BadOption(_)
        ));
        assert!(matches!(
            bad(MeanFieldOptions {
                tolerance: -1.0,
                ..d
            }),
            MeanFieldError::BadOption(_)
        ));
        assert!(matches!(
            bad(MeanFieldOptions {
                max_iterations: 0,
                ..d
            }),
            MeanFieldError::BadOption(_)
        ));
        assert!(matches!(
            bad(MeanFieldOptions { start: 2.0, ..d }),
            MeanFieldError::BadOption(_)
        ));
        assert!(matches!(
            mean_field(&ising, f64::NAN, &d),
            Err(MeanFieldError::BadBeta(_))
        ));
        let mut nan = Ising::new(2);
        nan.add_coupling(0, 1, f64::NAN);
        assert!(matches!(
            mean_field(&nan, 1.0, &d).unwrap_err(),
            MeanFieldError::Invalid(IsingError::NotFinite { .. })
        ));
    }
}

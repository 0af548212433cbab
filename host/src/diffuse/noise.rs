//! The forward process: bit-flip noise on a time grid, and the fixed coupling of each reverse
//! step.
//!
//! At step t (1..=T) every bit is independently resampled uniformly with probability
//! 1 − e^(−λΔt_t), so it flips with probability p_t = (1 − e^(−λΔt_t))/2 and keeps its value
//! with 1 − p_t = (1 + e^(−λΔt_t))/2. In ±1 spins the kernel is
//! q(s' | s) = e^(J_t s s') / (2 cosh J_t) with J_t = ½ ln((1 − p_t)/p_t)
//! = −½ ln tanh(λΔt_t/2) = atanh(e^(−λΔt_t)): the correlation of one step is
//! ⟨s s'⟩ = tanh J_t = e^(−λΔt_t), and after steps 1..t it is e^(−λ(Δt_1 + … + Δt_t)).
//! In 0/1 bits the same kernel flips b ↦ 1 − b with probability p_t.
//!
//! The grid is uniform, Δt_t = ln(1/ε)/(λT), so that after T steps the correlation left
//! with the data is ε ([`FINAL_CORRELATION`]): step T is pure noise to within ε (its exact
//! effect on small data is reported as `kl_start` by [`super::exact`]).

use pbit_spec::Format;
use serde::{Deserialize, Serialize};

/// The correlation with the data left after the last step (ε).
pub const FINAL_CORRELATION: f64 = 0.05;
/// The rate λ (it only scales time: the grid is in λΔt).
pub const LAMBDA: f64 = 1.0;

/// A time grid and its couplings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub lambda: f64,
    /// Δt_t of step t = 1..=T (index t − 1).
    pub dt: Vec<f64>,
}

impl Schedule {
    /// T uniform steps from the data to correlation `final_correlation` (0 < ε < 1).
    pub fn uniform(steps: usize, lambda: f64, final_correlation: f64) -> Schedule {
        let total = (1.0 / final_correlation).ln() / lambda;
        Schedule {
            lambda,
            dt: vec![total / steps as f64; steps],
        }
    }
    pub fn steps(&self) -> usize {
        self.dt.len()
    }
    /// e^(−λΔt_t): one step's correlation (t 1-based).
    pub fn keep(&self, t: usize) -> f64 {
        (-self.lambda * self.dt[t - 1]).exp()
    }
    /// Probability that step t flips a bit.
    pub fn flip(&self, t: usize) -> f64 {
        (1.0 - self.keep(t)) / 2.0
    }
    /// Probability that steps 1..=t together flip a bit (0 for t = 0).
    pub fn flip_through(&self, t: usize) -> f64 {
        let c: f64 = self.dt[..t].iter().sum::<f64>() * self.lambda;
        (1.0 - (-c).exp()) / 2.0
    }
    /// J_t = −½ ln tanh(λΔt_t/2), in the energy's units (the machine holds J_t/β).
    pub fn coupling(&self, t: usize) -> f64 {
        -0.5 * (self.lambda * self.dt[t - 1] / 2.0).tanh().ln()
    }
}

/// A coupling value rounded to the format's grid and range: (value, clipped). `clipped` says the
/// value was beyond ±J_max and was set to the limit.
pub fn quantise_coupling(j: f64, format: &Format) -> (f64, bool) {
    let one = format.one() as f64;
    let max = format.j_max_raw() as f64;
    let raw = (j * one).round();
    if raw.abs() > max {
        (raw.signum() * max / one, true)
    } else {
        (raw / one, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_is_the_kernel_as_an_energy() {
        let s = Schedule::uniform(4, 0.85, 0.05);
        assert_eq!(s.steps(), 4);
        for t in 1..=4 {
            let (p, j) = (s.flip(t), s.coupling(t));
            // e^{2J} = P(keep) / P(flip), and tanh J = e^{−λΔt}
            assert!(((2.0 * j).exp() - (1.0 - p) / p).abs() < 1e-12);
            assert!((j.tanh() - s.keep(t)).abs() < 1e-12);
        }
        // after T steps the correlation is ε
        assert!((1.0 - 2.0 * s.flip_through(4) - 0.05).abs() < 1e-12);
        // composition: two steps' correlations multiply
        let two = 1.0 - 2.0 * s.flip_through(2);
        assert!((two - s.keep(1) * s.keep(2)).abs() < 1e-12);
        assert_eq!(s.flip_through(0), 0.0);
    }

    #[test]
    fn quantisation_rounds_and_clips() {
        let f = Format::STANDARD;
        assert_eq!(quantise_coupling(0.514, &f), (0.5, false));
        assert_eq!(quantise_coupling(0.55, &f), (0.5625, false));
        assert_eq!(quantise_coupling(100.0, &f), (255.0 / 16.0, true));
    }
}

//! Exact marginals over the visible units of a Boltzmann machine, and KL divergence: learning's
//! measure of fit, computed from the instance exactly (hidden units summed out analytically
//! when they do not couple to each other, else by the enumeration of [`super`]).

use super::{boltzmann_distribution, ExactError, MAX_DISTRIBUTION_N};
use crate::Ising;
use ndarray::{Array1, ArrayRef1};

/// Most visible units for which exact KL is computed (2^V visible states).
pub const MAX_KL_VISIBLE: usize = 20;

/// ln P(v) of every visible state v (index bit i set = visible unit i is +1) under the Boltzmann
/// distribution of `ising` at `beta`, marginalised over p-bits `visible..n`. Exact: hidden units
/// that couple to no other hidden unit are summed out analytically (each contributes
/// ln 2cosh(β·I)); otherwise all 2^n states are enumerated (n ≤ 20). None when neither fits.
pub fn visible_log_probs(
    ising: &Ising,
    visible: usize,
    beta: f64,
) -> Result<Option<Array1<f64>>, ExactError> {
    let n = ising.n;
    let hidden_coupled = ising
        .couplings
        .iter()
        .any(|c| c.i >= visible && c.j >= visible && c.value != 0.0);
    if !hidden_coupled {
        if visible > MAX_KL_VISIBLE {
            return Ok(None);
        }
        // Visible states in Gray-code order: one visible spin flips per state, and
        // e = Σ_{visible pairs} J s s + Σ_visible h s (= −E of the visibles), the visible
        // fields f and the hidden units' fields g follow incrementally. Every value is a
        // multiple of the grid (1/16) far below 2^53, so the sums are exact in f64: no drift.
        let hidden = n - visible;
        let mut jvv = vec![0.0; visible * visible];
        let mut jvh = vec![0.0; visible * hidden];
        for c in &ising.couplings {
            let (a, b) = (c.i.min(c.j), c.i.max(c.j));
            if b < visible {
                jvv[a * visible + b] += c.value;
                jvv[b * visible + a] += c.value;
            } else {
                jvh[a * hidden + b - visible] += c.value;
            }
        }
        let mut s = vec![-1.0f64; visible];
        let mut f: Vec<f64> = (0..visible)
            .map(|i| ising.h[i] - jvv[i * visible..(i + 1) * visible].iter().sum::<f64>())
            .collect();
        let mut g: Vec<f64> = (0..hidden)
            .map(|k| ising.h[visible + k] - (0..visible).map(|i| jvh[i * hidden + k]).sum::<f64>())
            .collect();
        let mut e = (0..visible)
            .map(|i| -ising.h[i] + 0.5 * jvv[i * visible..(i + 1) * visible].iter().sum::<f64>())
            .sum::<f64>();
        let states = 1usize << visible;
        let mut logw = vec![0.0; states];
        for t in 0..states {
            if t > 0 {
                let i = t.trailing_zeros() as usize;
                let old = s[i];
                e -= 2.0 * old * f[i];
                for (fj, &jv) in f.iter_mut().zip(&jvv[i * visible..(i + 1) * visible]) {
                    *fj -= 2.0 * old * jv;
                }
                for (gk, &jv) in g.iter_mut().zip(&jvh[i * hidden..(i + 1) * hidden]) {
                    *gk -= 2.0 * old * jv;
                }
                s[i] = -old;
            }
            logw[t ^ (t >> 1)] = beta * e + g.iter().map(|&x| ln_2cosh(beta * x)).sum::<f64>();
        }
        let max = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ln_z = max + logw.iter().map(|&l| (l - max).exp()).sum::<f64>().ln();
        return Ok(Some(logw.iter().map(|&l| l - ln_z).collect()));
    }
    if n > MAX_DISTRIBUTION_N {
        return Ok(None);
    }
    let p = boltzmann_distribution(ising, beta)?;
    let mask = (1usize << visible) - 1;
    let mut pv = vec![0.0; 1usize << visible];
    for (s, &x) in p.iter().enumerate() {
        pv[s & mask] += x;
    }
    Ok(Some(pv.iter().map(|&x| x.ln()).collect()))
}

/// ln(2 cosh x), without overflow.
fn ln_2cosh(x: f64) -> f64 {
    let a = x.abs();
    a + (-2.0 * a).exp().ln_1p()
}

/// KL(data ‖ model) from the data distribution and the model's ln P(v). Summed in state order
/// (an iterator sum, not ndarray's pairwise `sum`), so the figure does not depend on how the
/// arrays are laid out.
pub fn kl_divergence(data: &ArrayRef1<f64>, model_log_p: &ArrayRef1<f64>) -> f64 {
    data.iter()
        .zip(model_log_p)
        .filter(|(&p, _)| p > 0.0)
        .map(|(&p, &lq)| p * (p.ln() - lq))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_spec::rng::splitmix64;

    /// A semi-restricted instance: visible–visible and visible–hidden couplings only.
    fn semi_instance(v: usize, h: usize) -> Ising {
        let mut x = 3u64;
        let mut next = move || {
            x = splitmix64(x);
            ((x % 41) as f64 - 20.0) / 16.0
        };
        let mut ising = Ising::new(v + h);
        for a in 0..v + h {
            for b in a + 1..v + h {
                if a < v {
                    ising.add_coupling(b, a, next());
                }
            }
            ising.h[a] = next();
        }
        ising
    }

    fn enumerated(ising: &Ising, v: usize, beta: f64) -> Vec<f64> {
        let p = boltzmann_distribution(ising, beta).unwrap();
        let mut pv = vec![0.0; 1 << v];
        for (s, x) in p.iter().enumerate() {
            pv[s & ((1 << v) - 1)] += x;
        }
        pv
    }

    #[test]
    fn visible_marginal_sums_hidden_units_out_exactly() {
        // analytic (hidden units summed out) against full enumeration
        let ising = semi_instance(5, 4);
        for beta in [0.3, 1.0, 2.5] {
            let lp = visible_log_probs(&ising, 5, beta).unwrap().unwrap();
            let pv = enumerated(&ising, 5, beta);
            for (a, b) in lp.iter().zip(&pv) {
                // both are sums of ≤ 512 exponentials in f64: agreement to ~1e-12 relative
                assert!(
                    (a.exp() - b).abs() <= 1e-12 * b.max(1e-300) + 1e-15,
                    "{a} {b}"
                );
            }
        }
        // with a hidden–hidden coupling it enumerates, and still agrees
        let mut full = ising.clone();
        full.add_coupling(6, 7, 1.5);
        let lp = visible_log_probs(&full, 5, 1.0).unwrap().unwrap();
        for (a, b) in lp.iter().zip(&enumerated(&full, 5, 1.0)) {
            assert!((a.exp() - b).abs() < 1e-12);
        }
        // KL of a distribution with itself is 0; against uniform it is ln(states) − H
        let pd = ndarray::array![0.5, 0.5, 0.0, 0.0];
        assert_eq!(kl_divergence(&pd, &pd.mapv(f64::ln)), 0.0);
        let uniform = Array1::from_elem(4, (0.25f64).ln());
        assert!((kl_divergence(&pd, &uniform) - 2f64.ln()).abs() < 1e-15);
    }
}

//! Exact evaluation for small data: each reverse step's transition kernel
//! P(x_{t−1} | x_t, label) from its machine's Boltzmann distribution at β (hidden p-bits summed
//! out analytically: they couple to no other hidden p-bit), the exact distribution of the
//! generated samples — uniform x_T pushed through the T kernels — and its KL to the data.
//!
//! This is the distribution the chain generates when every step's Gibbs run has mixed (K → ∞
//! sweeps); what finitely many sweeps give is measured from samples instead. With labels, each
//! class's chain is evaluated against that class's data and the KLs are weighted by the classes'
//! frequencies (the KL of the joint distribution of image and label).

use super::noise::Schedule;
use super::{DiffuseData, DiffuseError, StepLayout};
use ndarray::{Array1, Array2};
use pbit_model::exact::visible::visible_log_probs;
use pbit_model::Ising;
use serde::Serialize;

/// Most visible bits evaluated exactly (each step's kernel has 4^V entries).
pub const MAX_EXACT_VISIBLE: usize = 12;

/// One step's machine with x_t and the labels as fields on the outputs and hidden p-bits.
pub struct Conditional {
    layout: StepLayout,
    /// Outputs 0..V and hidden V..V+H: their own couplings and biases.
    base: Ising,
    /// Fixed coupling of output i to input i.
    j_input: Array1<f64>,
    /// label_field[[k, p]]: the coupling of label k to p-bit p of `base` (K × (V + H)).
    label_field: Array2<f64>,
}

impl Conditional {
    /// Splits a step's machine; errors when it is not a diffusion step (an input coupled to
    /// anything but its own output, or hidden p-bits coupled to each other).
    pub fn new(ising: &Ising, layout: &StepLayout) -> Result<Conditional, DiffuseError> {
        let (v, k, h) = (layout.visible, layout.classes, layout.hidden);
        if ising.n != layout.n() {
            return Err(DiffuseError::Other(format!(
                "{}: {} p-bits, the layout {}",
                ising.source,
                ising.n,
                layout.n()
            )));
        }
        // p-bit of the machine -> index in base (outputs, then hidden)
        let to_base = |p: usize| -> Option<usize> {
            if p < v {
                Some(p)
            } else if p >= 2 * v + k {
                Some(v + p - (2 * v + k))
            } else {
                None
            }
        };
        let mut base = Ising::new(v + h);
        for p in 0..ising.n {
            if let Some(b) = to_base(p) {
                base.h[b] = ising.h[p];
            }
        }
        let mut j_input = Array1::zeros(v);
        let mut label_field = Array2::zeros((k, v + h));
        for c in &ising.couplings {
            let (a, b) = (c.i.min(c.j), c.i.max(c.j));
            let is_label = |p: usize| (2 * v..2 * v + k).contains(&p);
            match (to_base(a), to_base(b)) {
                (Some(x), Some(y)) if x >= v && y >= v && c.value != 0.0 => {
                    return Err(DiffuseError::Other(format!(
                        "{}: hidden p-bits {} and {} are coupled: not a diffusion step",
                        ising.source,
                        a + 1,
                        b + 1
                    )))
                }
                (Some(x), Some(y)) => base.add_coupling(x, y, c.value),
                (Some(x), None) if x < v && b == v + x => j_input[x] += c.value,
                (Some(x), None) if is_label(b) => label_field[[b - 2 * v, x]] += c.value,
                (None, Some(y)) if is_label(a) => label_field[[a - 2 * v, y]] += c.value,
                _ if c.value == 0.0 => {}
                _ => {
                    return Err(DiffuseError::Other(format!(
                        "{}: coupling {} {} is not one a diffusion step has (inputs couple only to their own output)",
                        ising.source,
                        a + 1,
                        b + 1
                    )));
                }
            }
        }
        Ok(Conditional {
            layout: *layout,
            base,
            j_input,
            label_field,
        })
    }

    /// ln P(x_{t−1} = y | x_t = x, label) for every y (index bit i = output i is 1).
    pub fn log_kernel_row(
        &self,
        x: usize,
        label: usize,
        beta: f64,
    ) -> Result<Array1<f64>, DiffuseError> {
        let v = self.layout.visible;
        let mut m = self.base.clone();
        for i in 0..v {
            let s = if x >> i & 1 == 1 { 1.0 } else { -1.0 };
            m.h[i] += self.j_input[i] * s;
        }
        for (k, f) in self.label_field.rows().into_iter().enumerate() {
            let s = if k == label { 1.0 } else { -1.0 };
            for (h, &j) in m.h.iter_mut().zip(f) {
                *h += j * s;
            }
        }
        visible_log_probs(&m, v, beta)?
            .ok_or_else(|| DiffuseError::Other("the step is too large to evaluate exactly".into()))
    }
}

/// The exact evaluation (`kl` and friends in `--json`).
#[derive(Clone, Debug, Serialize)]
pub struct ExactReport {
    /// KL(data ‖ generated): the exact distribution of the generated samples (every step mixed).
    pub kl: f64,
    /// KL(q_T ‖ uniform): what starting from pure noise instead of the noised data costs at most.
    pub kl_start: f64,
    /// Per step t = 1..=T (index t − 1): KL(q_{t−1} ‖ p_{t−1}), the noised data at t − 1
    /// against the chain's distribution there.
    pub kl_per_step: Vec<f64>,
    /// Per step: E_{x ~ q_t} KL(q(x_{t−1} | x_t = x) ‖ P_t(· | x)), the learned kernel against
    /// the true reverse kernel of the forward process (0 for a perfect step).
    pub kernel_error: Vec<f64>,
    /// Probability the generated distribution puts on the data's distinct vectors (the valid
    /// fraction with infinitely many sweeps).
    pub data_mass: f64,
}

/// The empirical distribution of vectors (index bit i = bit i is 1).
pub fn distribution(vectors: &[&Vec<bool>], v: usize) -> Vec<f64> {
    let mut p = vec![0.0; 1 << v];
    for x in vectors {
        p[index(x)] += 1.0 / vectors.len() as f64;
    }
    p
}

pub fn index(x: &[bool]) -> usize {
    x.iter()
        .enumerate()
        .fold(0, |a, (i, &b)| a | (b as usize) << i)
}

/// Applies independent bit flips with probability `f` to a distribution over 2^v states.
pub fn flip_distribution(p: &mut [f64], v: usize, f: f64) {
    for i in 0..v {
        let bit = 1 << i;
        for s in 0..p.len() {
            if s & bit == 0 {
                let (a, b) = (p[s], p[s | bit]);
                p[s] = (1.0 - f) * a + f * b;
                p[s | bit] = f * a + (1.0 - f) * b;
            }
        }
    }
}

/// KL(p ‖ q) over states where p > 0.
pub fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(&a, _)| a > 0.0)
        .map(|(&a, &b)| a * (a.ln() - b.ln()))
        .sum()
}

/// The exact evaluation of a chain, or None when the data have more than
/// [`MAX_EXACT_VISIBLE`] bits.
pub fn evaluate(
    steps: &[Ising],
    layout: &StepLayout,
    schedule: &Schedule,
    beta: f64,
    data: &DiffuseData,
) -> Result<Option<ExactReport>, DiffuseError> {
    let v = layout.visible;
    if v > MAX_EXACT_VISIBLE {
        return Ok(None);
    }
    let t_max = steps.len();
    let conds = steps
        .iter()
        .map(|s| Conditional::new(s, layout))
        .collect::<Result<Vec<_>, _>>()?;
    let classes: Vec<usize> = if layout.classes == 0 {
        vec![0]
    } else {
        (0..layout.classes).collect()
    };
    let states = 1usize << v;
    let mut total = ExactReport {
        kl: 0.0,
        kl_start: 0.0,
        kl_per_step: vec![0.0; t_max],
        kernel_error: vec![0.0; t_max],
        data_mass: 0.0,
    };
    for &label in &classes {
        let members: Vec<&Vec<bool>> = (0..data.vectors.len())
            .filter(|&d| layout.classes == 0 || data.label(d) == label)
            .map(|d| &data.vectors[d])
            .collect();
        if members.is_empty() {
            continue;
        }
        let weight = members.len() as f64 / data.vectors.len() as f64;
        // forward marginals q_0..q_T
        let mut q = vec![distribution(&members, v)];
        for t in 1..=t_max {
            let mut next = q[t - 1].clone();
            flip_distribution(&mut next, v, schedule.flip(t));
            q.push(next);
        }
        let uniform = vec![1.0 / states as f64; states];
        total.kl_start += weight * kl(&q[t_max], &uniform);
        let mut p = uniform;
        for t in (1..=t_max).rev() {
            let f = schedule.flip(t);
            let mut next = vec![0.0; states];
            let mut err = 0.0;
            for x in 0..states {
                let row = conds[t - 1].log_kernel_row(x, label, beta)?;
                for (y, &l) in row.iter().enumerate() {
                    next[y] += p[x] * l.exp();
                }
                if q[t][x] > 0.0 {
                    // true reverse kernel q(y | x) = q_{t−1}(y) F(y → x) / q_t(x)
                    let mut e = 0.0;
                    for y in 0..states {
                        if q[t - 1][y] > 0.0 {
                            let dist = (x ^ y).count_ones() as i32;
                            let fwd = f.powi(dist) * (1.0 - f).powi(v as i32 - dist);
                            let r = q[t - 1][y] * fwd / q[t][x];
                            if r > 0.0 {
                                e += r * (r.ln() - row[y]);
                            }
                        }
                    }
                    err += q[t][x] * e;
                }
            }
            p = next;
            total.kl_per_step[t - 1] += weight * kl(&q[t - 1], &p);
            total.kernel_error[t - 1] += weight * err;
        }
        total.kl += weight * kl(&q[0], &p);
        total.data_mass += weight
            * q[0]
                .iter()
                .zip(&p)
                .filter(|(&a, _)| a > 0.0)
                .map(|(_, &b)| b)
                .sum::<f64>();
    }
    Ok(Some(total))
}

/// The empirical KL(data ‖ samples) with every count raised by ½ (so no state has probability
/// 0): q̂(x) = (c(x) + ½) / (N + 2^V/2). None beyond [`MAX_EXACT_VISIBLE`] bits.
pub fn empirical_kl(data: &[&Vec<bool>], samples: &[Vec<bool>], v: usize) -> Option<f64> {
    if v > MAX_EXACT_VISIBLE || samples.is_empty() {
        return None;
    }
    let states = 1usize << v;
    let mut c = vec![0.5; states];
    for s in samples {
        c[index(s)] += 1.0;
    }
    let z = samples.len() as f64 + states as f64 / 2.0;
    let q: Vec<f64> = c.iter().map(|x| x / z).collect();
    Some(kl(&distribution(data, v), &q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_mix_towards_uniform_and_match_the_per_bit_kernel() {
        let mut p = vec![0.0; 8];
        p[0b101] = 1.0;
        flip_distribution(&mut p, 3, 0.1);
        assert!((p[0b101] - 0.9f64.powi(3)).abs() < 1e-12);
        assert!((p[0b100] - 0.9 * 0.9 * 0.1).abs() < 1e-12);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        flip_distribution(&mut p, 3, 0.5);
        assert!(p.iter().all(|&x| (x - 0.125).abs() < 1e-12));
    }

    #[test]
    fn a_perfect_one_bit_step_is_the_true_reverse_kernel() {
        // one visible bit, no hidden p-bits: data all 1 (m = 1 after no noise); step 1 flips
        // with f. The true reverse kernel is q(y | x) ∝ δ(y = 1): the machine approximates it
        // with a large bias. Check the kernel row against the formula instead.
        let layout = StepLayout {
            visible: 1,
            classes: 0,
            hidden: 0,
        };
        let mut m = Ising::new(2);
        m.h[0] = 0.5;
        m.add_coupling(0, 1, 0.75);
        let c = Conditional::new(&m, &layout).unwrap();
        for x in 0..2 {
            let row = c.log_kernel_row(x, 0, 1.0).unwrap();
            let field: f64 = 0.5 + 0.75 * if x == 1 { 1.0 } else { -1.0 };
            let p1 = (field).exp() / (2.0 * field.cosh());
            assert!((row[1].exp() - p1).abs() < 1e-12);
        }
        // an input coupled to something else is refused
        let mut bad = Ising::new(3);
        bad.add_coupling(1, 2, 1.0);
        let l2 = StepLayout {
            visible: 1,
            classes: 0,
            hidden: 1,
        };
        assert!(Conditional::new(&bad, &l2).is_err());
    }

    #[test]
    fn kernel_rows_are_the_full_machine_conditioned_on_inputs_and_labels() {
        // a random step machine: 3 outputs, 3 inputs, 2 labels, 2 hidden (10 p-bits), every
        // allowed pair coupled; its kernel against brute-force enumeration of all 2^10 states
        let layout = StepLayout {
            visible: 3,
            classes: 2,
            hidden: 2,
        };
        let mut x = 7u64;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            ((x % 41) as f64 - 20.0) / 16.0
        };
        let mut m = Ising::new(layout.n());
        for (a, b) in layout.learned_pairs() {
            m.add_coupling(a, b, next());
        }
        for i in 0..3 {
            m.add_coupling(layout.output(i), layout.input(i), 0.5);
        }
        for p in 0..layout.n() {
            m.h[p] = next();
        }
        let beta = 0.8;
        let full = pbit_model::exact::boltzmann_distribution(&m, beta).unwrap();
        let c = Conditional::new(&m, &layout).unwrap();
        for label in 0..2 {
            for xin in 0..8usize {
                // states with inputs = xin and labels one-hot `label`
                let mut cond = [0.0; 8];
                for (s, &p) in full.iter().enumerate() {
                    let inputs = (s >> 3) & 7;
                    let labels = (s >> 6) & 3;
                    if inputs == xin && labels == 1 << label {
                        cond[s & 7] += p;
                    }
                }
                let z: f64 = cond.iter().sum();
                let row = c.log_kernel_row(xin, label, beta).unwrap();
                for y in 0..8 {
                    assert!(
                        (row[y].exp() - cond[y] / z).abs() < 1e-12,
                        "label {label} x {xin} y {y}"
                    );
                }
            }
        }
        // a hidden–hidden coupling is refused (hidden p-bits are summed out independently)
        let mut bad = m.clone();
        bad.add_coupling(layout.hidden_pbit(0), layout.hidden_pbit(1), 1.0);
        assert!(Conditional::new(&bad, &layout).is_err());
    }

    #[test]
    fn empirical_kl_of_the_data_themselves_is_small() {
        let a = vec![true, false];
        let b = vec![false, true];
        let data = vec![&a, &b];
        let samples: Vec<Vec<bool>> = (0..1000)
            .map(|i| if i % 2 == 0 { a.clone() } else { b.clone() })
            .collect();
        let k = empirical_kl(&data, &samples, 2).unwrap();
        // q̂ = 500.5 / 1002 for each: KL = ln(0.5 / 0.4995) = 0.0010
        assert!((k - (0.5f64 / (500.5 / 1002.0)).ln()).abs() < 1e-12, "{k}");
    }
}

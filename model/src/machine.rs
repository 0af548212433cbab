//! The bit-exact p-bit machine: the hardware's semantics in Rust, and the reference the
//! gateware is checked against.
//!
//! Semantics (docs/spec.md has the same in prose):
//! * State: spins m_i ∈ {−1, +1} (stored as `bool`, true = +1), raw local fields
//!   I_i = Σ_j J_ij m_j + h_i, one xorshift32 generator per p-bit, a clamp mask and the running
//!   raw energy E. Fields and energy are recomputed from J, h and the state after any write of
//!   the state or the clamps; during a run they are updated incrementally and, because fields
//!   never saturate (checked at load), stay equal to the recomputed values bit for bit.
//! * Order: a sweep visits p-bits 0, 1, …, N−1 once each ([`UpdateOrder::Sequential`]).
//! * Update of p-bit i: its generator steps once, u = top `rng_bits` bits; clamped p-bits
//!   discard u and keep their value (so a p-bit's random stream never depends on the clamps);
//!   others take m_i = +1 iff I_i > page[u]. On a flip, E += 2·m_old·I_i and every neighbour's
//!   field gains 2·J_ki·m_new.
//! * Best: the lowest E seen, counting the state the run starts from and the state after every
//!   update; the first occurrence wins ties.

use crate::fixed::FixedIsing;
use pbit_spec::{initial_spin, pbit_seed, ThresholdPage};

/// The order in which a sweep visits p-bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpdateOrder {
    /// 0, 1, …, N−1.
    #[default]
    Sequential,
}

/// One chain ("read") of the machine on one instance.
#[derive(Clone, Debug)]
pub struct Machine<'p> {
    problem: &'p FixedIsing,
    spins: Vec<bool>,
    fields: Vec<i32>,
    rngs: Vec<u32>,
    clamped: Vec<bool>,
    energy: i64,
    best_energy: i64,
    best_spins: Vec<bool>,
    /// Scratch: the state at the start of the current sweep (to rebuild a mid-sweep best).
    sweep_start: Vec<bool>,
    sweeps_done: u64,
}

impl<'p> Machine<'p> {
    /// A machine in the state the seed gives: generators from [`pbit_seed`], spins from
    /// [`initial_spin`], both for (seed, read, index).
    pub fn new(problem: &'p FixedIsing, seed: u64, read: u64) -> Machine<'p> {
        let n = problem.n;
        let spins: Vec<bool> = (0..n).map(|i| initial_spin(seed, read, i as u64)).collect();
        let rngs = (0..n).map(|i| pbit_seed(seed, read, i as u64)).collect();
        let mut m = Machine {
            problem,
            spins: spins.clone(),
            fields: Vec::new(),
            rngs,
            clamped: vec![false; n],
            energy: 0,
            best_energy: 0,
            best_spins: spins,
            sweep_start: vec![false; n],
            sweeps_done: 0,
        };
        m.recompute();
        m
    }

    /// Clamps p-bits (0-based index, value). A p-bit clamped to the other value takes it at
    /// once; fields, energy and the best state are recomputed.
    pub fn set_clamps(&mut self, clamps: &[(usize, bool)]) {
        self.clamped.iter_mut().for_each(|c| *c = false);
        for &(i, v) in clamps {
            self.clamped[i] = true;
            self.spins[i] = v;
        }
        self.recompute();
    }

    /// Writes the whole state (clamped p-bits keep their clamp value); recomputes.
    pub fn set_spins(&mut self, spins: &[bool]) {
        let n = self.problem.n;
        for ((s, &clamped), &v) in self.spins.iter_mut().zip(&self.clamped).zip(&spins[..n]) {
            if !clamped {
                *s = v;
            }
        }
        self.recompute();
    }

    /// Recomputes fields and energy from J, h and the state; the best restarts from here.
    fn recompute(&mut self) {
        self.fields = self.problem.fields(&self.spins);
        self.energy = self.problem.energy_raw(&self.spins);
        self.best_energy = self.energy;
        self.best_spins.clone_from(&self.spins);
    }

    /// One sweep at the page's β.
    pub fn sweep(&mut self, page: &ThresholdPage) {
        let p = self.problem;
        let k = p.format.rng_bits;
        self.sweep_start.clone_from(&self.spins);
        let mut best_at: Option<usize> = None;
        for i in 0..p.n {
            let mut x = self.rngs[i];
            x = pbit_spec::rng::xorshift32_step(x);
            self.rngs[i] = x;
            if self.clamped[i] {
                continue;
            }
            let u = (x >> (32 - k)) as usize;
            let field = self.fields[i];
            let up = field > page.thresholds[u];
            if up != self.spins[i] {
                // ΔE = 2·m_old·I_i; neighbours gain 2·J·m_new
                let m_new: i32 = if up { 1 } else { -1 };
                self.energy -= 2 * m_new as i64 * field as i64;
                self.spins[i] = up;
                let (nb, jv) = p.row(i);
                for (&j, &v) in nb.iter().zip(jv) {
                    self.fields[j as usize] += 2 * v * m_new;
                }
                if self.energy < self.best_energy {
                    self.best_energy = self.energy;
                    best_at = Some(i);
                }
            }
        }
        if let Some(at) = best_at {
            // p-bits after `at` had not been updated yet when the best was seen
            self.best_spins[..=at].copy_from_slice(&self.spins[..=at]);
            self.best_spins[at + 1..].copy_from_slice(&self.sweep_start[at + 1..]);
        }
        self.sweeps_done += 1;
    }

    pub fn spins(&self) -> &[bool] {
        &self.spins
    }
    pub fn fields(&self) -> &[i32] {
        &self.fields
    }
    pub fn rng_states(&self) -> &[u32] {
        &self.rngs
    }
    pub fn energy_raw(&self) -> i64 {
        self.energy
    }
    pub fn best_energy_raw(&self) -> i64 {
        self.best_energy
    }
    pub fn best_spins(&self) -> &[bool] {
        &self.best_spins
    }
    pub fn sweeps_done(&self) -> u64 {
        self.sweeps_done
    }
    pub fn problem(&self) -> &'p FixedIsing {
        self.problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FixedIsing, Ising, Scaling};
    use pbit_spec::{Beta, Format};

    /// A dense random instance with extreme values, from a fixed generator.
    fn random_instance(n: usize, seed: u64) -> FixedIsing {
        let mut x = seed | 1;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            x
        };
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                if next() % 3 != 0 {
                    let raw = (next() % 511) as i64 - 255;
                    ising.add_coupling(i, j, raw as f64 / 16.0);
                }
            }
            ising.h[i] = ((next() % 2047) as i64 - 1023) as f64 / 16.0;
        }
        FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap()
    }

    #[test]
    fn incremental_fields_and_energy_equal_recomputed() {
        for (n, seed) in [(2, 1), (7, 2), (40, 3)] {
            let p = random_instance(n, seed);
            let mut m = Machine::new(&p, seed, 0);
            m.set_clamps(&[(0, true)]);
            for beta in [0.01, 0.2, 1.0, 5.0] {
                let page = ThresholdPage::build(&p.format, Beta::from_f64(beta).unwrap());
                for _ in 0..20 {
                    m.sweep(&page);
                    assert_eq!(m.fields(), &p.fields(m.spins())[..]);
                    assert_eq!(m.energy_raw(), p.energy_raw(m.spins()));
                    assert!(m.spins()[0]);
                }
            }
        }
    }

    #[test]
    fn best_is_the_lowest_state_after_any_update() {
        // Replays the sweep one update at a time and checks the best against every state seen.
        let p = random_instance(12, 9);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.3).unwrap());
        let mut m = Machine::new(&p, 5, 2);
        let mut best = (p.energy_raw(m.spins()), m.spins().to_vec());
        let k = p.format.rng_bits;
        let mut spins = m.spins().to_vec();
        let mut rngs = m.rng_states().to_vec();
        for _ in 0..30 {
            m.sweep(&page);
            for i in 0..p.n {
                rngs[i] = pbit_spec::rng::xorshift32_step(rngs[i]);
                let fields = p.fields(&spins);
                spins[i] = fields[i] > page.thresholds[(rngs[i] >> (32 - k)) as usize];
                let e = p.energy_raw(&spins);
                if e < best.0 {
                    best = (e, spins.clone());
                }
            }
            assert_eq!(m.spins(), &spins[..]);
            assert_eq!(m.best_energy_raw(), best.0);
            assert_eq!(m.best_spins(), &best.1[..]);
            assert_eq!(p.energy_raw(m.best_spins()), m.best_energy_raw());
        }
    }

    #[test]
    fn clamps_hold_and_do_not_change_random_streams() {
        let p = random_instance(10, 4);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(1.0).unwrap());
        let mut free = Machine::new(&p, 3, 0);
        let mut held = Machine::new(&p, 3, 0);
        held.set_clamps(&[(2, false), (7, true)]);
        for _ in 0..50 {
            free.sweep(&page);
            held.sweep(&page);
            assert!(!held.spins()[2] && held.spins()[7]);
        }
        assert_eq!(free.rng_states(), held.rng_states());
    }
}

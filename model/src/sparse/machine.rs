//! The bit-exact sparse machine: the reference for the gateware and for the fast kernel.
//!
//! Semantics (docs/spec.md, "The sparse machine"):
//! * State, fields, energy, generators, clamps and writes: as the dense [`crate::Machine`].
//! * Order: a sweep is C colour phases; phase k visits the p-bits of colour k in increasing
//!   index ([`Phases`]). The hardware updates a phase's p-bits at once; with no edge inside a
//!   colour that equals this sequential visit bit for bit.
//! * Update of p-bit i: its generator steps once (u = top `rng_bits` bits); a clamped p-bit
//!   discards u and keeps its value; otherwise m_i = +1 iff I_i > page[u].
//! * Best: the lowest energy among the state the run starts from (or the last write) and the
//!   states at the end of each colour phase; the first occurrence wins ties.

use super::Phases;
use crate::fixed::FixedIsing;
use pbit_spec::{initial_spin, pbit_seed, ThresholdPage};

/// One chain ("read") of the sparse machine on one instance.
#[derive(Clone, Debug)]
pub struct SparseMachine<'p> {
    problem: &'p FixedIsing,
    phases: &'p Phases,
    spins: Vec<bool>,
    fields: Vec<i32>,
    rngs: Vec<u32>,
    clamped: Vec<bool>,
    energy: i64,
    best_energy: i64,
    best_spins: Vec<bool>,
    sweeps_done: u64,
}

impl<'p> SparseMachine<'p> {
    /// The seeded state: generators from [`pbit_seed`], spins from [`initial_spin`], both for
    /// (seed, read, index).
    pub fn new(problem: &'p FixedIsing, phases: &'p Phases, seed: u64, read: u64) -> Self {
        let n = problem.n;
        assert_eq!(
            phases.order.len(),
            n,
            "the phases must visit every p-bit of the instance once"
        );
        let spins: Vec<bool> = (0..n).map(|i| initial_spin(seed, read, i as u64)).collect();
        let mut m = SparseMachine {
            problem,
            phases,
            spins: spins.clone(),
            fields: Vec::new(),
            rngs: (0..n).map(|i| pbit_seed(seed, read, i as u64)).collect(),
            clamped: vec![false; n],
            energy: 0,
            best_energy: 0,
            best_spins: spins,
            sweeps_done: 0,
        };
        m.recompute();
        m
    }

    /// Clamps p-bits (0-based index, value); a p-bit clamped to the other value takes it at
    /// once. Fields, energy and the best are recomputed.
    pub fn set_clamps(&mut self, clamps: &[(usize, bool)]) {
        self.clamped.iter_mut().for_each(|c| *c = false);
        for &(i, v) in clamps {
            self.clamped[i] = true;
            self.spins[i] = v;
        }
        self.recompute();
    }

    /// Writes the state (clamped p-bits keep their clamp value); recomputes.
    pub fn set_spins(&mut self, spins: &[bool]) {
        let n = self.problem.n;
        for ((s, &clamped), &v) in self.spins.iter_mut().zip(&self.clamped).zip(&spins[..n]) {
            if !clamped {
                *s = v;
            }
        }
        self.recompute();
    }

    fn recompute(&mut self) {
        self.fields = self.problem.fields(&self.spins);
        self.energy = self.problem.energy_raw(&self.spins);
        self.best_energy = self.energy;
        self.best_spins.clone_from(&self.spins);
    }

    /// One sweep (C colour phases) at the page's β.
    pub fn sweep(&mut self, page: &ThresholdPage) {
        let p = self.problem;
        let k = p.format.rng_bits;
        for phase in 0..self.phases.count() {
            for &i in self.phases.phase(phase) {
                let i = i as usize;
                let x = pbit_spec::rng::xorshift32_step(self.rngs[i]);
                self.rngs[i] = x;
                if self.clamped[i] {
                    continue;
                }
                let field = self.fields[i];
                let up = field > page.thresholds[(x >> (32 - k)) as usize];
                if up != self.spins[i] {
                    let m_new: i32 = if up { 1 } else { -1 };
                    self.energy -= 2 * m_new as i64 * field as i64;
                    self.spins[i] = up;
                    let (nb, jv) = p.row(i);
                    for (&j, &v) in nb.iter().zip(jv) {
                        self.fields[j as usize] += 2 * v * m_new;
                    }
                }
            }
            // best energy at the end of each colour phase
            if self.energy < self.best_energy {
                self.best_energy = self.energy;
                self.best_spins.clone_from(&self.spins);
            }
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
}

impl crate::backend::WatchedMachine for SparseMachine<'_> {
    fn sweep(&mut self, page: &ThresholdPage) {
        SparseMachine::sweep(self, page)
    }
    fn spins(&self) -> &[bool] {
        SparseMachine::spins(self)
    }
    fn energy_raw(&self) -> i64 {
        SparseMachine::energy_raw(self)
    }
    fn best_energy_raw(&self) -> i64 {
        SparseMachine::best_energy_raw(self)
    }
    fn best_spins(&self) -> &[bool] {
        SparseMachine::best_spins(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colour::build_graph;
    use crate::{Ising, Scaling};
    use pbit_spec::Beta;

    /// A random sparse instance (each pair coupled with probability `fill`), extreme values.
    pub(crate) fn random_sparse(n: usize, fill_percent: u64, seed: u64) -> FixedIsing {
        let mut x = seed | 1;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            x
        };
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                if next() % 100 < fill_percent {
                    ising.add_coupling(i, j, ((next() % 511) as i64 - 255) as f64 / 16.0);
                }
            }
            ising.h[i] = ((next() % 2047) as i64 - 1023) as f64 / 16.0;
        }
        FixedIsing::new(&ising, super::super::MODEL_FORMAT, Scaling::Exact).unwrap()
    }

    #[test]
    fn a_sweep_is_colour_phases_of_parallel_updates() {
        // The hardware's view: within a phase every p-bit decides from the fields at the start
        // of the phase. Replayed here from scratch and compared with the sequential reference.
        for (n, fill, seed) in [(12, 30, 1), (40, 10, 2), (64, 5, 3)] {
            let p = random_sparse(n, fill, seed);
            let (g, _) = build_graph(&p);
            let phases = Phases::new(&p, &g).unwrap();
            assert!(phases.count() >= 2);
            let page = ThresholdPage::build(&p.format, Beta::from_f64(0.4).unwrap());
            let mut m = SparseMachine::new(&p, &phases, seed, 1);
            m.set_clamps(&[(0, true)]);
            let mut spins = m.spins().to_vec();
            let mut rngs = m.rng_states().to_vec();
            let mut best = (p.energy_raw(&spins), spins.clone());
            for _ in 0..20 {
                m.sweep(&page);
                for k in 0..phases.count() {
                    let fields = p.fields(&spins);
                    let mut next = spins.clone();
                    for &i in phases.phase(k) {
                        let i = i as usize;
                        rngs[i] = pbit_spec::rng::xorshift32_step(rngs[i]);
                        if i != 0 {
                            next[i] = fields[i] > page.thresholds[(rngs[i] >> 24) as usize];
                        }
                    }
                    spins = next;
                    let e = p.energy_raw(&spins);
                    if e < best.0 {
                        best = (e, spins.clone());
                    }
                }
                assert_eq!(m.spins(), &spins[..]);
                assert_eq!(m.rng_states(), &rngs[..]);
                assert_eq!(m.fields(), &p.fields(&spins)[..]);
                assert_eq!(m.energy_raw(), p.energy_raw(&spins));
                assert_eq!((m.best_energy_raw(), m.best_spins()), (best.0, &best.1[..]));
            }
        }
    }
}

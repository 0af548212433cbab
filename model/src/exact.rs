//! Exact enumeration of small instances: ln Z, free energy, mean energy, ground states and
//! marginals, by visiting all 2^N states.
//!
//! State index convention (here and in [`boltzmann_distribution`]): bit i of the index is set
//! iff spin i is +1.
//!
//! Method. The spins are split into `L = min(N, 11)` low spins and `H = N − L` high spins. For a
//! fixed high configuration (a *block*), the energy of every low configuration l is
//!
//! ```text
//! E(l) = E_low(l) + E_high − Σ_{i low} m_i(l) g_i,     g_i = Σ_{j high} J_ij m_j,
//! ```
//!
//! where `E_low` (couplings among low spins and their biases) is a table built once, and the
//! cross term for all 2^L low states is built per block with 2^L additions (subset sums). So a
//! state costs a few vectorisable additions, one `exp` and an add into a per-low-state histogram
//! (from which the low spins' marginals come at the end). High configurations are visited in
//! Gray-code order, so moving to the next block flips one high spin and updates `g` and
//! `E_high` in O(N). Energies are f64 throughout.
//!
//! Overflow: a first pass finds the ground energy E0 (an exact `min`); the second pass sums
//! weights e^{−β(E−E0)} ≤ 1, so ln Z = −βE0 + ln Σ e^{−β(E−E0)} never overflows.
//!
//! Parallelism and determinism: the high Gray sequence is cut into a fixed number of chunks
//! (independent of the number of threads); chunks are spread over the available cores with
//! `std::thread::scope`, each chunk's partial sums are kept separately and combined in chunk
//! order, so results are bit-identical on any machine and any core count.

use crate::ising::{Ising, IsingError};
use ndarray::Array1;

pub mod visible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The largest N [`exact`] accepts (2^32 states: minutes; N = 30 takes seconds).
pub const MAX_EXACT_N: usize = 32;

/// The largest N [`boltzmann_distribution`] and [`state_energies`] accept (2^20 states).
pub const MAX_DISTRIBUTION_N: usize = 20;

/// Number of low spins handled inside a block (2^11 f64 tables: 16 KiB each, L1-resident).
const LOW_BITS: usize = 11;

/// Upper bound on the number of chunks the high Gray sequence is cut into.
const MAX_CHUNKS: usize = 64;

/// Why an exact enumeration cannot be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExactError {
    #[error(
        "exact enumeration supports at most {max} p-bits (2^{max} states); this instance has {n}"
    )]
    TooLarge { n: usize, max: usize },
    #[error("beta must be finite and positive, got {0}")]
    BadBeta(f64),
    #[error(transparent)]
    Invalid(#[from] IsingError),
    #[error("ln Z is not finite at beta {beta} (beta times the energy scale overflows)")]
    Overflow { beta: f64 },
}

/// The exact thermodynamics of an instance at one β.
#[derive(Clone, Debug, PartialEq)]
pub struct Exact {
    pub n: usize,
    pub beta: f64,
    /// ln Z, Z = Σ_m e^{−βE(m)}.
    pub log_z: f64,
    /// F = −ln Z / β.
    pub free_energy: f64,
    /// ⟨E⟩ under the Boltzmann distribution.
    pub mean_energy: f64,
    /// Entropy S = β(⟨E⟩ − F) (in nats).
    pub entropy: f64,
    /// The lowest energy, E0.
    pub ground_energy: f64,
    /// Number of states with E − E0 ≤ [`Exact::ground_tolerance`].
    pub ground_states: u64,
    /// The ground-energy tolerance used: 1e-9 · max(1, Σ|J| + Σ|h|).
    pub ground_tolerance: f64,
    /// One ground state (true = +1): the lowest state index with E = E0 exactly.
    pub ground_state: Vec<bool>,
    /// ⟨m_i⟩ (an array, as the Python package hands it to numpy).
    pub marginals: Array1<f64>,
}

/// The instance in the form the enumeration uses.
struct Prepared {
    n: usize,
    low: usize,
    high: usize,
    /// Dense symmetric J, n×n row-major.
    j: Vec<f64>,
    h: Vec<f64>,
    /// Energy of each low configuration from low-low couplings and low biases.
    e_low: Vec<f64>,
}

fn validate(ising: &Ising, max_n: usize) -> Result<(), ExactError> {
    let n = ising.n;
    if n > max_n {
        return Err(ExactError::TooLarge { n, max: max_n });
    }
    ising.validate()?;
    Ok(())
}

fn check_beta(beta: f64) -> Result<(), ExactError> {
    if !beta.is_finite() || beta <= 0.0 {
        return Err(ExactError::BadBeta(beta));
    }
    Ok(())
}

#[inline]
fn spin(state: u64, i: usize) -> f64 {
    if state >> i & 1 == 1 {
        1.0
    } else {
        -1.0
    }
}

impl Prepared {
    fn new(ising: &Ising) -> Prepared {
        let n = ising.n;
        let low = n.min(LOW_BITS);
        let j = ising.dense_j();
        let h = ising.h.clone();
        let e_low = (0..1u64 << low)
            .map(|l| {
                let mut e = 0.0;
                for a in 0..low {
                    let ma = spin(l, a);
                    for b in a + 1..low {
                        e -= j[a * n + b] * ma * spin(l, b);
                    }
                    e -= h[a] * ma;
                }
                e
            })
            .collect();
        Prepared {
            n,
            low,
            high: n - low,
            j,
            h,
            e_low,
        }
    }

    fn scale(&self) -> f64 {
        let mut s: f64 = self.h.iter().map(|v| v.abs()).sum();
        for a in 0..self.n {
            for b in a + 1..self.n {
                s += self.j[a * self.n + b].abs();
            }
        }
        s
    }

    /// Number of chunks the 2^H high configurations are cut into (fixed for an instance).
    fn chunks(&self) -> usize {
        (1usize << self.high).min(MAX_CHUNKS)
    }

    /// High Gray index range of chunk `c`.
    fn chunk_range(&self, c: usize) -> (u64, u64) {
        let total = 1u64 << self.high;
        let k = self.chunks() as u64;
        (c as u64 * total / k, (c as u64 + 1) * total / k)
    }

    /// Visits the blocks of one chunk in Gray order; `f(high_state, ebuf)` gets the energies
    /// of all low configurations of each block.
    fn for_each_block(&self, chunk: usize, ebuf: &mut [f64], mut f: impl FnMut(u64, &[f64])) {
        let (n, low, high) = (self.n, self.low, self.high);
        let (k0, k1) = self.chunk_range(chunk);
        let gray = |k: u64| k ^ (k >> 1);
        // high configuration as the spins' values m_{low+b}
        let mut hs = gray(k0);
        let mut m_high: Vec<f64> = (0..high).map(|b| spin(hs, b)).collect();
        // g_i for low i, and the high-only local fields F_s (with biases) for high s
        let mut g = vec![0.0; low];
        for (i, gi) in g.iter_mut().enumerate() {
            for (b, &mb) in m_high.iter().enumerate() {
                *gi += self.j[i * n + low + b] * mb;
            }
        }
        let mut f_high = vec![0.0; high];
        let mut e_high = 0.0;
        for a in 0..high {
            let mut fa = self.h[low + a];
            for (b, &mb) in m_high.iter().enumerate() {
                fa += self.j[(low + a) * n + low + b] * mb;
            }
            f_high[a] = fa;
            // E_high = −Σ_{a<b} J m m − Σ h m = −½ Σ_a m_a (F_a + h_a)
            e_high -= 0.5 * m_high[a] * (fa + self.h[low + a]);
        }
        for k in k0..k1 {
            if k > k0 {
                let b = k.trailing_zeros() as usize;
                let s = low + b;
                let m_old = m_high[b];
                e_high += 2.0 * m_old * f_high[b];
                let row = &self.j[s * n..(s + 1) * n];
                for (fa, &jv) in f_high.iter_mut().zip(&row[low..]) {
                    *fa -= 2.0 * jv * m_old;
                }
                for (gi, &jv) in g.iter_mut().zip(&row[..low]) {
                    *gi -= 2.0 * jv * m_old;
                }
                m_high[b] = -m_old;
                hs ^= 1 << b;
            }
            // cross term −Σ m_i g_i for every low state, by subset sums from all −1
            ebuf[0] = g.iter().sum();
            for (b, &gb) in g.iter().enumerate() {
                let half = 1usize << b;
                let (lo, hi) = ebuf[..2 * half].split_at_mut(half);
                for (x, &y) in hi.iter_mut().zip(lo.iter()) {
                    *x = y - 2.0 * gb;
                }
            }
            for (x, &el) in ebuf.iter_mut().zip(&self.e_low) {
                *x = *x + el + e_high;
            }
            f(hs, ebuf);
        }
    }
}

/// Accumulator lanes of the per-block sums.
const LANES: usize = 4;

/// e^x for x ≤ 0 (x < −708 gives 0, a weight below 1e-307 next to the ground state's 1),
/// within 2 ulp of the true value. Branch-free, so loops over it vectorise, and plain
/// arithmetic (no platform libm), so every machine gets the same bits. Cody–Waite reduction
/// x = k·ln 2 + r, |r| ≤ ln2/2, then the degree-13 Taylor polynomial of e^r (truncation error
/// |r|^14/14! < 5e-18) and 2^k built in the exponent field.
#[inline(always)]
fn exp_nonpositive(x: f64) -> f64 {
    // 1.5·2^52: adding it rounds to an integer held in the low mantissa bits
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    // ln 2 split so that k·LN2_HI is exact for |k| < 2^20 (fdlibm's constants, written as
    // fdlibm writes them: more digits than an f64 holds, the same value)
    #[allow(clippy::excessive_precision)]
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    #[allow(clippy::excessive_precision)]
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const INV_FACT: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let under = x < -708.0;
    let xc = if under { -708.0 } else { x };
    let t = xc * std::f64::consts::LOG2_E + MAGIC;
    let kf = t - MAGIC;
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    let mut poly = INV_FACT[13];
    for &c in INV_FACT[..13].iter().rev() {
        poly = poly * r + c;
    }
    // low bits of t hold k (two's complement); k + 1023 in 2..=1023 is a normal exponent
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    if under {
        0.0
    } else {
        poly * scale
    }
}

/// Runs `work(chunk)` for every chunk on up to all cores; results in chunk order.
fn map_chunks<T: Send>(chunks: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(chunks);
    if threads <= 1 {
        return (0..chunks).map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..chunks).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    break;
                }
                let out = work(c);
                let mut guard = match slots.lock() {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                guard[c] = Some(out);
            });
        }
    });
    let slots = match slots.into_inner() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    // every chunk index below `chunks` was taken by exactly one thread
    slots.into_iter().flatten().collect()
}

/// Partial sums of one chunk, relative to the global ground energy.
struct ChunkSums {
    sum_w: f64,
    sum_wd: f64,
    ground: u64,
    /// Σ w per low configuration.
    hist: Vec<f64>,
    /// Σ w·m_s per high spin.
    high: Vec<f64>,
}

/// Exact ln Z, free energy, mean energy, ground states and marginals of `ising` at `beta`, by
/// enumerating all 2^N states (N ≤ [`MAX_EXACT_N`]).
pub fn exact(ising: &Ising, beta: f64) -> Result<Exact, ExactError> {
    validate(ising, MAX_EXACT_N)?;
    check_beta(beta)?;
    let p = Prepared::new(ising);
    let (low, high) = (p.low, p.high);
    let block = 1usize << low;
    let chunks = p.chunks();

    // pass 1: ground energy and the lowest-index state reaching it
    let mins = map_chunks(chunks, |c| {
        let mut ebuf = vec![0.0; block];
        let mut best = (f64::INFINITY, u64::MAX);
        p.for_each_block(c, &mut ebuf, |hs, e| {
            for (l, &x) in e.iter().enumerate() {
                let idx = hs << low | l as u64;
                if x < best.0 || (x == best.0 && idx < best.1) {
                    best = (x, idx);
                }
            }
        });
        best
    });
    let (e0, gs_index) = mins.into_iter().fold((f64::INFINITY, u64::MAX), |a, b| {
        if b.0 < a.0 || (b.0 == a.0 && b.1 < a.1) {
            b
        } else {
            a
        }
    });
    let tol = 1e-9 * p.scale().max(1.0);

    // pass 2: weights relative to E0. Per block: a vectorisable map to d = E − E0 and
    // w = e^{−βd}, a vectorisable histogram add, then the sums in four fixed lanes.
    let parts = map_chunks(chunks, |c| {
        let mut ebuf = vec![0.0; block];
        let mut wbuf = vec![0.0; block];
        let mut dbuf = vec![0.0; block];
        let mut out = ChunkSums {
            sum_w: 0.0,
            sum_wd: 0.0,
            ground: 0,
            hist: vec![0.0; block],
            high: vec![0.0; high],
        };
        p.for_each_block(c, &mut ebuf, |hs, e| {
            for ((w, d), &x) in wbuf.iter_mut().zip(dbuf.iter_mut()).zip(e) {
                *d = x - e0;
                *w = exp_nonpositive(-beta * *d);
            }
            for (h, &w) in out.hist.iter_mut().zip(&wbuf) {
                *h += w;
            }
            let mut aw = [0.0; LANES];
            let mut awd = [0.0; LANES];
            let mut ag = [0u64; LANES];
            let mut wc = wbuf.chunks_exact(LANES);
            let mut dc = dbuf.chunks_exact(LANES);
            for (w4, d4) in (&mut wc).zip(&mut dc) {
                for k in 0..LANES {
                    aw[k] += w4[k];
                    awd[k] += w4[k] * d4[k];
                    ag[k] += (d4[k] <= tol) as u64;
                }
            }
            for (&w, &d) in wc.remainder().iter().zip(dc.remainder()) {
                aw[0] += w;
                awd[0] += w * d;
                ag[0] += (d <= tol) as u64;
            }
            let bw = (aw[0] + aw[1]) + (aw[2] + aw[3]);
            out.sum_w += bw;
            out.sum_wd += (awd[0] + awd[1]) + (awd[2] + awd[3]);
            out.ground += ag.iter().sum::<u64>();
            for (b, acc) in out.high.iter_mut().enumerate() {
                *acc += bw * spin(hs, b);
            }
        });
        out
    });

    let mut sum_w = 0.0;
    let mut sum_wd = 0.0;
    let mut ground = 0u64;
    let mut hist = vec![0.0; block];
    let mut high_acc = vec![0.0; high];
    for part in &parts {
        sum_w += part.sum_w;
        sum_wd += part.sum_wd;
        ground += part.ground;
        for (a, b) in hist.iter_mut().zip(&part.hist) {
            *a += b;
        }
        for (a, b) in high_acc.iter_mut().zip(&part.high) {
            *a += b;
        }
    }
    let mut marginals = Vec::with_capacity(p.n);
    for i in 0..low {
        let mut acc = 0.0;
        for (l, &w) in hist.iter().enumerate() {
            if l >> i & 1 == 1 {
                acc += w;
            } else {
                acc -= w;
            }
        }
        marginals.push(acc / sum_w);
    }
    marginals.extend(high_acc.iter().map(|a| a / sum_w));

    let log_z = -beta * e0 + sum_w.ln();
    if !log_z.is_finite() {
        return Err(ExactError::Overflow { beta });
    }
    let mean_energy = e0 + sum_wd / sum_w;
    let free_energy = -log_z / beta;
    Ok(Exact {
        n: p.n,
        beta,
        log_z,
        free_energy,
        mean_energy,
        entropy: beta * (mean_energy - free_energy),
        ground_energy: e0,
        ground_states: ground,
        ground_tolerance: tol,
        ground_state: (0..p.n).map(|i| gs_index >> i & 1 == 1).collect(),
        marginals: Array1::from_vec(marginals),
    })
}

/// The energy of every state (index bit i set = spin i is +1), N ≤ [`MAX_DISTRIBUTION_N`].
pub fn state_energies(ising: &Ising) -> Result<Array1<f64>, ExactError> {
    validate(ising, MAX_DISTRIBUTION_N)?;
    let p = Prepared::new(ising);
    let low = p.low;
    let block = 1usize << low;
    let mut out = vec![0.0; 1usize << p.n];
    let mut ebuf = vec![0.0; block];
    for c in 0..p.chunks() {
        p.for_each_block(c, &mut ebuf, |hs, e| {
            let at = (hs as usize) << low;
            out[at..at + block].copy_from_slice(e);
        });
    }
    Ok(Array1::from_vec(out))
}

/// The Boltzmann probabilities of all 2^N states (index bit i set = spin i is +1) at `beta`,
/// N ≤ [`MAX_DISTRIBUTION_N`].
pub fn boltzmann_distribution(ising: &Ising, beta: f64) -> Result<Array1<f64>, ExactError> {
    check_beta(beta)?;
    let e = state_energies(ising)?;
    let e0 = e.iter().copied().fold(f64::INFINITY, f64::min);
    let mut p = e.mapv(|x| (-beta * (x - e0)).exp());
    // Z summed in state order (the iterator, not ndarray's pairwise `sum`): the same f64 as
    // before the arrays, so learning's KL figures stay byte-identical
    let z: f64 = p.iter().sum();
    p.mapv_inplace(|x| x / z);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn instance(name: &str) -> Ising {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/instances");
        Ising::read(&dir.join(name)).unwrap()
    }

    /// The `ln Z = …` value from an instance's comment lines.
    fn ln_z_in_comments(name: &str) -> f64 {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/instances");
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with('#') && l.contains("ln Z ="))
            .unwrap();
        line.split("ln Z =").nth(1).unwrap().trim().parse().unwrap()
    }

    /// Straightforward reference: every state's energy from `Ising::energy`.
    fn brute(ising: &Ising, beta: f64) -> (f64, f64, Vec<f64>, f64) {
        let n = ising.n;
        let es: Vec<f64> = (0..1u64 << n)
            .map(|s| {
                let spins: Vec<bool> = (0..n).map(|i| s >> i & 1 == 1).collect();
                ising.energy(&spins)
            })
            .collect();
        let e0 = es.iter().copied().fold(f64::INFINITY, f64::min);
        let mut z = 0.0;
        let mut ew = 0.0;
        let mut m = vec![0.0; n];
        for (s, &e) in es.iter().enumerate() {
            let w = (-beta * (e - e0)).exp();
            z += w;
            ew += w * e;
            for (i, mi) in m.iter_mut().enumerate() {
                *mi += w * spin(s as u64, i);
            }
        }
        m.iter_mut().for_each(|x| *x /= z);
        (-beta * e0 + z.ln(), ew / z, m, e0)
    }

    fn random_ising(n: usize, seed: u64, density: f64) -> Ising {
        let mut x = seed;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                if next() < density {
                    ising.add_coupling(i, j, 2.0 * next() - 1.0);
                }
            }
            ising.h[i] = 2.0 * next() - 1.0;
        }
        ising
    }

    #[test]
    fn shipped_instances_match_their_ln_z() {
        for (name, e_gs, count) in [
            ("and_gate.txt", -3.0, 4),
            ("full_adder.txt", -4.0, 8),
            ("ring8_ferro.txt", -8.0, 2),
            ("sg2d_4x4_h.txt", -21.0, 1),
        ] {
            let ising = instance(name);
            let ex = exact(&ising, 1.0).unwrap();
            let want = ln_z_in_comments(name);
            assert!(
                ((ex.log_z - want) / want).abs() < 1e-9,
                "{name}: {} vs {want}",
                ex.log_z
            );
            assert_eq!(ex.ground_energy, e_gs, "{name}");
            assert_eq!(ex.ground_states, count, "{name}");
            assert_eq!(ising.energy(&ex.ground_state), e_gs, "{name}");
        }
    }

    #[test]
    fn gate_ground_states_are_the_truth_tables() {
        // AND: spins (A, B, C) with C = A ∧ B; full adder: the 8 ground states are the 8 input
        // combinations with their sum and carry. Check via the Boltzmann distribution at a
        // large β: all mass sits on the ground states, equally.
        let and = instance("and_gate.txt");
        let e = state_energies(&and).unwrap();
        for s in 0..8u64 {
            let (a, b, c) = (s & 1 == 1, s >> 1 & 1 == 1, s >> 2 & 1 == 1);
            assert_eq!(e[s as usize] == -3.0, c == (a && b), "state {s}");
        }
        let fa = instance("full_adder.txt");
        let e = state_energies(&fa).unwrap();
        let ground: Vec<usize> = (0..32).filter(|&s| e[s] == -4.0).collect();
        assert_eq!(ground.len(), 8);
        // each of the 8 ground states has a distinct assignment of the first three p-bits
        let mut inputs: Vec<usize> = ground.iter().map(|s| s & 7).collect();
        inputs.sort_unstable();
        assert_eq!(inputs, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn ring_matches_closed_form_at_several_betas() {
        let ising = instance("ring8_ferro.txt");
        for beta in [0.1, 0.5, 1.0, 2.0, 7.0] {
            let ex = exact(&ising, beta).unwrap();
            let (c, s) = (f64::cosh(beta), f64::sinh(beta));
            let want = ((2.0 * c).powi(8) + (2.0 * s).powi(8)).ln();
            assert!((ex.log_z - want).abs() < 1e-12 * want.abs(), "beta {beta}");
            // ⟨E⟩ = −∂ln Z/∂β = −8 (t + t^7... ) via the transfer matrix:
            // Z = λ+^8 + λ−^8, λ+ = 2cosh β, λ− = 2sinh β
            let (lp, lm) = (2.0 * c, 2.0 * s);
            let dz = 8.0 * lp.powi(7) * 2.0 * s + 8.0 * lm.powi(7) * 2.0 * c;
            let mean = -dz / (lp.powi(8) + lm.powi(8));
            assert!((ex.mean_energy - mean).abs() < 1e-10, "beta {beta}");
            assert!(ex.marginals.iter().all(|m| m.abs() < 1e-12));
            assert_eq!(ex.ground_states, 2);
        }
    }

    #[test]
    fn random_instances_match_brute_force() {
        // sizes around the low/high split (11) exercise both the block and the Gray parts
        for (n, seed) in [(1, 1), (2, 2), (5, 3), (11, 4), (12, 5), (15, 6)] {
            let ising = random_ising(n, seed, 0.7);
            for beta in [0.3, 1.0, 4.0] {
                let ex = exact(&ising, beta).unwrap();
                let (lz, me, m, e0) = brute(&ising, beta);
                assert!((ex.log_z - lz).abs() < 1e-10 * lz.abs().max(1.0), "n {n}");
                assert!((ex.mean_energy - me).abs() < 1e-10 * me.abs().max(1.0));
                assert!((ex.ground_energy - e0).abs() < 1e-12 * e0.abs().max(1.0));
                assert_eq!(ex.ground_states, 1, "n {n}");
                for (a, b) in ex.marginals.iter().zip(&m) {
                    assert!((a - b).abs() < 1e-10, "n {n}: {a} vs {b}");
                }
                let s = ex.entropy;
                assert!(s > 0.0 && s < n as f64 * std::f64::consts::LN_2 + 1e-9);
            }
        }
    }

    #[test]
    fn distribution_sums_to_one_and_matches_energies() {
        let ising = random_ising(13, 9, 0.5);
        let p = boltzmann_distribution(&ising, 0.8).unwrap();
        let e = state_energies(&ising).unwrap();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for s in [0usize, 1, 77, 4095, 8191] {
            let spins: Vec<bool> = (0..13).map(|i| s >> i & 1 == 1).collect();
            assert!((e[s] - ising.energy(&spins)).abs() < 1e-12);
        }
        // ratios are Boltzmann factors
        let r = p[5] / p[3000];
        assert!((r - (-0.8 * (e[5] - e[3000])).exp()).abs() < 1e-12 * r);
    }

    #[test]
    fn fast_exp_is_within_two_ulp() {
        let mut x = 0.0f64;
        let mut worst: f64 = 0.0;
        while x > -708.0 {
            let want = x.exp();
            let got = exp_nonpositive(x);
            worst = worst.max(((got - want) / want).abs());
            x -= 0.000_713_7;
        }
        assert!(worst < 4.5e-16, "{worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-709.0), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f64::NAN).is_nan());
    }

    #[test]
    fn degenerate_and_empty_instances() {
        let ex = exact(&Ising::new(0), 1.0).unwrap();
        assert_eq!((ex.log_z, ex.ground_states), (0.0, 1));
        let ex = exact(&Ising::new(20), 2.0).unwrap();
        assert!((ex.log_z - 20.0 * 2f64.ln()).abs() < 1e-12);
        assert_eq!(ex.ground_states, 1 << 20);
        assert!(ex.marginals.iter().all(|&m| m == 0.0));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let e = exact(&Ising::new(33), 1.0).unwrap_err();
        assert_eq!(e, ExactError::TooLarge { n: 33, max: 32 });
        assert!(e.to_string().contains("at most 32"));
        assert!(boltzmann_distribution(&Ising::new(21), 1.0).is_err());
        for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                exact(&Ising::new(2), beta),
                Err(ExactError::BadBeta(_))
            ));
        }
        let mut bad = Ising::new(3);
        bad.couplings.push(crate::Coupling {
            i: 0,
            j: 3,
            value: 1.0,
            line: 0,
        });
        assert!(matches!(
            exact(&bad, 1.0),
            Err(ExactError::Invalid(IsingError::BadCoupling { .. }))
        ));
        let mut bad = Ising::new(3);
        bad.h[1] = f64::NAN;
        assert!(matches!(
            exact(&bad, 1.0),
            Err(ExactError::Invalid(IsingError::NotFinite { .. }))
        ));
        let mut big = Ising::new(2);
        big.add_coupling(0, 1, 1e300);
        assert!(matches!(
            exact(&big, 1e300),
            Err(ExactError::Overflow { .. })
        ));
    }

    #[test]
    fn results_do_not_depend_on_chunking() {
        // N = 18: 128 blocks in 64 chunks; the same sums as a single-threaded brute force
        let ising = random_ising(18, 11, 0.3);
        let a = exact(&ising, 1.3).unwrap();
        let b = exact(&ising, 1.3).unwrap();
        assert_eq!(a, b);
        let p = boltzmann_distribution(&ising, 1.3).unwrap();
        for i in [0usize, 10, 11, 17] {
            let m: f64 = p
                .iter()
                .enumerate()
                .map(|(s, &q)| q * spin(s as u64, i))
                .sum();
            assert!((m - a.marginals[i]).abs() < 1e-10);
        }
    }
}

//! Boltzmann-machine learning driven by the machine's own samples.
//!
//! A Boltzmann machine of V visible and H hidden p-bits (visible first: p-bits 0..V, hidden
//! V..V+H) is trained by contrastive divergence (CD-k) or persistent CD (PCD-k) on a data set of
//! visible vectors. Both phases' statistics come from a [`Backend`] through relax jobs
//! ([`RelaxJob`]: write a state, run k sweeps, read the state back), so what is learned is what
//! the machine — model, Verilated gateware or a board — actually samples.
//!
//! # Hardware-aware weights
//! The host keeps full-precision *shadow* couplings and biases. Before every step their
//! quantised image (rounded to the format's grid, 1/16) is loaded into the machine, and the
//! gradient computed from its samples updates the shadow weights (an update the size of a
//! learning rate is far below 1/16 and would round away if applied to the image). **Clipping
//! rule**: after each update a shadow value outside the format's range (±J_max for couplings,
//! ±h_max for biases) is set to the limit; every such event is counted and reported
//! ([`LearnReport::clipped_updates`]), with the number of values at a limit at the end.
//!
//! # One step (a batch of B data vectors, R chains per vector, C = B·R chains)
//! * **Positive phase** (H > 0): C chains start at (data vector, that chain's persistent hidden
//!   state), visible p-bits clamped to the data ([`RelaxJob::clamped`]), and run `k_positive`
//!   sweeps: 1 when hidden p-bits do not couple to each other (then one sweep draws each
//!   hidden unit exactly from P(h | v)), else k. The final hidden states are kept per (data
//!   vector, replica) for the next visit. With H = 0 the data vectors are the statistics.
//! * **Negative phase**: CD-k: C chains start at the positive phase's final states (data
//!   visibles and sampled hidden units) and run k free sweeps. PCD-k: B·R persistent chains
//!   (started like CD at the first step) continue from their previous final states; a short
//!   last batch of b < B vectors continues the first b·R of them.
//! * **Update**: for every coupled pair and bias, shadow += lr · (⟨m_i m_j⟩₊ − ⟨m_i m_j⟩₋)
//!   (means over the chains; ±1 spins), then the clipping rule. The learning rate falls
//!   linearly over the epochs from `lr` to `lr · lr_final`.
//! * Batches: each epoch visits the data in an order shuffled on the host stream, B at a time.
//!
//! # Arrays
//! The shadow couplings are a symmetric n×n matrix W and the biases a vector (ndarray), each
//! phase's statistics a [`Moments`] (⟨m_i m_j⟩ n×n, ⟨m_i⟩), the update [`Moments::step`]; the
//! exact distributions are arrays too. Host-side f64 only: the machine sees the quantised image,
//! and the bit-exact kernels never take an array. Every operation is element by element or an
//! iterator sum in index order, so the figures are those of per-pair loops, bit for bit. The
//! price is n² f64s per matrix whatever the topology (4 of them per step: 0.33 MB each at the
//! digits' 202 p-bits, 134 MB at the 4,096-p-bit limit, where a sparse DBM needs far fewer).
//!
//! # Initial state
//! Couplings uniform in ±`init_scale`; visible biases atanh(⟨m_i⟩_data)/β (|⟨m_i⟩| capped at
//! 0.9), the optimum of independent units; hidden biases 0; hidden states uniform.
//!
//! # Reproducibility
//! The machine's randomness: chain c of phase p (0 positive, 1 negative) of step s in epoch e
//! (0-based, S steps per epoch) is read `((e·S + s)·2 + p)·2^20 + c` of the user seed
//! ([`read_number`]), so every chain has its own fresh generators. The host's randomness (batch
//! order, initial weights, initial hidden states) is a splitmix64 stream of the seed. A run is
//! therefore a function of its arguments; a backend's thread count never changes it.
//!
//! # Exact KL
//! After every epoch, KL(data ‖ model) over the visible units is computed exactly from the
//! quantised machine's Boltzmann distribution at β, marginalised over the hidden units
//! ([`visible_log_probs`]): analytically when hidden units do not couple to each other (each
//! hidden unit sums out to 2·cosh(β·I)), else by full enumeration with
//! [`pbit_model::exact::boltzmann_distribution`] (V + H ≤ 20).

use crate::cost::{LinkUse, Metered, StepUse, Usage};
use ndarray::{s, Array1, Array2, Zip};
use pbit_model::backend::{Backend, BackendError};
use pbit_model::exact::visible::{kl_divergence, visible_log_probs, MAX_KL_VISIBLE};
use pbit_model::exact::ExactError;
use pbit_model::jobs::{RelaxJob, RelaxWant, Relaxed};
use pbit_model::limits::{
    check_range, checked_product, checked_sum, LimitError, MAX_EPOCHS, MAX_LEARN_PBITS,
    MAX_RESULT_SPINS, MAX_SWEEPS,
};
use pbit_model::run::correlation_sums;
use pbit_model::{FixedIsing, Ising, QuantiseError, Scaling};
use pbit_spec::memory_map as mm;
use pbit_spec::rng::{splitmix64, HostRng};
use pbit_spec::{Beta, BetaError, Format, ThresholdPage};
use serde::Serialize;

pub mod data;
pub mod dbm;

pub use data::{Data, DataError};
use std::time::Instant;

/// Chains per relax job are numbered below this (the low 20 bits of a read number).
pub const MAX_CHAINS: usize = 1 << 20;

/// Which pairs of p-bits are coupled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    /// Every pair: visible–visible, visible–hidden and hidden–hidden (a general Boltzmann
    /// machine; with H = 0 a fully visible one).
    Full,
    /// Visible–visible and visible–hidden, no hidden–hidden (semi-restricted): hidden units are
    /// conditionally independent given the visibles.
    Semi,
    /// Visible–hidden only (a restricted Boltzmann machine, the bipartite special case).
    Rbm,
    /// A sparse deep Boltzmann machine for a degree-limited machine: visible — first hidden
    /// layer (the first ⌈H/2⌉ hidden p-bits) — second hidden layer, every p-bit coupled to at
    /// most `degree` others ([`dbm::pairs`]).
    Dbm { degree: usize },
}

impl Topology {
    /// Whether p-bits a < b (0-based; visible below `visible`) are coupled.
    /// (Not for [`Topology::Dbm`], whose pairs are drawn: see [`Topology::pairs`].)
    pub fn coupled(self, visible: usize, a: usize, b: usize) -> bool {
        let (va, vb) = (a < visible, b < visible);
        match self {
            Topology::Full => true,
            Topology::Semi => va || vb,
            Topology::Rbm => va != vb,
            Topology::Dbm { .. } => false,
        }
    }
    /// The coupled pairs (a < b) of a machine of `visible` + `hidden` p-bits, in order.
    pub fn pairs(self, visible: usize, hidden: usize, seed: u64) -> Vec<(usize, usize)> {
        let n = visible + hidden;
        match self {
            Topology::Dbm { degree } => dbm::pairs(visible, hidden, degree, seed),
            _ => (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .filter(|&(a, b)| self.coupled(visible, a, b))
                .collect(),
        }
    }
    /// Whether hidden units couple to each other (then the positive phase needs k sweeps and
    /// exact KL needs full enumeration).
    pub fn hidden_coupled(self, hidden: usize) -> bool {
        match self {
            Topology::Full => hidden > 1,
            Topology::Dbm { .. } => hidden > 1,
            _ => false,
        }
    }
}

/// CD-k or PCD-k.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Contrastive divergence: negative chains start at the data.
    Cd,
    /// Persistent contrastive divergence: negative chains continue across steps.
    Pcd,
}

/// Options of a learning run.
#[derive(Clone, Debug)]
pub struct LearnOptions {
    pub hidden: usize,
    pub topology: Topology,
    pub method: Method,
    /// Sweeps per negative phase (and per positive phase when hidden units couple).
    pub k: u64,
    pub epochs: u64,
    /// Learning rate at the start.
    pub lr: f64,
    /// The learning rate falls linearly to `lr · lr_final` at the last epoch (1: constant).
    pub lr_final: f64,
    /// Data vectors per step (None: the whole set, one step per epoch).
    pub batch: Option<usize>,
    /// Chains per data vector in each phase (R).
    pub chains_per_vector: usize,
    /// Initial shadow couplings are uniform in ±`init_scale`.
    pub init_scale: f64,
    pub seed: u64,
    /// The machine's β while learning; the learned file is meant to be sampled at this β.
    pub beta: f64,
    /// Exact KL after every `kl_every`-th epoch and the last (1: every epoch).
    pub kl_every: u64,
}

/// The most read numbers a learning run uses, 2⁴³ steps × 2 phases × 2²⁰ chains
/// ([`read_number`]): epochs × steps per epoch stays below 2⁴³ so they never wrap.
pub const MAX_LEARN_STEPS: u64 = 1 << 43;

impl LearnOptions {
    /// Checks the counts against [`pbit_model::limits`] before anything is allocated, and
    /// returns the p-bits (visible + hidden): epochs in 1..=2³² − 1, k ≤ 2³² − 1, visible +
    /// hidden ≤ 2¹², batch × chains ≤ 2²⁰, chains × p-bits and the positive phase's hidden
    /// states (vectors × chains × hidden) ≤ 2²⁸, epochs × steps < 2⁴³.
    pub fn check_sizes(&self, data: &Data) -> Result<usize, LearnError> {
        let d = data.vectors.len() as u64;
        check_range("--epochs", self.epochs, 1, MAX_EPOCHS)?;
        check_range("--k", self.k, 1, MAX_SWEEPS)?;
        check_range("--kl-every", self.kl_every, 1, MAX_EPOCHS)?;
        check_range(
            "--chains",
            self.chains_per_vector as u64,
            1,
            MAX_CHAINS as u64,
        )?;
        let n = checked_sum(
            "visible units + --hidden",
            data.visible as u64,
            self.hidden as u64,
            MAX_LEARN_PBITS,
        )?;
        let batch = self.batch.map_or(d, |b| b as u64);
        let chains = checked_product(
            "--batch × --chains",
            batch,
            self.chains_per_vector as u64,
            MAX_CHAINS as u64,
        )?;
        checked_product("--batch × --chains × p-bits", chains, n, MAX_RESULT_SPINS)?;
        let kept = checked_product(
            "data vectors × --chains",
            d,
            self.chains_per_vector as u64,
            u64::MAX,
        )?;
        checked_product(
            "data vectors × --chains × --hidden",
            kept,
            self.hidden as u64,
            MAX_RESULT_SPINS,
        )?;
        if (1..=d).contains(&batch) {
            checked_product(
                "--epochs × steps per epoch",
                self.epochs,
                d.div_ceil(batch),
                MAX_LEARN_STEPS - 1,
            )?;
        }
        Ok(n as usize)
    }
}

impl Default for LearnOptions {
    fn default() -> Self {
        LearnOptions {
            hidden: 0,
            topology: Topology::Full,
            method: Method::Cd,
            k: 1,
            epochs: 1000,
            lr: 0.5,
            lr_final: 0.1,
            batch: None,
            chains_per_vector: 32,
            init_scale: 0.5,
            seed: 0,
            beta: 1.0,
            kl_every: 1,
        }
    }
}

/// Why learning could not run.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error(transparent)]
    Exact(#[from] ExactError),
    #[error("{0}")]
    Option(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// One epoch's outcome, as reported to the progress callback.
#[derive(Clone, Debug, Serialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: u64,
    /// Exact KL(data ‖ model) over the visible units after this epoch (None: too large, or
    /// not an epoch of `kl_every`).
    pub kl: Option<f64>,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Clip events so far.
    pub clipped_updates: u64,
    /// The quantised machine after this epoch (what the file would hold), for callers that
    /// evaluate it themselves (e.g. classification accuracy per epoch).
    #[serde(skip)]
    pub ising: Ising,
}

/// Where the time went, in seconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timing {
    /// Inside the backend's relax jobs (the machine sampling).
    pub sampling: f64,
    /// Exact KL after every epoch.
    pub kl: f64,
    /// Everything else on the host: statistics, updates, quantisation, page building.
    pub host: f64,
    pub total: f64,
}

/// The result of a learning run (`pbit learn --json`).
#[derive(Clone, Debug, Serialize)]
pub struct LearnReport {
    pub backend: &'static str,
    pub data: String,
    pub vectors: usize,
    pub visible: usize,
    pub hidden: usize,
    pub topology: Topology,
    pub method: Method,
    pub k: u64,
    pub epochs: u64,
    pub lr: f64,
    pub lr_final: f64,
    pub batch: usize,
    pub chains_per_vector: usize,
    pub seed: u64,
    pub beta: f64,
    /// Exact KL(data ‖ model) over the visible units of the final quantised machine (None when
    /// exact evaluation is not affordable).
    pub kl: Option<f64>,
    /// KL of the initial quantised machine.
    pub kl_initial: Option<f64>,
    /// After each epoch; null where not computed (see `kl_every`).
    pub kl_per_epoch: Vec<Option<f64>>,
    pub kl_every: u64,
    /// Probability mass the final machine puts on the data's distinct vectors.
    pub data_mass: Option<f64>,
    /// Mean ln P(v) of the training vectors under the final machine (exact):
    /// −(KL + entropy of the data).
    pub log_likelihood: Option<f64>,
    /// Shadow updates that left the format's range and were clipped (the clipping rule).
    pub clipped_updates: u64,
    /// Couplings and biases at a range limit at the end.
    pub at_limit: usize,
    pub couplings: usize,
    /// Sweeps the machine ran (over all chains), and p-bit updates.
    pub sweeps: u64,
    pub updates: u64,
    pub seconds: Timing,
    /// Link traffic per step (device backends only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkUse>,
}

/// A learned machine: its quantised image (what the file holds) and the report.
pub struct Learned {
    pub ising: Ising,
    pub report: LearnReport,
}

/// The read number of chain `chain` of phase `phase` (0 positive, 1 negative) of step `step`
/// (0-based within the epoch) of epoch `epoch` (0-based), with `steps` steps per epoch.
pub fn read_number(epoch: u64, step: u64, steps: u64, phase: u64, chain: u64) -> u64 {
    (((epoch * steps + step) * 2 + phase) << 20) + chain
}

/// The learning rate of `epoch` (of `epochs`): linear from `lr` to `lr · lr_final`.
pub(crate) fn epoch_learning_rate(lr: f64, lr_final: f64, epoch: u64, epochs: u64) -> f64 {
    let frac = if epochs > 1 {
        epoch as f64 / (epochs - 1) as f64
    } else {
        0.0
    };
    lr * (1.0 + (lr_final - 1.0) * frac)
}

/// Fisher–Yates on the host stream (the order of an epoch's data vectors).
pub(crate) fn shuffle(order: &mut [usize], rng: &mut HostRng) {
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// Learning's random stream: the host's generator ([`HostRng`]) started from the seed mixed
/// with "learn", so it differs from the machine's streams of the same seed.
pub(crate) fn learn_rng(seed: u64) -> HostRng {
    HostRng::new(splitmix64(seed ^ 0x6C65_6172_6E00_0000)) // "learn"
}

/// Shadow weights of a machine with a fixed list of coupled pairs: the couplings as a symmetric
/// n×n matrix W (zero off the pairs, and on the diagonal), the biases as a vector.
///
/// Host-side f64 arrays only: the machine sees the quantised [`Shadow::image`], never these.
/// Every update is element by element (no reductions), so the figures are those of the per-pair
/// loops the arrays replaced, bit for bit.
pub(crate) struct Shadow {
    pub(crate) pairs: Vec<(usize, usize)>,
    pub(crate) w: Array2<f64>,
    pub(crate) h: Array1<f64>,
    j_max: f64,
    h_max: f64,
    one: f64,
}

impl Shadow {
    /// Couplings uniform in ±`init_scale`, drawn from `rng` pair by pair in `pairs`' order;
    /// biases 0. The format gives the range (±J_max, ±h_max) and the grid.
    pub(crate) fn new(
        n: usize,
        pairs: Vec<(usize, usize)>,
        format: &Format,
        init_scale: f64,
        rng: &mut HostRng,
    ) -> Shadow {
        let one = format.one() as f64;
        let mut w = Array2::zeros((n, n));
        for &(a, b) in &pairs {
            let x = init_scale * (2.0 * rng.unit() - 1.0);
            w[[a, b]] = x;
            w[[b, a]] = x;
        }
        Shadow {
            pairs,
            w,
            h: Array1::zeros(n),
            j_max: format.j_max_raw() as f64 / one,
            h_max: format.h_max_raw() as f64 / one,
            one,
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.h.len()
    }

    /// The quantised image as an instance (values exact multiples of the grid, zero couplings
    /// left out).
    pub(crate) fn image(&self) -> Ising {
        let q = |x: f64| (x * self.one).round() / self.one;
        let mut ising = Ising::new(self.n());
        for &(a, b) in &self.pairs {
            let v = q(self.w[[a, b]]);
            if v != 0.0 {
                ising.add_coupling(a, b, v);
            }
        }
        for (h, &x) in ising.h.iter_mut().zip(&self.h) {
            *h = q(x);
        }
        ising
    }

    /// Adds `dw` (read at the coupled pairs a < b) and `dh`, and applies the clipping rule;
    /// returns the number of clip events. W stays symmetric.
    pub(crate) fn update(&mut self, dw: &Array2<f64>, dh: &Array1<f64>) -> u64 {
        let mut clipped = 0;
        let mut apply = |x: &mut f64, d: f64, max: f64| {
            *x += d;
            if x.abs() > max {
                *x = x.signum() * max;
                clipped += 1;
            }
        };
        for &(a, b) in &self.pairs {
            let mut x = self.w[[a, b]];
            apply(&mut x, dw[[a, b]], self.j_max);
            self.w[[a, b]] = x;
            self.w[[b, a]] = x;
        }
        for (x, &d) in self.h.iter_mut().zip(dh) {
            apply(x, d, self.h_max);
        }
        clipped
    }

    /// The clipping rule alone (after the initial values are set).
    pub(crate) fn clip(&mut self) -> u64 {
        let n = self.n();
        self.update(&Array2::zeros((n, n)), &Array1::zeros(n))
    }

    pub(crate) fn at_limit(&self) -> usize {
        let j = self.pairs.iter();
        j.filter(|&&(a, b)| self.w[[a, b]].abs() >= self.j_max)
            .count()
            + self.h.iter().filter(|x| x.abs() >= self.h_max).count()
    }
}

/// One phase's statistics over its chains (±1 spins): ⟨m_i m_j⟩ and ⟨m_i⟩.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// ⟨m_i m_j⟩, symmetric n×n (1 on the diagonal).
    pub correlations: Array2<f64>,
    /// ⟨m_i⟩.
    pub means: Array1<f64>,
}

impl Moments {
    /// From the correlation sums of `chains` states of `n` p-bits
    /// ([`pbit_model::run::correlation_sums`]'s layout, the batch engine's sums region).
    pub fn from_sums(n: usize, sums: &[i64], chains: usize) -> Moments {
        let w = 1.0 / chains.max(1) as f64;
        let n32 = n as u32;
        let mut correlations = Array2::from_diag_elem(n, 1.0);
        for a in 0..n {
            // the sums of row a (pairs a < b) lie together, from sums_index(n, a, a + 1)
            let start = mm::sums_index(n32, a as u32, a as u32 + 1) as usize;
            let row = &sums[start.min(sums.len())..][..n - a - 1];
            correlations
                .slice_mut(s![a, a + 1..])
                .iter_mut()
                .zip(row)
                .for_each(|(c, &x)| *c = x as f64 * w);
        }
        for a in 0..n {
            for b in 0..a {
                correlations[[a, b]] = correlations[[b, a]];
            }
        }
        let means = sums[mm::sums_single(n32, 0) as usize..][..n]
            .iter()
            .map(|&x| x as f64 * w)
            .collect();
        Moments {
            correlations,
            means,
        }
    }

    /// The CD update lr · (data − model) of the couplings and the biases, element by element.
    pub fn step(&self, model: &Moments, lr: f64) -> (Array2<f64>, Array1<f64>) {
        (
            Zip::from(&self.correlations)
                .and(&model.correlations)
                .map_collect(|&a, &b| lr * (a - b)),
            Zip::from(&self.means)
                .and(&model.means)
                .map_collect(|&a, &b| lr * (a - b)),
        )
    }
}

/// Runs a relax job for its final states and/or sums, checking the backend's answer.
pub(crate) fn relax<B: Backend + ?Sized>(
    backend: &mut B,
    job: &RelaxJob,
    finals: bool,
    sums: bool,
) -> Result<Relaxed, BackendError> {
    let want = RelaxWant { finals, sums };
    let out = backend.relax_batch(job, want)?;
    out.check(job, want)?;
    Ok(out)
}

/// Trains a Boltzmann machine on `data` with samples from `backend`; `progress` sees each epoch.
/// A [`Metered`] device backend's link traffic is reported ([`LearnReport::link`]).
pub fn learn<B: Backend + Metered + ?Sized>(
    backend: &mut B,
    data: &Data,
    opts: &LearnOptions,
    progress: &mut dyn FnMut(&EpochReport),
) -> Result<Learned, LearnError> {
    let t_start = Instant::now();
    let bad = |m: String| Err(LearnError::Option(m));
    let v = data.visible;
    let n = opts.check_sizes(data)?;
    backend.check_fits(n)?;
    let lr_ok = opts.lr > 0.0 && opts.lr.is_finite();
    let lr_final_ok = opts.lr_final >= 0.0 && opts.lr_final.is_finite();
    if !lr_ok || !lr_final_ok {
        return bad(format!(
            "--lr must be positive and --lr-final non-negative (got {} and {})",
            opts.lr, opts.lr_final
        ));
    }
    let init_ok = opts.init_scale >= 0.0 && opts.init_scale.is_finite();
    if !init_ok {
        return bad("--init must be a non-negative number".into());
    }
    let d = data.vectors.len();
    let batch = opts.batch.unwrap_or(d);
    if batch == 0 || batch > d {
        return bad(format!(
            "--batch must be between 1 and the number of vectors ({d}), got {batch}"
        ));
    }
    let steps = d.div_ceil(batch) as u64;
    let beta = Beta::from_f64(opts.beta)?;
    let beta_f = beta.to_f64(); // β as the machine holds it
    let format = backend.format();
    let mut rng = learn_rng(opts.seed);

    let pairs = opts.topology.pairs(v, opts.hidden, opts.seed);
    let mut shadow = Shadow::new(n, pairs, &format, opts.init_scale, &mut rng);
    // visible biases start at the data's independent-unit optimum, atanh(⟨m_i⟩)/β, |⟨m⟩| ≤ 0.9
    for i in 0..v {
        let m = data
            .vectors
            .iter()
            .map(|x| if x[i] { 1.0 } else { -1.0 })
            .sum::<f64>()
            / d as f64;
        shadow.h[i] = (m.clamp(-0.9, 0.9)).atanh() / beta_f;
    }
    shadow.clip(); // apply the range

    let p_data = (v <= MAX_KL_VISIBLE).then(|| data.distribution());
    let mut timing = Timing::default();
    let kl_of = |ising: &Ising, timing: &mut Timing| -> Result<Option<f64>, LearnError> {
        let t = Instant::now();
        let r = match &p_data {
            Some(pd) => visible_log_probs(ising, v, beta_f)?.map(|lp| kl_divergence(pd, &lp)),
            None => None,
        };
        timing.kl += t.elapsed().as_secs_f64();
        Ok(r)
    };
    let kl_initial = kl_of(&shadow.image(), &mut timing)?;

    // persistent state: hidden units per (data vector, replica) for the positive phase, and the
    // PCD chains
    let hidden_init =
        |rng: &mut HostRng| -> Vec<bool> { (0..opts.hidden).map(|_| rng.bit()).collect() };
    let mut pos_hidden: Vec<Vec<bool>> = (0..d * opts.chains_per_vector)
        .map(|_| hidden_init(&mut rng))
        .collect();
    let mut persistent: Option<Vec<Vec<bool>>> = None;
    let visible_idx: Vec<usize> = (0..v).collect();
    let k_positive = if opts.topology.hidden_coupled(opts.hidden) {
        opts.k
    } else {
        1
    };

    // grows as epochs run: a long run does not reserve its whole history up front
    let mut kl_per_epoch = Vec::with_capacity(opts.epochs.min(1 << 16) as usize);
    let mut clipped_updates = 0u64;
    let mut sweeps = 0u64;
    let mut order: Vec<usize> = (0..d).collect();
    let mut image = shadow.image();
    // β is fixed: one page for the run
    let page = ThresholdPage::build(&format, beta);
    // link traffic: at the start, after the first step, at the end (device backends)
    let usage_start = backend.usage();
    let mut usage_first: Option<(Usage, f64)> = None;
    for epoch in 0..opts.epochs {
        let lr = epoch_learning_rate(opts.lr, opts.lr_final, epoch, opts.epochs);
        shuffle(&mut order, &mut rng);
        for step in 0..steps {
            let fixed = FixedIsing::new(&image, format, Scaling::Exact)?;
            let members = &order[step as usize * batch..((step as usize + 1) * batch).min(d)];
            // chain c: data vector members[c / R], replica c % R
            let slot = |c: usize| {
                members[c / opts.chains_per_vector] * opts.chains_per_vector
                    + c % opts.chains_per_vector
            };
            let cs = members.len() * opts.chains_per_vector;
            let mut positive: Vec<Vec<bool>> = (0..cs)
                .map(|c| {
                    let mut s = data.vectors[members[c / opts.chains_per_vector]].clone();
                    s.extend_from_slice(&pos_hidden[slot(c)]);
                    s
                })
                .collect();
            if opts.hidden > 0 {
                let job = RelaxJob {
                    problem: &fixed,
                    clamped: &visible_idx,
                    page: &page,
                    seed: opts.seed,
                    first_read: read_number(epoch, step, steps, 0, 0),
                    initial: &positive,
                    sweeps: k_positive,
                };
                let t = Instant::now();
                let out = relax(backend, &job, true, false)?.finals.expect("checked");
                timing.sampling += t.elapsed().as_secs_f64();
                sweeps = sweeps.saturating_add(k_positive * cs as u64);
                positive = out;
                for (c, s) in positive.iter().enumerate() {
                    pos_hidden[slot(c)].copy_from_slice(&s[v..]);
                }
            }
            // PCD keeps B·R chains; a short last batch continues the first `cs` of them
            let start: Vec<Vec<bool>> = match (&persistent, opts.method) {
                (Some(p), Method::Pcd) => p[..cs].to_vec(),
                _ => positive.clone(),
            };
            let job = RelaxJob {
                problem: &fixed,
                clamped: &[],
                page: &page,
                seed: opts.seed,
                first_read: read_number(epoch, step, steps, 1, 0),
                initial: &start,
                sweeps: opts.k,
            };
            // PCD keeps the final states; CD needs only their sums (a batch engine forms them
            // on the device, and the states stay there)
            let pcd = opts.method == Method::Pcd;
            let t = Instant::now();
            let negative = relax(backend, &job, pcd, true)?;
            timing.sampling += t.elapsed().as_secs_f64();
            sweeps = sweeps.saturating_add(opts.k * cs as u64);

            let data_phase = Moments::from_sums(n, &correlation_sums(&positive, n), cs);
            let model_phase = Moments::from_sums(n, &negative.sums.expect("checked"), cs);
            let (dw, dh) = data_phase.step(&model_phase, lr);
            clipped_updates += shadow.update(&dw, &dh);
            image = shadow.image();
            if pcd {
                let negative = negative.finals.expect("checked");
                match &mut persistent {
                    Some(p) => p[..cs].clone_from_slice(&negative),
                    None => persistent = Some(negative), // step 0: a full batch
                }
            }
            if usage_first.is_none() {
                usage_first = backend.usage().map(|u| (u, timing.sampling));
            }
        }
        let kl = if (epoch + 1) % opts.kl_every == 0 || epoch + 1 == opts.epochs {
            kl_of(&image, &mut timing)?
        } else {
            None
        };
        kl_per_epoch.push(kl);
        progress(&EpochReport {
            epoch: epoch + 1,
            kl,
            lr,
            clipped_updates,
            ising: image.clone(),
        });
    }

    let final_log_p = match &p_data {
        Some(_) => visible_log_probs(&image, v, beta_f)?,
        None => None,
    };
    let over_data = |f: &dyn Fn(f64, f64) -> f64| -> Option<f64> {
        let (pd, lp) = (p_data.as_ref()?, final_log_p.as_ref()?);
        Some(
            pd.iter()
                .zip(lp)
                .filter(|(&p, _)| p > 0.0)
                .map(|(&p, &l)| f(p, l))
                .sum(),
        )
    };
    let data_mass = over_data(&|_, l| l.exp());
    let log_likelihood = over_data(&|p, l| p * l);
    let total_steps = opts.epochs * steps;
    let link = match (usage_start, usage_first, backend.usage()) {
        (Some(u0), Some((u1, s1)), Some(u2)) => Some(LinkUse {
            baud: u2.baud,
            clock_hz: u2.clock_hz,
            first_step: StepUse::new(&u1.since(&u0), 1, s1),
            later_steps: (total_steps > 1)
                .then(|| StepUse::new(&u2.since(&u1), total_steps - 1, timing.sampling - s1)),
        }),
        _ => None,
    };
    timing.total = t_start.elapsed().as_secs_f64();
    timing.host = (timing.total - timing.sampling - timing.kl).max(0.0);
    let report = LearnReport {
        backend: backend.name(),
        data: data.source.clone(),
        vectors: d,
        visible: v,
        hidden: opts.hidden,
        topology: opts.topology,
        method: opts.method,
        k: opts.k,
        epochs: opts.epochs,
        lr: opts.lr,
        lr_final: opts.lr_final,
        batch,
        chains_per_vector: opts.chains_per_vector,
        seed: opts.seed,
        beta: opts.beta,
        kl: kl_per_epoch.last().copied().flatten(),
        kl_initial,
        kl_per_epoch,
        kl_every: opts.kl_every,
        data_mass,
        log_likelihood,
        clipped_updates,
        at_limit: shadow.at_limit(),
        couplings: image.couplings.len(),
        sweeps,
        updates: sweeps * n as u64,
        seconds: timing,
        link,
    };
    Ok(Learned {
        ising: image,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_model::ModelBackend;

    fn opts() -> LearnOptions {
        LearnOptions {
            epochs: 150,
            lr: 0.1,
            lr_final: 1.0,
            chains_per_vector: 8,
            init_scale: 0.1,
            method: Method::Pcd,
            seed: 1,
            ..LearnOptions::default()
        }
    }

    #[test]
    fn learns_a_tiny_fully_visible_distribution() {
        // 3 visible units, data 000 (twice) and 111: a ferromagnet with a bias, representable
        // by a fully visible machine up to the coupling range (the leak to the six other
        // states is ~6·e^(−4J) for couplings J, ≈ 0 at J = 2), so KL can approach 0.
        let data = Data::parse("000\n000\n111\n", "t").unwrap();
        let mut b = ModelBackend::default();
        let mut epochs = 0;
        let r = learn(&mut b, &data, &opts(), &mut |e| {
            epochs += 1;
            assert_eq!(e.epoch, epochs);
        })
        .unwrap();
        let rep = &r.report;
        let (kl0, kl) = (rep.kl_initial.unwrap(), rep.kl.unwrap());
        assert_eq!(epochs, 150);
        assert_eq!(rep.kl_per_epoch.len(), 150);
        // from near-independent units (KL ≈ 1.2) to a good fit; measured 0.018 with this seed,
        // asserted with a ~3× margin and a factor of 10 below the start
        assert!(kl < 0.05, "KL {kl}");
        assert!(kl < kl0 / 10.0, "KL {kl0} -> {kl}");
        // mean ln P(v) = −(KL + H(data)), H = ln 3 − (2/3) ln 2 for {000, 000, 111}
        let h = 3f64.ln() - 2.0 / 3.0 * 2f64.ln();
        assert!((rep.log_likelihood.unwrap() + kl + h).abs() < 1e-12);
        // the written image is on the grid and loads without rescaling
        let text = r.ising.to_text(&[]);
        let back = Ising::parse(&text, "learned").unwrap();
        FixedIsing::new(&back, pbit_spec::Format::STANDARD, Scaling::Exact).unwrap();
        let lp = visible_log_probs(&back, 3, 1.0).unwrap().unwrap();
        assert_eq!(kl_divergence(&data.distribution(), &lp), kl);
    }

    #[test]
    fn learning_needs_hidden_units_for_parity_and_finds_them() {
        // 3-bit even parity: no pairwise fully visible machine fits it (every pairwise and
        // single-unit moment of the data is 0, so the best such model is uniform: KL = ln 2);
        // with 4 hidden units (semi-restricted) it must do much better. Measured: KL 0.037 with
        // this seed (0.035–0.07 over seeds 1–4 with the same options); asserted below 0.2, under a third of ln 2.
        let data = Data::parse("000\n011\n101\n110\n", "parity").unwrap();
        let mut b = ModelBackend::default();
        let o = LearnOptions {
            hidden: 4,
            topology: Topology::Semi,
            epochs: 300,
            lr: 0.5,
            lr_final: 0.2,
            chains_per_vector: 16,
            init_scale: 0.5,
            seed: 2,
            ..LearnOptions::default()
        };
        let r = learn(&mut b, &data, &o, &mut |_| {}).unwrap().report;
        let kl = r.kl.unwrap();
        assert!(kl < 0.2, "KL {kl}");
        assert!(r.kl_initial.unwrap() > 0.5, "{:?}", r.kl_initial);
    }

    #[test]
    fn runs_are_reproducible_and_thread_independent() {
        let data = Data::parse("0110\n1001\n1111\n", "t").unwrap();
        let o = LearnOptions {
            hidden: 2,
            topology: Topology::Full,
            method: Method::Cd,
            k: 2,
            epochs: 20,
            batch: Some(2),
            seed: 9,
            ..LearnOptions::default()
        };
        let run = |threads: usize| {
            let mut b = ModelBackend {
                threads,
                ..ModelBackend::default()
            };
            let r = learn(&mut b, &data, &o, &mut |_| {}).unwrap();
            (r.ising.to_text(&[]), r.report.kl_per_epoch)
        };
        let a = run(1);
        assert_eq!(a, run(4));
        let other = learn(
            &mut ModelBackend::default(),
            &data,
            &LearnOptions {
                seed: 10,
                ..o.clone()
            },
            &mut |_| {},
        )
        .unwrap();
        assert_ne!(a.1, other.report.kl_per_epoch, "the seed matters");
    }

    #[test]
    fn moments_are_the_phase_means_and_the_update_is_data_minus_model() {
        // three states of 4 p-bits, the means by hand from the ±1 spins
        let states = vec![
            vec![true, false, true, true],
            vec![true, true, false, true],
            vec![false, false, true, true],
        ];
        let spin = |b: bool| if b { 1.0 } else { -1.0 };
        let m = Moments::from_sums(4, &correlation_sums(&states, 4), 3);
        for a in 0..4 {
            let mean = states.iter().map(|s| spin(s[a])).sum::<f64>() / 3.0;
            assert_eq!(m.means[a], mean);
            for b in 0..4 {
                let c = states.iter().map(|s| spin(s[a]) * spin(s[b])).sum::<f64>() / 3.0;
                assert!((m.correlations[[a, b]] - c).abs() < 1e-15, "({a}, {b})");
            }
        }
        // lr · (data − model), here against independent uniform spins (all moments 0 off the
        // diagonal)
        let zero = Moments {
            correlations: Array2::eye(4),
            means: Array1::zeros(4),
        };
        let (dw, dh) = m.step(&zero, 0.5);
        assert_eq!(dw[[0, 3]], 0.5 * m.correlations[[0, 3]]);
        assert_eq!(dw[[2, 2]], 0.0);
        assert_eq!(dh, &m.means * 0.5);
        // the shadow applies it at its pairs only, keeps W symmetric, and images it on the grid
        let format = pbit_spec::Format::STANDARD;
        let mut shadow = Shadow::new(4, vec![(0, 3), (1, 2)], &format, 0.0, &mut learn_rng(1));
        assert_eq!(shadow.update(&dw, &dh), 0);
        assert_eq!(shadow.w, shadow.w.t());
        assert_eq!((shadow.w[[0, 3]], shadow.w[[0, 1]]), (dw[[0, 3]], 0.0));
        // ⟨m_0 m_3⟩ = 1/3 and ⟨m_1 m_2⟩ = −1: shadow 1/6 and −1/2, images 3/16 and −8/16
        let image = shadow.image();
        let c: Vec<_> = image
            .couplings
            .iter()
            .map(|c| (c.i, c.j, c.value))
            .collect();
        assert_eq!(c, vec![(0, 3, 0.1875), (1, 2, -0.5)]);
    }

    #[test]
    fn clipping_is_counted() {
        // a huge learning rate drives the ferromagnetic couplings past ±J_max at once
        let data = Data::parse("000\n111\n", "t").unwrap();
        let o = LearnOptions {
            epochs: 5,
            lr: 100.0,
            ..opts()
        };
        let r = learn(&mut ModelBackend::default(), &data, &o, &mut |_| {})
            .unwrap()
            .report;
        assert!(r.clipped_updates > 0 && r.at_limit > 0, "{r:?}");
        let fixed = FixedIsing::new(
            &Ising::parse(
                &learn(&mut ModelBackend::default(), &data, &o, &mut |_| {})
                    .unwrap()
                    .ising
                    .to_text(&[]),
                "t",
            )
            .unwrap(),
            pbit_spec::Format::STANDARD,
            Scaling::Exact,
        )
        .unwrap();
        assert!(fixed.j_raw.iter().all(|v| v.abs() <= 255));
    }

    #[test]
    fn bad_options_are_errors() {
        let data = Data::parse("01\n10\n", "t").unwrap();
        let mut b = ModelBackend::default();
        for o in [
            LearnOptions {
                epochs: 0,
                ..opts()
            },
            LearnOptions { k: 0, ..opts() },
            LearnOptions {
                batch: Some(3),
                ..opts()
            },
            LearnOptions { lr: -1.0, ..opts() },
            LearnOptions {
                beta: 0.0,
                ..opts()
            },
        ] {
            assert!(learn(&mut b, &data, &o, &mut |_| {}).is_err(), "{o:?}");
        }
        // sizes are refused before anything is allocated or run, naming the option
        let mut huge = |o: LearnOptions| match learn(&mut b, &data, &o, &mut |_| {}) {
            Ok(_) => panic!("{o:?} ran"),
            Err(e) => e.to_string(),
        };
        let e = huge(LearnOptions {
            epochs: 1 << 60,
            ..opts()
        });
        assert!(
            e.starts_with("--epochs is 1152921504606846976, more than"),
            "{e}"
        );
        let e = huge(LearnOptions {
            hidden: usize::MAX,
            ..opts()
        });
        assert!(e.starts_with("visible units + --hidden is"), "{e}");
        let e = huge(LearnOptions {
            chains_per_vector: usize::MAX,
            ..opts()
        });
        assert!(e.starts_with("--chains is"), "{e}");
        let e = huge(LearnOptions {
            hidden: 4000,
            chains_per_vector: 1 << 16,
            ..opts()
        });
        assert!(e.starts_with("--batch × --chains × p-bits is"), "{e}");
        let e = huge(LearnOptions {
            k: 1 << 40,
            ..opts()
        });
        assert!(e.starts_with("--k is"), "{e}");
    }

    /// One relax job as a backend saw it.
    #[derive(Clone, Debug)]
    struct Seen {
        clamped: Vec<usize>,
        first_read: u64,
        sweeps: u64,
        initial: Vec<Vec<bool>>,
        finals: Vec<Vec<bool>>,
    }

    /// The model backend, recording every relax job.
    struct Recorder {
        inner: ModelBackend,
        jobs: Vec<Seen>,
    }

    impl Metered for Recorder {}

    impl Backend for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn format(&self) -> pbit_spec::Format {
            self.inner.format()
        }
        fn capacity(&self) -> Option<usize> {
            None
        }
        fn sample(
            &mut self,
            job: &pbit_model::jobs::SampleJob,
            record: &mut dyn FnMut(&[bool], i64),
        ) -> Result<(), BackendError> {
            self.inner.sample(job, record)
        }
        fn anneal(
            &mut self,
            job: &pbit_model::jobs::AnnealJob,
            progress: &(dyn Fn(u64) + Sync),
        ) -> Result<Vec<pbit_model::run::ReadResult>, BackendError> {
            self.inner.anneal(job, progress)
        }
        fn relax(
            &mut self,
            job: &RelaxJob,
            out: &mut dyn FnMut(usize, &[bool]),
        ) -> Result<(), BackendError> {
            let mut finals = vec![Vec::new(); job.initial.len()];
            self.inner.relax(job, &mut |c, s| {
                finals[c] = s.to_vec();
                out(c, s);
            })?;
            self.jobs.push(Seen {
                clamped: job.clamped.to_vec(),
                first_read: job.first_read,
                sweeps: job.sweeps,
                initial: job.initial.to_vec(),
                finals,
            });
            Ok(())
        }
    }

    fn record(o: &LearnOptions, data: &Data) -> Vec<Seen> {
        let mut b = Recorder {
            inner: ModelBackend::default(),
            jobs: Vec::new(),
        };
        learn(&mut b, data, o, &mut |_| {}).unwrap();
        b.jobs
    }

    #[test]
    fn phases_follow_the_documented_protocol() {
        // 4 vectors, batch 2 (2 steps per epoch), 3 chains per vector, 2 hidden units
        let data = Data::parse(
            "0011
0101
1100
1111
",
            "t",
        )
        .unwrap();
        let base = LearnOptions {
            hidden: 2,
            topology: Topology::Rbm,
            k: 3,
            epochs: 3,
            batch: Some(2),
            chains_per_vector: 3,
            seed: 4,
            ..LearnOptions::default()
        };
        for method in [Method::Cd, Method::Pcd] {
            let jobs = record(
                &LearnOptions {
                    method,
                    ..base.clone()
                },
                &data,
            );
            assert_eq!(jobs.len(), 3 * 2 * 2, "epochs × steps × phases");
            for (t, pair) in jobs.chunks(2).enumerate() {
                let (pos, neg) = (&pair[0], &pair[1]);
                let (epoch, step) = (t as u64 / 2, t as u64 % 2);
                assert_eq!(pos.first_read, read_number(epoch, step, 2, 0, 0));
                assert_eq!(neg.first_read, read_number(epoch, step, 2, 1, 0));
                // positive: visibles clamped to data vectors, one sweep (RBM hidden units are
                // conditionally independent), 2 vectors × 3 replicas
                assert_eq!(pos.clamped, vec![0, 1, 2, 3]);
                assert_eq!(pos.sweeps, 1);
                assert_eq!(pos.initial.len(), 6);
                for (c, s) in pos.initial.iter().enumerate() {
                    assert!(data.vectors.contains(&s[..4].to_vec()), "chain {c}");
                    assert_eq!(s[..4], pos.finals[c][..4], "clamped visibles held");
                    // the replicas of one vector share its data
                    assert_eq!(s[..4], pos.initial[c / 3 * 3][..4]);
                }
                // negative: free, k sweeps
                assert!(neg.clamped.is_empty());
                assert_eq!(neg.sweeps, 3);
                let continues = t > 0 && method == Method::Pcd;
                if continues {
                    assert_eq!(neg.initial, jobs[2 * t - 1].finals, "PCD continues");
                } else {
                    assert_eq!(neg.initial, pos.finals, "CD starts at the positive states");
                }
            }
        }
        // a general machine samples its coupled hidden units for k sweeps in the positive phase
        let jobs = record(
            &LearnOptions {
                topology: Topology::Full,
                ..base.clone()
            },
            &data,
        );
        assert_eq!(jobs[0].sweeps, 3);
        // without hidden units the data are the positive statistics: negative jobs only
        let jobs = record(&LearnOptions { hidden: 0, ..base }, &data);
        assert_eq!(jobs.len(), 3 * 2);
        assert!(jobs.iter().all(|j| j.clamped.is_empty()));
        // PCD with a short last batch (3 + 1 vectors): it continues the first 3 of 9 chains,
        // and the next step continues all 9 (the untouched 6 where they were)
        let jobs = record(
            &LearnOptions {
                method: Method::Pcd,
                batch: Some(3),
                ..base
            },
            &data,
        );
        let (n0, n1, n2) = (&jobs[1], &jobs[3], &jobs[5]);
        assert_eq!(
            (n0.initial.len(), n1.initial.len(), n2.initial.len()),
            (9, 3, 9)
        );
        assert_eq!(n1.initial[..], n0.finals[..3]);
        assert_eq!(n2.initial[..3], n1.finals[..]);
        assert_eq!(n2.initial[3..], n0.finals[3..]);
    }

    #[test]
    fn a_misbehaving_backend_is_an_error_not_a_panic() {
        /// Returns states one p-bit short.
        struct Short(Recorder);
        impl Metered for Short {}
        impl Backend for Short {
            fn name(&self) -> &'static str {
                "short"
            }
            fn format(&self) -> pbit_spec::Format {
                self.0.format()
            }
            fn capacity(&self) -> Option<usize> {
                None
            }
            fn sample(
                &mut self,
                job: &pbit_model::jobs::SampleJob,
                record: &mut dyn FnMut(&[bool], i64),
            ) -> Result<(), BackendError> {
                self.0.sample(job, record)
            }
            fn anneal(
                &mut self,
                job: &pbit_model::jobs::AnnealJob,
                progress: &(dyn Fn(u64) + Sync),
            ) -> Result<Vec<pbit_model::run::ReadResult>, BackendError> {
                self.0.anneal(job, progress)
            }
            fn relax(
                &mut self,
                job: &RelaxJob,
                out: &mut dyn FnMut(usize, &[bool]),
            ) -> Result<(), BackendError> {
                self.0.relax(job, &mut |c, s| out(c, &s[1..]))
            }
        }
        let data = Data::parse("01\n10\n", "t").unwrap();
        let mut b = Short(Recorder {
            inner: ModelBackend::default(),
            jobs: Vec::new(),
        });
        let e = learn(&mut b, &data, &opts(), &mut |_| {}).err().unwrap();
        assert!(e.to_string().contains("came back with 1 spins"), "{e}");
    }

    #[test]
    fn kl_is_none_when_exact_evaluation_is_too_large() {
        // 21 visible units: 2^21 visible states, past MAX_KL_VISIBLE
        let data = Data::parse(
            &format!("{}\n{}\n", "01".repeat(10) + "1", "10".repeat(10) + "0"),
            "t",
        )
        .unwrap();
        let mut b = ModelBackend::default();
        let o = LearnOptions {
            epochs: 2,
            ..opts()
        };
        let r = learn(&mut b, &data, &o, &mut |e| assert!(e.kl.is_none()))
            .unwrap()
            .report;
        assert_eq!((r.kl, r.kl_initial, r.data_mass), (None, None, None));
        assert_eq!(r.kl_per_epoch, vec![None, None]);
        // a general machine beyond 20 p-bits cannot be enumerated either
        let data = Data::parse("0101010101\n1010101010\n", "t").unwrap();
        let o = LearnOptions {
            hidden: 11,
            topology: Topology::Full,
            epochs: 1,
            ..opts()
        };
        let r = learn(&mut b, &data, &o, &mut |_| {}).unwrap().report;
        assert_eq!(r.kl, None);
        // the same sizes semi-restricted are summed out analytically
        let o = LearnOptions {
            topology: Topology::Semi,
            ..o
        };
        assert!(learn(&mut b, &data, &o, &mut |_| {})
            .unwrap()
            .report
            .kl
            .is_some());
    }
}

//! Training the reverse steps: each step's machine independently, by contrastive divergence
//! on the backend, with the learning machinery of [`crate::learn`] (its shadow weights,
//! clipping rule, statistics, read numbering and host stream).
//!
//! # One CD step of reverse step t (a batch of B data vectors, R chains per vector)
//! * Every chain draws its own noisy pair from its data vector x_0: x_{t−1} with each bit
//!   flipped with the probability of steps 1..t−1 together, then x_t from x_{t−1} with step
//!   t's flip probability (fresh noise every epoch, on the host stream).
//! * **Positive phase** (H > 0): the state (x_{t−1}, x_t, label, random hidden) with outputs,
//!   inputs and labels clamped runs 1 sweep — hidden p-bits couple only to outputs and labels,
//!   so one sweep draws them exactly from P(h | x_{t−1}, label).
//! * **Negative phase** (CD-k): from the positive phase's final states, inputs and labels
//!   clamped, k sweeps; the outputs and hidden p-bits run free.
//! * **Update**: learned pairs and biases, shadow += lr · (⟨m_i m_j⟩₊ − ⟨m_i m_j⟩₋), then the
//!   clipping rule of [`crate::learn`]. The coupling of output i to input i is J_t/β rounded
//!   to the grid and never learned; clamped p-bits' biases get no gradient (their means agree
//!   in both phases).
//!
//! # Reproducibility
//! Step t's host stream and machine seed are `splitmix64(seed ^ splitmix64(t ^ SALT))`; its
//! chains' read numbers are [`read_number`]'s (epoch, batch, phase, chain). A run is a function
//! of its arguments on every backend.

use super::mixing::{autocorrelation, step_clamps};
use super::noise::{quantise_coupling, Schedule};
use super::{DiffuseData, DiffuseError, StepLayout};
use crate::cost::Metered;
use crate::learn::{learn_rng, read_number, relax, Moments, Shadow, MAX_CHAINS};
use pbit_model::jobs::RelaxJob;
use pbit_model::limits::{check_range, checked_product, MAX_EPOCHS, MAX_RESULT_SPINS, MAX_SWEEPS};
use pbit_model::run::correlation_sums;
use pbit_model::{Backend, FixedIsing, Ising, Scaling};
use pbit_spec::rng::splitmix64;
use pbit_spec::rng::HostRng;
use pbit_spec::{Beta, ThresholdPage};
use serde::Serialize;
use std::time::Instant;

/// Options of a training run (`pbit diffuse train`).
#[derive(Clone, Debug, Serialize)]
pub struct TrainOptions {
    /// Reverse steps T.
    pub steps: usize,
    pub hidden: usize,
    pub epochs: u64,
    /// Sweeps of the negative phase (CD-k).
    pub k: u64,
    pub lr: f64,
    /// The learning rate falls linearly to lr · lr_final at the last epoch.
    pub lr_final: f64,
    /// Data vectors per CD step (None: all).
    pub batch: Option<usize>,
    /// Chains (noise draws) per data vector in each CD step.
    pub chains_per_vector: usize,
    pub init_scale: f64,
    pub seed: u64,
    pub beta: f64,
    /// Correlation with the data left after step T (ε of [`Schedule::uniform`]).
    pub final_correlation: f64,
    pub lambda: f64,
    /// The adaptive correlation penalty (None: off): the lag-1 autocorrelation of the outputs
    /// it steers each step towards ([`super::mixing`], measured after every epoch).
    pub penalty_target: Option<f64>,
}

/// One reverse step after training.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    pub dt: f64,
    /// Probability that the forward step flips a bit.
    pub flip: f64,
    /// J_t = −½ ln tanh(λΔt/2) and the machine's value (J_t/β on the 1/16 grid).
    pub coupling: f64,
    pub coupling_machine: f64,
    /// Whether J_t/β was beyond the 9-bit range and clipped.
    pub coupling_clipped: bool,
    pub clipped_updates: u64,
    pub at_limit: usize,
    /// Non-zero couplings in the step's file (the fixed ones included).
    pub couplings: usize,
    pub sweeps: u64,
    pub seconds: f64,
    pub seconds_sampling: f64,
    /// The penalty's strength c at the end (0 without the penalty), and the lag-1
    /// autocorrelation measured after each epoch (empty without it).
    pub penalty: f64,
    pub autocorrelation_per_epoch: Vec<f64>,
}

/// A trained chain.
pub struct Trained {
    pub schedule: Schedule,
    pub layout: StepLayout,
    /// Step t's machine at index t − 1 (values on the grid).
    pub steps: Vec<Ising>,
    pub reports: Vec<StepReport>,
}

/// The penalty's retuning: c += PENALTY_RATE · (r − target) after each epoch, within
/// [0, PENALTY_MAX].
pub const PENALTY_RATE: f64 = 0.5;
pub const PENALTY_MAX: f64 = 2.0;

/// Salt of the per-step seeds ("diffuse").
const SALT: u64 = 0x0064_6966_6675_7365;

/// Step t's seed.
pub fn step_seed(seed: u64, t: usize) -> u64 {
    splitmix64(seed ^ splitmix64(t as u64 ^ SALT))
}

/// Flips each bit with probability `p` on the host stream.
pub(crate) fn noise(x: &[bool], p: f64, rng: &mut HostRng) -> Vec<bool> {
    x.iter().map(|&b| b ^ (rng.unit() < p)).collect()
}

/// Step t's machine: the learned image plus the fixed coupling of every output to its input.
pub fn with_fixed(mut image: Ising, layout: &StepLayout, j: f64) -> Ising {
    if j != 0.0 {
        for i in 0..layout.visible {
            image.add_coupling(layout.output(i), layout.input(i), j);
        }
    }
    image
}

impl TrainOptions {
    fn check(&self, data: &DiffuseData) -> Result<(), DiffuseError> {
        let bad = |m: String| Err(DiffuseError::Other(m));
        check_range("--steps", self.steps as u64, 1, 1 << 16)?;
        check_range("--epochs", self.epochs, 1, MAX_EPOCHS)?;
        check_range("--k", self.k, 1, MAX_SWEEPS)?;
        check_range(
            "--chains",
            self.chains_per_vector as u64,
            1,
            MAX_CHAINS as u64,
        )?;
        let d = data.vectors.len();
        let batch = self.batch.unwrap_or(d);
        if batch == 0 || batch > d {
            return bad(format!(
                "--batch must be between 1 and the number of vectors ({d}), got {batch}"
            ));
        }
        let layout = StepLayout {
            visible: data.visible,
            classes: data.classes,
            hidden: self.hidden,
        };
        check_range(
            "p-bits per step (2 × visible + classes + --hidden)",
            layout.n() as u64,
            1,
            4096,
        )?;
        let chains = checked_product(
            "--batch × --chains",
            batch as u64,
            self.chains_per_vector as u64,
            MAX_CHAINS as u64,
        )?;
        checked_product(
            "--batch × --chains × p-bits",
            chains,
            layout.n() as u64,
            MAX_RESULT_SPINS,
        )?;
        let lr_ok = self.lr > 0.0 && self.lr.is_finite();
        let lr_final_ok = self.lr_final >= 0.0 && self.lr_final.is_finite();
        if !lr_ok || !lr_final_ok {
            return bad(format!(
                "--lr must be positive and --lr-final non-negative (got {} and {})",
                self.lr, self.lr_final
            ));
        }
        if !(self.init_scale >= 0.0 && self.init_scale.is_finite()) {
            return bad("--init must be a non-negative number".into());
        }
        if !(self.final_correlation > 0.0 && self.final_correlation < 1.0) {
            return bad(format!(
                "the final correlation must be in (0, 1), got {}",
                self.final_correlation
            ));
        }
        if let Some(r) = self.penalty_target {
            if !(-1.0..=1.0).contains(&r) {
                return bad(format!("--penalty-target must be in [-1, 1], got {r}"));
            }
        }
        if !(self.lambda > 0.0 && self.lambda.is_finite()) {
            return bad(format!("λ must be positive, got {}", self.lambda));
        }
        Ok(())
    }
}

/// Trains the T reverse steps on `backend`; `progress(t, epoch)` after each epoch of step t.
pub fn train<B: Backend + Metered + ?Sized>(
    backend: &mut B,
    data: &DiffuseData,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Trained, DiffuseError> {
    opts.check(data)?;
    let layout = StepLayout {
        visible: data.visible,
        classes: data.classes,
        hidden: opts.hidden,
    };
    let (v, n) = (layout.visible, layout.n());
    backend.check_fits(n)?;
    let schedule = Schedule::uniform(opts.steps, opts.lambda, opts.final_correlation);
    let beta = Beta::from_f64(opts.beta)?;
    let beta_f = beta.to_f64();
    let format = backend.format();
    let page = ThresholdPage::build(&format, beta);
    let d = data.vectors.len();
    let batch = opts.batch.unwrap_or(d);
    let per_epoch = d.div_ceil(batch) as u64;
    let r = opts.chains_per_vector;
    let clamp_positive: Vec<usize> = (0..2 * v + layout.classes).collect();
    let clamp_negative = layout.conditioned();
    let free = |p: usize| p < v || p >= 2 * v + layout.classes;
    let mut steps = Vec::with_capacity(opts.steps);
    let mut reports = Vec::with_capacity(opts.steps);
    for t in 1..=opts.steps {
        let t0 = Instant::now();
        let mut sampling = 0.0;
        let seed = step_seed(opts.seed, t);
        let mut rng = learn_rng(seed);
        let (j_machine, j_clipped) = quantise_coupling(schedule.coupling(t) / beta_f, &format);
        let (p_before, p_step) = (schedule.flip_through(t - 1), schedule.flip(t));
        let pairs = layout.learned_pairs();
        let mut shadow = Shadow::new(n, pairs, &format, opts.init_scale, &mut rng);
        // output biases start near the independent-unit optimum: atanh of x_{t−1}'s mean, less
        // what the input's coupling already gives
        for i in 0..v {
            let m0 = data
                .vectors
                .iter()
                .map(|x| if x[i] { 1.0 } else { -1.0 })
                .sum::<f64>()
                / d as f64;
            let m_prev = m0 * (1.0 - 2.0 * p_before);
            let m_cur = m_prev * (1.0 - 2.0 * p_step);
            shadow.h[i] = m_prev.clamp(-0.9, 0.9).atanh() / beta_f - j_machine * m_cur;
        }
        shadow.clip();
        let mut order: Vec<usize> = (0..d).collect();
        let mut clipped_updates = 0;
        let mut sweeps = 0u64;
        let mut penalty = 0.0;
        let mut autocorrelation_per_epoch = Vec::new();
        for epoch in 0..opts.epochs {
            let lr = crate::learn::epoch_learning_rate(opts.lr, opts.lr_final, epoch, opts.epochs);
            crate::learn::shuffle(&mut order, &mut rng);
            for s in 0..per_epoch {
                let image = with_fixed(shadow.image(), &layout, j_machine);
                let fixed = FixedIsing::new(&image, format, Scaling::Exact)?;
                let members = &order[s as usize * batch..((s as usize + 1) * batch).min(d)];
                let cs = members.len() * r;
                let mut positive: Vec<Vec<bool>> = (0..cs)
                    .map(|c| {
                        let m = members[c / r];
                        let prev = noise(&data.vectors[m], p_before, &mut rng);
                        let cur = noise(&prev, p_step, &mut rng);
                        let mut st = prev;
                        st.extend_from_slice(&cur);
                        st.extend(layout.label_values(data.label(m)));
                        st.extend((0..layout.hidden).map(|_| rng.bit()));
                        st
                    })
                    .collect();
                if layout.hidden > 0 {
                    let job = RelaxJob {
                        problem: &fixed,
                        clamped: &clamp_positive,
                        page: &page,
                        seed,
                        first_read: read_number(epoch, s, per_epoch, 0, 0),
                        initial: &positive,
                        sweeps: 1,
                    };
                    let ts = Instant::now();
                    positive = relax(backend, &job, true, false)?.finals.expect("checked");
                    sampling += ts.elapsed().as_secs_f64();
                    sweeps += cs as u64;
                }
                let job = RelaxJob {
                    problem: &fixed,
                    clamped: &clamp_negative,
                    page: &page,
                    seed,
                    first_read: read_number(epoch, s, per_epoch, 1, 0),
                    initial: &positive,
                    sweeps: opts.k,
                };
                let ts = Instant::now();
                let negative = relax(backend, &job, false, true)?.sums.expect("checked");
                sampling += ts.elapsed().as_secs_f64();
                sweeps += opts.k * cs as u64;
                let data_phase = Moments::from_sums(n, &correlation_sums(&positive, n), cs);
                let model_phase = Moments::from_sums(n, &negative, cs);
                let (mut dw, dh) = data_phase.step(&model_phase, lr);
                if penalty != 0.0 {
                    // the correlation penalty: −c·(⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩) of the negative
                    // phase, only between sampled p-bits (a clamped label's covariance across
                    // chains is its pull, not slow mixing); lr · (a − b − c·cov) as one
                    // expression, so the figures do not move with the arrays
                    let (pc, nc, nm) = (
                        &data_phase.correlations,
                        &model_phase.correlations,
                        &model_phase.means,
                    );
                    for &(i, j) in shadow.pairs.iter().filter(|&&(i, j)| free(i) && free(j)) {
                        let (a, b) = (pc[[i, j]], nc[[i, j]]);
                        dw[[i, j]] = lr * (a - b - penalty * (b - nm[i] * nm[j]));
                    }
                }
                clipped_updates += shadow.update(&dw, &dh);
            }
            if let Some(target) = opts.penalty_target {
                // retune c from the outputs' lag-1 autocorrelation with x_t clamped to noised data
                let image = with_fixed(shadow.image(), &layout, j_machine);
                let fixed = FixedIsing::new(&image, format, Scaling::Exact)?;
                let clamps = step_clamps(&layout, &schedule, t, data, seed ^ epoch);
                let r =
                    autocorrelation(backend, &fixed, &page, &clamps, 0..v, seed ^ epoch, 100)?[0];
                penalty = (penalty + PENALTY_RATE * (r - target)).clamp(0.0, PENALTY_MAX);
                autocorrelation_per_epoch.push(r);
            }
            progress(t, epoch + 1);
        }
        let image = with_fixed(shadow.image(), &layout, j_machine);
        reports.push(StepReport {
            step: t,
            dt: schedule.dt[t - 1],
            flip: p_step,
            coupling: schedule.coupling(t),
            coupling_machine: j_machine,
            coupling_clipped: j_clipped,
            clipped_updates,
            at_limit: shadow.at_limit(),
            couplings: image.couplings.len(),
            sweeps,
            seconds: t0.elapsed().as_secs_f64(),
            seconds_sampling: sampling,
            penalty,
            autocorrelation_per_epoch,
        });
        steps.push(image);
    }
    Ok(Trained {
        schedule,
        layout,
        steps,
        reports,
    })
}

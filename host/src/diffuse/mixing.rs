//! Mixing, measured from the machine's own samples: the normalised autocorrelation of the
//! sampled p-bits along a Gibbs run, for each reverse step (x_t clamped to noised data, labels
//! clamped) and for the single-step baseline (labels clamped), at a few lags.
//!
//! Per chain, one sample job ([`SampleJob`]: seeded random start, `burn_in` sweeps, then
//! `sweeps` recorded); for every watched p-bit with sample mean m (±1) and variance
//! 1 − m² > 0.01 in that chain, r(τ) = (⟨s(u) s(u+τ)⟩_u − m²) / (1 − m²); the figure is the mean
//! over those p-bits and the chains. r near 1 at lag τ means the chain has barely moved in τ
//! sweeps; near 0, that τ sweeps give an almost fresh sample.

use super::noise::Schedule;
use super::train::noise;
use super::{DiffuseData, DiffuseError, StepLayout};
use crate::learn::learn_rng;
use pbit_model::jobs::SampleJob;
use pbit_model::run::SampleSpec;
use pbit_model::{Backend, FixedIsing};
use pbit_spec::rng::splitmix64;
use pbit_spec::ThresholdPage;

/// Chains, burn-in sweeps, recorded sweeps (of the reported figures) and lags of the measurement.
pub const CHAINS: usize = 8;
pub const BURN_IN: u64 = 50;
pub const SWEEPS: u64 = 400;
pub const LAGS: [u64; 3] = [1, 5, 25];

/// Mean normalised autocorrelation of p-bits `watched` at each of [`LAGS`], over chains with the
/// given clamps (one clamp list per chain).
pub fn autocorrelation<B: Backend + ?Sized>(
    backend: &mut B,
    fixed: &FixedIsing,
    page: &ThresholdPage,
    clamps: &[Vec<(usize, bool)>],
    watched: std::ops::Range<usize>,
    seed: u64,
    sweeps: u64,
) -> Result<Vec<f64>, DiffuseError> {
    let mut sum = vec![0.0; LAGS.len()];
    let mut count = 0usize;
    for (c, cl) in clamps.iter().enumerate() {
        let mut trace: Vec<Vec<f64>> = Vec::with_capacity(sweeps as usize);
        let job = SampleJob {
            problem: fixed,
            clamps: cl,
            page,
            seed: splitmix64(seed ^ splitmix64(c as u64)),
            spec: SampleSpec {
                burn_in: BURN_IN,
                sweeps,
                every: 1,
            },
        };
        backend.sample(&job, &mut |s, _| {
            trace.push(
                s[watched.clone()]
                    .iter()
                    .map(|&b| if b { 1.0 } else { -1.0 })
                    .collect(),
            )
        })?;
        let len = trace.len();
        for i in 0..watched.len() {
            let m = trace.iter().map(|x| x[i]).sum::<f64>() / len as f64;
            let var = 1.0 - m * m;
            if var <= 0.01 {
                continue;
            }
            for (k, &lag) in LAGS.iter().enumerate() {
                let lag = lag as usize;
                if lag >= len {
                    continue;
                }
                let c = (0..len - lag)
                    .map(|u| trace[u][i] * trace[u + lag][i])
                    .sum::<f64>()
                    / (len - lag) as f64;
                sum[k] += (c - m * m) / var;
            }
            count += 1;
        }
    }
    Ok(sum.iter().map(|s| s / count.max(1) as f64).collect())
}

/// The clamps of a reverse step's measurement: chain c's inputs are data vector
/// ⌊c·D/CHAINS⌋ noised to step t (host stream of `seed`), its label that vector's.
pub fn step_clamps(
    layout: &StepLayout,
    schedule: &Schedule,
    t: usize,
    data: &DiffuseData,
    seed: u64,
) -> Vec<Vec<(usize, bool)>> {
    let mut rng = learn_rng(seed ^ 0x006D_6978);
    let d = data.vectors.len();
    (0..CHAINS)
        .map(|c| {
            let m = c * d / CHAINS;
            let x = noise(&data.vectors[m], schedule.flip_through(t), &mut rng);
            let mut cl: Vec<(usize, bool)> = x
                .iter()
                .enumerate()
                .map(|(i, &b)| (layout.input(i), b))
                .collect();
            cl.extend(
                layout
                    .label_values(data.label(m))
                    .into_iter()
                    .enumerate()
                    .map(|(k, b)| (layout.label(k), b)),
            );
            cl
        })
        .collect()
}

/// The clamps of the baseline's measurement: labels only (visible p-bits `visible..visible+K`).
pub fn baseline_clamps(
    visible: usize,
    classes: usize,
    data: &DiffuseData,
) -> Vec<Vec<(usize, bool)>> {
    let d = data.vectors.len();
    (0..CHAINS)
        .map(|c| {
            let l = data.label(c * d / CHAINS);
            (0..classes).map(|k| (visible + k, k == l)).collect()
        })
        .collect()
}

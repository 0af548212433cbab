//! Generation: every chain starts from uniform noise x_T and runs the T reverse steps, each
//! one relax job on the backend ([`RelaxJob`]): the state (outputs = x_t, inputs = x_t,
//! labels, random hidden p-bits) with inputs and labels clamped — each chain's clamp values are
//! its own, carried in its state — runs K sweeps at β, and the outputs are x_{t−1}. Nothing is
//! folded into biases, so every backend runs the same jobs and the samples are byte-identical.
//!
//! # Reproducibility
//! Chain c's x_T is bit i = `pbit_hash(seed ^ NOISE, c, i) & 1`; its hidden start at step t is
//! `pbit_hash(seed ^ HIDDEN, t·2^40 + c, j) & 1`; its run at step t is read `t·2^40 + c` of
//! `seed`. Chain c's samples do not depend on how many chains run with it.

use super::manifest::Model;
use super::DiffuseError;
use pbit_model::jobs::{RelaxJob, RelaxWant};
use pbit_model::limits::{check_range, MAX_SWEEPS};
use pbit_model::{Backend, FixedIsing, Ising, Scaling};
use pbit_spec::rng::pbit_hash;

const NOISE: u64 = 0x6E6F_6973_6500; // "noise"
const HIDDEN: u64 = 0x6869_6464_656E; // "hidden"
/// Chains per relax job.
const CHUNK: usize = 2048;
/// Most samples per run (read numbers below 2^40 per step).
pub const MAX_COUNT: usize = 1 << 30;

/// What `pbit diffuse sample` asks for.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub count: usize,
    /// The class clamped in every chain (None: chain c gets class c mod K).
    pub label: Option<usize>,
    /// Sweeps per reverse step (K).
    pub sweeps: u64,
    pub seed: u64,
    /// Keep the whole trajectory x_T, …, x_0 of the first this many chains.
    pub trajectories: usize,
}

/// Generated samples.
pub struct Generated {
    pub samples: Vec<Vec<bool>>,
    /// Each chain's clamped class (0 without labels).
    pub labels: Vec<usize>,
    /// For the first chains: x_T, x_{T−1}, …, x_0.
    pub trajectories: Vec<Vec<Vec<bool>>>,
}

fn bit(seed: u64, read: u64, i: usize) -> bool {
    pbit_hash(seed, read, i as u64) & 1 == 1
}

fn check(model: &Model, opts: &GenerateOptions) -> Result<(), DiffuseError> {
    check_range("--count", opts.count as u64, 1, MAX_COUNT as u64)?;
    check_range("--sweeps", opts.sweeps, 1, MAX_SWEEPS)?;
    let k = model.manifest.layout.classes;
    match opts.label {
        Some(_) if k == 0 => Err(DiffuseError::Other(
            "--label: the model has no label p-bits (train it on a CSV with --classes K)".into(),
        )),
        Some(l) if l >= k => Err(DiffuseError::Other(format!(
            "--label {l}: the model has {k} classes (0..{})",
            k - 1
        ))),
        _ => Ok(()),
    }
}

/// Runs the chain for `opts.count` samples.
pub fn generate(
    backend: &mut dyn Backend,
    model: &Model,
    opts: &GenerateOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Generated, DiffuseError> {
    check(model, opts)?;
    let layout = model.manifest.layout;
    let (v, t_max) = (layout.visible, model.manifest.steps);
    let clamped = layout.conditioned();
    let labels: Vec<usize> = (0..opts.count)
        .map(|c| match (opts.label, layout.classes) {
            (Some(l), _) => l,
            (None, 0) => 0,
            (None, k) => c % k,
        })
        .collect();
    let keep = opts.trajectories.min(opts.count);
    let mut samples = Vec::with_capacity(opts.count);
    let mut trajectories: Vec<Vec<Vec<bool>>> = Vec::with_capacity(keep);
    let mut start = 0;
    while start < opts.count {
        let end = (start + CHUNK).min(opts.count);
        let mut x: Vec<Vec<bool>> = (start..end)
            .map(|c| {
                (0..v)
                    .map(|i| bit(opts.seed ^ NOISE, c as u64, i))
                    .collect()
            })
            .collect();
        for c in start..end.min(keep) {
            trajectories.push(vec![x[c - start].clone()]);
        }
        for t in (1..=t_max).rev() {
            let read0 = ((t as u64) << 40) + start as u64;
            let initial: Vec<Vec<bool>> = x
                .iter()
                .enumerate()
                .map(|(k, xt)| {
                    let c = start + k;
                    let mut s = xt.clone();
                    s.extend_from_slice(xt);
                    s.extend(layout.label_values(labels[c]));
                    s.extend(
                        (0..layout.hidden).map(|j| bit(opts.seed ^ HIDDEN, read0 + k as u64, j)),
                    );
                    s
                })
                .collect();
            let job = RelaxJob {
                problem: &model.fixed[t - 1],
                clamped: &clamped,
                page: &model.page,
                seed: opts.seed,
                first_read: read0,
                initial: &initial,
                sweeps: opts.sweeps,
            };
            let want = RelaxWant {
                finals: true,
                sums: false,
            };
            let out = backend.relax_batch(&job, want)?;
            out.check(&job, want)?;
            x = out
                .finals
                .expect("checked")
                .into_iter()
                .map(|s| s[..v].to_vec())
                .collect();
            for c in start..end.min(keep) {
                trajectories[c].push(x[c - start].clone());
            }
        }
        samples.extend(x);
        progress(end);
        start = end;
    }
    Ok(Generated {
        samples,
        labels,
        trajectories,
    })
}

/// Samples the single-step baseline (visible p-bits = the data's bits, then `classes` one-hot
/// label p-bits, then hidden) with the same seeds' scheme: chain c starts at a hashed random
/// state with its class's labels clamped and runs `sweeps` sweeps; its visible bits are the
/// sample.
#[allow(clippy::too_many_arguments)]
pub fn generate_baseline(
    backend: &mut dyn Backend,
    ising: &Ising,
    visible: usize,
    classes: usize,
    labels: &[usize],
    sweeps: u64,
    seed: u64,
    beta: &pbit_spec::ThresholdPage,
) -> Result<Vec<Vec<bool>>, DiffuseError> {
    let fixed = FixedIsing::new(ising, backend.format(), Scaling::Exact)?;
    backend.check_fits(ising.n)?;
    let clamped: Vec<usize> = (visible..visible + classes).collect();
    let mut out = Vec::with_capacity(labels.len());
    for (ci, chunk) in labels.chunks(CHUNK).enumerate() {
        let start = ci * CHUNK;
        let initial: Vec<Vec<bool>> = chunk
            .iter()
            .enumerate()
            .map(|(k, &l)| {
                (0..ising.n)
                    .map(|i| {
                        if (visible..visible + classes).contains(&i) {
                            i - visible == l
                        } else {
                            bit(seed ^ NOISE, (start + k) as u64, i)
                        }
                    })
                    .collect()
            })
            .collect();
        let job = RelaxJob {
            problem: &fixed,
            clamped: &clamped,
            page: beta,
            seed,
            first_read: start as u64,
            initial: &initial,
            sweeps,
        };
        let want = RelaxWant {
            finals: true,
            sums: false,
        };
        let r = backend.relax_batch(&job, want)?;
        r.check(&job, want)?;
        out.extend(
            r.finals
                .expect("checked")
                .into_iter()
                .map(|s| s[..visible].to_vec()),
        );
    }
    Ok(out)
}

//! Jobs on a backend, from an instance file to a report.

use crate::clamp::{parse_clamps, ClampError};
use pbit_model::fixed::Rescaling;
use pbit_model::jobs::{AnnealJob, SampleJob};
use pbit_model::limits::{
    check_range, checked_product, checked_sum, LimitError, MAX_READS, MAX_RESULT_SPINS, MAX_SWEEPS,
};
use pbit_model::run::{best_read, Pages, SampleSpec};
use pbit_model::schedule::{Shape, MAX_STEPS};
use pbit_model::{
    spins_to_string, FixedIsing, Ising, ParseError, QuantiseError, Scaling, Schedule,
};
use pbit_model::{Backend, BackendError};
use pbit_spec::{Beta, BetaError, Format, ThresholdPage};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Clamp(#[from] ClampError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("{0}")]
    Option(String),
    #[error("cannot write samples to {path}: {error}")]
    Output { path: String, error: std::io::Error },
}

/// What the instance's values mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// Values are couplings J.
    Couplings,
    /// Values are Max-Cut edge weights w (J = −w).
    CutWeights,
}

/// An instance read from a file and quantised for a backend.
pub struct Loaded {
    /// As in the file (for Max-Cut: the weights).
    pub file: Ising,
    /// The machine's view (for Max-Cut: J = −w).
    pub fixed: FixedIsing,
}

/// Reads `path` and quantises it to `format`.
pub fn load(
    path: &Path,
    meaning: Meaning,
    format: Format,
    scaling: Scaling,
) -> Result<Loaded, JobError> {
    let file = Ising::read(path)?;
    let couplings = match meaning {
        Meaning::Couplings => file.clone(),
        Meaning::CutWeights => file.negated_couplings(),
    };
    let fixed = FixedIsing::new(&couplings, format, scaling)?;
    Ok(Loaded { file, fixed })
}

/// The explicit rescaling, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct RescalingReport {
    pub factor: f64,
    pub max_abs_error: f64,
}

fn rescaling_report(r: Option<Rescaling>) -> Option<RescalingReport> {
    r.map(|r| RescalingReport {
        factor: r.factor,
        max_abs_error: r.max_abs_error,
    })
}

impl SampleOptions {
    /// Checks the counts: sweeps and every in 1..=[`MAX_SWEEPS`], burn-in + sweeps too.
    pub fn check(&self) -> Result<(), LimitError> {
        check_range("--sweeps", self.sweeps, 1, MAX_SWEEPS)?;
        check_range("--every", self.every, 1, MAX_SWEEPS)?;
        check_range("--burn-in", self.burn_in, 0, MAX_SWEEPS)?;
        checked_sum(
            "--burn-in + --sweeps",
            self.burn_in,
            self.sweeps,
            MAX_SWEEPS,
        )?;
        Ok(())
    }
}

impl AnnealOptions {
    /// Checks the counts for an instance of `n` p-bits: sweeps in 1..=[`MAX_SWEEPS`], reads in
    /// 1..=[`MAX_READS`], reads × p-bits (the results kept) at most [`MAX_RESULT_SPINS`].
    pub fn check(&self, n: usize) -> Result<(), LimitError> {
        check_range("--sweeps", self.sweeps, 1, MAX_SWEEPS)?;
        check_range("--reads", self.reads, 1, MAX_READS)?;
        checked_product("--reads × p-bits", self.reads, n as u64, MAX_RESULT_SPINS)?;
        Ok(())
    }
}

/// Options of `pbit sample`.
#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub beta: f64,
    pub sweeps: u64,
    pub burn_in: u64,
    pub every: u64,
    pub seed: u64,
    pub clamps: String,
    /// Also report ⟨m_i m_j⟩ for each coupled pair of the instance ([`SampleReport::correlations`]).
    pub correlations: bool,
}

/// ⟨m_i m_j⟩ of one coupled pair (1-based p-bits, i < j).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PairCorrelation {
    pub i: usize,
    pub j: usize,
    pub value: f64,
}

/// The summary `pbit sample --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct SampleReport {
    pub backend: &'static str,
    pub n: usize,
    /// β as asked.
    pub beta: f64,
    /// β the machine ran, in the file's units (β rounded to the machine's fixed point).
    pub beta_effective: f64,
    pub sweeps: u64,
    pub burn_in: u64,
    pub every: u64,
    pub seed: u64,
    pub samples: u64,
    pub mean_energy: f64,
    pub marginals: Vec<f64>,
    /// With `--correlations`: ⟨m_i m_j⟩ of every coupled pair (non-zero J, in (i, j) order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlations: Option<Vec<PairCorrelation>>,
    pub rescaling: Option<RescalingReport>,
}

/// Runs `pbit sample`: writes each recorded sample (a 1/0 line) to `out` if given.
pub fn sample(
    backend: &mut dyn Backend,
    loaded: &Loaded,
    opts: &SampleOptions,
    out: Option<(&mut dyn Write, &str)>,
) -> Result<SampleReport, JobError> {
    sample_keeping(backend, loaded, opts, out, None)
}

/// [`sample`], also pushing every recorded sample's energy (file units) to `energies` if given
/// (`pbit sample --plot`).
pub fn sample_keeping(
    backend: &mut dyn Backend,
    loaded: &Loaded,
    opts: &SampleOptions,
    mut out: Option<(&mut dyn Write, &str)>,
    mut energies: Option<&mut Vec<f64>>,
) -> Result<SampleReport, JobError> {
    let p = &loaded.fixed;
    opts.check()?;
    backend.check_fits(p.n)?;
    let clamps = parse_clamps(&opts.clamps, p.n)?;
    Beta::from_f64(opts.beta)?;
    let beta = Beta::from_f64(p.machine_beta(opts.beta))?;
    let page = ThresholdPage::build(&p.format, beta);
    let spec = SampleSpec {
        burn_in: opts.burn_in,
        sweeps: opts.sweeps,
        every: opts.every,
    };

    // the coupled pairs whose ⟨m_i m_j⟩ is asked for (0-based, i < j, ascending)
    let pairs: Vec<(usize, usize)> = if opts.correlations {
        (0..p.n)
            .flat_map(|i| {
                let (nb, js) = p.row(i);
                nb.iter()
                    .zip(js)
                    .filter(move |(&j, &raw)| j as usize > i && raw != 0)
                    .map(move |(&j, _)| (i, j as usize))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut sums = pbit_model::SampleSums::new(p.n, pairs.len());
    let mut line = String::with_capacity(p.n + 1);
    let mut write_error: Option<std::io::Error> = None;
    let streamed = out.is_some() || energies.is_some();
    let mut record = |spins: &[bool], energy_raw: i64| {
        sums.add(spins, energy_raw, &pairs);
        if let Some(v) = energies.as_mut() {
            v.push(p.energy_real(energy_raw));
        }
        if let Some((w, _)) = out.as_mut() {
            if write_error.is_none() {
                line.clear();
                line.extend(spins.iter().map(|&b| if b { '1' } else { '0' }));
                line.push('\n');
                if let Err(e) = w.write_all(line.as_bytes()) {
                    write_error = Some(e);
                }
            }
        }
    };
    let job = SampleJob {
        problem: p,
        clamps: &clamps,
        page: &page,
        seed: opts.seed,
        spec,
    };
    if streamed {
        backend.sample(&job, &mut record)?;
    } else {
        // only the sums are wanted: a device that forms them itself sends no samples (the
        // closure above is not used on this path)
        sums = backend.sample_sums(&job, &pairs)?;
    }
    if let Some((w, path)) = out {
        if let Some(error) = write_error.or_else(|| w.flush().err()) {
            return Err(JobError::Output {
                path: path.to_string(),
                error,
            });
        }
    }
    let count = sums.samples;
    let denom = count.max(1) as f64;
    // the energies' exact sum (raw units), converted once: every path (streamed or summed,
    // model or device) gives the same bits
    let energy_sum = p.energy_real(
        i64::try_from(sums.energy_raw_sum).expect("2^32 samples of 32-bit energies fit i64"),
    );
    Ok(SampleReport {
        backend: backend.name(),
        n: p.n,
        beta: opts.beta,
        beta_effective: beta.to_f64() * p.scale,
        sweeps: opts.sweeps,
        burn_in: opts.burn_in,
        every: opts.every,
        seed: opts.seed,
        samples: count,
        mean_energy: energy_sum / denom,
        marginals: sums
            .ones
            .iter()
            .map(|&u| (2.0 * u as f64 - count as f64) / denom)
            .collect(),
        correlations: opts.correlations.then(|| {
            pairs
                .iter()
                .zip(&sums.agreements)
                .map(|(&(i, j), &a)| PairCorrelation {
                    i: i + 1,
                    j: j + 1,
                    value: (2.0 * a as f64 - count as f64) / denom,
                })
                .collect()
        }),
        rescaling: rescaling_report(p.rescaling),
    })
}

/// The instance the machine runs, in the file's units: the quantised (and possibly rescaled)
/// values divided back, so that its Boltzmann distribution at the report's `beta_effective` is
/// the machine's (for exact comparisons).
pub fn machine_ising(p: &FixedIsing) -> Ising {
    let unit = p.format.one() as f64 * p.scale;
    let mut ising = Ising::new(p.n);
    for i in 0..p.n {
        let (nb, js) = p.row(i);
        for (&j, &raw) in nb.iter().zip(js) {
            if (j as usize) > i && raw != 0 {
                ising.couplings.push(pbit_model::Coupling {
                    i,
                    j: j as usize,
                    value: raw as f64 / unit,
                    line: 0,
                });
            }
        }
        ising.h[i] = p.h_raw[i] as f64 / unit;
    }
    ising
}

/// Options of `pbit anneal` and `pbit maxcut`.
#[derive(Clone, Debug)]
pub struct AnnealOptions {
    pub sweeps: u64,
    pub reads: u64,
    pub seed: u64,
    /// None: derived from the instance ([`default_beta_range`]).
    pub beta_start: Option<f64>,
    pub beta_end: Option<f64>,
    pub shape: Shape,
    pub clamps: String,
}

/// The default β range, in the file's units: hot enough that the largest possible energy
/// change is accepted with probability 1/3 (β = ln 2 / ΔE_max), cold enough that the smallest
/// is accepted with probability 1/101 (β = ln 100 / ΔE_min). ΔE of flipping p-bit i is at most
/// 2(Σ_j |J_ij| + |h_i|); the smallest non-zero is 2·min(|J|, |h|).
pub fn default_beta_range(p: &FixedIsing) -> (f64, f64) {
    let real = |raw: i64| raw as f64 / (p.format.one() as f64 * p.scale);
    let max_de = 2.0 * real(p.max_field_raw());
    let min_de = 2.0 * real(p.min_nonzero_raw());
    if max_de == 0.0 {
        return (0.1, 1.0);
    }
    (std::f64::consts::LN_2 / max_de, 100f64.ln() / min_de)
}

/// The summary `pbit anneal --json` prints (and `pbit maxcut`, with the cut).
#[derive(Clone, Debug, Serialize)]
pub struct AnnealReport {
    pub backend: &'static str,
    pub n: usize,
    pub sweeps: u64,
    pub reads: u64,
    pub seed: u64,
    pub schedule: &'static str,
    pub beta_start: f64,
    pub beta_end: f64,
    /// The (β, sweeps) steps run, β in the file's units after rounding to the machine's.
    pub steps: Vec<(f64, u64)>,
    pub best_energy: f64,
    pub best_state: String,
    /// Best energy of each read, in read order.
    pub energies: Vec<f64>,
    pub seconds: f64,
    pub updates_per_second: f64,
    pub rescaling: Option<RescalingReport>,
    /// Max-Cut only: the cut of the best state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<f64>,
    /// Max-Cut only: the total edge weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_weight: Option<f64>,
}

/// What an anneal job is built from (shared by [`anneal`] and [`anneal_trace`]).
struct AnnealParts {
    clamps: Vec<(usize, bool)>,
    beta_start: f64,
    beta_end: f64,
    schedule: Schedule,
    pages: Pages,
}

fn anneal_parts(
    backend: &dyn Backend,
    p: &FixedIsing,
    opts: &AnnealOptions,
) -> Result<AnnealParts, JobError> {
    opts.check(p.n)?;
    backend.check_fits(p.n)?;
    let clamps = parse_clamps(&opts.clamps, p.n)?;
    let (default_start, default_end) = default_beta_range(p);
    let beta_start = opts.beta_start.unwrap_or(default_start);
    let beta_end = opts.beta_end.unwrap_or(default_end);
    Beta::from_f64(beta_start)?;
    Beta::from_f64(beta_end)?;
    let schedule = Schedule::anneal(
        p.machine_beta(beta_start),
        p.machine_beta(beta_end),
        opts.sweeps,
        opts.shape,
        MAX_STEPS,
    )?;
    let pages = Pages::build(p, &schedule);
    Ok(AnnealParts {
        clamps,
        beta_start,
        beta_end,
        schedule,
        pages,
    })
}

/// One read's energy trace: (sweeps done, current energy, best energy so far), in the file's
/// units.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadTrace {
    pub read: u64,
    pub points: Vec<(u64, f64, f64)>,
}

/// The energy traces of `pbit anneal`'s job (`--plot`): the same reads, run watched
/// ([`Backend::anneal_watched`]), the energies kept after every k-th sweep with k =
/// ⌈sweeps / `max_points`⌉ (and after the last). Also returns each read's best energy, which
/// equals the unwatched run's. A backend that cannot watch returns
/// [`BackendError::Unsupported`] (the model gives its run bit for bit).
pub fn anneal_trace(
    backend: &mut dyn Backend,
    loaded: &Loaded,
    opts: &AnnealOptions,
    max_points: u64,
) -> Result<(Vec<ReadTrace>, Vec<f64>), JobError> {
    let p = &loaded.fixed;
    let parts = anneal_parts(backend, p, opts)?;
    let job = AnnealJob {
        problem: p,
        clamps: &parts.clamps,
        pages: &parts.pages,
        seed: opts.seed,
        reads: opts.reads,
    };
    let every = opts.sweeps.div_ceil(max_points.max(1)).max(1);
    let mut traces: Vec<ReadTrace> = Vec::new();
    let results = backend.anneal_watched(&job, every, &mut |w| {
        if traces.last().is_none_or(|t| t.read != w.read) {
            traces.push(ReadTrace {
                read: w.read,
                points: Vec::new(),
            });
        }
        let t = traces.last_mut().expect("pushed above");
        t.points.push((
            w.sweep,
            p.energy_real(w.energy_raw),
            p.energy_real(w.best_energy_raw),
        ));
    })?;
    let best = results
        .iter()
        .map(|r| p.energy_real(r.best_energy_raw))
        .collect();
    Ok((traces, best))
}

/// Runs `pbit anneal` (or, with `Meaning::CutWeights` in `loaded`, `pbit maxcut`).
pub fn anneal(
    backend: &mut dyn Backend,
    loaded: &Loaded,
    meaning: Meaning,
    opts: &AnnealOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<AnnealReport, JobError> {
    let p = &loaded.fixed;
    let AnnealParts {
        clamps,
        beta_start,
        beta_end,
        schedule,
        pages,
    } = anneal_parts(backend, p, opts)?;
    let job = AnnealJob {
        problem: p,
        clamps: &clamps,
        pages: &pages,
        seed: opts.seed,
        reads: opts.reads,
    };
    let start = Instant::now();
    let results = backend.anneal(&job, progress)?;
    let seconds = start.elapsed().as_secs_f64();
    let best = best_read(&results).ok_or_else(|| JobError::Option("no reads ran".into()))?;
    let best_energy = p.energy_real(best.best_energy_raw);
    let (cut, total_weight) = match meaning {
        Meaning::Couplings => (None, None),
        Meaning::CutWeights => {
            let total = loaded.file.total_coupling();
            (Some((total - best_energy) / 2.0), Some(total))
        }
    };
    let updates = p.n as f64 * opts.sweeps as f64 * opts.reads as f64;
    Ok(AnnealReport {
        backend: backend.name(),
        n: p.n,
        sweeps: opts.sweeps,
        reads: opts.reads,
        seed: opts.seed,
        schedule: match opts.shape {
            Shape::Linear => "linear",
            Shape::Geometric => "geometric",
        },
        beta_start,
        beta_end,
        steps: schedule
            .steps
            .iter()
            .map(|s| (s.beta.to_f64() * p.scale, s.sweeps))
            .collect(),
        best_energy,
        best_state: spins_to_string(&best.best_spins),
        energies: results
            .iter()
            .map(|r| p.energy_real(r.best_energy_raw))
            .collect(),
        seconds,
        updates_per_second: updates / seconds.max(1e-9),
        rescaling: rescaling_report(p.rescaling),
        cut,
        total_weight,
    })
}

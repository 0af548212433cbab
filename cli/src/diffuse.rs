//! `pbit diffuse train` / `pbit diffuse sample`: denoising diffusion as a chain of conditional
//! Boltzmann machines (pbit_host::diffuse; docs/diffusion.md).

use crate::{backend, print_json, progress_bar, MachineArgs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use pbit_host::diffuse::exact::{self, ExactReport, MAX_EXACT_VISIBLE};
use pbit_host::diffuse::generate::{generate, generate_baseline, GenerateOptions};
use pbit_host::diffuse::manifest::{self, Baseline, Manifest, Model};
use pbit_host::diffuse::noise::{FINAL_CORRELATION, LAMBDA};
use pbit_host::diffuse::train::{train, StepReport, TrainOptions};
use pbit_host::diffuse::{mixing, DiffuseData, StepLayout};
use pbit_host::digits::{self, Images};
use pbit_host::judge::{verdict, Judge};
use pbit_host::learn::{self, Data, LearnOptions, Method, Topology};
use pbit_model::{FixedIsing, Scaling};
use pbit_spec::ThresholdPage;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand)]
pub enum DiffuseCommand {
    /// Train the T reverse steps on DATA (a `pbit learn` file of 1/0 lines, or the digits CSV)
    /// by contrastive divergence on the backend; write MODEL_DIR (one instance file per step
    /// and manifest.json). With at most 12 visible bits the exact KL of the generated
    /// distribution is reported, beside a single-step Boltzmann machine of the same p-bit
    /// budget trained the same way.
    Train(TrainArgs),
    /// Generate samples from a trained chain: uniform noise, then T clamped sampling jobs.
    Sample(SampleArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training vectors (one per line, `1`/`0` per bit, `#` comments) or a CSV of images
    /// (grey levels, then the label; detected by its commas).
    #[arg(value_name = "DATA")]
    data: PathBuf,
    /// Reverse steps T (1 to 2^16).
    #[arg(long, default_value_t = 4)]
    steps: usize,
    /// Hidden p-bits per step (default 16; 64 for a CSV; 2 × visible + classes + hidden at
    /// most 2^12).
    #[arg(long)]
    hidden: Option<usize>,
    /// CSV: clamp one-hot label p-bits for K classes (labels 0..K−1) in every step.
    #[arg(long)]
    classes: Option<usize>,
    /// Passes over the data per step (1 to 2^32 − 1; default 300; 20 for a CSV).
    #[arg(long)]
    epochs: Option<u64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the model directory here (created if missing).
    #[arg(long, value_name = "MODEL_DIR")]
    out: PathBuf,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
    /// CSV: a pixel is 1 when its grey level is at least this.
    #[arg(long, default_value_t = 8)]
    threshold: u64,
    /// Sweeps of each negative phase (CD-k; 1 to 2^32 − 1).
    #[arg(long, default_value_t = 10)]
    k: u64,
    /// Learning rate (default 0.3; 0.05 for a CSV); it falls linearly to lr × --lr-final.
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 0.02)]
    lr_final: f64,
    /// Data vectors per CD step (default: all; 20 for a CSV).
    #[arg(long)]
    batch: Option<usize>,
    /// Chains (noise draws) per data vector in each CD step (default 32; 2 for a CSV; batch ×
    /// chains at most 2^20, and batch × chains × p-bits at most 2^28).
    #[arg(long)]
    chains: Option<usize>,
    /// Initial couplings uniform in ±this.
    #[arg(long = "init", default_value_t = 0.05)]
    init_scale: f64,
    /// The machine's β (the steps are sampled at it).
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// Correlation with the data left after step T (the time grid is uniform in λΔt and ends
    /// here: step T is pure noise to within this).
    #[arg(long, default_value_t = FINAL_CORRELATION)]
    final_correlation: f64,
    /// Do not train the single-step baseline (trained by default when exact evaluation is
    /// possible, at most 12 visible bits).
    #[arg(long, conflicts_with = "baseline")]
    no_baseline: bool,
    /// The source's adaptive correlation penalty: −c·(⟨s_i s_j⟩ − ⟨s_i⟩⟨s_j⟩) of the negative
    /// phase added to each learned coupling's update, c retuned after every epoch so that the
    /// outputs' lag-1 autocorrelation approaches this target (default: off).
    #[arg(long, allow_negative_numbers = true)]
    penalty_target: Option<f64>,
    /// Train the single-step baseline for larger data too (for `sample --compare`).
    #[arg(long)]
    baseline: bool,
}

#[derive(Args)]
pub struct SampleArgs {
    /// A directory written by `pbit diffuse train`.
    #[arg(value_name = "MODEL_DIR")]
    model: PathBuf,
    /// Samples to generate (one chain each; 1 to 2^30).
    #[arg(long)]
    count: usize,
    /// Clamp this class in every chain (default: chain c gets class c mod K).
    #[arg(long)]
    label: Option<usize>,
    /// Sweeps per reverse step (K; 1 to 2^32 − 1); a sample costs T × K sweeps.
    #[arg(long, default_value_t = 100)]
    sweeps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the samples here: one line of `1`/`0` per sample.
    #[arg(long, value_name = "SAMPLES")]
    out: PathBuf,
    /// Draw a few denoising trajectories (noise to image, one per row) and samples (PNG or
    /// SVG by extension).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
    /// Evaluate against this data file (default: the training data named in the manifest, if
    /// it is still there): empirical KL (≤ 12 bits), valid, distinct and training-copy
    /// fractions, and for labelled images the judge's agreement with the clamped labels.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also sample the single-step baseline with the same total sweeps per sample (T × K) and
    /// evaluate it the same way.
    #[arg(long)]
    compare: bool,
}

pub fn run(m: &MachineArgs, c: &DiffuseCommand) -> Result<()> {
    match c {
        DiffuseCommand::Train(a) => run_train(m, a),
        DiffuseCommand::Sample(a) => run_sample(m, a),
    }
}

/// Reads a data file: 1/0 lines, or the CSV (labels only with --classes).
fn read_data(
    path: &Path,
    threshold: u64,
    classes: Option<usize>,
) -> Result<(DiffuseData, Option<Images>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let name = path.display().to_string();
    if !digits::is_csv(&text) {
        if classes.is_some() {
            bail!("{name}: --classes needs a CSV of labelled images (grey levels, then the label)");
        }
        let d = Data::parse(&text, &name)?;
        return Ok((
            DiffuseData {
                visible: d.visible,
                vectors: d.vectors,
                labels: None,
                classes: 0,
                source: name,
                threshold: None,
            },
            None,
        ));
    }
    if classes == Some(0) {
        bail!("--classes must be at least 1");
    }
    let im = Images::parse(&text, &name, threshold, classes)?;
    Ok((
        DiffuseData {
            visible: im.pixel_count(),
            vectors: im.pixels.clone(),
            labels: classes.map(|_| im.labels.clone()),
            classes: classes.unwrap_or(0),
            source: name,
            threshold: Some(threshold),
        },
        Some(im),
    ))
}

/// Image width for plots: 8 for 64 bits, 3 for 9, else the square root when square, else V.
fn width_for(v: usize) -> usize {
    let r = (v as f64).sqrt().round() as usize;
    if r * r == v {
        r
    } else {
        v
    }
}

#[derive(Serialize)]
struct BaselineReport {
    /// p-bits: visible + labels + hidden, the same as one reverse step's.
    n: usize,
    hidden: usize,
    kl: Option<f64>,
    data_mass: Option<f64>,
    /// Autocorrelation of its visible p-bits at lags `mixing_lags` (labels clamped).
    autocorrelation: Vec<f64>,
    seconds: f64,
}

#[derive(Serialize)]
struct TrainReport<'a> {
    backend: &'static str,
    data: &'a str,
    vectors: usize,
    visible: usize,
    classes: usize,
    steps: usize,
    hidden: usize,
    /// p-bits per reverse step (2 × visible + classes + hidden).
    n_per_step: usize,
    layout: String,
    options: &'a TrainOptions,
    per_step: &'a [StepReport],
    /// Lags (sweeps) of the autocorrelations: per step (outputs, x_t clamped to noised data)
    /// and the baseline's (docs/diffusion.md, "Mixing").
    mixing_lags: [u64; 3],
    autocorrelation_per_step: Vec<Vec<f64>>,
    /// Exact KL(data ‖ generated) (every step mixed; null beyond 12 visible bits).
    kl: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exact: Option<&'a ExactReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineReport>,
    coupling_clipped_steps: Vec<usize>,
    clipped_updates: u64,
    seconds_train: f64,
    seconds_exact: f64,
    out: String,
}

/// `plain`, or `csv` for a CSV of images.
fn pick<T>(csv: bool, plain: T, c: T) -> T {
    if csv {
        c
    } else {
        plain
    }
}

fn run_train(m: &MachineArgs, a: &TrainArgs) -> Result<()> {
    let t0 = Instant::now();
    let mut b = backend(m)?;
    let (data, images) = read_data(&a.data, a.threshold, a.classes)?;
    let csv = images.is_some();
    let opts = TrainOptions {
        steps: a.steps,
        hidden: a.hidden.unwrap_or(pick(csv, 16, 64)),
        epochs: a.epochs.unwrap_or(pick(csv, 300, 20)),
        k: a.k,
        lr: a.lr.unwrap_or(pick(csv, 0.3, 0.05)),
        lr_final: a.lr_final,
        batch: a.batch.or(csv.then_some(20)),
        chains_per_vector: a.chains.unwrap_or(pick(csv, 32, 2)),
        init_scale: a.init_scale,
        seed: a.seed,
        beta: a.beta,
        final_correlation: a.final_correlation,
        lambda: LAMBDA,
        penalty_target: a.penalty_target,
    };
    let bar = progress_bar(a.json, opts.steps as u64 * opts.epochs);
    let trained = train(b.as_mut(), &data, &opts, &mut |_, _| bar.inc(1))?;
    bar.finish_and_clear();
    let seconds_train = t0.elapsed().as_secs_f64();
    let layout = trained.layout;
    let beta_f = pbit_spec::Beta::from_f64(a.beta)?.to_f64();
    let te = Instant::now();
    let exact_report = exact::evaluate(&trained.steps, &layout, &trained.schedule, beta_f, &data)?;
    let seconds_exact = te.elapsed().as_secs_f64();
    let page = ThresholdPage::build(&b.format(), pbit_spec::Beta::from_f64(a.beta)?);
    let mut autocorrelation_per_step = Vec::with_capacity(opts.steps);
    for (t, ising) in trained.steps.iter().enumerate() {
        let fixed = FixedIsing::new(ising, b.format(), Scaling::Exact)?;
        let clamps = mixing::step_clamps(&layout, &trained.schedule, t + 1, &data, a.seed);
        autocorrelation_per_step.push(mixing::autocorrelation(
            b.as_mut(),
            &fixed,
            &page,
            &clamps,
            0..data.visible,
            a.seed,
            mixing::SWEEPS,
        )?);
    }

    // the single-step machine with the same p-bit budget, trained the same way
    let mut baseline = None;
    let mut baseline_ising = None;
    if a.baseline || (!a.no_baseline && data.visible <= MAX_EXACT_VISIBLE) {
        let tb = Instant::now();
        let hidden = layout.n() - data.visible - layout.classes;
        let vectors: Vec<Vec<bool>> = (0..data.vectors.len())
            .map(|d| {
                let mut x = data.vectors[d].clone();
                x.extend(layout.label_values(data.label(d)));
                x
            })
            .collect();
        let ldata = Data {
            visible: vectors[0].len(),
            vectors,
            source: data.source.clone(),
        };
        let lo = LearnOptions {
            hidden,
            topology: Topology::Semi,
            method: Method::Cd,
            k: opts.k,
            epochs: opts.epochs,
            lr: opts.lr,
            lr_final: opts.lr_final,
            batch: opts.batch,
            chains_per_vector: opts.chains_per_vector,
            init_scale: opts.init_scale,
            seed: opts.seed,
            beta: opts.beta,
            kl_every: opts.epochs,
        };
        let learned = learn::learn(b.as_mut(), &ldata, &lo, &mut |_| {})?;
        let fixed = FixedIsing::new(&learned.ising, b.format(), Scaling::Exact)?;
        let autocorrelation = mixing::autocorrelation(
            b.as_mut(),
            &fixed,
            &page,
            &mixing::baseline_clamps(data.visible, layout.classes, &data),
            0..data.visible,
            a.seed,
            mixing::SWEEPS,
        )?;
        baseline = Some(BaselineReport {
            n: layout.n(),
            hidden,
            kl: learned.report.kl,
            data_mass: learned.report.data_mass,
            autocorrelation,
            seconds: tb.elapsed().as_secs_f64(),
        });
        baseline_ising = Some(learned.ising);
    }

    let t_max = opts.steps;
    let schedule = &trained.schedule;
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        steps: t_max,
        lambda: schedule.lambda,
        dt: schedule.dt.clone(),
        flip: (1..=t_max).map(|t| schedule.flip(t)).collect(),
        coupling: (1..=t_max).map(|t| schedule.coupling(t)).collect(),
        coupling_machine: trained.reports.iter().map(|r| r.coupling_machine).collect(),
        coupling_clipped: trained
            .reports
            .iter()
            .filter(|r| r.coupling_clipped)
            .map(|r| r.step)
            .collect(),
        layout,
        layout_text: layout.describe(),
        width: width_for(data.visible),
        threshold: data.threshold,
        beta: a.beta,
        files: (1..=t_max).map(|t| format!("step{t}.txt")).collect(),
        baseline: baseline.as_ref().map(|r| Baseline {
            file: "baseline.txt".into(),
            visible: data.visible + layout.classes,
            hidden: r.hidden,
            kl: r.kl,
        }),
        data: std::fs::canonicalize(&a.data)
            .unwrap_or_else(|_| a.data.clone())
            .display()
            .to_string(),
        kl: exact_report.as_ref().map(|r| r.kl),
    };
    let comments: Vec<Vec<String>> = trained
        .reports
        .iter()
        .map(|r| {
            vec![
                format!(
                    "pbit-diffuse step {} of {t_max}: {} (inputs and labels clamped)",
                    r.step,
                    layout.describe()
                ),
                format!(
                    "forward step flips a bit with p = {:.6}; output i coupled to input i with J_t = {:.6} (machine {} at beta {}{})",
                    r.flip,
                    r.coupling,
                    r.coupling_machine,
                    a.beta,
                    if r.coupling_clipped { ", clipped" } else { "" }
                ),
                format!("trained by pbit diffuse train from {} ({} vectors), seed {}", data.source, data.vectors.len(), a.seed),
            ]
        })
        .collect();
    let base_comments = vec![
        format!(
            "single-step baseline of pbit diffuse train: visible p-bits 1..{} (pixels, then labels), hidden after; sample at beta {}",
            data.visible + layout.classes,
            a.beta
        ),
    ];
    manifest::write(
        &a.out,
        &manifest,
        &trained.steps,
        &comments,
        baseline_ising.as_ref().map(|i| (i, base_comments)),
    )?;
    let clipped_updates = trained.reports.iter().map(|r| r.clipped_updates).sum();
    let report = TrainReport {
        backend: b.name(),
        data: &data.source,
        vectors: data.vectors.len(),
        visible: data.visible,
        classes: layout.classes,
        steps: t_max,
        hidden: layout.hidden,
        n_per_step: layout.n(),
        layout: layout.describe(),
        options: &opts,
        per_step: &trained.reports,
        mixing_lags: mixing::LAGS,
        autocorrelation_per_step,
        kl: exact_report.as_ref().map(|r| r.kl),
        exact: exact_report.as_ref(),
        baseline,
        coupling_clipped_steps: manifest.coupling_clipped.clone(),
        clipped_updates,
        seconds_train,
        seconds_exact,
        out: a.out.display().to_string(),
    };
    if a.json {
        return print_json(&report);
    }
    for r in &trained.reports {
        println!(
            "step {}: flip {:.4}, J_t {:.4} -> {}{}, {} couplings, {} clipped updates, {:.1} s",
            r.step,
            r.flip,
            r.coupling,
            r.coupling_machine,
            if r.coupling_clipped { " (clipped)" } else { "" },
            r.couplings,
            r.clipped_updates,
            r.seconds
        );
    }
    for (t, r) in report.autocorrelation_per_step.iter().enumerate() {
        println!(
            "step {} autocorrelation at lags {:?} sweeps: {:.3?}",
            t + 1,
            mixing::LAGS,
            r
        );
    }
    if let Some(e) = &report.exact {
        println!(
            "exact KL(data || generated) {:.5} (start {:.5}), data mass {:.4}",
            e.kl, e.kl_start, e.data_mass
        );
    }
    if let Some(bl) = &report.baseline {
        println!(
            "single-step baseline ({} p-bits, {} hidden): exact KL {}, autocorrelation {:.3?}",
            bl.n,
            bl.hidden,
            bl.kl.map_or("not computed".into(), |k| format!("{k:.5}")),
            bl.autocorrelation
        );
    }
    println!(
        "wrote {} ({:.1} s)",
        a.out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How a set of samples compares with the data.
#[derive(Serialize, Default)]
struct Quality {
    /// Empirical KL(data ‖ samples) with counts + ½ (≤ 12 bits).
    empirical_kl: Option<f64>,
    /// Fraction of samples that are data vectors.
    valid: f64,
    distinct: f64,
    training_copies: f64,
    /// Labelled images: fraction the judge (softmax regression on the training images) gives
    /// the clamped label, overall and per class.
    #[serde(skip_serializing_if = "Option::is_none")]
    agreement: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agreement_per_label: Option<Vec<Option<f64>>>,
}

fn quality(
    data: &DiffuseData,
    images: Option<&Images>,
    samples: &[Vec<bool>],
    labels: &[usize],
    classes: usize,
) -> Quality {
    let all: Vec<&Vec<bool>> = data.vectors.iter().collect();
    let set: HashSet<&Vec<bool>> = all.iter().copied().collect();
    let n = samples.len().max(1) as f64;
    let distinct: HashSet<&Vec<bool>> = samples.iter().collect();
    let in_data = samples.iter().filter(|s| set.contains(s)).count() as f64 / n;
    let mut q = Quality {
        empirical_kl: exact::empirical_kl(&all, samples, data.visible),
        valid: in_data,
        distinct: distinct.len() as f64 / n,
        training_copies: in_data,
        ..Quality::default()
    };
    if let (Some(im), true) = (images, classes > 0) {
        let judge = Judge::train(im, classes);
        let mut per = vec![(0usize, 0usize); classes];
        for (s, &l) in samples.iter().zip(labels) {
            per[l].1 += 1;
            if judge.predict(s) == l {
                per[l].0 += 1;
            }
        }
        let agree: usize = per.iter().map(|p| p.0).sum();
        q.agreement = Some(agree as f64 / n);
        q.agreement_per_label = Some(
            per.iter()
                .map(|&(a, t)| (t > 0).then(|| a as f64 / t as f64))
                .collect(),
        );
        let _ = verdict; // the per-label verdicts of `pbit generate` use the same judge
    }
    q
}

#[derive(Serialize)]
struct LinkPerSample {
    round_trips: f64,
    bytes_out: f64,
    bytes_in: f64,
    machine_clocks: f64,
    /// Words the driver's cache kept off the wire (couplings already on the device).
    words_skipped: f64,
    /// The whole run's traffic by request kind (not per sample).
    traffic_by_kind: std::collections::BTreeMap<&'static str, pbit_host::link::KindStats>,
}

#[derive(Serialize)]
struct SampleReport {
    backend: &'static str,
    model: String,
    count: usize,
    steps: usize,
    sweeps: u64,
    /// Sweeps per sample, T × K.
    sweeps_per_sample: u64,
    seed: u64,
    label: Option<usize>,
    /// Exact KL(data ‖ generated) of the chain (every step mixed; ≤ 12 bits).
    kl: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<Quality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineSamples>,
    /// p-bits per step, and whether the T steps fit side by side on this backend's machine.
    n_per_step: usize,
    n_all_steps: usize,
    capacity: Option<usize>,
    fits_side_by_side: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link_per_sample: Option<LinkPerSample>,
    seconds: f64,
    out: String,
}

#[derive(Serialize)]
struct BaselineSamples {
    /// The single-step machine's exact KL (its stationary distribution).
    kl: Option<f64>,
    sweeps_per_sample: u64,
    quality: Quality,
}

fn run_sample(m: &MachineArgs, a: &SampleArgs) -> Result<()> {
    let t0 = Instant::now();
    if let Some(p) = &a.plot {
        pbit_host::plot::check_path(p)?;
    }
    let mut b = backend(m)?;
    let model = Model::read(&a.model, b.as_ref())?;
    let mf = &model.manifest;
    let layout: StepLayout = mf.layout;
    let usage0 = b.usage();
    let opts = GenerateOptions {
        count: a.count,
        label: a.label,
        sweeps: a.sweeps,
        seed: a.seed,
        trajectories: 6,
    };
    let bar = progress_bar(a.json, a.count as u64);
    let g = generate(b.as_mut(), &model, &opts, &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let usage1 = b.usage();
    let mut text = String::with_capacity(a.count * (layout.visible + 1));
    for s in &g.samples {
        text.extend(s.iter().map(|&p| if p { '1' } else { '0' }));
        text.push('\n');
    }
    std::fs::write(&a.out, &text).with_context(|| format!("cannot write {}", a.out.display()))?;

    // evaluation against the data
    let data_path = a.data.clone().or_else(|| {
        let p = PathBuf::from(&mf.data);
        p.exists().then_some(p)
    });
    let loaded = match &data_path {
        Some(p) => {
            let (d, im) = read_data(
                p,
                mf.threshold.unwrap_or(8),
                (layout.classes > 0).then_some(layout.classes),
            )?;
            if d.visible != layout.visible {
                bail!(
                    "{}: {} bits per vector, the model {}",
                    p.display(),
                    d.visible,
                    layout.visible
                );
            }
            Some((d, im))
        }
        None => None,
    };
    let beta_f = pbit_spec::Beta::from_f64(mf.beta)?.to_f64();
    let kl = match &loaded {
        Some((d, _)) => {
            exact::evaluate(&model.steps, &layout, &mf.schedule(), beta_f, d)?.map(|r| r.kl)
        }
        None => mf.kl,
    };
    let q = loaded
        .as_ref()
        .map(|(d, im)| quality(d, im.as_ref(), &g.samples, &g.labels, layout.classes));
    let sweeps_per_sample = a.sweeps * mf.steps as u64;
    let baseline = match (a.compare, &model.baseline, &loaded) {
        (false, _, _) => None,
        (true, None, _) => bail!(
            "--compare: {} has no baseline (train without --no-baseline, at most 12 visible bits)",
            a.model.display()
        ),
        (true, _, None) => bail!("--compare needs the data (--data FILE)"),
        (true, Some(bi), Some((d, im))) => {
            let s = generate_baseline(
                b.as_mut(),
                bi,
                layout.visible,
                layout.classes,
                &g.labels,
                sweeps_per_sample,
                a.seed,
                &model.page,
            )?;
            Some(BaselineSamples {
                kl: mf.baseline.as_ref().and_then(|x| x.kl),
                sweeps_per_sample,
                quality: quality(d, im.as_ref(), &s, &g.labels, layout.classes),
            })
        }
    };
    let link_per_sample = match (usage0, usage1) {
        (Some(u0), Some(u1)) => {
            let u = u1.since(&u0);
            let c = a.count as f64;
            Some(LinkPerSample {
                round_trips: u.traffic.round_trips() as f64 / c,
                bytes_out: u.traffic.total().bytes_out as f64 / c,
                bytes_in: u.traffic.total().bytes_in as f64 / c,
                machine_clocks: u.machine_clocks as f64 / c,
                words_skipped: u.words_skipped as f64 / c,
                traffic_by_kind: u.traffic.by_name(),
            })
        }
        _ => None,
    };
    let capacity = b.capacity();
    let n_all = layout.n() * mf.steps;
    if let Some(p) = &a.plot {
        let mut rows: Vec<Vec<Vec<bool>>> = g.trajectories.clone();
        rows.push(Vec::new());
        let per_row = 2 * (mf.steps + 1).max(8);
        rows.extend(
            g.samples
                .iter()
                .take(per_row * 6)
                .cloned()
                .collect::<Vec<_>>()
                .chunks(per_row)
                .map(|c| c.to_vec()),
        );
        pbit_host::plot::write(
            p,
            &pbit_host::plot::ImageRows {
                title: format!(
                    "pbit diffuse: {} steps x {} sweeps; top: noise -> sample, below: samples",
                    mf.steps, a.sweeps
                ),
                rows,
                width: mf.width,
            },
        )?;
    }
    let report = SampleReport {
        backend: b.name(),
        model: a.model.display().to_string(),
        count: a.count,
        steps: mf.steps,
        sweeps: a.sweeps,
        sweeps_per_sample,
        seed: a.seed,
        label: a.label,
        kl,
        quality: q,
        baseline,
        n_per_step: layout.n(),
        n_all_steps: n_all,
        capacity,
        fits_side_by_side: capacity.map(|c| n_all <= c),
        link_per_sample,
        seconds: t0.elapsed().as_secs_f64(),
        out: a.out.display().to_string(),
    };
    if a.json {
        return print_json(&report);
    }
    println!(
        "wrote {} samples to {} ({} steps x {} sweeps each)",
        a.count,
        a.out.display(),
        mf.steps,
        a.sweeps
    );
    if let Some(k) = report.kl {
        println!("exact KL(data || generated) {k:.5} (every step mixed)");
    }
    if let Some(q) = &report.quality {
        println!(
            "samples: empirical KL {}, valid {:.4}, distinct {:.4}, training copies {:.4}{}",
            q.empirical_kl.map_or("n/a".into(), |k| format!("{k:.5}")),
            q.valid,
            q.distinct,
            q.training_copies,
            q.agreement.map_or(String::new(), |x| format!(
                ", judge agrees with the label {x:.3}"
            ))
        );
    }
    if let Some(bl) = &report.baseline {
        println!(
            "single-step baseline at {} sweeps per sample: empirical KL {}, valid {:.4}{}",
            bl.sweeps_per_sample,
            bl.quality
                .empirical_kl
                .map_or("n/a".into(), |k| format!("{k:.5}")),
            bl.quality.valid,
            bl.quality
                .agreement
                .map_or(String::new(), |x| format!(", judge agreement {x:.3}"))
        );
    }
    if let Some(l) = &report.link_per_sample {
        println!(
            "per sample: {:.1} round trips, {:.0} bytes out, {:.0} bytes in, {:.0} machine clocks",
            l.round_trips, l.bytes_out, l.bytes_in, l.machine_clocks
        );
    }
    Ok(())
}

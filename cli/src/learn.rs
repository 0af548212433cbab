//! `pbit learn`: train a Boltzmann machine on the backend's samples and write it as an instance.

use crate::{backend, print_json, MachineArgs};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use pbit_host::digits::{self, Images, LabelledMachine, Layout};
use pbit_host::learn::{self, Data, LearnOptions, Method, Topology};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TopologyArg {
    /// Every pair coupled (a general Boltzmann machine; fully visible with --hidden 0).
    Full,
    /// Visible–visible and visible–hidden, no hidden–hidden.
    Semi,
    /// Visible–hidden only (restricted Boltzmann machine).
    Rbm,
    /// A sparse deep Boltzmann machine of maximum degree --degree: visible, then two hidden
    /// layers (⌈H/2⌉ and ⌊H/2⌋), adjacent layers sparsely coupled (docs/learning.md).
    Dbm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Contrastive divergence: negative chains start at the data.
    Cd,
    /// Persistent contrastive divergence: negative chains continue across steps.
    Pcd,
}

#[derive(Args)]
pub struct LearnArgs {
    /// Training vectors: one per line, `1`/`0` per visible unit (`#` comments, blank lines
    /// skipped); or a CSV of images (detected by its commas): grey levels, then the label.
    data: PathBuf,
    /// CSV: a pixel is 1 when its grey level is at least this.
    #[arg(long, default_value_t = 8)]
    threshold: u64,
    /// CSV: add label p-bits for K classes (labels 0..K−1, one-hot), after the pixels. With
    /// labels the defaults are the digits' (docs/learning.md): --hidden 128 --topology rbm
    /// --method cd --epochs 20 --lr 0.1 --batch 20 --chains 1 --init 0.05.
    #[arg(long)]
    classes: Option<usize>,
    /// Label p-bits per class (copies of the one-hot label; with --classes).
    #[arg(long, default_value_t = 1)]
    label_copies: usize,
    /// With --classes: classify this CSV after every epoch by sampling (the learning curve).
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Sweeps per image for --valid's accuracy per epoch.
    #[arg(long, default_value_t = 50)]
    valid_sweeps: u64,
    /// Hidden p-bits (after the visible ones in the learned file; visible + hidden at most
    /// 2^12, data vectors × chains × hidden at most 2^28; default 0, 128 with --classes).
    #[arg(long)]
    hidden: Option<usize>,
    /// Which pairs are coupled (default: full with no hidden units, semi with some).
    #[arg(long, value_enum)]
    topology: Option<TopologyArg>,
    /// --topology dbm: the most couplings per p-bit.
    #[arg(long, default_value_t = 8)]
    degree: usize,
    /// Default cd.
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Sweeps per negative phase (and per positive phase when hidden units couple; 1 to
    /// 2^32 − 1).
    #[arg(long, default_value_t = 1)]
    k: u64,
    /// Passes over the data (1 to 2^32 − 1; default 1000, 20 with --classes).
    #[arg(long)]
    epochs: Option<u64>,
    /// Learning rate (per unit of ⟨m_i m_j⟩ difference; default 0.5, 0.1 with --classes).
    #[arg(long)]
    lr: Option<f64>,
    /// The learning rate falls linearly to lr × this at the last epoch.
    #[arg(long, default_value_t = 0.1)]
    lr_final: f64,
    /// Data vectors per step (default: all of them, 20 with --classes; batch × chains at most
    /// 2^20, and batch × chains × p-bits at most 2^28).
    #[arg(long)]
    batch: Option<usize>,
    /// Chains per data vector in each phase (default 32, 1 with --classes).
    #[arg(long)]
    chains: Option<usize>,
    /// Initial couplings are uniform in ±this (default 0.5, 0.05 with --classes).
    #[arg(long = "init")]
    init_scale: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The machine's inverse temperature while learning; sample the result at the same β.
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// Compute the exact KL after every k-th epoch (and the last) only.
    #[arg(long, default_value_t = 1)]
    kl_every: u64,
    /// Write the learned machine here (instance format; visible p-bits 1..V, hidden after).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the learning curve (PNG or SVG by extension): the sampled --valid accuracy per
    /// epoch with --valid, else the exact KL per epoch where it is computed.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print a JSON report instead of per-epoch lines.
    #[arg(long)]
    json: bool,
}

/// `plain`, or `digits` for labelled images.
fn pick<T>(labelled: bool, plain: T, digits: T) -> T {
    if labelled {
        digits
    } else {
        plain
    }
}

/// The data a learning run trains on: plain vectors, or labelled images with their layout.
struct Loaded {
    data: Data,
    images: Option<(Images, usize)>,
}

fn load_data(a: &LearnArgs) -> Result<Loaded> {
    let text = std::fs::read_to_string(&a.data)
        .with_context(|| format!("{}: cannot read", a.data.display()))?;
    let name = a.data.display().to_string();
    if !digits::is_csv(&text) {
        if a.classes.is_some() || a.valid.is_some() {
            anyhow::bail!("{name}: --classes and --valid need a CSV of labelled images (grey levels, then the label)");
        }
        return Ok(Loaded {
            data: Data::parse(&text, &name)?,
            images: None,
        });
    }
    let classes = a.classes.unwrap_or(0);
    if a.label_copies == 0 {
        anyhow::bail!("--label-copies must be at least 1");
    }
    let images = Images::parse(&text, &name, a.threshold, a.classes)?;
    Ok(Loaded {
        data: images.to_data(classes, a.label_copies),
        images: Some((images, classes)),
    })
}

pub fn run(m: &MachineArgs, a: &LearnArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        pbit_host::plot::check_path(p)?;
    }
    let mut b = backend(m)?;
    let Loaded { data, images } = load_data(a)?;
    // labelled images get the digits' defaults (docs/learning.md)
    let labelled = images.as_ref().is_some_and(|(_, k)| *k > 0);
    let hidden = a.hidden.unwrap_or(pick(labelled, 0, 128));
    let topology = match a.topology {
        Some(TopologyArg::Full) => Topology::Full,
        Some(TopologyArg::Semi) => Topology::Semi,
        Some(TopologyArg::Rbm) => Topology::Rbm,
        Some(TopologyArg::Dbm) => Topology::Dbm { degree: a.degree },
        None if labelled => Topology::Rbm,
        None if hidden == 0 => Topology::Full,
        None => Topology::Semi,
    };
    let epochs = a.epochs.unwrap_or(pick(labelled, 1000, 20));
    let opts = LearnOptions {
        hidden,
        topology,
        method: match a.method.unwrap_or(MethodArg::Cd) {
            MethodArg::Cd => Method::Cd,
            MethodArg::Pcd => Method::Pcd,
        },
        k: a.k,
        epochs,
        lr: a.lr.unwrap_or(pick(labelled, 0.5, 0.1)),
        lr_final: a.lr_final,
        batch: a.batch.or(labelled.then_some(20)),
        chains_per_vector: a.chains.unwrap_or(pick(labelled, 32, 1)),
        init_scale: a.init_scale.unwrap_or(pick(labelled, 0.5, 0.05)),
        seed: a.seed,
        beta: a.beta,
        kl_every: a.kl_every,
    };
    let layout = images.as_ref().map(|(im, k)| Layout {
        pixels: im.pixel_count(),
        classes: *k,
        copies: if *k > 0 { a.label_copies } else { 0 },
        hidden,
        threshold: a.threshold,
        beta: a.beta,
        width: if im.pixel_count() == 64 {
            8
        } else {
            im.pixel_count()
        },
    });
    // the learning curve: sampled classification accuracy on --valid after every epoch
    let mut valid = match (&a.valid, &layout) {
        (Some(path), Some(l)) if l.classes > 0 => Some((
            Images::read(path, a.threshold, Some(l.classes))?,
            backend(m)?,
        )),
        (Some(_), _) => anyhow::bail!("--valid needs --classes"),
        _ => None,
    };
    let mut accuracy_per_epoch: Vec<Option<f64>> = Vec::new();
    let mut eval_error: Option<anyhow::Error> = None;
    let (json, kl_every) = (a.json, a.kl_every.max(1));
    let learned = learn::learn(b.as_mut(), &data, &opts, &mut |e| {
        let acc = match (&mut valid, &layout) {
            (Some((im, vb)), Some(l)) if eval_error.is_none() => {
                let text = e.ising.to_text(&[l.header()]);
                let r = LabelledMachine::parse(&text, "learned", vb.as_ref()).and_then(|lm| {
                    digits::classify(vb.as_mut(), &lm, im, a.valid_sweeps, 0, a.seed, &mut |_| {})
                });
                match r {
                    Ok(r) => Some(r.accuracy),
                    Err(err) => {
                        eval_error = Some(err.into());
                        None
                    }
                }
            }
            _ => None,
        };
        accuracy_per_epoch.push(acc);
        if !json {
            let due = e.epoch % kl_every == 0 || e.epoch == epochs;
            match (e.kl, acc) {
                (_, Some(acc)) => println!(
                    "epoch {} valid accuracy {acc:.4} ({} sweeps per image) lr {:.4}",
                    e.epoch, a.valid_sweeps, e.lr
                ),
                (Some(kl), None) => println!("epoch {} kl {kl:.5} lr {:.4}", e.epoch, e.lr),
                (None, None) if due && layout.is_none() => {
                    println!("epoch {} lr {:.4} (KL too large to compute)", e.epoch, e.lr)
                }
                (None, None) if due => println!("epoch {} lr {:.4}", e.epoch, e.lr),
                _ => {}
            }
        }
    })?;
    if let Some(e) = eval_error {
        return Err(e.context("classifying --valid after an epoch"));
    }
    let r = &learned.report;
    if let Some(path) = &a.plot {
        let (y, curve) = if valid.is_some() {
            (
                format!("valid accuracy ({} sweeps per image)", a.valid_sweeps),
                &accuracy_per_epoch,
            )
        } else {
            ("exact KL(data || model)".to_string(), &r.kl_per_epoch)
        };
        let points: Vec<(f64, f64)> = curve
            .iter()
            .enumerate()
            .filter_map(|(e, v)| v.map(|v| ((e + 1) as f64, v)))
            .collect();
        if points.is_empty() {
            anyhow::bail!(
                "{}: no curve to draw (KL too large to compute: give --valid with --classes)",
                path.display()
            );
        }
        pbit_host::plot::write(
            path,
            &pbit_host::plot::Lines {
                title: format!("pbit learn {}", r.data),
                x_label: "epoch".into(),
                y_label: y,
                series: vec![(String::new(), points)],
            },
        )?;
    }
    if let Some(path) = &a.out {
        let fmt_kl = |k: Option<f64>| k.map_or("not computed".to_string(), |k| format!("{k}"));
        let mut comments = vec![
            format!(
                "learned by pbit learn from {} ({} vectors): visible p-bits 1..{}, {}",
                r.data,
                r.vectors,
                r.visible,
                match r.hidden {
                    0 => "no hidden p-bits".to_string(),
                    h => format!("hidden {}..{}", r.visible + 1, r.visible + h),
                }
            ),
            format!(
                "topology {:?}, method {:?}-{}, {} epochs, lr {} -> {}, batch {}, {} chains per vector, seed {}, backend {}",
                r.topology, r.method, r.k, r.epochs, r.lr, r.lr * r.lr_final, r.batch,
                r.chains_per_vector, r.seed, r.backend
            )
            .to_lowercase(),
            format!(
                "sample at beta {}: exact KL(data || model) over the visible units {}",
                r.beta,
                fmt_kl(r.kl)
            ),
        ];
        if let Some(l) = &layout {
            comments.insert(0, l.header());
        }
        std::fs::write(path, learned.ising.to_text(&comments))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        #[derive(serde::Serialize)]
        struct WithCurve<'a> {
            #[serde(flatten)]
            report: &'a learn::LearnReport,
            #[serde(skip_serializing_if = "Option::is_none")]
            layout: Option<&'a Layout>,
            #[serde(skip_serializing_if = "Option::is_none")]
            accuracy_per_epoch: Option<&'a [Option<f64>]>,
        }
        print_json(&WithCurve {
            report: r,
            layout: layout.as_ref(),
            accuracy_per_epoch: valid.is_some().then_some(&accuracy_per_epoch[..]),
        })?;
    } else {
        if let Some(kl) = r.kl {
            println!(
                "KL(data || model) {kl:.5} (from {:.5}), data mass {:.4}",
                r.kl_initial.unwrap_or(f64::NAN),
                r.data_mass.unwrap_or(f64::NAN)
            );
        }
        println!(
            "{} couplings, {} clipped updates, {} values at a range limit",
            r.couplings, r.clipped_updates, r.at_limit
        );
        println!(
            "time {:.3} s: sampling {:.3} s, exact KL {:.3} s, host {:.3} s",
            r.seconds.total, r.seconds.sampling, r.seconds.kl, r.seconds.host
        );
        if let Some(link) = &r.link {
            let step = link.later_steps.as_ref().unwrap_or(&link.first_step);
            println!(
                "link per step{}: {:.0} round trips, {:.0} bytes out, {:.0} bytes in, {:.0} machine clocks; measured {:.1} ms",
                if link.later_steps.is_some() { " (after the first)" } else { "" },
                step.round_trips,
                step.bytes_out,
                step.bytes_in,
                step.machine_clocks,
                step.sampling_wall_ms
            );
            for p in &step.projected {
                println!(
                    "  on a board at {} baud, {} ms per round trip, {} MHz: {:.1} ms per step (line {:.1}, round trips {:.1}, machine {:.2})",
                    p.baud,
                    p.latency_ms,
                    p.clock_hz as f64 / 1e6,
                    p.total_ms,
                    p.wire_ms,
                    p.latency_total_ms,
                    p.machine_ms
                );
            }
        }
        if let Some(path) = &a.out {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

//! `pbit anneal` and `pbit maxcut`.

use crate::{backend, load, print_json, progress_bar, LoadArgs, MachineArgs};
use anyhow::Result;
use clap::{Args, ValueEnum};
use pbit_host::jobs::{self, AnnealOptions, Meaning};
use pbit_host::jobs::{AnnealReport, Loaded};
use pbit_model::schedule::Shape;
use pbit_model::{Backend, BackendError};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct AnnealArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Sweeps per read (1 to 2^32 − 1).
    #[arg(long, default_value_t = 1000)]
    sweeps: u64,
    /// Independent reads (1 to 2^20; reads × p-bits at most 2^28).
    #[arg(long, default_value_t = 8)]
    reads: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// First β (default: hot enough to flip the largest energy change often).
    #[arg(long, allow_negative_numbers = true)]
    beta_start: Option<f64>,
    /// Last β (default: cold enough to freeze the smallest energy change).
    #[arg(long, allow_negative_numbers = true)]
    beta_end: Option<f64>,
    #[arg(long, value_enum, default_value_t = ScheduleKind::Geometric)]
    schedule: ScheduleKind,
    /// Clamp p-bits, 1-based: `3=+1,7=-1`.
    #[arg(long, default_value = "")]
    clamp: String,
    #[arg(long)]
    json: bool,
    /// Draw the current and best energy against sweeps, one line per read (PNG or SVG by
    /// extension). The reads are run a second time, watched sweep by sweep (the same reads:
    /// their best energies are checked against the run's).
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Points per read of `--plot`'s energy traces (every ⌈sweeps/1000⌉-th sweep).
const PLOT_POINTS: u64 = 1000;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleKind {
    Linear,
    Geometric,
}

pub fn run(m: &MachineArgs, a: &AnnealArgs, meaning: Meaning) -> Result<()> {
    if let Some(p) = &a.plot {
        pbit_host::plot::check_path(p)?;
    }
    let mut b = backend(m)?;
    let loaded = load(&a.load, meaning, b.as_ref())?;
    let opts = AnnealOptions {
        sweeps: a.sweeps,
        reads: a.reads,
        seed: a.seed,
        beta_start: a.beta_start,
        beta_end: a.beta_end,
        shape: match a.schedule {
            ScheduleKind::Linear => Shape::Linear,
            ScheduleKind::Geometric => Shape::Geometric,
        },
        clamps: a.clamp.clone(),
    };
    let bar = progress_bar(a.json, a.sweeps.saturating_mul(a.reads));
    let report = jobs::anneal(b.as_mut(), &loaded, meaning, &opts, &|k| bar.inc(k))?;
    bar.finish_and_clear();
    if let Some(path) = &a.plot {
        plot_traces(m, b.as_mut(), &loaded, meaning, &opts, &report, path)?;
    }
    if a.json {
        print_json(&report)?;
    } else {
        if let Some(cut) = report.cut {
            println!("cut {cut}");
        }
        println!("best energy {}", report.best_energy);
        println!("best state {}", report.best_state);
        println!(
            "{} reads x {} sweeps in {:.3} s ({:.3e} updates/s)",
            report.reads, report.sweeps, report.seconds, report.updates_per_second
        );
    }
    Ok(())
}

/// `--plot`: the reads again, watched ([`jobs::anneal_trace`]). A device cannot stop between
/// sweeps: the dense model, bit-identical to it, runs the watched reads instead.
fn plot_traces(
    m: &MachineArgs,
    b: &mut dyn Backend,
    loaded: &Loaded,
    meaning: Meaning,
    opts: &AnnealOptions,
    report: &AnnealReport,
    path: &Path,
) -> Result<()> {
    let traced = match jobs::anneal_trace(b, loaded, opts, PLOT_POINTS) {
        Err(jobs::JobError::Backend(BackendError::Unsupported { backend, .. }))
            if m.machine == crate::MachineKind::Dense =>
        {
            eprintln!("note: --plot: the {backend} machine cannot stop between sweeps; the traces are the model's run of the same reads (bit-identical)");
            let mut model = pbit_model::ModelBackend {
                format: b.format(),
                threads: 1,
            };
            jobs::anneal_trace(&mut model, loaded, opts, PLOT_POINTS)?
        }
        r => r?,
    };
    let (traces, best) = traced;
    if best != report.energies {
        anyhow::bail!("--plot: the watched reads' best energies differ from the run's (a bug: please report it)");
    }
    let title = format!(
        "{}: {} p-bits, {} reads x {} sweeps, beta {:.3} to {:.3}",
        match meaning {
            Meaning::Couplings => "anneal",
            Meaning::CutWeights => "maxcut",
        },
        report.n,
        report.reads,
        report.sweeps,
        report.beta_start,
        report.beta_end
    );
    let reads = traces
        .into_iter()
        .map(|t| {
            (
                format!("read {}", t.read),
                t.points
                    .into_iter()
                    .map(|(s, e, b)| (s as f64, e, b))
                    .collect(),
            )
        })
        .collect();
    pbit_host::plot::write(path, &pbit_host::plot::EnergyTraces { title, reads })?;
    Ok(())
}

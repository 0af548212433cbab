//! `pbit sample`.

use crate::{backend, load, print_json, LoadArgs, MachineArgs};
use anyhow::{Context, Result};
use clap::Args;
use pbit_host::jobs::{self, Meaning, SampleOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct SampleArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Inverse temperature.
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    /// Sweeps after the burn-in (1 to 2^32 − 1; burn-in + sweeps at most 2^32 − 1).
    #[arg(long)]
    sweeps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Record the state after every k-th sweep (1 to 2^32 − 1).
    #[arg(long, default_value_t = 1)]
    every: u64,
    /// Sweeps run and discarded first (at most 2^32 − 1).
    #[arg(long, default_value_t = 0)]
    burn_in: u64,
    /// Clamp p-bits, 1-based: `3=+1,7=-1`.
    #[arg(long, default_value = "")]
    clamp: String,
    /// Write each recorded sample as a line of 1/0 (p-bits in index order).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
    /// Also report ⟨m_i m_j⟩ of every coupled pair (JSON `correlations`: 1-based i < j and the
    /// value). A sparse device with on-chip statistics forms them on the device.
    #[arg(long)]
    correlations: bool,
    /// Draw the sampled energies' histogram (PNG or SVG by extension) and, without clamps and
    /// for at most 24 p-bits, the sampled marginals against the exact ones beside it.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// `sample --plot` compares with the exact marginals up to this many p-bits (2^24 states take
/// about a second).
const PLOT_EXACT_MAX_N: usize = 24;

/// `sample --plot` keeps every recorded energy: at most this many samples.
const PLOT_MAX_SAMPLES: u64 = 1 << 24;

pub fn run(m: &MachineArgs, a: &SampleArgs) -> Result<()> {
    let mut b = backend(m)?;
    let loaded = load(&a.load, Meaning::Couplings, b.as_ref())?;
    let opts = SampleOptions {
        beta: a.beta,
        sweeps: a.sweeps,
        burn_in: a.burn_in,
        every: a.every,
        seed: a.seed,
        clamps: a.clamp.clone(),
        correlations: a.correlations,
    };
    if let Some(p) = &a.plot {
        pbit_host::plot::check_path(p)?;
        let samples = a.sweeps / a.every.max(1);
        if samples > PLOT_MAX_SAMPLES {
            anyhow::bail!("--plot keeps every recorded sample's energy: at most {PLOT_MAX_SAMPLES} samples (--sweeps / --every is {samples})");
        }
    }
    let mut energies = Vec::new();
    let keep = a.plot.is_some().then_some(&mut energies);
    let report = match &a.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let name = path.display().to_string();
            jobs::sample_keeping(b.as_mut(), &loaded, &opts, Some((&mut w, &name)), keep)?
        }
        None => jobs::sample_keeping(b.as_mut(), &loaded, &opts, None, keep)?,
    };
    if let Some(path) = &a.plot {
        use pbit_host::plot;
        let n = report.n;
        let exact = if !a.clamp.trim().is_empty() {
            eprintln!("note: --plot: clamped p-bits, so no exact marginals to compare with");
            None
        } else if n > PLOT_EXACT_MAX_N {
            eprintln!("note: --plot: {n} p-bits, more than the {PLOT_EXACT_MAX_N} the exact comparison enumerates");
            None
        } else {
            let ising = jobs::machine_ising(&loaded.fixed);
            Some(pbit_model::exact::exact(&ising, report.beta_effective)?)
        };
        let histogram = plot::Histogram {
            title: format!(
                "{} samples at beta {} ({} p-bits)",
                report.samples, report.beta, n
            ),
            x_label: "energy".into(),
            values: energies,
            bins: 40,
        };
        let scatter = exact.map(|e| plot::Scatter {
            title: "marginals <m_i>: sampled against exact".into(),
            x_label: "exact".into(),
            y_label: "sampled".into(),
            points: e
                .marginals
                .iter()
                .copied()
                .zip(report.marginals.iter().copied())
                .collect(),
        });
        plot::write(path, &plot::HistogramAndScatter { histogram, scatter })?;
    }
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "{} samples of {} p-bits at beta {}",
            report.samples, report.n, report.beta
        );
        println!("mean energy {}", report.mean_energy);
        let marginals: Vec<String> = report.marginals.iter().map(|x| format!("{x:.4}")).collect();
        println!("marginals {}", marginals.join(" "));
        if let Some(c) = &report.correlations {
            let pairs: Vec<String> = c
                .iter()
                .map(|p| format!("{}-{}:{:.4}", p.i, p.j, p.value))
                .collect();
            println!("correlations {}", pairs.join(" "));
        }
    }
    Ok(())
}

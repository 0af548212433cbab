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
}

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
    };
    let report = match &a.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let name = path.display().to_string();
            jobs::sample(b.as_mut(), &loaded, &opts, Some((&mut w, &name)))?
        }
        None => jobs::sample(b.as_mut(), &loaded, &opts, None)?,
    };
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
    }
    Ok(())
}

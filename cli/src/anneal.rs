//! `pbit anneal` and `pbit maxcut`.

use crate::{backend, load, print_json, progress_bar, LoadArgs, MachineArgs};
use anyhow::Result;
use clap::{Args, ValueEnum};
use pbit_host::jobs::{self, AnnealOptions, Meaning};
use pbit_model::schedule::Shape;

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
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleKind {
    Linear,
    Geometric,
}

pub fn run(m: &MachineArgs, a: &AnnealArgs, meaning: Meaning) -> Result<()> {
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

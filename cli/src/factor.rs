//! `pbit factor`: factor an integer by running a multiplier backwards.

use crate::{backend, print_json, MachineArgs};
use anyhow::Result;
use clap::Args;
use pbit_circuit::factor::{self, FactorOptions};

#[derive(Args)]
pub struct FactorArgs {
    /// The integer to factor.
    n: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Budget: total sweeps over all reads and restarts.
    #[arg(long, default_value_t = FactorOptions::default().max_sweeps)]
    max_sweeps: u64,
    /// Sweeps per read (1 to 2^32 − 1).
    #[arg(long, default_value_t = FactorOptions::default().sweeps)]
    sweeps: u64,
    /// Reads per round (each round restarts with a new seed, on the next width class; 1 to
    /// 2^20).
    #[arg(long, default_value_t = FactorOptions::default().reads)]
    reads: u64,
    /// β at the start of each read (gate energy gap 1).
    #[arg(long, default_value_t = FactorOptions::default().beta_start)]
    beta_start: f64,
    /// β at the end of each read.
    #[arg(long, default_value_t = FactorOptions::default().beta_end)]
    beta_end: f64,
    /// Share of the rounds for balanced width classes: class [wp, wq] gets rounds in proportion
    /// to 2^(bias·(wp − 2)) (0 to 4; 0 = the classes in turn).
    #[arg(long, default_value_t = FactorOptions::default().class_bias)]
    class_bias: f64,
    #[arg(long)]
    json: bool,
}

pub fn run(m: &MachineArgs, a: &FactorArgs) -> Result<()> {
    let mut b = backend(m)?;
    let opts = FactorOptions {
        seed: a.seed,
        max_sweeps: a.max_sweeps,
        sweeps: a.sweeps,
        reads: a.reads,
        beta_start: a.beta_start,
        beta_end: a.beta_end,
        class_bias: a.class_bias,
        ..FactorOptions::default()
    };
    let report = factor::factor(b.as_mut(), a.n, &opts)?;
    if a.json {
        print_json(&report)?;
    } else {
        let [p, q] = report.factors;
        println!("{} = {p} × {q}", report.n);
        eprintln!(
            "found in the {} × {}-bit class ({} p-bits), {} sweeps in {} rounds of {} reads, {:.3} s",
            report.widths[0],
            report.widths[1],
            report.pbits,
            report.sweeps,
            report.rounds,
            report.reads,
            report.seconds
        );
    }
    Ok(())
}

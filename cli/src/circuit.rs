//! `pbit circuit`: run a yosys JSON netlist with some ports clamped.

use crate::{backend, print_json, MachineArgs};
use anyhow::Result;
use clap::Args;
use pbit_circuit::run::{self, RunOptions};
use pbit_circuit::yosys;
use std::path::PathBuf;

#[derive(Args)]
pub struct CircuitArgs {
    /// A gate-level netlist in yosys' JSON format (`synth; abc -g AND,OR,XOR,MUX; write_json`).
    file: PathBuf,
    /// Ports to hold, by name, values in decimal: `s=9,c=1`.
    #[arg(long, default_value = "")]
    clamp: String,
    /// The module to run (default: the one marked top, or the only one).
    #[arg(long)]
    top: Option<String>,
    /// Samples (independent annealing reads; 1 to 2^20).
    #[arg(long, default_value_t = RunOptions::default().samples)]
    samples: u64,
    /// Sweeps per sample (1 to 2^32 − 1).
    #[arg(long, default_value_t = RunOptions::default().sweeps)]
    sweeps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(m: &MachineArgs, a: &CircuitArgs) -> Result<()> {
    let mut b = backend(m)?;
    let circuit = yosys::read(&a.file, a.top.as_deref())?;
    let compiled = circuit.compile(&b.format())?;
    let opts = RunOptions {
        seed: a.seed,
        samples: a.samples,
        sweeps: a.sweeps,
        ..RunOptions::default()
    };
    let report = run::run(b.as_mut(), &compiled, &a.clamp, &opts)?;
    if a.json {
        print_json(&report)?;
        return Ok(());
    }
    match &report.best {
        Some(best) => {
            let text: Vec<String> = best
                .values
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            println!(
                "{}  (seen in {} of {} samples; {} consistent)",
                if text.is_empty() {
                    "(no free ports)".to_string()
                } else {
                    text.join(" ")
                },
                best.count,
                report.samples,
                report.consistent
            );
        }
        None => println!(
            "no consistent assignment in {} samples (are the clamps satisfiable?)",
            report.samples
        ),
    }
    Ok(())
}

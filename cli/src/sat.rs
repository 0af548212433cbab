//! `pbit sat`: DIMACS CNF in, SAT-competition output out.

use crate::{backend, print_json, MachineArgs};
use anyhow::{bail, Result};
use clap::Args;
use pbit_circuit::cnf::{self, Cnf, SatOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct SatArgs {
    /// A DIMACS CNF file (at most 2^24 variables).
    file: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Budget: total sweeps over all reads and restarts; then `s UNKNOWN`.
    #[arg(long, default_value_t = SatOptions::default().max_sweeps)]
    max_sweeps: u64,
    /// Sweeps per read (1 to 2^32 − 1).
    #[arg(long, default_value_t = SatOptions::default().sweeps)]
    sweeps: u64,
    /// Reads per round (each round restarts with a new seed; 1 to 2^20).
    #[arg(long, default_value_t = SatOptions::default().reads)]
    reads: u64,
    /// A JSON report instead of the competition output.
    #[arg(long)]
    json: bool,
}

pub fn run(m: &MachineArgs, a: &SatArgs) -> Result<()> {
    let mut b = backend(m)?;
    let formula = Cnf::read(&a.file)?;
    let opts = SatOptions {
        seed: a.seed,
        max_sweeps: a.max_sweeps,
        sweeps: a.sweeps,
        reads: a.reads,
        ..SatOptions::default()
    };
    let report = cnf::solve(b.as_mut(), &formula, &opts)?;
    // never print an assignment that has not been checked against every clause
    if let Some(assignment) = &report.assignment {
        if let Some(c) = formula.first_violated(assignment) {
            bail!("internal error: the assignment violates clause {}", c + 1);
        }
    }
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "c pbit: {} variables, {} clauses, {} p-bits, {} sweeps, {:.3} s on {}",
            report.vars,
            report.clauses,
            report.pbits,
            report.sweeps,
            report.seconds,
            report.backend
        );
        print!("{}", report.competition_output());
    }
    // every answer (SATISFIABLE, UNSATISFIABLE, UNKNOWN) exits 0; errors exit non-zero
    Ok(())
}

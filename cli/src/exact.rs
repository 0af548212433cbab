//! `pbit exact` and `pbit meanfield`: host-side math, no backend.

use crate::{print_json, MachineArgs};
use anyhow::{bail, Result};
use clap::Args;
use pbit_model::Ising;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExactArgs {
    file: PathBuf,
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    #[arg(long)]
    json: bool,
}

/// `pbit exact --json`.
#[derive(Serialize)]
struct ExactReport {
    n: usize,
    beta: f64,
    log_z: f64,
    /// −ln Z / β.
    free_energy: f64,
    mean_energy: f64,
    entropy: f64,
    ground_energy: f64,
    /// Number of states at the ground energy.
    ground_states: u64,
    /// The lowest-index ground state, 1/0 per p-bit.
    ground_state: String,
    marginals: Vec<f64>,
}

/// `pbit meanfield --json`.
#[derive(Serialize)]
struct MeanFieldReport {
    n: usize,
    beta: f64,
    marginals: Vec<f64>,
    /// Naive mean-field free energy E_MF − S/β (an upper bound on the exact F).
    free_energy: f64,
    energy: f64,
    entropy: f64,
    iterations: usize,
    converged: bool,
}

fn no_backend(m: &MachineArgs) -> Result<()> {
    if m.backend.is_some() {
        bail!("exact and meanfield are host-side math and take no --backend");
    }
    Ok(())
}

pub fn run_exact(m: &MachineArgs, a: &ExactArgs) -> Result<()> {
    no_backend(m)?;
    let ising = Ising::read(&a.file)?;
    let r = pbit_model::exact::exact(&ising, a.beta)?;
    if a.json {
        print_json(&ExactReport {
            n: r.n,
            beta: r.beta,
            log_z: r.log_z,
            free_energy: r.free_energy,
            mean_energy: r.mean_energy,
            entropy: r.entropy,
            ground_energy: r.ground_energy,
            ground_states: r.ground_states,
            ground_state: pbit_model::spins_to_string(&r.ground_state),
            marginals: r.marginals.to_vec(),
        })?;
    } else {
        println!("ln Z {}", r.log_z);
        println!("free energy {}", r.free_energy);
        println!("mean energy {}", r.mean_energy);
        println!(
            "ground energy {} ({} states)",
            r.ground_energy, r.ground_states
        );
    }
    Ok(())
}

pub fn run_meanfield(m: &MachineArgs, a: &ExactArgs) -> Result<()> {
    no_backend(m)?;
    let ising = Ising::read(&a.file)?;
    let r = pbit_model::meanfield::mean_field(&ising, a.beta, &Default::default())?;
    if a.json {
        print_json(&MeanFieldReport {
            n: ising.n,
            beta: a.beta,
            marginals: r.marginals.to_vec(),
            free_energy: r.free_energy,
            energy: r.energy,
            entropy: r.entropy,
            iterations: r.iterations,
            converged: r.converged,
        })?;
    } else {
        println!("free energy {} (mean field)", r.free_energy);
        println!("{} iterations, converged: {}", r.iterations, r.converged);
        let marginals: Vec<String> = r.marginals.iter().map(|x| format!("{x:.4}")).collect();
        println!("marginals {}", marginals.join(" "));
    }
    Ok(())
}

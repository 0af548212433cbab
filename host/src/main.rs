//! The `pbit` command line: a thin layer over pbit-host, pbit-model and pbit-spec.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pbit_host::backend::{Backend, ModelBackend};
use pbit_host::jobs::{self, AnnealOptions, Loaded, Meaning, SampleOptions};
use pbit_model::schedule::Shape;
use pbit_model::{Ising, Scaling};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pbit",
    version,
    about = "An open, scriptable p-bit probabilistic computer"
)]
struct Cli {
    /// Machine to run on (sample, anneal, maxcut): the bit-exact software model by default.
    #[arg(long, global = true, value_enum, env = "PBIT_BACKEND")]
    backend: Option<BackendKind>,
    /// Worker threads for the model backend (default: all cores). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendKind {
    /// The bit-exact software model (default).
    Model,
}

#[derive(Subcommand)]
enum Command {
    /// Gibbs-sample an instance with the machine's p-bit rule.
    Sample(SampleArgs),
    /// Anneal an instance and report the lowest energy found.
    Anneal(AnnealArgs),
    /// Max-Cut of a weighted graph (G-set format) by annealing.
    Maxcut(AnnealArgs),
    /// Exact enumeration: ln Z, free energy, mean energy, ground states, marginals.
    Exact(ExactArgs),
    /// Naive mean-field fixed point: marginals and free-energy estimate.
    Meanfield(ExactArgs),
}

#[derive(Args)]
struct LoadArgs {
    /// Instance file: `N M`, M lines `i j value` (1-based), then `h i value` lines.
    file: PathBuf,
    /// Scale all values by a power of two (β compensated) and round to the machine's grid when
    /// the file's values are not exact in its fixed point; the scale and error are reported.
    #[arg(long)]
    rescale: bool,
}

#[derive(Args)]
struct SampleArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Inverse temperature.
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    /// Sweeps after the burn-in.
    #[arg(long)]
    sweeps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Record the state after every k-th sweep.
    #[arg(long, default_value_t = 1)]
    every: u64,
    /// Sweeps run and discarded first.
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

#[derive(Args)]
struct AnnealArgs {
    #[command(flatten)]
    load: LoadArgs,
    #[arg(long, default_value_t = 1000)]
    sweeps: u64,
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

#[derive(Args)]
struct ExactArgs {
    file: PathBuf,
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn backend(cli: &Cli) -> Result<Box<dyn Backend>> {
    match cli.backend.unwrap_or(BackendKind::Model) {
        BackendKind::Model => {
            let mut b = ModelBackend::default();
            if let Some(t) = cli.threads {
                if t == 0 {
                    bail!("--threads must be at least 1");
                }
                b.threads = t;
            }
            Ok(Box::new(b))
        }
    }
}

fn load(args: &LoadArgs, meaning: Meaning, backend: &dyn Backend) -> Result<Loaded> {
    let scaling = if args.rescale {
        Scaling::Rescale
    } else {
        Scaling::Exact
    };
    let loaded = jobs::load(&args.file, meaning, backend.format(), scaling)?;
    if let Some(r) = loaded.fixed.rescaling {
        eprintln!("note: {}: {r}", args.file.display());
    }
    Ok(loaded)
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Exact(a) | Command::Meanfield(a) if cli.backend.is_some() => {
            let _ = a;
            bail!("exact and meanfield are host-side math and take no --backend")
        }
        Command::Sample(a) => {
            let mut b = backend(&cli)?;
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
                let m: Vec<String> = report.marginals.iter().map(|x| format!("{x:.4}")).collect();
                println!("marginals {}", m.join(" "));
            }
        }
        Command::Anneal(a) | Command::Maxcut(a) => {
            let meaning = if matches!(cli.command, Command::Maxcut(_)) {
                Meaning::CutWeights
            } else {
                Meaning::Couplings
            };
            let mut b = backend(&cli)?;
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
        }
        Command::Exact(a) => {
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
                    marginals: r.marginals.clone(),
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
        }
        Command::Meanfield(a) => {
            let ising = Ising::read(&a.file)?;
            let r = pbit_model::meanfield::mean_field(&ising, a.beta, &Default::default())?;
            if a.json {
                print_json(&MeanFieldReport {
                    n: ising.n,
                    beta: a.beta,
                    marginals: r.marginals.clone(),
                    free_energy: r.free_energy,
                    energy: r.energy,
                    entropy: r.entropy,
                    iterations: r.iterations,
                    converged: r.converged,
                })?;
            } else {
                println!("free energy {} (mean field)", r.free_energy);
                println!("{} iterations, converged: {}", r.iterations, r.converged);
                let m: Vec<String> = r.marginals.iter().map(|x| format!("{x:.4}")).collect();
                println!("marginals {}", m.join(" "));
            }
        }
    }
    Ok(())
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

/// A progress bar on a terminal; hidden when stderr is piped or JSON is asked for.
fn progress_bar(json: bool, total: u64) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {percent}% sweeps×reads {pos}/{len} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let _ = std::io::stderr().flush();
    bar
}

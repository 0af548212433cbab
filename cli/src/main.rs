//! The `pbit` command line: a thin layer over pbit-host, pbit-model and pbit-spec. One file per
//! command; this file holds the global flags and what the commands share. The only crate that
//! uses clap, anyhow and indicatif.
//!
//! Features (all on by default): `verilator` (`--backend verilator`, `pbit sim serve`),
//! `serial` (`--backend serial`, `pbit info`), `boards` (`pbit hdl build`, `pbit hdl flash`).

mod anneal;
#[cfg(feature = "serial")]
mod check;
mod circuit;
mod classify;
mod diffuse;
mod exact;
mod factor;
mod generate;
mod graph;
mod hdl;
#[cfg(feature = "serial")]
mod info;
mod learn;
mod sample;
mod sat;
#[cfg(feature = "verilator")]
mod sim;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pbit_host::cost::MeteredBackend;
use pbit_host::jobs::{self, Loaded, Meaning};
use pbit_host::serial::DEFAULT_BAUD;
use pbit_model::Scaling;
use pbit_model::{Backend, ModelBackend};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pbit",
    version,
    about = "An open, scriptable p-bit probabilistic computer"
)]
pub struct Cli {
    #[command(flatten)]
    pub machine: MachineArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags that choose the machine; global, so they go before or after the command.
#[derive(Args)]
pub struct MachineArgs {
    /// Machine to run on (sample, anneal, maxcut, …): the bit-exact software model by default.
    #[arg(long, global = true, value_enum, env = "PBIT_BACKEND")]
    pub backend: Option<BackendKind>,
    /// Worker threads for the model backend (default: all cores). Results do not depend on it.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Machine size (p-bits) of the verilator backend (default: the smallest that holds the
    /// instance); smaller instances run on it with the same results.
    #[arg(long, global = true)]
    pub machine_n: Option<usize>,
    /// Write a waveform of the verilator backend's run to this file (`.vcd`, or `.fst` for
    /// GTKWave's compressed format): the machine's signals from its first clock. The traced
    /// machine is a separate Verilator build; without --trace nothing is traced.
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Clocks the waveform covers (bus cycles and runs, from the machine's first clock).
    #[arg(long, global = true, default_value_t = 100_000, value_name = "K")]
    pub trace_clocks: u64,
    /// Serial port of the device for the serial backend and `pbit info` (a board's UART, or
    /// the tty `pbit sim serve` prints).
    #[arg(long, global = true, env = "PBIT_PORT")]
    pub port: Option<String>,
    /// Baud rate of the serial link.
    #[arg(long, global = true, env = "PBIT_BAUD", default_value_t = DEFAULT_BAUD)]
    pub baud: u32,
    /// Which machine: the dense one (one p-bit per clock, all pairs) or the sparse,
    /// graph-coloured one (a colour class per phase; docs/spec.md).
    #[arg(long, global = true, value_enum, env = "PBIT_MACHINE", default_value_t = MachineKind::Dense)]
    pub machine: MachineKind,
    /// Sparse machine: its maximum degree D. Optimisation commands (anneal, maxcut, factor,
    /// circuit, sat) run a graph beyond D with copy p-bits on ferromagnetic chains; sample and
    /// learn refuse it. The model's default is no limit.
    #[arg(long, global = true)]
    pub max_degree: Option<usize>,
    /// Sparse machine: the graph it is built for (an instance file; every listed pair is an
    /// edge). Default: the instance's own graph.
    #[arg(long, global = true)]
    pub graph: Option<PathBuf>,
    /// Sparse machine: the copy strength of sparsification chains, in the instance's units
    /// (default: twice the largest |J| at a split p-bit, capped at J_max).
    #[arg(long, global = true)]
    pub copy_strength: Option<f64>,
    /// Sparse machine: the gateware's update lanes L (a colour's p-bits L at a time,
    /// ⌈|colour| / L⌉ clocks a phase) for `--backend verilator`, `sim serve` and `hdl
    /// emit|build`; 0: one update cell per p-bit. Default: one cell per p-bit (`hdl build`:
    /// the board's). Results never depend on it; it is how the gateware is built.
    #[arg(long, global = true)]
    pub lanes: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MachineKind {
    /// Today's machine: sequential updates, any pair coupled (default).
    Dense,
    /// The graph-coloured machine: one colour class per phase, couplings on its graph's edges.
    Sparse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The bit-exact software model (default).
    Model,
    /// The gateware's Verilog run in Verilator (needs `verilator` and `g++` at run time).
    Verilator,
    /// A device on a serial port (`--port`, `--baud`): a board, or the simulated board.
    Serial,
}

#[derive(Subcommand)]
enum Command {
    /// Gibbs-sample an instance with the machine's p-bit rule.
    Sample(sample::SampleArgs),
    /// Anneal an instance and report the lowest energy found.
    Anneal(anneal::AnnealArgs),
    /// Max-Cut of a weighted graph (G-set format) by annealing.
    Maxcut(anneal::AnnealArgs),
    /// Exact enumeration: ln Z, free energy, mean energy, ground states, marginals.
    Exact(exact::ExactArgs),
    /// Naive mean-field fixed point: marginals and free-energy estimate.
    Meanfield(exact::ExactArgs),
    /// Factor an integer by running an invertible multiplier backwards.
    Factor(factor::FactorArgs),
    /// Run a yosys JSON netlist with ports clamped by name (forwards or backwards).
    Circuit(circuit::CircuitArgs),
    /// Solve a DIMACS CNF formula (SAT-competition output).
    Sat(sat::SatArgs),
    /// The gateware: emit its Verilog.
    #[command(subcommand)]
    Hdl(hdl::HdlCommand),
    /// What the device on `--port` reports: protocol version, N, formats, spec hash, clock.
    #[cfg(feature = "serial")]
    Info(info::InfoArgs),
    /// Check a board: a fixed set of jobs on the device and on the model, compared byte for
    /// byte; prints PASS or the first difference, the device's identity and spec hash, and the
    /// link's throughput (exit status 1 on a difference).
    #[cfg(feature = "serial")]
    Check(check::CheckArgs),
    /// Train a Boltzmann machine on data vectors with the machine's own samples (CD/PCD).
    Learn(learn::LearnArgs),
    /// Classify labelled images by clamping their pixels and sampling the label p-bits.
    Classify(classify::ClassifyArgs),
    /// Generate images of a class by clamping its label p-bits and sampling the pixels.
    Generate(generate::GenerateArgs),
    /// Denoising diffusion: a chain of conditional Boltzmann machines (train, sample).
    #[command(subcommand)]
    Diffuse(diffuse::DiffuseCommand),
    /// The sparse machine an instance (or graph file) gets: n, degree, colours, graph hash.
    Graph(graph::GraphArgs),
    /// The simulated board: `pbit sim serve` runs it behind a pseudo-terminal.
    #[cfg(feature = "verilator")]
    #[command(subcommand)]
    Sim(sim::SimCommand),
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

fn run(cli: Cli) -> Result<()> {
    let m = &cli.machine;
    match &cli.command {
        Command::Sample(a) => sample::run(m, a),
        Command::Anneal(a) => anneal::run(m, a, Meaning::Couplings),
        Command::Maxcut(a) => anneal::run(m, a, Meaning::CutWeights),
        Command::Exact(a) => exact::run_exact(m, a),
        Command::Meanfield(a) => exact::run_meanfield(m, a),
        Command::Factor(a) => factor::run(m, a),
        Command::Circuit(a) => circuit::run(m, a),
        Command::Sat(a) => sat::run(m, a),
        Command::Hdl(c) => hdl::run(m, c),
        Command::Learn(a) => learn::run(m, a),
        #[cfg(feature = "serial")]
        Command::Info(a) => info::run(m, a),
        #[cfg(feature = "serial")]
        Command::Check(a) => check::run(m, a),
        #[cfg(feature = "verilator")]
        Command::Sim(c) => sim::run(m, c),
        Command::Graph(a) => graph::run(m, a),
        Command::Classify(a) => classify::run(m, a),
        Command::Generate(a) => generate::run(m, a),
        Command::Diffuse(c) => diffuse::run(m, c),
    }
}

/// The backend the flags choose.
pub fn backend(m: &MachineArgs) -> Result<Box<dyn MeteredBackend>> {
    if m.machine == MachineKind::Sparse {
        return graph::sparse_backend(m);
    }
    if m.max_degree.is_some() || m.graph.is_some() || m.copy_strength.is_some() || m.lanes.is_some()
    {
        bail!("--max-degree, --graph, --copy-strength and --lanes describe the sparse machine: add --machine sparse");
    }
    let kind = m.backend.unwrap_or(BackendKind::Model);
    if m.trace.is_some() && kind != BackendKind::Verilator {
        bail!("--trace writes the verilator backend's waveform: add --backend verilator");
    }
    match kind {
        BackendKind::Model => {
            let mut b = ModelBackend::default();
            if let Some(t) = m.threads {
                if t == 0 {
                    bail!("--threads must be at least 1");
                }
                b.threads = t;
            }
            Ok(Box::new(b))
        }
        #[cfg(feature = "verilator")]
        BackendKind::Verilator => {
            let trace = match &m.trace {
                Some(path) => Some(pbit_sim::Trace::new(path, m.trace_clocks)?),
                None => None,
            };
            Ok(Box::new(pbit_host::verilator::VerilatorBackend::traced(
                m.machine_n,
                trace,
            )?))
        }
        #[cfg(feature = "serial")]
        BackendKind::Serial => Ok(Box::new(pbit_host::serial::SerialBackend::open(
            &port(m)?,
            m.baud,
        )?)),
        #[allow(unreachable_patterns)]
        kind => bail!("this pbit was built without the {kind:?} backend (cargo feature `verilator` or `serial` of pbit-cli)"),
    }
}

/// The serial port the flags name.
pub fn port(m: &MachineArgs) -> Result<String> {
    match &m.port {
        Some(p) => Ok(p.clone()),
        None => bail!("no serial port: give --port PATH (or set PBIT_PORT)"),
    }
}

/// An instance file and how to load it for the machine.
#[derive(Args)]
pub struct LoadArgs {
    /// Instance file: `N M`, M lines `i j value` (1-based), then `h i value` lines (N at most
    /// 2^24, M at most 2^28).
    pub file: PathBuf,
    /// Scale all values by a power of two (β compensated) and round to the machine's grid when
    /// the file's values are not exact in its fixed point; the scale and error are reported.
    #[arg(long)]
    pub rescale: bool,
}

/// Loads an instance for `backend`, reporting any rescaling on stderr.
pub fn load(args: &LoadArgs, meaning: Meaning, backend: &dyn Backend) -> Result<Loaded> {
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

pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A progress bar on a terminal; hidden when stderr is piped or JSON is asked for.
pub fn progress_bar(json: bool, total: u64) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {percent}% {pos}/{len} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// `classify --plot`: the confusion matrix.
pub fn plot_confusion(path: &std::path::Path, r: &pbit_host::digits::ClassifyReport) -> Result<()> {
    use pbit_host::plot;
    plot::write(
        path,
        &plot::Matrix {
            title: format!(
                "confusion: accuracy {:.3} of {}, {} sweeps per image",
                r.accuracy, r.n, r.sweeps_per_image
            ),
            cells: r.confusion.clone(),
        },
    )?;
    Ok(())
}

/// `generate --plot`: the images in a grid.
pub fn plot_images(
    path: &std::path::Path,
    title: String,
    images: &[Vec<bool>],
    width: usize,
) -> Result<()> {
    use pbit_host::plot;
    plot::write(
        path,
        &plot::ImageGrid {
            title,
            images: images.to_vec(),
            width,
        },
    )?;
    Ok(())
}

//! `pbit sim`: the simulated board.

use crate::MachineArgs;
use anyhow::Result;
use clap::Subcommand;
use std::sync::atomic::AtomicBool;

#[derive(Subcommand)]
pub enum SimCommand {
    /// Run the Verilated core top (machine + UART + command decoder, bits on the wire
    /// simulated) behind a pseudo-terminal; print the tty path and serve until stopped
    /// (Ctrl-C). Talk to it with `--backend serial --port PATH` at the same `--baud`.
    Serve {
        /// p-bits of the machine (32, 64, 128 or 256).
        #[arg(long, default_value_t = pbit_sim::board::DEFAULT_N)]
        n: usize,
        /// The generation clock the board reports (its UART divisor is clock / baud).
        #[arg(long, default_value_t = pbit_sim::board::DEFAULT_CLOCK_HZ)]
        clock_hz: u32,
        /// Leave the batch engine out (the iCEBreaker's core top: relax jobs and learning
        /// then take the host-side path).
        #[arg(long)]
        no_batch_engine: bool,
    },
}

pub fn run(m: &MachineArgs, c: &SimCommand) -> Result<()> {
    match c {
        SimCommand::Serve {
            n,
            clock_hz,
            no_batch_engine,
        } => {
            static STOP: AtomicBool = AtomicBool::new(false);
            if m.machine == crate::MachineKind::Sparse {
                let Some((graph, colouring)) = crate::graph::graph_file(m)? else {
                    anyhow::bail!("pbit sim serve --machine sparse needs --graph FILE: the graph its machine is built for");
                };
                let d = m.max_degree.unwrap_or_else(|| graph.max_degree()).max(1);
                pbit_model::sparse::check_degree(&graph, d)?;
                eprintln!(
                    "building the simulated sparse board (n = {}, {} edges, max degree {d}, {} colours ({}), graph {:016x}, {}, {clock_hz} Hz, {} baud)…",
                    graph.n(),
                    graph.edges().len(),
                    graph.colour_count(),
                    colouring.method.name(),
                    graph.hash(),
                    match m.lanes.filter(|&l| l > 0) {
                        Some(l) => format!("{l} update lanes"),
                        None => "one update cell per p-bit".into(),
                    },
                    m.baud
                );
                let options = pbit_sim::board::ServeOptions {
                    n: graph.n(),
                    baud: m.baud,
                    clock_hz: *clock_hz,
                    batch: false,
                    sparse: Some((graph, d)),
                    lanes: m.lanes.filter(|&l| l > 0),
                };
                pbit_sim::board::serve(options, &STOP, |path| {
                    println!("{}", path.display());
                    eprintln!("serving on {} (Ctrl-C stops)", path.display());
                })?;
                return Ok(());
            }
            let options = pbit_sim::board::ServeOptions {
                n: *n,
                baud: m.baud,
                clock_hz: *clock_hz,
                batch: !*no_batch_engine,
                sparse: None,
                lanes: None,
            };
            eprintln!(
                "building the simulated board (N = {n}, {clock_hz} Hz, {} baud, {})…",
                m.baud,
                if *no_batch_engine {
                    "no batch engine"
                } else {
                    "batch engine"
                }
            );
            pbit_sim::board::serve(options, &STOP, |path| {
                println!("{}", path.display());
                eprintln!("serving on {} (Ctrl-C stops)", path.display());
            })?;
        }
    }
    Ok(())
}

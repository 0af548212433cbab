//! `pbit hdl`: the gateware: emit its Verilog, build a board's bitstream, flash a board.

#[cfg(feature = "boards")]
use anyhow::Context;
use anyhow::{bail, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum HdlCommand {
    /// Write the Verilog of a machine of N p-bits (the core top: machine and bus); with
    /// `--machine sparse --graph FILE`, the sparse machine built for that graph.
    Emit {
        /// p-bits of the machine (one of the generated sizes: 32, 64, 128, 256); not for
        /// --machine sparse (its size is the graph's).
        #[arg(long)]
        n: Option<usize>,
        /// Directory to write `pbit_n{N}.v` into.
        #[arg(long, default_value = "build/hdl")]
        out: PathBuf,
    },
    #[cfg(feature = "boards")]
    /// Build a board's bitstream: core top + shell, yosys, nextpnr, packer; then a report
    /// (Fmax against the board clock, slack, LUT/FF/BRAM/DSP use, updates/s).
    Build {
        /// ulx3s (ECP5-85F) or icebreaker (iCE40 UP5K).
        #[arg(long)]
        board: String,
        /// p-bits of the machine (default: the board's profile).
        #[arg(long)]
        n: Option<usize>,
        /// UART rate (default: the board's profile; must divide the clock within 1.5%).
        #[arg(long)]
        baud: Option<u32>,
        /// Run the core from the board's PLL at this frequency (MHz): the nearest the PLL's
        /// dividers make is the build's clock_mhz (ULX3S EHXPLLL 10–400 MHz from 25 MHz,
        /// iCEBreaker SB_PLL40_PAD 16–275 MHz from 12 MHz). Default: the oscillator, no PLL.
        #[arg(long)]
        clock_mhz: Option<f64>,
        /// Directory for the Verilog, logs and bitstream (default build/<board>-n<N>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the plan (files and commands) and stop.
        #[arg(long)]
        plan: bool,
        /// Run yosys and nextpnr at normal priority (default: `nice -n 19`).
        #[arg(long)]
        no_nice: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// nextpnr's router: router1 (nextpnr's default) or router2 (much faster on large
        /// designs: the 512-p-bit sparse ULX3S build routes in minutes).
        #[arg(long, value_parser = ["router1", "router2"], default_value = "router1")]
        router: String,
        /// nextpnr's placement seed (`--seed`). A routed Fmax moves by a few MHz with it, so a
        /// clock near the limit is worth a few seeds; a build is reproduced by its seed.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// --machine sparse: build the on-chip statistics (a counter per p-bit and per edge;
        /// `sample` then reads sums instead of every sample). Off by default on boards.
        #[arg(long)]
        stats: bool,
        /// --machine sparse: two-stage lanes (16 or more) keep their couplings in block-RAM
        /// banks instead of LUT RAM (fewer LUTs, more block RAM; docs/hdl.md "Coupling banks").
        #[arg(long)]
        coupling_banks: bool,
    },
    /// Print the memory map of a machine of N p-bits (regions, registers, access, widths,
    /// resets, value rules, capabilities), from the table in spec/src/regmap.rs. With
    /// `--machine sparse --graph FILE`: the sparse machine of that graph (its rows of
    /// capability `sparse` and its spec hash; --n is the graph's).
    Regmap {
        /// p-bits of the machine (32, 64, 128, 256).
        #[arg(long, default_value_t = 256)]
        n: usize,
        /// The machine without the batch engine (the iCEBreaker's core).
        #[arg(long)]
        no_batch_engine: bool,
        /// Print JSON: {"revision", "spec_hash", "regions", "registers"}.
        #[arg(long)]
        json: bool,
    },
    #[cfg(feature = "boards")]
    /// Program a board with openFPGALoader (SRAM by default: lost at power-off).
    Flash {
        #[arg(long)]
        board: String,
        /// The bitstream (default: what `pbit hdl build` wrote for the board's default N).
        bitstream: Option<PathBuf>,
        /// Write the SPI flash instead (kept across power cycles).
        #[arg(long)]
        flash: bool,
        /// Print the command and stop.
        #[arg(long)]
        plan: bool,
    },
}

#[cfg(feature = "boards")]
fn board(name: &str) -> Result<&'static pbit_boards::Board> {
    match pbit_boards::board(name) {
        Some(b) => Ok(b),
        None => bail!(
            "unknown board {name:?}; boards: {}",
            pbit_boards::Board::names().join(", ")
        ),
    }
}

#[cfg(feature = "boards")]
fn default_out(b: &pbit_boards::Board, n: usize) -> PathBuf {
    PathBuf::from("build").join(format!("{}-n{n}", b.name))
}

#[cfg(feature = "boards")]
fn print_report(r: &pbit_boards::Report) {
    println!("board      {} ({})", r.board, r.device);
    match (r.colours, r.max_degree) {
        (Some(c), Some(d)) => println!(
            "machine    sparse, n = {}, {c} colours, max degree {d}, UART {} baud",
            r.n, r.baud
        ),
        _ => println!("machine    N = {}, UART {} baud", r.n, r.baud),
    }
    if let Some(p) = &r.pll {
        println!(
            "clock      {} from the oscillator: {} MHz (asked for {} MHz), VCO {} MHz",
            p.config.primitive(),
            r.clock_mhz,
            p.requested_mhz,
            p.vco_mhz
        );
    }
    println!(
        "timing     clock {:.2} MHz, Fmax {:.2} MHz, slack {:+.2} ns: {}",
        r.clock_mhz,
        r.fmax_mhz,
        r.slack,
        if r.timing_met { "met" } else { "NOT met" }
    );
    println!(
        "resources  LUTs {}/{}, FFs {}, BRAMs {}/{}, DSPs {}",
        r.luts, r.luts_available, r.ffs, r.brams, r.brams_available, r.dsps
    );
    println!(
        "speed      {} update/clock x {:.2} MHz = {:.3e} p-bit updates/s ({:.3} flips/ns)",
        r.updates_per_clock, r.clock_mhz, r.updates_per_s, r.flips_per_ns
    );
    if let Some(b) = &r.bitstream {
        println!("bitstream  {}", b.display());
    }
}

/// The sparse machine `--machine sparse --graph FILE [--max-degree D]` asks for.
fn sparse_graph(m: &crate::MachineArgs) -> Result<Option<(pbit_spec::sparse::SparseGraph, usize)>> {
    if m.machine != crate::MachineKind::Sparse {
        return Ok(None);
    }
    let Some((graph, colouring)) = crate::graph::graph_file(m)? else {
        bail!("--machine sparse needs --graph FILE: the graph the machine is built for");
    };
    let d = m.max_degree.unwrap_or_else(|| graph.max_degree()).max(1);
    pbit_model::sparse::check_degree(&graph, d)?;
    eprintln!(
        "sparse machine: n {}, {} edges, max degree {d}, {} colours ({}), graph {:016x}",
        graph.n(),
        graph.edges().len(),
        graph.colour_count(),
        colouring.method.name(),
        graph.hash()
    );
    Ok(Some((graph, d)))
}

pub fn run(m: &crate::MachineArgs, c: &HdlCommand) -> Result<()> {
    match c {
        HdlCommand::Emit { n: _, out } if m.machine == crate::MachineKind::Sparse => {
            let (graph, d) = sparse_graph(m)?.expect("--machine sparse");
            let opts = pbit_hdl::sparse::SparseOptions {
                max_degree: d,
                readback: true,
                lanes: m.lanes.filter(|&l| l > 0),
                // the machine Verilator runs: with on-chip statistics
                stats: Some(pbit_hdl::sparse_stats::DEFAULT_STATS_BITS),
                coupling_banks: false,
            };
            let (verilog, _) = pbit_hdl::sparse::emit_sparse_verilog(&graph, &opts)?;
            std::fs::create_dir_all(out)?;
            let path = out.join(format!("pbit_sparse_{:016x}.v", graph.hash()));
            std::fs::write(&path, verilog)?;
            println!("{}", path.display());
        }
        HdlCommand::Emit { n, out } => {
            if m.lanes.is_some() {
                bail!("--lanes is for --machine sparse");
            }
            let Some(n) = n else {
                bail!("give --n (or --machine sparse --graph FILE)");
            };
            if !pbit_hdl::SUPPORTED_N.contains(n) {
                bail!(
                    "the gateware is generated for N in {:?}, not {n}",
                    pbit_hdl::SUPPORTED_N
                );
            }
            let path = pbit_hdl::write_verilog(*n, out)?;
            println!("{}", path.display());
        }
        #[cfg(feature = "boards")]
        HdlCommand::Build {
            board: name,
            n,
            baud,
            clock_mhz,
            out,
            plan,
            no_nice,
            json,
            router,
            seed,
            stats,
            coupling_banks,
        } => {
            let lanes = &m.lanes;
            let b = board(name)?;
            let mut options = pbit_boards::BuildOptions::defaults(b, PathBuf::new());
            options.n = n.unwrap_or(b.default_n);
            options.sparse = sparse_graph(m)?;
            if let Some((g, _)) = &options.sparse {
                if n.is_some() {
                    bail!("--n is the graph's for --machine sparse");
                }
                options.n = g.n();
                options.lanes = match lanes {
                    Some(0) => None,
                    Some(l) => Some(*l),
                    None => pbit_boards::default_sparse_lanes(b, g),
                };
                eprintln!(
                    "sparse machine: {}",
                    match options.lanes {
                        Some(l) => format!("{l} update lanes"),
                        None => "one update cell per p-bit".into(),
                    }
                );
                if *stats {
                    options.stats = Some(pbit_hdl::sparse_stats::DEFAULT_STATS_BITS);
                }
                options.coupling_banks = *coupling_banks;
            } else if lanes.is_some() {
                bail!("--lanes is for --machine sparse");
            } else if *stats {
                bail!("--stats is for --machine sparse (the dense machine's sums are its batch engine's)");
            }
            let mut default_dir = match &options.sparse {
                Some((g, _)) => {
                    PathBuf::from("build").join(format!("{}-sparse-{:016x}", b.name, g.hash()))
                }
                None => default_out(b, options.n),
            };
            // a PLL build does not overwrite the oscillator build's bitstream
            if let Some(f) = clock_mhz {
                default_dir.as_mut_os_string().push(format!("-{f}mhz"));
            }
            if options.stats.is_some() {
                default_dir.as_mut_os_string().push("-stats");
            }
            options.baud = baud.unwrap_or(b.default_baud);
            options.clock_mhz = *clock_mhz;
            options.out_dir = out.clone().unwrap_or(default_dir);
            options.nice = !no_nice;
            options.seed = *seed;
            options.router = match router.as_str() {
                "router2" => pbit_boards::Router::Router2,
                _ => pbit_boards::Router::Router1,
            };
            let build = pbit_boards::BuildPlan::new(b, options)?;
            if let (Some(req), Some(pll)) = (clock_mhz, &build.clock.pll) {
                eprintln!(
                    "core clock: {} MHz from the {} (asked for {req} MHz; VCO {} MHz)",
                    build.clock.mhz,
                    pll.primitive(),
                    pll.vco_mhz()
                );
            }
            if *plan {
                print!("{}", build.script());
                return Ok(());
            }
            let result = build.run(&mut |step| eprintln!("pbit: {} ...", step.name));
            match result {
                Ok(r) => {
                    if *json {
                        println!("{}", serde_json::to_string_pretty(&r)?);
                    } else {
                        print_report(&r);
                    }
                }
                Err(pbit_boards::BuildError::DoesNotFit { report, .. }) if *json => {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    bail!("the design does not fit the {}", b.name);
                }
                Err(e) => return Err(e.into()),
            }
        }
        HdlCommand::Regmap {
            n,
            no_batch_engine,
            json,
        } => {
            if m.machine == crate::MachineKind::Sparse {
                // the sparse machine of --graph: its rows (capability sparse) and spec hash
                let Some((graph, _)) = crate::graph::graph_file(m)? else {
                    bail!("pbit hdl regmap --machine sparse needs --graph FILE: the graph its machine is built for");
                };
                let d = m.max_degree.unwrap_or_else(|| graph.max_degree()).max(1);
                pbit_model::sparse::check_degree(&graph, d)?;
                let format = pbit_spec::sparse::sparse_format(d);
                // the machine Verilator and `pbit sim serve` build: with on-chip statistics
                let g = pbit_spec::sparse_map::geometry(
                    graph.n() as u32,
                    format,
                    &graph,
                    d,
                    pbit_hdl::sparse_stats::DEFAULT_STATS_BITS,
                );
                let hash = pbit_spec::sparse::sparse_spec_hash(&format, &graph);
                if *json {
                    println!("{}", pbit_spec::regmap::to_json_with_hash(&g, hash));
                } else {
                    print!("{}", pbit_spec::regmap::text_listing_with_hash(&g, hash));
                }
                return Ok(());
            }
            if !pbit_hdl::SUPPORTED_N.contains(n) {
                bail!(
                    "the gateware is generated for N in {:?}, not {n}",
                    pbit_hdl::SUPPORTED_N
                );
            }
            let g = pbit_hdl::geometry(*n, !no_batch_engine);
            if *json {
                println!("{}", pbit_spec::regmap::to_json(&g));
            } else {
                print!("{}", pbit_spec::regmap::text_listing(&g));
            }
        }
        #[cfg(feature = "boards")]
        HdlCommand::Flash {
            board: name,
            bitstream,
            flash,
            plan,
        } => {
            let b = board(name)?;
            let ext = match b.family {
                pbit_boards::Family::Ecp5 => "bit",
                pbit_boards::Family::Ice40 => "bin",
            };
            let path = bitstream
                .clone()
                .unwrap_or_else(|| default_out(b, b.default_n).join(format!("pbit.{ext}")));
            let target = if *flash {
                pbit_boards::FlashTarget::SpiFlash
            } else {
                pbit_boards::FlashTarget::Sram
            };
            let step = pbit_boards::flash_plan(b, &path, target)?;
            if *plan {
                println!("{} {}", step.program.display(), step.args.join(" "));
                return Ok(());
            }
            if !path.exists() {
                bail!(
                    "no bitstream at {}; build one with `pbit hdl build --board {}`",
                    path.display(),
                    b.name
                );
            }
            let status = std::process::Command::new(&step.program)
                .args(&step.args)
                .status()
                .with_context(|| format!("cannot start {}", step.program.display()))?;
            if !status.success() {
                bail!("openFPGALoader failed ({status}); is the board plugged in?");
            }
        }
    }
    Ok(())
}

//! `pbit hdl`: the gateware.

use anyhow::{bail, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum HdlCommand {
    /// Write the Verilog of a machine of N p-bits (the core top: machine and bus).
    Emit {
        /// p-bits of the machine (one of the generated sizes: 32, 64, 128, 256).
        #[arg(long)]
        n: usize,
        /// Directory to write `pbit_n{N}.v` into.
        #[arg(long, default_value = "build/hdl")]
        out: PathBuf,
    },
}

pub fn run(c: &HdlCommand) -> Result<()> {
    match c {
        HdlCommand::Emit { n, out } => {
            if !pbit_hdl::SUPPORTED_N.contains(n) {
                bail!(
                    "the gateware is generated for N in {:?}, not {n}",
                    pbit_hdl::SUPPORTED_N
                );
            }
            let path = pbit_hdl::write_verilog(*n, out)?;
            println!("{}", path.display());
        }
    }
    Ok(())
}

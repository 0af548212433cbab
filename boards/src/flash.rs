//! Programming a board with openFPGALoader: SRAM (lost at power-off) by default, or the
//! SPI flash (kept).

use crate::board::Board;
use crate::plan::Step;
use crate::tools::{ToolError, OPENFPGALOADER};
use std::path::Path;

/// Where the bitstream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashTarget {
    Sram,
    SpiFlash,
}

/// The openFPGALoader command that programs `bitstream` into `board`
/// (`openFPGALoader -b ulx3s -m|-f pbit.bit`); the tool is located first.
pub fn flash_plan(board: &Board, bitstream: &Path, target: FlashTarget) -> Result<Step, ToolError> {
    let program = OPENFPGALOADER.locate()?;
    let mut args = vec!["-b".to_string(), board.loader_board.to_string()];
    args.push(
        match target {
            FlashTarget::Sram => "-m",
            FlashTarget::SpiFlash => "-f",
        }
        .into(),
    );
    args.push(bitstream.display().to_string());
    Ok(Step {
        name: "program (openFPGALoader)",
        dir: std::path::PathBuf::from("."),
        program,
        args,
        log: bitstream.with_extension("flash.log"),
    })
}

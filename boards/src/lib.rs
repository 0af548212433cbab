//! pbit-boards: the p-bit machine on open FPGA boards.
//!
//! * [`board`]: board profiles as data (device, package, clock, pins, default N and baud).
//! * [`shell`]: the thin Verilog shell around the core top (clock, I/O), and its port list.
//! * [`constraints`]: the pin files in `constraints/` and their parsers.
//! * [`tools`]: finding yosys, nextpnr, the packers and openFPGALoader, with install hints.
//! * [`pll`]: the core clock: the oscillator, or a PLL's dividers for `--clock-mhz`.
//! * [`plan`]: a build plan (files and commands) that can be printed, then run.
//! * [`report`]: nextpnr's log parsed into Fmax, slack and utilisation.
//! * [`flash`]: programming a board with openFPGALoader.
//!
//! Libraries never print: the CLI (`pbit hdl build|flash`) renders progress and reports.

pub mod board;
pub mod constraints;
pub mod flash;
pub mod plan;
pub mod pll;
pub mod report;
pub mod shell;
pub mod tools;

pub use board::{board, Board, Family, BOARDS};
pub use flash::{flash_plan, FlashTarget};
pub use plan::{default_sparse_lanes, BuildError, BuildOptions, BuildPlan, Router, Step};
pub use pll::{core_clock, ClockError, CoreClock, Pll};
pub use report::{parse_nextpnr_log, ClockTiming, Report, Utilisation};
pub use tools::{Tool, ToolError};

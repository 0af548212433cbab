//! pbit-sim: the machine's generated Verilog, run in Verilator, driven from Rust.
//!
//! Verilator is not a build requirement: [`VerilatedMachine::build`] emits the Verilog,
//! verilates and compiles it with a small C ABI shim at run time into a cache
//! ([`build::cache_root`]), and loads the shared object with `libloading`. Without Verilator it
//! returns [`SimError::ToolMissing`] naming `apt-get install verilator`.
//!
//! Jobs run on it through pbit-driver ([`VerilatedMachine::driver`]) and must give the model's
//! results bit for bit ([`pbit_model::run::sample`], [`pbit_model::run::anneal_read`]) for any
//! instance of at most N p-bits (the machine runs `n` active p-bits; the rest never show).

pub mod board;
pub mod build;
mod driver;
pub mod lint;

pub use build::{cache_root, Trace, TraceFormat, INSTALL_HINT};
pub use driver::{Speed, VerilatedMachine};
pub use lint::lint;
pub use pbit_hdl::machine_size_for;

/// Why the Verilated machine could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{tool} is not installed; install it with `{hint}`")]
    ToolMissing { tool: String, hint: &'static str },
    #[error("{tool} failed ({status}):\n{stderr}")]
    ToolFailed {
        tool: String,
        status: String,
        stderr: String,
    },
    #[error("{0}")]
    Io(String),
    #[error("cannot load the Verilated machine: {0}")]
    Load(String),
    #[error(transparent)]
    Emit(#[from] pbit_hdl::EmitError),
    #[error(transparent)]
    SparseEmit(#[from] pbit_hdl::sparse::SparseEmitError),
    #[error(
        "the machine answered magic {got:#010x} and N = {n}, not a pbit machine of {want} p-bits"
    )]
    BadDevice { got: u32, n: u32, want: usize },
    #[error("the machine did not finish within {clocks} clocks")]
    Timeout { clocks: u64 },
}

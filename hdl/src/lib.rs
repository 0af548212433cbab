//! pbit-hdl: the p-bit machine's gateware in rust-hdl.
//!
//! * [`cell`]: a p-bit's xorshift32 generator, and the bank of N in a RAM with the
//!   look-ahead step.
//! * [`crossbar`]: J in block RAM (packed by column, 16 lanes per bank word), biases in a RAM,
//!   the coupling part of the local fields in registers, updated by adding one J column on
//!   each flip; balanced multiplexers (the bias is added after them).
//! * [`ram`]: the custom-Verilog memories (single-port, dual-port, J lanes) yosys maps onto
//!   the boards' RAMs.
//! * [`memories`]: threshold pages (upper halves, mirrored on lookup) and the β schedule.
//! * [`scheduler`]: the run controller: recompute, schedule steps, sweeps, burn-in, samples.
//! * [`datapath`]: the dense machine's datapath ([`datapath::DenseDatapath`]) with its
//!   parallel host bus (memory map in [`pbit_spec::memory_map`]).
//! * [`batch`]: the batch engine (chains run on the device, a chain buffer, on-chip seeding by
//!   the [`splitmix`] pipeline, spin-product sums by the [`correlator`]); [`core`]: the machine
//!   with or without it, behind the machine's ports.
//! * [`emit`]: Verilog for a core of N p-bits (with the batch engine).
//! * [`uart`], [`encoder`], [`link`]: the UART, the frame encoder and the command decoder of
//!   the host link ([`pbit_spec::protocol`]); [`core_top`]: core + UART + decoder.

// The rust-hdl testbenches' bus (datapath, core): one word written in a clock; a read's data
// one clock after its address. Defined before the modules so that their tests see them.
#[cfg(test)]
macro_rules! bus_write {
    ($sim:ident, $x:ident, $addr:expr, $data:expr) => {
        $x.write_en.next = true;
        $x.write_addr.next = ($addr as u64).to_bits();
        $x.write_data.next = ($data as u32 as u64).to_bits();
        wait_clock_cycle!($sim, clock, $x);
        $x.write_en.next = false;
    };
}
#[cfg(test)]
macro_rules! bus_read {
    ($sim:ident, $x:ident, $addr:expr) => {{
        $x.read_addr.next = ($addr as u64).to_bits();
        wait_clock_cycle!($sim, clock, $x);
        $x.read_data.val().to_u32()
    }};
}

pub mod batch;
pub mod cell;
pub mod core;
pub mod core_top;
pub mod correlator;
pub mod crossbar;
pub mod datapath;
pub mod emit;
pub mod encoder;
pub mod link;
pub mod memories;
pub mod ram;
pub mod scheduler;
pub mod sparse;
pub mod sparse_stats;
pub mod splitmix;
pub mod uart;

pub use core_top::{emit_core_top, CoreTopError};
pub use emit::{
    emit_verilog, geometry, machine_format, machine_size_for, write_verilog, EmitError, SUPPORTED_N,
};

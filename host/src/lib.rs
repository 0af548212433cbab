//! pbit-host: the host library: everything the `pbit` command (pbit-cli) does, without its
//! argument parsing, printing or progress bars.
//!
//! * [`backend`]: the [`Backend`] trait between jobs and machines, and the model backend.
//! * [`clamp`]: clamp lists (`3=+1,7=-1`) parsed against an instance.
//! * [`verilator`] (feature `verilator`): the Verilated gateware as a backend (Verilator needed
//!   at run time only).
//! * [`transport`], [`link`], [`serial`]: byte transports (serial port, in-memory, fault
//!   injection), the wire-protocol client, and a device on a link as a backend;
//!   [`fake_device`] is a scripted device for tests.
//! * [`sparse_backend`]: the sparse, graph-coloured machine as backends (model; sparsifying).
//! * [`check`]: `pbit check`, the device against the model on a fixed set of jobs, byte for
//!   byte, with its identity and the link's throughput.
//! * [`jobs`]: sampling, annealing and Max-Cut runs on a backend, with their reports.
//! * [`learn`]: Boltzmann-machine learning (CD/PCD) with the backend's samples.
//!
//! Features: `verilator` (the Verilated gateware as a backend, the simulated board as a
//! transport: pbit-sim) and `serial` (serial ports: the serialport crate). Without them the
//! library runs the model, and devices on any [`transport::Transport`] the caller supplies.
//!
//! Libraries never print: long work reports progress through callbacks the CLI renders.

pub mod backend;
pub mod check;
pub mod clamp;
pub mod fake_device;
pub mod jobs;
pub mod learn;
pub mod link;
pub mod serial;
pub mod sparse_backend;
pub mod transport;
#[cfg(feature = "verilator")]
pub mod verilator;

pub use backend::{Backend, BackendError, ModelBackend};

//! pbit-host: the host library: everything the `pbit` command (pbit-cli) does, without its
//! argument parsing, printing or progress bars.
//!
//! The jobs and the [`pbit_model::Backend`] trait they run on are the model's
//! ([`pbit_model::jobs`], [`pbit_model::backend`]): what a job means is part of the contract.
//! This crate adds the devices and the reports.
//!
//! * [`device`]: one backend for every device ([`device::DeviceBackend`]): the driver's
//!   programming sequence over whatever bus reaches the machine.
//! * [`verilator`] (feature `verilator`): the Verilated gateware as a device (Verilator needed
//!   at run time only).
//! * [`transport`], [`link`], [`serial`]: byte transports (serial port, in-memory, fault
//!   injection), the wire-protocol client, and a device on a link;
//!   [`fake_device`] is a scripted device for tests.
//! * [`sparse_backend`]: the sparse, graph-coloured machine as backends (model; sparsifying).
//! * [`check`]: `pbit check`, the device against the model on a fixed set of jobs, byte for
//!   byte, with its identity and the link's throughput.
//! * [`cost`]: what a device backend has moved and run, projected onto a board.
//! * [`clamp`]: clamp lists (`3=+1,7=-1`) parsed against an instance.
//! * [`jobs`]: sampling, annealing and Max-Cut runs on a backend, with their reports.
//! * [`learn`]: Boltzmann-machine learning (CD/PCD) with the backend's samples.
//! * [`digits`]: labelled images (CSV), label p-bits, classification and generation by
//!   sampling; [`judge`]: a softmax-regression judge of generated images.
//! * [`plot`]: `--plot` pictures (PNG or SVG) with plotters and an embedded font.
//!
//! Features: `verilator` (the Verilated gateware as a backend, the simulated board as a
//! transport: pbit-sim) and `serial` (serial ports: the serialport crate). Without them the
//! library runs the model, and devices on any [`transport::Transport`] the caller supplies.
//!
//! Libraries never print: long work reports progress through callbacks the CLI renders.

pub mod check;
pub mod clamp;
pub mod cost;
pub mod device;
pub mod diffuse;
pub mod digits;
pub mod fake_device;
pub mod jobs;
pub mod judge;
pub mod learn;
pub mod link;
pub mod plot;
pub mod serial;
pub mod sparse_backend;
pub mod transport;
#[cfg(feature = "verilator")]
pub mod verilator;

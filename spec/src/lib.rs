//! The pbit machine's contract, written once and used by the model, the gateware and the host.
//!
//! * [`format`]: fixed-point widths of couplings, biases, local fields, β and random words.
//! * [`rng`]: the per-p-bit xorshift32 generator and how its state derives from a user seed.
//! * [`table`]: β pages of decision thresholds, built with pure-Rust math (`libm`) so every
//!   machine computes the same bits.
//! * [`frame`]: link framing (COBS, CRC-16, delimiter) shared by the gateware and the host.
//! * [`protocol`]: opcodes, error codes and payloads of the host ↔ device link.
//! * [`sparse`]: the sparse, graph-coloured machine: its graph, colouring, format and hash.
//! * [`regmap`]: the memory map as one declarative table (regions, registers, access,
//!   widths, reset values, value rules, capabilities); [`memory_map`] re-exports its numbers.
//! * [`hash`]: a hash of everything above that a device reports so a host can refuse a mismatch.
//!
//! docs/spec.md describes the same contract in prose.

pub mod format;
pub mod frame;
pub mod hash;
pub mod memory_map;
pub mod protocol;
pub mod regmap;
pub mod rng;
pub mod sparse;
pub mod sparse_map;
pub mod table;

pub use format::{Format, FormatError};
pub use rng::{initial_spin, pbit_seed, Xorshift32};
pub use table::{Beta, BetaError, PageBuilder, ThresholdPage};

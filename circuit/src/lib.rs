//! pbit-circuit: invertible logic on the p-bit machine.
//!
//! * [`poly`]: quadratic pseudo-Boolean penalties and their exact Ising form.
//! * [`gates`]: the gate library (NOT, AND, OR, XOR, MUX, adders, …): each gate a penalty
//!   whose zeros are exactly its truth table, energy gap 1.
//! * [`circuit`]: circuits by named nets (each net one p-bit), compiled to a
//!   [`pbit_model::Ising`]; clamping ports by name.
//! * [`arith`]: ripple adders and array multipliers of any width.
//! * [`anneal`]: annealing rounds on a [`pbit_model::Backend`] (the one trait of every machine).
//! * [`yosys`]: gate-level netlists in yosys' JSON format.
//! * [`cnf`]: DIMACS CNF, planted 3-SAT, and solving SAT by annealing.
//! * [`run`]: running a circuit with ports clamped (forwards, backwards).
//! * [`factor`]: factoring N by clamping a multiplier's product.
//!
//! Build, compile, clamp, run:
//!
//! ```
//! use pbit_model::ModelBackend;
//! use pbit_circuit::arith::{multiplier, MultiplierWeights};
//! use pbit_circuit::run::{run, RunOptions};
//! use pbit_spec::Format;
//!
//! // a 3 × 3-bit multiplier; every net is a p-bit
//! let c = multiplier(3, 3, MultiplierWeights::default())?.compile(&Format::STANDARD)?;
//! // clamp lists by port name, for any backend
//! let clamps = c.clamps(&[("p", 35)])?;
//! assert_eq!(clamps.len(), 6);
//! // run it backwards on the model: the most frequent consistent a, b multiply to 35
//! let report = run(&mut ModelBackend::default(), &c, "p=35", &RunOptions::default())?;
//! let best = report.best.unwrap();
//! assert_eq!(best.values[0].1 * best.values[1].1, 35);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod anneal;
pub mod arith;
pub mod circuit;
pub mod cnf;
pub mod factor;
pub mod gates;
pub mod poly;
pub mod run;
pub mod yosys;

pub use circuit::{Circuit, CircuitError, Compiled, Direction, Net, Port, Signal};
pub use gates::GateKind;

//! pbit-model: the software side of the p-bit machine.
//!
//! * [`ising`]: an Ising instance in real numbers and its text format.
//! * [`fixed`]: the instance quantised to the machine's fixed-point format (or a clear error).
//! * [`schedule`]: β schedules as the finite list of (β, sweeps) steps the hardware holds.
//! * [`machine`]: the bit-exact machine: the reference for the gateware and the default backend.
//! * [`run`]: sampling and annealing jobs on the reference machine.
//! * [`jobs`]: the jobs every backend runs (sample, anneal, relax) and what they mean.
//! * [`backend`]: the [`Backend`] trait every machine implements, and the model's backend.
//! * [`colour`]: graph colouring (bipartite exact, else DSATUR) for the sparse machine.
//! * [`sparse`]: the sparse, graph-coloured machine: reference, jobs, fast kernel, sparsification.
//! * [`kernel`]: the same jobs, fast (many reads interleaved), bit-identical to [`run`].
//! * [`exact`]: exact enumeration of small instances (Z, F, marginals, ground states).
//! * [`meanfield`]: naive mean-field fixed point.
//! * [`limits`]: size limits on user input, and checked arithmetic on user values.

pub mod backend;
pub mod colour;
pub mod exact;
pub mod fixed;
pub mod ising;
pub mod jobs;
pub mod kernel;
pub mod limits;
pub mod machine;
pub mod meanfield;
pub mod run;
pub mod schedule;
pub mod sparse;

pub use backend::{Backend, BackendError, ModelBackend, SampleSums, Watched};
pub use fixed::{FixedIsing, QuantiseError, Scaling};
pub use ising::{spins_to_string, Coupling, Ising, IsingError, ParseError};
pub use machine::{ChainState, Machine};
pub use schedule::{Schedule, Step};

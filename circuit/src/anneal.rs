//! Restarts: the circuit jobs run rounds of annealing reads on a [`pbit_model::Backend`] (the
//! model, the Verilated gateware or a board: the one trait every machine implements), each
//! round from its own seed.

use pbit_model::jobs::AnnealJob;
use pbit_model::run::{Pages, ReadResult};
use pbit_model::{Backend, BackendError, FixedIsing};

/// The seed of restart `round` (round 0: the user's seed). Rounds differ in their seed, so
/// every read of every round starts from its own generator states.
pub fn round_seed(seed: u64, round: u64) -> u64 {
    seed.wrapping_add(round.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Anneals reads 0..`reads` of `problem` through `pages` on `backend`, p-bits in `clamps` held
/// (an [`AnnealJob`]), after checking that the instance fits the machine.
pub fn anneal_reads(
    backend: &mut dyn Backend,
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    reads: u64,
) -> Result<Vec<ReadResult>, BackendError> {
    backend.check_fits(problem.n)?;
    let job = AnnealJob {
        problem,
        clamps,
        pages,
        seed,
        reads,
    };
    backend.anneal(&job, &|_| {})
}

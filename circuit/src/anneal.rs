//! The machine the jobs run on, as far as they need it: annealing reads with clamps.
//!
//! pbit-host's `Backend` trait is the real interface (model, Verilator, serial); this crate sits
//! below pbit-host, so it states what it needs as [`Annealer`] and the CLI adapts a backend to
//! it. [`ModelAnnealer`] runs the bit-exact model's fast kernel directly (tests, examples).

use pbit_model::run::{Pages, ReadResult};
use pbit_model::FixedIsing;
use pbit_spec::Format;

/// Anneals reads of a quantised instance.
pub trait Annealer {
    /// Short name for reports ("model", …).
    fn name(&self) -> &'static str;
    /// The fixed-point format instances are quantised to.
    fn format(&self) -> Format;
    /// Runs reads 0..`reads` through `pages` from `seed`, p-bits in `clamps` held; results in
    /// read order (each read's best energy and state). Errors are the backend's, as text.
    fn anneal(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        pages: &Pages,
        seed: u64,
        reads: u64,
    ) -> Result<Vec<ReadResult>, String>;
}

/// The bit-exact model's kernel on `threads` threads.
#[derive(Clone, Copy, Debug)]
pub struct ModelAnnealer {
    pub format: Format,
    pub threads: usize,
}

impl Default for ModelAnnealer {
    fn default() -> Self {
        ModelAnnealer {
            format: Format::STANDARD,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

impl Annealer for ModelAnnealer {
    fn name(&self) -> &'static str {
        "model"
    }
    fn format(&self) -> Format {
        self.format
    }
    fn anneal(
        &mut self,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        pages: &Pages,
        seed: u64,
        reads: u64,
    ) -> Result<Vec<ReadResult>, String> {
        Ok(pbit_model::kernel::anneal_reads(
            problem,
            clamps,
            pages,
            seed,
            0..reads,
            self.threads,
            &|_| {},
        ))
    }
}

/// The seed of restart `round` (round 0: the user's seed). Rounds differ in their seed, so
/// every read of every round starts from its own generator states.
pub fn round_seed(seed: u64, round: u64) -> u64 {
    seed.wrapping_add(round.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

//! Helpers shared by the integration tests.

use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_spec::Format;

/// A random instance on the grid (a third of the couplings set), from a fixed generator.
pub fn instance(n: usize, seed: u64) -> FixedIsing {
    let mut x = seed;
    let mut next = move || {
        x = pbit_spec::rng::splitmix64(x);
        x
    };
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if next() % 3 == 0 {
                ising.add_coupling(i, j, ((next() % 33) as f64 - 16.0) / 16.0);
            }
        }
        ising.h[i] = ((next() % 17) as f64 - 8.0) / 16.0;
    }
    FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap()
}

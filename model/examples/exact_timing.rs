//! Timing of exact enumeration on a dense random instance (2^N states), N = 30 by default:
//!
//! ```text
//! cargo run --release -p pbit-model --example exact_timing -- [N]
//! ```
//! Prints the wall time, ln Z, the ground energy and the number of ground states (the figures
//! docs/benchmarks.md quotes for exact enumeration). Couplings and biases are uniform in
//! [−1, 1] from a fixed splitmix64 stream, every pair coupled.

use pbit_model::Ising;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N must be a number"))
        .unwrap_or(30);
    let mut x = 30u64;
    let mut next = move || {
        x = pbit_spec::rng::splitmix64(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            ising.add_coupling(i, j, 2.0 * next() - 1.0);
        }
        ising.h[i] = 2.0 * next() - 1.0;
    }
    let t = std::time::Instant::now();
    let ex = match pbit_model::exact::exact(&ising, 1.0) {
        Ok(ex) => ex,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "N={n} dense: {:.2} s, ln Z {} E0 {} ground states {}",
        t.elapsed().as_secs_f64(),
        ex.log_z,
        ex.ground_energy,
        ex.ground_states
    );
}

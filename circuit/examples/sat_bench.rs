//! 3-SAT timing: planted random 3-SAT, 50 variables, 213 clauses (ratio 4.26), default options
//! on the model backend. Prints per-instance sweeps and seconds, then the median and maximum.
//!
//!     cargo run --release -p pbit-circuit --example sat_bench -- [INSTANCES] [SWEEPS READS B0 B1]
use pbit_model::ModelBackend;
use pbit_circuit::cnf::{planted_3sat, solve, SatOptions, SatStatus};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let count: u64 = a.get(1).map_or(20, |s| s.parse().unwrap());
    let mut opts = SatOptions::default();
    if a.len() > 5 {
        opts.sweeps = a[2].parse().unwrap();
        opts.reads = a[3].parse().unwrap();
        opts.beta_start = a[4].parse().unwrap();
        opts.beta_end = a[5].parse().unwrap();
    }
    let mut ann = ModelBackend::default();
    let mut secs = Vec::new();
    let mut sweeps = Vec::new();
    let mut unsolved = 0;
    for seed in 0..count {
        let (cnf, _) = planted_3sat(50, 213, seed);
        let r = solve(&mut ann, &cnf, &opts).unwrap();
        if r.status != SatStatus::Satisfiable {
            unsolved += 1;
        }
        secs.push(r.seconds);
        sweeps.push(r.sweeps);
    }
    secs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    sweeps.sort();
    println!(
        "{count} instances (50 vars, 213 clauses), sweeps/read {} reads {} beta {}..{}: unsolved {unsolved}; sweeps median {} max {}; seconds median {:.3} max {:.3}",
        opts.sweeps, opts.reads, opts.beta_start, opts.beta_end,
        sweeps[sweeps.len() / 2], sweeps.last().unwrap(), secs[secs.len() / 2], secs.last().unwrap()
    );
}

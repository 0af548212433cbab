//! Verilator speed of the machine: `cargo run --release -p pbit-sim --example speed -- 64 256`.
//! For each N: builds (or takes from the cache) the Verilated machine, runs sweeps of all N
//! p-bits on a dense random instance, prints clocks/s and p-bit updates/s of wall time.
fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![64] } else { sizes };
    for n in sizes {
        let t0 = std::time::Instant::now();
        let mut m = match pbit_sim::VerilatedMachine::build(n) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("N={n}: {e}");
                std::process::exit(1);
            }
        };
        let build_s = t0.elapsed().as_secs_f64();
        // about 2 s of simulation at the speed of a short probe
        let (probe, _) = m.measure_speed(20).expect("probe run");
        let sweeps = ((2.0 * probe) / (n as f64 + 2.0)).max(20.0) as u64;
        let (clocks_s, updates_s) = m.measure_speed(sweeps).expect("speed run");
        println!(
            "N={n}: {clocks_s:.3e} clocks/s, {updates_s:.3e} p-bit updates/s ({sweeps} sweeps; build or cache {build_s:.1} s)"
        );
    }
}

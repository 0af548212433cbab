//! Verilator speed of the machine: `cargo run --release -p pbit-sim --example speed -- 64 256`.
//! For each N: builds (or takes from the cache) the Verilated machine, runs sweeps of all N
//! p-bits on a dense random instance, prints clocks and p-bit updates per second of the
//! simulating thread's CPU time (and clocks per wall second, which other jobs skew).
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
        let probe = match m.measure_speed(200) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("N={n}: {e}");
                std::process::exit(1);
            }
        };
        let sweeps = ((2.0 * probe.clocks_per_cpu_s()) / n as f64).clamp(20.0, 1e8) as u64;
        match m.measure_speed(sweeps) {
            Ok(s) => println!(
                "N={n}: {:.3e} clocks/s, {:.3e} p-bit updates/s of CPU time ({:.3e} clocks per wall second; {sweeps} sweeps; build or cache {build_s:.1} s)",
                s.clocks_per_cpu_s(),
                s.updates_per_cpu_s(),
                s.clocks_per_wall_s(),
            ),
            Err(e) => {
                eprintln!("N={n}: {e}");
                std::process::exit(1);
            }
        }
    }
}

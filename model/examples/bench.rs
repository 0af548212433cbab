//! CPU benchmark of the fast kernel: spin updates per second on one instance.
//!
//! ```text
//! cargo run --release -p pbit-model --example bench -- FILE --sweeps K --reads R [--maxcut]
//!     [--beta-start a --beta-end b] [--seed S] [--threads T] [--isa auto|avx2|portable]
//!     [--reference] [--repeat k]
//! ```
//! Anneals R reads through a geometric schedule of K sweeps in at most 32 β steps
//! (`Schedule::anneal(.., Shape::Geometric, MAX_STEPS)`) and prints one JSON line: wall seconds
//! and CPU seconds of the running thread (each the best of `--repeat` runs), updates/s
//! (N·K·R / wall) and updates per CPU-second, the kernel variant, and the mean and
//! best of the reads' best energies (and cuts with `--maxcut`, where J = −w). `--reference` times
//! `run::anneal_read` (the reference machine) instead of the kernel.

use pbit_model::kernel::{self, Isa};
use pbit_model::run::{self, Pages};
use pbit_model::schedule::{Schedule, Shape, MAX_STEPS};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_spec::Format;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut file: Option<PathBuf> = None;
    let (mut sweeps, mut reads, mut seed, mut threads, mut repeat) =
        (1000u64, 1u64, 1u64, 1usize, 1usize);
    let (mut beta_start, mut beta_end) = (0.1f64, 3.0f64);
    let (mut maxcut, mut reference, mut isa) = (false, false, Isa::Auto);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--sweeps" => sweeps = val("--sweeps").parse().unwrap(),
            "--reads" => reads = val("--reads").parse().unwrap(),
            "--seed" => seed = val("--seed").parse().unwrap(),
            "--threads" => threads = val("--threads").parse().unwrap(),
            "--repeat" => repeat = val("--repeat").parse().unwrap(),
            "--beta-start" => beta_start = val("--beta-start").parse().unwrap(),
            "--beta-end" => beta_end = val("--beta-end").parse().unwrap(),
            "--isa" => {
                isa = match val("--isa").as_str() {
                    "auto" => Isa::Auto,
                    "avx2" => Isa::Avx2,
                    "portable" => Isa::Portable,
                    other => panic!("unknown --isa {other}"),
                }
            }
            "--maxcut" => maxcut = true,
            "--reference" => reference = true,
            _ if a.starts_with("--") => panic!("unknown option {a}"),
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let file = file.expect("usage: bench FILE --sweeps K --reads R [--maxcut] ...");
    let ising = Ising::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let total_w = ising.total_coupling();
    let ising = if maxcut {
        ising.negated_couplings()
    } else {
        ising
    };
    let p =
        FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap_or_else(|e| panic!("{e}"));
    let schedule = Schedule::anneal(
        p.machine_beta(beta_start),
        p.machine_beta(beta_end),
        sweeps,
        Shape::Geometric,
        MAX_STEPS,
    )
    .unwrap();
    let pages = Pages::build(&p, &schedule);

    let mut best_wall = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut results = Vec::new();
    for _ in 0..repeat.max(1) {
        let c0 = thread_cpu_s();
        let t0 = Instant::now();
        results = if reference {
            (0..reads)
                .map(|r| run::anneal_read(&p, &[], &pages, seed, r, &|_| {}))
                .collect()
        } else {
            kernel::anneal_reads_isa(&p, &[], &pages, seed, 0..reads, threads, &|_| {}, isa)
        };
        best_wall = best_wall.min(t0.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(thread_cpu_s() - c0);
    }
    let updates = p.n as f64 * sweeps as f64 * reads as f64;
    let bests: Vec<f64> = results
        .iter()
        .map(|r| p.energy_real(r.best_energy_raw))
        .collect();
    let mean = bests.iter().sum::<f64>() / bests.len().max(1) as f64;
    let min = bests.iter().cloned().fold(f64::INFINITY, f64::min);
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let variant = match isa {
        _ if reference => "reference",
        Isa::Portable => "portable",
        Isa::Avx2 if kernel::detected_isa() == "avx512" => "avx2",
        _ => kernel::detected_isa(),
    };
    let mut out = format!(
        "{{\"solver\": \"pbit\", \"instance\": \"{name}\", \"n\": {}, \"sweeps\": {sweeps}, \"reads\": {reads}, \"threads\": {threads}, \"variant\": \"{variant}\", \"layout\": \"{}\", \"beta_start\": {beta_start}, \"beta_end\": {beta_end}, \"steps\": {}, \"wall_s\": {best_wall:.6}, \"cpu_s\": {best_cpu:.6}, \"updates_per_s\": {:.1}, \"updates_per_cpu_s\": {:.1}, \"mean_best_energy\": {mean}, \"min_best_energy\": {min}",
        p.n,
        kernel::layout(&p),
        pages.steps.len(),
        updates / best_wall,
        updates / best_cpu,
    );
    if maxcut {
        out += &format!(
            ", \"mean_best_cut\": {}, \"max_best_cut\": {}",
            (total_w - mean) / 2.0,
            (total_w - min) / 2.0
        );
    }
    out += "}";
    println!("{out}");
}

/// CPU time of this thread in seconds: `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (precise, unlike
/// /proc's tick-based counters). With --threads 1 the kernel runs on this thread.
#[cfg(target_os = "linux")]
fn thread_cpu_s() -> f64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec (64-bit Linux layout) to a valid pointer.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return f64::NAN;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_s() -> f64 {
    f64::NAN
}

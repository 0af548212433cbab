//! The factoring benchmark (docs/benchmarks.md, "Factoring"): default options, model backend,
//! seed = N for each N.
//!
//!     cargo run --release -p pbit-circuit --example factor_bench -- all BITS
//!         every composite N with 4 ≤ N < 2^BITS that is a semiprime (p·q, p, q prime)
//!     cargo run --release -p pbit-circuit --example factor_bench -- sample LO HI K
//!         K semiprimes of each bit width LO..=HI, drawn uniformly (rejection from random N,
//!         splitmix64 stream from seed 1)
//!
//!     cargo run --release -p pbit-circuit --example factor_bench -- list N…
//!         the given numbers
//!
//! Prints one line per N (n, bits, sweeps, wall seconds, CPU seconds of this process, the
//! factors, their width class and the rounds), then per bit width: count, median and 95th
//! percentile of sweeps, wall and CPU seconds. A number not found within the budget is listed
//! as NOT FOUND and left out of the percentiles (counted below the table). The variables
//! FACTOR_SWEEPS, FACTOR_READS, FACTOR_B0, FACTOR_B1 and FACTOR_BIAS override the defaults for
//! exploration; the benchmark sets none.
use pbit_circuit::factor::{factor, is_prime, FactorError, FactorOptions};
use pbit_model::ModelBackend;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (fields 14 and 15 of /proc/self/stat)
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |k: usize| f.get(k).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn semiprime(n: u64) -> bool {
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return is_prime(n / d);
        }
        d += 1;
    }
    false
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let k = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[k]
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let ns: Vec<u64> = match a.get(1).map(String::as_str) {
        Some("all") => {
            let bits: u32 = a[2].parse().unwrap();
            (4..1u64 << bits).filter(|&n| semiprime(n)).collect()
        }
        Some("sample") => {
            let (lo, hi, k): (u32, u32, usize) = (
                a[2].parse().unwrap(),
                a[3].parse().unwrap(),
                a[4].parse().unwrap(),
            );
            let mut state = 1u64;
            let mut next = move || {
                // splitmix64 over a Weyl sequence (the stream the documented figures were drawn from)
                let z = pbit_spec::rng::splitmix64(state);
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                z
            };
            let mut out = Vec::new();
            for bits in lo..=hi {
                let mut got = 0;
                while got < k {
                    let n = (1u64 << (bits - 1)) | (next() % (1u64 << (bits - 1)));
                    if semiprime(n) {
                        out.push(n);
                        got += 1;
                    }
                }
            }
            out
        }
        Some("list") => a[2..].iter().map(|s| s.parse().unwrap()).collect(),
        _ => {
            eprintln!("usage: factor_bench all BITS | sample LO HI K | list N…");
            std::process::exit(2);
        }
    };
    // exploration only (the benchmark sets none of these): FACTOR_SWEEPS, FACTOR_READS,
    // FACTOR_B0, FACTOR_B1, FACTOR_BIAS override the defaults
    let mut tuned = FactorOptions::default();
    let env = |k: &str| std::env::var(k).ok().map(|v| v.parse::<f64>().expect(k));
    if let Some(v) = env("FACTOR_SWEEPS") {
        tuned.sweeps = v as u64;
    }
    if let Some(v) = env("FACTOR_READS") {
        tuned.reads = v as u64;
    }
    if let Some(v) = env("FACTOR_B0") {
        tuned.beta_start = v;
    }
    if let Some(v) = env("FACTOR_B1") {
        tuned.beta_end = v;
    }
    if let Some(v) = env("FACTOR_BIAS") {
        tuned.class_bias = v;
    }
    eprintln!("{tuned:?}");
    let mut ann = ModelBackend::default();
    let mut rows: Vec<(u32, f64, f64, f64)> = Vec::new();
    let mut missed: Vec<(u32, u64)> = Vec::new();
    let total = std::time::Instant::now();
    for &n in &ns {
        let opts = FactorOptions {
            seed: n,
            ..tuned.clone()
        };
        let c0 = cpu_seconds();
        let t0 = std::time::Instant::now();
        let bits = 64 - n.leading_zeros();
        let r = match factor(&mut ann, n, &opts) {
            Ok(r) => r,
            Err(FactorError::NotFound { sweeps, .. }) => {
                // the budget ran out: recorded, counted as not found, never a percentile
                let cpu = cpu_seconds() - c0;
                let wall = t0.elapsed().as_secs_f64();
                println!("{n} {bits} {sweeps} {wall:.4} {cpu:.2} NOT FOUND within the budget");
                missed.push((bits, n));
                continue;
            }
            Err(e) => panic!("{n}: {e}"),
        };
        let cpu = cpu_seconds() - c0;
        let [p, q] = r.factors;
        assert!(p > 1 && p * q == n);
        println!(
            "{n} {bits} {} {:.4} {:.2} = {p} x {q} class {:?} rounds {}",
            r.sweeps, r.seconds, cpu, r.widths, r.rounds
        );
        rows.push((bits, r.sweeps as f64, r.seconds, cpu));
    }
    for (bits, n) in &missed {
        println!("# {bits} bits: {n} not found within the budget");
    }
    println!(
        "# {} of {} numbers factored in {:.1} s wall, threads {}",
        rows.len(),
        ns.len(),
        total.elapsed().as_secs_f64(),
        ann.threads
    );
    println!("| bits | N | sweeps median | sweeps p95 | wall s median | wall s p95 | CPU s median | CPU s p95 |");
    println!("|---|---|---|---|---|---|---|---|");
    let lo = rows.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = rows.iter().map(|r| r.0).max().unwrap_or(0);
    for b in lo..=hi {
        let sel: Vec<_> = rows.iter().filter(|r| r.0 == b).collect();
        if sel.is_empty() {
            continue;
        }
        let mut sw: Vec<f64> = sel.iter().map(|r| r.1).collect();
        let mut wa: Vec<f64> = sel.iter().map(|r| r.2).collect();
        let mut cp: Vec<f64> = sel.iter().map(|r| r.3).collect();
        println!(
            "| {b} | {} | {:.0} | {:.0} | {:.3} | {:.3} | {:.2} | {:.2} |",
            sel.len(),
            pct(&mut sw, 0.5),
            pct(&mut sw, 0.95),
            pct(&mut wa, 0.5),
            pct(&mut wa, 0.95),
            pct(&mut cp, 0.5),
            pct(&mut cp, 0.95)
        );
    }
}

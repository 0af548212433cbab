//! Rounds to solution within the one width class that holds the factors (parameter
//! exploration for the class schedule, not the benchmark).
//! cargo run --release -p pbit-circuit --example factor_classes -- BITS COUNT SWEEPS READS B0 B1 [CAP]
use pbit_circuit::anneal::{anneal_reads, round_seed};
use pbit_model::ModelBackend;
use pbit_circuit::factor::{class_problem, is_prime, read_pages, FactorOptions};
use pbit_model::{FixedIsing, Scaling};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let bits: u32 = a[1].parse().unwrap();
    let count: u64 = a[2].parse().unwrap();
    let opts = FactorOptions {
        sweeps: a[3].parse().unwrap(),
        reads: a[4].parse().unwrap(),
        beta_start: a[5].parse().unwrap(),
        beta_end: a[6].parse().unwrap(),
        ..FactorOptions::default()
    };
    // FACTOR_BALANCED=1: only semiprimes whose smaller factor has the full width bits(⌊√N⌋)
    let balanced = std::env::var("FACTOR_BALANCED").is_ok_and(|v| v == "1");
    let cap: u64 = a.get(7).map_or(2000, |s| s.parse().unwrap());
    let lo = 1u64 << (bits - 1);
    let stride = lo / count;
    let mut ann = ModelBackend::default();
    let fmt = ann.format;
    for k in 0..count {
        let n = (lo + k * stride..)
            .find(|&n| {
                n % 2 == 1 && {
                    let d = (2..).find(|d| n % d == 0).unwrap();
                    d < n
                        && is_prime(n / d)
                        && (!balanced
                            || d.leading_zeros() == pbit_circuit::factor::isqrt(n).leading_zeros())
                }
            })
            .unwrap();
        let p = (2..).find(|d| n % d == 0).unwrap();
        let q = n / p;
        let w = [
            64 - p.leading_zeros() as usize,
            64 - q.leading_zeros() as usize,
        ];
        let (c, clamps) = class_problem(n, w, opts.weights, &fmt).unwrap().unwrap();
        let fixed = FixedIsing::new(&c.ising, fmt, Scaling::Exact).unwrap();
        let pages = read_pages(&fixed, c.scale, &opts).unwrap();
        let t = std::time::Instant::now();
        let mut rounds = 0;
        'outer: while rounds < cap {
            let rs = anneal_reads(
                &mut ann,
                &fixed,
                &clamps,
                &pages,
                round_seed(n, rounds),
                opts.reads,
            )
            .unwrap();
            rounds += 1;
            for r in &rs {
                if c.port_value(&r.best_spins, "a").unwrap() == p {
                    break 'outer;
                }
            }
        }
        println!(
            "{n} = {p} x {q} class {w:?} pbits {} rounds {rounds} {:.3} s",
            c.ising.n,
            t.elapsed().as_secs_f64()
        );
    }
}

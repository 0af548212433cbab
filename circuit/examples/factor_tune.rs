//! Parameter exploration for factoring (not the benchmark): median and mean sweeps-to-solution
//! over odd semiprimes spread evenly over one bit width, for given schedule parameters.
//! cargo run --release -p pbit-circuit --example factor_tune -- BITS COUNT SWEEPS READS B0 B1 [AND_W ADD_W]
use pbit_circuit::arith::MultiplierWeights;
use pbit_circuit::factor::{factor, is_prime, FactorOptions};
use pbit_model::ModelBackend;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let bits: u32 = a[1].parse().unwrap();
    let count: usize = a[2].parse().unwrap();
    let mut opts = FactorOptions {
        sweeps: a[3].parse().unwrap(),
        reads: a[4].parse().unwrap(),
        beta_start: a[5].parse().unwrap(),
        beta_end: a[6].parse().unwrap(),
        ..FactorOptions::default()
    };
    if a.len() > 8 {
        opts.weights = MultiplierWeights {
            and: a[7].parse().unwrap(),
            adder: a[8].parse().unwrap(),
        };
    }
    // FACTOR_CLASSES=0: one multiplier over all widths (the pre-class circuit)
    opts.classes = std::env::var("FACTOR_CLASSES").map_or(true, |v| v != "0");
    // the first odd semiprime at or after each of `count` evenly spaced points of [2^(bits-1), 2^bits)
    let lo = 1u64 << (bits - 1);
    let stride = lo / count as u64;
    let semiprime = |n: u64| {
        let d = (2..).find(|d| n.is_multiple_of(*d)).unwrap();
        d < n && is_prime(n / d)
    };
    let sp: Vec<u64> = (0..count as u64)
        .map(|k| {
            (lo + k * stride..)
                .find(|&n| n % 2 == 1 && semiprime(n))
                .unwrap()
        })
        .collect();
    let mut ann = ModelBackend::default();
    let mut sweeps = Vec::new();
    let mut secs = Vec::new();
    let t = std::time::Instant::now();
    for &n in &sp {
        opts.seed = n;
        let r = factor(&mut ann, n, &opts).unwrap();
        sweeps.push(r.sweeps);
        secs.push(r.seconds);
    }
    secs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    sweeps.sort();
    let mean = sweeps.iter().sum::<u64>() as f64 / sweeps.len() as f64;
    println!(
        "bits {bits} n {} sweeps {} reads {} beta {}..{} : median {} mean {:.0} max {} ({:.2} s; median {:.3} s)",
        sp.len(),
        opts.sweeps,
        opts.reads,
        opts.beta_start,
        opts.beta_end,
        sweeps[sweeps.len() / 2],
        mean,
        sweeps.last().unwrap(),
        t.elapsed().as_secs_f64(),
        secs[secs.len() / 2]
    );
}

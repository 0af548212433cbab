//! The fast kernel against the reference jobs: bit-identical results on random instances.

use pbit_model::kernel::{self, Isa};
use pbit_model::run::{self, Pages, SampleSpec};
use pbit_model::schedule::{Schedule, Shape, Step};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_spec::{Beta, Format, ThresholdPage};
use std::sync::atomic::{AtomicU64, Ordering};

/// Test-case generator: the host's generator (`pbit_spec::rng::HostRng`).
type Gen = pbit_spec::rng::HostRng;

/// A random instance: `density` of the pairs coupled, values up to `jmax`/`hmax` raw (the
/// standard format's extremes are 255 and 1023).
fn instance(n: usize, density: f64, jmax: i64, hmax: i64, g: &mut Gen) -> FixedIsing {
    instance_in(Format::STANDARD, n, density, jmax, hmax, g)
}

fn instance_in(
    format: Format,
    n: usize,
    density: f64,
    jmax: i64,
    hmax: i64,
    g: &mut Gen,
) -> FixedIsing {
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if (g.below(1 << 20) as f64) < density * (1 << 20) as f64 {
                let raw = g.below(2 * jmax as u64 + 1) as i64 - jmax;
                ising.add_coupling(i, j, raw as f64 / 16.0);
            }
        }
        if hmax > 0 {
            ising.h[i] = (g.below(2 * hmax as u64 + 1) as i64 - hmax) as f64 / 16.0;
        }
    }
    FixedIsing::new(&ising, format, Scaling::Exact).unwrap()
}

fn clamps(n: usize, g: &mut Gen) -> Vec<(usize, bool)> {
    let k = g.below(4) as usize;
    (0..k.min(n))
        .map(|_| (g.below(n as u64) as usize, g.next_u64() & 1 == 1))
        .collect()
}

fn pages(p: &FixedIsing, g: &mut Gen) -> Pages {
    let schedule = match g.below(3) {
        0 => Schedule::anneal(0.05, 4.0, 1 + g.below(40), Shape::Geometric, 32).unwrap(),
        1 => Schedule::anneal(0.5, 2.0, 1 + g.below(12), Shape::Linear, 5).unwrap(),
        _ => Schedule {
            steps: vec![
                Step {
                    beta: Beta::from_f64(3.0).unwrap(),
                    sweeps: 3,
                },
                Step {
                    beta: Beta::from_f64(0.01).unwrap(),
                    sweeps: 0,
                },
                Step {
                    beta: Beta::from_f64(40.0).unwrap(),
                    sweeps: 4,
                },
                Step {
                    beta: Beta::from_f64(0.3).unwrap(),
                    sweeps: 2,
                },
            ],
        },
    };
    Pages::build(p, &schedule)
}

fn reference(
    p: &FixedIsing,
    c: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    reads: std::ops::Range<u64>,
) -> Vec<run::ReadResult> {
    reads
        .map(|r| run::anneal_read(p, c, pages, seed, r, &|_| {}))
        .collect()
}

fn check_anneal(
    p: &FixedIsing,
    c: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    reads: std::ops::Range<u64>,
) {
    let want = reference(p, c, pages, seed, reads.clone());
    for isa in [Isa::Auto, Isa::Avx2, Isa::Portable] {
        for threads in [1, 2] {
            let done = AtomicU64::new(0);
            let got = kernel::anneal_reads_isa(
                p,
                c,
                pages,
                seed,
                reads.clone(),
                threads,
                &|k| {
                    done.fetch_add(k, Ordering::Relaxed);
                },
                isa,
            );
            assert_eq!(
                got, want,
                "n={} reads={reads:?} isa={isa:?} threads={threads} clamps={c:?}",
                p.n
            );
            assert_eq!(
                done.load(Ordering::Relaxed),
                (reads.end - reads.start) * pages.total_sweeps()
            );
        }
    }
}

#[test]
fn anneal_reads_match_reference_on_random_instances() {
    let mut g = Gen::new(17);
    let read_counts = [1u64, 2, 3, 5, 8, 9, 13, 16, 17, 21];
    for case in 0..60 {
        let n = match case % 6 {
            0 => 1 + g.below(4) as usize,
            1 => 5 + g.below(20) as usize,
            2 => 30 + g.below(60) as usize,
            3 => 100 + g.below(100) as usize,
            4 => 200 + g.below(100) as usize,
            _ => 2 + g.below(300) as usize,
        };
        let density = match case % 4 {
            0 => 1.0,
            1 => 0.5,
            2 => 4.0 / n as f64,
            _ => 0.05,
        };
        // extremes: full-range J and h, or small values (mostly random decisions)
        let (jmax, hmax) = match case % 3 {
            0 => (255, 1023),
            1 => (16, 0),
            _ => (1, 4),
        };
        let p = instance(n, density, jmax, hmax, &mut g);
        let c = clamps(n, &mut g);
        let pg = pages(&p, &mut g);
        let count = read_counts[case % read_counts.len()];
        let first = g.below(1000);
        check_anneal(&p, &c, &pg, g.next_u64(), first..first + count);
    }
}

#[test]
fn anneal_reads_match_reference_on_lattice_and_empty() {
    // a sparse periodic ±J lattice like the benchmark's, many reads
    let side = 12;
    let mut g = Gen::new(5);
    let mut ising = Ising::new(side * side);
    for r in 0..side {
        for col in 0..side {
            let i = r * side + col;
            let v = |g: &mut Gen| if g.next_u64() & 1 == 1 { 1.0 } else { -1.0 };
            ising.add_coupling(i, r * side + (col + 1) % side, v(&mut g));
            ising.add_coupling(i, ((r + 1) % side) * side + col, v(&mut g));
        }
    }
    let p = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap();
    // 144 × 460 p-bit sweeps per read: long enough for the u16-indexed rows (a shorter run
    // takes the general path, tested by the random instances)
    let pg = Pages::build(
        &p,
        &Schedule::anneal(0.1, 3.0, 460, Shape::Geometric, 32).unwrap(),
    );
    check_anneal(&p, &[], &pg, 9, 0..37);
    check_anneal(&p, &[(3, true), (100, false)], &pg, 9, 5..13);
    // no couplings at all, and no reads
    let p = instance(7, 0.0, 0, 0, &mut g);
    check_anneal(&p, &[], &pg, 1, 0..3);
    assert!(kernel::anneal_reads(&p, &[], &pg, 1, 4..4, 2, &|_| {}).is_empty());
    let p = instance(0, 0.0, 0, 0, &mut g);
    check_anneal(&p, &[], &pg, 1, 0..2);
}

#[test]
fn anneal_reads_match_reference_on_dense_wide_fields() {
    // dense with fields beyond i16 (the kernel's i32 dense cells) and just within (i16 cells)
    let mut g = Gen::new(3);
    for (n, jmax, layout) in [
        (300, 255, "dense-i32"),
        (129, 255, "dense-i16"),
        (64, 255, "dense-i16"),
    ] {
        let p = instance(n, 1.0, jmax, 1023, &mut g);
        assert_eq!(kernel::layout(&p), layout);
        let pg = pages(&p, &mut g);
        let c = clamps(n, &mut g);
        check_anneal(&p, &c, &pg, 4, 0..11);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.01).unwrap());
        let spec = SampleSpec {
            burn_in: 2,
            sweeps: 9,
            every: 2,
        };
        let mut want = Vec::new();
        run::sample(&p, &c, &page, 8, spec, |s, e| want.push((s.to_vec(), e)));
        let mut got = Vec::new();
        kernel::sample(&p, &c, &page, 8, spec, |s, e| got.push((s.to_vec(), e)));
        assert_eq!(got, want);
    }
}

#[test]
fn anneal_reads_match_reference_on_sparse_wide_fields() {
    // 16-bit J (up to ±2047.9): sparse fields beyond i16 (the kernel's i32 rows)
    let wide = Format {
        j_bits: 16,
        ..Format::STANDARD
    };
    let mut g = Gen::new(11);
    for (n, density, layout) in [(200, 0.03, "sparse-i32"), (60, 0.1, "sparse-i32")] {
        let p = instance_in(wide, n, density, 32767, 1023, &mut g);
        assert_eq!(kernel::layout(&p), layout);
        let pg = pages(&p, &mut g);
        check_anneal(&p, &clamps(n, &mut g), &pg, 2, 3..12);
    }
    let p = instance(100, 0.05, 255, 1023, &mut g);
    assert_eq!(kernel::layout(&p), "sparse-i16");
}

#[test]
fn anneal_reads_match_reference_on_g1_like_graphs() {
    // The path `pbit anneal G1` takes: sparse rows, more than 8 neighbours per p-bit (a block's
    // draws taken ahead, the hardware gather in the AVX builds), several blocks and a partial
    // one; one full 8-lane batch, and full plus partial batches with clamps. ±1 couplings as in
    // G1 (and their negation, the cut problem), full-range ones, and wide J (i32 rows). 250
    // sweeps: long enough (n × sweeps ≥ 2^16) for the u16-indexed rows, in runs of equal J
    // where a row's couplings take few values.
    let mut g = Gen::new(23);
    let wide = Format {
        j_bits: 16,
        ..Format::STANDARD
    };
    for (format, n, jmax, hmax, layout) in [
        (Format::STANDARD, 300, 1, 0, "sparse-i16"),
        (Format::STANDARD, 333, 255, 1023, "sparse-i16"),
        (wide, 270, 32767, 1023, "sparse-i32"),
    ] {
        let p = instance_in(format, n, 0.06, jmax, hmax, &mut g);
        assert_eq!(kernel::layout(&p), layout);
        assert!(p.neighbors.len() > 8 * n, "not a low-degree graph");
        let pg = Pages::build(
            &p,
            &Schedule::anneal(0.05, 4.0, 250, Shape::Geometric, 32).unwrap(),
        );
        check_anneal(&p, &[], &pg, 6, 0..8);
        check_anneal(&p, &clamps(n, &mut g), &pg, 7, 40..59);
    }
    // few distinct couplings, fields beyond i16: i32 rows whose neighbours run in groups of
    // equal J (as G1's do in i16)
    let n = 280;
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if g.below(100) < 6 {
                let raw = [-20000.0, 20000.0, 9000.0][g.below(3) as usize];
                ising.add_coupling(i, j, raw / 16.0);
            }
        }
    }
    let p = FixedIsing::new(&ising, wide, Scaling::Exact).unwrap();
    assert_eq!(kernel::layout(&p), "sparse-i32");
    let pg = Pages::build(
        &p,
        &Schedule::anneal(0.05, 4.0, 250, Shape::Geometric, 32).unwrap(),
    );
    check_anneal(&p, &[], &pg, 8, 0..8);
    check_anneal(&p, &clamps(n, &mut g), &pg, 9, 3..14);
}

#[test]
fn anneal_reads_match_reference_around_u16_indices() {
    // Sparse stores of up to 2^16 p-bits index their rows by u16; one more p-bit takes the
    // general path. A ring with couplings to the next 5 p-bits (10 neighbours each, so draws
    // are taken ahead), ±1 couplings, so p-bit 2^16 − 1 (and 2^16) flips and is pushed to.
    for n in [1usize << 16, (1 << 16) + 1] {
        let mut g = Gen::new(n as u64);
        let mut ising = Ising::new(n);
        for i in 0..n {
            for k in 1..=5 {
                let v = if g.next_u64() & 1 == 1 { 1.0 } else { -1.0 };
                ising.add_coupling(i, (i + k) % n, v);
            }
        }
        let p = FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap();
        assert_eq!(kernel::layout(&p), "sparse-i16");
        let pg = Pages::build(
            &p,
            &Schedule::anneal(0.1, 3.0, 3, Shape::Geometric, 3).unwrap(),
        );
        check_anneal(&p, &[(n - 1, true)], &pg, 3, 0..8);
    }
}

#[test]
fn sample_matches_reference() {
    let mut g = Gen::new(99);
    for case in 0..30 {
        let n = 1 + g.below(if case % 2 == 0 { 40 } else { 300 }) as usize;
        let p = instance(
            n,
            [1.0, 0.1, 3.0 / n as f64][case % 3],
            [255, 16, 1][case % 3],
            [1023, 0, 3][case % 3],
            &mut g,
        );
        let c = clamps(n, &mut g);
        let beta = [0.02, 0.4, 1.0, 7.0, 100.0][case % 5];
        let page = ThresholdPage::build(&p.format, Beta::from_f64(beta).unwrap());
        let spec = SampleSpec {
            burn_in: g.below(5),
            sweeps: 1 + g.below(30),
            every: 1 + g.below(4),
        };
        let seed = g.next_u64();
        let mut want = Vec::new();
        run::sample(&p, &c, &page, seed, spec, |s, e| want.push((s.to_vec(), e)));
        for isa in [Isa::Auto, Isa::Avx2, Isa::Portable] {
            let mut got = Vec::new();
            kernel::sample_isa(
                &p,
                &c,
                &page,
                seed,
                spec,
                |s, e| got.push((s.to_vec(), e)),
                isa,
            );
            assert_eq!(got, want, "case {case} isa {isa:?}");
        }
    }
}

/// Initial states: each read equals the reference machine started from its own state (the
/// clamps still win), for any thread count and kernel variant, on sparse and dense layouts.
#[test]
fn anneal_from_initial_states_matches_reference() {
    let mut g = Gen::new(23);
    for (case, (n, density)) in [(1usize, 1.0), (9, 1.0), (40, 0.5), (150, 0.05), (300, 1.0)]
        .into_iter()
        .enumerate()
    {
        let p = instance(n, density, 64, 64, &mut g);
        let c = clamps(n, &mut g);
        let pg = pages(&p, &mut g);
        let first = g.below(100);
        let count = [1u64, 3, 8, 11, 17][case];
        let reads = first..first + count;
        let initial: Vec<Vec<bool>> = (0..count)
            .map(|_| (0..n).map(|_| g.next_u64() & 1 == 1).collect())
            .collect();
        let seed = g.next_u64();
        let want: Vec<run::ReadResult> = reads
            .clone()
            .map(|r| {
                let s = &initial[(r - first) as usize];
                run::anneal_read_from(&p, &c, &pg, seed, r, Some(s), &|_| {})
            })
            .collect();
        // the start matters (else the comparison proves little): a seeded start differs
        if n >= 40 {
            assert_ne!(want, reference(&p, &c, &pg, seed, reads.clone()));
        }
        for isa in [Isa::Auto, Isa::Avx2, Isa::Portable] {
            for threads in [1, 2] {
                let got = kernel::anneal_reads_from(
                    &p,
                    &c,
                    &pg,
                    seed,
                    reads.clone(),
                    threads,
                    &|_| {},
                    isa,
                    run::AnnealStart {
                        initial: Some(&initial),
                        cancel: None,
                    },
                )
                .unwrap();
                assert_eq!(got, want, "n={n} isa={isa:?} threads={threads}");
            }
        }
    }
}

/// A set cancel flag stops the job after at most one sweep per batch: the progress count
/// shows how far it ran, and the result is `Cancelled`, never partial results.
#[test]
fn a_cancelled_anneal_stops_within_a_sweep() {
    use std::sync::atomic::AtomicBool;
    let mut g = Gen::new(29);
    let p = instance(64, 0.5, 16, 16, &mut g);
    let pg = Pages::build(
        &p,
        &Schedule::anneal(0.1, 3.0, 1_000_000, Shape::Geometric, 32).unwrap(),
    );
    for threads in [1, 2] {
        let cancel = AtomicBool::new(false);
        let done = AtomicU64::new(0);
        let got = kernel::anneal_reads_from(
            &p,
            &[],
            &pg,
            1,
            0..16,
            threads,
            &|k| {
                // set from inside the run after 100 sweeps of 8 lanes, as another thread would
                if done.fetch_add(k, Ordering::Relaxed) + k >= 800 {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
            Isa::Auto,
            run::AnnealStart {
                initial: None,
                cancel: Some(&cancel),
            },
        );
        assert_eq!(got, Err(run::Cancelled));
        // every batch running when the flag was set stops after its current sweep
        let ran = done.load(Ordering::Relaxed);
        assert!(
            (800..=800 + 16).contains(&ran),
            "threads {threads}: {ran} lane-sweeps"
        );
    }
}

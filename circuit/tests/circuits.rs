//! Composed circuits: ground states by exhaustive enumeration, value ranges, yosys netlists
//! run forwards and backwards, SAT and factoring on the model.

use pbit_model::ModelBackend;
use pbit_circuit::arith::{adder, multiplier, MultiplierWeights};
use pbit_circuit::circuit::{Circuit, CircuitError, Compiled, Direction, Signal};
use pbit_circuit::cnf::{planted_3sat, solve, SatOptions, SatStatus};
use pbit_circuit::factor::{factor, FactorError, FactorOptions};
use pbit_circuit::run::{run, RunOptions};
use pbit_circuit::{yosys, GateKind};
use pbit_model::exact::{exact, state_energies};
use pbit_model::run::Pages;
use pbit_model::schedule::{Shape, MAX_STEPS};
use pbit_model::{FixedIsing, Scaling, Schedule};
use pbit_spec::Format;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Σ of the gates' own ground energies (each gate alone, times its weight).
fn sum_of_gate_ground_energies(c: &Compiled) -> f64 {
    c.circuit
        .gates()
        .iter()
        .map(|g| g.kind.ising().1 * g.weight as f64)
        .sum::<f64>()
        * c.scale
}

fn bits_of(state: usize, n: usize) -> Vec<bool> {
    (0..n).map(|k| state >> k & 1 == 1).collect()
}

/// All 2^N states of a small circuit: the ground states are exactly the consistent
/// assignments, one per input combination, and the ground energy is the sum of the gates'.
fn check_exhaustively(c: &Compiled, inputs: usize) {
    let energies = state_energies(&c.ising).unwrap();
    let e0 = energies.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(e0, c.ground_energy);
    assert_eq!(e0, sum_of_gate_ground_energies(c));
    let mut ground = 0;
    for (s, &e) in energies.iter().enumerate() {
        let spins = bits_of(s, c.ising.n);
        let consistent = c.consistent(&spins);
        assert_eq!(e == e0, consistent, "state {s}");
        if !consistent {
            assert!(e - e0 >= c.gap, "state {s}: gap {}", e - e0);
        }
        ground += consistent as u64;
    }
    assert_eq!(ground, 1 << inputs);
}

#[test]
fn adders_ground_states_are_their_truth_tables() {
    for (wa, wb) in [(1, 1), (2, 2), (3, 2)] {
        let c = adder(wa, wb).unwrap().compile(&Format::STANDARD).unwrap();
        check_exhaustively(&c, wa + wb);
        // and every consistent state adds correctly
        let energies = state_energies(&c.ising).unwrap();
        for (s, &e) in energies.iter().enumerate() {
            if e == c.ground_energy {
                let spins = bits_of(s, c.ising.n);
                let v = |n| c.port_value(&spins, n).unwrap();
                assert_eq!(v("a") + v("b"), v("s"));
            }
        }
    }
}

#[test]
fn multipliers_ground_states_are_their_truth_tables() {
    for (wa, wb) in [(1, 2), (2, 2), (2, 3)] {
        let c = multiplier(wa, wb, MultiplierWeights::default())
            .unwrap()
            .compile(&Format::STANDARD)
            .unwrap();
        check_exhaustively(&c, wa + wb);
        let energies = state_energies(&c.ising).unwrap();
        for (s, &e) in energies.iter().enumerate() {
            if e == c.ground_energy {
                let spins = bits_of(s, c.ising.n);
                let v = |n| c.port_value(&spins, n).unwrap();
                assert_eq!(v("a") * v("b"), v("p"));
            }
        }
    }
    // 3 × 3 (27 p-bits): ground states counted by the exact enumeration
    let c = multiplier(3, 3, MultiplierWeights::default())
        .unwrap()
        .compile(&Format::STANDARD)
        .unwrap();
    assert_eq!(c.ising.n, 27);
    let x = exact(&c.ising, 1.0).unwrap();
    assert_eq!(x.ground_energy, c.ground_energy);
    assert_eq!(x.ground_energy, sum_of_gate_ground_energies(&c));
    assert_eq!(x.ground_states, 64);
    assert!(c.consistent(&x.ground_state));
}

/// Values are held exactly: a 32 × 32 multiplier loads with `Scaling::Exact` unscaled; a net
/// with a fan-out of 300 AND gates pushes its bias past 63.9375, and the whole circuit is
/// scaled by 1/2 (reported) and still loads exactly with the same consistent states.
#[test]
fn values_fit_the_machine_exactly() {
    let c = multiplier(32, 32, MultiplierWeights::default())
        .unwrap()
        .compile(&Format::STANDARD)
        .unwrap();
    assert_eq!(c.scale, 1.0);
    FixedIsing::new(&c.ising, Format::STANDARD, Scaling::Exact).unwrap();

    let mut fan = Circuit::new();
    let a = fan.net("a");
    for k in 0..300 {
        let b = fan.net(&format!("b{k}"));
        let y = fan.net(&format!("y{k}"));
        fan.gate(GateKind::And, &[a.into(), b.into()], &[y])
            .unwrap();
    }
    let c = fan.compile(&Format::STANDARD).unwrap();
    // h_a = 300 × 1/4 = 75 > 63.9375
    assert_eq!(c.scale, 0.5);
    assert!(c.ising.h[a.0].abs() <= 63.9375);
    FixedIsing::new(&c.ising, Format::STANDARD, Scaling::Exact).unwrap();
    let mut spins = vec![true; c.ising.n];
    assert!(c.consistent(&spins));
    assert_eq!(c.ising.energy(&spins), c.ground_energy);
    spins[1] = false; // b0 = 0 while y0 = 1: one gate violated, energy up by the gap
    assert_eq!(c.ising.energy(&spins), c.ground_energy + c.gap);
    assert_eq!(c.ground_energy, sum_of_gate_ground_energies(&c));
}

#[test]
fn clamping_by_name_and_its_errors() {
    let c = multiplier(3, 3, MultiplierWeights::default())
        .unwrap()
        .compile(&Format::STANDARD)
        .unwrap();
    let cl = c.clamps_from_text("p=35, a=5").unwrap();
    assert_eq!(cl.len(), 6 + 3);
    assert!(matches!(
        c.clamps_from_text("q=3"),
        Err(CircuitError::UnknownPort { .. })
    ));
    assert!(matches!(
        c.clamps_from_text("a=8"),
        Err(CircuitError::ValueTooWide {
            width: 3,
            max: 7,
            ..
        })
    ));
    assert!(matches!(
        c.clamps_from_text("a=x"),
        Err(CircuitError::ClampSyntax(_))
    ));
    assert!(matches!(
        c.clamps_from_text("a=1,a=2"),
        Err(CircuitError::DuplicateClamp(_))
    ));
}

/// Forward direction: a 4 × 4 multiplier with a = 11, b = 13 clamped reads p = 143.
///
/// Measured (seed 1): each of 1000 independent reads anneals β 0.5 → 6 (geometric, 3000
/// sweeps); the machine's best state of the read has p = 143 in 998 of 1000 reads. The reads'
/// seeds are independent, so the count is binomial: at a true rate of 0.99 the standard error
/// over 1000 reads is √(0.99·0.01/1000) ≈ 0.0031, and the bound 0.97 sits more than 6 standard
/// errors below even that. (The *final* state of a read, without the best-state tracking, is
/// right in 652 of 1000; Gibbs samples at a constant β from a random start in 19% at β = 3,
/// 74% at β = 6 and ~0% at β ≥ 8, where wrong carries freeze in: see docs/benchmarks.md.)
#[test]
fn forward_direction_reads_the_product() {
    let c = multiplier(4, 4, MultiplierWeights::default())
        .unwrap()
        .compile(&Format::STANDARD)
        .unwrap();
    let fixed = FixedIsing::new(&c.ising, Format::STANDARD, Scaling::Exact).unwrap();
    let clamps = c.clamps(&[("a", 11), ("b", 13)]).unwrap();
    let schedule = Schedule::anneal(0.5, 6.0, 3000, Shape::Geometric, MAX_STEPS).unwrap();
    let pages = Pages::build(&fixed, &schedule);
    let reads = pbit_model::kernel::anneal_reads(&fixed, &clamps, &pages, 1, 0..1000, 2, &|_| {});
    let right = reads
        .iter()
        .filter(|r| c.port_value(&r.best_spins, "p").unwrap() == 143)
        .count();
    // a right product is a ground state (the product is unique given the inputs)
    let ground = (c.ground_energy * 16.0) as i64;
    for r in &reads {
        assert_eq!(
            r.best_energy_raw == ground,
            c.port_value(&r.best_spins, "p").unwrap() == 143
        );
    }
    eprintln!("forward: best state right in {right} of 1000 reads");
    assert!(right >= 970, "{right} of 1000");
}

fn model() -> ModelBackend {
    ModelBackend::default()
}

/// The yosys adder (`assign {c, s} = a + b`, 4 bits) run backwards: clamp {c, s} = 25 and
/// every consistent sample has a + b = 25; forwards: clamp a and b and read their sum.
#[test]
fn yosys_adder_runs_backwards_and_forwards() {
    let circuit = yosys::read(&fixture("add4.json"), None).unwrap();
    let c = circuit.compile(&Format::STANDARD).unwrap();
    let names: Vec<&str> = c.circuit.ports().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "s", "c"]);
    let opts = RunOptions {
        samples: 64,
        ..RunOptions::default()
    };
    let r = run(&mut model(), &c, "s=9,c=1", &opts).unwrap();
    assert!(r.consistent >= 32, "{r:?}");
    for seen in &r.assignments {
        let a = seen.values[0].1;
        let b = seen.values[1].1;
        assert_eq!(a + b, 25, "{seen:?}");
    }
    for (a, b) in [(0, 0), (15, 15), (7, 9), (12, 3)] {
        let r = run(&mut model(), &c, &format!("a={a},b={b}"), &opts).unwrap();
        let best = r.best.unwrap();
        assert_eq!(
            best.values,
            vec![("s".into(), (a + b) % 16), ("c".into(), (a + b) / 16)]
        );
        assert!(best.count * 10 >= opts.samples * 9, "{best:?}");
    }
}

/// The yosys multiplier (3 × 3) factors 35 backwards; the MUX netlist's constant output bit
/// cannot be clamped to the other value.
#[test]
fn yosys_multiplier_and_mux() {
    let c = yosys::read(&fixture("mul3.json"), None)
        .unwrap()
        .compile(&Format::STANDARD)
        .unwrap();
    let r = run(&mut model(), &c, "p=35", &RunOptions::default()).unwrap();
    let best = r.best.unwrap();
    let (a, b) = (best.values[0].1, best.values[1].1);
    assert_eq!(a * b, 35);
    assert!(r
        .assignments
        .iter()
        .all(|s| s.values[0].1 * s.values[1].1 == 35));

    let c = yosys::read(&fixture("mux2.json"), None)
        .unwrap()
        .compile(&Format::STANDARD)
        .unwrap();
    let one = c.port("one").unwrap();
    assert_eq!(one.bits, vec![Signal::Const(true)]);
    assert_eq!(one.direction, Direction::Output);
    assert!(matches!(
        c.clamps_from_text("one=0"),
        Err(CircuitError::Conflict { .. })
    ));
    let r = run(&mut model(), &c, "x=1,y=2,sel=1", &RunOptions::default()).unwrap();
    assert_eq!(
        r.best.unwrap().values,
        vec![("z".into(), 2), ("one".into(), 1)]
    );
}

/// Planted random 3-SAT at the threshold ratio (50 variables, 213 clauses) solves with the
/// default options; the assignment satisfies every clause.
#[test]
fn planted_3sat_solves() {
    for seed in 0..4 {
        let (cnf, _) = planted_3sat(50, 213, seed);
        let r = solve(&mut model(), &cnf, &SatOptions::default()).unwrap();
        assert_eq!(r.status, SatStatus::Satisfiable, "seed {seed}");
        assert!(cnf.satisfied_by(r.assignment.as_ref().unwrap()));
    }
}

/// A fixed sample of semiprimes (odd, even, squares), 945 = 27 × 35, and three balanced
/// 16-bit semiprimes (179 × 181, 193 × 211, 223 × 227: the hardest width class) factor with the
/// default options (seed 0; ~0.4 s in all); primes, 0 and 1 are refused without a search. The
/// benchmark over every semiprime below 2^16 is `examples/factor_bench.rs`, run by hand.
#[test]
fn factors_a_fixed_sample() {
    for n in [
        4u64, 6, 9, 15, 21, 143, 169, 221, 323, 437, 899, 945, 1994, 3127, 4087, 32399, 40723,
        50621,
    ] {
        let r = factor(&mut model(), n, &FactorOptions::default()).unwrap();
        let [p, q] = r.factors;
        assert!(1 < p && p <= q && p * q == n, "{n}: {p} × {q}");
    }
    assert!(matches!(
        factor(&mut model(), 65521, &FactorOptions::default()),
        Err(FactorError::Prime(65521))
    ));
    assert!(matches!(
        factor(&mut model(), 1, &FactorOptions::default()),
        Err(FactorError::Unit(1))
    ));
    assert!(matches!(
        factor(&mut model(), 0, &FactorOptions::default()),
        Err(FactorError::Unit(0))
    ));
}

//! End-to-end tests of `pbit factor`, `pbit circuit` and `pbit sat`: real processes, real
//! files, real exit codes.

use pbit_tests::{fails_with, pbit};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn ok(args: &[&str]) -> String {
    let out = pbit(args);
    assert!(
        out.status.success(),
        "pbit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}"))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../circuit/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn write(name: &str, text: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("invertible");
    std::fs::create_dir_all(&dir).unwrap();
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn factor_prints_the_factors() {
    assert_eq!(ok(&["factor", "143"]).trim(), "143 = 11 × 13");
    let j = ok_json(&["factor", "221", "--seed", "3", "--json"]);
    assert_eq!(j["n"], 221);
    assert_eq!(j["factors"], serde_json::json!([13, 17]));
    assert!(j["sweeps"].as_u64().unwrap() > 0);
    assert!(j["seconds"].as_f64().unwrap() >= 0.0);
    // found in the class p of 4 bits, q of 5 (top bits and, N odd, bit 0 the constant 1):
    // 2 + 3 free factor bits + 2·3 ANDs (those with a constant-1 bit fold away) + 2·(3·5)
    // adder outputs
    assert_eq!(j["widths"], serde_json::json!([4, 5]));
    assert_eq!(j["pbits"], 41);
    // an even number and a perfect square
    assert_eq!(ok(&["factor", "1994"]).trim(), "1994 = 2 × 997");
    assert_eq!(ok(&["factor", "169"]).trim(), "169 = 13 × 13");
    // balanced classes favoured: the same answer
    assert_eq!(
        ok(&["factor", "143", "--class-bias", "0.5"]).trim(),
        "143 = 11 × 13"
    );
}

#[test]
fn factor_refuses_primes_and_units() {
    fails_with(&["factor", "65521"], "65521 is prime");
    fails_with(&["factor", "2"], "2 is prime");
    fails_with(&["factor", "1"], "neither prime nor composite");
    fails_with(&["factor", "0"], "neither prime nor composite");
    fails_with(
        &["factor", "143", "--class-bias", "5"],
        "class bias must be between 0 and 4, got 5",
    );
    fails_with(
        &["factor", "143", "--class-bias", "NaN"],
        "class bias must be between 0 and 4, got NaN",
    );
    // a budget too small to find anything ends with an error, not a hang
    fails_with(
        &[
            "factor",
            "4087",
            "--max-sweeps",
            "1",
            "--sweeps",
            "1",
            "--reads",
            "1",
        ],
        "no factors of 4087 found",
    );
}

#[test]
fn circuit_runs_the_yosys_adder_backwards() {
    let add = fixture("add4.json");
    let j = ok_json(&["circuit", &add, "--clamp", "s=9,c=1", "--json"]);
    let best = &j["best"]["values"];
    let (a, b) = (best[0][1].as_u64().unwrap(), best[1][1].as_u64().unwrap());
    assert_eq!(
        (best[0][0].as_str(), best[1][0].as_str()),
        (Some("a"), Some("b"))
    );
    assert_eq!(a + b, 25);
    let text = ok(&["circuit", &add, "--clamp", "a=7,b=9"]);
    assert!(text.starts_with("s=0 c=1  (seen in "), "{text}");
}

#[test]
fn circuit_bad_input_is_a_clear_error() {
    let add = fixture("add4.json");
    fails_with(&["circuit", &add, "--clamp", "d=1"], "no port named `d`");
    fails_with(
        &["circuit", &add, "--clamp", "a=16"],
        "value 16 does not fit port `a` (4 bits",
    );
    fails_with(
        &["circuit", &add, "--clamp", "a"],
        "must look like NAME=VALUE",
    );
    let bad = write("bad.json", "{\"modules\": {");
    fails_with(&["circuit", &bad], "bad.json: not valid JSON");
    let dff = write(
        "dff.json",
        r#"{"modules":{"m":{"ports":{},"cells":{"ff":{"type":"$_DFF_P_","connections":{}}}}}}"#,
    );
    fails_with(&["circuit", &dff], "type `$_DFF_P_`");
    fails_with(&["circuit", "/nonexistent.json"], "cannot read file");
}

#[test]
fn sat_prints_a_checked_assignment() {
    // (x1 ∨ x2) ∧ (¬x1 ∨ x3) ∧ (¬x2 ∨ ¬x3) ∧ (x1 ∨ ¬x3 ∨ x2) ∧ ¬x2
    let f = write(
        "small.cnf",
        "c test\np cnf 3 5\n1 2 0\n-1 3 0\n-2 -3 0\n1 -3 2 0\n-2 0\n",
    );
    let out = ok(&["sat", &f]);
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("c ")).collect();
    assert_eq!(lines, ["s SATISFIABLE", "v 1 -2 3 0"]);
    let unsat = write("empty.cnf", "p cnf 1 1\n0\n");
    assert!(ok(&["sat", &unsat]).contains("s UNSATISFIABLE"));
}

#[test]
fn sat_gives_up_with_unknown() {
    // x1 ∧ ¬x1 (two unit clauses): no assignment exists, so the budget runs out
    let f = write("contra.cnf", "p cnf 1 2\n1 0\n-1 0\n");
    let out = ok(&[
        "sat",
        &f,
        "--max-sweeps",
        "100",
        "--sweeps",
        "10",
        "--reads",
        "2",
    ]);
    assert!(out.contains("s UNKNOWN"), "{out}");
    assert!(!out.contains("\nv "));
}

#[test]
fn sat_bad_input_is_a_clear_error() {
    let f = write("bad1.cnf", "p cnf 2 1\n1 x 0\n");
    fails_with(&["sat", &f], "bad1.cnf:2: `x` is not an integer literal");
    let f = write("bad2.cnf", "p cnf 2 1\n1 3 0\n");
    fails_with(
        &["sat", &f],
        "bad2.cnf:2: literal 3 names a variable outside 1..=2",
    );
    let f = write("bad3.cnf", "1 2 0\n");
    fails_with(&["sat", &f], "missing problem line");
    let f = write("bad4.cnf", "p cnf 2 2\n1 2 0\n");
    fails_with(&["sat", &f], "promises 2 clauses, found 1");
}

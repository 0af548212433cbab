//! End-to-end tests of the `pbit` binary: real processes, real files, real exit codes.

use pbit_tests::{fails_with, pbit};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn ok_json(args: &[&str]) -> Value {
    let out = pbit(args);
    assert!(
        out.status.success(),
        "pbit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}"))
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn sample_files_depend_only_on_the_arguments() {
    let file = example("sg2d_4x4_h.txt");
    let (a, b, c) = (tmp("a.txt"), tmp("b.txt"), tmp("c.txt"));
    let common = [
        "--beta",
        "0.7",
        "--sweeps",
        "300",
        "--every",
        "3",
        "--burn-in",
        "5",
        "--clamp",
        "2=+1,9=-1",
    ];
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "sample",
            &file,
            "--seed",
            "42",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        let o = pbit(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let x = run(&a, &[]);
    let y = run(&b, &["--threads", "1", "--backend", "model"]);
    assert_eq!(x, y);
    let lines: Vec<&str> = x.lines().collect();
    assert_eq!(lines.len(), 100); // 300 sweeps, every 3rd recorded
    assert!(lines
        .iter()
        .all(|l| l.len() == 16 && l.as_bytes()[1] == b'1' && l.as_bytes()[8] == b'0'));
    // a different seed gives a different stream
    let o = pbit(&[
        "sample",
        &file,
        "--seed",
        "43",
        "--beta",
        "0.7",
        "--sweeps",
        "300",
        "--every",
        "3",
        "--burn-in",
        "5",
        "--clamp",
        "2=+1,9=-1",
        "--out",
        c.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_ne!(std::fs::read_to_string(&c).unwrap(), x);
}

#[test]
fn sample_json_summarises_the_recorded_samples() {
    let file = example("ring8_ferro.txt");
    let out = tmp("ring.txt");
    let v = ok_json(&[
        "sample",
        &file,
        "--beta",
        "0.3",
        "--sweeps",
        "2000",
        "--seed",
        "1",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(v["n"], 8);
    assert_eq!(v["samples"], 2000);
    // the summary is computed from exactly the samples written
    let text = std::fs::read_to_string(&out).unwrap();
    let mut ups = [0i64; 8];
    for l in text.lines() {
        for (k, ch) in l.bytes().enumerate() {
            ups[k] += (ch == b'1') as i64;
        }
    }
    for k in 0..8 {
        let m = v["marginals"][k].as_f64().unwrap();
        assert!((m - (2.0 * ups[k] as f64 - 2000.0) / 2000.0).abs() < 1e-12);
    }
    let e = v["mean_energy"].as_f64().unwrap();
    assert!((-8.0..=8.0).contains(&e));
}

#[test]
fn backend_flag_goes_before_or_after_the_command() {
    let file = example("and_gate.txt");
    let a = ok_json(&[
        "--backend",
        "model",
        "anneal",
        &file,
        "--sweeps",
        "50",
        "--reads",
        "3",
        "--json",
    ]);
    let b = ok_json(&[
        "anneal",
        &file,
        "--sweeps",
        "50",
        "--reads",
        "3",
        "--json",
        "--backend",
        "model",
    ]);
    assert_eq!(a["best_state"], b["best_state"]);
    assert_eq!(a["energies"], b["energies"]);
    fails_with(
        &["exact", &file, "--beta", "1", "--backend", "model"],
        "take no --backend",
    );
}

#[test]
fn anneal_finds_the_unique_ground_state_and_ignores_thread_count() {
    let file = example("sg2d_4x4_h.txt");
    let a = ok_json(&[
        "anneal",
        &file,
        "--sweeps",
        "400",
        "--reads",
        "5",
        "--seed",
        "3",
        "--json",
        "--threads",
        "1",
    ]);
    let b = ok_json(&[
        "anneal",
        &file,
        "--sweeps",
        "400",
        "--reads",
        "5",
        "--seed",
        "3",
        "--json",
        "--threads",
        "2",
    ]);
    assert_eq!(a["energies"], b["energies"]);
    assert_eq!(a["best_state"], b["best_state"]);
    assert_eq!(a["best_energy"], -21.0);
    assert_eq!(a["energies"].as_array().unwrap().len(), 5);
    // the reported best state really has the reported energy
    let state = a["best_state"].as_str().unwrap();
    let ising = pbit_model::Ising::read(Path::new(&file)).unwrap();
    let spins: Vec<bool> = state.bytes().map(|c| c == b'1').collect();
    assert_eq!(ising.energy(&spins), -21.0);
}

#[test]
fn maxcut_of_petersen_is_twelve() {
    let v = ok_json(&[
        "maxcut",
        &example("petersen_maxcut.txt"),
        "--sweeps",
        "200",
        "--reads",
        "4",
        "--seed",
        "1",
        "--json",
    ]);
    assert_eq!(v["cut"], 12.0);
    assert_eq!(v["total_weight"], 15.0);
    assert_eq!(v["best_energy"], 15.0 - 2.0 * 12.0);
}

#[test]
fn bad_files_name_the_file_and_line() {
    let f = write("bad1.txt", "# c\n3 2\n1 2 1\n2 2 1\n");
    fails_with(
        &["sample", &f, "--beta", "1", "--sweeps", "1"],
        &format!("{f}:4: coupling of p-bit 2 to itself"),
    );
    let f = write("bad2.txt", "3 2\n1 2 1\n");
    fails_with(&["anneal", &f], "header promises 2 coupling lines, found 1");
    let f = write("bad3.txt", "3 1\n1 2 x\n");
    fails_with(
        &["exact", &f, "--beta", "1"],
        &format!("{f}:2: coupling value is not a number"),
    );
    let f = write("bad4.txt", "3 1\n1 2 0.1\n");
    fails_with(
        &["sample", &f, "--beta", "1", "--sweeps", "1"],
        &format!("{f}:2: coupling 0.1 is not a multiple of 0.0625"),
    );
    fails_with(
        &[
            "sample",
            "/nonexistent/x.txt",
            "--beta",
            "1",
            "--sweeps",
            "1",
        ],
        "/nonexistent/x.txt: cannot read file",
    );
}

#[test]
fn rescaling_is_explicit_and_reported() {
    let f = write("scaled.txt", "2 1\n1 2 100\n");
    fails_with(
        &["sample", &f, "--beta", "0.01", "--sweeps", "10"],
        "outside the machine's range",
    );
    let out = pbit(&[
        "sample",
        &f,
        "--beta",
        "0.01",
        "--sweeps",
        "10",
        "--json",
        "--rescale",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("values scaled by 0.125"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rescaling"]["factor"], 0.125);
}

#[test]
fn impossible_options_are_errors() {
    let file = example("and_gate.txt");
    fails_with(
        &["sample", &file, "--beta", "0", "--sweeps", "1"],
        "beta 0 is out of range",
    );
    fails_with(
        &["sample", &file, "--beta", "-1", "--sweeps", "1"],
        "out of range",
    );
    fails_with(
        &["sample", &file, "--beta", "1", "--sweeps", "0"],
        "--sweeps must be at least 1",
    );
    fails_with(
        &[
            "sample", &file, "--beta", "1", "--sweeps", "1", "--clamp", "4=+1",
        ],
        "index 4 is out of range 1..=3",
    );
    fails_with(
        &[
            "sample", &file, "--beta", "1", "--sweeps", "1", "--clamp", "1=5",
        ],
        "value must be",
    );
    fails_with(
        &["anneal", &file, "--reads", "0"],
        "--reads must be at least 1",
    );
    fails_with(&["meanfield", &file, "--beta", "0"], "beta");
}

#[test]
fn exact_reports_the_known_partition_function() {
    // and_gate.txt: ln Z(β=1) = 4.399939111884732… (from the file's comment)
    let v = ok_json(&["exact", &example("and_gate.txt"), "--beta", "1", "--json"]);
    assert!((v["log_z"].as_f64().unwrap() - 4.399939111884732).abs() < 1e-12);
    assert_eq!(v["ground_energy"], -3.0);
    assert_eq!(v["ground_states"], 4);
    let f = v["free_energy"].as_f64().unwrap();
    assert!((f + 4.399939111884732).abs() < 1e-12);
    let mf = ok_json(&[
        "meanfield",
        &example("and_gate.txt"),
        "--beta",
        "1",
        "--json",
    ]);
    assert_eq!(mf["marginals"].as_array().unwrap().len(), 3);
    assert!(
        mf["free_energy"].as_f64().unwrap() >= f - 1e-9,
        "mean-field F is an upper bound"
    );
}

/// `pbit hdl regmap --json` exports the table for third-party hosts: revision, the spec hash
/// of the machine's format, every register (the batch engine's with the engine only) with an
/// integer address, and the resolved resets.
#[test]
fn hdl_regmap_json_lists_every_register() {
    let v = ok_json(&["hdl", "regmap", "--n", "64", "--json"]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(v["revision"], pbit_spec::hash::SPEC_REVISION);
    let hash = pbit_spec::hash::spec_hash(&pbit_hdl::machine_format(64));
    assert_eq!(v["spec_hash"], format!("{hash:016x}"));
    let regs = v["registers"].as_array().unwrap();
    // every register but the sparse machine's (tests/sparse_backends.rs: `--machine sparse`)
    let dense = pbit_spec::regmap::REGISTERS
        .iter()
        .filter(|r| r.capability != pbit_spec::regmap::Capability::Sparse)
        .count();
    assert_eq!(regs.len(), dense);
    let reg = |name: &str| regs.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(
        reg("batch_chains")["address"],
        pbit_spec::memory_map::REG_BATCH_CHAINS
    );
    assert_eq!(reg("batch_chains")["capability"], "batch");
    assert_eq!(reg("n")["reset"], 64);
    assert_eq!(reg("n_active")["access"], "r/w");
    assert_eq!(reg("status")["fields"][2]["name"], "stale");
    let small = ok_json(&["hdl", "regmap", "--n", "32", "--no-batch-engine", "--json"]);
    let names: Vec<&str> = small["registers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"batch_caps") && !names.contains(&"batch_done"));
    fails_with(&["hdl", "regmap", "--n", "48", "--json"], "not 48");
}

/// `pbit hdl build --clock-mhz F` refuses a core clock the board's PLL cannot make, naming the
/// range, before it looks for a tool or writes a file.
#[test]
fn hdl_build_refuses_a_clock_the_pll_cannot_make() {
    let out = tmp("pll-refused");
    let out = out.to_str().unwrap();
    fails_with(
        &[
            "hdl",
            "build",
            "--board",
            "ulx3s",
            "--clock-mhz",
            "500",
            "--out",
            out,
            "--plan",
        ],
        "the ulx3s's EHXPLLL makes 10–400 MHz from its 25 MHz oscillator",
    );
    fails_with(
        &[
            "hdl",
            "build",
            "--board",
            "icebreaker",
            "--clock-mhz",
            "8",
            "--out",
            out,
            "--plan",
        ],
        "SB_PLL40_PAD makes 16–275 MHz",
    );
    assert!(!Path::new(out).join("core.v").exists());
}

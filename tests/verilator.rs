//! `--backend verilator` from the command line: every machine command gives byte-identical
//! output to the model. Needs verilator and g++ (scripts/test-all.sh installs them); without
//! them the backend's error names the install command and these tests fail saying so.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn pbit(args: &[&str]) -> (String, String) {
    let out = Command::new(pbit_tests::pbit_bin())
        .args(args)
        .output()
        .expect("run pbit");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "pbit {args:?} failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).to_string(), stderr)
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verilator-cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs the same command on both backends and returns both JSON reports.
fn both(args: &[&str]) -> (Value, Value) {
    let run = |backend: &str| {
        let mut a = vec!["--backend", backend];
        a.extend_from_slice(args);
        let (stdout, _) = pbit(&a);
        let mut v: Value = serde_json::from_str(&stdout).unwrap();
        // wall-clock figures differ by nature; everything else must not
        for k in [
            "backend",
            "seconds",
            "updates_per_second",
            "time_sampling_s",
            "time_kl_s",
            "time_host_s",
            "seconds_total",
        ] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    (run("model"), run("verilator"))
}

#[test]
fn sample_files_are_byte_identical() {
    for (file, clamp, beta) in [
        ("sg2d_4x4_h.txt", "2=+1,9=-1", "0.7"),
        ("full_adder.txt", "4=1,5=0", "1.5"),
        ("ring8_ferro.txt", "", "0.3"),
    ] {
        let (m, v) = (tmp(&format!("m-{file}")), tmp(&format!("v-{file}")));
        let common = [
            "sample",
            &example(file),
            "--beta",
            beta,
            "--sweeps",
            "400",
            "--every",
            "3",
            "--burn-in",
            "7",
            "--seed",
            "11",
            "--clamp",
            clamp,
        ];
        let mut a: Vec<&str> = common.to_vec();
        a.extend(["--out", m.to_str().unwrap()]);
        pbit(&a);
        let mut b: Vec<&str> = vec!["--backend", "verilator"];
        b.extend_from_slice(&common);
        b.extend(["--out", v.to_str().unwrap()]);
        pbit(&b);
        let (mt, vt) = (std::fs::read(&m).unwrap(), std::fs::read(&v).unwrap());
        assert_eq!(
            mt.len(),
            133 * (mt.iter().position(|&c| c == b'\n').unwrap() + 1)
        );
        assert!(mt == vt, "{file}: model and verilator sample files differ");
    }
}

#[test]
fn anneal_and_maxcut_agree_and_small_instances_run_on_a_larger_machine() {
    let (m, v) = both(&[
        "anneal",
        &example("sg2d_4x4_h.txt"),
        "--sweeps",
        "150",
        "--reads",
        "3",
        "--seed",
        "5",
        "--clamp",
        "3=0",
        "--json",
    ]);
    assert_eq!(m, v);
    let (m, v) = both(&[
        "maxcut",
        &example("petersen_maxcut.txt"),
        "--sweeps",
        "80",
        "--reads",
        "2",
        "--seed",
        "2",
        "--json",
    ]);
    assert_eq!(m, v);
    // a 5-p-bit instance on the 128-p-bit machine
    let (m, v) = both(&[
        "--machine-n",
        "128",
        "anneal",
        &example("full_adder.txt"),
        "--sweeps",
        "60",
        "--reads",
        "2",
        "--json",
    ]);
    assert_eq!(m, v);
}

#[test]
fn learning_runs_its_negative_phase_on_the_gateware() {
    let data = tmp("and.txt");
    std::fs::write(&data, "000\n010\n100\n111\n").unwrap();
    let (m, v) = both(&[
        "learn",
        data.to_str().unwrap(),
        "--epochs",
        "15",
        "--seed",
        "3",
        "--json",
    ]);
    assert_eq!(m, v);
}

/// The sampling job both tracing tests run.
fn trace_job_args() -> Vec<String> {
    [
        "sample",
        &example("ring8_ferro.txt"),
        "--beta",
        "1",
        "--sweeps",
        "20",
        "--json",
    ]
    .map(String::from)
    .to_vec()
}

/// Runs the sampling job with `machine` flags, untraced and then with `--trace vcd
/// --trace-clocks clocks`, and checks that tracing leaves the output unchanged and that the
/// VCD names each of `signals` and has exactly 2 × `clocks` time steps (the job takes more
/// clocks than that). Returns the VCD's text.
fn traced_run_matches(machine: &[&str], vcd: &Path, clocks: u64, signals: &[&str]) -> String {
    let _ = std::fs::remove_file(vcd);
    let job = trace_job_args();
    let args: Vec<&str> = job.iter().map(String::as_str).collect();
    let (plain, _) = pbit(&[machine, &args[..]].concat());
    let clocks_arg = clocks.to_string();
    let trace = [
        "--trace",
        vcd.to_str().unwrap(),
        "--trace-clocks",
        &clocks_arg,
    ];
    let (traced, _) = pbit(&[machine, &trace[..], &args[..]].concat());
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    assert_eq!(strip(&plain), strip(&traced), "tracing changed the run");
    let text = std::fs::read_to_string(vcd).unwrap();
    assert!(text.starts_with("$version Generated by VerilatedVcd"));
    for signal in signals {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("$var") && l.contains(signal)),
            "no {signal:?} in the VCD"
        );
    }
    let steps = text.lines().filter(|l| l.starts_with('#')).count() as u64;
    assert_eq!(steps, 2 * clocks);
    text
}

/// `--trace run.vcd --trace-clocks K`: the run's output is unchanged, and the file is a VCD of
/// the machine's first K clocks (its header, the harness's and the core's signals, at most 2K
/// time steps). Without --backend verilator the flag is refused.
#[test]
fn a_traced_run_writes_its_waveform_and_the_same_results() {
    let vcd = tmp("run.vcd");
    // the run takes far more than K clocks, so the trace stops at exactly 2K edges
    let text = traced_run_matches(
        &["--backend", "verilator"],
        &vcd,
        1500,
        &[" clock ", " busy ", " sample_valid ", " write_data "],
    );
    assert!(text.contains("$enddefinitions"));

    let out = Command::new(pbit_tests::pbit_bin())
        .args(["--trace", vcd.to_str().unwrap()])
        .args(trace_job_args())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --backend verilator"));
}

/// `--machine sparse --trace`: the sparse machine's traced build gives the untraced run's output,
/// and its waveform holds the sparse core's own signals (its colour-phase controller's state
/// and the p-bits' states) for exactly the clocks asked.
#[test]
fn a_traced_sparse_run_writes_its_waveform_and_the_same_results() {
    // fewer than the whole job takes (≈ 500 clocks: identification, loads, 20 sweeps), so the
    // trace stops at exactly 2K edges
    traced_run_matches(
        &["--machine", "sparse", "--backend", "verilator"],
        &tmp("sparse_run.vcd"),
        300,
        &[" clock ", " busy ", " state ", " spins "],
    );
}

//! Bad input to the `pbit` binary: every oversized count, in a file or an option, is an error
//! that names the file and line or the option, exits 1 (not 101, a panic, nor 134, an
//! allocation failure), and comes at once — never after allocating or running for long.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a refusal may take: parsing a small file and checking options, in a debug or
/// release build, on a loaded machine; a run of the refused size would take hours.
const AT_ONCE: Duration = Duration::from_secs(10);

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

/// Runs `pbit args` and checks it is refused at once with exit code 1, `needle` in the error
/// and no panic.
fn refused(args: &[&str], needle: &str) {
    let bin = pbit_tests::pbit_bin(); // built on first use: not part of the refusal's time
    let start = Instant::now();
    let out = Command::new(bin).args(args).output().expect("run pbit");
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "pbit {args:?}: exit {:?}, stderr {err}",
        out.status
    );
    assert!(
        err.contains(needle),
        "pbit {args:?}: stderr {err:?} lacks {needle:?}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "pbit {args:?}: {err}"
    );
    assert!(took < AT_ONCE, "pbit {args:?} took {took:?} to refuse");
}

#[test]
fn oversized_instance_headers_name_the_file_and_line() {
    let f = write("big_n.txt", "# a typo\n1000000000000 1\n1 2 1\n");
    for cmd in ["anneal", "maxcut"] {
        refused(
            &[cmd, &f],
            &format!("{f}:2: header N (p-bits) 1000000000000 is more than the limit 16777216"),
        );
    }
    refused(
        &["sample", &f, "--beta", "1", "--sweeps", "1"],
        &format!("{f}:2: header N"),
    );
    refused(&["exact", &f, "--beta", "1"], &format!("{f}:2: header N"));
    refused(
        &["meanfield", &f, "--beta", "1"],
        &format!("{f}:2: header N"),
    );
    let f = write("big_m.txt", "4 1000000000000\n1 2 1\n");
    refused(
        &["anneal", &f],
        &format!("{f}:1: header M (couplings) 1000000000000 is more than the limit 268435456"),
    );
    let f = write("many_m.txt", "4 7\n1 2 1\n");
    refused(
        &["anneal", &f],
        &format!("{f}:1: header promises 7 couplings, more than the 6 distinct pairs of 4 p-bits"),
    );
}

#[test]
fn oversized_anneal_options_name_the_option() {
    let f = example("ring8_ferro.txt");
    refused(
        &["anneal", &f, "--reads", "1000000000000", "--sweeps", "10"],
        "--reads is 1000000000000, more than the limit 1048576",
    );
    refused(
        &["anneal", &f, "--sweeps", "4294967296"],
        "--sweeps is 4294967296, more than the limit 4294967295",
    );
    refused(
        &["anneal", &f, "--reads", "0"],
        "--reads must be at least 1",
    );
    // reads × p-bits: 2^20 reads of a 512-p-bit instance keep 2^29 spins of results
    let ring = write(
        "ring512.txt",
        &format!(
            "512 512\n{}",
            (0..512)
                .map(|i| format!("{} {} 1\n", i + 1, (i + 1) % 512 + 1))
                .collect::<String>()
        ),
    );
    refused(
        &["maxcut", &ring, "--reads", "1048576"],
        "--reads × p-bits is 536870912, more than the limit 268435456",
    );
}

#[test]
fn sample_sums_are_checked_not_wrapped() {
    let f = example("ring8_ferro.txt");
    let base = ["sample", &f, "--beta", "1"];
    let with = |extra: &[&'static str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a
    };
    // 2^64 − 1 + 2 wraps to 1 in a release build: it must be refused, not run as one sweep
    refused(
        &with(&["--burn-in", "18446744073709551615", "--sweeps", "2"]),
        "--burn-in is 18446744073709551615, more than the limit 4294967295",
    );
    refused(
        &with(&["--burn-in", "4294967295", "--sweeps", "2"]),
        "--burn-in + --sweeps is 4294967297, more than the limit 4294967295",
    );
    refused(
        &with(&["--sweeps", "10", "--every", "0"]),
        "--every must be at least 1",
    );
    refused(&with(&["--sweeps", "0"]), "--sweeps must be at least 1");
}

#[test]
fn oversized_learning_options_name_the_option() {
    let data = example("learn/bars_stripes_3x3.txt");
    refused(
        &["learn", &data, "--epochs", "1152921504606846976"],
        "--epochs is 1152921504606846976, more than the limit 4294967295",
    );
    refused(
        &["learn", &data, "--hidden", "1000000000000"],
        "visible units + --hidden is 1000000000009, more than the limit 4096",
    );
    refused(
        &["learn", &data, "--chains", "1000000000000"],
        "--chains is 1000000000000, more than the limit 1048576",
    );
    // hidden × chains: the positive phase keeps vectors × chains hidden states
    refused(
        &[
            "learn", &data, "--hidden", "4000", "--chains", "10000", "--batch", "1",
        ],
        "data vectors × --chains × --hidden is 560000000, more than the limit 268435456",
    );
    refused(
        &["learn", &data, "--k", "1099511627776"],
        "--k is 1099511627776, more than the limit 4294967295",
    );
    let bad = write("bad_data.txt", "101\n1x1\n");
    refused(&["learn", &bad], &format!("{bad}:2"));
}

#[test]
fn oversized_circuit_jobs_name_the_option_or_the_file() {
    let cnf = write("big.cnf", "c typo\np cnf 1000000000000 1\n1 0\n");
    refused(
        &["sat", &cnf],
        &format!("{cnf}:2: the problem line declares 1000000000000 variables, more than the limit 16777216"),
    );
    let cnf = write("ok.cnf", "p cnf 3 2\n1 -2 0\n2 3 0\n");
    refused(
        &["sat", &cnf, "--reads", "1000000000000"],
        "--reads is 1000000000000, more than the limit 1048576",
    );
    refused(
        &["sat", &cnf, "--sweeps", "18446744073709551615"],
        "--sweeps is 18446744073709551615, more than the limit 4294967295",
    );
    refused(
        &["factor", "15", "--reads", "1000000000000"],
        "--reads is 1000000000000, more than the limit 1048576",
    );
    refused(
        &["factor", "15", "--sweeps", "0"],
        "--sweeps must be at least 1",
    );
    let json = write(
        "and.json",
        r#"{"modules": {"t": {"ports": {
            "a": {"direction": "input", "bits": [2]},
            "b": {"direction": "input", "bits": [3]},
            "y": {"direction": "output", "bits": [4]}},
          "cells": {"g": {"type": "$_AND_", "connections": {"A": [2], "B": [3], "Y": [4]}}}}}}"#,
    );
    refused(
        &["circuit", &json, "--samples", "1000000000000"],
        "--samples is 1000000000000, more than the limit 1048576",
    );
    let broken = write("broken.json", "{\"modules\": {\"t\": [1, 2");
    refused(&["circuit", &broken], &format!("{broken}: not valid JSON"));
}

/// Every limit is stated in `--help` where the option is: the user learns it before the error.
#[test]
fn help_states_the_limits() {
    let help = |cmd: &str| {
        let out = Command::new(pbit_tests::pbit_bin())
            .args([cmd, "--help"])
            .output()
            .expect("run pbit");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    for (cmd, limits) in [
        ("anneal", &["2^20", "2^28", "2^32 − 1", "2^24"][..]),
        ("sample", &["2^32 − 1", "burn-in + sweeps"][..]),
        ("learn", &["2^32 − 1", "2^12", "2^20", "2^28"][..]),
        ("sat", &["2^24", "2^20", "2^32 − 1"][..]),
        ("factor", &["2^20", "2^32 − 1"][..]),
        ("circuit", &["2^20", "2^32 − 1"][..]),
    ] {
        let text = help(cmd);
        for l in limits {
            assert!(
                text.contains(l),
                "pbit {cmd} --help does not state {l}:\n{text}"
            );
        }
    }
    // the figures in the help are the library's limits
    use pbit_model::limits::*;
    assert_eq!(MAX_READS, 1 << 20);
    assert_eq!(MAX_RESULT_SPINS, 1 << 28);
    assert_eq!(MAX_SWEEPS, (1 << 32) - 1);
    assert_eq!(MAX_EPOCHS, (1 << 32) - 1);
    assert_eq!(MAX_PBITS, 1 << 24);
    assert_eq!(MAX_COUPLINGS, 1 << 28);
    assert_eq!(MAX_LEARN_PBITS, 1 << 12);
}

//! `pbit --machine sparse sample` on a device with on-chip statistics: without `--out` and
//! `--plot` only the sums are wanted, so the Verilator device and the served board
//! (`pbit sim serve --machine sparse`, `--backend serial`) form them on the device and send no
//! samples; the report — marginals, mean energy and, with `--correlations`, ⟨m_i m_j⟩ of every
//! coupled pair — is byte-identical to `--backend model`'s, and to the streamed report
//! (`--out`). Bad input of the new flags is an error naming the flag.
//!
//! Needs verilator and g++. Two small graphs, each one Verilator build (cached by its Verilog).

use pbit_tests::{ok, pbit, Served};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Verilator builds and served boards: one at a time (2 cores).
static BUILDS: Mutex<()> = Mutex::new(());

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sparse_stats_cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// An 8-ring with two chords as a graph file (values do not matter: every pair is an edge).
fn graph8() -> String {
    let mut t = String::from("8 10\n");
    for i in 1..=8 {
        t += &format!("{i} {} 0\n", i % 8 + 1);
    }
    t += "1 5 0\n2 6 0\n";
    write("graph8.txt", &t)
}

/// An instance on 6 of the graph's 8 p-bits and some of its edges (a chord included).
fn instance6() -> String {
    write(
        "inst6.txt",
        "6 5\n1 2 0.75\n2 3 -1.25\n3 4 0.5\n1 5 -0.625\n2 6 1.5\nh 1 0.25\nh 4 -0.375\nh 6 0.5\n",
    )
}

fn example(name: &str) -> String {
    pbit_tests::example(name).display().to_string()
}

/// The report of `pbit <flags> sample <file> <rest>`, its "backend" removed (it names the
/// backend by design), and its stdout in text mode.
fn report(flags: &[&str], file: &str, rest: &[&str]) -> (Value, String) {
    let run = |json: bool| {
        let mut a: Vec<&str> = flags.to_vec();
        a.extend(["sample", file]);
        a.extend(rest);
        if json {
            a.push("--json");
        }
        ok(&a).stdout
    };
    let mut v: Value = serde_json::from_slice(&run(true)).unwrap();
    v.as_object_mut().unwrap().remove("backend");
    (v, String::from_utf8(run(false)).unwrap())
}

/// Configurations: clamps, burn-in, interval, β, seed; some with --correlations.
fn configs() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "--beta",
            "0.7",
            "--sweeps",
            "3000",
            "--every",
            "3",
            "--burn-in",
            "10",
            "--seed",
            "4",
            "--correlations",
        ],
        vec![
            "--beta",
            "1.3",
            "--sweeps",
            "2000",
            "--every",
            "1",
            "--clamp",
            "2=+1,4=-1",
            "--seed",
            "9",
            "--correlations",
        ],
        vec![
            "--beta",
            "0.2",
            "--sweeps",
            "999",
            "--every",
            "7",
            "--burn-in",
            "3",
            "--seed",
            "1",
        ],
    ]
}

/// On the Verilator device: the 4×4 lattice on its own graph, and a 6-p-bit instance on an
/// 8-p-bit graph (`--graph`: inactive p-bits, a pair that is a chord); every report equals the
/// model's byte for byte (text and JSON), and equals the streamed report (`--out`).
#[test]
fn verilator_sums_are_byte_identical_to_the_model() {
    let _g = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let lattice = example("sg2d_4x4_h.txt");
    let (g8, i6) = (graph8(), instance6());
    let cases: [(&str, Vec<&str>); 2] = [
        (lattice.as_str(), vec![]),
        (i6.as_str(), vec!["--graph", g8.as_str()]),
    ];
    for (file, extra) in &cases {
        for rest in configs() {
            let flags = |backend: &'static str| {
                let mut f = vec!["--machine", "sparse", "--backend", backend];
                f.extend(extra.iter().copied());
                f
            };
            let m = report(&flags("model"), file, &rest);
            let v = report(&flags("verilator"), file, &rest);
            assert_eq!(m.0, v.0, "{file} {rest:?}: JSON reports differ");
            assert_eq!(m.1, v.1, "{file} {rest:?}: text reports differ");
            if rest.contains(&"--correlations") {
                let c = m.0["correlations"].as_array().unwrap();
                assert!(!c.is_empty(), "{file}: correlations reported");
                assert!(m.1.contains("correlations "), "{file}: text lists them");
            } else {
                assert!(m.0.get("correlations").is_none());
            }
            // the streamed path (every sample over the bus) reports the same
            let out = tmp("stream.txt").display().to_string();
            let mut streamed = rest.clone();
            streamed.extend(["--out", out.as_str()]);
            let s = report(&flags("verilator"), file, &streamed);
            assert_eq!(m.0, s.0, "{file} {rest:?}: streamed report differs");
        }
    }
}

/// The served sparse board (with statistics, as `pbit sim serve` builds it) over the serial
/// link: the same reports as the model's.
#[test]
fn serial_sums_are_byte_identical_to_the_model() {
    let _g = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let (g8, i6) = (graph8(), instance6());
    let board = Served::start(&["--machine", "sparse", "--graph", &g8]);
    for rest in configs() {
        let m = report(
            &["--machine", "sparse", "--backend", "model", "--graph", &g8],
            &i6,
            &rest,
        );
        let s = report(
            &[
                "--machine",
                "sparse",
                "--backend",
                "serial",
                "--port",
                &board.port,
                "--graph",
                &g8,
            ],
            &i6,
            &rest,
        );
        assert_eq!(m.0, s.0, "{rest:?}: JSON reports differ");
        assert_eq!(m.1, s.1, "{rest:?}: text reports differ");
    }
}

/// `--stats` builds the sparse machine's statistics: on the dense machine it is an error
/// naming the flag, before any tool runs; on the sparse machine the build gets its own
/// directory (`…-stats`), so it never overwrites the board's default bitstream.
#[test]
fn stats_flag_bad_input() {
    for board in ["ulx3s", "icebreaker"] {
        let out = pbit(&["hdl", "build", "--board", board, "--stats", "--plan"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{board}: --stats on the dense machine"
        );
        assert!(
            err.contains("--stats is for --machine sparse"),
            "{board}: {err}"
        );
        assert!(!err.contains("panicked"), "{board}: {err}");
    }
    // --plan writes nothing: it names the files a build would write
    let g8 = graph8();
    let plan = |stats: bool| {
        let mut a = vec![
            "--machine",
            "sparse",
            "--graph",
            &g8,
            "hdl",
            "build",
            "--board",
            "ulx3s",
            "--plan",
        ];
        if stats {
            a.push("--stats");
        }
        String::from_utf8_lossy(&ok(&a).stdout).to_string()
    };
    let (with, without) = (plan(true), plan(false));
    assert!(with.contains("-stats/core.v"), "{with}");
    assert!(!without.contains("-stats/"), "{without}");
}

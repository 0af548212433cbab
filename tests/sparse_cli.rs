//! `pbit --machine sparse`: every command that runs the machine, end to end, against the sparse
//! model's reference; the errors each name the problem.

use pbit_model::colour::build_graph;
use pbit_model::run::SampleSpec;
use pbit_model::sparse::{run, Phases, MODEL_FORMAT};
use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_spec::{Beta, ThresholdPage};
use pbit_tests::{fails_with, ok};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn ok_json(args: &[&str]) -> Value {
    let out = ok(args);
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
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sparse_cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn sample_file_is_the_reference_chromatic_stream() {
    let file = example("sg2d_4x4_h.txt");
    let out = tmp("sparse_samples.txt");
    for threads in ["1", "2"] {
        ok(&[
            "--machine",
            "sparse",
            "sample",
            &file,
            "--beta",
            "0.7",
            "--sweeps",
            "300",
            "--every",
            "3",
            "--burn-in",
            "5",
            "--seed",
            "42",
            "--clamp",
            "2=+1,9=-1",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ]);
        let got = std::fs::read_to_string(&out).unwrap();
        let ising = Ising::read(Path::new(&file)).unwrap();
        let p = FixedIsing::new(&ising, MODEL_FORMAT, Scaling::Exact).unwrap();
        let (g, _) = build_graph(&p);
        let phases = Phases::new(&p, &g).unwrap();
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.7).unwrap());
        let mut want = String::new();
        let spec = SampleSpec {
            burn_in: 5,
            sweeps: 300,
            every: 3,
        };
        run::sample(
            &p,
            &phases,
            &[(1, true), (8, false)],
            &page,
            42,
            spec,
            |s, _| {
                want.extend(s.iter().map(|&b| if b { '1' } else { '0' }));
                want.push('\n');
            },
        );
        assert_eq!(got.lines().count(), 100);
        assert_eq!(got, want, "threads {threads}");
    }
    // the dense machine's stream differs (another order and activation)
    let dense = tmp("dense_samples.txt");
    ok(&[
        "sample",
        &file,
        "--beta",
        "0.7",
        "--sweeps",
        "300",
        "--every",
        "3",
        "--burn-in",
        "5",
        "--seed",
        "42",
        "--clamp",
        "2=+1,9=-1",
        "--out",
        dense.to_str().unwrap(),
    ]);
    assert_ne!(std::fs::read(&dense).unwrap(), std::fs::read(&out).unwrap());
}

#[test]
fn anneal_maxcut_and_graph_report_on_the_sparse_machine() {
    let file = example("sg2d_4x4_h.txt");
    let run = |threads: &str| {
        ok_json(&[
            "--machine",
            "sparse",
            "anneal",
            &file,
            "--sweeps",
            "400",
            "--reads",
            "5",
            "--seed",
            "3",
            "--threads",
            threads,
            "--json",
        ])
    };
    let (a, b) = (run("1"), run("2"));
    assert_eq!(a["energies"], b["energies"]);
    assert_eq!(a["best_energy"], -21.0);
    let v = ok_json(&[
        "--machine",
        "sparse",
        "maxcut",
        &example("petersen_maxcut.txt"),
        "--sweeps",
        "200",
        "--reads",
        "4",
        "--json",
    ]);
    assert_eq!(v["cut"], 12.0);
    let g = ok_json(&["--machine", "sparse", "graph", &file, "--json"]);
    assert_eq!(
        (g["n"].as_u64(), g["colours"].as_u64()),
        (Some(16), Some(2))
    );
    assert_eq!(g["colouring"], "bipartite");
    assert_eq!(g["max_degree"], 4);
    let g = ok_json(&[
        "--machine",
        "sparse",
        "graph",
        &example("petersen_maxcut.txt"),
        "--json",
    ]);
    assert_eq!(
        (g["colours"].as_u64(), g["colouring"].as_str()),
        (Some(3), Some("dsatur"))
    );
    // the note names the machine
    let out = ok(&[
        "--machine",
        "sparse",
        "anneal",
        &file,
        "--sweeps",
        "10",
        "--reads",
        "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sparse machine: n 16") && err.contains("2 colours (bipartite)"),
        "{err}"
    );
}

#[test]
fn factoring_runs_sparsified_below_the_multipliers_degree() {
    // a 4-bit × 4-bit multiplier's inputs have degree ≈ 2 × width: D = 4 needs copies
    let out = ok(&[
        "--machine",
        "sparse",
        "--max-degree",
        "4",
        "factor",
        "143",
        "--seed",
        "1",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f: Vec<u64> = v["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(f[0] * f[1], 143);
    assert!(f[0] > 1 && f[1] > 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sparsified for max degree D = 4") && err.contains("copy strength"),
        "{err}"
    );
    // anneal of a degree-4 lattice at D = 3: copies; the result names the 16 original p-bits
    let v = ok_json(&[
        "--machine",
        "sparse",
        "--max-degree",
        "3",
        "anneal",
        &example("sg2d_4x4_h.txt"),
        "--sweeps",
        "1000",
        "--reads",
        "8",
        "--json",
    ]);
    assert_eq!(v["best_state"].as_str().unwrap().len(), 16);
    let ising = Ising::read(Path::new(&example("sg2d_4x4_h.txt"))).unwrap();
    let spins: Vec<bool> = v["best_state"]
        .as_str()
        .unwrap()
        .bytes()
        .map(|c| c == b'1')
        .collect();
    assert_eq!(ising.energy(&spins), v["best_energy"].as_f64().unwrap());
    // a hub whose field (20 × 15) is beyond a degree-4 machine's 12-bit field still loads and
    // is sparsified (its copies' fields fit); the ferromagnetic star's ground state is all equal
    let mut star = String::from("21 20\n");
    for j in 2..=21 {
        star.push_str(&format!("1 {j} 15\n"));
    }
    let star = write("star.txt", &star);
    let v = ok_json(&[
        "--machine",
        "sparse",
        "--max-degree",
        "4",
        "anneal",
        &star,
        "--sweeps",
        "500",
        "--json",
    ]);
    assert_eq!(v["best_energy"], -300.0);
    let s = v["best_state"].as_str().unwrap();
    assert!(s == "1".repeat(21) || s == "0".repeat(21), "{s}");
}

#[test]
fn sparse_errors_name_the_problem() {
    let lattice = example("sg2d_4x4_h.txt");
    // sample and learn refuse a graph beyond D, naming D
    fails_with(
        &[
            "--machine",
            "sparse",
            "--max-degree",
            "3",
            "sample",
            &lattice,
            "--beta",
            "1",
            "--sweeps",
            "5",
        ],
        "maximum degree D = 3",
    );
    fails_with(
        &[
            "--machine",
            "sparse",
            "--max-degree",
            "2",
            "learn",
            &example("learn/full_adder.txt"),
            "--epochs",
            "2",
        ],
        "maximum degree D = 2",
    );
    // a coupling on a non-edge of the built graph (path 1-2-3; the instance couples 1 and 3)
    let graph = write("path.txt", "3 2\n1 2 0\n2 3 0\n");
    let inst = write("tri.txt", "3 1\n1 3 1\n");
    fails_with(
        &[
            "--machine",
            "sparse",
            "--graph",
            &graph,
            "anneal",
            &inst,
            "--sweeps",
            "5",
        ],
        "p-bits 1 and 3 (1-based) is not an edge",
    );
    // an instance larger than the built graph
    let big = write("four.txt", "4 1\n1 2 1\n");
    fails_with(
        &[
            "--machine",
            "sparse",
            "--graph",
            &graph,
            "sample",
            &big,
            "--beta",
            "1",
            "--sweeps",
            "5",
        ],
        "4 p-bits",
    );
    // a graph beyond --max-degree
    fails_with(
        &[
            "--machine",
            "sparse",
            "--graph",
            &lattice,
            "--max-degree",
            "2",
            "anneal",
            &lattice,
        ],
        "maximum degree D = 2",
    );
    // sparse flags on the dense machine
    fails_with(
        &["--max-degree", "4", "anneal", &lattice],
        "add --machine sparse",
    );
    // D too small to chain copies
    fails_with(
        &[
            "--machine",
            "sparse",
            "--max-degree",
            "2",
            "anneal",
            &lattice,
            "--sweeps",
            "5",
        ],
        "D ≥ 3",
    );
    // an instance on its built graph runs
    let sub = write("edge.txt", "3 1\n2 3 -1\n");
    ok(&[
        "--machine",
        "sparse",
        "--graph",
        &graph,
        "anneal",
        &sub,
        "--sweeps",
        "5",
    ]);
}

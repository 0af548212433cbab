//! `--machine sparse` on `--backend verilator` and `--backend serial` (the simulated sparse
//! board, `pbit sim serve --machine sparse --graph FILE`, on a pseudo-terminal): whole outputs
//! of sample, anneal and learn byte-identical to `--backend model`; the device's identity in
//! `pbit info`; and each mismatch between job and device an error naming both sides.
//!
//! Each new graph is a Verilator build (20–60 s, cached on disk by its Verilog), so the tests
//! share three: the 4×4 lattice for the direct Verilator port, and K5 (the full adder's
//! fully visible Boltzmann machine) for the direct port and as a served board. Needs verilator
//! and g++ (scripts/test-all.sh installs them).

use pbit_tests::{ok, pbit, Served};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Verilator builds and served boards: one at a time (2 cores).
static BUILDS: Mutex<()> = Mutex::new(());

fn fails_with(args: &[&str], needles: &[&str]) -> String {
    let out = pbit(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "pbit {args:?} should fail: {err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "pbit {args:?}: stderr {err:?} lacks {needle:?}"
        );
    }
    assert!(!err.contains("panicked"), "pbit {args:?} panicked: {err}");
    err
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sparse_backends");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn example(name: &str) -> String {
    pbit_tests::example(name).display().to_string()
}

/// K5 with couplings and biases on the 1/16 grid (every pair an edge: 5 colours).
fn k5_instance() -> String {
    let mut t = String::from("5 10\n");
    let mut k = 0;
    for i in 1..=5 {
        for j in i + 1..=5 {
            k += 1;
            let v = [-1.0, 0.75, -0.5, 1.25, -0.3125][k % 5] * if k % 3 == 0 { -1.0 } else { 1.0 };
            t += &format!("{i} {j} {v}\n");
        }
    }
    t += "h 1 0.25\nh 3 -0.5\nh 5 0.125\n";
    write("k5.txt", &t)
}

/// K5 as a graph file (every listed pair is an edge; the values do not matter).
fn k5_graph() -> String {
    let mut t = String::from("5 10\n");
    for i in 1..=5 {
        for j in i + 1..=5 {
            t += &format!("{i} {j} 0\n");
        }
    }
    write("k5_graph.txt", &t)
}

/// Wall-clock figures differ by nature; everything else must not.
fn without_times(mut v: Value) -> Value {
    for k in [
        "backend",
        "seconds",
        "updates_per_second",
        "time_sampling_s",
        "time_kl_s",
        "time_host_s",
        "seconds_total",
        "link",
        "usage",
    ] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

/// The machine flags of a backend: `--backend B`, and the port for serial.
fn on(backend: &str, port: Option<&str>) -> Vec<String> {
    let mut a = vec![
        "--machine".to_string(),
        "sparse".into(),
        "--backend".into(),
        backend.into(),
    ];
    if let Some(p) = port {
        a.extend(["--port".into(), p.into()]);
    }
    a
}

fn args<'a>(flags: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    flags
        .iter()
        .map(|s| s.as_str())
        .chain(rest.iter().copied())
        .collect()
}

/// sample (the sample file and the JSON report) and anneal (the JSON report) of `file` on
/// `flags`; the stdout of each, timing fields removed.
fn sample_and_anneal(
    flags: &[String],
    extra: &[&str],
    file: &str,
    tag: &str,
) -> (Vec<u8>, Value, Value) {
    let out = tmp(&format!("samples-{tag}.txt"));
    let out_s = out.display().to_string();
    let mut rest = extra.to_vec();
    rest.extend([
        "sample",
        file,
        "--beta",
        "0.7",
        "--sweeps",
        "300",
        "--every",
        "3",
        "--burn-in",
        "7",
        "--seed",
        "11",
        "--clamp",
        "2=+1",
        "--out",
        &out_s,
        "--json",
    ]);
    let s = ok(&args(flags, &rest));
    let sample: Value = serde_json::from_slice(&s.stdout).unwrap();
    let mut rest = extra.to_vec();
    rest.extend([
        "anneal", file, "--sweeps", "200", "--reads", "4", "--seed", "5", "--json",
    ]);
    let a = ok(&args(flags, &rest));
    let anneal: Value = serde_json::from_slice(&a.stdout).unwrap();
    (
        std::fs::read(&out).unwrap(),
        without_times(sample),
        without_times(anneal),
    )
}

/// `pbit learn` of the full adder (fully visible: K5), its learned file without comments and
/// its JSON report without timings.
fn learn(flags: &[String], graph: &str, tag: &str) -> (String, Value) {
    let out = tmp(&format!("learned-{tag}.txt"));
    let out_s = out.display().to_string();
    let rest = [
        "--graph",
        graph,
        "learn",
        &example("learn/full_adder.txt"),
        "--epochs",
        "3",
        "--chains",
        "4",
        "--seed",
        "3",
        "--out",
        &out_s,
        "--json",
    ];
    let o = ok(&args(flags, &rest));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let text: String = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    (text, without_times(v))
}

#[test]
fn verilator_sparse_is_byte_identical_to_the_model() {
    let _g = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let model = on("model", None);
    let vl = on("verilator", None);
    // the lattice without --graph: the machine generated from the instance's own graph
    let file = example("sg2d_4x4_h.txt");
    let m = sample_and_anneal(&model, &[], &file, "m-lattice");
    let t = std::time::Instant::now();
    let v = sample_and_anneal(&vl, &[], &file, "v-lattice");
    eprintln!("verilator lattice: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(m.0.len(), 100 * 17, "100 samples of 16 spins");
    assert!(m.0 == v.0, "model and verilator sample files differ");
    assert_eq!(m.1, v.1, "sample reports differ");
    assert_eq!(m.2, v.2, "anneal reports differ");
    // K5 with the graph given; then learning on it
    let (k5, graph) = (k5_instance(), k5_graph());
    let m = sample_and_anneal(&model, &["--graph", &graph], &k5, "m-k5");
    let v = sample_and_anneal(&vl, &["--graph", &graph], &k5, "v-k5");
    assert!(m.0 == v.0, "K5: model and verilator sample files differ");
    assert_eq!(m.1, v.1, "K5: sample reports differ");
    assert_eq!(m.2, v.2, "K5: anneal reports differ");
    let t = std::time::Instant::now();
    let (mt, mj) = learn(&model, &graph, "m");
    let (vt, vj) = learn(&vl, &graph, "v");
    eprintln!("learn on both: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(mt, vt, "learned files differ");
    assert_eq!(mj, vj, "learn reports differ");

    // pbit info on the verilator backend: the machine generated for the graph
    let o = ok(&args(&vl, &["--graph", &graph, "info", "--json"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["machine"], "sparse");
    assert_eq!(v["n"], 5);
    assert_eq!(v["max_degree"], 4);
    assert_eq!(v["colours"], 5);
    assert_eq!(v["spec_matches"], true);
    let g: Value = serde_json::from_slice(&ok(&["graph", &k5, "--json"]).stdout).unwrap();
    assert_eq!(v["graph_hash"], g["graph_hash"]);

    // bad input, refused before a machine is built: a coupling on a non-edge of the given
    // graph, an instance beyond its size, a graph beyond --max-degree
    let path = write("path3.txt", "3 2\n1 2 0\n2 3 0\n");
    let tri = write("tri.txt", "3 1\n1 3 1\n");
    fails_with(
        &args(&vl, &["--graph", &path, "anneal", &tri, "--sweeps", "5"]),
        &["p-bits 1 and 3 (1-based) is not an edge"],
    );
    let four = write("four.txt", "4 1\n1 2 1\n");
    fails_with(
        &args(
            &vl,
            &[
                "--graph", &path, "sample", &four, "--beta", "1", "--sweeps", "5",
            ],
        ),
        &["4 p-bits", "machine has 3"],
    );
    fails_with(
        &args(
            &vl,
            &[
                "--graph",
                &file,
                "--max-degree",
                "3",
                "anneal",
                &file,
                "--sweeps",
                "5",
            ],
        ),
        &["maximum degree D = 3"],
    );
}

#[test]
fn serial_sparse_is_byte_identical_to_the_model_and_checks_the_device() {
    let _g = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let (k5, graph) = (k5_instance(), k5_graph());
    let t = std::time::Instant::now();
    let board = Served::start(&["--machine", "sparse", "--graph", &graph]);
    eprintln!("sparse board up: {:.1} s", t.elapsed().as_secs_f64());
    let model = on("model", None);
    let serial = on("serial", Some(&board.port));
    // without --graph: the instance's own graph must be the device's
    let m = sample_and_anneal(&model, &[], &k5, "m-k5-serial");
    let t = std::time::Instant::now();
    let s = sample_and_anneal(&serial, &[], &k5, "s-k5");
    eprintln!("serial sample + anneal: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(m.0.len(), 100 * 6, "100 samples of 5 spins");
    assert!(m.0 == s.0, "model and serial sample files differ");
    assert_eq!(m.1, s.1, "sample reports differ");
    assert_eq!(m.2, s.2, "anneal reports differ");
    let t = std::time::Instant::now();
    let (mt, mj) = learn(&model, &graph, "m-serial");
    let (st, sj) = learn(&serial, &graph, "s");
    eprintln!("learn on both: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(mt, st, "learned files differ");
    assert_eq!(mj, sj, "learn reports differ");

    // pbit info: the machine kind, n, degree, colours and graph hash
    let hash = {
        // the instance's own graph is K5, coloured as the graph file's
        let o = ok(&["graph", &k5, "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["graph_hash"].as_str().unwrap().to_string()
    };
    let o = ok(&args(&serial, &["--graph", &graph, "info", "--json"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["machine"], "sparse");
    assert_eq!(v["n"], 5);
    assert_eq!(v["max_degree"], 4);
    assert_eq!(v["colours"], 5);
    assert_eq!(v["graph_hash"], hash.as_str());
    assert_eq!(v["spec_matches"], true);

    // an instance of another graph: both graph hashes named
    let lattice = example("sg2d_4x4_h.txt");
    fails_with(
        &args(&serial, &["anneal", &lattice, "--sweeps", "5"]),
        &["16 p-bits", "the serial machine has 5"],
    );
    let ring = write("ring5.txt", "5 5\n1 2 1\n2 3 1\n3 4 1\n4 5 1\n1 5 1\n");
    let err = fails_with(
        &args(&serial, &["sample", &ring, "--beta", "1", "--sweeps", "5"]),
        &["was built for graph", &hash],
    );
    assert!(err.contains("spec hash"), "{err}");
    // the dense machine asked of the sparse device: both spec hashes named
    let err = fails_with(
        &[
            "--backend",
            "serial",
            "--port",
            &board.port,
            "sample",
            &k5,
            "--beta",
            "1",
            "--sweeps",
            "5",
        ],
        &["the device is a sparse machine", "add --machine sparse"],
    );
    assert_eq!(err.matches("spec hash").count(), 2, "{err}");
}

/// A dense device asked for the sparse machine (no Verilator needed: the scripted device on an
/// in-memory link): refused at once, naming the device's spec hash and the one the sparse
/// machine of the graph has.
#[test]
fn a_dense_device_refuses_the_sparse_machine_naming_both_spec_hashes() {
    use pbit_host::device::SparseTarget;
    use pbit_host::fake_device::FakeDevice;
    use pbit_host::serial::SerialBackend;
    use pbit_host::transport::{MemoryTransport, Transport};
    use pbit_spec::sparse::{sparse_spec_hash, SparseGraph};
    let format = pbit_spec::Format::for_machine(32);
    let (a, b) = MemoryTransport::pair();
    let _device = FakeDevice::new(32, format).spawn(b);
    let backend = SerialBackend::connect(Box::new(a) as Box<dyn Transport>).unwrap();
    assert!(backend.sparse_identity().is_none());
    let g = SparseGraph::new(4, vec![(0, 1), (1, 2), (2, 3)], vec![0, 1, 0, 1]).unwrap();
    let err = match backend.into_sparse(SparseTarget::new(Some(g.clone()), None)) {
        Ok(_) => panic!("a dense device accepted the sparse machine"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("the device is a dense machine"), "{err}");
    let dense = format!("{:016x}", pbit_spec::hash::spec_hash(&format));
    let sparse = format!("{:016x}", sparse_spec_hash(&format, &g));
    assert!(err.contains(&dense) && err.contains(&sparse), "{err}");
}

/// `pbit --machine sparse hdl regmap --graph FILE --json`: the sparse rows (capability
/// `sparse`) with the built graph's values, and the sparse machine's spec hash.
#[test]
fn regmap_lists_the_sparse_rows_of_a_graph() {
    let (k5, graph) = (k5_instance(), k5_graph());
    let o = ok(&[
        "--machine",
        "sparse",
        "--graph",
        &graph,
        "hdl",
        "regmap",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let edges = v["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "edges")
        .expect("the edge region");
    assert_eq!(edges["capability"], "sparse");
    assert_eq!(edges["words"], 10);
    assert_eq!(edges["address"], 0x0D00_0000u32);
    let reg = |name: &str| {
        v["registers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("register {name}"))
            .clone()
    };
    assert_eq!(reg("machine")["reset"], 1 | 5 << 8 | 4 << 16);
    assert_eq!(reg("machine")["capability"], "sparse");
    let g: Value = serde_json::from_slice(&ok(&["graph", &k5, "--json"]).stdout).unwrap();
    let hash = u64::from_str_radix(g["graph_hash"].as_str().unwrap(), 16).unwrap();
    assert_eq!(reg("graph_hash_lo")["reset"], hash as u32);
    assert_eq!(reg("graph_hash_hi")["reset"], (hash >> 32) as u32);
    assert_eq!(v["spec_hash"], g["sparse_spec_hash"]);
    // the dense machine's export has none of them
    let d: Value =
        serde_json::from_slice(&ok(&["hdl", "regmap", "--n", "32", "--json"]).stdout).unwrap();
    assert!(!d.to_string().contains("\"sparse\""));
    assert!(!d.to_string().contains("graph_hash"));
}

/// `file` sampled and annealed in `lanes` lanes on Verilator and on a served board over a pty:
/// sample files and reports byte-identical to the model's.
fn lanes_match_the_model(model: &[String], vl: &[String], file: &str, lanes: &str, tag: &str) {
    let m = sample_and_anneal(model, &[], file, &format!("m-{tag}"));
    let t = std::time::Instant::now();
    let v = sample_and_anneal(vl, &["--lanes", lanes], file, &format!("v-{tag}"));
    eprintln!(
        "verilator, {lanes} lanes: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        m.0 == v.0,
        "{lanes} lanes: model and verilator sample files differ"
    );
    assert_eq!(m.1, v.1, "{lanes} lanes: sample reports differ");
    assert_eq!(m.2, v.2, "{lanes} lanes: anneal reports differ");
    let board = Served::start(&["--machine", "sparse", "--graph", file, "--lanes", lanes]);
    let serial = on("serial", Some(&board.port));
    let s = sample_and_anneal(&serial, &[], file, &format!("s-{tag}"));
    assert!(
        m.0 == s.0,
        "{lanes} lanes: model and served-board sample files differ"
    );
    assert_eq!(m.1, s.1, "{lanes} lanes: sample reports differ (serial)");
    assert_eq!(m.2, s.2, "{lanes} lanes: anneal reports differ (serial)");
}

#[test]
fn lanes_on_verilator_and_a_served_board_are_byte_identical_to_the_model() {
    let _g = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    // the 4×4 lattice (2 colours of 8) in 3 lanes: 3 clocks a colour, lane memories and inputs
    // selected a clock ahead, as the ULX3S builds it; a served board and the Verilator port
    let file = example("sg2d_4x4_h.txt");
    let model = on("model", None);
    let vl = on("verilator", None);
    lanes_match_the_model(&model, &vl, &file, "3", "lattice-lanes");
    // two-stage lanes (≥ pbit_hdl::sparse::PIPELINE_MIN_LANES, as the ULX3S builds its large
    // machines): an 8×8 ±J torus in 16 lanes, on Verilator and on a served board
    let torus = tmp("torus8.txt");
    let mut text = String::from("64 128\n");
    let mut sign = 1i32;
    for y in 0..8u32 {
        for x in 0..8u32 {
            let i = x + 8 * y;
            for j in [(x + 1) % 8 + 8 * y, x + 8 * ((y + 1) % 8)] {
                sign = -sign * if (i * 7 + j) % 3 == 0 { -1 } else { 1 };
                text += &format!("{} {} {}\n", i + 1, j + 1, sign);
            }
        }
    }
    std::fs::write(&torus, text).unwrap();
    let file = torus.display().to_string();
    lanes_match_the_model(&model, &vl, &file, "16", "torus-two-stage");
    // lanes say how gateware is generated: the model and a device on a link have none to set
    fails_with(
        &args(&model, &["--lanes", "3", "anneal", &file, "--sweeps", "5"]),
        &["--lanes", "the model has no lanes"],
    );
    fails_with(
        &["--lanes", "3", "anneal", &file, "--sweeps", "5"],
        &["--lanes", "add --machine sparse"],
    );
}

//! End-to-end tests of `pbit diffuse`: the exact-KL and sampled bars on bars-and-stripes 3×3
//! (the bars, with the defaults), byte-identical training and generation on the model
//! and the Verilated gateware, generation over the serial link to the simulated board (byte-
//! identical, its traffic and machine clocks counted), and clean errors for bad input. Needs
//! verilator and g++ (scripts/test-all.sh installs them).

use pbit_tests::{ok, pbit};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn json(args: &[&str]) -> Value {
    serde_json::from_slice(&ok(args).stdout).expect("JSON report")
}

fn refused(args: &[&str], needle: &str) {
    let out = pbit(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "pbit {args:?} succeeded");
    assert!(
        err.contains(needle),
        "pbit {args:?}: `{err}` lacks `{needle}`"
    );
    assert!(!err.contains("panicked"), "{err}");
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/learn")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("diffuse");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn bars_and_stripes_meets_the_exact_and_sampled_bars() {
    // the configuration: --steps 4 and the defaults, one thread (~6 s)
    let model = tmp("bas4");
    let r = json(&[
        "--threads",
        "1",
        "diffuse",
        "train",
        &example("bars_stripes_3x3.txt"),
        "--steps",
        "4",
        "--out",
        s(&model),
        "--json",
    ]);
    // measured 0.025–0.029 over seeds 0–3 (docs/diffusion.md); the bar is 0.05
    let kl = r["kl"].as_f64().unwrap();
    assert!(kl <= 0.05, "exact KL {kl}");
    // the start from uniform noise costs almost nothing (ε = 0.05 left after step 4)
    assert!(r["exact"]["kl_start"].as_f64().unwrap() < 1e-3, "{r}");
    assert_eq!(r["n_per_step"], 9 + 9 + 16);
    assert_eq!(
        r["baseline"]["n"], 34,
        "the baseline has the same p-bit budget"
    );
    assert!(r["baseline"]["kl"].as_f64().is_some());
    // mixing is measured per step and for the baseline, at the documented lags
    assert_eq!(r["mixing_lags"], serde_json::json!([1, 5, 25]));
    let ac = r["autocorrelation_per_step"].as_array().unwrap();
    assert_eq!(ac.len(), 4);
    for a in ac.iter().chain([&r["baseline"]["autocorrelation"]]) {
        let a = a.as_array().unwrap();
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|x| x.as_f64().unwrap().abs() <= 1.0), "{a:?}");
    }
    for step in r["per_step"].as_array().unwrap() {
        // J_t = atanh(e^{−λΔt}) = 0.5138 for ε = 0.05, T = 4; on the 1/16 grid 0.5
        assert_eq!(step["coupling_machine"], 0.5);
        assert_eq!(step["coupling_clipped"], false);
    }
    // every step file is an ordinary instance the other commands read
    let step1 = std::fs::read_to_string(model.join("step1.txt")).unwrap();
    assert!(step1
        .contains("# pbit-diffuse step 1 of 4: outputs 1-9 inputs 10-18 labels none hidden 19-34"));
    ok(&["meanfield", s(&model.join("step4.txt")), "--beta", "1"]);

    // 20,000 samples at the default 100 sweeps per step. The ½ added to each of the 512
    // counts moves ≈ 256/20,256 = 1.3% of the mass off the data, a bias of ≈ +0.013 over the
    // exact KL (≤ 0.05 above); the estimate's sampling error is ≈ 0.003 (the data's 14 cells
    // of ~1,400 counts each: σ(ln q̂) ≈ 1/√1400 = 0.027, averaged over 14 cells). Measured
    // 0.036 against the exact 0.025 (docs/diffusion.md): the 0.08 has a wide margin.
    let samples = tmp("bas4.txt");
    let q = json(&[
        "--threads",
        "1",
        "diffuse",
        "sample",
        s(&model),
        "--count",
        "20000",
        "--seed",
        "1",
        "--out",
        s(&samples),
        "--json",
    ]);
    let text = std::fs::read_to_string(&samples).unwrap();
    assert_eq!(text.lines().count(), 20000);
    assert!(text
        .lines()
        .all(|l| l.len() == 9 && l.chars().all(|c| c == '0' || c == '1')));
    let ekl = q["quality"]["empirical_kl"].as_f64().unwrap();
    let valid = q["quality"]["valid"].as_f64().unwrap();
    assert!(ekl <= 0.08, "empirical KL {ekl}");
    assert!(valid >= 0.9, "valid {valid}");
    assert_eq!(q["sweeps_per_sample"], 400);
    assert_eq!(
        q["kl"].as_f64().unwrap(),
        kl,
        "sample reports the same exact KL"
    );
}

/// Runs `args` on the model and on the Verilated gateware.
fn on_both(args: &[&str]) -> (Value, Value) {
    let run = |backend: &str| {
        let mut a = vec!["--backend", backend];
        a.extend_from_slice(args);
        let mut v = json(&a);
        for k in [
            "backend",
            "seconds",
            "seconds_train",
            "seconds_exact",
            "out",
            "capacity",
            "fits_side_by_side",
            "link_per_sample",
        ] {
            v.as_object_mut().unwrap().remove(k);
        }
        for st in v["per_step"].as_array_mut().into_iter().flatten() {
            let st = st.as_object_mut().unwrap();
            st.remove("seconds");
            st.remove("seconds_sampling");
        }
        if let Some(b) = v["baseline"].as_object_mut() {
            b.remove("seconds");
        }
        v
    };
    (run("model"), run("verilator"))
}

#[test]
fn training_and_generation_are_byte_identical_on_the_gateware() {
    // 2×2 bars and stripes, 2 steps, 2 hidden p-bits: 4 + 4 + 2 = 10 p-bits per step
    let data = tmp("bas2.txt");
    std::fs::write(&data, "0000\n1111\n1100\n0011\n1010\n0101\n").unwrap();
    let dirs = [tmp("tiny-model"), tmp("tiny-verilator")];
    let mut reports = Vec::new();
    for (backend, dir) in ["model", "verilator"].iter().zip(&dirs) {
        let mut r = json(&[
            "--backend",
            backend,
            "diffuse",
            "train",
            s(&data),
            "--steps",
            "2",
            "--hidden",
            "2",
            "--epochs",
            "4",
            "--chains",
            "4",
            "--k",
            "3",
            "--seed",
            "5",
            "--out",
            s(dir),
            "--json",
        ]);
        for k in ["backend", "seconds_train", "seconds_exact", "out"] {
            r.as_object_mut().unwrap().remove(k);
        }
        for st in r["per_step"].as_array_mut().unwrap() {
            st.as_object_mut().unwrap().remove("seconds");
            st.as_object_mut().unwrap().remove("seconds_sampling");
        }
        r["baseline"].as_object_mut().unwrap().remove("seconds");
        reports.push(r);
    }
    assert_eq!(reports[0], reports[1], "training reports differ");
    for f in ["step1.txt", "step2.txt", "baseline.txt", "manifest.json"] {
        let a = std::fs::read(dirs[0].join(f)).unwrap();
        let b = std::fs::read(dirs[1].join(f)).unwrap();
        assert!(a == b, "{f} differs between model and verilator training");
    }
    // generation: the same samples, byte for byte
    let outs = [tmp("tiny-model.txt"), tmp("tiny-verilator.txt")];
    for (backend, out) in ["model", "verilator"].iter().zip(&outs) {
        json(&[
            "--backend",
            backend,
            "diffuse",
            "sample",
            s(&dirs[0]),
            "--count",
            "24",
            "--sweeps",
            "6",
            "--seed",
            "2",
            "--out",
            s(out),
            "--compare",
            "--json",
        ]);
    }
    let (a, b) = (
        std::fs::read(&outs[0]).unwrap(),
        std::fs::read(&outs[1]).unwrap(),
    );
    assert_eq!(a.len(), 24 * 5);
    assert!(a == b, "samples differ between model and verilator");
    // the JSON reports agree too, but for the backend's own figures
    let (m, v) = on_both(&[
        "diffuse",
        "sample",
        s(&dirs[0]),
        "--count",
        "8",
        "--sweeps",
        "3",
        "--out",
        s(&tmp("tiny-both.txt")),
        "--compare",
        "--json",
    ]);
    assert_eq!(m, v);
}

#[test]
fn generation_over_the_serial_link_is_byte_identical_and_metered() {
    let data = tmp("bas2-serial.txt");
    std::fs::write(&data, "0000\n1111\n1100\n0011\n1010\n0101\n").unwrap();
    let model = tmp("tiny-serial-model");
    ok(&[
        "diffuse",
        "train",
        s(&data),
        "--steps",
        "2",
        "--hidden",
        "2",
        "--epochs",
        "4",
        "--chains",
        "4",
        "--seed",
        "5",
        "--out",
        s(&model),
    ]);
    let board = pbit_tests::SimBoard::start(32, 1_000_000);
    let outs = [tmp("serial-model.txt"), tmp("serial-serial.txt")];
    let mut reports = Vec::new();
    for (backend, out) in ["model", "serial"].iter().zip(&outs) {
        let mut args = vec!["--backend", backend];
        if *backend == "serial" {
            args.extend(["--port", board.path.to_str().unwrap()]);
        }
        args.extend([
            "diffuse",
            "sample",
            s(&model),
            "--count",
            "6",
            "--sweeps",
            "4",
            "--seed",
            "3",
            "--out",
            s(out),
            "--json",
        ]);
        reports.push(json(&args));
    }
    drop(board);
    let (a, b) = (
        std::fs::read(&outs[0]).unwrap(),
        std::fs::read(&outs[1]).unwrap(),
    );
    assert!(
        a == b,
        "samples differ between the model and the serial link"
    );
    let r = &reports[1];
    assert_eq!(r["backend"], "serial");
    assert!(
        reports[0].get("link_per_sample").is_none(),
        "the model has no link"
    );
    let link = &r["link_per_sample"];
    // each sample runs 2 steps of 4 sweeps over 10 p-bits: at least 80 machine clocks
    assert!(link["machine_clocks"].as_f64().unwrap() >= 80.0, "{r}");
    assert!(link["round_trips"].as_f64().unwrap() > 0.0, "{r}");
    assert!(link["bytes_out"].as_f64().unwrap() > 0.0, "{r}");
    // 20 p-bits for both steps side by side fit the 32-p-bit machine
    assert_eq!(r["fits_side_by_side"], true);
}

#[test]
fn bad_input_is_a_clear_error() {
    let data = tmp("bad.txt");
    std::fs::write(&data, "0101\n01x1\n").unwrap();
    let out = tmp("never");
    refused(
        &["diffuse", "train", s(&data), "--out", s(&out)],
        "bad.txt:2:3: `x` is not a 0 or 1",
    );
    let good = tmp("good.txt");
    std::fs::write(&good, "0101\n1010\n").unwrap();
    refused(
        &[
            "diffuse",
            "train",
            s(&good),
            "--classes",
            "3",
            "--out",
            s(&out),
        ],
        "--classes needs a CSV",
    );
    refused(
        &[
            "diffuse",
            "train",
            s(&good),
            "--steps",
            "0",
            "--out",
            s(&out),
        ],
        "--steps",
    );
    refused(
        &[
            "diffuse",
            "train",
            s(&good),
            "--batch",
            "3",
            "--out",
            s(&out),
        ],
        "--batch must be between 1 and the number of vectors (2)",
    );
    let csv = tmp("bad.csv");
    std::fs::write(&csv, "0,16,3,1\n0,16,x,2\n").unwrap();
    refused(
        &[
            "diffuse",
            "train",
            s(&csv),
            "--classes",
            "3",
            "--out",
            s(&out),
        ],
        "bad.csv:2: field 3: `x` is not a non-negative integer",
    );
    // a directory that is not a model
    let empty = tmp("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    refused(
        &[
            "diffuse",
            "sample",
            s(&empty),
            "--count",
            "1",
            "--out",
            s(&tmp("x.txt")),
        ],
        "manifest.json: cannot read",
    );
    // a model without labels refuses --label; --count 0 is refused
    let model = tmp("tiny-errors");
    ok(&[
        "diffuse",
        "train",
        s(&good),
        "--steps",
        "1",
        "--hidden",
        "1",
        "--epochs",
        "1",
        "--out",
        s(&model),
    ]);
    refused(
        &[
            "diffuse",
            "sample",
            s(&model),
            "--count",
            "2",
            "--label",
            "1",
            "--out",
            s(&tmp("x.txt")),
        ],
        "the model has no label p-bits",
    );
    refused(
        &[
            "diffuse",
            "sample",
            s(&model),
            "--count",
            "0",
            "--out",
            s(&tmp("x.txt")),
        ],
        "--count",
    );
    // a damaged manifest names the file
    let m = model.join("manifest.json");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replace("\"steps\": 1", "\"steps\": 2")).unwrap();
    refused(
        &[
            "diffuse",
            "sample",
            s(&model),
            "--count",
            "1",
            "--out",
            s(&tmp("x.txt")),
        ],
        "manifest.json: steps 2, but 1 files",
    );
    std::fs::write(&m, "{ not json").unwrap();
    refused(
        &[
            "diffuse",
            "sample",
            s(&model),
            "--count",
            "1",
            "--out",
            s(&tmp("x.txt")),
        ],
        "manifest.json: not a diffusion manifest",
    );
}

#[test]
fn the_correlation_penalty_is_retuned_every_epoch() {
    let data = tmp("bas2-penalty.txt");
    std::fs::write(&data, "0000\n1111\n1100\n0011\n1010\n0101\n").unwrap();
    let (data_s, out_s) = (s(&data).to_string(), s(&tmp("penalty-model")).to_string());
    let args = |target: &'static str| -> Vec<String> {
        let mut a: Vec<String> = [
            "--threads",
            "1",
            "diffuse",
            "train",
            &data_s,
            "--steps",
            "2",
            "--hidden",
            "2",
            "--epochs",
            "6",
            "--seed",
            "3",
            "--no-baseline",
            "--out",
            &out_s,
            "--json",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        if !target.is_empty() {
            a.extend(["--penalty-target".to_string(), target.to_string()]);
        }
        a
    };
    let run = |a: Vec<String>| json(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let off = run(args(""));
    // a target of −1 is never reached: c grows after every epoch (by 0.5·(r + 1) > 0)
    let on = run(args("-1"));
    for (a, b) in off["per_step"]
        .as_array()
        .unwrap()
        .iter()
        .zip(on["per_step"].as_array().unwrap())
    {
        assert_eq!(a["penalty"], 0.0);
        assert_eq!(a["autocorrelation_per_epoch"].as_array().unwrap().len(), 0);
        assert!(b["penalty"].as_f64().unwrap() > 0.0, "{b}");
        assert_eq!(b["autocorrelation_per_epoch"].as_array().unwrap().len(), 6);
    }
    refused(
        &[
            "diffuse",
            "train",
            s(&data),
            "--penalty-target",
            "2",
            "--out",
            s(&tmp("never2")),
        ],
        "--penalty-target must be in [-1, 1]",
    );
}

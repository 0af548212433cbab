//! `--plot` on `anneal` (energy traces, one line per read) and `sample` (the energy histogram,
//! and the sampled marginals against the exact ones beside it): the files decode as images of
//! the documented size with something drawn. Pixels are never compared.

use pbit_tests::{ok, pbit};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pbit-plots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn example(name: &str) -> String {
    pbit_tests::example(name).to_str().unwrap().to_string()
}

/// Decodes a PNG: its size and how many pixels are not white.
fn decode_png(path: &Path) -> (u32, u32, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut r = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    let px = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let drawn = px
        .chunks(step)
        .filter(|p| p[..3] != [255, 255, 255])
        .count();
    (info.width, info.height, drawn)
}

/// A PNG of `size` with at least `min_drawn` non-white pixels: axes and labels alone draw a
/// few thousand, so the bound is set above what an empty chart draws (about 9,000 for the
/// empty anneal chart's mesh and text, measured while writing this test) only where the data
/// must add to it.
fn check_png(path: &Path, size: (u32, u32), min_drawn: usize) {
    let (w, h, drawn) = decode_png(path);
    assert_eq!((w, h), size, "{}", path.display());
    assert!(
        drawn >= min_drawn,
        "{}: {drawn} pixels drawn",
        path.display()
    );
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn anneal_plot_draws_one_trace_per_read_and_leaves_the_run_unchanged() {
    let inst = example("sg2d_4x4_h.txt");
    let args = [
        "anneal", &inst, "--sweeps", "300", "--reads", "5", "--seed", "3", "--json",
    ];
    let plain = json(&ok(&args));
    let png = tmp("anneal.png");
    let mut with = args.to_vec();
    with.extend(["--plot", png.to_str().unwrap()]);
    let plotted = json(&ok(&with));
    // the reads are the same: the watched rerun's best energies are checked against them, and
    // the report does not change with --plot
    assert_eq!(plain["energies"], plotted["energies"]);
    assert_eq!(plain["best_state"], plotted["best_state"]);
    check_png(&png, (900, 550), 1000);

    // SVG on the sparse machine: one thin (current) and one thick (best) line per read
    let svg = tmp("anneal_sparse.svg");
    ok(&[
        "--machine",
        "sparse",
        "anneal",
        &inst,
        "--sweeps",
        "200",
        "--reads",
        "3",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let t = std::fs::read_to_string(&svg).unwrap();
    assert!(t.contains("<svg") && t.contains("width=\"900\"") && t.contains("height=\"550\""));
    assert!(t.contains("<text"));
    assert!(
        t.matches("<polyline").count() >= 2 * 3,
        "{} polylines",
        t.matches("<polyline").count()
    );

    // a sparsified instance (the 4×4 grid has degree 4, the machine D = 3): traces in the
    // original p-bits' energies
    let cut = tmp("sparsified.png");
    ok(&[
        "--machine",
        "sparse",
        "--max-degree",
        "3",
        "anneal",
        &inst,
        "--sweeps",
        "200",
        "--reads",
        "2",
        "--plot",
        cut.to_str().unwrap(),
    ]);
    check_png(&cut, (900, 550), 1000);

    let bad = pbit(&["anneal", &inst, "--plot", "x.gif"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("x.gif: --plot writes .png or .svg"));
}

#[test]
fn sample_plot_draws_the_histogram_and_the_marginals_against_exact() {
    let inst = example("sg2d_4x4_h.txt");
    let png = tmp("sample.png");
    ok(&[
        "sample",
        &inst,
        "--beta",
        "0.5",
        "--sweeps",
        "2000",
        "--seed",
        "1",
        "--plot",
        png.to_str().unwrap(),
    ]);
    // 16 p-bits: the exact marginals are drawn beside the histogram (800 + 600 wide)
    check_png(&png, (1400, 600), 2000);
    // clamped: the histogram alone
    let alone = tmp("sample_clamped.svg");
    let out = ok(&[
        "sample",
        &inst,
        "--beta",
        "0.5",
        "--sweeps",
        "500",
        "--clamp",
        "1=+1",
        "--plot",
        alone.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no exact marginals"));
    let t = std::fs::read_to_string(&alone).unwrap();
    assert!(t.contains("width=\"800\"") && t.contains("height=\"500\""));
    assert!(t.contains("<text") && t.matches("<rect").count() >= 10);
}

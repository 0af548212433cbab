//! `pbit classify`: clamp each image's pixels, sample the label p-bits on the backend.

use crate::{backend, print_json, progress_bar, MachineArgs};
use anyhow::Result;
use clap::Args;
use pbit_host::digits::{self, Images, LabelledMachine};
use std::path::PathBuf;

#[derive(Args)]
pub struct ClassifyArgs {
    /// A machine learned with `pbit learn … --classes K` (its header names the p-bits).
    model: PathBuf,
    /// Labelled images (the CSV `pbit learn` reads); binarised at the model's threshold.
    data: PathBuf,
    /// Sweeps recorded per image (after --burn-in); the answer is the argmax of the sampled
    /// label marginals over them (docs/learning.md: accuracy against sweeps).
    #[arg(long, default_value_t = 300)]
    sweeps: u64,
    /// Sweeps run and discarded first, per image.
    #[arg(long, default_value_t = 0)]
    burn_in: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Draw the confusion matrix (PNG or SVG by extension).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
}

pub fn run(m: &MachineArgs, a: &ClassifyArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        pbit_host::plot::check_path(p)?;
    }
    let mut b = backend(m)?;
    let machine = LabelledMachine::read(&a.model, b.as_ref())?;
    let l = &machine.layout;
    let images = Images::read(&a.data, l.threshold, Some(l.classes))?;
    let bar = progress_bar(a.json, images.pixels.len() as u64);
    let r = digits::classify(
        b.as_mut(),
        &machine,
        &images,
        a.sweeps,
        a.burn_in,
        a.seed,
        &mut |_| bar.inc(1),
    )?;
    bar.finish_and_clear();
    if let Some(path) = &a.plot {
        crate::plot_confusion(path, &r)?;
    }
    if a.json {
        print_json(&r)?;
    } else {
        println!(
            "accuracy {:.4} ({} of {}), {} sweeps per image ({} burn-in), {}",
            r.accuracy, r.correct, r.n, r.sweeps_per_image, r.burn_in, r.rule
        );
        println!("confusion (rows: true label, columns: predicted)");
        for (k, row) in r.confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:4}")).collect();
            println!("{k:3} {}", cells.join(""));
        }
        if let Some(p) = &a.plot {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

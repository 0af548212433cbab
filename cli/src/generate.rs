//! `pbit generate`: clamp a label, sample images on the backend.

use crate::{backend, print_json, MachineArgs};
use anyhow::{Context, Result};
use clap::Args;
use pbit_host::digits::{self, GenerateOptions, Images, LabelledMachine};
use pbit_host::judge::{verdict, Judge};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    /// A machine learned with `pbit learn … --classes K`.
    model: PathBuf,
    /// The class whose label p-bits are clamped (the others are clamped off).
    #[arg(long)]
    label: usize,
    /// Images to generate, one chain each (from the seeded random state).
    #[arg(long, default_value_t = 64)]
    count: usize,
    /// Sweeps per image; the pixels of the last one are the image.
    #[arg(long, default_value_t = 1000)]
    sweeps: u64,
    /// Label strength G: the label p-bits' couplings × G (rounded to the grid) while
    /// generating, as if each clamped label p-bit were G copies (1: the learned machine as is).
    #[arg(long, default_value_t = digits::DEFAULT_LABEL_STRENGTH)]
    label_strength: f64,
    /// β of the sweeps (default: 0.7 × the β the machine was learned at).
    #[arg(long)]
    beta: Option<f64>,
    /// Run the last --final-sweeps sweeps at this β.
    #[arg(long, requires = "final_sweeps")]
    final_beta: Option<f64>,
    /// Sweeps at --final-beta at the end of the --sweeps.
    #[arg(long, default_value_t = 0)]
    final_sweeps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the images here: one line per image, its pixels as `1`/`0`, row-major (stdout if
    /// not given).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Judge the images: a softmax regression trained on this CSV of labelled images
    /// (binarised at the model's threshold) names each image's class; prints the agreement
    /// with --label, the distinct fraction and the fraction copying a training image.
    #[arg(long)]
    judge: Option<PathBuf>,
    /// Print the judge's verdict as JSON (with --judge).
    #[arg(long)]
    json: bool,
    /// Draw the images as a grid (PNG or SVG by extension).
    #[arg(long)]
    plot: Option<PathBuf>,
}

pub fn run(m: &MachineArgs, a: &GenerateArgs) -> Result<()> {
    if a.json && (a.out.is_none() || a.judge.is_none()) {
        anyhow::bail!("--json prints the judge's verdict: give --judge TRAIN.csv and --out FILE for the images");
    }
    if let Some(p) = &a.plot {
        pbit_host::plot::check_path(p)?;
    }
    let mut b = backend(m)?;
    let machine = LabelledMachine::read(&a.model, b.as_ref())?;
    let opts = GenerateOptions {
        count: a.count,
        sweeps: a.sweeps,
        seed: a.seed,
        label_strength: a.label_strength,
        beta: a.beta,
        final_beta: a.final_beta,
        final_sweeps: a.final_sweeps,
    };
    let images = digits::generate(b.as_mut(), &machine, a.label, &opts)?;
    let mut text = String::new();
    for im in &images {
        text.extend(im.iter().map(|&p| if p { '1' } else { '0' }));
        text.push('\n');
    }
    match &a.out {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    if let Some(train) = &a.judge {
        let l = &machine.layout;
        let train = Images::read(train, l.threshold, Some(l.classes))?;
        let judge = Judge::train(&train, l.classes);
        let v = verdict(&judge, &train, a.label, &images);
        if a.json {
            print_json(&v)?;
        } else {
            eprintln!(
                "judge: {:.3} agree with label {}, {:.3} distinct, {:.3} copy a training image ({} images; the judge gets {:.3} of its training images right)",
                v.agreement, a.label, v.distinct, v.training_copies, v.images, judge.accuracy(&train)
            );
        }
    }
    if let Some(path) = &a.plot {
        crate::plot_images(
            path,
            format!(
                "label {}: {} images, {} sweeps each",
                a.label,
                images.len(),
                a.sweeps
            ),
            &images,
            machine.layout.width,
        )?;
    }
    Ok(())
}

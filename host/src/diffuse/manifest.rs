//! The model directory: `step1.txt` … `stepT.txt`, one ordinary instance file per reverse step
//! (any pbit command reads them), the single-step baseline `baseline.txt` when one was
//! trained, and `manifest.json`, which says how they fit together.

use super::noise::Schedule;
use super::{DiffuseError, StepLayout};
use pbit_model::{Backend, FixedIsing, Ising, Scaling};
use pbit_spec::{Beta, ThresholdPage};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The manifest's format tag.
pub const FORMAT: &str = "pbit-diffuse 1";
pub const MANIFEST: &str = "manifest.json";

/// The single-step Boltzmann machine trained beside the chain with the same p-bit budget.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Baseline {
    pub file: String,
    /// Visible p-bits (pixels, then labels) first, hidden after.
    pub visible: usize,
    pub hidden: usize,
    /// Its exact KL(data ‖ model) (None: too large to compute).
    pub kl: Option<f64>,
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub steps: usize,
    /// The forward process: λ and Δt_t of step t at index t − 1.
    pub lambda: f64,
    pub dt: Vec<f64>,
    /// Per step: the flip probability, J_t, and J_t/β as the machine holds it (1/16 grid).
    pub flip: Vec<f64>,
    pub coupling: Vec<f64>,
    pub coupling_machine: Vec<f64>,
    /// Steps whose J_t/β was beyond the 9-bit range and clipped.
    pub coupling_clipped: Vec<usize>,
    pub layout: StepLayout,
    /// The layout as 1-based ranges (as the step files' comments).
    pub layout_text: String,
    /// Image width for plots (the visible bits in rows of `width`).
    pub width: usize,
    /// Grey-level threshold of the CSV (None: a `1`/`0` data file).
    pub threshold: Option<u64>,
    /// The β every step is sampled at.
    pub beta: f64,
    /// Step t's file (relative to the directory) at index t − 1.
    pub files: Vec<String>,
    #[serde(default)]
    pub baseline: Option<Baseline>,
    /// The training data (absolute path), for evaluation.
    pub data: String,
    /// Exact KL(data ‖ generated) at training time (None: too large).
    #[serde(default)]
    pub kl: Option<f64>,
}

impl Manifest {
    pub fn schedule(&self) -> Schedule {
        Schedule {
            lambda: self.lambda,
            dt: self.dt.clone(),
        }
    }
}

/// A chain ready to sample.
pub struct Model {
    pub manifest: Manifest,
    pub steps: Vec<Ising>,
    pub fixed: Vec<FixedIsing>,
    pub page: ThresholdPage,
    pub baseline: Option<Ising>,
}

impl Model {
    /// Reads `dir/manifest.json` and the files it names, checking them against each other.
    pub fn read(dir: &Path, backend: &dyn Backend) -> Result<Model, DiffuseError> {
        let path = dir.join(MANIFEST);
        let name = path.display().to_string();
        let bad = |m: String| DiffuseError::Other(format!("{name}: {m}"));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            bad(format!(
                "cannot read ({e}); is {} a model directory written by `pbit diffuse train`?",
                dir.display()
            ))
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a diffusion manifest: {e}")))?;
        if manifest.format != FORMAT {
            return Err(bad(format!(
                "format `{}`, expected `{FORMAT}`",
                manifest.format
            )));
        }
        let t = manifest.steps;
        if t == 0
            || manifest.files.len() != t
            || manifest.dt.len() != t
            || manifest.coupling_machine.len() != t
            || manifest.flip.len() != t
        {
            return Err(bad(format!(
                "steps {t}, but {} files, {} dt, {} flip and {} coupling_machine values (one per step)",
                manifest.files.len(),
                manifest.dt.len(),
                manifest.flip.len(),
                manifest.coupling_machine.len()
            )));
        }
        let positive = |x: f64| x > 0.0 && x.is_finite();
        if !positive(manifest.lambda) || !manifest.dt.iter().all(|&d| positive(d)) {
            return Err(bad("lambda and every dt must be positive".into()));
        }
        let n = manifest.layout.n();
        backend.check_fits(n)?;
        let mut steps = Vec::with_capacity(t);
        let mut fixed = Vec::with_capacity(t);
        for f in &manifest.files {
            let ising = Ising::read(&dir.join(f))?;
            if ising.n != n {
                return Err(bad(format!(
                    "{f} has {} p-bits, the layout ({}) {n}",
                    ising.n, manifest.layout_text
                )));
            }
            fixed.push(FixedIsing::new(&ising, backend.format(), Scaling::Exact)?);
            steps.push(ising);
        }
        let baseline = match &manifest.baseline {
            Some(b) => Some(Ising::read(&dir.join(&b.file))?),
            None => None,
        };
        let page = ThresholdPage::build(&backend.format(), Beta::from_f64(manifest.beta)?);
        Ok(Model {
            manifest,
            steps,
            fixed,
            page,
            baseline,
        })
    }
}

/// Writes a model directory (created if missing): the step files, the baseline and the manifest.
pub fn write(
    dir: &Path,
    manifest: &Manifest,
    steps: &[Ising],
    step_comments: &[Vec<String>],
    baseline: Option<(&Ising, Vec<String>)>,
) -> Result<(), DiffuseError> {
    let io = |p: &Path, e: std::io::Error| {
        DiffuseError::Other(format!("cannot write {}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for ((f, s), c) in manifest.files.iter().zip(steps).zip(step_comments) {
        let p = dir.join(f);
        std::fs::write(&p, s.to_text(c)).map_err(|e| io(&p, e))?;
    }
    if let (Some(b), Some((ising, c))) = (&manifest.baseline, baseline) {
        let p = dir.join(&b.file);
        std::fs::write(&p, ising.to_text(&c)).map_err(|e| io(&p, e))?;
    }
    let p = dir.join(MANIFEST);
    let text =
        serde_json::to_string_pretty(manifest).map_err(|e| DiffuseError::Other(e.to_string()))?;
    std::fs::write(&p, text + "\n").map_err(|e| io(&p, e))
}
